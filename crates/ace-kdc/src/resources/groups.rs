//! FETCH `/ace-group`: Group Name and URI Retrieval (RFC 9594 section
//! 4.2.1).
//!
//! Any client with a valid token may ask; the KDC answers for the groups
//! whose current Gid is in the request *and* that the client's token names
//! (a token for one group does not reveal the names of others). Nothing
//! found: the zero-length byte string.

use super::expect_format;
use crate::core::{Caller, Kdc, KdcRequest, KdcResponse, Outcome, Refusal};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{GroupId, GroupNamesRequest, GroupNamesResponse, OrNothing};

/// Handles FETCH `/ace-group`.
pub fn fetch(kdc: &Kdc, req: &KdcRequest, caller: &Caller, now: u64) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let Some(token) = state.token(caller, now) else {
        return Err(state.unauthorized(&kdc.config, None, 0, now));
    };
    expect_format(req, cf::ACE_GROUPCOMM_CBOR)?;
    let request = GroupNamesRequest::decode(&req.payload)?;
    let mut response = GroupNamesResponse {
        gid: Vec::new(),
        gname: Vec::new(),
        guri: Vec::new(),
    };
    for gid in &request.gid {
        let GroupId::Bytes(bytes) = gid else {
            continue;
        };
        for g in state.groups.values() {
            if g.material.gid == *bytes && token.roles_for(g.name()).is_some() {
                response.gid.push(gid.clone());
                response.gname.push(g.name().to_string());
                response.guri.push(format!("/ace-group/{}", g.name()));
            }
        }
    }
    let body = OrNothing::from((!response.gid.is_empty()).then_some(response));
    Ok(Outcome::respond(KdcResponse::with_body(
        Code::CONTENT,
        cf::ACE_GROUPCOMM_CBOR,
        body.encode(),
    )))
}
