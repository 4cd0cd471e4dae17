//! Network interop with aiocoap 0.4.17 (an independent implementation) over
//! loopback UDP, through ace-coap's OSCORE layer:
//!
//! * aiocoap's client to our OSCORE server: GET, POST, Observe, block-wise,
//!   and its automatic Echo recovery against our restarted server;
//! * our client to aiocoap's OSCORE server (`OscoreSiteWrapper`): GET,
//!   POST, Observe, block-wise, and our transparent Echo recovery against
//!   aiocoap restarted without replay state;
//! * Group OSCORE with aiocoap's `SimpleGroupContext`, Ed25519 and ES256
//!   groups: aiocoap requests in group mode and in pairwise mode, answered
//!   by our member in pairwise mode and in group mode; our member requests
//!   in group mode and in pairwise mode, answered by aiocoap (which answers
//!   in pairwise mode); and a group-mode request to the All CoAP Nodes
//!   multicast address answered by an aiocoap member and one of ours that
//!   listen on the same port.
//!
//! Each side checks that the other really used OSCORE (aiocoap reports
//! whether the request arrived protected and which context verified it;
//! our tap sees the OSCORE option). aiocoap signs the countersignature
//! structure of draft -23, so our members use
//! `CountersignatureStructure::Aiocoap0_4_17` (see group-oscore's docs).
//!
//! The peer is `tests/aiocoap/oscore_peer.py`, run with the venv Python
//! (`ACE_VENV_PYTHON`, else `<workspace>/target/venv/bin/python`), started
//! as a child process that prints its port when ready, and ended when the
//! test ends. Without the venv the tests print "skipped: peer aiocoap
//! missing", or fail when `ACE_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{
    self, GroupConfig, GroupMember, OscoreClient, OscoreContexts, Persistence, Protection,
    RequestMode, ResponsePolicy,
};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::{Code, Request, Resource, Response, Router};
use ace_proto::keys::SignatureAlgorithm;
use group_oscore::group::CountersignatureStructure;
use oscore_support::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long aiocoap may take for one step (it is slow to start).
const PEER_STEP: Duration = Duration::from_secs(30);

const MS: &str = "0102030405060708090a0b0c0d0e0f10";
const SALT_HEX: &str = "9e7ca92223786340";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The venv Python with aiocoap, or `None` after reporting the skip (a
/// failure under `ACE_REQUIRE_PEERS=1`).
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("ACE_VENV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python")
        });
    let usable = Command::new(&path)
        .args([
            "-c",
            "import aiocoap.oscore, aiocoap.oscore_sitewrapper, cbor2, cryptography",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(path);
    }
    assert!(
        std::env::var("ACE_REQUIRE_PEERS").as_deref() != Ok("1"),
        "peer aiocoap missing: {} cannot import aiocoap.oscore (run scripts/setup-peers)",
        path.display()
    );
    eprintln!("skipped: peer aiocoap missing ({})", path.display());
    None
}

