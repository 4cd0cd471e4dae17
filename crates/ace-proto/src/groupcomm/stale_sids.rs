//! Stale Sender IDs: FETCH `/ace-group/GROUPNAME/stale-sids` (Group OSCORE
//! profile, Figure 11), used by a member that missed rekeyings (profile
//! section 11).
//!
//! The request body is the member's current key version `V` as a CBOR
//! unsigned integer; the response is a CBOR array of byte strings (the stale
//! Sender IDs of the `V' - V + 1` newest stale sets, `V'` being the current
//! version), or **no payload** when the Group Manager no longer stores
//! enough sets. Both use Content-Format 60 (`application/cbor`) in the
//! profile's example.

use super::{bytes_array, bytes_array_value};
use crate::cbor::{self, Codec, Value};
use crate::error::DecodeError;

/// Stale Sender IDs Request: the member's key version `V` (uint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleSidsRequest(pub u64);

impl Codec for StaleSidsRequest {
    fn to_value(&self) -> Value {
        Value::from(self.0)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        cbor::uint(value, "stale-sids request").map(Self)
    }
}

impl StaleSidsRequest {
    /// Checks the request against the current version `current` (V'): the
    /// Group Manager answers 4.00 when `V >= V'` (there is nothing stale to
    /// report to a member that is not behind).
    pub fn check_behind(&self, current: u64) -> Result<(), DecodeError> {
        if self.0 >= current {
            Err(DecodeError::invalid(
                "stale-sids request",
                format!("version {} is not older than the current {current}", self.0),
            ))
        } else {
            Ok(())
        }
    }
}

/// Stale Sender IDs Response. Not a [`Codec`]: one of its forms is the
/// absence of a payload, which is no CBOR item. Use
/// [`StaleSidsResponse::to_payload`] and [`StaleSidsResponse::from_payload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleSidsResponse {
    /// The stale Sender IDs (possibly none).
    Sids(Vec<Vec<u8>>),
    /// No payload: the Group Manager does not store enough stale sets; the
    /// member has to re-join (or fetch all credentials) instead.
    Unavailable,
}

impl StaleSidsResponse {
    /// The response payload.
    pub fn to_payload(&self) -> Vec<u8> {
        match self {
            Self::Sids(ids) => cbor::to_vec(&bytes_array_value(ids)),
            Self::Unavailable => Vec::new(),
        }
    }

    /// Reads a response payload.
    pub fn from_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.is_empty() {
            return Ok(Self::Unavailable);
        }
        bytes_array(cbor::from_slice(payload)?, "stale-sids response").map(Self::Sids)
    }
}
