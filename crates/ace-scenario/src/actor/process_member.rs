//! A group member as `ace-client` processes: one invocation per operation,
//! composing through the client's state file (`ace-client --state`), and a
//! long-running invocation between operations that receives what the KDC
//! and the other members send: `ace-client serve GROUP...` (every path of
//! each group it is a Responder or a Monitor of), `ace-client listen`
//! otherwise. The long-running one is
//! stopped (SIGINT, so it writes the state file) before each operation,
//! since both would bind the client's fixed port and write its state, and
//! started again after it. Its JSON event lines (rekeyings, evictions,
//! received requests) feed [`Member::received`] and [`Member::notices`].
//!
//! Not available as processes (the `ace-client` command has no such
//! operation): tokens without a join and raw requests to the KDC.

use super::process::{free_port, log_tail};
use super::{
    ActorError, ActorFuture, Hints, Joined, Member, MemberSetup, Notice, RawReply, Received, Reply,
};
use crate::capture::Capture;
use ace_client::file::{AsFile, ClientFile, IdentityFile};
use ace_client::membership::MembershipRecord;
use ace_client::state::ClientState;
use ace_proto::cbor::Codec;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::CredsFilter;
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, RESPONDER};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Bound on one `ace-client` invocation.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the start of the long-running invocation.
const DAEMON_READY: Duration = Duration::from_secs(20);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The long-running invocation.
struct Daemon {
    child: Child,
    reader: tokio::task::JoinHandle<()>,
}

/// What the long-running invocations reported.
#[derive(Default)]
struct Seen {
    received: Vec<Received>,
    notices: Vec<Notice>,
    nums: HashMap<String, u64>,
}

/// A member as `ace-client` processes.
pub struct ProcessMember {
    name: String,
    program: PathBuf,
    config: PathBuf,
    state: PathBuf,
    log: PathBuf,
    kdc: SocketAddr,
    bind: SocketAddr,
    capture: Arc<Capture>,
    /// Groups joined, with the roles.
    groups: Mutex<BTreeMap<String, u64>>,
    /// The state file as last read.
    snapshot: Mutex<Option<ClientState>>,
    seen: Arc<Mutex<Seen>>,
    daemon: tokio::sync::Mutex<Option<Daemon>>,
}

impl std::fmt::Debug for ProcessMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessMember")
            .field("name", &self.name)
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

/// An `ace-client` refusal (exit status 2) as an actor error: the code
/// and error id from its message (`... answered 4.03 (Forbidden): error id
/// 0 ...`).
fn refusal(stderr: &str) -> ActorError {
    let code = stderr.find("answered ").and_then(|i| {
        let rest = &stderr[i + "answered ".len()..];
        let text: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        crate::model::parse_code(&text).ok()
    });
    let error_id = stderr.find("error id ").and_then(|i| {
        let rest = &stderr[i + "error id ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<i64>().ok().and_then(ErrorId::from_value)
    });
    let message = stderr.trim().trim_start_matches("error: ").to_string();
    match code {
        Some(c) => ActorError::refused(c, error_id, message),
        None => ActorError::other(message),
    }
}

fn hex_field(v: &Value, key: &str) -> Option<Vec<u8>> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|s| hex::decode(s).ok())
}

