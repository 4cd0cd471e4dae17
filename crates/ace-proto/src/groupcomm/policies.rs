//! Group policies (RFC 9594 section 4.3.1, Table 3; GET
//! `/ace-group/GROUPNAME/policies`, section 4.6.1, Figure 24) and the
//! version number (GET `/ace-group/GROUPNAME/num`, section 4.7.1, Figure 26).

use super::{Params, open};
use crate::cbor::{self, Codec, IntOrText, MapReader, Value};
use crate::consts::groupcomm::{param, policy};
use crate::error::DecodeError;

const CONTEXT: &str = "group_policies";

/// The `group_policies` map (RFC 9594 section 4.3.1, Table 3):
///
/// ```text
/// {
///   ? 0 => int / tstr,   ; Sequence Number Synchronization Method
///   ? 1 => int,          ; Key Update Check Interval (seconds)
///   ? 2 => uint,         ; Expiration Delta (seconds)
///   * label => any       ; other registered policies, kept
/// }
/// ```
///
/// Defaults are the application profile's (RFC 9594 REQ20); the `_or_default`
/// accessors give the Group OSCORE profile's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupPolicies {
    /// Sequence Number Synchronization Method (0).
    pub sequence_number_sync: Option<IntOrText>,
    /// Key Update Check Interval (1), seconds.
    pub key_update_check_interval: Option<i64>,
    /// Expiration Delta (2), seconds.
    pub expiration_delta: Option<u64>,
    /// Other policies, in the order received.
    pub other: Vec<(IntOrText, Value)>,
}

impl GroupPolicies {
    /// Whether no policy is set (then GET `/policies` answers `h''`).
    pub fn is_empty(&self) -> bool {
        self.sequence_number_sync.is_none()
            && self.key_update_check_interval.is_none()
            && self.expiration_delta.is_none()
            && self.other.is_empty()
    }

    /// The Key Update Check Interval, or the Group OSCORE profile's default
    /// of 3600 seconds.
    pub fn key_update_check_interval_or_default(&self) -> i64 {
        self.key_update_check_interval
            .unwrap_or(policy::DEFAULT_KEY_UPDATE_CHECK_INTERVAL)
    }

    /// The Expiration Delta, or the Group OSCORE profile's default of 0.
    pub fn expiration_delta_or_default(&self) -> u64 {
        self.expiration_delta
            .unwrap_or(policy::DEFAULT_EXPIRATION_DELTA)
    }
}

impl Codec for GroupPolicies {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.opt(
            policy::SEQUENCE_NUMBER_SYNCHRONIZATION_METHOD,
            self.sequence_number_sync.as_ref().map(IntOrText::to_value),
        );
        p.opt(
            policy::KEY_UPDATE_CHECK_INTERVAL,
            self.key_update_check_interval,
        );
        p.opt(policy::EXPIRATION_DELTA, self.expiration_delta);
        p.finish(&self.other)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, CONTEXT)?;
        Ok(Self {
            sequence_number_sync: map
                .take(policy::SEQUENCE_NUMBER_SYNCHRONIZATION_METHOD)
                .map(|v| IntOrText::from_value(v, "Sequence Number Synchronization Method"))
                .transpose()?,
            key_update_check_interval: map.opt_int(
                policy::KEY_UPDATE_CHECK_INTERVAL,
                "Key Update Check Interval",
            )?,
            expiration_delta: map.opt_uint(policy::EXPIRATION_DELTA, "Expiration Delta")?,
            other: map.into_rest(),
        })
    }
}

/// Policies Response: the 2.05 body of GET `/ace-group/GROUPNAME/policies`
/// (RFC 9594 section 4.6.1, Figure 24): `{ group_policies: map }` (16).
/// With no policy stored the body is `h''` instead: decode as
/// `OrNothing<PoliciesResponse>`.
#[derive(Debug, Clone, PartialEq)]
pub struct PoliciesResponse {
    /// `group_policies` (16).
    pub group_policies: GroupPolicies,
}

impl Codec for PoliciesResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.put(param::GROUP_POLICIES, self.group_policies.to_value());
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "policies response")?;
        Ok(Self {
            group_policies: GroupPolicies::from_value(
                map.require(param::GROUP_POLICIES, "group_policies")?,
            )?,
        })
    }
}

/// Version Response: the 2.05 body of GET `/ace-group/GROUPNAME/num`, a bare
/// CBOR integer (RFC 9594 section 4.7.1, Figure 26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionResponse(pub i64);

impl Codec for VersionResponse {
    fn to_value(&self) -> Value {
        Value::from(self.0)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        cbor::int(value, "num").map(Self)
    }
}
