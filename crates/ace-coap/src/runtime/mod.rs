//! The async endpoint: one UDP socket serving and sending requests at once,
//! driven by a tokio task that owns the sans-I/O [`Endpoint`].

mod driver;
pub mod socket;

pub use driver::HandlerDispatch;

use crate::config::ProtocolConfig;
use crate::endpoint::{Endpoint, ExchangeError, ExchangeId, NotifyTarget, OutgoingRequest, Stats};
use crate::fault::{FaultConfig, FaultInjector};
use crate::handler::{self, SharedHandler};
use crate::option::number;
use crate::request::Request;
use crate::response::Response;
use crate::security::{ClientExchangeLayer, ClientLayer, LayerError};
use crate::tap::TapSink;
use crate::uri::{self, Host};
use driver::{Command, Driver, ReplySink, StreamItem};
use socket::{MulticastGroup, SocketOptions};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// How to run an endpoint: socket, protocol parameters, taps and faults.
#[derive(Clone)]
pub struct EndpointConfig {
    /// The address to bind (port 0 picks an ephemeral port; IPv4 or IPv6).
    pub bind: SocketAddr,
    /// The sans-I/O protocol configuration.
    pub protocol: ProtocolConfig,
    /// Socket options.
    pub socket: SocketOptions,
    /// Multicast groups to join (RFC 7252 section 8.2).
    pub multicast_groups: Vec<MulticastGroup>,
    /// Sinks that see every datagram.
    pub taps: Vec<Arc<dyn TapSink>>,
    /// Faults to inject (tests only).
    pub faults: Option<FaultConfig>,
    /// The client-side security layer, if any.
    pub client_layer: Option<Arc<dyn ClientLayer>>,
    /// Seed for tokens, Message IDs and jitter; fresh randomness if `None`.
    pub seed: Option<[u8; 32]>,
    /// How handlers are run.
    pub dispatch: HandlerDispatch,
    /// Busy polling: for this long after the last datagram or command, the
    /// driver keeps checking the socket (yielding to other tasks) instead of
    /// sleeping in the kernel. It trades CPU for latency at moderate load,
    /// where sleeping and waking per request dominates (on virtual machines
    /// especially). `None` (the default) never spins; use it only when the
    /// endpoint has a core to itself.
    pub busy_poll: Option<Duration>,
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("bind", &self.bind)
            .field("protocol", &self.protocol)
            .field("socket", &self.socket)
            .field("multicast_groups", &self.multicast_groups)
            .field("taps", &self.taps.len())
            .field("faults", &self.faults)
            .field("client_layer", &self.client_layer.is_some())
            .field("dispatch", &self.dispatch)
            .field("busy_poll", &self.busy_poll)
            .finish()
    }
}

impl EndpointConfig {
    /// Defaults (RFC 7252 transmission parameters) bound to `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            protocol: ProtocolConfig::default(),
            socket: SocketOptions::default(),
            multicast_groups: Vec::new(),
            taps: Vec::new(),
            faults: None,
            client_layer: None,
            seed: None,
            dispatch: HandlerDispatch::Spawn,
            busy_poll: None,
        }
    }

    /// Sets the protocol configuration.
    #[must_use]
    pub fn protocol(mut self, protocol: ProtocolConfig) -> Self {
        self.protocol = protocol;
        self
    }

    /// Joins a multicast group.
    #[must_use]
    pub fn join(mut self, group: MulticastGroup) -> Self {
        self.multicast_groups.push(group);
        self
    }

    /// Adds a tap sink.
    #[must_use]
    pub fn tap(mut self, sink: Arc<dyn TapSink>) -> Self {
        self.taps.push(sink);
        self
    }

    /// Injects faults.
    #[must_use]
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Sets the client-side security layer.
    #[must_use]
    pub fn client_layer(mut self, layer: Arc<dyn ClientLayer>) -> Self {
        self.client_layer = Some(layer);
        self
    }
}

