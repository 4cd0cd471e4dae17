//! The life of an OSCORE-protected observation across the endpoint and the
//! OSCORE layer (RFC 7641, RFC 8613 section 4.1.3.5):
//!
//! * an inner error notification (the KDC's 4.04 eviction notice) is the
//!   last one on the wire too: Confirmable, outer 2.04 without Observe, so
//!   the client's endpoint ends the observation, and the server deregisters
//!   the observer;
//! * every end of an observation (the client's Reset, shutdown, the last
//!   notification) reaches the layer, which frees its state at once;
//! * a client layer that decrypts an error notification still carrying an
//!   Outer Observe (as a peer that does not mark it final sends it) ends
//!   the observation locally, and the server's next notification is reset;
//! * No-Response 2 inside the protected registration (RFC 9594 section
//!   4.1) registers the observer, hides every 2.xx and lets the eviction
//!   notice through.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{OscoreClient, OscoreContexts};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::wire::MessageType;
use ace_coap::{
    CoapEndpoint, Code, Middleware, Request, Resource, Response, Router, SecurityIdentity,
    SharedHandler,
};
use oscore_support::*;
use std::sync::Arc;
use std::time::Duration;

fn l(s: &str) -> String {
    s.to_string()
}

fn router() -> Router {
    Router::new().resource(
        Resource::new("/ace-group/g1/nodes/n1")
            .get(|_req: Request| async { Response::content("member") })
            .observable(),
    )
}

/// The eviction notice of RFC 9594 section 4.1, as the KDC sends it.
fn eviction() -> Response {
    Response::not_found().with_payload("evicted")
}

/// The number of observers the server endpoint keeps.
async fn observers(server: &CoapEndpoint) -> usize {
    server.stats().await.unwrap().1
}

/// Waits (bounded by the test's limit) until the server has `n` observers.
async fn until_observers(server: &CoapEndpoint, n: usize) {
    while observers(server).await != n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Setup {
    server: CoapEndpoint,
    server_table: Arc<OscoreContexts<String>>,
    server_tap: Arc<MemorySink>,
    client_table: Arc<OscoreContexts<String>>,
}

async fn setup(wrap: impl FnOnce(SharedHandler) -> SharedHandler) -> Setup {
    let server_table = OscoreContexts::<String>::new();
    let client_table = OscoreContexts::<String>::new();
    let (s, c) = pair(b"\x05", b"\x01");
    server_table.install(&l("member"), s);
    client_table.install(&l("kdc"), c);
    let server_tap = Arc::new(MemorySink::new());
    let handler = wrap(ace_coap::Layer::layer(
        &server_table.server_layer(),
        router().into_handler(),
    ));
    let server = CoapEndpoint::bind(config().tap(server_tap.clone()), handler)
        .await
        .unwrap();
    Setup {
        server,
        server_table,
        server_tap,
        client_table,
    }
}

#[tokio::test]
async fn an_inner_error_notification_ends_the_observation_on_the_wire() {
    bounded(async {
        let s = setup(|h| h).await;
        let client = OscoreClient::new(client_endpoint().await, s.client_table.clone());
        let path = "/ace-group/g1/nodes/n1";
        let mut obs = client
            .observe(s.server.local_addr(), &l("kdc"), Request::get(path))
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"member");
        assert_eq!(observers(&s.server).await, 1);
        assert_eq!(s.server_table.observation_count(), 1);

        s.server.notify_with(path, eviction());
        let last = obs.next().await.unwrap().unwrap();
        assert_eq!(last.code, Code::NOT_FOUND);
        assert_eq!(last.payload, b"evicted");
        assert!(obs.next().await.is_none());

        // On the wire: a Confirmable 2.04 without Observe (RFC 8613 section
        // 4.1.3.5.2: the original message, an error, has none).
        let out = messages(&s.server_tap, Direction::Out);
        let last_out = out.iter().rev().find(|m| m.code != 0).unwrap();
        assert_eq!(last_out.mtype, MessageType::Con);
        assert_eq!(Code(last_out.code), Code::CHANGED);
        assert!(last_out.options.contains(number::OSCORE));
        assert!(!last_out.options.contains(number::OBSERVE));
        // The server deregistered the observer and the layer its state.
        assert_eq!(observers(&s.server).await, 0);
        assert_eq!(s.server_table.observation_count(), 0);
        // A later change reaches nobody: nothing more is sent.
        let sent = s.server.stats().await.unwrap().0.notifications;
        s.server.notify(path);
        assert_eq!(s.server.stats().await.unwrap().0.notifications, sent);
    })
    .await;
}

