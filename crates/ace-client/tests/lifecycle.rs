//! After the join, against the real KDC: Sender ID renewal (on request and
//! before the sequence numbers run out), credentials with each filter form,
//! the KDC credential and the policies, expiry of the keying material,
//! eviction and group deletion.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientError, ClientEvent, GroupClient, JoinOptions, SystemClock};
use ace_coap::{Request, Response, SharedHandler};
use ace_kdc::admin::Command;
use ace_proto::groupcomm::CredsFilter;
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use std::sync::Arc;
use std::time::Duration;
use support::{World, wait_event};

const T: Duration = Duration::from_secs(30);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(T, f).await.expect("bounded")
}

fn echo_handler() -> SharedHandler {
    Arc::new(|req: Request| async move { Response::content(req.payload) })
}

async fn ask(requester: &GroupClient, text: &str) -> Vec<Vec<u8>> {
    requester
        .group_request(
            "g1",
            Request::post("/e").with_payload(text),
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.payload)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_sender_ids_keep_the_members_talking() {
    bounded(async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        let requester = world.client("requester").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", echo_handler()).unwrap();
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        assert_eq!(ask(&requester, "one").await, vec![b"one".to_vec()]);

        // The requester renews: the responder learns the new Sender ID's
        // credential from the KDC on first contact.
        let old = requester.sender_id("g1").unwrap();
        let new = requester.renew_sender_id("g1").await.unwrap();
        assert_ne!(old, new);
        assert_eq!(requester.sender_id("g1"), Some(new.clone()));
        let summary = world.kdc().kdc().group_summary("g1").unwrap();
        assert!(
            summary
                .members
                .iter()
                .any(|m| m.sender_id.as_deref() == Some(&new[..]))
        );
        assert_eq!(ask(&requester, "two").await, vec![b"two".to_vec()]);

        // The responder renews: its replay windows restart invalid, so the
        // requester's next request goes through an Echo round trip.
        let mut events = responder.events();
        let r_new = responder.renew_sender_id("g1").await.unwrap();
        wait_event(&mut events, T, |e| {
            matches!(e, ClientEvent::SenderIdRenewed { .. })
        })
        .await;
        let replies = requester
            .group_request("g1", Request::post("/e").with_payload("three"), T)
            .await
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].payload, b"three");
        assert_eq!(replies[0].kid, r_new);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sender_id_is_asked_for_before_the_sequence_numbers_run_out() {
    bounded(async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", echo_handler()).unwrap();
        let mut config = world.client_config("requester");
        // Pretend the number space is almost used up: renew once fewer
        // than 2^40 - 3 numbers are left, i.e. after a few messages.
        config.sender_id_renewal_margin = group_oscore::sequence::MAX_SEQUENCE_NUMBER - 3;
        let requester = GroupClient::start(config).await.unwrap();
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        let first = requester.sender_id("g1").unwrap();
        let mut events = requester.events();
        for i in 0..5 {
            ask(&requester, &format!("m{i}")).await;
        }
        let e = wait_event(&mut events, T, |e| {
            matches!(e, ClientEvent::SenderIdRenewed { .. })
        })
        .await;
        let ClientEvent::SenderIdRenewed { sender_id, .. } = e else {
            unreachable!()
        };
        assert_ne!(sender_id, first);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_with_each_filter_form() {
    bounded(async {
        let world = World::start().await;
        let a = world.client("a").await;
        let b = world.client("b").await;
        let c = world.client("c").await;
        let d = world.client("d").await;
        a.join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        b.join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        c.join("g1", REQUESTER | RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        d.join("g1", MONITOR, JoinOptions::default()).await.unwrap();
        let sid = |x: &GroupClient| x.sender_id("g1").unwrap();
        let sorted = |mut v: Vec<Vec<u8>>| {
            v.sort();
            v
        };
        // GET: every member with a credential (the monitor has none).
        let all = d.creds("g1", None).await.unwrap();
        assert_eq!(
            sorted(all.peer_identifiers.clone()),
            sorted(vec![sid(&a), sid(&b), sid(&c)])
        );
        assert_eq!(all.creds.len(), 3);
        // Role filter: Responders.
        let responders = a
            .creds("g1", Some(CredsFilter::roles(vec![Roles::Aif(RESPONDER)])))
            .await
            .unwrap();
        assert_eq!(
            sorted(responders.peer_identifiers),
            sorted(vec![sid(&b), sid(&c)])
        );
        // A role combination: Requester and Responder.
        let both = a
            .creds(
                "g1",
                Some(CredsFilter::roles(vec![Roles::Aif(REQUESTER | RESPONDER)])),
            )
            .await
            .unwrap();
        assert_eq!(both.peer_identifiers, vec![sid(&c)]);
        // Id filter, inclusive.
        let listed = a
            .creds(
                "g1",
                Some(CredsFilter {
                    inclusion_flag: true,
                    role_filter: vec![],
                    id_filter: vec![sid(&b)],
                }),
            )
            .await
            .unwrap();
        assert_eq!(listed.peer_identifiers, vec![sid(&b)]);
        // Exclusive: everyone but the listed.
        let others = a
            .creds(
                "g1",
                Some(CredsFilter {
                    inclusion_flag: false,
                    role_filter: vec![],
                    id_filter: vec![sid(&b)],
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            sorted(others.peer_identifiers),
            sorted(vec![sid(&a), sid(&c)])
        );
        // Roles and ids, inclusive: Responders or listed.
        let either = d
            .creds(
                "g1",
                Some(CredsFilter {
                    inclusion_flag: true,
                    role_filter: vec![Roles::Aif(RESPONDER)],
                    id_filter: vec![sid(&a)],
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            sorted(either.peer_identifiers),
            sorted(vec![sid(&a), sid(&b), sid(&c)])
        );
        // Both filters empty: malformed (4.00).
        let e = a
            .creds(
                "g1",
                Some(CredsFilter {
                    inclusion_flag: true,
                    role_filter: vec![],
                    id_filter: vec![],
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ace_proto::code::Code::BAD_REQUEST), "{e}");
        // The credentials are the clients' own bytes.
        let b_cred = b.material("g1").unwrap().own_credential;
        assert!(all.creds.contains(&b_cred));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kdc_credential_and_policies() {
    bounded(async {
        let world = World::start().await;
        let a = world.client("a").await;
        a.join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let before = a.material("g1").unwrap().kdc_cred;
        a.kdc_cred("g1").await.unwrap();
        assert_eq!(a.material("g1").unwrap().kdc_cred, before);
        let policies = a.policies("g1").await.unwrap();
        assert_eq!(policies.key_update_check_interval_or_default(), 3600);
        assert_eq!(policies.expiration_delta_or_default(), 0);
        // A group the client is not a member of.
        let e = a.policies("g2").await.unwrap_err();
        assert!(matches!(e, ClientError::NotMember(_)), "{e}");
    })
    .await;
}

const SHORT_LIVED: &str = r#"
[[groups]]
name = "g1"
key_lifetime = 30
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_material_is_never_used_and_newer_material_revives_the_group() {
    bounded(async {
        let world = World::start_with(SHORT_LIVED, 3600).await;
        let responder = world.client("responder").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", echo_handler()).unwrap();
        let clock = Arc::new(SystemClock::default());
        let mut config = world.client_config("requester");
        config.clock = clock.clone();
        config.key_check_interval = Some(Duration::from_millis(100));
        let requester = GroupClient::start(config).await.unwrap();
        let v0 = requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap()
            .num;
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        assert_eq!(ask(&requester, "fresh").await.len(), 1);
        let mut events = requester.events();
        // The requester's clock passes the expiry; the KDC has nothing newer
        // yet: the material goes out of use.
        clock.advance(31);
        wait_event(&mut events, T, |e| {
            matches!(e, ClientEvent::MaterialExpired { .. })
        })
        .await;
        let e = requester
            .group_request(
                "g1",
                Request::post("/e").with_payload("stale"),
                Duration::from_millis(200),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::MaterialExpired { .. }), "{e}");
        // The KDC's clock passes it too: it rekeys, the notification
        // revives the group.
        world.kdc_clock.advance(31);
        wait_event(
            &mut events,
            T,
            |e| matches!(e, ClientEvent::Rekeyed { num, .. } if *num == v0 + 1),
        )
        .await;
        support::eventually(T, || responder.current_num("g1") == Some(v0 + 1)).await;
        assert_eq!(ask(&requester, "renewed").await, vec![b"renewed".to_vec()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_and_group_deletion_end_the_membership() {
    bounded(async {
        let world = World::start().await;
        let a = world.client("a").await;
        let b = world.client("b").await;
        let joined = a
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        b.join("g2", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let mut a_events = a.events();
        let mut b_events = b.events();
        world
            .kdc()
            .execute(&Command::Evict {
                group: "g1".into(),
                node: joined.node.clone(),
            })
            .unwrap();
        wait_event(&mut a_events, T, |e| {
            matches!(e, ClientEvent::Evicted { .. })
        })
        .await;
        assert!(a.groups().is_empty());
        world
            .kdc()
            .execute(&Command::Delete { group: "g2".into() })
            .unwrap();
        let e = wait_event(&mut b_events, T, |e| {
            matches!(e, ClientEvent::GroupDeleted { .. })
        })
        .await;
        assert_eq!(e, ClientEvent::GroupDeleted { group: "g2".into() });
        assert!(b.groups().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_control_uri_an_eviction_is_noticed_through_the_observations() {
    bounded(async {
        let world = World::start().await;
        let mut config = world.client_config("a");
        config.control_uri = false;
        let a = GroupClient::start(config).await.unwrap();
        let joined = a
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        support::eventually(T, || a.is_observing("g1")).await;
        // The node resource is observed beside the group resource.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut events = a.events();
        world
            .kdc()
            .execute(&Command::Evict {
                group: "g1".into(),
                node: joined.node,
            })
            .unwrap();
        wait_event(&mut events, T, |e| matches!(e, ClientEvent::Evicted { .. })).await;
        assert!(a.groups().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_saying_not_a_member_ends_the_local_membership() {
    bounded(async {
        let world = World::start().await;
        let mut config = world.client_config("a");
        config.control_uri = false;
        config.observe = false;
        let a = GroupClient::start(config).await.unwrap();
        let joined = a
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let mut events = a.events();
        // Evicted while not listening: the next request learns it.
        world
            .kdc()
            .execute(&Command::Evict {
                group: "g1".into(),
                node: joined.node,
            })
            .unwrap();
        let e = a.num("g1").await.unwrap_err();
        assert_eq!(e.code(), Some(ace_proto::code::Code::FORBIDDEN), "{e}");
        assert_eq!(
            e.error_id(),
            Some(ace_proto::consts::groupcomm::ErrorId::OnlyGroupMembers)
        );
        wait_event(&mut events, T, |e| matches!(e, ClientEvent::Evicted { .. })).await;
        assert!(a.groups().is_empty());
    })
    .await;
}
