//! The server-side OSCORE layer: a [`Layer`] around the router that
//! verifies protected requests with the [`OscoreContexts`] table, hands the
//! inner request to the handlers with an [`OscoreIdentity`], and protects
//! their responses and Observe notifications.
//!
//! * A request with the OSCORE option (9) is verified with the Group OSCORE
//!   membership whose Gid is its 'kid context', else with the OSCORE context
//!   its 'kid' (and 'kid context') names (RFC 8613 section 8.2, RFC 10021
//!   sections 7.2 and 8.4). Requests without the option pass through with
//!   no identity: the application decides (`/authz-info` is open; anything
//!   else at the KDC answers 4.01).
//! * Refusals are answered *unprotected*, with the codes and diagnostics of
//!   RFC 8613 section 8.2 and an Outer Max-Age of 0: 4.02 "Failed to decode
//!   COSE", 4.01 "Security context not found", 4.01 "Replay detected", 4.00
//!   "Decryption failed" (also for a group-mode countersignature that does
//!   not verify, RFC 10021 section 7.2). Errors after verification (those of
//!   the handlers) are protected.
//! * A context without replay state (restored after a restart) answers a
//!   request that verifies with a *protected* 4.01 carrying Echo, with its
//!   own Partial IV, and accepts the request repeated with that Echo value
//!   (RFC 8613 Appendix B.1.2, RFC 9175 section 2.4; RFC 10021 section 9).
//! * The first response may reuse the request's nonce; every Observe
//!   notification gets a fresh Partial IV (RFC 8613 section 8.3). The Outer
//!   Code is 2.04, or 2.05 for a notification (section 4.2). A notification
//!   whose inner code is an error (the KDC's 4.04 eviction or group-deleted
//!   notice) is the last one: its inner message has no Observe, so neither
//!   has the outer one (section 4.1.3.5.2: the Outer Observe takes the
//!   value of the original message's), and the layer marks it
//!   [`Response::ends_observation`] so that the endpoint sends it as the
//!   final notification and deregisters the observer; the client's endpoint
//!   ends the observation on a notification without Observe (RFC 7641
//!   section 3.2).
//! * Per-observation state (the registration's inner request and its
//!   exchange) lives until the endpoint reports the end of the observation
//!   ([`Handler::observation_ended`]: deregistration, Reset, timeout, the
//!   last notification, shutdown). A new request with the token of an
//!   observation does not end it (RFC 8613 section 4.1.3.5: the server
//!   SHOULD NOT remove an active observation just because it receives a
//!   request with the same Token). A bound on the number of entries stays
//!   as a safety net.
//! * No-Response (RFC 7967) is an Inner option (RFC 8613 section 4.1.3.6):
//!   the layer applies it to the inner code. A declined response is not
//!   sent ([`Response::silent`]); a declined registration response still
//!   registers the observer, and declined notifications are skipped (RFC
//!   9594 section 4.1: No-Response 2 on a `/nodes` observation leaves only
//!   the eviction notice).
//! * Requests the RFCs say to leave unanswered get no response at all
//!   ([`Response::no_response`]): the endpoint acknowledges a Confirmable
//!   one with an empty ACK and sends nothing else. That covers requests
//!   from members without the Requester role, our own responses when we
//!   are a Monitor or lack the Responder role (RFC 10021 sections 2.2 and
//!   7: a Monitor never sends protected messages), requests with our own
//!   Sender ID, and a multicast request whose inner response is an error
//!   (RFC 10021 section 7), unless
//!   [`super::GroupConfig::respond_to_multicast_errors`]. The endpoint
//!   suppresses other error responses to multicast requests too
//!   ([`crate::ProtocolConfig::respond_to_multicast_errors`]).
//!
//! Block-wise transfer of the protected message (Outer Block options, RFC
//! 8613 section 4.1.3.4.2) is done by the endpoint below this layer. A
//! request with an Inner Block2 option (block-wise between the OSCORE
//! endpoints, section 4.1.3.4.1) gets that block of the handler's
//! response. Inner Block1 (a request body sent in protected blocks) is not
//! reassembled here; clients send large bodies with Outer Block1, which the
//! endpoint reassembles before this layer.

