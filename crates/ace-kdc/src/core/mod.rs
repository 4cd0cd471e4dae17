//! The sans-I/O KDC: requests and the caller's identity in, a response and
//! [`Effect`]s out; time passed in (`now`, Unix seconds), never read.
//!
//! ```text
//!   service (ace-coap + OSCORE)                   Kdc (this module)
//!   request + Caller + now  ───────────────────▶  handle()  ──▶ Outcome { response, effects }
//!   timer                   ───────────────────▶  tick(now) ──▶ effects
//!   operator command queue  ───────────────────▶  execute() ──▶ result + effects
//!   effects: install/drop OSCORE channel contexts, rekeying deliveries
//!   (Observe notifications and POSTs to control_uri), eviction notices,
//!   group-deleted notifications
//! ```
//!
//! # Concurrency
//!
//! [`Kdc`] is shared (`&self` everywhere) and keeps its state behind one
//! mutex that is held only for short, allocation-light sections. The
//! expensive work runs without it: opening tokens at `/authz-info`
//! (signature and decryption), and for a join the credential parsing, the
//! PoP verification and the KDC's own `kdc_cred_verify` signature, which a
//! *prepare* step computes from a snapshot (group configuration, stored
//! N_S, stored credential) before a short *commit* step re-checks the
//! snapshot under the lock and applies the join. So several joins verify
//! and sign in parallel on as many cores as the service gives them.
//!
//! # Persistence
//!
//! Every state transition is written to the [`Store`] in one batch under
//! the lock, before the response is returned (write-through); a failed
//! write leaves the transition undone (the state is reloaded from the
//! store) and the request gets 5.00.

pub(crate) mod commit;
pub use commit::InFlight;
mod error;
pub(crate) mod rekey;
pub(crate) mod state;
mod tick;

pub use error::Refusal;
pub(crate) use state::State;
pub use state::{LoadError, group_params};
pub(crate) use tick::eviction_payload;

use crate::config::KdcConfig;
use crate::model::ChannelId;
use crate::store::{Change, Store};
use ace_proto::code::Code;
use group_oscore::ContextParams;
use std::sync::{Arc, Mutex, MutexGuard};

/// A request method (RFC 7252 section 5.8, RFC 8132).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// FETCH (RFC 8132).
    Fetch,
    /// PATCH (RFC 8132).
    Patch,
    /// iPATCH (RFC 8132).
    IPatch,
}

/// Who is asking: the secure channel the request arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A plain CoAP request (only `/authz-info` and discovery serve it).
    Unauthenticated,
    /// A request the OSCORE layer verified with the context of `channel`.
    Channel(ChannelId),
}

/// A request as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcRequest {
    /// The method.
    pub method: Method,
    /// Uri-Path segments.
    pub path: Vec<String>,
    /// Uri-Query arguments.
    pub query: Vec<String>,
    /// Content-Format of the payload.
    pub content_format: Option<u16>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl KdcRequest {
    /// A request for `path` (`/a/b` or `a/b`) without payload.
    pub fn new(method: Method, path: &str) -> Self {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Self {
            method,
            path: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            query: query
                .split('&')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            content_format: None,
            payload: Vec::new(),
        }
    }

    /// Sets the payload and its Content-Format.
    #[must_use]
    pub fn with_payload(mut self, content_format: u16, payload: Vec<u8>) -> Self {
        self.content_format = Some(content_format);
        self.payload = payload;
        self
    }
}

/// A response as the core produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcResponse {
    /// The response code.
    pub code: Code,
    /// Content-Format of the payload, if it has one.
    pub content_format: Option<u16>,
    /// The payload.
    pub payload: Vec<u8>,
    /// Location-Path segments (the node resource after a join).
    pub location_path: Vec<String>,
}

impl KdcResponse {
    /// A response without payload.
    pub fn empty(code: Code) -> Self {
        Self {
            code,
            content_format: None,
            payload: Vec::new(),
            location_path: Vec::new(),
        }
    }

    /// A response with a payload of Content-Format `content_format`.
    pub fn with_body(code: Code, content_format: u16, payload: Vec<u8>) -> Self {
        Self {
            code,
            content_format: Some(content_format),
            payload,
            location_path: Vec::new(),
        }
    }

    /// An error response with a diagnostic payload (RFC 7252 section
    /// 5.5.2).
    pub fn diagnostic(code: Code, text: &str) -> Self {
        Self {
            code,
            content_format: None,
            payload: text.as_bytes().to_vec(),
            location_path: Vec::new(),
        }
    }
}

