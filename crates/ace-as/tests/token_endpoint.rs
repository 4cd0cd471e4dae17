//! `/token` through the sans-I/O core: every RFC 9200 section 5.8.3 error
//! provoked and answered with its code, and the tokens of each format and
//! profile opened the way a resource server (the KDC) opens them.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::TokenRequestError;
use ace_as::server::{exi_cti, exi_sequence};
use ace_as::store::TokenStore;
use ace_proto::Codec;
use ace_proto::cbor;
use ace_proto::code::Code;
use ace_proto::consts::content_format::{ACE_CBOR, content_format_tag};
use ace_proto::consts::cwt as claim;
use ace_proto::credential::PublicKey;
use ace_proto::cwt::{Audience, Confirmation, NumericDate, TokenError, TokenKey, TokenVerifier};
use ace_proto::oauth::{AccessTokenRequest, AccessTokenResponse, ErrorCode, ErrorResponse};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use ace_proto::scope::ScopeValue;
use common::*;

use common::cases::*;

/// A verifier configured as the KDC of audience `kdc` would configure it,
/// independently of the AS's own.
fn kdc_verifier() -> TokenVerifier {
    TokenVerifier::new("kdc")
        .with_key(TokenKey::verifying(as_key().verifying_key()).with_kid(&[0xa5]))
        .with_key(
            TokenKey::aes_ccm_16_64_128(&hex::decode(KDC_KEY).unwrap().try_into().unwrap())
                .with_kid(&[0x4b]),
        )
        .with_issuer("coap://as.test")
        .with_required_claim(claim::CNF)
        .with_required_claim(claim::EXP)
        .with_required_claim(claim::SCOPE)
}

#[test]
fn oscore_token_request_and_response_verified_as_the_kdc_will() {
    let (server, store) = server();
    let mut req = request("kdc", aif(&[("g1", REQUESTER | RESPONDER)]));
    req.ace_profile = true;
    req.cnonce = Some(vec![0xe0, 0xa1, 0x56, 0xbb, 0x3f]);
    let reply = server.handle_token(Some(&client("c1")), Some(ACE_CBOR), &req.encode(), NOW);
    assert_eq!(reply.code, Code::CREATED);
    assert_eq!(reply.content_format, Some(ACE_CBOR));
    let response = AccessTokenResponse::decode(&reply.payload).unwrap();
    assert_eq!(response.ace_profile, Some(2), "coap_oscore");
    assert_eq!(response.expires_in, Some(3600));
    assert_eq!(response.scope, None, "granted as requested: no scope");
    assert_eq!(response.token_type, None, "PoP is the default");
    let Some(Confirmation::Osc(material)) = &response.cnf else {
        panic!("cnf is not osc: {:?}", response.cnf);
    };
    assert_eq!(material.check_usable(), Ok(()));
    assert_eq!(material.id.as_ref().unwrap().len(), 8);
    assert_eq!(material.ms.as_ref().unwrap().len(), 16);
    assert_eq!(material.salt.as_ref().unwrap().len(), 8, "always a salt");

    // The token: a COSE_Encrypt0 (tag 16) whose plaintext is a tagged
    // COSE_Sign1 (RFC 8392 A.6).
    assert_eq!(response.access_token[0], 0xd0);
    let inner = TokenVerifier::without_audience()
        .with_key(TokenKey::aes_ccm_16_64_128(
            &hex::decode(KDC_KEY).unwrap().try_into().unwrap(),
        ))
        .with_key(TokenKey::verifying(as_key().verifying_key()))
        .verify_payload(&response.access_token)
        .unwrap();
    assert!(cbor::from_slice(&inner).is_ok());

    let verified = kdc_verifier()
        .open(&response.access_token, NOW + 10)
        .unwrap();
    assert_eq!(verified.kid(), Some(&[0x4b][..]), "outer kid");
    let claims = verified.claims();
    assert_eq!(claims.iss.as_deref(), Some("coap://as.test"));
    assert_eq!(claims.aud, Some(Audience::Single("kdc".into())));
    assert_eq!(claims.iat, Some(NumericDate::Integer(NOW as i64)));
    assert_eq!(claims.exp, Some(NumericDate::Integer(NOW as i64 + 3600)));
    assert_eq!(claims.cti.as_ref().unwrap().len(), 8);
    assert_eq!(claims.cnf, response.cnf, "same OSCORE input material");
    assert_eq!(claims.scope, Some(aif(&[("g1", REQUESTER | RESPONDER)])));
    assert_eq!(claims.ace_profile, Some(2));
    assert_eq!(claims.cnonce, req.cnonce, "cnonce copied into the token");
    assert_eq!(claims.exi, None, "the KDC has a clock");
    // Expired for the KDC after an hour.
    assert!(matches!(
        kdc_verifier().open(&response.access_token, NOW + 3600),
        Err(TokenError::Expired { .. })
    ));
    // Only the encryption key: the signed layer inside cannot be checked.
    let aes_only = TokenVerifier::new("kdc").with_key(TokenKey::aes_ccm_16_64_128(
        &hex::decode(KDC_KEY).unwrap().try_into().unwrap(),
    ));
    assert_eq!(
        aes_only.open(&response.access_token, NOW).unwrap_err(),
        TokenError::UnknownKey
    );
    // The AS's own verifier for the audience agrees.
    assert!(
        server
            .verifier("kdc")
            .unwrap()
            .open(&response.access_token, NOW)
            .is_ok()
    );

    // Recorded.
    let record = store.get(claims.cti.as_ref().unwrap()).unwrap().unwrap();
    assert_eq!(record.client, "c1");
    assert_eq!(record.audience, "kdc");
    assert_eq!(record.expires_at, NOW + 3600);
    assert_eq!(record.key_id, material.id);
    assert_eq!(record.format, "cwt sign1+encrypt0");
}

