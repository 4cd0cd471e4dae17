//! Group_OSCORE_Input_Material: the `key` of the Group OSCORE profile
//! (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3), `gkty` 1
//! (suggested).
//!
//! It extends the RFC 9203 OSCORE_Input_Material
//! ([`crate::oscore_input::OscoreInputMaterial`], labels 0-6) with labels
//! 7-13 (suggested values, [`crate::consts::groupcomm::group_oscore_input`]):
//!
//! ```text
//! Group_OSCORE_Input_Material = {
//!   ? 0 => bstr,               ; id
//!   ? 1 => int,                ; version
//!   ? 2 => bstr,               ; ms           (MUST in join/key responses)
//!   ? 3 => tstr / int,         ; hkdf         (absent: HKDF SHA-256)
//!   ? 4 => tstr / int,         ; alg          (iff not signature-only)
//!   ? 5 => bstr,               ; salt         (absent: empty)
//!   ? 6 => bstr,               ; contextId    (the Gid; MUST)
//!   ? 7 => bstr,               ; group_SenderId (not for monitors)
//!   ? 8 => int,                ; cred_fmt     (MUST in join responses)
//!   ? 9 => tstr / int,         ; gp_enc_alg   (iff not pairwise-only)
//!   ? 10 => tstr / int,        ; sign_alg     (iff not pairwise-only)
//!   ? 11 => [alg_capab, key_type_capab],   ; sign_params
//!   ? 12 => tstr / int,        ; ecdh_alg     (iff not signature-only)
//!   ? 13 => [alg_capab, key_type_capab],   ; ecdh_params
//!   * (int / tstr) => any
//! }
//! ```
//!
//! Keys are written in ascending order (the order of the profile's examples,
//! e.g. its Figure 5); unknown labels are kept and written after the known
//! ones.

use crate::cbor::{self, Codec, IntOrText, MapReader, Value};
use crate::consts::groupcomm::group_oscore_input as label;
use crate::error::DecodeError;
use crate::oscore_input::OscoreInputMaterial;

const CONTEXT: &str = "Group_OSCORE_Input_Material";

/// The capabilities of an algorithm and of its key type, as `sign_params` and
/// `ecdh_params` carry them: `[alg_capab, key_type_capab]`, each a COSE
/// "Capabilities" array (e.g. `[[1], [1, 6]]` for EdDSA with OKP Ed25519).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capabilities {
    /// The algorithm's capabilities (e.g. `[1]`, the key type OKP).
    pub alg: Vec<Value>,
    /// The key type's capabilities (e.g. `[1, 6]`, OKP with curve Ed25519).
    pub key_type: Vec<Value>,
}

impl Capabilities {
    /// Capabilities made of integers, the usual case.
    pub fn ints(alg: &[i64], key_type: &[i64]) -> Self {
        Self {
            alg: alg.iter().map(|i| Value::from(*i)).collect(),
            key_type: key_type.iter().map(|i| Value::from(*i)).collect(),
        }
    }

    /// EdDSA with Ed25519: `[[1], [1, 6]]` (the profile's default).
    pub fn eddsa_ed25519() -> Self {
        Self::ints(&[1], &[1, 6])
    }

    /// ES256 on P-256, or ECDH on P-256: `[[2], [2, 1]]`.
    pub fn ec2_p256() -> Self {
        Self::ints(&[2], &[2, 1])
    }

    /// ECDH with X25519: `[[1], [1, 4]]`.
    pub fn okp_x25519() -> Self {
        Self::ints(&[1], &[1, 4])
    }

    fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Array(self.alg.clone()),
            Value::Array(self.key_type.clone()),
        ])
    }

    fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        let [alg, key_type]: [Value; 2] = cbor::array(value, context)?
            .try_into()
            .map_err(|_| DecodeError::invalid(context, "expected [alg_capab, key_type_capab]"))?;
        Ok(Self {
            alg: cbor::array(alg, context)?,
            key_type: cbor::array(key_type, context)?,
        })
    }
}

/// The Group_OSCORE_Input_Material object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupOscoreInputMaterial {
    /// Labels 0-6 of RFC 9203 (`id`, `version`, `ms`, `hkdf`, `alg`, `salt`,
    /// `contextId`); its `rest` holds the labels neither document defines,
    /// written after label 13.
    pub oscore: OscoreInputMaterial,
    /// `group_SenderId` (7): the member's own Sender ID; absent for a
    /// monitor-only member and in Key Distribution Responses.
    pub group_sender_id: Option<Vec<u8>>,
    /// `cred_fmt` (8): COSE header label of the credential format (14 kccs,
    /// 33 x5chain...).
    pub cred_fmt: Option<i64>,
    /// `gp_enc_alg` (9): Group Encryption Algorithm.
    pub gp_enc_alg: Option<IntOrText>,
    /// `sign_alg` (10): Signature Algorithm.
    pub sign_alg: Option<IntOrText>,
    /// `sign_params` (11).
    pub sign_params: Option<Capabilities>,
    /// `ecdh_alg` (12): Pairwise Key Agreement Algorithm.
    pub ecdh_alg: Option<IntOrText>,
    /// `ecdh_params` (13).
    pub ecdh_params: Option<Capabilities>,
}

impl GroupOscoreInputMaterial {
    /// The OSCORE ID Context, i.e. the Gid.
    pub fn gid(&self) -> Option<&[u8]> {
        self.oscore.context_id.as_deref()
    }

    /// Whether the group uses group mode (both `gp_enc_alg` and `sign_alg`
    /// given; profile section 6.4).
    pub fn has_group_mode(&self) -> bool {
        self.gp_enc_alg.is_some() && self.sign_alg.is_some()
    }

