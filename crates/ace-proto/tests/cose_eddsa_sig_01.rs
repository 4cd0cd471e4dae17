//! COSE WG example `eddsa-examples/eddsa-sig-01.json` (github.com/cose-wg/Examples):
//! COSE_Sign1 with EdDSA over Ed25519, reproduced byte for byte by this crate's
//! Sign1 sealing (Ed25519 is deterministic), and verified by the token
//! verifier.
//!
//! Inputs of the example: key d = RFC 8032 TEST 1 secret, x = its public key;
//! protected `{1: -8, 3: 0}`, unprotected `{4: '11'}`, payload
//! "This is the content.".

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::cwt::{self, Tagging, TokenError, TokenKey, TokenVerifier};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};

const D: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const X: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PAYLOAD: &[u8] = b"This is the content.";
/// `intermediates.ToBeSign_hex` of the example.
const TO_BE_SIGNED: &str =
    "846a5369676e61747572653145a2012703004054546869732069732074686520636f6e74656e742e";
/// `output.cbor` of the example.
const OUTPUT: &str = "d28445a201270300a10442313154546869732069732074686520636f6e74656e742e58407142fd2ff96d56db85bee905a76ba1d0b7321a95c8c4d3607c5781932b7afb8711497dfa751bf40b58b3bcc32300b1487f3db34085eef013bf08f4a44d6fef0d";

fn key() -> SigningKey {
    SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &hex::decode(D).unwrap()).unwrap()
}

fn headers() -> (coset::Header, coset::Header) {
    let protected = coset::HeaderBuilder::new()
        .content_format(coset::iana::CoapContentFormat::TextPlainUtf8)
        .build();
    let unprotected = coset::HeaderBuilder::new().key_id(b"11".to_vec()).build();
    (protected, unprotected)
}

#[test]
fn public_key_matches_the_example() {
    assert_eq!(hex::encode(key().verifying_key().coordinates().0), X);
}

#[test]
fn sign1_reproduces_the_example_byte_for_byte() {
    let (protected, unprotected) = headers();
    let out = cwt::sign1(PAYLOAD, &key(), protected, unprotected, Tagging::Cose).unwrap();
    assert_eq!(hex::encode(&out), OUTPUT);
}

#[test]
fn sig_structure_matches_the_example_intermediate() {
    let message = hex::decode(OUTPUT).unwrap();
    let value: ciborium::Value = ciborium::de::from_reader(&message[..]).unwrap();
    let ciborium::Value::Tag(18, inner) = value else {
        panic!("not a COSE_Sign1_Tagged")
    };
    let sign1 = <coset::CoseSign1 as coset::AsCborValue>::from_cbor_value(*inner).unwrap();
    assert_eq!(hex::encode(sign1.tbs_data(&[])), TO_BE_SIGNED);
    // The signature is Ed25519 over exactly those bytes.
    assert_eq!(
        key().sign(&hex::decode(TO_BE_SIGNED).unwrap()),
        sign1.signature
    );
}

#[test]
fn the_example_verifies_and_a_flipped_byte_does_not() {
    let verifier =
        TokenVerifier::without_audience().with_key(TokenKey::verifying(key().verifying_key()));
    let message = hex::decode(OUTPUT).unwrap();
    assert_eq!(verifier.verify_payload(&message).unwrap(), PAYLOAD);
    // The last signature byte.
    let mut bad = message.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert_eq!(verifier.verify_payload(&bad), Err(TokenError::BadSignature));
    // The protected header is signed: content type 0 -> 1 breaks the signature
    // (or the header no longer parses).
    let mut bad = message.clone();
    bad[7] ^= 0x01;
    assert!(matches!(
        verifier.verify_payload(&bad),
        Err(TokenError::BadSignature | TokenError::Malformed(_))
    ));
    // The unprotected kid ('11' at byte 12) is not covered by the signature
    // (RFC 9052 section 3): changing it leaves a valid message.
    let mut other_kid = message.clone();
    other_kid[12] = b'2';
    assert_eq!(verifier.verify_payload(&other_kid).unwrap(), PAYLOAD);
    // Flipping a payload byte keeps the structure valid: a signature error.
    let mut bad = message.clone();
    bad[14] ^= 0x01;
    assert_eq!(verifier.verify_payload(&bad), Err(TokenError::BadSignature));
}