#[test]
fn each_token_gets_fresh_cti_and_fresh_oscore_material() {
    let (server, _) = server();
    let req = request("kdc", aif(&[("g1", REQUESTER)]));
    let a = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    let b = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    assert_ne!(a.claims.cti, b.claims.cti);
    let (Some(Confirmation::Osc(ma)), Some(Confirmation::Osc(mb))) = (&a.claims.cnf, &b.claims.cnf)
    else {
        panic!("osc expected")
    };
    assert_ne!(ma.id, mb.id);
    assert_ne!(ma.ms, mb.ms);
    assert_ne!(ma.salt, mb.salt);
}

#[test]
fn narrowed_scope_is_returned_and_several_groups_share_one_token() {
    let (server, _) = server();
    let req = request(
        "kdc",
        aif(&[
            ("g1", REQUESTER | RESPONDER | MONITOR),
            ("sensors-a", MONITOR),
            ("sensors-b", MONITOR | VERIFIER),
            ("other", REQUESTER),
        ]),
    );
    let issued = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    let granted = aif(&[
        ("g1", REQUESTER | RESPONDER),
        ("sensors-a", MONITOR),
        ("sensors-b", MONITOR),
    ]);
    assert_eq!(issued.response.scope, Some(granted.clone()));
    assert_eq!(issued.claims.scope, Some(granted));
}

#[test]
fn rs_without_clock_gets_exi_and_sequenced_cti() {
    let (server, store) = server();
    let req = request("kdc-noclock", aif(&[("g1", REQUESTER)]));
    let first = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    let second = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    assert_eq!(first.claims.exi, Some(120));
    assert_eq!(first.claims.cti, Some(exi_cti(&[0x6b, 0x31], 1)));
    assert_eq!(
        second.claims.cti,
        Some(hex::decode("6b310000000000000002").unwrap())
    );
    assert_eq!(
        exi_sequence(&[0x6b, 0x31], second.claims.cti.as_ref().unwrap()),
        Some(2)
    );
    assert_eq!(
        exi_sequence(&[0x6b, 0x32], second.claims.cti.as_ref().unwrap()),
        None
    );
    assert_eq!(store.next_exi_sequence("kdc-noclock").unwrap(), 3);
    // Encrypt0 only (tag 16), plaintext the claims.
    assert_eq!(first.response.access_token[0], 0xd0);
    let opened = server
        .verifier("kdc-noclock")
        .unwrap()
        .open(&first.response.access_token, NOW)
        .unwrap();
    assert_eq!(opened.claims().exi, Some(120));
}

