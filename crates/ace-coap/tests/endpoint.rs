//! End-to-end tests of the endpoint over real loopback sockets.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::fault::FaultConfig;
use ace_coap::option::number;
use ace_coap::runtime::HandlerDispatch;
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::wire::{self, MessageType};
use ace_coap::{
    CoapEndpoint, Code, EndpointConfig, Method, MulticastGroup, ProtocolConfig, Request,
    RequestOptions, Resource, Response, Router,
};
use common::{bounded, client, config, loopback, server};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn echo_router() -> Router {
    Router::new()
        .post("/echo", |req: Request| async move {
            let mut r = Response::changed().with_payload(req.payload);
            if let Some(cf) = req.options.content_format() {
                r.options.set_content_format(cf);
            }
            r
        })
        .put("/echo", |req: Request| async move {
            Response::changed().with_payload(req.payload)
        })
        .fetch("/echo", |req: Request| async move {
            Response::content(req.payload)
        })
        .get("/hello", |req: Request| async move {
            Response::content(format!("hello {}", req.peer.ip())).with_content_format(0)
        })
}

#[tokio::test]
async fn get_and_post_over_ipv4_and_ipv6() {
    bounded(LIMIT, async {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let bind: SocketAddr = bind.parse().unwrap();
            let s = CoapEndpoint::bind(config(bind), echo_router().into_handler())
                .await
                .unwrap();
            assert_ne!(s.local_addr().port(), 0, "the bound port is reported");
            let c = CoapEndpoint::bind(config(bind), ace_coap::handler::not_found())
                .await
                .unwrap();
            let r = c
                .request(s.local_addr(), Request::get("/hello"))
                .await
                .unwrap();
            assert_eq!(r.code, Code::CONTENT);
            assert_eq!(r.payload, format!("hello {}", bind.ip()).into_bytes());
            let r = c
                .request(
                    s.local_addr(),
                    Request::post("/echo")
                        .with_payload("body")
                        .with_content_format(0),
                )
                .await
                .unwrap();
            assert_eq!(
                (r.code, r.payload.as_slice(), r.content_format()),
                (Code::CHANGED, &b"body"[..], Some(0))
            );
            let r = c
                .request_with(
                    s.local_addr(),
                    Request::fetch("/echo").with_payload("q"),
                    RequestOptions::non_confirmable(),
                )
                .await
                .unwrap();
            assert_eq!(r.payload, b"q");
            assert_eq!(
                c.request(s.local_addr(), Request::get("/missing"))
                    .await
                    .unwrap()
                    .code,
                Code::NOT_FOUND
            );
            s.shutdown().await;
            c.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn requests_by_uri() {
    bounded(LIMIT, async {
        let s = server(echo_router().into_handler()).await;
        let c = client().await;
        let uri = format!("coap://127.0.0.1:{}/hello", s.local_addr().port());
        let r = c.request(uri.as_str(), Request::get("")).await.unwrap();
        assert_eq!(r.payload, b"hello 127.0.0.1");
        let r = c.request("coap://localhost:1/x", Request::get("")).await;
        assert!(r.is_err());
        let bad = c.request("coaps://127.0.0.1/x", Request::get("")).await;
        assert!(matches!(bad, Err(ace_coap::RequestError::Uri(_))));
    })
    .await;
}

#[tokio::test]
async fn con_post_completes_under_30_percent_loss_and_handler_runs_once() {
    bounded(Duration::from_secs(120), async {
        let calls = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let seen = calls.clone();
        let router = Router::new().post("/counter", move |req: Request| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(req.payload.clone());
                Response::changed().with_payload(req.payload)
            }
        });
        let s = server(router.into_handler()).await;
        let mut protocol = ProtocolConfig::fast_for_tests();
        // 30 % loss each way: an attempt gets through with 49 %; with 10
        // retransmissions an exchange fails with 0.51^11 = 0.06 %.
        protocol.transmission.max_retransmit = 10;
        let tap = Arc::new(MemorySink::new());
        let cfg = EndpointConfig::new(loopback())
            .protocol(protocol)
            .faults(FaultConfig::lossy(0.30, 0x5eed))
            .tap(tap.clone());
        let c = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap();
        for i in 0..10 {
            let body = format!("post {i}");
            let r = c
                .request(
                    s.local_addr(),
                    Request::post("/counter").with_payload(body.clone()),
                )
                .await
                .unwrap();
            assert_eq!(r.payload, body.as_bytes());
        }
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 10, "each handler ran exactly once");
        let distinct: HashSet<_> = calls.iter().collect();
        assert_eq!(distinct.len(), 10);
        let (stats, _) = s.stats().await.unwrap();
        assert!(
            stats.duplicates > 0,
            "lost ACKs made the client retransmit: {stats:?}"
        );
        let (cstats, _) = c.stats().await.unwrap();
        assert!(cstats.retransmissions > 0);
        assert!(tap.records().iter().any(|r| r.direction == Direction::Out));
    })
    .await;
}