    /// Whether the group uses pairwise mode (both `alg` and `ecdh_alg` given;
    /// profile section 6.4).
    pub fn has_pairwise_mode(&self) -> bool {
        self.oscore.alg.is_some() && self.ecdh_alg.is_some()
    }

    /// Whether the group is pairwise-only (no signatures): PoP evidence is
    /// then the 8-byte HKDF MAC rather than a signature
    /// ([`crate::pop`]).
    pub fn is_pairwise_only(&self) -> bool {
        self.sign_alg.is_none() && self.ecdh_alg.is_some()
    }

    /// Checks the fields a member needs to build its Security Context:
    /// `ms` and `contextId` (profile section 6.3, MUST), and `cred_fmt` when
    /// `need_cred_fmt` (Join Responses). Missing fields are a 4.00-class
    /// refusal of the message.
    pub fn check_member_fields(&self, need_cred_fmt: bool) -> Result<(), DecodeError> {
        if self.oscore.ms.is_none() {
            return Err(DecodeError::missing(CONTEXT, "ms"));
        }
        if self.oscore.context_id.is_none() {
            return Err(DecodeError::missing(CONTEXT, "contextId"));
        }
        if need_cred_fmt && self.cred_fmt.is_none() {
            return Err(DecodeError::missing(CONTEXT, "cred_fmt"));
        }
        Ok(())
    }
}

fn opt_int_or_text(
    map: &mut MapReader,
    key: i64,
    name: &'static str,
) -> Result<Option<IntOrText>, DecodeError> {
    map.take(key)
        .map(|v| IntOrText::from_value(v, name))
        .transpose()
}

impl Codec for GroupOscoreInputMaterial {
    fn to_value(&self) -> Value {
        let base = OscoreInputMaterial {
            rest: Vec::new(),
            ..self.oscore.clone()
        };
        let mut entries = match base.to_value() {
            Value::Map(m) => m,
            _ => Vec::new(),
        };
        let mut put = |key: i64, value: Option<Value>| {
            if let Some(v) = value {
                entries.push((Value::from(key), v));
            }
        };
        put(
            label::GROUP_SENDER_ID,
            self.group_sender_id.clone().map(Value::Bytes),
        );
        put(label::CRED_FMT, self.cred_fmt.map(Value::from));
        put(
            label::GP_ENC_ALG,
            self.gp_enc_alg.as_ref().map(IntOrText::to_value),
        );
        put(
            label::SIGN_ALG,
            self.sign_alg.as_ref().map(IntOrText::to_value),
        );
        put(
            label::SIGN_PARAMS,
            self.sign_params.as_ref().map(Capabilities::to_value),
        );
        put(
            label::ECDH_ALG,
            self.ecdh_alg.as_ref().map(IntOrText::to_value),
        );
        put(
            label::ECDH_PARAMS,
            self.ecdh_params.as_ref().map(Capabilities::to_value),
        );
        entries.extend(
            self.oscore
                .rest
                .iter()
                .map(|(k, v)| (k.to_value(), v.clone())),
        );
        Value::Map(entries)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, CONTEXT)?;
        let mut oscore = OscoreInputMaterial::take_from(&mut map)?;
        let group_sender_id = map.opt_bytes(label::GROUP_SENDER_ID, "group_SenderId")?;
        let cred_fmt = map.opt_int(label::CRED_FMT, "cred_fmt")?;
        let gp_enc_alg = opt_int_or_text(&mut map, label::GP_ENC_ALG, "gp_enc_alg")?;
        let sign_alg = opt_int_or_text(&mut map, label::SIGN_ALG, "sign_alg")?;
        let sign_params = map
            .take(label::SIGN_PARAMS)
            .map(|v| Capabilities::from_value(v, "sign_params"))
            .transpose()?;
        let ecdh_alg = opt_int_or_text(&mut map, label::ECDH_ALG, "ecdh_alg")?;
        let ecdh_params = map
            .take(label::ECDH_PARAMS)
            .map(|v| Capabilities::from_value(v, "ecdh_params"))
            .transpose()?;
        oscore.rest = map.into_rest();
        Ok(Self {
            oscore,
            group_sender_id,
            cred_fmt,
            gp_enc_alg,
            sign_alg,
            sign_params,
            ecdh_alg,
            ecdh_params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_5_key_object() {
        // {3: 5, 6: h'37fc', 8: 33, 9: 10, 10: -8, 11: [[1], [1, 6]]}
        let bytes =
            hex::decode("a60305064237fc081821090a0a270b8281018201 06".replace(' ', "")).unwrap();
        let key = GroupOscoreInputMaterial::decode(&bytes).unwrap();
        assert_eq!(key.oscore.hkdf, Some(IntOrText::Int(5)));
        assert_eq!(key.gid(), Some(&[0x37, 0xfc][..]));
        assert_eq!(key.cred_fmt, Some(33));
        assert_eq!(key.sign_alg, Some(IntOrText::Int(-8)));
        assert_eq!(key.sign_params, Some(Capabilities::eddsa_ed25519()));
        assert!(key.has_group_mode());
        assert!(!key.has_pairwise_mode());
        assert_eq!(key.encode(), bytes);
        // No Master Secret: fine for a verifier, not for a member.
        assert!(key.check_member_fields(false).is_err());
    }

    #[test]
    fn wrong_types_are_refused() {
        // {7: "x"}
        assert!(GroupOscoreInputMaterial::decode(&[0xa1, 0x07, 0x61, b'x']).is_err());
        // {11: [[1]]}
        assert!(GroupOscoreInputMaterial::decode(&[0xa1, 0x0b, 0x81, 0x81, 0x01]).is_err());
        // {8: h''}
        assert!(GroupOscoreInputMaterial::decode(&[0xa1, 0x08, 0x40]).is_err());
    }
}
