//! Endpoints wired together in memory on a simulated clock (in the manner of
//! quinn-proto's `tests::util::Pair`), with configurable datagram loss.

use super::*;
use crate::block::BlockOption;
use crate::config::ProtocolConfig;
use crate::option::{Options, number};
use crate::request::{Method, Origin, Request};
use crate::response::{Code, Response, codes};
use crate::test_rng::XorShift;
use crate::wire::{self, Message, MessageType, Token};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

type Handler = Box<dyn FnMut(&Request) -> Option<Response>>;
type LossFn = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) -> bool>;

struct Node {
    addr: SocketAddr,
    ep: Endpoint,
    groups: Vec<SocketAddr>,
    handler: Handler,
    /// Requests whose handler chose to answer later.
    deferred: Vec<(JobId, Request)>,
    /// Every request passed to the handler.
    seen: Vec<Request>,
    outcomes: Vec<(ExchangeId, ClientOutcome)>,
    /// Observations the endpoint reported as ended.
    ended: Vec<crate::handler::ObservationEnded>,
}

/// A simulated network of endpoints.
struct Sim {
    now: Instant,
    nodes: Vec<Node>,
    /// Decides whether to drop a datagram: (from, to, bytes) -> drop?
    loss: LossFn,
    /// Every delivered datagram: (from, to, bytes).
    wire: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Raw datagrams received by addresses that have no node.
    unbound: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), 5683)
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

impl Sim {
    fn new() -> Self {
        Self {
            now: Instant::now(),
            nodes: Vec::new(),
            loss: Box::new(|_, _, _| false),
            wire: Vec::new(),
            unbound: Vec::new(),
        }
    }

    fn add(&mut self, addr: SocketAddr, config: ProtocolConfig, handler: Handler) -> usize {
        let n = self.nodes.len() as u8 + 1;
        self.nodes.push(Node {
            addr,
            ep: Endpoint::new(config, seed(n)),
            groups: Vec::new(),
            handler,
            deferred: Vec::new(),
            seen: Vec::new(),
            outcomes: Vec::new(),
            ended: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Moves datagrams and events until nothing happens at the current time.
    fn settle(&mut self) {
        loop {
            let mut progressed = false;
            for i in 0..self.nodes.len() {
                while let Some(ev) = self.nodes[i].ep.poll_event() {
                    progressed = true;
                    match ev {
                        Event::Request { id, request } => {
                            self.nodes[i].seen.push(request.clone());
                            match (self.nodes[i].handler)(&request) {
                                Some(r) => self.nodes[i].ep.respond(self.now, id, r),
                                None => self.nodes[i].deferred.push((id, request)),
                            }
                        }
                        Event::Client { id, outcome } => self.nodes[i].outcomes.push((id, outcome)),
                        Event::ObservationEnded(ended) => self.nodes[i].ended.push(ended),
                    }
                }
                while let Some(t) = self.nodes[i].ep.poll_transmit() {
                    progressed = true;
                    let from = self.nodes[i].addr;
                    self.deliver(from, t);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn deliver(&mut self, from: SocketAddr, t: Transmit) {
        if (self.loss)(from, t.destination, &t.payload) {
            return;
        }
        self.wire.push((from, t.destination, t.payload.clone()));
        let mut delivered = false;
        for node in &mut self.nodes {
            if node.addr == t.destination {
                node.ep
                    .handle_datagram(self.now, from, Via::Unicast, &t.payload);
                delivered = true;
            } else if node.groups.contains(&t.destination) {
                node.ep
                    .handle_datagram(self.now, from, Via::Multicast, &t.payload);
                delivered = true;
            }
        }
        if !delivered {
            self.unbound.push((from, t.destination, t.payload));
        }
    }

    /// Runs the network, advancing the clock to each timeout, until every
    /// node is idle or `limit` of simulated time has passed.
    fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.settle();
            let next = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for node in &mut self.nodes {
                        node.ep.handle_timeout(self.now);
                    }
                }
                _ => {
                    self.now = self.now.max(end.min(next.unwrap_or(end)));
                    self.settle();
                    return;
                }
            }
        }
    }

    /// Runs until the client node has no live exchange (or `limit`).
    fn run_until_done(&mut self, client: usize, limit: Duration) {
        let end = self.now + limit;
        while self.nodes[client].ep.exchange_count() > 0 && self.now < end {
            self.settle();
            if self.nodes[client].ep.exchange_count() == 0 {
                break;
            }
            let next = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for node in &mut self.nodes {
                        node.ep.handle_timeout(self.now);
                    }
                }
                _ => break,
            }
        }
        self.settle();
    }

    fn request(&mut self, client: usize, id: u64, out: OutgoingRequest) {
        self.nodes[client]
            .ep
            .start_request(self.now, ExchangeId(id), out);
        self.settle();
    }

    /// Sends a raw datagram from an address with no endpoint.
    fn inject(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.deliver(
            from,
            Transmit {
                destination: to,
                payload: bytes,
            },
        );
        self.settle();
    }

    fn responses(&self, node: usize, id: u64) -> Vec<Response> {
        self.nodes[node]
            .outcomes
            .iter()
            .filter(|(i, _)| *i == ExchangeId(id))
            .filter_map(|(_, o)| match o {
                ClientOutcome::Response { response, .. } => Some(response.clone()),
                _ => None,
            })
            .collect()
    }

    fn failure(&self, node: usize, id: u64) -> Option<ExchangeError> {
        self.nodes[node].outcomes.iter().find_map(|(i, o)| match o {
            ClientOutcome::Failed(e) if *i == ExchangeId(id) => Some(e.clone()),
            _ => None,
        })
    }

    fn count_wire(&self, pred: impl Fn(&Message) -> bool) -> usize {
        self.wire
            .iter()
            .filter(|(_, _, b)| wire::decode(b).is_ok_and(|m| pred(&m)))
            .count()
    }
}

fn fast() -> ProtocolConfig {
    ProtocolConfig::fast_for_tests()
}

fn echo() -> Handler {
    Box::new(|req: &Request| {
        let mut r = Response::content(req.payload.clone());
        if let Some(cf) = req.content_format() {
            r.options.set_content_format(cf);
        }
        Some(r)
    })
}

fn client_and_server(handler: Handler) -> (Sim, usize, usize) {
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| Some(Response::not_found())));
    let s = sim.add(addr(2), fast(), handler);
    (sim, c, s)
}

#[test]
fn get_gets_a_piggybacked_response() {
    let (mut sim, c, s) = client_and_server(Box::new(|req: &Request| {
        assert_eq!(req.path, vec!["time"]);
        assert_eq!(req.method, Method::Get);
        Some(Response::content("12:00").with_content_format(0))
    }));
    sim.request(c, 1, OutgoingRequest::new(addr(2), Request::get("/time")));
    let r = sim.responses(c, 1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].payload, b"12:00");
    assert_eq!(r[0].content_format(), Some(0));
    // Exactly one request and one piggybacked ACK crossed the wire.
    assert_eq!(sim.wire.len(), 2);
    let ack = wire::decode(&sim.wire[1].2).unwrap();
    assert_eq!(ack.mtype, MessageType::Ack);
    assert_eq!(ack.code, Code::CONTENT.0);
    assert_eq!(sim.nodes[s].ep.stats().requests, 1);
    assert!(sim.nodes[c].ep.is_idle());
}