/// Why a client request failed.
#[derive(Debug, Error)]
pub enum RequestError {
    /// The exchange failed (timeout, reset, ...).
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The security layer refused the request or the response.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The URI is not a usable `coap://` URI.
    #[error(transparent)]
    Uri(#[from] uri::UriError),
    /// The host name did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// The endpoint has shut down.
    #[error("the endpoint has shut down")]
    Closed,
}

/// Where a request goes: an address, or a `coap://` URI whose path and
/// query replace those of the request.
#[derive(Clone, Debug)]
pub enum Target {
    /// A transport address.
    Addr(SocketAddr),
    /// A `coap://` URI.
    Uri(String),
}

impl From<SocketAddr> for Target {
    fn from(a: SocketAddr) -> Self {
        Self::Addr(a)
    }
}
impl From<&str> for Target {
    fn from(s: &str) -> Self {
        Self::Uri(s.to_owned())
    }
}
impl From<String> for Target {
    fn from(s: String) -> Self {
        Self::Uri(s)
    }
}

/// Per-request client options.
#[derive(Clone, Copy, Debug)]
pub struct RequestOptions {
    /// CON (default) or NON.
    pub confirmable: bool,
    /// Response timeout (the endpoint's default if `None`).
    pub timeout: Option<Duration>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            confirmable: true,
            timeout: None,
        }
    }
}

impl RequestOptions {
    /// NON instead of CON.
    pub fn non_confirmable() -> Self {
        Self {
            confirmable: false,
            timeout: None,
        }
    }
}

struct Inner {
    tx: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    next_id: AtomicU64,
    client_layer: Option<Arc<dyn ClientLayer>>,
    driver: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown(None));
    }
}

/// Triggers Observe notifications (RFC 7641) without keeping the endpoint
/// alive; obtainable before the endpoint is bound, so handlers can hold one.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

impl Notifier {
    fn send(&self, target: NotifyTarget, response: Option<Response>) {
        let _ = self.tx.send(Command::Notify {
            target,
            response,
            reply: None,
        });
    }

    /// Notifies the observers of `path` with the current state: each
    /// observer's request is replayed through the handler chain.
    pub fn notify(&self, path: &str) {
        self.send(NotifyTarget::Resource(normalize(path)), None);
    }

    /// Notifies the observers of `path` with `response` (still passed
    /// through the handler chain's layers). A non-2.xx response ends the
    /// observations, e.g. 4.04 when the resource is deleted: it goes out
    /// without Observe (through OSCORE too, RFC 8613 section 4.1.3.5.2),
    /// the endpoint deregisters the observers and the layers hear of it
    /// ([`crate::Handler::observation_ended`]).
    pub fn notify_with(&self, path: &str, response: Response) {
        self.send(NotifyTarget::Resource(normalize(path)), Some(response));
    }

    /// Notifies the observers of `path` and of every resource below it.
    pub fn notify_subtree(&self, path: &str) {
        self.send(NotifyTarget::Subtree(normalize(path)), None);
    }

    /// Like [`Notifier::notify_subtree`] with an explicit response.
    pub fn notify_subtree_with(&self, path: &str, response: Response) {
        self.send(NotifyTarget::Subtree(normalize(path)), Some(response));
    }

    /// Notifies and waits until the endpoint has queued the notifications;
    /// returns how many observers were selected.
    pub async fn notify_counted(&self, target: NotifyTarget, response: Option<Response>) -> usize {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::Notify {
                target,
                response,
                reply: Some(reply),
            })
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

fn normalize(path: &str) -> String {
    crate::request::join_path(&crate::request::split_target(path).0)
}

/// Builds an endpoint in two steps, so that handlers can be given a
/// [`Notifier`] before the endpoint exists.
pub struct EndpointBuilder {
    config: EndpointConfig,
    tx: mpsc::UnboundedSender<Command>,
    rx: mpsc::UnboundedReceiver<Command>,
}

impl EndpointBuilder {
    /// A builder for `config`.
    pub fn new(config: EndpointConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { config, tx, rx }
    }

