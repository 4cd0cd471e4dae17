//! Group OSCORE over time: rekeying with a grace period for the previous
//! context (the profile's Expiration Delta), stale Sender IDs, the Key
//! Generation Number, invalid replay windows after a deleted Recipient
//! Context recovered through Echo (RFC 10021 section 9), long exchanges
//! with several responses, and Sender Sequence Number persistence.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::{Arc, Mutex};

use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use group_oscore::group::{
    Credential, GroupParams, GroupSecurity, Member, OwnIdentity, Rekeying, RequestMode,
    ResponseMode,
};
use group_oscore::message::ECHO;
use group_oscore::option::OscoreOption;
use group_oscore::sequence::SenderSequence;
use group_oscore::{ContextError, UnprotectError};

struct Node {
    key: SigningKey,
    cred: Vec<u8>,
    id: Vec<u8>,
}

fn node(id: u8, alg: SignatureAlgorithm) -> Node {
    let key = SigningKey::generate(alg);
    let cred = ace_proto::credential::Credential::ccs_for_signing_key(&key, "n", None).into_bytes();
    Node {
        key,
        cred,
        id: vec![id],
    }
}

fn member(n: &Node) -> Member {
    Member::new(
        &n.id,
        Credential::new(&n.cred, n.key.verifying_key()).unwrap(),
    )
}

fn security(me: &Node, others: &[&Node], alg: SignatureAlgorithm) -> GroupSecurity {
    let params = GroupParams::new(&[0xb1, 0x00, 0x01], &[9u8; 16], alg, b"gm");
    GroupSecurity::new(
        params,
        OwnIdentity::new(&me.id, me.key.clone(), &me.cred),
        others.iter().map(|n| member(n)),
    )
    .unwrap()
    .with_key_generation(1)
}

fn get(path: &str, mid: u16) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::NonConfirmable);
    p.header.code = MessageClass::from(0x01);
    p.header.message_id = mid;
    p.set_token(vec![0xaa, mid as u8]);
    p.add_option(CoapOption::UriPath, path.as_bytes().to_vec());
    p
}

fn content(req: &Packet, payload: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::NonConfirmable);
    p.header.code = MessageClass::from(0x45);
    p.set_token(req.get_token().to_vec());
    p.payload = payload.to_vec();
    p
}

fn option(p: &Packet) -> OscoreOption {
    OscoreOption::decode(p.get_first_option(CoapOption::Oscore).unwrap()).unwrap()
}

fn rekeying(gid: &[u8], num: u64, grace: u64) -> Rekeying {
    let mut r = Rekeying::new(gid, &[num as u8; 16]);
    r.key_generation = Some(num);
    r.grace = grace;
    r
}

#[test]
fn rekeying_keeps_the_previous_context_for_the_grace_period() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b) = (node(1, alg), node(2, alg));
    let mut client = security(&a, &[&b], alg);
    let mut server = security(&b, &[&a], alg);

    // A request protected just before the server installs new material.
    let (late, mut cx) = client
        .protect_request(&get("late", 1), &RequestMode::Group)
        .unwrap();
    server
        .rekey(rekeying(&[0xb1, 0x00, 0x02], 2, 60), 1000)
        .unwrap();
    assert_eq!(server.gid(), [0xb1, 0x00, 0x02]);
    assert_eq!(server.key_generation(), Some(2));
    assert_eq!(server.poll_timeout(), Some(1060));
    assert_eq!(server.current().sender_sequence_number(), Some(0));

    // Verified with the previous context; answered with the new one, with a
    // fresh Partial IV and the new Gid as 'kid context' (RFC 10021 section 7.3).
    let (_, mut sx) = server.unprotect_request(&late).unwrap();
    let resp = server
        .protect_response(&content(&late, b"new keys"), &mut sx, ResponseMode::Group)
        .unwrap();
    let opt = option(&resp);
    assert_eq!(opt.kid_context.as_deref(), Some(&[0xb1, 0x00, 0x02][..]));
    assert_eq!(opt.partial_iv.as_deref(), Some(&[0][..]));

    // The client, once rekeyed too, verifies it through the 'kid context'.
    client
        .rekey(rekeying(&[0xb1, 0x00, 0x02], 2, 60), 1001)
        .unwrap();
    let got = client.unprotect_response(&resp, &mut cx).unwrap();
    assert_eq!(got.message.payload, b"new keys");

    // After the grace period the old Gid is unknown: 4.01.
    let (late2, _) = {
        let mut old_client = security(&a, &[&b], alg).with_sequence(SenderSequence::resume(
            5,
            Box::new(group_oscore::Volatile),
            10,
        ));
        old_client
            .protect_request(&get("later", 2), &RequestMode::Group)
            .unwrap()
    };
    server.handle_timeout(1059);
    assert!(server.previous().is_some());
    server.handle_timeout(1060);
    assert!(server.previous().is_none());
    assert_eq!(
        server.unprotect_request(&late2).unwrap_err(),
        UnprotectError::ContextNotFound
    );

    // New-context traffic works, and Sender Sequence Numbers restarted.
    let (req, _) = client
        .protect_request(&get("fresh", 3), &RequestMode::Group)
        .unwrap();
    assert_eq!(option(&req).partial_iv.as_deref(), Some(&[0][..]));
    server.unprotect_request(&req).unwrap();
}

