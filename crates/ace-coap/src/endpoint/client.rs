//! Client side: requests with NSTART, response matching by (peer, token),
//! separate responses, Block1 upload and Block2 download (RFC 7959), Observe
//! subscriptions with reordering detection (RFC 7641 section 3.4), and group
//! requests to a multicast address (RFC 7252 section 8.1).
//!
//! An exchange sends its wire requests one at a time ("legs"): the request,
//! then one leg per further Block1 or Block2 block, or a deregistration.
//! Each leg is a new message with a new Message ID; the first leg uses the
//! exchange's token (which also identifies an observation), later block legs
//! use fresh tokens, and a deregistration reuses the observation's token
//! (RFC 7641 section 3.6).

use super::dedup::{DedupState, Fingerprint, Seen};
use super::{ClientOutcome, ConOwner, Endpoint, Event, ExchangeError, ExchangeId, NonOwner, Timer};
use crate::block::{self, BlockOption};
use crate::option::{self, Options, number};
use crate::request::{Method, Request};
use crate::response::{Code, Response, codes};
use crate::wire::{self, Message, MessageType, Token};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A request for the client side of an [`Endpoint`].
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    /// The server, or a multicast group for a group request.
    pub destination: SocketAddr,
    /// The request (method, path, query, options, complete payload).
    pub request: Request,
    /// CON (default) or NON. Group requests are always NON (RFC 7252
    /// section 8.1).
    pub confirmable: bool,
    /// Register as an observer (GET or FETCH with Observe 0, RFC 7641).
    pub observe: bool,
    /// For a group request: how long to collect responses.
    pub collect_for: Option<Duration>,
    /// How long to wait for a response once the request is acknowledged
    /// (or sent, for NON); the endpoint's `response_timeout` if `None`.
    pub timeout: Option<Duration>,
    /// The No-Response value the server applies to this request (RFC 7967
    /// section 2.1), when the request's own No-Response option does not
    /// show it: a security layer carries it inside the protected payload
    /// (RFC 8613 section 4.1.3.6). An observation whose 2.xx answers are
    /// declined counts as registered once its registration is acknowledged
    /// (CON) or sent (NON): no registration response will come, only the
    /// notifications of the classes not declined.
    pub no_response: u8,
}

impl OutgoingRequest {
    /// A confirmable request to `destination`.
    pub fn new(destination: SocketAddr, request: Request) -> Self {
        Self {
            destination,
            request,
            confirmable: true,
            observe: false,
            collect_for: None,
            timeout: None,
            no_response: 0,
        }
    }

    /// Sends it as NON.
    #[must_use]
    pub fn non_confirmable(mut self) -> Self {
        self.confirmable = false;
        self
    }

    /// Registers an observation.
    #[must_use]
    pub fn observe(mut self) -> Self {
        self.observe = true;
        self
    }

    /// Makes it a group request collecting responses for `window`.
    #[must_use]
    pub fn collect_for(mut self, window: Duration) -> Self {
        self.collect_for = Some(window);
        self.confirmable = false;
        self
    }

    /// Sets the response timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegKind {
    /// The request itself (or its next Block1 block).
    Main,
    /// A request for Block2 block `num`.
    Block2 { num: u32, szx: u8 },
    /// GET with Observe 1 (RFC 7641 section 3.6).
    Deregister,
}

#[derive(Debug)]
struct Leg {
    token: Token,
    mid: u16,
    kind: LegKind,
    holds_slot: bool,
}

#[derive(Debug)]
struct Upload {
    szx: u8,
    offset: usize,
    done: bool,
}

