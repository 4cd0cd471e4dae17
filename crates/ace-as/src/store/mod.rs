//! The record of issued tokens, for introspection, revocation and audit
//! (RFC 9200 section 5.9; RFC 7662).
//!
//! The AS keeps one [`TokenRecord`] per token it issues: `cti`, client,
//! audience, granted scope, profile, times, the PoP key identifier and the
//! revocation time. Storage sits behind the [`TokenStore`] trait;
//! [`SqliteStore`] is the embedded, durable implementation and
//! [`MemoryStore`] the one for tests. No key material is stored: the
//! tokens are self-contained and the AS reopens them when asked to
//! introspect.

mod sqlite;

pub use sqlite::SqliteStore;

use ace_proto::cbor;
use ace_proto::scope::ScopeValue;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// One issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's `cti` (unique).
    pub cti: Vec<u8>,
    /// The client it was issued to.
    pub client: String,
    /// Its audience.
    pub audience: String,
    /// The granted scope (plain, never extended).
    pub scope: ScopeValue,
    /// The ACE profile (registry value).
    pub profile: i64,
    /// The token format, e.g. `cwt sign1+encrypt0` or `jwt`.
    pub format: String,
    /// `iat`, Unix seconds.
    pub issued_at: u64,
    /// `exp`, Unix seconds.
    pub expires_at: u64,
    /// `exi`, seconds, for an RS without a clock.
    pub exi: Option<u64>,
    /// The PoP key identifier: the OSCORE_Input_Material `id`, or the
    /// `kid` of the bound COSE_Key.
    pub key_id: Option<Vec<u8>>,
    /// When the token was revoked, Unix seconds.
    pub revoked_at: Option<u64>,
}

/// The state of a token at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// Valid.
    Active,
    /// Past `exp`.
    Expired,
    /// Revoked by an operator.
    Revoked,
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        })
    }
}

