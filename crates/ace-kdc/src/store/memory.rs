//! An in-memory [`Store`] for tests: the same semantics as the SQLite
//! store (batches, `num` never lowered, tombstones), no durability beyond
//! the process.

use super::{Change, GroupRow, QueuedCommand, Snapshot, Store, StoreError, StoredGroup};
use crate::model::{ChannelId, Member, TokenRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    groups: BTreeMap<String, GroupRow>,
    members: BTreeMap<(String, String), Member>,
    issued: BTreeSet<(String, Vec<u8>, Vec<u8>)>,
    stale: BTreeSet<(String, u64, Vec<u8>)>,
    tokens: BTreeMap<ChannelId, TokenRecord>,
    deleted: BTreeSet<String>,
    commands: Vec<(i64, String, Option<String>)>,
    heartbeat: Option<u64>,
    applied_batches: u64,
}

/// A [`Store`] kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many batches were applied (tests check that refused requests
    /// write nothing).
    pub fn applied_batches(&self) -> u64 {
        self.lock().applied_batches
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let inner = self.lock();
        let groups = inner
            .groups
            .iter()
            .map(|(name, row)| StoredGroup {
                row: row.clone(),
                members: inner
                    .members
                    .iter()
                    .filter(|((g, _), _)| g == name)
                    .map(|(_, m)| m.clone())
                    .collect(),
                issued: inner
                    .issued
                    .iter()
                    .filter(|(g, gid, _)| g == name && *gid == row.gid)
                    .map(|(_, _, id)| id.clone())
                    .collect(),
                stale: inner
                    .stale
                    .iter()
                    .filter(|(g, _, _)| g == name)
                    .map(|(_, v, id)| (*v, id.clone()))
                    .collect(),
            })
            .collect();
        Ok(Snapshot {
            groups,
            tokens: inner.tokens.values().cloned().collect(),
            deleted_groups: inner.deleted.iter().cloned().collect(),
        })
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.applied_batches += 1;
        for change in changes {
            match change {
                Change::PutGroup(row) => {
                    let name = row.spec.name.clone();
                    let lower = inner.groups.get(&name).is_some_and(|old| old.num > row.num);
                    if !lower {
                        inner.deleted.remove(&name);
                        inner.groups.insert(name, (**row).clone());
                    }
                }
                Change::DeleteGroup(name) => {
                    inner.groups.remove(name);
                    inner.members.retain(|(g, _), _| g != name);
                    inner.issued.retain(|(g, _, _)| g != name);
                    inner.stale.retain(|(g, _, _)| g != name);
                    inner.deleted.insert(name.clone());
                }
                Change::PutMember { group, member } => {
                    inner
                        .members
                        .insert((group.clone(), member.node.clone()), (**member).clone());
                }
                Change::DeleteMember { group, node } => {
                    inner.members.remove(&(group.clone(), node.clone()));
                }
                Change::IssueSenderIds { group, gid, ids } => {
                    for id in ids {
                        inner
                            .issued
                            .insert((group.clone(), gid.clone(), id.clone()));
                    }
                }
                Change::NewGid { group, gid } => {
                    inner.issued.retain(|(g, i, _)| g != group || i == gid);
                }
                Change::AddStale {
                    group,
                    version,
                    ids,
                } => {
                    for id in ids {
                        inner.stale.insert((group.clone(), *version, id.clone()));
                    }
                }
                Change::TrimStale { group, floor } => {
                    inner.stale.retain(|(g, v, _)| g != group || v >= floor);
                }
                Change::PutToken(token) => {
                    // As the SQLite store: the mark reserved since never
                    // goes down (RFC 8613 Appendix B.1.1).
                    let mut token = (**token).clone();
                    if let Some(stored) = inner.tokens.get(&token.channel.id) {
                        token.channel.sequence_mark = token
                            .channel
                            .sequence_mark
                            .max(stored.channel.sequence_mark);
                    }
                    inner.tokens.insert(token.channel.id.clone(), token);
                }
                Change::DeleteToken(channel) => {
                    inner.tokens.remove(channel);
                }
            }
        }
        Ok(())
    }

    fn reserve_sequence(&self, channel: &ChannelId, mark: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(t) = inner.tokens.get_mut(channel) {
            t.channel.sequence_mark = t.channel.sequence_mark.max(mark);
        }
        Ok(())
    }

    fn enqueue_command(&self, text: &str, _now: u64) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let id = inner.commands.len() as i64 + 1;
        inner.commands.push((id, text.to_string(), None));
        Ok(id)
    }

    fn pending_commands(&self) -> Result<Vec<QueuedCommand>, StoreError> {
        Ok(self
            .lock()
            .commands
            .iter()
            .filter(|(_, _, r)| r.is_none())
            .map(|(id, text, _)| QueuedCommand {
                id: *id,
                text: text.clone(),
            })
            .collect())
    }

    fn complete_command(&self, id: i64, result: &str) -> Result<(), StoreError> {
        if let Some(c) = self.lock().commands.iter_mut().find(|c| c.0 == id) {
            c.2 = Some(result.to_string());
        }
        Ok(())
    }

    fn command_result(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .commands
            .iter()
            .find(|c| c.0 == id)
            .and_then(|c| c.2.clone()))
    }

    fn heartbeat(&self, now: u64) -> Result<(), StoreError> {
        self.lock().heartbeat = Some(now);
        Ok(())
    }

    fn last_heartbeat(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().heartbeat)
    }
}