    /// A notifier for the endpoint this builder will start.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            tx: self.tx.clone(),
        }
    }

    /// Binds the sockets and starts the driver task with `handler` serving
    /// requests (the router, possibly wrapped in layers). Must be called
    /// inside a tokio runtime.
    pub async fn bind(self, handler: SharedHandler) -> io::Result<CoapEndpoint> {
        let Self { config, tx, rx } = self;
        let std_socket = socket::bind_unicast(config.bind, &config.socket)?;
        let busy_poll = match config.busy_poll {
            Some(window) => Some((std_socket.try_clone()?, window)),
            None => None,
        };
        let socket = tokio::net::UdpSocket::from_std(std_socket)?;
        let local = socket.local_addr()?;
        let mut multicast_readers = Vec::new();
        for group in &config.multicast_groups {
            let s = tokio::net::UdpSocket::from_std(socket::bind_multicast(group)?)?;
            multicast_readers.push(tokio::spawn(driver::multicast_reader(
                s,
                group.group,
                tx.clone(),
            )));
        }
        let seed = config.seed.unwrap_or_else(|| {
            let mut s = [0u8; 32];
            rand::fill(&mut s);
            s
        });
        let driver = Driver {
            dispatch: config.dispatch,
            endpoint: Endpoint::new(config.protocol.clone(), seed),
            socket,
            local,
            commands: rx,
            command_tx: tx.clone(),
            handler,
            taps: config.taps.clone(),
            faults: config.faults.clone().map(FaultInjector::new),
            multicast_readers,
            sinks: HashMap::new(),
            blocked: None,
            buf: vec![0u8; 65_536],
            busy_poll,
        };
        let task = tokio::spawn(driver.run());
        Ok(CoapEndpoint {
            inner: Arc::new(Inner {
                tx,
                local,
                next_id: AtomicU64::new(1),
                client_layer: config.client_layer,
                driver: std::sync::Mutex::new(Some(task)),
            }),
        })
    }
}

/// A CoAP endpoint: server and client on one UDP socket. Cheap to clone;
/// the endpoint shuts down when the last clone is dropped or on
/// [`CoapEndpoint::shutdown`]. (A handler that holds a clone keeps the
/// endpoint alive; give handlers a [`Notifier`] instead, or call `shutdown`.)
#[derive(Clone)]
pub struct CoapEndpoint {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CoapEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoapEndpoint")
            .field("local", &self.inner.local)
            .finish()
    }
}

/// Cancels an exchange whose caller stopped waiting.
struct CancelGuard {
    id: ExchangeId,
    tx: mpsc::UnboundedSender<Command>,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.tx.send(Command::Cancel(self.id));
        }
    }
}

impl CoapEndpoint {
    /// Binds an endpoint serving `handler`.
    pub async fn bind(config: EndpointConfig, handler: SharedHandler) -> io::Result<Self> {
        EndpointBuilder::new(config).bind(handler).await
    }

