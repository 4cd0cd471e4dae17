//! GET `/ace-group/GROUPNAME`: Key Distribution (RFC 9594 section 4.3.2;
//! Group OSCORE profile section 9: `key` without `group_SenderId`). Members
//! only (4.03 with error id 0 otherwise). The service makes the resource
//! observable: rekeying messages are sent as notifications.

use super::{MEMBER_HINT, authorize};
use crate::core::state::keying_material;
use crate::core::{Caller, Kdc, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::KeyDistributionResponse;

/// Handles GET `/ace-group/GROUPNAME`.
pub fn get(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    if g.member_by_token(&granted.token_id).is_none() {
        return Err(Refusal::only_members());
    }
    let body = KeyDistributionResponse {
        material: keying_material(g, None, true, now),
        rekeying_scheme: None,
        mgt_key_material: None,
    };
    drop(state);
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}