#[test]
fn extended_scope_and_default_scope() {
    let (server, _) = server();
    // No scope: the audience's default scope, returned in the response.
    let req = AccessTokenRequest {
        audience: Some("kdc-ext".into()),
        ..AccessTokenRequest::default()
    };
    let issued = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    let plain = aif(&[("g1", REQUESTER)]);
    assert_eq!(issued.response.scope, Some(plain.clone()));
    // The claim is the extended scope: tag TN(297) = 1668547115.
    assert_eq!(content_format_tag(297), 1_668_547_115);
    let ScopeValue::Extended { tag, bytes } = issued.claims.scope.clone().unwrap() else {
        panic!("not extended")
    };
    assert_eq!(tag, 1_668_547_115);
    assert_eq!(Some(bytes.as_slice()), plain.binary());
    // The CWT tag 61 wraps the COSE tag (tagging = "cwt").
    assert_eq!(&issued.response.access_token[..3], &[0xd8, 0x3d, 0xd0]);
    let opened = server
        .verifier("kdc-ext")
        .unwrap()
        .open(&issued.response.access_token, NOW)
        .unwrap();
    assert_eq!(opened.claims().scope, issued.claims.scope);
    // The record keeps the plain scope.
    assert_eq!(issued.record.scope, plain);
}

#[test]
fn the_default_audience_applies_when_the_request_names_none() {
    let (server, _) = server();
    let req = AccessTokenRequest {
        scope: Some(aif(&[("g1", REQUESTER)])),
        ..AccessTokenRequest::default()
    };
    let issued = server.issue(Some(&client("c1")), &req, NOW).unwrap();
    assert_eq!(issued.claims.aud, Some(Audience::Single("kdc".into())));
}

#[test]
fn access_rights_update_references_the_earlier_input_material() {
    let (server, store) = server();
    let first = server
        .issue(
            Some(&client("c1")),
            &request("kdc", aif(&[("g1", REQUESTER)])),
            NOW,
        )
        .unwrap();
    let Some(Confirmation::Osc(material)) = &first.response.cnf else {
        panic!()
    };
    let id = material.id.clone().unwrap();
    let mut update = request("kdc", aif(&[("g1", REQUESTER | RESPONDER)]));
    update.req_cnf = Some(Confirmation::Kid(id.clone()));
    let second = server
        .issue(Some(&client("c1")), &update, NOW + 10)
        .unwrap();
    assert_eq!(second.claims.cnf, Some(Confirmation::Kid(id.clone())));
    assert_eq!(
        second.response.cnf, None,
        "no cnf in the response of an update (RFC 9203 section 4.4)"
    );
    assert_eq!(second.record.key_id, Some(id.clone()));
    // Another client cannot borrow the material.
    let err = server
        .issue(Some(&client("c2")), &update, NOW + 10)
        .unwrap_err();
    assert_eq!(err.error_code(), Some(ErrorCode::InvalidGrant));
    // Nor another audience.
    let mut elsewhere = update.clone();
    elsewhere.audience = Some("kdc-ext".into());
    let err = server
        .issue(Some(&client("c1")), &elsewhere, NOW + 10)
        .unwrap_err();
    assert_eq!(err.error_code(), Some(ErrorCode::InvalidGrant));
    // Once every token bound to it is revoked or expired, it is gone.
    store
        .revoke(first.claims.cti.as_ref().unwrap(), NOW + 20)
        .unwrap();
    assert!(server.issue(Some(&client("c1")), &update, NOW + 20).is_ok());
    // The last token bound to it (issued at NOW + 20) expires at NOW + 3620.
    assert!(
        server
            .issue(Some(&client("c1")), &update, NOW + 3619)
            .is_ok()
    );
    let err = server
        .issue(Some(&client("c1")), &update, NOW + 3619 + 3600)
        .unwrap_err();
    assert_eq!(err.error_code(), Some(ErrorCode::InvalidGrant));
}

#[test]
fn rpk_tokens_bind_the_registered_key_and_carry_rs_cnf() {
    let (server, _) = server();
    let c2_public = PublicKey::from(&c2_key().verifying_key());
    let registered = c2_public.to_cose_key(Some(b"\xc2"), -8);
    for req_cnf in [
        None,
        Some(Confirmation::Kid(vec![0xc2])),
        Some(Confirmation::CoseKey(c2_public.to_cose_key(None, -8))),
    ] {
        let mut req = request("dtls-rs", aif(&[("g1", REQUESTER)]));
        req.req_cnf = req_cnf.clone();
        let issued = server.issue(Some(&client("c2")), &req, NOW).unwrap();
        assert_eq!(
            issued.claims.cnf,
            Some(Confirmation::CoseKey(registered.clone())),
            "{req_cnf:?}"
        );
        assert_eq!(issued.response.ace_profile, Some(1), "coap_dtls");
        assert!(matches!(
            issued.response.rs_cnf,
            Some(Confirmation::CoseKey(_))
        ));
        // A plain COSE_Sign1 (tag 18) the RS verifies with the AS's key.
        assert_eq!(issued.response.access_token[0], 0xd2);
        let opened = TokenVerifier::new("dtls-rs")
            .with_key(TokenKey::verifying(as_key().verifying_key()))
            .open(&issued.response.access_token, NOW)
            .unwrap();
        assert_eq!(opened.claims().cnf, issued.claims.cnf);
    }
}