#[test]
fn con_post_survives_30_percent_loss_both_ways_and_runs_the_handler_once() {
    let mut cfg = fast();
    // With 30 % loss each way an attempt succeeds with 0.7 * 0.7 = 49 %; the
    // RFC default of 4 retransmissions would fail 0.51^5 = 3.4 % of
    // exchanges, 10 bring that to 0.06 %.
    cfg.transmission.max_retransmit = 10;
    for round in 0..40u64 {
        let mut sim = Sim::new();
        let c = sim.add(addr(1), cfg.clone(), Box::new(|_| None));
        let s = sim.add(
            addr(2),
            cfg.clone(),
            Box::new(|req: &Request| Some(Response::changed().with_payload(req.payload.clone()))),
        );
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (round + 1));
        sim.loss = Box::new(move |_, _, _| rng.chance(0.30));
        let body = format!("post number {round}");
        sim.request(
            c,
            1,
            OutgoingRequest::new(
                addr(2),
                Request::post("/counter").with_payload(body.clone()),
            ),
        );
        sim.run_until_done(c, Duration::from_secs(600));
        let r = sim.responses(c, 1);
        assert_eq!(r.len(), 1, "round {round}: {:?}", sim.failure(c, 1));
        assert_eq!(r[0].code, Code::CHANGED);
        assert_eq!(r[0].payload, body.as_bytes());
        assert_eq!(
            sim.nodes[s].seen.len(),
            1,
            "round {round}: handler ran more than once"
        );
    }
}

#[test]
fn retransmitted_request_gets_the_cached_response() {
    let mut calls = 0u32;
    let (mut sim, _c, s) = client_and_server(Box::new(move |_| {
        calls += 1;
        Some(Response::created().with_payload(format!("call {calls}")))
    }));
    let request = Message {
        mtype: MessageType::Con,
        code: Method::Post.code(),
        mid: 0x4242,
        token: Token::new(&[1, 2, 3, 4]).unwrap(),
        options: {
            let mut o = Options::new();
            o.push(number::URI_PATH, "things");
            o
        },
        payload: b"x".to_vec(),
    };
    let bytes = wire::encode(&request, 1152).unwrap();
    let stranger = addr(9);
    sim.inject(stranger, addr(2), bytes.clone());
    sim.inject(stranger, addr(2), bytes);
    let replies: Vec<&Vec<u8>> = sim.unbound.iter().map(|(_, _, b)| b).collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0], replies[1], "the duplicate gets the same bytes");
    let m = wire::decode(replies[0]).unwrap();
    assert_eq!(
        (m.mtype, m.mid, m.code),
        (MessageType::Ack, 0x4242, Code::CREATED.0)
    );
    assert_eq!(m.payload, b"call 1");
    assert_eq!(sim.nodes[s].seen.len(), 1);
    assert_eq!(sim.nodes[s].ep.stats().duplicates, 1);
}

#[test]
fn slow_handler_gets_empty_ack_then_separate_response() {
    let (mut sim, c, s) = client_and_server(Box::new(|_| None));
    sim.request(c, 1, OutgoingRequest::new(addr(2), Request::get("/slow")));
    assert_eq!(sim.nodes[s].deferred.len(), 1);
    // Past the separate-response delay the server acknowledges.
    sim.run_for(Duration::from_millis(100));
    assert_eq!(
        sim.count_wire(|m| m.mtype == MessageType::Ack && m.code == 0),
        1
    );
    // The client does not retransmit after the empty ACK.
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        sim.count_wire(|m| m.mtype == MessageType::Con && m.code == 1),
        1
    );
    let (id, _) = sim.nodes[s].deferred.pop().unwrap();
    let now = sim.now;
    sim.nodes[s].ep.respond(now, id, Response::content("late"));
    sim.settle();
    let r = sim.responses(c, 1);
    assert_eq!(r[0].payload, b"late");
    // Separate response as CON, acknowledged by the client.
    assert_eq!(
        sim.count_wire(|m| m.mtype == MessageType::Con && m.code == Code::CONTENT.0),
        1
    );
    assert_eq!(
        sim.count_wire(|m| m.mtype == MessageType::Ack && m.code == 0),
        2
    );
    assert!(sim.nodes[s].ep.is_idle());
}

#[test]
fn duplicate_during_processing_triggers_empty_ack() {
    let (mut sim, _c, s) = client_and_server(Box::new(|_| None));
    let msg = Message {
        mtype: MessageType::Con,
        code: 1,
        mid: 7,
        token: Token::new(&[7]).unwrap(),
        options: Options::new(),
        payload: Vec::new(),
    };
    let bytes = wire::encode(&msg, 1152).unwrap();
    sim.inject(addr(9), addr(2), bytes.clone());
    assert!(sim.unbound.is_empty());
    sim.inject(addr(9), addr(2), bytes);
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!((m.mtype, m.code, m.mid), (MessageType::Ack, 0, 7));
    let (id, _) = sim.nodes[s].deferred.pop().unwrap();
    let now = sim.now;
    sim.nodes[s].ep.respond(now, id, Response::content("done"));
    sim.settle();
    let m = wire::decode(&sim.unbound[1].2).unwrap();
    assert_eq!((m.mtype, m.code), (MessageType::Con, Code::CONTENT.0));
    assert_eq!(m.token, Token::new(&[7]).unwrap());
}

#[test]
fn client_gives_up_after_max_retransmit_with_exponential_backoff() {
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    sim.request(c, 1, OutgoingRequest::new(addr(3), Request::get("/nobody")));
    let start = sim.now;
    sim.run_until_done(c, Duration::from_secs(60));
    assert_eq!(sim.failure(c, 1), Some(ExchangeError::Timeout));
    // 1 transmission + MAX_RETRANSMIT (4) retransmissions.
    assert_eq!(sim.unbound.len(), 5);
    // Total wait is between ACK_TIMEOUT * 31 and * 31 * 1.5 (section 4.8.2).
    let waited = sim.now - start;
    assert!(waited >= Duration::from_millis(50 * 31), "{waited:?}");
    assert!(waited <= Duration::from_millis(75 * 31), "{waited:?}");
    assert_eq!(sim.nodes[c].ep.stats().retransmissions, 4);
}

#[test]
fn nstart_serialises_requests_to_one_peer() {
    let (mut sim, c, s) = client_and_server(Box::new(|_| None));
    for i in 0..3 {
        sim.request(
            c,
            i,
            OutgoingRequest::new(addr(2), Request::get(&format!("/r{i}"))),
        );
    }
    // Only the first request is on the wire while it is outstanding.
    assert_eq!(sim.nodes[s].deferred.len(), 1);
    for expected in 1..=3 {
        let (id, req) = sim.nodes[s].deferred.remove(0);
        assert_eq!(req.path, vec![format!("r{}", expected - 1)]);
        let now = sim.now;
        sim.nodes[s].ep.respond(now, id, Response::content("ok"));
        sim.settle();
        assert_eq!(sim.responses(c, expected - 1).len(), 1);
    }
}

