//! Making state transitions durable: each transition's batch of
//! [`Change`]s is *staged* under the state lock (which fixes its order) and
//! *waited for* after the lock is released, before the response that
//! reveals the transition leaves.
//!
//! Two modes:
//!
//! * **Immediate**: the batch is written to the store while staging, under
//!   the state lock (one transaction per transition). Deterministic; the
//!   default of [`Kdc::open`](super::Kdc::open).
//! * **Group commit**: staging appends the batch to a queue; a writer thread
//!   takes everything queued and writes it in one transaction, then wakes
//!   the waiters. It first waits for more, but only while requests are in
//!   progress that do not wait for it yet (see [`InFlight`]) and for at
//!   most a millisecond, so a lone batch is written at once. Concurrent
//!   transitions share a transaction (and, with
//!   `synchronous = FULL`, an fsync), and no storage I/O happens under the
//!   state lock. Batches are written in staging order, so the store always
//!   holds a prefix of the transitions the memory went through.
//!
//! A write that fails fails every batch of it and every batch staged after
//! it from the same *epoch*: those were built on state the store does not
//! have. The first waiter to see the failure reloads the state from the
//! store, which starts a new epoch; batches of older epochs are refused by
//! the writer. So memory and store meet again, and every request whose
//! transition was lost gets 5.00.

use crate::model::ChannelId;
use crate::store::{Change, Store};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The completion of one staged batch.
#[derive(Debug, Default)]
struct Done {
    result: Mutex<Option<Result<(), String>>>,
    cv: Condvar,
    wakers: Mutex<Vec<std::task::Waker>>,
}

impl Done {
    fn complete(&self, result: Result<(), String>) {
        *lock(&self.result) = Some(result);
        self.cv.notify_all();
        for w in std::mem::take(&mut *lock(&self.wakers)) {
            w.wake();
        }
    }

    fn poll(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), String>> {
        if let Some(r) = lock(&self.result).as_ref() {
            return std::task::Poll::Ready(r.clone());
        }
        lock(&self.wakers).push(cx.waker().clone());
        // Completed between the check and the registration?
        match lock(&self.result).as_ref() {
            Some(r) => std::task::Poll::Ready(r.clone()),
            None => std::task::Poll::Pending,
        }
    }

