//! The runner: sets up the actors of a [`Scenario`] (in this process, or as
//! spawned `ace-as`, `ace-kdc` and `ace-client` processes with generated
//! configuration files), executes its steps in order with bounded
//! timeouts, checks each step's expectation, tears everything down (child
//! processes are always killed), and writes the reports.

pub mod config;
mod forward;
mod sniffer;
mod steps;
mod world;

use crate::capture::Capture;
use crate::model::{Action, Expectation, Scenario, Step};
use crate::report::flow::{self, FlowOptions};
use crate::report::{Artifacts, RunReport, StepLog, StepRecord, Verdict, mermaid, svg};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use steps::summary;
pub use world::World;

/// How the actors run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// AS, KDC and clients in this process, on loopback.
    InProcess,
    /// `ace-as`, `ace-kdc` and `ace-client` binaries found in `bin_dir`,
    /// with generated configuration files.
    Processes {
        /// Where the binaries are.
        bin_dir: PathBuf,
    },
}

impl Mode {
    /// `in-process` or `processes`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Processes { .. } => "processes",
        }
    }
}

/// What a run produces and how it reports.
pub struct RunOptions {
    /// How the actors run.
    pub mode: Mode,
    /// Directory for the diagram (SVG, Mermaid) and the JSON report; none:
    /// no files.
    pub out_dir: Option<PathBuf>,
    /// A pcap file of every datagram.
    pub pcap: Option<PathBuf>,
    /// Where to describe every CoAP message (`--trace`).
    pub trace: Option<Box<dyn Write + Send>>,
    /// The step log.
    pub log: StepLog,
    /// Show progress bars (only honoured on a terminal).
    pub progress: bool,
    /// Most arrows in the diagram.
    pub max_arrows: usize,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("mode", &self.mode)
            .field("out_dir", &self.out_dir)
            .field("pcap", &self.pcap)
            .field("trace", &self.trace.is_some())
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// In-process, no files, no log.
    pub fn quiet() -> Self {
        Self {
            mode: Mode::InProcess,
            out_dir: None,
            pcap: None,
            trace: None,
            log: StepLog::silent(),
            progress: false,
            max_arrows: 1500,
        }
    }
}

/// Why a step did not pass.
#[derive(Debug)]
pub(crate) enum StepError {
    /// A peer refused the operation (code, maybe error id).
    Refused(crate::actor::ActorError),
    /// The operation worked but a check failed, or it could not be done.
    Check(String),
}

impl From<crate::actor::ActorError> for StepError {
    fn from(e: crate::actor::ActorError) -> Self {
        if e.code.is_some() {
            Self::Refused(e)
        } else {
            Self::Check(e.message)
        }
    }
}

/// The verdict on a step's outcome against its expectation.
fn judge(step: &Step, outcome: Result<String, StepError>) -> (Verdict, String) {
    match (&step.expect, outcome) {
        (Expectation::Success, Ok(detail)) => (Verdict::Passed, detail),
        (Expectation::Success, Err(StepError::Refused(e))) => (Verdict::Failed, e.message),
        (_, Err(StepError::Check(reason))) => (Verdict::Failed, reason),
        (Expectation::Refused { .. }, Ok(detail)) => (
            Verdict::Failed,
            format!("expected a refusal, but it succeeded ({detail})"),
        ),
        (Expectation::Refused { code, error_id }, Err(StepError::Refused(e))) => {
            let code_ok = code.is_none_or(|c| e.code == Some(c));
            let id_ok = error_id.is_none_or(|id| e.error_id == Some(id));
            if code_ok && id_ok {
                (
                    Verdict::Passed,
                    format!("refused as expected: {}", e.message),
                )
            } else {
                (
                    Verdict::Failed,
                    format!("expected {}, got: {}", step.expect, e.message),
                )
            }
        }
    }
}

