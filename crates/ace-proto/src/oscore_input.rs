//! OSCORE_Input_Material (RFC 9203 section 3.2.1), carried in `cnf` as `osc`.
//!
//! The AS sends this object to the client in the token response and to the
//! RS inside the token; both derive the same OSCORE Security Context from it
//! and the two nonces exchanged at `/authz-info` (RFC 9203 section 4.3).
//!
//! ```cddl
//! OSCORE_Input_Material = {
//!   ? 0 => bstr,          ; id
//!   ? 1 => int,           ; version
//!   ? 2 => bstr,          ; ms
//!   ? 3 => tstr / int,    ; hkdf
//!   ? 4 => tstr / int,    ; alg
//!   ? 5 => bstr,          ; salt
//!   ? 6 => bstr,          ; contextId
//!   * (int / tstr) => any ; other parameters
//! }
//! ```

use crate::cbor::{self, Codec, IntOrText, MapBuilder, MapReader, Value};
use crate::consts::oscore as label;
use crate::error::DecodeError;

const CONTEXT: &str = "OSCORE_Input_Material";

/// The OSCORE_Input_Material object (RFC 9203 section 3.2.1).
///
/// Every field is optional at the object level; the AS MUST send `id` and
/// `ms` ([`OscoreInputMaterial::check_usable`] enforces that on receipt).
/// Parameters this crate does not know stay in `rest`, in wire order, and are
/// encoded again after the known ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OscoreInputMaterial {
    /// `id` (0): identifier of this Input Material, unique at the AS; used as
    /// `kid` when updating access rights.
    pub id: Option<Vec<u8>>,
    /// `version` (1): OSCORE version (default 1).
    pub version: Option<u64>,
    /// `ms` (2): the OSCORE Master Secret (the PoP key).
    pub ms: Option<Vec<u8>>,
    /// `hkdf` (3): the HKDF, named by its HMAC algorithm (default 5, HKDF
    /// SHA-256).
    pub hkdf: Option<IntOrText>,
    /// `alg` (4): the AEAD algorithm (default 10, AES-CCM-16-64-128).
    pub alg: Option<IntOrText>,
    /// `salt` (5): input to the Master Salt (see [`master_salt`]).
    pub salt: Option<Vec<u8>>,
    /// `contextId` (6): the OSCORE ID Context.
    pub context_id: Option<Vec<u8>>,
    /// Parameters not defined by RFC 9203, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl OscoreInputMaterial {
    /// Removes the RFC 9203 labels 0-6 from `map`, leaving other entries (for
    /// example the Group_OSCORE_Input_Material labels of the Group OSCORE
    /// profile) for the caller.
    pub fn take_from(map: &mut MapReader) -> Result<Self, DecodeError> {
        Ok(Self {
            id: map.opt_bytes(label::ID, "OSCORE_Input_Material id")?,
            version: map.opt_uint(label::VERSION, "OSCORE_Input_Material version")?,
            ms: map.opt_bytes(label::MS, "OSCORE_Input_Material ms")?,
            hkdf: map
                .take(label::HKDF)
                .map(|v| IntOrText::from_value(v, "OSCORE_Input_Material hkdf"))
                .transpose()?,
            alg: map
                .take(label::ALG)
                .map(|v| IntOrText::from_value(v, "OSCORE_Input_Material alg"))
                .transpose()?,
            salt: map.opt_bytes(label::SALT, "OSCORE_Input_Material salt")?,
            context_id: map.opt_bytes(label::CONTEXT_ID, "OSCORE_Input_Material contextId")?,
            rest: Vec::new(),
        })
    }

    /// Refuses an object a client or RS cannot derive a context from: `id` or
    /// `ms` missing (RFC 9203 section 3.2.1: the AS MUST send both), or a
    /// parameter this implementation does not recognise (RFC 9203 section
    /// 4.1: the RS answers 4.00 to unrecognised `osc` parameters).
    pub fn check_usable(&self) -> Result<(), DecodeError> {
        if self.id.is_none() {
            return Err(DecodeError::missing(CONTEXT, "id"));
        }
        if self.ms.as_ref().is_none_or(|ms| ms.is_empty()) {
            return Err(DecodeError::missing(CONTEXT, "ms"));
        }
        if let Some((key, _)) = self.rest.first() {
            return Err(DecodeError::invalid(
                CONTEXT,
                format!("unrecognized parameter {key:?}"),
            ));
        }
        Ok(())
    }

    /// The OSCORE version, or the default 1.
    pub fn version_or_default(&self) -> u64 {
        self.version.unwrap_or(label::DEFAULT_VERSION)
    }

    /// The HKDF, or the default HKDF SHA-256 (5).
    pub fn hkdf_or_default(&self) -> IntOrText {
        self.hkdf
            .clone()
            .unwrap_or(IntOrText::Int(label::DEFAULT_HKDF))
    }

    /// The AEAD algorithm, or the default AES-CCM-16-64-128 (10).
    pub fn alg_or_default(&self) -> IntOrText {
        self.alg
            .clone()
            .unwrap_or(IntOrText::Int(label::DEFAULT_ALG))
    }
}

