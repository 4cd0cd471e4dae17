//! The group client of RFC 9594 with the Group OSCORE application profile
//! (draft-ietf-ace-key-groupcomm-oscore-21): AS Request Creation Hints,
//! access token, token transfer, join, keying material, rekeying, and
//! Group OSCORE communication (RFC 10021).
//!
//! # Layout
//!
//! | module | job |
//! |---|---|
//! | [`flow`] | the join flow as phase types without I/O: [`flow::AwaitHints`] → [`flow::AwaitToken`] → [`flow::AwaitTokenTransfer`] → [`flow::KdcSession`] → [`flow::AwaitJoin`] → [`flow::Joined`] |
//! | [`membership`] | a group's keying material, version, expiry and members; the install rules for new material (`V + 1`, gaps, stale Sender IDs) |
//! | [`client`] | [`GroupClient`], the async shell on an `ace-coap` endpoint with `ace_coap::oscore` |
//! | [`config`] | [`ClientConfig`], [`Identity`], [`AsContext`], [`JoinOptions`], [`Clock`] |
//! | [`error`] | [`ClientError`]: CoAP code, RFC 9594 error id with its wording and client guidance |
//! | [`view`] | [`JoinOutcome`], [`KeyingMaterialView`] (also the export format), [`GroupResponse`], [`ClientEvent`] |
//! | [`state`] | [`state::ClientState`], the serializable state of the CLI's state file |
//! | [`file`](mod@file) | the TOML configuration file of the `ace-client` command ([`file::ClientFile`]) |
//! | [`marks`] | Sender Sequence Number reservations, durable before use (RFC 8613 Appendix B.1.1) |
//!
//! # The flow
//!
//! ```text
//!  client                      KDC                           AS
//!    | POST /ace-group/G (no token) ->|                       |
//!    |<- 4.01 AS Request Creation Hints (AS, audience, cnonce) |
//!    | POST /token (OSCORE, pre-established context) -------->|
//!    |<- 2.01 access_token, cnf {osc}, expires_in ------------|
//!    | POST /authz-info {token, nonce1, id1, sign_info: null} ->|
//!    |<- 2.01 {nonce2, id2, kdcchallenge, sign_info} |        [OSCORE context, RFC 9203]
//!    | POST /ace-group/G (OSCORE) {scope, get_creds, client_cred, cnonce,
//!    |      client_cred_verify = sign(scope | N_S | N_C), control_uri} ->|
//!    |<- 2.01 Location /ace-group/G/nodes/N {key, num, exp, exi, creds,
//!    |      kdc_cred, kdc_nonce, kdc_cred_verify}  [verified, else the join failed]
//!    |   Group OSCORE context from `key` (defaults of profile section 6.4) and creds
//! ```
//!
//! After the join: Observe of `/ace-group/G` and a `control_uri` resource
//! receive rekeying messages (installed when `num = V + 1`; a gap fetches
//! `/stale-sids` or re-joins); `/num` is polled at the Key Update Check
//! Interval; expired material is never used; a new Sender ID is requested
//! on demand and before the Sender Sequence Numbers run out.
//!
//! A group the token held does not grant updates its access rights (RFC
//! 9203 section 4.1; RFC 9594 section 3.3): fresh hints, a token for the
//! old scope plus the group with `req_cnf` naming the token's Input
//! Material, POSTed to `/authz-info` over the existing OSCORE context,
//! whose expiry becomes the new token's
//! ([`ace_coap::oscore::OscoreContexts::set_expiry`]); the context, its
//! sequence numbers and observations stay. A pairwise-only group, whose
//! proof of possession needs the KDC's Diffie-Hellman credential that only
//! a token transfer with a new context hands out, is joined under a token
//! with its own context ([`JoinOptions::update_access_rights`] turns the
//! update off).
//!
//! Observations live in the KDC's memory (RFC 7641) and die when it
//! restarts. The client notices when a safe request to the KDC (the `/num`
//! poll, a GET of the keys...) meets an Echo challenge, which a restarted
//! KDC sends because it lost the replay state of the client's OSCORE
//! context (RFC 8613 Appendix B.1.2), or when the poll finds a version no
//! notification announced; it then registers its observations again
//! ([`ClientEvent::ObservationRenewed`]).
//!
//! A client restored from a state taken after it stopped keeps the replay
//! windows of its contexts ([`state::ClientState`]): a restarted member,
//! a Monitor included, accepts fresh requests at once and refuses replays.
//!
//! # API contract (stable)
//!
//! ```text
//! GroupClient::start(config: ClientConfig) -> Result<GroupClient, ClientError>
//! GroupClient::restore(config, &ClientState) -> Result<GroupClient, ClientError>
//! join(&self, group, roles: u64 /* AIF bits; 0 = config.roles */, JoinOptions) -> Result<JoinOutcome, ClientError>
//! keys(&self, group) -> Result<KeyingMaterialView, ClientError>          GET /ace-group/G (installs newer)
//! num(&self, group) -> Result<u64, ClientError>                          GET /ace-group/G/num
//! creds(&self, group, Option<CredsFilter>) -> Result<PeerCredentials, ClientError>   GET / FETCH .../creds
//! kdc_cred(&self, group) -> Result<(), ClientError>                      GET .../kdc-cred, verified, stored
//! policies(&self, group) -> Result<GroupPolicies, ClientError>           GET .../policies
//! renew_sender_id(&self, group) -> Result<Vec<u8>, ClientError>          POST .../nodes/N
//! leave(&self, group) -> Result<(), ClientError>                         DELETE .../nodes/N
//! group_request(&self, group, ace_coap::Request, collect_for: Duration) -> Result<Vec<GroupResponse>, ClientError>
//! pairwise_request(&self, group, target: SocketAddr, kid: &[u8], ace_coap::Request) -> Result<GroupResponse, ClientError>
//! serve(&self, group, ace_coap::SharedHandler) -> Result<(), ClientError>   responder / monitor
//! set_group_targets(&self, group, multicast: Option<SocketAddr>, peers: Vec<SocketAddr>)
//! events(&self) -> broadcast::Receiver<ClientEvent>
//! current_num(&self, group) -> Option<u64>
//! is_observing(&self, group) -> bool   (the /ace-group/G observation is registered)
//! sender_id(&self, group) -> Option<Vec<u8>>
//! group_security(&self, group) -> Option<ace_coap::oscore::GroupMember>   (handle keeps the material it had)
//! material(&self, group) / export(&self, group, with_private_key) -> Option<KeyingMaterialView>
//! KeyingMaterialView::group_security(&self, CountersignatureStructure) -> Result<GroupSecurity, ClientError>   (from the export alone)
//! state(&self) -> ClientState          (serde; the CLI's state file)
//! local_addr(&self) -> SocketAddr; groups(&self) -> Vec<String>; shutdown(&self)
//! ```
//!
//! [`ClientError::code`] and [`ClientError::error_id`] give the CoAP code
//! and the RFC 9594 error id of a refusal; its `Display` carries the RFC's
//! description of the error id and the client guidance of RFC 9594 section
//! 9.
//!
//! # The `ace-client` command
//!
//! `bins/ace-client` (package `ace-client-cli`) puts this library behind
//! `ace-client join|keys|num|creds|kdc-cred|policies|renew|leave|listen|send|serve|export`,
//! with a state file ([`state::ClientState`] as JSON) so that separate
//! invocations compose; `ace-client --help` documents it.
//!
//! # Not implemented
//!
//! * Rekeying schemes other than Point-to-Point (RFC 9594 section 6.2):
//!   a Join Response naming another one is refused.
//! * Textual scopes: the Group OSCORE profile uses AIF only.
//! * `control_group_uri` (one-to-many rekeying) is recorded, not hosted.
//!
//! # Example
//!
//! ```no_run
//! use ace_client::{AsContext, ClientConfig, GroupClient, Identity, JoinOptions};
//! use ace_proto::keys::SignatureAlgorithm;
//! use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
//! # async fn demo() -> Result<(), ace_client::ClientError> {
//! let authority = AsContext {
//!     uri: "coap://127.0.0.1:5684/token".into(),
//!     sender_id: vec![0x02],
//!     recipient_id: vec![0x01],
//!     master_secret: vec![0x11; 16].into(),
//!     master_salt: Vec::new(),
//!     id_context: None,
//! };
//! let identity = Identity::generate(SignatureAlgorithm::EdDsa, "sensor-1");
//! let config = ClientConfig::new("sensor-1", identity, authority, "127.0.0.1:5683".parse().unwrap());
//! let client = GroupClient::start(config).await?;
//! let joined = client.join("g1", REQUESTER | RESPONDER, JoinOptions::default()).await?;
//! println!("member {} of g1, version {}", joined.node, joined.num);
//! # Ok(()) }
//! ```

mod background;
pub mod client;
pub mod config;
pub mod error;
pub mod file;
pub mod flow;
pub mod hexser;
pub mod marks;
pub mod membership;
mod serve;
pub mod state;
pub mod view;

pub use client::{GroupClient, Label};
pub use config::{AsContext, ClientConfig, Clock, Identity, JoinOptions, SystemClock};
pub use error::{ClientError, Rejection};
pub use state::ClientState;
pub use view::{
    ClientEvent, GroupResponse, JoinOutcome, KeyingMaterialView, MemberView, RekeySource,
};
