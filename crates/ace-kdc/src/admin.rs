//! Operator commands (`ace-kdc group list|show|create|delete|rekey|evict`).
//!
//! Read-only commands read the store directly (SQLite in WAL mode allows a
//! reader beside the running service). Commands that change a group go
//! through the KDC core, so that they follow the same rules as protocol
//! requests (rekeying, deliveries, notices): the CLI appends them to a
//! command queue in the store; a running service polls the queue at every
//! tick and executes them, recording the result that the CLI waits for.
//! When no service is running (no recent heartbeat), the CLI opens the core
//! on the store itself and drains the queue; effects that would need the
//! network (rekeying deliveries, notices) are then skipped, and members
//! catch up through `/num`, `/stale-sids` or GET as RFC 9594 section 6.1
//! allows.

use crate::config::GroupSpec;
use crate::model::Group;
use crate::store::{Snapshot, StoredGroup};
use ace_proto::roles::group_oscore;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A command that changes the KDC's groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Command {
    /// Create a group.
    Create {
        /// Its configuration.
        spec: GroupSpec,
    },
    /// Delete a group; its observers get 4.04 with error id 6.
    Delete {
        /// The group.
        group: String,
    },
    /// Rekey a group now.
    Rekey {
        /// The group.
        group: String,
    },
    /// Evict a member (error id 5 to it), then rekey.
    Evict {
        /// The group.
        group: String,
        /// The node name.
        node: String,
    },
}

impl Command {
    /// The queue form.
    pub fn to_text(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Reads the queue form.
    pub fn from_text(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// One member as `group show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    /// Node name.
    pub node: String,
    /// Sender ID, hex (`-` for monitors).
    pub sender_id: Option<Vec<u8>>,
    /// Roles (AIF bits).
    pub roles: u64,
    /// `control_uri`.
    pub control_uri: Option<String>,
}

/// A group as `group list|show` print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// Name.
    pub name: String,
    /// Current version.
    pub num: u64,
    /// Current Gid.
    pub gid: Vec<u8>,
    /// Expiry of the current material.
    pub exp: u64,
    /// Active flag.
    pub active: bool,
    /// Mode (`group`, `pairwise`, `both`).
    pub mode: String,
    /// Backward security on joins.
    pub backward_security: bool,
    /// Members, by node name.
    pub members: Vec<MemberSummary>,
    /// Stale sets (version, identifiers).
    pub stale: Vec<(u64, Vec<Vec<u8>>)>,
}

impl GroupSummary {
    /// The summary of a live group.
    pub fn of(g: &Group) -> Self {
        Self {
            name: g.name().to_string(),
            num: g.material.num,
            gid: g.material.gid.clone(),
            exp: g.material.exp,
            active: g.active,
            mode: g.config.spec.mode.clone(),
            backward_security: g.config.spec.backward_security,
            members: g
                .members
                .values()
                .map(|m| MemberSummary {
                    node: m.node.clone(),
                    sender_id: m.sender_id.clone(),
                    roles: m.roles,
                    control_uri: m.control_uri.clone(),
                })
                .collect(),
            stale: g.stale.iter().map(|(v, s)| (v, s.to_vec())).collect(),
        }
    }

    /// The summary of a stored group.
    pub fn of_stored(g: &StoredGroup) -> Self {
        let mut stale: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
        for (v, id) in &g.stale {
            match stale.iter_mut().find(|(sv, _)| sv == v) {
                Some((_, ids)) => ids.push(id.clone()),
                None => stale.push((*v, vec![id.clone()])),
            }
        }
        stale.sort();
        let mut members: Vec<MemberSummary> = g
            .members
            .iter()
            .map(|m| MemberSummary {
                node: m.node.clone(),
                sender_id: m.sender_id.clone(),
                roles: m.roles,
                control_uri: m.control_uri.clone(),
            })
            .collect();
        members.sort_by(|a, b| a.node.cmp(&b.node));
        Self {
            name: g.row.spec.name.clone(),
            num: g.row.num,
            gid: g.row.gid.clone(),
            exp: g.row.exp,
            active: g.row.active,
            mode: g.row.spec.mode.clone(),
            backward_security: g.row.spec.backward_security,
            members,
            stale,
        }
    }

    /// One line: name, version, Gid, members.
    pub fn line(&self) -> String {
        format!(
            "{}\tnum={}\tgid={}\tmembers={}\t{}{}",
            self.name,
            self.num,
            hex::encode(&self.gid),
            self.members.len(),
            self.mode,
            if self.active { "" } else { "\tinactive" }
        )
    }

