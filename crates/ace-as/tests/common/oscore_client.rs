//! A client of the AS over CoAP + OSCORE for the network tests: the peer
//! side of a pre-established context of the configuration, requests
//! protected with it, an Echo challenge answered once (RFC 8613 Appendix
//! B.1.2).
#![allow(dead_code, clippy::unwrap_used)] // shared by several tests; tests may unwrap

use ace_as::config::OscoreContextConfig;
use ace_coap::oscore::OscoreContexts;
use ace_coap::{CoapEndpoint, EndpointConfig, ProtocolConfig, Request, Response, SecurityIdentity};
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use group_oscore::{ContextParams, SecurityContext};
use std::net::SocketAddr;
use std::time::Duration;

/// The Echo option (RFC 9175).
pub const ECHO: u16 = 252;

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
    echoes: std::sync::atomic::AtomicUsize,
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
        let config = EndpointConfig::new("127.0.0.1:0".parse().unwrap())
            .protocol(protocol())
            .client_layer(contexts.client_layer());
        let endpoint = CoapEndpoint::bind(config, ace_coap::handler::not_found())
            .await
            .unwrap();
        Self {
            endpoint,
            as_addr: std::sync::Mutex::new(as_addr),
            echoes: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// POSTs an `application/ace+cbor` payload to `path` over OSCORE,
    /// answering an Echo challenge once.
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
        let first = self.send(request.clone()).await;
        if first.code == Code::UNAUTHORIZED
            && let Some(echo) = first.options.get(ECHO)
        {
            self.echoes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut again = request;
            again.options.set(ECHO, echo.to_vec());
            return self.send(again).await;
        }
        first
    }

    /// Echo challenges answered so far.
    pub fn echoes(&self) -> usize {
        self.echoes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Talks to the AS at `addr` from now on (after a restart), keeping the
    /// context and its sequence numbers.
    pub fn retarget(&self, addr: SocketAddr) {
        *self.as_addr.lock().unwrap() = addr;
    }

    /// Sends `request` as is (protected if it names the channel).
    pub async fn send(&self, request: Request) -> Response {
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
