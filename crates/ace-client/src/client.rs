//! The async client: [`GroupClient`] drives the phases of [`crate::flow`]
//! and the rules of [`crate::membership`] over one `ace-coap` endpoint with
//! OSCORE (`ace_coap::oscore`).
//!
//! One endpoint carries everything: the OSCORE contexts with the AS and with
//! the KDC (one per access token), the Group OSCORE memberships, the
//! `control_uri` resources the KDC posts rekeying messages to, and the
//! application resources served to other members. Each group has a
//! background task that observes `/ace-group/GROUPNAME` (if enabled) and one
//! that polls `/num` at the Key Update Check Interval and watches the
//! material's expiry.

use crate::config::{ClientConfig, JoinOptions};
use crate::error::ClientError;
use crate::flow::{
    AwaitHints, AwaitJoin, JoinStep, KdcSession, check_join_roles, rejection, verify_kdc_cred,
};
use crate::marks::SequenceMarks;
use crate::membership::{Membership, RekeyOutcome, RekeyPlan};
use crate::state::{ClientState, GroupRecord, GroupReplayRecord, SessionRecord, WindowRecord};
use crate::view::{ClientEvent, GroupResponse, JoinOutcome, KeyingMaterialView, RekeySource};
use ace_coap::oscore::{
    self, GroupConfig, GroupMember, OscoreClient, OscoreContexts, OscoreObservation, Persistence,
    RequestMode,
};
use ace_coap::{
    CoapEndpoint, EndpointBuilder, EndpointConfig, Request, Response, SharedHandler, Target,
};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::{
    CredsFilter, CredsResponse, FetchCredsRequest, GetCreds, GroupPolicies,
    IndividualKeyingMaterial, KdcCred, KeyDistributionResponse, OrNothing, PeerCredentials,
    PoliciesResponse, RekeyingMessage, StaleSidsRequest, StaleSidsResponse, VersionResponse,
};
use ace_proto::problem::ProblemDetails;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER};
use group_oscore::SenderSequence;
use group_oscore::group::GroupSecurity;
use group_oscore::sequence::MAX_SEQUENCE_NUMBER;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// An access-rights update needs the token it updates to stay valid this
/// long (seconds): a token about to expire is replaced instead.
const UPDATE_MARGIN: u64 = 10;

/// The label of each security context in the client's table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// The pre-established context with the AS at this token endpoint URI.
    As(String),
    /// The context with the KDC of the token whose client Recipient ID (ID1)
    /// this is (RFC 9203 section 4.3).
    Kdc(Vec<u8>),
    /// The Group OSCORE membership of this group.
    Group(String),
}

/// A group the client is a member of.
struct GroupEntry {
    membership: Membership,
    member: GroupMember,
    multicast: Option<SocketAddr>,
    peers: Vec<SocketAddr>,
    /// Whether the KDC was given a `control_uri` for this group.
    control_uri: bool,
    /// The material expired and nothing newer arrived: the membership is
    /// out of the table until new material is installed.
    expired: bool,
}