impl ProcessMember {
    /// Writes the client's configuration (its generated identity and AS
    /// context, a fixed port so that its `control_uri` stays reachable) and
    /// creates its state file with `ace-client init`.
    pub async fn start(bin_dir: &Path, setup: MemberSetup) -> Result<Self, ActorError> {
        let program = super::process::binary(bin_dir, "ace-client")?;
        let bind = free_port()?;
        let name = setup.spec.name.clone();
        let file = ClientFile {
            name: name.clone(),
            kdc: setup.kdc,
            kdc_audience: Some(setup.audience.clone()),
            bind: Some(bind),
            roles: Vec::new(),
            observe: setup.spec.observe,
            control_uri: setup.spec.control_uri,
            utc_synchronized: true,
            identity: IdentityFile {
                alg: ace_client::state::alg_name(setup.identity.signing.algorithm()).to_string(),
                private_key: Some(hex::encode(setup.identity.signing.to_bytes())),
            },
            authorization_servers: vec![AsFile {
                uri: setup.as_uri.clone(),
                sender_id: hex::encode(&setup.identity.channel.client_id),
                recipient_id: hex::encode(&setup.identity.channel.as_id),
                master_secret: hex::encode(&setup.identity.channel.master_secret),
                master_salt: Some(hex::encode(&setup.identity.channel.master_salt)),
                id_context: None,
            }],
        };
        let text = toml::to_string(&file)
            .map_err(|e| ActorError::other(format!("{name}: client configuration: {e}")))?;
        let config = setup.dir.join(format!("client-{name}.toml"));
        std::fs::write(&config, text)
            .map_err(|e| ActorError::other(format!("{}: {e}", config.display())))?;
        let member = Self {
            program,
            config,
            state: setup.dir.join(format!("client-{name}.state.json")),
            log: setup.dir.join(format!("client-{name}.log")),
            kdc: setup.kdc,
            bind,
            capture: setup.capture.clone(),
            groups: Mutex::new(BTreeMap::new()),
            snapshot: Mutex::new(None),
            seen: Arc::new(Mutex::new(Seen::default())),
            daemon: tokio::sync::Mutex::new(None),
            name,
        };
        member.invoke(&["init"]).await?;
        member.read_state()?;
        Ok(member)
    }

    /// The arguments of every invocation, with new capture files for it
    /// (merged into the run's capture at the end).
    fn base_args(&self) -> Vec<String> {
        let dir = self.state.parent().unwrap_or_else(|| Path::new("."));
        let (pcap, trace) = self.capture.child_files(&self.name, self.bind, dir);
        vec![
            "--config".into(),
            self.config.display().to_string(),
            "--state".into(),
            self.state.display().to_string(),
            "--json".into(),
            "--pcap".into(),
            pcap.display().to_string(),
            "--trace".into(),
            trace.display().to_string(),
        ]
    }

    /// Runs one invocation; its JSON output lines on success.
    async fn invoke(&self, args: &[&str]) -> Result<Vec<Value>, ActorError> {
        let mut all = self.base_args();
        all.extend(args.iter().map(|a| a.to_string()));
        let out = tokio::time::timeout(
            COMMAND_TIMEOUT,
            Command::new(&self.program)
                .args(&all)
                .env(
                    "RUST_LOG",
                    std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| ActorError::other(format!("ace-client {} timed out", args.join(" "))))?
        .map_err(|e| ActorError::other(format!("ace-client: {e}")))?;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if !stderr.trim().is_empty() {
            use std::io::Write as _;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
            {
                let _ = writeln!(f, "$ ace-client {}\n{stderr}", args.join(" "));
            }
        }
        match out.status.code() {
            Some(0) => Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Some(2) => Err(refusal(&stderr)),
            _ => Err(ActorError::other(format!(
                "ace-client {} failed: {}",
                args.join(" "),
                stderr.trim()
            ))),
        }
    }

    fn read_state(&self) -> Result<ClientState, ActorError> {
        let text = std::fs::read_to_string(&self.state)
            .map_err(|e| ActorError::other(format!("{}: {e}", self.state.display())))?;
        let state = ClientState::from_json(&text)
            .map_err(|e| ActorError::other(format!("{}: {e}", self.state.display())))?;
        {
            let mut seen = lock(&self.seen);
            for g in &state.groups {
                seen.nums
                    .insert(g.membership.group.clone(), g.membership.num);
            }
        }
        *lock(&self.snapshot) = Some(state.clone());
        Ok(state)
    }

    fn membership(&self, group: &str) -> Option<MembershipRecord> {
        lock(&self.snapshot)
            .as_ref()?
            .groups
            .iter()
            .find(|g| g.membership.group == group)
            .map(|g| g.membership.clone())
    }

    /// Stops the long-running invocation: SIGINT, so it writes the state.
    async fn pause(&self) -> Result<(), ActorError> {
        let mut slot = self.daemon.lock().await;
        let Some(mut d) = slot.take() else {
            return Ok(());
        };
        if let Some(pid) = d.child.id() {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), d.child.wait())
            .await
            .is_err()
        {
            let _ = d.child.kill().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut d.reader).await;
        drop(slot);
        self.read_state()?;
        Ok(())
    }

