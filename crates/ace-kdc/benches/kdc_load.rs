//! Load figures of the KDC over loopback (`BENCHMARKS.md`, section
//! `ace-kdc`):
//!
//! 1. **Joins per second**: N concurrent clients, each a full token
//!    transfer (`/authz-info`) and join over CoAP + OSCORE, against the
//!    service with its SQLite store (WAL, `synchronous = NORMAL`), reported
//!    as a ratio to the raw rate of the signature operations one join needs,
//!    measured in the same run on all cores: the client's PoP signature,
//!    the KDC's verification of the token (COSE_Sign1) and of the PoP
//!    (with the decoding of the new member's public key that it starts
//!    with), the KDC's `kdc_cred_verify` signature and the client's
//!    verification of it (Ed25519). The AS's work (minting) is done before
//!    the clock starts.
//! 2. **Point-to-point rekeying**: a group of M members, each with a
//!    `control_uri` on one of a few member endpoints (many OSCORE channels
//!    over few sockets); an operator rekey; the time until every member has
//!    acknowledged its OSCORE-protected POST.
//! 3. **Memory per member**: the resident set of an `ace-kdc` process before
//!    and after M members joined.
//!
//! `cargo bench -p ace-kdc --bench kdc_load` (`-- --quick` for a short run).
//! The join rows are 1, 16, 64 and 256 clients with `synchronous = NORMAL`
//! and 64 with `FULL`; `KDC_LOAD_RUNS=1,16,64:full` chooses others
//! (clients, and `:full` for `FULL`). The 256-client row shows the KDC
//! under more load than it can serve at once: requests queue in its socket
//! buffer, and none may be dropped there (a dropped CON request waits
//! seconds for its retransmission).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use ace_kdc::Kdc;
use ace_kdc::admin::Command;
use ace_kdc::service::{KdcService, ServiceOptions};
use ace_kdc::store::{SqliteStore, Store};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::credential::Credential;
use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey, random_bytes};
use ace_proto::pop::{self, PopCheck};
use ace_proto::roles::group_oscore::REQUESTER;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::net::NetClient;
use support::{ClientKeys, TestAs};

