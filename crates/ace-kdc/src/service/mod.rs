//! The KDC service: the [`Kdc`] core on an `ace-coap` endpoint with OSCORE
//! channels (RFC 9203), a timer, and the I/O of the core's effects.
//!
//! * Requests: `ace-coap`'s OSCORE layer ([`ace_coap::oscore`]) verifies
//!   protected requests with the channel contexts (labelled by
//!   [`ChannelId`]) and reports the channel; the handler turns the request
//!   into a
//!   [`KdcRequest`], asks the core, carries out the effects and answers.
//!   Channel contexts are installed before the response that announces
//!   them (`/authz-info`) leaves.
//! * Observe (RFC 7641): `/ace-group/GROUPNAME`, `.../nodes/NODENAME` and
//!   `.../active` accept registrations from clients the core answers with
//!   success; a rekeying is sent as a notification of
//!   `/ace-group/GROUPNAME` to the observers that are still members
//!   (others get 4.03 with error id 0, which ends their observation); an
//!   eviction is an unsolicited 4.04 with error id 5 on the node resource;
//!   a group deletion an unsolicited 4.04 with error id 6 on the group
//!   resource and below. Each of these error notifications is final: the
//!   OSCORE layer sends it without an outer Observe option, so the client
//!   ends its observation and the endpoint removes the registration (RFC
//!   8613 section 4.1.3.5.2, RFC 7641 section 3.2).
//! * Rekeying POSTs and eviction DELETEs to members' `control_uri` are
//!   OSCORE-protected with each member's channel, confirmable (so
//!   retransmitted, RFC 7252 section 4.2), sent concurrently up to a bound,
//!   and reported in a [`DeliveryReport`] when every target has answered or
//!   failed.
//! * A timer drives [`Kdc::tick`] (token expiry, keying material refresh),
//!   writes a heartbeat, and executes the operator commands queued in the
//!   store ([`crate::admin`]).
//! * The core runs with group commit ([`Kdc::with_group_commit`] in
//!   [`KdcService::open`]): a handler stages its transition, then awaits its
//!   durability (the store's writer thread wakes it) before the response
//!   and the effects leave; concurrent transitions share SQLite
//!   transactions, and no storage I/O runs on the async threads.
//! * Observability and tests: [`ServiceOptions`] takes the endpoint options
//!   `ace-as`'s service takes (tap sinks such as a pcap writer or a trace,
//!   fault injection, transmission parameters) and layers inside the OSCORE
//!   layer, such as [`InnerTrace`], that see each protected exchange as
//!   decrypted; `ace-kdc serve --pcap FILE --trace [FILE]` uses them.
//! * Sender Sequence Numbers of each channel are reserved in blocks in the
//!   store before use (RFC 8613 Appendix B.1.1), so a restarted KDC never
//!   reuses one; restored channels have no replay state and ask for Echo
//!   first (Appendix B.1.2).

/// The inner-exchange trace layer, kept here under its old path.
pub use ace_coap::tap::InnerTrace;

use crate::admin::Command;
use crate::config::KdcConfig;
use crate::core::{
    Caller, Effect, EvictionNotice, GroupDeletion, Kdc, KdcRequest, KdcResponse, Method,
    RekeyDelivery,
};
use crate::model::ChannelId;
use crate::store::{SqliteStore, Store};
use ace_coap::fault::FaultConfig;
use ace_coap::handler::{Layer, Middleware, SharedHandler};
use ace_coap::oscore::{self as coap_oscore, OscoreContexts, Persistence};
use ace_coap::request::Origin;
use ace_coap::tap::TapSink;
use ace_coap::{
    CoapEndpoint, EndpointBuilder, EndpointConfig, Notifier, ProtocolConfig, Request, Response,
    SecurityIdentity, Target,
};
use ace_proto::cbor::Codec;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::problem::ProblemDetails;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, broadcast, watch};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> u64;
}

/// The system clock, shifted by an offset that tests may move forward.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset: std::sync::atomic::AtomicU64,
}

