//! Shared test support: run a scenario in-process with its log kept, and
//! locate the peers the interop tests need.

#![allow(dead_code, clippy::unwrap_used)]

use ace_scenario::report::StepLog;
use ace_scenario::{Mode, RunOptions, RunReport, Scenario};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A writer into a shared buffer (the step log, shown when a test fails).
#[derive(Clone, Default)]
pub struct Buffer(
    /// The bytes.
    pub Arc<Mutex<Vec<u8>>>,
);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// What was written.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A finished run with its files.
pub struct Run {
    /// The report.
    pub report: RunReport,
    /// The step log.
    pub log: String,
    /// Where the reports are (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The pcap file.
    pub pcap: PathBuf,
}

/// Runs `scenario` in this process, writing its diagram, report and pcap
/// into a temporary directory.
pub async fn run(scenario: &Scenario) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log = Buffer::default();
    let pcap = dir.path().join(format!("{}.pcap", scenario.name));
    let options = RunOptions {
        mode: Mode::InProcess,
        out_dir: Some(dir.path().to_path_buf()),
        pcap: Some(pcap.clone()),
        trace: None,
        log: StepLog::to(Box::new(log.clone())),
        progress: false,
        max_arrows: 1500,
    };
    let report = ace_scenario::run(scenario, options).await;
    Run {
        report,
        log: log.text(),
        dir,
        pcap,
    }
}

/// Runs the file `scenarios/NAME.toml` and asserts that it passed and wrote
/// every report.
pub async fn run_file(name: &str) -> Run {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let scenario = ace_scenario::model::parse_file(&path).unwrap();
    let run = run(&scenario).await;
    assert!(
        run.report.passed,
        "scenario {name} failed:\n{}\n{}",
        run.log,
        run.report.to_json()
    );
    let a = &run.report.artifacts;
    for file in [&a.svg, &a.mermaid, &a.json, &a.pcap] {
        let file = file.as_ref().expect("every report is written");
        assert!(
            std::fs::metadata(file).unwrap().len() > 0,
            "{} is empty",
            file.display()
        );
    }
    // The pcap holds each datagram once: header + one record per datagram.
    let pcap = std::fs::read(&run.pcap).unwrap();
    assert_eq!(records(&pcap), run.report.datagrams, "{name}: pcap records");
    run
}

/// The number of records in a pcap file.
pub fn records(pcap: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
        n += 1;
    }
    assert_eq!(at, pcap.len(), "truncated pcap");
    n
}

/// Whether peers must be present (`ACE_REQUIRE_PEERS=1`).
pub fn required() -> bool {
    std::env::var("ACE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// `Some(path)` of a peer program, or `None` after printing that the test
/// is skipped; panics when peers are required.
pub fn peer(name: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    let found = path.filter(|p| p.exists()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    match found {
        Some(p) => Some(p),
        None if required() => {
            panic!("peer {name} missing and ACE_REQUIRE_PEERS=1 (run scripts/setup-peers)")
        }
        None => {
            eprintln!("skipped: peer {name} missing");
            None
        }
    }
}