/// What the service must install for a client channel: the OSCORE context
/// of RFC 9203 section 4.3, the KDC being the resource server.
#[derive(Debug, Clone)]
pub struct ChannelSetup {
    /// The channel (the KDC's Recipient ID).
    pub channel: ChannelId,
    /// The OSCORE context inputs.
    pub params: ContextParams,
    /// When the token, and the context with it, expires.
    pub expires_at: Option<u64>,
    /// The Sender Sequence Number to resume from (RFC 8613 Appendix
    /// B.1.1); 0 for a new channel. Replay state is lost after a restart.
    pub sequence_mark: u64,
    /// Whether this channel is restored from storage (the first requests
    /// then go through Echo, RFC 8613 Appendix B.1.2).
    pub restored: bool,
}

/// One member a rekeying message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyTarget {
    /// The member's node name.
    pub node: String,
    /// Its channel: notifications of `/ace-group/GROUPNAME` and POSTs to
    /// `control_uri` are protected with it.
    pub channel: ChannelId,
    /// Where to POST the message, if the member gave a `control_uri`.
    pub control_uri: Option<String>,
}

/// A point-to-point rekeying (RFC 9594 section 6.1; Group OSCORE profile
/// section 11): one message, sent to each target over its own channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyDelivery {
    /// The group.
    pub group: String,
    /// The new version.
    pub num: u64,
    /// The rekeying message, Content-Format 261.
    pub payload: Vec<u8>,
    /// The members to reach.
    pub targets: Vec<RekeyTarget>,
}

/// A forced eviction to announce (RFC 9594 section 5): a DELETE to the
/// member's `control_uri` and an unsolicited 4.04 with error id 5 to its
/// observation of `/ace-group/GROUPNAME/nodes/NODENAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvictionNotice {
    /// The group.
    pub group: String,
    /// The evicted node.
    pub node: String,
    /// The member's channel (`None` when its token is gone).
    pub channel: Option<ChannelId>,
    /// The member's `control_uri`.
    pub control_uri: Option<String>,
    /// The problem-details body (error id 5), Content-Format 257.
    pub payload: Vec<u8>,
}

/// A deleted group to announce: an unsolicited 4.04 with error id 6 to the
/// observers of `/ace-group/GROUPNAME` (RFC 9594 section 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDeletion {
    /// The group.
    pub group: String,
    /// The channels of the members it had.
    pub channels: Vec<ChannelId>,
    /// The problem-details body (error id 6), Content-Format 257.
    pub payload: Vec<u8>,
}

/// Work for the service.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Install an OSCORE context for a new (or restored) channel.
    InstallChannel(Box<ChannelSetup>),
    /// Remove a channel's OSCORE context (token replaced, expired or
    /// deleted). Comes after any notice that must still be protected with
    /// it.
    DropChannel(ChannelId),
    /// Deliver a rekeying message.
    Rekey(Arc<RekeyDelivery>),
    /// Announce an eviction.
    Evicted(Box<EvictionNotice>),
    /// Announce a group deletion.
    GroupDeleted(Box<GroupDeletion>),
}

/// The result of [`Kdc::handle`].
#[derive(Debug)]
pub struct Outcome {
    /// The response to send.
    pub response: KdcResponse,
    /// Work for the service, in order.
    pub effects: Vec<Effect>,
    /// The transition's batch, until it is durable (group commit; see
    /// [`Kdc::handle_deferred`]).
    pub(crate) pending: Option<commit::Staged>,
}

impl Outcome {
    pub(crate) fn respond(response: KdcResponse) -> Self {
        Self {
            response,
            effects: Vec::new(),
            pending: None,
        }
    }

    /// An outcome whose transition is durable once `staged` is.
    pub(crate) fn after(
        response: KdcResponse,
        effects: Vec<Effect>,
        staged: commit::Staged,
    ) -> Self {
        Self {
            response,
            effects,
            pending: Some(staged),
        }
    }

    /// Whether the transition still has to become durable.
    pub fn is_pending(&self) -> bool {
        matches!(self.pending, Some(commit::Staged::Queued(_)))
    }

    fn failed() -> Self {
        Self::respond(Refusal::Internal("storage failure".into()).into_response())
    }

