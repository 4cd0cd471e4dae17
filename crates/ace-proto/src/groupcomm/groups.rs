//! Group Name and URI Retrieval: FETCH `/ace-group` by group identifier
//! (RFC 9594 section 4.2.1, Figure 8).

use super::{Params, open, text_array};
use crate::cbor::{self, Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;

/// A group identifier (`gid`), whose encoding the application profile fixes
/// (RFC 9594 REQ13): the RFC's example uses integers, the Group OSCORE
/// profile byte strings (the OSCORE Group ID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupId {
    /// An integer identifier.
    Int(i64),
    /// A byte-string identifier.
    Bytes(Vec<u8>),
    /// A text identifier.
    Text(String),
}

impl GroupId {
    fn to_value(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Bytes(b) => Value::Bytes(b.clone()),
            Self::Text(t) => Value::Text(t.clone()),
        }
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::Integer(_) => cbor::int(value, "gid").map(Self::Int),
            Value::Bytes(b) => Ok(Self::Bytes(b)),
            Value::Text(t) => Ok(Self::Text(t)),
            other => Err(DecodeError::UnexpectedItem {
                context: "gid",
                want: "integer, byte string or text string",
                got: cbor::type_name(&other),
            }),
        }
    }
}

fn gid_array(value: Value) -> Result<Vec<GroupId>, DecodeError> {
    cbor::array(value, "gid")?
        .into_iter()
        .map(GroupId::from_value)
        .collect()
}

fn gid_value(gids: &[GroupId]) -> Value {
    Value::Array(gids.iter().map(GroupId::to_value).collect())
}

/// Group Name and URI Retrieval Request: the body of FETCH `/ace-group`
/// (RFC 9594 section 4.2.1): `{ gid: [+ gid] }` (0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNamesRequest {
    /// `gid` (0): at least one group identifier.
    pub gid: Vec<GroupId>,
}

impl Codec for GroupNamesRequest {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.put(param::GID, gid_value(&self.gid));
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "group names request")?;
        let gid = gid_array(map.require(param::GID, "gid")?)?;
        if gid.is_empty() {
            return Err(DecodeError::invalid("gid", "at least one group identifier"));
        }
        Ok(Self { gid })
    }
}

/// Group Name and URI Retrieval Response: the 2.05 body of FETCH
/// `/ace-group` (RFC 9594 section 4.2.1, Figure 8). Element `i` of the three
/// arrays describes the same group.
///
/// ```text
/// { gid: [+ gid], gname: [+ tstr], guri: [+ tstr] }   ; 0, 1, 2
/// ```
///
/// When no group matches, the body is `h''` instead: decode as
/// `OrNothing<GroupNamesResponse>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNamesResponse {
    /// `gid` (0).
    pub gid: Vec<GroupId>,
    /// `gname` (1): group names.
    pub gname: Vec<String>,
    /// `guri` (2): URIs of the group-membership resources.
    pub guri: Vec<String>,
}

impl Codec for GroupNamesResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.put(param::GID, gid_value(&self.gid));
        p.put(
            param::GNAME,
            Value::Array(self.gname.iter().cloned().map(Value::Text).collect()),
        );
        p.put(
            param::GURI,
            Value::Array(self.guri.iter().cloned().map(Value::Text).collect()),
        );
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "group names response")?;
        let gid = gid_array(map.require(param::GID, "gid")?)?;
        let gname = text_array(map.require(param::GNAME, "gname")?, "gname")?;
        let guri = text_array(map.require(param::GURI, "guri")?, "guri")?;
        if gname.len() != gid.len() || guri.len() != gid.len() {
            return Err(DecodeError::invalid(
                "group names response",
                "gid, gname and guri differ in length",
            ));
        }
        Ok(Self { gid, gname, guri })
    }
}
