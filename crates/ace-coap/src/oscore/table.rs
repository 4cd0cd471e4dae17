//! The security contexts of an endpoint: OSCORE contexts (RFC 8613) found
//! by the 'kid' and 'kid context' of a request or by the label the
//! application gave them, and Group OSCORE memberships (RFC 10021) found by
//! Gid or label.
//!
//! # Ownership and locking
//!
//! Each context sits behind its own mutex (its Sender Sequence Number and
//! replay window change with every message, RFC 8613 section 7.2 and 7.4),
//! shared by `Arc` between the table and the exchanges using it. The table
//! itself is two sharded maps (by label, by Recipient ID) under read-write
//! locks: the hot path takes one shard's read lock for the look-up and then
//! only the context's own mutex, so clients with different contexts never
//! wait for each other. Installing and removing contexts (once per token at
//! the KDC) take a writers' mutex and then one shard write lock at a time.
//!
//! # Lifetime
//!
//! Contexts can be added, replaced (same label) and removed at runtime. A
//! context may carry the expiry of the access token it was derived for
//! (RFC 9203 section 7): from then on it is treated as absent (4.01
//! "Security context not found"), and [`OscoreContexts::remove_expired`]
//! drops it. When a new token replaces the one a context is bound to (the
//! update of access rights, RFC 9203 section 4.1), the context stays:
//! [`OscoreContexts::set_expiry`] moves its expiry and
//! [`OscoreContexts::relabel`] its label in place, keeping its Sender
//! Sequence Number, replay window, exchanges and observations. Sender Sequence Numbers are reserved ahead in the
//! application's [`SequenceStore`] ([`Persistence`], RFC 8613 Appendix
//! B.1.1); a context restored after a restart has no replay state and
//! establishes freshness with Echo (Appendix B.1.2).

use super::group::GroupMember;
use super::server::{ObservationTable, OscoreServerLayer};
use crate::security::ClientLayer;
use group_oscore::{ContextError, ContextParams, SecurityContext, SenderSequence, SequenceStore};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What an application label must be: the key it installs a context under
/// and gets back in [`super::OscoreIdentity::label`].
pub trait Label: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static> Label for T {}

/// The current time in seconds since the Unix epoch (compared with token
/// expiry times).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock as a [`Clock`].
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Number of shards of each map: enough that two cores rarely meet on one.
pub(crate) const SHARDS: usize = 16;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A map split into shards by the hash of the key.
pub(crate) struct Sharded<T> {
    shards: Box<[RwLock<T>]>,
    hasher: RandomState,
}

impl<T: Default> Sharded<T> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(T::default())).collect(),
            hasher: RandomState::new(),
        }
    }

    pub(crate) fn shard<K: Hash + ?Sized>(&self, key: &K) -> &RwLock<T> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        &self.shards[i]
    }

    pub(crate) fn read<K: Hash + ?Sized>(&self, key: &K) -> RwLockReadGuard<'_, T> {
        read(self.shard(key))
    }

    pub(crate) fn write<K: Hash + ?Sized>(&self, key: &K) -> RwLockWriteGuard<'_, T> {
        write(self.shard(key))
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &RwLock<T>> {
        self.shards.iter()
    }
}

/// `expires_at` value meaning "no expiry".
const NEVER: u64 = u64::MAX;

/// An installed OSCORE context. Its label and expiry change in place
/// ([`OscoreContexts::set_expiry`], [`OscoreContexts::relabel`]); the
/// context itself (Sender Sequence Number, replay window) is never copied.
pub(crate) struct Entry<L> {
    label: RwLock<L>,
    pub(crate) recipient_id: Vec<u8>,
    pub(crate) id_context: Option<Vec<u8>>,
    /// Seconds since the epoch, or [`NEVER`].
    expires_at: AtomicU64,
    pub(crate) context: Mutex<SecurityContext>,
}

impl<L: Clone> Entry<L> {
    pub(crate) fn new(label: L, context: SecurityContext, expires_at: Option<u64>) -> Self {
        Self {
            label: RwLock::new(label),
            recipient_id: context.recipient_id().to_vec(),
            id_context: context.id_context().map(<[u8]>::to_vec),
            expires_at: AtomicU64::new(expires_at.unwrap_or(NEVER)),
            context: Mutex::new(context),
        }
    }

    /// The label the context is installed under now.
    pub(crate) fn label(&self) -> L {
        read(&self.label).clone()
    }
}

