//! The token transfer at `/authz-info` and the generic 4.01 with AS
//! Request Creation Hints, on the sans-I/O core (RFC 9200 section
//! 5.10.1.1, RFC 9203 section 4, RFC 9594 section 3.3).

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use ace_kdc::{Caller, Effect, KdcRequest, Method};
use ace_proto::Codec;
use ace_proto::authz_info::{TokenTransferRequest, TokenTransferResponse};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::cwt::Confirmation;
use ace_proto::keys::random_bytes;
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use support::core_client::Harness;
use support::{ClientKeys, GROUPS};

#[test]
fn token_transfer_answers_nonce2_id2_challenge_and_group_info() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let token = h.authority.mint(&keys.token(
        &[("g1", REQUESTER), ("gp", REQUESTER), ("nosuch", 2)],
        h.now + 60,
    ));
    let (out, got) = h.authz(token, true);
    assert_eq!(out.response.code, Code::CREATED);
    assert_eq!(out.response.content_format, Some(cf::ACE_CBOR));
    let (_, resp) = got.unwrap();
    assert_eq!(resp.nonce2.as_ref().unwrap().len(), 8);
    let id2 = resp.ace_server_recipientid.clone().unwrap();
    assert_ne!(id2, vec![0x77], "ID2 must differ from ID1");
    assert_eq!(resp.kdcchallenge.as_ref().unwrap().len(), 8);
    // sign_info for g1 (signatures), none for the pairwise-only gp;
    // nothing for a group the KDC does not host.
    let si = resp.sign_info.as_ref().unwrap();
    assert_eq!(si.len(), 1);
    assert!(si[0].id.contains("g1"));
    assert_eq!(si[0].cred_fmt, Some(14));
    // The channel's context is installed.
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::InstallChannel(_)))
    );
}

#[test]
fn ecdh_info_and_kdc_dh_creds_on_request() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let token = h
        .authority
        .mint(&keys.token(&[("g1", REQUESTER), ("gp", REQUESTER)], h.now + 60));
    let req = TokenTransferRequest {
        access_token: token,
        nonce1: Some(random_bytes(8)),
        ace_client_recipientid: Some(vec![1]),
        ecdh_info: true,
        kdc_dh_creds: true,
        ..TokenTransferRequest::default()
    };
    let out = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        req.encode(),
    );
    assert_eq!(out.response.code, Code::CREATED);
    let resp = TokenTransferResponse::decode(&out.response.payload).unwrap();
    assert!(resp.sign_info.is_none(), "not asked for");
    let ecdh = resp.ecdh_info.unwrap();
    assert_eq!(ecdh.len(), 2, "both groups use pairwise mode");
    let dh = resp.kdc_dh_creds.unwrap();
    assert_eq!(dh.len(), 1);
    assert!(dh[0].id.contains("gp"));
}

#[test]
fn monitor_only_scope_gets_no_challenge() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let (_, got) = h.authz(
        h.authority
            .mint(&keys.token(&[("g1", MONITOR)], h.now + 60)),
        false,
    );
    assert!(got.unwrap().1.kdcchallenge.is_none());
}

