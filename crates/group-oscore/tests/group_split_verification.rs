//! Verifying a request in three steps, so that the costly part runs without
//! the group's state (RFC 10021 section 7.2; RFC 8613 section 7.4): check
//! against the state, verify (countersignature, decryption) away from it,
//! then check again and update the replay window atomically.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use group_oscore::UnprotectError;
use group_oscore::group::{
    Credential, GroupParams, GroupSecurity, Member, OwnIdentity, RequestMode,
};

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

fn member(n: &Node) -> Member {
    Member::new(
        &n.id,
        Credential::new(&n.cred, n.key.verifying_key()).unwrap(),
    )
}

fn security(me: &Node, others: &[&Node]) -> GroupSecurity {
    let params = GroupParams::new(&[0xb1], &[9u8; 16], SignatureAlgorithm::EdDsa, b"gm");
    GroupSecurity::new(
        params,
        OwnIdentity::new(&me.id, me.key.clone(), &me.cred),
        others.iter().map(|n| member(n)),
    )
    .unwrap()
}

fn post(body: &[u8]) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::NonConfirmable);
    p.header.code = MessageClass::from(0x02);
    p.set_token(vec![1]);
    p.add_option(CoapOption::UriPath, b"x".to_vec());
    p.payload = body.to_vec();
    p
}

#[test]
fn requests_verified_in_parallel_are_each_accepted_once() {
    let (a, b, server) = (node(1), node(2), node(3));
    let mut s = security(&server, &[&a, &b]);
    let mut ca = security(&a, &[&b, &server]);
    let mut cb = security(&b, &[&a, &server]);
    let (ra, _) = ca
        .protect_request(&post(b"a"), &RequestMode::Group)
        .unwrap();
    let (rb, _) = cb
        .protect_request(&post(b"b"), &RequestMode::Pairwise(server.id.clone()))
        .unwrap();
    // Checked one after the other, verified on two threads, finished.
    let pending = [
        s.check_request(&ra).unwrap(),
        s.check_request(&rb).unwrap(),
        s.check_request(&ra).unwrap(), // a copy of the first
    ];
    let verified: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .into_iter()
            .map(|p| scope.spawn(move || p.verify()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let results: Vec<_> = verified
        .into_iter()
        .map(|v| s.finish_request(v).map(|(p, _)| p.payload))
        .collect();
    assert_eq!(results[0].as_ref().unwrap(), b"a");
    assert_eq!(results[1].as_ref().unwrap(), b"b");
    assert!(
        matches!(results[2], Err(UnprotectError::Replay(_))),
        "the replay window was checked again: {:?}",
        results[2]
    );
}

#[test]
fn a_member_removed_meanwhile_or_a_forgery_is_refused_at_the_end() {
    let (a, server) = (node(1), node(3));
    let mut s = security(&server, &[&a]);
    let mut ca = security(&a, &[&server]);
    let (r1, _) = ca
        .protect_request(&post(b"1"), &RequestMode::Group)
        .unwrap();
    let pending = s.check_request(&r1).unwrap();
    s.remove_members(std::slice::from_ref(&a.id));
    assert!(matches!(
        s.finish_request(pending.verify()),
        Err(UnprotectError::ContextNotFound)
    ));

    let mut s = security(&server, &[&a]);
    let (mut forged, _) = ca
        .protect_request(&post(b"2"), &RequestMode::Group)
        .unwrap();
    let last = forged.payload.len() - 1;
    forged.payload[last] ^= 1;
    let v = s.check_request(&forged).unwrap().verify();
    assert!(matches!(
        s.finish_request(v),
        Err(UnprotectError::SignatureInvalid)
    ));
    // The window did not move: the genuine request still goes through.
    let (genuine, _) = ca
        .protect_request(&post(b"3"), &RequestMode::Group)
        .unwrap();
    let v = s.check_request(&genuine).unwrap().verify();
    assert_eq!(s.finish_request(v).unwrap().0.payload, b"3");
}
