//! The `ace-as` binary: configuration refusals with the line, the token
//! commands on the database, and serving until Ctrl-C.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_as::AuthorizationServer;
use ace_as::config::AsConfig;
use ace_as::store::{SqliteStore, TokenStore};
use ace_coap::oscore::OscoreContexts;
use ace_coap::{CoapEndpoint, Request};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::oauth::{AccessTokenRequest, AccessTokenResponse, ErrorCode, ErrorResponse};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use group_oscore::{ContextParams, SecurityContext};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EXAMPLE: &str = include_str!("../../../crates/ace-as/as.example.toml");

fn ace_as() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ace-as"));
    cmd.env("RUST_LOG", "info");
    cmd
}

fn run(args: &[&str], dir: &Path) -> Output {
    ace_as().args(args).current_dir(dir).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example configuration in `dir`, listening on an ephemeral port.
fn example_in(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("as.toml");
    std::fs::write(&path, EXAMPLE.replace("127.0.0.1:5683", "127.0.0.1:0")).unwrap();
    path
}

#[test]
fn example_config_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["example-config"], dir.path());
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), EXAMPLE);
    example_in(dir.path());
    let out = run(&["--config", "as.toml", "check-config"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 clients, 2 audiences, 2 policy rules"));
}

#[test]
fn a_bad_configuration_is_refused_at_start_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = EXAMPLE.replacen(
        "protection = \"sign1+encrypt0\"",
        "protection = \"sign1\"",
        1,
    );
    let line = bad
        .lines()
        .position(|l| l == "protection = \"sign1\"")
        .unwrap()
        + 1;
    std::fs::write(dir.path().join("as.toml"), bad).unwrap();
    for args in [
        &["--config", "as.toml"][..],
        &["--config", "as.toml", "check-config"][..],
    ] {
        let out = run(args, dir.path());
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains(&format!("as.toml:{line}:")), "{err}");
        assert!(err.contains("master secret"), "{err}");
    }
    let out = run(&["check-config"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--config"));
}

#[test]
fn tokens_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = example_in(dir.path());
    // Issue two tokens into the configured database with the library.
    let config = AsConfig::load(&config_path).unwrap();
    let db = config.server.database.clone().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let server = AuthorizationServer::new(config, store);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let request = AccessTokenRequest {
        audience: Some("kdc.example".into()),
        scope: Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
            "g1", 2,
        )]))),
        ..AccessTokenRequest::default()
    };
    let peer = ace_as::Peer::Client("sensor-1".into());
    let a = server.issue(Some(&peer), &request, now).unwrap().record.cti;
    let b = server.issue(Some(&peer), &request, now).unwrap().record.cti;
    drop(server);

    let out = run(&["--config", "as.toml", "tokens", "list"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains(&hex::encode(&a)), "{listing}");
    assert!(listing.contains(&hex::encode(&b)));
    assert!(listing.contains("[[\"g1\", 2]]"), "{listing}");
    assert!(listing.contains("2 token(s)"));

    let out = run(
        &["--config", "as.toml", "tokens", "revoke", &hex::encode(&a)],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("revoked"));
    let out = run(
        &["--config", "as.toml", "tokens", "revoke", &hex::encode(&a)],
        dir.path(),
    );
    assert!(text(&out.stdout).contains("already revoked"));
    let out = run(
        &["--config", "as.toml", "tokens", "revoke", "0011"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no token"));

    // --database alone is enough; --active hides the revoked token.
    let db_arg = db.display().to_string();
    let out = run(
        &["--database", &db_arg, "tokens", "list", "--active"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(!listing.contains(&hex::encode(&a)));
    assert!(listing.contains(&hex::encode(&b)));
    let out = run(&["--database", &db_arg, "tokens", "list"], dir.path());
    assert!(text(&out.stdout).contains("revoked"));
}

#[test]
fn serves_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    example_in(dir.path());
    let mut child = ace_as()
        .args(["--config", "as.toml"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Readiness: the log line with the bound address.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let address = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("ace-as did not report its address");
        if let Some(at) = line.find("address=") {
            break line[at + 8..].trim().to_string();
        }
    };
    let address: std::net::SocketAddr = address.parse().unwrap();

    // A plain CoAP token request: no security context, so invalid_client.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = CoapEndpoint::client("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let request = Request::post("/token")
            .with_content_format(19)
            .with_payload(AccessTokenRequest::default().encode());
        let response =
            tokio::time::timeout(Duration::from_secs(10), client.request(address, request))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(response.code, Code::UNAUTHORIZED);
        assert_eq!(
            ErrorResponse::decode(&response.payload).unwrap().error,
            ErrorCode::InvalidClient
        );
        client.shutdown().await;
    });

    // Over the OSCORE context of client "sensor-1": a token.
    let config = AsConfig::load(&dir.path().join("as.toml")).unwrap();
    let as_side = config.client("sensor-1").unwrap().oscore.clone().unwrap();
    let token = runtime.block_on(async {
        let contexts = OscoreContexts::<String>::new();
        let params = ContextParams::new(
            &as_side.master_secret,
            &as_side.recipient_id,
            &as_side.sender_id,
        )
        .master_salt(&as_side.master_salt);
        let channel = "as".to_string();
        contexts.install(&channel, SecurityContext::new(&params).unwrap());
        let protocol =
            ace_coap::oscore::protocol_config(ace_coap::ProtocolConfig::fast_for_tests());
        let client = CoapEndpoint::bind(
            ace_coap::EndpointConfig::new("127.0.0.1:0".parse().unwrap())
                .protocol(protocol)
                .client_layer(contexts.client_layer()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let mut request = Request::post("/token")
            .with_content_format(19)
            .with_payload(
                AccessTokenRequest {
                    audience: Some("kdc.example".into()),
                    scope: Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
                        "g1", 2,
                    )]))),
                    ..AccessTokenRequest::default()
                }
                .encode(),
            );
        request.security = Some(ace_coap::SecurityIdentity::new(channel));
        let response =
            tokio::time::timeout(Duration::from_secs(10), client.request(address, request))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(
            response.code,
            Code::CREATED,
            "{:?}",
            String::from_utf8_lossy(&response.payload)
        );
        client.shutdown().await;
        AccessTokenResponse::decode(&response.payload)
            .unwrap()
            .access_token
    });
    let server = AuthorizationServer::new(config, Arc::new(ace_as::store::MemoryStore::new()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        server
            .verifier("kdc.example")
            .unwrap()
            .open(&token, now)
            .is_ok()
    );
    let out = run(&["--config", "as.toml", "tokens", "list"], dir.path());
    assert!(
        text(&out.stdout).contains("sensor-1"),
        "{}",
        text(&out.stdout)
    );

    // Ctrl-C: a clean exit.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "ace-as did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}