use super::OSCORE_OPTION;
use super::convert::{
    packet_to_request, packet_to_response, request_to_packet, response_to_packet,
};
use super::group::{GroupMember, convert_error_response};
use super::identity::{OscoreIdentity, Protection};
use super::table::{Entry, Label, OscoreContexts, Sharded, lock};
use crate::block::{BlockError, BlockOption};
use crate::handler::{BoxFuture, Handler, Layer, ObservationEnded, SharedHandler};
use crate::option::number;
use crate::request::{Origin, Request, SecurityIdentity};
use crate::response::{Code, Response};
use crate::wire::Token;
use coap_lite::Packet;
use group_oscore::group::ResponseMode;
use group_oscore::{ProtectError, ServerExchange, UnprotectError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Most Observe registrations kept per shard of the observation table (16
/// shards: about 32 000 in all, three times the endpoint's default
/// observer limit). The endpoint reports the end of every observation
/// ([`Handler::observation_ended`]), which frees its entry; the bound is a
/// safety net. Beyond it, the entry whose last registration or notification
/// is the oldest is dropped, which spares live observations (each
/// notification refreshes its entry); a live observation dropped this way
/// ends with 4.01 at its next notification.
const MAX_OBSERVATIONS_PER_SHARD: usize = 2048;

/// The server-side OSCORE layer over a table (see the module docs).
pub struct OscoreServerLayer<L> {
    table: Arc<OscoreContexts<L>>,
}

impl<L> Clone for OscoreServerLayer<L> {
    fn clone(&self) -> Self {
        Self {
            table: self.table.clone(),
        }
    }
}

impl<L: Label> std::fmt::Debug for OscoreServerLayer<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreServerLayer")
            .field("table", &self.table)
            .finish()
    }
}

impl<L: Label> OscoreServerLayer<L> {
    /// The layer over `table`.
    pub fn new(table: Arc<OscoreContexts<L>>) -> Self {
        Self { table }
    }
}

impl<L: Label> Layer for OscoreServerLayer<L> {
    fn layer(&self, inner: SharedHandler) -> SharedHandler {
        Arc::new(OscoreServer {
            table: self.table.clone(),
            inner,
        })
    }
}

struct OscoreServer<L> {
    table: Arc<OscoreContexts<L>>,
    inner: SharedHandler,
}

impl<L: Label> Handler for OscoreServer<L> {
    fn observation_ended(&self, ended: &ObservationEnded) {
        self.table.observations.remove(&(ended.peer, ended.token));
        self.inner.observation_ended(ended);
    }