/// Runs `scenario`; never panics, always tears down.
pub async fn run(scenario: &Scenario, options: RunOptions) -> RunReport {
    let started = Instant::now();
    let RunOptions {
        mode,
        out_dir,
        pcap,
        trace,
        log,
        progress,
        max_arrows,
    } = options;
    let log = Arc::new(log);
    let capture = Capture::new(trace);
    log.line(&format!(
        "scenario {}: {} ({})",
        scenario.name,
        if scenario.description.is_empty() {
            "no description"
        } else {
            &scenario.description
        },
        mode.name()
    ));
    let mut report = RunReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        mode: mode.name().to_string(),
        passed: false,
        error: None,
        steps: Vec::new(),
        actors: Vec::new(),
        datagrams: 0,
        elapsed_ms: 0,
        artifacts: Artifacts::default(),
    };
    let world = world::World::start(scenario, &mode, capture.clone(), progress).await;
    let mut world = match world {
        Ok(w) => w,
        Err(e) => {
            report.error = Some(format!("setup failed: {e}"));
            log.line(&format!("  setup failed: {e}"));
            finish(
                &mut report,
                scenario,
                &capture,
                out_dir,
                pcap,
                max_arrows,
                &HashMap::new(),
                started,
                &log,
            );
            return report;
        }
    };
    report.actors = world.actors();
    let steps = async {
        let mut records = Vec::new();
        let mut failed = false;
        for step in &scenario.steps {
            let summary = summary(&step.action);
            if failed {
                records.push(StepRecord {
                    index: step.index,
                    line: step.line,
                    action: step.action.name().to_string(),
                    summary,
                    expected: step.expect.to_string(),
                    verdict: Verdict::Skipped,
                    detail: String::new(),
                    note: step.note.clone(),
                    elapsed_ms: 0,
                });
                continue;
            }
            capture.mark_step(&format!("step {}: {summary}", step.index));
            let t = Instant::now();
            let outcome = match tokio::time::timeout(step.timeout, world.execute(step)).await {
                Ok(o) => o,
                Err(_) => Err(StepError::Check(format!(
                    "timed out after {:?} (step timeout)",
                    step.timeout
                ))),
            };
            let (verdict, detail) = judge(step, outcome);
            let record = StepRecord {
                index: step.index,
                line: step.line,
                action: step.action.name().to_string(),
                summary,
                expected: step.expect.to_string(),
                verdict,
                detail,
                note: step.note.clone(),
                elapsed_ms: t.elapsed().as_millis(),
            };
            log.step(&record);
            failed = verdict == Verdict::Failed;
            records.push(record);
        }
        records
    };
    match tokio::time::timeout(scenario.timeout, steps).await {
        Ok(records) => report.steps = records,
        Err(_) => {
            report.error = Some(format!(
                "the scenario did not finish within its timeout of {:?}",
                scenario.timeout
            ));
        }
    }
    let aliases = world.lifeline_aliases();
    for problem in world.shutdown().await {
        log.line(&format!("  capture not merged: {problem}"));
    }
    report.passed = report.error.is_none()
        && !report.steps.is_empty()
        && report.steps.iter().all(|s| s.verdict == Verdict::Passed);
    finish(
        &mut report,
        scenario,
        &capture,
        out_dir,
        pcap,
        max_arrows,
        &aliases,
        started,
        &log,
    );
    report
}

#[allow(clippy::too_many_arguments)]
fn finish(
    report: &mut RunReport,
    scenario: &Scenario,
    capture: &Capture,
    out_dir: Option<PathBuf>,
    pcap: Option<PathBuf>,
    max_arrows: usize,
    aliases: &HashMap<String, String>,
    started: Instant,
    log: &StepLog,
) {
    capture.flush();
    let snapshot = capture.snapshot();
    report.datagrams = snapshot
        .events
        .iter()
        .filter(|e| matches!(e, crate::capture::Event::Datagram(d) if d.primary))
        .count();
    if let Some(path) = pcap {
        match capture.write_pcap(&path) {
            Ok(_) => report.artifacts.pcap = Some(path),
            Err(e) => log.line(&format!("  cannot write {}: {e}", path.display())),
        }
    }
    report.elapsed_ms = started.elapsed().as_millis();
    if let Some(dir) = out_dir {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            log.line(&format!("  cannot create {}: {e}", dir.display()));
        } else {
            let mut order: Vec<String> = scenario
                .clients
                .iter()
                .map(|c| {
                    aliases
                        .get(&c.name)
                        .cloned()
                        .unwrap_or_else(|| c.name.clone())
                })
                .collect();
            order.extend(scenario.externals.iter().map(|e| e.name.clone()));
            order.push("AS".into());
            order.push("KDC".into());
            order.dedup();
            let options = FlowOptions {
                order,
                alias: aliases.clone(),
                max_arrows,
                include_empty: false,
            };
            let flow = flow::build(&snapshot, &options);
            let title = format!("{}: {}", scenario.name, scenario.description);
            let svg_path = dir.join(format!("{}.svg", scenario.name));
            let mmd_path = dir.join(format!("{}.mmd", scenario.name));
            let json_path = dir.join(format!("{}.json", scenario.name));
            if std::fs::write(&svg_path, svg::render(&flow, &title)).is_ok() {
                report.artifacts.svg = Some(svg_path);
            }
            if std::fs::write(&mmd_path, mermaid::render(&flow, &title)).is_ok() {
                report.artifacts.mermaid = Some(mmd_path);
            }
            report.artifacts.json = Some(json_path.clone());
            if let Err(e) = report.write_json(&json_path) {
                log.line(&format!("  cannot write {}: {e}", json_path.display()));
                report.artifacts.json = None;
            }
        }
    }
    let passed = report
        .steps
        .iter()
        .filter(|s| s.verdict == Verdict::Passed)
        .count();
    log.line(&format!(
        "{}: {passed}/{} steps passed, {} datagrams, {:.2} s{}",
        if report.passed { "PASSED" } else { "FAILED" },
        report.steps.len(),
        report.datagrams,
        report.elapsed_ms as f64 / 1000.0,
        report
            .error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    ));
}

/// Whether an action touches a member that must be serving.
pub(crate) fn is_bulk(action: &Action) -> bool {
    matches!(action, Action::Join { clients, .. } | Action::Leave { clients, .. } if clients.len() > 1)
}
