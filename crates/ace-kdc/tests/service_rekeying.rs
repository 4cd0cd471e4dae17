//! Rekeying through the real service over CoAP + OSCORE: forward security
//! after a leave (Observe notification and POST to `control_uri`, and a
//! Group OSCORE message the leaver cannot read), backward security on join,
//! eviction on token expiry (DELETE to `control_uri`, 4.04 with error id 5
//! on the node observation), operator commands on the running KDC, and
//! group deletion (4.04 with error id 6 to observers).

#![allow(clippy::unwrap_used)]

mod support;

use ace_coap::Request;
use ace_coap::tap::{Direction, MemorySink};
use ace_kdc::admin::{self, Command};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::RekeyingMessage;
use ace_proto::problem::error_id_of;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use group_oscore::group::RequestMode;
use std::time::Duration;
use support::service::ServiceHarness;
use support::{ClientKeys, member_context, peer};

const WAIT: Duration = Duration::from_secs(5);

fn sid(j: &ace_proto::groupcomm::JoinResponse) -> Vec<u8> {
    support::sender_id(&j.material).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_rekeys_remaining_members_and_locks_out_the_leaver() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let rr = REQUESTER | RESPONDER;
    let a = c
        .member(&h.authority, ClientKeys::ed25519(), &[("g1", rr)], exp)
        .await;
    let b = c
        .member(&h.authority, ClientKeys::ed25519(), &[("g1", rr)], exp)
        .await;
    let l = c
        .member(&h.authority, ClientKeys::ed25519(), &[("g1", rr)], exp)
        .await;
    let (_, ja) = c.join(&a, "g1", rr, None, false).await;
    let (_, jb) = c.join(&b, "g1", rr, None, true).await;
    let (r, jl) = c.join(&l, "g1", rr, None, false).await;
    let (ja, jb, jl) = (ja.unwrap(), jb.unwrap(), jl.unwrap());
    let l_node = format!("/{}", r.location_path().join("/"));
    // A observes the group resource; B gave a control_uri.
    let mut obs = c.observe(&a, "/ace-group/g1").await;
    let first = obs.next().await.unwrap().unwrap();
    assert_eq!(first.code, Code::CONTENT);
    let mut reports = h.service.delivery_reports();

    // L leaves.
    assert_eq!(
        c.send(&l, Request::delete(&l_node)).await.code,
        Code::DELETED
    );

    // A: the rekeying message as a notification.
    let note = tokio::time::timeout(WAIT, obs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(note.content_format(), Some(cf::ACE_GROUPCOMM_CBOR));
    let msg_a = RekeyingMessage::decode(&note.payload).unwrap();
    assert_eq!(msg_a.material.num, 1, "num + 1");
    assert_eq!(msg_a.stale_node_ids, Some(vec![sid(&jl)]));
    // B: the same message, POSTed over its own channel to its control_uri.
    let pushed = c.next_pushed(WAIT).await.unwrap();
    assert_eq!(pushed.member, b.channel);
    assert_eq!(pushed.method, ace_coap::Method::Post);
    let msg_b = RekeyingMessage::decode(&pushed.payload).unwrap();
    assert_eq!(msg_b, msg_a);
    let report = tokio::time::timeout(WAIT, reports.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.num, report.targets, report.acknowledged), (1, 1, 1));
    // Both hold num + 1; so does the KDC.
    assert_eq!(c.get(&a, "/ace-group/g1/num").await.payload, [0x01]);

    // A, with the new material, sends a Group OSCORE message: B reads it,
    // the leaver cannot, not even with the new Gid guessed.
    let full = ja.material.key.group_oscore().unwrap();
    let new_key = msg_a.material.key.group_oscore().unwrap();
    let kdc_cred = &ja.kdc.as_ref().unwrap().kdc_cred;
    let mut sender = member_context(
        full,
        new_key,
        Some((&sid(&ja), &a.keys.signing, &a.keys.credential)),
        kdc_cred,
        vec![],
    );
    let (protected, _) = sender
        .protect_request(&support::test_request(), &RequestMode::Group)
        .unwrap();
    let peers = vec![peer(&sid(&ja), &a.keys.credential)];
    let mut reader = member_context(
        full,
        new_key,
        Some((&sid(&jb), &b.keys.signing, &b.keys.credential)),
        kdc_cred,
        peers.clone(),
    );
    assert_eq!(
        reader.unprotect_request(&protected).unwrap().0.payload,
        b"forward secrecy"
    );
    let old = jl.material.key.group_oscore().unwrap();
    let mut leaver = member_context(
        full,
        old,
        Some((&sid(&jl), &l.keys.signing, &l.keys.credential)),
        kdc_cred,
        peers.clone(),
    );
    assert!(leaver.unprotect_request(&protected).is_err());
    let mut guessed = old.clone();
    guessed.oscore.context_id = new_key.oscore.context_id.clone();
    let mut leaver = member_context(
        full,
        &guessed,
        Some((&sid(&jl), &l.keys.signing, &l.keys.credential)),
        kdc_cred,
        peers,
    );
    assert!(leaver.unprotect_request(&protected).is_err());
    // And the leaver is no member any more.
    let r = c.get(&l, "/ace-group/g1").await;
    assert_eq!(
        (r.code, error_id_of(&r.payload)),
        (Code::FORBIDDEN, Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backward_security_rekeys_members_with_the_joiner_credential() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let a = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("gb", RESPONDER)],
            exp,
        )
        .await;
    let (_, ja) = c.join(&a, "gb", RESPONDER, None, true).await;
    assert_eq!(ja.unwrap().material.num, 1);
    let b = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("gb", REQUESTER)],
            exp,
        )
        .await;
    let (_, jb) = c.join(&b, "gb", REQUESTER, None, false).await;
    let jb = jb.unwrap();
    assert_eq!(jb.material.num, 2);
    let pushed = c.next_pushed(WAIT).await.unwrap();
    assert_eq!(pushed.member, a.channel);
    let msg = RekeyingMessage::decode(&pushed.payload).unwrap();
    assert_eq!(msg.material.num, 2);
    let peers = msg.peers.unwrap();
    assert_eq!(peers.creds, vec![b.keys.credential.clone()]);
    assert_eq!(peers.peer_identifiers, vec![sid(&jb)]);
}