#[test]
fn stale_sender_ids_and_key_generation() {
    let alg = SignatureAlgorithm::Es256;
    let (a, b, c) = (node(1, alg), node(2, alg), node(3, alg));
    let mut server = security(&b, &[&a, &c], alg);
    let mut leaver = security(&c, &[&b], alg);

    let mut r = rekeying(&[0xb1, 0x00, 0x02], 2, 30);
    r.stale_sender_ids = vec![c.id.clone()];
    server.rekey(r, 0).unwrap();
    assert!(server.current().member(&c.id).is_none());
    assert!(server.current().member(&a.id).is_some());
    // Deleted from the retained context too: the leaver cannot inject even
    // during the grace period.
    assert!(server.previous().unwrap().member(&c.id).is_none());
    let (outer, _) = leaver
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    assert_eq!(
        server.unprotect_request(&outer).unwrap_err(),
        UnprotectError::ContextNotFound
    );

    // A Key Generation Number that is not newer is refused.
    assert_eq!(
        server
            .rekey(rekeying(&[0xb1, 0x00, 0x03], 2, 0), 1)
            .unwrap_err(),
        ContextError::Inconsistent("key generation number is not newer")
    );
    // Without grace, the previous context is dropped at once.
    server
        .rekey(rekeying(&[0xb1, 0x00, 0x03], 3, 0), 1)
        .unwrap();
    assert!(server.previous().is_none());
}

#[test]
fn new_sender_id_on_rekeying() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b) = (node(1, alg), node(2, alg));
    let mut client = security(&a, &[&b], alg);
    let mut server = security(&b, &[&a], alg);
    let mut r = rekeying(&[0xb1, 0x00, 0x02], 2, 0);
    r.new_sender_id = Some(vec![0x11]);
    client.rekey(r, 0).unwrap();
    // The server learns the client's new Sender ID with the new material.
    let mut r = rekeying(&[0xb1, 0x00, 0x02], 2, 0);
    r.stale_sender_ids = vec![a.id.clone()];
    server.rekey(r, 0).unwrap();
    server
        .add_member(Member::new(
            &[0x11],
            Credential::new(&a.cred, a.key.verifying_key()).unwrap(),
        ))
        .unwrap();
    let (outer, _) = client
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    let (_, sx) = server.unprotect_request(&outer).unwrap();
    assert_eq!(sx.request_kid(), [0x11]);
}

