//! Server side: incoming requests, Block1 reassembly, Block2 serving and the
//! choice between piggybacked, separate and NON responses (RFC 7252 section
//! 5.2, RFC 7959 section 2).

use super::blockwise::{RequestKey, etag_for, request_key};
use super::dedup::{DedupState, Fingerprint, Seen};
use super::observe::ObserverKey;
use super::{ConOwner, Endpoint, Event, JobId, Via};
use crate::block::{self, BlockOption};
use crate::handler::EndReason;
use crate::option::{self, Options, number};
use crate::request::{Method, Origin, PathParams, Request, RequestMeta};
use crate::response::{Code, Response, codes};
use crate::wire::{self, Message, MessageType, Token};
use std::net::SocketAddr;
use std::time::Instant;

/// A run of the handler chain the endpoint waits for.
#[derive(Debug)]
pub(crate) enum Job {
    /// A request from the network.
    Exchange(ServerExchange),
    /// An observer's request replayed to produce a notification.
    Notification(ObserverKey),
}

/// What the endpoint remembers about a request while its handler runs.
#[derive(Debug, Clone)]
pub(crate) struct ServerExchange {
    peer: SocketAddr,
    via: Via,
    mid: u16,
    token: Token,
    confirmable: bool,
    ack_sent: bool,
    key: RequestKey,
    /// The Block2 option of the request (RFC 7959 section 2.4).
    block2: Option<BlockOption>,
    /// The Block1 option to echo in the final response (section 2.3).
    block1_echo: Option<BlockOption>,
    /// The request to keep if the response accepts an Observe registration.
    observe: Option<Box<Request>>,
    /// The No-Response suppression bits (RFC 7967 section 2.1).
    no_response: u8,
    /// The request asked for the representation size (Size2, RFC 7959
    /// section 4).
    wants_size2: bool,
}

/// What to do with a message that may be a duplicate.
enum DupAction {
    New,
    Replay(Vec<u8>),
    Ignore,
    InProgress(JobId),
}