/// A running `oscore_peer.py`: its output lines arrive on a channel.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Peer {
    /// Starts the script as `role` with the JSON configuration `config`.
    fn start(role: &str, config: &str) -> Option<Self> {
        let python = python()?;
        let mut child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aiocoap/oscore_peer.py"))
            .arg(role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start oscore_peer.py");
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{config}").unwrap();
        stdin.flush().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Some(Self {
            child,
            stdin: Some(stdin),
            lines,
        })
    }

    /// The next output line.
    async fn line(&mut self) -> String {
        tokio::time::timeout(PEER_STEP, self.lines.recv())
            .await
            .expect("aiocoap peer silent")
            .expect("aiocoap peer ended")
    }

    /// The next line of `kind`, as key=value pairs (other lines skipped).
    async fn next(&mut self, kind: &str) -> HashMap<String, String> {
        loop {
            let line = self.line().await;
            let mut words = line.split(' ');
            if words.next() == Some(kind) {
                return words
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
            }
            assert!(!line.starts_with("ERROR"), "aiocoap: {line}");
        }
    }

    /// Waits for a server's readiness line and returns its address.
    async fn ready(&mut self) -> SocketAddr {
        let line = self.line().await;
        let port: u16 = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The RESULT lines of a client run, up to DONE.
    async fn results(&mut self) -> Vec<HashMap<String, String>> {
        let mut out = Vec::new();
        loop {
            let line = self.line().await;
            if line == "DONE" {
                return out;
            }
            assert!(!line.starts_with("ERROR"), "aiocoap client: {line}");
            if let Some(rest) = line.strip_prefix("RESULT ") {
                out.push(
                    rest.split(' ')
                        .filter_map(|w| w.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                );
            }
        }
    }
}

impl Drop for Peer {
    /// Closes stdin so the script ends and removes its files; kills it if
    /// it has not ended within a few seconds.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn payload_of(r: &HashMap<String, String>) -> Vec<u8> {
    match r["payload"].as_str() {
        "-" => Vec::new(),
        p => h(p),
    }
}

fn oscore_config(sid: &str, rid: &str, extra: &str) -> String {
    format!(
        r#"{{"kind":"oscore","ms":"{MS}","salt":"{SALT_HEX}","sid":"{sid}","rid":"{rid}"{extra}}}"#
    )
}

fn l(s: &str) -> String {
    s.to_string()
}

// ---------------------------------------------------------------------------
// OSCORE
// ---------------------------------------------------------------------------

/// Our server's resources for aiocoap's client.
fn our_router(counter: Arc<AtomicU32>, seen: Arc<Mutex<Vec<String>>>) -> Router {
    let s1 = seen.clone();
    let s2 = seen.clone();
    Router::new()
        .get("/hello", move |req: Request| {
            let seen = s1.clone();
            async move {
                let who = oscore::label::<String>(&req).cloned().unwrap_or_default();
                seen.lock().unwrap().push(format!("GET /hello {who}"));
                Response::content(format!("hello {who}"))
            }
        })
        .post("/data", move |req: Request| {
            let seen = s2.clone();
            async move {
                let who = oscore::label::<String>(&req).cloned().unwrap_or_default();
                seen.lock().unwrap().push(format!("POST /data {who}"));
                Response::changed().with_payload([b"got: ".as_slice(), &req.payload].concat())
            }
        })
        .get("/big", |_req: Request| async {
            Response::content((0..3000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>())
        })
        .resource(
            Resource::new("/obs")
                .get(move |_req: Request| {
                    let v = counter.load(Ordering::SeqCst);
                    async move { Response::content(format!("n{v}")) }
                })
                .observable(),
        )
}

const CLIENT_OPS: &str = r#"[{"path":"/hello"},{"path":"/data","method":"POST","payload":"6669727374"},{"path":"/obs","observe":3},{"path":"/big"}]"#;

/// The messages with a code (no empty ACKs) a tap saw in `direction`,
/// each once (CON retransmissions to the slow peer share a Message ID).
fn distinct(tap: &MemorySink, direction: Direction) -> Vec<ace_coap::wire::Message> {
    let mut seen = std::collections::HashSet::new();
    messages(tap, direction)
        .into_iter()
        .filter(|m| m.code != 0 && seen.insert(m.mid))
        .collect()
}

/// Whether a protected response carries a Partial IV of its own (an Echo
/// challenge does, RFC 8613 Appendix B.1.2; a first response normally
/// reuses the request's nonce).
fn has_partial_iv(m: &ace_coap::wire::Message) -> bool {
    m.options
        .get(number::OSCORE)
        .and_then(|o| o.first())
        .is_some_and(|b| b & 0x07 != 0)
}

async fn aiocoap_client_against_our_server(persistence: Option<Persistence>) {
    let echo = persistence.is_some();
    let (server_params, _) = params(b"", b"\x01");
    let table = OscoreContexts::<String>::new();
    match persistence {
        Some(p) => table
            .install_persistent(&l("aiocoap"), &server_params, p)
            .unwrap(),
        None => table.install(
            &l("aiocoap"),
            group_oscore::SecurityContext::new(&server_params).unwrap(),
        ),
    }
    let counter = Arc::new(AtomicU32::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tap = Arc::new(MemorySink::new());
    let server = server_with(
        &table,
        our_router(counter.clone(), seen.clone()).into_handler(),
        config().tap(tap.clone()),
    )
    .await;
    let uri = format!("coap://{}", server.local_addr());
    let config = oscore_config("", "01", &format!(r#","uri":"{uri}","ops":{CLIENT_OPS}"#));
    let Some(mut peer) = Peer::start("client", &config) else {
        return;
    };
    // Notifications while the client observes.
    let notifier = server.notifier();
    let c = counter.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.fetch_add(1, Ordering::SeqCst);
            notifier.notify("/obs");
        }
    });
    let results = peer.results().await;
    ticker.abort();
    assert_eq!(results.len(), 4, "{results:?}");
    assert!(results.iter().all(|r| r["oscore"] == "1"), "{results:?}");
    assert_eq!(results[0]["code"], "2.05");
    assert_eq!(payload_of(&results[0]), b"hello aiocoap");
    assert_eq!(results[1]["code"], "2.04");
    assert_eq!(payload_of(&results[1]), b"got: first");
    assert_eq!(results[2]["code"], "2.05");
    let notes: Vec<&str> = results[2]["notifications"].split(',').collect();
    assert_eq!(notes.len(), 3, "{results:?}");
    assert_eq!(payload_of(&results[3]).len(), 3000);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "GET /hello aiocoap".to_string(),
            "POST /data aiocoap".to_string()
        ]
    );
    // Every request that reached us was protected.
    let requests = distinct(&tap, Direction::In);
    assert!(
        requests
            .iter()
            .filter(|m| m.code != 0)
            .all(|m| m.options.contains(number::OSCORE))
    );
    // After a restart, the first answer was the Echo challenge.
    let first = distinct(&tap, Direction::Out)
        .into_iter()
        .find(|m| m.code != 0)
        .unwrap();
    assert_eq!(has_partial_iv(&first), echo);
}

#[tokio::test]
async fn aiocoap_client_to_our_oscore_server() {
    bounded(aiocoap_client_against_our_server(None)).await;
}

#[tokio::test]
async fn aiocoap_client_recovers_from_the_echo_challenge_of_our_restarted_server() {
    bounded(aiocoap_client_against_our_server(Some(
        Persistence::restored(Box::new(group_oscore::Volatile), 500, 100),
    )))
    .await;
}

async fn our_client_against_aiocoap(extra: &str, echo: bool) {
    let Some(mut peer) = Peer::start("server", &oscore_config("01", "", extra)) else {
        return;
    };
    let addr = peer.ready().await;
    let (_, client_params) = params(b"", b"\x01");
    let table = OscoreContexts::<String>::new();
    table.install(
        &l("aiocoap"),
        group_oscore::SecurityContext::new(&client_params).unwrap(),
    );
    let tap = Arc::new(MemorySink::new());
    let endpoint =
        ace_coap::CoapEndpoint::bind(config().tap(tap.clone()), ace_coap::handler::not_found())
            .await
            .unwrap();
    let client = OscoreClient::new(endpoint, table);

    let r = client
        .request(addr, &l("aiocoap"), Request::get("/hello"))
        .await
        .unwrap();
    assert_eq!(r.code, Code::CONTENT);
    assert_eq!(r.payload, b"hello from aiocoap");
    let e = peer.next("REQUEST").await;
    assert_eq!((e["path"].as_str(), e["oscore"].as_str()), ("/hello", "1"));
    // Restarted aiocoap challenged the first request; we repeated it.
    let sent = distinct(&tap, Direction::Out)
        .into_iter()
        .filter(|m| m.code != 0)
        .count();
    assert_eq!(sent, if echo { 2 } else { 1 });

    let r = client
        .request(
            addr,
            &l("aiocoap"),
            Request::post("/data").with_payload("from rust"),
        )
        .await
        .unwrap();
    assert_eq!(r.code, Code::CHANGED);
    assert_eq!(r.payload, b"got: from rust");
    assert_eq!(peer.next("REQUEST").await["oscore"], "1");

    let big = client
        .request(addr, &l("aiocoap"), Request::get("/big"))
        .await
        .unwrap();
    assert_eq!(big.payload.len(), 3000);
    assert!(
        big.payload
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8)
    );
    assert_eq!(peer.next("REQUEST").await["path"], "/big");

    let mut obs = client
        .observe(addr, &l("aiocoap"), Request::get("/obs"))
        .await
        .unwrap();
    assert_eq!(obs.next().await.unwrap().unwrap().payload, b"n0");
    for n in 1..=3 {
        peer.command("notify");
        let note = obs.next().await.unwrap().unwrap();
        assert_eq!(note.payload, format!("n{n}").as_bytes());
        assert!(note.observe().is_some());
    }
}

