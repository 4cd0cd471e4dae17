//! The embedded SQLite [`Store`] (rusqlite, bundled SQLite).
//!
//! # Durability and speed
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a commit
//! appends the transaction to the write-ahead log with a `write()` and
//! returns; the log is fsynced at checkpoints. A committed transaction
//! therefore survives the death of the process (SIGKILL, panic, OOM kill),
//! because the data is in the operating system's page cache, which the
//! next open replays from the log; it may be lost only if the machine
//! itself loses power or crashes before the next checkpoint. That is the
//! guarantee the KDC needs ("every join that was answered is still a
//! member" after a crash of the KDC process) without an fsync per join,
//! which would bound joins at the disk's flush rate. Set `durable_fsync`
//! ([`SqliteStore::open_with`]) for `synchronous = FULL`, which adds the
//! fsync per transaction for power-loss durability.
//!
//! Each [`Store::apply`] batch is one transaction with cached prepared
//! statements. The connection sits behind a mutex; the core serializes its
//! commits anyway.
//!
//! # Schema
//!
//! `schema_version` holds one row; [`MIGRATIONS`] lists the steps from an
//! empty database to the current version, run in order inside a
//! transaction at open. A database newer than this build is refused.

use super::{Change, GroupRow, QueuedCommand, Snapshot, Store, StoreError, StoredGroup};
use crate::config::GroupSpec;
use crate::model::{ChannelId, ChannelRecord, Member, TokenRecord};
use ace_proto::Codec;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::scope::GroupScope;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// Schema migrations: entry `i` takes the database from version `i` to
/// `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the initial schema.
    r"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE groups (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        prefix BLOB NOT NULL,
        num INTEGER NOT NULL,
        gid BLOB NOT NULL,
        master_secret BLOB NOT NULL,
        master_salt BLOB NOT NULL,
        exp INTEGER NOT NULL,
        next_node INTEGER NOT NULL,
        active INTEGER NOT NULL
    );
    CREATE TABLE deleted_groups (name TEXT PRIMARY KEY);
    CREATE TABLE members (
        grp TEXT NOT NULL,
        node TEXT NOT NULL,
        token_id BLOB NOT NULL,
        roles INTEGER NOT NULL,
        sender_id BLOB,
        credential BLOB,
        control_uri TEXT,
        join_scope BLOB NOT NULL,
        client_challenge BLOB NOT NULL,
        PRIMARY KEY (grp, node)
    );
    CREATE TABLE sender_ids (
        grp TEXT NOT NULL,
        gid BLOB NOT NULL,
        sender_id BLOB NOT NULL,
        PRIMARY KEY (grp, gid, sender_id)
    );
    CREATE TABLE stale_ids (
        grp TEXT NOT NULL,
        version INTEGER NOT NULL,
        sender_id BLOB NOT NULL,
        PRIMARY KEY (grp, version, sender_id)
    );
    CREATE TABLE tokens (
        id BLOB PRIMARY KEY,
        scope BLOB NOT NULL,
        expires_at INTEGER,
        kdcchallenge BLOB,
        channel BLOB NOT NULL UNIQUE,
        client_recipient_id BLOB NOT NULL,
        nonce1 BLOB NOT NULL,
        nonce2 BLOB NOT NULL,
        material BLOB NOT NULL,
        sequence_mark INTEGER NOT NULL
    );
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        created INTEGER NOT NULL,
        result TEXT
    );
    ",
    // 1 -> 2: tokens keyed by their channel. The KDC numbers channels in
    // sequence, so new tokens go next to each other at the end of one
    // B-tree. Keyed by their identifiers (random `cti`s from the AS), with
    // a second index on the channel, every new token dirtied pages of its
    // own, and once many tokens are stored that doubled the cost of a
    // join's transaction (BENCHMARKS.md, "The store alone"). Nothing looks
    // a token up by its identifier in the database: the KDC keeps its
    // tokens in memory and loads them all at start.
    r"
    CREATE TABLE tokens_by_channel (
        channel BLOB PRIMARY KEY,
        id BLOB NOT NULL,
        scope BLOB NOT NULL,
        expires_at INTEGER,
        kdcchallenge BLOB,
        client_recipient_id BLOB NOT NULL,
        nonce1 BLOB NOT NULL,
        nonce2 BLOB NOT NULL,
        material BLOB NOT NULL,
        sequence_mark INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO tokens_by_channel (channel, id, scope, expires_at, kdcchallenge,
        client_recipient_id, nonce1, nonce2, material, sequence_mark)
        SELECT channel, id, scope, expires_at, kdcchallenge, client_recipient_id,
        nonce1, nonce2, material, sequence_mark FROM tokens;
    DROP TABLE tokens;
    ALTER TABLE tokens_by_channel RENAME TO tokens;
    ",
];

