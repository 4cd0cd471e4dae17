//! The `ace-client` command against the real AS and KDC on loopback:
//! separate invocations compose through the state file (join, then send,
//! keys, num, creds, renew, leave), a `serve` process answers a `send`, and
//! refusals print the RFC's error wording with exit status 2.

#![allow(clippy::unwrap_used, missing_docs)] // tests may unwrap

#[path = "../../../crates/ace-client/tests/support/mod.rs"]
mod support;

use ace_client::file::ClientFile;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::World;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const T: Duration = Duration::from_secs(60);

struct Cli {
    config: PathBuf,
    state: PathBuf,
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cli {
    /// A client of `world` whose files live in `dir`, bound to a fixed
    /// loopback port.
    fn new(world: &World, dir: &Path, name: &str) -> Self {
        let mut config = world.client_config(name);
        config.bind = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let file = ClientFile::of(&config);
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, file.to_toml()).unwrap();
        Self {
            config: path,
            state: dir.join(format!("{name}.state.json")),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ace-client"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs to completion: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = tokio::time::timeout(T, self.command(args).output())
            .await
            .expect("the command finishes")
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args).await;
        assert_eq!(code, 0, "ace-client {args:?} failed: {err}");
        out
    }
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_compose_through_the_state_file() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let responder = Cli::new(&world, dir.path(), "responder");
    let requester = Cli::new(&world, dir.path(), "requester");

    let joined = json_lines(
        &responder
            .ok(&["--json", "join", "g1", "--roles", "responder"])
            .await,
    );
    assert_eq!(joined[0]["group"], "g1");
    assert_eq!(joined[0]["new_token"], true);
    let num = joined[0]["num"].as_u64().unwrap();

