//! The CoAP service on a real endpoint over loopback: token request and
//! response decoded and verified as the KDC will, errors with their codes
//! on the wire, introspection, methods.
//!
//! The peer identity comes from a test stand-in for the security layer
//! (`common::net::AddressTable`), not from OSCORE.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::service::{AsService, security_resolver};
use ace_coap::{CoapEndpoint, EndpointConfig, Request, Response};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::cwt::Confirmation;
use ace_proto::oauth::{
    AccessTokenRequest, AccessTokenResponse, ErrorCode, ErrorResponse, IntrospectionRequest,
    IntrospectionResponse,
};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use common::net::AddressTable;
use common::*;
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    server: CoapEndpoint,
    table: AddressTable,
}

async fn start() -> Fixture {
    let (core, _) = server();
    let core = Arc::new(core);
    let service =
        AsService::new(core.clone(), security_resolver(core)).with_clock(Arc::new(|| NOW));
    let table = AddressTable::default();
    let handler = table.layer(service.router().into_handler());
    let server = CoapEndpoint::bind(EndpointConfig::new("127.0.0.1:0".parse().unwrap()), handler)
        .await
        .unwrap();
    Fixture { server, table }
}

async fn send(client: &CoapEndpoint, fixture: &Fixture, request: Request) -> Response {
    tokio::time::timeout(
        Duration::from_secs(10),
        client.request(fixture.server.local_addr(), request),
    )
    .await
    .expect("timely response")
    .expect("response")
}

fn token_request(scope: ScopeValue) -> Request {
    let body = AccessTokenRequest {
        audience: Some("kdc".into()),
        scope: Some(scope),
        ace_profile: true,
        ..AccessTokenRequest::default()
    };
    Request::post("/token")
        .with_content_format(ACE_CBOR)
        .with_payload(body.encode())
}

#[tokio::test]
async fn token_over_coap_opened_as_the_kdc_will() {
    let fixture = start().await;
    let client = CoapEndpoint::client("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    fixture.table.insert(client.local_addr(), client_peer("c1"));
    let scope = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 6)]));
    let response = send(&client, &fixture, token_request(scope.clone())).await;
    assert_eq!(response.code, Code::CREATED);
    assert_eq!(response.content_format(), Some(ACE_CBOR));
    let info = AccessTokenResponse::decode(&response.payload).unwrap();
    assert_eq!(info.ace_profile, Some(2));
    let verifier = ace_as_verifier();
    let claims = verifier
        .open(&info.access_token, NOW + 1)
        .unwrap()
        .into_claims();
    assert_eq!(claims.scope, Some(scope));
    assert!(matches!(claims.cnf, Some(Confirmation::Osc(_))));
    assert_eq!(claims.cnf, info.cnf);

    // The RS introspects it over CoAP.
    let rs = CoapEndpoint::client("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    fixture.table.insert(rs.local_addr(), rs_peer("kdc"));
    let introspect = Request::post("/introspect")
        .with_content_format(ACE_CBOR)
        .with_payload(
            IntrospectionRequest {
                token: info.access_token.clone(),
                ..IntrospectionRequest::default()
            }
            .encode(),
        );
    let response = send(&rs, &fixture, introspect.clone()).await;
    assert_eq!(response.code, Code::CREATED);
    let answer = IntrospectionResponse::decode(&response.payload).unwrap();
    assert!(answer.active);
    assert_eq!(answer.cti, claims.cti);
    // A client may not introspect: 4.03 without payload.
    let response = send(&client, &fixture, introspect).await;
    assert_eq!(response.code, Code::FORBIDDEN);
    assert!(response.payload.is_empty());
    for e in [client, rs, fixture.server] {
        e.shutdown().await;
    }
}

#[tokio::test]
async fn errors_on_the_wire() {
    let fixture = start().await;
    let stranger = CoapEndpoint::client("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let scope = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 6)]));
    // No identity: 4.01 invalid_client.
    let response = send(&stranger, &fixture, token_request(scope.clone())).await;
    assert_eq!(response.code, Code::UNAUTHORIZED);
    assert_eq!(response.content_format(), Some(ACE_CBOR));
    assert_eq!(
        ErrorResponse::decode(&response.payload).unwrap().error,
        ErrorCode::InvalidClient
    );
    // Known client, nothing granted: 4.00 invalid_scope.
    fixture
        .table
        .insert(stranger.local_addr(), client_peer("c1"));
    let refused = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 8)]));
    let response = send(&stranger, &fixture, token_request(refused)).await;
    assert_eq!(response.code, Code::BAD_REQUEST);
    assert_eq!(
        ErrorResponse::decode(&response.payload).unwrap().error,
        ErrorCode::InvalidScope
    );
    // Other methods are not allowed.
    let response = send(&stranger, &fixture, Request::get("/token")).await;
    assert_eq!(response.code, Code::new(4, 5));
    // A token bigger than one block travels block-wise and still decodes.
    let many: Vec<ScopeEntry> = (0..60)
        .map(|i| ScopeEntry::aif(format!("sensors-{i:03}"), 8))
        .collect();
    let big = ScopeValue::group(&GroupScope::new(many));
    let response = send(&stranger, &fixture, token_request(big.clone())).await;
    assert_eq!(response.code, Code::CREATED);
    let info = AccessTokenResponse::decode(&response.payload).unwrap();
    assert!(
        info.access_token.len() > 1024,
        "{}",
        info.access_token.len()
    );
    let claims = ace_as_verifier()
        .open(&info.access_token, NOW)
        .unwrap()
        .into_claims();
    assert_eq!(claims.scope, Some(big));
    stranger.shutdown().await;
    fixture.server.shutdown().await;
}

fn client_peer(id: &str) -> ace_as::Peer {
    client(id)
}

fn rs_peer(name: &str) -> ace_as::Peer {
    rs(name)
}

fn ace_as_verifier() -> ace_proto::cwt::TokenVerifier {
    let (core, _) = server();
    core.verifier("kdc").unwrap().clone()
}
