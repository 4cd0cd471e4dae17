//! Hostile input never panics the AS: arbitrary payloads and arbitrary
//! well-formed maps at `/token` and `/introspect` get a response with a
//! code and, for 4.xx, a decodable error body.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_proto::Codec;
use ace_proto::cbor::{self, Value};
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::oauth::{AccessTokenResponse, ErrorResponse, IntrospectionResponse};
use common::*;
use proptest::prelude::*;

fn check_token_reply(reply: &ace_as::Reply) {
    if reply.code == Code::CREATED {
        AccessTokenResponse::decode(&reply.payload).unwrap();
    } else {
        assert!(
            reply.code == Code::BAD_REQUEST || reply.code == Code::UNAUTHORIZED,
            "{}",
            reply.code
        );
        ErrorResponse::decode(&reply.payload).unwrap();
    }
}

/// Values of the types token requests carry, and some they do not.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        "[a-z0-9_/#+ ]{0,24}".prop_map(Value::Text),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (any::<i8>().prop_map(|k| Value::from(i64::from(k))), inner),
                0..4
            )
            .prop_map(Value::Map),
        ]
    })
}

fn request_map() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        Just(4i64),
        Just(5),
        Just(9),
        Just(24),
        Just(25),
        Just(33),
        Just(37),
        Just(38),
        Just(39),
        -30i64..60
    ];
    proptest::collection::vec((key, value()), 0..6).prop_map(|entries| {
        cbor::to_vec(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        ))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_at_token(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (server, _) = server();
        for peer in [None, Some(client("c1")), Some(rs("kdc"))] {
            let reply = server.handle_token(peer.as_ref(), Some(ACE_CBOR), &payload, NOW);
            check_token_reply(&reply);
        }
    }

    #[test]
    fn arbitrary_maps_at_token(payload in request_map()) {
        let (server, _) = server();
        for who in ["c1", "c2", "c3", "c6"] {
            let reply = server.handle_token(Some(&client(who)), Some(ACE_CBOR), &payload, NOW);
            check_token_reply(&reply);
        }
    }

    #[test]
    fn arbitrary_bytes_at_introspect(token in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (server, _) = server();
        let body = cbor::to_vec(&Value::Map(vec![(Value::from(11), Value::Bytes(token.clone()))]));
        let reply = server.handle_introspect(Some(&rs("kdc")), Some(ACE_CBOR), &body, NOW);
        prop_assert_eq!(reply.code, Code::CREATED);
        prop_assert!(!IntrospectionResponse::decode(&reply.payload).unwrap().active);
        let reply = server.handle_introspect(Some(&rs("kdc")), Some(ACE_CBOR), &token, NOW);
        prop_assert!(reply.code == Code::CREATED || reply.code == Code::BAD_REQUEST);
    }
}