    fn wait(&self) -> Result<(), String> {
        let mut guard = lock(&self.result);
        loop {
            if let Some(r) = guard.as_ref() {
                return r.clone();
            }
            guard = self
                .cv
                .wait(guard)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

struct Job {
    epoch: u64,
    changes: Vec<Change>,
    done: Arc<Done>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    shutdown: bool,
    /// The writer is waiting for more batches (and wants to hear when every
    /// request in progress waits for it).
    gathering: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    cv: Condvar,
    /// Batches of an epoch below this are refused (a write failed after
    /// they were staged).
    min_epoch: AtomicU64,
    /// Requests the service is handling (see [`InFlight`]).
    in_flight: AtomicUsize,
    /// Transactions written and batches they carried (statistics).
    transactions: AtomicU64,
    batches: AtomicU64,
}

/// The group-commit writer: a thread and its queue.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer thread on `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("kdc-store-writer".into())
            .spawn(move || writer(&s, store.as_ref()))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    fn enqueue(&self, epoch: u64, changes: Vec<Change>) -> Arc<Done> {
        self.shared.push(epoch, changes)
    }

    /// Counts a request in progress until the returned guard drops.
    pub(crate) fn request(&self) -> InFlight {
        Shared::request(&self.shared)
    }

    /// The oldest epoch whose batches are still written.
    pub(crate) fn min_epoch(&self) -> u64 {
        self.shared.min_epoch.load(Ordering::SeqCst)
    }

    /// (transactions, batches) written so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.shared.transactions.load(Ordering::Relaxed),
            self.shared.batches.load(Ordering::Relaxed),
        )
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request in progress in the service, from its arrival to its response
/// ([`crate::Kdc::request_in_flight`]). A gathering writer compares the
/// requests in progress with the batches queued: while there are more
/// requests than batches, some are still being handled and will likely
/// bring a batch; when every request waits for the writer, the wait
/// cannot gather anything more, so it writes. A KDC under more load than
/// it serves at once gathers for its whole window; one whose few clients
/// all wait for this write (a closed loop) writes at once.
pub struct InFlight {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        // Taking the lock orders this with the writer's check before its
        // wait, so a writer that must stop gathering hears of it.
        let q = lock(&self.shared.queue);
        if q.gathering && !self.shared.more_coming(&q) {
            self.shared.cv.notify_one();
        }
    }
}

impl Shared {
    fn new() -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            min_epoch: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            transactions: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        }
    }

    /// Queues a batch for the writer.
    fn push(&self, epoch: u64, changes: Vec<Change>) -> Arc<Done> {
        let done = Arc::new(Done::default());
        let (queued, all_waiting) = {
            let mut q = lock(&self.queue);
            q.jobs.push(Job {
                epoch,
                changes,
                done: done.clone(),
            });
            (q.jobs.len(), q.gathering && !self.more_coming(&q))
        };
        // The writer waits for a first batch, then gathers while more are
        // coming, until its window closes or GATHER_ENOUGH are queued; it
        // checks the queue under the lock before each wait. So only the
        // first batch, the one that makes enough and the one that leaves
        // nothing more coming need to wake it: waking it for every batch
        // would cost a futex call and a context switch each, for nothing.
        if queued == 1 || queued == GATHER_ENOUGH || all_waiting {
            self.cv.notify_one();
        }
        done
    }

    fn request(shared: &Arc<Self>) -> InFlight {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight {
            shared: shared.clone(),
        }
    }

    /// Whether requests are in progress that have not queued a batch yet.
    /// Batches of timers and operator commands are counted as if requests
    /// had queued them, which can only end a gathering sooner.
    fn more_coming(&self, q: &Queue) -> bool {
        self.in_flight.load(Ordering::SeqCst) > q.jobs.len()
    }
}

/// The longest the writer waits for more batches after the first one
/// arrived, while requests in progress have not queued theirs: under load,
/// a transaction per request costs more CPU than the wait costs latency
/// (BENCHMARKS.md, "ace-kdc", the group commit window). When every request
/// in progress waits for the writer (a lone client, or fewer clients than
/// the KDC could serve), no batch is coming that the wait could gather, and
/// it writes at once.
const GATHER_WINDOW: Duration = Duration::from_millis(1);

/// Batches after which the writer stops gathering.
const GATHER_ENOUGH: usize = 32;

/// Waits for more batches: until [`GATHER_ENOUGH`] are queued or `window`
/// has passed, and while more are coming (see [`InFlight`]).
fn gather<'a>(
    shared: &'a Shared,
    mut q: std::sync::MutexGuard<'a, Queue>,
    window: Duration,
) -> std::sync::MutexGuard<'a, Queue> {
    let deadline = Instant::now() + window;
    while q.jobs.len() < GATHER_ENOUGH && !q.shutdown && shared.more_coming(&q) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        q = shared
            .cv
            .wait_timeout(q, left)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
    q
}

fn writer(shared: &Shared, store: &dyn Store) {
    loop {
        let jobs = {
            let mut q = lock(&shared.queue);
            while q.jobs.is_empty() && !q.shutdown {
                q = shared
                    .cv
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if q.jobs.is_empty() {
                return;
            }
            q.gathering = true;
            q = gather(shared, q, GATHER_WINDOW);
            q.gathering = false;
            std::mem::take(&mut q.jobs)
        };
        let min = shared.min_epoch.load(Ordering::SeqCst);
        let (valid, stale): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.epoch >= min);
        for j in stale {
            j.done
                .complete(Err("an earlier write failed; state reloaded".into()));
        }
        if valid.is_empty() {
            continue;
        }
        let max_epoch = valid.iter().map(|j| j.epoch).max().unwrap_or(min);
        let mut all = Vec::with_capacity(valid.iter().map(|j| j.changes.len()).sum());
        let mut dones = Vec::with_capacity(valid.len());
        for j in valid {
            all.extend(j.changes);
            dones.push(j.done);
        }
        let all = coalesce(all);
        let result = store.apply(&all).map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, batches = dones.len(), "group commit failed");
            shared.min_epoch.fetch_max(max_epoch + 1, Ordering::SeqCst);
        }
        shared.transactions.fetch_add(1, Ordering::Relaxed);
        shared
            .batches
            .fetch_add(dones.len() as u64, Ordering::Relaxed);
        for d in dones {
            d.complete(result.clone());
        }
    }
}