impl SystemClock {
    /// Moves the clock `seconds` forward.
    pub fn advance(&self, seconds: u64) {
        self.offset
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        t + self.offset.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How the service runs.
///
/// The endpoint options are those `ace-as`'s service takes in its
/// [`EndpointConfig`]: the address, the protocol parameters (transmission
/// parameters in `protocol.transmission`), tap sinks and fault injection;
/// and, like the handler chain `ace-as` exposes, a layer between the
/// OSCORE layer and the KDC's resources ([`ServiceOptions::inner_layers`]).
#[derive(Clone)]
pub struct ServiceOptions {
    /// The UDP address to bind.
    pub bind: SocketAddr,
    /// The CoAP protocol parameters, the transmission parameters of RFC
    /// 7252 section 4.8 among them (the OSCORE option is added to the
    /// critical options the endpoint lets through).
    pub protocol: ProtocolConfig,
    /// Sinks that see every datagram the KDC's endpoint sends or receives
    /// (a pcap file, a trace), rekeying POSTs and eviction notices
    /// included.
    pub taps: Vec<Arc<dyn TapSink>>,
    /// Datagrams to drop, for tests of lossy links.
    pub faults: Option<FaultConfig>,
    /// Layers around the KDC's resources, inside the OSCORE layer: each
    /// sees every request as decrypted (inner method, path and payload, and
    /// the channel as its security identity), every response before it is
    /// protected, and the replayed registration of each notification
    /// (`Origin::Notification`). The first one is the outermost.
    /// [`InnerTrace`] is one; a scenario runner uses one to label protected
    /// exchanges in its sequence diagrams.
    pub inner_layers: Vec<Arc<dyn Layer>>,
    /// Period of the timer.
    pub tick: Duration,
    /// Rekeying messages to `control_uri`s in flight at once.
    pub delivery_concurrency: usize,
    /// Sender Sequence Numbers reserved per store write, per channel.
    pub sequence_block: u64,
    /// How long a channel whose member was evicted stays usable after the
    /// eviction notice, so that the notice can be protected and sent.
    pub eviction_grace: Duration,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// SO_RCVBUF and SO_SNDBUF of the socket, if set.
    pub socket_buffer: Option<usize>,
}

impl ServiceOptions {
    /// Defaults for `bind`: RFC 7252 transmission parameters with NSTART
    /// raised to 32 for the KDC's concurrent deliveries, 256 rekeying
    /// messages in flight, blocks of 128 sequence numbers, and duplicate
    /// detection for 1024 Message IDs per peer (a gateway or a load tool
    /// multiplexes many clients on one address; a retransmission whose
    /// entry was forgotten would otherwise be processed again).
    pub fn new(bind: SocketAddr) -> Self {
        let mut protocol = ProtocolConfig::default();
        protocol.transmission.nstart = 32;
        protocol.limits.max_observers = 1 << 20;
        protocol.limits.dedup_per_peer = 1024;
        Self {
            bind,
            protocol,
            tick: Duration::from_millis(500),
            delivery_concurrency: 256,
            sequence_block: 128,
            eviction_grace: Duration::from_secs(2),
            clock: Arc::new(SystemClock::default()),
            socket_buffer: None,
            taps: Vec::new(),
            faults: None,
            inner_layers: Vec::new(),
        }
    }

    /// Adds a tap sink (see [`ServiceOptions::taps`]).
    #[must_use]
    pub fn tap(mut self, sink: Arc<dyn TapSink>) -> Self {
        self.taps.push(sink);
        self
    }

    /// Sets the faults to inject (see [`ServiceOptions::faults`]).
    #[must_use]
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Adds a layer around the KDC's resources, inside those added before
    /// (see [`ServiceOptions::inner_layers`]).
    #[must_use]
    pub fn inner_layer(mut self, layer: Arc<dyn Layer>) -> Self {
        self.inner_layers.push(layer);
        self
    }
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("bind", &self.bind)
            .field("tick", &self.tick)
            .field("delivery_concurrency", &self.delivery_concurrency)
            .field("taps", &self.taps.len())
            .field("faults", &self.faults)
            .field("inner_layers", &self.inner_layers.len())
            .finish_non_exhaustive()
    }
}

/// The outcome of one rekeying delivery to the members' `control_uri`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The group.
    pub group: String,
    /// The version delivered.
    pub num: u64,
    /// Members with a `control_uri`.
    pub targets: usize,
    /// How many answered with a success code.
    pub acknowledged: usize,
    /// How many failed (timeout, error response, no context).
    pub failed: usize,
    /// Observers of `/ace-group/GROUPNAME` selected for the notification.
    pub observers: usize,
    /// From the start of the delivery to the last answer.
    pub elapsed: Duration,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store or the state.
    #[error(transparent)]
    Load(#[from] crate::core::LoadError),
    /// The store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The socket.
    #[error("cannot bind: {0}")]
    Io(#[from] std::io::Error),
    /// A bad listen address.
    #[error("bad listen address {0:?}")]
    Listen(String),
}

struct Shared {
    kdc: Arc<Kdc>,
    contexts: Arc<OscoreContexts<ChannelId>>,
    notifier: Notifier,
    endpoint: OnceLock<CoapEndpoint>,
    clock: Arc<dyn Clock>,
    sequence_block: u64,
    permits: Arc<Semaphore>,
    eviction_grace: Duration,
    /// Seconds a channel's context outlives its token (see [`install`]).
    context_grace: u64,
    reports: broadcast::Sender<DeliveryReport>,
}

/// The running KDC.
pub struct KdcService {
    shared: Arc<Shared>,
    endpoint: CoapEndpoint,
    stop: watch::Sender<bool>,
    ticker: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for KdcService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdcService")
            .field("local_addr", &self.endpoint.local_addr())
            .finish_non_exhaustive()
    }
}

impl KdcService {
    /// Opens the SQLite store of `config`, loads the KDC and starts it on
    /// `listen` (or the configured address).
    pub async fn open(config: KdcConfig, listen: Option<SocketAddr>) -> Result<Self, ServiceError> {
        let bind = match listen {
            Some(a) => a,
            None => config
                .listen
                .parse()
                .map_err(|_| ServiceError::Listen(config.listen.clone()))?,
        };
        Self::open_with(config, ServiceOptions::new(bind)).await
    }