/// Each refused token: the code RFC 9200 section 5.10.1.1 prescribes, and
/// nothing stored.
#[test]
fn refused_tokens() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let good = keys.token(&[("g1", REQUESTER)], h.now + 60);
    let mut expired = good.clone();
    expired.exp = h.now - 1;
    let mut other_audience = good.clone();
    other_audience.audience = "coap://other-rs".into();
    let mut unknown_cnonce = good.clone();
    unknown_cnonce.cnonce = Some(vec![1, 2, 3]);
    let mut no_osc = good.clone();
    no_osc.cnf = Confirmation::Kid(vec![9]);
    let mut tampered = h.authority.mint(&good);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let cases: Vec<(&str, Vec<u8>, Code)> = vec![
        ("expired", h.authority.mint(&expired), Code::UNAUTHORIZED),
        (
            "other audience",
            h.authority.mint(&other_audience),
            Code::FORBIDDEN,
        ),
        (
            "unknown cnonce",
            h.authority.mint(&unknown_cnonce),
            Code::UNAUTHORIZED,
        ),
        (
            "kid without a channel",
            h.authority.mint(&no_osc),
            Code::UNAUTHORIZED,
        ),
        ("tampered", tampered, Code::UNAUTHORIZED),
        ("not a token", vec![0xa0], Code::BAD_REQUEST),
    ];
    let before = h.kdc.token_count();
    for (what, token, code) in cases {
        let (out, got) = h.authz(token, true);
        assert_eq!(out.response.code, code, "{what}");
        assert!(got.is_none(), "{what}");
        assert!(out.effects.is_empty(), "{what}");
    }
    assert_eq!(h.kdc.token_count(), before);

    // Scopes the Group OSCORE profile does not recognize: 4.00 (RFC 9200
    // section 5.10.1.1).
    for (what, scope) in [
        (
            "textual entries",
            ScopeValue::group(&GroupScope::new(vec![ScopeEntry::textual(
                "g1",
                &["sender"],
            )])),
        ),
        ("text scope", ScopeValue::Text("read".into())),
        (
            "reserved bit 0",
            ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 1)])),
        ),
        (
            "pub-sub extended tag",
            ScopeValue::Extended {
                tag: ace_proto::consts::content_format::content_format_tag(cf::AIF_PUBSUB_CBOR),
                bytes: GroupScope::new(vec![ScopeEntry::aif("g1", 2)]).encode(),
            },
        ),
    ] {
        let mut spec = good.clone();
        spec.scope = Some(scope);
        let (out, got) = h.authz(h.authority.mint(&spec), false);
        assert_eq!(out.response.code, Code::BAD_REQUEST, "{what}");
        assert!(got.is_none());
    }
    // The AIF-OSCORE-GROUPCOMM extended scope is accepted.
    let mut extended = good.clone();
    extended.scope = Some(ScopeValue::Extended {
        tag: ace_proto::consts::content_format::content_format_tag(cf::AIF_OSCORE_GROUPCOMM_CBOR),
        bytes: GroupScope::new(vec![ScopeEntry::aif("g1", 2)]).encode(),
    });
    let (out, _) = h.authz(h.authority.mint(&extended), false);
    assert_eq!(out.response.code, Code::CREATED);
    let before = before + 1;
    // Missing nonce1: 4.00.
    let req = TokenTransferRequest {
        access_token: h.authority.mint(&good),
        ..TokenTransferRequest::default()
    };
    let out = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        req.encode(),
    );
    assert_eq!(out.response.code, Code::BAD_REQUEST);
    // Wrong Content-Format.
    let out = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::CBOR,
        vec![0xa0],
    );
    assert_eq!(out.response.code, Code::UNSUPPORTED_CONTENT_FORMAT);
    // GET is not supported.
    let out = h.get(&Caller::Unauthenticated, "/authz-info");
    assert_eq!(out.response.code, Code::METHOD_NOT_ALLOWED);
    assert_eq!(h.kdc.token_count(), before);
}

#[test]
fn no_token_gets_creation_hints_with_a_cnonce_the_kdc_then_accepts() {
    let h = Harness::memory(GROUPS);
    let out = h.get(&Caller::Unauthenticated, "/ace-group/g1");
    assert_eq!(out.response.code, Code::UNAUTHORIZED);
    assert_eq!(out.response.content_format, Some(cf::ACE_CBOR));
    let hints = AsRequestCreationHints::decode(&out.response.payload).unwrap();
    assert_eq!(hints.as_uri.as_deref(), Some("coap://as.test/token"));
    assert_eq!(hints.audience.as_deref(), Some(support::AUDIENCE));
    assert_eq!(
        hints.scope,
        Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
            "g1",
            REQUESTER | RESPONDER
        )])))
    );
    let cnonce = hints.cnonce.unwrap();
    // Verifier resources name the Verifier role.
    let out = h.get(&Caller::Unauthenticated, "/ace-group/g1/verif-data");
    let hints = AsRequestCreationHints::decode(&out.response.payload).unwrap();
    assert_eq!(
        hints.scope.unwrap().group_scope().unwrap().entries[0].aif_bits(),
        Some(VERIFIER)
    );

    // The AS copies the cnonce into the token; the KDC accepts it once.
    let keys = ClientKeys::ed25519();
    let mut spec = keys.token(&[("g1", REQUESTER)], h.now + 60);
    spec.cnonce = Some(cnonce);
    let token = h.authority.mint(&spec);
    let (out, got) = h.authz(token.clone(), false);
    assert_eq!(out.response.code, Code::CREATED);
    assert!(got.is_some());
    let (out, _) = h.authz(token, false);
    assert_eq!(
        out.response.code,
        Code::UNAUTHORIZED,
        "a cnonce is single-use"
    );
}