/// The identity of the row a change writes, for the changes that replace
/// a whole row.
#[derive(PartialEq, Eq, Hash)]
enum RowKey {
    Group(String),
    Member(String, String),
    Token(ChannelId),
}

fn row_key(change: &Change) -> Option<(RowKey, bool)> {
    // (row, whether the change writes the whole row)
    match change {
        Change::PutGroup(row) => Some((RowKey::Group(row.spec.name.clone()), true)),
        Change::DeleteGroup(name) => Some((RowKey::Group(name.clone()), false)),
        Change::PutMember { group, member } => {
            Some((RowKey::Member(group.clone(), member.node.clone()), true))
        }
        Change::DeleteMember { group, node } => {
            Some((RowKey::Member(group.clone(), node.clone()), false))
        }
        Change::PutToken(t) => Some((RowKey::Token(t.channel.id.clone()), true)),
        Change::DeleteToken(channel) => Some((RowKey::Token(channel.clone()), false)),
        _ => None,
    }
}

/// Drops the row writes that a later change of the same row supersedes: a
/// whole-row write followed, later in the same transaction, by another
/// whole-row write or a delete of that row is not needed. Everything else
/// keeps its order. (A delete of a group also deletes its members: member
/// writes before it are dropped only by a later write of the same member.)
fn coalesce(changes: Vec<Change>) -> Vec<Change> {
    let mut later = std::collections::HashSet::new();
    let mut keep = vec![true; changes.len()];
    for (i, change) in changes.iter().enumerate().rev() {
        if let Some((key, whole_row)) = row_key(change) {
            if whole_row && later.contains(&key) {
                keep[i] = false;
            } else {
                later.insert(key);
            }
        }
    }
    changes
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
}

/// A staged batch: wait for it (without the state lock) before revealing
/// the transition.
#[must_use = "a transition is not durable until its batch is waited for"]
#[derive(Debug)]
pub(crate) enum Staged {
    /// Written already (immediate mode, or nothing to write).
    Written,
    /// In the writer's queue.
    Queued(Arc<DoneHandle>),
}

/// A handle on a queued batch.
#[derive(Debug)]
pub(crate) struct DoneHandle(Arc<Done>);

impl Staged {
    pub(crate) fn queued(group: &GroupCommit, epoch: u64, changes: Vec<Change>) -> Self {
        Self::Queued(Arc::new(DoneHandle(group.enqueue(epoch, changes))))
    }

    /// Blocks until the batch is durable; `Err` if its write failed.
    pub(crate) fn wait(&self) -> Result<(), String> {
        match self {
            Self::Written => Ok(()),
            Self::Queued(h) => h.0.wait(),
        }
    }