#[test]
fn deleted_recipient_context_means_echo_before_delivery() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b, c) = (node(1, alg), node(2, alg), node(3, alg));
    let mut client = security(&a, &[&b], alg);
    let mut server = security(&b, &[&c], alg);
    // The server deletes a Recipient Context (e.g. to reclaim memory): from
    // now on new Recipient Contexts start with an invalid replay window
    // (RFC 10021 section 2.6.1.2).
    server.remove_members(std::slice::from_ref(&c.id));
    server.add_member(member(&a)).unwrap();
    assert!(!server.current().replay_window(&a.id).unwrap().is_valid());

    let req = get("act", 1);
    let (outer, mut cx) = client.protect_request(&req, &RequestMode::Group).unwrap();
    let Err(UnprotectError::EchoRequired(challenge)) = server.unprotect_request(&outer) else {
        panic!("expected an Echo challenge");
    };
    let mut challenge = *challenge;
    // The 4.01 with Echo, protected in pairwise mode with a fresh Partial IV.
    let unprotected = challenge.response(&outer);
    let resp = server
        .protect_response(
            &unprotected,
            &mut challenge.exchange,
            ResponseMode::Pairwise,
        )
        .unwrap();
    assert!(option(&resp).partial_iv.is_some());
    let got = client.unprotect_response(&resp, &mut cx).unwrap();
    assert_eq!(u8::from(got.message.header.code), 0x81);
    let echo = got
        .message
        .get_first_option(CoapOption::Unknown(ECHO))
        .unwrap()
        .clone();

    // Echoed in group mode: not accepted in a group that has pairwise mode
    // (RFC 10021 section 9), another challenge follows.
    let mut again = get("act", 2);
    again.add_option(CoapOption::Unknown(ECHO), echo.clone());
    let (outer, _) = client.protect_request(&again, &RequestMode::Group).unwrap();
    assert!(matches!(
        server.unprotect_request(&outer),
        Err(UnprotectError::EchoRequired(_))
    ));
    // Echoed in pairwise mode, unicast: accepted, and the window is valid.
    let (outer, _) = client
        .protect_request(&again, &RequestMode::Pairwise(b.id.clone()))
        .unwrap();
    let (inner, _) = server.unprotect_request(&outer).unwrap();
    assert!(inner.get_first_option(CoapOption::Unknown(ECHO)).is_none());
    assert!(server.current().replay_window(&a.id).unwrap().is_valid());
    assert!(matches!(
        server.unprotect_request(&outer),
        Err(UnprotectError::Replay(_))
    ));
    let (outer, _) = client
        .protect_request(&get("next", 3), &RequestMode::Group)
        .unwrap();
    server.unprotect_request(&outer).unwrap();
}

#[test]
fn long_exchange_accepts_several_responses_per_server_in_order() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b, c) = (node(1, alg), node(2, alg), node(3, alg));
    let mut client = security(&a, &[&b, &c], alg);
    let mut server_b = security(&b, &[&a], alg);
    let mut server_c = security(&c, &[&a], alg);
    let mut req = get("obs", 1);
    req.add_option(CoapOption::Observe, vec![]);
    let (outer, mut cx) = client.protect_request(&req, &RequestMode::Group).unwrap();
    assert!(cx.is_long());
    let (_, mut sxb) = server_b.unprotect_request(&outer).unwrap();
    let (_, mut sxc) = server_c.unprotect_request(&outer).unwrap();

    let mut notes = Vec::new();
    for n in 0..3u8 {
        let mut note = content(&outer, &[n]);
        note.add_option(CoapOption::Observe, vec![n + 2]);
        notes.push((
            server_b
                .protect_response(&note, &mut sxb, ResponseMode::Pairwise)
                .unwrap(),
            server_c
                .protect_response(&note, &mut sxc, ResponseMode::Group)
                .unwrap(),
        ));
    }
    // Both servers' first responses reuse the request nonce.
    assert!(option(&notes[0].0).partial_iv.is_none());
    for (nb, nc) in &notes {
        let got_b = client.unprotect_response(nb, &mut cx).unwrap();
        assert_eq!(got_b.kid, b.id);
        let got_c = client.unprotect_response(nc, &mut cx).unwrap();
        assert_eq!(got_c.kid, c.id);
    }
    // Replays of any of them are refused, per server.
    for (nb, nc) in &notes {
        assert!(matches!(
            client.unprotect_response(nb, &mut cx),
            Err(UnprotectError::Replay(_))
        ));
        assert!(matches!(
            client.unprotect_response(nc, &mut cx),
            Err(UnprotectError::Replay(_))
        ));
    }
}

#[test]
fn sender_sequence_numbers_survive_a_restart() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b) = (node(1, alg), node(2, alg));
    let marks = Arc::new(Mutex::new(Vec::<u64>::new()));
    let store = {
        let marks = marks.clone();
        move |m: u64| {
            marks.lock().unwrap().push(m);
            Ok(())
        }
    };
    let mut client =
        security(&a, &[&b], alg).with_sequence(SenderSequence::new(Box::new(store), 4));
    let mut server = security(&b, &[&a], alg);
    for i in 0..6 {
        let (outer, _) = client
            .protect_request(&get("x", i), &RequestMode::Group)
            .unwrap();
        server.unprotect_request(&outer).unwrap();
    }
    assert_eq!(*marks.lock().unwrap(), vec![4, 8]);
    // Restart: resume at the last mark. The next request uses 8, never a
    // number the server has seen; the server (which kept its window) accepts.
    let mark = *marks.lock().unwrap().last().unwrap();
    let mut restarted = security(&a, &[&b], alg).with_sequence(SenderSequence::resume(
        mark,
        Box::new(group_oscore::Volatile),
        4,
    ));
    let (outer, _) = restarted
        .protect_request(&get("x", 9), &RequestMode::Group)
        .unwrap();
    assert_eq!(option(&outer).partial_iv.as_deref(), Some(&[8][..]));
    server.unprotect_request(&outer).unwrap();
}