const HEARTBEAT: &str = "heartbeat";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, with `synchronous
    /// = NORMAL` (see the module docs).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, false)
    }

    /// Opens the database; `durable_fsync` selects `synchronous = FULL`.
    pub fn open_with(path: &Path, durable_fsync: bool) -> Result<Self, StoreError> {
        let new_file = !path.exists();
        let conn = Connection::open(path)?;
        if new_file {
            restrict_permissions(path);
        }
        Self::init(conn, durable_fsync)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(conn: Connection, durable_fsync: bool) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if durable_fsync { "FULL" } else { "NORMAL" },
        )?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))?)
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // The database holds Master Secrets: owner-only access. Failure to
    // change the mode is not fatal (e.g. a file system without modes).
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()?;
    let supported = MIGRATIONS.len() as i64;
    let mut version = current.unwrap_or(0);
    if version > supported {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported,
        });
    }
    while version < supported {
        let step = MIGRATIONS[usize::try_from(version).unwrap_or(0)];
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {step}"))
            .and_then(|()| {
                conn.execute("DELETE FROM schema_version", [])?;
                conn.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [version + 1],
                )?;
                conn.execute_batch("COMMIT")
            })
            .inspect_err(|_| {
                let _ = conn.execute_batch("ROLLBACK");
            })?;
        version += 1;
    }
    Ok(())
}

