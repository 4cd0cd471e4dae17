//! Interop over the network: aiocoap 0.4.17, an independent OSCORE
//! implementation, as a client of our AS. It obtains a token over its
//! pre-established OSCORE context (the KDC's verifier opens it), and a
//! refused request gets the RFC 9200 error through OSCORE.
//!
//! The venv Python is `ACE_VENV_PYTHON` or `<workspace>/target/venv/bin/python`;
//! without it the test prints "skipped: peer aiocoap missing", and fails
//! under `ACE_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::AuthorizationServer;
use ace_as::service::{protocol, serve_with};
use ace_as::store::{MemoryStore, TokenFilter, TokenStore};
use ace_coap::EndpointConfig;
use ace_proto::Codec;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::cwt::Confirmation;
use ace_proto::oauth::{AccessTokenResponse, ErrorCode, ErrorResponse};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER};
use common::cases::{aif, request};
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn venv_python() -> Option<PathBuf> {
    let path = std::env::var_os("ACE_VENV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python")
        });
    let works = path.exists()
        && Command::new(&path)
            .args(["-c", "import aiocoap.oscore"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if works {
        return Some(path);
    }
    if std::env::var("ACE_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "peer aiocoap missing ({}) and ACE_REQUIRE_PEERS=1",
            path.display()
        );
    }
    println!("skipped: peer aiocoap missing ({})", path.display());
    None
}

/// Runs the script with a deadline; returns its JSON output.
fn run_script(python: &PathBuf, args: &[String]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aiocoap/token_client.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("aiocoap client did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "aiocoap client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn aiocoap_obtains_a_token_over_oscore() {
    let Some(python) = venv_python() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let core = Arc::new(AuthorizationServer::new(
        config(),
        store.clone() as Arc<dyn TokenStore>,
    ));
    let running = runtime.block_on(async {
        serve_with(
            core.clone(),
            store.clone(),
            EndpointConfig::new("127.0.0.1:0".parse().unwrap()).protocol(protocol()),
            Arc::new(|| NOW),
        )
        .await
        .unwrap()
    });
    let as_side = core.config().client("c1").unwrap().oscore.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let granted = request("kdc", aif(&[("g1", REQUESTER)])).encode();
    let refused = request("kdc", aif(&[("g1", MONITOR)])).encode();
    let args = vec![
        format!("coap://127.0.0.1:{}/token", running.local_addr().port()),
        dir.path().join("ctx").display().to_string(),
        // The client's view: its Sender ID is the AS's Recipient ID.
        hex::encode(&as_side.recipient_id),
        hex::encode(&as_side.sender_id),
        hex::encode(as_side.master_secret.as_slice()),
        hex::encode(&as_side.master_salt),
        hex::encode(&granted),
        hex::encode(&refused),
    ];
    let results = run_script(&python, &args);
    let results = results.as_array().unwrap();

    // 2.01 with the Access Information.
    assert_eq!(results[0]["code"], "2.01", "{results:?}");
    assert_eq!(results[0]["content_format"], ACE_CBOR);
    let payload = hex::decode(results[0]["payload"].as_str().unwrap()).unwrap();
    let info = AccessTokenResponse::decode(&payload).unwrap();
    let claims = core
        .verifier("kdc")
        .unwrap()
        .open(&info.access_token, NOW)
        .unwrap()
        .into_claims();
    assert!(matches!(claims.cnf, Some(Confirmation::Osc(_))));
    assert_eq!(claims.cnf, info.cnf);
    // Authenticated as c1: only an OSCORE request can be.
    let records = store.list(&TokenFilter::default()).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client, "c1");

    // 4.00 invalid_scope, protected like any response.
    assert_eq!(results[1]["code"], "4.00");
    let payload = hex::decode(results[1]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        ErrorResponse::decode(&payload).unwrap().error,
        ErrorCode::InvalidScope
    );
    runtime.block_on(running.shutdown());
}