    /// The detailed form.
    pub fn detail(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "group {}", self.name);
        let _ = writeln!(out, "  num              {}", self.num);
        let _ = writeln!(out, "  gid              {}", hex::encode(&self.gid));
        let _ = writeln!(out, "  exp              {}", self.exp);
        let _ = writeln!(out, "  mode             {}", self.mode);
        let _ = writeln!(out, "  active           {}", self.active);
        let _ = writeln!(out, "  backward_security {}", self.backward_security);
        let _ = writeln!(out, "  members          {}", self.members.len());
        for m in &self.members {
            let _ = writeln!(
                out,
                "    {}\tsid={}\troles={}\t{}",
                m.node,
                m.sender_id.as_deref().map_or("-".into(), hex::encode),
                group_oscore::names(m.roles),
                m.control_uri.as_deref().unwrap_or("")
            );
        }
        for (v, ids) in &self.stale {
            let ids: Vec<String> = ids.iter().map(hex::encode).collect();
            let _ = writeln!(out, "  stale[{v}]         {}", ids.join(" "));
        }
        out
    }
}

/// The summaries of every stored group.
pub fn summaries(snapshot: &Snapshot) -> Vec<GroupSummary> {
    snapshot
        .groups
        .iter()
        .map(GroupSummary::of_stored)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_the_queue_form() {
        for c in [
            Command::Create {
                spec: GroupSpec::new("g9"),
            },
            Command::Delete { group: "g1".into() },
            Command::Rekey { group: "g1".into() },
            Command::Evict {
                group: "g1".into(),
                node: "node3".into(),
            },
        ] {
            assert_eq!(Command::from_text(&c.to_text()).unwrap(), c);
        }
        assert!(Command::from_text("command = \"explode\"").is_err());
    }
}

/// How long a heartbeat stays "recent": a service is taken to be running
/// when its last heartbeat is younger than this many seconds.
pub const HEARTBEAT_FRESH: u64 = 5;

/// Why a command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The KDC could not be loaded to run the command locally.
    #[error(transparent)]
    Load(#[from] crate::core::LoadError),
    /// A running service did not execute the command in time.
    #[error("the running KDC did not execute command {0} within the wait time; it stays queued")]
    Timeout(i64),
    /// The command failed.
    #[error("{0}")]
    Failed(String),
}

/// Queues `command` and returns its result: a running service (recent
/// heartbeat) executes it at its next tick, and this waits up to `wait`
/// for the result; without a running service the core is opened on the
/// store here and the queue drained (network effects are then skipped; see
/// the module docs).
pub fn submit(
    config: &crate::config::KdcConfig,
    store: std::sync::Arc<dyn crate::store::Store>,
    command: &Command,
    now: u64,
    wait: std::time::Duration,
) -> Result<String, SubmitError> {
    let id = store.enqueue_command(&command.to_text(), now)?;
    let running = store
        .last_heartbeat()?
        .is_some_and(|hb| now.saturating_sub(hb) < HEARTBEAT_FRESH);
    if running {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(result) = store.command_result(id)? {
                return finish(result);
            }
            if std::time::Instant::now() >= deadline {
                return Err(SubmitError::Timeout(id));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let (kdc, _) = crate::core::Kdc::open(config.clone(), store.clone(), now)?;
    for c in store.pending_commands()? {
        let (result, effects) = match Command::from_text(&c.text) {
            Ok(cmd) => kdc.execute(&cmd, now),
            Err(e) => (Err(format!("unreadable command: {e}")), Vec::new()),
        };
        if !effects.is_empty() {
            tracing::info!(
                effects = effects.len(),
                "no KDC is running: notifications and rekeying messages are not sent; members catch up with /num, /stale-sids or GET"
            );
        }
        let text = match result {
            Ok(t) => format!("ok: {t}"),
            Err(t) => format!("error: {t}"),
        };
        store.complete_command(c.id, &text)?;
    }
    match store.command_result(id)? {
        Some(result) => finish(result),
        None => Err(SubmitError::Timeout(id)),
    }
}

fn finish(result: String) -> Result<String, SubmitError> {
    match result.strip_prefix("error: ") {
        Some(e) => Err(SubmitError::Failed(e.to_string())),
        None => Ok(result.strip_prefix("ok: ").unwrap_or(&result).to_string()),
    }
}
