//! The symmetric algorithms of a security context: the AEAD (RFC 8613
//! section 3.1, RFC 9053 section 4) behind the small [`Aead`] trait, and the
//! HKDF (RFC 8613 section 3.2.1, RFC 5869).
//!
//! Only AES-CCM-16-64-128 (COSE 10), the algorithm every OSCORE and Group
//! OSCORE implementation must support (RFC 8613 section 5, RFC 10021
//! section 10), is built in. Another AEAD is added by implementing [`Aead`]
//! for a `static` value and passing it where an algorithm is configured.

use aes::Aes128;
use ccm::Ccm;
use ccm::aead::{AeadInOut, KeyInit};
use ccm::consts::{U8, U13};
use std::fmt;

/// Why an AEAD operation failed. Decryption failure is deliberately not
/// explained further (RFC 8613 section 8.2 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// The key or nonce has the wrong length for the algorithm.
    #[error("key or nonce of the wrong length for the AEAD algorithm")]
    BadLength,
    /// The authentication tag does not verify, or the input is too short.
    #[error("AEAD decryption failed")]
    Decrypt,
}

/// An AEAD algorithm as OSCORE uses it: encryption of a whole plaintext in
/// place with the tag appended (RFC 9052 section 5.3).
pub trait Aead: Send + Sync + fmt::Debug {
    /// The COSE algorithm identifier (RFC 9053), as written into the
    /// `info` and `algorithms` arrays.
    fn cose_id(&self) -> i64;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Nonce length in bytes (at least 7, RFC 8613 section 5.2).
    fn nonce_len(&self) -> usize;
    /// Authentication tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Encrypts `buffer` in place and appends the tag.
    fn encrypt(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), AeadError>;
    /// Verifies and decrypts `buffer` (ciphertext with its tag) in place,
    /// leaving the plaintext.
    fn decrypt(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), AeadError>;
}

/// AES-CCM-16-64-128: AES-128 in CCM mode, 13-byte nonce, 8-byte tag (RFC
/// 9053 section 4.2, COSE algorithm 10). The default and mandatory AEAD of
/// OSCORE (RFC 8613 section 3.2) and Group OSCORE (RFC 10021 section 10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AesCcm16_64_128;

/// The one shared instance of [`AesCcm16_64_128`].
pub static AES_CCM_16_64_128: AesCcm16_64_128 = AesCcm16_64_128;

type Ccm16_64_128 = Ccm<Aes128, U8, U13>;

impl Aead for AesCcm16_64_128 {
    fn cose_id(&self) -> i64 {
        10
    }

    fn key_len(&self) -> usize {
        16
    }

    fn nonce_len(&self) -> usize {
        13
    }

    fn tag_len(&self) -> usize {
        8
    }

    fn encrypt(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), AeadError> {
        let cipher = Ccm16_64_128::new_from_slice(key).map_err(|_| AeadError::BadLength)?;
        let nonce = nonce.try_into().map_err(|_| AeadError::BadLength)?;
        let tag = cipher
            .encrypt_inout_detached(nonce, aad, buffer.as_mut_slice().into())
            .map_err(|_| AeadError::BadLength)?;
        buffer.extend_from_slice(&tag);
        Ok(())
    }

    fn decrypt(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), AeadError> {
        let cipher = Ccm16_64_128::new_from_slice(key).map_err(|_| AeadError::BadLength)?;
        let nonce = nonce.try_into().map_err(|_| AeadError::BadLength)?;
        let body_len = buffer
            .len()
            .checked_sub(self.tag_len())
            .ok_or(AeadError::Decrypt)?;
        let (body, tag) = buffer.split_at_mut(body_len);
        let tag: &[u8] = tag;
        let tag = tag.try_into().map_err(|_| AeadError::Decrypt)?;
        cipher
            .decrypt_inout_detached(nonce, aad, body.into(), tag)
            .map_err(|_| AeadError::Decrypt)?;
        buffer.truncate(body_len);
        Ok(())
    }
}

