//! POST `/ace-group/GROUPNAME`: the Join Request (RFC 9594 section 4.3.1;
//! Group OSCORE profile sections 6.1 to 6.3).
//!
//! Three steps, so that the expensive cryptography runs without the state
//! lock:
//!
//! 1. **snapshot** (locked, short): checks 1 and 2 of RFC 9594 section
//!    4.1.2; copies the group configuration, the stored N_S and the
//!    caller's current membership.
//! 2. **prepare** (unlocked): roles against the token, the credential
//!    against the group (error 2), the PoP over `scope | N_S | N_C` (error
//!    3), and the KDC's own `kdc_cred_verify`. The result is a
//!    `PreparedJoin` that only this module can make from verified input.
//! 3. **commit** (locked, short): re-checks the snapshot (same token, same
//!    N_S, same group, same membership), rekeys when the group wants
//!    backward security, assigns a Sender ID never used under the current
//!    Gid and a node name, records the member, its credential and
//!    `control_uri`, stores N_C as `clientchallenge`, writes the batch to
//!    the store, and selects the credentials `get_creds` asks for.
//!
//! The response (2.01 for a new member, 2.04 for a current one, with the
//! node resource as Location-Path) is encoded after the lock is released.

use super::credential::{self, CheckedCredential, MemberKey};
use super::{MEMBER_HINT, authorize, expect_format};
use crate::config::{GroupConfig, GroupMode, uri_path};
use crate::core::rekey::retire_sender_id;
use crate::core::state::{group_row, keying_material};
use crate::core::{Caller, Kdc, KdcResponse, Outcome, Refusal, State};
use crate::model::Member;
use crate::store::Change;
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::{
    CredsContext, CredsFilter, GetCreds, GroupcommErrorBody, JoinRequest, JoinResponse, KdcCred,
    PeerCredentials, select_creds,
};
use ace_proto::pop::{self, PopVerified};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use ace_proto::scope::{GroupScope, ScopeEntry, group_oscore_join_entry};
use std::sync::Arc;

/// Length of a `kdcchallenge` N_S (profile section 5: at least 8 random
/// bytes RECOMMENDED).
pub(crate) const KDCCHALLENGE_LEN: usize = 8;

/// The credential a join will record.
#[derive(Debug, Clone)]
enum CredentialPlan {
    /// A monitor-only node sends none.
    None,
    /// A new credential whose PoP verified over N_S.
    New {
        checked: Box<CheckedCredential>,
        n_s: Vec<u8>,
        _proof: PopVerified,
    },
    /// The credential the current member already has (re-join without
    /// `client_cred`, or with `client_cred` = h'').
    Keep { bytes: Vec<u8> },
}

/// A join whose cryptographic checks passed.
#[derive(Debug)]
struct PreparedJoin {
    config: Arc<GroupConfig>,
    token_id: Vec<u8>,
    member_node: Option<String>,
    roles: u64,
    scope: Vec<u8>,
    credential: CredentialPlan,
    request: JoinRequest,
    n_kdc: Vec<u8>,
    kdc_cred_verify: Vec<u8>,
}

/// The state a join was prepared against.
struct Snapshot {
    config: Arc<GroupConfig>,
    active: bool,
    token_id: Vec<u8>,
    granted: u64,
    n_s: Option<Vec<u8>>,
    member: Option<Member>,
}

/// Handles a Join Request.
pub fn post(
    kdc: &Kdc,
    req: &crate::core::KdcRequest,
    caller: &Caller,
    group: &str,
    now: u64,
) -> Result<Outcome, Refusal> {
    let parsed = expect_format(req, cf::ACE_GROUPCOMM_CBOR)
        .and_then(|()| JoinRequest::decode(&req.payload).map_err(Refusal::from));
    let snap = {
        let mut state = kdc.lock();
        let granted = authorize(kdc, &mut state, caller, group, MEMBER_HINT, now)?;
        let g = state
            .groups
            .get(group)
            .ok_or_else(|| Refusal::NotFound(group.into()))?;
        Snapshot {
            config: g.config.clone(),
            active: g.active,
            n_s: state
                .tokens
                .get(&granted.token_id)
                .and_then(|t| t.kdcchallenge.clone()),
            member: g.member_by_token(&granted.token_id).cloned(),
            token_id: granted.token_id,
            granted: granted.roles,
        }
    };
    let request = parsed?;
    let prepared = match prepare(&snap, group, request)? {
        Prepared::Ready(p) => p,
        Prepared::NeedChallenge => return challenge(kdc, caller, &snap, now),
    };
    commit(kdc, caller, group, *prepared, now)
}

enum Prepared {
    Ready(Box<PreparedJoin>),
    NeedChallenge,
}

