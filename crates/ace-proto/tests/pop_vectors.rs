//! Proof-of-possession evidence (RFC 9594 section 4.3.1; Group OSCORE
//! profile section 6.1): signature round trips with Ed25519 and ES256,
//! forged and misplaced evidence refused, and the 8-byte HKDF MAC of
//! pairwise-only groups against independently computed values.
//!
//! The MAC known-answer values were computed with Python's `hmac`/`hashlib`
//! (HKDF written out: PRK = HMAC(h'', IKM), T1 = HMAC(PRK, info | 0x01)) over
//! shared secrets from RFC 7748 section 6.1 (X25519) and from `cryptography`
//! (P-256), with the PoP inputs of RFC 9594 Figures 10 and 11.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::groupcomm::{CredUpdateRequest, JoinRequest, KdcCred};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::pop::{
    self, DhCurve, DhPrivateKey, DhPublicKey, PopCheck, PopError, PopMethod, PopProver,
};
use ace_proto::problem::ProblemDetails;
use ace_proto::{Code, DecodeError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// RFC 9594 Figure 10 PoP input.
fn figure_10_input() -> Vec<u8> {
    pop::client_pop_input(
        &h("826667726f7570316673656e646572"),
        &h("018a278f7faab55a"),
        &h("25a8991cd700ac01"),
    )
}

/// RFC 9594 Figure 11 PoP input.
fn figure_11_input() -> Vec<u8> {
    pop::kdc_pop_input(&h("25a8991cd700ac01"), &h("cef04b2aa791bc6d"))
}

#[test]
fn signature_round_trip_and_forgeries_for_both_algorithms() {
    for alg in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
        let key = SigningKey::generate(alg);
        let public = key.verifying_key();
        let input = figure_10_input();
        let evidence = pop::sign(&key, &input);
        let proof = pop::verify_signature(&public, &input, &evidence).unwrap();
        assert_eq!(proof.method(), PopMethod::Signature);

        // Any flipped bit of the signature.
        for i in [0, 31, 32, 63] {
            let mut forged = evidence.clone();
            forged[i] ^= 0x01;
            assert_eq!(
                pop::verify_signature(&public, &input, &forged),
                Err(PopError::BadSignature),
                "{alg:?} byte {i}"
            );
        }
        // A signature over an older challenge N_S does not prove this one.
        let stale = pop::client_pop_input(
            &h("826667726f7570316673656e646572"),
            &h("0000000000000000"),
            &h("25a8991cd700ac01"),
        );
        let replayed = pop::sign(&key, &stale);
        assert_eq!(
            pop::verify_signature(&public, &input, &replayed),
            Err(PopError::BadSignature)
        );
        // Somebody else's key.
        let other = SigningKey::generate(alg);
        assert_eq!(
            pop::verify_signature(&public, &input, &pop::sign(&other, &input)),
            Err(PopError::BadSignature)
        );
        // Truncated or empty evidence.
        assert!(matches!(
            pop::verify_signature(&public, &input, &evidence[..63]),
            Err(PopError::WrongLength { want: 64, got: 63 })
        ));
        assert!(pop::verify_signature(&public, &input, &[]).is_err());
    }
}

#[test]
fn evidence_of_one_algorithm_does_not_verify_with_the_other() {
    let ed = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let es = SigningKey::generate(SignatureAlgorithm::Es256);
    let input = figure_11_input();
    assert!(pop::verify_signature(&es.verifying_key(), &input, &pop::sign(&ed, &input)).is_err());
    assert!(pop::verify_signature(&ed.verifying_key(), &input, &pop::sign(&es, &input)).is_err());
}

#[test]
fn refused_pop_becomes_4_00_with_error_id_3() {
    let err: DecodeError = PopError::BadSignature.into();
    assert_eq!(err.code(), Code::BAD_REQUEST);
    assert_eq!(err.error_id(), Some(3));
    let body = ProblemDetails::from_decode_error(&err).unwrap();
    assert_eq!(
        body.title.as_deref(),
        Some("Invalid proof-of-possession evidence")
    );
    assert_eq!(ProblemDetails::decode(&body.encode()).unwrap(), body);
}

