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
//!
//! # Interoperability
//!
//! Tested byte for byte against aiocoap 0.4.17 (`tests/aiocoap_interop.rs`,
//! offline, through aiocoap's own classes). Differences found, and which side
//! follows the RFCs:
//!
//! * Group-mode countersignature: aiocoap signs the draft-23 structure with an
//!   empty `sign_protected`; RFC 10021 section 3.1 uses RFC 9338's abbreviated
//!   `Countersign_structure` without it. This crate follows the RFC and offers
//!   [`group::CountersignatureStructure::Aiocoap0_4_17`] to talk to aiocoap.
//! * P-256 pairwise mode: aiocoap reports its ES256 signature identifier (-7)
//!   as Pairwise Key Agreement Algorithm in the external_aad; RFC 10021
//!   sections 2.1.10 and 10 name ECDH-SS + HKDF-256 (-27), which this crate
//!   uses (the interop script gives aiocoap's object that identifier).
//! * aiocoap refuses credentials whose COSE_Key lacks `alg`; this crate treats
//!   credentials as opaque bytes (RFC 10021 section 2.4).
//! * Notifications: both sides order by Partial IV; the Observe value handed to
//!   the application is Partial IV + 1 here (0 for the one without Partial
//!   IV), Partial IV (-1 without) in aiocoap.
//!
//! With those accounted for, aiocoap reproduces every value of the computed
//! Group OSCORE vectors and of the RFC 9203 example context.

// The CBOR writers of the per-message structures (HKDF `info`, `aad_array`,
// `Enc_structure`, `Countersign_structure`).
use ace_proto::cbor_write as cbor;

pub mod aad;
pub mod algorithm;
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
pub use replay::{ReplayWindow, WindowState, WindowStateError};
pub use sequence::{SenderSequence, SequenceError, SequenceStore, Volatile};

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    /// The contexts move between the tasks of an async endpoint.
    #[test]
    fn contexts_are_send() {
        assert_send::<crate::SecurityContext>();
        assert_send::<crate::profile::ProfileContext>();
        assert_send::<crate::group::GroupSecurity>();
        assert_send::<crate::ClientExchange>();
        assert_send::<crate::ServerExchange>();
    }
}
