//! Reports of a run: the step log ([`StepRecord`], printed as the run goes),
//! the JSON report ([`RunReport`], serde_json), the sequence diagram as SVG
//! and Mermaid source ([`flow`], [`svg`], [`mermaid`]), and the files they
//! are written to ([`Artifacts`]).

pub mod flow;
pub mod mermaid;
pub mod svg;

use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Whether a step met its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It did.
    Passed,
    /// It did not.
    Failed,
    /// It did not run (an earlier step failed).
    Skipped,
}

/// One step in the log and the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// 1-based position.
    pub index: usize,
    /// Line of its `[[step]]` in the file.
    pub line: usize,
    /// Its action.
    pub action: String,
    /// What it did, in words.
    pub summary: String,
    /// The expectation.
    pub expected: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What happened (values seen, or why it failed).
    pub detail: String,
    /// The step's note from the file.
    pub note: Option<String>,
    /// How long it took, milliseconds.
    pub elapsed_ms: u128,
}

/// Files a run wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Artifacts {
    /// The sequence diagram, SVG.
    pub svg: Option<PathBuf>,
    /// The sequence diagram, Mermaid source.
    pub mermaid: Option<PathBuf>,
    /// The JSON report.
    pub json: Option<PathBuf>,
    /// The pcap file.
    pub pcap: Option<PathBuf>,
}

/// An actor of the run.
#[derive(Debug, Clone, Serialize)]
pub struct ActorRecord {
    /// Name.
    pub name: String,
    /// `AS`, `KDC`, `client`, `external`.
    pub kind: String,
    /// Transport address.
    pub address: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// `in-process` or `processes`.
    pub mode: String,
    /// Whether every step passed.
    pub passed: bool,
    /// A failure outside the steps (setup, timeout), if any.
    pub error: Option<String>,
    /// The steps.
    pub steps: Vec<StepRecord>,
    /// The actors.
    pub actors: Vec<ActorRecord>,
    /// Datagrams on the wire (each counted once).
    pub datagrams: usize,
    /// Wall-clock duration, milliseconds.
    pub elapsed_ms: u128,
    /// Files written.
    pub artifacts: Artifacts,
}

impl RunReport {
    /// The failed steps.
    pub fn failures(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| s.verdict == Verdict::Failed)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes the JSON report to `path`.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }
}

/// Where the step log goes as the run proceeds.
pub struct StepLog {
    out: Option<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for StepLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepLog")
            .field("enabled", &self.out.is_some())
            .finish()
    }
}

impl StepLog {
    /// A log on standard output.
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    /// A log to any writer.
    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Some(Mutex::new(out)),
        }
    }

    /// No log.
    pub fn silent() -> Self {
        Self { out: None }
    }

    /// Writes one line.
    pub fn line(&self, text: &str) {
        if let Some(out) = &self.out {
            let mut o = out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(o, "{text}");
            let _ = o.flush();
        }
    }

    /// Writes a step's result line (and its detail when it failed).
    pub fn step(&self, r: &StepRecord) {
        let mark = match r.verdict {
            Verdict::Passed => "ok  ",
            Verdict::Failed => "FAIL",
            Verdict::Skipped => "skip",
        };
        let mut text = format!(
            "  {mark} {:>3}. {:<60} {:>6} ms",
            r.index,
            truncate(&r.summary, 60),
            r.elapsed_ms
        );
        if !r.detail.is_empty() {
            text.push_str(&format!(
                "\n            {}",
                r.detail.replace('\n', "\n            ")
            ));
        }
        self.line(&text);
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