#[test]
fn x25519_mac_known_answers() {
    // RFC 7748 section 6.1: Alice and Bob.
    let alice = DhPrivateKey::from_bytes(
        DhCurve::X25519,
        &h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    )
    .unwrap();
    let bob = DhPrivateKey::from_bytes(
        DhCurve::X25519,
        &h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
    )
    .unwrap();
    let alice_pub = DhPublicKey::x25519(&h(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    ))
    .unwrap();
    let bob_pub = DhPublicKey::x25519(&h(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    ))
    .unwrap();
    assert_eq!(alice.public_key(), alice_pub);
    assert_eq!(bob.public_key(), bob_pub);
    let shared = alice.agree(&bob_pub).unwrap();
    assert_eq!(
        hex::encode(shared.as_bytes()),
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    );

    // Client (Alice) proves over Figure 10; the Group Manager (Bob) checks.
    let mac = pop::mac(&alice, &bob_pub, &figure_10_input()).unwrap();
    assert_eq!(hex::encode(mac), "40682df6a5be37b8");
    let proof = pop::verify_mac(&bob, &alice_pub, &figure_10_input(), &mac).unwrap();
    assert_eq!(proof.method(), PopMethod::Mac);

    // The Group Manager proves over Figure 11 with the same pair of keys.
    let mac = pop::mac(&bob, &alice_pub, &figure_11_input()).unwrap();
    assert_eq!(hex::encode(mac), "09bc83d4fa993437");
    assert!(pop::verify_mac(&alice, &bob_pub, &figure_11_input(), &mac).is_ok());

    // Tampered, truncated, or for another input: refused.
    let mut bad = mac;
    bad[7] ^= 0x80;
    assert_eq!(
        pop::verify_mac(&alice, &bob_pub, &figure_11_input(), &bad),
        Err(PopError::BadMac)
    );
    assert!(matches!(
        pop::verify_mac(&alice, &bob_pub, &figure_11_input(), &mac[..7]),
        Err(PopError::WrongLength { want: 8, got: 7 })
    ));
    assert_eq!(
        pop::verify_mac(&alice, &bob_pub, &figure_10_input(), &mac),
        Err(PopError::BadMac)
    );
}

#[test]
fn p256_mac_known_answer() {
    let client = DhPrivateKey::from_bytes(
        DhCurve::P256,
        &h("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"),
    )
    .unwrap();
    let kdc = DhPrivateKey::from_bytes(
        DhCurve::P256,
        &h("0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"),
    )
    .unwrap();
    let kdc_pub = DhPublicKey::p256(
        &h("e64149f2fa55570049bd424a0d71e7463350aa2eb489a254b79b49f03b42b543"),
        &h("2ea4ef9ab6313e9471552cde23d16849e4103c907a1fb680d8c183930cec6cfd"),
    )
    .unwrap();
    assert_eq!(kdc.public_key(), kdc_pub);
    assert_eq!(
        hex::encode(client.agree(&kdc_pub).unwrap().as_bytes()),
        "21b80d76bbf6ccabed792616dce8bdcd22615598dd3febfafd34e378f7589e24"
    );
    let mac = pop::mac(&kdc, &client.public_key(), &figure_11_input()).unwrap();
    assert_eq!(hex::encode(mac), "479066971faf7f75");
    assert!(pop::verify_mac(&client, &kdc_pub, &figure_11_input(), &mac).is_ok());
    // A point off the curve is refused when read.
    assert!(DhPublicKey::p256(&[1; 32], &[2; 32]).is_err());
}

#[test]
fn signature_keys_in_diffie_hellman_form() {
    // RFC 8032 section 7.1 TEST 1 key: its X25519 form, computed
    // independently (u = (1 + y) / (1 - y) mod p from the Edwards y).
    let seed = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let ed = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &seed).unwrap();
    let dh = DhPrivateKey::from_signing_key(&ed);
    let expected = DhPublicKey::x25519(&h(
        "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e",
    ))
    .unwrap();
    assert_eq!(dh.public_key(), expected);
    assert_eq!(
        DhPublicKey::from_verifying_key(&ed.verifying_key()).unwrap(),
        expected
    );

    // Both sides derive the same MAC from signature credentials.
    for alg in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
        let client = SigningKey::generate(alg);
        let kdc = SigningKey::generate(alg);
        let client_dh = DhPrivateKey::from_signing_key(&client);
        let kdc_dh = DhPrivateKey::from_signing_key(&kdc);
        let kdc_pub = DhPublicKey::from_verifying_key(&kdc.verifying_key()).unwrap();
        let client_pub = DhPublicKey::from_verifying_key(&client.verifying_key()).unwrap();
        assert_eq!(client_dh.public_key(), client_pub, "{alg:?}");
        let prover = PopProver::Mac {
            own: &client_dh,
            peer: &kdc_pub,
        };
        let evidence = prover.prove(&figure_10_input()).unwrap();
        assert_eq!(evidence.len(), pop::MAC_LEN);
        let check = PopCheck::Mac {
            own: &kdc_dh,
            peer: &client_pub,
        };
        assert!(check.verify(&figure_10_input(), &evidence).is_ok());
    }
}

