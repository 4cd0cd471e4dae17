//! Authentication Credential Update: POST
//! `/ace-group/GROUPNAME/nodes/NODENAME/cred` (RFC 9594 section 4.9.1,
//! Figure 33). Success is 2.04 (Changed) with no payload.

use super::{Params, open};
use crate::cbor::{Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;
use crate::pop;

const CONTEXT: &str = "credential update request";

/// Authentication Credential Update Request (RFC 9594 section 4.9.1).
///
/// ```text
/// {
///   client_cred: bstr,          ; 5, the new credential
///   cnonce: bstr,               ; 6, a new N_C
///   client_cred_verify: bstr,   ; 24, PoP over bstr(scope) | bstr(N_S) | bstr(N_C)
/// }
/// ```
///
/// The PoP input uses the `scope` of the member's latest Join Request for
/// the group and the latest N_S the KDC stored for the token (RFC 9594
/// section 4.9.1, Figure 31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredUpdateRequest {
    /// `client_cred` (5).
    pub client_cred: Vec<u8>,
    /// `cnonce` (6): N_C.
    pub cnonce: Vec<u8>,
    /// `client_cred_verify` (24).
    pub client_cred_verify: Vec<u8>,
}

impl CredUpdateRequest {
    /// The PoP input `bstr(scope) | bstr(N_S) | bstr(N_C)` for this request.
    pub fn pop_input(&self, latest_join_scope: &[u8], n_s: &[u8]) -> Vec<u8> {
        pop::client_pop_input(latest_join_scope, n_s, &self.cnonce)
    }

    /// The KDC's check of `client_cred_verify` (RFC 9594 section 4.9.1);
    /// a failure is 4.00 with error id 3.
    pub fn verify_pop(
        &self,
        latest_join_scope: &[u8],
        n_s: &[u8],
        check: pop::PopCheck<'_>,
    ) -> Result<pop::PopVerified, DecodeError> {
        let input = self.pop_input(latest_join_scope, n_s);
        Ok(check.verify(&input, &self.client_cred_verify)?)
    }
}

impl Codec for CredUpdateRequest {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.bytes(param::CLIENT_CRED, &self.client_cred);
        p.bytes(param::CNONCE, &self.cnonce);
        p.bytes(param::CLIENT_CRED_VERIFY, &self.client_cred_verify);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, CONTEXT)?;
        Ok(Self {
            client_cred: map.req_bytes(param::CLIENT_CRED, "client_cred")?,
            cnonce: map.req_bytes(param::CNONCE, "cnonce")?,
            client_cred_verify: map.req_bytes(param::CLIENT_CRED_VERIFY, "client_cred_verify")?,
        })
    }
}