impl Endpoint {
    /// Handles a CON or NON request.
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        via: Via,
        msg: Message,
        datagram_len: usize,
        oversized: bool,
    ) {
        let con = msg.mtype == MessageType::Con;
        if via == Via::Multicast && con {
            // Multicast requests are NON (RFC 7252 section 8.1).
            self.stats.malformed += 1;
            return;
        }
        let fp = Fingerprint {
            code: msg.code,
            token: msg.token,
            len: datagram_len,
        };
        let action = match self.dedup.check(now, from, msg.mid, fp) {
            Seen::New => DupAction::New,
            Seen::Duplicate(DedupState::Reply(Some(bytes))) => DupAction::Replay(bytes.to_vec()),
            Seen::Duplicate(DedupState::Reply(None)) => DupAction::Ignore,
            Seen::Duplicate(DedupState::InProgress(job)) => DupAction::InProgress(*job),
        };
        match action {
            DupAction::New => {}
            DupAction::Replay(bytes) => {
                self.stats.duplicates += 1;
                self.push_transmit(from, bytes);
                return;
            }
            DupAction::Ignore => {
                self.stats.duplicates += 1;
                return;
            }
            DupAction::InProgress(job) => {
                // The client retransmits while the handler runs: acknowledge
                // now and answer later with a separate response.
                self.stats.duplicates += 1;
                if con {
                    self.send_separate_ack(job);
                }
                return;
            }
        }
        self.dedup
            .insert(now, from, msg.mid, fp, con, DedupState::Reply(None));

        let mut x = ServerExchange {
            peer: from,
            via,
            mid: msg.mid,
            token: msg.token,
            confirmable: con,
            ack_sent: false,
            key: RequestKey(0),
            block2: None,
            block1_echo: None,
            observe: None,
            no_response: msg.options.no_response(),
            wants_size2: msg.options.contains(number::SIZE2),
        };

        if oversized {
            // RFC 7959 section 2.9.3: 4.13 with a Block1 option giving the
            // block size the server wants.
            let mut r = Response::new(Code::REQUEST_ENTITY_TOO_LARGE);
            let hint = BlockOption {
                num: 0,
                more: false,
                szx: self.config.block_szx(),
            };
            r.options.set(number::BLOCK1, hint.encode());
            self.complete_exchange(now, x, r);
            return;
        }
        if let Err(r) = self.check_request_options(&msg.options) {
            if con {
                self.complete_exchange(now, x, r);
            } else if via == Via::Unicast {
                // A NON with an unrecognised critical option is rejected
                // (RFC 7252 section 5.4.1 and 4.3).
                self.send_reset(from, msg.mid);
            }
            return;
        }
        let Some(method) = Method::from_code(msg.code) else {
            self.complete_exchange(now, x, Response::new(Code::METHOD_NOT_ALLOWED));
            return;
        };
        let (path, query) = match parse_uri(&msg.options) {
            Ok(v) => v,
            Err(diagnostic) => {
                self.complete_exchange(now, x, Response::bad_request(diagnostic));
                return;
            }
        };
        let Message {
            options: wire_options,
            payload,
            ..
        } = msg;
        let mut options = Options::new();
        for (n, v) in wire_options.iter() {
            if !matches!(
                n,
                number::URI_PATH
                    | number::URI_QUERY
                    | number::BLOCK1
                    | number::BLOCK2
                    | number::SIZE1
                    | number::SIZE2
            ) {
                options.push(n, v);
            }
        }

        // Block1: reassemble the request body (RFC 7959 section 2.5).
        let mut payload = payload;
        if let Some(v) = wire_options.get(number::BLOCK1) {
            match self.receive_block1(now, &mut x, method, &options, &wire_options, v, payload) {
                Some(body) => payload = body,
                None => return,
            }
        }
        x.key = request_key(
            method.code(),
            &options,
            (method == Method::Fetch).then_some(payload.as_slice()),
        );

        // Block2: a request for a later block is served from the cache.
        if let Some(v) = wire_options.get(number::BLOCK2) {
            let Ok(b2) = BlockOption::decode(v) else {
                self.complete_exchange(
                    now,
                    x,
                    Response::new(Code::BAD_OPTION).with_payload("bad Block2"),
                );
                return;
            };
            x.block2 = Some(b2);
            if b2.num > 0 {
                if let Some(cached) = self.block2.get(now, &(from, x.key)) {
                    let (code, opts, chunk) = serve_block(
                        cached.code,
                        &cached.options,
                        &cached.payload,
                        b2,
                        self.config.block_szx(),
                    );
                    self.send_response(now, &mut x, code, opts, chunk);
                    return;
                }
                if !method.is_safe() {
                    // No state for this transfer any more (RFC 7959 section
                    // 2.9.2 gives 4.08 for an incomplete request entity).
                    self.complete_exchange(now, x, Response::new(codes::REQUEST_ENTITY_INCOMPLETE));
                    return;
                }
            }
        }

        // Observe (RFC 7641 section 4.1): only GET and FETCH, only unicast.
        let observer = ObserverKey {
            peer: from,
            token: x.token,
        };
        if method.is_safe() && via == Via::Unicast {
            match options.observe() {
                Some(0) if x.block2.is_none_or(|b| b.num == 0) => {
                    x.observe = Some(Box::new(Request {
                        method,
                        path: path.clone(),
                        query: query.clone(),
                        options: options.clone(),
                        payload: payload.clone(),
                        params: PathParams::default(),
                        peer: from,
                        security: None,
                        meta: RequestMeta {
                            token: x.token,
                            confirmable: con,
                            multicast: false,
                            origin: Origin::Network,
                        },
                    }));
                }
                Some(1) => self.remove_observer(observer, EndReason::Deregistered),
                Some(_) => {}
                None => {
                    // A GET without Observe with the token of an observation
                    // ends it (RFC 7641 section 3.6).
                    self.remove_observer(observer, EndReason::Deregistered);
                }
            }
        }

        if self.jobs.len() >= self.config.limits.max_concurrent_requests {
            let r = Response::new(Code::SERVICE_UNAVAILABLE).with_max_age(1);
            self.complete_exchange(now, x, r);
            return;
        }
        let id = JobId(self.next_job);
        self.next_job += 1;
        self.dedup
            .set_state(from, x.mid, DedupState::InProgress(id));
        if con {
            self.separate_ack
                .push(now + self.config.separate_response_after, id);
        }
        let request = Request {
            method,
            path,
            query,
            options,
            payload,
            params: PathParams::default(),
            peer: from,
            security: None,
            meta: RequestMeta {
                token: x.token,
                confirmable: con,
                multicast: via == Via::Multicast,
                origin: Origin::Network,
            },
        };
        self.jobs.insert(id, Job::Exchange(x));
        self.stats.requests += 1;
        self.events.push_back(Event::Request { id, request });
    }

    /// Checks the options of a request (RFC 7252 section 5.4.1, 5.4.3,
    /// 5.4.5): unrecognised critical options, critical options with a bad
    /// length, and repeated non-repeatable critical options give 4.02;
    /// Proxy-Uri and Proxy-Scheme give 5.05 (not a proxy, section 5.7.2).
    fn check_request_options(&self, options: &Options) -> Result<(), Response> {
        let mut previous = None;
        for (n, v) in options.iter() {
            let repeated = previous == Some(n);
            previous = Some(n);
            if matches!(n, number::PROXY_URI | number::PROXY_SCHEME) {
                return Err(Response::new(Code::new(5, 5)));
            }
            let extra = self.config.extra_critical_options.contains(&n);
            let known = match option::definition(n) {
                Some(_) if n == number::EDHOC || n == number::OSCORE => extra,
                Some(d) => {
                    extra
                        || (v.len() >= d.min_len
                            && v.len() <= d.max_len
                            && (d.repeatable || !repeated))
                }
                None => extra,
            };
            if !known && option::is_critical(n) {
                let name = option::name(n).map_or_else(|| format!("option {n}"), str::to_owned);
                return Err(
                    Response::new(Code::BAD_OPTION).with_payload(format!("unsupported {name}"))
                );
            }
        }
        Ok(())
    }

    /// Processes a Block1 block. Returns the complete body when this was the
    /// last block, or `None` when a response (2.31, 4.08, 4.13, 4.00) was
    /// sent.
    #[allow(clippy::too_many_arguments)]
    fn receive_block1(
        &mut self,
        now: Instant,
        x: &mut ServerExchange,
        method: Method,
        options: &Options,
        wire_options: &Options,
        value: &[u8],
        payload: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let take = |x: &mut ServerExchange| x.clone();
        let max_body = self.config.limits.max_body_size;
        let too_large = |max: usize| {
            Response::new(Code::REQUEST_ENTITY_TOO_LARGE).with_option(
                number::SIZE1,
                option::encode_uint(u32::try_from(max).unwrap_or(u32::MAX)),
            )
        };
        let Ok(b1) = BlockOption::decode(value) else {
            self.complete_exchange(
                now,
                take(x),
                Response::new(Code::BAD_OPTION).with_payload("bad Block1"),
            );
            return None;
        };
        if wire_options
            .get_uint(number::SIZE1)
            .is_some_and(|s| s as usize > max_body)
        {
            self.complete_exchange(now, take(x), too_large(max_body));
            return None;
        }
        if payload.len() > b1.size() || (b1.more && payload.len() != b1.size()) {
            let r = Response::bad_request("Block1 payload does not match its size");
            self.complete_exchange(now, take(x), r);
            return None;
        }
        let key = (x.peer, request_key(method.code(), options, None));
        let our_szx = b1.szx.min(self.config.block_szx());
        if b1.num == 0 {
            self.block1.start(now, key, payload);
        } else {
            let Some(a) = self.block1.get(now, &key) else {
                self.complete_exchange(
                    now,
                    take(x),
                    Response::new(codes::REQUEST_ENTITY_INCOMPLETE),
                );
                return None;
            };
            if a.body.len() != b1.offset() {
                self.block1.remove(&key);
                self.complete_exchange(
                    now,
                    take(x),
                    Response::new(codes::REQUEST_ENTITY_INCOMPLETE),
                );
                return None;
            }
            a.body.extend_from_slice(&payload);
        }
        let assembled = self.block1.get(now, &key).map_or(0, |a| a.body.len());
        if assembled > max_body {
            self.block1.remove(&key);
            self.complete_exchange(now, take(x), too_large(max_body));
            return None;
        }
        if b1.more {
            // Atomic transfer: acknowledge the block with 2.31 Continue,
            // indicating our preferred block size (RFC 7959 section 2.3).
            let echo = BlockOption {
                num: b1.num,
                more: true,
                szx: our_szx,
            };
            let r = Response::new(codes::CONTINUE).with_option(number::BLOCK1, echo.encode());
            self.complete_exchange(now, take(x), r);
            return None;
        }
        x.block1_echo = Some(BlockOption {
            num: b1.num,
            more: false,
            szx: b1.szx,
        });
        self.block1.remove(&key)
    }

    /// Answers job `id` with `response` (from the handler chain).
    pub fn respond(&mut self, now: Instant, id: JobId, response: Response) {
        match self.jobs.remove(&id) {
            Some(Job::Exchange(x)) => self.complete_exchange(now, x, response),
            Some(Job::Notification(key)) => self.complete_notification(now, key, id, response),
            None => {}
        }
    }

    /// Sends the final response of a server exchange: registers the
    /// observer if the response accepts an Observe registration, then sends
    /// it, unless it is silenced or declined by the request's No-Response
    /// option (RFC 7967 section 2.1) or an error to a multicast request
    /// (RFC 7252 section 8.2): then a Confirmable request only gets an
    /// empty ACK, so that the client stops retransmitting (RFC 7252 section
    /// 4.2), and a Non-confirmable one nothing.
    fn complete_exchange(&mut self, now: Instant, mut x: ServerExchange, mut response: Response) {
        response.options.remove(number::OBSERVE);
        if let Some(resource) = response.observed_resource.take() {
            let observer = ObserverKey {
                peer: x.peer,
                token: x.token,
            };
            let registered = match x.observe.take() {
                Some(request) if response.is_success() => {
                    self.register_observer(now, x.peer, x.token, resource, *request, x.key)
                }
                _ => None,
            };
            match registered {
                Some(seq) => response.options.set_uint(number::OBSERVE, seq),
                // The chain accepted a registration the endpoint does not
                // keep: layers must forget what they stored for it.
                None if !self.observers.contains(&observer) => {
                    self.observation_ended(observer, EndReason::NotRegistered);
                }
                None => {}
            }
        }
        let suppress = response.silent
            || response.code == codes::EMPTY
            || x.no_response & option::no_response_bit(response.code) != 0
            || (x.via == Via::Multicast
                && !response.is_success()
                && !self.config.respond_to_multicast_errors);
        if suppress {
            let reply = if x.confirmable && !x.ack_sent {
                let ack = wire::encode_empty(MessageType::Ack, x.mid);
                self.push_transmit(x.peer, ack.to_vec());
                Some(Box::from(&ack[..]))
            } else {
                None
            };
            if !x.ack_sent {
                // Duplicates get the same empty ACK, or (NON) nothing.
                self.dedup
                    .set_state(x.peer, x.mid, DedupState::Reply(reply));
            }
            return;
        }
        if let Some(b1) = x.block1_echo {
            response.options.set(number::BLOCK1, b1.encode());
        }
        if x.wants_size2 && response.is_success() {
            let size = u32::try_from(response.payload.len()).unwrap_or(u32::MAX);
            response.options.set_uint(number::SIZE2, size);
        }
        let (code, options, payload) = self.shape_fresh(now, x.peer, x.key, x.block2, response);
        self.send_response(now, &mut x, code, options, payload);
    }

    /// Cuts a fresh response into its first (or requested) Block2 block when
    /// it does not fit, caching the whole body for later block requests.
    pub(super) fn shape_fresh(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        key: RequestKey,
        requested: Option<BlockOption>,
        response: Response,
    ) -> (Code, Options, Vec<u8>) {
        let Response {
            code,
            mut options,
            payload,
            ..
        } = response;
        let ours = self.config.block_szx();
        let szx = requested.map_or(ours, |b| b.szx.min(ours));
        let fits = payload.len() <= block::size_of_szx(szx);
        if !code.is_success() || (fits && requested.is_none()) {
            if code.is_success() || fits {
                return (code, options, payload);
            }
            // An oversized error diagnostic is cut, not split (an error
            // response carries no ETag, so it cannot be block-wise).
            let mut payload = payload;
            payload.truncate(block::size_of_szx(szx));
            return (code, options, payload);
        }
        if !fits && !options.contains(number::ETAG) {
            options.push(number::ETAG, etag_for(code, &options, &payload).to_vec());
        }
        let block = requested.unwrap_or(BlockOption {
            num: 0,
            more: false,
            szx,
        });
        let shaped = serve_block(code, &options, &payload, block, ours);
        if !fits {
            self.block2.insert(now, (peer, key), code, options, payload);
        }
        shaped
    }

    /// Sends a response as a piggybacked ACK, a separate CON, or a NON.
    fn send_response(
        &mut self,
        now: Instant,
        x: &mut ServerExchange,
        code: Code,
        options: Options,
        payload: Vec<u8>,
    ) {
        let (mtype, mid) = if x.confirmable && !x.ack_sent {
            (MessageType::Ack, x.mid)
        } else if x.confirmable {
            (MessageType::Con, self.next_mid(now, x.peer))
        } else {
            (MessageType::Non, self.next_mid(now, x.peer))
        };
        let msg = Message {
            mtype,
            code: code.0,
            mid,
            token: x.token,
            options,
            payload,
        };
        let bytes = match wire::encode(&msg, self.config.limits.max_datagram_size) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(peer = %x.peer, error = %e, "response does not fit; sending 5.00");
                let fallback = Message {
                    options: Options::new(),
                    payload: Vec::new(),
                    code: Code::INTERNAL_SERVER_ERROR.0,
                    ..msg
                };
                match wire::encode(&fallback, usize::MAX) {
                    Ok(b) => b,
                    Err(_) => return,
                }
            }
        };
        match mtype {
            MessageType::Ack => {
                self.dedup.set_state(
                    x.peer,
                    x.mid,
                    DedupState::Reply(Some(bytes.clone().into_boxed_slice())),
                );
            }
            MessageType::Con => {
                self.send_con(now, x.peer, mid, bytes, ConOwner::Response);
                return;
            }
            _ => {}
        }
        if x.via == Via::Multicast {
            self.push_delayed(now, x.peer, bytes);
        } else {
            self.push_transmit(x.peer, bytes);
        }
    }

    /// Sends an empty ACK for a CON request whose handler is slow, so that
    /// the client stops retransmitting (RFC 7252 section 5.2.2).
    pub(super) fn send_separate_ack(&mut self, id: JobId) {
        let Some(Job::Exchange(x)) = self.jobs.get_mut(&id) else {
            return;
        };
        if !x.confirmable || x.ack_sent {
            return;
        }
        x.ack_sent = true;
        let (peer, mid) = (x.peer, x.mid);
        let ack = wire::encode_empty(MessageType::Ack, mid);
        self.dedup
            .set_state(peer, mid, DedupState::Reply(Some(Box::new(ack))));
        self.stats.separate_acks += 1;
        self.push_transmit(peer, ack.to_vec());
    }
}

