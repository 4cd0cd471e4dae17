//! Figures for BENCHMARKS.md (a benchmark target, not run by the test
//! command):
//!
//! ```text
//! cargo bench -p ace-client --bench client_flow
//! ```
//!
//! Over loopback against the real AS and KDC in this process: the latency
//! of the full join flow of a new client (request without token, hints,
//! token from the AS over OSCORE, token transfer, join with PoP and the
//! check of the KDC's PoP, Group OSCORE context), of a join under an
//! existing token, and of a Group OSCORE request answered by one member.

#![allow(clippy::unwrap_used)] // a benchmark may unwrap

#[path = "../tests/support/mod.rs"]
mod support;

use ace_client::JoinOptions;
use ace_coap::{Request, Response, SharedHandler};
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::World;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let p = |q: f64| samples[((n as f64 - 1.0) * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / n as u32;
    println!(
        "{name}: n={n} mean={:.2} ms p50={:.2} ms p90={:.2} ms max={:.2} ms",
        mean.as_secs_f64() * 1e3,
        p(0.5).as_secs_f64() * 1e3,
        p(0.9).as_secs_f64() * 1e3,
        p(1.0).as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let world = World::start().await;
    let rounds = 100;
    let mut full = Vec::new();
    let mut reuse = Vec::new();
    let mut clients = Vec::new();
    for i in 0..rounds {
        let client = world.client(&format!("m{i}")).await;
        // The token asks for g2 too, so that the second join reuses it.
        let opts = JoinOptions {
            more_groups: vec![("g2".into(), REQUESTER)],
            ..JoinOptions::default()
        };
        let t = Instant::now();
        let outcome = client.join("g1", REQUESTER, opts).await.unwrap();
        full.push(t.elapsed());
        assert!(outcome.new_token);
        let t = Instant::now();
        let outcome = client
            .join("g2", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        reuse.push(t.elapsed());
        assert!(!outcome.new_token);
        clients.push(client);
    }
    summary("join, full flow (hints, token, authz-info, join)", full);
    summary("join under an existing token", reuse);

    let responder = world.client("responder").await;
    responder
        .join("g1", RESPONDER, JoinOptions::default())
        .await
        .unwrap();
    let handler: SharedHandler =
        Arc::new(|req: Request| async move { Response::content(req.payload) });
    responder.serve("g1", handler).unwrap();
    let requester = &clients[0];
    requester
        .set_group_targets("g1", None, vec![responder.local_addr()])
        .unwrap();
    let mut rtt = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        let replies = requester
            .group_request(
                "g1",
                Request::post("/e").with_payload(format!("{i}")),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        rtt.push(t.elapsed());
        assert_eq!(replies.len(), 1);
    }
    summary(
        "group-mode request to one listed member, pairwise response",
        rtt,
    );
}
