//! Signature keys: Ed25519 (COSE `EdDSA`, -8) and ECDSA P-256 (COSE `ES256`, -7),
//! the two algorithms the Group OSCORE profile and our tokens use.
//!
//! Signatures are in the COSE form (RFC 9053 section 2): 64 bytes, for ES256
//! the fixed-size `r || s`. ES256 signing is deterministic (RFC 6979).

use rand::Rng as _;
use std::fmt;

/// COSE algorithm identifier of EdDSA (RFC 9053 section 2.2).
pub const ALG_EDDSA: i64 = -8;
/// COSE algorithm identifier of ECDSA with SHA-256 (RFC 9053 section 2.1).
pub const ALG_ES256: i64 = -7;
/// Length of every signature produced here.
pub const SIGNATURE_LEN: usize = 64;

/// A signature algorithm this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// EdDSA with Ed25519 (COSE -8).
    EdDsa,
    /// ECDSA with P-256 and SHA-256 (COSE -7).
    Es256,
}

impl SignatureAlgorithm {
    /// The COSE algorithm identifier.
    pub const fn cose_id(self) -> i64 {
        match self {
            Self::EdDsa => ALG_EDDSA,
            Self::Es256 => ALG_ES256,
        }
    }

    /// The algorithm with COSE identifier `id`, if implemented.
    pub const fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            ALG_EDDSA => Some(Self::EdDsa),
            ALG_ES256 => Some(Self::Es256),
            _ => None,
        }
    }
}

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Key bytes of the wrong length or not a valid key for the curve.
    #[error("invalid {0} key")]
    InvalidKey(&'static str),
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
}

/// A private signing key.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256 ECDSA.
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// A fresh random key for `alg`.
    pub fn generate(alg: SignatureAlgorithm) -> Self {
        let mut rng = rand::rng();
        match alg {
            SignatureAlgorithm::EdDsa => {
                Self::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng))
            }
            SignatureAlgorithm::Es256 => {
                use p256::elliptic_curve::Generate as _;
                Self::P256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng))
            }
        }
    }

    /// The key from its 32 private bytes (the Ed25519 seed, or the P-256 scalar
    /// big-endian), as COSE_Key parameter `d` (-4) carries them.
    pub fn from_bytes(alg: SignatureAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        match alg {
            SignatureAlgorithm::EdDsa => {
                let seed: &[u8; 32] = bytes
                    .try_into()
                    .map_err(|_| KeyError::InvalidKey("Ed25519"))?;
                Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)))
            }
            SignatureAlgorithm::Es256 => p256::ecdsa::SigningKey::from_slice(bytes)
                .map(Self::P256)
                .map_err(|_| KeyError::InvalidKey("P-256")),
        }
    }

    /// The 32 private bytes (see [`SigningKey::from_bytes`]).
    pub fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(match self {
            Self::Ed25519(k) => k.to_bytes().to_vec(),
            Self::P256(k) => k.to_bytes().to_vec(),
        })
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            Self::Ed25519(_) => SignatureAlgorithm::EdDsa,
            Self::P256(_) => SignatureAlgorithm::Es256,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::Ed25519(k) => VerifyingKey::Ed25519(k.verifying_key()),
            Self::P256(k) => VerifyingKey::P256(*k.verifying_key()),
        }
    }

    /// Signs `message`, returning the 64-byte COSE signature.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        match self {
            Self::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Self::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private key material.
        write!(
            f,
            "SigningKey({:?}, {:?})",
            self.algorithm(),
            self.verifying_key()
        )
    }
}

/// A public verification key.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// P-256 ECDSA.
    P256(p256::ecdsa::VerifyingKey),
}

impl VerifyingKey {
    /// An Ed25519 key from the 32-byte compressed point (COSE_Key OKP `x`).
    pub fn ed25519(x: &[u8]) -> Result<Self, KeyError> {
        let x: &[u8; 32] = x.try_into().map_err(|_| KeyError::InvalidKey("Ed25519"))?;
        ed25519_dalek::VerifyingKey::from_bytes(x)
            .map(Self::Ed25519)
            .map_err(|_| KeyError::InvalidKey("Ed25519"))
    }

    /// A P-256 key from its affine coordinates (COSE_Key EC2 `x` and `y`, 32
    /// bytes each). The point must lie on the curve.
    pub fn p256(x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(KeyError::InvalidKey("P-256"));
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map(Self::P256)
            .map_err(|_| KeyError::InvalidKey("P-256"))
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            Self::Ed25519(_) => SignatureAlgorithm::EdDsa,
            Self::P256(_) => SignatureAlgorithm::Es256,
        }
    }

    /// The public coordinates: `(x, None)` for Ed25519, `(x, Some(y))` for P-256.
    pub fn coordinates(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            Self::Ed25519(k) => (k.to_bytes().to_vec(), None),
            Self::P256(k) => {
                let point = k.to_sec1_bytes();
                // Uncompressed SEC1: 0x04 || x || y.
                (point[1..33].to_vec(), Some(point[33..65].to_vec()))
            }
        }
    }

    /// Checks a 64-byte COSE signature over `message`. Ed25519 verification is
    /// strict (RFC 8032 section 5.1.7 with canonical `S` and no small-order
    /// keys); P-256 accepts both low and high `S`, as RFC 9053 does not
    /// restrict it.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        match self {
            Self::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                k.verify_strict(message, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            Self::P256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                k.verify(message, &sig).map_err(|_| KeyError::BadSignature)
            }
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (x, _) = self.coordinates();
        write!(f, "VerifyingKey({:?}, x=", self.algorithm())?;
        for b in x.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// Fills a fresh buffer of `len` random bytes (nonces, challenges, secrets)
/// from the thread-local CSPRNG.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand::rng().fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_both_algorithms() {
        for alg in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
            let key = SigningKey::generate(alg);
            let sig = key.sign(b"message");
            assert_eq!(sig.len(), SIGNATURE_LEN);
            let public = key.verifying_key();
            assert_eq!(public.verify(b"message", &sig), Ok(()));
            assert_eq!(public.verify(b"messagE", &sig), Err(KeyError::BadSignature));
            assert_eq!(
                public.verify(b"message", &sig[..63]),
                Err(KeyError::BadSignature)
            );
            let restored = SigningKey::from_bytes(alg, &key.to_bytes()).unwrap();
            assert_eq!(restored.verifying_key(), public);
        }
    }

    #[test]
    fn public_keys_round_trip_through_coordinates() {
        let ed = SigningKey::generate(SignatureAlgorithm::EdDsa).verifying_key();
        let (x, y) = ed.coordinates();
        assert!(y.is_none());
        assert_eq!(VerifyingKey::ed25519(&x).unwrap(), ed);

        let p = SigningKey::generate(SignatureAlgorithm::Es256).verifying_key();
        let (x, y) = p.coordinates();
        assert_eq!(VerifyingKey::p256(&x, &y.unwrap()).unwrap(), p);
    }

    #[test]
    fn points_off_the_curve_are_refused() {
        assert!(VerifyingKey::p256(&[1; 32], &[2; 32]).is_err());
        assert!(VerifyingKey::ed25519(&[0; 31]).is_err());
        assert!(SigningKey::from_bytes(SignatureAlgorithm::Es256, &[0; 32]).is_err());
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &seed).unwrap();
        assert_eq!(
            hex::encode(key.verifying_key().coordinates().0),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }
}
