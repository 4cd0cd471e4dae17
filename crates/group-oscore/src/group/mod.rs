//! Group OSCORE (RFC 10021, published from
//! draft-ietf-core-oscore-groupcomm-28).
//!
//! * [`GroupParams`]: the extended Common Context: Gid as ID Context, Group
//!   Encryption Algorithm, Signature Algorithm, AEAD Algorithm and Pairwise
//!   Key Agreement Algorithm, credential format, the Group Manager's
//!   credential; the Signature Encryption Key is derived from them.
//! * [`OwnIdentity`] and [`Member`]: the Sender Context inputs and the
//!   members' credentials (exact bytes plus the key the caller parsed),
//!   Sender IDs and roles.
//! * [`GroupSecurity`]: protection and verification in group mode
//!   (countersignature with Ed25519 or ES256, encrypted with the keystream)
//!   and pairwise mode (static-static ECDH on X25519 or P-256, Ed25519
//!   credentials mapped to X25519), per-sender replay windows, Recipient
//!   Contexts created on first contact through a [`MemberLookup`], role
//!   enforcement, rekeying with a grace period for the previous context,
//!   removal of stale Sender IDs, a new Sender ID without rekeying
//!   ([`GroupSecurity::renew_sender_id`]: only the Sender Context changes),
//!   and the replay windows saved and restored across a restart
//!   ([`ReplayState`]).
//!
//! ```text
//! client                                              server
//! g.protect_request(&req, &RequestMode::Group)  ---->  g.unprotect_request(&outer)
//! g.unprotect_response(&outer, &mut ex)         <----  g.protect_response(&resp, &mut ex, mode)
//! ```
//!
//! The countersignature follows RFC 10021 (RFC 9338's abbreviated
//! `Countersign_structure`) unless [`CountersignatureStructure::Aiocoap0_4_17`]
//! is chosen to interoperate with aiocoap 0.4.17.
//!
//! Not implemented: non-AEAD Group Encryption Algorithms (A128CTR, RFC
//! 9459), Ed448/X448, HKDF other than SHA-256, and external signature
//! checkers (section 7.5).

mod context;
pub mod countersign;
mod member;
mod params;
mod security;

pub use context::{GroupContext, PendingRequest, RequestMode, ResponseMode, Verification};
pub use member::{Credential, LookupResult, Member, MemberLookup, OwnIdentity};
pub use params::{
    CRED_FMT_KCCS, CountersignatureStructure, GroupParams, KeyAgreement, gid_from_prefix_and_epoch,
};
pub use security::{GroupResponse, GroupSecurity, Rekeying, ReplayState};