#[test]
fn ping_and_malformed_con_get_reset_unknown_method_gets_405() {
    let (mut sim, _c, s) = client_and_server(echo());
    sim.inject(
        addr(9),
        addr(2),
        wire::encode_empty(MessageType::Con, 1).to_vec(),
    );
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!((m.mtype, m.mid), (MessageType::Rst, 1));
    // A CON with a reserved option nibble.
    sim.inject(addr(9), addr(2), vec![0x40, 0x01, 0x00, 0x02, 0xff]);
    let m = wire::decode(&sim.unbound[1].2).unwrap();
    assert_eq!((m.mtype, m.mid), (MessageType::Rst, 2));
    // A NON that is malformed is ignored.
    sim.inject(addr(9), addr(2), vec![0x50, 0x01, 0x00, 0x03, 0xff]);
    assert_eq!(sim.unbound.len(), 2);
    // Method code 0.08 is not implemented: 4.05.
    let msg = Message {
        mtype: MessageType::Con,
        code: 8,
        mid: 4,
        token: Token::EMPTY,
        options: Options::new(),
        payload: Vec::new(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[2].2).unwrap();
    assert_eq!(m.code, Code::METHOD_NOT_ALLOWED.0);
    assert_eq!(sim.nodes[s].seen.len(), 0);
    assert_eq!(sim.nodes[s].ep.stats().malformed, 2);
}

#[test]
fn unknown_critical_option_gets_402_elective_is_ignored() {
    let (mut sim, c, s) = client_and_server(echo());
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/x").with_option(65001, vec![1])),
    );
    assert_eq!(sim.responses(c, 1)[0].code, Code::BAD_OPTION);
    sim.request(
        c,
        2,
        OutgoingRequest::new(addr(2), Request::get("/x").with_option(65000, vec![1])),
    );
    assert_eq!(sim.responses(c, 2)[0].code, Code::CONTENT);
    // OSCORE is critical and unsupported unless a layer claims it.
    sim.request(
        c,
        3,
        OutgoingRequest::new(
            addr(2),
            Request::get("/x").with_option(number::OSCORE, vec![]),
        ),
    );
    assert_eq!(sim.responses(c, 3)[0].code, Code::BAD_OPTION);
    // Accept twice: the second occurrence is an unrecognised critical option.
    let twice = Request::get("/x")
        .with_option(number::ACCEPT, vec![0])
        .with_option(number::ACCEPT, vec![60]);
    sim.request(c, 4, OutgoingRequest::new(addr(2), twice));
    assert_eq!(sim.responses(c, 4)[0].code, Code::BAD_OPTION);
    assert_eq!(sim.nodes[s].seen.len(), 1);
    // A Proxy-Uri gets 5.05 Proxying Not Supported.
    sim.request(
        c,
        5,
        OutgoingRequest::new(
            addr(2),
            Request::get("/x").with_option(number::PROXY_URI, "coap://a/"),
        ),
    );
    assert_eq!(sim.responses(c, 5)[0].code, Code::new(5, 5));
}

#[test]
fn invalid_utf8_path_gets_400() {
    let (mut sim, _c, _s) = client_and_server(echo());
    let mut o = Options::new();
    o.push(number::URI_PATH, vec![0xff, 0xfe]);
    let msg = Message {
        mtype: MessageType::Con,
        code: 1,
        mid: 9,
        token: Token::EMPTY,
        options: o,
        payload: Vec::new(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!(m.code, Code::BAD_REQUEST.0);
}

#[test]
fn non_request_gets_non_response() {
    let (mut sim, c, _s) = client_and_server(echo());
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::post("/e").with_payload("n")).non_confirmable(),
    );
    assert_eq!(sim.responses(c, 1)[0].payload, b"n");
    assert_eq!(sim.count_wire(|m| m.mtype == MessageType::Non), 2);
    assert_eq!(sim.count_wire(|m| m.mtype == MessageType::Ack), 0);
}

#[test]
fn no_response_option_suppresses_success_but_acks_con() {
    let (mut sim, _c, _s) = client_and_server(echo());
    let mut o = Options::new();
    o.set_uint(number::NO_RESPONSE, 2);
    let msg = Message {
        mtype: MessageType::Con,
        code: 2,
        mid: 3,
        token: Token::new(&[3]).unwrap(),
        options: o,
        payload: b"p".to_vec(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!((m.mtype, m.code), (MessageType::Ack, 0));
}

fn big_body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn ten_kib_request_and_response_cross_blockwise() {
    let (mut sim, c, s) = client_and_server(echo());
    let body = big_body(10 * 1024);
    sim.request(
        c,
        1,
        OutgoingRequest::new(
            addr(2),
            Request::post("/echo")
                .with_payload(body.clone())
                .with_content_format(42),
        ),
    );
    sim.run_until_done(c, Duration::from_secs(10));
    let r = sim.responses(c, 1);
    assert_eq!(r.len(), 1, "{:?}", sim.failure(c, 1));
    assert_eq!(r[0].payload, body);
    assert_eq!(r[0].content_format(), Some(42));
    assert!(r[0].options.get(number::BLOCK2).is_none());
    // The handler saw the reassembled body once.
    assert_eq!(sim.nodes[s].seen.len(), 1);
    assert_eq!(sim.nodes[s].seen[0].payload, body);
    // 10 Block1 blocks of 1024 bytes, then 10 Block2 blocks.
    let block1 = sim.count_wire(|m| m.options.contains(number::BLOCK1) && m.is_request());
    let block2 = sim.count_wire(|m| m.options.contains(number::BLOCK2) && m.is_response());
    assert_eq!(block1, 10);
    assert_eq!(block2, 10);
    assert_eq!(sim.count_wire(|m| m.code == codes::CONTINUE.0), 9);
    // Every datagram respects the 1152-byte limit.
    assert!(sim.wire.iter().all(|(_, _, b)| b.len() <= 1152));
}

#[test]
fn blockwise_under_loss_completes() {
    let mut cfg = fast();
    cfg.transmission.max_retransmit = 10;
    let mut sim = Sim::new();
    let c = sim.add(addr(1), cfg.clone(), Box::new(|_| None));
    let s = sim.add(addr(2), cfg, echo());
    let mut rng = XorShift(77);
    sim.loss = Box::new(move |_, _, _| rng.chance(0.2));
    let body = big_body(5000);
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::put("/echo").with_payload(body.clone())),
    );
    sim.run_until_done(c, Duration::from_secs(600));
    assert_eq!(sim.responses(c, 1)[0].payload, body);
    assert_eq!(sim.nodes[s].seen.len(), 1);
}