    /// A client-only endpoint on `bind` (incoming requests get 4.04).
    pub async fn client(bind: SocketAddr) -> io::Result<Self> {
        Self::bind(EndpointConfig::new(bind), handler::not_found()).await
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// A notifier for this endpoint.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            tx: self.inner.tx.clone(),
        }
    }

    /// Notifies the observers of `path` (see [`Notifier::notify`]).
    pub fn notify(&self, path: &str) {
        self.notifier().notify(path);
    }

    /// Notifies the observers of `path` with `response` (see
    /// [`Notifier::notify_with`]).
    pub fn notify_with(&self, path: &str, response: Response) {
        self.notifier().notify_with(path, response);
    }

    /// Counters and the number of observers.
    pub async fn stats(&self) -> Result<(Stats, usize), RequestError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Stats(tx))
            .map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::Closed)
    }

    /// Stops the driver and waits for it to finish.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Command::Shutdown(Some(tx))).is_ok() {
            let _ = rx.await;
        }
        let task = self.inner.driver.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn next_id(&self) -> ExchangeId {
        ExchangeId(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn protect(
        &self,
        destination: SocketAddr,
        request: Request,
    ) -> Result<(Request, Option<Box<dyn ClientExchangeLayer>>), RequestError> {
        match &self.inner.client_layer {
            Some(layer) => {
                let (r, state) = layer.outgoing(destination, request)?;
                Ok((r, Some(state)))
            }
            None => Ok((request, None)),
        }
    }

    /// Sends a CON request and waits for the complete response
    /// (block-wise transfers included).
    pub async fn request(
        &self,
        target: impl Into<Target>,
        request: Request,
    ) -> Result<Response, RequestError> {
        self.request_with(target, request, RequestOptions::default())
            .await
    }

    /// Sends a request with options (e.g. NON) and waits for the response.
    ///
    /// With a client security layer, a response that the layer answers
    /// with a request to repeat ([`ClientExchangeLayer::repeat`], e.g. the
    /// OSCORE layer on an Echo challenge) is not delivered: the repeated
    /// request is sent once, and its response is.
    pub async fn request_with(
        &self,
        target: impl Into<Target>,
        request: Request,
        options: RequestOptions,
    ) -> Result<Response, RequestError> {
        let (destination, request) = resolve_target(target.into(), request).await?;
        let (response, again) = self
            .request_once(destination, request, options, true)
            .await?;
        match again {
            Some(again) => Ok(self
                .request_once(destination, again, options, false)
                .await?
                .0),
            None => Ok(response),
        }
    }

    /// One request through the client layer: the response the layer
    /// returns, and the request it asks to send instead (if `may_repeat`).
    async fn request_once(
        &self,
        destination: SocketAddr,
        request: Request,
        options: RequestOptions,
        may_repeat: bool,
    ) -> Result<(Response, Option<Request>), RequestError> {
        let (request, mut layer) = self.protect(destination, request)?;
        let id = self.next_id();
        let mut out = OutgoingRequest::new(destination, request);
        out.confirmable = options.confirmable;
        out.timeout = options.timeout;
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Request {
                id,
                out,
                sink: ReplySink::Once(tx),
            })
            .map_err(|_| RequestError::Closed)?;
        let mut guard = CancelGuard {
            id,
            tx: self.inner.tx.clone(),
            armed: true,
        };
        let result = rx.await.map_err(|_| RequestError::Closed)?;
        guard.armed = false;
        let (from, response) = result?;
        match layer.as_mut() {
            Some(l) => {
                let response = l.incoming(from, response)?;
                let again = if may_repeat {
                    l.repeat(from, &response)
                } else {
                    None
                };
                Ok((response, again))
            }
            None => Ok((response, None)),
        }
    }

    /// Registers an observation (GET or FETCH with Observe 0, RFC 7641) and
    /// returns the stream of the registration response and notifications.
    ///
    /// A request with No-Response declining 2.xx (RFC 7967 section 2.1;
    /// RFC 9594 section 4.1 uses No-Response 2 on `/nodes/NODENAME`) gets
    /// no registration response: the observation counts as registered once
    /// the server acknowledges it (CON) or once it is sent (NON), and the
    /// stream yields only the notifications of the classes not declined.
    pub async fn observe(
        &self,
        target: impl Into<Target>,
        request: Request,
    ) -> Result<Observation, RequestError> {
        let no_response = request.options.no_response();
        self.observe_with_no_response(target, request, no_response)
            .await
    }

    /// [`CoapEndpoint::observe`] for a request whose No-Response value
    /// (RFC 7967) is not visible in its options because it travels inside a
    /// protected payload (an Inner option, RFC 8613 section 4.1.3.6):
    /// `no_response` gives it.
    pub async fn observe_with_no_response(
        &self,
        target: impl Into<Target>,
        request: Request,
        no_response: u8,
    ) -> Result<Observation, RequestError> {
        let (destination, request) = resolve_target(target.into(), request).await?;
        let (id, rx, layer) = self.start_observation(destination, request, no_response)?;
        Ok(Observation {
            id,
            rx,
            layer,
            tx: self.inner.tx.clone(),
            done: false,
            endpoint: Arc::downgrade(&self.inner),
            destination,
            no_response,
            repeated: false,
        })
    }

    /// Protects and sends an Observe registration; returns its exchange,
    /// stream and client layer state.
    #[allow(clippy::type_complexity)]
    fn start_observation(
        &self,
        destination: SocketAddr,
        request: Request,
        no_response: u8,
    ) -> Result<
        (
            ExchangeId,
            mpsc::UnboundedReceiver<StreamItem>,
            Option<Box<dyn ClientExchangeLayer>>,
        ),
        RequestError,
    > {
        let (request, layer) = self.protect(destination, request)?;
        let id = self.next_id();
        let mut out = OutgoingRequest::new(destination, request).observe();
        out.no_response = no_response;
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner
            .tx
            .send(Command::Request {
                id,
                out,
                sink: ReplySink::Stream(tx),
            })
            .map_err(|_| RequestError::Closed)?;
        Ok((id, rx, layer))
    }

    /// Sends a NON request to a multicast group and collects the responses
    /// that arrive within `window` (RFC 7252 section 8.1). Servers delay
    /// their answers by a random time within their DEFAULT_LEISURE (5 s by
    /// default, section 8.2), so the window should be longer than that;
    /// servers with nothing useful to say (an error) stay silent.
    pub async fn group_request(
        &self,
        group: SocketAddr,
        request: Request,
        window: Duration,
    ) -> Result<Vec<(SocketAddr, Response)>, RequestError> {
        let (request, mut layer) = self.protect(group, request)?;
        let id = self.next_id();
        let out = OutgoingRequest::new(group, request).collect_for(window);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.inner
            .tx
            .send(Command::Request {
                id,
                out,
                sink: ReplySink::Stream(tx),
            })
            .map_err(|_| RequestError::Closed)?;
        let mut guard = CancelGuard {
            id,
            tx: self.inner.tx.clone(),
            armed: true,
        };
        let mut responses = Vec::new();
        while let Some(item) = rx.recv().await {
            match item {
                StreamItem::Response { from, response, .. } => {
                    let Some(l) = layer.as_mut() else {
                        responses.push((from, response));
                        continue;
                    };
                    let response = match l.incoming(from, response) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::debug!(%from, error = %e, "group response refused by the security layer");
                            continue;
                        }
                    };
                    // A member asking for the request again (an Echo
                    // challenge) is asked by unicast, and its answer
                    // replaces the challenge (RFC 10021 section 9).
                    let response = match l.repeat(from, &response) {
                        Some(again) => {
                            match self
                                .request_once(from, again, RequestOptions::default(), false)
                                .await
                            {
                                Ok((r, _)) => r,
                                Err(e) => {
                                    tracing::debug!(%from, error = %e, "repeated group request failed");
                                    continue;
                                }
                            }
                        }
                        None => response,
                    };
                    responses.push((from, response));
                }
                StreamItem::Failed(e) => {
                    guard.armed = false;
                    return Err(e.into());
                }
                StreamItem::Registered => {}
                StreamItem::Finished => break,
            }
        }
        guard.armed = false;
        Ok(responses)
    }
}

