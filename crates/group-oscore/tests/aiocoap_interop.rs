//! Byte-level interop with aiocoap 0.4.17, offline: the Python scripts in
//! `tests/aiocoap/` drive aiocoap's own OSCORE and Group OSCORE classes, and
//! messages travel as hex over their stdin/stdout.
//!
//! * OSCORE: aiocoap client to our server and our client to aiocoap's
//!   server (GET, POST, Observe), and Echo recovery (RFC 8613 Appendix
//!   B.1.2) with each side as the server that lost its replay state.
//! * Group OSCORE with Ed25519 and with ES256 groups: group-mode and
//!   pairwise-mode requests from each side, answered by the other in
//!   pairwise mode (aiocoap's choice) and in group mode. aiocoap signs the
//!   countersignature structure of draft -23, so our side uses
//!   `CountersignatureStructure::Aiocoap0_4_17`; with the RFC 10021
//!   structure the two sides refuse each other's signatures, as checked.
//! * The test vectors recomputed by aiocoap (`check_vectors.py`).
//!
//! The venv Python is `ACE_VENV_PYTHON` or `<workspace>/target/venv/bin/python`.
//! Without it the tests print "skipped: peer aiocoap missing", or fail when
//! `ACE_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use ace_proto::credential::Credential as Ccs;
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use group_oscore::group::{
    CountersignatureStructure, Credential, GroupParams, GroupSecurity, Member, OwnIdentity,
    RequestMode, ResponseMode,
};
use group_oscore::message::ECHO;
use group_oscore::sequence::{SenderSequence, Volatile};
use group_oscore::{ContextParams, SecurityContext, UnprotectError};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/aiocoap")
        .join(name)
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
        .args(["-c", "import aiocoap.oscore, cbor2, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(path);
    }
    if std::env::var("ACE_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "peer aiocoap missing: {} cannot import aiocoap.oscore (run scripts/setup-peers)",
            path.display()
        );
    }
    eprintln!("skipped: peer aiocoap missing ({})", path.display());
    None
}

/// Runs `cmd` to completion, killing it (and failing) after `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the script");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("script did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `peer.py`.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Peer {
    fn start() -> Option<Self> {
        let python = python()?;
        let mut child = Command::new(python)
            .arg(script("peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start peer.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
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

    fn call(&mut self, cmd: Value) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        let line = self
            .lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no answer from peer.py to {cmd} within {TIMEOUT:?}: {e}"));
        serde_json::from_str(&line).unwrap()
    }

    /// Calls and expects success; returns the message in the answer.
    fn msg(&mut self, cmd: Value) -> Packet {
        let answer = self.call(cmd.clone());
        assert!(
            answer.get("error").is_none(),
            "aiocoap failed {cmd}: {answer}"
        );
        Packet::from_bytes(&hex::decode(answer["msg"].as_str().unwrap()).unwrap()).unwrap()
    }
}

impl Drop for Peer {
    /// Closes stdin so that the script ends (and removes its temporary
    /// files); kills it if it has not within a few seconds.
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

fn wire(p: &Packet) -> String {
    hex::encode(p.to_bytes().unwrap())
}

fn request(code: u8, path: &str, payload: &[u8], mid: u16) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    p.header.code = MessageClass::from(code);
    p.header.message_id = mid;
    p.set_token(vec![0x42, mid as u8]);
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    if !payload.is_empty() {
        // Content-Format 60 (application/cbor), in shortest uint form.
        p.add_option(CoapOption::ContentFormat, vec![60]);
        p.payload = payload.to_vec();
    }
    p
}

fn observe(path: &str, mid: u16) -> Packet {
    let mut p = request(0x01, path, b"", mid);
    p.add_option(CoapOption::Observe, vec![]);
    p
}

fn response(code: u8, payload: &[u8], req: &Packet) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.code = MessageClass::from(code);
    p.header.message_id = req.header.message_id;
    p.set_token(req.get_token().to_vec());
    p.payload = payload.to_vec();
    p
}

/// Code, options and payload agree (header fields travel outside OSCORE).
fn assert_same_message(got: &Packet, want: &Packet) {
    assert_eq!(
        u8::from(got.header.code),
        u8::from(want.header.code),
        "code"
    );
    let opts = |p: &Packet| -> Vec<(u16, Vec<u8>)> {
        p.options()
            .flat_map(|(n, vs)| vs.iter().map(move |v| (*n, v.clone())))
            .collect()
    };
    assert_eq!(opts(got), opts(want), "options");
    assert_eq!(got.payload, want.payload, "payload");
    assert_eq!(got.get_token(), want.get_token(), "token");
}

