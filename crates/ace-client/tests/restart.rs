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
        // The stored token grants only g1: another group needs a new one,
        // which updates its access rights over the restored context.
        let g2 = again
            .join("g2", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        assert!(g2.new_token && g2.access_rights_updated);
        assert_eq!(again.state().sessions.len(), 1);
    })
    .await
    .expect("bounded");
}

/// A Monitor never sends, so it cannot ask a member for Echo (RFC 10021
/// section 9): restored without its replay windows it hears nothing until
/// the next rekeying. Restored from a state taken after it stopped, it
/// hears fresh requests at once and still drops a replayed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_restored_with_its_replay_windows_hears_fresh_requests_and_drops_replays() {
    use ace_coap::tap::{Direction, MemorySink};
    use ace_proto::roles::group_oscore::MONITOR;
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let mut requester_config = world.client_config("requester");
        let sent = Arc::new(MemorySink::new());
        requester_config.taps = vec![sent.clone()];
        let requester = GroupClient::start(requester_config).await.unwrap();
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let mut monitor_config = world.client_config("monitor");
        monitor_config.observe = false;
        monitor_config.control_uri = false;
        let monitor = GroupClient::start(monitor_config.clone()).await.unwrap();
        monitor
            .join("g1", MONITOR, JoinOptions::default())
            .await
            .unwrap();
        monitor.serve("g1", echo_handler()).unwrap();
        let heard = |events: &mut tokio::sync::broadcast::Receiver<ClientEvent>| {
            let mut payloads = Vec::new();
            while let Ok(e) = events.try_recv() {
                if let ClientEvent::MessageReceived { payload, .. } = e {
                    payloads.push(payload);
                }
            }
            payloads
        };
        let window = Duration::from_millis(600);
        let mut events = monitor.events();
        requester
            .set_group_targets("g1", None, vec![monitor.local_addr()])
            .unwrap();
        let replies = requester
            .group_request("g1", Request::post("/e").with_payload("one"), window)
            .await
            .unwrap();
        assert!(replies.is_empty(), "a Monitor does not answer");
        assert_eq!(heard(&mut events), vec![b"one".to_vec()]);
        let captured = sent
            .records()
            .into_iter()
            .rev()
            .find(|r| r.direction == Direction::Out && r.peer == monitor.local_addr())
            .unwrap()
            .bytes;

        // A state taken while running has no windows; after the shutdown
        // it has them.
        assert!(monitor.state().groups[0].replay.is_none());
        monitor.shutdown().await;
        let state = monitor.state();
        let saved = state.groups[0].replay.clone().unwrap();
        assert!(saved.windows.iter().all(|w| w.window.is_some()));
        drop(monitor);
        let state = ace_client::ClientState::from_json(&state.to_json()).unwrap();

        // Without the windows (as after a crash): deaf to a fresh request.
        let mut lost = state.clone();
        lost.groups[0].replay = None;
        let deaf = GroupClient::restore(monitor_config.clone(), &lost)
            .await
            .unwrap();
        deaf.serve("g1", echo_handler()).unwrap();
        let mut deaf_events = deaf.events();
        requester
            .set_group_targets("g1", None, vec![deaf.local_addr()])
            .unwrap();
        requester
            .group_request("g1", Request::post("/e").with_payload("two"), window)
            .await
            .unwrap();
        assert!(heard(&mut deaf_events).is_empty());
        deaf.shutdown().await;
        drop(deaf);

        // With them: the replayed datagram is dropped, a fresh request heard.
        let restored = GroupClient::restore(monitor_config, &state).await.unwrap();
        restored.serve("g1", echo_handler()).unwrap();
        let mut events = restored.events();
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(&captured, restored.local_addr())
            .await
            .unwrap();
        tokio::time::sleep(window).await;
        assert!(heard(&mut events).is_empty(), "a replay is not delivered");
        requester
            .set_group_targets("g1", None, vec![restored.local_addr()])
            .unwrap();
        requester
            .group_request("g1", Request::post("/e").with_payload("three"), window)
            .await
            .unwrap();
        assert_eq!(heard(&mut events), vec![b"three".to_vec()]);
    })
    .await
    .expect("bounded");
}

/// Observations do not survive a KDC restart (RFC 7641 keeps them in
/// memory). A member that only observes notices it at its next poll of
/// `/num` (the restarted KDC asks for Echo: it lost the context's replay
/// state), registers again, and receives the next rekeying as a
/// notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_registers_again_after_a_kdc_restart() {
    tokio::time::timeout(T, async {
        let mut world = World::start().await;
        let mut config = world.client_config("watcher");
        config.control_uri = false;
        config.observe = true;
        config.key_check_interval = Some(Duration::from_millis(300));
        let watcher = GroupClient::start(config).await.unwrap();
        let mut events = watcher.events();
        let v0 = watcher
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap()
            .num;
        support::eventually(T, || watcher.is_observing("g1")).await;
        let addr = world.kdc_addr;
        world.kdc.take().unwrap().shutdown().await;
        world.start_kdc(Some(addr)).await;
        // The next poll meets the Echo challenge: registered again.
        let e = wait_event(&mut events, T, |e| {
            matches!(e, ClientEvent::ObservationRenewed { .. })
        })
        .await;
        assert_eq!(e, ClientEvent::ObservationRenewed { group: "g1".into() });
        world
            .kdc()
            .execute(&Command::Rekey { group: "g1".into() })
            .unwrap();
        let e = wait_event(&mut events, T, |e| matches!(e, ClientEvent::Rekeyed { .. })).await;
        assert_eq!(
            e,
            ClientEvent::Rekeyed {
                group: "g1".into(),
                num: v0 + 1,
                source: RekeySource::Notification
            }
        );
    })
    .await
    .expect("bounded");
}
