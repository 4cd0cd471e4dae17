//! Proof-of-possession evidence of RFC 9594 section 4.3.1 and the Group OSCORE
//! profile section 6.1: PoP inputs, signatures, and the HKDF MAC of
//! pairwise-only groups.
//!
//! # PoP inputs
//!
//! Both inputs are concatenations of CBOR *encoded* byte strings (head
//! included), not of raw bytes:
//!
//! - [`client_pop_input`]: `bstr(scope) | bstr(N_S) | bstr(N_C)`, signed by a
//!   joining Client in `client_cred_verify` (RFC 9594 Figure 10, 31);
//! - [`kdc_pop_input`]: `bstr(N_C) | bstr(N_KDC)`, signed by the KDC in
//!   `kdc_cred_verify` (RFC 9594 Figure 11, 20).
//!
//! # Evidence
//!
//! In groups that use signatures the evidence is a signature with the
//! private key of the sender's credential, with the group's signature
//! algorithm (Ed25519 or ES256 here, via [`crate::keys`]). In pairwise-only
//! groups it is an 8-byte MAC (draft-ietf-ace-key-groupcomm-oscore-21
//! section 6.1):
//!
//! ```text
//! MAC = HKDF-SHA256(salt = h'', IKM = ECDH(own DH private key, peer DH public key),
//!                   info = PoP input, L = 8)
//! ```
//!
//! The ECDH is done here, on [`DhPrivateKey`] and [`DhPublicKey`] (X25519
//! and P-256), so that the shared secret never leaves this module and the
//! checks that go with it (X25519 contributory behaviour, P-256 points on
//! the curve) cannot be forgotten by a caller. An Ed25519 credential is
//! turned into its X25519 form ([`DhPrivateKey::from_signing_key`],
//! [`DhPublicKey::from_verifying_key`]), as Group OSCORE does for its
//! pairwise keys (RFC 10021 section 2.5.1).
//!
//! # Proof type
//!
//! Verification returns [`PopVerified`], which only this module can
//! construct: code that must not proceed without a verified PoP (the KDC
//! admitting a member, a Client accepting `kdc_cred`) takes a `PopVerified`
//! as a parameter, so skipping the check does not compile:
//!
//! ```compile_fail
//! use ace_proto::pop::{PopMethod, PopVerified};
//! // Outside this module a proof cannot be made up.
//! let forged = PopVerified { method: PopMethod::Signature };
//! ```

use crate::cbor::bstr;
use crate::code::Code;
use crate::consts::groupcomm::error_id;
use crate::error::DecodeError;
use crate::keys::{KeyError, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// Length of the MAC of pairwise-only groups, in bytes.
pub const MAC_LEN: usize = 8;

/// `bstr(scope) | bstr(N_S) | bstr(N_C)`: the input of `client_cred_verify`
/// (RFC 9594 section 4.3.1, Figure 10; section 4.9.1, Figure 31).
///
/// `scope` is the content of the Join Request's `scope` parameter (the bytes
/// of the CBOR-encoded scope entry), or the KDC's default scope if the
/// request had none.
pub fn client_pop_input(scope: &[u8], n_s: &[u8], n_c: &[u8]) -> Vec<u8> {
    let mut out = bstr(scope);
    out.extend_from_slice(&bstr(n_s));
    out.extend_from_slice(&bstr(n_c));
    out
}

/// `bstr(N_C) | bstr(N_KDC)`: the input of `kdc_cred_verify` (RFC 9594
/// section 4.3.1, Figure 11; section 4.5.1, Figure 20).
pub fn kdc_pop_input(n_c: &[u8], n_kdc: &[u8]) -> Vec<u8> {
    let mut out = bstr(n_c);
    out.extend_from_slice(&bstr(n_kdc));
    out
}

/// Why PoP evidence was refused or could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
    /// The request carries no PoP evidence where one is required (e.g. a
    /// first join with `client_cred` but no `client_cred_verify`).
    #[error("PoP evidence missing")]
    MissingEvidence,
    /// The signature does not verify with the credential's key.
    #[error("PoP signature does not verify")]
    BadSignature,
    /// The MAC differs from the expected one.
    #[error("PoP MAC does not verify")]
    BadMac,
    /// The evidence has the wrong length for the method (64-byte signature,
    /// 8-byte MAC).
    #[error("PoP evidence of {got} bytes, expected {want}")]
    WrongLength {
        /// Expected length.
        want: usize,
        /// Received length.
        got: usize,
    },
    /// The two Diffie-Hellman keys are on different curves.
    #[error("Diffie-Hellman keys on different curves")]
    CurveMismatch,
    /// The X25519 result is all zeros (a small-order peer key): no secret is
    /// shared, so no MAC could prove anything.
    #[error("Diffie-Hellman with a small-order public key")]
    NonContributory,
    /// A key could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl PopError {
    /// The response a KDC sends when a Client's evidence fails: 4.00 (Bad
    /// Request) with error id 3, "Invalid proof-of-possession evidence"
    /// (RFC 9594 section 4.3.1). A Client that cannot verify `kdc_cred_verify`
    /// instead treats the join as failed (no response is sent).
    pub fn code(&self) -> Code {
        Code::BAD_REQUEST
    }

    /// The ACE Groupcomm error id: 3.
    pub fn error_id(&self) -> i64 {
        error_id::INVALID_POP_EVIDENCE
    }
}

