//! Property tests of the ACE-OAuth messages (RFC 9200), the token transfer
//! messages (RFC 9203, RFC 9594 section 3.3) and OSCORE_Input_Material:
//! `decode(encode(x)) == x` for every type, re-encoding is byte-stable, and
//! arbitrary bytes (raw, or well-formed CBOR of any shape) into every decoder
//! never panic.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::authz_info::{
    EcdhInfoEntry, GroupNames, KdcDhCredsEntry, SignInfoEntry, TokenTransferRequest,
    TokenTransferResponse,
};
use ace_proto::cbor::{IntOrText, Value};
use ace_proto::credential::CoseKey;
use ace_proto::cwt::{Audience, Confirmation, NumericDate};
use ace_proto::oauth::{
    AccessTokenRequest, AccessTokenResponse, AsRequestCreationHints, ErrorCode, ErrorResponse,
    IntrospectionRequest, IntrospectionResponse,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::scope::ScopeValue;
use proptest::prelude::*;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12)
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/._ -]{0,12}"
}

/// Simple CBOR values (no floats, whose NaN breaks equality), nested a little.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        bytes().prop_map(Value::Bytes),
        text().prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Value::Array)
    })
}

/// Unknown parameters: integer labels far from every registered one.
fn rest() -> impl Strategy<Value = Vec<(IntOrText, Value)>> {
    prop::collection::btree_map(1000i64..5000, value(), 0..3)
        .prop_map(|m| m.into_iter().map(|(k, v)| (IntOrText::Int(k), v)).collect())
}

fn int_or_text() -> impl Strategy<Value = IntOrText> {
    prop_oneof![
        any::<i64>().prop_map(IntOrText::Int),
        text().prop_map(IntOrText::Text)
    ]
}

fn scope_param() -> impl Strategy<Value = ScopeValue> {
    prop_oneof![
        text().prop_map(ScopeValue::Text),
        bytes().prop_map(ScopeValue::Binary)
    ]
}

fn numeric_date() -> impl Strategy<Value = NumericDate> {
    prop_oneof![
        any::<i64>().prop_map(NumericDate::Integer),
        (-1e12f64..1e12).prop_map(NumericDate::Float),
    ]
}

fn osc() -> impl Strategy<Value = OscoreInputMaterial> {
    (
        (
            prop::option::of(bytes()),
            prop::option::of(any::<u64>()),
            prop::option::of(bytes()),
        ),
        (
            prop::option::of(int_or_text()),
            prop::option::of(int_or_text()),
        ),
        (prop::option::of(bytes()), prop::option::of(bytes()), rest()),
    )
        .prop_map(
            |((id, version, ms), (hkdf, alg), (salt, context_id, rest))| OscoreInputMaterial {
                id,
                version,
                ms,
                hkdf,
                alg,
                salt,
                context_id,
                rest,
            },
        )
}

fn confirmation() -> impl Strategy<Value = Confirmation> {
    prop_oneof![
        (prop::option::of(bytes()), bytes()).prop_map(|(kid, k)| Confirmation::CoseKey(
            CoseKey::symmetric(&k, kid.as_deref(), None)
        )),
        (bytes(), bytes()).prop_map(|(x, kid)| Confirmation::CoseKey(CoseKey::okp(
            6,
            &x,
            Some(&kid),
            Some(-8)
        ))),
        bytes().prop_map(Confirmation::Kid),
        osc().prop_map(Confirmation::Osc),
        prop::collection::vec(value(), 3..4)
            .prop_map(|items| Confirmation::EncryptedCoseKey(Value::Array(items))),
        (100i64..200, value()).prop_map(|(k, v)| Confirmation::Other(IntOrText::Int(k), v)),
    ]
}

fn access_token_request() -> impl Strategy<Value = AccessTokenRequest> {
    (
        (
            prop::option::of(any::<u64>()),
            prop::option::of(text()),
            prop::option::of(bytes()),
        ),
        (
            prop::option::of(text()),
            prop::option::of(scope_param()),
            prop::option::of(confirmation()),
        ),
        (
            any::<bool>(),
            prop::option::of(bytes()),
            prop::option::of(bytes()),
            rest(),
        ),
    )
        .prop_map(
            |(
                (grant_type, client_id, client_secret),
                (audience, scope, req_cnf),
                (ace_profile, cnonce, refresh_token, rest),
            )| AccessTokenRequest {
                grant_type,
                client_id,
                client_secret,
                audience,
                scope,
                req_cnf,
                ace_profile,
                cnonce,
                refresh_token,
                rest,
            },
        )
}