/// The AEAD algorithm registered under COSE identifier `id`, if built in.
pub fn aead_by_id(id: i64) -> Option<&'static dyn Aead> {
    match id {
        10 => Some(&AES_CCM_16_64_128),
        _ => None,
    }
}

/// The HKDF algorithm of a security context (RFC 8613 section 3.2.1).
///
/// HKDF SHA-256 is the only one OSCORE makes mandatory and the only one
/// implemented. In the ACE profiles it is named by the COSE identifier of
/// its HMAC, 5 (HMAC 256/256, RFC 9203 section 3.2.1 and
/// draft-ietf-ace-key-groupcomm-oscore section 6.3); the identifier -10
/// (direct+HKDF-SHA-256) is accepted as a synonym.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Hkdf {
    /// HKDF with SHA-256.
    #[default]
    Sha256,
}

impl Hkdf {
    /// COSE identifier of HMAC 256/256, used to name HKDF SHA-256 in the ACE
    /// profiles.
    pub const HMAC_256_256: i64 = 5;
    /// COSE identifier of direct+HKDF-SHA-256 (RFC 9053 section 6.1.2).
    pub const DIRECT_HKDF_SHA_256: i64 = -10;

    /// The HKDF named by COSE identifier `id`, if implemented.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            Self::HMAC_256_256 | Self::DIRECT_HKDF_SHA_256 => Some(Self::Sha256),
            _ => None,
        }
    }

    /// HKDF-Extract then HKDF-Expand (RFC 5869 section 2): fills `out`.
    /// An empty salt stands for the all-zero salt (RFC 5869 section 2.2).
    /// HKDF yields at most 255 hash lengths (8160 bytes); bytes of `out`
    /// beyond that stay zero. Every output of OSCORE is at most 64 bytes.
    pub fn derive(self, salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
        match self {
            Self::Sha256 => {
                let salt = (!salt.is_empty()).then_some(salt);
                let hk = hkdf::Hkdf::<sha2::Sha256>::new(salt, ikm);
                let max = out.len().min(255 * 32);
                out[max..].fill(0);
                // The length is bounded above, so expand cannot fail.
                if hk.expand(info, &mut out[..max]).is_err() {
                    out.fill(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_ccm_round_trip_and_tamper() {
        let key = [7u8; 16];
        let nonce = [1u8; 13];
        let mut buf = b"hello".to_vec();
        AES_CCM_16_64_128
            .encrypt(&key, &nonce, b"aad", &mut buf)
            .unwrap();
        assert_eq!(buf.len(), 5 + 8);
        let sealed = buf.clone();
        AES_CCM_16_64_128
            .decrypt(&key, &nonce, b"aad", &mut buf)
            .unwrap();
        assert_eq!(buf, b"hello");

        let mut wrong_aad = sealed.clone();
        assert_eq!(
            AES_CCM_16_64_128.decrypt(&key, &nonce, b"aaD", &mut wrong_aad),
            Err(AeadError::Decrypt)
        );
        let mut short = sealed[..7].to_vec();
        assert_eq!(
            AES_CCM_16_64_128.decrypt(&key, &nonce, b"aad", &mut short),
            Err(AeadError::Decrypt)
        );
        let mut buf = sealed;
        assert_eq!(
            AES_CCM_16_64_128.decrypt(&key[..15], &nonce, b"aad", &mut buf),
            Err(AeadError::BadLength)
        );
    }

    #[test]
    fn hkdf_rfc5869_test_case_1() {
        // RFC 5869 Appendix A.1.
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 42];
        Hkdf::Sha256.derive(&salt, &ikm, &info, &mut okm);
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn hkdf_identifiers() {
        assert_eq!(Hkdf::from_cose_id(5), Some(Hkdf::Sha256));
        assert_eq!(Hkdf::from_cose_id(-10), Some(Hkdf::Sha256));
        assert_eq!(Hkdf::from_cose_id(6), None);
        assert!(aead_by_id(10).is_some());
        assert!(aead_by_id(11).is_none());
    }
}
