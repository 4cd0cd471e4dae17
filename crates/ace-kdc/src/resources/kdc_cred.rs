//! GET and FETCH `/ace-group/GROUPNAME/kdc-cred`: the KDC's credential with
//! a fresh proof of possession (RFC 9594 section 4.5.1; Group OSCORE
//! profile section 9).
//!
//! * GET (members): `kdc_cred_verify` over `bstr(N_C) | bstr(N_KDC)` with
//!   N_C the member's stored `clientchallenge` (the `cnonce` of its latest
//!   Join Request) and a new N_KDC.
//! * FETCH (external signature verifiers only, 4.03 with error id 8
//!   otherwise; 4.00 with error id 7 in a pairwise-only group): N_C comes
//!   in the request, `{cnonce}`.
//!
//! The signature (or, in a pairwise-only group, the MAC) is computed after
//! the state lock is released.

use super::credential::{kdc_pop, stored_dh_key};
use super::verif_data::verifier_only;
use super::{MEMBER_HINT, VERIFIER_HINT, authorize, expect_format};
use crate::core::{Caller, Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{KdcCred, KdcCredFetchRequest};

fn respond(
    config: &crate::config::GroupConfig,
    n_c: &[u8],
    dh: Option<&ace_proto::pop::DhPublicKey>,
) -> Result<Outcome, Refusal> {
    let (kdc_nonce, kdc_cred_verify) = kdc_pop(config, n_c, dh)?;
    let body = KdcCred {
        kdc_cred: config.kdc_credential.clone(),
        kdc_nonce,
        kdc_cred_verify,
    };
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}

/// Handles GET `/kdc-cred`.
pub fn get(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let (config, n_c, member_cred) = {
        let mut state = kdc.lock();
        let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
        let g = state
            .groups
            .get(group)
            .ok_or_else(|| Refusal::NotFound(group.into()))?;
        let member = g
            .member_by_token(&granted.token_id)
            .ok_or_else(Refusal::only_members)?;
        (
            g.config.clone(),
            member.client_challenge.clone(),
            member.credential.clone(),
        )
    };
    let dh = member_cred
        .as_deref()
        .and_then(|c| stored_dh_key(&config, c));
    respond(&config, &n_c, dh.as_ref())
}

/// Handles FETCH `/kdc-cred` (external signature verifiers).
pub fn fetch(
    kdc: &Kdc,
    req: &KdcRequest,
    caller: &Caller,
    group: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let config = {
        let mut state = kdc.lock();
        let granted = authorize(kdc, &mut state, caller, group, VERIFIER_HINT, now)?;
        verifier_only(&state, group, &granted)?;
        state
            .groups
            .get(group)
            .map(|g| g.config.clone())
            .ok_or_else(|| Refusal::NotFound(group.into()))?
    };
    expect_format(req, cf::ACE_GROUPCOMM_CBOR)?;
    let request = KdcCredFetchRequest::decode(&req.payload)?;
    respond(&config, &request.cnonce, None)
}
