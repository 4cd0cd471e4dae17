//! External group members: a child process (an aiocoap Group OSCORE member
//! for interop) driven by JSON lines on stdin/stdout. It prints
//! `{"ready": true, "port": P}` once bound on 127.0.0.1; then each command
//! line gets one answer line:
//!
//! | command | answer |
//! |---|---|
//! | `{"cmd": "install", ...membership...}` | `{"ok": true}` |
//! | `{"cmd": "send", "targets": [...], "path", "payload", "window_ms"}` | `{"ok": true, "replies": [{"from", "kid", "code", "payload"}]}` |
//! | `{"cmd": "received"}` | `{"ok": true, "received": [{"path", "payload", "kid"}]}` |
//! | `{"cmd": "quit"}` | (exits) |
//!
//! Byte strings travel as hex. The process is killed when the actor is
//! dropped or shut down.

use super::{ActorError, Received, Reply};
use crate::model::{ExternalKind, ExternalSpec};
use crate::runner::config::ClientIdentity;
use ace_client::membership::MembershipRecord;
use ace_proto::cbor::Codec;
use ace_proto::groupcomm::GroupOscoreInputMaterial;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long an external member may take to start (aiocoap imports take a
/// while on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one command may take beyond its own window.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// The workspace root: `ACE_WORKSPACE_ROOT`, else where this crate was built.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("ACE_WORKSPACE_ROOT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
        PathBuf::from,
    )
}

/// The venv python: `ACE_VENV_PYTHON`, else `<root>/target/venv/bin/python`.
pub fn venv_python() -> PathBuf {
    std::env::var_os("ACE_VENV_PYTHON").map_or_else(
        || workspace_root().join("target/venv/bin/python"),
        PathBuf::from,
    )
}

/// Whether interop peers must be present (`ACE_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("ACE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

