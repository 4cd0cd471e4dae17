//! The KDC's resources (RFC 9594 section 4, Group OSCORE profile sections 8
//! and 9), one module per resource, and the dispatch from method and path.
//!
//! | Path | Methods | Module |
//! |---|---|---|
//! | `/authz-info` | POST | [`authz_info`] |
//! | `/.well-known/core` | GET | [`discovery`] |
//! | `/ace-group` | FETCH | [`groups`] |
//! | `/ace-group/G` | POST (join), GET (keys) | [`join`], [`keys`] |
//! | `/ace-group/G/creds` | GET, FETCH | [`creds`] |
//! | `/ace-group/G/kdc-cred` | GET, FETCH (verifiers) | [`kdc_cred`] |
//! | `/ace-group/G/policies`, `/num`, `/active` | GET | [`policies`] |
//! | `/ace-group/G/verif-data` | GET (verifiers) | [`verif_data`] |
//! | `/ace-group/G/stale-sids` | FETCH | [`stale_sids`] |
//! | `/ace-group/G/nodes/N` | GET, POST, DELETE | [`node`] |
//! | `/ace-group/G/nodes/N/cred` | POST | [`node_cred`] |
//!
//! Check order for group resources (RFC 9594 section 4.1.2): a valid token
//! (else 4.01 with AS Request Creation Hints), the group exists (else
//! 4.04), the token's scope names the group (else 4.03), the request is
//! well-formed (else 4.00), then the resource's own checks. A method the
//! resource does not implement is 4.05 for an authenticated client, and
//! 4.01 otherwise (RFC 9200 section 5.10.2: 4.05 only once the client is
//! authenticated).

pub mod authz_info;
mod credential;
pub mod creds;
pub mod discovery;
pub mod groups;
pub mod join;
pub mod kdc_cred;
pub mod keys;
pub mod node;
pub mod node_cred;
pub mod policies;
pub mod stale_sids;
pub mod verif_data;

use crate::core::{Caller, Kdc, KdcRequest, Method, Outcome, Refusal, State};
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER, VERIFIER};

/// The `rt` of group-membership resources registered by the Group OSCORE
/// profile (draft-ietf-ace-key-groupcomm-oscore section 17, "Resource
/// Type (rt=) Link Target Attribute Values": `core.osc.gm`, "Group-membership
/// resource of an OSCORE Group Manager").
pub const RT_GROUP_MEMBERSHIP: &str = "core.osc.gm";

/// The `rt` of the authz-info endpoint (RFC 9200 section 8.2).
pub const RT_AUTHZ_INFO: &str = "ace.ai";

/// The roles a member-only resource names in its creation hints.
pub(crate) const MEMBER_HINT: u64 = REQUESTER | RESPONDER;
/// The roles a verifier-only resource names in its creation hints.
pub(crate) const VERIFIER_HINT: u64 = VERIFIER;

/// What the token grants a caller on a group.
#[derive(Debug, Clone)]
pub(crate) struct Granted {
    /// The token (its OSCORE_Input_Material id).
    pub token_id: Vec<u8>,
    /// The roles the token grants on the group (AIF bits).
    pub roles: u64,
}

/// Checks 1 and 2 of RFC 9594 section 4.1.2 for group `group`, plus its
/// existence.
pub(crate) fn authorize(
    kdc: &Kdc,
    state: &mut State,
    caller: &Caller,
    group: &str,
    hint_roles: u64,
    now: u64,
) -> Result<Granted, Refusal> {
    let Some(token) = state.token(caller, now) else {
        return Err(state.unauthorized(&kdc.config, Some(group), hint_roles, now));
    };
    let token_id = token.id.clone();
    let granted = token.roles_for(group);
    if !state.groups.contains_key(group) {
        // A client whose token covers a group that an operator deleted
        // learns it the way observers did (4.04, error id 6, RFC 9594
        // section 4.1.2), e.g. when its Observe registration crossed the
        // deletion notice, and cleans up instead of asking again.
        if granted.is_some() && state.deleted_groups.contains(group) {
            return Err(Refusal::Problem {
                code: ace_proto::code::Code::NOT_FOUND,
                error_id: ace_proto::consts::groupcomm::ErrorId::GroupDeleted,
                detail: format!("group {group} was deleted"),
            });
        }
        return Err(Refusal::NotFound(format!("no group {group:?}")));
    }
    let roles = granted.ok_or_else(|| {
        Refusal::forbidden(format!(
            "the access token grants nothing on group {group:?}"
        ))
    })?;
    Ok(Granted { token_id, roles })
}

