//! POST `/ace-group/GROUPNAME/nodes/NODENAME/cred`: Authentication
//! Credential Update (RFC 9594 section 4.9.1; Group OSCORE profile section
//! 9: Requester/Responder members).
//!
//! The new credential must fit the group (4.00, error id 2) and its PoP
//! must verify over `bstr(scope of the latest Join Request) | bstr(latest
//! N_S) | bstr(N_C)` (4.00, error id 3); without a stored N_S the KDC
//! answers 4.00 with a new `kdcchallenge`. A monitor has no credential
//! (4.00, error id 1). The PoP is verified without the state lock; the
//! update is committed if the membership and N_S are unchanged. 2.04.

use super::credential::{check, verify_client_pop};
use super::join::new_challenge;
use super::node::own_member;
use super::{MEMBER_HINT, authorize, expect_format};
use crate::core::{Caller, Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use crate::store::Change;
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::CredUpdateRequest;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};

/// Handles the credential update.
pub fn post(
    kdc: &Kdc,
    req: &KdcRequest,
    caller: &Caller,
    group: &str,
    node: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let (config, member, n_s, token_id) = {
        let mut state = kdc.lock();
        let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
        let member = own_member(&state, &granted, group, node)?.clone();
        let config = state
            .groups
            .get(group)
            .map(|g| g.config.clone())
            .ok_or_else(|| Refusal::NotFound(group.into()))?;
        let n_s = state
            .tokens
            .get(&granted.token_id)
            .and_then(|t| t.kdcchallenge.clone());
        (config, member, n_s, granted.token_id)
    };
    if member.roles & (REQUESTER | RESPONDER) == 0 {
        return Err(Refusal::bad_request(
            ErrorId::InconsistentWithRoles,
            "a monitor has no authentication credential",
        ));
    }
    expect_format(req, cf::ACE_GROUPCOMM_CBOR)?;
    let request = CredUpdateRequest::decode(&req.payload)?;
    let Some(n_s) = n_s else {
        return new_challenge(kdc, caller, &config, &token_id, now);
    };
    let checked = check(&config, &request.client_cred)?;
    let input = request.pop_input(&member.join_scope, &n_s);
    let _proof = verify_client_pop(&config, &checked, &input, Some(&request.client_cred_verify))?;

    let mut state = kdc.lock();
    let still = state
        .token(caller, now)
        .filter(|t| t.id == token_id && t.kdcchallenge.as_ref() == Some(&n_s))
        .is_some();
    if !still {
        return Err(Refusal::bad_request(
            ErrorId::InvalidPopEvidence,
            "the kdcchallenge changed during the update",
        ));
    }
    let g = state
        .groups
        .get_mut(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let mut updated = g
        .members
        .get(node)
        .filter(|m| m.token_id == token_id)
        .cloned()
        .ok_or_else(Refusal::only_members)?;
    updated.credential = Some(checked.bytes);
    g.put_member(updated.clone());
    let staged = kdc.stage_and_release(
        state,
        vec![Change::PutMember {
            group: group.to_string(),
            member: Box::new(updated),
        }],
    )?;
    Ok(Outcome::after(
        KdcResponse::empty(Code::CHANGED),
        Vec::new(),
        staged,
    ))
}