#[test]
fn small_block_size_requested_by_client_is_honoured() {
    let (mut sim, c, _s) = client_and_server(Box::new(|_| Some(Response::content(big_body(300)))));
    let req = Request::get("/big").with_option(
        number::BLOCK2,
        BlockOption {
            num: 0,
            more: false,
            szx: 2,
        }
        .encode(),
    );
    sim.request(c, 1, OutgoingRequest::new(addr(2), req));
    // The client strips Block2 from its template and starts with our
    // default size; the server's first block is 1024, so one block.
    assert_eq!(sim.responses(c, 1)[0].payload, big_body(300));
    // A raw request for block 1 of size 64 (SZX 2) gets bytes 64..128.
    let mut o = Options::new();
    o.push(number::URI_PATH, "big");
    o.set(
        number::BLOCK2,
        BlockOption {
            num: 1,
            more: false,
            szx: 2,
        }
        .encode(),
    );
    let msg = Message {
        mtype: MessageType::Con,
        code: 1,
        mid: 1,
        token: Token::EMPTY,
        options: o,
        payload: Vec::new(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!(m.payload, big_body(300)[64..128].to_vec());
    let b2 = BlockOption::decode(m.options.get(number::BLOCK2).unwrap()).unwrap();
    assert_eq!((b2.num, b2.more, b2.szx), (1, true, 2));
}

#[test]
fn request_body_beyond_the_cap_gets_413() {
    let mut cfg = fast();
    cfg.limits.max_body_size = 4096;
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    let s = sim.add(addr(2), cfg, echo());
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::post("/echo").with_payload(big_body(8192))),
    );
    sim.run_until_done(c, Duration::from_secs(10));
    let r = sim.responses(c, 1);
    assert_eq!(r[0].code, Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(r[0].options.get_uint(number::SIZE1), Some(4096));
    assert!(sim.nodes[s].seen.is_empty());
}

#[test]
fn out_of_order_block1_gets_408() {
    let (mut sim, _c, s) = client_and_server(echo());
    let mut o = Options::new();
    o.push(number::URI_PATH, "echo");
    o.set(
        number::BLOCK1,
        BlockOption {
            num: 3,
            more: true,
            szx: 2,
        }
        .encode(),
    );
    let msg = Message {
        mtype: MessageType::Con,
        code: 2,
        mid: 1,
        token: Token::EMPTY,
        options: o,
        payload: vec![0; 64],
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!(m.code, codes::REQUEST_ENTITY_INCOMPLETE.0);
    assert!(sim.nodes[s].seen.is_empty());
}

fn observable(state: std::rc::Rc<std::cell::RefCell<Vec<u8>>>) -> Handler {
    Box::new(move |req: &Request| {
        let body = state.borrow().clone();
        if body.is_empty() {
            return Some(Response::not_found());
        }
        let mut r = Response::content(body);
        if req.observe() == Some(0) || req.is_notification() {
            r.observed_resource = Some(req.path_string());
        }
        Some(r)
    })
}

#[test]
fn observe_delivers_ordered_notifications_and_stops_after_deregistration() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"v0".to_vec()));
    let (mut sim, c, s) = client_and_server(observable(state.clone()));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/obs")).observe(),
    );
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);
    for i in 1..=5 {
        *state.borrow_mut() = format!("v{i}").into_bytes();
        let now = sim.now;
        let n = sim.nodes[s]
            .ep
            .notify(now, &NotifyTarget::Resource("/obs".into()), None);
        assert_eq!(n, 1);
        sim.settle();
    }
    let got = sim.responses(c, 1);
    let payloads: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).unwrap())
        .collect();
    assert_eq!(payloads, vec!["v0", "v1", "v2", "v3", "v4", "v5"]);
    let seqs: Vec<u32> = got.iter().map(|r| r.observe().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    // The replayed requests were marked as notifications.
    assert!(
        sim.nodes[s].seen[1..]
            .iter()
            .all(|r| matches!(r.meta.origin, Origin::Notification { response: None }))
    );

    let now = sim.now;
    sim.nodes[c].ep.deregister(now, ExchangeId(1));
    sim.settle();
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
    let last = sim.nodes[c].outcomes.last().unwrap();
    assert!(matches!(last.1, ClientOutcome::Response { last: true, .. }));
    // Further changes reach nobody.
    let now = sim.now;
    assert_eq!(
        sim.nodes[s]
            .ep
            .notify(now, &NotifyTarget::Resource("/obs".into()), None),
        0
    );
    sim.settle();
    assert_eq!(sim.responses(c, 1).len(), 7);
    assert_eq!(sim.nodes[c].ep.exchange_count(), 0);
}

#[test]
fn cancelled_observation_is_reset_by_the_client() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"a".to_vec()));
    let (mut sim, c, s) = client_and_server(observable(state));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/obs")).observe(),
    );
    let now = sim.now;
    sim.nodes[c].ep.cancel(now, ExchangeId(1));
    sim.nodes[s]
        .ep
        .notify(now, &NotifyTarget::Subtree("/".into()), None);
    sim.settle();
    assert_eq!(sim.count_wire(|m| m.mtype == MessageType::Rst), 1);
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
}

#[test]
fn unacknowledged_con_notification_removes_the_observer() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"a".to_vec()));
    let mut cfg = fast();
    cfg.observe.con_every = 1;
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    let s = sim.add(addr(2), cfg, observable(state));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/obs")).observe(),
    );
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);
    // The client vanishes.
    sim.loss = Box::new(|_, to, _| to == addr(1));
    let now = sim.now;
    sim.nodes[s]
        .ep
        .notify(now, &NotifyTarget::Resource("/obs".into()), None);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
}

#[test]
fn deleted_resource_sends_404_and_ends_the_observation() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"group".to_vec()));
    let (mut sim, c, s) = client_and_server(observable(state.clone()));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/ace-group/g1")).observe(),
    );
    state.borrow_mut().clear();
    let now = sim.now;
    sim.nodes[s]
        .ep
        .notify(now, &NotifyTarget::Subtree("/ace-group/g1".into()), None);
    sim.settle();
    let r = sim.responses(c, 1);
    assert_eq!(r.last().unwrap().code, Code::NOT_FOUND);
    assert!(matches!(
        sim.nodes[c].outcomes.last().unwrap().1,
        ClientOutcome::Response { last: true, .. }
    ));
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
    assert_eq!(sim.nodes[c].ep.exchange_count(), 0);
    // Sent as CON and acknowledged.
    assert_eq!(
        sim.count_wire(|m| m.mtype == MessageType::Con && m.code == Code::NOT_FOUND.0),
        1
    );
}

#[test]
fn explicit_notifications_are_each_delivered_in_order() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"s".to_vec()));
    let (mut sim, c, s) = client_and_server(Box::new({
        let h = std::cell::RefCell::new(observable(state));
        move |req: &Request| match &req.meta.origin {
            Origin::Notification { response: Some(r) } => Some((**r).clone()),
            _ => (h.borrow_mut())(req),
        }
    }));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/rekey")).observe(),
    );
    let now = sim.now;
    for i in 0..3 {
        sim.nodes[s].ep.notify(
            now,
            &NotifyTarget::Resource("/rekey".into()),
            Some(Response::content(format!("k{i}"))),
        );
    }
    sim.settle();
    let payloads: Vec<Vec<u8>> = sim.responses(c, 1).into_iter().map(|r| r.payload).collect();
    assert_eq!(
        payloads,
        vec![
            b"s".to_vec(),
            b"k0".to_vec(),
            b"k1".to_vec(),
            b"k2".to_vec()
        ]
    );
}

#[test]
fn large_notification_is_fetched_blockwise() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(big_body(3000)));
    let (mut sim, c, _s) = client_and_server(observable(state.clone()));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/big")).observe(),
    );
    sim.settle();
    *state.borrow_mut() = big_body(2500);
    let now = sim.now;
    sim.nodes[1]
        .ep
        .notify(now, &NotifyTarget::Resource("/big".into()), None);
    sim.settle();
    let r = sim.responses(c, 1);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].payload, big_body(3000));
    assert_eq!(r[1].payload, big_body(2500));
    assert!(r[1].observe().unwrap() > r[0].observe().unwrap());
}

