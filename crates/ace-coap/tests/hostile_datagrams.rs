//! Hostile datagrams against the sans-I/O endpoint. Whatever arrives,
//! random bytes or valid messages with bytes flipped, cut or appended, the
//! endpoint must not panic. Everything it sends must be a well-formed
//! datagram within the size limit (RFC 7252 sections 3, 4.2, 4.3 and 4.6).
//! A peer that behaves must still be served afterwards.
//!
//! The seeds cover the server side (CON/NON requests with Uri-Path and
//! Uri-Query, Observe, Block1 and Block2, Content-Format and Accept, a
//! CoAP ping) and the client side (piggybacked, separate and block-wise
//! responses, notifications and RSTs for the endpoint's own outstanding
//! observation, so that they reach the client's state machine rather than
//! only the "unknown token" path).
#![allow(clippy::unwrap_used)] // a test: failing loudly is the point

use ace_coap::endpoint::{Endpoint, Event, ExchangeId, OutgoingRequest, Via};
use ace_coap::option::{Options, number};
use ace_coap::wire::{self, Message, MessageType, Token};
use ace_coap::{ProtocolConfig, Request, Response};
use proptest::prelude::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const HOSTILE: &str = "192.0.2.7:5683";
const SERVER: &str = "192.0.2.1:5683";
const WELL_BEHAVED: &str = "192.0.2.9:40000";

/// A CoAP message as bytes.
fn message(
    mtype: MessageType,
    code: u8,
    mid: u16,
    token: &[u8],
    options: Options,
    payload: &[u8],
) -> Vec<u8> {
    let m = Message {
        mtype,
        code,
        mid,
        token: Token::new(token).unwrap(),
        options,
        payload: payload.to_vec(),
    };
    wire::encode(&m, 65_000).unwrap()
}

fn options(list: &[(u16, &[u8])]) -> Options {
    let mut o = Options::new();
    for (n, v) in list {
        o.push(*n, v.to_vec());
    }
    o
}

/// Valid datagrams to mutate; `mid` and `token` are those of the
/// endpoint's own outstanding observation, for the responses.
fn seeds(mid: u16, token: &[u8]) -> Vec<Vec<u8>> {
    use MessageType::{Ack, Con, Non, Rst};
    let cbor: &[u8] = &[60];
    vec![
        message(
            Con,
            1,
            10,
            &[1, 2],
            options(&[(number::URI_PATH, b"time"), (number::URI_QUERY, b"if=core")]),
            &[],
        ),
        message(
            Non,
            1,
            11,
            &[3],
            options(&[(number::OBSERVE, &[]), (number::URI_PATH, b"obs")]),
            &[],
        ),
        message(
            Con,
            2,
            12,
            &[4, 5, 6, 7],
            options(&[
                (number::URI_PATH, b"up"),
                (number::CONTENT_FORMAT, cbor),
                (number::BLOCK1, &[0x0e]),
                (number::SIZE1, &[0x28, 0x00]),
            ]),
            &[0xa1; 1024],
        ),
        message(
            Con,
            2,
            13,
            &[4, 5, 6, 7],
            options(&[
                (number::URI_PATH, b"up"),
                (number::CONTENT_FORMAT, cbor),
                (number::BLOCK1, &[0x16]),
            ]),
            &[0xa2; 1024],
        ),
        message(
            Con,
            1,
            14,
            &[8],
            options(&[
                (number::URI_PATH, b"big"),
                (number::BLOCK2, &[0x36]),
                (number::ACCEPT, cbor),
            ]),
            &[],
        ),
        message(
            Con,
            5,
            15,
            &[9, 9],
            options(&[(number::URI_PATH, b"time"), (number::CONTENT_FORMAT, cbor)]),
            &[0x81, 0x01],
        ),
        message(Con, 0, 16, &[], Options::new(), &[]),
        message(
            Ack,
            69,
            mid,
            token,
            options(&[
                (number::OBSERVE, &[1]),
                (number::BLOCK2, &[0x0e]),
                (number::SIZE2, &[0x08, 0x00]),
            ]),
            &[0x55; 1024],
        ),
        message(Ack, 0, mid, &[], Options::new(), &[]),
        message(
            Con,
            69,
            17,
            token,
            options(&[(number::OBSERVE, &[2])]),
            b"notification",
        ),
        message(Non, 132, 18, token, Options::new(), b"gone"),
        message(Rst, 0, mid, &[], Options::new(), &[]),
    ]
}

/// An endpoint with one outstanding observation of `SERVER/obs`; returns it
/// with that request's Message ID and token.
fn endpoint(now: Instant) -> (Endpoint, u16, Vec<u8>) {
    let mut ep = Endpoint::new(ProtocolConfig::default(), [7; 32]);
    let mut out = OutgoingRequest::new(SERVER.parse().unwrap(), Request::get("/obs"));
    out.observe = true;
    ep.start_request(now, ExchangeId(1), out);
    let sent = ep.poll_transmit().expect("the observation request");
    let request = wire::decode(&sent.payload).unwrap();
    let token = request.token.as_bytes().to_vec();
    (ep, request.mid, token)
}