/// Parses Uri-Path and Uri-Query (RFC 7252 section 6.5): UTF-8, and no `.`
/// or `..` segments (section 5.10.1).
fn parse_uri(options: &Options) -> Result<(Vec<String>, Vec<String>), &'static str> {
    let mut path = Vec::with_capacity(options.count(number::URI_PATH));
    for v in options.get_all(number::URI_PATH) {
        let s = std::str::from_utf8(v).map_err(|_| "Uri-Path is not UTF-8")?;
        if s == "." || s == ".." {
            return Err("Uri-Path segment . or ..");
        }
        path.push(s.to_owned());
    }
    let mut query = Vec::new();
    for v in options.get_all(number::URI_QUERY) {
        query.push(
            std::str::from_utf8(v)
                .map_err(|_| "Uri-Query is not UTF-8")?
                .to_owned(),
        );
    }
    Ok((path, query))
}

/// Builds the response carrying block `requested` of a representation
/// (RFC 7959 section 2.4). The block size is the requested one or ours if
/// smaller; the block number is recomputed for it from the byte offset.
/// Size2 goes with the first block (section 4). A block beyond the end is
/// 4.02 Bad Option.
fn serve_block(
    code: Code,
    options: &Options,
    payload: &[u8],
    requested: BlockOption,
    ours: u8,
) -> (Code, Options, Vec<u8>) {
    let szx = requested.szx.min(ours);
    let num = u32::try_from(requested.offset() / block::size_of_szx(szx)).unwrap_or(u32::MAX);
    let Some((chunk, more)) = block::slice(payload, num, szx) else {
        return (
            Code::BAD_OPTION,
            Options::new(),
            b"block beyond the end".to_vec(),
        );
    };
    let mut opts = options.clone();
    opts.set(number::BLOCK2, BlockOption { num, more, szx }.encode());
    if num == 0 {
        opts.set_uint(
            number::SIZE2,
            u32::try_from(payload.len()).unwrap_or(u32::MAX),
        );
    }
    (code, opts, chunk.to_vec())
}
