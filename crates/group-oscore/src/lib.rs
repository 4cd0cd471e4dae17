//! OSCORE (RFC 8613), Group OSCORE (RFC 10021) and the ACE OSCORE profile
//! (RFC 9203) context derivation. Pure: no sockets, no clock, no threads.
//!
//! Messages are [`coap_lite::Packet`]s, so a CoAP endpoint hands its decoded
//! messages straight to this crate and sends what comes back. Time enters
//! only as a `now` the caller passes (token expiry, retention of old group
//! keying material).
//!
//! * [`SecurityContext`]: an OSCORE context between two endpoints, with
//!   [`SecurityContext::protect_request`],
//!   [`SecurityContext::unprotect_request`],
//!   [`SecurityContext::protect_response`] and
//!   [`SecurityContext::unprotect_response`]; the values a request leaves
//!   for its responses are [`ClientExchange`] and [`ServerExchange`].
//! * [`profile`]: the context of the ACE OSCORE profile, derived from
//!   OSCORE_Input_Material and the two nonces and identifiers exchanged at
//!   `/authz-info`, and dropped when its token expires.
//! * [`group`]: Group OSCORE, group mode and pairwise mode, with members'
//!   credentials, roles, rekeying and a grace period for the old context.
//! * Building blocks with one job each: [`option`] (the OSCORE option),
//!   [`message`] (option classes, plaintext), [`aad`], [`nonce`],
//!   [`mod@derive`], [`replay`], [`sequence`] (persistence of sequence
//!   numbers), [`algorithm`] (the [`Aead`] trait and HKDF), [`error`].

pub mod aad;
pub mod algorithm;
mod cbor;
pub mod context;
pub mod derive;
pub mod error;
pub mod exchange;
pub mod group;
pub mod message;
pub mod nonce;
pub mod option;
pub mod profile;
pub mod replay;
pub mod sequence;

pub use algorithm::{AES_CCM_16_64_128, Aead, AesCcm16_64_128, Hkdf};
pub use context::{ContextParams, SecurityContext, request_kid};
pub use error::{ContextError, DecodeFailure, ProtectError, UnprotectError};
pub use exchange::{ClientExchange, EchoChallenge, ServerExchange};
pub use option::OscoreOption;
pub use replay::ReplayWindow;
pub use sequence::{SenderSequence, SequenceError, SequenceStore, Volatile};
