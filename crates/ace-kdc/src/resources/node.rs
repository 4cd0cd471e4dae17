//! `/ace-group/GROUPNAME/nodes/NODENAME` (RFC 9594 section 4.8; Group OSCORE
//! profile section 9): the member's own resource.
//!
//! * GET: group keying material with the member's `group_SenderId` in
//!   `key` (2.05).
//! * POST (Key Renewal Request, empty payload): a new Sender ID never used
//!   under the current Gid; the old one becomes stale. 2.04 with
//!   `group_SenderId` (21). A monitor has none to renew: 4.00 with error
//!   id 1; none left: 5.03 with error id 4.
//! * DELETE (leave): the member is removed and the group rekeyed for
//!   forward security (RFC 9594 section 5; profile section 11). 2.02.
//!
//! A non-member gets 4.03 with error id 0; a member addressing another
//! member's resource gets 4.03 (RFC 9594 section 4.8.1.1).

use super::{Granted, MEMBER_HINT, authorize};
use crate::core::rekey::{remove_member, retire_sender_id};
use crate::core::state::keying_material;
use crate::core::{Caller, Kdc, KdcResponse, Outcome, Refusal, State};
use crate::model::Member;
use crate::store::Change;
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::{IndividualKeyingMaterial, KeyDistributionResponse};
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};

/// The caller's own membership, addressed as `node`.
pub(crate) fn own_member<'s>(
    state: &'s State,
    granted: &Granted,
    group: &str,
    node: &str,
) -> Result<&'s Member, Refusal> {
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let member = g
        .member_by_token(&granted.token_id)
        .ok_or_else(Refusal::only_members)?;
    if member.node != node {
        return Err(Refusal::forbidden(format!(
            "{node:?} is not the caller's node resource"
        )));
    }
    Ok(member)
}

/// GET: group and individual keying material.
pub fn get(
    kdc: &Kdc,
    caller: &Caller,
    group: &str,
    node: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    let member = own_member(&state, &granted, group, node)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    let body = IndividualKeyingMaterial {
        group: Some(KeyDistributionResponse {
            material: keying_material(g, member.sender_id.as_deref(), true, now),
            rekeying_scheme: None,
            mgt_key_material: None,
        }),
        group_sender_id: None,
        individual: Vec::new(),
    };
    drop(state);
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}

/// POST: Key Renewal Request.
pub fn post(
    kdc: &Kdc,
    caller: &Caller,
    group: &str,
    node: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    let member = own_member(&state, &granted, group, node)?.clone();
    if member.roles & (REQUESTER | RESPONDER) == 0 || member.sender_id.is_none() {
        return Err(Refusal::bad_request(
            ErrorId::InconsistentWithRoles,
            "a monitor has no Sender ID to renew",
        ));
    }
    let g = state
        .groups
        .get_mut(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    if g.sender_ids.peek().is_none() {
        return Err(Refusal::unavailable(
            ErrorId::NoIndividualKeyingMaterial,
            "no Sender ID is available under the current Gid; retry after a rekeying",
        ));
    }
    let mut changes = Vec::new();
    let new_sid = g.sender_ids.allocate().unwrap_or_default();
    changes.push(Change::IssueSenderIds {
        group: group.to_string(),
        gid: g.material.gid.clone(),
        ids: vec![new_sid.clone()],
    });
    let mut updated = member.clone();
    updated.sender_id = Some(new_sid.clone());
    g.put_member(updated.clone());
    if let Some(old) = member.sender_id {
        retire_sender_id(g, old, &mut changes);
    }
    changes.push(Change::PutMember {
        group: group.to_string(),
        member: Box::new(updated),
    });
    let staged = kdc.stage_and_release(state, changes)?;
    let body = IndividualKeyingMaterial {
        group: None,
        group_sender_id: Some(new_sid),
        individual: Vec::new(),
    };
    Ok(Outcome::after(
        KdcResponse::with_body(Code::CHANGED, cf::ACE_GROUPCOMM_CBOR, body.encode()),
        Vec::new(),
        staged,
    ))
}

/// DELETE: leave the group.
pub fn delete(
    kdc: &Kdc,
    caller: &Caller,
    group: &str,
    node: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    own_member(&state, &granted, group, node)?;
    let mut changes = Vec::new();
    let result = (|| {
        let g = state
            .groups
            .get_mut(group)
            .ok_or_else(|| Refusal::NotFound(group.into()))?;
        remove_member(g, node, &mut changes);
        let rekeyed = state.rekey_group(group, now, &mut changes)?;
        Ok::<_, Refusal>(state.rekey_delivery(group, &rekeyed, None, &[], now))
    })();
    let delivery = match result {
        Ok(d) => d,
        Err(e) => {
            kdc.rollback(&mut state);
            return Err(e);
        }
    };
    let staged = kdc.stage_and_release(state, changes)?;
    tracing::debug!(group, node, "member left");
    Ok(Outcome::after(
        KdcResponse::empty(Code::DELETED),
        delivery.into_iter().collect(),
        staged,
    ))
}
