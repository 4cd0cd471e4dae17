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
//! message the size of the token's `Sig_structure` on one thread.
//!
//! The machine is shared, so the measurement alternates: in each round the
//! clients pause while the raw rate is measured for a short slice, then run
//! for a longer slice. The ratio is taken per round and the median of the
//! rounds is reported, so that background load affects both sides of a
//! ratio alike. Every phase is bounded in time; the network phase uses
//! loopback only.
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Rounds per measurement.
const ROUNDS: usize = 5;

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

/// Raw Ed25519 signatures per second over `message`, on one thread, for
/// `seconds`.
fn raw_sign_rate(message: &[u8], seconds: f64) -> f64 {
    let key = common::as_key();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        for _ in 0..16 {
            std::hint::black_box(key.sign(std::hint::black_box(message)));
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn sqlite_store(dir: &std::path::Path, name: &str) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join(name)).unwrap())
}

/// One measured configuration.
struct Measured {
    rate: f64,
    raw: f64,
    ratio: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

/// Tokens per second through the sans-I/O core on one thread, interleaved
/// with the raw rate.
fn core_rate(seconds: f64, dir: &std::path::Path, message: &[u8]) -> Measured {
    let store: Arc<dyn TokenStore> = sqlite_store(dir, "core.sqlite");
    let server = AuthorizationServer::new(common::config(), store);
    let body = request_body();
    let peer = common::client("c1");
    let slice = seconds / ROUNDS as f64;
    let (mut rates, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let raw = raw_sign_rate(message, slice / 3.0);
        let deadline = Instant::now() + Duration::from_secs_f64(slice);
        let start = Instant::now();
        let mut n = 0u64;
        while Instant::now() < deadline {
            let reply = server.handle_token(Some(&peer), Some(ACE_CBOR), &body, common::NOW);
            assert_eq!(reply.code, Code::CREATED);
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        rates.push(rate);
        raws.push(raw);
        ratios.push(rate / raw);
    }
    Measured {
        rate: median(rates),
        raw: median(raws),
        ratio: median(ratios),
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        errors: 0,
    }
}

/// Tokens per second over loopback CoAP + OSCORE with `clients`
/// concurrent clients, each with its own context and one request
/// outstanding (closed loop), interleaved with the raw rate.
async fn network_rate(
    clients: usize,
    seconds: f64,
    dir: &std::path::Path,
    message: &[u8],
) -> Measured {
    // One configured client (and OSCORE context) per benchmark client:
    // two endpoints must never share a Sender Context.
    let store = sqlite_store(dir, &format!("net-{clients}.sqlite"));
    let tokens: Arc<dyn TokenStore> = store.clone();
    let server = Arc::new(AuthorizationServer::new(
        common::bench_config(clients),
        tokens,
    ));
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
        assert_eq!(c.post("/token", body.clone()).await.code, Code::CREATED);
        endpoints.push(Arc::new(c));
    }
    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in endpoints.clone() {
        let (go, stop, done, errors, body) = (
            go.clone(),
            stop.clone(),
            done.clone(),
            errors.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if !go.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                let sent = Instant::now();
                let r = c.post("/token", body.clone()).await;
                if r.code == Code::CREATED {
                    done.fetch_add(1, Ordering::Relaxed);
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let slice = seconds / ROUNDS as f64;
    let (mut rates, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // Let in-flight requests of the previous slice finish, then
        // measure the raw rate with the clients idle.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let message = message.to_vec();
        let raw = tokio::task::spawn_blocking(move || raw_sign_rate(&message, slice / 3.0))
            .await
            .unwrap();
        let before = done.load(Ordering::Relaxed);
        let start = Instant::now();
        go.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(slice)).await;
        go.store(false, Ordering::Relaxed);
        let rate = (done.load(Ordering::Relaxed) - before) as f64 / start.elapsed().as_secs_f64();
        rates.push(rate);
        raws.push(raw);
        ratios.push(rate / raw);
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
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
    Measured {
        rate: median(rates),
        raw: median(raws),
        ratio: median(ratios),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn main() {
    let opts = options();
    let dir = tempfile::tempdir().unwrap();
    // What the AS signs per token: the Sig_structure over the claims.
    let sample = {
        let store: Arc<dyn TokenStore> = sqlite_store(dir.path(), "sample.sqlite");
        let server = AuthorizationServer::new(common::config(), store);
        let issued = server
            .issue(
                Some(&common::client("c1")),
                &AccessTokenRequest::decode(&request_body()).unwrap(),
                common::NOW,
            )
            .unwrap();
        issued.claims.encode().len() + 20
    };
    let message = vec![0x5a; sample];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{ROUNDS} interleaved rounds per row; medians; raw = Ed25519 signatures/s over {sample} bytes on one thread"
    );
    println!();
    println!("| path | clients | tokens/s | raw sign/s | ratio | p50 (µs) | p99 (µs) | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    let core = core_rate(opts.seconds, dir.path(), &message);
    println!(
        "| core, no network | 1 thread | {:.0} | {:.0} | {:.2} | - | - | 0 |",
        core.rate, core.raw, core.ratio
    );
    for &n in &opts.clients {
        let r = runtime.block_on(network_rate(n, opts.seconds, dir.path(), &message));
        println!(
            "| CoAP + OSCORE | {n} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {} |",
            r.rate, r.raw, r.ratio, r.p50_us, r.p99_us, r.errors
        );
    }
}
