//! A CoAP endpoint (RFC 7252) on tokio: server and client on one UDP
//! socket, with the message layer, block-wise transfer (RFC 7959), Observe
//! (RFC 7641), FETCH/PATCH/iPATCH (RFC 8132), resource discovery
//! (RFC 6690), group requests over multicast (RFC 7252 section 8), a
//! traffic tap (pcap and trace) and fault injection. Datagrams go through
//! the endpoint's own codec ([`wire`]); the OSCORE layer hands
//! `coap_lite::Packet`s to `group-oscore`.
//!
//! # Layering
//!
//! ```text
//!   application: Router + handlers            client API: request / observe / group_request
//!        |                                              |
//!   [server security layer: handler::Layer]      [client security layer: security::ClientLayer]
//!        |   complete requests and responses; notifications pass here too  |
//!   ------------------------------------------------------------------------
//!   endpoint::Endpoint (sans-I/O): Observe registry, block-wise (outer, RFC 7959),
//!                                  message layer (CON/ACK/RST, dedup, NSTART)
//!   ------------------------------------------------------------------------
//!   wire (datagram codec)   <->  runtime driver task (tokio UdpSocket, timers, taps, faults)
//! ```
//!
//! * [`endpoint::Endpoint`] is a deterministic state machine without
//!   sockets or clock reads (the quinn-proto pattern): `handle_datagram`,
//!   `handle_timeout`, then `poll_transmit`, `poll_event`, `poll_timeout`.
//! * [`CoapEndpoint`] runs it on a tokio task that owns it; handlers run on
//!   their own tasks and answer through a channel, so a slow handler does
//!   not hold up the others.
//!
//! # Extension points for a security layer (OSCORE, Group OSCORE)
//!
//! * **Server side**: wrap the router in a [`handler::Layer`] (any
//!   [`Handler`] that calls an inner one). It receives each complete,
//!   reassembled request (outer message, e.g. with the OSCORE option: add
//!   9 to [`config::ProtocolConfig::extra_critical_options`] so the endpoint
//!   does not refuse it with 4.02) and returns the complete response, which
//!   the endpoint then cuts into blocks (outer block-wise) and sends. It
//!   sets [`Request::security`] on the inner request for the handlers.
//! * **Notifications** flow through the same layer: `notify(path)` makes
//!   the endpoint replay each observer's stored registration request with
//!   [`request::Origin::Notification`]; the layer recognises it (no replay
//!   check, no fresh decryption), looks up its per-observation state by
//!   the request's peer and [`request::RequestMeta::token`], calls the inner
//!   handler, and protects the result as a notification. Observers are
//!   registered from [`Response::observed_resource`], which the router sets
//!   on the inner response: the layer must copy it to the outer response.
//! * **Observation lifecycle**: the endpoint reports the end of every
//!   observation a response registered (deregistration, Reset, timeout,
//!   last notification, shutdown) to [`Handler::observation_ended`], so a
//!   layer frees its per-observation state. A layer marks a notification
//!   whose wire code hides that it is the last one (OSCORE: an inner error
//!   under an outer 2.04) with [`Response::ends_observation`].
//! * **No response**: a handler or layer returns [`Response::no_response`]
//!   (or a [`Response::silenced`] one) to send nothing: a Confirmable
//!   request then gets an empty ACK only (RFC 7252 section 4.2), a
//!   Non-confirmable one nothing; the No-Response option (RFC 7967) is
//!   honoured for responses and notifications.
//! * **Client side**: a [`security::ClientLayer`] sees every complete
//!   outgoing request and returns per-exchange state that sees every
//!   complete response, notification, or group member's response, and may
//!   ask for the request to be sent once more in place of a response
//!   ([`security::ClientExchangeLayer::repeat`]: an Echo challenge).
//!
//! # Performance
//!
//! One task owns the protocol state (no lock on the hot path); datagrams
//! are read in batches; duplicate detection is per peer. Two knobs on
//! [`EndpointConfig`]:
//!
//! * `dispatch`: [`runtime::HandlerDispatch::Spawn`] (default) runs every
//!   handler on its own task; `InlineFirstPoll` polls it once on the
//!   driver first, which saves a task and a channel hop for handlers that
//!   answer without waiting (a pending handler still moves to its own task).
//! * `busy_poll`: after activity, keep checking the socket for a while
//!   instead of sleeping; lowers latency and CPU per request at moderate
//!   load on a dedicated core, at the price of a spinning core.
//!
//! `BENCHMARKS.md` (section ace-coap) compares the endpoint with libcoap and
//! the `coap` crate; `ace-coap-load` is the load tool.
//!
//! # Example
//!
//! ```no_run
//! use ace_coap::{CoapEndpoint, EndpointConfig, Request, Response, Router};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::new().get("/hello", |_req: Request| async { Response::content("hi") });
//! let server = CoapEndpoint::bind(EndpointConfig::new("127.0.0.1:0".parse()?), router.into_handler()).await?;
//! let client = CoapEndpoint::client("127.0.0.1:0".parse()?).await?;
//! let response = client.request(server.local_addr(), Request::get("/hello")).await?;
//! assert_eq!(response.payload, b"hi");
//! # Ok(()) }
//! ```

pub mod block;
pub mod config;
pub mod endpoint;
pub mod fault;
pub mod handler;
pub mod link_format;
pub mod option;
pub mod oscore;
pub mod request;
pub mod response;
pub mod router;
pub mod runtime;
pub mod security;
pub mod tap;
#[cfg(test)]
mod test_rng;
pub mod uri;
pub mod wire;

pub use config::{Limits, ObserveConfig, ProtocolConfig, TransmissionParameters};
pub use endpoint::{Endpoint, ExchangeError, NotifyTarget};
pub use handler::{
    BoxFuture, EndReason, Handler, Layer, Middleware, ObservationEnded, SharedHandler,
};
pub use link_format::Link;
pub use option::Options;
pub use request::{Method, Origin, Request, SecurityIdentity};
pub use response::{Code, Response, codes};
pub use router::{Resource, Router};
pub use runtime::socket::{MulticastGroup, MulticastInterface, SocketOptions};
pub use runtime::{
    CoapEndpoint, EndpointBuilder, EndpointConfig, Notifier, Observation, RequestError,
    RequestOptions, Target,
};
pub use security::{ClientExchangeLayer, ClientLayer, LayerError};