impl TokenRecord {
    /// The token's state at `now`: revoked first, then expired (`now >=
    /// exp`, RFC 7519 section 4.1.4).
    pub fn status(&self, now: u64) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if now >= self.expires_at {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    /// The scope in CBOR, as stored.
    pub fn scope_bytes(&self) -> Vec<u8> {
        cbor::to_vec(&self.scope.to_value())
    }

    /// The scope from its stored CBOR.
    pub fn scope_from_bytes(bytes: &[u8]) -> Result<ScopeValue, StoreError> {
        let value = cbor::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ScopeValue::from_parameter_value(value, "stored scope")
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// Which records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    /// Only tokens of this client.
    pub client: Option<String>,
    /// Only tokens for this audience.
    pub audience: Option<String>,
    /// Only tokens active at this time.
    pub active_at: Option<u64>,
}

impl TokenFilter {
    /// Whether `record` passes.
    pub fn accepts(&self, record: &TokenRecord) -> bool {
        self.client.as_ref().is_none_or(|c| *c == record.client)
            && self.audience.as_ref().is_none_or(|a| *a == record.audience)
            && self
                .active_at
                .is_none_or(|now| record.status(now) == TokenStatus::Active)
    }
}

/// The outcome of [`TokenStore::revoke`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The token is now revoked.
    Revoked,
    /// It was revoked before, at this time.
    AlreadyRevoked(u64),
    /// No token has this `cti`.
    NotFound,
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A token with this `cti` is already recorded.
    #[error("a token with this cti is already recorded")]
    DuplicateCti,
    /// The database refused the operation.
    #[error("token store: {0}")]
    Backend(String),
    /// A stored value does not decode.
    #[error("token store holds a corrupt record: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of this program.
    #[error("token store schema version {found} is newer than the supported {supported}")]
    SchemaVersion {
        /// The version found.
        found: i64,
        /// The version this program writes.
        supported: i64,
    },
}

/// Where the AS records issued tokens. Implementations are shared between
/// concurrent requests.
pub trait TokenStore: Send + Sync {
    /// Records a new token; refuses a `cti` already recorded.
    fn insert(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// The record of `cti`.
    fn get(&self, cti: &[u8]) -> Result<Option<TokenRecord>, StoreError>;

    /// The records `filter` accepts, oldest first.
    fn list(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError>;

    /// Marks `cti` revoked at `now`.
    fn revoke(&self, cti: &[u8], now: u64) -> Result<RevokeOutcome, StoreError>;

    /// The next `exi` sequence number for `audience`: 1, 2, 3, ... never
    /// repeated, even across restarts (RFC 9200 section 5.10.3).
    fn next_exi_sequence(&self, audience: &str) -> Result<u64, StoreError>;

    /// The records whose PoP key identifier is `key_id`, oldest first.
    fn by_key_id(&self, key_id: &[u8]) -> Result<Vec<TokenRecord>, StoreError>;
}

/// Durable marks of the OSCORE Sender Sequence Numbers of the AS's
/// pre-established contexts (RFC 8613 Appendix B.1.1): before a number at
/// or past the recorded mark is used, a higher mark is recorded; after a
/// restart the context resumes at the mark, so no number is used twice with
/// the same key.
pub trait SequenceMarks: Send + Sync {
    /// The mark recorded for `context`, `None` if it was never used.
    fn sequence_mark(&self, context: &str) -> Result<Option<u64>, StoreError>;

    /// Records `mark` for `context` (never lowering a recorded mark), before
    /// returning.
    fn reserve_sequence(&self, context: &str, mark: u64) -> Result<(), StoreError>;
}

/// A [`TokenStore`] in memory: lost on exit. For tests and for running
/// without a database.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    records: Vec<TokenRecord>,
    by_cti: HashMap<Vec<u8>, usize>,
    exi: HashMap<String, u64>,
    marks: HashMap<String, u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

impl TokenStore for MemoryStore {
    fn insert(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.by_cti.contains_key(&record.cti) {
            return Err(StoreError::DuplicateCti);
        }
        let at = inner.records.len();
        inner.by_cti.insert(record.cti.clone(), at);
        inner.records.push(record.clone());
        Ok(())
    }

    fn get(&self, cti: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .by_cti
            .get(cti)
            .and_then(|at| inner.records.get(*at))
            .cloned())
    }

    fn list(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(self
            .lock()?
            .records
            .iter()
            .filter(|r| filter.accepts(r))
            .cloned()
            .collect())
    }

    fn revoke(&self, cti: &[u8], now: u64) -> Result<RevokeOutcome, StoreError> {
        let mut inner = self.lock()?;
        let at = inner.by_cti.get(cti).copied();
        match at.and_then(|at| inner.records.get_mut(at)) {
            None => Ok(RevokeOutcome::NotFound),
            Some(r) => match r.revoked_at {
                Some(at) => Ok(RevokeOutcome::AlreadyRevoked(at)),
                None => {
                    r.revoked_at = Some(now);
                    Ok(RevokeOutcome::Revoked)
                }
            },
        }
    }

    fn next_exi_sequence(&self, audience: &str) -> Result<u64, StoreError> {
        let mut inner = self.lock()?;
        let last = inner.exi.entry(audience.to_string()).or_insert(0);
        *last += 1;
        Ok(*last)
    }

    fn by_key_id(&self, key_id: &[u8]) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(self
            .lock()?
            .records
            .iter()
            .filter(|r| r.key_id.as_deref() == Some(key_id))
            .cloned()
            .collect())
    }
}

impl SequenceMarks for MemoryStore {
    fn sequence_mark(&self, context: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock()?.marks.get(context).copied())
    }

    fn reserve_sequence(&self, context: &str, mark: u64) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let entry = inner.marks.entry(context.to_string()).or_insert(mark);
        *entry = (*entry).max(mark);
        Ok(())
    }
}