#[derive(Default)]
struct State {
    sessions: Vec<KdcSession>,
    groups: BTreeMap<String, GroupEntry>,
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) client: OscoreClient<Label>,
    pub(crate) table: Arc<OscoreContexts<Label>>,
    state: Mutex<State>,
    events: broadcast::Sender<ClientEvent>,
    marks: Arc<SequenceMarks>,
    handlers: RwLock<HashMap<String, SharedHandler>>,
    tasks: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
    /// Serializes token acquisitions and joins.
    flows: tokio::sync::Mutex<()>,
    /// Serializes the installation of new material, per group.
    group_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Groups whose `/ace-group/GROUPNAME` observation is registered.
    observing: Mutex<std::collections::HashSet<String>>,
    /// Groups whose node resource observation (for eviction notices
    /// without a `control_uri`) is registered.
    observing_nodes: Mutex<std::collections::HashSet<String>>,
    /// Per group, bumped when its observations must be registered again
    /// (the KDC lost them); the observing tasks watch it.
    reobserve: Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>,
    /// Sender IDs whose credential the KDC did not have, with when it was
    /// asked (not asked again for a while).
    unknown_kids: Mutex<HashMap<(String, Vec<u8>), u64>>,
    /// The endpoint was shut down: no request is verified any more, so the
    /// replay windows are final and go into the state.
    stopped: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for handles in lock(&self.tasks).values() {
            for h in handles {
                h.abort();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The group client of RFC 9594 (see the crate documentation). Cheap to
/// clone; background work stops when the last clone is dropped or on
/// [`GroupClient::shutdown`].
#[derive(Clone)]
pub struct GroupClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupClient")
            .field("name", &self.inner.config.name)
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

/// The Location of the `control_uri` resource of `group` on this client:
/// `/ace-group/GROUPNAME/node`, the default url-path of RFC 9594 section
/// 4.3.1.
fn control_path(group: &str) -> String {
    format!("/ace-group/{group}/node")
}

fn op_error(operation: &str, e: oscore::ClientError) -> ClientError {
    match e {
        oscore::ClientError::Refused { code, diagnostic } => {
            ClientError::Rejected(Box::new(crate::error::Rejection {
                operation: operation.to_string(),
                code,
                error_id: None,
                problem: None,
                diagnostic,
            }))
        }
        other => ClientError::transport(operation, other),
    }
}

impl GroupClient {
    /// Binds the endpoint and installs the contexts with the configured
    /// Authorization Servers. Must be called inside a tokio runtime.
    pub async fn start(config: ClientConfig) -> Result<Self, ClientError> {
        let state = ClientState::from_config(&config);
        Self::restore(config, &state).await
    }

    /// Like [`GroupClient::start`], continuing from `state` (tokens, KDC
    /// contexts, groups and sequence-number reservations of an earlier
    /// run). Restored contexts resume their Sender Sequence Numbers above
    /// every reservation. Their replay windows come from the state when it
    /// was taken after the earlier client stopped (see [`ClientState`]):
    /// fresh requests are then accepted at once and replays refused.
    /// Otherwise the replay state counts as lost: requests from the KDC and
    /// group members go through Echo first (RFC 8613 Appendix B.1.2; RFC
    /// 10021 section 2.6.1.2), which a Monitor cannot ask for.
    pub async fn restore(config: ClientConfig, state: &ClientState) -> Result<Self, ClientError> {
        let marks = match &config.sequence_file {
            Some(path) => SequenceMarks::with_file(path).map_err(ClientError::State)?,
            None => {
                if state.sequence_marks.is_empty() {
                    tracing::warn!(
                        name = config.name,
                        "no sequence file: the Sender Sequence Numbers of the AS contexts are \
                         reserved in memory only; restart this client with the same AS context \
                         only from its saved state (ClientState), or nonces are reused"
                    );
                }
                SequenceMarks::in_memory()
            }
        };
        marks.merge(&state.sequence_marks);
        let clock = config.clock.clone();
        let table = OscoreContexts::<Label>::with_clock(Arc::new(move || clock.now()));
        let mut endpoint_config = EndpointConfig::new(config.bind)
            .protocol(oscore::protocol_config(config.protocol.clone()));
        endpoint_config.socket = config.socket.clone();
        for tap in &config.taps {
            endpoint_config = endpoint_config.tap(tap.clone());
        }
        if let Some(faults) = &config.faults {
            endpoint_config = endpoint_config.faults(faults.clone());
        }
        for group in &config.multicast_groups {
            endpoint_config = endpoint_config.join(group.clone());
        }
        let builder = EndpointBuilder::new(endpoint_config);
        let weak: Arc<OnceLock<Weak<Inner>>> = Arc::new(OnceLock::new());
        let handler = crate::serve::handler(weak.clone(), table.clone(), &config.inner_layers);
        let endpoint: CoapEndpoint = builder
            .bind(handler)
            .await
            .map_err(|e| ClientError::Config(format!("binding {}: {e}", config.bind)))?;
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            client: OscoreClient::new(endpoint, table.clone()),
            table,
            state: Mutex::new(State::default()),
            events,
            marks,
            handlers: RwLock::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            flows: tokio::sync::Mutex::new(()),
            group_locks: Mutex::new(HashMap::new()),
            unknown_kids: Mutex::new(HashMap::new()),
            observing: Mutex::new(std::collections::HashSet::new()),
            observing_nodes: Mutex::new(std::collections::HashSet::new()),
            reobserve: Mutex::new(HashMap::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
            config,
        });
        let _ = weak.set(Arc::downgrade(&inner));
        let client = Self { inner };
        client.install_authorities()?;
        client.restore_state(state)?;
        tracing::debug!(name = client.inner.config.name, addr = %client.local_addr(), "client started");
        Ok(client)
    }

    fn install_authorities(&self) -> Result<(), ClientError> {
        for a in &self.inner.config.authorization_servers {
            let mut params =
                group_oscore::ContextParams::new(&a.master_secret, &a.sender_id, &a.recipient_id)
                    .master_salt(&a.master_salt);
            if let Some(ctx) = &a.id_context {
                params = params.id_context(ctx);
            }
            let key = format!("as:{}", a.uri);
            let persistence = Persistence::restored(
                self.inner.marks.store(key.clone()),
                self.inner.marks.get(&key),
                self.inner.config.sequence_block,
            );
            self.inner
                .table
                .install_persistent(&Label::As(a.uri.clone()), &params, persistence)
                .map_err(|e| ClientError::Oscore(format!("AS context {}: {e}", a.uri)))?;
        }
        Ok(())
    }

    fn restore_state(&self, state: &ClientState) -> Result<(), ClientError> {
        let now = self.now();
        for record in &state.sessions {
            let session = record.session()?;
            if !session.is_valid(now) {
                continue;
            }
            self.inner.install_session(&session, true)?;
            if let Some(window) = &record.replay {
                let label = Label::Kdc(session.id1.clone());
                let restored = self
                    .inner
                    .table
                    .with_context(&label, |c| c.restore_replay_window(&window.state()));
                if let Some(Err(e)) = restored {
                    tracing::warn!(error = %e, "replay window of the KDC context not restored");
                }
            }
            lock(&self.inner.state).sessions.push(session);
        }
        for record in &state.groups {
            let membership = Membership::from_record(&record.membership)?;
            let known_session = lock(&self.inner.state)
                .sessions
                .iter()
                .any(|s| s.id1 == membership.session);
            if !known_session {
                tracing::info!(
                    group = membership.group,
                    "token of the membership expired: dropped"
                );
                continue;
            }
            let group = membership.group.clone();
            let replay = record.replay.as_ref().map(|r| r.state());
            self.inner.add_group(
                membership,
                record.multicast,
                record.peers.clone(),
                self.inner.config.control_uri,
                Windows::Restored(replay),
            )?;
            Inner::start_tasks(&self.inner, &group, None);
        }
        Ok(())
    }

    fn now(&self) -> u64 {
        self.inner.config.clock.now()
    }

    /// The address the endpoint is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.client.endpoint().local_addr()
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The OSCORE client over the endpoint (for requests to other
    /// resources with the client's contexts).
    pub fn oscore(&self) -> &OscoreClient<Label> {
        &self.inner.client
    }

    /// Events of the background work (rekeyings, eviction, received
    /// messages...).
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.inner.events.subscribe()
    }

    /// The groups the client is a member of.
    pub fn groups(&self) -> Vec<String> {
        lock(&self.inner.state).groups.keys().cloned().collect()
    }

    /// Whether the observation of `/ace-group/GROUPNAME` is registered at
    /// the KDC (rekeying notifications reach this client), and, for a group
    /// joined without a `control_uri`, the observation of the node resource
    /// too (eviction notices reach it).
    pub fn is_observing(&self, group: &str) -> bool {
        self.inner.is_observing(group) && self.inner.node_observation_in_place(group)
    }

    /// The version of the keying material held for `group`.
    pub fn current_num(&self, group: &str) -> Option<u64> {
        lock(&self.inner.state)
            .groups
            .get(group)
            .map(|g| g.membership.num)
    }

    /// The own Sender ID in `group`.
    pub fn sender_id(&self, group: &str) -> Option<Vec<u8>> {
        lock(&self.inner.state)
            .groups
            .get(group)
            .and_then(|g| g.membership.sender_id.clone())
    }

    /// The Group OSCORE state of `group`: a handle that stays valid (with
    /// the material it had) after the client leaves the group, so that a
    /// test can show that messages under newer keys are unreadable with it.
    pub fn group_security(&self, group: &str) -> Option<GroupMember> {
        lock(&self.inner.state)
            .groups
            .get(group)
            .map(|g| g.member.clone())
    }

    /// The keying material held for `group`, without asking the KDC.
    pub fn material(&self, group: &str) -> Option<KeyingMaterialView> {
        lock(&self.inner.state)
            .groups
            .get(group)
            .map(|g| KeyingMaterialView::of(&g.membership))
    }

    /// The keying material and credentials of `group` for handing to
    /// another Group OSCORE implementation (e.g. an aiocoap member), with
    /// the client's private key when `with_private_key`.
    pub fn export(&self, group: &str, with_private_key: bool) -> Option<KeyingMaterialView> {
        let (mut view, member) = {
            let st = lock(&self.inner.state);
            let g = st.groups.get(group)?;
            (KeyingMaterialView::of(&g.membership), g.member.clone())
        };
        if with_private_key {
            view.private_key = Some(self.inner.config.identity.key().to_bytes().to_vec());
        }
        view.sender_sequence_number = member.update(|g| g.current().sender_sequence_number());
        Some(view)
    }

    /// The whole state, for the CLI's state file. After
    /// [`GroupClient::shutdown`] it includes the replay windows of the
    /// client's contexts (see [`ClientState`]).
    pub fn state(&self) -> ClientState {
        let stopped = self.inner.stopped.load(std::sync::atomic::Ordering::SeqCst);
        let mut out = ClientState::from_config(&self.inner.config);
        let st = lock(&self.inner.state);
        out.sessions = st
            .sessions
            .iter()
            .map(|s| SessionRecord {
                replay: stopped
                    .then(|| {
                        self.inner
                            .table
                            .with_context(&Label::Kdc(s.id1.clone()), |c| c.replay_window().state())
                            .flatten()
                    })
                    .flatten()
                    .map(|w| WindowRecord::of(&w)),
                ..SessionRecord::of(s)
            })
            .collect();
        out.groups = st
            .groups
            .values()
            .map(|g| GroupRecord {
                membership: g.membership.to_record(),
                multicast: g.multicast,
                peers: g.peers.clone(),
                // Expired material is out of use: nothing to protect.
                replay: (stopped && !g.expired)
                    .then(|| GroupReplayRecord::of(&g.member.update(|s| s.replay_state()))),
            })
            .collect();
        out.sequence_marks = self.inner.marks.all();
        out
    }

    /// Stops the background work and the endpoint. From then on,
    /// [`GroupClient::state`] includes the replay windows.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = lock(&self.inner.tasks)
            .drain()
            .flat_map(|(_, v)| v)
            .collect();
        for h in handles {
            h.abort();
        }
        self.inner.client.endpoint().shutdown().await;
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    // -----------------------------------------------------------------
    // Joining
    // -----------------------------------------------------------------

    /// Joins `group` with the AIF `roles` (0: the configured roles): the
    /// full flow when no valid token grants them (request without token,
    /// 4.01 with AS Request Creation Hints, token from the AS they name,
    /// token transfer with `sign_info`, OSCORE context), then the Join
    /// Request and the Group OSCORE context from the Join Response.
    pub async fn join(
        &self,
        group: &str,
        roles: u64,
        opts: JoinOptions,
    ) -> Result<JoinOutcome, ClientError> {
        let roles = if roles == 0 {
            self.inner.config.roles.unwrap_or(0)
        } else {
            roles
        };
        check_join_roles(roles)?;
        let _flow = self.inner.flows.lock().await;
        let now = self.now();
        let reuse = if opts.new_token {
            None
        } else {
            lock(&self.inner.state)
                .sessions
                .iter()
                .rev()
                .find(|s| s.grants(group, roles, now))
                .cloned()
        };
        let (session, new_token, updated) = match reuse {
            Some(s) => (s, false, false),
            None => {
                let update = self.update_candidate(&opts, now);
                let updated = match update {
                    Some(held) => match self
                        .update_session(&held, group, roles, &opts.more_groups)
                        .await
                    {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::info!(
                                group,
                                error = %e,
                                "access-rights update failed; getting a token with a new context"
                            );
                            None
                        }
                    },
                    None => None,
                };
                match updated {
                    Some(s) => (s, true, true),
                    None => (
                        self.obtain_session(group, roles, &opts.more_groups).await?,
                        true,
                        false,
                    ),
                }
            }
        };
        let result = self.join_with(&session, group, roles, &opts).await;
        let joined = match result {
            Err(e)
                if updated
                    && e.error_id() == Some(ErrorId::IncompatibleCredential)
                    && !session.describes(group) =>
            {
                // The group's algorithms come with a token transfer that
                // sets up a context (sign_info, kdc_dh_creds), not with an
                // update: a pairwise-only group wants the MAC proof over
                // the KDC's Diffie-Hellman key, which only such a transfer
                // hands out. Join it under a token with its own context.
                tracing::info!(group, error = %e, "joining under a token with a new context");
                let session = self.obtain_session(group, roles, &opts.more_groups).await?;
                let outcome = self.join_with(&session, group, roles, &opts).await?;
                return Ok(JoinOutcome {
                    new_token: true,
                    ..outcome
                });
            }
            Err(e) if !new_token && e.code() == Some(Code::UNAUTHORIZED) => {
                // The KDC no longer knows the token (expired or dropped):
                // start over with a new one.
                tracing::info!(group, error = %e, "token refused; getting a new one");
                let session = self.obtain_session(group, roles, &opts.more_groups).await?;
                let outcome = self.join_with(&session, group, roles, &opts).await?;
                return Ok(JoinOutcome {
                    new_token: true,
                    ..outcome
                });
            }
            other => other?,
        };
        Ok(JoinOutcome {
            new_token,
            access_rights_updated: updated,
            ..joined
        })
    }

    /// The session whose access rights a join may update: the latest one
    /// still valid for a while whose Input Material has an `id`.
    fn update_candidate(&self, opts: &JoinOptions, now: u64) -> Option<KdcSession> {
        if opts.new_token || !opts.update_access_rights {
            return None;
        }
        lock(&self.inner.state)
            .sessions
            .iter()
            .rev()
            .find(|s| s.is_valid(now.saturating_add(UPDATE_MARGIN)) && s.material.id.is_some())
            .cloned()
    }

    /// The access-rights update of `held` for `group` with `roles` (and
    /// `more`) (RFC 9203 section 4.1; RFC 9594 section 3.3): the hints
    /// (for the AS and a fresh `cnonce`), a token for the session's scope
    /// plus the new entries with `req_cnf` naming the session's Input
    /// Material, and its POST to `/authz-info` over the session's OSCORE
    /// context, which stays: same Sender Sequence Numbers, replay window
    /// and observations; its expiry becomes the new token's.
    async fn update_session(
        &self,
        held: &KdcSession,
        group: &str,
        roles: u64,
        more: &[(String, u64)],
    ) -> Result<KdcSession, ClientError> {
        let inner = &self.inner;
        let kdc = inner.config.kdc;
        let hints = AwaitHints::new(group, roles, more)?;
        let response = inner
            .client
            .endpoint()
            .request(kdc, hints.request())
            .await
            .map_err(|e| ClientError::transport("request without a token", e))?;
        let token = hints.handle(&response, &inner.config)?.for_update(held)?;
        let as_uri = token.as_uri().to_string();
        let authority = inner
            .config
            .authority(&as_uri)
            .ok_or_else(|| ClientError::UnknownAuthorizationServer(as_uri.clone()))?
            .uri
            .clone();
        let response = inner
            .client
            .request(
                Target::Uri(as_uri.clone()),
                &Label::As(authority),
                token.request(),
            )
            .await
            .map_err(|e| op_error(&format!("POST {as_uri}"), e))?;
        let update = token.handle(&response, self.now())?;
        let label = Label::Kdc(held.id1.clone());
        let response = inner
            .client
            .request(kdc, &label, update.request())
            .await
            .map_err(|e| op_error("POST /authz-info (access-rights update)", e))?;
        let session = update.handle(&response, held)?;
        inner.table.set_expiry(&label, Some(session.expires_at));
        {
            let mut st = lock(&inner.state);
            if let Some(s) = st.sessions.iter_mut().find(|s| s.id1 == session.id1) {
                *s = session.clone();
            }
        }
        tracing::info!(
            name = inner.config.name,
            id1 = hex::encode(&session.id1),
            "access rights updated over the OSCORE context with the KDC"
        );
        Ok(session)
    }

    async fn join_with(
        &self,
        session: &KdcSession,
        group: &str,
        roles: u64,
        opts: &JoinOptions,
    ) -> Result<JoinOutcome, ClientError> {
        let control = opts.control_uri.unwrap_or(self.inner.config.control_uri);
        let control_uri = if control {
            self.inner.control_uri(group)
        } else {
            None
        };
        let control = control_uri.is_some();
        let joined = self
            .inner
            .join_request(session, group, roles, opts.get_creds.clone(), control_uri)
            .await?;
        let now = self.now();
        let membership = Membership::from_joined(
            &joined,
            &session.id1,
            now,
            self.inner.config.utc_synchronized,
        )?;
        let outcome = JoinOutcome {
            group: group.to_string(),
            node: membership.node.clone(),
            created: joined.created,
            sender_id: membership.sender_id.clone(),
            num: membership.num,
            gid: membership.gid().to_vec(),
            peers: membership.peers().count(),
            new_token: false,
            access_rights_updated: false,
        };
        self.stop_tasks(group);
        self.inner
            .table
            .remove_group(&Label::Group(group.to_string()));
        self.inner.add_group(
            membership,
            opts.multicast,
            opts.peers.clone(),
            control,
            Windows::Fresh,
        )?;
        Inner::start_tasks(&self.inner, group, opts.observe);
        self.inner.emit(ClientEvent::Joined {
            group: group.to_string(),
            num: outcome.num,
        });
        Ok(outcome)
    }

    /// The flow up to an OSCORE context with the KDC: hints, token, token
    /// transfer.
    async fn obtain_session(
        &self,
        group: &str,
        roles: u64,
        more: &[(String, u64)],
    ) -> Result<KdcSession, ClientError> {
        let inner = &self.inner;
        let kdc = inner.config.kdc;
        let hints = AwaitHints::new(group, roles, more)?;
        let response = inner
            .client
            .endpoint()
            .request(kdc, hints.request())
            .await
            .map_err(|e| ClientError::transport("request without a token", e))?;
        let token = hints.handle(&response, &inner.config)?;
        let as_uri = token.as_uri().to_string();
        let authority = inner
            .config
            .authority(&as_uri)
            .ok_or_else(|| ClientError::UnknownAuthorizationServer(as_uri.clone()))?
            .uri
            .clone();
        let response = inner
            .client
            .request(
                Target::Uri(as_uri.clone()),
                &Label::As(authority),
                token.request(),
            )
            .await
            .map_err(|e| op_error(&format!("POST {as_uri}"), e))?;
        let transfer = token.handle(&response, self.now())?;
        let id1 = inner.allocate_id1();
        let (request, sent) = transfer.request(&id1);
        let response = inner
            .client
            .endpoint()
            .request(kdc, request)
            .await
            .map_err(|e| ClientError::transport("POST /authz-info", e))?;
        let session = transfer.handle(&response, sent)?;
        inner.install_session(&session, false)?;
        lock(&inner.state).sessions.push(session.clone());
        tracing::info!(
            name = inner.config.name,
            id1 = hex::encode(&session.id1),
            "access token transferred; OSCORE context with the KDC established"
        );
        Ok(session)
    }

    // -----------------------------------------------------------------
    // Operations on a group
    // -----------------------------------------------------------------

    /// GET `/ace-group/GROUPNAME` (RFC 9594 section 4.3.2): the current
    /// keying material; a newer version is installed (after fetching the
    /// stale Sender IDs in between, profile section 11).
    pub async fn keys(&self, group: &str) -> Result<KeyingMaterialView, ClientError> {
        Inner::refresh(&self.inner, group, RekeySource::Fetched).await?;
        self.material(group)
            .ok_or_else(|| ClientError::NotMember(group.to_string()))
    }

    /// GET `/ace-group/GROUPNAME/num` (RFC 9594 section 4.7.1): the KDC's
    /// current version.
    pub async fn num(&self, group: &str) -> Result<u64, ClientError> {
        self.inner.fetch_num(group).await
    }

    /// The members' credentials (RFC 9594 section 4.4): GET
    /// `/ace-group/GROUPNAME/creds` without a filter, FETCH with one. The
    /// credentials are added to the group's known members.
    pub async fn creds(
        &self,
        group: &str,
        filter: Option<CredsFilter>,
    ) -> Result<PeerCredentials, ClientError> {
        self.inner.fetch_creds(group, filter).await
    }

    /// GET `/ace-group/GROUPNAME/kdc-cred` (RFC 9594 section 4.5.1): the
    /// KDC's credential, verified against the stored `clientchallenge` and
    /// stored (a failed verification stores nothing).
    pub async fn kdc_cred(&self, group: &str) -> Result<(), ClientError> {
        let (pairwise_only, n_c) = self
            .inner
            .group_info(group, |m| (m.pairwise_only, m.clientchallenge.clone()))?;
        let path = format!("/ace-group/{group}/kdc-cred");
        let response = self
            .inner
            .group_op(group, Request::get(&path), Code::CONTENT)
            .await?;
        let kdc = KdcCred::decode(&response.payload)
            .map_err(|e| ClientError::decode("KDC credential response", e))?;
        let _proof = verify_kdc_cred(&kdc, &n_c, pairwise_only, &self.inner.config.identity)?;
        let changed = {
            let mut st = lock(&self.inner.state);
            let entry = st
                .groups
                .get_mut(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            let changed = entry.membership.kdc_cred != kdc.kdc_cred;
            entry.membership.set_kdc_cred(kdc.kdc_cred.clone());
            changed
        };
        if changed {
            // The GM credential is part of every external_aad: rebuild.
            self.inner.rebuild_security(group)?;
        }
        Ok(())
    }

    /// GET `/ace-group/GROUPNAME/policies` (RFC 9594 section 4.6.1); the
    /// policies are stored.
    pub async fn policies(&self, group: &str) -> Result<GroupPolicies, ClientError> {
        let path = format!("/ace-group/{group}/policies");
        let response = self
            .inner
            .group_op(group, Request::get(&path), Code::CONTENT)
            .await?;
        let policies = OrNothing::<PoliciesResponse>::decode(&response.payload)
            .map_err(|e| ClientError::decode("policies response", e))?
            .content()
            .map(|p| p.group_policies)
            .unwrap_or_default();
        if let Some(entry) = lock(&self.inner.state).groups.get_mut(group) {
            entry.membership.policies = policies.clone();
        }
        Ok(policies)
    }

    /// POST `/ace-group/GROUPNAME/nodes/NODENAME` (Key Renewal Request, RFC
    /// 9594 section 4.8.2; profile section 9): a new Sender ID, installed
    /// at once. Also done automatically before the Sender Sequence Numbers
    /// run out.
    pub async fn renew_sender_id(&self, group: &str) -> Result<Vec<u8>, ClientError> {
        Inner::renew(&self.inner, group).await
    }

    /// DELETE `/ace-group/GROUPNAME/nodes/NODENAME` (RFC 9594 section 4.8.3):
    /// leaves the group and forgets its state.
    pub async fn leave(&self, group: &str) -> Result<(), ClientError> {
        let node = self.inner.group_info(group, |m| m.node.clone())?;
        let path = format!("/ace-group/{group}/nodes/{node}");
        self.inner
            .group_op(group, Request::delete(&path), Code::DELETED)
            .await?;
        self.inner.forget_group(group);
        self.inner.emit(ClientEvent::Left {
            group: group.to_string(),
        });
        Ok(())
    }

    fn stop_tasks(&self, group: &str) {
        self.inner.stop_tasks(group);
    }

    // -----------------------------------------------------------------
    // Group communication
    // -----------------------------------------------------------------

    /// Where group requests to `group` go: a multicast address, or the
    /// listed members' addresses.
    pub fn set_group_targets(
        &self,
        group: &str,
        multicast: Option<SocketAddr>,
        peers: Vec<SocketAddr>,
    ) -> Result<(), ClientError> {
        let mut st = lock(&self.inner.state);
        let entry = st
            .groups
            .get_mut(group)
            .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
        entry.multicast = multicast;
        entry.peers = peers;
        Ok(())
    }

    /// Sends `request` to the group in group mode (RFC 10021 section 7) and
    /// collects the verified responses arriving within `collect_for`: to
    /// the group's multicast address (NON), or else to each listed member
    /// (the same protected request to each, confirmable; the call returns
    /// once every listed member answered or `collect_for` passed). Members
    /// delay their answers to a multicast request by up to their leisure
    /// time (RFC 7252 section 8.2; `TransmissionParameters::default_leisure`,
    /// 5 s by default): `collect_for` should cover it. A response from a member whose
    /// credential the client lacks is verified after fetching the
    /// credential from the KDC (RFC 10021 section 7.4); a member that
    /// answers with an Echo challenge (its replay window is not valid) is
    /// asked again in pairwise mode by unicast (section 9). Needs the
    /// Requester role and unexpired material.
    pub async fn group_request(
        &self,
        group: &str,
        request: Request,
        collect_for: Duration,
    ) -> Result<Vec<GroupResponse>, ClientError> {
        let (multicast, peers, member) = self.inner.sending_targets(group, self.now())?;
        let (outer, mut exchange) = member
            .protect_request(&request, &RequestMode::Group)
            .map_err(|e| ClientError::Oscore(format!("group request: {e}")))?;
        let endpoint = self.inner.client.endpoint();
        let raw: Vec<(SocketAddr, Response)> = match multicast {
            Some(address) => endpoint
                .group_request(address, outer, collect_for)
                .await
                .map_err(|e| ClientError::transport("group request", e))?,
            None => {
                let mut set = tokio::task::JoinSet::new();
                for peer in peers {
                    let endpoint = endpoint.clone();
                    let outer = outer.clone();
                    // Confirmable, so that a lost message is sent again;
                    // each member answers once.
                    let options = ace_coap::RequestOptions {
                        confirmable: true,
                        timeout: Some(collect_for),
                    };
                    set.spawn(async move {
                        endpoint
                            .request_with(peer, outer, options)
                            .await
                            .map(|r| (peer, r))
                    });
                }
                let mut all = Vec::new();
                while let Some(done) = set.join_next().await {
                    match done {
                        Ok(Ok(response)) => all.push(response),
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "group request to a member failed")
                        }
                        Err(e) => tracing::debug!(error = %e, "group request task failed"),
                    }
                }
                all
            }
        };
        let mut out = Vec::new();
        for (from, response) in raw {
            match self
                .inner
                .verify_group_response(group, &member, &mut exchange, &response)
                .await
            {
                Ok((kid, inner)) => {
                    if let Some(echo) = echo_value(&inner) {
                        // RFC 10021 section 9: the repeated request is
                        // pairwise and unicast.
                        let mut again = request.clone();
                        again.options.set(ace_coap::option::number::ECHO, echo);
                        let label = Label::Group(group.to_string());
                        match self
                            .inner
                            .client
                            .group_unicast(from, &label, again, RequestMode::Pairwise(kid))
                            .await
                        {
                            Ok(reply) if echo_value(&reply.response).is_none() => {
                                out.push(group_response(from, reply.kid, reply.response));
                            }
                            Ok(_) => tracing::debug!(%from, "Echo asked for again"),
                            Err(e) => tracing::debug!(%from, error = %e, "repeated request failed"),
                        }
                    } else {
                        out.push(group_response(from, kid, inner));
                    }
                }
                Err(e) => tracing::debug!(%from, error = %e, "group response refused"),
            }
        }
        Inner::check_sequence(&self.inner, group);
        Ok(out)
    }

    /// Sends `request` to one member (Sender ID `kid`, at `target`) in
    /// pairwise mode (RFC 10021 section 8), e.g. in a pairwise-only group,
    /// and returns its verified response. The member's credential is
    /// fetched from the KDC if unknown; an Echo challenge is answered once.
    pub async fn pairwise_request(
        &self,
        group: &str,
        target: SocketAddr,
        kid: &[u8],
        request: Request,
    ) -> Result<GroupResponse, ClientError> {
        let member = self.inner.check_sender(group, self.now())?;
        self.inner.ensure_member(&member.gid(), kid).await;
        let reply = self
            .inner
            .client
            .group_unicast(
                target,
                &Label::Group(group.to_string()),
                request,
                RequestMode::Pairwise(kid.to_vec()),
            )
            .await
            .map_err(|e| op_error("pairwise request", e))?;
        Inner::check_sequence(&self.inner, group);
        Ok(group_response(target, reply.kid, reply.response))
    }

    /// Serves `handler` to the group's members: it sees each verified
    /// request of `group` (group or pairwise mode), with an
    /// [`ace_coap::oscore::OscoreIdentity`] naming the sender, and its
    /// response is protected for the requester. A Monitor's handler sees
    /// the requests, but nothing is sent back (RFC 10021 section 2.2).
    pub fn serve(&self, group: &str, handler: SharedHandler) -> Result<(), ClientError> {
        if !lock(&self.inner.state).groups.contains_key(group) {
            return Err(ClientError::NotMember(group.to_string()));
        }
        self.inner
            .handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(group.to_string(), handler);
        Ok(())
    }
}