#[test]
fn client_drops_reordered_notifications() {
    // A raw "server" at addr(9) answers the registration, then sends
    // notifications 5, 3 (stale), 6.
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(9), Request::get("/o")).observe(),
    );
    let (_, _, reg) = sim.unbound[0].clone();
    let reg = wire::decode(&reg).unwrap();
    let notification = |mtype: MessageType, mid: u16, seq: u32, body: &str| {
        let mut o = Options::new();
        o.set_uint(number::OBSERVE, seq);
        wire::encode(
            &Message {
                mtype,
                code: Code::CONTENT.0,
                mid,
                token: reg.token,
                options: o,
                payload: body.as_bytes().to_vec(),
            },
            1152,
        )
        .unwrap()
    };
    let mut ack = wire::decode(&notification(MessageType::Ack, reg.mid, 4, "r")).unwrap();
    ack.mid = reg.mid;
    sim.inject(addr(9), addr(1), wire::encode(&ack, 1152).unwrap());
    sim.inject(
        addr(9),
        addr(1),
        notification(MessageType::Non, 100, 5, "five"),
    );
    sim.inject(
        addr(9),
        addr(1),
        notification(MessageType::Non, 101, 3, "three"),
    );
    sim.inject(
        addr(9),
        addr(1),
        notification(MessageType::Con, 102, 6, "six"),
    );
    // A duplicate of the CON notification is acknowledged but not delivered.
    sim.inject(
        addr(9),
        addr(1),
        notification(MessageType::Con, 102, 6, "six"),
    );
    let payloads: Vec<Vec<u8>> = sim.responses(c, 1).into_iter().map(|r| r.payload).collect();
    assert_eq!(
        payloads,
        vec![b"r".to_vec(), b"five".to_vec(), b"six".to_vec()]
    );
    let acks = sim
        .unbound
        .iter()
        .filter(|(_, _, b)| {
            wire::decode(b).is_ok_and(|m| m.mtype == MessageType::Ack && m.mid == 102)
        })
        .count();
    assert_eq!(acks, 2);
}

#[test]
fn unexpected_con_response_is_reset() {
    let mut sim = Sim::new();
    let _c = sim.add(addr(1), fast(), Box::new(|_| None));
    let msg = Message {
        mtype: MessageType::Con,
        code: Code::CONTENT.0,
        mid: 55,
        token: Token::new(&[9, 9]).unwrap(),
        options: Options::new(),
        payload: b"?".to_vec(),
    };
    sim.inject(addr(9), addr(1), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!((m.mtype, m.mid), (MessageType::Rst, 55));
}

#[test]
fn group_request_collects_responses_from_two_servers() {
    let group: SocketAddr = "224.0.1.187:5683".parse().unwrap();
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    let s1 = sim.add(
        addr(2),
        fast(),
        Box::new(|_| Some(Response::content("one"))),
    );
    let s2 = sim.add(
        addr(3),
        fast(),
        Box::new(|_| Some(Response::content("two"))),
    );
    let s3 = sim.add(addr(4), fast(), Box::new(|_| Some(Response::not_found())));
    for s in [s1, s2, s3] {
        sim.nodes[s].groups.push(group);
    }
    sim.request(
        c,
        1,
        OutgoingRequest::new(group, Request::get("/.well-known/core"))
            .collect_for(Duration::from_millis(200)),
    );
    sim.run_for(Duration::from_secs(1));
    let mut got: Vec<(SocketAddr, Vec<u8>)> = sim.nodes[c]
        .outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            ClientOutcome::Response {
                from,
                response,
                last: false,
            } => Some((*from, response.payload.clone())),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![(addr(2), b"one".to_vec()), (addr(3), b"two".to_vec())]
    );
    assert!(matches!(
        sim.nodes[c].outcomes.last().unwrap().1,
        ClientOutcome::Finished
    ));
    // The request went out as NON; the 4.04 of the third server was
    // suppressed (RFC 7252 section 8.2).
    assert_eq!(
        sim.count_wire(|m| m.is_request() && m.mtype == MessageType::Non),
        1
    );
    assert_eq!(sim.count_wire(|m| m.code == Code::NOT_FOUND.0), 0);
    assert!(sim.nodes[s1].seen[0].meta.multicast);
    assert_eq!(sim.nodes[c].ep.exchange_count(), 0);
}

#[test]
fn separate_response_retransmitted_until_acked() {
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    let s = sim.add(addr(2), fast(), Box::new(|_| None));
    sim.request(c, 1, OutgoingRequest::new(addr(2), Request::get("/slow")));
    sim.run_for(Duration::from_millis(100));
    // The first copies of the client's ACK for the separate response are lost.
    let mut dropped = 0;
    sim.loss = Box::new(move |from, _, b| {
        let is_ack = from == addr(1) && wire::decode(b).is_ok_and(|m| m.mtype == MessageType::Ack);
        if is_ack && dropped < 2 {
            dropped += 1;
            return true;
        }
        false
    });
    let (id, _) = sim.nodes[s].deferred.pop().unwrap();
    let now = sim.now;
    sim.nodes[s].ep.respond(now, id, Response::content("x"));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.responses(c, 1).len(), 1, "delivered exactly once");
    assert!(sim.nodes[s].ep.is_idle());
    assert_eq!(sim.nodes[s].ep.stats().retransmissions, 2);
}

#[test]
fn observe_without_observable_resource_is_a_plain_response() {
    let (mut sim, c, s) = client_and_server(echo());
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/plain")).observe(),
    );
    let r = sim.responses(c, 1);
    assert_eq!(r.len(), 1);
    assert!(r[0].observe().is_none());
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
    assert!(matches!(
        sim.nodes[c].outcomes[0].1,
        ClientOutcome::Response { last: true, .. }
    ));
}

#[test]
fn fetch_body_is_part_of_the_block_key() {
    let (mut sim, c, _s) = client_and_server(Box::new(|req: &Request| {
        let mut body = req.payload.clone();
        body.resize(2500, b'.');
        Some(Response::content(body))
    }));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::fetch("/q").with_payload("A")),
    );
    sim.request(
        c,
        2,
        OutgoingRequest::new(addr(2), Request::fetch("/q").with_payload("B")),
    );
    sim.run_until_done(c, Duration::from_secs(5));
    assert_eq!(sim.responses(c, 1)[0].payload[0], b'A');
    assert_eq!(sim.responses(c, 2)[0].payload[0], b'B');
    assert_eq!(sim.responses(c, 2)[0].payload.len(), 2500);
}

#[test]
fn fresher_rule_follows_rfc7641_section_3_4() {
    let t = Instant::now();
    assert!(client::is_fresher(1, t, 2, t));
    assert!(!client::is_fresher(2, t, 1, t));
    assert!(!client::is_fresher(5, t, 5, t));
    // Wrap-around: 0xffffff then 0 is fresher.
    assert!(client::is_fresher(0x00ff_ffff, t, 0, t));
    // More than 128 s later anything is fresher.
    assert!(client::is_fresher(10, t, 3, t + Duration::from_secs(129)));
}

