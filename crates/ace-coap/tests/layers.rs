//! The security-layer extension points, exercised with a toy layer: a
//! server `Layer` around the router that sees every complete request and
//! response (notifications included), and a `ClientLayer` that sees every
//! complete outgoing request and incoming response or notification. The
//! OSCORE layer plugs in at the same places.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::request::Origin;
use ace_coap::{
    ClientExchangeLayer, ClientLayer, CoapEndpoint, Code, LayerError, Middleware, ProtocolConfig,
    Request, Resource, Response, Router, SecurityIdentity, SharedHandler,
};
use common::{bounded, config, loopback};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A critical toy option carrying the "key id"; like OSCORE (9) it must be
/// declared to the endpoint so that it is not refused with 4.02.
const KID: u16 = 65001;
/// An elective toy option marking a "protected" response.
const PROTECTED: u16 = 65002;

/// The identity the toy layer attaches to requests.
#[derive(Debug, PartialEq, Eq)]
struct ToyIdentity(String);

fn scramble(p: &[u8]) -> Vec<u8> {
    p.iter().rev().map(|b| b ^ 0x5a).collect()
}

fn unscramble(p: &[u8]) -> Vec<u8> {
    p.iter().rev().map(|b| b ^ 0x5a).collect()
}

/// The server side: unprotect requests (checking the key id), protect
/// responses, and protect notifications without treating the replayed
/// registration as a new request.
fn server_layer(inner: SharedHandler, log: Arc<Mutex<Vec<String>>>) -> SharedHandler {
    Middleware::wrap(inner, move |mut req: Request, next: SharedHandler| {
        let log = log.clone();
        async move {
            let kid = req.options.get_str(KID).map(str::to_owned);
            match (&req.meta.origin, kid.as_deref()) {
                (Origin::Network, Some("k1")) => log
                    .lock()
                    .unwrap()
                    .push(format!("request {}", req.path_string())),
                (Origin::Notification { .. }, Some("k1")) => log.lock().unwrap().push(format!(
                    "notification {} token {}",
                    req.path_string(),
                    req.meta.token
                )),
                _ => return Response::new(Code::UNAUTHORIZED),
            }
            req.options.remove(KID);
            req.payload = unscramble(&req.payload);
            req.security = Some(SecurityIdentity::new(ToyIdentity("k1".into())));
            let inner_response = next.call(req).await;
            // The outer response carries the inner one's observe marker.
            let mut outer =
                Response::new(inner_response.code).with_payload(scramble(&inner_response.payload));
            outer.options.push(PROTECTED, vec![1]);
            outer.observed_resource = inner_response.observed_resource;
            outer
        }
    })
}

struct ToyClient;
struct ToyExchange {
    seen: Arc<AtomicU32>,
}

static CLIENT_SEEN: std::sync::OnceLock<Arc<AtomicU32>> = std::sync::OnceLock::new();

impl ClientLayer for ToyClient {
    fn outgoing(
        &self,
        _destination: SocketAddr,
        mut request: Request,
    ) -> Result<(Request, Box<dyn ClientExchangeLayer>), LayerError> {
        request.options.push(KID, "k1");
        request.payload = scramble(&request.payload);
        let seen = CLIENT_SEEN.get_or_init(Default::default).clone();
        Ok((request, Box::new(ToyExchange { seen })))
    }
}