#[derive(Debug)]
struct Download {
    code: Code,
    options: Options,
    etag: Option<Vec<u8>>,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct ObserveState {
    /// The server declines 2.xx answers (No-Response, RFC 7967): the
    /// registration is not answered, and neither is the deregistration.
    silent_success: bool,
    registered: bool,
    deregistering: bool,
    last: Option<(u32, Instant)>,
}

/// A client exchange.
#[derive(Debug)]
pub(crate) struct ClientExchange {
    destination: SocketAddr,
    multicast: bool,
    method: Method,
    options: Options,
    body: Vec<u8>,
    confirmable: bool,
    timeout: Duration,
    token: Token,
    observe: Option<ObserveState>,
    leg: Option<Leg>,
    pending: Option<LegKind>,
    upload: Option<Upload>,
    download: Option<Download>,
}

/// RFC 7641 section 3.4: whether notification (v2, t2) is newer than
/// (v1, t1).
pub(crate) fn is_fresher(v1: u32, t1: Instant, v2: u32, t2: Instant) -> bool {
    const HALF: u32 = 1 << 23;
    (v1 < v2 && v2 - v1 < HALF)
        || (v1 > v2 && v1 - v2 > HALF)
        || t2.saturating_duration_since(t1) > Duration::from_secs(128)
}

impl Endpoint {
    /// Starts a client exchange with the caller-chosen `id`. Its progress
    /// comes as [`Event::Client`] events.
    pub fn start_request(&mut self, now: Instant, id: ExchangeId, out: OutgoingRequest) {
        if self.exchanges.contains_key(&id) {
            let err = ExchangeError::InvalidRequest("exchange id in use".into());
            self.events.push_back(Event::Client {
                id,
                outcome: ClientOutcome::Failed(err),
            });
            return;
        }
        if self.exchanges.len() >= self.config.limits.max_client_exchanges {
            let outcome = ClientOutcome::Failed(ExchangeError::TooManyExchanges);
            self.events.push_back(Event::Client { id, outcome });
            return;
        }
        let multicast = out.destination.ip().is_multicast();
        let invalid = if multicast && out.collect_for.is_none() {
            Some("a group request needs a collection window")
        } else if multicast && out.observe {
            Some("group observation is not supported")
        } else if out
            .request
            .path
            .iter()
            .chain(&out.request.query)
            .any(|s| s.len() > 255)
        {
            Some("a Uri-Path or Uri-Query value is longer than 255 bytes")
        } else {
            None
        };
        if let Some(reason) = invalid {
            let outcome = ClientOutcome::Failed(ExchangeError::InvalidRequest(reason.into()));
            self.events.push_back(Event::Client { id, outcome });
            return;
        }
        let no_response = out.no_response | out.request.options.no_response();
        let Request {
            method,
            path,
            query,
            options: req_options,
            payload,
            ..
        } = out.request;
        let mut options = Options::new();
        for (n, v) in req_options.iter() {
            if !matches!(
                n,
                number::OBSERVE
                    | number::BLOCK1
                    | number::BLOCK2
                    | number::SIZE1
                    | number::SIZE2
                    | number::URI_PATH
                    | number::URI_QUERY
            ) {
                options.push(n, v);
            }
        }
        for segment in &path {
            options.push(number::URI_PATH, segment.as_bytes());
        }
        for argument in &query {
            options.push(number::URI_QUERY, argument.as_bytes());
        }
        let token = self.new_token(out.destination, multicast);
        let upload =
            (!multicast && payload.len() > self.config.limits.block_size).then(|| Upload {
                szx: self.config.block_szx(),
                offset: 0,
                done: false,
            });
        let exchange = ClientExchange {
            destination: out.destination,
            multicast,
            method,
            options,
            body: payload,
            confirmable: out.confirmable && !multicast,
            timeout: out.timeout.unwrap_or(self.config.response_timeout),
            token,
            observe: out.observe.then(|| ObserveState {
                silent_success: no_response & option::no_response_bit(Code::CONTENT) != 0,
                ..ObserveState::default()
            }),
            leg: None,
            pending: None,
            upload,
            download: None,
        };
        self.exchanges.insert(id, exchange);
        if multicast {
            self.group_tokens.insert(token, id);
            if let Some(window) = out.collect_for {
                self.timers.push(now + window, Timer::GroupDeadline { id });
            }
        } else {
            self.tokens.insert((out.destination, token), id);
        }
        self.send_leg(now, id, LegKind::Main);
    }

    /// Abandons an exchange without an event. An observation is forgotten
    /// locally; the server learns of it from the RST that answers its next
    /// notification (RFC 7641 section 3.6).
    pub fn cancel(&mut self, now: Instant, id: ExchangeId) {
        self.finish_exchange(now, id);
    }

