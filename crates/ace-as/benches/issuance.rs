//! Token issuance throughput: tokens per second over loopback CoAP +
//! OSCORE with N concurrent clients, as a ratio to the raw Ed25519 signing
//! rate measured in the same run.
//!
//! ```text
//! cargo bench -p ace-as --bench issuance -- --clients 1,4,16 --seconds 3
//! ```
//!
//! Each token is the default for the OSCORE profile: a COSE_Sign1 (one
//! Ed25519 signature) nested in a COSE_Encrypt0, with fresh
//! OSCORE_Input_Material, recorded in an SQLite store (WAL) in a temporary
//! directory. Each client has its own OSCORE context with the AS (the
//! requests and responses are protected and verified). The raw rate signs a
//! `Sig_structure` of the same size. Every phase is bounded in time; the
//! network phase uses loopback only.
#![allow(clippy::unwrap_used, missing_docs)] // a benchmark binary

#[path = "../tests/common/mod.rs"]
mod common;

use ace_as::AuthorizationServer;
use ace_as::service::{protocol, serve_with, system_clock};
use ace_as::store::{SqliteStore, TokenStore};
use ace_coap::EndpointConfig;
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::oauth::AccessTokenRequest;
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use common::oscore_client::AsClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Options {
    clients: Vec<usize>,
    seconds: f64,
}

fn options() -> Options {
    let mut out = Options {
        clients: vec![1, 4, 16],
        seconds: 3.0,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--clients" if i + 1 < args.len() => {
                out.clients = args[i + 1]
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .filter(|n| (1..=256).contains(n))
                    .collect();
                i += 1;
            }
            "--seconds" if i + 1 < args.len() => {
                out.seconds = args[i + 1].parse::<f64>().unwrap_or(3.0).clamp(0.5, 60.0);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn request_body() -> Vec<u8> {
    AccessTokenRequest {
        audience: Some("kdc".into()),
        scope: Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
            "g1", 6,
        )]))),
        ..AccessTokenRequest::default()
    }
    .encode()
}

/// Raw Ed25519 signatures per second over a message the size of a
/// token's `Sig_structure`, on one thread.
fn raw_sign_rate(seconds: f64, message_len: usize) -> f64 {
    let key = common::as_key();
    let message = vec![0x5a; message_len];
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            std::hint::black_box(key.sign(std::hint::black_box(&message)));
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn sqlite_store(dir: &std::path::Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join("bench.sqlite")).unwrap())
}

fn sqlite_server(dir: &std::path::Path) -> Arc<AuthorizationServer> {
    let store: Arc<dyn TokenStore> = sqlite_store(dir);
    Arc::new(AuthorizationServer::new(common::config(), store))
}

/// Tokens per second through the sans-I/O core on one thread.
fn core_rate(seconds: f64, dir: &std::path::Path) -> f64 {
    let server = sqlite_server(dir);
    let body = request_body();
    let peer = common::client("c1");
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let reply = server.handle_token(Some(&peer), Some(ACE_CBOR), &body, common::NOW);
        assert_eq!(reply.code, Code::CREATED);
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct NetResult {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

/// Tokens per second over loopback CoAP + OSCORE with `clients`
/// concurrent clients, each with its own context and one request
/// outstanding (closed loop).
async fn network_rate(clients: usize, seconds: f64, dir: &std::path::Path) -> NetResult {
    // One configured client (and OSCORE context) per benchmark client:
    // two endpoints must never share a Sender Context.
    let store = sqlite_store(dir);
    let tokens: Arc<dyn TokenStore> = store.clone();
    let config = common::bench_config(clients);
    let server = Arc::new(AuthorizationServer::new(config, tokens));
    let running = serve_with(
        server.clone(),
        store,
        EndpointConfig::new("127.0.0.1:0".parse().unwrap()).protocol(protocol()),
        system_clock(),
    )
    .await
    .unwrap();
    let address = running.local_addr();
    let body = request_body();
    let mut endpoints = Vec::new();
    for i in 0..clients {
        let id = format!("bench-{i}");
        let side = server.config().client(&id).unwrap().oscore.clone().unwrap();
        let c = AsClient::new(address, &side).await;
        // Warm-up request.
        assert_eq!(c.post("/token", body.clone()).await.code, Code::CREATED);
        endpoints.push(Arc::new(c));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in endpoints.clone() {
        let stop = stop.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let r = c.post("/token", body.clone()).await;
                if r.code == Code::CREATED {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    for c in endpoints {
        if let Ok(c) = Arc::try_unwrap(c) {
            c.shutdown().await;
        }
    }
    running.shutdown().await;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    NetResult {
        rate: latencies.len() as f64 / elapsed,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        errors,
    }
}

fn main() {
    let opts = options();
    let dir = tempfile::tempdir().unwrap();
    // The signed part of a token: Sig_structure of the claims set.
    let sample = {
        let server = sqlite_server(dir.path());
        let issued = server
            .issue(
                Some(&common::client("c1")),
                &AccessTokenRequest::decode(&request_body()).unwrap(),
                common::NOW,
            )
            .unwrap();
        issued.claims.encode().len() + 20
    };
    let raw = raw_sign_rate(opts.seconds, sample);
    let core = core_rate(opts.seconds, dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("raw Ed25519 sign ({sample}-byte message, 1 thread): {raw:.0}/s");
    println!(
        "core, 1 thread, SQLite store: {core:.0} tokens/s (ratio {:.2})",
        core / raw
    );
    println!();
    println!("| clients | tokens/s | ratio to raw Ed25519 sign | p50 (µs) | p99 (µs) | errors |");
    println!("|---|---|---|---|---|---|");
    for &n in &opts.clients {
        let r = runtime.block_on(network_rate(n, opts.seconds, dir.path()));
        println!(
            "| {n} | {:.0} | {:.2} | {:.0} | {:.0} | {} |",
            r.rate,
            r.rate / raw,
            r.p50_us,
            r.p99_us,
            r.errors
        );
    }
}
