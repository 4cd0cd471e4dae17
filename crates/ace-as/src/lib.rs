//! The ACE Authorization Server (RFC 9200, RFC 9203, RFC 9594 section 3).
//!
//! Decides which client may join which group with which roles, and issues
//! proof-of-possession access tokens for the KDC.

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