    /// Ends an observation by sending GET with Observe 1 and the
    /// registration's token (RFC 7641 section 3.6). The response to it ends
    /// the exchange. An exchange that is not an established observation is
    /// cancelled.
    pub fn deregister(&mut self, now: Instant, id: ExchangeId) {
        let registered = self
            .exchanges
            .get(&id)
            .and_then(|e| e.observe.as_ref())
            .is_some_and(|o| o.registered && !o.deregistering);
        if !registered {
            self.cancel(now, id);
            return;
        }
        self.end_leg(now, id);
        if let Some(ex) = self.exchanges.get_mut(&id) {
            ex.download = None;
            if let Some(o) = ex.observe.as_mut() {
                o.deregistering = true;
            }
        }
        self.send_leg(now, id, LegKind::Deregister);
    }

    /// Sends the next leg of an exchange, or queues it behind NSTART.
    fn send_leg(&mut self, now: Instant, id: ExchangeId, kind: LegKind) {
        let nstart = self.config.transmission.nstart.max(1);
        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        let (destination, multicast) = (ex.destination, ex.multicast);
        if !multicast {
            let peer = self.peer(now, destination);
            if peer.outstanding >= nstart {
                peer.waiting.push_back(id);
                if let Some(ex) = self.exchanges.get_mut(&id) {
                    ex.pending = Some(kind);
                }
                return;
            }
            peer.outstanding += 1;
        }
        let first_main = kind == LegKind::Main
            && self
                .exchanges
                .get(&id)
                .is_none_or(|e| e.upload.as_ref().is_none_or(|u| u.offset == 0));
        let token = match kind {
            LegKind::Deregister => self.exchanges.get(&id).map(|e| e.token).unwrap_or_default(),
            LegKind::Main if first_main => {
                self.exchanges.get(&id).map(|e| e.token).unwrap_or_default()
            }
            _ => self.new_token(destination, false),
        };
        let mid = self.next_mid(now, destination);
        let our_szx = self.config.block_szx();
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let mut options = ex.options.clone();
        let payload = match kind {
            LegKind::Main => {
                if ex.observe.is_some() {
                    options.set_uint(number::OBSERVE, 0);
                }
                // Early negotiation (RFC 7959 section 2.4): ask for blocks
                // no larger than ours when ours are below the 1024 maximum.
                if our_szx < block::MAX_SZX && !multicast {
                    options.set(
                        number::BLOCK2,
                        BlockOption {
                            num: 0,
                            more: false,
                            szx: our_szx,
                        }
                        .encode(),
                    );
                }
                match ex.upload.as_ref() {
                    Some(up) => {
                        let size = block::size_of_szx(up.szx);
                        let num = u32::try_from(up.offset / size).unwrap_or(u32::MAX);
                        let end = (up.offset + size).min(ex.body.len());
                        let more = end < ex.body.len();
                        options.set(
                            number::BLOCK1,
                            BlockOption {
                                num,
                                more,
                                szx: up.szx,
                            }
                            .encode(),
                        );
                        if up.offset == 0 {
                            options.set_uint(
                                number::SIZE1,
                                u32::try_from(ex.body.len()).unwrap_or(u32::MAX),
                            );
                        }
                        ex.body[up.offset..end].to_vec()
                    }
                    None => ex.body.clone(),
                }
            }
            LegKind::Block2 { num, szx } => {
                options.set(
                    number::BLOCK2,
                    BlockOption {
                        num,
                        more: false,
                        szx,
                    }
                    .encode(),
                );
                // RFC 7959 section 2.4: the same request with Block2; a FETCH
                // repeats its body (RFC 8132 section 2.3.2), others omit it.
                if ex.method == Method::Fetch {
                    ex.body.clone()
                } else {
                    Vec::new()
                }
            }
            LegKind::Deregister => {
                options.set_uint(number::OBSERVE, 1);
                if ex.method == Method::Fetch {
                    ex.body.clone()
                } else {
                    Vec::new()
                }
            }
        };
        let mtype = if ex.confirmable {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let msg = Message {
            mtype,
            code: ex.method.code(),
            mid,
            token,
            options,
            payload,
        };
        let timeout = ex.timeout;
        let confirmable = ex.confirmable;
        let bytes = match wire::encode(&msg, self.config.limits.max_datagram_size) {
            Ok(b) => b,
            Err(e) => {
                if !multicast {
                    self.release_slot(now, destination);
                }
                self.fail_exchange(now, id, ExchangeError::InvalidRequest(e.to_string()));
                return;
            }
        };
        if let Some(ex) = self.exchanges.get_mut(&id) {
            ex.leg = Some(Leg {
                token,
                mid,
                kind,
                holds_slot: !multicast,
            });
            ex.pending = None;
        }
        if !multicast && token != self.exchanges.get(&id).map(|e| e.token).unwrap_or_default() {
            self.tokens.insert((destination, token), id);
        }
        if confirmable {
            self.send_con(now, destination, mid, bytes, ConOwner::Client(id));
        } else {
            if !multicast {
                self.non_out
                    .insert((destination, mid), NonOwner::Client(id));
                self.timers
                    .push(now + timeout, Timer::LegDeadline { id, token });
            }
            self.push_transmit(destination, bytes);
            self.unanswered_leg_done(now, id, kind);
        }
    }

    /// A registration or deregistration leg whose 2.xx answer the server
    /// declines (No-Response, RFC 7967 section 2.1) is done once it is
    /// acknowledged (CON) or sent (NON): a registration then counts as
    /// accepted (later notifications, or an error, tell otherwise), a
    /// deregistration ends the exchange. Returns whether it was such a leg.
    fn unanswered_leg_done(&mut self, now: Instant, id: ExchangeId, kind: LegKind) -> bool {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return false;
        };
        let uploading = ex.upload.as_ref().is_some_and(|u| !u.done);
        let Some(obs) = ex.observe.as_mut().filter(|o| o.silent_success) else {
            return false;
        };
        match kind {
            LegKind::Main if !obs.registered && !uploading => {
                obs.registered = true;
                self.end_leg(now, id);
                self.events.push_back(Event::Client {
                    id,
                    outcome: ClientOutcome::Registered,
                });
                true
            }
            LegKind::Deregister => {
                self.events.push_back(Event::Client {
                    id,
                    outcome: ClientOutcome::Finished,
                });
                self.finish_exchange(now, id);
                true
            }
            _ => false,
        }
    }

