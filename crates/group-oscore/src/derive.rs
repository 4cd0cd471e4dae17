//! Key and IV derivation (RFC 8613 section 3.2.1) and its Group OSCORE
//! extensions: the Signature Encryption Key (RFC 10021 section 2.1.9) and
//! the countersignature keystream (RFC 10021 section 4.2).

use crate::algorithm::Hkdf;
use crate::cbor;
use zeroize::Zeroizing;

/// The `type` of an RFC 8613 `info` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoType {
    /// `"Key"`: a Sender, Recipient or Pairwise key.
    Key,
    /// `"IV"`: the Common IV.
    Iv,
    /// `"SEKey"`: the Group OSCORE Signature Encryption Key.
    SeKey,
}

impl InfoType {
    fn label(self) -> &'static str {
        match self {
            Self::Key => "Key",
            Self::Iv => "IV",
            Self::SeKey => "SEKey",
        }
    }
}

/// The serialized `info` array of RFC 8613 section 3.2.1:
///
/// ```cddl
/// info = [ id : bstr, id_context : bstr / nil, alg_aead : int / tstr,
///          type : tstr, L : uint ]
/// ```
pub fn info(id: &[u8], id_context: Option<&[u8]>, alg: i64, kind: InfoType, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + id.len() + id_context.map_or(0, <[u8]>::len));
    cbor::array(&mut out, 5);
    cbor::bytes(&mut out, id);
    cbor::opt_bytes(&mut out, id_context);
    cbor::int(&mut out, alg);
    cbor::text(&mut out, kind.label());
    cbor::uint(&mut out, len as u64);
    out
}

/// `HKDF(salt, IKM, info, L)` of RFC 8613 section 3.2.1, for an `info`
/// built with [`info`].
pub fn derive(hkdf: Hkdf, salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    hkdf.derive(salt, ikm, info, &mut out);
    out
}

/// The serialized keystream `info` of RFC 10021 section 4.2:
///
/// ```cddl
/// info = [ id : bstr, id_context : bstr, type : bool, L : uint ]
/// ```
pub fn keystream_info(id: &[u8], id_context: &[u8], is_request: bool, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + id.len() + id_context.len());
    cbor::array(&mut out, 4);
    cbor::bytes(&mut out, id);
    cbor::bytes(&mut out, id_context);
    cbor::boolean(&mut out, is_request);
    cbor::uint(&mut out, len as u64);
    out
}

/// `KEYSTREAM = HKDF(salt = Partial IV, IKM = Signature Encryption Key,
/// info, L)` (RFC 10021 section 4.2), where `piv_generator_id` is the Sender
/// ID of the endpoint that generated the Partial IV and `gid` the ID Context
/// used to protect the message.
pub fn keystream(
    hkdf: Hkdf,
    partial_iv: &[u8],
    signature_encryption_key: &[u8],
    piv_generator_id: &[u8],
    gid: &[u8],
    is_request: bool,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let info = keystream_info(piv_generator_id, gid, is_request, len);
    let mut out = Zeroizing::new(vec![0u8; len]);
    hkdf.derive(partial_iv, signature_encryption_key, &info, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8613_c1_info_encodings() {
        // RFC 8613 Appendix C.1.1.
        assert_eq!(
            hex::encode(info(b"", None, 10, InfoType::Key, 16)),
            "8540f60a634b657910"
        );
        assert_eq!(
            hex::encode(info(&[1], None, 10, InfoType::Key, 16)),
            "854101f60a634b657910"
        );
        assert_eq!(
            hex::encode(info(b"", None, 10, InfoType::Iv, 13)),
            "8540f60a6249560d"
        );
    }
}
