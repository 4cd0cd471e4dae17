//! The Key Distribution Center of RFC 9594 (ACE key provisioning for group
//! communication) with the Group OSCORE application profile
//! (draft-ietf-ace-key-groupcomm-oscore-21), over CoAP and the ACE OSCORE
//! profile (RFC 9203).
//!
//! # Layout
//!
//! * [`core`]: the sans-I/O KDC ([`Kdc`]): a request, the caller's
//!   channel ([`Caller`]) and the time go in; a response and [`Effect`]s
//!   come out (install or drop a channel's OSCORE context, deliver a
//!   rekeying message, announce an eviction or a group deletion).
//!   [`Kdc::tick`] evicts members whose token expired and renews keying
//!   material before it expires; [`Kdc::execute`] runs operator commands.
//! * [`resources`]: one module per resource of the RFC 9594 interface and
//!   the profile's additions, with the checks of RFC 9594 section 4.1.2 in
//!   order.
//! * [`model`]: groups, keying material, Sender IDs, stale sets, members,
//!   tokens and channels.
//! * [`store`]: the [`Store`](store::Store) trait; SQLite (WAL) and
//!   in-memory implementations. The core makes each transition durable
//!   before it is revealed ([`Kdc::with_group_commit`]: concurrent
//!   transitions share SQLite transactions).
//! * [`service`]: the async service on `ace-coap` and its OSCORE layer,
//!   with the timer and the I/O of the effects.
//! * [`config`]: the TOML configuration (`kdc.example.toml` comments every
//!   setting); [`admin`]: operator commands.
//!
//! # Choices where the specifications leave room
//!
//! * **Names.** The group name is GROUPNAME (profile section 3: the name is
//!   a URI path segment); node names are `node0`, `node1`, ... per group,
//!   never reused.
//! * **Join scope.** An AIF scope with one entry, `[[gname, roles]]`; the
//!   bare entry `[gname, roles]` is accepted too. The PoP covers the bytes
//!   received. Without `scope`, the roles are inferred only from a token
//!   granting exactly one role on the group (RFC 9594 section 4.3.1).
//! * **Gid.** `prefix || epoch` (RFC 10021 Appendix C): a prefix unique on
//!   the KDC and not a prefix of another group's, and the epoch equal to
//!   `num` on `gid_len - prefix` bytes; a Gid never repeats (rekeying
//!   stops with an error if the epoch space is exhausted).
//! * **Sender IDs.** Enumerated by length then value (`00`..`ff`,
//!   `0000`..), skipping those issued under the current Gid (including
//!   those in use at its start and those relinquished since); a new Gid
//!   frees the rest. `max_sender_id_len` bounds the space; exhaustion is
//!   5.03 with error id 4. A current member re-joining, and a Key Renewal,
//!   get a new Sender ID; the old one goes to the stale set of the current
//!   version.
//! * **Rekeying.** On every leave and eviction (forward security), on
//!   every join when `backward_security` is set, when the keying material
//!   is within `rekey_margin` of its expiry, and on an operator's command.
//!   Point-to-Point only (rekeying scheme 0): an Observe notification of
//!   `/ace-group/GROUPNAME` to observing members and an OSCORE-protected
//!   POST to each member's `control_uri`. `control_group_uri` is announced
//!   in Join Responses but not used for delivery.
//! * **Credentials.** CWT Claims Sets (`cred_fmt` 14) carrying `alg`:
//!   the group's signature algorithm and key type, or in a pairwise-only
//!   group a key of the group's curve named with its key agreement
//!   algorithm; anything else is error 2. The KDC's credential is built
//!   from its signature key of the group's algorithm (or, for a
//!   pairwise-only group, the Diffie-Hellman form of the key of that
//!   curve). Credentials of former members are not retained: `id_filter`
//!   entries of non-members are ignored (RFC 9594 REQ26).
//! * **`get_creds` null** in a Join Request selects the members relevant to
//!   the joiner's roles (profile section 6.3).
//! * **FETCH `/ace-group`** answers only for groups the caller's token
//!   names (a token does not reveal the names of other groups).
//! * **Creation hints** name the roles Requester+Responder for member
//!   resources and Verifier for verifier resources; the `cnonce` is kept
//!   in memory (a restart forgets outstanding ones).
//! * **Tokens.** One per OSCORE_Input_Material `id`: posting it again makes
//!   a new channel and keeps the memberships; a retransmission (same
//!   `nonce1` and ID1) gets the same answer. An access-rights update
//!   (`cnf` `kid`) over the channel replaces scope and expiry and evicts
//!   memberships the new scope no longer grants.
//! * **Monitors** cannot join a pairwise-only group (a Monitor only reads
//!   group-mode messages, RFC 10021 section 8).
//! * **Eviction notices** (error id 5) go out over the member's channel even
//!   when its token expired: the channel's context outlives the token by a
//!   few seconds for that purpose, while the core refuses the member's
//!   requests from the token's expiry on.
//!
//! Not implemented: X.509 and bare COSE_Key credentials, one-to-many
//! rekeying schemes, the DTLS transport profile, token introspection, Gid
//! reuse with Birth Gids.

pub mod admin;
pub mod config;
pub mod core;
pub mod model;
pub mod resources;
pub mod service;
pub mod store;

pub use crate::core::{
    Caller, ChannelSetup, Effect, EvictionNotice, GroupDeletion, Kdc, KdcRequest, KdcResponse,
    Method, Outcome, Refusal, RekeyDelivery, RekeyTarget,
};
pub use config::{GroupSpec, KdcConfig};
pub use model::ChannelId;
