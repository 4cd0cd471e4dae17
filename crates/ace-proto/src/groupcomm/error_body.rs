//! The `application/ace-groupcomm+cbor` body of a 4.00 (Bad Request) to a
//! Join Request or a credential update (RFC 9594 section 4.3.1; Group OSCORE
//! profile section 6.2).
//!
//! Instead of problem details, the KDC may answer 4.00 with Content-Format
//! 261 and a map that gives the Client what it needs to try again: a fresh
//! challenge N_S when it stores none for the token (MUST then), and the
//! group's signature (and, in the Group OSCORE profile, key agreement)
//! parameters, e.g. when the Client's credential did not fit the group.

use super::{Params, open};
use crate::authz_info::{EcdhInfoEntry, KdcDhCredsEntry, SignInfoEntry};
use crate::cbor::{Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;

/// The CF 261 body of a 4.00 response.
///
/// ```text
/// {
///   ? sign_info: [+ sign_info_entry],         ; 29
///   ? kdcchallenge: bstr,                     ; 30, a new N_S
///   ? ecdh_info: [+ ecdh_info_entry],         ; 31 (suggested)
///   ? kdc_dh_creds: [+ kdc_dh_creds_entry],   ; 32 (suggested)
/// }
/// ```
///
/// `sign_info` entries are shaped as in the Token Transfer Response (RFC 9594
/// section 3.3.1), with `cred_fmt` null when the KDC stores no credentials.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupcommErrorBody {
    /// `sign_info` (29).
    pub sign_info: Option<Vec<SignInfoEntry>>,
    /// `kdcchallenge` (30): a new N_S, which the KDC has stored for the
    /// token (replacing any previous one); the Client signs it next.
    pub kdcchallenge: Option<Vec<u8>>,
    /// `ecdh_info` (31).
    pub ecdh_info: Option<Vec<EcdhInfoEntry>>,
    /// `kdc_dh_creds` (32).
    pub kdc_dh_creds: Option<Vec<KdcDhCredsEntry>>,
}

impl Codec for GroupcommErrorBody {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.opt(
            param::SIGN_INFO,
            self.sign_info.as_deref().map(SignInfoEntry::list_to_value),
        );
        p.opt_bytes(param::KDCCHALLENGE, self.kdcchallenge.as_deref());
        p.opt(
            param::ECDH_INFO,
            self.ecdh_info.as_deref().map(EcdhInfoEntry::list_to_value),
        );
        p.opt(
            param::KDC_DH_CREDS,
            self.kdc_dh_creds
                .as_deref()
                .map(KdcDhCredsEntry::list_to_value),
        );
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "4.00 response body")?;
        Ok(Self {
            sign_info: map
                .take(param::SIGN_INFO)
                .map(|v| SignInfoEntry::list_from_value(v, "sign_info"))
                .transpose()?,
            kdcchallenge: map.opt_bytes(param::KDCCHALLENGE, "kdcchallenge")?,
            ecdh_info: map
                .take(param::ECDH_INFO)
                .map(|v| EcdhInfoEntry::list_from_value(v, "ecdh_info"))
                .transpose()?,
            kdc_dh_creds: map
                .take(param::KDC_DH_CREDS)
                .map(|v| KdcDhCredsEntry::list_from_value(v, "kdc_dh_creds"))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz_info::GroupNames;
    use crate::cbor::IntOrText;

    fn caps(v: &[i64]) -> Vec<Value> {
        v.iter().map(|i| Value::from(*i)).collect()
    }

    #[test]
    fn new_challenge_with_sign_info() {
        // {29: [["g1", -8, [1], [1, 6], 14]], 30: h'018a278f7faab55a'}
        let body = GroupcommErrorBody {
            sign_info: Some(vec![SignInfoEntry {
                id: GroupNames::One("g1".into()),
                sign_alg: IntOrText::Int(-8),
                sign_parameters: caps(&[1]),
                sign_key_parameters: caps(&[1, 6]),
                more_capabilities: vec![],
                cred_fmt: Some(14),
            }]),
            kdcchallenge: Some(hex::decode("018a278f7faab55a").unwrap()),
            ..Default::default()
        };
        let bytes = hex::decode("a2181d81856267312781018201060e181e48018a278f7faab55a").unwrap();
        assert_eq!(body.encode(), bytes);
        assert_eq!(GroupcommErrorBody::decode(&bytes).unwrap(), body);
    }

    #[test]
    fn group_oscore_parameters() {
        // {29: [[["g1", "g2"], -7, [2], [2, 1], null]],
        //  31: [["g1", -27, [1], [1, 4], 14]], 32: [["g3", 14, h'a0']]}
        let body = GroupcommErrorBody {
            sign_info: Some(vec![SignInfoEntry {
                id: GroupNames::Many(vec!["g1".into(), "g2".into()]),
                sign_alg: IntOrText::Int(-7),
                sign_parameters: caps(&[2]),
                sign_key_parameters: caps(&[2, 1]),
                more_capabilities: vec![],
                cred_fmt: None,
            }]),
            kdcchallenge: None,
            ecdh_info: Some(vec![EcdhInfoEntry {
                id: GroupNames::One("g1".into()),
                ecdh_alg: IntOrText::Int(-27),
                ecdh_parameters: caps(&[1]),
                ecdh_key_parameters: caps(&[1, 4]),
                more_capabilities: vec![],
                cred_fmt: Some(14),
            }]),
            kdc_dh_creds: Some(vec![KdcDhCredsEntry {
                id: GroupNames::One("g3".into()),
                cred_fmt: 14,
                cred: vec![0xa0],
            }]),
        };
        let bytes = hex::decode(
            "a3181d818582626731626732268102820201f6181f8185626731381a81018201040e18208183\
             6267330e41a0",
        )
        .unwrap();
        assert_eq!(body.encode(), bytes);
        assert_eq!(GroupcommErrorBody::decode(&bytes).unwrap(), body);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        // {29: []}: sign_info needs at least one entry.
        assert!(GroupcommErrorBody::decode(&[0xa1, 0x18, 0x1d, 0x80]).is_err());
        // {30: "x"}
        assert!(GroupcommErrorBody::decode(&[0xa1, 0x18, 0x1e, 0x61, b'x']).is_err());
        // {29: null}: null is the request form, not a response.
        assert!(GroupcommErrorBody::decode(&[0xa1, 0x18, 0x1d, 0xf6]).is_err());
    }
}
