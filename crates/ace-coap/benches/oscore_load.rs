//! OSCORE request rate over loopback, next to plain CoAP measured the same
//! way in the same run: N concurrent clients (each with its own endpoint
//! and, for OSCORE, its own security context), closed loop, a small GET.
//! A benchmark target (not run by the test command):
//!
//! ```text
//! cargo bench -p ace-coap --bench oscore_load
//! ```
//!
//! `ACE_LOAD_SECS` (default 3, at most 60) sets the measured seconds per
//! round, `ACE_LOAD_CLIENTS` (default 8) the clients, `ACE_LOAD_KIND`
//! (`plain`, `oscore`, default both) what is measured (one kind alone is
//! for profiling). Rounds alternate plain and OSCORE so that the load of a
//! shared machine affects both alike. The
//! clients run in the same process as the server, so the figures include
//! the clients' protection work too.
#![allow(clippy::unwrap_used)] // a benchmark may unwrap

#[path = "../tests/oscore_support/mod.rs"]
mod oscore_support;

use ace_coap::oscore::{self, OscoreClient, OscoreContexts};
use ace_coap::{CoapEndpoint, EndpointConfig, Layer, ProtocolConfig, Request, Response, Router};
use oscore_support::{loopback, pair};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// At most this many requests per round, whatever the duration.
const MAX_REQUESTS: usize = 2_000_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn router() -> Router {
    Router::new().get("/time", |_req: Request| async {
        Response::content("12:00:00")
    })
}

fn config() -> EndpointConfig {
    EndpointConfig::new(loopback()).protocol(oscore::protocol_config(ProtocolConfig::default()))
}

enum Kind {
    Plain,
    Oscore,
}

struct Round {
    requests: usize,
    seconds: f64,
    latencies_us: Vec<u32>,
}

impl Round {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> u32 {
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us.get(i).copied().unwrap_or(0)
    }
}

async fn run(kind: &Kind, clients: u8, duration: Duration) -> Round {
    let server_table = OscoreContexts::<u8>::new();
    let handler = match kind {
        Kind::Plain => router().into_handler(),
        Kind::Oscore => server_table.server_layer().layer(router().into_handler()),
    };
    let server = CoapEndpoint::bind(config(), handler).await.unwrap();
    let addr: SocketAddr = server.local_addr();
    let mut tasks = Vec::new();
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + duration;
    let per_client = MAX_REQUESTS / usize::from(clients);
    for i in 0..clients {
        let (srv, cli) = pair(&[0x40, i], b"\x01");
        server_table.install(&i, srv);
        let table = OscoreContexts::<u8>::new();
        table.install(&0, cli);
        let endpoint = CoapEndpoint::bind(config(), ace_coap::handler::not_found())
            .await
            .unwrap();
        let client = OscoreClient::new(endpoint.clone(), table);
        let oscore = matches!(kind, Kind::Oscore);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            tokio::time::sleep_until(start.into()).await;
            while Instant::now() < end && latencies.len() < per_client {
                let t0 = Instant::now();
                let response = if oscore {
                    client
                        .request(addr, &0, Request::get("/time"))
                        .await
                        .unwrap()
                } else {
                    endpoint.request(addr, Request::get("/time")).await.unwrap()
                };
                assert_eq!(response.payload, b"12:00:00");
                latencies.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.unwrap());
    }
    let seconds = Instant::now().duration_since(start).as_secs_f64();
    latencies_us.sort_unstable();
    server.shutdown().await;
    Round {
        requests: latencies_us.len(),
        seconds,
        latencies_us,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = env_or("ACE_LOAD_SECS", 3).clamp(1, 60);
    let clients = u8::try_from(env_or("ACE_LOAD_CLIENTS", 8).clamp(1, 64)).unwrap();
    let duration = Duration::from_secs(secs);
    println!(
        "| round | kind | clients | requests/s | p50 (µs) | p99 (µs) | p99.9 (µs) |\n|---|---|---|---|---|---|---|"
    );
    let only = std::env::var("ACE_LOAD_KIND").unwrap_or_default();
    let mut rates = (Vec::new(), Vec::new());
    for round in 1..=2 {
        for (kind, name) in [(Kind::Plain, "plain CoAP"), (Kind::Oscore, "OSCORE")] {
            match (&kind, only.as_str()) {
                (Kind::Plain, "oscore") | (Kind::Oscore, "plain") => continue,
                _ => {}
            }
            let r = run(&kind, clients, duration).await;
            assert!(r.requests > 0);
            println!(
                "| {round} | {name} | {clients} | {:.0} | {} | {} | {} |",
                r.rate(),
                r.percentile(0.5),
                r.percentile(0.99),
                r.percentile(0.999)
            );
            match kind {
                Kind::Plain => rates.0.push(r.rate()),
                Kind::Oscore => rates.1.push(r.rate()),
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (plain, protected) = (mean(&rates.0), mean(&rates.1));
    if !rates.0.is_empty() && !rates.1.is_empty() {
        println!(
            "mean: plain {plain:.0}/s, OSCORE {protected:.0}/s, ratio {:.2}",
            protected / plain
        );
    }
}
