//! FETCH `/ace-group/GROUPNAME/stale-sids` (Group OSCORE profile section
//! 11, Figure 11): a member at version `V` that missed rekeyings asks for
//! the Sender IDs that became stale since. The request body is `V` (a CBOR
//! unsigned integer, Content-Format 60); `V` not older than the current
//! version is 4.00; the answer is a CBOR array of byte strings
//! (Content-Format 60), or no payload when the sets needed are no longer
//! kept. Members only (4.03 with error id 0).

use super::{MEMBER_HINT, authorize, expect_format};
use crate::core::{Caller, Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{StaleSidsRequest, StaleSidsResponse};

/// Handles FETCH `/stale-sids`.
pub fn fetch(
    kdc: &Kdc,
    req: &KdcRequest,
    caller: &Caller,
    group: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    expect_format(req, cf::CBOR)?;
    let request = StaleSidsRequest::decode(&req.payload)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    if g.member_by_token(&granted.token_id).is_none() {
        return Err(Refusal::only_members());
    }
    let current = g.material.num;
    request.check_behind(current)?;
    let response = match g.stale.since(request.0, current) {
        Some(ids) => StaleSidsResponse::Sids(ids),
        None => StaleSidsResponse::Unavailable,
    };
    drop(state);
    Ok(Outcome::respond(match response {
        StaleSidsResponse::Unavailable => KdcResponse::empty(Code::CONTENT),
        sids => KdcResponse::with_body(Code::CONTENT, cf::CBOR, sids.to_payload()),
    }))
}