/// An Observe subscription: the registration response, then notifications,
/// in order, stale ones dropped (RFC 7641 section 3.4).
pub struct Observation {
    id: ExchangeId,
    rx: mpsc::UnboundedReceiver<StreamItem>,
    layer: Option<Box<dyn ClientExchangeLayer>>,
    tx: mpsc::UnboundedSender<Command>,
    done: bool,
    /// To register again when the layer asks for it (without keeping the
    /// endpoint alive).
    endpoint: std::sync::Weak<Inner>,
    destination: SocketAddr,
    no_response: u8,
    repeated: bool,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish()
    }
}

impl Observation {
    /// The next response or notification; `None` once the observation has
    /// ended (a response without Observe, a non-2.xx notification, or the
    /// response to a deregistration). With a client security layer, what
    /// the layer returns counts: a decrypted error or a decrypted response
    /// without Observe ends the observation.
    pub async fn next(&mut self) -> Option<Result<Response, RequestError>> {
        loop {
            match self.next_event().await? {
                Ok(Some(response)) => return Some(Ok(response)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Like [`Observation::next`], but also reports (as `Ok(None)`) that a
    /// registration whose response the server declines (No-Response, RFC
    /// 7967) was acknowledged and counts as registered (see
    /// [`CoapEndpoint::observe`]).
    pub async fn next_event(&mut self) -> Option<Result<Option<Response>, RequestError>> {
        loop {
            if self.done {
                return None;
            }
            let item = match self.rx.recv().await {
                Some(item) => item,
                None => {
                    self.done = true;
                    return Some(Err(RequestError::Closed));
                }
            };
            let (from, response, last) = match item {
                StreamItem::Response {
                    from,
                    response,
                    last,
                } => (from, response, last),
                StreamItem::Registered => return Some(Ok(None)),
                StreamItem::Failed(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
                StreamItem::Finished => {
                    self.done = true;
                    return None;
                }
            };
            if last {
                self.done = true;
            }
            let Some(layer) = self.layer.as_mut() else {
                return Some(Ok(Some(response)));
            };
            let response = match layer.incoming(from, response) {
                Ok(r) => r,
                Err(e) => return Some(Err(e.into())),
            };
            if !self.repeated
                && let Some(again) = layer.repeat(from, &response)
            {
                // Register again as the layer asks (an Echo challenge to
                // the registration, RFC 9175 section 2.4).
                self.repeated = true;
                match self.restart(again) {
                    Ok(()) => continue,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            if !self.done && (!response.is_success() || response.observe().is_none()) {
                // What the layer revealed ends the observation although the
                // outer message did not say so (an older peer's OSCORE
                // error notification with an Outer Observe, RFC 7641
                // section 3.2): forget it here too, so that the server's
                // next notification is answered with a Reset (section 3.6).
                self.done = true;
                let _ = self.tx.send(Command::Cancel(self.id));
            }
            return Some(Ok(Some(response)));
        }
    }

    /// Replaces the exchange with a new registration of `request`.
    fn restart(&mut self, request: Request) -> Result<(), RequestError> {
        let inner = self.endpoint.upgrade().ok_or(RequestError::Closed)?;
        let endpoint = CoapEndpoint { inner };
        if !self.done {
            let _ = self.tx.send(Command::Cancel(self.id));
        }
        let (id, rx, layer) =
            endpoint.start_observation(self.destination, request, self.no_response)?;
        self.id = id;
        self.rx = rx;
        self.layer = layer;
        self.done = false;
        Ok(())
    }

    /// Whether the observation has ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Deregisters with GET and Observe 1 (RFC 7641 section 3.6) and returns
    /// the server's response to it.
    pub async fn deregister(mut self) -> Result<Option<Response>, RequestError> {
        if self.done {
            return Ok(None);
        }
        self.tx
            .send(Command::Deregister(self.id))
            .map_err(|_| RequestError::Closed)?;
        let mut last = None;
        while let Some(r) = self.next().await {
            last = Some(r?);
        }
        Ok(last)
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.tx.send(Command::Cancel(self.id));
        }
    }
}

/// Resolves a target and applies a URI's path, query and host: the path and
/// query go into the request, a host name becomes Uri-Host (and is looked
/// up). Shared by [`CoapEndpoint`] and the OSCORE client, which resolves
/// before protecting (path and query are Class E, Uri-Host Class U).
pub(crate) async fn resolve_target(
    target: Target,
    mut request: Request,
) -> Result<(SocketAddr, Request), RequestError> {
    match target {
        Target::Addr(a) => Ok((a, request)),
        Target::Uri(u) => {
            let parsed = uri::parse(&u)?;
            if !parsed.path.is_empty() || request.path.is_empty() {
                request.path = parsed.path;
            }
            request.query.extend(parsed.query);
            let addr = match parsed.host {
                Host::Ip(ip) => SocketAddr::new(ip, parsed.port),
                Host::Name(name) => {
                    if !request.options.contains(number::URI_HOST) {
                        request.options.push(number::URI_HOST, name.as_bytes());
                    }
                    let found = tokio::net::lookup_host((name.clone(), parsed.port))
                        .await
                        .ok()
                        .and_then(|mut addrs| addrs.next());
                    found.ok_or(RequestError::Resolve(name))?
                }
            };
            Ok((addr, request))
        }
    }
}
