//! A CoAP endpoint (RFC 7252) on tokio and the coap-lite message codec.
#![allow(missing_docs)]
pub mod block;
pub mod config;
pub mod endpoint;
pub mod option;
pub mod request;
pub mod response;
pub mod wire;