struct Pipes {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A running external member.
pub struct ExternalMember {
    name: String,
    sponsor: String,
    addr: SocketAddr,
    child: Mutex<Option<Child>>,
    pipes: tokio::sync::Mutex<Pipes>,
    /// The groups it holds material of.
    groups: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ExternalMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalMember")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The reason a peer is missing, if it is.
pub fn missing_peer(spec: &ExternalSpec) -> Option<String> {
    match spec.kind {
        ExternalKind::AiocoapMember => {
            let python = venv_python();
            (!python.exists()).then(|| {
                format!(
                    "peer aiocoap missing: no venv python at {} (run scripts/setup-peers or set ACE_VENV_PYTHON)",
                    python.display()
                )
            })
        }
    }
}

fn hex_of(v: &Value, key: &str) -> Result<Vec<u8>, ActorError> {
    let s = v.get(key).and_then(Value::as_str).unwrap_or("");
    hex::decode(s).map_err(|e| ActorError::other(format!("external member: {key} is not hex: {e}")))
}

impl ExternalMember {
    /// Spawns the member and waits for its readiness line.
    pub async fn start(spec: &ExternalSpec) -> Result<Self, ActorError> {
        if let Some(reason) = missing_peer(spec) {
            return Err(ActorError::other(reason));
        }
        let root = workspace_root();
        let python = venv_python();
        let args: Vec<String> = spec
            .command
            .iter()
            .map(|a| {
                a.replace("{python}", &python.display().to_string())
                    .replace("{root}", &root.display().to_string())
            })
            .collect();
        let Some((program, rest)) = args.split_first() else {
            return Err(ActorError::other("external member: empty command"));
        };
        let mut child = Command::new(program)
            .args(rest)
            .current_dir(&root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ActorError::other(format!("cannot start {program}: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ActorError::other("external member: no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ActorError::other("external member: no stdout"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let ready = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        let port = match ready {
            Ok(Ok(n)) if n > 0 => serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v.get("port").and_then(Value::as_u64))
                .and_then(|p| u16::try_from(p).ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.start_kill();
            return Err(ActorError::other(format!(
                "external member {} did not signal readiness (got {:?})",
                spec.name,
                line.trim()
            )));
        };
        Ok(Self {
            name: spec.name.clone(),
            sponsor: spec.sponsor.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: Mutex::new(Some(child)),
            pipes: tokio::sync::Mutex::new(Pipes { stdin, stdout }),
            groups: Mutex::new(Vec::new()),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client that joins for it.
    pub fn sponsor(&self) -> &str {
        &self.sponsor
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn call(&self, command: Value, extra: Duration) -> Result<Value, ActorError> {
        let mut pipes = self.pipes.lock().await;
        let mut text = command.to_string();
        text.push('\n');
        let io = async {
            pipes.stdin.write_all(text.as_bytes()).await?;
            pipes.stdin.flush().await?;
            let mut line = String::new();
            let n = pipes.stdout.read_line(&mut line).await?;
            Ok::<_, std::io::Error>((n, line))
        };
        let (n, line) = tokio::time::timeout(COMMAND_TIMEOUT + extra, io)
            .await
            .map_err(|_| ActorError::other(format!("{} did not answer in time", self.name)))?
            .map_err(|e| ActorError::other(format!("{}: {e}", self.name)))?;
        if n == 0 {
            return Err(ActorError::other(format!("{} exited", self.name)));
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| ActorError::other(format!("{} answered {line:?}: {e}", self.name)))?;
        if v.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(ActorError::other(format!(
                "{}: {}",
                self.name,
                v.get("error")
                    .map_or_else(|| line.trim().to_string(), Value::to_string)
            )));
        }
        Ok(v)
    }

    /// Hands it the sponsor's membership (keying material, Sender ID,
    /// private key, members' and KDC's credentials).
    pub async fn install(
        &self,
        record: &MembershipRecord,
        identity: &ClientIdentity,
    ) -> Result<(), ActorError> {
        let key = GroupOscoreInputMaterial::decode(&record.key)
            .map_err(|e| ActorError::other(format!("membership key: {e}")))?;
        let int = |v: &Option<ace_proto::cbor::IntOrText>| match v {
            Some(ace_proto::cbor::IntOrText::Int(i)) => Some(*i),
            _ => None,
        };
        let sender_id = record.sender_id.as_ref().ok_or_else(|| {
            ActorError::other("the sponsor has no Sender ID (a monitor cannot be handed over)")
        })?;
        let peers: serde_json::Map<String, Value> = record
            .peers
            .iter()
            .map(|p| {
                (
                    hex::encode(&p.sender_id),
                    Value::String(hex::encode(&p.credential)),
                )
            })
            .collect();
        let command = json!({
            "cmd": "install",
            "group": record.group,
            "num": record.num,
            "gid": hex::encode(key.gid().unwrap_or_default()),
            "ms": hex::encode(key.oscore.ms.as_deref().unwrap_or_default()),
            "salt": hex::encode(key.oscore.salt.as_deref().unwrap_or_default()),
            "sid": hex::encode(sender_id),
            "alg": match identity.signing.algorithm() {
                ace_proto::keys::SignatureAlgorithm::EdDsa => "EdDSA",
                ace_proto::keys::SignatureAlgorithm::Es256 => "ES256",
            },
            "sign_alg": int(&key.sign_alg),
            "gp_enc_alg": int(&key.gp_enc_alg),
            "aead_alg": int(&key.oscore.alg),
            "ecdh_alg": int(&key.ecdh_alg),
            "priv": hex::encode(identity.signing.to_bytes()),
            "cred": hex::encode(&record.own_credential),
            "peers": peers,
            "gm_cred": hex::encode(&record.kdc_cred),
        });
        self.call(command, Duration::ZERO).await?;
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !groups.contains(&record.group) {
            groups.push(record.group.clone());
        }
        Ok(())
    }

    /// Whether it holds material of `group`.
    pub fn holds(&self, group: &str) -> bool {
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|g| g == group)
    }

    /// Sends a group request to each of `targets` and collects the replies.
    pub async fn send(
        &self,
        group: &str,
        path: &str,
        payload: Vec<u8>,
        window: Duration,
        targets: Vec<SocketAddr>,
    ) -> Result<Vec<Reply>, ActorError> {
        let v = self
            .call(
                json!({
                    "cmd": "send",
                    "group": group,
                    "targets": targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "path": path,
                    "payload": hex::encode(&payload),
                    "window_ms": window.as_millis() as u64,
                }),
                window,
            )
            .await?;
        let mut out = Vec::new();
        for r in v
            .get("replies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let from = r
                .get("from")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<SocketAddr>().ok())
                .ok_or_else(|| ActorError::other("external reply without a valid `from`"))?;
            let code = r
                .get("code")
                .and_then(Value::as_str)
                .and_then(|c| crate::model::parse_code(c).ok())
                .ok_or_else(|| ActorError::other("external reply without a valid `code`"))?;
            let kid = hex_of(r, "kid")?;
            out.push(Reply {
                sender_id: (!kid.is_empty()).then_some(kid),
                from,
                code,
                payload: hex_of(r, "payload")?,
            });
        }
        Ok(out)
    }

    /// The group requests it received and verified.
    pub async fn received(&self) -> Result<Vec<Received>, ActorError> {
        let v = self
            .call(json!({"cmd": "received"}), Duration::ZERO)
            .await?;
        Ok(v.get("received")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(Received {
                    group: r
                        .get("group")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    path: r
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    payload: hex_of(r, "payload").ok()?,
                    sender_id: hex_of(r, "kid").ok().filter(|k| !k.is_empty()),
                })
            })
            .collect())
    }

    /// Asks it to quit, then kills it.
    pub async fn shutdown(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let mut pipes = self.pipes.lock().await;
            let _ = pipes.stdin.write_all(b"{\"cmd\": \"quit\"}\n").await;
            let _ = pipes.stdin.flush().await;
        })
        .await;
        let child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(mut child) = child
            && tokio::time::timeout(Duration::from_secs(3), child.wait())
                .await
                .is_err()
        {
            let _ = child.kill().await;
        }
    }
}