    /// [`KdcService::open`] with the service options `options` (their
    /// `tick` and `socket_buffer` are taken from the configuration).
    pub async fn open_with(
        config: KdcConfig,
        mut options: ServiceOptions,
    ) -> Result<Self, ServiceError> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(
            &config.database,
            config.durable_fsync,
        )?);
        options.tick = Duration::from_millis(config.tick_ms);
        options.socket_buffer = config.socket_buffer;
        let clock = options.clock.clone();
        let (kdc, restore) = Kdc::open(config, store, clock.now())?;
        let kdc = kdc.with_group_commit()?;
        Ok(Self::start(kdc, restore, options).await?)
    }

    /// Starts the service for `kdc`; `restore` are the effects
    /// [`Kdc::open`] returned (the stored channels).
    pub async fn start(
        kdc: Kdc,
        restore: Vec<Effect>,
        options: ServiceOptions,
    ) -> std::io::Result<Self> {
        let protocol = coap_oscore::protocol_config(options.protocol.clone());
        let clock = options.clock.clone();
        let contexts = OscoreContexts::with_clock(Arc::new(move || clock.now()));
        let mut config = EndpointConfig::new(options.bind)
            .protocol(protocol)
            .client_layer(contexts.client_layer());
        config.socket.buffer_size = options.socket_buffer;
        config.taps = options.taps.clone();
        config.faults = options.faults.clone();
        let builder = EndpointBuilder::new(config);
        let (reports, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            kdc: Arc::new(kdc),
            contexts: contexts.clone(),
            notifier: builder.notifier(),
            endpoint: OnceLock::new(),
            clock: options.clock.clone(),
            sequence_block: options.sequence_block.max(1),
            permits: Arc::new(Semaphore::new(options.delivery_concurrency.max(1))),
            eviction_grace: options.eviction_grace,
            context_grace: ((options.eviction_grace + options.tick * 2).as_secs() + 1).max(5),
            reports,
        });
        apply(&shared, restore);
        let mut handler: SharedHandler = Arc::new(KdcHandler(shared.clone()));
        for inner in options.inner_layers.iter().rev() {
            handler = inner.layer(handler);
        }
        let handler = counted(contexts.server_layer().layer(handler), &shared);
        let endpoint = builder.bind(handler).await?;
        let _ = shared.endpoint.set(endpoint.clone());
        let (stop, stopped) = watch::channel(false);
        let ticker = tokio::spawn(run_timer(shared.clone(), options.tick, stopped));
        tracing::info!(addr = %endpoint.local_addr(), "KDC listening");
        Ok(Self {
            shared,
            endpoint,
            stop,
            ticker,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// The core.
    pub fn kdc(&self) -> &Arc<Kdc> {
        &self.shared.kdc
    }

    /// The OSCORE contexts of the channels.
    pub fn contexts(&self) -> &Arc<OscoreContexts<ChannelId>> {
        &self.shared.contexts
    }

    /// Reports of rekeying deliveries, as they complete.
    pub fn delivery_reports(&self) -> broadcast::Receiver<DeliveryReport> {
        self.shared.reports.subscribe()
    }

    /// Executes an operator command on the running KDC and carries out its
    /// effects (deliveries, notices), as a queued command would be.
    pub fn execute(&self, command: &Command) -> Result<String, String> {
        let (result, effects) = self.shared.kdc.execute(command, self.shared.clock.now());
        apply(&self.shared, effects);
        result
    }

    /// Runs one timer step now (tests; the timer does this periodically).
    pub fn tick_now(&self) {
        tick(&self.shared);
    }

    /// Stops the timer and the endpoint.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.ticker.await;
        self.endpoint.shutdown().await;
        tracing::info!("KDC stopped");
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

struct KdcHandler(Arc<Shared>);

/// The outermost handler: counts each request in progress, from the moment
/// the endpoint hands it over (before OSCORE) until its response, for the
/// group-commit writer ([`crate::core::InFlight`]). The count starts in the
/// closure itself, which runs when the endpoint calls the handler, not at
/// the first poll of the future it returns.
fn counted(inner: SharedHandler, shared: &Arc<Shared>) -> SharedHandler {
    let shared = shared.clone();
    Middleware::wrap(inner, move |request: Request, next: SharedHandler| {
        let in_flight = shared.kdc.request_in_flight();
        async move {
            let response = next.call(request).await;
            drop(in_flight);
            response
        }
    })
}

fn method(m: ace_coap::Method) -> Method {
    match m {
        ace_coap::Method::Get => Method::Get,
        ace_coap::Method::Post => Method::Post,
        ace_coap::Method::Put => Method::Put,
        ace_coap::Method::Delete => Method::Delete,
        ace_coap::Method::Fetch => Method::Fetch,
        ace_coap::Method::Patch => Method::Patch,
        ace_coap::Method::IPatch => Method::IPatch,
    }
}

fn to_response(r: KdcResponse) -> Response {
    let mut out = Response::new(r.code).with_payload(r.payload);
    if let Some(c) = r.content_format {
        out = out.with_content_format(c);
    }
    if !r.location_path.is_empty() {
        out = out.with_location_path(&r.location_path.join("/"));
    }
    out
}

/// Whether `path` is a resource clients may observe: the group resource
/// (rekeying notifications), a node resource (eviction notices), and
/// `/active` (profile section 9: SHOULD be observable).
fn observable(path: &[String]) -> bool {
    matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["ace-group", _] | ["ace-group", _, "nodes", _] | ["ace-group", _, "active"]
    )
}

fn problem(code: ace_coap::Code, id: ErrorId, detail: &str) -> Response {
    Response::new(code)
        .with_content_format(cf::CONCISE_PROBLEM_DETAILS_CBOR)
        .with_payload(ProblemDetails::groupcomm(id, Some(detail.to_string())).encode())
}

impl ace_coap::Handler for KdcHandler {
    fn call(&self, request: Request) -> ace_coap::BoxFuture<Response> {
        let shared = self.0.clone();
        Box::pin(async move { handle(&shared, request).await })
    }
}

async fn handle(shared: &Arc<Shared>, request: Request) -> Response {
    let now = shared.clock.now();
    let caller = match coap_oscore::label::<ChannelId>(&request) {
        Some(ch) => Caller::Channel(ch.clone()),
        None => Caller::Unauthenticated,
    };
    if let Origin::Notification {
        response: Some(explicit),
    } = &request.meta.origin
    {
        // A rekeying notification goes only to observers that are still
        // members; the others' observations end here.
        if explicit.is_success()
            && let [first, group] = request.path.as_slice()
            && first == "ace-group"
            && !shared.kdc.may_observe_group(&caller, group, now)
        {
            return problem(
                ace_coap::Code::FORBIDDEN,
                ErrorId::OnlyGroupMembers,
                "no longer a member of the group",
            );
        }
        return (**explicit).clone();
    }
    let observe_request = request.method.is_safe() && request.observe() == Some(0);
    let kreq = KdcRequest {
        method: method(request.method),
        path: request.path.clone(),
        query: request.query.clone(),
        content_format: request.content_format(),
        payload: request.payload,
    };
    // The response and the effects wait until the transition is durable
    // (the writer thread wakes this task).
    let outcome = shared
        .kdc
        .handle_deferred(&kreq, &caller, now)
        .durable(&shared.kdc)
        .await;
    let success = outcome.response.code.is_success();
    apply(shared, outcome.effects);
    let mut response = to_response(outcome.response);
    if success && observe_request && observable(&kreq.path) {
        response.observed_resource = Some(format!("/{}", kreq.path.join("/")));
    }
    response
}

// ---------------------------------------------------------------------------
// Effects
// ---------------------------------------------------------------------------

/// Reserves Sender Sequence Numbers of a channel in the store.
struct StoreReservation {
    store: Arc<dyn Store>,
    channel: ChannelId,
}

impl group_oscore::SequenceStore for StoreReservation {
    fn reserve(&mut self, mark: u64) -> Result<(), String> {
        self.store
            .reserve_sequence(&self.channel, mark)
            .map_err(|e| e.to_string())
    }
}

/// Installs a channel's context: Sender Sequence Numbers reserved in the
/// store, no replay state for a restored channel (Echo first), and an
/// expiry just after the token's, so that an eviction notice can still be
/// protected for the member whose token expired (the core refuses the
/// member's requests from the token's expiry on).
fn install(shared: &Shared, setup: &crate::core::ChannelSetup) {
    let store = Box::new(StoreReservation {
        store: shared.kdc.store().clone(),
        channel: setup.channel.clone(),
    });
    let persistence = Persistence {
        store,
        resume_at: setup.sequence_mark,
        block: shared.sequence_block,
        replay_state_lost: setup.restored,
        expires_at: setup
            .expires_at
            .map(|exp| exp.saturating_add(shared.context_grace)),
    };
    if let Err(e) = shared
        .contexts
        .install_persistent(&setup.channel, &setup.params, persistence)
    {
        tracing::warn!(channel = %setup.channel, error = %e, "cannot install channel");
    }
}

fn apply(shared: &Arc<Shared>, effects: Vec<Effect>) {
    let noticed: HashSet<ChannelId> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Evicted(n) => n.channel.clone(),
            _ => None,
        })
        .collect();
    let dropped: HashSet<ChannelId> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::DropChannel(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    for effect in effects {
        match effect {
            Effect::InstallChannel(setup) => install(shared, &setup),
            Effect::DropChannel(channel) => {
                if !noticed.contains(&channel) {
                    shared.contexts.remove(&channel);
                }
            }
            Effect::Rekey(delivery) => {
                tokio::spawn(deliver(shared.clone(), delivery));
            }
            Effect::Evicted(notice) => {
                let drop_after = notice.channel.as_ref().is_some_and(|c| dropped.contains(c));
                tokio::spawn(evict(shared.clone(), notice, drop_after));
            }
            Effect::GroupDeleted(deletion) => group_deleted(shared, &deletion),
        }
    }
}