impl From<PopError> for DecodeError {
    fn from(e: PopError) -> Self {
        DecodeError::Groupcomm {
            code: e.code(),
            error_id: e.error_id(),
            reason: e.to_string(),
        }
    }
}

/// How PoP evidence was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopMethod {
    /// A signature with the credential's private key.
    Signature,
    /// The 8-byte HKDF MAC of pairwise-only groups.
    Mac,
}

/// Proof that PoP evidence verified. Only the verification functions of this
/// module construct it (the field is private), so code that requires one
/// cannot be reached without the check (the rustls `verify.rs` pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a PoP check whose result is dropped proves nothing"]
pub struct PopVerified {
    method: PopMethod,
}

impl PopVerified {
    /// The method that verified.
    pub fn method(&self) -> PopMethod {
        self.method
    }
}

/// Signs a PoP input with the credential's private key (Ed25519 or ES256),
/// returning the 64-byte COSE signature.
pub fn sign(key: &SigningKey, pop_input: &[u8]) -> Vec<u8> {
    key.sign(pop_input)
}

/// Verifies signature evidence over a PoP input.
pub fn verify_signature(
    key: &VerifyingKey,
    pop_input: &[u8],
    evidence: &[u8],
) -> Result<PopVerified, PopError> {
    if evidence.len() != crate::keys::SIGNATURE_LEN {
        return Err(PopError::WrongLength {
            want: crate::keys::SIGNATURE_LEN,
            got: evidence.len(),
        });
    }
    key.verify(pop_input, evidence)
        .map_err(|_| PopError::BadSignature)?;
    Ok(PopVerified {
        method: PopMethod::Signature,
    })
}

/// A Diffie-Hellman private key for the MAC of pairwise-only groups.
#[derive(Clone)]
pub enum DhPrivateKey {
    /// X25519.
    X25519(x25519_dalek::StaticSecret),
    /// P-256 ECDH.
    P256(p256::SecretKey),
}

/// A Diffie-Hellman public key (from the peer's credential).
#[derive(Clone, PartialEq, Eq)]
pub enum DhPublicKey {
    /// X25519 (COSE_Key OKP, crv 4).
    X25519(x25519_dalek::PublicKey),
    /// P-256 (COSE_Key EC2, crv 1).
    P256(p256::PublicKey),
}

/// A Diffie-Hellman curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhCurve {
    /// X25519 (COSE crv 4).
    X25519,
    /// P-256 (COSE crv 1).
    P256,
}