#[test]
fn dedup_cache_stays_bounded_under_many_peers() {
    let mut cfg = fast();
    cfg.limits.max_dedup_peers = 100;
    let mut sim = Sim::new();
    let s = sim.add(addr(2), cfg, echo());
    for i in 0..1000u16 {
        let msg = Message {
            mtype: MessageType::Con,
            code: 1,
            mid: i,
            token: Token::EMPTY,
            options: Options::new(),
            payload: Vec::new(),
        };
        let from = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8)),
            1000,
        );
        sim.inject(from, addr(2), wire::encode(&msg, 1152).unwrap());
    }
    assert_eq!(sim.nodes[s].seen.len(), 1000);
    assert!(sim.nodes[s].ep.dedup.len() <= 100);
    assert_eq!(sim.nodes[s].ep.stats().duplicates, 0);
}

#[test]
fn arbitrary_datagrams_never_panic() {
    let (mut sim, c, s) = client_and_server(echo());
    let mut rng = XorShift(12345);
    for _ in 0..5000 {
        let len = (rng.next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(b) = bytes.first_mut() {
            *b = (*b & 0x3f) | 0x40;
        }
        sim.inject(addr(9), addr(2), bytes.clone());
        sim.inject(addr(9), addr(1), bytes);
    }
    sim.run_for(Duration::from_secs(30));
    assert_well_formed_and_still_serving(&mut sim, c, s);
}

#[test]
fn tokens_are_unique_and_of_configured_length() {
    let mut ep = Endpoint::new(fast(), seed(1));
    let now = Instant::now();
    let mut seen = std::collections::HashSet::new();
    for i in 0..200 {
        ep.start_request(
            now,
            ExchangeId(i),
            OutgoingRequest::new(addr(2), Request::get("/")).non_confirmable(),
        );
    }
    while let Some(t) = ep.poll_transmit() {
        let m = wire::decode(&t.payload).unwrap();
        assert_eq!(m.token.len(), 8);
        assert!(seen.insert(m.token));
    }
    assert_eq!(seen.len(), 1, "NSTART 1: one request on the wire");
    let _ = HashMap::<u8, u8>::new();
}

#[test]
fn notification_queue_behind_a_hung_handler_is_bounded() {
    let (mut sim, c, s) = client_and_server(Box::new(|req: &Request| {
        if req.is_notification() {
            return None;
        }
        let mut r = Response::content("x");
        r.observed_resource = Some(req.path_string());
        Some(r)
    }));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/o")).observe(),
    );
    let now = sim.now;
    for i in 0..500 {
        sim.nodes[s].ep.notify(
            now,
            &NotifyTarget::Resource("/o".into()),
            Some(Response::content(format!("{i}"))),
        );
    }
    sim.settle();
    assert_eq!(
        sim.nodes[s].deferred.len(),
        1,
        "one job at a time per observer"
    );
    let key = observe::ObserverKey {
        peer: addr(1),
        token: sim.nodes[s].deferred[0].1.meta.token,
    };
    assert!(sim.nodes[s].ep.observers.queued(&key) <= 64);
}

#[test]
fn mutated_valid_messages_never_panic() {
    // Valid datagrams that reach deep paths (Block1, Block2, Observe, Size,
    // separate responses), with random bytes flipped, sent to a server and
    // to a client with live exchanges.
    let mut seeds = Vec::new();
    let mut add = |mtype: MessageType, code: u8, options: Vec<(u16, Vec<u8>)>, payload: &[u8]| {
        let mut o = Options::new();
        for (n, v) in options {
            o.push(n, v);
        }
        let m = Message {
            mtype,
            code,
            mid: 0x1111,
            token: Token::new(&[1, 2, 3, 4]).unwrap(),
            options: o,
            payload: payload.to_vec(),
        };
        seeds.push(wire::encode(&m, 4096).unwrap());
    };
    let b = |num: u32, more: bool, szx: u8| BlockOption { num, more, szx }.encode();
    add(
        MessageType::Con,
        2,
        vec![
            (number::URI_PATH, b"echo".to_vec()),
            (number::BLOCK1, b(0, true, 2)),
        ],
        &[7; 64],
    );
    add(
        MessageType::Con,
        2,
        vec![
            (number::URI_PATH, b"echo".to_vec()),
            (number::BLOCK1, b(1, false, 2)),
            (number::SIZE1, vec![100]),
        ],
        &[7; 36],
    );
    add(
        MessageType::Con,
        1,
        vec![
            (number::OBSERVE, vec![]),
            (number::URI_PATH, b"obs".to_vec()),
            (number::BLOCK2, b(1, false, 0)),
        ],
        &[],
    );
    add(
        MessageType::Non,
        5,
        vec![
            (number::URI_PATH, b"q".to_vec()),
            (number::ACCEPT, vec![60]),
        ],
        b"fetch",
    );
    add(
        MessageType::Ack,
        0x45,
        vec![
            (number::OBSERVE, vec![5]),
            (number::BLOCK2, b(0, true, 6)),
            (number::ETAG, vec![1]),
        ],
        &[0; 1024],
    );
    add(
        MessageType::Con,
        0x45,
        vec![(number::OBSERVE, vec![6]), (number::SIZE2, vec![9, 9])],
        b"n",
    );
    add(
        MessageType::Con,
        0x5f,
        vec![(number::BLOCK1, b(0, true, 6))],
        &[],
    );
    let (mut sim, c, s) = client_and_server(echo());
    // The unmutated request seeds are what they claim: they reach the
    // handler (the two Block1 blocks as one request), so the mutations
    // below start from messages that go deep.
    for (i, seed) in seeds.iter().take(4).enumerate() {
        let mut m = wire::decode(seed).unwrap();
        m.mid = 0x2000 + i as u16;
        sim.inject(addr(8), addr(2), wire::encode(&m, 4096).unwrap());
    }
    let paths: Vec<String> = sim.nodes[s].seen.iter().map(Request::path_string).collect();
    assert_eq!(paths, ["/echo", "/obs", "/q"]);
    let mut rng = XorShift(0xfeed);
    for round in 0..20_000u32 {
        if round % 500 == 0 {
            // Keep some client exchanges alive so responses can match.
            sim.request(
                c,
                u64::from(round),
                OutgoingRequest::new(addr(9), Request::get("/obs")).observe(),
            );
            sim.request(
                c,
                u64::from(round) + 1,
                OutgoingRequest::new(addr(9), Request::post("/echo").with_payload(big_body(3000))),
            );
        }
        let mut bytes = seeds[(rng.next() as usize) % seeds.len()].clone();
        // Half of the time, aim at a live client exchange: its token and,
        // for an ACK, its Message ID.
        if rng.chance(0.5)
            && let Some((_, _, req)) = sim.unbound.iter().rev().find(|(_, to, _)| *to == addr(9))
            && let Ok(req) = wire::decode(req)
            && let Ok(mut m) = wire::decode(&bytes)
        {
            m.token = req.token;
            if m.mtype == MessageType::Ack {
                m.mid = req.mid;
            }
            bytes = wire::encode(&m, 4096).unwrap();
        }
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % bytes.len();
            bytes[i] ^= 1 << (rng.next() % 8);
        }
        if rng.chance(0.2) {
            let cut = (rng.next() as usize) % bytes.len();
            bytes.truncate(cut.max(4));
        }
        sim.inject(addr(9), addr(2), bytes.clone());
        sim.inject(addr(9), addr(1), bytes);
    }
    sim.run_for(Duration::from_secs(600));
    assert_well_formed_and_still_serving(&mut sim, c, s);
}

