//! Actors as child processes: the `ace-as`, `ace-kdc` and `ace-client`
//! binaries found next to the running `ace-scenario` executable (build
//! them together: `cargo build -p ace-scenario-cli -p ace-as-cli -p
//! ace-kdc-cli -p ace-client-cli`), started with configuration files
//! generated into the run's temporary directory. Readiness is polled with
//! CoAP requests; every wait is bounded; children are killed when the actor
//! shuts down or is dropped.

use super::{ActorError, ActorFuture, KdcControl};
use crate::capture::Capture;
use crate::model::Scenario;
use crate::runner::config::Deployment;
use ace_coap::{CoapEndpoint, Request, RequestOptions};
use ace_kdc::admin::Command as KdcCommand;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory of the running executable (where `cargo build` puts the
/// other binaries of the workspace).
pub fn default_bin_dir() -> Result<PathBuf, ActorError> {
    let exe = std::env::current_exe()
        .map_err(|e| ActorError::other(format!("cannot locate the running executable: {e}")))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| ActorError::other("the running executable has no directory"))
}

/// The path of binary `name` in `bin_dir`, which must exist.
pub fn binary(bin_dir: &Path, name: &str) -> Result<PathBuf, ActorError> {
    let path = bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(ActorError::other(format!(
            "{} not found: build it with the runner (cargo build -p ace-scenario-cli -p ace-as-cli -p ace-kdc-cli -p ace-client-cli)",
            path.display()
        )))
    }
}

/// A free UDP port on 127.0.0.1 (bound, then released for the child).
pub fn free_port() -> Result<SocketAddr, ActorError> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")
        .map_err(|e| ActorError::other(format!("cannot pick a port: {e}")))?;
    s.local_addr()
        .map_err(|e| ActorError::other(format!("cannot pick a port: {e}")))
}

/// Spawns `program args`, its standard error appended to `log`.
pub fn spawn(program: &Path, args: &[&str], log: &Path) -> Result<Child, ActorError> {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ActorError::other(format!("{}: {e}", log.display())))?;
    Command::new(program)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ActorError::other(format!("cannot start {}: {e}", program.display())))
}

