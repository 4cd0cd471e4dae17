//! A client of the AS over CoAP + OSCORE for the network tests: the peer
//! side of a pre-established context of the configuration, requests
//! protected with it. The client layer answers an Echo challenge itself
//! (RFC 8613 Appendix B.1.2, RFC 9175 section 2.4) by sending the request
//! again; [`AsClient::echoes`] counts those repeats on the wire.
#![allow(dead_code, clippy::unwrap_used)] // shared by several tests; tests may unwrap

use ace_as::config::OscoreContextConfig;
use ace_coap::oscore::OscoreContexts;
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::{CoapEndpoint, EndpointConfig, ProtocolConfig, Request, Response, SecurityIdentity};
use ace_proto::consts::content_format::ACE_CBOR;
use group_oscore::{ContextParams, SecurityContext};
use std::net::SocketAddr;
use std::time::Duration;

/// Test protocol parameters: short timers, the OSCORE option understood.
pub fn protocol() -> ProtocolConfig {
    let mut p = ace_coap::oscore::protocol_config(ProtocolConfig::fast_for_tests());
    p.response_timeout = Duration::from_secs(10);
    p
}

/// The label of the client's one context.
const AS: &str = "as";

/// A client endpoint holding the peer side of one context.
pub struct AsClient {
    pub endpoint: CoapEndpoint,
    as_addr: std::sync::Mutex<SocketAddr>,
    /// Every datagram of the endpoint.
    wire: std::sync::Arc<MemorySink>,
    /// Requests handed to the endpoint.
    sent: std::sync::atomic::AtomicUsize,
}

impl AsClient {
    /// A client for `as_addr` using the peer side of `as_side` (the AS's view:
    /// the client's Sender ID is the AS's Recipient ID).
    pub async fn new(as_addr: SocketAddr, as_side: &OscoreContextConfig) -> Self {
        Self::with_secret(as_addr, as_side, &as_side.master_secret).await
    }

    /// As [`AsClient::new`] with another Master Secret (a client that does
    /// not hold the right key).
    pub async fn with_secret(
        as_addr: SocketAddr,
        as_side: &OscoreContextConfig,
        secret: &[u8],
    ) -> Self {
        let mut params = ContextParams::new(secret, &as_side.recipient_id, &as_side.sender_id)
            .master_salt(&as_side.master_salt);
        if let Some(id_context) = &as_side.id_context {
            params = params.id_context(id_context);
        }
        let contexts = OscoreContexts::<String>::new();
        contexts.install(&AS.to_string(), SecurityContext::new(&params).unwrap());
        let wire = std::sync::Arc::new(MemorySink::new());
        let config = EndpointConfig::new("127.0.0.1:0".parse().unwrap())
            .protocol(protocol())
            .client_layer(contexts.client_layer())
            .tap(wire.clone());
        let endpoint = CoapEndpoint::bind(config, ace_coap::handler::not_found())
            .await
            .unwrap();
        Self {
            endpoint,
            as_addr: std::sync::Mutex::new(as_addr),
            wire,
            sent: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// POSTs an `application/ace+cbor` payload to `path` over OSCORE (an
    /// Echo challenge is answered by the client layer).
    pub async fn post(&self, path: &str, payload: Vec<u8>) -> Response {
        self.post_with(path, Some(ACE_CBOR), payload).await
    }

    /// [`AsClient::post`] with any Content-Format (or none).
    pub async fn post_with(&self, path: &str, format: Option<u16>, payload: Vec<u8>) -> Response {
        let mut request = Request::post(path).with_payload(payload);
        if let Some(format) = format {
            request = request.with_content_format(format);
        }
        request.security = Some(SecurityIdentity::new(AS.to_string()));
        self.send(request).await
    }

    /// Echo challenges answered so far: requests sent on the wire (distinct
    /// Message IDs, so retransmissions do not count) beyond those handed to
    /// the endpoint. Only the Echo repeat sends a request twice.
    pub fn echoes(&self) -> usize {
        let on_wire: std::collections::HashSet<(SocketAddr, [u8; 2])> = self
            .wire
            .records()
            .into_iter()
            .filter(|r| r.direction == Direction::Out && r.bytes.len() >= 4)
            // Code class 0 and not Empty: a request (RFC 7252 section 3).
            .filter(|r| (1..32).contains(&r.bytes[1]))
            .map(|r| (r.peer, [r.bytes[2], r.bytes[3]]))
            .collect();
        on_wire.len() - self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Talks to the AS at `addr` from now on (after a restart), keeping the
    /// context and its sequence numbers.
    pub fn retarget(&self, addr: SocketAddr) {
        *self.as_addr.lock().unwrap() = addr;
    }

    /// Sends `request` as is (protected if it names the channel).
    pub async fn send(&self, request: Request) -> Response {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let target = *self.as_addr.lock().unwrap();
        tokio::time::timeout(
            Duration::from_secs(15),
            self.endpoint.request(target, request),
        )
        .await
        .expect("timely response")
        .expect("a response")
    }

    /// POSTs without OSCORE.
    pub async fn post_plain(&self, path: &str, payload: Vec<u8>) -> Response {
        let request = Request::post(path)
            .with_content_format(ACE_CBOR)
            .with_payload(payload);
        self.send(request).await
    }

    /// Stops the endpoint.
    pub async fn shutdown(self) {
        self.endpoint.shutdown().await;
    }
}