impl DhPrivateKey {
    /// A fresh random key.
    pub fn generate(curve: DhCurve) -> Self {
        match curve {
            DhCurve::X25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                seed.copy_from_slice(&crate::keys::random_bytes(32));
                Self::X25519(x25519_dalek::StaticSecret::from(*seed))
            }
            DhCurve::P256 => loop {
                // A uniformly random 32-byte string is a valid scalar except
                // with negligible probability (zero or above the order).
                let bytes = Zeroizing::new(crate::keys::random_bytes(32));
                if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
                    break Self::P256(key);
                }
            },
        }
    }

    /// The key from its 32 private bytes (X25519 scalar, or P-256 scalar
    /// big-endian), as COSE_Key `d` carries them.
    pub fn from_bytes(curve: DhCurve, bytes: &[u8]) -> Result<Self, PopError> {
        match curve {
            DhCurve::X25519 => {
                let raw: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| KeyError::InvalidKey("X25519"))?;
                Ok(Self::X25519(x25519_dalek::StaticSecret::from(raw)))
            }
            DhCurve::P256 => p256::SecretKey::from_slice(bytes)
                .map(Self::P256)
                .map_err(|_| KeyError::InvalidKey("P-256").into()),
        }
    }

    /// The Diffie-Hellman form of a signature key: Ed25519 becomes X25519
    /// (the clamped first half of SHA-512 of the seed, RFC 8032 section
    /// 5.1.5, which maps to the Montgomery form of the public key); a P-256
    /// ECDSA key is used as is (same scalar).
    pub fn from_signing_key(key: &SigningKey) -> Self {
        match key {
            SigningKey::Ed25519(k) => {
                Self::X25519(x25519_dalek::StaticSecret::from(k.to_scalar_bytes()))
            }
            SigningKey::P256(k) => Self::P256(p256::SecretKey::from(k.as_nonzero_scalar())),
        }
    }

    /// The curve.
    pub fn curve(&self) -> DhCurve {
        match self {
            Self::X25519(_) => DhCurve::X25519,
            Self::P256(_) => DhCurve::P256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> DhPublicKey {
        match self {
            Self::X25519(k) => DhPublicKey::X25519(x25519_dalek::PublicKey::from(k)),
            Self::P256(k) => DhPublicKey::P256(k.public_key()),
        }
    }

    /// The ECDH shared secret with `peer` (the 32-byte X25519 output, or the
    /// P-256 x-coordinate).
    pub fn agree(&self, peer: &DhPublicKey) -> Result<SharedSecret, PopError> {
        match (self, peer) {
            (Self::X25519(own), DhPublicKey::X25519(peer)) => {
                let shared = own.diffie_hellman(peer);
                if !shared.was_contributory() {
                    return Err(PopError::NonContributory);
                }
                Ok(SharedSecret(Zeroizing::new(shared.as_bytes().to_vec())))
            }
            (Self::P256(own), DhPublicKey::P256(peer)) => {
                let shared = own.diffie_hellman(peer);
                Ok(SharedSecret(Zeroizing::new(
                    shared.raw_secret_bytes().to_vec(),
                )))
            }
            _ => Err(PopError::CurveMismatch),
        }
    }
}

impl std::fmt::Debug for DhPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print private key material.
        write!(f, "DhPrivateKey({:?})", self.curve())
    }
}

impl DhPublicKey {
    /// An X25519 key from its 32 bytes (COSE_Key OKP `x`).
    pub fn x25519(x: &[u8]) -> Result<Self, PopError> {
        let raw: [u8; 32] = x.try_into().map_err(|_| KeyError::InvalidKey("X25519"))?;
        Ok(Self::X25519(x25519_dalek::PublicKey::from(raw)))
    }

    /// A P-256 key from its affine coordinates (COSE_Key EC2 `x` and `y`, 32
    /// bytes each); the point must lie on the curve.
    pub fn p256(x: &[u8], y: &[u8]) -> Result<Self, PopError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(KeyError::InvalidKey("P-256").into());
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        p256::PublicKey::from_sec1_bytes(&sec1)
            .map(Self::P256)
            .map_err(|_| KeyError::InvalidKey("P-256").into())
    }

    /// The Diffie-Hellman form of a signature credential's key: Ed25519 maps
    /// to its Montgomery (X25519) form, P-256 is used as is.
    pub fn from_verifying_key(key: &VerifyingKey) -> Result<Self, PopError> {
        match key {
            VerifyingKey::Ed25519(k) => Ok(Self::X25519(x25519_dalek::PublicKey::from(
                k.to_montgomery().to_bytes(),
            ))),
            // The point was validated when the key was made: no new
            // encoding and decoding.
            VerifyingKey::P256(k) => Ok(Self::P256(p256::PublicKey::from(k))),
        }
    }

    /// The curve.
    pub fn curve(&self) -> DhCurve {
        match self {
            Self::X25519(_) => DhCurve::X25519,
            Self::P256(_) => DhCurve::P256,
        }
    }
}

impl std::fmt::Debug for DhPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: Vec<u8> = match self {
            Self::X25519(k) => k.as_bytes().to_vec(),
            Self::P256(k) => k.to_sec1_bytes().to_vec(),
        };
        write!(f, "DhPublicKey({:?}, ", self.curve())?;
        for b in bytes.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// An ECDH shared secret, wiped on drop.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// The secret bytes (the IKM of the MAC).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedSecret({} bytes)", self.0.len())
    }
}