impl<L> Entry<L> {
    pub(crate) fn expires_at(&self) -> Option<u64> {
        let at = self.expires_at.load(Ordering::Acquire);
        (at != NEVER).then_some(at)
    }

    pub(crate) fn is_expired(&self, now: u64) -> bool {
        self.expires_at().is_some_and(|exp| now >= exp)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SecurityContext> {
        lock(&self.context)
    }
}

/// How an installed context reserves its Sender Sequence Numbers and
/// whether its replay state survived (RFC 8613 Appendix B.1).
pub struct Persistence {
    /// Where the reserved mark is recorded durably.
    pub store: Box<dyn SequenceStore>,
    /// The last mark recorded in the store: every number below it may have
    /// been used (0 for a new context).
    pub resume_at: u64,
    /// How many numbers each reservation covers.
    pub block: u64,
    /// Whether the replay window was lost (a context restored after a
    /// restart): requests are then answered with an Echo challenge until
    /// one proves fresh (Appendix B.1.2).
    pub replay_state_lost: bool,
    /// The expiry of the token the context belongs to (seconds since the
    /// epoch), if any.
    pub expires_at: Option<u64>,
}

impl fmt::Debug for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persistence")
            .field("resume_at", &self.resume_at)
            .field("block", &self.block)
            .field("replay_state_lost", &self.replay_state_lost)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Persistence {
    /// A new context: numbers from 0, reserved `block` at a time in `store`.
    pub fn new(store: Box<dyn SequenceStore>, block: u64) -> Self {
        Self {
            store,
            resume_at: 0,
            block,
            replay_state_lost: false,
            expires_at: None,
        }
    }

    /// A context restored after a restart: numbers resume at the last
    /// recorded `mark`, and the replay window is lost.
    pub fn restored(store: Box<dyn SequenceStore>, mark: u64, block: u64) -> Self {
        Self {
            store,
            resume_at: mark,
            block,
            replay_state_lost: true,
            expires_at: None,
        }
    }

    /// Sets the token expiry.
    #[must_use]
    pub fn expires_at(mut self, expires_at: Option<u64>) -> Self {
        self.expires_at = expires_at;
        self
    }
}

/// The contexts with one Recipient ID (they differ in their ID Context).
type SameKid<L> = Vec<Arc<Entry<L>>>;

/// The security contexts of an endpoint, by label (see the module docs).
pub struct OscoreContexts<L> {
    by_label: Sharded<HashMap<L, Arc<Entry<L>>>>,
    by_kid: Sharded<HashMap<Vec<u8>, SameKid<L>>>,
    groups: RwLock<Vec<(L, GroupMember)>>,
    pub(crate) observations: ObservationTable<L>,
    mutation: Mutex<()>,
    clock: Clock,
}

impl<L: Label> fmt::Debug for OscoreContexts<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OscoreContexts")
            .field("contexts", &self.len())
            .field("groups", &read(&self.groups).len())
            .finish_non_exhaustive()
    }
}

impl<L: Label> OscoreContexts<L> {
    /// An empty table using the system clock for token expiry.
    pub fn new() -> Arc<Self> {
        Self::with_clock(system_clock())
    }

