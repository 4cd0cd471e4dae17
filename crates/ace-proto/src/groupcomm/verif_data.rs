//! Verification data for external signature verifiers: GET
//! `/ace-group/GROUPNAME/verif-data` (Group OSCORE profile, Figure 5).

use super::keying_material::GroupKeyingMaterial;
use super::{Params, open};
use crate::cbor::{Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;

/// Verification Data Response (Group OSCORE profile, Figure 5).
///
/// ```text
/// {
///   gkty: 1, key: Group_OSCORE_Input_Material,   ; 7, 8: hkdf, contextId,
///                                                ; cred_fmt, gp_enc_alg, sign_alg,
///                                                ; sign_params (no ms, no Sender ID)
///   num, ? ace_groupcomm_profile, ? exp, ? exi,  ; 9-12
///   sign_enc_key: bstr,                          ; 33 (suggested)
/// }
/// ```
///
/// The `key` carries what a verifier needs to check group-mode signatures
/// and decrypt their countersignatures, and never the Master Secret.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifDataResponse {
    /// `gkty`, `key`, `num`, `ace_groupcomm_profile`, `exp`, `exi`.
    pub material: GroupKeyingMaterial,
    /// `sign_enc_key` (33): the group's Signature Encryption Key.
    pub sign_enc_key: Vec<u8>,
}

impl Codec for VerifDataResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        self.material.write(&mut p);
        p.bytes(param::SIGN_ENC_KEY, &self.sign_enc_key);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "verif-data response")?;
        let material = GroupKeyingMaterial::read(&mut map)?;
        if let Some(key) = material.key.group_oscore()
            && key.oscore.context_id.is_none()
        {
            return Err(DecodeError::missing("verif-data response", "contextId"));
        }
        Ok(Self {
            material,
            sign_enc_key: map.req_bytes(param::SIGN_ENC_KEY, "sign_enc_key")?,
        })
    }
}
