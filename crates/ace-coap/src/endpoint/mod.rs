//! The sans-I/O CoAP endpoint: message layer, block-wise transfer and
//! Observe as one deterministic state machine (RFC 7252, RFC 7959, RFC 7641).
//!
//! [`Endpoint`] owns no socket and reads no clock; like quinn-proto's
//! `Connection` its methods fall into four groups:
//!
//! * inputs: [`Endpoint::handle_datagram`], [`Endpoint::handle_timeout`];
//! * commands: [`Endpoint::respond`] (a handler's answer),
//!   [`Endpoint::start_request`], [`Endpoint::cancel`],
//!   [`Endpoint::deregister`] (client), [`Endpoint::notify`] (Observe);
//! * outputs, polled after every input or command, in this order:
//!   [`Endpoint::poll_transmit`] (datagrams to send),
//!   [`Endpoint::poll_event`] (requests for handlers, client results),
//!   [`Endpoint::poll_timeout`] (when to call `handle_timeout` next);
//! * getters: [`Endpoint::stats`].
//!
//! Time is the `now` the caller passes in, so tests run two endpoints on a
//! simulated clock, and the tokio driver (`crate::runtime`) is a thin loop.
//!
//! Layering inside: datagrams are decoded (`crate::wire`), deduplicated and
//! acknowledged (message layer, RFC 7252 section 4), then block-wise
//! transfers are reassembled (RFC 7959) before a complete request becomes an
//! [`Event::Request`]; a complete [`Response`] passed to `respond` is cut
//! into blocks, given Observe sequence numbers (RFC 7641) and sent as a
//! piggybacked ACK, a separate CON or a NON.

mod blockwise;
mod client;
mod dedup;
mod observe;
mod server;
#[cfg(test)]
mod tests;
mod timers;

use crate::config::ProtocolConfig;
use crate::handler::{EndReason, ObservationEnded};
use crate::request::Request;
use crate::response::Response;
use crate::wire::{self, Message, MessageType, Token};
use blockwise::{Block1Store, Block2Cache};
use dedup::DedupCache;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use timers::{TimerFifo, TimerHeap};

pub use client::OutgoingRequest;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The encoded CoAP message.
    pub payload: Vec<u8>,
}

/// How a datagram arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Sent to one of our unicast addresses.
    Unicast,
    /// Sent to a multicast group we joined (RFC 7252 section 8).
    Multicast,
}

/// Identifies one run of the handler chain; answer it with
/// [`Endpoint::respond`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// Identifies a client exchange; chosen by the caller of
/// [`Endpoint::start_request`], unique among live exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(pub u64);

/// What the endpoint asks of its driver.
#[derive(Debug)]
pub enum Event {
    /// Run the handler chain on `request` and pass the result to
    /// [`Endpoint::respond`] with `id`. Either a request from the network or
    /// an observer's stored request replayed to produce a notification
    /// (`request.meta.origin`).
    Request {
        /// The job to answer.
        id: JobId,
        /// The complete request.
        request: Request,
    },
    /// A client exchange made progress.
    Client {
        /// The exchange.
        id: ExchangeId,
        /// What happened.
        outcome: ClientOutcome,
    },
    /// The endpoint stopped notifying an observer; pass it to the handler
    /// chain ([`crate::Handler::observation_ended`]) so that layers free
    /// their per-observation state. Comes before any [`Event::Request`]
    /// that the same input produced.
    ObservationEnded(ObservationEnded),
}

/// Progress of a client exchange.
#[derive(Debug)]
pub enum ClientOutcome {
    /// A complete (reassembled) response or notification. `last` is true
    /// when the exchange is over: the response to a plain request, a final
    /// notification, or the response to a deregistration.
    Response {
        /// The responding endpoint (a group member, for group requests).
        from: SocketAddr,
        /// The response.
        response: Response,
        /// Whether the exchange ends with it.
        last: bool,
    },
    /// An observation whose registration response the server declines
    /// (No-Response, RFC 7967) was acknowledged (CON) or sent (NON): it
    /// counts as registered; notifications follow.
    Registered,
    /// The exchange failed and is over.
    Failed(ExchangeError),
    /// A group request's collection time ended.
    Finished,
}

