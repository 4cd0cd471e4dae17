//! Members' credentials: the `creds` / `peer_roles` / `peer_identifiers`
//! triple (RFC 9594 section 4.3.1) and the `/ace-group/GROUPNAME/creds`
//! exchanges (sections 4.4.1 and 4.4.2).

use super::get_creds::{CredsContext, CredsMember, GetCreds};
use super::{Params, bytes_array, bytes_array_value, open};
use crate::cbor::{self, Codec, MapReader, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;
use crate::roles::Roles;

/// The credentials of selected members with their roles and node
/// identifiers, element `i` of each array describing the same member
/// (RFC 9594 section 4.3.1):
///
/// ```text
/// ? creds: [* bstr],              ; 13
/// ? peer_roles: [* role / [2* role] / Tperm],  ; 14
/// ? peer_identifiers: [* bstr],   ; 15
/// ```
///
/// `creds` and `peer_identifiers` come together (MUST); `peer_roles` is
/// optional (SHOULD). All present arrays have the same length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerCredentials {
    /// `creds` (13): each member's credential, original bytes.
    pub creds: Vec<Vec<u8>>,
    /// `peer_roles` (14): each member's roles, if sent.
    pub peer_roles: Option<Vec<Roles>>,
    /// `peer_identifiers` (15): each member's node identifier.
    pub peer_identifiers: Vec<Vec<u8>>,
}

impl PeerCredentials {
    /// The triple for `members`, with `peer_roles`.
    pub fn from_members<M: CredsMember>(members: &[M]) -> Self {
        Self {
            creds: members.iter().map(|m| m.credential().to_vec()).collect(),
            peer_roles: Some(members.iter().map(|m| m.roles().clone()).collect()),
            peer_identifiers: members.iter().map(|m| m.node_id().to_vec()).collect(),
        }
    }

    /// The number of members described.
    pub fn len(&self) -> usize {
        self.creds.len()
    }

    /// Whether no member is described.
    pub fn is_empty(&self) -> bool {
        self.creds.is_empty()
    }

    pub(crate) fn write(&self, p: &mut Params) {
        p.put(param::CREDS, bytes_array_value(&self.creds));
        if let Some(roles) = &self.peer_roles {
            p.put(
                param::PEER_ROLES,
                Value::Array(roles.iter().map(Roles::to_value).collect()),
            );
        }
        p.put(
            param::PEER_IDENTIFIERS,
            bytes_array_value(&self.peer_identifiers),
        );
    }

    /// Takes the triple from `map`: `None` when none of the three is
    /// present; an error when they are inconsistent.
    pub(crate) fn read(map: &mut MapReader) -> Result<Option<Self>, DecodeError> {
        let creds = map
            .take(param::CREDS)
            .map(|v| bytes_array(v, "creds"))
            .transpose()?;
        let peer_roles = map
            .take(param::PEER_ROLES)
            .map(|v| {
                cbor::array(v, "peer_roles")?
                    .into_iter()
                    .map(|r| Roles::from_value(r, "peer_roles"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let peer_identifiers = map
            .take(param::PEER_IDENTIFIERS)
            .map(|v| bytes_array(v, "peer_identifiers"))
            .transpose()?;
        let context = map.context();
        let (creds, peer_identifiers) = match (creds, peer_identifiers) {
            (None, None) if peer_roles.is_none() => return Ok(None),
            (Some(c), Some(i)) => (c, i),
            (None, _) => return Err(DecodeError::missing(context, "creds")),
            (Some(_), None) => return Err(DecodeError::missing(context, "peer_identifiers")),
        };
        if peer_identifiers.len() != creds.len() {
            return Err(DecodeError::invalid(
                context,
                "peer_identifiers and creds differ in length",
            ));
        }
        if peer_roles.as_ref().is_some_and(|r| r.len() != creds.len()) {
            return Err(DecodeError::invalid(
                context,
                "peer_roles and creds differ in length",
            ));
        }
        Ok(Some(Self {
            creds,
            peer_roles,
            peer_identifiers,
        }))
    }
}

/// Authentication Credential Response: the 2.05 body of FETCH and GET
/// `/ace-group/GROUPNAME/creds` (RFC 9594 sections 4.4.1 and 4.4.2,
/// Figures 17 and 19).
///
/// ```text
/// {
///   ? num: int,               ; 9 (listed by 4.4.1; absent in Figure 17)
///   creds: [* bstr],          ; 13
///   ? peer_roles: [* roles],  ; 14
///   peer_identifiers: [* bstr] ; 15
/// }
/// ```
///
/// When the KDC has no credential for the requested node identifiers the
/// body is `h''` instead: decode as `OrNothing<CredsResponse>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredsResponse {
    /// `num` (9): version of the current group keying material.
    pub num: Option<i64>,
    /// The selected members.
    pub peers: PeerCredentials,
}

impl Codec for CredsResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.opt(param::NUM, self.num);
        self.peers.write(&mut p);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "creds response")?;
        let num = map.opt_int(param::NUM, "num")?;
        let peers = PeerCredentials::read(&mut map)?
            .ok_or(DecodeError::missing("creds response", "creds"))?;
        Ok(Self { num, peers })
    }
}

/// Authentication Credential Request: the body of FETCH
/// `/ace-group/GROUPNAME/creds` (RFC 9594 section 4.4.1, Figure 17).
///
/// ```text
/// { get_creds: [inclusion_flag, role_filter, id_filter] }   ; 4
/// ```
///
/// Decoding applies the FETCH shape rules ([`CredsContext::Fetch`]):
/// `null` and `[b, [], []]` are refused with 4.00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCredsRequest {
    /// `get_creds` (4).
    pub get_creds: GetCreds,
}

impl Codec for FetchCredsRequest {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.put(param::GET_CREDS, self.get_creds.to_value());
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "creds request")?;
        let get_creds = GetCreds::from_value(map.require(param::GET_CREDS, "get_creds")?)?;
        get_creds.validate(CredsContext::Fetch)?;
        Ok(Self { get_creds })
    }
}
