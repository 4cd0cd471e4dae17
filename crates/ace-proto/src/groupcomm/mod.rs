//! RFC 9594 messages (`application/ace-groupcomm+cbor`) and the Group OSCORE
//! application profile (draft-ietf-ace-key-groupcomm-oscore-21).
//!
//! One type per message body, each implementing [`Codec`]:
//!
//! | Exchange (RFC 9594 section) | Request | Response |
//! |---|---|---|
//! | FETCH `/ace-group` (4.2.1) | [`GroupNamesRequest`] | [`OrNothing`]`<`[`GroupNamesResponse`]`>` |
//! | POST `/ace-group/GROUPNAME`, join (4.3.1) | [`JoinRequest`] | [`JoinResponse`] |
//! | 4.00 with CF 261 (4.3.1) | — | [`GroupcommErrorBody`] |
//! | GET `/ace-group/GROUPNAME` (4.3.2) | — | [`KeyDistributionResponse`] |
//! | FETCH / GET `.../creds` (4.4.1, 4.4.2) | [`FetchCredsRequest`] | [`OrNothing`]`<`[`CredsResponse`]`>` |
//! | GET `.../kdc-cred` (4.5.1); FETCH in the Group OSCORE profile | [`KdcCredFetchRequest`] | [`KdcCred`] |
//! | GET `.../policies` (4.6.1) | — | [`OrNothing`]`<`[`PoliciesResponse`]`>` |
//! | GET `.../num` (4.7.1) | — | [`VersionResponse`] |
//! | GET / POST `.../nodes/NODENAME` (4.8.1, 4.8.2) | — | [`IndividualKeyingMaterial`] |
//! | POST `.../nodes/NODENAME/cred` (4.9.1) | [`CredUpdateRequest`] | — |
//! | rekeying (6, profile section 11) | [`RekeyingMessage`] | — |
//! | FETCH `.../stale-sids` (profile) | [`StaleSidsRequest`] | [`StaleSidsResponse`] |
//! | GET `.../verif-data` (profile) | — | [`VerifDataResponse`] |
//!
//! `get_creds` and its selection semantics are in [`get_creds`]; the Group
//! OSCORE `key` object in [`group_oscore_input`].
//!
//! # Encoding and decoding rules
//!
//! - Integer map keys are written in ascending order, which is the order of
//!   every example in RFC 9594 section 7 and in the Group OSCORE profile;
//!   entries kept from a received message (where a type keeps them) follow,
//!   in the order received.
//! - Unknown parameters are ignored (RFC 9594 section 4.1.2: "MUST be
//!   silently ignored"), except where a type documents that it keeps them
//!   (the profile-defined individual keying material of
//!   [`IndividualKeyingMaterial`], extension labels of the Group OSCORE
//!   `key`, extra group policies).
//! - A parameter of the wrong CBOR type, a missing mandatory parameter, or a
//!   combination the RFC forbids is a [`DecodeError`] whose
//!   [`code`](DecodeError::code) is 4.00 (Bad Request).

mod cred_update;
mod creds;
mod error_body;
pub mod get_creds;
pub mod group_oscore_input;
mod groups;
mod join;
mod kdc_cred;
mod keying_material;
mod policies;
mod rekey;
mod stale_sids;
mod verif_data;

pub use cred_update::CredUpdateRequest;
pub use creds::{CredsResponse, FetchCredsRequest, PeerCredentials};
pub use error_body::GroupcommErrorBody;
pub use get_creds::{CredsContext, CredsFilter, CredsMember, GetCreds, Member, select_creds};
pub use group_oscore_input::{Capabilities, GroupOscoreInputMaterial};
pub use groups::{GroupId, GroupNamesRequest, GroupNamesResponse};
pub use join::{JoinRequest, JoinResponse};
pub use kdc_cred::{KdcCred, KdcCredFetchRequest};
pub use keying_material::{
    GroupKey, GroupKeyingMaterial, IndividualKeyingMaterial, KeyDistributionResponse,
};
pub use policies::{GroupPolicies, PoliciesResponse, VersionResponse};
pub use rekey::RekeyingMessage;
pub use stale_sids::{StaleSidsRequest, StaleSidsResponse};
pub use verif_data::VerifDataResponse;

use crate::cbor::{self, Codec, IntOrText, MapReader, Value};
use crate::error::DecodeError;

/// A response body that is either a CBOR map or the zero-length byte string
/// `h''` (0x40) RFC 9594 prescribes when there is nothing to return: FETCH
/// `/ace-group` with no matching group (section 4.2.1), FETCH `/creds` with
/// no stored credential (section 4.4.1), GET `/policies` with no policy
/// (section 4.6.1).
#[derive(Debug, Clone, PartialEq)]
pub enum OrNothing<T> {
    /// The map.
    Content(T),
    /// The zero-length byte string.
    Nothing,
}

impl<T> OrNothing<T> {
    /// The content, if any.
    pub fn content(self) -> Option<T> {
        match self {
            Self::Content(t) => Some(t),
            Self::Nothing => None,
        }
    }
}

impl<T> From<Option<T>> for OrNothing<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Nothing, Self::Content)
    }
}

impl<T: Codec> Codec for OrNothing<T> {
    fn to_value(&self) -> Value {
        match self {
            Self::Content(t) => t.to_value(),
            Self::Nothing => Value::Bytes(Vec::new()),
        }
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::Bytes(b) if b.is_empty() => Ok(Self::Nothing),
            Value::Bytes(_) => Err(DecodeError::invalid(
                "response",
                "a byte string body must be empty (\"nothing found\")",
            )),
            other => T::from_value(other).map(Self::Content),
        }
    }
}

/// Collects integer-keyed parameters and writes them as a map in ascending
/// key order, followed by kept entries in their original order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(i64, Value)>);

impl Params {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn put(&mut self, key: i64, value: impl Into<Value>) {
        self.0.push((key, value.into()));
    }

    pub(crate) fn opt(&mut self, key: i64, value: Option<impl Into<Value>>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }

    pub(crate) fn bytes(&mut self, key: i64, value: &[u8]) {
        self.put(key, Value::Bytes(value.to_vec()));
    }

    pub(crate) fn opt_bytes(&mut self, key: i64, value: Option<&[u8]>) {
        if let Some(v) = value {
            self.bytes(key, v);
        }
    }

    pub(crate) fn finish(self, kept: &[(IntOrText, Value)]) -> Value {
        let mut entries = self.0;
        entries.sort_by_key(|(k, _)| *k);
        let mut map: Vec<(Value, Value)> = entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect();
        map.extend(kept.iter().map(|(k, v)| (k.to_value(), v.clone())));
        Value::Map(map)
    }
}

/// A CBOR array of byte strings.
pub(crate) fn bytes_array_value(items: &[Vec<u8>]) -> Value {
    Value::Array(items.iter().cloned().map(Value::Bytes).collect())
}

/// Reads a CBOR array of byte strings.
pub(crate) fn bytes_array(
    value: Value,
    context: &'static str,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    cbor::array(value, context)?
        .into_iter()
        .map(|v| cbor::bytes(v, context))
        .collect()
}

/// Reads a CBOR array of text strings.
pub(crate) fn text_array(value: Value, context: &'static str) -> Result<Vec<String>, DecodeError> {
    cbor::array(value, context)?
        .into_iter()
        .map(|v| cbor::text(v, context))
        .collect()
}

/// Opens a message body as a map; `context` names the message in errors.
pub(crate) fn open(value: Value, context: &'static str) -> Result<MapReader, DecodeError> {
    MapReader::new(value, context)
}
