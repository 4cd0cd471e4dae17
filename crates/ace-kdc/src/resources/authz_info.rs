//! POST `/authz-info`: token transfer (RFC 9200 section 5.10.1; RFC 9203
//! section 4; RFC 9594 section 3.3; Group OSCORE profile section 5).
//!
//! The token is opened and checked without the state lock (COSE
//! signature, MAC or decryption; `iss`, `exp`, `nbf`, `aud`; `cnf` and
//! `scope` present; see [`ace_proto::cwt::TokenVerifier`]), then the claims
//! the KDC needs are checked in the RFC 9200 section 5.10.1.1 order: the
//! `scope` must be an AIF-OSCORE-GROUPCOMM scope (else 4.00), a `cnonce`
//! claim must be one this KDC issued and still fresh (else 4.01). An
//! extended scope (RFC 9594 section 7) must carry the tag of the
//! AIF-OSCORE-GROUPCOMM Content-Format.
//!
//! * `cnf` with OSCORE_Input_Material (`osc`): a new channel. The request
//!   must carry `nonce1` and `ace_client_recipientid` (else 4.00). The KDC
//!   picks `nonce2` (64 random bits) and its Recipient ID
//!   (`ace_server_recipientid`, unique among its channels and different
//!   from the client's), stores the token (replacing one with the same
//!   Input Material `id`, whose channel is dropped; memberships stay with
//!   the token) and answers 2.01 with `nonce2`, `ace_server_recipientid`, a
//!   fresh `kdcchallenge` when a role in the scope sends messages, and the
//!   requested `sign_info` / `ecdh_info` / `kdc_dh_creds` entries of the
//!   KDC's groups in the scope. The effect installs the channel's context.
//! * `cnf` with `kid`: an access-rights update (RFC 9203 section 4.1),
//!   accepted only over the channel whose Input Material `id` is that
//!   `kid` (else 4.01); the new scope and expiry replace the old ones,
//!   members whose roles the new scope no longer grants are evicted, and
//!   the answer is 2.01 without payload.

use super::expect_format;
use crate::core::rekey::remove_member;
use crate::core::state::channel_setup;
use crate::core::{
    Caller, ChannelSetup, Effect, EvictionNotice, Kdc, KdcRequest, KdcResponse, Outcome, Refusal,
};
use crate::model::{ChannelRecord, TokenRecord};
use crate::store::Change;
use ace_proto::authz_info::{TokenTransferRequest, TokenTransferResponse};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::content_format::content_format_tag;
use ace_proto::cwt::{ClaimsSet, Confirmation, NumericDate, TokenError};
use ace_proto::keys::random_bytes;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use ace_proto::scope::{GroupScope, ScopeValue};

/// Length of `nonce2` (RFC 9203 section 4.2: 64 random bits RECOMMENDED).
pub const NONCE2_LEN: usize = 8;

/// Longest OSCORE Sender/Recipient ID with AES-CCM-16-64-128 (RFC 8613
/// section 3.3: nonce length minus 6).
const MAX_ID_LEN: usize = 7;

/// Handles a token transfer.
pub fn post(kdc: &Kdc, req: &KdcRequest, caller: &Caller, now: u64) -> Result<Outcome, Refusal> {
    let transfer = match req.content_format {
        Some(cf::CWT) => TokenTransferRequest {
            access_token: req.payload.clone(),
            ..TokenTransferRequest::default()
        },
        _ => {
            expect_format(req, cf::ACE_CBOR)?;
            TokenTransferRequest::decode(&req.payload)?
        }
    };
    let verified = kdc.config.verifier.open(&transfer.access_token, now)?;
    let claims = verified.into_claims();
    let expires_at = expiry(&claims, now)?;
    let scope_value = claims
        .scope
        .as_ref()
        .ok_or(TokenError::MissingClaim(ace_proto::consts::cwt::SCOPE))?;
    if let ScopeValue::Extended { tag, .. } = scope_value
        && *tag != content_format_tag(cf::AIF_OSCORE_GROUPCOMM_CBOR)
    {
        return Err(Refusal::BadRequest(format!(
            "scope not recognized: extended scope tag {tag} is not AIF-OSCORE-GROUPCOMM"
        )));
    }
    let scope = scope_value
        .group_scope()
        .and_then(|s| s.check_group_oscore().map(|()| s))
        .map_err(|e| Refusal::BadRequest(format!("scope not recognized: {e}")))?;
    let cnf = claims
        .cnf
        .clone()
        .ok_or(TokenError::MissingClaim(ace_proto::consts::cwt::CNF))?;
    match cnf {
        Confirmation::Osc(material) => {
            new_channel(kdc, &transfer, &claims, material, scope, expires_at, now)
        }
        Confirmation::Kid(kid) => update(kdc, caller, &claims, &kid, scope, expires_at, now),
        _ => Err(Refusal::BadRequest(
            "the OSCORE profile needs cnf with OSCORE_Input_Material (osc)".into(),
        )),
    }
}