    /// Polls for durability (the writer thread wakes the task).
    pub(crate) fn poll(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), String>> {
        match self {
            Self::Written => std::task::Poll::Ready(Ok(())),
            Self::Queued(h) => h.0.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GroupSpec;
    use crate::model::Member;
    use crate::store::GroupRow;

    fn group(name: &str, num: u64) -> Change {
        Change::PutGroup(Box::new(GroupRow {
            spec: GroupSpec::new(name),
            prefix: vec![1],
            num,
            gid: vec![1, 0],
            master_secret: zeroize::Zeroizing::new(vec![0; 16]),
            master_salt: vec![0; 8],
            exp: 0,
            next_node: num,
            active: true,
        }))
    }

    fn member(node: &str) -> Change {
        Change::PutMember {
            group: "g".into(),
            member: Box::new(Member {
                node: node.into(),
                token_id: vec![],
                roles: 2,
                sender_id: None,
                credential: None,
                control_uri: None,
                join_scope: vec![],
                client_challenge: vec![],
            }),
        }
    }

    fn describe(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::PutGroup(r) => format!("group {} {}", r.spec.name, r.num),
                Change::DeleteGroup(n) => format!("delete group {n}"),
                Change::PutMember { member, .. } => format!("member {}", member.node),
                Change::DeleteMember { node, .. } => format!("delete member {node}"),
                Change::NewGid { .. } => "gid".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn bare_shared() -> Arc<Shared> {
        Arc::new(Shared::new())
    }

    /// Runs [`gather`] as the writer does, with `window`, after `then` ran
    /// on another thread 20 ms later; returns how long it waited and the
    /// batches it holds.
    fn gathered(
        shared: &Arc<Shared>,
        window: Duration,
        then: impl FnOnce() + Send + 'static,
    ) -> (Duration, usize) {
        let start = Instant::now();
        let helper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            then();
        });
        let mut q = lock(&shared.queue);
        q.gathering = true;
        let mut q = gather(shared, q, window);
        q.gathering = false;
        let held = q.jobs.len();
        drop(q);
        helper.join().unwrap();
        (start.elapsed(), held)
    }

    const LONG: Duration = Duration::from_secs(10);

    /// The wait lasted until the helper acted (20 ms) and ended then, not
    /// at the end of the window.
    fn woken_by_the_helper(waited: Duration) {
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    /// Two requests in progress, the first with its batch queued.
    fn one_of_two_queued() -> (Arc<Shared>, InFlight, InFlight) {
        let shared = bare_shared();
        let a = Shared::request(&shared);
        let b = Shared::request(&shared);
        shared.push(0, vec![member("a")]);
        (shared, a, b)
    }

    #[test]
    fn a_writer_does_not_wait_when_no_request_is_in_progress() {
        // A batch of no request (a timer's).
        let shared = bare_shared();
        shared.push(0, vec![member("a")]);
        let (waited, held) = gathered(&shared, LONG, || {});
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(held, 1);
        // A lone request whose batch is queued (one client at a time):
        // written at once.
        let _a = Shared::request(&shared);
        let (waited, held) = gathered(&shared, LONG, || {});
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(held, 1);
        // Requests that all queued their batch: nothing more is coming.
        let _b = Shared::request(&shared);
        shared.push(0, vec![member("b")]);
        let (waited, held) = gathered(&shared, LONG, || {});
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(held, 2);
    }

    #[test]
    fn a_writer_waits_for_the_batch_of_a_request_in_progress() {
        let (shared, _a, _b) = one_of_two_queued();
        // b queues its batch 20 ms later: the writer waited for it, and
        // was woken by it rather than by the window.
        let s = shared.clone();
        let (waited, held) = gathered(&shared, LONG, move || {
            s.push(0, vec![member("b")]);
        });
        woken_by_the_helper(waited);
        assert_eq!(held, 2);
    }

    #[test]
    fn a_request_answered_without_a_batch_ends_the_wait() {
        let (shared, _a, b) = one_of_two_queued();
        let (waited, held) = gathered(&shared, LONG, move || drop(b));
        woken_by_the_helper(waited);
        assert_eq!(held, 1);
    }

    #[test]
    fn the_window_bounds_the_wait() {
        let (shared, _a, _b) = one_of_two_queued();
        let (waited, held) = gathered(&shared, Duration::from_millis(30), || {});
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        assert_eq!(held, 1);
    }

    #[test]
    fn superseded_row_writes_are_dropped_in_order() {
        let batch = vec![
            group("g", 1),
            member("a"),
            Change::NewGid {
                group: "g".into(),
                gid: vec![],
            },
            group("g", 2),
            member("a"),
            Change::DeleteMember {
                group: "g".into(),
                node: "b".into(),
            },
            member("b"),
            group("h", 1),
            Change::DeleteGroup("h".into()),
        ];
        assert_eq!(
            describe(&coalesce(batch)),
            [
                "gid",
                "group g 2",
                "member a",
                "delete member b",
                "member b",
                "delete group h"
            ]
        );
    }
}