/// Waits (bounded) until the KDC holds `n` protected observations.
async fn wait_for_observations(h: &ServiceHarness, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.service.contexts().observation_count() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} observations at the KDC, expected {n}",
            h.service.contexts().observation_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_evicts_with_notices_and_rekeys() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let now = h.now();
    let stays = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", RESPONDER)],
            now + 600,
        )
        .await;
    c.join(&stays, "g1", RESPONDER, None, false).await;
    let short = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            now + 30,
        )
        .await;
    let (r, _) = c.join(&short, "g1", REQUESTER, None, true).await;
    let node = format!("/{}", r.location_path().join("/"));
    let mut node_obs = c.observe(&short, &node).await;
    assert_eq!(node_obs.next().await.unwrap().unwrap().code, Code::CONTENT);
    let mut group_obs = c.observe(&stays, "/ace-group/g1").await;
    group_obs.next().await.unwrap().unwrap();
    assert_eq!(h.service.contexts().observation_count(), 2);

    // Just past the token's expiry: the next tick evicts.
    h.clock.advance(31);

    // The evicted member: DELETE on its control_uri ...
    let pushed = c.next_pushed(WAIT).await.unwrap();
    assert_eq!(
        (pushed.member, pushed.method),
        (short.channel.clone(), ace_coap::Method::Delete)
    );
    // ... and 4.04 with error id 5 on its node observation (the inner code
    // ends the observation; the client stops observing).
    let end = tokio::time::timeout(WAIT, node_obs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(end.code, Code::NOT_FOUND);
    assert_eq!(end.content_format(), Some(cf::CONCISE_PROBLEM_DETAILS_CBOR));
    assert_eq!(error_id_of(&end.payload), Some(5));
    // The notice ended the observation on the wire (RFC 8613 section
    // 4.1.3.5.2, RFC 7641 section 3.2: its outer message has no Observe
    // option): the client's observation is over, nothing follows, and the
    // KDC removed the registration (the other member's stays).
    assert!(
        tokio::time::timeout(WAIT, node_obs.next())
            .await
            .unwrap()
            .is_none()
    );
    wait_for_observations(&h, 1).await;
    // The remaining member: rekeyed (forward security).
    let note = tokio::time::timeout(WAIT, group_obs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let msg = RekeyingMessage::decode(&note.payload).unwrap();
    assert_eq!(msg.material.num, 1);
    assert_eq!(
        h.service.kdc().group_summary("g1").unwrap().members.len(),
        1
    );
    // The expired channel is gone after its grace period.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !h.service
            .contexts()
            .contains(&ace_kdc::ChannelId(short.kdc_id.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_reach_the_running_kdc() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let m = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER), ("g8", REQUESTER)],
            exp,
        )
        .await;
    c.join(&m, "g1", REQUESTER, None, false).await;
    let (r, _) = c.join(&m, "g8", REQUESTER, None, true).await;
    let node8 = r.location_path()[3].clone();
    let mut obs = c.observe(&m, "/ace-group/g1").await;
    obs.next().await.unwrap().unwrap();
    let config = support::config(&h.dir.path().join("kdc.sqlite"), support::GROUPS);
    let store = h.store.clone();
    let now = h.now();
    let submit = move |cmd: Command| {
        let config = config.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            admin::submit(&config, store, &cmd, now, Duration::from_secs(5))
        })
    };
    // Rekey: the observer gets num 1.
    let out = submit(Command::Rekey { group: "g1".into() })
        .await
        .unwrap()
        .unwrap();
    assert!(out.contains("version 1"), "{out}");
    let note = tokio::time::timeout(WAIT, obs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        RekeyingMessage::decode(&note.payload).unwrap().material.num,
        1
    );
    // Evict from g8: a DELETE to the control_uri.
    submit(Command::Evict {
        group: "g8".into(),
        node: node8,
    })
    .await
    .unwrap()
    .unwrap();
    let pushed = c.next_pushed(WAIT).await.unwrap();
    assert_eq!(pushed.method, ace_coap::Method::Delete);
    // Delete g1: the observation ends with 4.04, error id 6.
    submit(Command::Delete { group: "g1".into() })
        .await
        .unwrap()
        .unwrap();
    let end = tokio::time::timeout(WAIT, obs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (end.code, error_id_of(&end.payload)),
        (Code::NOT_FOUND, Some(6))
    );
    // The deletion notice ended the observation on the wire: the client's
    // observation is over and the KDC holds no registration any more.
    assert!(
        tokio::time::timeout(WAIT, obs.next())
            .await
            .unwrap()
            .is_none()
    );
    wait_for_observations(&h, 0).await;
    // A later request from the deleted group's member says so too, so a
    // registration that crossed the notice ends the membership as well.
    let late = c.get(&m, "/ace-group/g1").await;
    assert_eq!(
        (late.code, error_id_of(&late.payload)),
        (Code::NOT_FOUND, Some(6))
    );
    // A failing command reports its error.
    let err = submit(Command::Rekey {
        group: "nosuch".into(),
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(err.to_string().contains("nosuch"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekeying_reaches_a_member_restored_without_replay_state() {
    let tap = std::sync::Arc::new(MemorySink::new());
    let h = {
        let tap = tap.clone();
        ServiceHarness::start_tuned(support::GROUPS, move |o| o.tap(tap)).await
    };
    let c = h.client().await;
    let m = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            h.now() + 600,
        )
        .await;
    let (r, _) = c.join(&m, "g1", REQUESTER, None, true).await;
    assert_eq!(r.code, Code::CREATED);
    // The member restarts: its context with the KDC comes back from its
    // state without a replay window.
    c.restore_member(&m, 1000);
    let mut reports = h.service.delivery_reports();
    h.service
        .execute(&Command::Rekey { group: "g1".into() })
        .unwrap();
    // The rekeying POST arrives all the same: the member challenged it
    // with Echo, and the KDC's OSCORE client layer repeated it with the
    // Echo value (RFC 8613 Appendix B.1.2, RFC 9175 section 2.4).
    let pushed = c.next_pushed(WAIT).await.unwrap();
    assert_eq!(
        (pushed.member, pushed.method),
        (m.channel.clone(), ace_coap::Method::Post)
    );
    assert_eq!(
        RekeyingMessage::decode(&pushed.payload)
            .unwrap()
            .material
            .num,
        1
    );
    let report = tokio::time::timeout(WAIT, reports.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.targets, report.acknowledged, report.failed),
        (1, 1, 0)
    );
    // On the wire: the KDC sent the POST twice (two exchanges, not a
    // retransmission), and the member answered the first with a protected
    // response under a Partial IV of its own (its 4.01 with Echo: a server
    // without replay state must not reuse the request's nonce) and the
    // second with the request's nonce (no Partial IV).
    let member = c.endpoint.local_addr();
    let decoded = |direction: Direction| -> Vec<ace_coap::wire::Message> {
        tap.records()
            .iter()
            .filter(|r| r.direction == direction && r.peer == member)
            .map(|r| ace_coap::wire::decode(&r.bytes).unwrap())
            .filter(|m| m.options.contains(ace_coap::option::number::OSCORE))
            .collect()
    };
    let posts: Vec<_> = decoded(Direction::Out)
        .into_iter()
        .filter(|m| m.code == 0x02)
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_ne!(posts[0].mid, posts[1].mid);
    let answers: Vec<_> = decoded(Direction::In)
        .into_iter()
        .filter(|m| posts.iter().any(|p| p.token == m.token))
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    let partial_iv_len = |m: &ace_coap::wire::Message| {
        m.options
            .iter()
            .find(|(n, _)| *n == ace_coap::option::number::OSCORE)
            .and_then(|(_, v)| v.first().copied())
            .map_or(0, |flags| flags & 0x07)
    };
    assert!(partial_iv_len(&answers[0]) > 0, "{answers:?}");
    assert_eq!(partial_iv_len(&answers[1]), 0, "{answers:?}");
}
