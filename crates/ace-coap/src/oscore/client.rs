//! The client side: protecting outgoing requests and verifying their
//! responses and notifications (RFC 8613 sections 8.1 and 8.4, RFC 10021
//! sections 7.1, 7.4, 8.3 and 8.6).
//!
//! Two ways to use it:
//!
//! * [`OscoreClient`], a wrapper around a [`CoapEndpoint`]: requests,
//!   observations, group requests to a multicast address and pairwise
//!   requests, with errors typed ([`ClientError`]) and the Echo challenge of
//!   a server that lost its replay state answered transparently (the
//!   request is repeated once with the Echo value, RFC 9175 section 2.4,
//!   RFC 8613 Appendix B.1.2, RFC 10021 section 9).
//! * [`OscoreClientLayer`], a [`ClientLayer`] in the endpoint's client slot:
//!   [`CoapEndpoint::request`] then protects each request whose
//!   [`Request::security`] is a label of the table (or a [`GroupSend`]), or
//!   every request when the layer is bound to one context. Its errors are
//!   [`LayerError`]s with the typed error's text; a verified Echo challenge
//!   is answered as [`OscoreClient`] answers it, by repeating the request
//!   once with the Echo value ([`ClientExchangeLayer::repeat`]; a group
//!   member's challenge in pairwise mode, by unicast), in `request`,
//!   `observe` and `group_request` alike, so that a server restored
//!   without replay state still receives what is sent this way (the KDC's
//!   rekeying POSTs and eviction DELETEs to a member's `control_uri`); the
//!   peer's unprotected OSCORE errors (4.01 "Security context not found",
//!   ...) are returned as responses so that the caller sees why. The layer
//!   protects before the
//!   endpoint marks a request as an Observe registration, so an observer
//!   puts the inner `Observe: 0` in the request it passes to
//!   [`CoapEndpoint::observe`] (RFC 8613 section 4.1.3.5.1; the outer code
//!   becomes FETCH); [`OscoreClient::observe`] does this itself.
//!
//! The endpoint must accept the OSCORE option in responses: add 9 to
//! [`crate::ProtocolConfig::extra_critical_options`] (see
//! [`super::protocol_config`]).