#[tokio::test]
async fn our_client_to_aiocoap_oscore_server() {
    bounded(our_client_against_aiocoap("", false)).await;
}

#[tokio::test]
async fn our_client_recovers_from_the_echo_challenge_of_restarted_aiocoap() {
    bounded(our_client_against_aiocoap(
        r#","seq":100,"lost_replay":true"#,
        true,
    ))
    .await;
}

// ---------------------------------------------------------------------------
// Group OSCORE
// ---------------------------------------------------------------------------

fn alg_name(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::EdDsa => "EdDSA",
        SignatureAlgorithm::Es256 => "ES256",
    }
}

/// A group of two: member 0 is ours, member 1 aiocoap's.
fn interop_group(alg: SignatureAlgorithm) -> TestGroup {
    let mut g = TestGroup::new(alg, 2);
    g.structure = CountersignatureStructure::Aiocoap0_4_17;
    g
}

/// aiocoap's SimpleGroupContext configuration for member 1.
fn aiocoap_group_config(g: &TestGroup, extra: &str) -> String {
    let me = &g.members[1];
    let ours = &g.members[0];
    format!(
        r#"{{"kind":"group","alg":"{}","gid":"{}","ms":"{}","salt":"{}","sid":"{}","priv":"{}","cred":"{}","peers":{{"{}":"{}"}},"gm_cred":"{}"{extra}}}"#,
        alg_name(g.alg),
        hex::encode(&g.gid),
        hex::encode(&g.secret),
        hex::encode(&g.salt),
        hex::encode(&me.sender_id),
        hex::encode(me.key.to_bytes().as_slice()),
        hex::encode(&me.credential),
        hex::encode(&ours.sender_id),
        hex::encode(&ours.credential),
        hex::encode(&g.gm_credential),
    )
}