/// Why a client exchange failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ExchangeError {
    /// No ACK after MAX_RETRANSMIT retransmissions, or no response within
    /// the response timeout (RFC 7252 section 4.2, section 5.2.2).
    #[error("no response from the peer in time")]
    Timeout,
    /// The peer answered with a Reset (RFC 7252 section 4.2).
    #[error("the peer reset the exchange")]
    Reset,
    /// The request cannot be sent (e.g. an option that does not fit).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A block-wise response grew beyond the configured body limit.
    #[error("response body exceeds {0} bytes")]
    ResponseTooLarge(usize),
    /// The representation changed during a block-wise transfer (ETag
    /// mismatch, RFC 7959 section 2.4).
    #[error("representation changed during a block-wise transfer")]
    RepresentationChanged,
    /// The peer sent a response this endpoint cannot use.
    #[error("malformed response: {0}")]
    MalformedResponse(&'static str),
    /// Too many exchanges are already running.
    #[error("too many concurrent exchanges")]
    TooManyExchanges,
}

/// Which observers a notification is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyTarget {
    /// Observers of exactly this resource path (e.g. `/ace-group/g1`).
    Resource(String),
    /// Observers of this path and of every path below it.
    Subtree(String),
}

/// Counters, for tests, logs and the load tool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_in: u64,
    /// Datagrams returned by `poll_transmit`.
    pub datagrams_out: u64,
    /// Datagrams that were not valid CoAP.
    pub malformed: u64,
    /// Duplicate CON/NON messages detected.
    pub duplicates: u64,
    /// CON retransmissions sent.
    pub retransmissions: u64,
    /// Requests passed to handlers (not counting notification replays).
    pub requests: u64,
    /// Notifications sent.
    pub notifications: u64,
    /// Empty ACKs sent ahead of a separate response.
    pub separate_acks: u64,
    /// RST messages sent.
    pub resets_sent: u64,
    /// Client exchanges that failed with a timeout.
    pub timeouts: u64,
}

/// The message-layer owner of an outgoing CON awaiting its ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConOwner {
    /// A client request leg.
    Client(ExchangeId),
    /// A separate response or a final notification.
    Response,
    /// A notification to an observer.
    Notification(observe::ObserverKey),
}

/// An outgoing CON being retransmitted (RFC 7252 section 4.2).
#[derive(Debug)]
struct Retransmission {
    bytes: Vec<u8>,
    attempt: u32,
    timeout: Duration,
    owner: ConOwner,
}

/// The owner of an outgoing NON, to match a Reset (RFC 7252 section 4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonOwner {
    Client(ExchangeId),
    Notification(observe::ObserverKey),
}

/// Per-peer state: Message IDs and NSTART (RFC 7252 section 4.4, 4.7).
#[derive(Debug)]
struct PeerState {
    next_mid: u16,
    outstanding: usize,
    waiting: VecDeque<ExchangeId>,
    last_used: Instant,
}

/// Timers of varying duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// Retransmit the CON `(peer, mid)` if attempt `attempt` is still unacknowledged.
    Retransmit {
        peer: SocketAddr,
        mid: u16,
        attempt: u32,
    },
    /// Fail the leg with `token` of exchange `id` if it still awaits a response.
    LegDeadline { id: ExchangeId, token: Token },
    /// End the collection of a group request.
    GroupDeadline { id: ExchangeId },
    /// Send a delayed response (multicast leisure, RFC 7252 section 8.2).
    Delayed { seq: u64 },
}

/// How often housekeeping (expiring caches, idle peers) runs.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// A CoAP endpoint without I/O. See the module documentation.
#[derive(Debug)]
pub struct Endpoint {
    config: ProtocolConfig,
    rng: StdRng,
    stats: Stats,

    // Outputs.
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    delayed: HashMap<u64, Transmit>,
    delayed_seq: u64,

    // Timers.
    timers: TimerHeap<Timer>,
    separate_ack: TimerFifo<JobId>,
    next_housekeeping: Option<Instant>,

    // Message layer.
    dedup: DedupCache,
    con_out: HashMap<(SocketAddr, u16), Retransmission>,
    non_out: HashMap<(SocketAddr, u16), NonOwner>,
    peers: HashMap<SocketAddr, PeerState>,

