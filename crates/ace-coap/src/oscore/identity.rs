//! The security identity the OSCORE layer attaches to the requests it
//! verified ([`crate::Request::security`]), so that a handler can map the
//! requester to its authorization (e.g. the access token bound to the
//! context, RFC 9203 section 4.3, or the member's roles in a group).

use crate::request::Request;
use std::any::Any;

/// How a verified request was protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protection {
    /// OSCORE between two endpoints (RFC 8613).
    Oscore,
    /// Group OSCORE group mode: signed, for every member (RFC 10021
    /// section 7).
    GroupMode,
    /// Group OSCORE pairwise mode: for this member only (RFC 10021
    /// section 8).
    PairwiseMode,
}

/// Who sent a verified request: the context it was verified with (the
/// label the application gave it when installing it) and the requester's
/// Sender ID ('kid', RFC 8613 section 6.1).
///
/// `L` is the application's label type (e.g. the KDC's channel identifier,
/// the AS's peer name, a group name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OscoreIdentity<L> {
    /// The label of the security context (or group) that verified the
    /// request.
    pub label: L,
    /// The requester's Sender ID, the 'kid' of the request.
    pub kid: Vec<u8>,
    /// The 'kid context' of the request: the ID Context, or in Group OSCORE
    /// the Gid of the keying material that verified it (RFC 10021 section
    /// 2.1.3); `None` when the request carried none.
    pub kid_context: Option<Vec<u8>>,
    /// How it was protected.
    pub protection: Protection,
}

/// The OSCORE identity of a request, if the OSCORE layer verified it with a
/// context labelled with an `L`.
pub fn identity<L: Any>(request: &Request) -> Option<&OscoreIdentity<L>> {
    request.security::<OscoreIdentity<L>>()
}

/// The label of the context that verified `request`, if the OSCORE layer
/// verified it with a context labelled with an `L`; `None` for plain CoAP.
pub fn label<L: Any>(request: &Request) -> Option<&L> {
    identity::<L>(request).map(|i| &i.label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::SecurityIdentity;

    #[test]
    fn label_of_a_verified_request() {
        let mut r = Request::get("/x");
        assert_eq!(label::<String>(&r), None);
        r.security = Some(SecurityIdentity::new(OscoreIdentity {
            label: "client-1".to_string(),
            kid: vec![1],
            kid_context: None,
            protection: Protection::Oscore,
        }));
        assert_eq!(label::<String>(&r).map(String::as_str), Some("client-1"));
        assert_eq!(label::<u32>(&r), None);
        assert_eq!(identity::<String>(&r).unwrap().kid, vec![1]);
    }
}
