//! OSCORE (RFC 8613) through `ace_coap::oscore` over real loopback UDP:
//! protected routes with the requester's identity, the outer message on
//! the wire (POST/FETCH, 2.04/2.05, nothing in the clear), Observe with a
//! fresh Partial IV per notification, block-wise transfer of the protected
//! message in both directions, contexts added, replaced, removed and
//! expiring at runtime, the client layer in `CoapEndpoint::request`, and
//! unprotected requests passing through without identity.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{self, ClientError, OscoreClient, OscoreContexts};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::{CoapEndpoint, Code, Method, Request, Resource, Response, Router, SecurityIdentity};
use oscore_support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn router(state: Arc<AtomicU32>) -> Router {
    Router::new()
        .get("/whoami", |req: Request| async move {
            match oscore::identity::<String>(&req) {
                Some(id) => Response::content(format!(
                    "{} kid={} {:?}",
                    id.label,
                    hex::encode(&id.kid),
                    id.protection
                )),
                None => Response::new(Code::UNAUTHORIZED),
            }
        })
        .post("/echo", |req: Request| async move {
            let mut r = Response::changed().with_payload(req.payload.clone());
            if let Some(cf) = req.content_format() {
                r = r.with_content_format(cf);
            }
            r
        })
        .get("/big", |_req: Request| async {
            Response::content((0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>())
        })
        .get("/open", |req: Request| async move {
            Response::content(if req.security.is_some() {
                "secured"
            } else {
                "plain"
            })
        })
        .resource(
            Resource::new("/counter")
                .get(move |_req: Request| {
                    let v = state.load(Ordering::SeqCst);
                    async move {
                        if v == 99 {
                            Response::not_found()
                        } else {
                            Response::content(format!("v{v}"))
                        }
                    }
                })
                .observable(),
        )
}

struct Setup {
    server: CoapEndpoint,
    server_table: Arc<OscoreContexts<String>>,
    client: OscoreClient<String>,
    state: Arc<AtomicU32>,
    tap: Arc<MemorySink>,
}

async fn setup() -> Setup {
    let state = Arc::new(AtomicU32::new(0));
    let server_table = OscoreContexts::<String>::new();
    let client_table = OscoreContexts::<String>::new();
    let (s, c) = pair(b"", b"\x01");
    server_table.install(&"alice".to_string(), s);
    client_table.install(&"server".to_string(), c);
    let tap = Arc::new(MemorySink::new());
    let server = server_with(
        &server_table,
        router(state.clone()).into_handler(),
        config().tap(tap.clone()),
    )
    .await;
    let client = OscoreClient::new(client_endpoint().await, client_table);
    Setup {
        server,
        server_table,
        client,
        state,
        tap,
    }
}

fn label(s: &str) -> String {
    s.to_string()
}

#[tokio::test]
async fn get_and_post_reach_handlers_with_the_identity_and_only_ciphertext_on_the_wire() {
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        let r = s
            .client
            .request(addr, &label("server"), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.code, Code::CONTENT);
        assert_eq!(r.payload, b"alice kid= Oscore");

        let r = s
            .client
            .request(
                addr,
                &label("server"),
                Request::post("/echo")
                    .with_payload("secret payload")
                    .with_content_format(60),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(r.payload, b"secret payload");
        assert_eq!(r.content_format(), Some(60));

        // On the wire: outer POST with the OSCORE option and neither path
        // nor payload in the clear; outer responses 2.04.
        let received = messages(&s.tap, Direction::In);
        assert_eq!(received.len(), 2);
        for m in &received {
            assert_eq!(m.code, Method::Post.code());
            assert!(m.options.contains(number::OSCORE));
            assert!(!m.options.contains(number::URI_PATH));
            assert!(!m.options.contains(number::CONTENT_FORMAT));
            assert!(!m.payload.windows(6).any(|w| w == b"secret"));
        }
        let sent = messages(&s.tap, Direction::Out);
        assert!(sent.iter().all(|m| m.code == Code::CHANGED.0));
        assert!(sent.iter().all(|m| m.options.contains(number::OSCORE)));
        s.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unprotected_requests_pass_without_identity() {
    bounded(async {
        let s = setup().await;
        let plain = s
            .client
            .endpoint()
            .request(s.server.local_addr(), Request::get("/open"))
            .await
            .unwrap();
        assert_eq!(plain.payload, b"plain");
        let plain = s
            .client
            .endpoint()
            .request(s.server.local_addr(), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(plain.code, Code::UNAUTHORIZED);
        let secured = s
            .client
            .request(
                s.server.local_addr(),
                &label("server"),
                Request::get("/open"),
            )
            .await
            .unwrap();
        assert_eq!(secured.payload, b"secured");
    })
    .await;
}

#[tokio::test]
async fn observe_through_oscore_with_a_fresh_partial_iv_per_notification() {
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        let mut obs = s
            .client
            .observe(addr, &label("server"), Request::get("/counter"))
            .await
            .unwrap();
        let first = obs.next().await.unwrap().unwrap();
        assert_eq!(first.payload, b"v0");
        assert!(first.observe().is_some());
        assert_eq!(s.server_table.observation_count(), 1);
        for v in 1..=3 {
            s.state.store(v, Ordering::SeqCst);
            s.server.notify("/counter");
            let n = obs.next().await.unwrap().unwrap();
            assert_eq!(n.payload, format!("v{v}").as_bytes());
            assert!(n.observe().is_some());
        }
        // Outer FETCH with Observe for the registration; each notification
        // 2.05 with its own Partial IV (OSCORE option longer than empty).
        let received = messages(&s.tap, Direction::In);
        assert_eq!(received[0].code, Method::Fetch.code());
        assert_eq!(received[0].options.observe(), Some(0));
        let notes: Vec<_> = messages(&s.tap, Direction::Out)
            .into_iter()
            .filter(|m| m.code == Code::CONTENT.0)
            .collect();
        assert_eq!(notes.len(), 4);
        let pivs: Vec<Vec<u8>> = notes
            .iter()
            .skip(1)
            .map(|m| m.options.get(number::OSCORE).unwrap().to_vec())
            .collect();
        assert!(pivs.iter().all(|o| !o.is_empty() && o[0] & 0x07 != 0));
        assert_eq!(
            pivs.iter().collect::<std::collections::HashSet<_>>().len(),
            3,
            "distinct Partial IVs"
        );
        // An inner error notification ends the observation at the client.
        s.state.store(99, Ordering::SeqCst);
        s.server.notify("/counter");
        let last = obs.next().await.unwrap().unwrap();
        assert_eq!(last.code, Code::NOT_FOUND);
        assert!(obs.next().await.is_none());
        assert_eq!(s.server_table.observation_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn blockwise_transfer_of_protected_messages_both_ways() {
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        let big = s
            .client
            .request(addr, &label("server"), Request::get("/big"))
            .await
            .unwrap();
        assert_eq!(big.payload.len(), 5000);
        assert!(
            big.payload
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8)
        );
        let upload: Vec<u8> = (0..4000u32).map(|i| (i % 7) as u8).collect();
        let echoed = s
            .client
            .request(
                addr,
                &label("server"),
                Request::post("/echo").with_payload(upload.clone()),
            )
            .await
            .unwrap();
        assert_eq!(echoed.payload, upload);
        // Outer Block1 and Block2 on the wire, around the ciphertext.
        let received = messages(&s.tap, Direction::In);
        assert!(received.iter().any(|m| m.options.contains(number::BLOCK1)));
        let sent = messages(&s.tap, Direction::Out);
        assert!(sent.iter().any(|m| m.options.contains(number::BLOCK2)));
    })
    .await;
}

#[tokio::test]
async fn contexts_are_added_replaced_and_removed_at_runtime() {
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        // A second client with its own context.
        let (srv, cli) = pair(b"\x02", b"\x01");
        s.server_table.install(&label("bob"), srv);
        s.client.contexts().install(&label("as-bob"), cli);
        let r = s
            .client
            .request(addr, &label("as-bob"), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"bob kid=02 Oscore");
        assert_eq!(s.server_table.len(), 2);

        // Replaced with new keying material: the old client context fails
        // with 4.00 "Decryption failed", the new one works.
        let params = (
            group_oscore::ContextParams::new(&[9; 16], b"\x01", b"\x02"),
            group_oscore::ContextParams::new(&[9; 16], b"\x02", b"\x01"),
        );
        s.server_table.install(
            &label("bob"),
            group_oscore::SecurityContext::new(&params.0).unwrap(),
        );
        let err = s
            .client
            .request(addr, &label("as-bob"), Request::get("/whoami"))
            .await
            .unwrap_err();
        assert_eq!(err.refused_code(), Some(Code::BAD_REQUEST), "{err}");
        s.client.contexts().install(
            &label("as-bob"),
            group_oscore::SecurityContext::new(&params.1).unwrap(),
        );
        let r = s
            .client
            .request(addr, &label("as-bob"), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"bob kid=02 Oscore");

        // Removed: 4.01 "Security context not found"; alice unaffected.
        assert!(s.server_table.remove(&label("bob")));
        let err = s
            .client
            .request(addr, &label("as-bob"), Request::get("/whoami"))
            .await
            .unwrap_err();
        match err {
            ClientError::Refused { code, diagnostic } => {
                assert_eq!(code, Code::UNAUTHORIZED);
                assert_eq!(diagnostic.as_deref(), Some("Security context not found"));
            }
            other => panic!("expected a refusal, got {other}"),
        }
        let r = s
            .client
            .request(addr, &label("server"), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"alice kid= Oscore");
        // A label without context fails locally.
        assert!(matches!(
            s.client
                .request(addr, &label("nobody"), Request::get("/whoami"))
                .await,
            Err(ClientError::NoContext(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn expired_contexts_are_treated_as_absent_and_dropped() {
    bounded(async {
        let now = Arc::new(AtomicU32::new(1000));
        let n = now.clone();
        let clock: oscore::Clock = Arc::new(move || u64::from(n.load(Ordering::SeqCst)));
        let server_table = OscoreContexts::<String>::with_clock(clock);
        let (srv, cli) = pair(b"\x05", b"\x06");
        server_table.install_expiring(&label("token-5"), srv, Some(1010));
        let server = server(&server_table, router(Arc::default()).into_handler()).await;
        let client_table = OscoreContexts::<String>::new();
        client_table.install(&label("kdc"), cli);
        let client = OscoreClient::new(client_endpoint().await, client_table);
        let r = client
            .request(server.local_addr(), &label("kdc"), Request::get("/whoami"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"token-5 kid=05 Oscore");
        now.store(1010, Ordering::SeqCst);
        let err = client
            .request(server.local_addr(), &label("kdc"), Request::get("/whoami"))
            .await
            .unwrap_err();
        assert_eq!(err.refused_code(), Some(Code::UNAUTHORIZED));
        assert_eq!(server_table.remove_expired(1010), vec![label("token-5")]);
        assert!(server_table.is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_client_layer_protects_requests_naming_a_context() {
    bounded(async {
        let server_table = OscoreContexts::<String>::new();
        let (srv, cli) = pair(b"\x07", b"\x08");
        server_table.install(&label("carol"), srv);
        let server = server(&server_table, router(Arc::default()).into_handler()).await;

        let client_table = OscoreContexts::<String>::new();
        client_table.install(&label("to-server"), cli);
        let endpoint = CoapEndpoint::bind(
            config().client_layer(client_table.client_layer()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let mut request = Request::get("/whoami");
        request.security = Some(SecurityIdentity::new(label("to-server")));
        let r = endpoint
            .request(server.local_addr(), request)
            .await
            .unwrap();
        assert_eq!(r.payload, b"carol kid=07 Oscore");
        // Without a label: unprotected.
        let r = endpoint
            .request(server.local_addr(), Request::get("/open"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"plain");
        // A layer bound to one context protects everything, and an
        // OscoreClient on the same endpoint is not protected twice.
        let bound = CoapEndpoint::bind(
            config().client_layer(client_table.client_layer_for(label("to-server"))),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let r = bound
            .request(server.local_addr(), Request::get("/open"))
            .await
            .unwrap();
        assert_eq!(r.payload, b"secured");
        let wrapped = OscoreClient::new(bound, client_table.clone());
        let r = wrapped
            .request(
                server.local_addr(),
                &label("to-server"),
                Request::get("/whoami"),
            )
            .await
            .unwrap();
        assert_eq!(r.payload, b"carol kid=07 Oscore");
    })
    .await;
}

#[tokio::test]
async fn inner_block2_requests_get_their_block_and_the_client_joins_them() {
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        // Ask for 256-byte Inner Block2 blocks: the client follows the
        // server's blocks and joins them (20 protected exchanges).
        let first = ace_coap::block::BlockOption::new(0, false, 4).unwrap();
        let big = s
            .client
            .request(
                addr,
                &label("server"),
                Request::get("/big").with_option(number::BLOCK2, first.encode()),
            )
            .await
            .unwrap();
        assert_eq!(big.payload.len(), 5000);
        assert!(
            big.payload
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8)
        );
        assert!(!big.options.contains(number::BLOCK2));
        let requests = messages(&s.tap, Direction::In);
        assert_eq!(requests.len(), 20);
        // Each answer fits one datagram: no Outer Block2.
        assert!(
            messages(&s.tap, Direction::Out)
                .iter()
                .all(|m| !m.options.contains(number::BLOCK2))
        );
        // A block beyond the end is 4.02 (protected: it is the handler
        // layer's answer after verification).
        let beyond = ace_coap::block::BlockOption::new(100, false, 6).unwrap();
        let r = s
            .client
            .request(
                addr,
                &label("server"),
                Request::get("/big").with_option(number::BLOCK2, beyond.encode()),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::BAD_OPTION);
        assert_eq!(r.payload, b"block beyond the end");
    })
    .await;
}

#[tokio::test]
async fn many_clients_with_their_own_contexts_concurrently() {
    bounded(async {
        const CLIENTS: u8 = 40;
        const REQUESTS: usize = 10;
        let server_table = OscoreContexts::<String>::new();
        let server = server(&server_table, router(Arc::default()).into_handler()).await;
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let (srv, cli) = pair(&[0x80, i], b"\x01");
            server_table.install(&format!("client-{i}"), srv);
            let table = OscoreContexts::<String>::new();
            table.install(&label("server"), cli);
            let client = OscoreClient::new(client_endpoint().await, table);
            let addr = server.local_addr();
            tasks.push(tokio::spawn(async move {
                for n in 0..REQUESTS {
                    let r = client
                        .request(
                            addr,
                            &label("server"),
                            Request::post("/echo").with_payload(format!("{i}/{n}")),
                        )
                        .await
                        .unwrap();
                    assert_eq!(r.payload, format!("{i}/{n}").as_bytes());
                }
                let who = client
                    .request(addr, &label("server"), Request::get("/whoami"))
                    .await
                    .unwrap();
                assert_eq!(
                    who.payload,
                    format!("client-{i} kid=80{i:02x} Oscore").as_bytes()
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        for i in 0..CLIENTS {
            // REQUESTS + 1 requests, each with a fresh Sender Sequence
            // Number at the client; the server sent no Partial IV.
            assert_eq!(
                server_table.sender_sequence_number(&format!("client-{i}")),
                Some(0)
            );
        }
    })
    .await;
}

#[tokio::test]
async fn access_rights_update_rebinds_the_context_in_place() {
    // RFC 9203 section 4.1: a new token POSTed over the existing context
    // keeps the context; only its binding (label, expiry) changes.
    bounded(async {
        let s = setup().await;
        let addr = s.server.local_addr();
        assert!(
            s.server_table
                .set_expiry(&label("alice"), Some(u64::MAX - 1))
        );
        let who = |client: OscoreClient<String>| async move {
            let r = client
                .request(addr, &label("server"), Request::get("/whoami"))
                .await
                .unwrap();
            String::from_utf8(r.payload).unwrap()
        };
        assert_eq!(who(s.client.clone()).await, "alice kid= Oscore");
        let mut obs = s
            .client
            .observe(addr, &label("server"), Request::get("/counter"))
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"v0");
        s.server.notify("/counter");
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"v0");
        let ssn = s.server_table.sender_sequence_number(&label("alice"));

        // The new token: another label (e.g. naming it) and its expiry.
        assert!(
            s.server_table
                .relabel(&label("alice"), label("alice/token-2"))
        );
        assert!(s.server_table.set_expiry(&label("alice/token-2"), None));
        assert_eq!(who(s.client.clone()).await, "alice/token-2 kid= Oscore");
        // The observation made before goes on, with the same sequence of
        // server Partial IVs.
        s.state.store(1, Ordering::SeqCst);
        s.server.notify("/counter");
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"v1");
        assert_eq!(
            s.server_table
                .sender_sequence_number(&label("alice/token-2")),
            ssn.map(|n| n + 1)
        );
        assert_eq!(s.server_table.observation_count(), 1);
    })
    .await;
}
