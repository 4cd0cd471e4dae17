//! Token minting: a claims set sealed in the audience's format (RFC 8392
//! section 7 for CWTs, RFC 7519 for JWTs).
//!
//! | format | structure |
//! |---|---|
//! | `sign1` | COSE_Sign1 with the AS's key (EdDSA by default) |
//! | `mac0` | COSE_Mac0 (HMAC 256/64 or 256/256) with the key shared with the RS |
//! | `encrypt0` | COSE_Encrypt0 (AES-CCM-16-64-128) with the key shared with the RS |
//! | `sign1+encrypt0` | the COSE_Sign1, tagged, as the plaintext of a COSE_Encrypt0 (RFC 8392 Appendix A.6) |
//! | `jwt` | JWS compact serialization, EdDSA |
//!
//! Whatever the configuration says, [`TokenMinter::mint`] refuses to put a
//! symmetric proof-of-possession key (an OSCORE_Input_Material, a
//! symmetric COSE_Key) into a token that is not encrypted (RFC 9203
//! section 3, RFC 9202 section 3.2.1, RFC 9431 section 4).

use crate::config::{CwtProtection, TokenFormat};
use crate::jwt::{self, JwtError};
use ace_proto::cwt::{self, ClaimsSet, Confirmation, SealError, Tagging};
use ace_proto::keys::{SigningKey, random_bytes};

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The claims hold a symmetric PoP key and the format does not encrypt.
    #[error("refusing to put a symmetric proof-of-possession key into an unencrypted {0} token")]
    SymmetricKeyInUnencryptedToken(String),
    /// COSE sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The shared key has the wrong length for the algorithm.
    #[error("the key shared with the RS has {0} bytes, AES-CCM-16-64-128 needs 16")]
    KeyLength(usize),
    /// JWT signing failed.
    #[error(transparent)]
    Jwt(#[from] JwtError),
}

/// Whether a `cnf` value carries symmetric key material in the clear.
/// Unknown methods count as symmetric: they are never sealed unencrypted.
pub fn carries_symmetric_key(cnf: &Confirmation) -> bool {
    match cnf {
        Confirmation::Osc(_) | Confirmation::Other(..) => true,
        Confirmation::CoseKey(key) => key.symmetric_key().is_some(),
        Confirmation::Kid(_) | Confirmation::EncryptedCoseKey(_) => false,
    }
}

/// Seals claims sets with the AS's signing key or the keys shared with
/// resource servers.
#[derive(Debug, Clone)]
pub struct TokenMinter {
    signing_key: SigningKey,
    kid: Option<Vec<u8>>,
}

impl TokenMinter {
    /// A minter signing with `signing_key`, naming it `kid` in the COSE and
    /// JOSE headers.
    pub fn new(signing_key: SigningKey, kid: Option<Vec<u8>>) -> Self {
        Self { signing_key, kid }
    }

    /// The AS's signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// Seals `claims` in `format`.
    pub fn mint(&self, claims: &ClaimsSet, format: &TokenFormat) -> Result<Vec<u8>, MintError> {
        if !format.is_encrypted() && claims.cnf.as_ref().is_some_and(carries_symmetric_key) {
            return Err(MintError::SymmetricKeyInUnencryptedToken(format.describe()));
        }
        match format {
            TokenFormat::Jwt => {
                Ok(jwt::encode(claims, &self.signing_key, self.kid.as_deref())?.into_bytes())
            }
            TokenFormat::Cwt {
                protection,
                tagging,
            } => self.seal(claims, protection, *tagging),
        }
    }

    fn seal(
        &self,
        claims: &ClaimsSet,
        protection: &CwtProtection,
        tagging: Tagging,
    ) -> Result<Vec<u8>, MintError> {
        let kid = self.kid.as_deref();
        match protection {
            CwtProtection::Sign1 => Ok(claims.seal_sign1(&self.signing_key, kid, tagging)?),
            CwtProtection::Mac0 { key, algorithm } => {
                Ok(claims.seal_mac0(&key.key, *algorithm, key.kid.as_deref(), tagging)?)
            }
            CwtProtection::Encrypt0 { key } => {
                let k = aes_key(&key.key)?;
                Ok(claims.seal_encrypt0(&k, key.kid.as_deref(), tagging)?)
            }
            CwtProtection::Sign1Encrypt0 { key } => {
                // RFC 8392 A.6: the inner object is the tagged COSE_Sign1.
                let inner = claims.seal_sign1(&self.signing_key, kid, Tagging::Cose)?;
                let k = aes_key(&key.key)?;
                let mut iv = [0u8; cwt::AES_CCM_NONCE_LEN];
                iv.copy_from_slice(&random_bytes(cwt::AES_CCM_NONCE_LEN));
                let unprotected = coset::Header {
                    key_id: key.kid.clone().unwrap_or_default(),
                    ..coset::Header::default()
                };
                Ok(cwt::encrypt0(&inner, &k, &iv, unprotected, tagging)?)
            }
        }
    }
}

fn aes_key(key: &[u8]) -> Result<zeroize::Zeroizing<[u8; 16]>, MintError> {
    let k: [u8; 16] = key
        .try_into()
        .map_err(|_| MintError::KeyLength(key.len()))?;
    Ok(zeroize::Zeroizing::new(k))
}
