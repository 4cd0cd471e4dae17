//! The embedded SQLite token store: one file, WAL journal, a schema
//! version table.

use super::{RevokeOutcome, SequenceMarks, StoreError, TokenFilter, TokenRecord, TokenStore};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The schema version this program writes.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE tokens (
    cti        BLOB PRIMARY KEY,
    client     TEXT NOT NULL,
    audience   TEXT NOT NULL,
    scope      BLOB NOT NULL,
    profile    INTEGER NOT NULL,
    format     TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    exi        INTEGER,
    key_id     BLOB,
    revoked_at INTEGER
);
CREATE INDEX tokens_by_key_id ON tokens (key_id) WHERE key_id IS NOT NULL;
CREATE TABLE exi_sequence (
    audience TEXT PRIMARY KEY,
    last     INTEGER NOT NULL
);
";

/// Version 2: the OSCORE Sender Sequence Number marks.
const SCHEMA_V2: &str = "
CREATE TABLE oscore_sequence (
    context TEXT PRIMARY KEY,
    mark    INTEGER NOT NULL
);
";

const COLUMNS: &str =
    "cti, client, audience, scope, profile, format, issued_at, expires_at, exi, key_id, revoked_at";

/// A [`TokenStore`] in an SQLite database file.
///
/// The database runs in WAL mode with `synchronous = NORMAL`: a committed
/// record survives a crash of the process (not necessarily a power loss
/// in the same instant). Other processes (the `ace-as tokens` commands)
/// may open the same file while the server runs; a busy database is
/// retried for up to five seconds.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} out of range")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what} {v}")))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).map_err(backend)?)
    }

    /// A database in memory (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        // `journal_mode` answers with the mode in effect (memory databases
        // stay in "memory").
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(backend)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(backend)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let has_version: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(backend)?
            > 0;
        if has_version {
            let found: i64 = tx
                .query_row("SELECT max(version) FROM schema_version", [], |row| {
                    row.get::<_, Option<i64>>(0)
                })
                .map_err(backend)?
                .ok_or_else(|| StoreError::Corrupt("empty schema_version table".into()))?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::SchemaVersion {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < 1 {
                return Err(StoreError::Corrupt(format!("schema version {found}")));
            }
            if found < 2 {
                tx.execute_batch(SCHEMA_V2).map_err(backend)?;
                tx.execute("INSERT INTO schema_version (version) VALUES (2)", [])
                    .map_err(backend)?;
            }
        } else {
            tx.execute_batch(SCHEMA_V1).map_err(backend)?;
            tx.execute_batch(SCHEMA_V2).map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                params![SCHEMA_VERSION],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Backend("connection lock poisoned".into()))
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn()?
            .query_row("SELECT max(version) FROM schema_version", [], |row| {
                row.get(0)
            })
            .map_err(backend)
    }

    fn query(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt
            .query_map(args, |row| {
                Ok(RawRow {
                    cti: row.get(0)?,
                    client: row.get(1)?,
                    audience: row.get(2)?,
                    scope: row.get(3)?,
                    profile: row.get(4)?,
                    format: row.get(5)?,
                    issued_at: row.get(6)?,
                    expires_at: row.get(7)?,
                    exi: row.get(8)?,
                    key_id: row.get(9)?,
                    revoked_at: row.get(10)?,
                })
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(backend)?.into_record()?);
        }
        Ok(out)
    }
}

/// A row as SQLite returns it.
struct RawRow {
    cti: Vec<u8>,
    client: String,
    audience: String,
    scope: Vec<u8>,
    profile: i64,
    format: String,
    issued_at: i64,
    expires_at: i64,
    exi: Option<i64>,
    key_id: Option<Vec<u8>>,
    revoked_at: Option<i64>,
}

