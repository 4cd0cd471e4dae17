//! The KDC's data: groups with their keying material, members, Sender IDs
//! and stale sets, and the access tokens with their OSCORE channels. Plain
//! data and the rules that keep it consistent; no I/O.

pub mod group;
pub mod material;
pub mod sender_ids;
pub mod stale;
pub mod token;

pub use group::{Group, Member};
pub use material::KeyingMaterial;
pub use sender_ids::SenderIdAllocator;
pub use stale::StaleSets;
pub use token::{ChannelId, ChannelRecord, CnonceRegistry, TokenRecord};
