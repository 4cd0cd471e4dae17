//! `get_creds` (RFC 9594 section 4.3.1, Figure 9) and the selection of member
//! credentials it asks for (sections 4.3.1 and 4.4.1), as one pure function.
//!
//! ```text
//! inclusion_flag = bool
//! role = tstr                        ; or the profile's encoding (AIF Tperm)
//! comb_role = [2* role]
//! role_filter = [* ( role / comb_role )]
//! id = bstr
//! id_filter = [* id]
//! get_creds = null / [inclusion_flag, role_filter, id_filter]
//! ```
//!
//! # Selection semantics ([`select_creds`])
//!
//! A member *matches the role filter* when it has all the roles of at least
//! one element: an element is a single role, a combination of roles
//! (`["role2", "role3"]`, i.e. "role2+role3"), or in the Group OSCORE profile
//! an AIF bitmap, where every set bit must be held. A member *is listed* when
//! its node identifier is in `id_filter`.
//!
//! | `get_creds` | selected members |
//! |---|---|
//! | `null` | all members |
//! | `[true, roles, []]` | role match |
//! | `[true, [], ids]` | listed |
//! | `[true, roles, ids]` | role match **or** listed |
//! | `[false, roles, []]` | role match (nothing to exclude) |
//! | `[false, [], ids]` | every member **not** listed |
//! | `[false, roles, ids]` | role match **and not** listed |
//! | `[b, [], []]` | FETCH: 4.00 (Bad Request); not allowed in a join |
//!
//! In a Join Request `get_creds` is `null` or `[true, non-empty role_filter,
//! []]` (RFC 9594 section 4.3.1); FETCH `/creds` takes an array only (a
//! Client asking for everything uses GET), with the flag free and at most
//! one filter empty (section 4.4.1).
//!
//! Node identifiers in `id_filter` that belong to no current member are
//! silently ignored: the function only selects from the list it is given.
//! A KDC whose profile retains credentials of former members for a while
//! (RFC 9594 REQ26, the second policy) passes those members in the list too.

use crate::cbor::{self, Codec, Value};
use crate::error::DecodeError;
use crate::roles::Roles;

const CONTEXT: &str = "get_creds";

/// The `get_creds` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetCreds {
    /// `null`: the credentials of all members (in the Group OSCORE profile,
    /// all members *relevant* to the joining node; see
    /// [`CredsFilter::group_oscore_relevant`]).
    All,
    /// `[inclusion_flag, role_filter, id_filter]`.
    Filter(CredsFilter),
}

/// The array form of `get_creds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredsFilter {
    /// `true`: select by inclusion (role match or listed); `false`: by
    /// exclusion (role match and not listed).
    pub inclusion_flag: bool,
    /// Roles or role combinations; a member matches if it has all the roles
    /// of any element.
    pub role_filter: Vec<Roles>,
    /// Node identifiers (profile-defined byte strings, e.g. OSCORE Sender
    /// IDs).
    pub id_filter: Vec<Vec<u8>>,
}

impl CredsFilter {
    /// The filter of a Join Request: inclusive, by roles only.
    pub fn roles(role_filter: Vec<Roles>) -> Self {
        Self {
            inclusion_flag: true,
            role_filter,
            id_filter: Vec::new(),
        }
    }

    /// What `get_creds = null` selects in the Group OSCORE profile for a
    /// node joining with AIF roles `joiner_roles`
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3): Responders for
    /// a Requester, Requesters for a Responder or a Monitor. Returns `None`
    /// when no role of the joiner needs peers' credentials.
    pub fn group_oscore_relevant(joiner_roles: u64) -> Option<Self> {
        use crate::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
        let mut wanted = Vec::new();
        if joiner_roles & REQUESTER != 0 {
            wanted.push(Roles::Aif(RESPONDER));
        }
        if joiner_roles & (RESPONDER | MONITOR) != 0 {
            wanted.push(Roles::Aif(REQUESTER));
        }
        (!wanted.is_empty()).then(|| Self::roles(wanted))
    }

    /// Whether `roles` matches the role filter: has all the roles of at
    /// least one element.
    pub fn role_match(&self, roles: &Roles) -> bool {
        self.role_filter
            .iter()
            .any(|wanted| roles.contains_all(wanted))
    }

    /// Whether `node_id` is listed in the id filter.
    pub fn listed(&self, node_id: &[u8]) -> bool {
        self.id_filter.iter().any(|id| id == node_id)
    }

    /// Whether a member with `roles` and `node_id` is selected (RFC 9594
    /// section 4.4.1; see the module table).
    pub fn selects(&self, roles: &Roles, node_id: &[u8]) -> bool {
        if self.inclusion_flag {
            self.role_match(roles) || self.listed(node_id)
        } else {
            (self.role_filter.is_empty() || self.role_match(roles)) && !self.listed(node_id)
        }
    }
}

impl Codec for GetCreds {
    fn to_value(&self) -> Value {
        match self {
            Self::All => Value::Null,
            Self::Filter(f) => Value::Array(vec![
                Value::Bool(f.inclusion_flag),
                Value::Array(f.role_filter.iter().map(Roles::to_value).collect()),
                super::bytes_array_value(&f.id_filter),
            ]),
        }
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let items = match value {
            Value::Null => return Ok(Self::All),
            other => cbor::array(other, CONTEXT)?,
        };
        let [flag, roles, ids]: [Value; 3] = items.try_into().map_err(|_| {
            DecodeError::invalid(CONTEXT, "expected [inclusion_flag, role_filter, id_filter]")
        })?;
        let inclusion_flag = cbor::boolean(flag, "inclusion_flag")?;
        let role_filter = cbor::array(roles, "role_filter")?
            .into_iter()
            .map(|r| Roles::from_value(r, "role_filter"))
            .collect::<Result<Vec<_>, _>>()?;
        let id_filter = super::bytes_array(ids, "id_filter")?;
        Ok(Self::Filter(CredsFilter {
            inclusion_flag,
            role_filter,
            id_filter,
        }))
    }
}

