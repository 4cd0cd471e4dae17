//! Storage of the KDC's state behind the [`Store`] trait, with an embedded
//! SQLite implementation ([`SqliteStore`]) and an in-memory one for tests
//! ([`MemoryStore`]).
//!
//! # Write-through
//!
//! The core hands the store one batch of [`Change`]s per state transition
//! ([`Store::apply`]) and applies it in one transaction *before* the
//! response that reveals the change is released: every join that was
//! answered is durable. A batch that fails leaves the stored state as it
//! was, and the core reloads its memory from the store.
//!
//! # What is kept
//!
//! Groups (configuration, Gid prefix, `num`, Gid, Master Secret and Salt,
//! expiry, node-name counter, active flag), members (credential bytes,
//! roles, Sender ID, node name, token binding, `control_uri`, latest join
//! scope and `clientchallenge`), the Sender IDs issued under each group's current Gid, the stale
//! Sender ID sets, tokens with the inputs of their OSCORE context (so a
//! client keeps its channel across a restart) and the reserved OSCORE
//! sequence number mark of each channel, tombstones of deleted groups, and
//! the operator command queue.

mod memory;
mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::{MIGRATIONS, SqliteStore};

use crate::config::GroupSpec;
use crate::model::{ChannelId, Member, TokenRecord};
use zeroize::Zeroizing;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data does not decode.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of this software.
    #[error("database schema version {found} is newer than the supported {supported}")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
}

/// A group's own row: configuration and current keying material.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// The group configuration as given.
    pub spec: GroupSpec,
    /// Gid prefix.
    pub prefix: Vec<u8>,
    /// Current version.
    pub num: u64,
    /// Current Gid.
    pub gid: Vec<u8>,
    /// Current Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// Current Master Salt.
    pub master_salt: Vec<u8>,
    /// Expiry of the current material.
    pub exp: u64,
    /// Node-name counter.
    pub next_node: u64,
    /// Active flag.
    pub active: bool,
}

/// One change of state; a batch is applied atomically.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert or update a group row. An update with a lower `num` than the
    /// stored one is ignored: `num` never goes down.
    PutGroup(Box<GroupRow>),
    /// Delete a group with its members, Sender IDs and stale sets, and
    /// record a tombstone so the configuration file does not bring it back.
    DeleteGroup(String),
    /// Insert or update a member.
    PutMember {
        /// The group.
        group: String,
        /// The member.
        member: Box<Member>,
    },
    /// Delete a member.
    DeleteMember {
        /// The group.
        group: String,
        /// The node name.
        node: String,
    },
    /// Record Sender IDs as issued under `gid`.
    IssueSenderIds {
        /// The group.
        group: String,
        /// The Gid they were issued under.
        gid: Vec<u8>,
        /// The identifiers.
        ids: Vec<Vec<u8>>,
    },
    /// A new Gid started: forget identifiers issued under other Gids.
    NewGid {
        /// The group.
        group: String,
        /// The new Gid.
        gid: Vec<u8>,
    },
    /// Add Sender IDs to the stale set of `version`.
    AddStale {
        /// The group.
        group: String,
        /// The version the set belongs to.
        version: u64,
        /// The identifiers.
        ids: Vec<Vec<u8>>,
    },
    /// Forget stale sets older than `floor`.
    TrimStale {
        /// The group.
        group: String,
        /// The oldest version kept.
        floor: u64,
    },
    /// Insert or replace the token of a channel. A token has one channel
    /// at a time: when a token moves to a new channel (posted again,
    /// RFC 9203 section 4.1), a [`Change::DeleteToken`] of its old channel
    /// comes before. The stored Sender Sequence Number mark never goes
    /// down: the record's mark is taken only when it is higher than the one
    /// reserved since ([`Store::reserve_sequence`]).
    PutToken(Box<TokenRecord>),
    /// Delete the token of a channel.
    DeleteToken(ChannelId),
}

/// A group as loaded.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    /// The row.
    pub row: GroupRow,
    /// Its members.
    pub members: Vec<Member>,
    /// Sender IDs issued under the current Gid.
    pub issued: Vec<Vec<u8>>,
    /// Stale sets: (version, Sender ID).
    pub stale: Vec<(u64, Vec<u8>)>,
}

/// Everything the store holds, as loaded at start.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The groups.
    pub groups: Vec<StoredGroup>,
    /// The tokens.
    pub tokens: Vec<TokenRecord>,
    /// Names of deleted groups.
    pub deleted_groups: Vec<String>,
}

/// An operator command waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCommand {
    /// Queue position.
    pub id: i64,
    /// The command, serialized by [`crate::admin::Command::to_text`].
    pub text: String,
}

/// The KDC's storage.
pub trait Store: Send + Sync {
    /// Loads everything.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies `changes` atomically and durably (see the module docs).
    fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;
    /// Records the Sender Sequence Number mark reserved on `channel` (RFC
    /// 8613 Appendix B.1.1); must be durable when it returns.
    fn reserve_sequence(&self, channel: &ChannelId, mark: u64) -> Result<(), StoreError>;
    /// Appends an operator command to the queue; returns its id.
    fn enqueue_command(&self, text: &str, now: u64) -> Result<i64, StoreError>;
    /// The commands not yet executed, oldest first.
    fn pending_commands(&self) -> Result<Vec<QueuedCommand>, StoreError>;
    /// Marks a command executed, with its result text.
    fn complete_command(&self, id: i64, result: &str) -> Result<(), StoreError>;
    /// The result of an executed command, `None` while pending.
    fn command_result(&self, id: i64) -> Result<Option<String>, StoreError>;
    /// Records that a service is running at `now` (for the operator CLI).
    fn heartbeat(&self, now: u64) -> Result<(), StoreError>;
    /// The last heartbeat.
    fn last_heartbeat(&self) -> Result<Option<u64>, StoreError>;
}