    /// Frees an NSTART slot towards `peer` and sends queued legs.
    fn release_slot(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.outstanding = p.outstanding.saturating_sub(1);
        }
        let nstart = self.config.transmission.nstart.max(1);
        loop {
            let Some(p) = self.peers.get_mut(&peer) else {
                return;
            };
            if p.outstanding >= nstart {
                return;
            }
            let Some(next) = p.waiting.pop_front() else {
                return;
            };
            if let Some(kind) = self.exchanges.get_mut(&next).and_then(|e| e.pending.take()) {
                self.send_leg(now, next, kind);
            }
        }
    }

    /// Ends the current leg of an exchange: stops its retransmission, frees
    /// its NSTART slot and forgets its token (unless it is the exchange's).
    fn end_leg(&mut self, now: Instant, id: ExchangeId) -> Option<LegKind> {
        let ex = self.exchanges.get_mut(&id)?;
        let leg = ex.leg.take()?;
        let (destination, main_token, multicast) = (ex.destination, ex.token, ex.multicast);
        self.con_out.remove(&(destination, leg.mid));
        self.non_out.remove(&(destination, leg.mid));
        if leg.token != main_token {
            self.tokens.remove(&(destination, leg.token));
        }
        if leg.holds_slot && !multicast {
            self.release_slot(now, destination);
        }
        Some(leg.kind)
    }

    /// Removes an exchange and everything it holds.
    fn finish_exchange(&mut self, now: Instant, id: ExchangeId) {
        self.end_leg(now, id);
        if let Some(ex) = self.exchanges.remove(&id) {
            if ex.multicast {
                self.group_tokens.remove(&ex.token);
            } else {
                self.tokens.remove(&(ex.destination, ex.token));
                if ex.pending.is_some()
                    && let Some(p) = self.peers.get_mut(&ex.destination)
                {
                    p.waiting.retain(|w| *w != id);
                }
            }
        }
    }