/// The 8-byte MAC of pairwise-only groups over `pop_input`:
/// HKDF-SHA256 with salt `h''`, IKM `shared`, info `pop_input`, L = 8
/// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.1).
pub fn mac_with_secret(shared: &SharedSecret, pop_input: &[u8]) -> [u8; MAC_LEN] {
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(&[]), shared.as_bytes());
    let mut out = [0u8; MAC_LEN];
    // HKDF-Expand refuses only outputs longer than 255 * 32 bytes; the
    // length here is the constant 8, so this cannot fail.
    hkdf.expand(pop_input, &mut out)
        .expect("an 8-byte HKDF-SHA256 output is within the 8160-byte limit");
    out
}

/// The MAC of pairwise-only groups, computed from the prover's own DH
/// private key and the verifier's DH public key.
pub fn mac(
    own: &DhPrivateKey,
    peer: &DhPublicKey,
    pop_input: &[u8],
) -> Result<[u8; MAC_LEN], PopError> {
    let shared = own.agree(peer)?;
    Ok(mac_with_secret(&shared, pop_input))
}

/// Verifies MAC evidence of a pairwise-only group: the verifier uses its own
/// DH private key and the prover's DH public key (ECDH is symmetric). The
/// comparison takes the same time wherever the first differing byte is.
pub fn verify_mac(
    own: &DhPrivateKey,
    peer: &DhPublicKey,
    pop_input: &[u8],
    evidence: &[u8],
) -> Result<PopVerified, PopError> {
    if evidence.len() != MAC_LEN {
        return Err(PopError::WrongLength {
            want: MAC_LEN,
            got: evidence.len(),
        });
    }
    let expected = mac(own, peer, pop_input)?;
    if !constant_time_eq(&expected, evidence) {
        return Err(PopError::BadMac);
    }
    Ok(PopVerified {
        method: PopMethod::Mac,
    })
}

/// Byte-string equality whose running time depends only on the length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// The prover's side of a PoP: how evidence is produced.
#[derive(Debug, Clone, Copy)]
pub enum PopProver<'a> {
    /// Sign with the credential's private key (groups that use signatures).
    Signature(&'a SigningKey),
    /// MAC with the own DH private key and the verifier's DH public key
    /// (pairwise-only groups).
    Mac {
        /// The prover's DH private key.
        own: &'a DhPrivateKey,
        /// The verifier's DH public key.
        peer: &'a DhPublicKey,
    },
}

impl PopProver<'_> {
    /// The evidence over `pop_input`.
    pub fn prove(&self, pop_input: &[u8]) -> Result<Vec<u8>, PopError> {
        match self {
            Self::Signature(key) => Ok(sign(key, pop_input)),
            Self::Mac { own, peer } => mac(own, peer, pop_input).map(|m| m.to_vec()),
        }
    }
}

/// The verifier's side of a PoP: how evidence is checked.
#[derive(Debug, Clone, Copy)]
pub enum PopCheck<'a> {
    /// A signature under the prover's credential key.
    Signature(&'a VerifyingKey),
    /// The MAC, from the verifier's DH private key and the prover's DH public
    /// key.
    Mac {
        /// The verifier's DH private key.
        own: &'a DhPrivateKey,
        /// The prover's DH public key.
        peer: &'a DhPublicKey,
    },
}

impl PopCheck<'_> {
    /// Verifies `evidence` over `pop_input`.
    pub fn verify(&self, pop_input: &[u8], evidence: &[u8]) -> Result<PopVerified, PopError> {
        match self {
            Self::Signature(key) => verify_signature(key, pop_input, evidence),
            Self::Mac { own, peer } => verify_mac(own, peer, pop_input, evidence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abcdefgh", b"abcdefgh"));
        assert!(!constant_time_eq(b"abcdefgh", b"abcdefgX"));
        assert!(!constant_time_eq(b"Xbcdefgh", b"abcdefgh"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn pop_error_maps_to_4_00_with_error_id_3() {
        let e: DecodeError = PopError::BadSignature.into();
        assert_eq!(e.code(), Code::BAD_REQUEST);
        assert_eq!(e.error_id(), Some(3));
    }

    #[test]
    fn small_order_x25519_key_is_refused() {
        let own = DhPrivateKey::generate(DhCurve::X25519);
        let zero = DhPublicKey::x25519(&[0u8; 32]).unwrap();
        assert_eq!(own.agree(&zero).unwrap_err(), PopError::NonContributory);
        let p = DhPrivateKey::generate(DhCurve::P256).public_key();
        assert_eq!(own.agree(&p).unwrap_err(), PopError::CurveMismatch);
    }
}
