//! OSCORE (RFC 8613) on `ace-coap` for the KDC's channels: a table of
//! security contexts keyed by this endpoint's Recipient ID, a server
//! [`Layer`] that verifies requests and protects responses and Observe
//! notifications, and a [`ClientLayer`] that protects requests the endpoint
//! sends (the KDC's rekeying POSTs and eviction DELETEs to members'
//! `control_uri`, RFC 9594 section 6.1).
//!
//! This is the binding the KDC needs until `ace-coap` carries its own OSCORE
//! layer; it uses `group-oscore` for every cryptographic step and only
//! converts between `ace-coap`'s complete requests and responses and
//! `coap-lite` packets. The same types serve a client of the KDC (tests,
//! load tools): its contexts are keyed by *its* Recipient ID.
//!
//! # Server side
//!
//! A request with the OSCORE option (9) is verified with the context its
//! 'kid' names; the inner request reaches the handlers with the
//! [`SecurityIdentity`] [`ChannelId`] (the Recipient ID). Failures get the
//! unprotected error responses of RFC 8613 section 8.2 (4.01 "Security
//! context not found", 4.01 "Replay detected", 4.00 "Decryption failed",
//! 4.02). A context restored after a restart has no replay state: its first
//! request is answered with a protected 4.01 carrying Echo, and the request
//! repeated with the Echo value is accepted (RFC 8613 Appendix B.1.2).
//! Requests without the OSCORE option pass through with no identity (the
//! handlers refuse what needs one).
//!
//! For an Observe registration that succeeds, the inner request and the
//! exchange are kept by (peer, token); the endpoint's notification replays
//! (RFC 7641) are answered by running the inner request through the
//! handlers again and protecting the result with a fresh Partial IV (RFC
//! 8613 section 8.3). A notification whose inner code is an error (an
//! eviction or group deletion notice) ends the observation for OSCORE: its
//! state is dropped here, and the client, which sees the inner error, stops
//! observing. Its Outer Code is 2.04 (RFC 8613 section 4.2), so the
//! transport keeps the registration until the next notification, which
//! this layer answers with an unprotected 4.01 that ends it there too.
//!
//! # Client side
//!
//! A request whose [`Request::security`] is a [`ChannelId`] is protected
//! with that context; its responses (and notifications) are verified with
//! it. Requests without one go out unprotected (`/authz-info`). The layer
//! protects before the endpoint marks a request as an Observe registration,
//! so an observer puts `Observe: 0` in the request it passes to
//! `CoapEndpoint::observe` (the inner Observe of RFC 8613 section
//! 4.1.3.5.1, which also makes the outer code FETCH).

use crate::model::ChannelId;
use ace_coap::handler::{BoxFuture, Handler, Layer, SharedHandler};
use ace_coap::request::Origin;
use ace_coap::{
    ClientExchangeLayer, ClientLayer, LayerError, Method, Request, Response, SecurityIdentity,
};
use coap_lite::{CoapOption, MessageClass, Packet};
use group_oscore::{ClientExchange, SecurityContext, ServerExchange, UnprotectError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

/// The OSCORE option number (RFC 8613 section 2).
pub const OSCORE_OPTION: u16 = 9;
/// Uri-Path.
const URI_PATH: u16 = 11;
/// Uri-Query.
const URI_QUERY: u16 = 15;
/// Observe.
const OBSERVE: u16 = 6;

/// Most Observe registrations kept per table; beyond, the oldest-looking
/// entries are dropped (their notifications then end the observation).
const MAX_OBSERVATIONS: usize = 1 << 20;

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A verified Observe registration.
struct Observed {
    channel: ChannelId,
    inner: Request,
    exchange: ServerExchange,
}

/// The security contexts of an endpoint, by Recipient ID.
#[derive(Default)]
pub struct OscoreContexts {
    contexts: RwLock<HashMap<Vec<u8>, Shared<SecurityContext>>>,
    observations: Mutex<HashMap<(SocketAddr, Vec<u8>), Observed>>,
}

impl std::fmt::Debug for OscoreContexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreContexts")
            .field("contexts", &self.len())
            .finish_non_exhaustive()
    }
}