/// aiocoap requests (group mode, then pairwise mode) to our member, which
/// answers with `policy`.
async fn aiocoap_requests_our_member(alg: SignatureAlgorithm, policy: ResponsePolicy) {
    let g = interop_group(alg);
    let table = OscoreContexts::<String>::new();
    table.add_group(
        &l("g"),
        GroupMember::with_config(
            g.security(0, &[]),
            GroupConfig {
                responses: policy,
                ..GroupConfig::default()
            },
        ),
    );
    let modes = Arc::new(Mutex::new(Vec::new()));
    let m = modes.clone();
    let router = Router::new().get("/hello", move |req: Request| {
        let modes = m.clone();
        async move {
            let Some(id) = oscore::identity::<String>(&req) else {
                return Response::new(Code::UNAUTHORIZED);
            };
            modes.lock().unwrap().push((id.protection, id.kid.clone()));
            Response::content(format!("hello member {}", hex::encode(&id.kid)))
        }
    });
    let tap = Arc::new(MemorySink::new());
    let server = server_with(&table, router.into_handler(), config().tap(tap.clone())).await;
    let uri = format!("coap://{}", server.local_addr());
    let extra = format!(
        r#","peer":"{}","uri":"{uri}","ops":[{{"path":"/hello","mode":"group"}},{{"path":"/hello","mode":"pairwise"}}]"#,
        hex::encode(&g.members[0].sender_id)
    );
    let Some(mut peer) = Peer::start("client", &aiocoap_group_config(&g, &extra)) else {
        return;
    };
    let results = peer.results().await;
    assert_eq!(results.len(), 2, "{results:?}");
    for r in &results {
        assert_eq!(r["code"], "2.05", "{policy:?} {results:?}");
        assert_eq!(r["oscore"], "1");
        assert_eq!(payload_of(r), b"hello member 11");
    }
    assert_eq!(
        *modes.lock().unwrap(),
        vec![
            (Protection::GroupMode, vec![0x11]),
            (Protection::PairwiseMode, vec![0x11])
        ]
    );
    // The responses went in the mode the policy says (Group Flag 0x20).
    let flags: Vec<u8> = distinct(&tap, Direction::Out)
        .iter()
        .filter(|m| m.code != 0)
        .map(|m| {
            m.options
                .get(number::OSCORE)
                .unwrap()
                .first()
                .map_or(0, |b| b & 0x20)
        })
        .collect();
    let want = match policy {
        ResponsePolicy::Pairwise => vec![0, 0],
        ResponsePolicy::Group => vec![0x20, 0x20],
        ResponsePolicy::LikeRequest => vec![0x20, 0],
    };
    assert_eq!(flags, want, "{policy:?}");
}

