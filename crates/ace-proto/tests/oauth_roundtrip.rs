//! RFC 9200 messages built from typed values and compared byte for byte with
//! the RFC figures (hex of Figure 3 from the RFC; the others encoded from the
//! RFC's diagnostic notation with an independent CBOR encoder), decoded back,
//! and refused when malformed.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::cbor::IntOrText;
use ace_proto::code::Code;
use ace_proto::consts::oauth::ace_profile;
use ace_proto::credential::CoseKey;
use ace_proto::cwt::{ClaimsSet, Confirmation};
use ace_proto::error::DecodeError;
use ace_proto::oauth::{
    AccessTokenRequest, AccessTokenResponse, AsRequestCreationHints, ErrorCode, ErrorResponse,
    IntrospectionRequest, IntrospectionResponse,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(value: &T, expected_hex: &str) {
    assert_eq!(hex::encode(value.encode()), expected_hex);
    let decoded = T::decode(&h(expected_hex)).unwrap();
    assert_eq!(&decoded, value);
    assert_eq!(hex::encode(decoded.encode()), expected_hex);
}

#[test]
fn figure_3_as_request_creation_hints() {
    let hints = AsRequestCreationHints {
        as_uri: Some("coaps://as.example.com/token".into()),
        audience: Some("coaps://rs.example.com".into()),
        scope: Some(ScopeValue::Text("rTempC".into())),
        cnonce: Some(h("e0a156bb3f")),
        ..AsRequestCreationHints::default()
    };
    round_trip(
        &hints,
        "a401781c636f6170733a2f2f61732e6578616d706c652e636f6d2f746f6b656e0576636f6170733a2f2f72732e6578616d706c652e636f6d09667254656d7043182745e0a156bb3f",
    );
}

#[test]
fn figure_6_access_token_request_with_req_cnf_kid() {
    let request = AccessTokenRequest {
        client_id: Some("myclient".into()),
        audience: Some("valve424".into()),
        scope: Some(ScopeValue::Text("read".into())),
        req_cnf: Some(Confirmation::Kid(h("ea483475724cd775"))),
        ..AccessTokenRequest::default()
    };
    round_trip(
        &request,
        "a41818686d79636c69656e74056876616c766534323409647265616404a10348ea483475724cd775",
    );
}

#[test]
fn figure_7_access_token_response_with_osc_and_numeric_profile() {
    // RFC 9200 Figure 7 as corrected by erratum 8232 (ace_profile is an
    // integer), with the RFC 9203 osc object and a short token.
    let response = AccessTokenResponse {
        access_token: h("d08343a1010a"),
        ace_profile: Some(ace_profile::COAP_OSCORE),
        expires_in: Some(3600),
        cnf: Some(Confirmation::Osc(OscoreInputMaterial {
            id: Some(vec![1]),
            ms: Some(h("f9af838368e353e78888e1426bd94e6f")),
            ..OscoreInputMaterial::default()
        })),
        ..AccessTokenResponse::default()
    };
    round_trip(
        &response,
        "a40146d08343a1010a18260202190e1008a104a20041010250f9af838368e353e78888e1426bd94e6f",
    );
    assert_eq!(response.effective_token_type(), 2, "PoP by default");
    // The text form of Figure 7 before the erratum is refused.
    let text_profile = h("a2014100182669636f61705f64746c73");
    assert!(AccessTokenResponse::decode(&text_profile).is_err());
}

#[test]
fn rfc9594_token_response_with_a_binary_aif_scope() {
    let scope = GroupScope::new(vec![ScopeEntry::aif("gp1", REQUESTER | RESPONDER)]);
    let response = AccessTokenResponse {
        access_token: vec![0, 1],
        expires_in: Some(3600),
        scope: Some(ScopeValue::group(&scope)),
        ..AccessTokenResponse::default()
    };
    round_trip(&response, "a30142000102190e10094781826367703106");
    let decoded = AccessTokenResponse::decode(&response.encode()).unwrap();
    assert_eq!(decoded.scope.unwrap().group_scope().unwrap(), scope);
}

#[test]
fn figure_10_introspection_response() {
    // The RFC prints k truncated; a 16-byte k stands in for it.
    let response = IntrospectionResponse {
        active: true,
        scope: Some(ScopeValue::Text("read".into())),
        ace_profile: Some(ace_profile::COAP_DTLS),
        cnf: Some(Confirmation::CoseKey(CoseKey::symmetric(
            &(0u8..16).collect::<Vec<_>>(),
            Some(&h("dfd1aa97")),
            None,
        ))),
        ..IntrospectionResponse::default()
    };
    round_trip(
        &response,
        "a40af509647265616418260108a101a301040244dfd1aa972050000102030405060708090a0b0c0d0e0f",
    );
    // An inactive token: {10: false}.
    round_trip(&IntrospectionResponse::default(), "a10af4");
    // `active` is required.
    assert!(IntrospectionResponse::decode(&h("a0")).is_err());
}

#[test]
fn introspection_request() {
    let request = IntrospectionRequest {
        token: vec![0xd0, 0x83],
        token_type_hint: Some("pop".into()),
        ..IntrospectionRequest::default()
    };
    round_trip(&request, "a20b42d083182163706f70");
    assert!(
        IntrospectionRequest::decode(&h("a0")).is_err(),
        "token required"
    );
}

#[test]
fn error_responses() {
    round_trip(&ErrorResponse::new(ErrorCode::InvalidRequest), "a1181e01");
    let e = ErrorResponse::new(ErrorCode::InvalidScope).with_description("scope not allowed");
    round_trip(&e, "a2181e06181f7173636f7065206e6f7420616c6c6f776564");
    assert_eq!(e.coap_code(), Code::BAD_REQUEST);
    assert_eq!(
        ErrorResponse::new(ErrorCode::InvalidClient).coap_code(),
        Code::UNAUTHORIZED
    );
    let unknown = ErrorResponse::decode(&h("a1181e1863")).unwrap();
    assert_eq!(unknown.error, ErrorCode::Other(99));
    assert!(ErrorResponse::decode(&h("a0")).is_err(), "error required");
}

#[test]
fn rfc9202_psk_identity_is_a_cnf_with_a_symmetric_key_reference() {
    // RFC 9202 section 3.3.2: {8: {1: {1: 4, 2: h'3d027833fc6267ce'}}}
    let identity = h("a108a101a2010402483d027833fc6267ce");
    let claims = ClaimsSet::decode(&identity).unwrap();
    let Some(Confirmation::CoseKey(key)) = &claims.cnf else {
        panic!("cnf is not a COSE_Key")
    };
    assert_eq!(key.kty(), IntOrText::Int(4));
    assert_eq!(key.kid(), Some(&h("3d027833fc6267ce")[..]));
    assert_eq!(key.symmetric_key(), None, "reference only, no k");
    assert_eq!(claims.encode(), identity);
}

#[test]
fn unknown_parameters_are_kept_and_wrong_types_refused() {
    // {5: "rs", 1000: "x"}: the unknown key survives a round trip.
    let request = AccessTokenRequest::decode(&h("a2056272731903e86178")).unwrap();
    assert_eq!(request.rest.len(), 1);
    assert_eq!(hex::encode(request.encode()), "a2056272731903e86178");
    // audience as bytes, scope as an integer, cnonce as text: 4.00.
    for bad in ["a10541aa", "a10901", "a1182761aa"] {
        let err = AccessTokenRequest::decode(&h(bad)).unwrap_err();
        assert_eq!(err.code(), Code::BAD_REQUEST, "{bad}");
    }
    // Duplicate keys.
    assert!(matches!(
        AccessTokenRequest::decode(&h("a205617805617a")),
        Err(DecodeError::DuplicateKey { .. })
    ));
    // An extended (tagged) scope is only for token claims.
    assert!(AccessTokenRequest::decode(&h("a109d86340")).is_err());
    // access_token is required in a response.
    assert!(AccessTokenResponse::decode(&h("a1021864")).is_err());
    // cnf with two methods ({3: h'01', 4: {}}) names two keys: refused.
    let err = AccessTokenResponse::decode(&h("a201410008a203410104a0")).unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidValue { context: "cnf", .. }),
        "{err:?}"
    );
}