impl OscoreContexts {
    /// An empty table.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Installs (or replaces) the context whose Recipient ID is `channel`.
    pub fn install(&self, channel: &ChannelId, context: SecurityContext) {
        self.contexts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(channel.0.clone(), Arc::new(Mutex::new(context)));
    }

    /// Removes a context and the observations made through it.
    pub fn remove(&self, channel: &ChannelId) {
        self.contexts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&channel.0);
        lock(&self.observations).retain(|_, o| o.channel != *channel);
    }

    /// Whether a context with Recipient ID `channel` is installed.
    pub fn contains(&self, channel: &ChannelId) -> bool {
        self.get(&channel.0).is_some()
    }

    /// Number of installed contexts.
    pub fn len(&self) -> usize {
        self.contexts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no context is installed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Sender Sequence Number the context of `channel` uses next.
    pub fn sender_sequence_number(&self, channel: &ChannelId) -> Option<u64> {
        self.get(&channel.0)
            .map(|c| lock(&c).sender_sequence_number())
    }

    fn get(&self, recipient_id: &[u8]) -> Option<Shared<SecurityContext>> {
        self.contexts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(recipient_id)
            .cloned()
    }

    /// The server layer over this table.
    pub fn server_layer(self: &Arc<Self>) -> OscoreServerLayer {
        OscoreServerLayer(self.clone())
    }

    /// The client layer over this table.
    pub fn client_layer(self: &Arc<Self>) -> Arc<dyn ClientLayer> {
        Arc::new(OscoreClientLayer(self.clone()))
    }
}

// ---------------------------------------------------------------------------
// Conversions between ace-coap messages and coap-lite packets
// ---------------------------------------------------------------------------

fn add_options(packet: &mut Packet, options: &ace_coap::Options) {
    for (number, value) in options.iter() {
        packet.add_option(CoapOption::from(number), value.to_vec());
    }
}

/// The packet of a complete request (code, token, Uri-Path, Uri-Query,
/// other options, payload).
pub fn request_to_packet(request: &Request) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(request.method.code());
    p.set_token(request.meta.token.as_bytes().to_vec());
    for seg in &request.path {
        p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    for q in &request.query {
        p.add_option(CoapOption::UriQuery, q.as_bytes().to_vec());
    }
    add_options(&mut p, &request.options);
    p.payload = request.payload.clone();
    p
}

/// The request a packet describes, with peer and message-layer facts from
/// `template`.
pub fn packet_to_request(packet: &Packet, template: &Request) -> Result<Request, LayerError> {
    let method = Method::from_code(u8::from(packet.header.code))
        .ok_or_else(|| LayerError::new("the decrypted code is not a request method"))?;
    let mut request = Request::new(method, "/");
    request.path.clear();
    request.peer = template.peer;
    request.meta = template.meta.clone();
    for (number, values) in packet.options() {
        let number = *number;
        for value in values {
            match number {
                URI_PATH => request
                    .path
                    .push(String::from_utf8_lossy(value).into_owned()),
                URI_QUERY => request
                    .query
                    .push(String::from_utf8_lossy(value).into_owned()),
                _ => request.options.push(number, value.clone()),
            }
        }
    }
    request.payload = packet.payload.clone();
    Ok(request)
}

/// The packet of a complete response.
pub fn response_to_packet(response: &Response) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(response.code.0);
    add_options(&mut p, &response.options);
    p.payload = response.payload.clone();
    p
}