/// Answers every request event (with a body that needs Block2 for `/big`)
/// and checks every datagram the endpoint sends.
fn drain(ep: &mut Endpoint, now: Instant) {
    let limit = ProtocolConfig::default().limits.max_datagram_size;
    while let Some(event) = ep.poll_event() {
        if let Event::Request { id, request } = event {
            let response = if request.path_string() == "/big" {
                Response::content(vec![0x42u8; 5000])
            } else {
                Response::content("ok")
            };
            ep.respond(now, id, response);
        }
    }
    while let Some(t) = ep.poll_transmit() {
        assert!(
            t.payload.len() <= limit,
            "sent a datagram of {} bytes",
            t.payload.len()
        );
        assert!(
            wire::decode(&t.payload).is_ok(),
            "sent a malformed datagram {:02x?}",
            t.payload
        );
    }
}

/// Feeds `datagrams` from the hostile peer, lets timers run, then checks
/// that a well-behaved client still gets its answer.
fn survive(datagrams: &[Vec<u8>]) {
    let mut now = Instant::now();
    let (mut ep, _, _) = endpoint(now);
    let hostile: SocketAddr = HOSTILE.parse().unwrap();
    let server: SocketAddr = SERVER.parse().unwrap();
    for (i, d) in datagrams.iter().enumerate() {
        // Alternate the sources: a hostile peer and the observed server.
        let from = if i % 2 == 0 { hostile } else { server };
        ep.handle_datagram(now, from, Via::Unicast, d);
        drain(&mut ep, now);
        now += Duration::from_millis(700);
        ep.handle_timeout(now);
        drain(&mut ep, now);
    }
    for _ in 0..8 {
        now += Duration::from_secs(30);
        ep.handle_timeout(now);
        drain(&mut ep, now);
    }

    let peer: SocketAddr = WELL_BEHAVED.parse().unwrap();
    let get = message(
        MessageType::Con,
        1,
        0x7777,
        &[0xee],
        options(&[(number::URI_PATH, b"time")]),
        &[],
    );
    ep.handle_datagram(now, peer, Via::Unicast, &get);
    let mut answered = false;
    while let Some(event) = ep.poll_event() {
        if let Event::Request { id, request } = event {
            assert_eq!(request.path_string(), "/time");
            ep.respond(now, id, Response::content("ok"));
            answered = true;
        }
    }
    assert!(answered, "the well-behaved request reached no handler");
    let reply = std::iter::from_fn(|| ep.poll_transmit())
        .find(|t| t.destination == peer)
        .expect("an answer to the well-behaved client");
    let reply = wire::decode(&reply.payload).unwrap();
    assert_eq!(reply.mtype, MessageType::Ack);
    assert_eq!(reply.mid, 0x7777);
    assert_eq!(reply.code, 69, "2.05 Content");
}

/// A seed with mutations: (position, xor) flips, then a cut or an append.
fn mutate(seed: &[u8], flips: &[(usize, u8)], cut: Option<usize>, append: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for &(at, x) in flips {
        if !d.is_empty() {
            let i = at % d.len();
            d[i] ^= x;
        }
    }
    if let Some(c) = cut {
        d.truncate(c % (d.len() + 1));
    }
    d.extend_from_slice(append);
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_neither_panic_nor_stop_service(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1300), 1..10)
    ) {
        survive(&datagrams);
    }

    #[test]
    fn mutated_valid_messages_neither_panic_nor_stop_service(
        picks in prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::collection::vec((any::<usize>(), 1u8..=255), 0..4),
                prop::option::of(any::<usize>()),
                prop::collection::vec(any::<u8>(), 0..6),
            ),
            1..12,
        )
    ) {
        let (_, mid, token) = endpoint(Instant::now());
        let seeds = seeds(mid, &token);
        let datagrams: Vec<Vec<u8>> = picks
            .iter()
            .map(|(which, flips, cut, append)| {
                mutate(&seeds[which.index(seeds.len())], flips, *cut, append)
            })
            .collect();
        survive(&datagrams);
    }
}

/// The unmutated seeds are accepted as what they are: the requests reach
/// a handler, so the mutation test starts from messages that go deep.
#[test]
fn the_seeds_themselves_are_valid() {
    let now = Instant::now();
    let (mut ep, mid, token) = endpoint(now);
    let hostile: SocketAddr = HOSTILE.parse().unwrap();
    let mut paths = Vec::new();
    for seed in seeds(mid, &token).iter().take(6) {
        assert!(wire::decode(seed).is_ok());
        ep.handle_datagram(now, hostile, Via::Unicast, seed);
        while let Some(event) = ep.poll_event() {
            if let Event::Request { id, request } = event {
                paths.push(request.path_string());
                ep.respond(now, id, Response::content("ok"));
            }
        }
        while ep.poll_transmit().is_some() {}
    }
    // The Block1 transfer completes at its second block: one request.
    assert_eq!(paths, ["/time", "/obs", "/up", "/big", "/time"]);
}
