//! The Key Distribution Center of RFC 9594 with the Group OSCORE application
//! profile (draft-ietf-ace-key-groupcomm-oscore-21).
//!
//! * [`config`]: the TOML configuration, raw and validated.
//! * [`core`]: the sans-I/O KDC ([`Kdc`]): requests, caller identities and
//!   time in; responses and [`Effect`]s out.
//! * [`resources`]: one module per resource of the RFC 9594 interface and
//!   the profile's additions.
//! * [`model`]: groups, keying material, Sender IDs, stale sets, members,
//!   tokens and channels.
//! * [`store`]: the [`Store`](store::Store) trait, SQLite (WAL) and
//!   in-memory implementations.
//! * [`admin`]: operator commands.
//! * [`service`]: the async service on `ace-coap` with OSCORE channels,
//!   the timer and the I/O of the effects.

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
