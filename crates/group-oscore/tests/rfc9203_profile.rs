//! The ACE OSCORE profile (RFC 9203 section 4.3): Master Salt and the
//! context derived from the examples of the RFC, client and RS agreeing,
//! identifier checks, the missing-salt choice and token expiry.
//!
//! Example values copied from `vectors/ace-profile-examples.json` (RFC 9203
//! sections 3.2, 4.1, 4.2 and 4.3).

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::oscore_input::{OscoreInputMaterial, master_salt};
use coap_lite::{MessageClass, Packet};
use group_oscore::ContextError;
use group_oscore::UnprotectError;
use group_oscore::profile::{AuthzInfoExchange, MissingSalt, ProfileContext, Role, context_params};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const SALT: &str = "f9af838368e353e78888e1426bd94e6f";
const N1: &str = "018a278f7faab55a";
const N2: &str = "25a8991cd700ac01";
const ID1: &str = "1645";
const ID2: &str = "0000";

fn material(salt: Option<&str>) -> OscoreInputMaterial {
    OscoreInputMaterial {
        id: Some(vec![0x01]),
        // The example's `ms` (RFC 9203 section 3.2 CWT) reused as Master Secret.
        ms: Some(h(SALT)),
        salt: salt.map(h),
        ..Default::default()
    }
}

fn exchange<'a>(n1: &'a [u8], n2: &'a [u8], id1: &'a [u8], id2: &'a [u8]) -> AuthzInfoExchange<'a> {
    AuthzInfoExchange {
        nonce1: n1,
        nonce2: n2,
        client_recipient_id: id1,
        server_recipient_id: id2,
    }
}

#[test]
fn rfc9203_section_4_3_master_salt() {
    assert_eq!(
        hex::encode(master_salt(Some(&h(SALT)), &h(N1), &h(N2))),
        "50f9af838368e353e78888e1426bd94e6f48018a278f7faab55a4825a8991cd700ac01"
    );
    let (n1, n2, id1, id2) = (h(N1), h(N2), h(ID1), h(ID2));
    let params = context_params(
        &material(Some(SALT)),
        &exchange(&n1, &n2, &id1, &id2),
        Role::Client,
        MissingSalt::Omit,
    )
    .unwrap();
    assert_eq!(
        hex::encode(&params.master_salt),
        "50f9af838368e353e78888e1426bd94e6f48018a278f7faab55a4825a8991cd700ac01"
    );
    assert_eq!(params.sender_id, h(ID2));
    assert_eq!(params.recipient_id, h(ID1));
}

#[test]
fn context_from_the_rfc_examples() {
    // Unofficial values (ace-profile-examples.json "unofficial_derived"),
    // confirmed by aiocoap's key derivation in tests/aiocoap_interop.rs.
    let (n1, n2, id1, id2) = (h(N1), h(N2), h(ID1), h(ID2));
    let ex = exchange(&n1, &n2, &id1, &id2);
    let client = ProfileContext::derive(
        &material(Some(SALT)),
        &ex,
        Role::Client,
        MissingSalt::Omit,
        None,
    )
    .unwrap();
    let c = client.context();
    assert_eq!(c.sender_id(), h(ID2));
    assert_eq!(
        hex::encode(c.sender_key()),
        "b27e21a6e8904c69367a7903b60c19ae"
    );
    assert_eq!(
        hex::encode(c.recipient_key()),
        "7ca38f735b2e0866341bfe149795d547"
    );
    assert_eq!(hex::encode(c.common_iv()), "7c3b80ba46ee86b866da7b6718");
    assert_eq!(client.input_material_id(), Some(&[0x01][..]));

    let rs = ProfileContext::derive(
        &material(Some(SALT)),
        &ex,
        Role::ResourceServer,
        MissingSalt::Omit,
        None,
    )
    .unwrap();
    assert_eq!(rs.context().sender_key(), c.recipient_key());
    assert_eq!(rs.context().recipient_key(), c.sender_key());
}