#[test]
fn a_member_restored_with_its_replay_state_accepts_fresh_requests_and_refuses_replays() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b, c) = (node(1, alg), node(2, alg), node(3, alg));
    let mut requester = security(&a, &[&b, &c], alg);
    let mut listener = security(&b, &[&a, &c], alg);
    let (r1, _) = requester
        .protect_request(&get("one", 1), &RequestMode::Group)
        .unwrap();
    let (r2, _) = requester
        .protect_request(&get("two", 2), &RequestMode::Group)
        .unwrap();
    listener.unprotect_request(&r1).unwrap();
    listener.unprotect_request(&r2).unwrap();
    let saved = listener.replay_state();
    assert_eq!(saved.gid, listener.gid());
    assert!(!saved.recipients_deleted);
    assert_eq!(saved.windows.len(), 2);
    assert_eq!(saved.windows[0].0, a.id);
    assert_eq!(saved.windows[0].1.as_ref().unwrap().highest, Some(1));

    // The same member built again from its keying material, as after a
    // restart, with the saved state: no Echo, and no replay.
    let mut restored = security(&b, &[&a, &c], alg);
    restored.restore_replay_state(&saved).unwrap();
    assert_eq!(restored.replay_state(), saved);
    for replay in [&r1, &r2] {
        assert!(matches!(
            restored.unprotect_request(replay).unwrap_err(),
            UnprotectError::Replay(_)
        ));
    }
    let (r3, _) = requester
        .protect_request(&get("three", 3), &RequestMode::Group)
        .unwrap();
    let (got, _) = restored.unprotect_request(&r3).unwrap();
    assert_eq!(got.get_first_option(CoapOption::UriPath).unwrap(), b"three");
    // A member never heard from starts valid: nothing of it was accepted.
    let mut third = security(&c, &[&a, &b], alg);
    let (from_c, _) = third
        .protect_request(&get("c", 1), &RequestMode::Group)
        .unwrap();
    restored.unprotect_request(&from_c).unwrap();

    // The same member without its replay state: every window invalid, so
    // the fresh request needs Echo first (RFC 10021 section 2.6.1.2).
    let mut lost = security(&b, &[&a, &c], alg);
    lost.invalidate_replay_windows();
    let (r4, _) = requester
        .protect_request(&get("four", 4), &RequestMode::Group)
        .unwrap();
    assert!(matches!(
        lost.unprotect_request(&r4).unwrap_err(),
        UnprotectError::EchoRequired(_)
    ));
    assert!(lost.replay_state().recipients_deleted);
    assert!(lost.replay_state().windows.iter().all(|(_, w)| w.is_none()));
}

#[test]
fn a_replay_state_is_restored_only_into_a_context_it_fits() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b, c) = (node(1, alg), node(2, alg), node(3, alg));
    let mut listener = security(&b, &[&a], alg);
    let saved = listener.replay_state();

    // Another Gid: refused, nothing changes.
    let mut other = security(&b, &[&a], alg);
    other.rekey(rekeying(&[0xb1, 0x00, 0x09], 2, 0), 0).unwrap();
    let before = other.replay_state();
    assert_eq!(
        other.restore_replay_state(&saved).unwrap_err(),
        ContextError::Inconsistent("the saved replay state belongs to another Gid")
    );
    assert_eq!(other.replay_state(), before);

    // A window of another size: refused before any window is set.
    let mut bad = saved.clone();
    bad.windows[0].1.as_mut().unwrap().size = 64;
    assert!(matches!(
        listener.restore_replay_state(&bad).unwrap_err(),
        ContextError::ReplayState(_)
    ));

    // A saved Sender ID without a Recipient Context here (it may have sent
    // requests that were accepted): Recipient Contexts made from now on
    // start invalid.
    let mut fewer = security(&b, &[], alg);
    fewer.restore_replay_state(&saved).unwrap();
    fewer.add_member(member(&a)).unwrap();
    fewer.add_member(member(&c)).unwrap();
    assert!(
        fewer
            .replay_state()
            .windows
            .iter()
            .all(|(_, w)| w.is_none())
    );
    assert!(fewer.replay_state().recipients_deleted);

    // A window saved as invalid stays invalid.
    listener.invalidate_replay_windows();
    let lost = listener.replay_state();
    let mut again = security(&b, &[&a], alg);
    again.restore_replay_state(&lost).unwrap();
    let mut requester = security(&a, &[&b], alg);
    let (r, _) = requester
        .protect_request(&get("x", 1), &RequestMode::Group)
        .unwrap();
    assert!(matches!(
        again.unprotect_request(&r).unwrap_err(),
        UnprotectError::EchoRequired(_)
    ));
}