    fn call(&self, request: Request) -> BoxFuture<Response> {
        let table = self.table.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            match request.meta.origin {
                Origin::Notification { .. } => notification(&table, &inner, request).await,
                Origin::Network if request.options.contains(OSCORE_OPTION) => {
                    protected(&table, &inner, request).await
                }
                Origin::Network => inner.call(request).await,
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Observations
// ---------------------------------------------------------------------------

type ObservationKey = (SocketAddr, Token);

/// What protects an observation's notifications.
pub(crate) enum Binding<L> {
    Oscore(Arc<Entry<L>>),
    Group {
        label: L,
        member: GroupMember,
        mode: ResponseMode,
    },
}

/// A verified Observe registration (RFC 8613 section 4.1.3.5): the inner
/// request to replay, and the exchange whose 'kid' and Partial IV every
/// notification is bound to. Shared with the notification being produced,
/// so that the end of the observation (which removes it from the table)
/// may come at any time.
pub(crate) struct Observed<L> {
    binding: Binding<L>,
    inner: Request,
    exchange: Mutex<ServerExchange>,
    /// When the entry was last inserted or used, in table operations.
    touched: AtomicU64,
}

impl<L> Observed<L> {
    fn new(binding: Binding<L>, inner: Request, exchange: ServerExchange) -> Self {
        Self {
            binding,
            inner,
            exchange: Mutex::new(exchange),
            touched: AtomicU64::new(0),
        }
    }
}

/// The verified observations, by observer (peer and token).
pub(crate) struct ObservationTable<L> {
    shards: Sharded<HashMap<ObservationKey, Arc<Observed<L>>>>,
    clock: AtomicU64,
}

impl<L: Label> ObservationTable<L> {
    pub(crate) fn new() -> Self {
        Self {
            shards: Sharded::new(),
            clock: AtomicU64::new(0),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Records (or replaces: a re-registration with the same token, RFC
    /// 7641 section 4.1) an observation.
    fn insert(&self, key: ObservationKey, observed: Observed<L>) {
        observed.touched.store(self.tick(), Ordering::Relaxed);
        let mut shard = self.shards.write(&key);
        if shard.len() >= MAX_OBSERVATIONS_PER_SHARD
            && !shard.contains_key(&key)
            && let Some(victim) = shard
                .iter()
                .min_by_key(|(_, o)| o.touched.load(Ordering::Relaxed))
                .map(|(k, _)| *k)
        {
            shard.remove(&victim);
        }
        shard.insert(key, Arc::new(observed));
    }

    /// The observation of `key`, marked as used.
    fn get(&self, key: &ObservationKey) -> Option<Arc<Observed<L>>> {
        let found = self.shards.read(key).get(key).cloned()?;
        found.touched.store(self.tick(), Ordering::Relaxed);
        Some(found)
    }

    /// Forgets the observation of `key` (the endpoint ended it).
    pub(crate) fn remove(&self, key: &ObservationKey) -> Option<Arc<Observed<L>>> {
        if !self.shards.read(key).contains_key(key) {
            return None;
        }
        self.shards.write(key).remove(key)
    }

    pub(crate) fn forget_context(&self, entry: &Arc<Entry<L>>) {
        for shard in self.shards.all() {
            let mut shard = shard
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            shard.retain(|_, o| !matches!(&o.binding, Binding::Oscore(e) if Arc::ptr_eq(e, entry)));
        }
    }

    pub(crate) fn forget_group(&self, label: &L) {
        for shard in self.shards.all() {
            let mut shard = shard
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            shard.retain(
                |_, o| !matches!(&o.binding, Binding::Group { label: l, .. } if l == label),
            );
        }
    }

    /// Number of observations (tests, diagnostics).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .all()
            .map(|s| {
                s.read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }
}

impl<L: Label> OscoreContexts<L> {
    /// Number of OSCORE-protected Observe registrations this table keeps.
    pub fn observation_count(&self) -> usize {
        self.observations.len()
    }
}

// ---------------------------------------------------------------------------
// Responses this layer makes itself
// ---------------------------------------------------------------------------

/// The unprotected error response of RFC 8613 section 8.2 for `e`, or the
/// "ignored" answer when the RFCs say to ignore the request.
fn refusal(e: &UnprotectError, packet: &Packet) -> Response {
    if e.answers_with_error() {
        packet_to_response(&e.error_response(packet))
    } else {
        ignored()
    }
}

/// The answer to a request the RFCs say to leave unanswered: nothing at
/// all (an empty ACK for a Confirmable request, see the module docs).
fn ignored() -> Response {
    Response::no_response()
}

/// An unprotected 4.01 that ends an OSCORE observation whose state is gone
/// or no longer valid (RFC 8613 section 8.3: the context cannot protect
/// it).
fn end_unprotected() -> Response {
    Response::new(Code::UNAUTHORIZED).with_max_age(0)
}

/// The outer response standing for an inner one that the request's
/// No-Response option declines (RFC 7967 section 2.1, applied to the inner
/// code as RFC 8613 section 4.1.3.6 makes No-Response an Inner option):
/// silenced, and keeping the registration marker of an accepted
/// registration (the outer code of a registration response is 2.05).
fn declined(observed: Option<String>) -> Response {
    match observed {
        Some(resource) => {
            let mut r = Response::new(Code::CONTENT).silenced();
            r.observed_resource = Some(resource);
            r
        }
        None => Response::no_response(),
    }
}

fn internal_error() -> Response {
    Response::new(Code::INTERNAL_SERVER_ERROR).with_max_age(0)
}

/// Prepares an inner response for protection: Observe 0 marks a
/// notification (its value travels outer, RFC 8613 section 4.1.3.5.2).
fn mark_observe(response: &mut Response, notification: bool) {
    if notification {
        response.options.set_uint(number::OBSERVE, 0);
    } else {
        response.options.remove(number::OBSERVE);
    }
}

/// The Inner Block2 option of a request, if it asks for a block.
fn requested_block(request: &Request) -> Option<Result<BlockOption, BlockError>> {
    request.options.get(number::BLOCK2).map(BlockOption::decode)
}

/// Serves the block an Inner Block2 option asked for out of the complete
/// inner response (block-wise transfer between the OSCORE endpoints, RFC
/// 8613 section 4.1.3.4.1, as RFC 7959 section 2.4 describes it: the block
/// size is the requested one up to 1024 bytes, Size2 goes with block 0, an
/// ETag lets the client detect a changed representation). A block beyond
/// the end, or a malformed option, is 4.02. Without Inner Block2 the whole
/// response is protected and the endpoint cuts the protected message into
/// Outer blocks if needed.
fn serve_inner_block(requested: Option<Result<BlockOption, BlockError>>, response: &mut Response) {
    let Some(requested) = requested else {
        return;
    };
    if !response.is_success() {
        return;
    }
    let Ok(requested) = requested else {
        *response = Response::new(Code::BAD_OPTION).with_payload("bad Block2");
        return;
    };
    let szx = requested.szx.min(crate::block::MAX_SZX);
    let num =
        u32::try_from(requested.offset() / crate::block::size_of_szx(szx)).unwrap_or(u32::MAX);
    let total = response.payload.len();
    let Some((chunk, more)) = crate::block::slice(&response.payload, num, szx) else {
        *response = Response::new(Code::BAD_OPTION).with_payload("block beyond the end");
        return;
    };
    let chunk = chunk.to_vec();
    if !response.options.contains(number::ETAG) && (more || num > 0) {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&response.payload, &mut hasher);
        response.options.push(
            number::ETAG,
            std::hash::Hasher::finish(&hasher).to_be_bytes()[..4].to_vec(),
        );
    }
    response.payload = chunk;
    response
        .options
        .set(number::BLOCK2, BlockOption { num, more, szx }.encode());
    if num == 0 {
        response
            .options
            .set_uint(number::SIZE2, u32::try_from(total).unwrap_or(u32::MAX));
    }
}

fn identity<L: Label>(
    label: L,
    exchange: &ServerExchange,
    protection: Protection,
) -> SecurityIdentity {
    SecurityIdentity::new(OscoreIdentity {
        label,
        kid: exchange.request_kid().to_vec(),
        kid_context: exchange.request_kid_context().map(<[u8]>::to_vec),
        protection,
    })
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

async fn protected<L: Label>(
    table: &Arc<OscoreContexts<L>>,
    inner: &SharedHandler,
    request: Request,
) -> Response {
    let packet = request_to_packet(&request);
    let option = match group_oscore::request_kid(&packet) {
        Ok(option) => option,
        Err(e) => {
            tracing::debug!(peer = %request.peer, error = %e, "OSCORE request refused");
            return refusal(&e, &packet);
        }
    };
    if let Some(gid) = option.kid_context.as_deref()
        && let Some((label, member)) = table.group_for_gid(gid)
    {
        return group_request(table, inner, request, &packet, label, member).await;
    }
    let kid = option.kid.unwrap_or_default();
    let candidates = table.candidates(&kid, option.kid_context.as_deref());
    let mut refused = UnprotectError::ContextNotFound;
    for entry in candidates {
        let verified = entry.lock().unprotect_request(&packet);
        match verified {
            Ok((inner_packet, exchange)) => {
                return verified_oscore(table, inner, request, entry, &inner_packet, exchange)
                    .await;
            }
            Err(UnprotectError::EchoRequired(challenge)) => {
                let mut challenge = *challenge;
                let response = challenge.response(&packet);
                let outer = entry
                    .lock()
                    .protect_response(&response, &mut challenge.exchange);
                return match outer {
                    Ok(outer) => packet_to_response(&outer),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot protect an Echo challenge");
                        internal_error()
                    }
                };
            }
            Err(e) => refused = e,
        }
    }
    tracing::debug!(peer = %request.peer, error = %refused, "OSCORE request refused");
    refusal(&refused, &packet)
}

async fn verified_oscore<L: Label>(
    table: &Arc<OscoreContexts<L>>,
    inner: &SharedHandler,
    request: Request,
    entry: Arc<Entry<L>>,
    inner_packet: &Packet,
    mut exchange: ServerExchange,
) -> Response {
    let key = (request.peer, request.meta.token);
    let (mut response, registered, observed) = match packet_to_request(inner_packet, &request) {
        Ok(mut inner_request) => {
            inner_request.security = Some(identity(entry.label(), &exchange, Protection::Oscore));
            let registered = exchange.is_observe().then(|| inner_request.clone());
            let block2 = requested_block(&inner_request);
            let no_response = inner_request.options.no_response();
            let mut response = inner.call(inner_request).await;
            let observed = response.observed_resource.take();
            let keep = registered.is_some() && response.is_success() && observed.is_some();
            if !keep {
                serve_inner_block(block2, &mut response);
            }
            if response.silent || no_response & crate::option::no_response_bit(response.code) != 0 {
                // Declined by the handler or by the client's No-Response.
                return match registered {
                    Some(inner_request) if keep => {
                        table.observations.insert(
                            key,
                            Observed::new(Binding::Oscore(entry), inner_request, exchange),
                        );
                        declined(observed)
                    }
                    _ => declined(None),
                };
            }
            (response, registered.filter(|_| keep), observed)
        }
        Err(e) => (convert_error_response(&e), None, None),
    };
    mark_observe(&mut response, registered.is_some());
    let protected = entry
        .lock()
        .protect_response(&response_to_packet(&response), &mut exchange);
    match protected {
        Ok(outer) => {
            let mut outer = packet_to_response(&outer);
            if let Some(inner_request) = registered {
                outer.observed_resource = observed;
                table.observations.insert(
                    key,
                    Observed::new(Binding::Oscore(entry), inner_request, exchange),
                );
            }
            outer
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot protect a response");
            internal_error()
        }
    }
}

async fn group_request<L: Label>(
    table: &Arc<OscoreContexts<L>>,
    inner: &SharedHandler,
    request: Request,
    packet: &Packet,
    label: L,
    member: GroupMember,
) -> Response {
    let now = table.now();
    let verified = member.verify_request(packet, now);
    let (inner_packet, mut exchange) = match verified {
        Ok(v) => v,
        Err(UnprotectError::EchoRequired(challenge)) => {
            let mut challenge = *challenge;
            let response = challenge.response(packet);
            let mut g = member.security();
            let mode = GroupMember::challenge_mode(&g);
            return match g.protect_response(&response, &mut challenge.exchange, mode) {
                Ok(outer) => packet_to_response(&outer),
                Err(e) => {
                    // A Monitor sends nothing, not even a challenge.
                    tracing::debug!(error = %e, "no Echo challenge sent");
                    ignored()
                }
            };
        }
        Err(e) => {
            tracing::debug!(peer = %request.peer, error = %e, "Group OSCORE request refused");
            return refusal(&e, packet);
        }
    };
    let protection = if exchange.is_group_mode() {
        Protection::GroupMode
    } else {
        Protection::PairwiseMode
    };
    let multicast = request.meta.multicast;
    let key = (request.peer, request.meta.token);
    let (mut response, registered, observed, no_response) =
        match packet_to_request(&inner_packet, &request) {
            Ok(mut inner_request) => {
                inner_request.security = Some(identity(label.clone(), &exchange, protection));
                let registered =
                    (exchange.is_observe() && !multicast).then(|| inner_request.clone());
                let block2 = requested_block(&inner_request);
                let no_response = inner_request.options.no_response();
                let mut response = inner.call(inner_request).await;
                let observed = response.observed_resource.take();
                if registered.is_none() || observed.is_none() {
                    serve_inner_block(block2, &mut response);
                }
                (response, registered, observed, no_response)
            }
            Err(e) => (convert_error_response(&e), None, None, 0),
        };
    if multicast && !response.is_success() && !member.config().respond_to_multicast_errors {
        return ignored();
    }
    let keep = registered.is_some() && response.is_success() && observed.is_some();
    let registered = registered.filter(|_| keep);
    let mode = {
        let g = member.security();
        member.response_mode(&g, &exchange)
    };
    if response.silent || no_response & crate::option::no_response_bit(response.code) != 0 {
        let observed = match registered {
            Some(inner_request) => {
                table.observations.insert(
                    key,
                    Observed::new(
                        Binding::Group {
                            label,
                            member,
                            mode,
                        },
                        inner_request,
                        exchange,
                    ),
                );
                observed
            }
            None => None,
        };
        return declined(observed);
    }
    mark_observe(&mut response, registered.is_some());
    let protected =
        member
            .security()
            .protect_response(&response_to_packet(&response), &mut exchange, mode);
    match protected {
        Ok(outer) => {
            let mut outer = packet_to_response(&outer);
            if let Some(inner_request) = registered {
                outer.observed_resource = observed;
                table.observations.insert(
                    key,
                    Observed::new(
                        Binding::Group {
                            label,
                            member,
                            mode,
                        },
                        inner_request,
                        exchange,
                    ),
                );
            }
            outer
        }
        // A Monitor (no Sender Context) or a member without the Responder
        // role processes requests and never answers them (RFC 10021
        // section 2.2).
        Err(ProtectError::NoSenderContext | ProtectError::RoleForbids(_)) => ignored(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot protect a group response");
            internal_error()
        }
    }
}

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

async fn notification<L: Label>(
    table: &Arc<OscoreContexts<L>>,
    inner: &SharedHandler,
    request: Request,
) -> Response {
    let key = (request.peer, request.meta.token);
    let Some(observed) = table.observations.get(&key) else {
        if request.options.contains(OSCORE_OPTION) {
            // An OSCORE observation whose state is gone (its context was
            // removed or replaced): end it.
            return end_unprotected();
        }
        return inner.call(request).await;
    };
    let current = match &observed.binding {
        Binding::Oscore(entry) => table.is_current(entry) && !entry.is_expired(table.now()),
        Binding::Group { label, member, .. } => table.group(label).is_some_and(|m| m.same(member)),
    };
    if !current {
        return end_unprotected();
    }
    let mut inner_request = observed.inner.clone();
    inner_request.meta.origin = request.meta.origin.clone();
    let mut response = inner.call(inner_request).await;
    response.observed_resource = None;
    let last = !response.is_success() || response.ends_observation;
    if response.silent || observed.inner.options.no_response_declines(response.code) {
        // Skipped (or, for a last one, the observation ends without a
        // word): the client declined this class, RFC 7967 section 2.1.
        let mut outer = Response::new(Code::CONTENT).silenced();
        outer.ends_observation = last;
        return outer;
    }
    mark_observe(&mut response, !last);
    let packet = response_to_packet(&response);
    let protected = {
        let mut exchange = lock(&observed.exchange);
        match &observed.binding {
            Binding::Oscore(entry) => {
                entry
                    .lock()
                    .protect_response_with(&packet, &mut exchange, true)
            }
            Binding::Group { member, mode, .. } => {
                member
                    .security()
                    .protect_response_with(&packet, &mut exchange, *mode, true)
            }
        }
    };
    match protected {
        Ok(outer) => {
            let mut outer = packet_to_response(&outer);
            // An inner error has no Observe, so the outer message has none
            // either (RFC 8613 section 4.1.3.5.2); the endpoint must send
            // it as the last notification.
            outer.ends_observation = last;
            outer
        }
        Err(ProtectError::NoSenderContext | ProtectError::RoleForbids(_)) => {
            // The member became a Monitor: it sends nothing any more.
            Response::new(Code::CONTENT).silenced().ending_observation()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot protect a notification");
            end_unprotected()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oscore::table::SHARDS;
    use group_oscore::{ContextParams, SecurityContext};

    #[test]
    fn overflow_evicts_the_least_recently_refreshed_observation() {
        let entry = Arc::new(Entry::new(
            1u8,
            SecurityContext::new(&ContextParams::new(&[2; 16], b"s", b"c")).unwrap(),
            None,
        ));
        let mut client = SecurityContext::new(&ContextParams::new(&[2; 16], b"c", b"s")).unwrap();
        let mut packet = Packet::new();
        packet.header.code = coap_lite::MessageClass::from(0x01);
        let (outer, _) = client.protect_request(&packet).unwrap();
        let (_, exchange) = entry.lock().unprotect_request(&outer).unwrap();
        let observed = || {
            Observed::new(
                Binding::Oscore(entry.clone()),
                Request::get("/x"),
                exchange.clone(),
            )
        };
        let table = ObservationTable::<u8>::new();
        let key = |i: u32| {
            (
                SocketAddr::from(([127, 0, 0, 1], 5683)),
                Token::new(&i.to_be_bytes()).unwrap(),
            )
        };
        let total = u32::try_from(MAX_OBSERVATIONS_PER_SHARD * SHARDS).unwrap();
        for i in 0..total {
            table.insert(key(i), observed());
            // Key 0 is refreshed, as a live observation is by notifications.
            if i % 1000 == 0 {
                assert!(table.get(&key(0)).is_some());
            }
        }
        for i in total..total + 4000 {
            table.insert(key(i), observed());
        }
        assert!(table.len() <= MAX_OBSERVATIONS_PER_SHARD * SHARDS);
        assert!(table.remove(&key(0)).is_some(), "the live one stays");
        assert!(table.remove(&key(1)).is_none(), "the oldest went first");
        assert!(table.remove(&key(total + 3999)).is_some());
    }
}
