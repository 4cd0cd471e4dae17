//! GET `/ace-group/GROUPNAME/policies` (RFC 9594 section 4.6.1), `/num`
//! (section 4.7.1) and `/active` (Group OSCORE profile section 9): members
//! only (4.03 with error id 0 otherwise).

use super::{MEMBER_HINT, authorize};
use crate::core::{Caller, Kdc, KdcResponse, Outcome, Refusal};
use crate::model::Group;
use ace_proto::cbor::{self, Codec, Value};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{OrNothing, PoliciesResponse, VersionResponse};

/// Runs `f` on the group if the caller is a member.
fn member_read<T>(
    kdc: &Kdc,
    caller: &Caller,
    group: &str,
    now: u64,
    f: impl FnOnce(&Group) -> T,
) -> Result<T, Refusal> {
    let mut state = kdc.lock();
    let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
    let g = state
        .groups
        .get(group)
        .ok_or_else(|| Refusal::NotFound(group.into()))?;
    if g.member_by_token(&granted.token_id).is_none() {
        return Err(Refusal::only_members());
    }
    Ok(f(g))
}

/// GET `/policies`: `{group_policies}`, or `h''` with no policy.
pub fn get_policies(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let policies = member_read(kdc, caller, group, now, |g| g.config.policies())?;
    let body = OrNothing::from((!policies.is_empty()).then_some(PoliciesResponse {
        group_policies: policies,
    }));
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}

/// GET `/num`: the version as a bare CBOR integer (Content-Format 60, as
/// RFC 9594 Figure 26).
pub fn get_num(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let num = member_read(kdc, caller, group, now, |g| g.material.num)?;
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::CBOR,
        VersionResponse(i64::try_from(num).unwrap_or(i64::MAX)).encode(),
    )))
}

/// GET `/active`: CBOR `true` or `false` (Content-Format 60).
pub fn get_active(kdc: &Kdc, caller: &Caller, group: &str, now: u64) -> Result<Outcome, Refusal> {
    let active = member_read(kdc, caller, group, now, |g| g.active)?;
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::CBOR,
        cbor::to_vec(&Value::Bool(active)),
    )))
}