/// The requested scope entry and its roles: from `scope` (an AIF scope
/// with one entry, or the bare entry), else inferred from a token that
/// grants exactly one role on the group (RFC 9594 section 4.3.1).
fn requested_roles(
    request: &JoinRequest,
    group: &str,
    granted: u64,
) -> Result<(Vec<u8>, u64), Refusal> {
    match &request.scope {
        Some(bytes) => {
            let scope = GroupScope::decode(bytes)
                .or_else(|_| ScopeEntry::decode(bytes).map(|e| GroupScope::new(vec![e])))
                .map_err(|e| Refusal::BadRequest(format!("scope: {e}")))?;
            let (name, roles) = group_oscore_join_entry(&scope)?;
            if name != group {
                return Err(Refusal::BadRequest(format!(
                    "the scope names group {name:?}, the request targets {group:?}"
                )));
            }
            Ok((bytes.clone(), roles))
        }
        None => {
            if granted.count_ones() == 1
                && ace_proto::roles::group_oscore::is_valid_join_set(granted)
            {
                let entry = GroupScope::new(vec![ScopeEntry::aif(group, granted)]);
                Ok((entry.encode(), granted))
            } else {
                Err(Refusal::BadRequest(
                    "no scope, and the token does not determine the roles".into(),
                ))
            }
        }
    }
}

fn check_control_uri(uri: &str, group: &str) -> Result<(), Refusal> {
    let path = uri_path(uri).ok_or_else(|| {
        Refusal::BadRequest(format!("control_uri {uri:?} is not an absolute CoAP URI"))
    })?;
    if path.trim_end_matches('/') == format!("/ace-group/{group}") {
        return Err(Refusal::BadRequest(
            "control_uri must not have the url-path /ace-group/GROUPNAME".into(),
        ));
    }
    Ok(())
}

fn prepare(snap: &Snapshot, group: &str, request: JoinRequest) -> Result<Prepared, Refusal> {
    let config = &snap.config;
    let (scope, roles) = requested_roles(&request, group, snap.granted)?;
    if roles & !snap.granted != 0 {
        return Err(Refusal::forbidden(format!(
            "the token does not grant the roles {} on {group:?}",
            ace_proto::roles::group_oscore::names(roles & !snap.granted)
        )));
    }
    if !snap.active {
        return Err(Refusal::unavailable(
            ErrorId::GroupNotActive,
            format!("group {group} is not active"),
        ));
    }
    if config.mode == GroupMode::PairwiseOnly && roles & MONITOR != 0 {
        return Err(Refusal::BadRequest(
            "a Monitor receives group-mode messages only; this group is pairwise-only".into(),
        ));
    }
    if let Some(uri) = &request.control_uri {
        check_control_uri(uri, group)?;
    }
    let credential = if roles & (REQUESTER | RESPONDER) != 0 {
        match request.client_cred.as_deref() {
            Some(bytes) if !bytes.is_empty() => {
                let Some(n_s) = snap.n_s.clone() else {
                    return Ok(Prepared::NeedChallenge);
                };
                let checked = credential::check(config, bytes)?;
                let input = pop::client_pop_input(&scope, &n_s, &request.cnonce);
                let proof = credential::verify_client_pop(
                    config,
                    &checked,
                    &input,
                    request.client_cred_verify.as_deref(),
                )?;
                CredentialPlan::New {
                    checked: Box::new(checked),
                    n_s,
                    _proof: proof,
                }
            }
            _ => match snap.member.as_ref().and_then(|m| m.credential.clone()) {
                Some(bytes) => CredentialPlan::Keep { bytes },
                None => return Err(Refusal::BadRequestBody(Box::new(info_body(config, None)))),
            },
        }
    } else {
        CredentialPlan::None
    };
    let client_dh = match &credential {
        CredentialPlan::New { checked, .. } => match &checked.key {
            MemberKey::Dh(k) => Some(k.clone()),
            MemberKey::Signature(_) => None,
        },
        CredentialPlan::Keep { bytes } => credential::stored_dh_key(config, bytes),
        _ => None,
    };
    let (n_kdc, kdc_cred_verify) =
        credential::kdc_pop(config, &request.cnonce, client_dh.as_ref())?;
    Ok(Prepared::Ready(Box::new(PreparedJoin {
        config: config.clone(),
        token_id: snap.token_id.clone(),
        member_node: snap.member.as_ref().map(|m| m.node.clone()),
        roles,
        scope,
        credential,
        request,
        n_kdc,
        kdc_cred_verify,
    })))
}