    pub(super) fn fail_exchange(&mut self, now: Instant, id: ExchangeId, error: ExchangeError) {
        if !self.exchanges.contains_key(&id) {
            return;
        }
        if error == ExchangeError::Timeout {
            self.stats.timeouts += 1;
        }
        self.events.push_back(Event::Client {
            id,
            outcome: ClientOutcome::Failed(error),
        });
        self.finish_exchange(now, id);
    }

    /// An ACK for a client leg: empty (a separate response follows) or with
    /// a piggybacked response.
    pub(super) fn client_acked(
        &mut self,
        now: Instant,
        id: ExchangeId,
        from: SocketAddr,
        mid: u16,
        response: Option<Message>,
    ) {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let Some(leg) = ex.leg.as_mut() else { return };
        if leg.mid != mid {
            return;
        }
        let timeout = ex.timeout;
        match response {
            Some(msg) if msg.token == leg.token => {
                if has_unknown_critical(&msg.options, &self.config.extra_critical_options) {
                    self.fail_exchange(
                        now,
                        id,
                        ExchangeError::MalformedResponse("unrecognised critical option"),
                    );
                    return;
                }
                self.leg_response(now, id, from, msg);
            }
            _ => {
                // Empty ACK (or a piggybacked response with a foreign token,
                // which RFC 7252 section 5.3.2 makes unusable): the request
                // arrived; wait for a separate response, unless none will
                // come.
                let kind = leg.kind;
                if self.unanswered_leg_done(now, id, kind) {
                    return;
                }
                let Some(leg) = self.exchanges.get_mut(&id).and_then(|e| e.leg.as_mut()) else {
                    return;
                };
                let token = leg.token;
                let held = std::mem::replace(&mut leg.holds_slot, false);
                self.timers
                    .push(now + timeout, Timer::LegDeadline { id, token });
                if held {
                    self.release_slot(now, from);
                }
            }
        }
    }

