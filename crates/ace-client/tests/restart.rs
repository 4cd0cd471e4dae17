//! Continuity: a KDC restarted on the same address (the client's channel
//! recovers through Echo, rekeying reaches it at its `control_uri`), and a
//! client restored from its state in a new process-like instance (tokens,
//! channels, groups and sequence numbers carried over).

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientEvent, GroupClient, JoinOptions, RekeySource};
use ace_coap::{Request, Response, SharedHandler};
use ace_kdc::admin::Command;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use std::sync::Arc;
use std::time::Duration;
use support::{World, wait_event};

const T: Duration = Duration::from_secs(30);

fn echo_handler() -> SharedHandler {
    Arc::new(|req: Request| async move { Response::content(req.payload) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_continue_across_a_kdc_restart() {
    tokio::time::timeout(T, async {
        let mut world = World::start().await;
        let client = world.client("a").await;
        let v0 = client
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap()
            .num;
        let addr = world.kdc_addr;
        world.kdc.take().unwrap().shutdown().await;
        world.start_kdc(Some(addr)).await;
        // The restored channel has no replay window: the first request is
        // challenged with Echo and repeated.
        assert_eq!(client.num("g1").await.unwrap(), v0);
        let mut events = client.events();
        world
            .kdc()
            .execute(&Command::Rekey { group: "g1".into() })
            .unwrap();
        // Delivered to control_uri (the KDC kept the channel), or as a
        // notification once the observation is registered again.
        let e = wait_event(&mut events, T, |e| matches!(e, ClientEvent::Rekeyed { .. })).await;
        let ClientEvent::Rekeyed { group, num, source } = e else {
            unreachable!()
        };
        assert_eq!((group.as_str(), num), ("g1", v0 + 1));
        assert!(
            matches!(source, RekeySource::ControlUri | RekeySource::Notification),
            "{source:?}"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_restored_from_its_state_keeps_its_groups_and_channels() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", echo_handler()).unwrap();
        let config = world.client_config("requester");
        let first = GroupClient::start(config.clone()).await.unwrap();
        let joined = first
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        first
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        let replies = first
            .group_request("g1", Request::post("/e").with_payload("before"), T)
            .await
            .unwrap();
        assert_eq!(replies.len(), 1);
        let state = first.state();
        first.shutdown().await;
        drop(first);
        // Through JSON, as the CLI keeps it.
        let state = ace_client::ClientState::from_json(&state.to_json()).unwrap();
        let again = GroupClient::restore(config, &state).await.unwrap();
        assert_eq!(again.groups(), vec!["g1".to_string()]);
        assert_eq!(again.sender_id("g1"), joined.sender_id);
        // The KDC channel works (sequence numbers above every one used).
        assert_eq!(again.num("g1").await.unwrap(), joined.num);
        // The group context works: the responder's replay window accepts
        // the resumed sequence numbers.
        let replies = again
            .group_request("g1", Request::post("/e").with_payload("after"), T)
            .await
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].payload, b"after");
        // The stored token grants only g1: another group needs a new one.
        let g2 = again
            .join("g2", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        assert!(g2.new_token);
        assert_eq!(again.state().sessions.len(), 2);
    })
    .await
    .expect("bounded");
}
