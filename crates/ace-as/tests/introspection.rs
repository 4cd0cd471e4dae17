//! `/introspect` (RFC 9200 section 5.9) through the core: active tokens
//! with their claims; unknown, expired, revoked and misaddressed tokens
//! inactive; requesters without the right refused.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::store::{MemoryStore, TokenStore};
use ace_as::{AuthorizationServer, IntrospectionError};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::cwt::{Audience, ClaimsSet, Confirmation, NumericDate, Tagging};
use ace_proto::oauth::{
    AccessTokenRequest, ErrorCode, ErrorResponse, IntrospectionRequest, IntrospectionResponse,
};
use ace_proto::roles::group_oscore::REQUESTER;
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use common::*;
use std::sync::Arc;

fn g1() -> ScopeValue {
    ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", REQUESTER)]))
}

fn token_for(
    server: &AuthorizationServer,
    who: &str,
    audience: &str,
    scope: ScopeValue,
) -> Vec<u8> {
    let request = AccessTokenRequest {
        audience: Some(audience.into()),
        scope: Some(scope),
        ..AccessTokenRequest::default()
    };
    server
        .issue(Some(&client(who)), &request, NOW)
        .unwrap()
        .response
        .access_token
}

fn ask(server: &AuthorizationServer, peer: &str, token: &[u8], now: u64) -> IntrospectionResponse {
    let request = IntrospectionRequest {
        token: token.to_vec(),
        ..IntrospectionRequest::default()
    };
    let reply = server.handle_introspect(Some(&rs(peer)), Some(ACE_CBOR), &request.encode(), now);
    assert_eq!(reply.code, Code::CREATED, "2.01 even for an inactive token");
    assert_eq!(reply.content_format, Some(ACE_CBOR));
    IntrospectionResponse::decode(&reply.payload).unwrap()
}

#[test]
fn an_active_token_is_described() {
    let (server, _) = server();
    let token = token_for(&server, "c1", "kdc", g1());
    let issued_claims = server
        .verifier("kdc")
        .unwrap()
        .open(&token, NOW)
        .unwrap()
        .into_claims();
    let answer = ask(&server, "kdc", &token, NOW + 5);
    assert!(answer.active);
    assert_eq!(answer.iss.as_deref(), Some("coap://as.test"));
    assert_eq!(answer.aud, Some(Audience::Single("kdc".into())));
    assert_eq!(answer.exp, Some(NumericDate::Integer(NOW as i64 + 3600)));
    assert_eq!(answer.iat, Some(NumericDate::Integer(NOW as i64)));
    assert_eq!(answer.cti, issued_claims.cti);
    assert_eq!(answer.scope, Some(g1()));
    assert_eq!(answer.ace_profile, Some(2));
    assert_eq!(answer.client_id.as_deref(), Some("c1"));
    assert!(matches!(answer.cnf, Some(Confirmation::Osc(_))));
    assert_eq!(answer.cnf, issued_claims.cnf);
}

