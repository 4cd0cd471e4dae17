//! The full join flow against the real AS and KDC over loopback: creation
//! hints, token, token transfer, join, Group OSCORE context.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientError, JoinOptions};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use std::time::Duration;
use support::World;

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_from_hints_to_group_context() {
    let world = World::start().await;
    let client = world.client("alice").await;
    let outcome = tokio::time::timeout(
        T,
        client.join("g1", REQUESTER | RESPONDER, JoinOptions::default()),
    )
    .await
    .expect("timely")
    .expect("joined");
    assert!(
        outcome.new_token,
        "no token at first: the flow went through the hints"
    );
    assert!(outcome.created, "2.01: a new member");
    assert_eq!(outcome.group, "g1");
    assert!(outcome.sender_id.is_some());
    let view = client.material("g1").unwrap();
    assert_eq!(view.num, outcome.num);
    assert_eq!(view.gid, outcome.gid);
    assert_eq!(view.sign_alg, Some(-8));
    assert_eq!(view.gp_enc_alg, Some(10));
    assert_eq!(view.alg, Some(10));
    assert_eq!(view.ecdh_alg, Some(-27));
    assert!(!view.master_secret.is_empty());
    assert!(view.expires_at.is_some());
    // The KDC agrees: same version, and this client is a member.
    assert_eq!(client.num("g1").await.unwrap(), outcome.num);
    let keys = client.keys("g1").await.unwrap();
    assert_eq!(keys.num, outcome.num);
    // The KDC has the member, with the Sender ID the client got.
    let summary = world.kdc().kdc().group_summary("g1").unwrap();
    assert_eq!(summary.num, outcome.num);
    assert_eq!(summary.gid, outcome.gid);
    assert_eq!(summary.members.len(), 1);
    // The Group OSCORE context uses the material.
    let member = client.group_security("g1").unwrap();
    assert_eq!(member.gid(), outcome.gid);
    assert_eq!(member.key_generation(), Some(outcome.num));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_group_reuses_the_token_that_grants_it() {
    let world = World::start().await;
    let client = world.client("bob").await;
    let opts = JoinOptions {
        more_groups: vec![("g2".into(), REQUESTER)],
        ..JoinOptions::default()
    };
    let first = client.join("g1", REQUESTER, opts).await.unwrap();
    assert!(first.new_token);
    let second = client
        .join("g2", REQUESTER, JoinOptions::default())
        .await
        .unwrap();
    assert!(!second.new_token, "one token for both groups");
    assert_eq!(client.state().sessions.len(), 1);
    assert_eq!(client.groups(), vec!["g1".to_string(), "g2".to_string()]);
    // A group the token does not grant needs a new token: it updates the
    // access rights of the one held, over the same OSCORE context.
    let third = client.join("ges", MONITOR, JoinOptions::default()).await;
    match third {
        Ok(o) => assert!(o.new_token && o.access_rights_updated),
        Err(e) => panic!("{e}"),
    }
    assert_eq!(client.state().sessions.len(), 1);
    // Without the update: a token with a context of its own.
    let opts = JoinOptions {
        update_access_rights: false,
        ..JoinOptions::default()
    };
    let fourth = client.join("gb", MONITOR, opts).await.unwrap();
    assert!(fourth.new_token && !fourth.access_rights_updated);
    assert_eq!(client.state().sessions.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_code_and_error_id() {
    let world = World::start().await;
    let client = world.client("carol").await;
    client
        .join("g1", MONITOR, JoinOptions::default())
        .await
        .unwrap();
    // A monitor has no Sender ID to renew: 4.00 with error id 1.
    let e = client.renew_sender_id("g1").await.unwrap_err();
    assert_eq!(e.code(), Some(ace_proto::code::Code::BAD_REQUEST), "{e}");
    assert_eq!(
        e.error_id(),
        Some(ace_proto::consts::groupcomm::ErrorId::InconsistentWithRoles),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("Request inconsistent with the current roles"),
        "{e}"
    );
    // An unknown group is refused before anything else by the AS policy
    // or the KDC.
    let e = client
        .join("nope", REQUESTER, JoinOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Rejected(_) | ClientError::TokenRefused { .. }
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cnonce_of_the_hints_travels_through_the_token() {
    // This KDC refuses tokens without a cnonce it issued: the join works
    // only because the client copied the hint's cnonce into its token
    // request and the AS into the token.
    let world = World::start_requiring_cnonce().await;
    let client = world.client("dave").await;
    let outcome = tokio::time::timeout(T, client.join("g1", REQUESTER, JoinOptions::default()))
        .await
        .expect("timely")
        .expect("joined");
    assert!(outcome.new_token);
}
