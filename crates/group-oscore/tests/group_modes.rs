//! Groups with one mode only (RFC 10021 section 6): pairwise-only groups
//! with X25519 and P-256 Diffie-Hellman credentials, signature-only groups,
//! and the refusal of a mode the group does not have.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::pop::{DhCurve, DhPrivateKey};
use coap_lite::{CoapOption, MessageClass, Packet};
use group_oscore::group::{
    Credential, GroupParams, GroupSecurity, Member, OwnIdentity, RequestMode, ResponseMode,
};
use group_oscore::{ContextError, ProtectError, UnprotectError};

fn get() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(0x01);
    p.add_option(CoapOption::UriPath, b"m".to_vec());
    p
}

fn content() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(0x45);
    p.payload = b"v".to_vec();
    p
}

fn pairwise_only_exchange(curve: DhCurve) {
    let (ka, kb) = (DhPrivateKey::generate(curve), DhPrivateKey::generate(curve));
    let (ca, cb) = (b"dh credential a".to_vec(), b"dh credential b".to_vec());
    let params =
        GroupParams::new(&[7], &[1u8; 16], SignatureAlgorithm::EdDsa, b"gm").pairwise_only();
    assert!(!params.has_group_mode() && params.has_pairwise_mode());
    let mut a = GroupSecurity::new(
        params.clone(),
        OwnIdentity::pairwise_only(&[1], ka.clone(), &ca),
        [Member::new(
            &[2],
            Credential::pairwise_only(&cb, kb.public_key()),
        )],
    )
    .unwrap();
    let mut b = GroupSecurity::new(
        params,
        OwnIdentity::pairwise_only(&[2], kb, &cb),
        [Member::new(
            &[1],
            Credential::pairwise_only(&ca, ka.public_key()),
        )],
    )
    .unwrap();
    // No Signature Encryption Key without a Group Encryption Algorithm.
    assert!(a.current().signature_encryption_key().is_none());
    let (outer, mut cx) = a
        .protect_request(&get(), &RequestMode::Pairwise(vec![2]))
        .unwrap();
    let (inner, mut sx) = b.unprotect_request(&outer).unwrap();
    assert_eq!(
        inner.get_first_option(CoapOption::UriPath),
        Some(&b"m".to_vec())
    );
    let resp = b
        .protect_response(&content(), &mut sx, ResponseMode::Pairwise)
        .unwrap();
    assert_eq!(
        a.unprotect_response(&resp, &mut cx)
            .unwrap()
            .message
            .payload,
        b"v"
    );

    // Group mode is not available, in either direction.
    assert_eq!(
        a.protect_request(&get(), &RequestMode::Group).unwrap_err(),
        ProtectError::ModeUnavailable("group")
    );
    let mut flagged = outer.clone();
    let mut value = outer.get_first_option(CoapOption::Oscore).unwrap().clone();
    value[0] |= 0x20;
    flagged.set_option(CoapOption::Oscore, std::iter::once(value).collect());
    let err = b.unprotect_request(&flagged).unwrap_err();
    assert_eq!(err, UnprotectError::ModeUnavailable("group"));
    assert_eq!(err.code().to_string(), "4.02");
}

#[test]
fn pairwise_only_group_with_x25519() {
    pairwise_only_exchange(DhCurve::X25519);
}

#[test]
fn pairwise_only_group_with_p256() {
    pairwise_only_exchange(DhCurve::P256);
}

#[test]
fn signature_only_group() {
    let (ka, kb) = (
        SigningKey::generate(SignatureAlgorithm::Es256),
        SigningKey::generate(SignatureAlgorithm::Es256),
    );
    let params =
        GroupParams::new(&[8], &[2u8; 16], SignatureAlgorithm::Es256, b"gm").signature_only();
    let mut a = GroupSecurity::new(
        params.clone(),
        OwnIdentity::new(&[1], ka.clone(), b"ca"),
        [Member::new(
            &[2],
            Credential::new(b"cb", kb.verifying_key()).unwrap(),
        )],
    )
    .unwrap();
    let mut b = GroupSecurity::new(
        params,
        OwnIdentity::new(&[2], kb, b"cb"),
        [Member::new(
            &[1],
            Credential::new(b"ca", ka.verifying_key()).unwrap(),
        )],
    )
    .unwrap();
    assert!(matches!(
        a.protect_request(&get(), &RequestMode::Pairwise(vec![2])),
        Err(ProtectError::ModeUnavailable("pairwise"))
    ));
    let (outer, mut cx) = a.protect_request(&get(), &RequestMode::Group).unwrap();
    let (_, mut sx) = b.unprotect_request(&outer).unwrap();
    assert!(matches!(
        b.protect_response(&content(), &mut sx, ResponseMode::Pairwise),
        Err(ProtectError::ModeUnavailable("pairwise"))
    ));
    let resp = b
        .protect_response(&content(), &mut sx, ResponseMode::Group)
        .unwrap();
    assert_eq!(a.unprotect_response(&resp, &mut cx).unwrap().kid, vec![2]);
}

#[test]
fn inconsistent_configurations_are_refused() {
    let k = SigningKey::generate(SignatureAlgorithm::EdDsa);
    // Own key of another algorithm than the group's Signature Algorithm.
    let params = GroupParams::new(&[9], &[3u8; 16], SignatureAlgorithm::Es256, b"gm");
    assert!(matches!(
        GroupSecurity::new(params.clone(), OwnIdentity::new(&[1], k.clone(), b"c"), []),
        Err(ContextError::Inconsistent(_))
    ));
    // A member credential of another algorithm.
    let es = SigningKey::generate(SignatureAlgorithm::Es256);
    let member = Member::new(&[2], Credential::new(b"c2", k.verifying_key()).unwrap());
    assert!(matches!(
        GroupSecurity::new(params.clone(), OwnIdentity::new(&[1], es, b"c"), [member]),
        Err(ContextError::Inconsistent(_))
    ));
    // No mode at all.
    let none = params.clone().pairwise_only().signature_only();
    assert!(GroupSecurity::new(none, OwnIdentity::monitor(), []).is_err());
    // Sender IDs longer than nonce length minus 6.
    let es = SigningKey::generate(SignatureAlgorithm::Es256);
    assert!(matches!(
        GroupSecurity::new(params, OwnIdentity::new(&[1; 8], es, b"c"), []),
        Err(ContextError::IdTooLong { max: 7, .. })
    ));
}
