//! RFC 8392 Appendix A: the example CWTs verify, MAC-verify and decrypt with
//! the example keys, their claims equal A.1, the deterministic ones are
//! reproduced byte for byte, and a flipped byte in each fails with the
//! right error. Hex copied from `shared/vectors/rfc8392-cwt.json`.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::credential::CoseKey;
use ace_proto::cwt::{
    self, Audience, ClaimsSet, MacAlgorithm, NumericDate, Tagging, TokenError, TokenKey,
    TokenVerifier,
};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};

const A1: &str = "a70175636f61703a2f2f61732e6578616d706c652e636f6d02656572696b77037818636f61703a2f2f6c696768742e6578616d706c652e636f6d041a5612aeb0051a5610d9f0061a5610d9f007420b71";
const A21_KEY: &str = "a42050231f4c4d4d3051fdc2ec0a3851d5b3830104024c53796d6d6574726963313238030a";
const A21_K: &str = "231f4c4d4d3051fdc2ec0a3851d5b383";
const A22_KEY: &str = "a4205820403697de87af64611c1d32a05dab0fe1fcb715a86ab435f1ec99192d795693880104024c53796d6d6574726963323536030a";
const A22_K: &str = "403697de87af64611c1d32a05dab0fe1fcb715a86ab435f1ec99192d79569388";
const A23_KEY: &str = "a72358206c1382765aec5358f117733d281c1c7bdc39884d04a45a1e6c67c858bc206c1922582060f7f1a780d8a783bfb7a2dd6b2796e8128dbbcef9d3d168db9529971a36e7b9215820143329cce7868e416927599cf65a34f3ce2ffda55a7eca69ed8919a394d42f0f2001010202524173796d6d657472696345434453413235360326";
const A23_X: &str = "143329cce7868e416927599cf65a34f3ce2ffda55a7eca69ed8919a394d42f0f";
const A23_Y: &str = "60f7f1a780d8a783bfb7a2dd6b2796e8128dbbcef9d3d168db9529971a36e7b9";
const A23_D: &str = "6c1382765aec5358f117733d281c1c7bdc39884d04a45a1e6c67c858bc206c19";
const A3: &str = "d28443a10126a104524173796d6d657472696345434453413235365850a70175636f61703a2f2f61732e6578616d706c652e636f6d02656572696b77037818636f61703a2f2f6c696768742e6578616d706c652e636f6d041a5612aeb0051a5610d9f0061a5610d9f007420b7158405427c1ff28d23fbad1f29c4c7c6a555e601d6fa29f9179bc3d7438bacaca5acd08c8d4d4f96131680c429a01f85951ecee743a52b9b63632c57209120e1c9e30";
const A4: &str = "d83dd18443a10104a1044c53796d6d65747269633235365850a70175636f61703a2f2f61732e6578616d706c652e636f6d02656572696b77037818636f61703a2f2f6c696768742e6578616d706c652e636f6d041a5612aeb0051a5610d9f0061a5610d9f007420b7148093101ef6d789200";
const A5: &str = "d08343a1010aa2044c53796d6d6574726963313238054d99a0d7846e762c49ffe8a63e0b5858b918a11fd81e438b7f973d9e2e119bcb22424ba0f38a80f27562f400ee1d0d6c0fdb559c02421fd384fc2ebe22d7071378b0ea7428fff157444d45f7e6afcda1aae5f6495830c58627087fc5b4974f319a8707a635dd643b";
const A5_IV: &str = "99a0d7846e762c49ffe8a63e0b";
const A6: &str = "d08343a1010aa2044c53796d6d6574726963313238054d4a0694c0e69ee6b5956655c7b258b7f6b0914f993de822cc47e5e57a188d7960b528a747446fe12f0e7de05650dec74724366763f167a29c002dfd15b34d8993391cf49bc91127f545dba8703d66f5b7f1ae91237503d371e6333df9708d78c4fb8a8386c8ff09dc49af768b23179deab78d96490a66d5724fb33900c60799d9872fac6da3bdb89043d67c2a05414ce331b5b8f1ed8ff7138f45905db2c4d5bc8045ab372bff142631610a7e0f677b7e9b0bc73adefdcee16d9d5d284c616abeab5d8c291ce0";
const A6_IV: &str = "4a0694c0e69ee6b5956655c7b2";
const A7: &str =
    "d18443a10104a1044c53796d6d65747269633235364ba106fb41d584367c20000048b8816f34c0542892";

const AUDIENCE: &str = "coap://light.example.com";
/// A time inside the A.1 validity window (nbf = iat = 1443944944, exp = 1444064944).
const NOW: u64 = 1_443_944_944 + 60;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn k16(s: &str) -> [u8; 16] {
    h(s).try_into().unwrap()
}