async fn deliver(shared: Arc<Shared>, delivery: Arc<RekeyDelivery>) {
    let start = Instant::now();
    let path = format!("/ace-group/{}", delivery.group);
    let notification =
        Response::content(delivery.payload.clone()).with_content_format(cf::ACE_GROUPCOMM_CBOR);
    let observers = shared
        .notifier
        .notify_counted(ace_coap::NotifyTarget::Resource(path), Some(notification))
        .await;
    let Some(endpoint) = shared.endpoint.get().cloned() else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut targets = 0;
    for t in &delivery.targets {
        let Some(uri) = t.control_uri.clone() else {
            continue;
        };
        targets += 1;
        let Ok(permit) = shared.permits.clone().acquire_owned().await else {
            break;
        };
        let endpoint = endpoint.clone();
        let mut request = Request::post("/")
            .with_payload(delivery.payload.clone())
            .with_content_format(cf::ACE_GROUPCOMM_CBOR);
        request.security = Some(SecurityIdentity::new(t.channel.clone()));
        let node = t.node.clone();
        tasks.spawn(async move {
            let result = endpoint.request(Target::Uri(uri), request).await;
            drop(permit);
            match result {
                Ok(r) if r.is_success() => true,
                Ok(r) => {
                    tracing::debug!(node, code = %r.code, "rekeying POST refused");
                    false
                }
                Err(e) => {
                    tracing::debug!(node, error = %e, "rekeying POST failed");
                    false
                }
            }
        });
    }
    let mut acknowledged = 0;
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(true) => acknowledged += 1,
            _ => failed += 1,
        }
    }
    let report = DeliveryReport {
        group: delivery.group.clone(),
        num: delivery.num,
        targets,
        acknowledged,
        failed,
        observers,
        elapsed: start.elapsed(),
    };
    tracing::info!(?report, "rekeying delivered");
    let _ = shared.reports.send(report);
}