    /// Starts the long-running invocation for the groups joined, if any.
    async fn resume(&self) -> Result<(), ActorError> {
        let groups = lock(&self.groups).clone();
        if groups.is_empty() {
            return Ok(());
        }
        let serving: Vec<String> = groups
            .iter()
            .filter(|(_, roles)| *roles & (RESPONDER | MONITOR) != 0)
            .map(|(g, _)| g.clone())
            .collect();
        let mut args = self.base_args();
        if serving.is_empty() {
            args.push("listen".into());
        } else {
            // Every path; Responders answer with their name, as in-process.
            args.push("serve".into());
            args.extend(serving.iter().cloned());
            args.extend(["--reply".into(), format!("{} read", self.name)]);
        }
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| ActorError::other(format!("{}: {e}", self.log.display())))?;
        let mut child = Command::new(&self.program)
            .args(&args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ActorError::other(format!("ace-client: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ActorError::other("ace-client: no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        // The first line says it is serving (serve) or caught up (listen).
        let first = tokio::time::timeout(DAEMON_READY, lines.next_line()).await;
        let Ok(Ok(Some(first))) = first else {
            let _ = child.kill().await;
            return Err(ActorError::other(format!(
                "{}: ace-client {} did not start:\n{}",
                self.name,
                if serving.is_empty() {
                    "listen"
                } else {
                    "serve"
                },
                log_tail(&self.log)
            )));
        };
        let seen = self.seen.clone();
        Self::absorb(&seen, &first);
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                Self::absorb(&seen, &line);
            }
        });
        *self.daemon.lock().await = Some(Daemon { child, reader });
        Ok(())
    }

    /// Takes one event line of a long-running invocation into account.
    fn absorb(seen: &Mutex<Seen>, line: &str) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let group = v
            .get("group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut s = lock(seen);
        match v.get("event").and_then(Value::as_str) {
            Some("joined") => {
                if let Some(n) = v.get("num").and_then(Value::as_u64) {
                    s.nums.insert(group, n);
                }
            }
            Some("rekeyed") => {
                if let Some(n) = v.get("num").and_then(Value::as_u64) {
                    s.nums.insert(group.clone(), n);
                    s.notices.push(Notice::Rekeyed { group, num: n });
                }
            }
            Some("evicted") => s.notices.push(Notice::Evicted { group }),
            Some("group_deleted") => s.notices.push(Notice::GroupDeleted { group }),
            Some("observation_renewed") => s.notices.push(Notice::ObservationRenewed { group }),
            Some("message") => {
                let received = Received {
                    group,
                    path: v
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    payload: hex_field(&v, "payload").unwrap_or_default(),
                    sender_id: hex_field(&v, "kid"),
                };
                s.received.push(received);
            }
            _ => {}
        }
    }

    /// Pauses the long-running invocation, runs one, resumes.
    async fn operation(&self, args: Vec<String>) -> Result<Vec<Value>, ActorError> {
        self.pause().await?;
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let result = self.invoke(&refs).await;
        let state = self.read_state();
        self.resume().await?;
        state?;
        result
    }
}