fn a1_claims() -> ClaimsSet {
    ClaimsSet {
        iss: Some("coap://as.example.com".into()),
        sub: Some("erikw".into()),
        aud: Some(Audience::Single(AUDIENCE.into())),
        exp: Some(NumericDate::Integer(1_444_064_944)),
        nbf: Some(NumericDate::Integer(1_443_944_944)),
        iat: Some(NumericDate::Integer(1_443_944_944)),
        cti: Some(vec![0x0b, 0x71]),
        ..ClaimsSet::default()
    }
}

fn es256_public() -> VerifyingKey {
    VerifyingKey::p256(&h(A23_X), &h(A23_Y)).unwrap()
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

#[test]
fn a1_claims_set_built_decoded_and_reencoded_byte_exact() {
    assert_eq!(hex::encode(a1_claims().encode()), A1);
    let decoded = ClaimsSet::decode(&h(A1)).unwrap();
    assert_eq!(decoded, a1_claims());
    assert_eq!(hex::encode(decoded.encode()), A1);
}

#[test]
fn a2_keys_decode_as_cose_keys_and_reencode_in_wire_order() {
    let a21 = CoseKey::decode(&h(A21_KEY)).unwrap();
    assert_eq!(a21.symmetric_key(), Some(&h(A21_K)[..]));
    assert_eq!(a21.kid(), Some(&b"Symmetric128"[..]));
    assert_eq!(hex::encode(a21.encode()), A21_KEY);
    let a22 = CoseKey::decode(&h(A22_KEY)).unwrap();
    assert_eq!(a22.symmetric_key(), Some(&h(A22_K)[..]));
    // A.2.3 is a private key: it decodes as a COSE_Key but is refused as a
    // public key (credentials never carry d).
    let a23 = CoseKey::decode(&h(A23_KEY)).unwrap();
    assert_eq!(hex::encode(a23.encode()), A23_KEY);
    assert!(a23.public_key().is_err());
    let from_d = SigningKey::from_bytes(SignatureAlgorithm::Es256, &h(A23_D)).unwrap();
    assert_eq!(from_d.verifying_key(), es256_public());
}

#[test]
fn a3_sign1_es256_verifies_and_claims_equal_a1() {
    let verifier = TokenVerifier::new(AUDIENCE).with_key(TokenKey::verifying(es256_public()));
    let token = verifier.open(&h(A3), NOW).unwrap();
    assert_eq!(token.claims(), &a1_claims());
    assert_eq!(token.kid(), Some(&b"AsymmetricECDSA256"[..]));
}

#[test]
fn a3_flipped_bytes_fail_signature_verification() {
    let verifier = TokenVerifier::new(AUDIENCE).with_key(TokenKey::verifying(es256_public()));
    let a3 = h(A3);
    // Last byte of the signature, and a byte inside the payload (the `sub`).
    for at in [a3.len() - 1, a3.len() - 64 - 50] {
        assert_eq!(
            verifier.open(&flip(&a3, at), NOW).unwrap_err(),
            TokenError::BadSignature,
            "byte {at}"
        );
    }
    assert_eq!(TokenError::BadSignature.code(), Code::UNAUTHORIZED);
}

#[test]
fn a4_mac0_verifies_with_and_without_the_cwt_tag() {
    let verifier = TokenVerifier::new(AUDIENCE).with_key(TokenKey::mac(&h(A22_K)));
    let a4 = h(A4);
    assert_eq!(verifier.open(&a4, NOW).unwrap().claims(), &a1_claims());
    // Without the leading d83d: still a COSE_Mac0_Tagged CWT.
    assert_eq!(verifier.open(&a4[2..], NOW).unwrap().claims(), &a1_claims());
    assert_eq!(
        verifier.open(&flip(&a4, a4.len() - 1), NOW).unwrap_err(),
        TokenError::BadMac
    );
    assert_eq!(
        verifier.open(&flip(&a4, 30), NOW).unwrap_err(),
        TokenError::BadMac
    );
}

#[test]
fn a4_is_reproduced_by_sealing_a1() {
    let sealed = a1_claims()
        .seal_mac0(
            &h(A22_K),
            MacAlgorithm::Hmac256_64,
            Some(b"Symmetric256"),
            Tagging::Cwt,
        )
        .unwrap();
    assert_eq!(hex::encode(sealed), A4);
}

#[test]
fn a5_encrypt0_decrypts_to_a1() {
    let verifier = TokenVerifier::new(AUDIENCE).with_key(TokenKey::aes_ccm_16_64_128(&k16(A21_K)));
    let a5 = h(A5);
    assert_eq!(verifier.verify_payload(&a5).unwrap(), h(A1));
    assert_eq!(verifier.open(&a5, NOW).unwrap().claims(), &a1_claims());
    assert_eq!(
        verifier.open(&flip(&a5, a5.len() - 20), NOW).unwrap_err(),
        TokenError::DecryptionFailed
    );
    // The wrong key (the first half of A.2.2) does not decrypt either.
    let wrong = TokenVerifier::new(AUDIENCE).with_key(TokenKey::aes_ccm_16_64_128(
        &h(A22_K)[..16].try_into().unwrap(),
    ));
    assert_eq!(
        wrong.open(&a5, NOW).unwrap_err(),
        TokenError::DecryptionFailed
    );
}

#[test]
fn a5_is_reproduced_by_sealing_a1() {
    let sealed = a1_claims()
        .seal_encrypt0_with_iv(
            &k16(A21_K),
            &h(A5_IV).try_into().unwrap(),
            Some(b"Symmetric128"),
            Tagging::Cose,
        )
        .unwrap();
    assert_eq!(hex::encode(sealed), A5);
}

#[test]
fn a6_nested_sign1_in_encrypt0() {
    let both = TokenVerifier::new(AUDIENCE)
        .with_key(TokenKey::aes_ccm_16_64_128(&k16(A21_K)))
        .with_key(TokenKey::verifying(es256_public()));
    let token = both.open(&h(A6), NOW).unwrap();
    assert_eq!(token.claims(), &a1_claims());
    assert_eq!(token.kid(), Some(&b"Symmetric128"[..]), "outer layer kid");
    // Without the signature key the inner layer has no trusted key.
    let outer_only =
        TokenVerifier::new(AUDIENCE).with_key(TokenKey::aes_ccm_16_64_128(&k16(A21_K)));
    assert_eq!(
        outer_only.open(&h(A6), NOW).unwrap_err(),
        TokenError::UnknownKey
    );
    // The plaintext is exactly A.3: encrypting A.3 again reproduces A.6.
    let resealed = cwt::encrypt0(
        &h(A3),
        &k16(A21_K),
        &h(A6_IV).try_into().unwrap(),
        coset::HeaderBuilder::new()
            .key_id(b"Symmetric128".to_vec())
            .build(),
        Tagging::Cose,
    )
    .unwrap();
    assert_eq!(hex::encode(resealed), A6);
}

#[test]
fn a7_float_iat_is_a_numeric_date() {
    let verifier = TokenVerifier::without_audience().with_key(TokenKey::mac(&h(A22_K)));
    let payload = verifier.verify_payload(&h(A7)).unwrap();
    let claims = ClaimsSet::decode(&payload).unwrap();
    assert_eq!(claims.iat, Some(NumericDate::Float(1_443_944_944.5)));
    assert_eq!(claims.encode(), payload, "float64 re-encoded as float64");
    assert!(verifier.open(&h(A7), NOW).is_ok());
    let a7 = h(A7);
    assert_eq!(
        verifier.open(&flip(&a7, a7.len() - 1), NOW).unwrap_err(),
        TokenError::BadMac
    );
}

#[test]
fn time_and_audience_checks_on_a3() {
    let verifier = TokenVerifier::new(AUDIENCE).with_key(TokenKey::verifying(es256_public()));
    let a3 = h(A3);
    let expired = verifier.open(&a3, 1_444_064_944).unwrap_err();
    assert!(matches!(expired, TokenError::Expired { .. }));
    assert_eq!(expired.code(), Code::UNAUTHORIZED);
    let early = verifier.open(&a3, 1_443_944_943).unwrap_err();
    assert!(matches!(early, TokenError::NotYetValid { .. }));
    assert_eq!(early.code(), Code::UNAUTHORIZED);
    let other = TokenVerifier::new("coap://other.example.com")
        .with_key(TokenKey::verifying(es256_public()));
    let wrong_aud = other.open(&a3, NOW).unwrap_err();
    assert_eq!(wrong_aud, TokenError::WrongAudience);
    assert_eq!(wrong_aud.code(), Code::FORBIDDEN);
    // The trusted issuer passes, another one is refused.
    assert!(
        verifier
            .clone()
            .with_issuer("coap://as.example.com")
            .open(&a3, NOW)
            .is_ok()
    );
    assert!(matches!(
        verifier
            .with_issuer("coap://evil.example.com")
            .open(&a3, NOW),
        Err(TokenError::WrongIssuer(_))
    ));
}

#[test]
fn wrong_key_types_and_garbage() {
    let mac_only = TokenVerifier::new(AUDIENCE).with_key(TokenKey::mac(&h(A22_K)));
    assert_eq!(
        mac_only.open(&h(A3), NOW).unwrap_err(),
        TokenError::UnknownKey
    );
    let err = mac_only.open(&[0xff, 0x00], NOW).unwrap_err();
    assert!(matches!(err, TokenError::Malformed(_)));
    assert_eq!(err.code(), Code::BAD_REQUEST);
    // A claims set is not a token.
    assert!(matches!(
        mac_only.open(&h(A1), NOW),
        Err(TokenError::Malformed(_))
    ));
}
