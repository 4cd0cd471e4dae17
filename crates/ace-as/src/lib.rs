//! The ACE Authorization Server (RFC 9200, RFC 9203, RFC 9594 section 3).
//!
//! Decides which client may join which group with which roles, and issues
//! proof-of-possession access tokens for the KDC.

pub mod config;
pub mod policy;
pub mod store;