    /// An empty table using `clock` for token expiry.
    pub fn with_clock(clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            by_label: Sharded::new(),
            by_kid: Sharded::new(),
            groups: RwLock::new(Vec::new()),
            observations: ObservationTable::new(),
            mutation: Mutex::new(()),
            clock,
        })
    }

    pub(crate) fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Installs `context` under `label`, replacing the context that had
    /// this label; observations made through the replaced context end.
    ///
    /// Several contexts may share a Recipient ID (a client talking to
    /// servers that all use the same Sender ID, or a server whose clients
    /// differ only in the ID Context): a request is then tried with each
    /// context its 'kid' and 'kid context' match until one verifies it (RFC
    /// 8613 section 8.2 leaves the retrieval to the implementation).
    pub fn install(&self, label: &L, context: SecurityContext) {
        self.insert(label.clone(), context, None);
    }

    /// Like [`OscoreContexts::install`], for a context that must not be
    /// used from `expires_at` on (seconds since the epoch; the expiry of
    /// the access token it was derived for, RFC 9203 section 7).
    pub fn install_expiring(&self, label: &L, context: SecurityContext, expires_at: Option<u64>) {
        self.insert(label.clone(), context, expires_at);
    }

    /// Derives a context from `params` and installs it with the sequence
    /// number persistence and replay state of `persistence` (RFC 8613
    /// Appendix B.1).
    pub fn install_persistent(
        &self,
        label: &L,
        params: &ContextParams,
        persistence: Persistence,
    ) -> Result<(), ContextError> {
        let sequence =
            SenderSequence::resume(persistence.resume_at, persistence.store, persistence.block);
        let mut context = SecurityContext::new(params)?.with_sequence(sequence);
        if persistence.replay_state_lost {
            context = context.with_lost_replay_state();
        }
        self.insert(label.clone(), context, persistence.expires_at);
        Ok(())
    }

    fn insert(&self, label: L, context: SecurityContext, expires_at: Option<u64>) {
        let entry = Arc::new(Entry::new(label.clone(), context, expires_at));
        let _writer = lock(&self.mutation);
        let old = self.by_label.write(&label).insert(label, entry.clone());
        if let Some(old) = old {
            self.unindex(&old);
            self.observations.forget_context(&old);
        }
        self.by_kid
            .write(&entry.recipient_id)
            .entry(entry.recipient_id.clone())
            .or_default()
            .push(entry);
    }

    fn unindex(&self, entry: &Arc<Entry<L>>) {
        let mut shard = self.by_kid.write(&entry.recipient_id);
        if let Some(list) = shard.get_mut(&entry.recipient_id) {
            list.retain(|e| !Arc::ptr_eq(e, entry));
            if list.is_empty() {
                shard.remove(&entry.recipient_id);
            }
        }
    }

    /// Removes the context labelled `label` and the observations made
    /// through it; returns whether there was one.
    pub fn remove(&self, label: &L) -> bool {
        let _writer = lock(&self.mutation);
        let Some(old) = self.by_label.write(label).remove(label) else {
            return false;
        };
        self.unindex(&old);
        self.observations.forget_context(&old);
        true
    }

    /// Removes every context whose token has expired at `now` and returns
    /// their labels (RFC 9203 section 7).
    pub fn remove_expired(&self, now: u64) -> Vec<L> {
        let expired: Vec<L> = self
            .by_label
            .all()
            .flat_map(|s| {
                read(s)
                    .values()
                    .filter(|e| e.is_expired(now))
                    .map(|e| e.label())
                    .collect::<Vec<_>>()
            })
            .collect();
        for label in &expired {
            self.remove(label);
        }
        expired
    }

    /// Whether a context is installed under `label`.
    pub fn contains(&self, label: &L) -> bool {
        self.get(label).is_some()
    }

    /// Number of installed OSCORE contexts (groups not counted).
    pub fn len(&self) -> usize {
        self.by_label.all().map(|s| read(s).len()).sum()
    }

    /// Whether no OSCORE context is installed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of the installed OSCORE contexts.
    pub fn labels(&self) -> Vec<L> {
        self.by_label
            .all()
            .flat_map(|s| read(s).keys().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// The Sender Sequence Number the context of `label` uses next.
    pub fn sender_sequence_number(&self, label: &L) -> Option<u64> {
        self.get(label).map(|e| e.lock().sender_sequence_number())
    }

    /// The token expiry of the context of `label`, if it has one.
    pub fn expires_at(&self, label: &L) -> Option<u64> {
        self.get(label).and_then(|e| e.expires_at())
    }

    /// Changes the expiry of the context of `label` in place and returns
    /// whether there is one: `expires_at` is the expiry of the access
    /// token the context is now bound to (seconds since the epoch; `None`
    /// for none). The context itself is kept: Sender Sequence Number and
    /// reservations, replay window, exchanges and observations in flight.
    ///
    /// This is the update of access rights of RFC 9203 section 4.1 (and
    /// RFC 9594 section 3.3): the client POSTs a new token to
    /// `/authz-info` over the existing OSCORE context, the resource server
    /// keeps the context and binds it to the new token, and both sides
    /// move the context's expiry to the new token's. A context whose old
    /// token already expired but which [`OscoreContexts::remove_expired`]
    /// has not dropped yet becomes usable again.
    pub fn set_expiry(&self, label: &L, expires_at: Option<u64>) -> bool {
        match self.get(label) {
            Some(entry) => {
                entry
                    .expires_at
                    .store(expires_at.unwrap_or(NEVER), Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Moves the context labelled `from` to the label `to` in place and
    /// returns whether there was one, for labels that carry metadata about
    /// the binding (e.g. the token's identifier) and change with it (RFC
    /// 9203 section 4.1). The context is kept as [`OscoreContexts::set_expiry`]
    /// keeps it, and so are the observations made through it; handlers see
    /// the new label in [`super::OscoreIdentity::label`] from then on. A
    /// context already labelled `to` is replaced, as
    /// [`OscoreContexts::install`] would replace it.
    pub fn relabel(&self, from: &L, to: L) -> bool {
        if *from == to {
            return self.contains(from);
        }
        let _writer = lock(&self.mutation);
        let Some(entry) = self.get(from) else {
            return false;
        };
        // Indexed under both labels while the entry's own label changes, so
        // that a look-up by either finds it (`is_current` checks the
        // entry's label).
        let displaced = self.by_label.write(&to).insert(to.clone(), entry.clone());
        if let Some(old) = displaced {
            self.unindex(&old);
            self.observations.forget_context(&old);
        }
        *write(&entry.label) = to;
        let mut shard = self.by_label.write(from);
        if shard.get(from).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
            shard.remove(from);
        }
        true
    }

    /// Runs `f` on the context of `label` (e.g. to read its identifiers or
    /// replay window).
    pub fn with_context<R>(
        &self,
        label: &L,
        f: impl FnOnce(&mut SecurityContext) -> R,
    ) -> Option<R> {
        self.get(label).map(|e| f(&mut e.lock()))
    }

    pub(crate) fn get(&self, label: &L) -> Option<Arc<Entry<L>>> {
        self.by_label.read(label).get(label).cloned()
    }

    /// Whether `entry` is still the installed context of its label.
    pub(crate) fn is_current(&self, entry: &Arc<Entry<L>>) -> bool {
        self.get(&entry.label())
            .is_some_and(|e| Arc::ptr_eq(&e, entry))
    }

    /// The unexpired contexts a request with `kid` and `kid_context` may be
    /// for (RFC 8613 section 8.2 step 2: 'kid' equal to the Recipient ID
    /// and, if present, 'kid context' equal to the ID Context).
    pub(crate) fn candidates(&self, kid: &[u8], kid_context: Option<&[u8]>) -> Vec<Arc<Entry<L>>> {
        let now = self.now();
        self.by_kid
            .read(kid)
            .get(kid)
            .map(|list| {
                list.iter()
                    .filter(|e| kid_context.is_none_or(|c| Some(c) == e.id_context.as_deref()))
                    .filter(|e| !e.is_expired(now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    // -- Groups ------------------------------------------------------------

    /// Adds (or replaces) the Group OSCORE membership labelled `label`.
    /// Requests whose 'kid context' is one of its Gids (current, or the
    /// previous one during its grace period) are verified with it.
    pub fn add_group(&self, label: &L, member: GroupMember) {
        let mut groups = write(&self.groups);
        groups.retain(|(l, _)| l != label);
        groups.push((label.clone(), member));
    }

    /// The membership labelled `label`.
    pub fn group(&self, label: &L) -> Option<GroupMember> {
        read(&self.groups)
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, m)| m.clone())
    }

    /// Removes the membership labelled `label`; returns whether there was
    /// one.
    pub fn remove_group(&self, label: &L) -> bool {
        let removed = {
            let mut groups = write(&self.groups);
            let before = groups.len();
            groups.retain(|(l, _)| l != label);
            groups.len() != before
        };
        if removed {
            self.observations.forget_group(label);
        }
        removed
    }

    /// The labels of the memberships.
    pub fn group_labels(&self) -> Vec<L> {
        read(&self.groups).iter().map(|(l, _)| l.clone()).collect()
    }

    /// The membership whose current or previous Gid is `gid`.
    pub(crate) fn group_for_gid(&self, gid: &[u8]) -> Option<(L, GroupMember)> {
        read(&self.groups)
            .iter()
            .find(|(_, m)| m.knows_gid(gid))
            .map(|(l, m)| (l.clone(), m.clone()))
    }

    // -- Layers ------------------------------------------------------------

    /// The server-side layer verifying requests with this table (see
    /// [`OscoreServerLayer`]).
    pub fn server_layer(self: &Arc<Self>) -> OscoreServerLayer<L> {
        OscoreServerLayer::new(self.clone())
    }

    /// The client-side layer protecting each request with the context (or
    /// group) its [`crate::Request::security`] names; requests naming none
    /// go out unprotected (see [`super::OscoreClientLayer`]).
    pub fn client_layer(self: &Arc<Self>) -> Arc<dyn ClientLayer> {
        Arc::new(super::client::OscoreClientLayer::table(self.clone()))
    }

    /// The client-side layer protecting every request with the context
    /// labelled `label`, unless the request names another one.
    pub fn client_layer_for(self: &Arc<Self>, label: L) -> Arc<dyn ClientLayer> {
        Arc::new(super::client::OscoreClientLayer::bound(self.clone(), label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(sid: &[u8], rid: &[u8], id_context: Option<&[u8]>) -> SecurityContext {
        let mut p = ContextParams::new(&[1; 16], sid, rid);
        if let Some(c) = id_context {
            p = p.id_context(c);
        }
        SecurityContext::new(&p).unwrap()
    }

    #[test]
    fn labels_replace_and_kids_select() {
        let t = OscoreContexts::<u32>::new();
        t.install(&1, context(b"s", b"a", None));
        t.install(&2, context(b"s", b"a", Some(b"ctx2")));
        t.install(&3, context(b"s", b"b", None));
        assert_eq!(t.len(), 3);
        let labels = |v: Vec<Arc<Entry<u32>>>| {
            let mut l: Vec<u32> = v.iter().map(|e| e.label()).collect();
            l.sort_unstable();
            l
        };
        // Without 'kid context' every context with that Recipient ID is a
        // candidate; with it, only the one with that ID Context.
        assert_eq!(labels(t.candidates(b"a", None)), vec![1, 2]);
        assert_eq!(labels(t.candidates(b"a", Some(b"ctx2"))), vec![2]);
        assert!(t.candidates(b"a", Some(b"other")).is_empty());
        assert_eq!(labels(t.candidates(b"b", None)), vec![3]);
        // Replacing label 1 with another Recipient ID re-indexes it.
        t.install(&1, context(b"s", b"c", None));
        assert_eq!(labels(t.candidates(b"a", None)), vec![2]);
        assert_eq!(labels(t.candidates(b"c", None)), vec![1]);
        assert_eq!(t.len(), 3);
        assert!(t.remove(&2));
        assert!(!t.remove(&2));
        assert!(t.candidates(b"a", None).is_empty());
        let mut l = t.labels();
        l.sort_unstable();
        assert_eq!(l, vec![1, 3]);
    }

    #[test]
    fn expiry_uses_the_clock_and_remove_expired_drops() {
        let now = Arc::new(std::sync::atomic::AtomicU64::new(100));
        let n = now.clone();
        let t = OscoreContexts::<&'static str>::with_clock(Arc::new(move || {
            n.load(std::sync::atomic::Ordering::SeqCst)
        }));
        t.install_expiring(&"x", context(b"s", b"x", None), Some(150));
        t.install(&"y", context(b"s", b"y", None));
        assert_eq!(t.candidates(b"x", None).len(), 1);
        now.store(150, std::sync::atomic::Ordering::SeqCst);
        assert!(t.candidates(b"x", None).is_empty(), "expired is absent");
        assert_eq!(t.expires_at(&"x"), Some(150));
        assert_eq!(t.remove_expired(150), vec!["x"]);
        assert_eq!(t.labels(), vec!["y"]);
    }

    /// A protected request from `client` to the context it pairs with.
    fn request_from(client: &mut SecurityContext) -> coap_lite::Packet {
        let mut get = coap_lite::Packet::new();
        get.header.code = coap_lite::MessageClass::from(0x01);
        client.protect_request(&get).unwrap().0
    }

    #[test]
    fn expiry_changes_in_place_keeping_sequence_numbers_and_replay_window() {
        let now = Arc::new(std::sync::atomic::AtomicU64::new(100));
        let n = now.clone();
        let t = OscoreContexts::<&'static str>::with_clock(Arc::new(move || {
            n.load(std::sync::atomic::Ordering::SeqCst)
        }));
        t.install_expiring(&"x", context(b"s", b"c", None), Some(150));
        let mut client = context(b"c", b"s", None);
        let first = request_from(&mut client);
        let entry = t.candidates(b"c", None).pop().unwrap();
        let (_, mut exchange) = entry.lock().unprotect_request(&first).unwrap();
        let mut resp = coap_lite::Packet::new();
        resp.header.code = coap_lite::MessageClass::from(0x45);
        entry
            .lock()
            .protect_response_with(&resp, &mut exchange, true)
            .unwrap();
        assert_eq!(t.sender_sequence_number(&"x"), Some(1));

        // The old token expired: the context is treated as absent...
        now.store(150, std::sync::atomic::Ordering::SeqCst);
        assert!(t.candidates(b"c", None).is_empty());
        // ...until the new token's expiry is set, in place.
        assert!(t.set_expiry(&"x", Some(400)));
        assert!(!t.set_expiry(&"nothing", Some(400)));
        assert_eq!(t.expires_at(&"x"), Some(400));
        let again = t.candidates(b"c", None).pop().unwrap();
        assert!(Arc::ptr_eq(&entry, &again), "the same context");
        assert_eq!(t.sender_sequence_number(&"x"), Some(1), "numbers kept");
        let replay = again.lock().unprotect_request(&first).map(|_| ());
        assert!(
            matches!(replay, Err(group_oscore::UnprotectError::Replay(_))),
            "replay window kept: {replay:?}"
        );
        assert!(
            again
                .lock()
                .unprotect_request(&request_from(&mut client))
                .is_ok()
        );
        assert!(t.set_expiry(&"x", None));
        assert_eq!(t.expires_at(&"x"), None);
        assert!(t.remove_expired(u64::MAX - 1).is_empty());
    }

    #[test]
    fn relabel_moves_the_context_in_place() {
        let t = OscoreContexts::<u32>::new();
        t.install(&1, context(b"s", b"a", None));
        t.install(&2, context(b"s", b"b", None));
        let entry = t.get(&1).unwrap();
        assert!(t.relabel(&1, 10));
        assert!(!t.contains(&1) && t.contains(&10));
        assert!(Arc::ptr_eq(&t.get(&10).unwrap(), &entry));
        assert_eq!(t.candidates(b"a", None)[0].label(), 10);
        assert!(t.is_current(&entry));
        assert!(!t.relabel(&1, 11), "nothing labelled 1 any more");
        assert!(t.relabel(&10, 10));
        // Onto a taken label: the context there is replaced.
        assert!(t.relabel(&10, 2));
        assert_eq!(t.len(), 1);
        assert!(t.candidates(b"b", None).is_empty());
        assert_eq!(t.candidates(b"a", None)[0].label(), 2);
    }

    #[test]
    fn persistence_resumes_and_reserves() {
        let marks = Arc::new(Mutex::new(Vec::new()));
        let m = marks.clone();
        let store = move |mark: u64| {
            m.lock().unwrap().push(mark);
            Ok(())
        };
        let t = OscoreContexts::<u8>::new();
        t.install_persistent(
            &7,
            &ContextParams::new(&[1; 16], b"s", b"r"),
            Persistence::restored(Box::new(store), 64, 16).expires_at(Some(9)),
        )
        .unwrap();
        assert_eq!(t.sender_sequence_number(&7), Some(64));
        assert_eq!(t.expires_at(&7), Some(9));
        assert_eq!(
            t.with_context(&7, |c| c.replay_window().is_valid()),
            Some(false),
            "restored contexts have no replay state"
        );
        let mut get = coap_lite::Packet::new();
        get.header.code = coap_lite::MessageClass::from(0x01);
        let r = t.with_context(&7, |c| c.protect_request(&get).map(|_| ()));
        assert_eq!(r, Some(Ok(())));
        // The first number used reserved the next block durably.
        assert_eq!(*marks.lock().unwrap(), vec![64 + 16]);
        assert_eq!(t.sender_sequence_number(&7), Some(65));
    }

    #[test]
    fn concurrent_installs_removals_and_lookups() {
        let t = OscoreContexts::<u32>::new();
        std::thread::scope(|s| {
            for worker in 0..4u32 {
                let t = &t;
                s.spawn(move || {
                    for i in 0..200u32 {
                        let label = worker * 1000 + i;
                        let rid = label.to_be_bytes();
                        t.install(&label, context(b"s", &rid, None));
                        assert_eq!(t.candidates(&rid, None).len(), 1);
                        if i % 2 == 0 {
                            assert!(t.remove(&label));
                            assert!(t.candidates(&rid, None).is_empty());
                        }
                    }
                });
            }
        });
        assert_eq!(t.len(), 4 * 100);
    }
}