async fn evict(shared: Arc<Shared>, notice: Box<EvictionNotice>, drop_after: bool) {
    let path = format!("/ace-group/{}/nodes/{}", notice.group, notice.node);
    let response = Response::new(ace_coap::Code::NOT_FOUND)
        .with_content_format(cf::CONCISE_PROBLEM_DETAILS_CBOR)
        .with_payload(notice.payload.clone());
    shared
        .notifier
        .notify_counted(ace_coap::NotifyTarget::Resource(path), Some(response))
        .await;
    if let (Some(uri), Some(channel), Some(endpoint)) = (
        notice.control_uri.clone(),
        notice.channel.clone(),
        shared.endpoint.get().cloned(),
    ) {
        let mut request = Request::delete("/");
        request.security = Some(SecurityIdentity::new(channel));
        match endpoint.request(Target::Uri(uri), request).await {
            Ok(r) => {
                tracing::debug!(node = notice.node, code = %r.code, "eviction DELETE answered")
            }
            Err(e) => tracing::debug!(node = notice.node, error = %e, "eviction DELETE failed"),
        }
    }
    if drop_after && let Some(channel) = &notice.channel {
        tokio::time::sleep(shared.eviction_grace).await;
        shared.contexts.remove(channel);
    }
}

fn group_deleted(shared: &Shared, deletion: &GroupDeletion) {
    let response = Response::new(ace_coap::Code::NOT_FOUND)
        .with_content_format(cf::CONCISE_PROBLEM_DETAILS_CBOR)
        .with_payload(deletion.payload.clone());
    shared
        .notifier
        .notify_subtree_with(&format!("/ace-group/{}", deletion.group), response);
}

