//! The KDC's credential with its PoP evidence: the `kdc_cred` /
//! `kdc_nonce` / `kdc_cred_verify` triple of the Join Response (RFC 9594
//! section 4.3.1) and the body of GET `/ace-group/GROUPNAME/kdc-cred`
//! (section 4.5.1, Figure 22); plus the Group OSCORE profile's FETCH to the
//! same resource by external signature verifiers (Group OSCORE profile,
//! Figure 3).

use super::{Params, open};
use crate::cbor::{Codec, MapReader, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;
use crate::pop::{self, PopCheck, PopError, PopVerified};

/// KDC Authentication Credential Response (RFC 9594 section 4.5.1,
/// Figure 22), also embedded in the Join Response.
///
/// ```text
/// {
///   kdc_cred: bstr,          ; 17
///   kdc_nonce: bstr,         ; 18, N_KDC
///   kdc_cred_verify: bstr,   ; 19, PoP over bstr(N_C) | bstr(N_KDC)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcCred {
    /// `kdc_cred` (17): the KDC's credential, original bytes.
    pub kdc_cred: Vec<u8>,
    /// `kdc_nonce` (18): N_KDC.
    pub kdc_nonce: Vec<u8>,
    /// `kdc_cred_verify` (19): the PoP evidence.
    pub kdc_cred_verify: Vec<u8>,
}

impl KdcCred {
    /// The PoP input the evidence covers, for the Client's `n_c` (the
    /// `cnonce` of its Join Request, or of the FETCH).
    pub fn pop_input(&self, n_c: &[u8]) -> Vec<u8> {
        pop::kdc_pop_input(n_c, &self.kdc_nonce)
    }

    /// Verifies `kdc_cred_verify` with `check` (the key of `kdc_cred`, or
    /// the DH keys of a pairwise-only group). A Client MUST treat a failure
    /// as a failed join (RFC 9594 section 4.3.1) and MUST NOT store the
    /// credential (section 4.5.1).
    pub fn verify(&self, n_c: &[u8], check: PopCheck<'_>) -> Result<PopVerified, PopError> {
        check.verify(&self.pop_input(n_c), &self.kdc_cred_verify)
    }

    pub(crate) fn write(&self, p: &mut Params) {
        p.bytes(param::KDC_CRED, &self.kdc_cred);
        p.bytes(param::KDC_NONCE, &self.kdc_nonce);
        p.bytes(param::KDC_CRED_VERIFY, &self.kdc_cred_verify);
    }

    /// Takes the triple: `None` when `kdc_cred` is absent; `kdc_nonce` and
    /// `kdc_cred_verify` MUST accompany it (and make no sense without it).
    pub(crate) fn read(map: &mut MapReader) -> Result<Option<Self>, DecodeError> {
        let cred = map.opt_bytes(param::KDC_CRED, "kdc_cred")?;
        let nonce = map.opt_bytes(param::KDC_NONCE, "kdc_nonce")?;
        let verify = map.opt_bytes(param::KDC_CRED_VERIFY, "kdc_cred_verify")?;
        let context = map.context();
        match (cred, nonce, verify) {
            (None, None, None) => Ok(None),
            (Some(kdc_cred), Some(kdc_nonce), Some(kdc_cred_verify)) => Ok(Some(Self {
                kdc_cred,
                kdc_nonce,
                kdc_cred_verify,
            })),
            (None, _, _) => Err(DecodeError::missing(context, "kdc_cred")),
            (Some(_), None, _) => Err(DecodeError::missing(context, "kdc_nonce")),
            (Some(_), Some(_), None) => Err(DecodeError::missing(context, "kdc_cred_verify")),
        }
    }
}

impl Codec for KdcCred {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        self.write(&mut p);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "kdc-cred response")?;
        Self::read(&mut map)?.ok_or(DecodeError::missing("kdc-cred response", "kdc_cred"))
    }
}

/// FETCH `/ace-group/GROUPNAME/kdc-cred` by an external signature verifier
/// (Group OSCORE profile, Figure 3): `{ cnonce: bstr }` (6), the
/// N_C the KDC's PoP answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcCredFetchRequest {
    /// `cnonce` (6): N_C.
    pub cnonce: Vec<u8>,
}

impl Codec for KdcCredFetchRequest {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.bytes(param::CNONCE, &self.cnonce);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "kdc-cred request")?;
        Ok(Self {
            cnonce: map.req_bytes(param::CNONCE, "cnonce")?,
        })
    }
}