/// Refuses a Content-Format other than `expected` (an absent one is
/// accepted).
pub(crate) fn expect_format(req: &KdcRequest, expected: u16) -> Result<(), Refusal> {
    match req.content_format {
        Some(c) if c != expected => Err(Refusal::UnsupportedContentFormat(Some(c))),
        _ => Ok(()),
    }
}

/// Routes a request to its resource.
pub(crate) fn dispatch(
    kdc: &Kdc,
    req: &KdcRequest,
    caller: &Caller,
    now: u64,
) -> Result<Outcome, Refusal> {
    use Method::{Delete, Fetch, Get, Post};
    let path: Vec<&str> = req.path.iter().map(String::as_str).collect();
    let m = req.method;
    match (path.as_slice(), m) {
        (["authz-info"], Post) => authz_info::post(kdc, req, caller, now),
        (["authz-info"], _) => Err(Refusal::MethodNotAllowed),
        ([".well-known", "core"], Get) => discovery::get(kdc, req),
        ([".well-known", "core"], _) => Err(Refusal::MethodNotAllowed),
        (["ace-group"], Fetch) => groups::fetch(kdc, req, caller, now),
        (["ace-group", g], Post) => join::post(kdc, req, caller, g, now),
        (["ace-group", g], Get) => keys::get(kdc, caller, g, now),
        (["ace-group", g, "creds"], Get) => creds::get(kdc, caller, g, now),
        (["ace-group", g, "creds"], Fetch) => creds::fetch(kdc, req, caller, g, now),
        (["ace-group", g, "kdc-cred"], Get) => kdc_cred::get(kdc, caller, g, now),
        (["ace-group", g, "kdc-cred"], Fetch) => kdc_cred::fetch(kdc, req, caller, g, now),
        (["ace-group", g, "policies"], Get) => policies::get_policies(kdc, caller, g, now),
        (["ace-group", g, "num"], Get) => policies::get_num(kdc, caller, g, now),
        (["ace-group", g, "active"], Get) => policies::get_active(kdc, caller, g, now),
        (["ace-group", g, "verif-data"], Get) => verif_data::get(kdc, caller, g, now),
        (["ace-group", g, "stale-sids"], Fetch) => stale_sids::fetch(kdc, req, caller, g, now),
        (["ace-group", g, "nodes", n], Get) => node::get(kdc, caller, g, n, now),
        (["ace-group", g, "nodes", n], Post) => node::post(kdc, caller, g, n, now),
        (["ace-group", g, "nodes", n], Delete) => node::delete(kdc, caller, g, n, now),
        (["ace-group", g, "nodes", n, "cred"], Post) => {
            node_cred::post(kdc, req, caller, g, n, now)
        }
        (["ace-group"], _)
        | (["ace-group", _], _)
        | (
            [
                "ace-group",
                _,
                "creds" | "kdc-cred" | "policies" | "num" | "active" | "verif-data" | "stale-sids",
            ],
            _,
        )
        | (["ace-group", _, "nodes", _], _)
        | (["ace-group", _, "nodes", _, "cred"], _) => {
            // A known resource and an unsupported method: 4.05 only for an
            // authenticated client.
            let mut state = kdc.lock();
            if state.token(caller, now).is_none() {
                let group = path.get(1).copied();
                Err(state.unauthorized(&kdc.config, group, MEMBER_HINT, now))
            } else {
                Err(Refusal::MethodNotAllowed)
            }
        }
        _ => Err(Refusal::NotFound(format!(
            "no resource /{}",
            req.path.join("/")
        ))),
    }
}
