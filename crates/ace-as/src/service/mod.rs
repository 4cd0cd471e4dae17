//! The AS on the network: `POST /token` and `POST /introspect` on an
//! `ace-coap` endpoint, around the sans-I/O [`AuthorizationServer`].
//!
//! The service reads the clock (Unix seconds) and learns who sent each
//! request from the security layer below the router: a [`PeerResolver`]
//! maps the request's security identity to a [`Peer`]. [`serve`] puts the
//! OSCORE layer there ([`oscore`]): each client and registered RS is
//! authenticated by the OSCORE context it shares with the AS. A request
//! that no security context authenticated carries no identity and is
//! refused (`invalid_client`, 4.01, RFC 9200 section 5.8.3; 4.01 at
//! `/introspect`, RFC 9200 section 5.9.3); a request under an unknown
//! context is refused by the OSCORE layer itself (4.01 "Security context
//! not found", RFC 8613 section 8.2). Both resources answer 2.01 (Created)
//! with an `application/ace+cbor` payload on success.

pub mod oscore;

use crate::server::{AuthorizationServer, Peer, Reply};
use ace_coap::{Request, Response, Router};
use std::sync::Arc;

/// Maps a request to the peer its security layer authenticated, if any.
pub type PeerResolver = Arc<dyn Fn(&Request) -> Option<Peer> + Send + Sync>;

/// The current time in Unix seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// The AS's CoAP resources.
#[derive(Clone)]
pub struct AsService {
    server: Arc<AuthorizationServer>,
    clock: Clock,
    resolve: PeerResolver,
}

impl std::fmt::Debug for AsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsService")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl AsService {
    /// The resources of `server`, with the system clock, learning peers
    /// through `resolve`.
    pub fn new(server: Arc<AuthorizationServer>, resolve: PeerResolver) -> Self {
        Self {
            server,
            clock: system_clock(),
            resolve,
        }
    }

    /// Uses `clock` instead of the system clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The protocol core.
    pub fn server(&self) -> &Arc<AuthorizationServer> {
        &self.server
    }

    /// A router with `POST /token` and `POST /introspect` (RFC 9200
    /// sections 5.8 and 5.9; other methods get 4.05 from the router).
    pub fn router(&self) -> Router {
        let token = self.clone();
        let introspect = self.clone();
        Router::new()
            .post("/token", move |request: Request| {
                let service = token.clone();
                async move {
                    let peer = (service.resolve)(&request);
                    let now = (service.clock)();
                    to_response(service.server.handle_token(
                        peer.as_ref(),
                        request.content_format(),
                        &request.payload,
                        now,
                    ))
                }
            })
            .post("/introspect", move |request: Request| {
                let service = introspect.clone();
                async move {
                    let peer = (service.resolve)(&request);
                    let now = (service.clock)();
                    to_response(service.server.handle_introspect(
                        peer.as_ref(),
                        request.content_format(),
                        &request.payload,
                        now,
                    ))
                }
            })
    }
}

fn to_response(reply: Reply) -> Response {
    let mut response = Response::new(reply.code);
    if let Some(cf) = reply.content_format {
        response = response.with_content_format(cf);
    }
    response.with_payload(reply.payload)
}

/// A running AS endpoint.
#[derive(Debug)]
pub struct RunningAs {
    endpoint: ace_coap::CoapEndpoint,
}

impl RunningAs {
    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.endpoint.local_addr()
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &ace_coap::CoapEndpoint {
        &self.endpoint
    }

    /// Stops serving and waits for the endpoint's task to end.
    pub async fn shutdown(self) {
        self.endpoint.shutdown().await;
    }
}

/// The CoAP protocol parameters of the AS: RFC 7252 defaults, with the
/// OSCORE option (9) declared as processed by the OSCORE layer.
pub fn protocol() -> ace_coap::ProtocolConfig {
    ace_coap::oscore::protocol_config(ace_coap::ProtocolConfig::default())
}

/// The endpoint configuration of an AS serving on `listen`: [`protocol`],
/// and the socket buffer of the configuration's `server.socket_buffer`.
pub fn endpoint_config(
    config: &crate::config::AsConfig,
    listen: std::net::SocketAddr,
) -> ace_coap::EndpointConfig {
    let mut endpoint = ace_coap::EndpointConfig::new(listen).protocol(protocol());
    endpoint.socket.buffer_size = config.server.socket_buffer;
    endpoint
}

/// Binds `listen` and serves the AS over OSCORE: the contexts of the
/// configuration (sequence numbers reserved in `marks`) in front of the
/// `/token` and `/introspect` resources, on [`endpoint_config`].
pub async fn serve(
    server: Arc<AuthorizationServer>,
    marks: Arc<dyn crate::store::SequenceMarks>,
    listen: std::net::SocketAddr,
) -> Result<RunningAs, ServeError> {
    let endpoint = endpoint_config(server.config(), listen);
    serve_with(server, marks, endpoint, system_clock()).await
}

/// [`serve`] with a given endpoint configuration (its protocol must treat
/// option 9 as understood, see [`protocol`]) and clock.
pub async fn serve_with(
    server: Arc<AuthorizationServer>,
    marks: Arc<dyn crate::store::SequenceMarks>,
    endpoint: ace_coap::EndpointConfig,
    clock: Clock,
) -> Result<RunningAs, ServeError> {
    let contexts = oscore::contexts(server.config(), marks)?;
    let service = AsService::new(server.clone(), oscore::resolver(server)).with_clock(clock);
    let handler = ace_coap::Layer::layer(&contexts.server_layer(), service.router().into_handler());
    let endpoint = ace_coap::CoapEndpoint::bind(endpoint, handler).await?;
    Ok(RunningAs { endpoint })
}

/// Why the AS could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The OSCORE contexts could not be set up.
    #[error(transparent)]
    Oscore(#[from] oscore::OscoreSetupError),
    /// The socket could not be bound.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