/// After hostile input: every datagram the two endpoints sent decodes and
/// fits the size limit (RFC 7252 sections 3 and 4.6), and a request from
/// the client to the server still completes.
fn assert_well_formed_and_still_serving(sim: &mut Sim, c: usize, s: usize) {
    let limit = fast().limits.max_datagram_size;
    let ours = [sim.nodes[c].addr, sim.nodes[s].addr];
    let mut sent = 0;
    for (_, to, bytes) in sim.wire.iter().filter(|(from, _, _)| ours.contains(from)) {
        sent += 1;
        assert!(bytes.len() <= limit, "{} bytes to {to}", bytes.len());
        assert!(
            wire::decode(bytes).is_ok(),
            "malformed to {to}: {bytes:02x?}"
        );
    }
    assert!(sent > 0, "the endpoints answered nothing");
    let id = u64::MAX;
    let server = sim.nodes[s].addr;
    sim.request(
        c,
        id,
        OutgoingRequest::new(server, Request::post("/echo").with_payload("still here")),
    );
    sim.run_until_done(c, Duration::from_secs(60));
    let answers = sim.responses(c, id);
    assert_eq!(answers.len(), 1, "{:?}", sim.failure(c, id));
    assert_eq!(answers[0].payload, b"still here");
}

#[test]
fn small_configured_block_size_is_negotiated_early() {
    let mut cfg = fast();
    cfg.limits.block_size = 64;
    let mut sim = Sim::new();
    let c = sim.add(addr(1), cfg, Box::new(|_| None));
    let _s = sim.add(
        addr(2),
        fast(),
        Box::new(|_| Some(Response::content(big_body(300)))),
    );
    sim.request(c, 1, OutgoingRequest::new(addr(2), Request::get("/big")));
    sim.run_until_done(c, Duration::from_secs(5));
    assert_eq!(sim.responses(c, 1)[0].payload, big_body(300));
    // 300 bytes in 64-byte blocks: 5 responses, none larger than a block.
    let blocks: Vec<usize> = sim
        .wire
        .iter()
        .filter(|(from, _, _)| *from == addr(2))
        .map(|(_, _, b)| wire::decode(b).unwrap().payload.len())
        .collect();
    assert_eq!(blocks, vec![64, 64, 64, 64, 44]);
}

#[test]
fn size2_in_a_request_asks_for_the_size() {
    let (mut sim, _c, _s) =
        client_and_server(Box::new(|_| Some(Response::content("twelve bytes"))));
    let mut o = Options::new();
    o.push(number::URI_PATH, "x");
    o.set_uint(number::SIZE2, 0);
    let msg = Message {
        mtype: MessageType::Con,
        code: 1,
        mid: 5,
        token: Token::EMPTY,
        options: o,
        payload: Vec::new(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&msg, 1152).unwrap());
    let m = wire::decode(&sim.unbound[0].2).unwrap();
    assert_eq!(m.options.get_uint(number::SIZE2), Some(12));
    assert!(!m.options.contains(number::BLOCK2));
}

// ----- no response, No-Response and the end of observations -----

use crate::handler::EndReason;

/// What a node reported as ended: (peer, reason).
fn ended(sim: &Sim, node: usize) -> Vec<(SocketAddr, EndReason)> {
    sim.nodes[node]
        .ended
        .iter()
        .map(|e| (e.peer, e.reason))
        .collect()
}

#[test]
fn no_response_from_the_handler_acks_a_con_and_answers_a_non_with_nothing() {
    let (mut sim, c, s) = client_and_server(Box::new(|_| Some(Response::no_response())));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::post("/monitor").with_payload("x")),
    );
    // Only the request and an empty ACK crossed: no response, and the ACK
    // ended the client's retransmissions.
    assert_eq!(sim.wire.len(), 2, "{:?}", sim.wire);
    let ack = wire::decode(&sim.wire[1].2).unwrap();
    assert_eq!((ack.mtype, ack.code), (MessageType::Ack, 0));
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.nodes[c].ep.stats().retransmissions, 0);
    assert_eq!(sim.nodes[s].ep.stats().requests, 1);

    // A retransmission of the CON (the ACK was lost) gets the same ACK
    // without running the handler again.
    let request = wire::decode(&sim.wire[0].2).unwrap();
    sim.inject(addr(1), addr(2), wire::encode(&request, 1152).unwrap());
    assert_eq!(sim.nodes[s].ep.stats().requests, 1);
    let last = wire::decode(&sim.wire.last().unwrap().2).unwrap();
    assert_eq!(
        (last.mtype, last.code, last.mid),
        (MessageType::Ack, 0, request.mid)
    );

    // A NON gets nothing at all.
    let before = sim.wire.len();
    sim.request(
        c,
        2,
        OutgoingRequest::new(addr(2), Request::post("/monitor")).non_confirmable(),
    );
    assert_eq!(sim.wire.len(), before + 1, "only the request");
}

#[test]
fn a_silenced_registration_still_registers_and_no_response_2_skips_2xx_notifications() {
    // RFC 9594 section 4.1: a client observing /nodes/NODENAME with
    // No-Response 2 hears only the 4.04 eviction notice.
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"v0".to_vec()));
    let (mut sim, _c, s) = client_and_server(observable(state.clone()));
    let mut o = Options::new();
    o.set_uint(number::OBSERVE, 0);
    o.push(number::URI_PATH, "nodes");
    o.set_uint(number::NO_RESPONSE, 2);
    let registration = Message {
        mtype: MessageType::Con,
        code: Method::Get.code(),
        mid: 7,
        token: Token::new(&[7, 7]).unwrap(),
        options: o,
        payload: Vec::new(),
    };
    sim.inject(addr(9), addr(2), wire::encode(&registration, 1152).unwrap());
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);
    let got: Vec<Message> = sim
        .unbound
        .iter()
        .map(|(_, _, b)| wire::decode(b).unwrap())
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].mtype, got[0].code), (MessageType::Ack, 0));

    *state.borrow_mut() = b"v1".to_vec();
    let now = sim.now;
    let target = NotifyTarget::Resource("/nodes".into());
    assert_eq!(sim.nodes[s].ep.notify(now, &target, None), 1);
    sim.settle();
    assert_eq!(sim.unbound.len(), 1, "the 2.05 notification is declined");
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);

    state.borrow_mut().clear();
    sim.nodes[s].ep.notify(now, &target, None);
    sim.settle();
    let last = wire::decode(&sim.unbound.last().unwrap().2).unwrap();
    assert_eq!(Code(last.code), Code::NOT_FOUND);
    assert_eq!(last.mtype, MessageType::Con);
    assert!(!last.options.contains(number::OBSERVE));
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
    assert_eq!(ended(&sim, s), vec![(addr(9), EndReason::Final)]);
}

