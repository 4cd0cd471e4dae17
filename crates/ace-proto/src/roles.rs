//! The roles part of a scope entry, of a `peer_roles` element and of a
//! `role_filter` element, in both encodings RFC 9594 allows.
//!
//! RFC 9594 section 3.1: textual scope entries carry `role / [2* role]`
//! (text strings); AIF scope entries (RFC 9237), which the Group OSCORE
//! profile uses (draft-ietf-ace-key-groupcomm-oscore-21 section 3), carry
//! `Tperm`, an unsigned integer with bit `2^X` set for each role `X`.

use crate::cbor::{self, Value};
use crate::error::DecodeError;

/// Group OSCORE role bits (draft-ietf-ace-key-groupcomm-oscore-21 section 3,
/// "Group OSCORE Roles" registry; values suggested by the draft).
pub mod group_oscore {
    /// Requester (X = 1): sends requests, receives responses.
    pub const REQUESTER: u64 = 1 << 1;
    /// Responder (X = 2): sends responses, receives requests.
    pub const RESPONDER: u64 = 1 << 2;
    /// Monitor (X = 3): receives requests, never sends protected messages.
    pub const MONITOR: u64 = 1 << 3;
    /// Verifier (X = 4): external signature verifier; does not join.
    pub const VERIFIER: u64 = 1 << 4;
    /// Bit 0 is never a role: an entry with it set belongs to the Group
    /// Manager's admin interface, not to group membership.
    pub const RESERVED_BIT0: u64 = 1;
    /// Every role bit this profile defines.
    pub const ALL: u64 = REQUESTER | RESPONDER | MONITOR | VERIFIER;

    /// Whether `roles` is a role set a node may request when joining: not
    /// empty, no bit outside the defined roles, no Verifier (verifiers do not
    /// join), and neither Requester+Monitor nor Responder+Monitor (section 3).
    pub const fn is_valid_join_set(roles: u64) -> bool {
        roles != 0
            && roles & !(REQUESTER | RESPONDER | MONITOR) == 0
            && !(roles & MONITOR != 0 && roles & (REQUESTER | RESPONDER) != 0)
    }

    /// Human-readable role names, e.g. `"Requester+Responder"`.
    pub fn names(roles: u64) -> String {
        let mut parts = Vec::new();
        for (bit, name) in [
            (REQUESTER, "Requester"),
            (RESPONDER, "Responder"),
            (MONITOR, "Monitor"),
            (VERIFIER, "Verifier"),
        ] {
            if roles & bit != 0 {
                parts.push(name.to_string());
            }
        }
        let unknown = roles & !ALL;
        if unknown != 0 {
            parts.push(format!("0x{unknown:x}"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join("+")
        }
    }
}

/// A set of roles, as textual names or as an AIF permission bitmap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Roles {
    /// Textual roles (RFC 9594 Figure 5): encoded as one `tstr` when there is
    /// exactly one, as an array of at least two otherwise. Kept in wire order.
    Text(Vec<String>),
    /// An AIF `Tperm` bitmap (RFC 9237; RFC 9594 Figure 4).
    Aif(u64),
}

impl Roles {
    /// One textual role.
    pub fn text(role: impl Into<String>) -> Self {
        Self::Text(vec![role.into()])
    }

    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Text(roles) if roles.len() == 1 => Value::Text(roles[0].clone()),
            Self::Text(roles) => Value::Array(roles.iter().cloned().map(Value::Text).collect()),
            Self::Aif(bits) => Value::from(*bits),
        }
    }

    /// Reads `role / [2* role]` or a `Tperm` unsigned integer.
    pub fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Text(t) => Ok(Self::Text(vec![t])),
            Value::Array(items) => {
                if items.len() < 2 {
                    return Err(DecodeError::invalid(
                        context,
                        "an array of roles must hold at least two roles",
                    ));
                }
                let roles = items
                    .into_iter()
                    .map(|v| cbor::text(v, context))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Self::Text(roles))
            }
            Value::Integer(_) => cbor::uint(value, context).map(Self::Aif),
            other => Err(DecodeError::UnexpectedItem {
                context,
                want: "role, array of roles, or permission bitmap",
                got: cbor::type_name(&other),
            }),
        }
    }

    /// Whether every role in `other` is also in `self`. Sets in different
    /// encodings never contain each other.
    pub fn contains_all(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Aif(have), Self::Aif(want)) => want & !have == 0,
            (Self::Text(have), Self::Text(want)) => want.iter().all(|w| have.contains(w)),
            _ => false,
        }
    }

    /// The roles in both sets, or `None` when nothing is left or the
    /// encodings differ.
    pub fn intersect(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (Self::Aif(a), Self::Aif(b)) => (a & b != 0).then_some(Self::Aif(a & b)),
            (Self::Text(a), Self::Text(b)) => {
                let common: Vec<String> = a.iter().filter(|r| b.contains(r)).cloned().collect();
                (!common.is_empty()).then_some(Self::Text(common))
            }
            _ => None,
        }
    }

    /// Whether the set holds no role.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(roles) => roles.is_empty(),
            Self::Aif(bits) => *bits == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::group_oscore::*;
    use super::*;

    #[test]
    fn textual_encoding_single_and_several() {
        assert_eq!(cbor::to_vec(&Roles::text("sender").to_value())[0], 0x66);
        let two = Roles::Text(vec!["sender".into(), "receiver".into()]);
        assert_eq!(cbor::to_vec(&two.to_value())[0], 0x82);
        let back = Roles::from_value(two.to_value(), "t").unwrap();
        assert_eq!(back, two);
    }

    #[test]
    fn one_element_role_array_is_refused() {
        let v = Value::Array(vec![Value::Text("sender".into())]);
        assert!(Roles::from_value(v, "t").is_err());
        assert!(Roles::from_value(Value::from(-1), "t").is_err());
        assert!(Roles::from_value(Value::Bytes(vec![]), "t").is_err());
    }

    #[test]
    fn containment_and_intersection() {
        let rr = Roles::Aif(REQUESTER | RESPONDER);
        assert!(rr.contains_all(&Roles::Aif(REQUESTER)));
        assert!(!Roles::Aif(REQUESTER).contains_all(&rr));
        assert_eq!(
            rr.intersect(&Roles::Aif(RESPONDER | MONITOR)),
            Some(Roles::Aif(RESPONDER))
        );
        assert_eq!(rr.intersect(&Roles::Aif(MONITOR)), None);
        let text = Roles::Text(vec!["a".into(), "b".into()]);
        assert!(text.contains_all(&Roles::text("b")));
        assert!(!text.contains_all(&rr));
        assert_eq!(text.intersect(&Roles::text("c")), None);
    }

    #[test]
    fn join_role_sets_of_the_group_oscore_profile() {
        assert!(is_valid_join_set(REQUESTER));
        assert!(is_valid_join_set(REQUESTER | RESPONDER));
        assert!(is_valid_join_set(MONITOR));
        assert!(!is_valid_join_set(REQUESTER | MONITOR), "10 is forbidden");
        assert!(!is_valid_join_set(RESPONDER | MONITOR), "12 is forbidden");
        assert!(!is_valid_join_set(VERIFIER));
        assert!(!is_valid_join_set(0));
        assert!(!is_valid_join_set(REQUESTER | RESERVED_BIT0));
        assert_eq!(names(6), "Requester+Responder");
    }
}
