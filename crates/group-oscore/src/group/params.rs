//! The parameters of a Group OSCORE Common Context (RFC 10021 section 2.1).

use ace_proto::keys::SignatureAlgorithm;
use zeroize::Zeroizing;

use crate::aad::GroupAlgorithms;
use crate::algorithm::{AES_CCM_16_64_128, Aead, Hkdf};
use crate::replay::DEFAULT_WINDOW_SIZE;

/// COSE header label of a CWT Claims Set credential, `kccs` (RFC 9528
/// section 10.6), the default credential format of the Group OSCORE profile.
pub const CRED_FMT_KCCS: i64 = 14;

/// A Gid in the format of RFC 10021 Appendix C: a fixed Group Prefix
/// followed by a Group Epoch of `epoch_len` bytes (big-endian), which the
/// Group Manager increments at every rekeying. The epoch is reduced modulo
/// `2^(8 * epoch_len)`.
pub fn gid_from_prefix_and_epoch(prefix: &[u8], epoch: u64, epoch_len: usize) -> Vec<u8> {
    let epoch_len = epoch_len.min(8);
    let mut out = prefix.to_vec();
    out.extend_from_slice(&epoch.to_be_bytes()[8 - epoch_len..]);
    out
}

/// The Pairwise Key Agreement Algorithm (RFC 10021 section 2.1.10).
///
/// Only its ECDH part is used: the static-static shared secret on the curve
/// of the members' keys (X25519 for Ed25519 and X25519 credentials, P-256
/// for P-256 ones). The HKDF named in the COSE algorithm is not used; the
/// pairwise keys are derived with the group's HKDF.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    /// ECDH-SS + HKDF-256 (COSE -27, RFC 9053 section 6.3.1), the
    /// mandatory-to-implement one (RFC 10021 section 10).
    #[default]
    EcdhSsHkdf256,
}

impl KeyAgreement {
    /// The COSE algorithm identifier.
    pub const fn cose_id(self) -> i64 {
        match self {
            Self::EcdhSsHkdf256 => -27,
        }
    }

    /// The algorithm with COSE identifier `id`, if implemented.
    pub const fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            -27 => Some(Self::EcdhSsHkdf256),
            _ => None,
        }
    }
}

/// Which `Countersign_structure` the group-mode signature covers.
///
/// RFC 10021 section 3.1 uses the abbreviated countersignature of RFC 9338
/// sections 3.2 and 3.3, `["CounterSignature0", body_protected,
/// external_aad, payload]`. aiocoap 0.4.17 (which implements
/// draft-ietf-core-oscore-groupcomm-23) additionally includes an empty
/// `sign_protected`: `["CounterSignature0", h'', h'', external_aad,
/// payload]`. The two do not verify each other's signatures; the
/// compatibility variant exists only to interoperate with that version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CountersignatureStructure {
    /// RFC 10021 / RFC 9338 (the default).
    #[default]
    Rfc9338,
    /// aiocoap 0.4.17 compatibility: an extra empty `sign_protected`.
    Aiocoap0_4_17,
}

/// The input parameters of a Group OSCORE Common Context (RFC 10021 section
/// 2.1), as the Group Manager distributes them (Group_OSCORE_Input_Material,
/// draft-ietf-ace-key-groupcomm-oscore section 6.3).
///
/// Group mode is available when both the Group Encryption Algorithm and the
/// Signature Algorithm are set; pairwise mode when both the AEAD Algorithm
/// and the Pairwise Key Agreement Algorithm are set (RFC 10021 section 6).
#[derive(Clone)]
pub struct GroupParams {
    /// The Group Identifier, used as ID Context (section 2.1.3).
    pub gid: Vec<u8>,
    /// Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// Master Salt (empty if absent).
    pub master_salt: Vec<u8>,
    /// HKDF Algorithm.
    pub hkdf: Hkdf,
    /// Group Encryption Algorithm (section 2.1.7).
    pub group_encryption: Option<&'static dyn Aead>,
    /// Signature Algorithm (section 2.1.8).
    pub signature: Option<SignatureAlgorithm>,
    /// AEAD Algorithm, used by the pairwise mode (section 2.1.1).
    pub aead: Option<&'static dyn Aead>,
    /// Pairwise Key Agreement Algorithm (section 2.1.10).
    pub key_agreement: Option<KeyAgreement>,
    /// Authentication Credential Format (section 2.1.5), as a COSE header
    /// label (14 for CCS). Credentials are handled as opaque bytes; the
    /// format is recorded for the application.
    pub cred_fmt: i64,
    /// The Group Manager's authentication credential, as distributed
    /// (section 2.1.6); it enters every external_aad.
    pub gm_credential: Vec<u8>,
    /// Replay window size of each Recipient Context.
    pub replay_window: u32,
    /// The countersignature structure (RFC 9338 unless interoperating with
    /// aiocoap 0.4.17).
    pub countersignature: CountersignatureStructure,
}

