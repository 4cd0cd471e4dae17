//! The access-rights update of RFC 9203 section 4.1 and RFC 9594 section
//! 3.3, against the real AS and KDC: joining a group the current token does
//! not grant gets a token for the old scope plus the group, with `req_cnf`
//! naming the Input Material of the token held, and POSTs it to
//! `/authz-info` over the existing OSCORE context, which stays (sequence
//! numbers go on, observations live on).

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientEvent, GroupClient, JoinOptions, Label, RekeySource};
use ace_kdc::admin::Command;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use ace_proto::scope::ScopeEntry;
use std::time::Duration;
use support::{World, eventually, wait_event};

const T: Duration = Duration::from_secs(30);

async fn update_keeps_the_context(world: &World) {
    let mut config = world.client_config("updater");
    config.observe = true;
    config.control_uri = false;
    let client = GroupClient::start(config).await.unwrap();
    let first = client
        .join("g1", REQUESTER, JoinOptions::default())
        .await
        .unwrap();
    assert!(first.new_token && !first.access_rights_updated);
    eventually(T, || client.is_observing("g1")).await;
    let before = client.state();
    assert_eq!(before.sessions.len(), 1);
    let id1 = before.sessions[0].id1.clone();
    let label = Label::Kdc(id1.clone());
    let contexts = client.oscore().contexts().clone();
    let ssn_before = contexts.sender_sequence_number(&label).unwrap();
    let mut events = client.events();

    // g2 is not granted: the access rights are updated.
    let second = client
        .join("g2", RESPONDER, JoinOptions::default())
        .await
        .unwrap();
    assert!(second.new_token && second.access_rights_updated);
    let after = client.state();
    assert_eq!(after.sessions.len(), 1, "no second context");
    let session = &after.sessions[0];
    assert_eq!(session.id1, id1);
    assert_eq!(session.nonce2, before.sessions[0].nonce2, "same context");
    assert_ne!(session.token, before.sessions[0].token, "a new token");
    let granted = session.session().unwrap().granted;
    assert!(granted.covers(&ScopeEntry::aif("g1", REQUESTER)));
    assert!(granted.covers(&ScopeEntry::aif("g2", RESPONDER)));
    // The context went on: its Sender Sequence Number did not start over.
    let ssn_after = contexts.sender_sequence_number(&label).unwrap();
    assert!(ssn_after > ssn_before, "{ssn_before} -> {ssn_after}");
    // Both memberships work over it.
    assert_eq!(client.num("g1").await.unwrap(), first.num);
    assert_eq!(client.num("g2").await.unwrap(), second.num);

    // The observation of g1 made before the update lives on: the next
    // rekeying arrives as its notification, without a new registration.
    world
        .kdc()
        .execute(&Command::Rekey { group: "g1".into() })
        .unwrap();
    let e = wait_event(
        &mut events,
        T,
        |e| matches!(e, ClientEvent::Rekeyed { group, .. } if group == "g1"),
    )
    .await;
    assert_eq!(
        e,
        ClientEvent::Rekeyed {
            group: "g1".into(),
            num: first.num + 1,
            source: RekeySource::Notification
        }
    );
    let mut renewed = false;
    while let Ok(e) = events.try_recv() {
        renewed |= matches!(e, ClientEvent::ObservationRenewed { .. });
    }
    assert!(!renewed, "the observation was not registered again");

    // A third group: updated again, the same context still.
    let third = client
        .join("ges", MONITOR, JoinOptions::default())
        .await
        .unwrap();
    assert!(third.access_rights_updated);
    assert_eq!(client.state().sessions.len(), 1);
    assert_eq!(client.groups().len(), 3);
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_token_does_not_grant_updates_the_access_rights_over_the_context() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        update_keeps_the_context(&world).await;
    })
    .await
    .expect("bounded");
}

/// A KDC that requires the `cnonce` of its hints in every token checks it
/// in an updated token too: the client asks for hints first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_update_carries_the_cnonce_of_fresh_hints() {
    tokio::time::timeout(T, async {
        let world = World::start_requiring_cnonce().await;
        update_keeps_the_context(&world).await;
    })
    .await
    .expect("bounded");
}

/// A restored client updates the access rights of the token in its state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_client_updates_the_token_of_its_state() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let config = world.client_config("restored");
        let first = GroupClient::start(config.clone()).await.unwrap();
        first
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        first.shutdown().await;
        let state = first.state();
        drop(first);
        let again = GroupClient::restore(config, &state).await.unwrap();
        let joined = again
            .join("g2", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        assert!(joined.access_rights_updated);
        let now = again.state();
        assert_eq!(now.sessions.len(), 1);
        assert_eq!(now.sessions[0].id1, state.sessions[0].id1);
        assert_eq!(again.num("g1").await.unwrap(), 0);
    })
    .await
    .expect("bounded");
}

/// A pairwise-only group proves possession with a MAC over the KDC's
/// Diffie-Hellman key, which only a token transfer that sets up a context
/// hands out (`kdc_dh_creds`), not an update: refused after the update
/// (error id 2), the join goes on under a token with its own context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairwise_only_group_gets_a_context_of_its_own() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let client = world.client("pairwise").await;
        client
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let joined = client
            .join("gp", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        assert!(joined.new_token && !joined.access_rights_updated);
        assert_eq!(client.state().sessions.len(), 2);
        assert_eq!(client.num("g1").await.unwrap(), 0);
        assert_eq!(client.num("gp").await.unwrap(), joined.num);
    })
    .await
    .expect("bounded");
}