fn access_token_response() -> impl Strategy<Value = AccessTokenResponse> {
    (
        (
            bytes(),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
        (
            prop::option::of(any::<u64>()),
            prop::option::of(scope_param()),
        ),
        (
            prop::option::of(confirmation()),
            prop::option::of(confirmation()),
        ),
        (prop::option::of(bytes()), rest()),
    )
        .prop_map(
            |(
                (access_token, token_type, ace_profile),
                (expires_in, scope),
                (cnf, rs_cnf),
                (refresh_token, rest),
            )| AccessTokenResponse {
                access_token,
                token_type,
                ace_profile,
                expires_in,
                scope,
                cnf,
                rs_cnf,
                refresh_token,
                rest,
            },
        )
}

fn error_response() -> impl Strategy<Value = ErrorResponse> {
    (
        any::<i64>(),
        prop::option::of(text()),
        prop::option::of(text()),
        rest(),
    )
        .prop_map(|(code, error_description, error_uri, rest)| ErrorResponse {
            error: ErrorCode::from_value(code),
            error_description,
            error_uri,
            rest,
        })
}

fn hints() -> impl Strategy<Value = AsRequestCreationHints> {
    (
        prop::option::of(text()),
        prop::option::of(bytes()),
        prop::option::of(text()),
        prop::option::of(scope_param()),
        prop::option::of(bytes()),
        rest(),
    )
        .prop_map(
            |(as_uri, kid, audience, scope, cnonce, rest)| AsRequestCreationHints {
                as_uri,
                kid,
                audience,
                scope,
                cnonce,
                rest,
            },
        )
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        text().prop_map(Audience::Single),
        prop::collection::vec(text(), 0..3).prop_map(Audience::Multiple)
    ]
}

fn introspection_response() -> impl Strategy<Value = IntrospectionResponse> {
    (
        (
            any::<bool>(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(audience()),
        ),
        (
            prop::option::of(numeric_date()),
            prop::option::of(numeric_date()),
            prop::option::of(numeric_date()),
        ),
        (
            prop::option::of(bytes()),
            prop::option::of(scope_param()),
            prop::option::of(text()),
        ),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(text()),
            prop::option::of(any::<i64>()),
        ),
        (
            prop::option::of(bytes()),
            prop::option::of(any::<u64>()),
            prop::option::of(confirmation()),
            rest(),
        ),
    )
        .prop_map(
            |(
                (active, iss, sub, aud),
                (exp, nbf, iat),
                (cti, scope, client_id),
                (token_type, username, ace_profile),
                (cnonce, exi, cnf, rest),
            )| IntrospectionResponse {
                active,
                iss,
                sub,
                aud,
                exp,
                nbf,
                iat,
                cti,
                scope,
                client_id,
                token_type,
                username,
                ace_profile,
                cnonce,
                exi,
                cnf,
                rest,
            },
        )
}

fn group_names() -> impl Strategy<Value = GroupNames> {
    prop_oneof![
        text().prop_map(GroupNames::One),
        prop::collection::vec(text(), 1..3).prop_map(GroupNames::Many)
    ]
}

fn capab() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(value(), 0..3)
}

fn sign_info_entry() -> impl Strategy<Value = SignInfoEntry> {
    (
        group_names(),
        int_or_text(),
        capab(),
        capab(),
        prop::collection::vec(capab(), 0..2),
        prop::option::of(any::<i64>()),
    )
        .prop_map(
            |(id, sign_alg, sign_parameters, sign_key_parameters, more_capabilities, cred_fmt)| {
                SignInfoEntry {
                    id,
                    sign_alg,
                    sign_parameters,
                    sign_key_parameters,
                    more_capabilities,
                    cred_fmt,
                }
            },
        )
}

fn ecdh_info_entry() -> impl Strategy<Value = EcdhInfoEntry> {
    sign_info_entry().prop_map(|e| EcdhInfoEntry {
        id: e.id,
        ecdh_alg: e.sign_alg,
        ecdh_parameters: e.sign_parameters,
        ecdh_key_parameters: e.sign_key_parameters,
        more_capabilities: e.more_capabilities,
        cred_fmt: e.cred_fmt,
    })
}

fn kdc_dh_creds_entry() -> impl Strategy<Value = KdcDhCredsEntry> {
    (group_names(), any::<i64>(), bytes()).prop_map(|(id, cred_fmt, cred)| KdcDhCredsEntry {
        id,
        cred_fmt,
        cred,
    })
}