/// The token's expiry: `exp` (RFC 9594 section 3.2 requires it), or for a
/// token with only `exi`, first receipt plus `exi` (RFC 9200 section
/// 5.10.3). A token with neither is refused (4.01).
fn expiry(claims: &ClaimsSet, now: u64) -> Result<Option<u64>, Refusal> {
    match (claims.exp, claims.exi) {
        (Some(NumericDate::Integer(e)), _) => Ok(Some(u64::try_from(e).unwrap_or(0))),
        // Whole seconds: a fractional expiry is rounded down.
        (Some(NumericDate::Float(f)), _) => Ok(Some(f.max(0.0) as u64)),
        (None, Some(exi)) => Ok(Some(now.saturating_add(exi))),
        (None, None) => Err(Refusal::Token(TokenError::MissingClaim(
            ace_proto::consts::cwt::EXP,
        ))),
    }
}

/// The `cnonce` claim check (RFC 9200 section 5.3.1): a claim must name a
/// nonce this KDC issued and that is still fresh; with `require_cnonce`
/// the claim is mandatory. Consumes the nonce.
fn check_cnonce(
    kdc: &Kdc,
    state: &mut crate::core::State,
    claims: &ClaimsSet,
    now: u64,
) -> Result<(), Refusal> {
    match &claims.cnonce {
        Some(c) if state.cnonces.consume(c, now) => Ok(()),
        Some(_) => Err(Refusal::TokenUnauthorized(
            "the token's cnonce is unknown or stale".into(),
        )),
        None if kdc.config.require_cnonce => Err(Refusal::TokenUnauthorized(
            "the token has no cnonce claim".into(),
        )),
        None => Ok(()),
    }
}

fn new_channel(
    kdc: &Kdc,
    transfer: &TokenTransferRequest,
    claims: &ClaimsSet,
    material: OscoreInputMaterial,
    scope: GroupScope,
    expires_at: Option<u64>,
    now: u64,
) -> Result<Outcome, Refusal> {
    material.check_usable()?;
    let (nonce1, id1) = transfer.oscore_inputs()?;
    if nonce1.is_empty() || nonce1.len() > 64 {
        return Err(Refusal::BadRequest("nonce1 must be 1 to 64 bytes".into()));
    }
    if id1.len() > MAX_ID_LEN {
        return Err(Refusal::BadRequest(format!(
            "ace_client_recipientid longer than {MAX_ID_LEN} bytes"
        )));
    }
    let token_id = material.id.clone().unwrap_or_default();
    let sends = scope.entries.iter().any(|e| {
        e.aif_bits()
            .is_some_and(|b| b & (REQUESTER | RESPONDER) != 0)
    });
    let nonce2 = random_bytes(NONCE2_LEN);
    let kdcchallenge = sends.then(|| random_bytes(super::join::KDCCHALLENGE_LEN));

    let mut state = kdc.lock();
    // A retransmission of a POST already processed (same token, same
    // nonce1 and ID1: RFC 9203 section 4.1 makes N1 unlikely to repeat) gets
    // the same answer and leaves the channel alone; only a new POST makes a
    // new context.
    if let Some(t) = state.tokens.get(&token_id)
        && t.channel.nonce1 == nonce1
        && t.channel.client_recipient_id == id1
    {
        let response = transfer_response(
            &state,
            transfer,
            &t.scope,
            t.channel.nonce2.clone(),
            &t.channel.id,
            t.kdcchallenge.clone(),
        );
        return Ok(Outcome::respond(KdcResponse::with_body(
            Code::CREATED,
            cf::ACE_CBOR,
            response.encode(),
        )));
    }
    check_cnonce(kdc, &mut state, claims, now)?;
    let channel = state.allocate_channel(id1);
    let old_channel = state.tokens.get(&token_id).map(|t| t.channel.id.clone());
    let record = TokenRecord {
        id: token_id.clone(),
        scope: scope.clone(),
        expires_at,
        kdcchallenge: kdcchallenge.clone(),
        channel: ChannelRecord {
            id: channel.clone(),
            client_recipient_id: id1.to_vec(),
            nonce1: nonce1.to_vec(),
            nonce2: nonce2.clone(),
            material,
            sequence_mark: 0,
        },
    };
    let setup: ChannelSetup = channel_setup(&record, false)
        .map_err(|e| Refusal::BadRequest(format!("cannot derive the OSCORE context: {e}")))?;
    let mut changes = Vec::with_capacity(2);
    if let Some(old) = &old_channel {
        state.channels.remove(old);
        changes.push(Change::DeleteToken(old.clone()));
    }
    changes.push(Change::PutToken(Box::new(record.clone())));
    state.channels.insert(channel.clone(), token_id.clone());
    state.tokens.insert(token_id, record);
    let response = transfer_response(&state, transfer, &scope, nonce2, &channel, kdcchallenge);
    let staged = kdc.stage_and_release(state, changes)?;
    let mut effects = Vec::new();
    if let Some(old) = old_channel {
        effects.push(Effect::DropChannel(old));
    }
    effects.push(Effect::InstallChannel(Box::new(setup)));
    tracing::debug!(%channel, "token stored, channel created");
    Ok(Outcome::after(
        KdcResponse::with_body(Code::CREATED, cf::ACE_CBOR, response.encode()),
        effects,
        staged,
    ))
}