/// The CF 261 body that tells a client how to build a fitting credential:
/// `sign_info`, `ecdh_info`, `kdc_dh_creds` of the group, and a new
/// `kdcchallenge` when one was just stored.
pub(crate) fn info_body(config: &GroupConfig, kdcchallenge: Option<Vec<u8>>) -> GroupcommErrorBody {
    GroupcommErrorBody {
        sign_info: config.sign_info().map(|e| vec![e]),
        kdcchallenge,
        ecdh_info: config.ecdh_info().map(|e| vec![e]),
        kdc_dh_creds: config.kdc_dh_creds().map(|e| vec![e]),
    }
}

/// RFC 9594 section 4.3.1: the client sent a credential but the KDC stores
/// no N_S for its token: 4.00 with a new `kdcchallenge`, which is stored
/// (replacing any other).
fn challenge(
    kdc: &Kdc,
    caller: &Caller,
    snap_config: &Snapshot,
    now: u64,
) -> Result<Outcome, Refusal> {
    new_challenge(kdc, caller, &snap_config.config, &snap_config.token_id, now)
}

/// Stores a new N_S for the caller's token and returns the 4.00 carrying
/// it.
pub(crate) fn new_challenge(
    kdc: &Kdc,
    caller: &Caller,
    config: &GroupConfig,
    token_id: &[u8],
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let current = state.token(caller, now).map(|t| t.id.clone());
    if current.as_deref() != Some(token_id) {
        return Err(state.unauthorized(&kdc.config, Some(config.name()), MEMBER_HINT, now));
    }
    let n_s = ace_proto::keys::random_bytes(KDCCHALLENGE_LEN);
    let token = state
        .tokens
        .get_mut(token_id)
        .ok_or_else(|| Refusal::Internal("token vanished".into()))?;
    token.kdcchallenge = Some(n_s.clone());
    let change = Change::PutToken(Box::new(token.clone()));
    kdc.commit_and_release(state, vec![change])?;
    Err(Refusal::BadRequestBody(Box::new(info_body(
        config,
        Some(n_s),
    ))))
}

/// What the commit hands to the response encoder.
struct Committed {
    created: bool,
    node: String,
    response: JoinResponse,
    effects: Vec<crate::core::Effect>,
}

fn commit(
    kdc: &Kdc,
    caller: &Caller,
    group: &str,
    p: PreparedJoin,
    now: u64,
) -> Result<Outcome, Refusal> {
    let (committed, staged) = {
        let mut state = kdc.lock();
        let result = commit_locked(kdc, &mut state, caller, group, p, now);
        if result.is_err() {
            kdc.rollback(&mut state);
        }
        result?
    };
    let mut response = KdcResponse::with_body(
        if committed.created {
            Code::CREATED
        } else {
            Code::CHANGED
        },
        cf::ACE_GROUPCOMM_CBOR,
        committed.response.encode(),
    );
    response.location_path = vec![
        "ace-group".into(),
        group.to_string(),
        "nodes".into(),
        committed.node,
    ];
    Ok(Outcome::after(response, committed.effects, staged))
}