#[test]
fn psk_mode_generates_a_symmetric_key_only_into_an_encrypted_token() {
    let (server, _) = server();
    let issued = server
        .issue(
            Some(&client("c6")),
            &request("dtls-psk", aif(&[("g1", REQUESTER)])),
            NOW,
        )
        .unwrap();
    let Some(Confirmation::CoseKey(key)) = &issued.response.cnf else {
        panic!("{:?}", issued.response.cnf)
    };
    assert_eq!(key.symmetric_key().map(<[u8]>::len), Some(16));
    assert_eq!(key.kid().map(<[u8]>::len), Some(8));
    assert_eq!(issued.claims.cnf, issued.response.cnf);
    assert_eq!(
        issued.response.rs_cnf, None,
        "rs_cnf is for asymmetric keys only"
    );
    assert_eq!(issued.response.access_token[0], 0xd0, "COSE_Encrypt0");
    // The same client at an unencrypted RPK audience, without a key: refused.
    let err = server
        .issue(
            Some(&client("c6")),
            &request("dtls-rs", aif(&[("g1", REQUESTER)])),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.error_code(), Some(ErrorCode::InvalidRequest), "{err}");
}

#[test]
fn mac0_tokens() {
    let (server, _) = server();
    let issued = server
        .issue(
            Some(&client("c2")),
            &request("mac-rs", aif(&[("g1", REQUESTER)])),
            NOW,
        )
        .unwrap();
    assert_eq!(issued.response.access_token[0], 0xd1, "COSE_Mac0");
    let verifier =
        TokenVerifier::new("mac-rs").with_key(TokenKey::mac(&hex::decode(MAC_KEY).unwrap()));
    assert!(verifier.open(&issued.response.access_token, NOW).is_ok());
    let wrong = TokenVerifier::new("mac-rs").with_key(TokenKey::mac(&[0u8; 32]));
    assert_eq!(
        wrong.open(&issued.response.access_token, NOW).unwrap_err(),
        TokenError::BadMac
    );
}

#[test]
fn every_error_of_rfc9200_section_5_8_3() {
    let cases = token_error_cases();
    let (server, store) = server();
    let mut wrong = Vec::new();
    for (what, peer, cf, payload, want) in cases {
        let reply = server.handle_token(peer.as_ref(), cf, &payload, NOW);
        let expected_code = if want == ErrorCode::InvalidClient {
            Code::UNAUTHORIZED
        } else {
            Code::BAD_REQUEST
        };
        let body = ErrorResponse::decode(&reply.payload);
        let ok = reply.code == expected_code
            && reply.content_format == Some(ACE_CBOR)
            && body
                .as_ref()
                .is_ok_and(|b| b.error == want && b.error_description.is_some());
        if !ok {
            wrong.push(format!("{what}: {} {:?}", reply.code, body));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        store.list(&Default::default()).unwrap().is_empty(),
        "a refused request records no token"
    );
}

#[test]
fn error_payload_bytes_are_the_rfc_form() {
    // 4.01 {30: 2, 31: "..."} for invalid_client.
    let err = TokenRequestError::Unauthenticated;
    assert_eq!(err.coap_code(), Code::UNAUTHORIZED);
    let body = err.to_response().unwrap().encode();
    assert_eq!(&body[..3], &[0xa2, 0x18, 0x1e]);
    assert_eq!(body[3], 0x02);
    // A failure of the AS itself is 5.00 without an OAuth error.
    let store_error = TokenRequestError::Store(ace_as::store::StoreError::Backend("disk".into()));
    assert_eq!(store_error.coap_code(), Code::INTERNAL_SERVER_ERROR);
    assert!(store_error.to_response().is_none());
}