fn apply_one(tx: &rusqlite::Transaction<'_>, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::PutGroup(row) => {
            tx.prepare_cached(
                "INSERT INTO groups (name, spec, prefix, num, gid, master_secret, master_salt, \
                 exp, next_node, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, prefix = excluded.prefix, \
                 num = excluded.num, gid = excluded.gid, master_secret = excluded.master_secret, \
                 master_salt = excluded.master_salt, exp = excluded.exp, \
                 next_node = excluded.next_node, active = excluded.active \
                 WHERE excluded.num >= groups.num",
            )?
            .execute(params![
                row.spec.name,
                row.spec.to_toml(),
                row.prefix,
                to_i64(row.num),
                row.gid,
                row.master_secret.as_slice(),
                row.master_salt,
                to_i64(row.exp),
                to_i64(row.next_node),
                row.active,
            ])?;
            tx.prepare_cached("DELETE FROM deleted_groups WHERE name = ?1")?
                .execute([&row.spec.name])?;
        }
        Change::DeleteGroup(name) => {
            for sql in [
                "DELETE FROM groups WHERE name = ?1",
                "DELETE FROM members WHERE grp = ?1",
                "DELETE FROM sender_ids WHERE grp = ?1",
                "DELETE FROM stale_ids WHERE grp = ?1",
                "INSERT OR IGNORE INTO deleted_groups (name) VALUES (?1)",
            ] {
                tx.prepare_cached(sql)?.execute([name])?;
            }
        }
        Change::PutMember { group, member } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO members (grp, node, token_id, roles, sender_id, \
                 credential, control_uri, join_scope, client_challenge) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                group,
                member.node,
                member.token_id,
                to_i64(member.roles),
                member.sender_id,
                member.credential,
                member.control_uri,
                member.join_scope,
                member.client_challenge,
            ])?;
        }
        Change::DeleteMember { group, node } => {
            tx.prepare_cached("DELETE FROM members WHERE grp = ?1 AND node = ?2")?
                .execute([group, node])?;
        }
        Change::IssueSenderIds { group, gid, ids } => {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO sender_ids (grp, gid, sender_id) VALUES (?1, ?2, ?3)",
            )?;
            for id in ids {
                stmt.execute(params![group, gid, id])?;
            }
        }
        Change::NewGid { group, gid } => {
            tx.prepare_cached("DELETE FROM sender_ids WHERE grp = ?1 AND gid != ?2")?
                .execute(params![group, gid])?;
        }
        Change::AddStale {
            group,
            version,
            ids,
        } => {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO stale_ids (grp, version, sender_id) VALUES (?1, ?2, ?3)",
            )?;
            for id in ids {
                stmt.execute(params![group, to_i64(*version), id])?;
            }
        }
        Change::TrimStale { group, floor } => {
            tx.prepare_cached("DELETE FROM stale_ids WHERE grp = ?1 AND version < ?2")?
                .execute(params![group, to_i64(*floor)])?;
        }
        Change::PutToken(t) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tokens (id, scope, expires_at, kdcchallenge, \
                 channel, client_recipient_id, nonce1, nonce2, material, sequence_mark) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
                 MAX(?10, COALESCE((SELECT sequence_mark FROM tokens WHERE channel = ?5), 0)))",
            )?
            .execute(params![
                t.id,
                t.scope.encode(),
                t.expires_at.map(to_i64),
                t.kdcchallenge,
                t.channel.id.0,
                t.channel.client_recipient_id,
                t.channel.nonce1,
                t.channel.nonce2,
                t.channel.material.encode(),
                to_i64(t.channel.sequence_mark),
            ])?;
        }
        Change::DeleteToken(channel) => {
            tx.prepare_cached("DELETE FROM tokens WHERE channel = ?1")?
                .execute([&channel.0])?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let conn = self.conn();
        let mut groups = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT name, spec, prefix, num, gid, master_secret, master_salt, exp, \
                 next_node, active FROM groups ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, bool>(9)?,
                ))
            })?;
            for row in rows {
                let (name, spec, prefix, num, gid, ms, salt, exp, next_node, active) = row?;
                let spec = GroupSpec::from_toml(&spec)
                    .map_err(|e| StoreError::Corrupt(format!("group {name}: {e}")))?;
                groups.push(StoredGroup {
                    row: GroupRow {
                        spec,
                        prefix,
                        num: to_u64(num),
                        gid,
                        master_secret: Zeroizing::new(ms),
                        master_salt: salt,
                        exp: to_u64(exp),
                        next_node: to_u64(next_node),
                        active,
                    },
                    members: Vec::new(),
                    issued: Vec::new(),
                    stale: Vec::new(),
                });
            }
        }
        for g in &mut groups {
            let name = g.row.spec.name.clone();
            let mut stmt = conn.prepare_cached(
                "SELECT node, token_id, roles, sender_id, credential, control_uri, join_scope, \
                 client_challenge FROM members WHERE grp = ?1",
            )?;
            g.members = stmt
                .query_map([&name], |r| {
                    Ok(Member {
                        node: r.get(0)?,
                        token_id: r.get(1)?,
                        roles: to_u64(r.get(2)?),
                        sender_id: r.get(3)?,
                        credential: r.get(4)?,
                        control_uri: r.get(5)?,
                        join_scope: r.get(6)?,
                        client_challenge: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut stmt = conn
                .prepare_cached("SELECT sender_id FROM sender_ids WHERE grp = ?1 AND gid = ?2")?;
            g.issued = stmt
                .query_map(params![name, g.row.gid], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut stmt =
                conn.prepare_cached("SELECT version, sender_id FROM stale_ids WHERE grp = ?1")?;
            g.stale = stmt
                .query_map([&name], |r| Ok((to_u64(r.get(0)?), r.get(1)?)))?
                .collect::<Result<_, _>>()?;
        }
        let mut tokens = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT id, scope, expires_at, kdcchallenge, channel, client_recipient_id, \
                 nonce1, nonce2, material, sequence_mark FROM tokens",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, Vec<u8>>(7)?,
                    r.get::<_, Vec<u8>>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })?;
            let mut ids = std::collections::HashSet::new();
            for row in rows {
                let (id, scope, exp, n_s, channel, id1, n1, n2, material, mark) = row?;
                let corrupt = |what: &str, e: String| {
                    StoreError::Corrupt(format!("token {}: {what}: {e}", hex::encode(&id)))
                };
                // The KDC deletes a token's old channel in the transaction
                // that stores its new one, so one token never has two rows.
                if !ids.insert(id.clone()) {
                    return Err(corrupt(
                        "channels",
                        format!(
                            "stored on two channels, one of them {}",
                            hex::encode(&channel)
                        ),
                    ));
                }
                tokens.push(TokenRecord {
                    scope: GroupScope::decode(&scope)
                        .map_err(|e| corrupt("scope", e.to_string()))?,
                    expires_at: exp.map(to_u64),
                    kdcchallenge: n_s,
                    channel: ChannelRecord {
                        id: ChannelId(channel),
                        client_recipient_id: id1,
                        nonce1: n1,
                        nonce2: n2,
                        material: OscoreInputMaterial::decode(&material)
                            .map_err(|e| corrupt("material", e.to_string()))?,
                        sequence_mark: to_u64(mark),
                    },
                    id,
                });
            }
        }
        let deleted_groups = conn
            .prepare("SELECT name FROM deleted_groups ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Snapshot {
            groups,
            tokens,
            deleted_groups,
        })
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for change in changes {
            apply_one(&tx, change)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn reserve_sequence(&self, channel: &ChannelId, mark: u64) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE tokens SET sequence_mark = MAX(sequence_mark, ?2) WHERE channel = ?1",
            )?
            .execute(params![channel.0, to_i64(mark)])?;
        Ok(())
    }

    fn enqueue_command(&self, text: &str, now: u64) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO commands (command, created) VALUES (?1, ?2)",
            params![text, to_i64(now)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn pending_commands(&self) -> Result<Vec<QueuedCommand>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT id, command FROM commands WHERE result IS NULL ORDER BY id")?
            .query_map([], |r| {
                Ok(QueuedCommand {
                    id: r.get(0)?,
                    text: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?)
    }

    fn complete_command(&self, id: i64, result: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE commands SET result = ?2 WHERE id = ?1",
            params![id, result],
        )?;
        Ok(())
    }

    fn command_result(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT result FROM commands WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    fn heartbeat(&self, now: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![HEARTBEAT, to_i64(now)],
        )?;
        Ok(())
    }

    fn last_heartbeat(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [HEARTBEAT], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(to_u64))
    }
}
