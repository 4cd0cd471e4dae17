//! Rekeying message (RFC 9594 section 6; Point-to-Point delivery, section
//! 6.1) with the Group OSCORE profile's `stale_node_ids` (profile section 11).

use super::creds::PeerCredentials;
use super::keying_material::GroupKeyingMaterial;
use super::{Params, bytes_array, bytes_array_value, open};
use crate::cbor::{Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;

/// A rekeying message, sent by the KDC as an Observe notification of
/// `/ace-group/GROUPNAME` or as a POST to the member's `control_uri`
/// (RFC 9594 section 6.1; Group OSCORE profile section 11).
///
/// ```text
/// {
///   gkty, key, num,                    ; 7, 8, 9 (MUST)
///   ? ace_groupcomm_profile, ? exp, ? exi,       ; 10, 11, 12 (exi MUST if exp)
///   ? creds, ? peer_roles, ? peer_identifiers,   ; 13-15, new members (all or none)
///   ? mgt_key_material: bstr,          ; 27
///   ? stale_node_ids: [* bstr],        ; 34 (suggested), Group OSCORE profile
/// }
/// ```
///
/// In the Group OSCORE profile `key` carries `ms`, `contextId` and possibly
/// `salt`, and `stale_node_ids` the stale Sender IDs of the version being
/// retired.
#[derive(Debug, Clone, PartialEq)]
pub struct RekeyingMessage {
    /// The new group keying material.
    pub material: GroupKeyingMaterial,
    /// Credentials of newly joined members (when the KDC is a credential
    /// repository).
    pub peers: Option<PeerCredentials>,
    /// `mgt_key_material` (27): new administrative keys for the target.
    pub mgt_key_material: Option<Vec<u8>>,
    /// `stale_node_ids` (34): Sender IDs that became stale.
    pub stale_node_ids: Option<Vec<Vec<u8>>>,
}

impl Codec for RekeyingMessage {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        self.material.write(&mut p);
        if let Some(peers) = &self.peers {
            peers.write(&mut p);
        }
        p.opt_bytes(param::MGT_KEY_MATERIAL, self.mgt_key_material.as_deref());
        p.opt(
            param::STALE_NODE_IDS,
            self.stale_node_ids.as_deref().map(bytes_array_value),
        );
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "rekeying message")?;
        let material = GroupKeyingMaterial::read(&mut map)?;
        if let Some(key) = material.key.group_oscore() {
            key.check_member_fields(false)?;
        }
        Ok(Self {
            material,
            peers: PeerCredentials::read(&mut map)?,
            mgt_key_material: map.opt_bytes(param::MGT_KEY_MATERIAL, "mgt_key_material")?,
            stale_node_ids: map
                .take(param::STALE_NODE_IDS)
                .map(|v| bytes_array(v, "stale_node_ids"))
                .transpose()?,
        })
    }
}
