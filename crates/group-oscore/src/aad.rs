//! The external additional authenticated data and the AEAD input built from
//! it: `aad_array` of RFC 8613 section 5.4, its Group OSCORE extension of
//! RFC 10021 section 3.4, and `Enc_structure` (RFC 9052 section 5.3).
//!
//! ```cddl
//! aad_array = [
//!    oscore_version : uint,
//!    algorithms : [ alg_aead : int / tstr / null,
//!                   ; Group OSCORE only:
//!                   alg_group_enc, alg_signature, alg_pairwise_key_agreement ],
//!    request_kid : bstr,
//!    request_piv : bstr,
//!    options : bstr,
//!    ; Group OSCORE only:
//!    request_kid_context : bstr,
//!    OSCORE_option : bstr,
//!    sender_cred : bstr,
//!    gm_cred : bstr
//! ]
//! external_aad = bstr .cbor aad_array
//! AAD = Enc_structure = [ "Encrypt0", h'', external_aad ]
//! ```

use crate::cbor;

/// The OSCORE version this crate implements (RFC 8613 section 5.4).
pub const OSCORE_VERSION: u64 = 1;

/// The algorithm identifiers of a Group OSCORE Common Context, each `None`
/// when the parameter is not set (RFC 10021 section 3.4: then `null`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GroupAlgorithms {
    /// AEAD Algorithm (used by the pairwise mode).
    pub aead: Option<i64>,
    /// Group Encryption Algorithm.
    pub group_enc: Option<i64>,
    /// Signature Algorithm.
    pub signature: Option<i64>,
    /// Pairwise Key Agreement Algorithm.
    pub key_agreement: Option<i64>,
}

/// The Group OSCORE additions to the `aad_array`.
#[derive(Debug, Clone, Copy)]
pub struct GroupAad<'a> {
    /// The four algorithm slots.
    pub algorithms: GroupAlgorithms,
    /// The 'kid context' of the request.
    pub request_kid_context: &'a [u8],
    /// The OSCORE option value of the message being protected or verified.
    pub oscore_option: &'a [u8],
    /// The sender's authentication credential, as distributed.
    pub sender_cred: &'a [u8],
    /// The Group Manager's authentication credential, as distributed.
    pub gm_cred: &'a [u8],
}

/// What the `aad_array` is built from.
#[derive(Debug, Clone, Copy)]
pub enum AadInput<'a> {
    /// Plain OSCORE (RFC 8613): the AEAD algorithm only.
    Oscore {
        /// The AEAD Algorithm identifier.
        aead: i64,
    },
    /// Group OSCORE (RFC 10021), both modes.
    Group(GroupAad<'a>),
}

/// Serializes the `aad_array`. `class_i_options` is the encoding of the
/// Class I options (none are defined, so this is always empty today).
pub fn aad_array(
    input: &AadInput<'_>,
    request_kid: &[u8],
    request_piv: &[u8],
    class_i_options: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(match input {
        AadInput::Oscore { .. } => 16 + request_kid.len() + request_piv.len(),
        AadInput::Group(g) => {
            40 + request_kid.len()
                + request_piv.len()
                + g.request_kid_context.len()
                + g.oscore_option.len()
                + g.sender_cred.len()
                + g.gm_cred.len()
        }
    });
    match input {
        AadInput::Oscore { aead } => {
            cbor::array(&mut out, 5);
            cbor::uint(&mut out, OSCORE_VERSION);
            cbor::array(&mut out, 1);
            cbor::int(&mut out, *aead);
        }
        AadInput::Group(g) => {
            cbor::array(&mut out, 9);
            cbor::uint(&mut out, OSCORE_VERSION);
            cbor::array(&mut out, 4);
            cbor::opt_int(&mut out, g.algorithms.aead);
            cbor::opt_int(&mut out, g.algorithms.group_enc);
            cbor::opt_int(&mut out, g.algorithms.signature);
            cbor::opt_int(&mut out, g.algorithms.key_agreement);
        }
    }
    cbor::bytes(&mut out, request_kid);
    cbor::bytes(&mut out, request_piv);
    cbor::bytes(&mut out, class_i_options);
    if let AadInput::Group(g) = input {
        cbor::bytes(&mut out, g.request_kid_context);
        cbor::bytes(&mut out, g.oscore_option);
        cbor::bytes(&mut out, g.sender_cred);
        cbor::bytes(&mut out, g.gm_cred);
    }
    out
}

/// `external_aad = bstr .cbor aad_array`.
pub fn external_aad(aad_array: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(aad_array.len() + 3);
    cbor::bytes(&mut out, aad_array);
    out
}

/// `Enc_structure = [ "Encrypt0", h'', external_aad ]` serialized, for an
/// `aad_array` (RFC 9052 section 5.3; the protected bucket is empty in
/// OSCORE, RFC 8613 section 5).
pub fn enc_structure(aad_array: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(aad_array.len() + 16);
    cbor::array(&mut out, 3);
    cbor::text(&mut out, "Encrypt0");
    cbor::bytes(&mut out, b"");
    cbor::bytes(&mut out, aad_array);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8613_section_5_4_example() {
        let array = aad_array(&AadInput::Oscore { aead: 10 }, &[0], &[0x25], b"");
        assert_eq!(hex::encode(&array), "8501810a4100412540");
        assert_eq!(hex::encode(external_aad(&array)), "498501810a4100412540");
        assert_eq!(
            hex::encode(enc_structure(&array)),
            "8368456e63727970743040498501810a4100412540"
        );
    }

    #[test]
    fn group_algorithms_use_null_for_unset_parameters() {
        let g = GroupAad {
            algorithms: GroupAlgorithms {
                aead: None,
                group_enc: Some(10),
                signature: Some(-8),
                key_agreement: None,
            },
            request_kid_context: &[0xaa],
            oscore_option: &[0x20],
            sender_cred: b"",
            gm_cred: b"",
        };
        let array = aad_array(&AadInput::Group(g), b"", &[0], b"");
        // [1, [null, 10, -8, null], h'', h'00', h'', h'aa', h'20', h'', h'']
        assert_eq!(hex::encode(array), "890184f60a27f64041004041aa41204040");
    }
}