/// The Echo value of a (decrypted) 4.01 challenge (RFC 9175 section 2.4).
fn echo_value(response: &Response) -> Option<Vec<u8>> {
    (response.code == Code::UNAUTHORIZED)
        .then(|| {
            response
                .options
                .get(ace_coap::option::number::ECHO)
                .map(<[u8]>::to_vec)
        })
        .flatten()
}

fn group_response(from: SocketAddr, kid: Vec<u8>, response: Response) -> GroupResponse {
    GroupResponse {
        from,
        kid,
        code: response.code,
        options: response.options,
        payload: response.payload,
    }
}

impl Inner {
    pub(crate) fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }

    /// The `control_uri` of `group` on this client: the bound address and
    /// the default url-path `/ace-group/GROUPNAME/node` (RFC 9594 section
    /// 4.3.1). None when bound to a wildcard address, which the KDC could
    /// not reach (Observe still delivers rekeyings).
    fn control_uri(&self, group: &str) -> Option<String> {
        let local = self.client.endpoint().local_addr();
        if local.ip().is_unspecified() {
            tracing::warn!(
                group,
                "bound to a wildcard address: no control_uri given to the KDC"
            );
            return None;
        }
        let host = match local {
            SocketAddr::V4(a) => a.to_string(),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        Some(format!("coap://{host}{}", control_path(group)))
    }

    fn allocate_id1(&self) -> Vec<u8> {
        let taken: Vec<Vec<u8>> = {
            let st = lock(&self.state);
            st.sessions.iter().map(|s| s.id1.clone()).collect()
        };
        loop {
            let r = ace_proto::keys::random_bytes(2);
            // Tagged so that it never equals an AS context's short id.
            let id = vec![0xc1, r[0], r[1]];
            if !taken.contains(&id)
                && !self
                    .config
                    .authorization_servers
                    .iter()
                    .any(|a| a.recipient_id == id)
            {
                return id;
            }
        }
    }

    /// Installs the OSCORE context of `session`, with its Sender Sequence
    /// Numbers reserved in the marks (RFC 8613 Appendix B.1.1).
    fn install_session(&self, session: &KdcSession, restored: bool) -> Result<(), ClientError> {
        let params = session.context_params()?;
        let key = format!(
            "kdc:{}:{}",
            hex::encode(&session.id1),
            hex::encode(&session.nonce2)
        );
        let store = self.marks.store(key.clone());
        let block = self.config.sequence_block;
        let persistence = if restored {
            Persistence::restored(store, self.marks.get(&key), block)
        } else {
            Persistence::new(store, block)
        }
        .expires_at(Some(session.expires_at));
        self.table
            .install_persistent(&Label::Kdc(session.id1.clone()), &params, persistence)
            .map_err(|e| ClientError::Oscore(e.to_string()))
    }

    fn group_sequence(&self, group: &str, gid: &[u8], sid: &[u8]) -> SenderSequence {
        let key = format!("group:{group}:{}:{}", hex::encode(gid), hex::encode(sid));
        SenderSequence::resume(
            self.marks.get(&key),
            self.marks.store(key),
            self.config.sequence_block,
        )
    }

    /// The Group OSCORE state of `membership`, with persistent sequence
    /// numbers and the replay windows `windows` says.
    fn build_security(
        &self,
        membership: &Membership,
        windows: Windows,
    ) -> Result<GroupSecurity, ClientError> {
        let mut security =
            membership.security(&self.config.identity, self.config.countersignature)?;
        if let Some(sid) = &membership.sender_id {
            security = security.with_sequence(self.group_sequence(
                &membership.group,
                membership.gid(),
                sid,
            ));
        }
        match windows {
            Windows::Fresh => {}
            Windows::Restored(Some(saved)) => {
                if let Err(e) = security.restore_replay_state(&saved) {
                    tracing::warn!(
                        group = membership.group,
                        error = %e,
                        "saved replay windows not restored: members go through Echo"
                    );
                    security.invalidate_replay_windows();
                }
            }
            Windows::Restored(None) => security.invalidate_replay_windows(),
        }
        Ok(security)
    }

    fn add_group(
        &self,
        membership: Membership,
        multicast: Option<SocketAddr>,
        peers: Vec<SocketAddr>,
        control_uri: bool,
        windows: Windows,
    ) -> Result<(), ClientError> {
        let security = self.build_security(&membership, windows)?;
        let member = GroupMember::with_config(security, GroupConfig::default());
        let name = membership.group.clone();
        self.table
            .add_group(&Label::Group(name.clone()), member.clone());
        lock(&self.state).groups.insert(
            name,
            GroupEntry {
                membership,
                member,
                multicast,
                peers,
                control_uri,
                expired: false,
            },
        );
        Ok(())
    }

    /// Rebuilds the Group OSCORE state of `group` from its membership
    /// (after a new KDC credential, which is part of every external_aad),
    /// carrying the replay windows over: the members' keys and sequence
    /// numbers did not change.
    fn rebuild_security(&self, group: &str) -> Result<(), ClientError> {
        let (membership, member) = {
            let st = lock(&self.state);
            let e = st
                .groups
                .get(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            (e.membership.clone(), e.member.clone())
        };
        let saved = member.update(|g| g.replay_state());
        let security = self.build_security(&membership, Windows::Restored(Some(saved)))?;
        member.replace(security);
        Ok(())
    }

    fn group_info<R>(
        &self,
        group: &str,
        f: impl FnOnce(&Membership) -> R,
    ) -> Result<R, ClientError> {
        lock(&self.state)
            .groups
            .get(group)
            .map(|g| f(&g.membership))
            .ok_or_else(|| ClientError::NotMember(group.to_string()))
    }

    /// The group's Group OSCORE state, if this member may send requests
    /// now: the Requester role, a Sender ID, unexpired material.
    fn check_sender(&self, group: &str, now: u64) -> Result<GroupMember, ClientError> {
        let st = lock(&self.state);
        let entry = st
            .groups
            .get(group)
            .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
        let m = &entry.membership;
        if m.roles & REQUESTER == 0 || m.roles & MONITOR != 0 || m.sender_id.is_none() {
            return Err(ClientError::RoleNotAllowed {
                group: group.to_string(),
                reason: format!(
                    "sending requests needs the Requester role; this member is {}",
                    ace_proto::roles::group_oscore::names(m.roles)
                ),
            });
        }
        if entry.expired || m.is_expired(now) {
            return Err(ClientError::MaterialExpired {
                group: group.to_string(),
                expired_at: m.expires_at.unwrap_or(now),
            });
        }
        Ok(entry.member.clone())
    }

    fn sending_targets(
        &self,
        group: &str,
        now: u64,
    ) -> Result<(Option<SocketAddr>, Vec<SocketAddr>, GroupMember), ClientError> {
        let member = self.check_sender(group, now)?;
        let st = lock(&self.state);
        let entry = st
            .groups
            .get(group)
            .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
        if entry.multicast.is_none() && entry.peers.is_empty() {
            return Err(ClientError::Config(format!(
                "group {group:?} has no multicast address and no member addresses \
                 (JoinOptions::multicast / peers, or set_group_targets)"
            )));
        }
        Ok((entry.multicast, entry.peers.clone(), member))
    }

    /// A request over the context of session `id1`. A safe request (GET,
    /// FETCH) whose first attempt meets an Echo challenge tells that the
    /// KDC lost the replay state of this context, i.e. it restarted (RFC
    /// 8613 Appendix B.1.2): the observations made through the context are
    /// gone with its memory (RFC 7641 is volatile state) and are registered
    /// again ([`Inner::kdc_lost_state`]).
    async fn kdc_request(&self, id1: &[u8], request: Request) -> Result<Response, ClientError> {
        let operation = format!("{} {}", request.method, request.path_string());
        let label = Label::Kdc(id1.to_vec());
        if matches!(
            request.method,
            ace_coap::Method::Get | ace_coap::Method::Fetch
        ) {
            return self.safe_kdc_request(&label, request, &operation).await;
        }
        self.client
            .request(self.config.kdc, &label, request)
            .await
            .map_err(|e| op_error(&operation, e))
    }

    /// [`Inner::kdc_request`] for a safe method: the first attempt is sent
    /// here so that an Echo challenge is seen; the repetition with the
    /// Echo value (and a response the server cut into Inner Block2 blocks,
    /// which only a repeated safe request may fetch) go through the
    /// [`OscoreClient`].
    async fn safe_kdc_request(
        &self,
        label: &Label,
        request: Request,
        operation: &str,
    ) -> Result<Response, ClientError> {
        let first = self
            .kdc_exchange(label, &request)
            .await
            .map_err(|e| op_error(operation, e))?;
        let echo = echo_value(&first);
        if echo.is_none() && !first.options.contains(ace_coap::option::number::BLOCK2) {
            return Ok(first);
        }
        let mut again = request;
        if let Some(echo) = echo {
            if let Label::Kdc(id1) = label {
                self.kdc_lost_state(id1);
            }
            again.options.set(ace_coap::option::number::ECHO, echo);
        }
        self.client
            .request(self.config.kdc, label, again)
            .await
            .map_err(|e| op_error(operation, e))
    }

    /// One protected exchange with the KDC over the context `label`, the
    /// decrypted response as it came (an Echo challenge included).
    async fn kdc_exchange(
        &self,
        label: &Label,
        request: &Request,
    ) -> Result<Response, oscore::ClientError> {
        use ace_coap::oscore::convert;
        let now = self.config.clock.now();
        let unexpired = self.table.expires_at(label).is_none_or(|exp| now < exp);
        let protected = unexpired
            .then(|| {
                self.table.with_context(label, |c| {
                    c.protect_request(&convert::request_to_packet(request))
                })
            })
            .flatten()
            .ok_or_else(|| oscore::ClientError::NoContext(format!("{label:?}")))?;
        let (outer, mut exchange) = protected?;
        let outer = convert::outer_request(&outer, request);
        let response = self
            .client
            .endpoint()
            .request(self.config.kdc, outer)
            .await?;
        if !response.options.contains(oscore::OSCORE_OPTION) {
            return Err(if response.is_success() {
                oscore::ClientError::UnprotectedSuccess(response.code)
            } else {
                oscore::ClientError::Refused {
                    code: response.code,
                    diagnostic: std::str::from_utf8(&response.payload)
                        .ok()
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                }
            });
        }
        let packet = convert::response_to_packet(&response);
        let inner = self
            .table
            .with_context(label, |c| c.unprotect_response(&packet, &mut exchange))
            .ok_or_else(|| oscore::ClientError::NoContext(format!("{label:?}")))?
            .map_err(oscore::ClientError::Unprotect)?;
        Ok(convert::packet_to_response(&inner))
    }

    /// The KDC lost the state of the context of session `id1` (it
    /// restarted): the observations of the groups joined under it are
    /// registered again.
    pub(crate) fn kdc_lost_state(&self, id1: &[u8]) {
        let groups: Vec<String> = lock(&self.state)
            .groups
            .values()
            .filter(|g| g.membership.session == id1)
            .map(|g| g.membership.group.clone())
            .collect();
        tracing::info!(
            name = self.config.name,
            id1 = hex::encode(id1),
            ?groups,
            "the KDC asked for Echo: it lost this context's state (restart); observing again"
        );
        for group in groups {
            self.observe_again(&group);
        }
    }

    /// Makes the observing tasks of `group` register again (RFC 7641
    /// section 3.3.1: a client may re-register at any time; here the old
    /// registration is gone or missed a notification).
    pub(crate) fn observe_again(&self, group: &str) {
        if let Some(tx) = lock(&self.reobserve).get(group) {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// The signal of [`Inner::observe_again`] for `group`.
    pub(crate) fn reobserve_signal(&self, group: &str) -> tokio::sync::watch::Receiver<u64> {
        lock(&self.reobserve)
            .entry(group.to_string())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// A request about `group` over the context of the token it was joined
    /// under, expecting `want`. A refusal that ends the membership (error
    /// ids 0, 5, 6) makes the client forget the group.
    async fn group_op(
        &self,
        group: &str,
        request: Request,
        want: Code,
    ) -> Result<Response, ClientError> {
        let session = self.group_info(group, |m| m.session.clone())?;
        let operation = format!("{} {}", request.method, request.path_string());
        let response = self.kdc_request(&session, request).await?;
        if response.code == want {
            return Ok(response);
        }
        let e = rejection(operation, &response);
        self.on_refusal(group, &e);
        Err(e)
    }

    async fn join_request(
        &self,
        session: &KdcSession,
        group: &str,
        roles: u64,
        get_creds: Option<GetCreds>,
        control_uri: Option<String>,
    ) -> Result<Box<crate::flow::Joined>, ClientError> {
        let identity = &self.config.identity;
        let mut phase = AwaitJoin::new(session, identity, group, roles, get_creds, control_uri)?;
        let mut retried = false;
        loop {
            let response = self.kdc_request(&session.id1, phase.request()).await?;
            match phase.handle(&response, identity, retried)? {
                JoinStep::Joined(joined) => return Ok(joined),
                JoinStep::Retry(next) => {
                    phase = *next;
                    retried = true;
                }
            }
        }
    }

    pub(crate) fn current_num(&self, group: &str) -> Option<u64> {
        lock(&self.state)
            .groups
            .get(group)
            .map(|g| g.membership.num)
    }

    pub(crate) async fn fetch_num(&self, group: &str) -> Result<u64, ClientError> {
        let path = format!("/ace-group/{group}/num");
        let response = self
            .group_op(group, Request::get(&path), Code::CONTENT)
            .await?;
        let num = VersionResponse::decode(&response.payload)
            .map_err(|e| ClientError::decode("version response", e))?;
        u64::try_from(num.0).map_err(|_| ClientError::malformed("version response", "negative"))
    }

    async fn fetch_creds(
        &self,
        group: &str,
        filter: Option<CredsFilter>,
    ) -> Result<PeerCredentials, ClientError> {
        let path = format!("/ace-group/{group}/creds");
        let request = match filter {
            None => Request::get(&path),
            Some(f) => Request::fetch(&path)
                .with_content_format(cf::ACE_GROUPCOMM_CBOR)
                .with_payload(
                    FetchCredsRequest {
                        get_creds: GetCreds::Filter(f),
                    }
                    .encode(),
                ),
        };
        let response = self.group_op(group, request, Code::CONTENT).await?;
        let creds = OrNothing::<CredsResponse>::decode(&response.payload)
            .map_err(|e| ClientError::decode("credentials response", e))?
            .content()
            .map(|c| c.peers)
            .unwrap_or_default();
        self.learn_peers(group, &creds);
        Ok(creds)
    }

    /// Adds the members of `creds` to `group`'s known members and to its
    /// Group OSCORE state.
    fn learn_peers(&self, group: &str, creds: &PeerCredentials) {
        let mut st = lock(&self.state);
        let Some(entry) = st.groups.get_mut(group) else {
            return;
        };
        let added = entry.membership.add_peers(creds);
        let members: Vec<_> = added
            .iter()
            .filter_map(|p| entry.membership.group_member(p).ok())
            .collect();
        entry.member.update(|g| {
            for m in members {
                if let Err(e) = g.add_member(m) {
                    tracing::warn!(group, error = %e, "member not added");
                }
            }
        });
    }

    /// Makes sure the credential of `kid` in the group whose current Gid
    /// is `gid` is known, asking the KDC if not (RFC 10021 section 7.2: the
    /// credential comes from the Group Manager). Unknown Sender IDs are not
    /// asked for again for 10 seconds.
    pub(crate) async fn ensure_member(&self, gid: &[u8], kid: &[u8]) {
        let now = self.config.clock.now();
        let group = {
            let st = lock(&self.state);
            st.groups
                .values()
                .find(|g| g.membership.gid() == gid)
                .filter(|g| {
                    g.membership.peer(kid).is_none()
                        && g.membership.sender_id.as_deref() != Some(kid)
                })
                .map(|g| g.membership.group.clone())
        };
        let Some(group) = group else { return };
        {
            let mut unknown = lock(&self.unknown_kids);
            let key = (group.clone(), kid.to_vec());
            if unknown.get(&key).is_some_and(|at| now < at + 10) {
                return;
            }
            unknown.insert(key, now);
            unknown.retain(|_, at| now < *at + 10);
        }
        let filter = CredsFilter {
            inclusion_flag: true,
            role_filter: Vec::new(),
            id_filter: vec![kid.to_vec()],
        };
        match self.fetch_creds(&group, Some(filter)).await {
            Ok(c) if !c.is_empty() => {
                lock(&self.unknown_kids).remove(&(group, kid.to_vec()));
            }
            Ok(_) => tracing::debug!(
                group,
                kid = hex::encode(kid),
                "the KDC knows no such member"
            ),
            Err(e) => tracing::debug!(group, error = %e, "credential look-up failed"),
        }
    }

    /// Verifies one member's response to a group request; a response from
    /// a Sender ID without a Recipient Context is verified after its
    /// credential was fetched from the KDC (RFC 10021 section 7.4).
    async fn verify_group_response(
        &self,
        group: &str,
        member: &GroupMember,
        exchange: &mut group_oscore::ClientExchange,
        response: &Response,
    ) -> Result<(Vec<u8>, Response), ClientError> {
        let Some(option) = response.options.get(oscore::OSCORE_OPTION) else {
            return Err(ClientError::Oscore(format!(
                "unprotected {} response to a group request",
                response.code
            )));
        };
        match member.unprotect_response(exchange, response) {
            Err(group_oscore::UnprotectError::ContextNotFound) => {
                let kid = group_oscore::OscoreOption::decode(option)
                    .ok()
                    .and_then(|o| o.kid)
                    .ok_or_else(|| ClientError::Oscore("response without kid".into()))?;
                let gid = member.gid();
                self.ensure_member(&gid, &kid).await;
                member.unprotect_response(exchange, response).map_err(|e| {
                    ClientError::Oscore(format!("response from {}: {e}", hex::encode(&kid)))
                })
            }
            other => other.map_err(|e| ClientError::Oscore(format!("group {group}: {e}"))),
        }
    }

    fn group_lock(&self, group: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.group_locks)
            .entry(group.to_string())
            .or_default()
            .clone()
    }

    /// Applies an accepted rekeying to the Group OSCORE state.
    fn apply_plan(
        &self,
        group: &str,
        plan: RekeyPlan,
        source: RekeySource,
    ) -> Result<(), ClientError> {
        let now = self.config.clock.now();
        let (member, membership, was_expired) = {
            let mut st = lock(&self.state);
            let entry = st
                .groups
                .get_mut(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            let was = entry.expired;
            entry.expired = false;
            (entry.member.clone(), entry.membership.clone(), was)
        };
        let RekeyPlan {
            num,
            mut rekeying,
            new_members,
        } = plan;
        if let Some(sid) = &membership.sender_id {
            rekeying.sequence = Some(self.group_sequence(group, &rekeying.gid, sid));
        }
        let installed = member.update(|g| {
            g.rekey(rekeying, now)?;
            for m in new_members {
                g.add_member(m)?;
            }
            Ok::<_, group_oscore::ContextError>(())
        });
        if let Err(e) = installed {
            tracing::warn!(group, error = %e, "rekeying not applicable to the context; rebuilt");
            member.replace(self.build_security(&membership, Windows::Restored(None))?);
        }
        if was_expired {
            self.table
                .add_group(&Label::Group(group.to_string()), member);
        }
        tracing::info!(
            name = self.config.name,
            group,
            num,
            ?source,
            "new keying material installed"
        );
        self.emit(ClientEvent::Rekeyed {
            group: group.to_string(),
            num,
            source,
        });
        Ok(())
    }

    /// Handles a rekeying message (RFC 9594 section 6; profile section 11).
    pub(crate) async fn on_rekey(
        self: &Arc<Self>,
        group: &str,
        message: RekeyingMessage,
        source: RekeySource,
    ) -> Result<(), ClientError> {
        let lock_ = self.group_lock(group);
        let _guard = lock_.lock().await;
        let now = self.config.clock.now();
        let outcome = {
            let mut st = lock(&self.state);
            let entry = st
                .groups
                .get_mut(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            entry
                .membership
                .apply_rekey(&message, now, self.config.utc_synchronized)?
        };
        match outcome {
            RekeyOutcome::Install(plan) => self.apply_plan(group, *plan, source),
            RekeyOutcome::Ignored { current, received } => {
                tracing::debug!(
                    group,
                    current,
                    received,
                    "rekeying message not newer: ignored"
                );
                Ok(())
            }
            RekeyOutcome::Gap { from, to } => {
                self.emit(ClientEvent::RekeyGap {
                    group: group.to_string(),
                    from,
                    to,
                });
                self.recover_gap(
                    group,
                    from,
                    &message.material,
                    message.peers.as_ref(),
                    source,
                )
                .await
            }
        }
    }

    /// Missed rekeyings: fetch the stale Sender IDs since `from` and install
    /// `material`, or re-join if the KDC no longer has them (profile
    /// section 11).
    async fn recover_gap(
        self: &Arc<Self>,
        group: &str,
        from: u64,
        material: &ace_proto::groupcomm::GroupKeyingMaterial,
        peers: Option<&PeerCredentials>,
        source: RekeySource,
    ) -> Result<(), ClientError> {
        let path = format!("/ace-group/{group}/stale-sids");
        let response = self
            .group_op(
                group,
                Request::fetch(&path)
                    .with_content_format(cf::CBOR)
                    .with_payload(StaleSidsRequest(from).encode()),
                Code::CONTENT,
            )
            .await?;
        let stale = StaleSidsResponse::from_payload(&response.payload)
            .map_err(|e| ClientError::decode("stale-sids response", e))?;
        match stale {
            StaleSidsResponse::Sids(sids) => {
                let plan = {
                    let mut st = lock(&self.state);
                    let entry = st
                        .groups
                        .get_mut(group)
                        .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
                    let now = self.config.clock.now();
                    entry.membership.install_after_gap(
                        material,
                        &sids,
                        peers,
                        now,
                        self.config.utc_synchronized,
                    )?
                };
                self.apply_plan(group, plan, source)
            }
            StaleSidsResponse::Unavailable => self.rejoin(group).await,
        }
    }

    /// Joins `group` again under its session, asking for every relevant
    /// member's credential, and replaces the Group OSCORE state (profile
    /// section 11, when the stale Sender IDs are no longer available).
    async fn rejoin(self: &Arc<Self>, group: &str) -> Result<(), ClientError> {
        let (session_id, roles, control) = self.group_info(group, |m| {
            (m.session.clone(), m.roles, m.sender_id.is_some())
        })?;
        let _ = control;
        let session = lock(&self.state)
            .sessions
            .iter()
            .find(|s| s.id1 == session_id)
            .cloned()
            .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
        let control_uri = if self.config.control_uri {
            self.control_uri(group)
        } else {
            None
        };
        let joined = self
            .join_request(&session, group, roles, Some(GetCreds::All), control_uri)
            .await?;
        let now = self.config.clock.now();
        let membership =
            Membership::from_joined(&joined, &session.id1, now, self.config.utc_synchronized)?;
        let num = membership.num;
        let security = self.build_security(&membership, Windows::Fresh)?;
        let member = {
            let mut st = lock(&self.state);
            let entry = st
                .groups
                .get_mut(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            entry.membership = membership;
            entry.expired = false;
            entry.member.clone()
        };
        member.replace(security);
        self.table
            .add_group(&Label::Group(group.to_string()), member);
        self.emit(ClientEvent::Rekeyed {
            group: group.to_string(),
            num,
            source: RekeySource::Rejoin,
        });
        Ok(())
    }

    /// GET `/ace-group/GROUPNAME`: installs a newer version (stale Sender
    /// IDs fetched first); returns whether one was installed.
    pub(crate) async fn refresh(
        self: &Arc<Self>,
        group: &str,
        source: RekeySource,
    ) -> Result<bool, ClientError> {
        let path = format!("/ace-group/{group}");
        let response = self
            .group_op(group, Request::get(&path), Code::CONTENT)
            .await?;
        let kd = KeyDistributionResponse::decode(&response.payload)
            .map_err(|e| ClientError::decode("key distribution response", e))?;
        let lock_ = self.group_lock(group);
        let _guard = lock_.lock().await;
        let current = self.group_info(group, |m| m.num)?;
        let received = u64::try_from(kd.material.num)
            .map_err(|_| ClientError::malformed("key distribution response", "negative num"))?;
        if received <= current {
            return Ok(false);
        }
        self.emit(ClientEvent::RekeyGap {
            group: group.to_string(),
            from: current,
            to: received,
        });
        self.recover_gap(group, current, &kd.material, None, source)
            .await?;
        Ok(true)
    }

    /// A refusal that ends the membership: 4.03 with error id 0 (not a
    /// member, e.g. evicted while not listening) and 4.04 with error id 6.
    fn on_refusal(&self, group: &str, e: &ClientError) {
        match e.error_id() {
            Some(ErrorId::OnlyGroupMembers) | Some(ErrorId::MembershipTerminated) => {
                self.forget_group(group);
                self.emit(ClientEvent::Evicted {
                    group: group.to_string(),
                });
            }
            Some(ErrorId::GroupDeleted) => {
                self.forget_group(group);
                self.emit(ClientEvent::GroupDeleted {
                    group: group.to_string(),
                });
            }
            _ => {}
        }
    }

    /// Forgets `group`: tasks, Group OSCORE state, serve handler.
    pub(crate) fn forget_group(&self, group: &str) {
        self.stop_tasks(group);
        self.table.remove_group(&Label::Group(group.to_string()));
        lock(&self.state).groups.remove(group);
        self.handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(group);
    }

    fn stop_tasks(&self, group: &str) {
        lock(&self.observing).remove(group);
        lock(&self.observing_nodes).remove(group);
        lock(&self.reobserve).remove(group);
        let handles = lock(&self.tasks).remove(group).unwrap_or_default();
        let current = tokio::task::try_id();
        for h in handles {
            // A task forgetting its own group must not abort itself
            // mid-way; it ends on its own.
            if Some(h.id()) != current {
                h.abort();
            }
        }
    }

    pub(crate) fn handler_for(&self, group: &str) -> Option<SharedHandler> {
        self.handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(group)
            .cloned()
    }

    /// The group whose `control_uri` `path` is, if this request came over
    /// the session the group joined under.
    pub(crate) fn control_group(
        &self,
        path: &[String],
        label: Option<&Label>,
    ) -> Result<String, Code> {
        let [a, group, node] = path else {
            return Err(Code::NOT_FOUND);
        };
        if a != "ace-group" || node != "node" {
            return Err(Code::NOT_FOUND);
        }
        let st = lock(&self.state);
        let entry = st.groups.get(group).ok_or(Code::NOT_FOUND)?;
        match label {
            Some(Label::Kdc(id1)) if *id1 == entry.membership.session => Ok(group.clone()),
            _ => Err(Code::UNAUTHORIZED),
        }
    }

    /// A new Sender ID (see [`GroupClient::renew_sender_id`]).
    pub(crate) async fn renew(self: &Arc<Self>, group: &str) -> Result<Vec<u8>, ClientError> {
        let node = self.group_info(group, |m| m.node.clone())?;
        let path = format!("/ace-group/{group}/nodes/{node}");
        let response = self
            .group_op(group, Request::post(&path), Code::CHANGED)
            .await?;
        let body = IndividualKeyingMaterial::decode(&response.payload)
            .map_err(|e| ClientError::decode("key renewal response", e))?;
        let sid = body
            .group_sender_id
            .ok_or_else(|| ClientError::malformed("key renewal response", "no group_SenderId"))?;
        let lock_ = self.group_lock(group);
        let _guard = lock_.lock().await;
        let (member, membership) = {
            let mut st = lock(&self.state);
            let entry = st
                .groups
                .get_mut(group)
                .ok_or_else(|| ClientError::NotMember(group.to_string()))?;
            entry.membership.set_sender_id(sid.clone());
            (entry.member.clone(), entry.membership.clone())
        };
        // Only the Sender Context changes (RFC 10021 section 2.6.3.1): the
        // other members' Recipient Contexts and replay windows stay.
        let sequence = self.group_sequence(group, membership.gid(), &sid);
        let renewed = member.update(|g| g.renew_sender_id(&sid, sequence));
        if let Err(e) = renewed {
            tracing::warn!(group, error = %e, "renewal not applicable to the context; rebuilt");
            let saved = member.update(|g| g.replay_state());
            member.replace(self.build_security(&membership, Windows::Restored(Some(saved)))?);
        }
        self.emit(ClientEvent::SenderIdRenewed {
            group: group.to_string(),
            sender_id: sid.clone(),
        });
        Ok(sid)
    }

    /// Asks for a new Sender ID when few sequence numbers are left (RFC
    /// 10021 section 2.6.2).
    fn check_sequence(this: &Arc<Self>, group: &str) {
        let Some(member) = lock(&this.state)
            .groups
            .get(group)
            .map(|g| g.member.clone())
        else {
            return;
        };
        let next = member.update(|g| g.current().sender_sequence_number());
        let margin = this.config.sender_id_renewal_margin;
        if next.is_some_and(|n| n.saturating_add(margin) > MAX_SEQUENCE_NUMBER) {
            let weak = Arc::downgrade(this);
            let group = group.to_string();
            tokio::spawn(async move {
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = inner.renew(&group).await {
                    inner.emit(ClientEvent::Error {
                        group: Some(group),
                        message: format!("automatic Sender ID renewal failed: {e}"),
                    });
                }
            });
        }
    }

    fn start_tasks(this: &Arc<Self>, group: &str, observe: Option<bool>) {
        let mut handles = Vec::new();
        if observe.unwrap_or(this.config.observe) {
            handles.push(tokio::spawn(crate::background::observe(
                Arc::downgrade(this),
                group.to_string(),
            )));
            let control_uri = lock(&this.state)
                .groups
                .get(group)
                .is_some_and(|g| g.control_uri);
            if !control_uri {
                // No control_uri for eviction notices: they come as an
                // unsolicited 4.04 to an observer of the node resource
                // (RFC 9594 section 5).
                handles.push(tokio::spawn(crate::background::observe_node(
                    Arc::downgrade(this),
                    group.to_string(),
                )));
            }
        }
        handles.push(tokio::spawn(crate::background::poll(
            Arc::downgrade(this),
            group.to_string(),
        )));
        lock(&this.tasks).insert(group.to_string(), handles);
    }

    /// Registers the observation of `/ace-group/GROUPNAME`, or of the
    /// node resource `/ace-group/GROUPNAME/nodes/NODENAME` when `node`.
    pub(crate) async fn observe_group(
        &self,
        group: &str,
        node: bool,
    ) -> Result<OscoreObservation<Label>, ClientError> {
        let (session, name) = self.group_info(group, |m| (m.session.clone(), m.node.clone()))?;
        let path = if node {
            format!("/ace-group/{group}/nodes/{name}")
        } else {
            format!("/ace-group/{group}")
        };
        self.client
            .observe(self.config.kdc, &Label::Kdc(session), Request::get(&path))
            .await
            .map_err(|e| op_error(&format!("observe {path}"), e))
    }

    /// Whether `group`'s observation is registered.
    pub(crate) fn is_observing(&self, group: &str) -> bool {
        lock(&self.observing).contains(group)
    }

    /// Records whether `group`'s node resource is observed.
    pub(crate) fn set_observing_node(&self, group: &str, on: bool) {
        let mut set = lock(&self.observing_nodes);
        if on {
            set.insert(group.to_string());
        } else {
            set.remove(group);
        }
    }

    /// Whether eviction notices reach this client for `group`: through the
    /// `control_uri`, or through the registered node observation.
    fn node_observation_in_place(&self, group: &str) -> bool {
        let control_uri = lock(&self.state)
            .groups
            .get(group)
            .is_some_and(|g| g.control_uri);
        control_uri || lock(&self.observing_nodes).contains(group)
    }

    /// Records whether `group` is observed.
    pub(crate) fn set_observing(&self, group: &str, on: bool) {
        let mut set = lock(&self.observing);
        if on {
            set.insert(group.to_string());
        } else {
            set.remove(group);
        }
    }

    /// What the poll task needs: the check interval and the expiry.
    pub(crate) fn poll_info(&self, group: &str) -> Option<(Duration, Option<u64>, bool)> {
        let st = lock(&self.state);
        let entry = st.groups.get(group)?;
        let interval = self
            .config
            .key_check_interval
            .unwrap_or_else(|| Duration::from_secs(entry.membership.key_update_check_interval()));
        Some((interval, entry.membership.expires_at, entry.expired))
    }

    /// The material of `group` expired and nothing newer came: out of the
    /// table (RFC 9594 section 4.3.1: never use expired material).
    pub(crate) fn expire(&self, group: &str) {
        let changed = {
            let mut st = lock(&self.state);
            match st.groups.get_mut(group) {
                Some(e) if !e.expired => {
                    e.expired = true;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.table.remove_group(&Label::Group(group.to_string()));
            tracing::warn!(name = self.config.name, group, "keying material expired");
            self.emit(ClientEvent::MaterialExpired {
                group: group.to_string(),
            });
        }
    }

    pub(crate) fn decode_refusal(response: &Response) -> Option<ErrorId> {
        (response.content_format() == Some(cf::CONCISE_PROBLEM_DETAILS_CBOR))
            .then(|| ProblemDetails::decode(&response.payload).ok())
            .flatten()
            .and_then(|p| p.known_error())
    }
}

/// The replay windows a Group OSCORE state is built with.
enum Windows {
    /// A new Security Context (a join): every window valid, lower limit 0
    /// (RFC 10021 section 2.6.3.2).
    Fresh,
    /// The same Security Context as before: its saved windows, or, when
    /// none were saved, every window invalid (replay state lost, RFC 10021
    /// section 2.6.1.2).
    Restored(Option<group_oscore::group::ReplayState>),
}
