//! Rekeying against the real KDC: a new version installed from an Observe
//! notification or a POST to `control_uri` (`num = V + 1`), missed
//! rekeyings recovered through `/stale-sids` or a re-join, and the keys of
//! a member that left unable to read what follows.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientEvent, GroupClient, JoinOptions, RekeySource};
use ace_coap::{Request, Response, SharedHandler};
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use group_oscore::group::RequestMode;
use std::sync::Arc;
use std::time::Duration;
use support::{World, wait_event};

const T: Duration = Duration::from_secs(30);

fn echo_handler() -> SharedHandler {
    Arc::new(|req: Request| async move { Response::content(req.payload) })
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(T, f).await.expect("bounded")
}

async fn client(world: &World, name: &str, observe: bool, control_uri: bool) -> GroupClient {
    let mut config = world.client_config(name);
    config.observe = observe;
    config.control_uri = control_uri;
    GroupClient::start(config).await.unwrap()
}

/// A rekeying on a join (backward security) reaches a member through each
/// delivery path and is installed as `V + 1`; the members then talk under
/// the new material.
async fn join_rekey_through(observe: bool, control_uri: bool, source: RekeySource) {
    let world = World::start().await;
    let a = client(&world, "a", observe, control_uri).await;
    let joined = a
        .join("gb", RESPONDER, JoinOptions::default())
        .await
        .unwrap();
    a.serve("gb", echo_handler()).unwrap();
    let mut events = a.events();
    let b = client(&world, "b", false, false).await;
    let b_joined = b
        .join("gb", REQUESTER, JoinOptions::default())
        .await
        .unwrap();
    assert_eq!(
        b_joined.num,
        joined.num + 1,
        "backward security: rekeyed for B"
    );
    let e = wait_event(&mut events, T, |e| matches!(e, ClientEvent::Rekeyed { .. })).await;
    assert_eq!(
        e,
        ClientEvent::Rekeyed {
            group: "gb".into(),
            num: joined.num + 1,
            source
        }
    );
    assert_eq!(a.current_num("gb"), Some(b_joined.num));
    assert_eq!(a.group_security("gb").unwrap().gid(), b_joined.gid);
    b.set_group_targets("gb", None, vec![a.local_addr()])
        .unwrap();
    let replies = b
        .group_request("gb", Request::post("/echo").with_payload("after rekey"), T)
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].payload, b"after rekey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_installed_from_an_observe_notification() {
    bounded(join_rekey_through(true, false, RekeySource::Notification)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_installed_from_a_post_to_control_uri() {
    bounded(join_rekey_through(false, true, RekeySource::ControlUri)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_rekeys_the_others_and_the_leavers_keys_cannot_read_what_follows() {
    bounded(async {
        let world = World::start().await;
        let responder = client(&world, "responder", true, true).await;
        let requester = client(&world, "requester", true, true).await;
        let leaver = client(&world, "leaver", true, true).await;
        let v0 = responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap()
            .num;
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        leaver
            .join("g1", REQUESTER | RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", echo_handler()).unwrap();
        let old = leaver.group_security("g1").unwrap();
        let mut events = requester.events();
        leaver.leave("g1").await.unwrap();
        assert!(leaver.groups().is_empty());
        assert_eq!(leaver.current_num("g1"), None);
        wait_event(
            &mut events,
            T,
            |e| matches!(e, ClientEvent::Rekeyed { num, .. } if *num == v0 + 1),
        )
        .await;
        support::eventually(T, || responder.current_num("g1") == Some(v0 + 1)).await;
        let summary = world.kdc().kdc().group_summary("g1").unwrap();
        assert_eq!(summary.num, v0 + 1);
        assert_eq!(summary.members.len(), 2);
        // The remaining members talk under the new material.
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        let replies = requester
            .group_request("g1", Request::post("/x").with_payload("secret"), T)
            .await
            .unwrap();
        assert_eq!(replies.len(), 1);
        // A message under the new keys does not verify with the leaver's.
        let member = requester.group_security("g1").unwrap();
        let (outer, _) = member
            .protect_request(
                &Request::post("/x").with_payload("secret"),
                &RequestMode::Group,
            )
            .unwrap();
        let packet = ace_coap::oscore::convert::request_to_packet(&outer);
        let refused = old.update(|g| g.unprotect_request(&packet));
        assert!(
            refused.is_err(),
            "the leaver's keys must not read the new traffic"
        );
        assert_ne!(old.gid(), member.gid());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_rekeyings_are_recovered_by_polling_with_stale_sids() {
    bounded(async {
        let world = World::start().await;
        let mut config = world.client_config("sleepy");
        config.observe = false;
        config.control_uri = false;
        config.key_check_interval = Some(Duration::from_millis(300));
        let sleepy = GroupClient::start(config).await.unwrap();
        let v0 = sleepy.join("g1", RESPONDER, JoinOptions::default()).await.unwrap().num;
        let mut events = sleepy.events();
        // Two members come and go: two rekeyings the sleepy one misses.
        let mut gone = Vec::new();
        for name in ["x", "y"] {
            let c = client(&world, name, false, false).await;
            c.join("g1", REQUESTER | RESPONDER, JoinOptions::default()).await.unwrap();
            gone.push(c.sender_id("g1").unwrap());
            sleepy.creds("g1", None).await.unwrap();
            c.leave("g1").await.unwrap();
        }
        let now = world.kdc().kdc().group_summary("g1").unwrap().num;
        assert_eq!(now, v0 + 2);
        let gap = wait_event(&mut events, T, |e| matches!(e, ClientEvent::RekeyGap { .. })).await;
        assert_eq!(
            gap,
            ClientEvent::RekeyGap {
                group: "g1".into(),
                from: v0,
                to: v0 + 2
            }
        );
        wait_event(&mut events, T, |e| {
            matches!(e, ClientEvent::Rekeyed { num, source: RekeySource::Fetched, .. } if *num == v0 + 2)
        })
        .await;
        // The stale Sender IDs were removed with their credentials.
        let known = sleepy.material("g1").unwrap().members;
        for sid in gone {
            assert!(!known.iter().any(|m| m.sender_id == sid), "stale member kept");
        }
    })
    .await;
}

const FEW_STALE_SETS: &str = r#"
[[groups]]
name = "g1"
max_stale_sets = 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_beyond_the_stored_stale_sets_is_recovered_by_joining_again() {
    bounded(async {
        let world = World::start_with(FEW_STALE_SETS, 3600).await;
        let sleepy = client(&world, "sleepy", false, false).await;
        let first = sleepy
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        let mut events = sleepy.events();
        for name in ["x", "y", "z"] {
            let c = client(&world, name, false, false).await;
            c.join("g1", REQUESTER, JoinOptions::default())
                .await
                .unwrap();
            c.leave("g1").await.unwrap();
        }
        let view = sleepy.keys("g1").await.unwrap();
        let kdc = world.kdc().kdc().group_summary("g1").unwrap();
        assert_eq!(view.num, kdc.num);
        assert_eq!(view.gid, kdc.gid);
        wait_event(&mut events, T, |e| {
            matches!(
                e,
                ClientEvent::Rekeyed {
                    source: RekeySource::Rejoin,
                    ..
                }
            )
        })
        .await;
        // The re-join gave a new Sender ID (never reused under a Gid).
        assert_ne!(sleepy.sender_id("g1"), first.sender_id);
    })
    .await;
}
