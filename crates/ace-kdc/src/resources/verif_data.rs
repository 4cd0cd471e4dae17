//! GET `/ace-group/GROUPNAME/verif-data` (Group OSCORE profile section 9,
//! Figure 5): what an external signature verifier needs to check
//! group-mode messages. Only for clients whose token grants the Verifier
//! role and that are not members (4.03 with error id 8 otherwise); a
//! pairwise-only group has no signatures (4.00 with error id 7).

use super::{VERIFIER_HINT, authorize};
use crate::core::{Caller, Kdc, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::{Codec, IntOrText};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::{ErrorId, profile};
use ace_proto::groupcomm::{
    GroupKey, GroupKeyingMaterial, GroupOscoreInputMaterial, VerifDataResponse,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::group_oscore::VERIFIER;

/// The verifier-only check shared with FETCH `/kdc-cred`.
pub(crate) fn verifier_only(
    state: &crate::core::State,
    group: &str,
    granted: &super::Granted,
) -> Result<(), Refusal> {
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    if granted.roles & VERIFIER == 0 || g.member_by_token(&granted.token_id).is_some() {
        return Err(Refusal::Forbidden {
            error_id: Some(ErrorId::OnlySignatureVerifiers),
            detail: "only external signature verifiers may do this".into(),
        });
    }
    if !g.config.mode.uses_signatures() {
        return Err(Refusal::bad_request(
            ErrorId::SignaturesNotUsed,
            format!("group {group} is pairwise-only"),
        ));
    }
    Ok(())
}

/// Handles GET `/verif-data`.
pub fn get(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, VERIFIER_HINT, now)?;
    verifier_only(&state, group, &granted)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let c = &g.config;
    let key = GroupOscoreInputMaterial {
        oscore: OscoreInputMaterial {
            hkdf: Some(IntOrText::Int(c.spec.hkdf)),
            context_id: Some(g.material.gid.clone()),
            alg: c.mode.uses_pairwise().then_some(IntOrText::Int(c.spec.alg)),
            ..OscoreInputMaterial::default()
        },
        cred_fmt: Some(c.spec.cred_fmt),
        gp_enc_alg: Some(IntOrText::Int(c.spec.gp_enc_alg)),
        sign_alg: c.signature.map(|s| IntOrText::Int(s.cose_id())),
        sign_params: c.sign_capabilities(),
        ecdh_alg: c
            .mode
            .uses_pairwise()
            .then_some(IntOrText::Int(c.spec.ecdh_alg)),
        ecdh_params: c.ecdh_capabilities(),
        group_sender_id: None,
    };
    let body = VerifDataResponse {
        material: GroupKeyingMaterial {
            key: GroupKey::GroupOscore(Box::new(key)),
            num: i64::try_from(g.material.num).unwrap_or(i64::MAX),
            ace_groupcomm_profile: Some(profile::COAP_GROUP_OSCORE_APP),
            exp: Some(g.material.exp),
            exi: Some(g.material.exi(now)),
        },
        sign_enc_key: g
            .sign_enc_key
            .clone()
            .ok_or_else(|| Refusal::Internal("no Signature Encryption Key".into()))?,
    };
    drop(state);
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}
