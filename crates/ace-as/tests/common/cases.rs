//! The refusals of RFC 9200 section 5.8.3 as data: each request, who sends
//! it, and the OAuth error it must get. Used by the core tests and by the
//! tests over CoAP + OSCORE.
#![allow(dead_code, clippy::unwrap_used)] // shared by several tests; tests may unwrap

use super::*;
use ace_as::Peer;
use ace_proto::Codec;
use ace_proto::cbor::{self, Value};
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::credential::{CoseKey, PublicKey};
use ace_proto::cwt::Confirmation;
use ace_proto::oauth::{AccessTokenRequest, ErrorCode};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};

/// An AIF scope.
pub fn aif(entries: &[(&str, u64)]) -> ScopeValue {
    ScopeValue::group(&GroupScope::new(
        entries
            .iter()
            .map(|(n, b)| ScopeEntry::aif(*n, *b))
            .collect(),
    ))
}

/// A token request for `audience` with `scope`.
pub fn request(audience: &str, scope: ScopeValue) -> AccessTokenRequest {
    AccessTokenRequest {
        audience: Some(audience.into()),
        scope: Some(scope),
        ..AccessTokenRequest::default()
    }
}

/// A payload built by hand, for requests the typed encoder cannot express.
pub fn raw(entries: Vec<(i64, Value)>) -> Vec<u8> {
    cbor::to_vec(&Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    ))
}

/// The CBOR value of an AIF scope.
pub fn scope_bytes(entries: &[(&str, u64)]) -> Value {
    aif(entries).to_value()
}