const MS: &str = "0102030405060708090a0b0c0d0e0f10";
const SALT: &str = "9e7ca92223786340";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn our_oscore(sid: &str, rid: &str) -> SecurityContext {
    SecurityContext::new(&ContextParams::new(&h(MS), &h(sid), &h(rid)).master_salt(&h(SALT)))
        .unwrap()
}

fn aiocoap_oscore(peer: &mut Peer, sid: &str, rid: &str, extra: Value) {
    let mut cmd = json!({"op": "oscore", "ms": MS, "salt": SALT, "sid": sid, "rid": rid});
    if let (Some(c), Some(e)) = (cmd.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    assert_eq!(peer.call(cmd)["ok"], json!(true));
}

#[test]
fn aiocoap_client_to_our_server() {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    // RFC 8613 C.1 roles: the client's Sender ID is empty.
    aiocoap_oscore(&mut peer, "", "01", json!({}));
    let mut server = our_oscore("01", "");

    for (i, req) in [
        request(0x01, "/hello", b"", 1),
        request(0x02, "/data", b"posted by aiocoap", 2),
    ]
    .into_iter()
    .enumerate()
    {
        let outer = peer.msg(json!({"op": "protect_request", "msg": wire(&req)}));
        let (inner, mut sx) = server.unprotect_request(&outer).unwrap();
        assert_same_message(&inner, &req);
        let resp = response(0x45, format!("answer {i}").as_bytes(), &req);
        let protected = server.protect_response(&resp, &mut sx).unwrap();
        let back = peer.msg(json!({"op": "unprotect_response", "msg": wire(&protected)}));
        assert_same_message(&back, &resp);
    }

    // Observe: the first notification reuses the request nonce, the next
    // ones carry the server's Partial IV, which aiocoap reports as Observe.
    let req = observe("/obs", 3);
    let outer = peer.msg(json!({"op": "protect_request", "msg": wire(&req)}));
    assert_eq!(u8::from(outer.header.code), 0x05, "outer FETCH");
    let (inner, mut sx) = server.unprotect_request(&outer).unwrap();
    assert!(sx.is_observe());
    assert_same_message(&inner, &req);
    for n in 0..3u8 {
        let mut note = response(0x45, &[b'0' + n], &req);
        note.add_option(CoapOption::Observe, vec![n + 1]);
        let protected = server.protect_response(&note, &mut sx).unwrap();
        let answer = peer.call(json!({"op": "unprotect_response", "msg": wire(&protected)}));
        assert!(answer.get("error").is_none(), "{answer}");
        let back =
            Packet::from_bytes(&hex::decode(answer["msg"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(back.payload, vec![b'0' + n]);
        let expect = if n == 0 { -1 } else { i64::from(n) - 1 };
        assert_eq!(answer["observe"], json!(expect), "notification {n}");
    }
}

#[test]
fn our_client_to_aiocoap_server() {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    aiocoap_oscore(&mut peer, "01", "", json!({}));
    let mut client = our_oscore("", "01");

    for (i, req) in [
        request(0x01, "/hello", b"", 11),
        request(0x02, "/data", b"posted by us", 12),
    ]
    .into_iter()
    .enumerate()
    {
        let (outer, mut cx) = client.protect_request(&req).unwrap();
        let inner = peer.msg(json!({"op": "unprotect_request", "msg": wire(&outer)}));
        assert_same_message(&inner, &req);
        let resp = response(0x44, format!("done {i}").as_bytes(), &req);
        let protected = peer.msg(json!({"op": "protect_response", "msg": wire(&resp)}));
        let back = client.unprotect_response(&protected, &mut cx).unwrap();
        assert_same_message(&back, &resp);
    }

    let req = observe("/obs", 13);
    let (outer, mut cx) = client.protect_request(&req).unwrap();
    let inner = peer.msg(json!({"op": "unprotect_request", "msg": wire(&outer)}));
    assert_same_message(&inner, &req);
    let mut seen = Vec::new();
    for n in 0..3u8 {
        let mut note = response(0x45, &[b'a' + n], &req);
        note.add_option(CoapOption::Observe, vec![n + 5]);
        let protected = peer.msg(json!({"op": "protect_response", "msg": wire(&note)}));
        let back = client.unprotect_response(&protected, &mut cx).unwrap();
        assert_eq!(back.payload, vec![b'a' + n]);
        seen.push(back.get_first_option(CoapOption::Observe).cloned());
        // A replayed notification is refused.
        assert!(matches!(
            client.unprotect_response(&protected, &mut cx),
            Err(UnprotectError::Replay(_))
        ));
    }
    // Ordering by Partial IV: the values increase.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn echo_recovery_with_aiocoap_as_server() {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    // aiocoap restarted without replay state (sequence.json "received":
    // "unknown"): its first answer is a protected 4.01 with Echo.
    aiocoap_oscore(
        &mut peer,
        "01",
        "",
        json!({"seq": 100, "lost_replay": true}),
    );
    let mut client = our_oscore("", "01");

    let req = request(0x02, "/actuate", b"on", 21);
    let (outer, mut cx) = client.protect_request(&req).unwrap();
    let answer = peer.call(json!({"op": "unprotect_request", "msg": wire(&outer)}));
    assert_eq!(answer["error"], json!("ReplayErrorWithEcho"), "{answer}");
    let challenge =
        Packet::from_bytes(&hex::decode(answer["msg"].as_str().unwrap()).unwrap()).unwrap();
    let challenge = client.unprotect_response(&challenge, &mut cx).unwrap();
    assert_eq!(u8::from(challenge.header.code), 0x81, "4.01");
    let echo = challenge
        .get_first_option(CoapOption::Unknown(ECHO))
        .cloned()
        .expect("Echo option");

    let mut again = request(0x02, "/actuate", b"on", 22);
    again.add_option(CoapOption::Unknown(ECHO), echo.clone());
    let (outer, mut cx) = client.protect_request(&again).unwrap();
    let inner = peer.msg(json!({"op": "unprotect_request", "msg": wire(&outer)}));
    assert_eq!(inner.payload, b"on");
    let resp = response(0x44, b"", &again);
    let protected = peer.msg(json!({"op": "protect_response", "msg": wire(&resp)}));
    client.unprotect_response(&protected, &mut cx).unwrap();
}

#[test]
fn echo_recovery_with_our_server() {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    aiocoap_oscore(&mut peer, "", "01", json!({}));
    let mut server = our_oscore("01", "")
        .with_lost_replay_state()
        .with_sequence(SenderSequence::resume(5000, Box::new(Volatile), 100));

    let req = request(0x02, "/actuate", b"off", 31);
    let outer = peer.msg(json!({"op": "protect_request", "msg": wire(&req)}));
    let Err(UnprotectError::EchoRequired(challenge)) = server.unprotect_request(&outer) else {
        panic!("expected an Echo challenge");
    };
    let mut challenge = *challenge;
    let unprotected = challenge.response(&outer);
    let protected = server
        .protect_response(&unprotected, &mut challenge.exchange)
        .unwrap();
    // The challenge carries our Partial IV (RFC 8613 Appendix B.1.2).
    assert_eq!(
        protected.get_first_option(CoapOption::Oscore).unwrap()[0] & 0x07,
        2
    );
    let back = peer.msg(json!({"op": "unprotect_response", "msg": wire(&protected)}));
    assert_eq!(u8::from(back.header.code), 0x81);

    let outer = peer.msg(json!({"op": "echo_request", "msg": wire(&req)}));
    let (inner, mut sx) = server.unprotect_request(&outer).unwrap();
    assert_eq!(inner.payload, b"off");
    assert!(server.replay_window().is_valid());
    let resp = response(0x44, b"", &req);
    let protected = server.protect_response(&resp, &mut sx).unwrap();
    peer.msg(json!({"op": "unprotect_response", "msg": wire(&protected)}));
    // The accepted request cannot be replayed.
    assert!(matches!(
        server.unprotect_request(&outer),
        Err(UnprotectError::Replay(_))
    ));
}

/// One side of a group: our GroupSecurity and aiocoap's SimpleGroupContext.
struct Group {
    ours: GroupSecurity,
    our_id: Vec<u8>,
    their_id: Vec<u8>,
}

fn group(peer: &mut Peer, alg: SignatureAlgorithm, structure: CountersignatureStructure) -> Group {
    let ours_key = SigningKey::generate(alg);
    let theirs_key = SigningKey::generate(alg);
    let gm_key = SigningKey::generate(alg);
    // CCS credentials with `alg` (aiocoap requires it).
    let ours_cred = Ccs::ccs_for_signing_key(&ours_key, "rust", None).into_bytes();
    let theirs_cred = Ccs::ccs_for_signing_key(&theirs_key, "aiocoap", None).into_bytes();
    let gm_cred = Ccs::ccs_for_signing_key(&gm_key, "gm", None).into_bytes();
    let gid = ace_proto::keys::random_bytes(4);
    let ms = ace_proto::keys::random_bytes(16);
    let salt = ace_proto::keys::random_bytes(8);
    let (our_id, their_id) = (vec![0x0a], vec![0x0b]);
    let alg_name = match alg {
        SignatureAlgorithm::EdDsa => "EdDSA",
        SignatureAlgorithm::Es256 => "ES256",
    };
    let answer = peer.call(json!({
        "op": "group", "alg": alg_name, "gid": hex::encode(&gid), "ms": hex::encode(&ms),
        "salt": hex::encode(&salt), "sid": hex::encode(&their_id),
        "priv": hex::encode(theirs_key.to_bytes().as_slice()), "cred": hex::encode(&theirs_cred),
        "peers": {hex::encode(&our_id): hex::encode(&ours_cred)}, "gm_cred": hex::encode(&gm_cred),
    }));
    assert_eq!(answer["ok"], json!(true), "{answer}");
    let params = GroupParams::new(&gid, &ms, alg, &gm_cred)
        .master_salt(&salt)
        .countersignature(structure);
    let member = Member::new(
        &their_id,
        Credential::new(&theirs_cred, theirs_key.verifying_key()).unwrap(),
    );
    let ours = GroupSecurity::new(
        params,
        OwnIdentity::new(&our_id, ours_key, &ours_cred),
        [member],
    )
    .unwrap();
    Group {
        ours,
        our_id,
        their_id,
    }
}

fn group_interop(alg: SignatureAlgorithm) {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    let mut g = group(&mut peer, alg, CountersignatureStructure::Aiocoap0_4_17);
    let our_hex = hex::encode(&g.our_id);
    let mut mid = 100;

    // aiocoap requests in group mode; we answer in pairwise mode, then in
    // group mode.
    for mode in [ResponseMode::Pairwise, ResponseMode::Group] {
        mid += 1;
        let req = request(0x01, "/temp", b"", mid);
        let outer = peer.msg(json!({"op": "protect_request", "msg": wire(&req), "mode": "group"}));
        assert_eq!(
            outer.get_first_option(CoapOption::Oscore).unwrap()[0] & 0x20,
            0x20
        );
        let (inner, mut sx) = g.ours.unprotect_request(&outer).unwrap();
        assert!(sx.is_group_mode());
        assert_eq!(sx.request_kid(), g.their_id);
        assert_same_message(&inner, &req);
        let resp = response(0x45, format!("{mode:?} answer").as_bytes(), &req);
        let protected = g.ours.protect_response(&resp, &mut sx, mode).unwrap();
        let answer = peer.call(json!({"op": "unprotect_response", "msg": wire(&protected)}));
        assert!(answer.get("error").is_none(), "{mode:?}: {answer}");
        assert_eq!(answer["kid"], json!(our_hex));
        let back =
            Packet::from_bytes(&hex::decode(answer["msg"].as_str().unwrap()).unwrap()).unwrap();
        assert_same_message(&back, &resp);
    }

    // We request in group mode; aiocoap answers in pairwise mode (its
    // default), then in group mode.
    for mode in ["pairwise", "group"] {
        mid += 1;
        let req = request(0x02, "/cmd", b"group request", mid);
        let (outer, mut cx) = g.ours.protect_request(&req, &RequestMode::Group).unwrap();
        let answer = peer.call(json!({"op": "unprotect_request", "msg": wire(&outer)}));
        assert!(answer.get("error").is_none(), "{answer}");
        assert_eq!(answer["group_mode"], json!(true));
        assert_eq!(answer["kid"], json!(our_hex));
        let inner =
            Packet::from_bytes(&hex::decode(answer["msg"].as_str().unwrap()).unwrap()).unwrap();
        assert_same_message(&inner, &req);
        let resp = response(0x44, format!("{mode} answer").as_bytes(), &req);
        let protected =
            peer.msg(json!({"op": "protect_response", "msg": wire(&resp), "mode": mode}));
        let got = g.ours.unprotect_response(&protected, &mut cx).unwrap();
        assert_eq!(got.kid, g.their_id);
        assert_same_message(&got.message, &resp);
    }

    // Pairwise-mode requests in both directions.
    mid += 1;
    let req = request(0x01, "/pair", b"", mid);
    let outer = peer.msg(json!({
        "op": "protect_request", "msg": wire(&req), "mode": "pairwise", "peer": our_hex,
    }));
    assert_eq!(
        outer.get_first_option(CoapOption::Oscore).unwrap()[0] & 0x20,
        0
    );
    let (inner, mut sx) = g.ours.unprotect_request(&outer).unwrap();
    assert!(!sx.is_group_mode());
    assert_same_message(&inner, &req);
    let resp = response(0x45, b"pairwise", &req);
    let protected = g
        .ours
        .protect_response(&resp, &mut sx, ResponseMode::Pairwise)
        .unwrap();
    let back = peer.msg(json!({"op": "unprotect_response", "msg": wire(&protected)}));
    assert_same_message(&back, &resp);

    mid += 1;
    let req = request(0x03, "/pair", b"put", mid);
    let (outer, mut cx) = g
        .ours
        .protect_request(&req, &RequestMode::Pairwise(g.their_id.clone()))
        .unwrap();
    let inner = peer.msg(json!({"op": "unprotect_request", "msg": wire(&outer)}));
    assert_same_message(&inner, &req);
    let resp = response(0x44, b"", &req);
    let protected =
        peer.msg(json!({"op": "protect_response", "msg": wire(&resp), "mode": "pairwise"}));
    let got = g.ours.unprotect_response(&protected, &mut cx).unwrap();
    assert_eq!(got.kid, g.their_id);
}

#[test]
fn group_oscore_ed25519_with_aiocoap() {
    group_interop(SignatureAlgorithm::EdDsa);
}

#[test]
fn group_oscore_es256_with_aiocoap() {
    group_interop(SignatureAlgorithm::Es256);
}

/// With the RFC 10021 countersignature structure, aiocoap 0.4.17 and we
/// refuse each other's group-mode signatures: the reason for the named
/// compatibility mode.
#[test]
fn rfc_structure_and_aiocoap_structure_do_not_verify_each_other() {
    let Some(mut peer) = Peer::start() else {
        return;
    };
    let mut g = group(
        &mut peer,
        SignatureAlgorithm::EdDsa,
        CountersignatureStructure::Rfc9338,
    );
    let req = request(0x01, "/x", b"", 200);
    let (outer, _) = g.ours.protect_request(&req, &RequestMode::Group).unwrap();
    let answer = peer.call(json!({"op": "unprotect_request", "msg": wire(&outer)}));
    assert_eq!(answer["error"], json!("ProtectionInvalid"), "{answer}");

    let outer = peer.msg(json!({"op": "protect_request", "msg": wire(&req), "mode": "group"}));
    assert_eq!(
        g.ours.unprotect_request(&outer).unwrap_err(),
        UnprotectError::SignatureInvalid
    );
    // Pairwise mode has no signature and works either way.
    let outer = peer.msg(json!({
        "op": "protect_request", "msg": wire(&req), "mode": "pairwise", "peer": hex::encode(&g.our_id),
    }));
    g.ours.unprotect_request(&outer).unwrap();
}

#[test]
fn aiocoap_recomputes_the_vectors() {
    let Some(python) = python() else { return };
    let out = output_within(
        Command::new(python).arg(script("check_vectors.py")),
        TIMEOUT,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = |path: &[&str]| {
        path.iter()
            .fold(&v, |acc, k| &acc[k])
            .as_str()
            .unwrap_or_else(|| panic!("missing {path:?}"))
            .to_string()
    };

    // RFC 8613 Appendix C.1 to C.3 (official).
    assert_eq!(
        s(&["c1_client", "sender_key"]),
        "f0910ed7295e6ad4b54fc793154302ff"
    );
    assert_eq!(s(&["c1_client", "common_iv"]), "4622d4dd6d944168eefb54987c");
    assert_eq!(
        s(&["c2_client", "recipient_key"]),
        "e57b5635815177cd679ab4bcec9d7dda"
    );
    assert_eq!(
        s(&["c3_client", "sender_key"]),
        "af2a1300a5e95788b356336eeecd2b92"
    );
    assert_eq!(s(&["c3_client", "common_iv"]), "2ca58fb85ff1b81c0b7181b85e");

    // RFC 9203 context from the RFC's example values (unofficial).
    assert_eq!(
        s(&["rfc9203_client", "sender_key"]),
        "b27e21a6e8904c69367a7903b60c19ae"
    );
    assert_eq!(
        s(&["rfc9203_client", "recipient_key"]),
        "7ca38f735b2e0866341bfe149795d547"
    );
    assert_eq!(
        s(&["rfc9203_client", "common_iv"]),
        "7c3b80ba46ee86b866da7b6718"
    );

    // Group OSCORE computed vectors (unofficial), vectors/group-oscore.json.
    let g = |k: &str| s(&["group", k]);
    assert_eq!(
        g("signature_encryption_key"),
        "35b0a927e0f1c46200bd9bae3b8cddf0"
    );
    assert_eq!(g("pairwise_sender_key"), "a6adecf51b6fb32fa65ee15c60309d9d");
    assert_eq!(
        g("pairwise_recipient_key"),
        "84b9f0f25988ed2f555257e9529a3379"
    );
    assert_eq!(
        g("keystream_request"),
        "a1c5d0fb9a52feb67dcf2a5e375c878ace87b76a7383006599deb955f8cac6e25aea0a9b34d4ebdaf4fdeaaf453903316fbdd6d383810f0919872d31cdcb33ff"
    );
    assert_eq!(
        g("keystream_response"),
        "37bb7fc9bbb13310522bfdb2edf9852d5078996a8f0392e9c1e630e7b982950815ec479092b67629ecfa539f6044ca364dda1b23cf169d10c1d6a724ee2cefad"
    );
    assert_eq!(g("request_option_aiocoap"), "39140837cbf3210017a2d3");
    assert_eq!(g("pairwise_request_option"), "19140837cbf3210017a2d3");
    assert_eq!(g("pairwise_request_payload"), "dac0afcc4ab4165e764bd32cc4");
    assert_eq!(g("response_option"), "290001");
    // Same ciphertext whatever the structure; the signatures differ.
    assert!(g("request_payload_aiocoap").starts_with("72cd7273fd797f6594d1bbe9dc"));
    assert_eq!(
        g("request_payload_rfc"),
        "72cd7273fd797f6594d1bbe9dcf69fdcdfa9521483d2c09c43e32a9d63d9981b845aefd675133dcbbea9235594e7bd7ea4370bd8743e24718443cd230606b78a60ee5a8519e7a80a1a0ce9f5f2"
    );
    assert_eq!(
        g("response_payload_rfc"),
        "d2aad87ca5bb4e8623982b79ed54f938d791647ffccf51e99d799b97c3317cac5f7d0de0f8878e2ecaa8e807c93e273490a46de605a530da5c678ed2e5f94c76bf4fadb86fef25a4b4b142dd4eb3fe873036a47d44a0"
    );

    // Our compatibility mode reproduces aiocoap's own group-mode payload.
    let key = |seed: &str| SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &h(seed)).unwrap();
    let client_key = key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let server_key = key("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    let client_cred = h(
        "a20266636c69656e7408a101a301012006215820d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    );
    let server_cred = h(
        "a2026673657276657208a101a3010120062158203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    );
    let gm_cred = h(
        "a20262676d08a101a301012006215820fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    );
    let params = GroupParams::new(
        &h("37cbf3210017a2d3"),
        &h(MS),
        SignatureAlgorithm::EdDsa,
        &gm_cred,
    )
    .master_salt(&h(SALT))
    .countersignature(CountersignatureStructure::Aiocoap0_4_17);
    let mut client = GroupSecurity::new(
        params,
        OwnIdentity::new(b"", client_key, &client_cred),
        [Member::new(
            &[1],
            Credential::new(&server_cred, server_key.verifying_key()).unwrap(),
        )],
    )
    .unwrap()
    .with_sequence(SenderSequence::resume(20, Box::new(Volatile), 100));
    let (outer, _) = client
        .protect_request(&request(0x01, "/tv1", b"", 1), &RequestMode::Group)
        .unwrap();
    assert_eq!(hex::encode(&outer.payload), g("request_payload_aiocoap"));
}