#[tokio::test]
async fn every_end_of_an_observation_frees_the_layer_state() {
    bounded(async {
        let s = setup(|h| h).await;
        let client = OscoreClient::new(client_endpoint().await, s.client_table.clone());
        let path = "/ace-group/g1/nodes/n1";
        let addr = s.server.local_addr();

        // The client forgets (drops) its observation; the next notification
        // is answered with a Reset, which ends the observation at the
        // endpoint and in the layer.
        let mut obs = client
            .observe(addr, &l("kdc"), Request::get(path))
            .await
            .unwrap();
        assert!(obs.next().await.unwrap().is_ok());
        drop(obs);
        assert_eq!(s.server_table.observation_count(), 1);
        s.server.notify(path);
        until_observers(&s.server, 0).await;
        assert_eq!(s.server_table.observation_count(), 0);

        // Shutdown ends the others.
        let mut live = Vec::new();
        for _ in 0..3 {
            let mut obs = client
                .observe(addr, &l("kdc"), Request::get(path))
                .await
                .unwrap();
            assert!(obs.next().await.unwrap().is_ok());
            live.push(obs);
        }
        assert_eq!(observers(&s.server).await, 3);
        assert_eq!(s.server_table.observation_count(), 3);
        s.server.shutdown().await;
        assert_eq!(s.server_table.observation_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_client_layer_ends_an_observation_whose_decrypted_notification_is_an_error() {
    bounded(async {
        // The server does not mark the error notification as final: its
        // outer message carries Observe, as an older peer's would.
        let s = setup(|h| {
            Middleware::wrap(h, |req: Request, next: SharedHandler| async move {
                let mut r = next.call(req).await;
                r.ends_observation = false;
                r
            })
        })
        .await;
        let endpoint = CoapEndpoint::bind(
            config().client_layer(s.client_table.client_layer()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let path = "/ace-group/g1/nodes/n1";
        let mut request = Request::get(path);
        request.options.set_uint(number::OBSERVE, 0);
        request.security = Some(SecurityIdentity::new(l("kdc")));
        let mut obs = endpoint
            .observe(s.server.local_addr(), request)
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"member");
        s.server.notify_with(path, eviction());
        let last = obs.next().await.unwrap().unwrap();
        assert_eq!(last.code, Code::NOT_FOUND);
        assert!(obs.next().await.is_none());
        assert!(obs.is_done());
        // The server still believes in the observation; its next
        // notification is reset by the client, which ends it.
        assert_eq!(observers(&s.server).await, 1);
        s.server.notify(path);
        until_observers(&s.server, 0).await;
        assert_eq!(s.server_table.observation_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn no_response_2_inside_the_protected_registration_leaves_only_the_eviction_notice() {
    bounded(async {
        let s = setup(|h| h).await;
        let client_tap = Arc::new(MemorySink::new());
        let endpoint = CoapEndpoint::bind(
            config().tap(client_tap.clone()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let client = OscoreClient::new(endpoint, s.client_table.clone());
        let path = "/ace-group/g1/nodes/n1";
        let mut request = Request::get(path);
        request.options.set_uint(number::NO_RESPONSE, 2);
        let mut obs = client
            .observe(s.server.local_addr(), &l("kdc"), request)
            .await
            .unwrap();
        // Registered without a registration response: the server only
        // acknowledged the CON.
        assert_eq!(observers(&s.server).await, 1);
        assert_eq!(s.server_table.observation_count(), 1);
        let received = messages(&client_tap, Direction::In);
        assert_eq!(received.len(), 1, "{received:?}");
        assert_eq!((received[0].mtype, received[0].code), (MessageType::Ack, 0));
        // No-Response travelled inside: not visible on the wire.
        let sent = messages(&client_tap, Direction::Out);
        assert!(!sent[0].options.contains(number::NO_RESPONSE));

        // A rekeying-style 2.05 notification is declined: nothing is sent.
        let before = s.server.stats().await.unwrap().0.notifications;
        s.server.notify(path);
        s.server.notify(path);
        // The eviction notice goes through and ends the observation.
        s.server.notify_with(path, eviction());
        let last = obs.next().await.unwrap().unwrap();
        assert_eq!(last.code, Code::NOT_FOUND);
        assert!(obs.next().await.is_none());
        assert_eq!(s.server.stats().await.unwrap().0.notifications, before + 1);
        assert_eq!(observers(&s.server).await, 0);
        assert_eq!(s.server_table.observation_count(), 0);
    })
    .await;
}
