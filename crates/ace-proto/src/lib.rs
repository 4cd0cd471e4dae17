//! Protocol types of ACE key provisioning for group communication (RFC 9594).
//!
//! Pure data: CBOR, COSE and CWT codecs and the messages, tokens, credentials
//! and scopes of the ACE group-join flow. No I/O, no async, no clock reads.

pub mod authz_info;
pub mod cbor;
mod cbor_direct;
pub mod cbor_write;
pub mod code;
pub mod consts;
pub mod credential;
pub mod cwt;
pub mod diag;
pub mod error;
pub mod groupcomm;
pub mod keys;
pub mod oauth;
pub mod oscore_input;
pub mod pop;
pub mod problem;
pub mod roles;
pub mod scope;

pub use cbor::Codec;
pub use code::Code;
pub use error::DecodeError;