#[test]
fn a_new_sender_id_changes_only_the_sender_context() {
    let alg = SignatureAlgorithm::EdDsa;
    let (a, b) = (node(1, alg), node(2, alg));
    let mut requester = security(&a, &[&b], alg);
    let mut responder = security(&b, &[&a], alg);
    let (r1, _) = requester
        .protect_request(&get("one", 1), &RequestMode::Group)
        .unwrap();
    responder.unprotect_request(&r1).unwrap();
    // A request verified before the renewal, answered after it.
    let (r2, mut cx2) = requester
        .protect_request(&get("two", 2), &RequestMode::Pairwise(b.id.clone()))
        .unwrap();
    let (_, mut sx2) = responder.unprotect_request(&r2).unwrap();
    let (_, mut sx2_group) = {
        let (r, _) = requester
            .protect_request(&get("three", 3), &RequestMode::Group)
            .unwrap();
        responder.unprotect_request(&r).unwrap()
    };
    let windows_before = responder.replay_state();

    responder
        .renew_sender_id(&[0x22], SenderSequence::volatile())
        .unwrap();
    assert_eq!(responder.current().own().sender_id(), Some(&[0x22][..]));
    assert_eq!(responder.current().sender_sequence_number(), Some(0));
    assert_eq!(responder.gid(), [0xb1, 0x00, 0x01]);
    assert_eq!(responder.key_generation(), Some(1));
    // The Recipient Contexts and their windows are untouched: a replay is
    // still refused, a fresh request verifies without Echo.
    assert_eq!(responder.replay_state(), windows_before);
    assert!(matches!(
        responder.unprotect_request(&r1).unwrap_err(),
        UnprotectError::Replay(_)
    ));
    let (r4, _) = requester
        .protect_request(&get("four", 4), &RequestMode::Group)
        .unwrap();
    responder.unprotect_request(&r4).unwrap();

    // The requester learns the new Sender ID (same credential) from the
    // Group Manager and verifies the responder's messages under it.
    requester
        .add_member(Member::new(
            &[0x22],
            Credential::new(&b.cred, b.key.verifying_key()).unwrap(),
        ))
        .unwrap();
    let resp = responder
        .protect_response(&content(&r2, b"renewed"), &mut sx2, ResponseMode::Pairwise)
        .unwrap();
    // RFC 10021 section 2.6.3.1: the new 'kid', and a fresh Partial IV.
    let opt = option(&resp);
    assert_eq!(opt.kid.as_deref(), Some(&[0x22][..]));
    assert_eq!(opt.partial_iv.as_deref(), Some(&[0][..]));
    // The addressed server is recognised by its credential, not its 'kid'.
    let got = requester.unprotect_response(&resp, &mut cx2).unwrap();
    assert_eq!(got.message.payload, b"renewed");
    assert_eq!(got.kid, [0x22]);
    let resp = responder
        .protect_response(&content(&r2, b"g"), &mut sx2_group, ResponseMode::Group)
        .unwrap();
    assert_eq!(option(&resp).kid.as_deref(), Some(&[0x22][..]));
    assert_eq!(option(&resp).partial_iv.as_deref(), Some(&[1][..]));

    // Its requests carry the new Sender ID and verify at the requester.
    let mut responder_as_client = responder;
    let (req, _) = responder_as_client
        .protect_request(&get("from-b", 9), &RequestMode::Group)
        .unwrap();
    assert_eq!(option(&req).kid.as_deref(), Some(&[0x22][..]));
    assert_eq!(option(&req).partial_iv.as_deref(), Some(&[2][..]));
    requester.unprotect_request(&req).unwrap();

    // A Sender ID another member holds is refused.
    assert_eq!(
        responder_as_client
            .renew_sender_id(&a.id, SenderSequence::volatile())
            .unwrap_err(),
        ContextError::Inconsistent("the new Sender ID is another member's")
    );
}