#[test]
fn client_and_resource_server_talk() {
    let (n1, n2, id1, id2) = (h(N1), h(N2), h(ID1), h(ID2));
    let ex = exchange(&n1, &n2, &id1, &id2);
    let m = material(None);
    let mut client =
        ProfileContext::derive(&m, &ex, Role::Client, MissingSalt::Omit, Some(1000)).unwrap();
    let mut rs =
        ProfileContext::derive(&m, &ex, Role::ResourceServer, MissingSalt::Omit, Some(1000))
            .unwrap();
    let mut req = Packet::new();
    req.header.code = MessageClass::from(0x01);
    req.add_option(coap_lite::CoapOption::UriPath, b"ace-group".to_vec());
    let (outer, mut cx) = client.protect_request(&req, 10).unwrap();
    let (inner, mut sx) = rs.unprotect_request(&outer, 10).unwrap();
    assert_eq!(
        inner.get_first_option(coap_lite::CoapOption::UriPath),
        Some(&b"ace-group".to_vec())
    );
    let mut resp = Packet::new();
    resp.header.code = MessageClass::from(0x45);
    resp.payload = b"ok".to_vec();
    let outer = rs.context_mut().protect_response(&resp, &mut sx).unwrap();
    let back = client
        .context_mut()
        .unprotect_response(&outer, &mut cx)
        .unwrap();
    assert_eq!(back.payload, b"ok");

    // After expiry the RS refuses with an unprotected 4.01 and the client
    // stops using the context.
    assert!(rs.is_expired(1000));
    assert!(!rs.is_expired(999));
    let (outer, _) = client.context_mut().protect_request(&req).unwrap();
    let err = rs.unprotect_request(&outer, 1000).unwrap_err();
    assert_eq!(err, UnprotectError::ContextNotFound);
    assert_eq!(err.code().to_string(), "4.01");
    assert!(client.protect_request(&req, 1001).is_err());
}

#[test]
fn missing_salt_readings_differ() {
    let (n1, n2, id1, id2) = (h(N1), h(N2), h(ID1), h(ID2));
    let ex = exchange(&n1, &n2, &id1, &id2);
    let omit = context_params(&material(None), &ex, Role::Client, MissingSalt::Omit).unwrap();
    let empty = context_params(
        &material(None),
        &ex,
        Role::Client,
        MissingSalt::EmptyByteString,
    )
    .unwrap();
    assert_eq!(hex::encode(&omit.master_salt), format!("48{N1}48{N2}"));
    assert_eq!(hex::encode(&empty.master_salt), format!("4048{N1}48{N2}"));
    assert_ne!(
        omit.derive().unwrap().sender_key.to_vec(),
        empty.derive().unwrap().sender_key.to_vec()
    );
}

#[test]
fn invalid_inputs_stop_the_derivation() {
    let (n1, n2, id1) = (h(N1), h(N2), h(ID1));
    // ID1 == ID2: the client MUST stop (RFC 9203 section 4.3).
    let same = exchange(&n1, &n2, &id1, &id1);
    assert_eq!(
        context_params(&material(None), &same, Role::Client, MissingSalt::Omit).unwrap_err(),
        ContextError::SameIds
    );
    let id2 = h(ID2);
    let ex = exchange(&n1, &n2, &id1, &id2);
    let mut m = material(None);
    m.ms = None;
    assert!(matches!(
        context_params(&m, &ex, Role::Client, MissingSalt::Omit),
        Err(ContextError::Missing("ms"))
    ));
    let mut m = material(None);
    m.version = Some(2);
    assert_eq!(
        context_params(&m, &ex, Role::Client, MissingSalt::Omit).unwrap_err(),
        ContextError::UnsupportedVersion(2)
    );
    let mut m = material(None);
    m.alg = Some(ace_proto::cbor::IntOrText::Int(3));
    assert!(matches!(
        context_params(&m, &ex, Role::Client, MissingSalt::Omit),
        Err(ContextError::UnsupportedAlgorithm {
            what: "AEAD",
            id: 3
        })
    ));
    // Identifiers longer than 7 bytes do not fit AES-CCM-16-64-128 nonces.
    let long = [1u8; 8];
    let ex = exchange(&n1, &n2, &id1, &long);
    assert!(matches!(
        ProfileContext::derive(&material(None), &ex, Role::Client, MissingSalt::Omit, None),
        Err(ContextError::IdTooLong { .. })
    ));
}
