//! The group-mode countersignature (RFC 10021 sections 3.1 and 4.1): a
//! signature over the `Countersign_structure` of RFC 9338 section 3.3,
//! carried encrypted with a keystream (section 4.2).

use super::params::CountersignatureStructure;
use crate::cbor;

/// Serializes the `Countersign_structure` for a COSE_Countersignature0 over
/// the OSCORE ciphertext:
///
/// ```cddl
/// Countersign_structure = [ context : "CounterSignature0",
///                           body_protected : empty_or_serialized_map,
///                           ? sign_protected : empty_or_serialized_map,
///                           external_aad : bstr,
///                           payload : bstr ]
/// ```
///
/// `external_aad` is `bstr .cbor aad_array` (RFC 10021 section 3.4): the
/// serialized `aad_array` in a byte string, exactly as in the
/// `Enc_structure`. With
/// [`CountersignatureStructure::Rfc9338`] `sign_protected` is absent (the
/// abbreviated form of RFC 9338 section 3.3); the aiocoap compatibility
/// variant includes it empty.
pub fn countersign_structure(
    structure: CountersignatureStructure,
    aad_array: &[u8],
    ciphertext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        24 + cbor::bytes_head_len(aad_array.len())
            + aad_array.len()
            + cbor::bytes_head_len(ciphertext.len())
            + ciphertext.len(),
    );
    match structure {
        CountersignatureStructure::Rfc9338 => cbor::array(&mut out, 4),
        CountersignatureStructure::Aiocoap0_4_17 => cbor::array(&mut out, 5),
    }
    cbor::text(&mut out, "CounterSignature0");
    cbor::bytes(&mut out, b"");
    if structure == CountersignatureStructure::Aiocoap0_4_17 {
        cbor::bytes(&mut out, b"");
    }
    // external_aad = bstr .cbor aad_array: the array's bytes in a bstr.
    cbor::bytes(&mut out, aad_array);
    cbor::bytes(&mut out, ciphertext);
    out
}

/// XORs `keystream` into `signature` in place (ENC_SIGNATURE = SIGNATURE
/// XOR KEYSTREAM, and back).
pub fn xor_in_place(signature: &mut [u8], keystream: &[u8]) {
    for (s, k) in signature.iter_mut().zip(keystream) {
        *s ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::cbor::{Value, to_vec};

    #[test]
    fn matches_the_reference_encoder() {
        let aad = [0x85, 0x01, 0x02];
        let ct = [9u8; 30];
        let external_aad = aad.to_vec();
        let rfc = to_vec(&Value::Array(vec![
            Value::Text("CounterSignature0".into()),
            Value::Bytes(vec![]),
            Value::Bytes(external_aad.clone()),
            Value::Bytes(ct.to_vec()),
        ]));
        assert_eq!(
            countersign_structure(CountersignatureStructure::Rfc9338, &aad, &ct),
            rfc
        );
        let compat = to_vec(&Value::Array(vec![
            Value::Text("CounterSignature0".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![]),
            Value::Bytes(external_aad),
            Value::Bytes(ct.to_vec()),
        ]));
        assert_eq!(
            countersign_structure(CountersignatureStructure::Aiocoap0_4_17, &aad, &ct),
            compat
        );
    }
}