/// The 2.01 body of a token transfer: `nonce2`, `ace_server_recipientid`,
/// `kdcchallenge`, and the requested `sign_info` / `ecdh_info` /
/// `kdc_dh_creds` entries of the KDC's groups the scope names.
fn transfer_response(
    state: &crate::core::State,
    transfer: &TokenTransferRequest,
    scope: &GroupScope,
    nonce2: Vec<u8>,
    channel: &crate::model::ChannelId,
    kdcchallenge: Option<Vec<u8>>,
) -> TokenTransferResponse {
    let mut names: Vec<&str> = scope.entries.iter().map(|e| e.name.as_str()).collect();
    names.dedup();
    let groups: Vec<&crate::model::Group> =
        names.iter().filter_map(|n| state.groups.get(*n)).collect();
    TokenTransferResponse {
        nonce2: Some(nonce2),
        ace_server_recipientid: Some(channel.0.clone()),
        kdcchallenge,
        sign_info: entries(transfer.sign_info, &groups, |g| g.config.sign_info()),
        ecdh_info: entries(transfer.ecdh_info, &groups, |g| g.config.ecdh_info()),
        kdc_dh_creds: entries(transfer.kdc_dh_creds, &groups, |g| g.config.kdc_dh_creds()),
        rest: Vec::new(),
    }
}

/// The requested `*_info` entries of `groups`; `None` when not requested
/// or when no group has one (RFC 9594 section 3.3: MAY be omitted).
fn entries<T>(
    requested: bool,
    groups: &[&crate::model::Group],
    entry: impl Fn(&crate::model::Group) -> Option<T>,
) -> Option<Vec<T>> {
    if !requested {
        return None;
    }
    let v: Vec<T> = groups.iter().filter_map(|g| entry(g)).collect();
    (!v.is_empty()).then_some(v)
}

fn update(
    kdc: &Kdc,
    caller: &Caller,
    claims: &ClaimsSet,
    kid: &[u8],
    scope: GroupScope,
    expires_at: Option<u64>,
    now: u64,
) -> Result<Outcome, Refusal> {
    let mut state = kdc.lock();
    let token_id = match state.token(caller, now) {
        Some(t) if t.id == kid => t.id.clone(),
        _ => {
            return Err(Refusal::TokenUnauthorized(
                "an access-rights update must come over the channel of the token it replaces"
                    .into(),
            ));
        }
    };
    check_cnonce(kdc, &mut state, claims, now)?;
    let mut changes = Vec::new();
    let mut effects = Vec::new();
    let channel = {
        let token = state
            .tokens
            .get_mut(&token_id)
            .ok_or_else(|| Refusal::Internal("token vanished".into()))?;
        token.scope = scope;
        token.expires_at = expires_at;
        token.channel.id.clone()
    };
    // Members whose roles the new scope no longer grants are evicted.
    let mut affected = Vec::new();
    let scope = state
        .tokens
        .get(&token_id)
        .map(|t| t.scope.clone())
        .unwrap_or_default();
    for group in state.groups.values_mut() {
        let Some(node) = group.by_token.get(&token_id).cloned() else {
            continue;
        };
        let roles = group.members.get(&node).map_or(0, |m| m.roles);
        let granted = match scope.roles_for(group.name()) {
            Some(Some(ace_proto::roles::Roles::Aif(bits))) => bits,
            _ => 0,
        };
        if roles & !granted != 0
            && let Some(m) = remove_member(group, &node, &mut changes)
        {
            effects.push(Effect::Evicted(Box::new(EvictionNotice {
                group: group.name().to_string(),
                node,
                channel: Some(channel.clone()),
                control_uri: m.control_uri,
                payload: crate::core::eviction_payload(
                    "the updated access token no longer grants the roles",
                ),
            })));
            affected.push(group.name().to_string());
        }
    }
    if let Some(token) = state.tokens.get(&token_id) {
        changes.push(Change::PutToken(Box::new(token.clone())));
    }
    for name in &affected {
        match state.rekey_group(name, now, &mut changes) {
            Ok(rekeyed) => effects.extend(state.rekey_delivery(name, &rekeyed, None, &[], now)),
            Err(e) => {
                kdc.rollback(&mut state);
                return Err(e);
            }
        }
    }
    let staged = kdc.stage_and_release(state, changes)?;
    Ok(Outcome::after(
        KdcResponse::empty(Code::CREATED),
        effects,
        staged,
    ))
}