    /// A CON or NON response: a separate response, a notification, or a
    /// response to a group request.
    pub(super) fn on_separate_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: Message,
        datagram_len: usize,
    ) {
        let con = msg.mtype == MessageType::Con;
        let fp = Fingerprint {
            code: msg.code,
            token: msg.token,
            len: datagram_len,
        };
        let replay = match self.dedup.check(now, from, msg.mid, fp) {
            Seen::New => None,
            Seen::Duplicate(DedupState::Reply(Some(bytes))) => Some(Some(bytes.to_vec())),
            Seen::Duplicate(_) => Some(None),
        };
        if let Some(replay) = replay {
            self.stats.duplicates += 1;
            if let Some(bytes) = replay {
                self.push_transmit(from, bytes);
            }
            return;
        }
        let id = self
            .tokens
            .get(&(from, msg.token))
            .or_else(|| self.group_tokens.get(&msg.token))
            .copied();
        let unusable = has_unknown_critical(&msg.options, &self.config.extra_critical_options);
        let Some(id) = id.filter(|_| !unusable) else {
            // Not matching any exchange (or unusable): rejected with a RST
            // (RFC 7252 section 5.3.2, 4.2, 4.3). For a NON the RST is
            // optional; sending it is how a client that forgot an
            // observation cancels it (RFC 7641 section 3.6).
            self.send_reset(from, msg.mid);
            let reply = con.then(|| Box::from(&wire::encode_empty(MessageType::Rst, msg.mid)[..]));
            self.dedup
                .insert(now, from, msg.mid, fp, con, DedupState::Reply(reply));
            return;
        };
        let reply = if con {
            let ack = wire::encode_empty(MessageType::Ack, msg.mid);
            self.push_transmit(from, ack.to_vec());
            Some(Box::from(&ack[..]))
        } else {
            None
        };
        self.dedup
            .insert(now, from, msg.mid, fp, con, DedupState::Reply(reply));

        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        let is_leg = ex.leg.as_ref().is_some_and(|l| l.token == msg.token);
        let is_notification = msg.token == ex.token
            && ex
                .observe
                .as_ref()
                .is_some_and(|o| o.registered && !o.deregistering);
        if ex.multicast || (is_leg && !is_notification) {
            self.leg_response(now, id, from, msg);
        } else if is_notification {
            self.client_notification(now, id, from, msg);
        } else if is_leg {
            self.leg_response(now, id, from, msg);
        }
    }

    /// The response to the current leg of an exchange.
    fn leg_response(&mut self, now: Instant, id: ExchangeId, from: SocketAddr, msg: Message) {
        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        if ex.multicast {
            // Group responses are delivered as they come; the exchange ends
            // at the collection deadline. A block-wise group response is
            // delivered as its first block (its Block2 option tells).
            let response = response_of(msg);
            let outcome = ClientOutcome::Response {
                from,
                response,
                last: false,
            };
            self.events.push_back(Event::Client { id, outcome });
            return;
        }
        let Some(kind) = self.end_leg(now, id) else {
            return;
        };
        let code = Code(msg.code);

        // Block1 upload in progress (RFC 7959 section 2.5).
        if kind == LegKind::Main
            && let Some(ex) = self.exchanges.get_mut(&id)
            && let Some(up) = ex.upload.as_mut()
            && !up.done
        {
            if code == codes::CONTINUE {
                let server_szx = msg
                    .options
                    .get(number::BLOCK1)
                    .and_then(|v| BlockOption::decode(v).ok());
                up.offset += block::size_of_szx(up.szx);
                if let Some(b) = server_szx {
                    up.szx = up.szx.min(b.szx);
                }
                if up.offset >= ex.body.len() {
                    self.fail_exchange(
                        now,
                        id,
                        ExchangeError::MalformedResponse("2.31 after the last block"),
                    );
                    return;
                }
                self.send_leg(now, id, LegKind::Main);
                return;
            }
            up.done = true;
        }

        // Block2 download (RFC 7959 section 2.4).
        if code.is_success()
            && let Some(v) = msg.options.get(number::BLOCK2)
        {
            let Ok(b2) = BlockOption::decode(v) else {
                self.fail_exchange(now, id, ExchangeError::MalformedResponse("bad Block2"));
                return;
            };
            let expected = match kind {
                LegKind::Block2 { num, .. } => num,
                _ => 0,
            };
            if b2.num != expected {
                self.fail_exchange(
                    now,
                    id,
                    ExchangeError::MalformedResponse("unexpected Block2 number"),
                );
                return;
            }
            match self.absorb_block(id, b2, msg) {
                Err(e) => self.fail_exchange(now, id, e),
                Ok(Some(response)) => self.deliver(now, id, from, response),
                Ok(None) => self.send_leg(
                    now,
                    id,
                    LegKind::Block2 {
                        num: b2.num + 1,
                        szx: b2.szx,
                    },
                ),
            }
            return;
        }
        if kind == LegKind::Deregister {
            let response = response_of(msg);
            self.events.push_back(Event::Client {
                id,
                outcome: ClientOutcome::Response {
                    from,
                    response,
                    last: true,
                },
            });
            self.finish_exchange(now, id);
            return;
        }
        let response = response_of(msg);
        self.deliver(now, id, from, response);
    }

    /// Adds a Block2 block to the download; returns the complete response
    /// after the last block.
    fn absorb_block(
        &mut self,
        id: ExchangeId,
        b2: BlockOption,
        msg: Message,
    ) -> Result<Option<Response>, ExchangeError> {
        let max_body = self.config.limits.max_body_size;
        let ex = self.exchanges.get_mut(&id).ok_or(ExchangeError::Timeout)?;
        let etag = msg.options.etag().map(<[u8]>::to_vec);
        if b2.num == 0 {
            if msg
                .options
                .get_uint(number::SIZE2)
                .is_some_and(|s| s as usize > max_body)
            {
                return Err(ExchangeError::ResponseTooLarge(max_body));
            }
            let mut options = msg.options;
            options.remove(number::BLOCK2);
            options.remove(number::SIZE2);
            ex.download = Some(Download {
                code: Code(msg.code),
                options,
                etag,
                body: msg.payload,
            });
        } else {
            let dl = ex
                .download
                .as_mut()
                .ok_or(ExchangeError::MalformedResponse(
                    "block without its first block",
                ))?;
            if dl.etag != etag {
                return Err(ExchangeError::RepresentationChanged);
            }
            if dl.body.len() != b2.offset() {
                return Err(ExchangeError::MalformedResponse(
                    "block at the wrong offset",
                ));
            }
            dl.body.extend_from_slice(&msg.payload);
        }
        let dl = ex
            .download
            .as_ref()
            .ok_or(ExchangeError::MalformedResponse("no download"))?;
        if dl.body.len() > max_body {
            ex.download = None;
            return Err(ExchangeError::ResponseTooLarge(max_body));
        }
        if b2.more {
            return Ok(None);
        }
        let dl = ex
            .download
            .take()
            .ok_or(ExchangeError::MalformedResponse("no download"))?;
        let mut response = Response::new(dl.code);
        response.options = dl.options;
        response.payload = dl.body;
        Ok(Some(response))
    }

    /// A notification for an established observation (RFC 7641 section 3.2).
    fn client_notification(
        &mut self,
        now: Instant,
        id: ExchangeId,
        from: SocketAddr,
        msg: Message,
    ) {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let Some(obs) = ex.observe.as_mut() else {
            return;
        };
        let seq = msg.options.observe();
        let code = Code(msg.code);
        if code.is_success()
            && let Some(seq) = seq
        {
            if let Some((v1, t1)) = obs.last
                && !is_fresher(v1, t1, seq, now)
            {
                // Older than what was delivered: drop (section 3.4).
                return;
            }
            obs.last = Some((seq, now));
        }
        // A newer notification supersedes a block-wise download in progress.
        self.end_leg(now, id);
        if let Some(ex) = self.exchanges.get_mut(&id) {
            ex.download = None;
        }
        if code.is_success()
            && let Some(v) = msg.options.get(number::BLOCK2)
        {
            let Ok(b2) = BlockOption::decode(v) else {
                self.fail_exchange(now, id, ExchangeError::MalformedResponse("bad Block2"));
                return;
            };
            if b2.num != 0 {
                return;
            }
            match self.absorb_block(id, b2, msg) {
                Err(e) => self.fail_exchange(now, id, e),
                Ok(Some(response)) => self.deliver(now, id, from, response),
                Ok(None) => self.send_leg(
                    now,
                    id,
                    LegKind::Block2 {
                        num: 1,
                        szx: b2.szx,
                    },
                ),
            }
            return;
        }
        self.deliver(now, id, from, response_of(msg));
    }

    /// Hands a complete response to the application; ends the exchange
    /// unless it continues an observation.
    fn deliver(&mut self, now: Instant, id: ExchangeId, from: SocketAddr, response: Response) {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let last = match ex.observe.as_mut() {
            Some(obs) if !obs.deregistering && response.is_success() => match response.observe() {
                Some(seq) => {
                    if !obs.registered {
                        obs.registered = true;
                        obs.last = Some((seq, now));
                    }
                    false
                }
                None => true,
            },
            _ => true,
        };
        self.events.push_back(Event::Client {
            id,
            outcome: ClientOutcome::Response {
                from,
                response,
                last,
            },
        });
        if last {
            self.finish_exchange(now, id);
        }
    }

    pub(super) fn on_leg_deadline(&mut self, now: Instant, id: ExchangeId, token: Token) {
        let waiting = self
            .exchanges
            .get(&id)
            .and_then(|e| e.leg.as_ref())
            .is_some_and(|l| l.token == token);
        if waiting {
            self.fail_exchange(now, id, ExchangeError::Timeout);
        }
    }

    pub(super) fn on_group_deadline(&mut self, id: ExchangeId) {
        if self.exchanges.get(&id).is_some_and(|e| e.multicast) {
            self.events.push_back(Event::Client {
                id,
                outcome: ClientOutcome::Finished,
            });
            // No NSTART slot or retransmission to release for a group leg.
            if let Some(ex) = self.exchanges.remove(&id) {
                self.group_tokens.remove(&ex.token);
            }
        }
    }
}

/// The response a message carries (Observe and the other options kept).
fn response_of(msg: Message) -> Response {
    let mut response = Response::new(Code(msg.code));
    response.options = msg.options;
    response.payload = msg.payload;
    response
}

/// Whether a response carries a critical option this endpoint does not know
/// (RFC 7252 section 5.4.1: such a response is rejected).
fn has_unknown_critical(options: &Options, extra: &[u16]) -> bool {
    options.iter().any(|(n, _)| {
        option::is_critical(n)
            && !extra.contains(&n)
            && (option::definition(n).is_none() || n == number::OSCORE || n == number::EDHOC)
    })
}