fn transfer_request() -> impl Strategy<Value = TokenTransferRequest> {
    (
        bytes(),
        prop::option::of(bytes()),
        prop::option::of(bytes()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        rest(),
    )
        .prop_map(
            |(
                access_token,
                nonce1,
                ace_client_recipientid,
                (sign_info, ecdh_info, kdc_dh_creds),
                rest,
            )| {
                TokenTransferRequest {
                    access_token,
                    nonce1,
                    ace_client_recipientid,
                    sign_info,
                    ecdh_info,
                    kdc_dh_creds,
                    rest,
                }
            },
        )
}

fn transfer_response() -> impl Strategy<Value = TokenTransferResponse> {
    (
        (
            prop::option::of(bytes()),
            prop::option::of(bytes()),
            prop::option::of(bytes()),
        ),
        prop::option::of(prop::collection::vec(sign_info_entry(), 1..3)),
        prop::option::of(prop::collection::vec(ecdh_info_entry(), 1..3)),
        prop::option::of(prop::collection::vec(kdc_dh_creds_entry(), 1..3)),
        rest(),
    )
        .prop_map(
            |(
                (nonce2, ace_server_recipientid, kdcchallenge),
                sign_info,
                ecdh_info,
                kdc_dh_creds,
                rest,
            )| {
                TokenTransferResponse {
                    nonce2,
                    ace_server_recipientid,
                    kdcchallenge,
                    sign_info,
                    ecdh_info,
                    kdc_dh_creds,
                    rest,
                }
            },
        )
}

/// `decode(encode(x)) == x`, and encoding the decoded value gives the same
/// bytes.
fn assert_round_trip<T: Codec + PartialEq + std::fmt::Debug>(x: &T) -> Result<(), TestCaseError> {
    let bytes = x.encode();
    let back = T::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {x:?}")))?;
    prop_assert_eq!(&back, x);
    prop_assert_eq!(back.encode(), bytes);
    Ok(())
}

/// Arbitrary well-formed CBOR: maps with small integer keys, so that the
/// decoders meet their own labels with wrong types.
fn cbor_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (-30i64..60).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        bytes().prop_map(Value::Bytes),
        text().prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        any::<f64>().prop_map(Value::Float),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(((-8i64..50).prop_map(Value::from), inner.clone()), 0..5)
                .prop_map(Value::Map),
            (prop_oneof![Just(16u64), Just(61u64), any::<u64>()], inner)
                .prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
        ]
    })
}

fn feed_all(bytes: &[u8]) {
    let _ = AccessTokenRequest::decode(bytes);
    let _ = AccessTokenResponse::decode(bytes);
    let _ = ErrorResponse::decode(bytes);
    let _ = AsRequestCreationHints::decode(bytes);
    let _ = IntrospectionRequest::decode(bytes);
    let _ = IntrospectionResponse::decode(bytes);
    let _ = TokenTransferRequest::decode(bytes);
    let _ = TokenTransferResponse::decode(bytes);
    let _ = SignInfoEntry::decode(bytes);
    let _ = EcdhInfoEntry::decode(bytes);
    let _ = KdcDhCredsEntry::decode(bytes);
    let _ = OscoreInputMaterial::decode(bytes);
    let _ = Confirmation::decode(bytes);
    if let Ok(r) = TokenTransferRequest::decode(bytes) {
        let _ = r.oscore_inputs();
    }
    if let Ok(r) = TokenTransferResponse::decode(bytes) {
        let _ = r.oscore_inputs(&[]);
    }
    if let Ok(m) = OscoreInputMaterial::decode(bytes) {
        let _ = m.check_usable();
    }
}

proptest! {
    #[test]
    fn access_token_request_round_trips(x in access_token_request()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn access_token_response_round_trips(x in access_token_response()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn error_response_round_trips(x in error_response()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn creation_hints_round_trip(x in hints()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn introspection_request_round_trips(token in bytes(), hint in prop::option::of(text()), rest in rest()) {
        assert_round_trip(&IntrospectionRequest { token, token_type_hint: hint, rest })?;
    }

    #[test]
    fn introspection_response_round_trips(x in introspection_response()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn token_transfer_request_round_trips(x in transfer_request()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn token_transfer_response_round_trips(x in transfer_response()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn info_entries_round_trip(s in sign_info_entry(), e in ecdh_info_entry(), k in kdc_dh_creds_entry()) {
        assert_round_trip(&s)?;
        assert_round_trip(&e)?;
        assert_round_trip(&k)?;
    }

    #[test]
    fn oscore_input_material_round_trips(x in osc()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn confirmation_round_trips(x in confirmation()) {
        assert_round_trip(&x)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        feed_all(&bytes);
    }

    #[test]
    fn arbitrary_cbor_never_panics(value in cbor_value()) {
        feed_all(&ace_proto::cbor::to_vec(&value));
    }
}
