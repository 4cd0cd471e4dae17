//! The ACE Authorization Server (RFC 9200, RFC 9203, RFC 9594 section 3).
//!
//! The AS decides which client may join which group with which roles, and
//! issues proof-of-possession access tokens for the resource servers, for
//! RFC 9594 the KDC. It is built like quinn: a sans-I/O core and a thin
//! async shell.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the TOML configuration, raw -> validated; refusals name the line (example: `as.example.toml` at the crate root, also printed by `ace-as example-config`) |
//! | [`policy`] | rules granting clients scope entries at audiences; request ∩ policy, entry by entry |
//! | [`server`] | the core: `/token` and `/introspect` as functions of request, authenticated peer and time |
//! | [`mint`] | CWT (COSE_Sign1, COSE_Mac0, COSE_Encrypt0, Sign1 nested in Encrypt0) and JWT sealing |
//! | [`jwt`] | JWTs through `jsonwebtoken`, with a crypto provider over this workspace's Ed25519 |
//! | [`store`] | issued-token records behind [`store::TokenStore`]; SQLite (WAL, schema version) and memory |
//! | [`service`] | `POST /token` and `POST /introspect` on an `ace-coap` endpoint, over OSCORE with the configured contexts |
//! | [`error`] | the refusals, each with its RFC 9200 error code and CoAP code |
//!
//! # Tokens
//!
//! A token carries `iss` (when configured), `aud`, `exp`, `iat`, a unique
//! `cti`, `scope`, `cnf`, `ace_profile`, `cnonce` when the request had one,
//! and `exi` for an RS without a clock. Its format is the audience's:
//!
//! * `coap_oscore` (RFC 9203): `cnf` holds fresh OSCORE_Input_Material (a
//!   16-byte master secret, an 8-byte salt always, and the token's unique
//!   `cti` as its `id`).
//!   The default token is a COSE_Sign1 with the AS's Ed25519 key nested in a
//!   COSE_Encrypt0 (AES-CCM-16-64-128) under the key the AS shares with the
//!   RS (RFC 8392 Appendix A.6): the master secret must be encrypted, since
//!   the token crosses `/authz-info` unprotected. A configuration that would
//!   put a symmetric key into an unencrypted token is refused at start, and
//!   the minter refuses it again at run time.
//! * `coap_dtls` (RFC 9202): `cnf` holds the client's registered public key
//!   (RPK mode; a plain COSE_Sign1 by default, or a JWT), or a fresh
//!   symmetric key in an encrypted token (PSK mode).
//!
//! An RS without a synchronized clock gets `exi` and a `cti` made of its RS
//! identifier followed by an 8-byte big-endian sequence number that never
//! repeats ([`server::exi_cti`], [`server::exi_sequence`]; RFC 9200 section
//! 5.10.3).
//!
//! # Opening the tokens at the KDC
//!
//! `ace_proto::cwt::TokenVerifier` opens them. Configure it as
//! [`AuthorizationServer::verifier`] shows: the AS's public key (with its
//! `kid`), the key shared with the AS (with its `kid`), the KDC's audience,
//! the AS's issuer, and the required claims `cnf`, `exp` and `scope` (RFC
//! 9594 section 3.2). The verifier peels the nested layers itself.
//!
//! # Example
//!
//! ```
//! use ace_as::{AsConfig, AuthorizationServer, Peer};
//! use ace_as::store::MemoryStore;
//! use ace_proto::oauth::AccessTokenRequest;
//! use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
//! use std::sync::Arc;
//!
//! let config = AsConfig::from_toml_str(
//!     include_str!("../as.example.toml"),
//!     std::path::Path::new("."),
//! )?;
//! let server = AuthorizationServer::new(config, Arc::new(MemoryStore::new()));
//! let request = AccessTokenRequest {
//!     audience: Some("kdc.example".into()),
//!     scope: Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 6)]))),
//!     ..AccessTokenRequest::default()
//! };
//! let now = 1_700_000_000;
//! let issued = server.issue(Some(&Peer::Client("sensor-1".into())), &request, now)?;
//! let kdc = server.verifier("kdc.example").expect("configured audience");
//! let claims = kdc.open(&issued.response.access_token, now)?.into_claims();
//! assert_eq!(claims.cnf, issued.response.cnf);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod error;
pub mod jwt;
pub mod mint;
pub mod policy;
pub mod server;
pub mod service;
pub mod store;

pub use config::AsConfig;
pub use error::{IntrospectionError, TokenRequestError};
pub use server::{AuthorizationServer, Issued, Peer, Reply};