/// (what, peer, Content-Format, payload, expected error)
pub type ErrorCase = (&'static str, Option<Peer>, Option<u16>, Vec<u8>, ErrorCode);

/// Every refusal: the request, its sender, and the error it must get.
pub fn token_error_cases() -> Vec<ErrorCase> {
    let c1 = client("c1");
    let good = request("kdc", aif(&[("g1", REQUESTER)])).encode();
    let p256 = PublicKey::from(&c3_key().verifying_key()).to_cose_key(None, -7);
    let with = |f: &dyn Fn(&mut AccessTokenRequest)| {
        let mut r = request("kdc", aif(&[("g1", REQUESTER)]));
        f(&mut r);
        r.encode()
    };
    vec![
        (
            "no security context",
            None,
            Some(ACE_CBOR),
            good.clone(),
            ErrorCode::InvalidClient,
        ),
        (
            "a resource server is not a client",
            Some(rs("kdc")),
            Some(ACE_CBOR),
            good.clone(),
            ErrorCode::InvalidClient,
        ),
        (
            "unregistered peer",
            Some(client("mallory")),
            Some(ACE_CBOR),
            good.clone(),
            ErrorCode::InvalidClient,
        ),
        (
            "client_id of another client",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.client_id = Some("c2".into())),
            ErrorCode::InvalidClient,
        ),
        (
            "not CBOR",
            Some(c1.clone()),
            Some(ACE_CBOR),
            vec![0xa1, 0x05],
            ErrorCode::InvalidRequest,
        ),
        (
            "not a map",
            Some(c1.clone()),
            Some(ACE_CBOR),
            vec![0x80],
            ErrorCode::InvalidRequest,
        ),
        (
            "trailing bytes",
            Some(c1.clone()),
            Some(ACE_CBOR),
            [good.clone(), vec![0x00]].concat(),
            ErrorCode::InvalidRequest,
        ),
        (
            "JSON Content-Format",
            Some(c1.clone()),
            Some(50),
            good.clone(),
            ErrorCode::InvalidRequest,
        ),
        (
            "audience of the wrong type",
            Some(c1.clone()),
            Some(ACE_CBOR),
            raw(vec![(5, Value::from(7)), (9, scope_bytes(&[("g1", 2)]))]),
            ErrorCode::InvalidRequest,
        ),
        (
            "ace_profile other than null",
            Some(c1.clone()),
            Some(ACE_CBOR),
            raw(vec![(5, Value::Text("kdc".into())), (38, Value::from(2))]),
            ErrorCode::InvalidRequest,
        ),
        (
            "duplicate parameter",
            Some(c1.clone()),
            Some(ACE_CBOR),
            raw(vec![
                (5, Value::Text("kdc".into())),
                (5, Value::Text("kdc".into())),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            "client_secret besides the channel",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.client_secret = Some(b"s3cret".to_vec())),
            ErrorCode::InvalidRequest,
        ),
        (
            "unknown audience",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.audience = Some("nowhere".into())),
            ErrorCode::InvalidRequest,
        ),
        (
            "symmetric key in req_cnf",
            Some(client("c2")),
            Some(ACE_CBOR),
            request_with_cnf(
                "dtls-rs",
                Confirmation::CoseKey(CoseKey::symmetric(&[1; 16], None, None)),
            ),
            ErrorCode::InvalidRequest,
        ),
        (
            "req_cnf key not registered for the client",
            Some(client("c2")),
            Some(ACE_CBOR),
            request_with_cnf(
                "dtls-rs",
                Confirmation::CoseKey(
                    PublicKey::from(&as_key().verifying_key()).to_cose_key(None, -8),
                ),
            ),
            ErrorCode::InvalidRequest,
        ),
        (
            "password grant",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.grant_type = Some(0)),
            ErrorCode::UnsupportedGrantType,
        ),
        (
            "refresh_token grant",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| {
                r.grant_type = Some(3);
                r.refresh_token = Some(vec![1, 2, 3]);
            }),
            ErrorCode::UnsupportedGrantType,
        ),
        (
            "no policy for this client",
            Some(client("c5")),
            Some(ACE_CBOR),
            good.clone(),
            ErrorCode::UnauthorizedClient,
        ),
        (
            "no policy at this audience",
            Some(client("c3")),
            Some(ACE_CBOR),
            with(&|r| r.audience = Some("jwt-rs".into())),
            ErrorCode::UnauthorizedClient,
        ),
        (
            "client lacks the RS's profile",
            Some(client("c4")),
            Some(ACE_CBOR),
            good.clone(),
            ErrorCode::IncompatibleAceProfiles,
        ),
        (
            "nothing of the scope is granted",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.scope = Some(aif(&[("g1", MONITOR)]))),
            ErrorCode::InvalidScope,
        ),
        (
            "no scope and no default scope",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.scope = None),
            ErrorCode::InvalidScope,
        ),
        (
            "text scope at an AIF audience",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.scope = Some(ScopeValue::Text("g1".into()))),
            ErrorCode::InvalidScope,
        ),
        (
            "scope bytes that are not scope entries",
            Some(c1.clone()),
            Some(ACE_CBOR),
            with(&|r| r.scope = Some(ScopeValue::Binary(vec![0x01]))),
            ErrorCode::InvalidScope,
        ),
        (
            "COSE_Key for the OSCORE profile",
            Some(client("c2")),
            Some(ACE_CBOR),
            request_with_cnf("kdc", Confirmation::CoseKey(p256.clone())),
            ErrorCode::UnsupportedPopKey,
        ),
        (
            "P-256 key at an Ed25519-only RS",
            Some(client("c3")),
            Some(ACE_CBOR),
            request_with_cnf("dtls-rs", Confirmation::CoseKey(p256.clone())),
            ErrorCode::UnsupportedPopKey,
        ),
        (
            "registered P-256 key at an Ed25519-only RS",
            Some(client("c3")),
            Some(ACE_CBOR),
            request("dtls-rs", aif(&[("g1", REQUESTER)])).encode(),
            ErrorCode::UnsupportedPopKey,
        ),
        (
            "req_cnf names unknown OSCORE input material",
            Some(c1.clone()),
            Some(ACE_CBOR),
            request_with_cnf("kdc", Confirmation::Kid(vec![9; 8])),
            ErrorCode::InvalidGrant,
        ),
    ]
}

pub fn request_with_cnf(audience: &str, cnf: Confirmation) -> Vec<u8> {
    let mut r = request(audience, aif(&[("g1", REQUESTER)]));
    r.req_cnf = Some(cnf);
    r.encode()
}