impl RawRow {
    fn into_record(self) -> Result<TokenRecord, StoreError> {
        Ok(TokenRecord {
            scope: TokenRecord::scope_from_bytes(&self.scope)?,
            cti: self.cti,
            client: self.client,
            audience: self.audience,
            profile: self.profile,
            format: self.format,
            issued_at: to_u64(self.issued_at, "issued_at")?,
            expires_at: to_u64(self.expires_at, "expires_at")?,
            exi: self.exi.map(|v| to_u64(v, "exi")).transpose()?,
            key_id: self.key_id,
            revoked_at: self
                .revoked_at
                .map(|v| to_u64(v, "revoked_at"))
                .transpose()?,
        })
    }
}

impl TokenStore for SqliteStore {
    fn insert(&self, r: &TokenRecord) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "INSERT INTO tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .map_err(backend)?;
        let result = stmt.execute(params![
            r.cti,
            r.client,
            r.audience,
            r.scope_bytes(),
            r.profile,
            r.format,
            to_i64(r.issued_at, "issued_at")?,
            to_i64(r.expires_at, "expires_at")?,
            r.exi.map(|v| to_i64(v, "exi")).transpose()?,
            r.key_id,
            r.revoked_at.map(|v| to_i64(v, "revoked_at")).transpose()?,
        ]);
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Err(StoreError::DuplicateCti)
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn get(&self, cti: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .query(
                &format!("SELECT {COLUMNS} FROM tokens WHERE cti = ?1"),
                &[&cti],
            )?
            .pop())
    }

    fn list(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM tokens WHERE 1 = 1");
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
        if let Some(client) = &filter.client {
            args.push(client);
            sql.push_str(&format!(" AND client = ?{}", args.len()));
        }
        if let Some(audience) = &filter.audience {
            args.push(audience);
            sql.push_str(&format!(" AND audience = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY rowid");
        let records = self.query(&sql, &args)?;
        Ok(records.into_iter().filter(|r| filter.accepts(r)).collect())
    }

    fn revoke(&self, cti: &[u8], now: u64) -> Result<RevokeOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        let current: Option<Option<i64>> = tx
            .query_row(
                "SELECT revoked_at FROM tokens WHERE cti = ?1",
                params![cti],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let outcome = match current {
            None => RevokeOutcome::NotFound,
            Some(Some(at)) => RevokeOutcome::AlreadyRevoked(to_u64(at, "revoked_at")?),
            Some(None) => {
                tx.execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE cti = ?1",
                    params![cti, to_i64(now, "revoked_at")?],
                )
                .map_err(backend)?;
                RevokeOutcome::Revoked
            }
        };
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn next_exi_sequence(&self, audience: &str) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let last: i64 = conn
            .query_row(
                "INSERT INTO exi_sequence (audience, last) VALUES (?1, 1)
                 ON CONFLICT (audience) DO UPDATE SET last = last + 1
                 RETURNING last",
                params![audience],
                |row| row.get(0),
            )
            .map_err(backend)?;
        to_u64(last, "exi sequence")
    }

    fn by_key_id(&self, key_id: &[u8]) -> Result<Vec<TokenRecord>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM tokens WHERE key_id = ?1 ORDER BY rowid"),
            &[&key_id],
        )
    }
}

impl SequenceMarks for SqliteStore {
    fn sequence_mark(&self, context: &str) -> Result<Option<u64>, StoreError> {
        let mark: Option<i64> = self
            .conn()?
            .query_row(
                "SELECT mark FROM oscore_sequence WHERE context = ?1",
                params![context],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        mark.map(|m| to_u64(m, "sequence mark")).transpose()
    }

    /// Written with `synchronous = FULL`: the reservation is on disk, not
    /// only in the OS cache, when this returns (reservations are rare: one
    /// per block of sequence numbers).
    fn reserve_sequence(&self, context: &str, mark: u64) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute_batch("PRAGMA synchronous = FULL")
            .map_err(backend)?;
        let written = conn
            .execute(
                "INSERT INTO oscore_sequence (context, mark) VALUES (?1, ?2)
                 ON CONFLICT (context) DO UPDATE SET mark = max(mark, excluded.mark)",
                params![context, to_i64(mark, "sequence mark")?],
            )
            .map_err(backend);
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(backend)?;
        written.map(|_| ())
    }
}
