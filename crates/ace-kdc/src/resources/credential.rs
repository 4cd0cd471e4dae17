//! Member credentials against a group's configuration (RFC 9594 section
//! 4.3.1, error id 2; Group OSCORE profile section 6.2) and the
//! proof-of-possession computations of both sides (profile sections 6.1
//! and 6.3).

use crate::config::{GroupConfig, KdcGroupKey};
use crate::core::Refusal;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::keys::{VerifyingKey, random_bytes};
use ace_proto::pop::{self, DhCurve, DhPublicKey, PopCheck, PopVerified};

/// Length of N_KDC (`kdc_nonce`): 8 random bytes (profile section 6.3:
/// at least 8, random RECOMMENDED).
pub(crate) const KDC_NONCE_LEN: usize = 8;

/// The key a member's PoP is checked with.
#[derive(Debug, Clone)]
pub(crate) enum MemberKey {
    /// A signature key (groups using group mode).
    Signature(VerifyingKey),
    /// A Diffie-Hellman key (pairwise-only groups).
    Dh(DhPublicKey),
}

/// A credential that fits the group.
#[derive(Debug, Clone)]
pub(crate) struct CheckedCredential {
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// Its key.
    pub key: MemberKey,
}

fn incompatible(detail: impl Into<String>) -> Refusal {
    Refusal::bad_request(ErrorId::IncompatibleCredential, detail)
}

/// Checks that `bytes` is a credential the group accepts: the group's
/// format (a CCS), carrying `alg` (some peers refuse credentials without
/// it), with the group's signature algorithm and key type, or for a
/// pairwise-only group a key of the group's curve named with the group's
/// key agreement algorithm. A refusal is 4.00 with error id 2.
pub(crate) fn check(group: &GroupConfig, bytes: &[u8]) -> Result<CheckedCredential, Refusal> {
    let cred = Credential::parse_ccs(bytes)
        .map_err(|e| incompatible(format!("not a CWT Claims Set credential: {e}")))?;
    let alg = cred
        .check_alg()
        .map_err(|_| incompatible("the credential's COSE_Key has no alg"))?;
    let key = match (group.signature, group.dh_curve) {
        (Some(sig), _) => {
            if alg != sig.cose_id() {
                return Err(incompatible(format!(
                    "credential alg {alg}, the group signs with {}",
                    sig.cose_id()
                )));
            }
            let vk = cred
                .verifying_key()
                .map_err(|e| incompatible(e.to_string()))?;
            if vk.algorithm() != sig {
                return Err(incompatible(
                    "the key type does not fit the signature algorithm",
                ));
            }
            MemberKey::Signature(vk)
        }
        (None, Some(curve)) => {
            if alg != group.spec.ecdh_alg {
                return Err(incompatible(format!(
                    "credential alg {alg}, the group uses key agreement {}",
                    group.spec.ecdh_alg
                )));
            }
            match (cred.public_key(), curve) {
                (PublicKey::X25519(_), DhCurve::X25519)
                | (PublicKey::P256 { .. }, DhCurve::P256) => {}
                (other, _) => {
                    return Err(incompatible(format!(
                        "a {} key in a group whose curve is {curve:?}",
                        other.name()
                    )));
                }
            }
            let dh = cred
                .dh_public_key()
                .map_err(|e| incompatible(e.to_string()))?;
            MemberKey::Dh(dh)
        }
        (None, None) => return Err(incompatible("the group has no algorithms")),
    };
    Ok(CheckedCredential {
        bytes: cred.into_bytes(),
        key,
    })
}

/// Verifies a client's PoP evidence over `pop_input` with its credential
/// (signature) or, in a pairwise-only group, the HKDF MAC from the KDC's DH
/// key and the client's (profile section 6.1). A refusal is 4.00 with error
/// id 3.
pub(crate) fn verify_client_pop(
    group: &GroupConfig,
    cred: &CheckedCredential,
    pop_input: &[u8],
    evidence: Option<&[u8]>,
) -> Result<PopVerified, Refusal> {
    let evidence = evidence.ok_or_else(|| {
        Refusal::bad_request(ErrorId::InvalidPopEvidence, "client_cred_verify is missing")
    })?;
    let result = match (&cred.key, &group.kdc_key) {
        (MemberKey::Signature(vk), _) => PopCheck::Signature(vk).verify(pop_input, evidence),
        (MemberKey::Dh(peer), KdcGroupKey::Dh(own)) => {
            PopCheck::Mac { own, peer }.verify(pop_input, evidence)
        }
        (MemberKey::Dh(_), KdcGroupKey::Signature(_)) => {
            return Err(Refusal::Internal("no KDC key agreement key".into()));
        }
    };
    result.map_err(|e| Refusal::bad_request(ErrorId::InvalidPopEvidence, e.to_string()))
}

/// The KDC's PoP for a client whose nonce is `n_c`: a fresh N_KDC and
/// `kdc_cred_verify` over `bstr(N_C) | bstr(N_KDC)`, a signature with the
/// KDC's key, or in a pairwise-only group the HKDF MAC from the KDC's DH
/// key and the client's (`client_dh`) (RFC 9594 section 4.3.1; profile
/// section 6.3).
pub(crate) fn kdc_pop(
    group: &GroupConfig,
    n_c: &[u8],
    client_dh: Option<&DhPublicKey>,
) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    let n_kdc = random_bytes(KDC_NONCE_LEN);
    let input = pop::kdc_pop_input(n_c, &n_kdc);
    let evidence = match &group.kdc_key {
        KdcGroupKey::Signature(key) => pop::sign(key, &input),
        KdcGroupKey::Dh(own) => {
            let peer = client_dh.ok_or_else(|| {
                Refusal::BadRequest(
                    "the KDC's PoP in a pairwise-only group needs the client's credential".into(),
                )
            })?;
            pop::mac(own, peer, &input)
                .map_err(|e| Refusal::Internal(e.to_string()))?
                .to_vec()
        }
    };
    Ok((n_kdc, evidence))
}

/// The DH key of a stored member credential (pairwise-only groups).
pub(crate) fn stored_dh_key(group: &GroupConfig, bytes: &[u8]) -> Option<DhPublicKey> {
    match check(group, bytes).ok()?.key {
        MemberKey::Dh(k) => Some(k),
        MemberKey::Signature(_) => None,
    }
}