impl Member for ProcessMember {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self, group: &str) -> ActorFuture<'_, Hints> {
        let group = group.to_string();
        Box::pin(async move {
            // `ace-client` has no such command: the runner asks itself.
            let endpoint = ace_coap::CoapEndpoint::bind(
                ace_coap::EndpointConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .tap(self.capture.tap(&self.name)),
                ace_coap::handler::not_found(),
            )
            .await
            .map_err(|e| ActorError::other(format!("hints endpoint: {e}")))?;
            let response = endpoint
                .request(
                    self.kdc,
                    ace_coap::Request::post(&format!("/ace-group/{group}")),
                )
                .await
                .map_err(|e| ActorError::other(format!("request without a token: {e}")));
            endpoint.shutdown().await;
            let response = response?;
            let hints = ace_proto::oauth::AsRequestCreationHints::decode(&response.payload).ok();
            Ok(Hints {
                code: response.code,
                as_uri: hints.as_ref().and_then(|h| h.as_uri.clone()),
                audience: hints.as_ref().and_then(|h| h.audience.clone()),
                scope: hints.as_ref().is_some_and(|h| h.scope.is_some()),
                cnonce: hints.as_ref().is_some_and(|h| h.cnonce.is_some()),
            })
        })
    }

    fn join(
        &self,
        groups: Vec<(String, u64)>,
        token_for: Vec<(String, u64)>,
        get_creds: bool,
    ) -> ActorFuture<'_, Vec<Joined>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let scope: Vec<(String, u64)> = groups.iter().chain(&token_for).cloned().collect();
            for (group, roles) in &groups {
                let mut args = vec![
                    "join".to_string(),
                    group.clone(),
                    "--roles".into(),
                    roles.to_string(),
                ];
                for (g, r) in scope.iter().filter(|(g, _)| g != group) {
                    args.extend(["--also".into(), format!("{g}:{r}")]);
                }
                if !get_creds {
                    args.push("--no-creds".into());
                }
                let lines = self.operation(args).await?;
                let v = lines
                    .into_iter()
                    .find(|v| v.get("node").is_some())
                    .ok_or_else(|| ActorError::other("ace-client join printed no outcome"))?;
                lock(&self.groups).insert(group.clone(), *roles);
                out.push(Joined {
                    group: group.clone(),
                    node: v
                        .get("node")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    sender_id: hex_field(&v, "sender_id"),
                    num: v.get("num").and_then(Value::as_u64).unwrap_or_default(),
                    creds: v.get("peers").and_then(Value::as_u64).unwrap_or_default() as usize,
                });
                // The long-running invocation serves or listens from now on.
                self.pause().await?;
                self.resume().await?;
            }
            Ok(out)
        })
    }

    fn token(&self, _group: &str, _roles: u64) -> ActorFuture<'_, ()> {
        Box::pin(async {
            Err(ActorError::other(
                "a token without a join is not an ace-client command: run this scenario in-process",
            ))
        })
    }

    fn keys(&self, group: &str) -> ActorFuture<'_, u64> {
        let group = group.to_string();
        Box::pin(async move {
            let lines = self.operation(vec!["keys".into(), group]).await?;
            lines
                .iter()
                .find_map(|v| v.get("num").and_then(Value::as_u64))
                .ok_or_else(|| ActorError::other("ace-client keys printed no version"))
        })
    }

    fn num(&self, group: &str) -> ActorFuture<'_, u64> {
        let group = group.to_string();
        Box::pin(async move {
            let lines = self.operation(vec!["num".into(), group]).await?;
            lines
                .iter()
                .find_map(|v| v.get("num").and_then(Value::as_u64))
                .ok_or_else(|| ActorError::other("ace-client num printed no version"))
        })
    }

    fn renew(&self, group: &str) -> ActorFuture<'_, Vec<u8>> {
        let group = group.to_string();
        Box::pin(async move {
            let lines = self.operation(vec!["renew".into(), group]).await?;
            lines
                .iter()
                .find_map(|v| hex_field(v, "sender_id"))
                .ok_or_else(|| ActorError::other("ace-client renew printed no Sender ID"))
        })
    }

    fn creds(&self, group: &str, filter: Option<CredsFilter>) -> ActorFuture<'_, Vec<Vec<u8>>> {
        let group = group.to_string();
        Box::pin(async move {
            let mut args = vec!["creds".to_string(), group];
            if let Some(f) = filter {
                for r in &f.role_filter {
                    match r {
                        Roles::Aif(bits) => args.extend(["--role".into(), bits.to_string()]),
                        Roles::Text(_) => {
                            return Err(ActorError::other(
                                "textual roles in a Group OSCORE filter",
                            ));
                        }
                    }
                }
                for id in &f.id_filter {
                    args.extend(["--id".into(), hex::encode(id)]);
                }
                if !f.inclusion_flag {
                    args.push("--exclude".into());
                }
            }
            let lines = self.operation(args).await?;
            Ok(lines
                .iter()
                .filter_map(|v| hex_field(v, "sender_id"))
                .collect())
        })
    }

    fn kdc_cred(&self, group: &str) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move {
            self.operation(vec!["kdc-cred".into(), group])
                .await
                .map(|_| ())
        })
    }

    fn policies(&self, group: &str) -> ActorFuture<'_, Option<i64>> {
        let group = group.to_string();
        Box::pin(async move {
            let lines = self.operation(vec!["policies".into(), group]).await?;
            Ok(lines
                .iter()
                .find_map(|v| v.get("key_update_check_interval").and_then(Value::as_i64)))
        })
    }

    fn leave(&self, group: &str) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move {
            self.pause().await?;
            let result = self.invoke(&["leave", &group]).await;
            if result.is_ok() {
                lock(&self.groups).remove(&group);
            }
            let state = self.read_state();
            self.resume().await?;
            state?;
            result.map(|_| ())
        })
    }

    fn send(
        &self,
        group: &str,
        targets: Vec<SocketAddr>,
        path: &str,
        payload: Vec<u8>,
        window: Duration,
    ) -> ActorFuture<'_, Vec<Reply>> {
        let group = group.to_string();
        let path = path.to_string();
        Box::pin(async move {
            let text = String::from_utf8(payload)
                .map_err(|_| ActorError::other("ace-client sends text payloads only"))?;
            let mut args = vec![
                "send".to_string(),
                group,
                path,
                "--method".into(),
                "FETCH".into(),
                "--payload".into(),
                text,
                "--wait".into(),
                format!("{:.3}", window.as_secs_f64()),
            ];
            for t in &targets {
                args.extend(["--peer".into(), t.to_string()]);
            }
            let lines = self.operation(args).await?;
            let mut out = Vec::new();
            for v in lines {
                let (Some(from), Some(code)) = (
                    v.get("from")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<SocketAddr>().ok()),
                    v.get("code")
                        .and_then(Value::as_str)
                        .and_then(|c| crate::model::parse_code(c).ok()),
                ) else {
                    continue;
                };
                out.push(Reply {
                    sender_id: hex_field(&v, "kid"),
                    from,
                    code,
                    payload: hex_field(&v, "payload").unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }

    fn serve(&self, _group: &str) -> ActorFuture<'_, ()> {
        // The long-running invocation started at the join serves already.
        Box::pin(async { Ok(()) })
    }

    fn received(&self) -> Vec<Received> {
        lock(&self.seen).received.clone()
    }

    fn raw_request(
        &self,
        _method: &str,
        _path: &str,
        _payload: Option<Vec<u8>>,
        _content_format: Option<u16>,
    ) -> ActorFuture<'_, RawReply> {
        Box::pin(async {
            Err(ActorError::other(
                "raw requests are not an ace-client command: run this scenario in-process",
            ))
        })
    }

    fn installed_num(&self, group: &str) -> Option<u64> {
        if !lock(&self.groups).contains_key(group) {
            return None;
        }
        lock(&self.seen).nums.get(group).copied()
    }

    fn sender_id(&self, group: &str) -> Option<Vec<u8>> {
        self.membership(group).and_then(|m| m.sender_id)
    }

    fn node_name(&self, group: &str) -> Option<String> {
        self.membership(group).map(|m| m.node)
    }

    fn export(&self, group: &str) -> ActorFuture<'_, Option<MembershipRecord>> {
        let group = group.to_string();
        Box::pin(async move {
            self.pause().await?;
            let result = self.membership(&group);
            self.resume().await?;
            Ok(result)
        })
    }

    fn observing(&self, _group: &str) -> Option<bool> {
        // `ace-client listen` waits for its registrations; `serve` starts
        // them at once.
        None
    }

    fn notices(&self) -> Vec<Notice> {
        lock(&self.seen).notices.clone()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.bind)
    }

    fn shutdown(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.pause().await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::code::Code;

    #[test]
    fn refusals_keep_code_and_error_id() {
        let e = refusal(
            "error: GET /ace-group/g2/num answered 4.03 (Forbidden): error id 0 \"Operation permitted only to group members\" (RFC 9594); join the group first\n",
        );
        assert_eq!(e.code, Some(Code::FORBIDDEN));
        assert_eq!(e.error_id, Some(ErrorId::OnlyGroupMembers));
        let e = refusal("error: the AS did not grant Requester on group \"g1\"");
        assert_eq!(e.code, None);
    }
}
