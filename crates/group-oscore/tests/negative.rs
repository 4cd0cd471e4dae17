//! Refusals, each with the error and CoAP response the RFCs prescribe, and
//! the context still serving afterwards: replayed, tampered, unknown-kid,
//! malformed, wrong-Gid, forged-signature and wrong-role messages.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use group_oscore::group::{
    Credential, GroupParams, GroupSecurity, LookupResult, Member, OwnIdentity, RequestMode,
    ResponseMode,
};
use group_oscore::replay::ReplayError;
use group_oscore::{ContextParams, DecodeFailure, ProtectError, SecurityContext, UnprotectError};

fn get(path: &str, mid: u16) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    p.header.code = MessageClass::from(0x01);
    p.header.message_id = mid;
    p.set_token(vec![mid as u8]);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

fn content(req: &Packet, payload: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.code = MessageClass::from(0x45);
    p.header.message_id = req.header.message_id;
    p.set_token(req.get_token().to_vec());
    p.payload = payload.to_vec();
    p
}

fn pair() -> (SecurityContext, SecurityContext) {
    let ms = [7u8; 16];
    let client = SecurityContext::new(&ContextParams::new(&ms, b"C", b"S")).unwrap();
    let server = SecurityContext::new(&ContextParams::new(&ms, b"S", b"C")).unwrap();
    (client, server)
}

/// The server still verifies a fresh request from the client.
fn still_serves(client: &mut SecurityContext, server: &mut SecurityContext) {
    let req = get("ok", 99);
    let (outer, _) = client.protect_request(&req).unwrap();
    let (inner, _) = server.unprotect_request(&outer).unwrap();
    assert_eq!(inner.payload, req.payload);
}

fn assert_answer(err: &UnprotectError, code: &str, diag: Option<&str>) {
    assert_eq!(err.code().to_string(), code, "{err}");
    assert_eq!(err.diagnostic(), diag, "{err}");
}

#[test]
fn replayed_request_is_refused_4_01() {
    let (mut client, mut server) = pair();
    let (outer, _) = client.protect_request(&get("a", 1)).unwrap();
    server.unprotect_request(&outer).unwrap();
    let err = server.unprotect_request(&outer).unwrap_err();
    assert_eq!(err, UnprotectError::Replay(ReplayError::Replayed(0)));
    assert_answer(&err, "4.01", Some("Replay detected"));
    let resp = err.error_response(&outer);
    assert_eq!(resp.get_first_option(CoapOption::MaxAge), Some(&vec![]));
    assert_eq!(resp.payload, b"Replay detected");
    still_serves(&mut client, &mut server);
}

#[test]
fn a_restored_replay_window_still_refuses_replays() {
    let (mut client, mut server) = pair();
    let (old, _) = client.protect_request(&get("a", 1)).unwrap();
    server.unprotect_request(&old).unwrap();
    let saved = server.replay_window().state().unwrap();
    // The server restarts: same keys, window restored instead of lost.
    let (_, fresh) = pair();
    let mut restored = fresh.with_lost_replay_state();
    restored.restore_replay_window(&saved).unwrap();
    let err = restored.unprotect_request(&old).unwrap_err();
    assert_eq!(err, UnprotectError::Replay(ReplayError::Replayed(0)));
    still_serves(&mut client, &mut restored);
    // A state that does not fit is refused and leaves the window as it was.
    let mut bad = saved.clone();
    bad.size = 64;
    assert!(restored.restore_replay_window(&bad).is_err());
    assert!(restored.replay_window().is_valid());
}

#[test]
fn tampered_request_is_refused_4_00_and_does_not_burn_its_partial_iv() {
    let (mut client, mut server) = pair();
    let (outer, _) = client.protect_request(&get("a", 1)).unwrap();
    let mut bad = outer.clone();
    bad.payload[0] ^= 1;
    let err = server.unprotect_request(&bad).unwrap_err();
    assert_eq!(err, UnprotectError::DecryptionFailed);
    assert_answer(&err, "4.00", Some("Decryption failed"));
    // A forged Partial IV changes nonce and AAD: decryption fails too.
    let mut bad = outer.clone();
    bad.set_option(
        CoapOption::Oscore,
        std::iter::once(vec![0x09, 0x05, b'C']).collect(),
    );
    assert_eq!(
        server.unprotect_request(&bad).unwrap_err(),
        UnprotectError::DecryptionFailed
    );
    // The replay window was not updated by the failures.
    server.unprotect_request(&outer).unwrap();
    still_serves(&mut client, &mut server);
}