impl ClientExchangeLayer for ToyExchange {
    fn incoming(
        &mut self,
        _from: SocketAddr,
        mut response: Response,
    ) -> Result<Response, LayerError> {
        if !response.options.contains(PROTECTED) {
            return Err(LayerError::new("unprotected response"));
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        response.options.remove(PROTECTED);
        response.payload = unscramble(&response.payload);
        Ok(response)
    }
}

#[tokio::test]
async fn requests_responses_and_notifications_pass_through_both_layers() {
    bounded(Duration::from_secs(30), async {
        let state = Arc::new(AtomicU32::new(0));
        let st = state.clone();
        let router = Router::new()
            .post("/whoami", |req: Request| async move {
                let id = req
                    .security::<ToyIdentity>()
                    .map(|i| i.0.clone())
                    .unwrap_or_default();
                Response::changed().with_payload(format!(
                    "{id} said {}",
                    String::from_utf8_lossy(&req.payload)
                ))
            })
            // A large response: the layer's output is cut into blocks below it.
            .get("/big", |_req: Request| async {
                Response::content(vec![b'b'; 3000])
            })
            .resource(
                Resource::new("/keys")
                    .get(move |req: Request| {
                        let v = st.load(Ordering::SeqCst);
                        let ok = req.security::<ToyIdentity>().is_some();
                        async move {
                            if ok {
                                Response::content(format!("key {v}"))
                            } else {
                                Response::new(Code::FORBIDDEN)
                            }
                        }
                    })
                    .observable(),
            );
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler = server_layer(router.into_handler(), log.clone());
        let mut protocol = ProtocolConfig::fast_for_tests();
        protocol.extra_critical_options.push(KID);
        let s = CoapEndpoint::bind(config(loopback()).protocol(protocol.clone()), handler)
            .await
            .unwrap();
        let c = CoapEndpoint::bind(
            config(loopback())
                .protocol(protocol)
                .client_layer(Arc::new(ToyClient)),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();

        let r = c
            .request(s.local_addr(), Request::post("/whoami").with_payload("hi"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"k1 said hi");
        assert!(
            !r.options.contains(PROTECTED),
            "the client layer unprotected it"
        );

        let r = c
            .request(s.local_addr(), Request::get("/big"))
            .await
            .unwrap();
        assert_eq!(r.payload, vec![b'b'; 3000]);

        let mut obs = c
            .observe(s.local_addr(), Request::get("/keys"))
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"key 0");
        for i in 1..=3 {
            state.store(i, Ordering::SeqCst);
            s.notify("/keys");
            assert_eq!(
                obs.next().await.unwrap().unwrap().payload,
                format!("key {i}").into_bytes()
            );
        }
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log.iter()
                .filter(|l| l.starts_with("notification /keys"))
                .count(),
            3,
            "{log:?}"
        );
        assert_eq!(
            log.iter().filter(|l| l.starts_with("request")).count(),
            3,
            "{log:?}"
        );
        // Responses to three requests and four observe items went through
        // the client layer.
        assert_eq!(CLIENT_SEEN.get().unwrap().load(Ordering::SeqCst), 6);

        // Without the layer's key id the server layer refuses.
        let plain = CoapEndpoint::bind(
            config(loopback()).protocol(ProtocolConfig::fast_for_tests()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let r = plain
            .request(s.local_addr(), Request::post("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.code, Code::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn one_endpoint_serves_and_sends_at_the_same_time() {
    bounded(Duration::from_secs(30), async {
        // Two endpoints that each serve /ping and, from their handlers'
        // point of view, concurrently send requests to each other, like the
        // KDC that serves joins and sends rekeying requests to members.
        let make = |name: &'static str| {
            Router::new().get("/ping", move |_req: Request| async move {
                Response::content(name)
            })
        };
        let a = CoapEndpoint::bind(config(loopback()), make("a").into_handler())
            .await
            .unwrap();
        let b = CoapEndpoint::bind(config(loopback()), make("b").into_handler())
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (from, to) = if i % 2 == 0 {
                (a.clone(), b.local_addr())
            } else {
                (b.clone(), a.local_addr())
            };
            tasks.spawn(async move {
                (
                    i,
                    from.request(to, Request::get("/ping"))
                        .await
                        .unwrap()
                        .payload,
                )
            });
        }
        while let Some(r) = tasks.join_next().await {
            let (i, payload) = r.unwrap();
            assert_eq!(
                payload,
                if i % 2 == 0 {
                    b"b".to_vec()
                } else {
                    b"a".to_vec()
                }
            );
        }
    })
    .await;
}
