//! The end-to-end demo: in-process in under 5 s with its diagram and pcap,
//! as child processes of the real binaries, and its pcap dissected as CoAP
//! by tshark.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_in_process_within_five_seconds() {
    let scenario = ace_scenario::demo::scenario().unwrap();
    let started = Instant::now();
    let run = support::run(&scenario).await;
    let elapsed = started.elapsed();
    assert!(run.report.passed, "{}", run.log);
    assert!(
        elapsed < Duration::from_secs(5),
        "the demo took {elapsed:?}"
    );
    println!(
        "demo in-process: {elapsed:?}, {} datagrams",
        run.report.datagrams
    );
    // The Monitor sent the members nothing (no response, no error), as
    // the capture of its endpoint shows.
    assert!(
        run.report
            .steps
            .iter()
            .filter(|s| s.action == "send")
            .all(|s| s.detail.contains("monitor sent nothing")),
        "{}",
        run.log
    );
    // The diagram has a lifeline per actor and the steps of the join flow.
    let svg = std::fs::read_to_string(run.report.artifacts.svg.as_ref().unwrap()).unwrap();
    for text in [
        ">requester<",
        ">responder<",
        ">monitor<",
        ">AS<",
        ">KDC<",
        "POST /ace-group/g1",
        "4.01 Unauthorized",
        // Inner labels from inside the KDC's OSCORE layer (the join) and
        // the members' (the KDC's rekeying POST to a control_uri).
        "POST /ace-group/g1 [OSCORE]",
        "POST /ace-group/g1/node [OSCORE]",
        "2.04 Changed [OSCORE]",
        "POST /token [OSCORE]",
        "2.01 Created [OSCORE]",
        "POST /authz-info",
        "FETCH /temperature [OSCORE]",
        "2.05 Content [OSCORE]",
        "(notification)",
        "(eavesdropping)",
    ] {
        assert!(svg.contains(text), "{text:?} not in the diagram");
    }
    let mermaid = std::fs::read_to_string(run.report.artifacts.mermaid.as_ref().unwrap()).unwrap();
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    assert!(mermaid.contains("->>") && mermaid.contains("-->>"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.report.artifacts.json.as_ref().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(
        json["steps"].as_array().unwrap().len(),
        scenario.steps.len()
    );
}

/// The profile directory of this test binary (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds the four binaries into this test's target directory.
fn build_binaries() -> PathBuf {
    let profile = profile_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(support::root())
        .args([
            "build",
            "-p",
            "ace-scenario-cli",
            "-p",
            "ace-as-cli",
            "-p",
            "ace-kdc-cli",
            "-p",
            "ace-client-cli",
        ])
        .env("CARGO_TARGET_DIR", profile.parent().unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "building the binaries failed");
    profile
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_with_processes() {
    let bin = tokio::task::spawn_blocking(build_binaries).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(bin.join("ace-scenario"))
            .args(["demo", "--processes", "--no-progress", "--out"])
            .arg(out.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the demo with processes did not finish in 3 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("demo with processes: {:?}", started.elapsed());
    assert!(stdout.contains("(processes)"), "{stdout}");
    assert!(stdout.contains("The demo passed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("demo.json")).unwrap())
            .unwrap();
    assert_eq!(report["mode"], "processes");
    assert_eq!(report["passed"], true);
    // The Monitor's silence is checked while the run goes on, from the
    // capture file its own process writes.
    let details: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("response(s) from responder"))
        .collect();
    assert_eq!(details.len(), 2, "{stdout}");
    assert!(
        details.iter().all(|l| l.contains("monitor sent nothing")),
        "{stdout}"
    );
    // The children's own captures were merged: the diagram shows the whole
    // flow between the processes, with the inner requests and codes from
    // their traces' `inner` lines.
    assert!(report["datagrams"].as_u64().unwrap() >= 60, "{report}");
    let mermaid = std::fs::read_to_string(out.path().join("demo.mmd")).unwrap();
    for text in [
        "POST /authz-info",
        "POST /token [OSCORE]",
        "POST /ace-group/g1 [OSCORE]",
        "2.01 Created [OSCORE]",
        "(notification)",
        "POST /ace-group/g1/node [OSCORE]",
        "FETCH /temperature [OSCORE]",
        "DELETE /ace-group/g1/nodes/",
    ] {
        assert!(
            mermaid.contains(text),
            "{text:?} not in the diagram:\n{mermaid}"
        );
    }
    // No child process is left: the ports the run used are free again.
    for a in report["actors"].as_array().unwrap() {
        if let Some(addr) = a["address"].as_str() {
            std::net::UdpSocket::bind(addr).unwrap_or_else(|e| panic!("{addr} still bound: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tshark_dissects_the_demo_pcap_as_coap() {
    let Some(tshark) = support::peer("tshark", None) else {
        return;
    };
    let scenario = ace_scenario::demo::scenario().unwrap();
    let run = support::run(&scenario).await;
    assert!(run.report.passed, "{}", run.log);
    let mut cmd = Command::new(&tshark);
    cmd.arg("-r").arg(&run.pcap);
    // Ephemeral ports: tell tshark they carry CoAP.
    for a in &run.report.actors {
        if let Some(port) = a.address.as_deref().and_then(|s| s.rsplit(':').next()) {
            cmd.args(["-d", &format!("udp.port=={port},coap")]);
        }
    }
    cmd.args([
        "-T",
        "fields",
        "-e",
        "coap.code",
        "-e",
        "coap.opt.uri_path",
        "-e",
        "coap.mid",
    ]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), run.report.datagrams, "{text}");
    // Every frame dissected as CoAP: each has a code and a Message ID.
    assert!(
        lines.iter().all(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() == 3 && !f[0].is_empty() && !f[2].is_empty()
        }),
        "{text}"
    );
    // The unprotected part of the join flow is readable: POST (2) to
    // /ace-group/g1, its 4.01 (129), POST /authz-info; the rest is OSCORE,
    // whose outer messages carry no Uri-Path (RFC 8613 section 4.1.3.3).
    assert!(
        lines.iter().any(|l| l.starts_with("2\tace-group,g1")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("129\t")), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("2\tauthz-info")),
        "{text}"
    );
    assert!(
        lines.iter().filter(|l| l.starts_with("2\t\t")).count() > 3,
        "{text}"
    );
}