    /// Waits (blocking) until the transition is durable. If its write
    /// failed, the outcome becomes 5.00 without effects.
    pub fn wait(mut self, kdc: &Kdc) -> Self {
        match self.pending.take() {
            None => self,
            Some(staged) => match kdc.finish(staged) {
                Ok(()) => self,
                Err(_) => Self::failed(),
            },
        }
    }

    /// Waits (asynchronously) until the transition is durable; as
    /// [`Outcome::wait`].
    pub async fn durable(mut self, kdc: &Kdc) -> Self {
        let Some(staged) = self.pending.take() else {
            return self;
        };
        let result = std::future::poll_fn(|cx| staged.poll(cx)).await;
        match result.map_err(|e| kdc.after_failure(&e)) {
            Ok(()) => self,
            Err(()) => Self::failed(),
        }
    }
}

/// The Key Distribution Center core.
pub struct Kdc {
    pub(crate) config: Arc<KdcConfig>,
    pub(crate) store: Arc<dyn Store>,
    state: Mutex<State>,
    group_commit: Option<commit::GroupCommit>,
}

impl std::fmt::Debug for Kdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kdc")
            .field("audience", &self.config.audience)
            .finish_non_exhaustive()
    }
}

impl Kdc {
    /// Loads the state from `store`, creates the configured groups that
    /// the store does not have (and that were not deleted by an operator),
    /// and returns the KDC with the effects that restore every stored
    /// channel.
    pub fn open(
        config: KdcConfig,
        store: Arc<dyn Store>,
        now: u64,
    ) -> Result<(Self, Vec<Effect>), LoadError> {
        let config = Arc::new(config);
        let mut state = State::load(&config, store.load()?)?;
        let mut changes = Vec::new();
        for spec in &config.groups {
            if state.groups.contains_key(&spec.name) {
                continue;
            }
            if state.deleted_groups.contains(&spec.name) {
                tracing::warn!(group = %spec.name, "configured group was deleted by an operator; not recreated");
                continue;
            }
            state.create_group(&config, spec.clone(), now, &mut changes)?;
            tracing::info!(group = %spec.name, "group created from the configuration");
        }
        store.apply(&changes)?;
        let effects = state
            .channel_setups(true)
            .into_iter()
            .map(|s| Effect::InstallChannel(Box::new(s)))
            .collect();
        Ok((
            Self {
                config,
                store,
                state: Mutex::new(state),
                group_commit: None,
            },
            effects,
        ))
    }

    /// Switches to group commit (module `core::commit`): a writer thread writes
    /// the batches of concurrent transitions in shared transactions, and no
    /// storage I/O happens under the state lock. [`Kdc::handle`] then blocks
    /// until its transition is durable; an async caller runs it on a
    /// blocking thread.
    pub fn with_group_commit(mut self) -> std::io::Result<Self> {
        self.group_commit = Some(commit::GroupCommit::start(self.store.clone())?);
        Ok(self)
    }

    /// Transactions and batches the group-commit writer has written (none
    /// in immediate mode).
    pub fn commit_counts(&self) -> (u64, u64) {
        self.group_commit
            .as_ref()
            .map_or((0, 0), commit::GroupCommit::counts)
    }