/// The last lines of a log file.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Polls `addr` with `request` until any response arrives (the server is
/// serving), the child exits, or the timeout passes.
pub async fn await_ready(
    child: &mut Child,
    addr: SocketAddr,
    request: impl Fn() -> Request,
    what: &str,
    log: &Path,
) -> Result<(), ActorError> {
    let probe = CoapEndpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| ActorError::other(format!("probe endpoint: {e}")))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let result = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Err(ActorError::other(format!(
                "{what} exited with {status} before it was ready:\n{}",
                log_tail(log)
            )));
        }
        let options = RequestOptions {
            confirmable: true,
            timeout: Some(Duration::from_millis(300)),
        };
        if probe.request_with(addr, request(), options).await.is_ok() {
            break Ok(());
        }
        if Instant::now() >= deadline {
            break Err(ActorError::other(format!(
                "{what} did not answer at {addr} within {READY_TIMEOUT:?}:\n{}",
                log_tail(log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    probe.shutdown().await;
    result
}

async fn kill(child: &mut Child) {
    let _ = child.kill().await;
}

/// The `ace-as` binary.
pub struct ProcessAs {
    addr: SocketAddr,
    child: tokio::sync::Mutex<Option<Child>>,
}

impl std::fmt::Debug for ProcessAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessAs")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ProcessAs {
    /// Writes `as.toml` and starts `ace-as --config as.toml serve`, its
    /// traffic captured into files that `capture` merges at the end.
    pub async fn start(
        bin_dir: &Path,
        deployment: &Deployment,
        scenario: &Scenario,
        dir: &Path,
        capture: &Capture,
    ) -> Result<Self, ActorError> {
        let program = binary(bin_dir, "ace-as")?;
        let addr = free_port()?;
        let config = dir.join("as.toml");
        std::fs::write(
            &config,
            deployment.as_toml(scenario, addr, Some(&dir.join("as.sqlite"))),
        )
        .map_err(|e| ActorError::other(format!("{}: {e}", config.display())))?;
        let log = dir.join("as.log");
        let config_arg = config.display().to_string();
        let (pcap, trace) = capture.child_files("AS", addr, dir);
        let (pcap, trace) = (pcap.display().to_string(), trace.display().to_string());
        let mut child = spawn(
            &program,
            &[
                "--config",
                &config_arg,
                "--pcap",
                &pcap,
                "--trace",
                &trace,
                "serve",
            ],
            &log,
        )?;
        // An unauthenticated token request: the AS answers 4.01.
        if let Err(e) =
            await_ready(&mut child, addr, || Request::post("/token"), "ace-as", &log).await
        {
            kill(&mut child).await;
            return Err(e);
        }
        Ok(Self {
            addr,
            child: tokio::sync::Mutex::new(Some(child)),
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills it.
    pub async fn shutdown(&self) {
        if let Some(mut c) = self.child.lock().await.take() {
            kill(&mut c).await;
        }
    }
}

/// The `ace-kdc` binary.
pub struct ProcessKdc {
    program: PathBuf,
    config: PathBuf,
    dir: PathBuf,
    capture: Arc<Capture>,
    database: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    child: tokio::sync::Mutex<Option<Child>>,
}

impl std::fmt::Debug for ProcessKdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessKdc")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ProcessKdc {
    /// Writes `kdc.toml` and starts `ace-kdc serve --config kdc.toml`, its
    /// traffic captured into files that `capture` merges at the end (new
    /// files at each restart).
    pub async fn start(
        bin_dir: &Path,
        deployment: &Deployment,
        scenario: &Scenario,
        dir: &Path,
        as_uri: &str,
        capture: Arc<Capture>,
    ) -> Result<Self, ActorError> {
        let program = binary(bin_dir, "ace-kdc")?;
        let addr = free_port()?;
        let config = dir.join("kdc.toml");
        let database = dir.join("kdc.sqlite");
        std::fs::write(
            &config,
            deployment.kdc_toml(scenario, addr, &database, as_uri),
        )
        .map_err(|e| ActorError::other(format!("{}: {e}", config.display())))?;
        let kdc = Self {
            program,
            config,
            dir: dir.to_path_buf(),
            capture,
            database,
            log: dir.join("kdc.log"),
            addr,
            child: tokio::sync::Mutex::new(None),
        };
        let child = kdc.launch().await?;
        *kdc.child.lock().await = Some(child);
        Ok(kdc)
    }

    async fn launch(&self) -> Result<Child, ActorError> {
        let config = self.config.display().to_string();
        let (pcap, trace) = self.capture.child_files("KDC", self.addr, &self.dir);
        let (pcap, trace) = (pcap.display().to_string(), trace.display().to_string());
        let mut child = spawn(
            &self.program,
            &[
                "serve", "--config", &config, "--pcap", &pcap, "--trace", &trace,
            ],
            &self.log,
        )?;
        // A request without a token: the KDC answers 4.01 with hints.
        match await_ready(
            &mut child,
            self.addr,
            || Request::get("/ace-group"),
            "ace-kdc",
            &self.log,
        )
        .await
        {
            Ok(()) => Ok(child),
            Err(e) => {
                kill(&mut child).await;
                Err(e)
            }
        }
    }

    async fn run_cli(&self, args: Vec<String>) -> Result<String, ActorError> {
        let config = self.config.display().to_string();
        let mut all = vec!["group".to_string()];
        all.extend(args);
        all.extend(["--config".to_string(), config]);
        let out = tokio::time::timeout(
            Duration::from_secs(20),
            Command::new(&self.program)
                .args(&all)
                .env("RUST_LOG", "warn")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| ActorError::other(format!("ace-kdc {} timed out", all.join(" "))))?
        .map_err(|e| ActorError::other(format!("ace-kdc {}: {e}", all.join(" "))))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(ActorError::other(format!(
                "ace-kdc {} failed: {}{}",
                all.join(" "),
                stdout,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
}

impl KdcControl for ProcessKdc {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn kill(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            match self.child.lock().await.take() {
                Some(mut c) => {
                    kill(&mut c).await;
                    Ok(())
                }
                None => Err(ActorError::other("the KDC is not running")),
            }
        })
    }

    fn restart(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            let mut slot = self.child.lock().await;
            if let Some(mut c) = slot.take() {
                kill(&mut c).await;
            }
            *slot = Some(self.launch().await?);
            Ok(())
        })
    }

    fn command(&self, command: KdcCommand) -> ActorFuture<'_, String> {
        Box::pin(async move {
            let args = match command {
                KdcCommand::Rekey { group } => vec!["rekey".into(), group],
                KdcCommand::Evict { group, node } => vec!["evict".into(), group, node],
                KdcCommand::Delete { group } => vec!["delete".into(), group],
                KdcCommand::Create { spec } => vec!["create".into(), spec.name],
            };
            self.run_cli(args).await
        })
    }

    fn current_num(&self, group: &str) -> ActorFuture<'_, Option<u64>> {
        let group = group.to_string();
        Box::pin(async move {
            use ace_kdc::store::Store as _;
            let store = ace_kdc::store::SqliteStore::open(&self.database)
                .map_err(|e| ActorError::other(format!("KDC database: {e}")))?;
            let snapshot = store
                .load()
                .map_err(|e| ActorError::other(format!("KDC database: {e}")))?;
            Ok(ace_kdc::admin::summaries(&snapshot)
                .into_iter()
                .find(|g| g.name == group)
                .map(|g| g.num))
        })
    }

    fn shutdown(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            if let Some(mut c) = self.child.lock().await.take() {
                kill(&mut c).await;
            }
            Ok(())
        })
    }
}
