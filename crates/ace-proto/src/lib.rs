//! Protocol types of ACE key provisioning for group communication (RFC 9594).
//!
//! Pure data: CBOR, COSE and CWT codecs and the messages, tokens, credentials
//! and scopes of the ACE group-join flow. No I/O, no async, no clock reads.

pub mod cbor;
pub mod code;
pub mod diag;
pub mod error;
pub mod keys;
pub mod roles;

pub use cbor::Codec;
pub use code::Code;
pub use error::DecodeError;