#[test]
fn refused_key_agreements() {
    let x = DhPrivateKey::generate(DhCurve::X25519);
    let p = DhPrivateKey::generate(DhCurve::P256);
    assert_eq!(
        pop::mac(&x, &p.public_key(), b"input").unwrap_err(),
        PopError::CurveMismatch
    );
    // A small-order X25519 point (order 8, from RFC 7748's list of points
    // to refuse): the result is all zeros.
    let small = DhPublicKey::x25519(&h(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    ))
    .unwrap();
    assert_eq!(
        pop::mac(&x, &small, b"input").unwrap_err(),
        PopError::NonContributory
    );
}

#[test]
fn join_flow_client_signs_kdc_verifies_and_back() {
    for alg in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
        let client = SigningKey::generate(alg);
        let kdc = SigningKey::generate(alg);
        let n_s = ace_proto::keys::random_bytes(8);

        // Client: join with PoP over scope | N_S | N_C.
        let mut join = JoinRequest {
            scope: Some(h("826667726f757031826673656e646572687265636569766572")),
            get_creds: None,
            client_cred: Some(vec![0xa0]),
            cnonce: ace_proto::keys::random_bytes(8),
            client_cred_verify: None,
            creds_repo: None,
            control_uri: None,
        };
        let input = join.pop_input(&n_s, None).unwrap();
        join.client_cred_verify = Some(PopProver::Signature(&client).prove(&input).unwrap());
        let received = JoinRequest::decode(&join.encode()).unwrap();

        // KDC: the PoP verifies only with the N_S it issued.
        let evidence = received.client_cred_verify.as_deref().unwrap();
        let public = client.verifying_key();
        let check = PopCheck::Signature(&public);
        assert!(
            check
                .verify(&received.pop_input(&n_s, None).unwrap(), evidence)
                .is_ok()
        );
        let other_n_s = ace_proto::keys::random_bytes(8);
        assert!(
            check
                .verify(&received.pop_input(&other_n_s, None).unwrap(), evidence)
                .is_err()
        );
        // The same through the request's own check, as the KDC runs it.
        assert!(received.verify_pop(&n_s, None, check).is_ok());
        let refused = received.verify_pop(&other_n_s, None, check).unwrap_err();
        assert_eq!(
            (refused.code(), refused.error_id()),
            (Code::BAD_REQUEST, Some(3))
        );
        let mut no_evidence = received.clone();
        no_evidence.client_cred_verify = None;
        let refused = no_evidence.verify_pop(&n_s, None, check).unwrap_err();
        assert_eq!(refused.error_id(), Some(3));
        let mut no_scope = received.clone();
        no_scope.scope = None;
        let refused = no_scope.verify_pop(&n_s, None, check).unwrap_err();
        assert_eq!(
            (refused.code(), refused.error_id()),
            (Code::BAD_REQUEST, None)
        );
        // The KDC's default scope stands in for an absent one.
        assert!(
            no_scope
                .verify_pop(&n_s, received.scope.as_deref(), check)
                .is_ok()
        );

        // KDC answers with its credential and PoP over N_C | N_KDC.
        let n_kdc = ace_proto::keys::random_bytes(8);
        let kdc_cred = KdcCred {
            kdc_cred: vec![0xa0],
            kdc_nonce: n_kdc.clone(),
            kdc_cred_verify: pop::sign(&kdc, &pop::kdc_pop_input(&received.cnonce, &n_kdc)),
        };
        let kdc_public = kdc.verifying_key();
        assert!(
            kdc_cred
                .verify(&join.cnonce, PopCheck::Signature(&kdc_public))
                .is_ok()
        );
        // The client refuses it for another N_C.
        assert!(
            kdc_cred
                .verify(&[0u8; 8], PopCheck::Signature(&kdc_public))
                .is_err()
        );
    }
}

#[test]
fn credential_update_pop_uses_the_latest_join_scope() {
    // RFC 9594 section 4.9.1: scope of the latest Join Request, latest N_S,
    // new N_C.
    let key = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let scope = h("826667726f7570316673656e646572");
    let n_s = h("018a278f7faab55a");
    let mut update = CredUpdateRequest {
        client_cred: vec![0xa0],
        cnonce: h("0446baefc56111bf"),
        client_cred_verify: vec![],
    };
    update.client_cred_verify = pop::sign(&key, &update.pop_input(&scope, &n_s));
    let public = key.verifying_key();
    let check = PopCheck::Signature(&public);
    assert!(update.verify_pop(&scope, &n_s, check).is_ok());
    let other_scope = h("826667726f757032");
    assert_eq!(
        update
            .verify_pop(&other_scope, &n_s, check)
            .unwrap_err()
            .error_id(),
        Some(3)
    );
}