/// The response a packet describes.
pub fn packet_to_response(packet: &Packet) -> Response {
    let mut r = Response::new(ace_coap::Code(u8::from(packet.header.code)));
    for (number, values) in packet.options() {
        for value in values {
            r.options.push(*number, value.clone());
        }
    }
    r.payload = packet.payload.clone();
    r
}

fn unprotected_error(e: &UnprotectError, request: &Packet) -> Response {
    packet_to_response(&e.error_response(request))
}

// ---------------------------------------------------------------------------
// Server layer
// ---------------------------------------------------------------------------

/// The server-side OSCORE layer (see the module docs).
#[derive(Clone)]
pub struct OscoreServerLayer(Arc<OscoreContexts>);

impl Layer for OscoreServerLayer {
    fn layer(&self, inner: SharedHandler) -> SharedHandler {
        Arc::new(OscoreServer {
            table: self.0.clone(),
            inner,
        })
    }
}

struct OscoreServer {
    table: Arc<OscoreContexts>,
    inner: SharedHandler,
}

impl Handler for OscoreServer {
    fn call(&self, request: Request) -> BoxFuture<Response> {
        let table = self.table.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            match &request.meta.origin {
                Origin::Notification { .. } => notification(&table, &inner, request).await,
                Origin::Network => {
                    if request.options.contains(OSCORE_OPTION) {
                        protected(&table, &inner, request).await
                    } else {
                        inner.call(request).await
                    }
                }
            }
        })
    }
}