/// Where a `get_creds` was received; each has its own shape rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredsContext {
    /// In a Join Request: `null` or `[true, non-empty role_filter, []]`
    /// (RFC 9594 section 4.3.1).
    Join,
    /// In a FETCH to `/ace-group/GROUPNAME/creds`: an array whose filters are
    /// not both empty (RFC 9594 section 4.4.1).
    Fetch,
}

impl GetCreds {
    /// Checks the shape rules of `context`; a violation is a malformed
    /// request (4.00).
    pub fn validate(&self, context: CredsContext) -> Result<(), DecodeError> {
        match (context, self) {
            (CredsContext::Join, Self::All) => Ok(()),
            (CredsContext::Join, Self::Filter(f)) => {
                if !f.inclusion_flag {
                    Err(DecodeError::invalid(
                        CONTEXT,
                        "inclusion_flag must be true in a Join Request",
                    ))
                } else if f.role_filter.is_empty() {
                    Err(DecodeError::invalid(
                        CONTEXT,
                        "role_filter must not be empty in a Join Request",
                    ))
                } else if !f.id_filter.is_empty() {
                    Err(DecodeError::invalid(
                        CONTEXT,
                        "id_filter must be empty in a Join Request",
                    ))
                } else {
                    Ok(())
                }
            }
            (CredsContext::Fetch, Self::All) => Err(DecodeError::invalid(
                CONTEXT,
                "FETCH needs [inclusion_flag, role_filter, id_filter]; use GET for all",
            )),
            (CredsContext::Fetch, Self::Filter(f)) => {
                if f.role_filter.is_empty() && f.id_filter.is_empty() {
                    Err(DecodeError::invalid(
                        CONTEXT,
                        "role_filter and id_filter must not both be empty",
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A group member as the credential selection sees it.
pub trait CredsMember {
    /// The member's node identifier (RFC 9594 REQ25; the Sender ID in Group
    /// OSCORE).
    fn node_id(&self) -> &[u8];
    /// The member's roles, in the profile's encoding.
    fn roles(&self) -> &Roles;
    /// The member's credential, original bytes.
    fn credential(&self) -> &[u8];
}

/// A plain member record implementing [`CredsMember`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node identifier.
    pub node_id: Vec<u8>,
    /// Roles.
    pub roles: Roles,
    /// Credential, original bytes.
    pub credential: Vec<u8>,
}

impl CredsMember for Member {
    fn node_id(&self) -> &[u8] {
        &self.node_id
    }
    fn roles(&self) -> &Roles {
        &self.roles
    }
    fn credential(&self) -> &[u8] {
        &self.credential
    }
}

impl<M: CredsMember + ?Sized> CredsMember for &M {
    fn node_id(&self) -> &[u8] {
        (**self).node_id()
    }
    fn roles(&self) -> &Roles {
        (**self).roles()
    }
    fn credential(&self) -> &[u8] {
        (**self).credential()
    }
}

/// The members whose credentials `get_creds` selects, in list order, after
/// checking the shape rules of `context` (a violation, e.g. `[b, [], []]` on
/// FETCH, is a 4.00 error). See the module documentation for the table of
/// semantics.
pub fn select_creds<'m, M: CredsMember>(
    get_creds: &GetCreds,
    context: CredsContext,
    members: &'m [M],
) -> Result<Vec<&'m M>, DecodeError> {
    get_creds.validate(context)?;
    Ok(match get_creds {
        GetCreds::All => members.iter().collect(),
        GetCreds::Filter(f) => members
            .iter()
            .filter(|m| f.selects(m.roles(), m.node_id()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_17_request_value() {
        // [true, [], [h'02', h'03']]
        let g = GetCreds::decode(&[0x83, 0xf5, 0x80, 0x82, 0x41, 0x02, 0x41, 0x03]).unwrap();
        assert_eq!(
            g,
            GetCreds::Filter(CredsFilter {
                inclusion_flag: true,
                role_filter: vec![],
                id_filter: vec![vec![2], vec![3]],
            })
        );
        assert!(g.validate(CredsContext::Fetch).is_ok());
        assert!(g.validate(CredsContext::Join).is_err());
    }

    #[test]
    fn malformed_shapes_are_refused() {
        // [true, [], []] is well-formed CBOR but refused on FETCH.
        let g = GetCreds::decode(&[0x83, 0xf5, 0x80, 0x80]).unwrap();
        assert_eq!(
            g.validate(CredsContext::Fetch).unwrap_err().code(),
            crate::Code::BAD_REQUEST
        );
        // Two elements, a non-bool flag, an id that is text, a one-role array.
        assert!(GetCreds::decode(&[0x82, 0xf5, 0x80]).is_err());
        assert!(GetCreds::decode(&[0x83, 0x01, 0x80, 0x80]).is_err());
        assert!(GetCreds::decode(&[0x83, 0xf5, 0x80, 0x81, 0x61, b'a']).is_err());
        assert!(GetCreds::decode(&[0x83, 0xf5, 0x81, 0x81, 0x61, b'a', 0x80]).is_err());
        assert!(GetCreds::decode(&[0xf4]).is_err());
    }
}