// ---------------------------------------------------------------------------
// Timer
// ---------------------------------------------------------------------------

fn tick(shared: &Arc<Shared>) {
    let now = shared.clock.now();
    let effects = shared.kdc.tick(now);
    apply(shared, effects);
    let store = shared.kdc.store();
    if let Err(e) = store.heartbeat(now) {
        tracing::warn!(error = %e, "heartbeat failed");
    }
    match store.pending_commands() {
        Ok(commands) => {
            for c in commands {
                let (result, effects) = match Command::from_text(&c.text) {
                    Ok(command) => shared.kdc.execute(&command, now),
                    Err(e) => (Err(format!("unreadable command: {e}")), Vec::new()),
                };
                apply(shared, effects);
                let text = match &result {
                    Ok(t) => format!("ok: {t}"),
                    Err(t) => format!("error: {t}"),
                };
                tracing::info!(command = c.text.trim(), result = text, "operator command");
                if let Err(e) = store.complete_command(c.id, &text) {
                    tracing::warn!(error = %e, "cannot record a command result");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the command queue"),
    }
}

async fn run_timer(shared: Arc<Shared>, period: Duration, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let s = shared.clone();
                let _ = tokio::task::spawn_blocking(move || tick(&s)).await;
            }
            _ = stopped.changed() => break,
        }
    }
}