fn cpu_seconds() -> f64 {
    stat_cpu_seconds("/proc/self/stat")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The public key of a node that joins, decoded from the bytes of its
/// credential. Verifying its PoP signature starts with this decoding
/// (RFC 8032 section 5.1.7, step 1): the KDC meets a new key in every join,
/// so the raw references below decode it every time. The AS's key and, at
/// the client, the KDC's key are known in advance and decoded once.
fn joining_key(x: &[u8]) -> VerifyingKey {
    VerifyingKey::ed25519(x).unwrap()
}

/// Seconds to decode a joining node's Ed25519 key, on one core (printed
/// so that its share of the references is visible).
fn raw_key_decoding_cost(duration: Duration) -> f64 {
    let (x, _) = SigningKey::generate(SignatureAlgorithm::EdDsa)
        .verifying_key()
        .coordinates();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        std::hint::black_box(joining_key(std::hint::black_box(&x)));
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

/// The signature operations of one join, with the sizes they have in a
/// join, on every core for `duration`; returns bundles per second.
fn raw_signature_rate(duration: Duration) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let count = count.clone();
            s.spawn(move || {
                let client = SigningKey::generate(SignatureAlgorithm::EdDsa);
                let (client_x, _) = client.verifying_key().coordinates();
                let kdc = SigningKey::generate(SignatureAlgorithm::EdDsa);
                let kdc_vk = kdc.verifying_key();
                let authority = SigningKey::generate(SignatureAlgorithm::EdDsa);
                let as_vk = authority.verifying_key();
                // A Sig_structure of the size of a token's (about 200 bytes).
                let token_tbs = random_bytes(200);
                let token_sig = authority.sign(&token_tbs);
                let scope = support::join_scope("g1", REQUESTER);
                while start.elapsed() < duration {
                    let pop_input =
                        pop::client_pop_input(&scope, &random_bytes(8), &random_bytes(8));
                    let evidence = client.sign(&pop_input);
                    as_vk.verify(&token_tbs, &token_sig).unwrap();
                    let client_vk = joining_key(&client_x);
                    let _ = PopCheck::Signature(&client_vk)
                        .verify(&pop_input, &evidence)
                        .unwrap();
                    let kdc_input = pop::kdc_pop_input(&random_bytes(8), &random_bytes(8));
                    let kdc_sig = kdc.sign(&kdc_input);
                    kdc_vk.verify(&kdc_input, &kdc_sig).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

struct Running {
    service: KdcService,
    _dir: tempfile::TempDir,
}

async fn start_service(groups: &str, nstart: usize, durable_fsync: bool) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kdc.sqlite");
    let config = support::config(&db, groups);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(&db, durable_fsync).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (kdc, restore) = Kdc::open(config, store, now).unwrap();
    let kdc = kdc.with_group_commit().unwrap();
    let mut options = ServiceOptions::new("127.0.0.1:0".parse().unwrap());
    options.protocol.transmission.nstart = nstart;
    options.protocol.limits.dedup_per_peer = 4096;
    options.protocol.limits.max_concurrent_requests = 1 << 20;
    options.protocol.limits.max_client_exchanges = 1 << 20;
    options.delivery_concurrency = 4096;
    options.socket_buffer = Some(ace_coap::SocketOptions::SERVER_BUFFER_SIZE);
    let service = KdcService::start(kdc, restore, options).await.unwrap();
    Running { service, _dir: dir }
}

async fn clients(kdc: std::net::SocketAddr, n: usize, nstart: usize) -> Vec<Arc<NetClient>> {
    let mut v = Vec::new();
    for _ in 0..n {
        let c = NetClient::new_with(kdc, |config| {
            let p = &mut config.protocol;
            p.transmission = ace_coap::TransmissionParameters::default();
            p.transmission.nstart = nstart;
            p.response_timeout = Duration::from_secs(30);
            p.limits.dedup_per_peer = 1 << 16;
            p.limits.max_concurrent_requests = 1 << 20;
            p.limits.max_client_exchanges = 1 << 20;
            // Many simulated members behind one socket: room for a burst.
            config.socket.buffer_size = Some(ace_coap::SocketOptions::SERVER_BUFFER_SIZE);
        })
        .await;
        v.push(Arc::new(c));
    }
    v
}

/// The outcome of a join run.
struct JoinRun {
    /// Joins per second, end to end.
    rate: f64,
    /// CPU seconds of the KDC process per join.
    kdc_cpu_per_join: f64,
    /// CPU seconds of the KDC's store writer thread per join (included in
    /// `kdc_cpu_per_join`).
    writer_cpu_per_join: f64,
    /// CPU seconds of the load generator (clients) per wall second.
    client_cores: f64,
    /// CPU seconds of the KDC per wall second.
    kdc_cores: f64,
    /// Context switches of the KDC's threads per join (voluntary:
    /// waiting for a socket, a lock or the store's writer).
    kdc_switches_per_join: f64,
    /// UDP datagrams the kernel dropped at full receive buffers during the
    /// run (`RcvbufErrors` of `/proc/net/snmp`, every socket of the machine).
    receive_buffer_drops: u64,
}

/// `total` token transfers and joins to `group` by `concurrency` client
/// tasks against an `ace-kdc` process.
async fn joins(
    group: &'static str,
    total: usize,
    concurrency: usize,
    durable_fsync: bool,
) -> Option<JoinRun> {
    let kdc = spawn_kdc(durable_fsync)?;
    let pid = kdc.child.id();
    let endpoints = clients(kdc.addr, 8, 64).await;
    let authority = TestAs::new();
    let exp = support::core_client::T0 + 1_000_000_000;
    // The AS's work and the clients' key generation happen before.
    let work: Vec<(ClientKeys, Vec<u8>)> = (0..total)
        .map(|_| {
            let keys = ClientKeys::ed25519();
            let token = authority.mint(&keys.token(&[(group, REQUESTER)], exp));
            (keys, token)
        })
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(work));
    let cpu0 = cpu_seconds();
    let kdc_cpu0 = process_cpu_seconds(pid);
    let writer_cpu0 = store_writer_cpu_seconds(pid);
    let switches0 = context_switches(pid);
    let drops0 = udp_receive_buffer_errors();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let c = endpoints[i % endpoints.len()].clone();
        let queue = queue.clone();
        tasks.spawn(async move {
            // A client stores the KDC's credential once it verified it.
            let mut kdc_key: Option<(Vec<u8>, VerifyingKey)> = None;
            loop {
                let Some((keys, token)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let m = c.member_with_token(keys, token).await.unwrap();
                let req = support::join_request(
                    group,
                    REQUESTER,
                    &m.n_s,
                    support::Proof::Signature(&m.keys),
                    None,
                    None,
                );
                let r = c
                    .send(
                        &m,
                        ace_coap::Request::post(&format!("/ace-group/{group}"))
                            .with_content_format(261)
                            .with_payload(req.encode()),
                    )
                    .await;
                assert_eq!(r.code, Code::CREATED);
                // A client MUST verify kdc_cred_verify (RFC 9594 section 4.3.1).
                let join = ace_proto::groupcomm::JoinResponse::decode(&r.payload).unwrap();
                let kdc = join.kdc.unwrap();
                if kdc_key.as_ref().is_none_or(|(c, _)| *c != kdc.kdc_cred) {
                    let vk = Credential::parse_ccs(&kdc.kdc_cred)
                        .unwrap()
                        .verifying_key()
                        .unwrap();
                    kdc_key = Some((kdc.kdc_cred.clone(), vk));
                }
                let (_, vk) = kdc_key.as_ref().unwrap();
                let _ = kdc.verify(&req.cnonce, PopCheck::Signature(vk)).unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    let kdc_cpu = process_cpu_seconds(pid) - kdc_cpu0;
    let writer_cpu = store_writer_cpu_seconds(pid) - writer_cpu0;
    let switches = context_switches(pid).saturating_sub(switches0);
    let receive_buffer_drops = udp_receive_buffer_errors().saturating_sub(drops0);
    let client_cpu = cpu_seconds() - cpu0;
    Some(JoinRun {
        rate: total as f64 / wall,
        kdc_cpu_per_join: kdc_cpu / total as f64,
        writer_cpu_per_join: writer_cpu / total as f64,
        client_cores: client_cpu / wall,
        kdc_cores: kdc_cpu / wall,
        kdc_switches_per_join: switches as f64 / total as f64,
        receive_buffer_drops,
    })
}

/// The KDC's own signature operations of one join (verify the token's
/// COSE_Sign1, decode the new member's key and verify its PoP, sign
/// `kdc_cred_verify`) on one core: seconds per join.
fn raw_kdc_signature_cost(duration: Duration) -> f64 {
    let client = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let (client_x, _) = client.verifying_key().coordinates();
    let kdc = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let authority = SigningKey::generate(SignatureAlgorithm::EdDsa);
    let as_vk = authority.verifying_key();
    let token_tbs = random_bytes(200);
    let token_sig = authority.sign(&token_tbs);
    let scope = support::join_scope("g1", REQUESTER);
    let pop_input = pop::client_pop_input(&scope, &random_bytes(8), &random_bytes(8));
    let evidence = client.sign(&pop_input);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        as_vk.verify(&token_tbs, &token_sig).unwrap();
        let client_vk = joining_key(&client_x);
        let _ = PopCheck::Signature(&client_vk)
            .verify(&pop_input, &evidence)
            .unwrap();
        let kdc_input = pop::kdc_pop_input(&random_bytes(8), &random_bytes(8));
        std::hint::black_box(kdc.sign(&kdc_input));
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

/// A group of `members` members with `control_uri`s over `endpoints` member
/// endpoints; returns the median time of `rounds` rekeyings until every
/// member acknowledged.
async fn rekey(members: usize, endpoints: usize, rounds: usize) -> (Duration, Vec<Duration>) {
    let per_endpoint = members.div_ceil(endpoints);
    let running = start_service(support::GROUPS, per_endpoint, false).await;
    let member_endpoints = clients(running.service.local_addr(), endpoints, 256).await;
    let authority = TestAs::new();
    let exp = support::core_client::T0 + 1_000_000_000;
    let queue: Vec<(ClientKeys, Vec<u8>, usize)> = (0..members)
        .map(|i| {
            let keys = ClientKeys::ed25519();
            let token = authority.mint(&keys.token(&[("g1", REQUESTER)], exp));
            (keys, token, i % endpoints)
        })
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let queue = queue.clone();
        let eps = member_endpoints.clone();
        tasks.spawn(async move {
            loop {
                let Some((keys, token, e)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let c = &eps[e];
                let m = c.member_with_token(keys, token).await.unwrap();
                let (r, _) = c.join(&m, "g1", REQUESTER, None, true).await;
                assert_eq!(r.code, Code::CREATED);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(
        running
            .service
            .kdc()
            .group_summary("g1")
            .unwrap()
            .members
            .len(),
        members
    );
    let mut times = Vec::new();
    for _ in 0..rounds {
        let mut reports = running.service.delivery_reports();
        let t = Instant::now();
        running
            .service
            .execute(&Command::Rekey { group: "g1".into() })
            .unwrap();
        let report = tokio::time::timeout(Duration::from_secs(120), reports.recv())
            .await
            .unwrap()
            .unwrap();
        let total = t.elapsed();
        assert_eq!(report.targets, members);
        assert_eq!(report.acknowledged, members, "{report:?}");
        times.push(total);
        // Let the member endpoints drain their queues.
        for c in &member_endpoints {
            while c.next_pushed(Duration::from_millis(1)).await.is_some() {}
        }
    }
    let mut sorted = times.clone();
    sorted.sort();
    running.service.shutdown().await;
    (sorted[sorted.len() / 2], times)
}

/// The `/proc` directories of a process's threads.
fn threads(pid: u32) -> impl Iterator<Item = std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|t| t.path())
}

/// Context switches (voluntary and not) of all threads of a process.
fn context_switches(pid: u32) -> u64 {
    threads(pid)
        .map(|t| {
            std::fs::read_to_string(t.join("status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// CPU seconds (user + system) a process has used.
fn process_cpu_seconds(pid: u32) -> f64 {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

/// CPU seconds of the KDC's store writer thread (named `kdc-store-write…`).
fn store_writer_cpu_seconds(pid: u32) -> f64 {
    threads(pid)
        .filter(|t| {
            std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.starts_with("kdc-store-write"))
        })
        .map(|t| stat_cpu_seconds(&t.join("stat").to_string_lossy()))
        .sum()
}

/// utime + stime of a `/proc/.../stat` file, in seconds.
fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// `RcvbufErrors` of the kernel's UDP counters: datagrams dropped because
/// the receiving socket's buffer was full.
fn udp_receive_buffer_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// An `ace-kdc serve` child process on an ephemeral loopback port.
struct ChildKdc {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for ChildKdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kdc_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("ace-kdc");
    if bin.exists() {
        Some(bin)
    } else {
        eprintln!(
            "{} not built (cargo build --release -p ace-kdc-cli); skipped",
            bin.display()
        );
        None
    }
}

fn spawn_kdc(durable_fsync: bool) -> Option<ChildKdc> {
    let bin = kdc_binary()?;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kdc.sqlite");
    let cfg = dir.path().join("kdc.toml");
    let extra = if durable_fsync {
        "durable_fsync = true"
    } else {
        ""
    };
    std::fs::write(&cfg, support::config_toml_with(&db, support::GROUPS, extra)).unwrap();
    let mut kdc = ChildKdc {
        child: std::process::Command::new(&bin)
            .args(["serve", "--config"])
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        addr: "127.0.0.1:0".parse().unwrap(),
        _dir: dir,
    };
    let mut out = std::io::BufReader::new(kdc.child.stdout.take()?);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).ok()?;
    kdc.addr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
    Some(kdc)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The resident set of an `ace-kdc` process before and after `members`
/// joined; returns (before KiB, after KiB).
async fn memory(members: usize) -> Option<(u64, u64)> {
    let kdc = spawn_kdc(false)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(kdc.child.id());
    let endpoints = clients(kdc.addr, 8, 64).await;
    let authority = TestAs::new();
    let exp = support::core_client::T0 + 1_000_000_000;
    let queue: Vec<(ClientKeys, Vec<u8>)> = (0..members)
        .map(|_| {
            let keys = ClientKeys::ed25519();
            let token = authority.mint(&keys.token(&[("g1", REQUESTER)], exp));
            (keys, token)
        })
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let c = endpoints[i % endpoints.len()].clone();
        let queue = queue.clone();
        tasks.spawn(async move {
            loop {
                let Some((keys, token)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let m = c.member_with_token(keys, token).await.unwrap();
                let (r, _) = c.join(&m, "g1", REQUESTER, None, true).await;
                assert_eq!(r.code, Code::CREATED);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib(kdc.child.id());
    Some((before, after))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let quick = std::env::args().any(|a| a == "--quick");
    let want = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "# ace-kdc load (cores: {cores}, load average before: {})",
        load_average()
    );

    // `--profile` skips the raw references (they would fill a profile).
    let profile = std::env::args().any(|a| a == "--profile");
    let skip_if_profiling = |measure: fn(Duration) -> f64, d: Duration| {
        if profile { 1.0 } else { measure(d) }
    };
    let raw = skip_if_profiling(
        raw_signature_rate,
        Duration::from_secs(if quick { 1 } else { 3 }),
    );
    println!("raw signature operations of one join, all cores: {raw:.0} joins/s");
    if !profile {
        println!(
            "of which decoding the joining node's key: {:.1} us on one core",
            raw_key_decoding_cost(Duration::from_millis(300)) * 1e6
        );
    }
    let total = if quick { 500 } else { 3000 };
    let join_runs: &[(usize, bool)] = if want("joins") {
        &[
            (1, false),
            (16, false),
            (64, false),
            (256, false),
            (64, true),
        ]
    } else {
        &[]
    };
    let custom: Option<Vec<(usize, bool)>> = std::env::var("KDC_LOAD_RUNS").ok().map(|v| {
        v.split(',')
            .map(|r| {
                let (n, f) = r.split_once(':').unwrap_or((r, "normal"));
                (n.parse().unwrap(), f == "full")
            })
            .collect()
    });
    let join_runs = custom.as_deref().unwrap_or(join_runs);
    // The machine's speed drifts (the raw rate moved by a fifth within an
    // hour on the 2-core VM), so each row is compared with the mean of the
    // raw figures measured just before and just after it.
    let second = Duration::from_secs(1);
    let (mut raw_before, mut kdc_raw_before) =
        (raw, skip_if_profiling(raw_kdc_signature_cost, second));
    for &(concurrency, fsync) in join_runs {
        let Some(run) = rt.block_on(joins("g1", total, concurrency, fsync)) else {
            break;
        };
        let raw_after = skip_if_profiling(raw_signature_rate, second);
        let reference = (raw_before + raw_after) / 2.0;
        let kdc_raw_after = skip_if_profiling(raw_kdc_signature_cost, second);
        let kdc_raw = (kdc_raw_before + kdc_raw_after) / 2.0;
        (raw_before, kdc_raw_before) = (raw_after, kdc_raw_after);
        println!(
            "joins: {total} with {concurrency} concurrent clients, synchronous={}: {:.0} joins/s ({:.2} ms each per client); ratio to the raw signature rate of a join on all cores {:.2} (raw {:.0}/s); KDC process: {:.0} us CPU per join, of which signatures {:.0} us (ratio {:.2}) and the store writer thread {:.0} us, {:.2} cores, {:.1} context switches per join; load generator {:.2} cores; {} datagrams dropped at full UDP receive buffers",
            if fsync { "FULL" } else { "NORMAL" },
            run.rate,
            concurrency as f64 / run.rate * 1e3,
            run.rate / reference,
            reference,
            run.kdc_cpu_per_join * 1e6,
            kdc_raw * 1e6,
            kdc_raw / run.kdc_cpu_per_join,
            run.writer_cpu_per_join * 1e6,
            run.kdc_cores,
            run.kdc_switches_per_join,
            run.client_cores,
            run.receive_buffer_drops,
        );
    }
    let sizes: &[usize] = match (want("rekey"), quick) {
        (false, _) => &[],
        (true, true) => &[1000],
        (true, false) => &[1000, 10_000],
    };
    for &members in sizes {
        let (median, all) = rt.block_on(rekey(members, 4, 3));
        println!(
            "rekey: {members} members over 4 endpoints, until all acknowledged: median {:.0} ms (runs {:?})",
            median.as_secs_f64() * 1000.0,
            all.iter()
                .map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
        );
    }
    let members = if quick { 1000 } else { 10_000 };
    if want("memory")
        && let Some((before, after)) = rt.block_on(memory(members))
    {
        println!(
            "memory: ace-kdc RSS {before} KiB empty, {after} KiB with {members} members: {:.0} bytes per member",
            (after.saturating_sub(before) * 1024) as f64 / members as f64
        );
    }
    println!("load average after: {}", load_average());
}