    /// The configuration.
    pub fn config(&self) -> &KdcConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stages the batch of a transition, under the state lock (see
    /// [`commit`]). In immediate mode it is written now; a failure reloads
    /// the state from the store (memory never shows what storage lacks) and
    /// the request fails with 5.00.
    pub(crate) fn stage(
        &self,
        state: &mut State,
        changes: Vec<Change>,
    ) -> Result<commit::Staged, Refusal> {
        if changes.is_empty() {
            return Ok(commit::Staged::Written);
        }
        match &self.group_commit {
            Some(g) => Ok(commit::Staged::queued(g, state.epoch, changes)),
            None => match self.store.apply(&changes) {
                Ok(()) => Ok(commit::Staged::Written),
                Err(e) => {
                    tracing::error!(error = %e, "storage write failed; reloading state");
                    self.rollback(state);
                    Err(Refusal::Internal("storage failure".into()))
                }
            },
        }
    }

    /// Waits, without the state lock, until a staged batch is durable. A
    /// failed group commit reloads the state (once per failure) and the
    /// request fails with 5.00.
    pub(crate) fn finish(&self, staged: commit::Staged) -> Result<(), Refusal> {
        staged.wait().map_err(|e| {
            self.after_failure(&e);
            Refusal::Internal("storage failure".into())
        })
    }

    /// After a failed group commit: reloads the state from the store, once
    /// per failure.
    fn after_failure(&self, error: &str) {
        if let Some(g) = &self.group_commit {
            let mut state = self.lock();
            if state.epoch < g.min_epoch() {
                tracing::error!(error, "storage write failed; reloading state");
                self.rollback(&mut state);
            }
        }
    }

    /// Stages `changes` and releases the lock; the caller puts the staged
    /// batch in its [`Outcome`].
    pub(crate) fn stage_and_release(
        &self,
        mut state: MutexGuard<'_, State>,
        changes: Vec<Change>,
    ) -> Result<commit::Staged, Refusal> {
        let staged = self.stage(&mut state, changes)?;
        drop(state);
        Ok(staged)
    }

    /// Stages `changes` and, with the lock released, waits until they are
    /// durable.
    pub(crate) fn commit_and_release(
        &self,
        mut state: MutexGuard<'_, State>,
        changes: Vec<Change>,
    ) -> Result<(), Refusal> {
        let staged = self.stage(&mut state, changes)?;
        drop(state);
        self.finish(staged)
    }

    /// Brings the in-memory state back to what the store holds, after a
    /// transition failed half-way (nothing of it was written). Outstanding
    /// `cnonce` values are kept.
    pub(crate) fn rollback(&self, state: &mut State) {
        match self
            .store
            .load()
            .map_err(LoadError::from)
            .and_then(|snap| State::load(&self.config, snap))
        {
            Ok(mut fresh) => {
                std::mem::swap(&mut fresh.cnonces, &mut state.cnonces);
                fresh.epoch = state.epoch.max(
                    self.group_commit
                        .as_ref()
                        .map_or(0, commit::GroupCommit::min_epoch),
                );
                *state = fresh;
            }
            Err(e) => tracing::error!(error = %e, "reloading state failed"),
        }
    }

    /// Handles one request from `caller` at time `now`, and returns once
    /// its transition is durable.
    pub fn handle(&self, request: &KdcRequest, caller: &Caller, now: u64) -> Outcome {
        self.handle_deferred(request, caller, now).wait(self)
    }

    /// Counts a request in progress, from its arrival until the guard
    /// drops after its response; the group-commit writer gathers batches
    /// only while some requests in progress have not queued theirs (see
    /// [`InFlight`]). `None` without group commit.
    pub fn request_in_flight(&self) -> Option<commit::InFlight> {
        self.group_commit.as_ref().map(commit::GroupCommit::request)
    }

    /// Handles one request without waiting for durability: with group
    /// commit the outcome may be pending; the caller waits with
    /// [`Outcome::durable`] (or [`Outcome::wait`]) before it sends the
    /// response or carries out the effects.
    pub fn handle_deferred(&self, request: &KdcRequest, caller: &Caller, now: u64) -> Outcome {
        match crate::resources::dispatch(self, request, caller, now) {
            Ok(outcome) => outcome,
            Err(refusal) => {
                tracing::debug!(
                    path = %request.path.join("/"),
                    code = %refusal.code(),
                    error_id = ?refusal.error_id(),
                    ?refusal,
                    "request refused"
                );
                Outcome::respond(refusal.into_response())
            }
        }
    }

    /// The OSCORE contexts of every stored channel (for a service that
    /// starts, or restarts, its OSCORE layer).
    pub fn channel_setups(&self) -> Vec<ChannelSetup> {
        self.lock().channel_setups(true)
    }

    /// Whether `caller` may keep observing `/ace-group/GROUPNAME` (a current
    /// member with a valid token): the service asks before each
    /// notification and ends observations that fail.
    pub fn may_observe_group(&self, caller: &Caller, group: &str, now: u64) -> bool {
        let state = self.lock();
        let Some(token) = state.token(caller, now) else {
            return false;
        };
        state
            .groups
            .get(group)
            .is_some_and(|g| g.member_by_token(&token.id).is_some())
    }

    /// A read-only summary of a group (operator commands, tests).
    pub fn group_summary(&self, name: &str) -> Option<crate::admin::GroupSummary> {
        self.lock()
            .groups
            .get(name)
            .map(crate::admin::GroupSummary::of)
    }

    /// Names of every group.
    pub fn group_names(&self) -> Vec<String> {
        self.lock().groups.keys().cloned().collect()
    }

    /// The number of stored tokens (tests, metrics).
    pub fn token_count(&self) -> usize {
        self.lock().tokens.len()
    }
}