#[test]
fn unknown_kid_is_refused_4_01() {
    let (mut client, mut server) = pair();
    let mut other = SecurityContext::new(&ContextParams::new(&[7u8; 16], b"X", b"S")).unwrap();
    let (outer, _) = other.protect_request(&get("a", 1)).unwrap();
    let option = group_oscore::request_kid(&outer).unwrap();
    assert!(!server.matches(&option));
    let err = server.unprotect_request(&outer).unwrap_err();
    assert_eq!(err, UnprotectError::ContextNotFound);
    assert_answer(&err, "4.01", Some("Security context not found"));
    still_serves(&mut client, &mut server);
}

#[test]
fn malformed_oscore_messages_are_refused_4_02() {
    let (mut client, mut server) = pair();
    let (outer, _) = client.protect_request(&get("a", 1)).unwrap();
    let mut reserved = outer.clone();
    reserved.set_option(
        CoapOption::Oscore,
        std::iter::once(vec![0x89, 0, b'C']).collect(),
    );
    let mut empty_payload = outer.clone();
    empty_payload.payload.clear();
    let mut no_piv = outer.clone();
    no_piv.set_option(
        CoapOption::Oscore,
        std::iter::once(vec![0x08, b'C']).collect(),
    );
    let mut group_flag = outer.clone();
    group_flag.set_option(
        CoapOption::Oscore,
        std::iter::once(vec![0x29, 0, b'C']).collect(),
    );
    for bad in [reserved, empty_payload, no_piv, group_flag] {
        let err = server.unprotect_request(&bad).unwrap_err();
        assert!(matches!(err, UnprotectError::FailedToDecode(_)), "{err}");
        assert_answer(&err, "4.02", Some("Failed to decode COSE"));
    }
    let mut plain = get("a", 1);
    plain.payload = b"x".to_vec();
    assert_eq!(
        server.unprotect_request(&plain).unwrap_err(),
        UnprotectError::NotProtected
    );
    // The untouched message is still accepted.
    server.unprotect_request(&outer).unwrap();
    still_serves(&mut client, &mut server);
}

#[test]
fn responses_bound_to_another_request_are_refused() {
    let (mut client, mut server) = pair();
    let (outer1, mut cx1) = client.protect_request(&get("a", 1)).unwrap();
    let (outer2, mut cx2) = client.protect_request(&get("b", 2)).unwrap();
    let (_, mut sx1) = server.unprotect_request(&outer1).unwrap();
    let (_, _sx2) = server.unprotect_request(&outer2).unwrap();
    let resp = server
        .protect_response(&content(&outer1, b"for 1"), &mut sx1)
        .unwrap();
    assert_eq!(
        client.unprotect_response(&resp, &mut cx2).unwrap_err(),
        UnprotectError::DecryptionFailed
    );
    assert_eq!(
        client.unprotect_response(&resp, &mut cx1).unwrap().payload,
        b"for 1"
    );
}