    // Server.
    jobs: HashMap<JobId, server::Job>,
    next_job: u64,
    block1: Block1Store,
    block2: Block2Cache,
    observers: observe::Registry,

    // Client.
    exchanges: HashMap<ExchangeId, client::ClientExchange>,
    tokens: HashMap<(SocketAddr, Token), ExchangeId>,
    group_tokens: HashMap<Token, ExchangeId>,
}

impl Endpoint {
    /// A new endpoint. `seed` seeds the generator of Message IDs, tokens and
    /// retransmission jitter; pass fresh randomness in production (tokens
    /// must be unpredictable, RFC 7252 section 5.3.1) and a fixed value in
    /// deterministic tests.
    pub fn new(config: ProtocolConfig, seed: [u8; 32]) -> Self {
        let lifetime = config.transmission.exchange_lifetime();
        Self {
            dedup: DedupCache::new(dedup::DedupLimits {
                per_peer: config.limits.dedup_per_peer,
                max_peers: config.limits.max_dedup_peers,
                max_bytes: config.limits.max_dedup_bytes,
                con_lifetime: lifetime,
                non_lifetime: config.transmission.non_lifetime(),
            }),
            block1: Block1Store::new(config.limits.max_block1_transfers, lifetime),
            block2: Block2Cache::new(config.limits.max_block_cache_bytes, lifetime),
            observers: observe::Registry::default(),
            rng: StdRng::from_seed(seed),
            stats: Stats::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            delayed: HashMap::new(),
            delayed_seq: 0,
            timers: TimerHeap::new(),
            separate_ack: TimerFifo::new(),
            next_housekeeping: None,
            con_out: HashMap::new(),
            non_out: HashMap::new(),
            peers: HashMap::new(),
            jobs: HashMap::new(),
            next_job: 0,
            exchanges: HashMap::new(),
            tokens: HashMap::new(),
            group_tokens: HashMap::new(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProtocolConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The number of registered observers (RFC 7641).
    pub fn observer_count(&self) -> usize {
        self.observers.len()
    }

    /// The number of live client exchanges.
    pub fn exchange_count(&self) -> usize {
        self.exchanges.len()
    }

    /// Whether nothing is pending: no CON awaiting an ACK, no handler
    /// running, no client exchange, no delayed response.
    pub fn is_idle(&self) -> bool {
        self.con_out.is_empty()
            && self.jobs.is_empty()
            && self.exchanges.is_empty()
            && self.delayed.is_empty()
            && self.transmits.is_empty()
    }

    // ----- inputs -----

    /// Processes one received datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, via: Via, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        self.arm_housekeeping(now);
        let message = match wire::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                // A malformed CON is rejected with a RST (RFC 7252 section
                // 4.2); anything else is silently ignored (section 4.3).
                if let Some(h) = wire::peek_header(bytes)
                    && h.mtype == MessageType::Con
                    && via == Via::Unicast
                {
                    self.send_reset(from, h.mid);
                }
                return;
            }
        };
        let oversized = bytes.len() > self.config.limits.max_datagram_size;
        let class = message.code >> 5;
        match (message.mtype, message.code) {
            (MessageType::Con, 0) => {
                // CoAP ping (RFC 7252 section 4.3): answered with a RST.
                if via == Via::Unicast {
                    self.send_reset(from, message.mid);
                }
            }
            (MessageType::Non, 0) => self.stats.malformed += 1,
            (MessageType::Ack, 0) => self.on_ack(now, from, message.mid, None),
            (MessageType::Rst, 0) => self.on_reset(now, from, message.mid),
            (MessageType::Con | MessageType::Non, _) if class == 0 => {
                self.handle_request(now, from, via, message, bytes.len(), oversized);
            }
            (MessageType::Ack, _) if message.is_response() => {
                self.on_ack(now, from, message.mid, Some(message));
            }
            (MessageType::Con | MessageType::Non, _) if message.is_response() => {
                self.on_separate_response(now, from, message, bytes.len());
            }
            _ => {
                // Reserved classes 1, 6, 7; a request in an ACK; a RST with
                // a code: message format errors (RFC 7252 section 4.2, 4.3).
                self.stats.malformed += 1;
                if message.mtype == MessageType::Con && via == Via::Unicast {
                    self.send_reset(from, message.mid);
                }
            }
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Retransmit { peer, mid, attempt } => {
                    self.on_retransmit_timer(now, peer, mid, attempt);
                }
                Timer::LegDeadline { id, token } => self.on_leg_deadline(now, id, token),
                Timer::GroupDeadline { id } => self.on_group_deadline(id),
                Timer::Delayed { seq } => {
                    if let Some(t) = self.delayed.remove(&seq) {
                        self.transmits.push_back(t);
                    }
                }
            }
        }
        while let Some(job) = self.separate_ack.pop_due(now) {
            self.send_separate_ack(job);
        }
        if self.next_housekeeping.is_some_and(|t| t <= now) {
            self.next_housekeeping = None;
            self.dedup.expire(now);
            self.block1.expire(now);
            self.block2.expire(now);
            let idle_after = self.config.transmission.exchange_lifetime();
            self.peers.retain(|_, p| {
                p.outstanding > 0
                    || !p.waiting.is_empty()
                    || now.duration_since(p.last_used) < idle_after
            });
            if self.dedup.len() > 0
                || self.block1.len() > 0
                || self.block2.len() > 0
                || !self.peers.is_empty()
            {
                self.next_housekeeping = Some(now + HOUSEKEEPING);
            }
        }
    }

    // ----- outputs -----

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        self.stats.datagrams_out += 1;
        Some(t)
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        timers::earliest([
            self.timers.next_deadline(),
            self.separate_ack.next_deadline(),
            self.next_housekeeping,
        ])
    }

    // ----- shared helpers -----

    fn arm_housekeeping(&mut self, now: Instant) {
        if self.next_housekeeping.is_none() {
            self.next_housekeeping = Some(now + HOUSEKEEPING);
        }
    }

    fn push_transmit(&mut self, destination: SocketAddr, payload: Vec<u8>) {
        self.transmits.push_back(Transmit {
            destination,
            payload,
        });
    }

    /// Queues a datagram to go out after a random delay within
    /// DEFAULT_LEISURE (RFC 7252 section 8.2).
    fn push_delayed(&mut self, now: Instant, destination: SocketAddr, payload: Vec<u8>) {
        let leisure = self.config.transmission.default_leisure;
        let delay = leisure.mul_f64(self.rng.random::<f64>());
        self.delayed_seq += 1;
        let seq = self.delayed_seq;
        self.delayed.insert(
            seq,
            Transmit {
                destination,
                payload,
            },
        );
        self.timers.push(now + delay, Timer::Delayed { seq });
    }

    fn send_reset(&mut self, to: SocketAddr, mid: u16) {
        self.stats.resets_sent += 1;
        self.push_transmit(to, wire::encode_empty(MessageType::Rst, mid).to_vec());
    }

    fn peer(&mut self, now: Instant, addr: SocketAddr) -> &mut PeerState {
        let rng = &mut self.rng;
        let p = self.peers.entry(addr).or_insert_with(|| PeerState {
            next_mid: rng.random(),
            outstanding: 0,
            waiting: VecDeque::new(),
            last_used: now,
        });
        p.last_used = now;
        p
    }

    /// A fresh Message ID for a message to `peer` (RFC 7252 section 4.4: not
    /// reused with the same peer within EXCHANGE_LIFETIME; the counter
    /// starts at a random value and wraps after 65536 messages).
    fn next_mid(&mut self, now: Instant, peer: SocketAddr) -> u16 {
        let p = self.peer(now, peer);
        let mid = p.next_mid;
        p.next_mid = p.next_mid.wrapping_add(1);
        mid
    }

    /// The initial retransmission timeout, random in [ACK_TIMEOUT,
    /// ACK_TIMEOUT * ACK_RANDOM_FACTOR] (RFC 7252 section 4.2).
    fn initial_timeout(&mut self) -> Duration {
        let t = &self.config.transmission;
        let factor = 1.0 + (t.ack_random_factor - 1.0).max(0.0) * self.rng.random::<f64>();
        t.ack_timeout.mul_f64(factor)
    }

    /// Sends a CON and tracks it for retransmission.
    fn send_con(
        &mut self,
        now: Instant,
        to: SocketAddr,
        mid: u16,
        bytes: Vec<u8>,
        owner: ConOwner,
    ) {
        let timeout = self.initial_timeout();
        self.send_con_with(now, to, mid, bytes, owner, 0, timeout);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_con_with(
        &mut self,
        now: Instant,
        to: SocketAddr,
        mid: u16,
        bytes: Vec<u8>,
        owner: ConOwner,
        attempt: u32,
        timeout: Duration,
    ) {
        self.push_transmit(to, bytes.clone());
        self.timers.push(
            now + timeout,
            Timer::Retransmit {
                peer: to,
                mid,
                attempt,
            },
        );
        self.con_out.insert(
            (to, mid),
            Retransmission {
                bytes,
                attempt,
                timeout,
                owner,
            },
        );
    }

    fn on_retransmit_timer(&mut self, now: Instant, peer: SocketAddr, mid: u16, attempt: u32) {
        let Some(r) = self.con_out.get_mut(&(peer, mid)) else {
            return;
        };
        if r.attempt != attempt {
            return;
        }
        if r.attempt >= self.config.transmission.max_retransmit {
            // Give up (RFC 7252 section 4.2).
            if let Some(r) = self.con_out.remove(&(peer, mid)) {
                self.on_con_failed(now, peer, r.owner, ExchangeError::Timeout);
            }
            return;
        }
        r.attempt += 1;
        r.timeout *= 2;
        let (bytes, attempt, timeout) = (r.bytes.clone(), r.attempt, r.timeout);
        self.stats.retransmissions += 1;
        self.push_transmit(peer, bytes);
        self.timers
            .push(now + timeout, Timer::Retransmit { peer, mid, attempt });
    }

    /// An ACK arrived, empty or with a piggybacked response.
    fn on_ack(&mut self, now: Instant, from: SocketAddr, mid: u16, response: Option<Message>) {
        let Some(r) = self.con_out.remove(&(from, mid)) else {
            // An ACK for nothing we sent (or already acknowledged): ignore.
            return;
        };
        match r.owner {
            ConOwner::Client(id) => self.client_acked(now, id, from, mid, response),
            ConOwner::Response => {}
            ConOwner::Notification(key) => self.notification_acked(key, mid),
        }
    }

    /// A RST arrived for one of our CON or NON messages.
    fn on_reset(&mut self, now: Instant, from: SocketAddr, mid: u16) {
        if let Some(r) = self.con_out.remove(&(from, mid)) {
            self.on_con_failed(now, from, r.owner, ExchangeError::Reset);
        } else if let Some(owner) = self.non_out.remove(&(from, mid)) {
            match owner {
                NonOwner::Client(id) => self.fail_exchange(now, id, ExchangeError::Reset),
                // RFC 7641 section 3.6: a RST to a notification cancels it.
                NonOwner::Notification(key) => self.remove_observer(key, EndReason::Reset),
            }
        }
    }

    fn on_con_failed(
        &mut self,
        now: Instant,
        _peer: SocketAddr,
        owner: ConOwner,
        error: ExchangeError,
    ) {
        match owner {
            ConOwner::Client(id) => self.fail_exchange(now, id, error),
            ConOwner::Response => {}
            // RFC 7641 section 4.5: an unacknowledged CON notification or a
            // RST ends the observation.
            ConOwner::Notification(key) => {
                let reason = match error {
                    ExchangeError::Reset => EndReason::Reset,
                    _ => EndReason::Timeout,
                };
                self.remove_observer(key, reason);
            }
        }
    }

    /// Generates a token not in use with `destination` (RFC 7252 section
    /// 5.3.1).
    fn new_token(&mut self, destination: SocketAddr, multicast: bool) -> Token {
        let len = self.config.token_length.clamp(1, 8);
        loop {
            let mut bytes = [0u8; 8];
            self.rng.fill(&mut bytes[..len]);
            let token = Token::new(&bytes[..len]).unwrap_or_default();
            let taken = if multicast {
                self.group_tokens.contains_key(&token)
            } else {
                self.tokens.contains_key(&(destination, token))
            };
            if !taken {
                return token;
            }
        }
    }
}

/// Shared by server and client code: an `Arc` wrapper used when a response
/// is passed by the application for several observers.
pub(crate) type SharedResponse = Arc<Response>;