/// Our member requests (group mode by unicast, pairwise mode) to aiocoap's
/// member, which answers in pairwise mode.
async fn our_member_requests_aiocoap(alg: SignatureAlgorithm) {
    let g = interop_group(alg);
    let Some(mut peer) = Peer::start("server", &aiocoap_group_config(&g, "")) else {
        return;
    };
    let addr = peer.ready().await;
    let table = OscoreContexts::<String>::new();
    table.add_group(&l("g"), g.member(0));
    let tap = Arc::new(MemorySink::new());
    let endpoint =
        ace_coap::CoapEndpoint::bind(config().tap(tap.clone()), ace_coap::handler::not_found())
            .await
            .unwrap();
    let client = OscoreClient::new(endpoint, table);
    let reply = client
        .group_unicast(addr, &l("g"), Request::get("/hello"), RequestMode::Group)
        .await
        .unwrap();
    assert_eq!(reply.response.code, Code::CONTENT);
    assert_eq!(reply.response.payload, b"hello from aiocoap");
    assert_eq!(reply.kid, g.members[1].sender_id);
    let e = peer.next("REQUEST").await;
    assert_eq!(e["oscore"], "1");
    assert_eq!(
        e["context"], "_GroupContextAspect",
        "verified in group mode"
    );
    assert_eq!(e["kid"], hex::encode(&g.members[0].sender_id));

    let reply = client
        .group_unicast(
            addr,
            &l("g"),
            Request::post("/data").with_payload("pairwise"),
            RequestMode::Pairwise(g.members[1].sender_id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(reply.response.code, Code::CHANGED);
    assert_eq!(reply.response.payload, b"got: pairwise");
    let e = peer.next("REQUEST").await;
    assert_eq!(e["context"], "_PairwiseContextAspect");
    // Requests with the Group Flag, then without; both answers pairwise.
    let out: Vec<u8> = distinct(&tap, Direction::Out)
        .iter()
        .filter(|m| m.code != 0)
        .map(|m| m.options.get(number::OSCORE).unwrap()[0] & 0x20)
        .collect();
    assert_eq!(out, vec![0x20, 0]);
    let back: Vec<u8> = distinct(&tap, Direction::In)
        .iter()
        .filter(|m| m.code != 0)
        .map(|m| {
            m.options
                .get(number::OSCORE)
                .unwrap()
                .first()
                .map_or(0, |b| b & 0x20)
        })
        .collect();
    assert_eq!(back, vec![0, 0]);
}

#[tokio::test]
async fn ed25519_group_aiocoap_requests_our_member_answers_pairwise() {
    bounded(aiocoap_requests_our_member(
        SignatureAlgorithm::EdDsa,
        ResponsePolicy::Pairwise,
    ))
    .await;
}

#[tokio::test]
async fn ed25519_group_aiocoap_requests_our_member_answers_in_group_mode() {
    bounded(aiocoap_requests_our_member(
        SignatureAlgorithm::EdDsa,
        ResponsePolicy::Group,
    ))
    .await;
}

#[tokio::test]
async fn ed25519_group_our_member_requests_aiocoap() {
    bounded(our_member_requests_aiocoap(SignatureAlgorithm::EdDsa)).await;
}

#[tokio::test]
async fn es256_group_aiocoap_requests_our_member_answers_like_the_request() {
    bounded(aiocoap_requests_our_member(
        SignatureAlgorithm::Es256,
        ResponsePolicy::LikeRequest,
    ))
    .await;
}

#[tokio::test]
async fn es256_group_our_member_requests_aiocoap() {
    bounded(our_member_requests_aiocoap(SignatureAlgorithm::Es256)).await;
}

/// A group-mode request to the IPv4 All CoAP Nodes address on loopback,
/// where an aiocoap member and one of ours listen on the same port: both
/// answer (aiocoap in pairwise mode), and our requester verifies both.
async fn multicast_request_answered_by_aiocoap_and_our_member(alg: SignatureAlgorithm) {
    let mut g = TestGroup::new(alg, 3);
    g.structure = CountersignatureStructure::Aiocoap0_4_17;
    // aiocoap is member 1 and knows members 0 (the requester) and 2.
    let me = &g.members[1];
    let peers = [0usize, 2]
        .iter()
        .map(|&i| {
            format!(
                r#""{}":"{}""#,
                hex::encode(&g.members[i].sender_id),
                hex::encode(&g.members[i].credential)
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let peer_config = format!(
        r#"{{"kind":"group","multicast":true,"alg":"{}","gid":"{}","ms":"{}","salt":"{}","sid":"{}","priv":"{}","cred":"{}","peers":{{{peers}}},"gm_cred":"{}"}}"#,
        alg_name(g.alg),
        hex::encode(&g.gid),
        hex::encode(&g.secret),
        hex::encode(&g.salt),
        hex::encode(&me.sender_id),
        hex::encode(me.key.to_bytes().as_slice()),
        hex::encode(&me.credential),
        hex::encode(&g.gm_credential),
    );
    let Some(mut peer) = Peer::start("server", &peer_config) else {
        return;
    };
    let port = peer.ready().await.port();
    let group = ace_coap::MulticastGroup::all_coap_nodes_v4(port, std::net::Ipv4Addr::LOCALHOST);
    // Our member 2 on the same group and port.
    let table = OscoreContexts::<String>::new();
    table.add_group(&l("g"), g.member(2));
    let router = Router::new().get("/hello", |_req: Request| async {
        Response::content("hello from rust")
    });
    let _member = ace_coap::CoapEndpoint::bind(
        config_with_group(group.clone()),
        ace_coap::Layer::layer(&table.server_layer(), router.into_handler()),
    )
    .await
    .unwrap();
    // Our requester, member 0.
    let requester = OscoreContexts::<String>::new();
    requester.add_group(&l("g"), g.member(0));
    let mut cfg = config();
    cfg.socket.multicast_interface_v4 = Some(std::net::Ipv4Addr::LOCALHOST);
    let client = OscoreClient::new(
        ace_coap::CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap(),
        requester,
    );
    let replies = client
        .group_request(
            group.group,
            &l("g"),
            Request::get("/hello"),
            RequestMode::Group,
            Duration::from_millis(1500),
        )
        .await
        .unwrap();
    assert!(replies.refused.is_empty(), "{:?}", replies.refused);
    let mut got: Vec<(Vec<u8>, Vec<u8>)> = replies
        .replies
        .iter()
        .map(|r| (r.kid.clone(), r.response.payload.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                g.members[1].sender_id.clone(),
                b"hello from aiocoap".to_vec()
            ),
            (g.members[2].sender_id.clone(), b"hello from rust".to_vec()),
        ]
    );
    let e = peer.next("REQUEST").await;
    assert_eq!(e["context"], "_GroupContextAspect");
}

fn config_with_group(group: ace_coap::MulticastGroup) -> ace_coap::EndpointConfig {
    config().join(group)
}

#[tokio::test]
async fn ed25519_multicast_request_answered_by_aiocoap_and_our_member() {
    bounded(multicast_request_answered_by_aiocoap_and_our_member(
        SignatureAlgorithm::EdDsa,
    ))
    .await;
}

#[tokio::test]
async fn es256_multicast_request_answered_by_aiocoap_and_our_member() {
    bounded(multicast_request_answered_by_aiocoap_and_our_member(
        SignatureAlgorithm::Es256,
    ))
    .await;
}