impl Codec for OscoreInputMaterial {
    fn to_value(&self) -> Value {
        let mut map = MapBuilder::new()
            .opt_bytes(label::ID, self.id.as_deref())
            .opt(label::VERSION, self.version)
            .opt_bytes(label::MS, self.ms.as_deref())
            .opt(label::HKDF, self.hkdf.as_ref().map(IntOrText::to_value))
            .opt(label::ALG, self.alg.as_ref().map(IntOrText::to_value))
            .opt_bytes(label::SALT, self.salt.as_deref())
            .opt_bytes(label::CONTEXT_ID, self.context_id.as_deref());
        for (key, value) in &self.rest {
            map = map.raw(key.to_value(), value.clone());
        }
        map.build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, CONTEXT)?;
        let mut material = Self::take_from(&mut map)?;
        material.rest = map.into_rest();
        Ok(material)
    }
}

/// The OSCORE Master Salt of RFC 9203 section 4.3:
/// `bstr(salt) | bstr(nonce1) | bstr(nonce2)`, each part a CBOR-encoded byte
/// string (head included), concatenated.
///
/// When the Input Material carries no `salt`, pass `None`: the first term is
/// then omitted, the reading of RFC 9203 section 4.3 this implementation
/// follows ("salt ... if present"). Some peers encode an absent salt as the
/// empty byte string `0x40` instead; pass `Some(&[])` to interoperate with
/// them. An AS that always sends a `salt` avoids the ambiguity.
pub fn master_salt(salt: Option<&[u8]>, nonce1: &[u8], nonce2: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(salt.map_or(0, |s| s.len() + 3) + nonce1.len() + nonce2.len() + 6);
    if let Some(salt) = salt {
        out.extend_from_slice(&cbor::bstr(salt));
    }
    out.extend_from_slice(&cbor::bstr(nonce1));
    out.extend_from_slice(&cbor::bstr(nonce2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9203_example_object() {
        // {0: h'01', 2: h'f9af838368e353e78888e1426bd94e6f'}
        let material = OscoreInputMaterial {
            id: Some(vec![0x01]),
            ms: Some(hex::decode("f9af838368e353e78888e1426bd94e6f").unwrap()),
            ..Default::default()
        };
        let bytes = material.encode();
        assert_eq!(
            hex::encode(&bytes),
            "a20041010250f9af838368e353e78888e1426bd94e6f"
        );
        assert_eq!(OscoreInputMaterial::decode(&bytes).unwrap(), material);
        assert_eq!(material.check_usable(), Ok(()));
        assert_eq!(material.alg_or_default(), IntOrText::Int(10));
        assert_eq!(material.hkdf_or_default(), IntOrText::Int(5));
        assert_eq!(material.version_or_default(), 1);
    }

    #[test]
    fn unusable_objects_are_refused() {
        let no_ms = OscoreInputMaterial {
            id: Some(vec![1]),
            ..Default::default()
        };
        assert!(no_ms.check_usable().is_err());
        let mut unknown = OscoreInputMaterial {
            id: Some(vec![1]),
            ms: Some(vec![2; 16]),
            ..Default::default()
        };
        unknown.rest.push((IntOrText::Int(99), Value::Null));
        assert!(unknown.check_usable().is_err());
        // Wrong types are decode errors.
        assert!(OscoreInputMaterial::decode(&[0xa1, 0x00, 0x01]).is_err());
        assert!(OscoreInputMaterial::decode(&[0xa1, 0x01, 0x20]).is_err());
    }

    #[test]
    fn master_salt_absent_and_empty_salt() {
        let n1 = [1u8; 8];
        let n2 = [2u8; 8];
        assert_eq!(master_salt(None, &n1, &n2).len(), 18);
        assert_eq!(master_salt(Some(&[]), &n1, &n2)[0], 0x40);
        assert_eq!(master_salt(Some(&[]), &n1, &n2).len(), 19);
    }
}