#[tokio::test]
async fn slow_handler_gets_separate_response_and_others_are_not_blocked() {
    for dispatch in [HandlerDispatch::Spawn, HandlerDispatch::InlineFirstPoll] {
        slow_handler_with(dispatch).await;
    }
}

async fn slow_handler_with(dispatch: HandlerDispatch) {
    bounded(LIMIT, async {
        // The slow handler waits for a gate that opens only after another
        // request was answered: proof that it blocks nobody.
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let router = echo_router().get("/slow", move |_req: Request| {
            let g = g.clone();
            async move {
                g.notified().await;
                Response::content("finally")
            }
        });
        let mut cfg = config(loopback());
        cfg.dispatch = dispatch;
        let s = CoapEndpoint::bind(cfg, router.into_handler())
            .await
            .unwrap();
        let tap = Arc::new(MemorySink::new());
        let c = CoapEndpoint::bind(
            config(loopback()).tap(tap.clone()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let c2 = client().await;
        let slow = {
            let c = c.clone();
            let addr = s.local_addr();
            tokio::spawn(async move { c.request(addr, Request::get("/slow")).await })
        };
        // Past the separate-response delay (12.5 ms here) the server sends
        // an empty ACK.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fast = c2
            .request(s.local_addr(), Request::get("/hello"))
            .await
            .unwrap();
        assert_eq!(fast.code, Code::CONTENT);
        assert!(!slow.is_finished(), "the slow handler is still waiting");
        gate.notify_one();
        let r = slow.await.unwrap().unwrap();
        assert_eq!(r.payload, b"finally");
        let kinds: Vec<(Direction, MessageType, u8)> = tap
            .records()
            .iter()
            .map(|r| {
                let m = wire::decode(&r.bytes).unwrap();
                (r.direction, m.mtype, m.code)
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Direction::Out, MessageType::Con, 1),
                (Direction::In, MessageType::Ack, 0),
                (Direction::In, MessageType::Con, Code::CONTENT.0),
                (Direction::Out, MessageType::Ack, 0),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn handler_panic_becomes_500() {
    for dispatch in [HandlerDispatch::Spawn, HandlerDispatch::InlineFirstPoll] {
        handler_panic_with(dispatch).await;
    }
}

async fn handler_panic_with(dispatch: HandlerDispatch) {
    bounded(LIMIT, async {
        let router = Router::new().get("/boom", |_req: Request| async {
            if std::hint::black_box(true) {
                panic!("handler failure");
            }
            Response::content("unreachable")
        });
        let mut cfg = config(loopback());
        cfg.dispatch = dispatch;
        let s = CoapEndpoint::bind(cfg, router.into_handler())
            .await
            .unwrap();
        let c = client().await;
        let r = c
            .request(s.local_addr(), Request::get("/boom"))
            .await
            .unwrap();
        assert_eq!(r.code, Code::INTERNAL_SERVER_ERROR);
    })
    .await;
}

fn big(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

#[tokio::test]
async fn ten_kib_bodies_cross_blockwise_both_ways() {
    bounded(LIMIT, async {
        let s = server(echo_router().into_handler()).await;
        let tap = Arc::new(MemorySink::new());
        let c = CoapEndpoint::bind(
            config(loopback()).tap(tap.clone()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let body = big(10 * 1024);
        let r = c
            .request(
                s.local_addr(),
                Request::post("/echo")
                    .with_payload(body.clone())
                    .with_content_format(42),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(r.payload, body);
        assert_eq!(r.content_format(), Some(42));
        let records = tap.records();
        assert!(
            records.iter().all(|r| r.bytes.len() <= 1152),
            "no datagram over 1152 bytes"
        );
        let block1 = records
            .iter()
            .filter(|r| r.direction == Direction::Out)
            .filter(|r| {
                wire::decode(&r.bytes)
                    .unwrap()
                    .options
                    .contains(number::BLOCK1)
            })
            .count();
        let block2 = records
            .iter()
            .filter(|r| r.direction == Direction::In)
            .filter(|r| {
                wire::decode(&r.bytes)
                    .unwrap()
                    .options
                    .contains(number::BLOCK2)
            })
            .count();
        assert_eq!((block1, block2), (10, 10));
    })
    .await;
}

#[tokio::test]
async fn observe_over_sockets_ordered_then_deregistered() {
    bounded(LIMIT, async {
        let state = Arc::new(AtomicU32::new(0));
        let st = state.clone();
        let router = Router::new().resource(
            Resource::new("/counter")
                .get(move |_req: Request| {
                    let v = st.load(Ordering::SeqCst);
                    async move { Response::content(v.to_string()) }
                })
                .observable(),
        );
        let s = server(router.into_handler()).await;
        let c = client().await;
        let mut obs = c
            .observe(s.local_addr(), Request::get("/counter"))
            .await
            .unwrap();
        let first = obs.next().await.unwrap().unwrap();
        assert_eq!(first.payload, b"0");
        let mut last_seq = first.observe().expect("registered");
        for i in 1..=5u32 {
            state.store(i, Ordering::SeqCst);
            s.notify("/counter");
            let n = obs.next().await.unwrap().unwrap();
            assert_eq!(n.payload, i.to_string().into_bytes());
            let seq = n.observe().unwrap();
            assert!(seq > last_seq, "sequence numbers increase");
            last_seq = seq;
        }
        assert_eq!(s.stats().await.unwrap().1, 1);
        let final_response = obs.deregister().await.unwrap().unwrap();
        assert_eq!(final_response.code, Code::CONTENT);
        assert!(final_response.observe().is_none());
        let (stats, observers) = s.stats().await.unwrap();
        assert_eq!(observers, 0);
        state.store(99, Ordering::SeqCst);
        s.notify("/counter");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            s.stats().await.unwrap().0.notifications,
            stats.notifications,
            "no notification after deregistration"
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_an_observed_resource_ends_the_observation_with_404() {
    bounded(LIMIT, async {
        let exists = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let e = exists.clone();
        let router = Router::new().resource(
            Resource::new("/ace-group/{name}")
                .get(move |req: Request| {
                    let alive = e.load(Ordering::SeqCst);
                    async move {
                        if alive {
                            Response::content(format!("group {}", req.param("name").unwrap_or("")))
                        } else {
                            Response::not_found()
                        }
                    }
                })
                .observable(),
        );
        let s = server(router.into_handler()).await;
        let c = client().await;
        let mut obs = c
            .observe(s.local_addr(), Request::get("/ace-group/g1"))
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"group g1");
        exists.store(false, Ordering::SeqCst);
        s.notifier().notify_subtree("/ace-group/g1");
        let gone = obs.next().await.unwrap().unwrap();
        assert_eq!(gone.code, Code::NOT_FOUND);
        assert!(obs.next().await.is_none());
        assert_eq!(s.stats().await.unwrap().1, 0);
    })
    .await;
}

#[tokio::test]
async fn thousand_concurrent_requests_from_fifty_clients() {
    bounded(Duration::from_secs(60), async {
        let count = Arc::new(AtomicU32::new(0));
        let n = count.clone();
        let router = echo_router().post("/count", move |req: Request| {
            n.fetch_add(1, Ordering::SeqCst);
            async move { Response::changed().with_payload(req.payload) }
        });
        let s = server(router.into_handler()).await;
        let mut tasks = tokio::task::JoinSet::new();
        for client_no in 0..50 {
            let c = client().await;
            for req_no in 0..20 {
                let c = c.clone();
                let addr = s.local_addr();
                tasks.spawn(async move {
                    let body = format!("{client_no}/{req_no}");
                    let r = c
                        .request(addr, Request::post("/count").with_payload(body.clone()))
                        .await
                        .unwrap();
                    assert_eq!(r.payload, body.as_bytes());
                });
            }
        }
        let mut done = 0;
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
            done += 1;
        }
        assert_eq!(done, 1000);
        assert_eq!(count.load(Ordering::SeqCst), 1000);
    })
    .await;
}

/// A UDP port that is free right now on the wildcard address.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn multicast_request_reaches_two_servers_on_loopback() {
    bounded(LIMIT, async {
        let mut last_err = None;
        for _attempt in 0..5 {
            let port = free_port();
            let group = MulticastGroup::all_coap_nodes_v4(port, Ipv4Addr::LOCALHOST);
            let mut servers = Vec::new();
            let mut ok = true;
            for name in ["one", "two"] {
                let router = Router::new().get("/who", move |_req: Request| async move {
                    Response::content(name)
                });
                match CoapEndpoint::bind(
                    config(loopback()).join(group.clone()),
                    router.into_handler(),
                )
                .await
                {
                    Ok(s) => servers.push(s),
                    Err(e) => {
                        last_err = Some(e);
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let mut cfg = config(loopback());
            cfg.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
            let c = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
                .await
                .unwrap();
            let responses = c
                .group_request(
                    group.group,
                    Request::get("/who"),
                    Duration::from_millis(1500),
                )
                .await
                .unwrap();
            let mut got: Vec<(SocketAddr, Vec<u8>)> =
                responses.into_iter().map(|(a, r)| (a, r.payload)).collect();
            got.sort();
            let mut expected = vec![
                (servers[0].local_addr(), b"one".to_vec()),
                (servers[1].local_addr(), b"two".to_vec()),
            ];
            expected.sort();
            assert_eq!(got, expected);
            // An unknown resource: both servers stay silent (RFC 7252 8.2).
            let none = c
                .group_request(
                    group.group,
                    Request::get("/nothing"),
                    Duration::from_millis(200),
                )
                .await
                .unwrap();
            assert!(none.is_empty());
            return;
        }
        panic!("could not bind the multicast servers: {last_err:?}");
    })
    .await;
}

/// A server joins an IPv6 group on `lo`, but Linux sends no IPv6
/// multicast there, with or without IFF_MULTICAST on `lo`: there is no
/// multicast route via the loopback device (one added by hand becomes a
/// reject route), so the send fails with ENETUNREACH. `multicast_ipv6.rs`
/// proves IPv6 group requests over a veth pair in a private network
/// namespace instead.
#[tokio::test]
async fn ipv6_group_joins_on_loopback_where_linux_sends_no_multicast() {
    bounded(LIMIT, async {
        let lo = ace_coap::runtime::socket::interface_index("lo").unwrap_or(1);
        let group = MulticastGroup::v6(
            ace_coap::runtime::socket::ALL_COAP_NODES_V6_LINK,
            free_port(),
            lo,
        );
        let router = Router::new().get("/who", |_req: Request| async { Response::content("v6") });
        let s = CoapEndpoint::bind(
            config("[::1]:0".parse().unwrap()).join(group.clone()),
            router.into_handler(),
        )
        .await
        .unwrap();
        let probe = std::net::UdpSocket::bind("[::1]:0").unwrap();
        socket2::SockRef::from(&probe)
            .set_multicast_if_v6(lo)
            .unwrap();
        let err = probe.send_to(b"\x50\x01\x00\x00", group.group).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(101),
            "expected ENETUNREACH, got {err}"
        );
        s.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn well_known_core_over_the_wire() {
    bounded(LIMIT, async {
        let router = echo_router().resource(
            Resource::new("/ace-group")
                .method(Method::Fetch, |_r: Request| async { Response::content("") })
                .rt("core.osc.gm")
                .interface("ace.group"),
        );
        let s = server(router.into_handler()).await;
        let c = client().await;
        let r = c
            .request(
                s.local_addr(),
                Request::get("/.well-known/core?if=ace.group"),
            )
            .await
            .unwrap();
        assert_eq!(r.content_format(), Some(40));
        assert_eq!(
            r.payload,
            br#"</ace-group>;rt="core.osc.gm";if="ace.group""#
        );
    })
    .await;
}

#[tokio::test]
async fn malformed_datagrams_are_ignored_or_reset_and_the_server_survives() {
    bounded(LIMIT, async {
        let s = server(echo_router().into_handler()).await;
        let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // A CON with a reserved option nibble gets a RST with its MID.
        raw.send_to(&[0x40, 0x01, 0xab, 0xcd, 0xff], s.local_addr())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = raw.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[0x70, 0x00, 0xab, 0xcd]);
        // Garbage of every short length: no reply, no crash.
        for len in 0..8 {
            raw.send_to(&vec![0xffu8; len], s.local_addr())
                .await
                .unwrap();
        }
        // A datagram over the 1152-byte limit gets 4.13 with a Block1 hint.
        let mut big = vec![0x40, 0x02, 0x00, 0x01, 0xb4, b'e', b'c', b'h', b'o', 0xff];
        big.extend(std::iter::repeat_n(b'x', 2000));
        raw.send_to(&big, s.local_addr()).await.unwrap();
        let (n, _) = raw.recv_from(&mut buf).await.unwrap();
        let m = wire::decode(&buf[..n]).unwrap();
        assert_eq!(m.code, Code::REQUEST_ENTITY_TOO_LARGE.0);
        assert!(m.options.contains(number::BLOCK1));
        let c = client().await;
        assert_eq!(
            c.request(s.local_addr(), Request::get("/hello"))
                .await
                .unwrap()
                .code,
            Code::CONTENT
        );
    })
    .await;
}

#[tokio::test]
async fn request_to_silent_peer_times_out() {
    bounded(LIMIT, async {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = client().await;
        let started = std::time::Instant::now();
        let r = c
            .request(silent.local_addr().unwrap(), Request::get("/x"))
            .await;
        assert!(
            matches!(
                r,
                Err(ace_coap::RequestError::Exchange(
                    ace_coap::ExchangeError::Timeout
                ))
            ),
            "{r:?}"
        );
        // ACK_TIMEOUT 50 ms, 4 retransmissions: 1.55 s to 2.3 s.
        assert!(started.elapsed() >= Duration::from_millis(1500));
    })
    .await;
}

#[tokio::test]
async fn dropped_request_future_cancels_the_exchange() {
    bounded(LIMIT, async {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = client().await;
        let fut = c.request(silent.local_addr().unwrap(), Request::get("/x"));
        assert!(
            tokio::time::timeout(Duration::from_millis(30), fut)
                .await
                .is_err()
        );
        // NSTART 1: a second request to the same peer is not stuck behind the
        // abandoned one; it goes out (and times out) on its own.
        let before = c.stats().await.unwrap().0.datagrams_out;
        let second = {
            let c = c.clone();
            let addr = silent.local_addr().unwrap();
            tokio::spawn(async move { c.request(addr, Request::get("/y")).await })
        };
        let mut sent = false;
        for _ in 0..100 {
            if c.stats().await.unwrap().0.datagrams_out > before {
                sent = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        second.abort();
        assert!(sent, "the second request went out");
    })
    .await;
}

#[tokio::test]
async fn busy_polling_endpoint_serves_and_shuts_down() {
    bounded(LIMIT, async {
        for dispatch in [HandlerDispatch::Spawn, HandlerDispatch::InlineFirstPoll] {
            let mut cfg = config(loopback());
            cfg.busy_poll = Some(Duration::from_millis(20));
            cfg.dispatch = dispatch;
            let s = CoapEndpoint::bind(cfg, echo_router().into_handler())
                .await
                .unwrap();
            let c = client().await;
            for i in 0..50 {
                let body = format!("{i}");
                let r = c
                    .request(
                        s.local_addr(),
                        Request::post("/echo").with_payload(body.clone()),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.payload, body.as_bytes());
                if i % 10 == 0 {
                    // Let the spin window lapse so the driver goes back to sleeping.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
            s.shutdown().await;
        }
    })
    .await;
}
