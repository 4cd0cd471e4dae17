//! OSCORE (RFC 8613) and Group OSCORE (RFC 10021) on this endpoint, with
//! the cryptography of the `group-oscore` crate.
//!
//! ```text
//!   handlers (Request::security = OscoreIdentity)     OscoreClient / CoapEndpoint::request
//!        |                                                   |
//!   OscoreServerLayer  ------ OscoreContexts<L> ------  OscoreClientLayer
//!        |           (contexts by label and kid,             |
//!        |            Group OSCORE members by Gid)           |
//!   CoapEndpoint: Outer block-wise, Observe, message layer, UDP, multicast
//! ```
//!
//! * [`OscoreContexts`]: the table of an endpoint's security contexts,
//!   each installed under a label `L` the application chooses (the KDC's
//!   channel id, the AS's peer, a group name). Contexts are added,
//!   replaced and removed at runtime, may expire with their access token
//!   (RFC 9203 section 7), are rebound to a new token in place
//!   ([`OscoreContexts::set_expiry`], [`OscoreContexts::relabel`]: the
//!   update of access rights of RFC 9203 section 4.1 keeps the context),
//!   and reserve Sender Sequence Numbers ahead in a
//!   [`group_oscore::SequenceStore`] ([`Persistence`]). Group OSCORE
//!   memberships ([`GroupMember`]) live in the same table.
//! * [`OscoreServerLayer`]: a [`crate::Layer`] around the router. It
//!   verifies protected requests, gives the handlers the inner request
//!   with [`crate::Request::security`] set to an [`OscoreIdentity`] (use
//!   [`label`] or [`identity`] to read it), protects responses and Observe
//!   notifications, answers OSCORE errors unprotected (RFC 8613 section 8),
//!   and establishes freshness with Echo after a restart. Unprotected
//!   requests reach the handlers with no identity.
//! * [`OscoreClient`]: protected requests, observations, group requests to
//!   a multicast address collecting several responses (group or pairwise
//!   mode) and pairwise requests, with [`ClientError`] and transparent Echo
//!   recovery. [`OscoreClientLayer`] does the same protection inside
//!   [`crate::CoapEndpoint::request`].
//! * [`convert`]: the conversions between this crate's messages and the
//!   `coap_lite::Packet`s `group-oscore` works on.
//!
//! Every endpoint that sends or receives OSCORE messages must declare the
//! OSCORE option as understood: [`protocol_config`].
//!
//! # Example
//!
//! ```no_run
//! use ace_coap::oscore::{self, OscoreClient, OscoreContexts};
//! use ace_coap::{CoapEndpoint, EndpointConfig, Layer, Request, Response, Router};
//! use group_oscore::{ContextParams, SecurityContext};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = [7u8; 16];
//! // The server: its context with the client is labelled "client-1".
//! let server_table = OscoreContexts::<String>::new();
//! server_table.install(
//!     &"client-1".to_string(),
//!     SecurityContext::new(&ContextParams::new(&secret, b"S", b"C"))?,
//! );
//! let router = Router::new().get("/whoami", |req: Request| async move {
//!     match oscore::label::<String>(&req) {
//!         Some(who) => Response::content(who.clone()),
//!         None => Response::new(ace_coap::Code::UNAUTHORIZED),
//!     }
//! });
//! let handler = server_table.server_layer().layer(router.into_handler());
//! let config = EndpointConfig::new("127.0.0.1:0".parse()?)
//!     .protocol(oscore::protocol_config(ace_coap::ProtocolConfig::default()));
//! let server = CoapEndpoint::bind(config.clone(), handler).await?;
//!
//! // The client.
//! let client_table = OscoreContexts::<String>::new();
//! client_table.install(
//!     &"server".to_string(),
//!     SecurityContext::new(&ContextParams::new(&secret, b"C", b"S"))?,
//! );
//! let endpoint = CoapEndpoint::bind(config, ace_coap::handler::not_found()).await?;
//! let client = OscoreClient::new(endpoint, client_table);
//! let response = client
//!     .request(server.local_addr(), &"server".to_string(), Request::get("/whoami"))
//!     .await?;
//! assert_eq!(response.payload, b"client-1");
//! # Ok(()) }
//! ```

mod client;
pub mod convert;
mod group;
mod identity;
mod server;
mod table;

pub use client::{
    ClientError, GroupReplies, GroupReply, GroupSend, OscoreClient, OscoreClientLayer,
    OscoreObservation,
};
pub use group::{GroupConfig, GroupMember, ResponsePolicy};
pub use identity::{OscoreIdentity, Protection, identity, label};
pub use server::OscoreServerLayer;
pub use table::{Clock, Label, OscoreContexts, Persistence, system_clock};

pub use group_oscore::group::{RequestMode, ResponseMode};

/// The OSCORE option number (RFC 8613 section 2).
pub const OSCORE_OPTION: u16 = crate::option::number::OSCORE;

/// `config` with the OSCORE option (9) declared as processed by a layer, so
/// that the endpoint neither refuses protected requests with 4.02 nor
/// protected responses as carrying an unknown critical option (RFC 7252
/// section 5.4.1).
pub fn protocol_config(mut config: crate::ProtocolConfig) -> crate::ProtocolConfig {
    if !config.extra_critical_options.contains(&OSCORE_OPTION) {
        config.extra_critical_options.push(OSCORE_OPTION);
    }
    config
}