async fn protected(table: &OscoreContexts, inner: &SharedHandler, request: Request) -> Response {
    let packet = request_to_packet(&request);
    let key = (request.peer, request.meta.token.as_bytes().to_vec());
    let kid = match group_oscore::request_kid(&packet) {
        Ok(option) => option.kid.unwrap_or_default(),
        Err(e) => return unprotected_error(&e, &packet),
    };
    let Some(context) = table.get(&kid) else {
        return unprotected_error(&UnprotectError::ContextNotFound, &packet);
    };
    let verified = lock(&context).unprotect_request(&packet);
    let (inner_packet, mut exchange) = match verified {
        Ok(v) => v,
        Err(UnprotectError::EchoRequired(challenge)) => {
            let mut challenge = *challenge;
            let response = challenge.response(&packet);
            return match lock(&context).protect_response(&response, &mut challenge.exchange) {
                Ok(outer) => packet_to_response(&outer),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot protect an Echo challenge");
                    Response::new(ace_coap::Code::INTERNAL_SERVER_ERROR)
                }
            };
        }
        Err(e) => {
            tracing::debug!(error = %e, "OSCORE request refused");
            return unprotected_error(&e, &packet);
        }
    };
    let channel = ChannelId(kid);
    let mut inner_request = match packet_to_request(&inner_packet, &request) {
        Ok(r) => r,
        Err(e) => return Response::bad_request(&e.reason),
    };
    inner_request.security = Some(SecurityIdentity::new(channel.clone()));
    lock(&table.observations).remove(&key);
    let observe = exchange.is_observe();
    let registered = observe.then(|| inner_request.clone());
    let mut response = inner.call(inner_request).await;
    let observed_resource = response.observed_resource.take();
    let keep = observe && response.is_success() && observed_resource.is_some();
    if keep {
        response.options.set_uint(OBSERVE, 0);
    }
    let protected = lock(&context).protect_response(&response_to_packet(&response), &mut exchange);
    match protected {
        Ok(outer) => {
            let mut outer = packet_to_response(&outer);
            outer.observed_resource = observed_resource;
            if keep && let Some(inner) = registered {
                let mut observations = lock(&table.observations);
                if observations.len() >= MAX_OBSERVATIONS {
                    observations.clear();
                }
                observations.insert(
                    key,
                    Observed {
                        channel,
                        inner,
                        exchange,
                    },
                );
            }
            outer
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot protect a response");
            Response::new(ace_coap::Code::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn notification(table: &OscoreContexts, inner: &SharedHandler, request: Request) -> Response {
    let key = (request.peer, request.meta.token.as_bytes().to_vec());
    let observed = lock(&table.observations)
        .get(&key)
        .map(|o| (o.channel.clone(), o.inner.clone()));
    let Some((channel, mut inner_request)) = observed else {
        if request.options.contains(OSCORE_OPTION) {
            // An OSCORE observation whose state is gone (context removed):
            // end it.
            return Response::new(ace_coap::Code::UNAUTHORIZED);
        }
        return inner.call(request).await;
    };
    let Some(context) = table.get(&channel.0) else {
        lock(&table.observations).remove(&key);
        return Response::new(ace_coap::Code::UNAUTHORIZED);
    };
    inner_request.meta.origin = request.meta.origin.clone();
    inner_request.security = Some(SecurityIdentity::new(channel));
    let mut response = inner.call(inner_request).await;
    response.observed_resource = None;
    let success = response.is_success();
    if success {
        response.options.set_uint(OBSERVE, 0);
    }
    let packet = response_to_packet(&response);
    let mut observations = lock(&table.observations);
    let Some(entry) = observations.get_mut(&key) else {
        return Response::new(ace_coap::Code::UNAUTHORIZED);
    };
    let result = lock(&context).protect_response_with(&packet, &mut entry.exchange, true);
    if !success {
        observations.remove(&key);
    }
    match result {
        Ok(outer) => packet_to_response(&outer),
        Err(e) => {
            tracing::warn!(error = %e, "cannot protect a notification");
            observations.remove(&key);
            Response::new(ace_coap::Code::INTERNAL_SERVER_ERROR)
        }
    }
}

// ---------------------------------------------------------------------------
// Client layer
// ---------------------------------------------------------------------------

struct OscoreClientLayer(Arc<OscoreContexts>);

struct ClientState {
    context: Shared<SecurityContext>,
    exchange: ClientExchange,
}

impl ClientLayer for OscoreClientLayer {
    fn outgoing(
        &self,
        _destination: SocketAddr,
        request: Request,
    ) -> Result<(Request, Box<dyn ClientExchangeLayer>), LayerError> {
        let Some(channel) = request.security::<ChannelId>().cloned() else {
            return Ok((request, Box::new(Plain)));
        };
        let context = self
            .0
            .get(&channel.0)
            .ok_or_else(|| LayerError::new(format!("no OSCORE context for channel {channel}")))?;
        let packet = request_to_packet(&request);
        let (outer, exchange) = lock(&context)
            .protect_request(&packet)
            .map_err(|e| LayerError::new(e.to_string()))?;
        let mut outer_request = packet_to_request(&outer, &request)?;
        outer_request.security = None;
        Ok((outer_request, Box::new(ClientState { context, exchange })))
    }
}

struct Plain;

impl ClientExchangeLayer for Plain {
    fn incoming(&mut self, _from: SocketAddr, response: Response) -> Result<Response, LayerError> {
        Ok(response)
    }
}

impl ClientExchangeLayer for ClientState {
    fn incoming(&mut self, _from: SocketAddr, response: Response) -> Result<Response, LayerError> {
        if !response.options.contains(OSCORE_OPTION) {
            // An unprotected error from the OSCORE layer of the peer (RFC
            // 8613 section 8.2): passed on as is, so the caller sees why.
            if response.is_success() {
                return Err(LayerError::new(
                    "unprotected success response to an OSCORE request",
                ));
            }
            return Ok(response);
        }
        let packet = response_to_packet(&response);
        let inner = lock(&self.context)
            .unprotect_response(&packet, &mut self.exchange)
            .map_err(|e| LayerError::new(e.to_string()))?;
        let mut out = packet_to_response(&inner);
        out.options.remove(OBSERVE);
        if let Some(v) = response.options.get_uint(OBSERVE) {
            out.options.set_uint(OBSERVE, v);
        }
        Ok(out)
    }
}
