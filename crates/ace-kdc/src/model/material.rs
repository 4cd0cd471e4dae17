//! Group keying material (RFC 9594 section 4.3.1; Group OSCORE profile
//! section 6.3): the Gid, Master Secret and Master Salt of one version
//! `num`, and its expiry.

use ace_proto::keys::random_bytes;
use zeroize::Zeroizing;

/// Length of a fresh Master Secret: 16 bytes, the key length of
/// AES-CCM-16-64-128 (RFC 8613 section 3.2.1 recommends at least the key
/// length).
pub const MASTER_SECRET_LEN: usize = 16;

/// Length of a fresh Master Salt (RFC 8613 section 3.1: 8 bytes suffice).
pub const MASTER_SALT_LEN: usize = 8;

/// One version of the group keying material.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyingMaterial {
    /// The version `num`: 0 when the group is created, +1 per rekeying
    /// (Group OSCORE profile section 6.3; RFC 9594 section 4.2 makes it
    /// strictly increasing).
    pub num: u64,
    /// The Gid (OSCORE ID Context).
    pub gid: Vec<u8>,
    /// The Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// The Master Salt.
    pub master_salt: Vec<u8>,
    /// Absolute expiry, seconds since the Unix epoch (`exp`).
    pub exp: u64,
}

impl std::fmt::Debug for KeyingMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyingMaterial")
            .field("num", &self.num)
            .field("gid", &hex::encode(&self.gid))
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// Why no new keying material could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    /// The Gid epoch would wrap around and repeat an earlier Gid of the
    /// group (RFC 10021 section 12.2.1 forbids reusing a Gid without Birth
    /// Gid tracking, which this KDC does not do).
    #[error("the Gid epoch of {epoch_len} bytes is exhausted at version {num}")]
    GidSpaceExhausted {
        /// The version that was to be made.
        num: u64,
        /// Length of the epoch in bytes.
        epoch_len: usize,
    },
}

/// The Gid of version `num`: `prefix || epoch`, the epoch being `num`
/// big-endian on `gid_len - prefix.len()` bytes (RFC 10021 Appendix C). The
/// prefix is unique among the KDC's groups and the epoch never wraps, so a
/// Gid is never repeated, neither within a group nor across groups.
pub fn gid_for(prefix: &[u8], num: u64, gid_len: usize) -> Result<Vec<u8>, MaterialError> {
    let epoch_len = gid_len.saturating_sub(prefix.len()).clamp(1, 8);
    if epoch_len < 8 && num >> (8 * epoch_len) != 0 {
        return Err(MaterialError::GidSpaceExhausted { num, epoch_len });
    }
    Ok(group_oscore::group::gid_from_prefix_and_epoch(
        prefix, num, epoch_len,
    ))
}

impl KeyingMaterial {
    /// Fresh material for version `num`: a new Gid, 16 random bytes of
    /// Master Secret and 8 of Master Salt, valid for `lifetime` seconds
    /// from `now`.
    pub fn generate(
        prefix: &[u8],
        gid_len: usize,
        num: u64,
        now: u64,
        lifetime: u64,
    ) -> Result<Self, MaterialError> {
        Ok(Self {
            num,
            gid: gid_for(prefix, num, gid_len)?,
            master_secret: Zeroizing::new(random_bytes(MASTER_SECRET_LEN)),
            master_salt: random_bytes(MASTER_SALT_LEN),
            exp: now.saturating_add(lifetime),
        })
    }

    /// The residual lifetime at `now` (`exi`, RFC 9594 section 4.3.1).
    pub fn exi(&self, now: u64) -> u64 {
        self.exp.saturating_sub(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gid_is_prefix_and_epoch() {
        assert_eq!(
            gid_for(&[0xab, 0xcd], 5, 6).unwrap(),
            [0xab, 0xcd, 0, 0, 0, 5]
        );
        assert_eq!(gid_for(&[0x01], 0x1234, 3).unwrap(), [0x01, 0x12, 0x34]);
        assert!(matches!(
            gid_for(&[0x01], 0x1_0000, 3),
            Err(MaterialError::GidSpaceExhausted { .. })
        ));
    }

    #[test]
    fn fresh_material_differs() {
        let a = KeyingMaterial::generate(&[1, 2], 6, 0, 100, 50).unwrap();
        let b = KeyingMaterial::generate(&[1, 2], 6, 1, 100, 50).unwrap();
        assert_ne!(a.gid, b.gid);
        assert_ne!(a.master_secret, b.master_secret);
        assert_eq!(a.master_secret.len(), 16);
        assert_eq!(a.master_salt.len(), 8);
        assert_eq!(a.exp, 150);
        assert_eq!(a.exi(120), 30);
        assert_eq!(a.exi(200), 0);
    }
}