impl std::fmt::Debug for GroupParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupParams")
            .field("gid", &self.gid)
            .field("algorithms", &self.algorithms())
            .field("cred_fmt", &self.cred_fmt)
            .field("countersignature", &self.countersignature)
            .finish_non_exhaustive()
    }
}

impl GroupParams {
    /// Parameters of a group using both modes with the default algorithms of
    /// the Group OSCORE profile (draft-ietf-ace-key-groupcomm-oscore section
    /// 14): AES-CCM-16-64-128 for group encryption and pairwise AEAD,
    /// ECDH-SS + HKDF-256, HKDF SHA-256, CCS credentials, and the given
    /// Signature Algorithm.
    pub fn new(
        gid: &[u8],
        master_secret: &[u8],
        signature: SignatureAlgorithm,
        gm_credential: &[u8],
    ) -> Self {
        Self {
            gid: gid.to_vec(),
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: Vec::new(),
            hkdf: Hkdf::Sha256,
            group_encryption: Some(&AES_CCM_16_64_128),
            signature: Some(signature),
            aead: Some(&AES_CCM_16_64_128),
            key_agreement: Some(KeyAgreement::EcdhSsHkdf256),
            cred_fmt: CRED_FMT_KCCS,
            gm_credential: gm_credential.to_vec(),
            replay_window: DEFAULT_WINDOW_SIZE,
            countersignature: CountersignatureStructure::Rfc9338,
        }
    }

    /// Sets the Master Salt.
    #[must_use]
    pub fn master_salt(mut self, salt: &[u8]) -> Self {
        self.master_salt = salt.to_vec();
        self
    }

    /// Makes the group signature-only (no pairwise mode).
    #[must_use]
    pub fn signature_only(mut self) -> Self {
        self.aead = None;
        self.key_agreement = None;
        self
    }

    /// Makes the group pairwise-only (no group mode).
    #[must_use]
    pub fn pairwise_only(mut self) -> Self {
        self.group_encryption = None;
        self.signature = None;
        self
    }

    /// Selects the countersignature structure.
    #[must_use]
    pub fn countersignature(mut self, structure: CountersignatureStructure) -> Self {
        self.countersignature = structure;
        self
    }

    /// Whether group mode can be used (RFC 10021 section 6).
    pub fn has_group_mode(&self) -> bool {
        self.group_encryption.is_some() && self.signature.is_some()
    }

    /// Whether pairwise mode can be used (RFC 10021 section 6).
    pub fn has_pairwise_mode(&self) -> bool {
        self.aead.is_some() && self.key_agreement.is_some()
    }

    /// The algorithm identifiers as they enter the external_aad.
    pub fn algorithms(&self) -> GroupAlgorithms {
        GroupAlgorithms {
            aead: self.aead.map(|a| a.cose_id()),
            group_enc: self.group_encryption.map(|a| a.cose_id()),
            signature: self.signature.map(SignatureAlgorithm::cose_id),
            key_agreement: self.key_agreement.map(KeyAgreement::cose_id),
        }
    }

    /// The algorithm the Sender and Recipient Keys are derived for: the Group
    /// Encryption Algorithm if set, else the AEAD Algorithm (RFC 10021
    /// section 2.3).
    pub(crate) fn main_algorithm(&self) -> Option<&'static dyn Aead> {
        self.group_encryption.or(self.aead)
    }

    /// Length of the Common IV: the largest nonce of the set algorithms
    /// (section 2.1.4).
    pub(crate) fn common_iv_len(&self) -> usize {
        [self.group_encryption, self.aead]
            .into_iter()
            .flatten()
            .map(|a| a.nonce_len())
            .max()
            .unwrap_or(0)
    }

    /// Longest Sender ID: the smallest nonce of the set algorithms minus 6
    /// (section 2.2).
    pub(crate) fn max_id_len(&self) -> usize {
        [self.group_encryption, self.aead]
            .into_iter()
            .flatten()
            .map(|a| a.nonce_len())
            .min()
            .unwrap_or(0)
            .saturating_sub(6)
    }
}