    // The responder serves in a process of its own, from its state file.
    let mut serve = responder
        .command(&[
            "serve", "g1", "--path", "/temp", "--reply", "21.5", "--count", "1", "--for", "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(T, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ready.starts_with("serving /temp in g1 on "), "{ready}");
    let address = ready.rsplit(' ').next().unwrap().to_string();

    requester.ok(&["join", "g1", "--roles", "requester"]).await;
    let sent = requester
        .ok(&["send", "g1", "/temp", "--peer", &address, "--wait", "3"])
        .await;
    assert!(sent.contains("2.05") && sent.contains(": 21.5"), "{sent}");
    let seen = tokio::time::timeout(T, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(seen.contains("g1: GET /temp from "), "{seen}");
    let status = tokio::time::timeout(T, serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    // The other operations, each a process of its own.
    assert_eq!(requester.ok(&["num", "g1"]).await.trim(), num.to_string());
    let keys = json_lines(&requester.ok(&["--json", "keys", "g1"]).await);
    assert_eq!(keys[0]["num"].as_u64(), Some(num));
    assert_eq!(keys[0]["master_secret"], "", "secrets hidden unless asked");
    let creds = json_lines(
        &requester
            .ok(&["--json", "creds", "g1", "--role", "responder"])
            .await,
    );
    assert_eq!(creds.len(), 1);
    let before = keys[0]["sender_id"].as_str().unwrap().to_string();
    let renewed = json_lines(&requester.ok(&["--json", "renew", "g1"]).await);
    assert_ne!(renewed[0]["sender_id"].as_str().unwrap(), before);
    let export: serde_json::Value =
        serde_json::from_str(&requester.ok(&["export", "g1"]).await).unwrap();
    assert_eq!(export["sender_id"], renewed[0]["sender_id"]);
    assert!(export["private_key"].is_null());
    requester.ok(&["leave", "g1"]).await;
    let (code, _, err) = requester.run(&["num", "g1"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("not a member of group \"g1\""), "{err}");
    // The KDC saw all of it: the requester left, the responder stays.
    let summary = world.kdc().kdc().group_summary("g1").unwrap();
    assert_eq!(summary.members.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_print_the_error_id_with_the_rfc_wording() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let monitor = Cli::new(&world, dir.path(), "monitor");
    monitor.ok(&["join", "g1", "--roles", "monitor"]).await;
    let (code, _, err) = monitor.run(&["renew", "g1"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("4.00 (Bad Request)"), "{err}");
    assert!(
        err.contains("error id 1 \"Request inconsistent with the current roles\""),
        "{err}"
    );
    assert!(err.contains("re-join with the roles"), "{err}");
    // Without a state file and without a configuration: a clear message.
    let (code, _, err) = tokio::time::timeout(
        T,
        Command::new(env!("CARGO_BIN_EXE_ace-client"))
            .args([
                "--state",
                dir.path().join("none.json").to_str().unwrap(),
                "num",
                "g1",
            ])
            .output(),
    )
    .await
    .unwrap()
    .map(|o| {
        (
            o.status.code().unwrap_or(-1),
            (),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    })
    .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("give --config FILE"), "{err}");
}

#[tokio::test]
async fn help_documents_the_commands_and_the_state_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_ace-client"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "join",
        "keys",
        "num",
        "creds",
        "renew",
        "leave",
        "listen",
        "send",
        "serve",
        "STATE FILE",
        "CONFIGURATION FILE",
    ] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_prints_the_rekeying_of_a_later_join() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let member = Cli::new(&world, dir.path(), "member");
    let joined = json_lines(
        &member
            .ok(&["--json", "join", "gb", "--roles", "responder"])
            .await,
    );
    let num = joined[0]["num"].as_u64().unwrap();
    let mut listen = member
        .command(&["--json", "listen", "--count", "1", "--for", "50"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listen.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(
        &tokio::time::timeout(T, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ready["group"], "gb");
    // A join with backward security rekeys the group.
    let other = world.client("other").await;
    other
        .join(
            "gb",
            ace_proto::roles::group_oscore::REQUESTER,
            ace_client::JoinOptions::default(),
        )
        .await
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(
        &tokio::time::timeout(T, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(event["event"], "rekeyed");
    assert_eq!(event["num"].as_u64(), Some(num + 1));
    assert!(
        tokio::time::timeout(T, listen.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    // The state file now holds the new version.
    let keys = json_lines(&member.ok(&["--json", "keys", "gb"]).await);
    assert_eq!(keys[0]["num"].as_u64(), Some(num + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_a_multicast_group_served_by_another_process() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let responder = Cli::new(&world, dir.path(), "responder");
    let requester = Cli::new(&world, dir.path(), "requester");
    responder.ok(&["join", "g1", "--roles", "responder"]).await;
    requester.ok(&["join", "g1", "--roles", "requester"]).await;
    let group = format!("224.0.1.187:{}", free_port());
    let mut serve = responder
        .command(&[
            "--multicast-listen",
            &group,
            "--multicast-if",
            "127.0.0.1",
            // Answers to multicast requests are delayed by up to the
            // leisure time (RFC 7252 section 8.2): short on loopback.
            "--leisure",
            "0.05",
            "serve",
            "g1",
            "--path",
            "/temp",
            "--reply",
            "22.0",
            "--count",
            "1",
            "--for",
            "50",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(T, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ready.starts_with("serving /temp in g1"), "{ready}");
    let sent = requester
        .ok(&[
            "--multicast-if",
            "127.0.0.1",
            "send",
            "g1",
            "/temp",
            "--multicast",
            &group,
            "--wait",
            "2",
        ])
        .await;
    assert!(sent.contains(": 22.0"), "{sent}");
    assert!(
        tokio::time::timeout(T, serve.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}

/// Reads the state file.
fn state_of(cli: &Cli) -> ace_client::ClientState {
    ace_client::ClientState::from_json(&std::fs::read_to_string(&cli.state).unwrap()).unwrap()
}

/// Starts `serve` and returns the process, its output lines and its
/// address (from the first line).
async fn start_serving(
    cli: &Cli,
    args: &[&str],
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    String,
) {
    let mut all = vec!["--json", "serve"];
    all.extend_from_slice(args);
    let mut child = cli.command(&all).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(
        &tokio::time::timeout(T, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let address = ready["address"].as_str().unwrap().to_string();
    (child, lines, address)
}

/// A Monitor served by one invocation after another hears each fresh
/// request (its replay windows go from one invocation to the next through
/// the state file, and are out of the file while one runs), and `serve`
/// answers every path, or the paths listed, of one or more groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_served_again_hears_requests_and_serve_takes_every_path() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let monitor = Cli::new(&world, dir.path(), "monitor");
    let responder = Cli::new(&world, dir.path(), "responder");
    let requester = Cli::new(&world, dir.path(), "requester");
    monitor.ok(&["join", "g1", "--roles", "monitor"]).await;
    responder.ok(&["join", "g1", "--roles", "responder"]).await;
    responder.ok(&["join", "g2", "--roles", "responder"]).await;
    requester.ok(&["join", "g1", "--roles", "requester"]).await;
    requester.ok(&["join", "g2", "--roles", "requester"]).await;
    assert!(state_of(&monitor).groups[0].replay.is_some());

    for (round, path) in ["/first", "/second"].into_iter().enumerate() {
        let (mut serve, mut lines, address) =
            start_serving(&monitor, &["g1", "--count", "1", "--for", "50"]).await;
        // While it runs, the file holds no windows.
        assert!(
            state_of(&monitor).groups[0].replay.is_none(),
            "round {round}"
        );
        let sent = requester
            .ok(&["send", "g1", path, "--peer", &address, "--wait", "1"])
            .await;
        assert!(
            sent.contains("(no response)"),
            "a Monitor answers nothing: {sent}"
        );
        let heard: serde_json::Value = serde_json::from_str(
            &tokio::time::timeout(T, lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(heard["event"], "message", "round {round}");
        assert_eq!(heard["path"], path);
        assert!(
            tokio::time::timeout(T, serve.wait())
                .await
                .unwrap()
                .unwrap()
                .success()
        );
        assert!(state_of(&monitor).groups[0].replay.is_some());
    }

    // Every path of both groups.
    let (mut serve, _lines, address) = start_serving(
        &responder,
        &["g1", "g2", "--reply", "here", "--count", "3", "--for", "50"],
    )
    .await;
    for (group, path) in [("g1", "/x"), ("g1", "/y/z"), ("g2", "/w")] {
        let sent = requester
            .ok(&["send", group, path, "--peer", &address, "--wait", "2"])
            .await;
        assert!(
            sent.contains("2.05") && sent.contains(": here"),
            "{group} {path}: {sent}"
        );
    }
    assert!(
        tokio::time::timeout(T, serve.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    // Only the paths listed.
    let (mut serve, _lines, address) = start_serving(
        &responder,
        &[
            "g1", "--path", "/a", "--path", "b", "--count", "3", "--for", "50",
        ],
    )
    .await;
    for (path, code) in [("/a", "2.05"), ("/b", "2.05"), ("/c", "4.04")] {
        let sent = requester
            .ok(&["send", "g1", path, "--peer", &address, "--wait", "2"])
            .await;
        assert!(sent.contains(code), "{path}: {sent}");
    }
    assert!(
        tokio::time::timeout(T, serve.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}