use super::OSCORE_OPTION;
use super::convert::{
    ConvertError, outer_request, packet_to_response, request_to_packet, response_to_packet,
};
use super::group::GroupMember;
use super::table::{Entry, Label, OscoreContexts};
use crate::block::BlockOption;
use crate::option::number;
use crate::request::{Request, SecurityIdentity};
use crate::response::{Code, Response};
use crate::runtime::{
    CoapEndpoint, Observation, RequestError, RequestOptions, Target, resolve_target,
};
use crate::security::{ClientExchangeLayer, ClientLayer, LayerError};
use group_oscore::group::RequestMode;
use group_oscore::{ClientExchange, ProtectError, UnprotectError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Why an OSCORE-protected exchange failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No OSCORE context is installed under the label (or its token
    /// expired, RFC 9203 section 7).
    #[error("no OSCORE context labelled {0}")]
    NoContext(String),
    /// No Group OSCORE membership is installed under the label.
    #[error("no Group OSCORE membership labelled {0}")]
    NoGroup(String),
    /// The request could not be protected (e.g. Sender Sequence Numbers
    /// exhausted, RFC 8613 section 7.2.1; our roles forbid requests).
    #[error("cannot protect the request: {0}")]
    Protect(#[from] ProtectError),
    /// The response did not verify (RFC 8613 section 8.4: the client stops
    /// processing it).
    #[error("response refused: {0}")]
    Unprotect(UnprotectError),
    /// The server's OSCORE layer refused the request with an unprotected
    /// error (RFC 8613 section 8.2), e.g. 4.01 "Security context not found"
    /// or "Replay detected", 4.00 "Decryption failed", 4.02 "Failed to
    /// decode COSE". Unprotected, so only a hint.
    #[error("the server refused the request: {code}{}", diagnostic.as_deref().map(|d| format!(" {d:?}")).unwrap_or_default())]
    Refused {
        /// The response code.
        code: Code,
        /// The diagnostic payload, if it was text.
        diagnostic: Option<String>,
    },
    /// A success response without the OSCORE option to a protected
    /// request: refused (it could come from anyone).
    #[error("unprotected {0} response to a protected request")]
    UnprotectedSuccess(Code),
    /// The server challenged the request repeated with its Echo value
    /// again.
    #[error("the server asked for Echo again after the request was repeated with it")]
    EchoRepeated,
    /// A block-wise transfer inside OSCORE (Inner Block2, RFC 8613 section
    /// 4.1.3.4.1 and RFC 7959) did not complete.
    #[error("inner block-wise transfer failed: {0}")]
    InnerBlock(&'static str),
    /// The decrypted response is not a CoAP response this crate represents.
    #[error("malformed decrypted message: {0}")]
    Convert(#[from] ConvertError),
    /// The exchange below OSCORE failed (timeout, reset, bad URI, ...).
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl ClientError {
    /// The code of an unprotected refusal by the server, if that is what
    /// happened.
    pub fn refused_code(&self) -> Option<Code> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Names the membership and mode for a request through the
/// [`OscoreClientLayer`]: put it in [`Request::security`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSend<L> {
    /// The label of the membership in the table.
    pub group: L,
    /// Group mode, or pairwise mode for one member.
    pub mode: RequestMode,
}

/// A response from one member to a group request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupReply {
    /// Where it came from.
    pub from: SocketAddr,
    /// The responder's Sender ID.
    pub kid: Vec<u8>,
    /// The decrypted response.
    pub response: Response,
}

/// What a group request collected: the verified replies, and the responses
/// refused (each with the reason).
#[derive(Debug, Default)]
pub struct GroupReplies {
    /// Verified replies, in arrival order.
    pub replies: Vec<GroupReply>,
    /// Responses that did not verify (RFC 10021 section 7.4: not
    /// delivered).
    pub refused: Vec<(SocketAddr, ClientError)>,
}

/// Most bytes reassembled from Inner Block2 blocks.
const MAX_INNER_BODY: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Shared protection steps
// ---------------------------------------------------------------------------

/// Copies the Outer Observe value of a notification onto the decrypted
/// response when that carries Observe: the endpoint orders notifications by
/// it (RFC 7641 section 3.4). A decrypted response without Observe (an
/// error ending the observation) gets none.
pub(crate) fn carry_observe(outer: &Response, decrypted: &mut Response) {
    if decrypted.options.contains(number::OBSERVE) {
        decrypted.options.remove(number::OBSERVE);
        if let Some(v) = outer.options.get_uint(number::OBSERVE) {
            decrypted.options.set_uint(number::OBSERVE, v);
        }
    }
}

fn text(payload: &[u8]) -> Option<String> {
    std::str::from_utf8(payload)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The typed error of a response without the OSCORE option.
fn unprotected(response: &Response) -> ClientError {
    if response.is_success() {
        ClientError::UnprotectedSuccess(response.code)
    } else {
        ClientError::Refused {
            code: response.code,
            diagnostic: text(&response.payload),
        }
    }
}

fn protect_oscore<L>(
    entry: &Entry<L>,
    request: &Request,
) -> Result<(Request, ClientExchange), ProtectError> {
    let packet = request_to_packet(request);
    let (outer, exchange) = entry.lock().protect_request(&packet)?;
    Ok((outer_request(&outer, request), exchange))
}

fn unprotect_oscore<L>(
    entry: &Entry<L>,
    exchange: &mut ClientExchange,
    response: &Response,
) -> Result<Response, ClientError> {
    if !response.options.contains(OSCORE_OPTION) {
        return Err(unprotected(response));
    }
    let packet = response_to_packet(response);
    let inner = entry
        .lock()
        .unprotect_response(&packet, exchange)
        .map_err(ClientError::Unprotect)?;
    let mut out = packet_to_response(&inner);
    carry_observe(response, &mut out);
    Ok(out)
}

fn unprotect_group(
    member: &GroupMember,
    exchange: &mut ClientExchange,
    response: &Response,
) -> Result<(Vec<u8>, Response), ClientError> {
    if !response.options.contains(OSCORE_OPTION) {
        return Err(unprotected(response));
    }
    member
        .unprotect_response(exchange, response)
        .map_err(ClientError::Unprotect)
}

/// The Echo value of a decrypted 4.01 challenge (RFC 9175 section 2.4).
fn echo_challenge(response: &Response) -> Option<Vec<u8>> {
    (response.code == Code::UNAUTHORIZED)
        .then(|| response.options.get(number::ECHO).map(<[u8]>::to_vec))
        .flatten()
}

// ---------------------------------------------------------------------------
// The client layer
// ---------------------------------------------------------------------------

/// The [`ClientLayer`] of a table (see the module docs): made by
/// [`OscoreContexts::client_layer`] and [`OscoreContexts::client_layer_for`].
pub struct OscoreClientLayer<L> {
    table: Arc<OscoreContexts<L>>,
    bound: Option<L>,
}

impl<L: Label> OscoreClientLayer<L> {
    /// Protects requests that name a context (or [`GroupSend`]) in
    /// [`Request::security`]; others go out unprotected.
    pub fn table(table: Arc<OscoreContexts<L>>) -> Self {
        Self { table, bound: None }
    }

    /// Protects every request with the context `label`, unless it names
    /// another one.
    pub fn bound(table: Arc<OscoreContexts<L>>, label: L) -> Self {
        Self {
            table,
            bound: Some(label),
        }
    }
}

struct Plain;

impl ClientExchangeLayer for Plain {
    fn incoming(&mut self, _from: SocketAddr, response: Response) -> Result<Response, LayerError> {
        Ok(response)
    }
}

/// The request to send again after a verified Echo challenge (RFC 9175
/// section 2.4): the original request with the Echo value.
fn with_echo(request: &Request, echo: Vec<u8>) -> Request {
    let mut again = request.clone();
    again.options.set(number::ECHO, echo);
    again
}

struct OscoreExchange<L> {
    entry: Arc<Entry<L>>,
    exchange: ClientExchange,
    /// The unprotected request, to repeat it with Echo.
    request: Request,
    /// Whether the last response verified (only a protected challenge is
    /// answered: an unprotected 4.01 with Echo could come from anyone).
    verified: bool,
}

impl<L: Label> ClientExchangeLayer for OscoreExchange<L> {
    fn incoming(&mut self, _from: SocketAddr, response: Response) -> Result<Response, LayerError> {
        self.verified = false;
        match unprotect_oscore(&self.entry, &mut self.exchange, &response) {
            Ok(r) => {
                self.verified = true;
                Ok(r)
            }
            // The peer's unprotected OSCORE error: passed on so that the
            // caller sees why (RFC 8613 section 8.2).
            Err(ClientError::Refused { .. }) => Ok(response),
            Err(e) => Err(LayerError::new(e.to_string())),
        }
    }

    /// A server without replay state answers with a protected 4.01 and Echo
    /// (RFC 8613 Appendix B.1.2): the request goes again with that value.
    fn repeat(&mut self, _from: SocketAddr, response: &Response) -> Option<Request> {
        let echo = echo_challenge(response).filter(|_| self.verified)?;
        Some(with_echo(&self.request, echo))
    }
}

struct GroupExchange<L> {
    group: L,
    member: GroupMember,
    exchange: ClientExchange,
    /// The unprotected request, to repeat it with Echo.
    request: Request,
    /// The Sender ID of the member whose response verified last.
    verified_kid: Option<Vec<u8>>,
}

impl<L: Label> ClientExchangeLayer for GroupExchange<L> {
    fn incoming(&mut self, _from: SocketAddr, response: Response) -> Result<Response, LayerError> {
        self.verified_kid = None;
        match unprotect_group(&self.member, &mut self.exchange, &response) {
            Ok((kid, r)) => {
                self.verified_kid = Some(kid);
                Ok(r)
            }
            Err(ClientError::Refused { .. }) => Ok(response),
            Err(e) => Err(LayerError::new(e.to_string())),
        }
    }

    /// A member without replay state answers with Echo; the request is
    /// repeated to it by unicast in pairwise mode (RFC 10021 section 9).
    fn repeat(&mut self, _from: SocketAddr, response: &Response) -> Option<Request> {
        let echo = echo_challenge(response)?;
        let kid = self.verified_kid.clone()?;
        let mut again = with_echo(&self.request, echo);
        again.security = Some(SecurityIdentity::new(GroupSend {
            group: self.group.clone(),
            mode: RequestMode::Pairwise(kid),
        }));
        Some(again)
    }
}

impl<L: Label> ClientLayer for OscoreClientLayer<L> {
    fn outgoing(
        &self,
        _destination: SocketAddr,
        request: Request,
    ) -> Result<(Request, Box<dyn ClientExchangeLayer>), LayerError> {
        if request.options.contains(OSCORE_OPTION) {
            // Already protected (by an OscoreClient on this endpoint).
            return Ok((request, Box::new(Plain)));
        }
        if let Some(send) = request.security::<GroupSend<L>>() {
            let member = self.table.group(&send.group).ok_or_else(|| {
                LayerError::new(ClientError::NoGroup(format!("{:?}", send.group)).to_string())
            })?;
            let (outer, exchange) = member
                .protect_request(&request, &send.mode)
                .map_err(|e| LayerError::new(ClientError::from(e).to_string()))?;
            let group = send.group.clone();
            return Ok((
                outer,
                Box::new(GroupExchange {
                    group,
                    member,
                    exchange,
                    request,
                    verified_kid: None,
                }),
            ));
        }
        let Some(label) = request.security::<L>().or(self.bound.as_ref()).cloned() else {
            return Ok((request, Box::new(Plain)));
        };
        let entry = self
            .table
            .get(&label)
            .filter(|e| !e.is_expired(self.table.now()))
            .ok_or_else(|| {
                LayerError::new(ClientError::NoContext(format!("{label:?}")).to_string())
            })?;
        let (outer, exchange) = protect_oscore(&entry, &request)
            .map_err(|e| LayerError::new(ClientError::from(e).to_string()))?;
        Ok((
            outer,
            Box::new(OscoreExchange {
                entry,
                exchange,
                request,
                verified: false,
            }),
        ))
    }
}

// ---------------------------------------------------------------------------
// The client wrapper
// ---------------------------------------------------------------------------

/// OSCORE and Group OSCORE requests over a [`CoapEndpoint`], with typed
/// errors and transparent Echo recovery (see the module docs). Cheap to
/// clone.
pub struct OscoreClient<L> {
    endpoint: CoapEndpoint,
    table: Arc<OscoreContexts<L>>,
}

impl<L> Clone for OscoreClient<L> {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            table: self.table.clone(),
        }
    }
}

impl<L: Label> std::fmt::Debug for OscoreClient<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreClient")
            .field("endpoint", &self.endpoint)
            .field("table", &self.table)
            .finish()
    }
}

impl<L: Label> OscoreClient<L> {
    /// A client sending through `endpoint` with the contexts of `table`.
    pub fn new(endpoint: CoapEndpoint, table: Arc<OscoreContexts<L>>) -> Self {
        Self { endpoint, table }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &CoapEndpoint {
        &self.endpoint
    }

    /// The table of contexts.
    pub fn contexts(&self) -> &Arc<OscoreContexts<L>> {
        &self.table
    }

    fn entry(&self, label: &L) -> Result<Arc<Entry<L>>, ClientError> {
        self.table
            .get(label)
            .filter(|e| !e.is_expired(self.table.now()))
            .ok_or_else(|| ClientError::NoContext(format!("{label:?}")))
    }

    fn member(&self, label: &L) -> Result<GroupMember, ClientError> {
        self.table
            .group(label)
            .ok_or_else(|| ClientError::NoGroup(format!("{label:?}")))
    }

    /// Sends `request` protected with the context `label` (CON) and returns
    /// the verified response.
    pub async fn request(
        &self,
        target: impl Into<Target>,
        label: &L,
        request: Request,
    ) -> Result<Response, ClientError> {
        self.request_with(target, label, request, RequestOptions::default())
            .await
    }

    /// [`OscoreClient::request`] with request options (NON, timeout).
    pub async fn request_with(
        &self,
        target: impl Into<Target>,
        label: &L,
        request: Request,
        options: RequestOptions,
    ) -> Result<Response, ClientError> {
        let (destination, request) = resolve_target(target.into(), request).await?;
        let entry = self.entry(label)?;
        let first = self.once(destination, &entry, &request, options).await?;
        let Some(echo) = echo_challenge(&first) else {
            return self
                .inner_blocks(destination, &entry, &request, first, options)
                .await;
        };
        let mut again = request;
        again.options.set(number::ECHO, echo);
        let second = self.once(destination, &entry, &again, options).await?;
        if echo_challenge(&second).is_some() {
            return Err(ClientError::EchoRepeated);
        }
        self.inner_blocks(destination, &entry, &again, second, options)
            .await
    }

    /// Completes a response that the server cut into Inner Block2 blocks
    /// (RFC 8613 section 4.1.3.4.1: block-wise transfer between the OSCORE
    /// endpoints, inside the protection; aiocoap's server does this): each
    /// further block is asked for with a new protected request carrying
    /// Block2, and the bodies are joined. The representation must not
    /// change in between (same ETag, RFC 7959 section 2.4).
    async fn inner_blocks(
        &self,
        destination: SocketAddr,
        entry: &Arc<Entry<L>>,
        request: &Request,
        mut response: Response,
        options: RequestOptions,
    ) -> Result<Response, ClientError> {
        let Some(value) = response.options.get(number::BLOCK2) else {
            return Ok(response);
        };
        let mut block =
            BlockOption::decode(value).map_err(|_| ClientError::InnerBlock("bad Block2"))?;
        if block.num != 0 || !response.is_success() {
            return Err(ClientError::InnerBlock("the first response is not block 0"));
        }
        let etag = response.options.etag().map(<[u8]>::to_vec);
        let mut body = std::mem::take(&mut response.payload);
        while block.more {
            if body.len() > MAX_INNER_BODY {
                return Err(ClientError::InnerBlock("body too large"));
            }
            let size = block.size();
            let next = BlockOption::new(
                u32::try_from(body.len() / size).unwrap_or(u32::MAX),
                false,
                block.szx,
            )
            .map_err(|_| ClientError::InnerBlock("too many blocks"))?;
            let mut leg = request.clone();
            leg.options.remove(number::OBSERVE);
            leg.options.set(number::BLOCK2, next.encode());
            let part = self.once(destination, entry, &leg, options).await?;
            if !part.is_success() {
                return Ok(part);
            }
            let got = part
                .options
                .get(number::BLOCK2)
                .map(BlockOption::decode)
                .ok_or(ClientError::InnerBlock("a block without Block2"))?
                .map_err(|_| ClientError::InnerBlock("bad Block2"))?;
            if got.offset() != body.len() || part.payload.len() > got.size() {
                return Err(ClientError::InnerBlock("unexpected block"));
            }
            if part.options.etag() != etag.as_deref() {
                return Err(ClientError::InnerBlock("the representation changed"));
            }
            body.extend_from_slice(&part.payload);
            block = got;
        }
        response.payload = body;
        response.options.remove(number::BLOCK2);
        response.options.remove(number::SIZE2);
        Ok(response)
    }

    async fn once(
        &self,
        destination: SocketAddr,
        entry: &Arc<Entry<L>>,
        request: &Request,
        options: RequestOptions,
    ) -> Result<Response, ClientError> {
        let (outer, mut exchange) = protect_oscore(entry, request)?;
        let response = self
            .endpoint
            .request_with(destination, outer, options)
            .await?;
        unprotect_oscore(entry, &mut exchange, &response)
    }

    /// Registers an observation (the request gets the inner Observe 0, so
    /// the outer code is FETCH, RFC 8613 section 4.1.3.5.1) and returns the
    /// stream of verified notifications. An Echo challenge to the
    /// registration is answered by registering again with the Echo value.
    pub async fn observe(
        &self,
        target: impl Into<Target>,
        label: &L,
        request: Request,
    ) -> Result<OscoreObservation<L>, ClientError> {
        let (destination, mut request) = resolve_target(target.into(), request).await?;
        request.options.set_uint(number::OBSERVE, 0);
        let entry = self.entry(label)?;
        let mut observation = self.register(destination, &entry, &request).await?;
        if let Some(Ok(first)) = &observation.first
            && let Some(echo) = echo_challenge(first)
        {
            request.options.set(number::ECHO, echo);
            observation = self.register(destination, &entry, &request).await?;
            if observation
                .first
                .as_ref()
                .is_some_and(|r| r.as_ref().is_ok_and(|r| echo_challenge(r).is_some()))
            {
                return Err(ClientError::EchoRepeated);
            }
        }
        Ok(observation)
    }

    async fn register(
        &self,
        destination: SocketAddr,
        entry: &Arc<Entry<L>>,
        request: &Request,
    ) -> Result<OscoreObservation<L>, ClientError> {
        let (outer, exchange) = protect_oscore(entry, request)?;
        let no_response = request.options.no_response();
        let inner = self
            .endpoint
            .observe_with_no_response(destination, outer, no_response)
            .await?;
        let mut observation = OscoreObservation {
            inner: Some(inner),
            entry: entry.clone(),
            exchange,
            first: None,
            done: false,
        };
        if request.options.no_response_declines(Code::CONTENT) {
            // A registration response comes only if it is not a success
            // (an Echo challenge, an error; RFC 7967): wait until either it
            // or the acknowledgement of the registration arrives.
            match observation.next_event().await {
                None => {
                    observation.done = true;
                    return Ok(observation);
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(None)) => return Ok(observation),
                Some(Ok(Some(first))) => {
                    observation.first = Some(Ok(first));
                    return Ok(observation);
                }
            }
        }
        match observation.next().await {
            Some(Err(e)) => Err(e),
            first => {
                observation.first = first;
                Ok(observation)
            }
        }
    }

    /// Sends a group request protected in `mode` (normally
    /// [`RequestMode::Group`]) to `group` (a multicast address, RFC 7252
    /// section 8.1; NON) with the membership `label`, and collects the
    /// responses arriving within `window`. Each is verified (RFC 10021
    /// section 7.4); a member that answers with an Echo challenge (it lost
    /// its replay state) is asked again in pairwise mode by unicast, as RFC
    /// 10021 section 9 requires, and its reply replaces the challenge.
    pub async fn group_request(
        &self,
        group: SocketAddr,
        label: &L,
        request: Request,
        mode: RequestMode,
        window: Duration,
    ) -> Result<GroupReplies, ClientError> {
        let member = self.member(label)?;
        let (outer, mut exchange) = member.protect_request(&request, &mode)?;
        let responses = self.endpoint.group_request(group, outer, window).await?;
        let mut out = GroupReplies::default();
        for (from, response) in responses {
            match unprotect_group(&member, &mut exchange, &response) {
                Ok((kid, response)) => {
                    if let Some(echo) = echo_challenge(&response) {
                        let mut again = request.clone();
                        again.options.set(number::ECHO, echo);
                        match self
                            .group_once(from, &member, &again, &RequestMode::Pairwise(kid))
                            .await
                        {
                            Ok(reply) if echo_challenge(&reply.response).is_none() => {
                                out.replies.push(reply);
                            }
                            Ok(_) => out.refused.push((from, ClientError::EchoRepeated)),
                            Err(e) => out.refused.push((from, e)),
                        }
                    } else {
                        out.replies.push(GroupReply {
                            from,
                            kid,
                            response,
                        });
                    }
                }
                Err(e) => {
                    tracing::debug!(%from, error = %e, "group response refused");
                    out.refused.push((from, e));
                }
            }
        }
        Ok(out)
    }

    /// Sends `request` by unicast to one member at `target` with the
    /// membership `label`, protected in `mode` (pairwise mode for that
    /// member's Sender ID, or group mode), and returns its verified reply.
    /// An Echo challenge is answered once, in pairwise mode.
    pub async fn group_unicast(
        &self,
        target: impl Into<Target>,
        label: &L,
        request: Request,
        mode: RequestMode,
    ) -> Result<GroupReply, ClientError> {
        let (destination, request) = resolve_target(target.into(), request).await?;
        let member = self.member(label)?;
        let first = self
            .group_once(destination, &member, &request, &mode)
            .await?;
        let Some(echo) = echo_challenge(&first.response) else {
            return Ok(first);
        };
        let mut again = request;
        again.options.set(number::ECHO, echo);
        let second = self
            .group_once(
                destination,
                &member,
                &again,
                &RequestMode::Pairwise(first.kid),
            )
            .await?;
        if echo_challenge(&second.response).is_some() {
            return Err(ClientError::EchoRepeated);
        }
        Ok(second)
    }

    async fn group_once(
        &self,
        destination: SocketAddr,
        member: &GroupMember,
        request: &Request,
        mode: &RequestMode,
    ) -> Result<GroupReply, ClientError> {
        let (outer, mut exchange) = member.protect_request(request, mode)?;
        let response = self.endpoint.request(destination, outer).await?;
        let (kid, response) = unprotect_group(member, &mut exchange, &response)?;
        Ok(GroupReply {
            from: destination,
            kid,
            response,
        })
    }
}

/// An OSCORE-protected observation: the verified registration response,
/// then verified notifications in order (RFC 8613 section 8.4.2). Dropping
/// it forgets the observation; the server learns of it from the Reset that
/// answers its next notification (RFC 7641 section 3.6).
pub struct OscoreObservation<L> {
    inner: Option<Observation>,
    entry: Arc<Entry<L>>,
    exchange: ClientExchange,
    first: Option<Result<Response, ClientError>>,
    done: bool,
}

impl<L: Label> std::fmt::Debug for OscoreObservation<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OscoreObservation")
            .field("label", &self.entry.label())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<L: Label> OscoreObservation<L> {
    /// The next verified response or notification; `None` once the
    /// observation has ended (the registration was not accepted, a
    /// notification with an error code, or the server ended it). A
    /// notification that does not verify is reported as an error and the
    /// observation continues.
    pub async fn next(&mut self) -> Option<Result<Response, ClientError>> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            match self.next_event().await? {
                Ok(Some(response)) => return Some(Ok(response)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next verified response, or `Ok(None)` when a registration whose
    /// response the server declines was acknowledged.
    async fn next_event(&mut self) -> Option<Result<Option<Response>, ClientError>> {
        if self.done {
            return None;
        }
        let inner = self.inner.as_mut()?;
        let item = inner.next_event().await;
        let outer = match item {
            None => {
                self.finish();
                return None;
            }
            Some(Err(e)) => {
                self.finish();
                return Some(Err(e.into()));
            }
            Some(Ok(None)) => return Some(Ok(None)),
            Some(Ok(Some(outer))) => outer,
        };
        let result = unprotect_oscore(&self.entry, &mut self.exchange, &outer);
        let ends = match &result {
            // The registration was not accepted, or an error notification
            // ends the observation (RFC 7641 sections 3.2 and 4.2).
            Ok(r) => !r.is_success() || !r.options.contains(number::OBSERVE),
            Err(_) => false,
        };
        if ends || inner.is_done() {
            self.finish();
        }
        Some(result.map(Some))
    }

    fn finish(&mut self) {
        self.done = true;
        // Dropping the endpoint's observation cancels it locally.
        self.inner = None;
    }

    /// Whether the observation has ended.
    pub fn is_done(&self) -> bool {
        self.done && self.first.is_none()
    }
}