#[test]
fn reposting_a_token_replaces_the_channel() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let spec = keys.token(&[("g1", REQUESTER)], h.now + 60);
    let (first, _) = h.client(&keys, &[("g1", REQUESTER)]);
    let (out, got) = h.authz(h.authority.mint(&spec), false);
    let (second, _) = got.unwrap();
    assert_ne!(first, second);
    let Caller::Channel(old) = &first else {
        unreachable!()
    };
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::DropChannel(c) if c == old))
    );
    assert_eq!(h.kdc.token_count(), 1, "one token per PoP key");
    // The old channel is no longer authorized.
    let out = h.request(&first, KdcRequest::new(Method::Get, "/ace-group/g1/num"));
    assert_eq!(out.response.code, Code::UNAUTHORIZED);
}

#[test]
fn access_rights_update_over_the_channel() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let (caller, _) = h.client(&keys, &[("g1", REQUESTER)]);
    let mut update = keys.token(&[("g1", REQUESTER), ("ges", REQUESTER)], h.now + 120);
    update.cnf = Confirmation::Kid(keys.material.id.clone().unwrap());
    let body = TokenTransferRequest {
        access_token: h.authority.mint(&update),
        ..TokenTransferRequest::default()
    }
    .encode();
    // Over another channel (here: none) it is refused.
    let out = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        body.clone(),
    );
    assert_eq!(out.response.code, Code::UNAUTHORIZED);
    let out = h.send(&caller, Method::Post, "/authz-info", cf::ACE_CBOR, body);
    assert_eq!(out.response.code, Code::CREATED);
    assert!(out.response.payload.is_empty());
    // The new scope is in force on the same channel.
    let out = h.get(&caller, "/ace-group/ges");
    assert_eq!(
        out.response.code,
        Code::FORBIDDEN,
        "granted now, but not a member"
    );
    assert_eq!(
        ace_proto::problem::error_id_of(&out.response.payload),
        Some(0)
    );
}

#[test]
fn a_retransmitted_token_post_gets_the_same_answer() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let req = TokenTransferRequest {
        access_token: h
            .authority
            .mint(&keys.token(&[("g1", REQUESTER)], h.now + 60)),
        nonce1: Some(random_bytes(8)),
        ace_client_recipientid: Some(vec![5]),
        ..TokenTransferRequest::default()
    };
    let first = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        req.encode(),
    );
    let again = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        req.encode(),
    );
    assert_eq!(first.response, again.response);
    assert_eq!(first.effects.len(), 1, "the context is installed once");
    assert!(
        again.effects.is_empty(),
        "and not replaced by the retransmission"
    );
    // A new POST (fresh nonce1) does make a new channel.
    let fresh = TokenTransferRequest {
        nonce1: Some(random_bytes(8)),
        ..req
    };
    let third = h.send(
        &Caller::Unauthenticated,
        Method::Post,
        "/authz-info",
        cf::ACE_CBOR,
        fresh.encode(),
    );
    assert_ne!(third.response.payload, first.response.payload);
    assert_eq!(
        third.effects.len(),
        2,
        "drop the old channel, install the new one"
    );
}