#[test]
fn a_success_marked_last_ends_the_observation_on_both_sides() {
    // A layer whose wire code hides an error (OSCORE: outer 2.04 around an
    // inner 4.04) marks the notification as the last one.
    let (mut sim, c, s) = client_and_server(Box::new(|req: &Request| {
        let mut r = Response::content("state");
        if req.is_notification() {
            return Some(Response::changed().ending_observation());
        }
        r.observed_resource = Some(req.path_string());
        Some(r)
    }));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/g")).observe(),
    );
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);
    let now = sim.now;
    sim.nodes[s]
        .ep
        .notify(now, &NotifyTarget::Resource("/g".into()), None);
    sim.settle();
    // Sent as CON, without Observe; the client ended the exchange.
    let last = wire::decode(
        &sim.wire
            .iter()
            .rev()
            .find(|(from, _, b)| *from == addr(2) && wire::decode(b).unwrap().code != 0)
            .unwrap()
            .2,
    )
    .unwrap();
    assert_eq!(last.mtype, MessageType::Con);
    assert_eq!(Code(last.code), Code::CHANGED);
    assert!(!last.options.contains(number::OBSERVE));
    assert!(matches!(
        sim.nodes[c].outcomes.last().unwrap().1,
        ClientOutcome::Response { last: true, .. }
    ));
    assert_eq!(sim.nodes[c].ep.exchange_count(), 0);
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);
    assert_eq!(ended(&sim, s), vec![(addr(1), EndReason::Final)]);
}

#[test]
fn a_silenced_notification_is_skipped_and_keeps_the_observer() {
    let calls = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let n = calls.clone();
    let (mut sim, c, s) = client_and_server(Box::new(move |req: &Request| {
        if req.is_notification() {
            n.set(n.get() + 1);
            return Some(if n.get() == 1 {
                Response::no_response()
            } else {
                Response::content(format!("n{}", n.get()))
            });
        }
        let mut r = Response::content("r");
        r.observed_resource = Some(req.path_string());
        Some(r)
    }));
    sim.request(
        c,
        1,
        OutgoingRequest::new(addr(2), Request::get("/o")).observe(),
    );
    let now = sim.now;
    for _ in 0..2 {
        sim.nodes[s]
            .ep
            .notify(now, &NotifyTarget::Resource("/o".into()), None);
        sim.settle();
    }
    let payloads: Vec<Vec<u8>> = sim.responses(c, 1).into_iter().map(|r| r.payload).collect();
    assert_eq!(payloads, vec![b"r".to_vec(), b"n2".to_vec()]);
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);
    assert!(ended(&sim, s).is_empty());
}

#[test]
fn every_end_of_an_observation_is_reported_once_with_its_reason() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"a".to_vec()));
    let mut sim = Sim::new();
    let c = sim.add(addr(1), fast(), Box::new(|_| None));
    let mut cfg = fast();
    cfg.observe.con_every = 1;
    cfg.limits.max_observers = 4;
    let s = sim.add(addr(2), cfg, observable(state));
    let observe = |sim: &mut Sim, id: u64| {
        sim.request(
            c,
            id,
            OutgoingRequest::new(addr(2), Request::get("/o")).observe(),
        );
    };
    let notify = |sim: &mut Sim| {
        let now = sim.now;
        sim.nodes[s]
            .ep
            .notify(now, &NotifyTarget::Resource("/o".into()), None);
        sim.settle();
    };

    // Deregistration with Observe 1.
    observe(&mut sim, 1);
    let now = sim.now;
    sim.nodes[c].ep.deregister(now, ExchangeId(1));
    sim.settle();
    assert_eq!(ended(&sim, s), vec![(addr(1), EndReason::Deregistered)]);

    // A Reset: the client forgot the observation, the next notification is
    // rejected.
    observe(&mut sim, 2);
    let now = sim.now;
    sim.nodes[c].ep.cancel(now, ExchangeId(2));
    notify(&mut sim);
    assert_eq!(ended(&sim, s)[1], (addr(1), EndReason::Reset));

    // A CON notification never acknowledged.
    observe(&mut sim, 3);
    sim.loss = Box::new(|_, to, _| to == addr(1));
    notify(&mut sim);
    sim.run_for(Duration::from_secs(10));
    sim.loss = Box::new(|_, _, _| false);
    assert_eq!(ended(&sim, s)[2], (addr(1), EndReason::Timeout));
    sim.nodes[c].ep.cancel(sim.now, ExchangeId(3));

    // Forgotten by the application, and the endpoint closing.
    observe(&mut sim, 4);
    observe(&mut sim, 5);
    assert_eq!(
        sim.nodes[s]
            .ep
            .forget_observers(&NotifyTarget::Subtree("/".into())),
        2
    );
    sim.settle();
    observe(&mut sim, 6);
    assert_eq!(sim.nodes[s].ep.close_observations(), 1);
    sim.settle();
    let reasons: Vec<EndReason> = ended(&sim, s).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        reasons,
        vec![
            EndReason::Deregistered,
            EndReason::Reset,
            EndReason::Timeout,
            EndReason::Forgotten,
            EndReason::Forgotten,
            EndReason::Shutdown
        ]
    );
    assert_eq!(sim.nodes[s].ep.observer_count(), 0);

    // A registration the chain accepts beyond the observer limit: the
    // response goes without Observe and the chain hears at once.
    for id in 10..15 {
        observe(&mut sim, id);
    }
    assert_eq!(sim.nodes[s].ep.observer_count(), 4);
    assert_eq!(
        ended(&sim, s).last().map(|(_, r)| *r),
        Some(EndReason::NotRegistered)
    );
    assert_eq!(ended(&sim, s).len(), 7);
}

#[test]
fn a_client_observing_with_no_response_2_is_registered_on_the_ack() {
    let state = std::rc::Rc::new(std::cell::RefCell::new(b"k0".to_vec()));
    let (mut sim, c, s) = client_and_server(observable(state.clone()));
    let mut request = Request::get("/nodes/n1");
    request.options.set_uint(number::NO_RESPONSE, 2);
    for (id, confirmable) in [(1u64, true), (2, false)] {
        let mut out = OutgoingRequest::new(addr(2), request.clone()).observe();
        out.confirmable = confirmable;
        sim.request(c, id, out);
        assert!(matches!(
            sim.nodes[c].outcomes.last(),
            Some((i, ClientOutcome::Registered)) if *i == ExchangeId(id)
        ));
    }
    assert_eq!(sim.nodes[s].ep.observer_count(), 2);
    // Nothing times out: no response is awaited.
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[c].ep.exchange_count(), 2);
    assert!(sim.failure(c, 1).is_none() && sim.failure(c, 2).is_none());
    assert!(sim.responses(c, 1).is_empty());

    // Deregistering the CON one ends at its (empty) ACK.
    let now = sim.now;
    sim.nodes[c].ep.deregister(now, ExchangeId(1));
    sim.settle();
    assert!(matches!(
        sim.nodes[c].outcomes.last(),
        Some((i, ClientOutcome::Finished)) if *i == ExchangeId(1)
    ));
    assert_eq!(sim.nodes[s].ep.observer_count(), 1);

    // The other one hears the 4.04 and ends.
    state.borrow_mut().clear();
    let now = sim.now;
    sim.nodes[s]
        .ep
        .notify(now, &NotifyTarget::Resource("/nodes/n1".into()), None);
    sim.settle();
    let r = sim.responses(c, 2);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].code, Code::NOT_FOUND);
    assert_eq!(sim.nodes[c].ep.exchange_count(), 0);
}
