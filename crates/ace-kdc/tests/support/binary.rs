//! Running the `ace-kdc` binary in tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `ace-kdc` binary next to this test's profile directory, built first
/// if it is not there (or older than the library).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = profile_dir.join("ace-kdc");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args(["build", "-p", "ace-kdc-cli"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    // CARGO_TARGET_DIR is inherited; the profile directory's parent is the
    // target directory in any case.
    build.env("CARGO_TARGET_DIR", profile_dir.parent().unwrap());
    let status = build.status().unwrap();
    assert!(status.success(), "cargo build -p ace-kdc-cli failed");
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

/// A running `ace-kdc serve`.
pub struct Kdc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ace-kdc serve --config CONFIG --listen 127.0.0.1:0`.
pub fn start(bin: &Path, config: &Path) -> Kdc {
    start_with(bin, config, &[])
}

/// [`start`] with more arguments; waits for the "listening on" line.
pub fn start_with(bin: &Path, config: &Path, extra: &[&std::ffi::OsStr]) -> Kdc {
    let mut child = Command::new(bin)
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the KDC did not start");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Kdc { child, addr }
}

/// Sends SIGTERM to the KDC and waits (bounded) for it to exit.
#[cfg(unix)]
pub fn terminate(kdc: &mut Kdc) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &kdc.child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = kdc.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the KDC did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Finds an executable on PATH. When it is missing, fails if peers are
/// required (`ACE_REQUIRE_PEERS=1`) and otherwise prints a skip notice and
/// returns `None`.
pub fn peer(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !std::env::var("ACE_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
            "peer {name} is missing and ACE_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: peer {name} missing");
    }
    found
}