#[test]
fn exhausted_sequence_numbers_stop_protection() {
    use group_oscore::sequence::{MAX_SEQUENCE_NUMBER, SenderSequence, Volatile};
    let (mut client, mut server) = pair();
    let mut client = std::mem::replace(&mut client, pair().0).with_sequence(
        SenderSequence::resume(MAX_SEQUENCE_NUMBER, Box::new(Volatile), 10),
    );
    let (outer, _) = client.protect_request(&get("last", 1)).unwrap();
    // The last number is 2^40 - 1, a 5-byte Partial IV.
    assert_eq!(
        &outer.get_first_option(CoapOption::Oscore).unwrap()[..6],
        &[0x0d, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    server.unprotect_request(&outer).unwrap();
    assert!(matches!(
        client.protect_request(&get("more", 2)),
        Err(ProtectError::Sequence(
            group_oscore::SequenceError::Exhausted
        ))
    ));
}

// --- Group OSCORE -----------------------------------------------------------

struct Node {
    key: SigningKey,
    cred: Vec<u8>,
    id: Vec<u8>,
}

fn node(id: u8) -> Node {
    let key = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let cred = ace_proto::credential::Credential::ccs_for_signing_key(&key, "n", None).into_bytes();
    Node {
        key,
        cred,
        id: vec![id],
    }
}

fn member_of(n: &Node, roles: Option<u64>) -> Member {
    let m = Member::new(
        &n.id,
        Credential::new(&n.cred, n.key.verifying_key()).unwrap(),
    );
    match roles {
        Some(r) => m.with_roles(r),
        None => m,
    }
}

const GID: &[u8] = &[0xb1, 0xf0, 0x5c];

fn params() -> GroupParams {
    GroupParams::new(GID, &[3u8; 16], SignatureAlgorithm::EdDsa, b"gm-credential")
}

fn security(me: &Node, roles: Option<u64>, members: Vec<Member>) -> GroupSecurity {
    let own = OwnIdentity::new(&me.id, me.key.clone(), &me.cred);
    let own = match roles {
        Some(r) => own.with_roles(r),
        None => own,
    };
    GroupSecurity::new(params(), own, members).unwrap()
}

fn group_still_serves(client: &mut GroupSecurity, server: &mut GroupSecurity) {
    let (outer, _) = client
        .protect_request(&get("ok", 77), &RequestMode::Group)
        .unwrap();
    server.unprotect_request(&outer).unwrap();
}

#[test]
fn group_replay_forgery_tampering_wrong_gid() {
    let (a, b) = (node(1), node(2));
    let mut client = security(&a, None, vec![member_of(&b, None)]);
    let mut server = security(&b, None, vec![member_of(&a, None)]);
    let (outer, _) = client
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();

    // Forged signature: one flipped bit of the encrypted countersignature.
    let mut forged = outer.clone();
    let last = forged.payload.len() - 1;
    forged.payload[last] ^= 0x80;
    let err = server.unprotect_request(&forged).unwrap_err();
    assert_eq!(err, UnprotectError::SignatureInvalid);
    assert_answer(&err, "4.00", Some("Decryption failed"));

    // Tampered ciphertext: the signature covers it.
    let mut tampered = outer.clone();
    tampered.payload[0] ^= 1;
    assert_eq!(
        server.unprotect_request(&tampered).unwrap_err(),
        UnprotectError::SignatureInvalid
    );

    // Wrong Gid: a 'kid context' naming no group we know.
    let mut wrong_gid = outer.clone();
    let mut value = outer.get_first_option(CoapOption::Oscore).unwrap().clone();
    let ctx_at = 1 + usize::from(value[0] & 0x07) + 1;
    value[ctx_at] ^= 0xff;
    wrong_gid.set_option(CoapOption::Oscore, std::iter::once(value).collect());
    let err = server.unprotect_request(&wrong_gid).unwrap_err();
    assert_eq!(err, UnprotectError::ContextNotFound);
    assert_answer(&err, "4.01", Some("Security context not found"));

    // None of the failures consumed the Partial IV.
    server.unprotect_request(&outer).unwrap();
    // Replay.
    let err = server.unprotect_request(&outer).unwrap_err();
    assert!(matches!(err, UnprotectError::Replay(_)));
    assert_answer(&err, "4.01", Some("Replay detected"));

    // An impostor using member 1's Sender ID with another key.
    let mut impostor_node = node(1);
    impostor_node.id = a.id.clone();
    // (A fresh Partial IV, so that the replay check does not refuse it first.)
    let mut impostor = security(&impostor_node, None, vec![member_of(&b, None)]).with_sequence(
        group_oscore::sequence::SenderSequence::resume(
            50,
            Box::new(group_oscore::sequence::Volatile),
            10,
        ),
    );
    let (outer, _) = impostor
        .protect_request(&get("x", 2), &RequestMode::Group)
        .unwrap();
    assert_eq!(
        server.unprotect_request(&outer).unwrap_err(),
        UnprotectError::SignatureInvalid
    );
    group_still_serves(&mut client, &mut server);
}

#[test]
fn group_unknown_kid_and_first_contact() {
    let (a, b, c) = (node(1), node(2), node(3));
    let mut server = security(&b, None, vec![member_of(&a, None)]);
    let mut stranger = security(&c, None, vec![member_of(&b, None)]);
    let (outer, _) = stranger
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    // No Recipient Context and no lookup hook: 4.01.
    assert_eq!(
        server.unprotect_request(&outer).unwrap_err(),
        UnprotectError::ContextNotFound
    );

    // The hook says the credential is being fetched: 5.03 with Max-Age.
    let c_member = member_of(&c, Some(REQUESTER));
    let answers = std::sync::Arc::new(std::sync::Mutex::new(vec![
        LookupResult::Found(Box::new(c_member)),
        LookupResult::Pending {
            retry_after: Some(30),
        },
    ]));
    let hook_answers = answers.clone();
    server.set_member_lookup(Box::new(move |gid: &[u8], kid: &[u8]| {
        assert_eq!((gid, kid), (GID, &[3u8][..]));
        hook_answers
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(LookupResult::Unknown)
    }));
    let err = server.unprotect_request(&outer).unwrap_err();
    assert_eq!(
        err,
        UnprotectError::CredentialPending {
            retry_after: Some(30)
        }
    );
    assert_eq!(err.code().to_string(), "5.03");
    let resp = err.error_response(&outer);
    assert_eq!(resp.get_first_option(CoapOption::MaxAge), Some(&vec![30]));

    // Then the credential arrives: the Recipient Context is created on
    // first contact.
    let (inner, sx) = server.unprotect_request(&outer).unwrap();
    assert_eq!(
        inner.get_first_option(CoapOption::UriPath),
        Some(&b"x".to_vec())
    );
    assert_eq!(sx.request_kid(), [3]);
    assert!(server.current().member(&[3]).is_some());
}

#[test]
fn created_recipient_is_dropped_when_its_message_fails() {
    let (b, c) = (node(2), node(3));
    let mut server = security(&b, None, vec![]);
    // The hook hands out a credential that does not match the signer.
    let wrong = node(3);
    let m = member_of(&wrong, None);
    server.set_member_lookup(Box::new(move |_: &[u8], _: &[u8]| {
        LookupResult::Found(Box::new(m.clone()))
    }));
    let mut stranger = security(&c, None, vec![member_of(&b, None)]);
    let (outer, _) = stranger
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    assert_eq!(
        server.unprotect_request(&outer).unwrap_err(),
        UnprotectError::SignatureInvalid
    );
    assert!(server.current().member(&[3]).is_none());
}

#[test]
fn group_roles_are_enforced() {
    let (a, b, m) = (node(1), node(2), node(3));
    // The server knows member 1 only as a Responder: its requests are
    // ignored; member 2 as a Requester: its responses are ignored.
    let mut server = security(
        &b,
        Some(REQUESTER | RESPONDER),
        vec![member_of(&a, Some(RESPONDER))],
    );
    let mut client = security(
        &a,
        Some(REQUESTER | RESPONDER),
        vec![member_of(&b, Some(REQUESTER))],
    );
    let (outer, mut cx) = client
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    let err = server.unprotect_request(&outer).unwrap_err();
    assert_eq!(err, UnprotectError::RoleNotAuthorized("request"));
    assert!(!err.answers_with_error());

    // Let the server accept it (fresh view of member 1) and answer: the
    // client ignores a response from a non-Responder.
    let mut server = security(
        &b,
        Some(REQUESTER | RESPONDER),
        vec![member_of(&a, Some(REQUESTER))],
    );
    let (_, mut sx) = server.unprotect_request(&outer).unwrap();
    let resp = server
        .protect_response(&content(&outer, b"r"), &mut sx, ResponseMode::Pairwise)
        .unwrap();
    assert_eq!(
        client.unprotect_response(&resp, &mut cx).unwrap_err(),
        UnprotectError::RoleNotAuthorized("response")
    );

    // Our own roles: a Requester-only member does not answer, a
    // Responder-only member does not request, a monitor never sends.
    let mut requester_only = security(&a, Some(REQUESTER), vec![member_of(&b, None)]);
    let (outer, _) = security(&b, None, vec![member_of(&a, None)])
        .protect_request(&get("y", 2), &RequestMode::Group)
        .unwrap();
    let (_, mut sx) = requester_only.unprotect_request(&outer).unwrap();
    assert_eq!(
        requester_only
            .protect_response(&content(&outer, b""), &mut sx, ResponseMode::Group)
            .unwrap_err(),
        ProtectError::RoleForbids("response")
    );
    let mut responder_only = security(&a, Some(RESPONDER), vec![member_of(&b, None)]);
    assert_eq!(
        responder_only
            .protect_request(&get("z", 3), &RequestMode::Group)
            .unwrap_err(),
        ProtectError::RoleForbids("request")
    );
    let mut monitor =
        GroupSecurity::new(params(), OwnIdentity::monitor(), vec![member_of(&b, None)]).unwrap();
    let (outer, _) = security(&b, None, vec![])
        .protect_request(&get("w", 4), &RequestMode::Group)
        .unwrap();
    // A monitor verifies group-mode requests...
    let (_, mut sx) = monitor.unprotect_request(&outer).unwrap();
    // ...and never sends.
    assert_eq!(
        monitor
            .protect_response(&content(&outer, b""), &mut sx, ResponseMode::Group)
            .unwrap_err(),
        ProtectError::NoSenderContext
    );
    assert_eq!(
        monitor
            .protect_request(&get("v", 5), &RequestMode::Group)
            .unwrap_err(),
        ProtectError::NoSenderContext
    );
    // Pairwise mode is not for monitors (RFC 10021 section 8).
    let (outer, _) = security(&b, None, vec![member_of(&m, None)])
        .protect_request(&get("u", 6), &RequestMode::Pairwise(m.id.clone()))
        .unwrap();
    assert_eq!(
        monitor.unprotect_request(&outer).unwrap_err(),
        UnprotectError::ModeUnavailable("pairwise")
    );
    let _ = MONITOR;
}

#[test]
fn group_pairwise_tampering_and_wrong_server() {
    let (a, b, c) = (node(1), node(2), node(3));
    let mut client = security(&a, None, vec![member_of(&b, None), member_of(&c, None)]);
    let mut server_b = security(&b, None, vec![member_of(&a, None)]);
    let mut server_c = security(&c, None, vec![member_of(&a, None)]);
    let (outer, mut cx) = client
        .protect_request(&get("p", 1), &RequestMode::Pairwise(b.id.clone()))
        .unwrap();
    let mut bad = outer.clone();
    bad.payload[2] ^= 4;
    assert_eq!(
        server_b.unprotect_request(&bad).unwrap_err(),
        UnprotectError::DecryptionFailed
    );
    // Server C cannot read a request protected for B.
    assert_eq!(
        server_c.unprotect_request(&outer).unwrap_err(),
        UnprotectError::DecryptionFailed
    );
    let (_, mut sx) = server_b.unprotect_request(&outer).unwrap();
    let resp = server_b
        .protect_response(&content(&outer, b"from b"), &mut sx, ResponseMode::Group)
        .unwrap();
    // A group-mode answer from C to the request addressed to B is refused.
    let (outer_c, _) = client
        .protect_request(&get("p", 2), &RequestMode::Group)
        .unwrap();
    let (_, mut sxc) = server_c.unprotect_request(&outer_c).unwrap();
    let mut from_c = server_c
        .protect_response(&content(&outer, b"from c"), &mut sxc, ResponseMode::Group)
        .unwrap();
    from_c.set_token(outer.get_token().to_vec());
    assert!(matches!(
        client.unprotect_response(&from_c, &mut cx).unwrap_err(),
        UnprotectError::UnexpectedResponse(_)
    ));
    assert_eq!(
        client
            .unprotect_response(&resp, &mut cx)
            .unwrap()
            .message
            .payload,
        b"from b"
    );
}

#[test]
fn own_sender_id_in_a_request_is_not_processed() {
    let a = node(1);
    let b = node(2);
    let mut me = security(&a, None, vec![member_of(&b, None)]);
    let mut twin = security(&a, None, vec![member_of(&b, None)]);
    let (outer, _) = twin
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    assert_eq!(
        me.unprotect_request(&outer).unwrap_err(),
        UnprotectError::OwnSenderId
    );
}

#[test]
fn group_request_without_kid_context_is_malformed() {
    let (a, b) = (node(1), node(2));
    let mut client = security(&a, None, vec![member_of(&b, None)]);
    let mut server = security(&b, None, vec![member_of(&a, None)]);
    let (outer, _) = client
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    let mut bad = outer.clone();
    // Group flag, PIV 0, kid 01, no kid context.
    bad.set_option(
        CoapOption::Oscore,
        std::iter::once(vec![0x29, 0x00, 0x01]).collect(),
    );
    assert_eq!(
        server.unprotect_request(&bad).unwrap_err(),
        UnprotectError::FailedToDecode(DecodeFailure::MissingField("kid context"))
    );
    server.unprotect_request(&outer).unwrap();
}
