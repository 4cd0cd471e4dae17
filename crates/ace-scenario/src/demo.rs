//! The end-to-end demo that `ace-scenario demo` runs: an AS, a KDC and
//! three clients (Requester, Responder, Monitor) on loopback, embedded in
//! the binary (no files needed). Each client joins through the full flow;
//! the Requester's group request is answered by the Responder and seen by
//! the Monitor; the Responder renews its Sender ID; the Monitor leaves, the
//! others are rekeyed, and a message under the new keys is unreadable with
//! the Monitor's old keys.

use crate::model::{self, Scenario, ScenarioError};

/// The demo scenario's text (also `scenarios/demo.toml`).
pub const DEMO_TOML: &str = include_str!("../../../scenarios/demo.toml");

/// The demo scenario.
pub fn scenario() -> Result<Scenario, ScenarioError> {
    model::parse(DEMO_TOML, "demo")
}

/// Where the demo writes its diagram, pcap and report by default: the
/// `ace-scenario/demo` directory of the Cargo target directory the running
/// binary was built in (`target/ace-scenario/demo` after `cargo run`), or
/// `ace-scenario-demo` in the system's temporary directory when the binary
/// does not live in a Cargo target directory.
pub fn default_out_dir() -> std::path::PathBuf {
    let target = std::env::current_exe().ok().and_then(|exe| {
        // <target>/<profile>/ace-scenario, with Cargo's <profile>/.fingerprint
        let profile = exe.parent()?;
        profile
            .join(".fingerprint")
            .is_dir()
            .then(|| profile.parent().map(std::path::Path::to_path_buf))
            .flatten()
    });
    match target {
        Some(t) => t.join("ace-scenario").join("demo"),
        None => std::env::temp_dir().join("ace-scenario-demo"),
    }
}