#[test]
fn expired_revoked_unknown_and_misaddressed_tokens_are_inactive() {
    let (server, store) = server();
    let token = token_for(&server, "c1", "kdc", g1());
    // Inactive is exactly {10: false}.
    let inactive_bytes = [0xa1, 0x0a, 0xf4];
    assert_eq!(IntrospectionResponse::default().encode(), inactive_bytes);

    assert!(!ask(&server, "kdc", &token, NOW + 3600).active, "expired");
    assert!(ask(&server, "kdc", &token, NOW + 3599).active);

    let revoked = token_for(&server, "c1", "kdc", g1());
    let cti = server
        .verifier("kdc")
        .unwrap()
        .open(&revoked, NOW)
        .unwrap()
        .into_claims()
        .cti
        .unwrap();
    store.revoke(&cti, NOW + 1).unwrap();
    assert!(!ask(&server, "kdc", &revoked, NOW + 2).active, "revoked");
    assert!(
        ask(&server, "kdc", &token, NOW + 2).active,
        "the other token is untouched"
    );

    assert!(!ask(&server, "kdc", b"not a token", NOW).active, "garbage");
    assert!(!ask(&server, "kdc", &[], NOW).active, "empty");

    // Signed by another key.
    let forged = ClaimsSet {
        aud: Some("kdc".into()),
        exp: Some(NumericDate::Integer(NOW as i64 + 100)),
        cti: Some(cti.clone()),
        ..ClaimsSet::default()
    }
    .seal_sign1(&c2_key(), None, Tagging::Cose)
    .unwrap();
    assert!(
        !ask(&server, "kdc", &forged, NOW).active,
        "foreign signature"
    );

    // A token for another audience is not this RS's business.
    let other = token_for(&server, "c2", "dtls-rs", g1());
    assert!(!ask(&server, "kdc", &other, NOW).active, "other audience");
    assert!(ask(&server, "dtls-rs", &other, NOW).active);

    // A token this AS has no record of (e.g. the store was replaced).
    let fresh = AuthorizationServer::new(
        config(),
        Arc::new(MemoryStore::new()) as Arc<dyn TokenStore>,
    );
    assert!(
        !ask(&fresh, "kdc", &token, NOW).active,
        "unknown to the store"
    );
}

#[test]
fn extended_scopes_are_introspected_in_plain_form() {
    let (server, _) = server();
    let token = token_for(&server, "c1", "kdc-ext", g1());
    let answer = ask(&server, "kdc-ext", &token, NOW);
    assert!(answer.active);
    assert_eq!(answer.scope, Some(g1()));
}

#[test]
fn jwt_tokens_are_introspected_too() {
    let (server, _) = server();
    let token = token_for(&server, "c2", "jwt-rs", ScopeValue::Text("read".into()));
    let answer = ask(&server, "jwt-rs", &token, NOW + 1);
    assert!(answer.active);
    assert_eq!(answer.scope, Some(ScopeValue::Text("read".into())));
    assert!(matches!(answer.cnf, Some(Confirmation::CoseKey(_))));
    assert_eq!(answer.ace_profile, Some(1));
    assert!(
        !ask(&server, "jwt-rs", &token, NOW + 3600).active,
        "expired"
    );
    assert!(
        !ask(&server, "kdc", &token, NOW + 1).active,
        "other audience"
    );
}

#[test]
fn requesters_without_the_right_are_refused() {
    let (server, _) = server();
    let token = token_for(&server, "c1", "kdc", g1());
    let body = IntrospectionRequest {
        token,
        ..IntrospectionRequest::default()
    }
    .encode();

    let reply = server.handle_introspect(None, Some(ACE_CBOR), &body, NOW);
    assert_eq!(reply.code, Code::UNAUTHORIZED);
    assert_eq!(
        ErrorResponse::decode(&reply.payload).unwrap().error,
        ErrorCode::InvalidClient
    );

    let reply = server.handle_introspect(Some(&client("c1")), Some(ACE_CBOR), &body, NOW);
    assert_eq!(reply.code, Code::FORBIDDEN);
    assert!(
        reply.payload.is_empty(),
        "4.03 carries no payload (RFC 9200 section 5.9.3)"
    );

    for bad in [vec![0xa0], vec![0xff], vec![0xa1, 0x0b, 0x01]] {
        let reply = server.handle_introspect(Some(&rs("kdc")), Some(ACE_CBOR), &bad, NOW);
        assert_eq!(reply.code, Code::BAD_REQUEST, "{bad:02x?}");
        assert_eq!(
            ErrorResponse::decode(&reply.payload).unwrap().error,
            ErrorCode::InvalidRequest
        );
    }
    let reply = server.handle_introspect(Some(&rs("kdc")), Some(61), &body, NOW);
    assert_eq!(reply.code, Code::BAD_REQUEST);

    assert_eq!(IntrospectionError::Forbidden.coap_code(), Code::FORBIDDEN);
    assert!(IntrospectionError::Forbidden.to_response().is_none());
}
