//! GET and FETCH `/ace-group/GROUPNAME/creds`: Authentication Credential
//! Requests (RFC 9594 sections 4.4.1 and 4.4.2; Group OSCORE profile
//! section 9: members and signature verifiers).
//!
//! GET returns every member's credential with its roles and Sender ID;
//! FETCH applies `get_creds` (`[inclusion_flag, role_filter, id_filter]`,
//! selection in [`ace_proto::groupcomm::select_creds`]); when it selects
//! nothing the body is the zero-length byte string. Identifiers in
//! `id_filter` that belong to no current member are ignored (RFC 9594
//! REQ26: this KDC does not retain credentials of former members).

use super::{MEMBER_HINT, authorize, expect_format};
use crate::core::{Caller, Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{
    CredsContext, CredsResponse, FetchCredsRequest, OrNothing, PeerCredentials, select_creds,
};
use ace_proto::roles::group_oscore::VERIFIER;

fn respond<T: Codec>(body: &T) -> Outcome {
    Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    ))
}

/// Members and (with the Verifier role) external signature verifiers.
fn may_read(
    state: &crate::core::State,
    group: &str,
    granted: &super::Granted,
) -> Result<(), Refusal> {
    let member = state
        .groups
        .get(group)
        .is_some_and(|g| g.member_by_token(&granted.token_id).is_some());
    if member || granted.roles & VERIFIER != 0 {
        Ok(())
    } else {
        Err(Refusal::only_members())
    }
}

/// Handles GET `/creds`.
pub fn get(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    may_read(&state, group, &granted)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let views = g.cred_views(None);
    let body = CredsResponse {
        num: Some(i64::try_from(g.material.num).unwrap_or(i64::MAX)),
        peers: PeerCredentials::from_members(&views),
    };
    drop(state);
    Ok(respond(&body))
}

/// Handles FETCH `/creds`.
pub fn fetch(
    kdc: &Kdc,
    req: &KdcRequest,
    caller: &Caller,
    group: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    expect_format(req, cf::ACE_GROUPCOMM_CBOR)?;
    let request = FetchCredsRequest::decode(&req.payload)?;
    may_read(&state, group, &granted)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let views = g.cred_views(None);
    let selected = select_creds(&request.get_creds, CredsContext::Fetch, &views)?;
    let body = OrNothing::from((!selected.is_empty()).then(|| CredsResponse {
        num: Some(i64::try_from(g.material.num).unwrap_or(i64::MAX)),
        peers: PeerCredentials::from_members(&selected),
    }));
    drop(state);
    Ok(respond(&body))
}
