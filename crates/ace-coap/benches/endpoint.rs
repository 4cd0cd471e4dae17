//! Micro-benchmarks of the sans-I/O path: the CPU a request costs the
//! endpoint without sockets (decode, dedup, job, response, encode).
#![allow(clippy::unwrap_used)] // a benchmark: failing loudly is the point

use ace_coap::endpoint::{Endpoint, Event, Via};
use ace_coap::option::{Options, number};
use ace_coap::wire::{self, Message, MessageType, Token};
use ace_coap::{ProtocolConfig, Response, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

fn get_time(mid: u16, token: u32) -> Vec<u8> {
    let mut options = Options::new();
    options.push(number::URI_PATH, "time");
    let m = Message {
        mtype: MessageType::Con,
        code: 1,
        mid,
        token: Token::new(&token.to_be_bytes()).unwrap(),
        options,
        payload: Vec::new(),
    };
    wire::encode(&m, 1152).unwrap()
}

fn bench(c: &mut Criterion) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let request = get_time(1, 1);
    c.bench_function("wire decode GET", |b| {
        b.iter(|| wire::decode(black_box(&request)).unwrap())
    });

    let mut ep = Endpoint::new(ProtocolConfig::default(), [7; 32]);
    let now = Instant::now();
    let mut n: u32 = 0;
    c.bench_function("endpoint GET request -> piggybacked response", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let bytes = get_time(n as u16, n);
            ep.handle_datagram(now, peer, Via::Unicast, &bytes);
            let Some(Event::Request { id, .. }) = ep.poll_event() else {
                panic!("no request")
            };
            ep.respond(
                now,
                id,
                Response::content("Nov 28 00:47:15").with_max_age(1),
            );
            black_box(ep.poll_transmit().unwrap());
        })
    });

    let router = Router::new().get("/time", |_req: ace_coap::Request| async {
        Response::content("Nov 28 00:47:15")
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("router dispatch GET /time", |b| {
        b.iter(|| {
            use ace_coap::Handler;
            rt.block_on(router.call(ace_coap::Request::get("/time")))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