fn commit_locked(
    kdc: &Kdc,
    state: &mut State,
    caller: &Caller,
    name: &str,
    p: PreparedJoin,
    now: u64,
) -> Result<(Committed, crate::core::commit::Staged), Refusal> {
    // Re-check the snapshot the preparation relied on.
    let token = state
        .token(caller, now)
        .filter(|t| t.id == p.token_id)
        .ok_or_else(|| {
            Refusal::TokenUnauthorized("the access token changed during the join".into())
        })?;
    if let CredentialPlan::New { n_s, .. } = &p.credential
        && token.kdcchallenge.as_ref() != Some(n_s)
    {
        return Err(Refusal::bad_request(
            ErrorId::InvalidPopEvidence,
            "the PoP is over a kdcchallenge that is no longer current",
        ));
    }
    let group = state
        .groups
        .get(name)
        .filter(|g| Arc::ptr_eq(&g.config, &p.config))
        .ok_or_else(|| Refusal::NotFound(format!("no group {name:?}")))?;
    if !group.active {
        return Err(Refusal::unavailable(
            ErrorId::GroupNotActive,
            format!("group {name} is not active"),
        ));
    }
    let existing = group.member_by_token(&p.token_id).cloned();
    if existing.as_ref().map(|m| &m.node) != p.member_node.as_ref() {
        return Err(Refusal::Internal(
            "membership changed during the join; retry".into(),
        ));
    }
    if let CredentialPlan::Keep { bytes } = &p.credential
        && existing.as_ref().and_then(|m| m.credential.as_ref()) != Some(bytes)
    {
        return Err(Refusal::BadRequest(
            "no stored credential for this node".into(),
        ));
    }
    let spec = &p.config.spec;
    let created = existing.is_none();
    if created && group.members.len() >= spec.max_members as usize {
        return Err(Refusal::unavailable(
            ErrorId::NoIndividualKeyingMaterial,
            format!("group {name} is full ({} members)", spec.max_members),
        ));
    }
    // Can a Sender ID be assigned? Decide before changing anything.
    let needs_sid = p.roles & (REQUESTER | RESPONDER) != 0;
    if needs_sid {
        let available = if spec.backward_security {
            let in_use = group
                .members
                .values()
                .filter(|m| m.sender_id.is_some() && Some(&m.node) != p.member_node.as_ref())
                .count();
            group.sender_ids.capacity_after_new_gid(in_use) > 0
        } else {
            group.sender_ids.peek().is_some()
        };
        if !available {
            return Err(Refusal::unavailable(
                ErrorId::NoIndividualKeyingMaterial,
                "no Sender ID is available under the current Gid; retry after a rekeying",
            ));
        }
    }

    let mut changes = Vec::new();
    // A current member re-joining gives up its Sender ID (profile section
    // 6.2): it becomes stale, and the member gets a new one.
    let node = match &existing {
        Some(m) => m.node.clone(),
        None => state
            .groups
            .get_mut(name)
            .map(crate::model::Group::new_node_name)
            .unwrap_or_default(),
    };
    if let Some(g) = state.groups.get_mut(name)
        && let Some(mut m) = existing.clone()
        && let Some(old) = m.sender_id.take()
    {
        g.put_member(m);
        retire_sender_id(g, old, &mut changes);
    }
    let rekeyed = if spec.backward_security {
        Some(state.rekey_group(name, now, &mut changes)?)
    } else {
        None
    };
    let g = state
        .groups
        .get_mut(name)
        .ok_or_else(|| Refusal::NotFound(name.into()))?;
    let sender_id = if needs_sid {
        let sid = g.sender_ids.allocate().ok_or_else(|| {
            Refusal::unavailable(
                ErrorId::NoIndividualKeyingMaterial,
                "no Sender ID available",
            )
        })?;
        changes.push(Change::IssueSenderIds {
            group: name.to_string(),
            gid: g.material.gid.clone(),
            ids: vec![sid.clone()],
        });
        Some(sid)
    } else {
        None
    };
    let credential = match &p.credential {
        CredentialPlan::None => None,
        CredentialPlan::New { checked, .. } => Some(checked.bytes.clone()),
        CredentialPlan::Keep { bytes } => Some(bytes.clone()),
    };
    let member = Member {
        node: node.clone(),
        token_id: p.token_id.clone(),
        roles: p.roles,
        sender_id: sender_id.clone(),
        credential: credential.clone(),
        control_uri: p.request.control_uri.clone(),
        join_scope: p.scope.clone(),
        client_challenge: p.request.cnonce.clone(),
    };
    g.put_member(member.clone());
    changes.push(Change::PutMember {
        group: name.to_string(),
        member: Box::new(member),
    });
    if created || rekeyed.is_none() {
        changes.push(Change::PutGroup(Box::new(group_row(g))));
    }

    // Response content, read under the lock.
    let material = keying_material(g, sender_id.as_deref(), true, now);
    let peers = match &p.request.get_creds {
        None => None,
        Some(get) => {
            let views = g.cred_views(Some(&node));
            let filter = match get {
                GetCreds::All => CredsFilter::group_oscore_relevant(p.roles).map(GetCreds::Filter),
                other => Some(other.clone()),
            };
            Some(match filter {
                Some(f) => {
                    PeerCredentials::from_members(&select_creds(&f, CredsContext::Join, &views)?)
                }
                None => PeerCredentials::from_members::<crate::model::group::CredView>(&[]),
            })
        }
    };

    let mut effects = Vec::new();
    if let Some(rekeyed) = &rekeyed {
        let joined = match (&sender_id, &credential) {
            (Some(sid), Some(cred)) => Some(PeerCredentials {
                creds: vec![cred.clone()],
                peer_roles: Some(vec![ace_proto::roles::Roles::Aif(p.roles)]),
                peer_identifiers: vec![sid.clone()],
            }),
            _ => None,
        };
        effects.extend(state.rekey_delivery(name, rekeyed, joined, &[node.as_str()], now));
    }
    let staged = kdc.stage(state, changes)?;
    tracing::debug!(group = name, node, created, "join");

    let spec = &p.config.spec;
    let committed = Committed {
        created,
        node,
        response: JoinResponse {
            material,
            peers,
            group_policies: Some(p.config.policies()),
            kdc: Some(KdcCred {
                kdc_cred: p.config.kdc_credential.clone(),
                kdc_nonce: p.n_kdc,
                kdc_cred_verify: p.kdc_cred_verify,
            }),
            rekeying_scheme: None,
            mgt_key_material: None,
            control_group_uri: spec.control_group_uri.clone(),
        },
        effects,
    };
    Ok((committed, staged))
}
