//! RFC 9203 (ACE OSCORE profile) examples, byte-exact: the CWT claims set with
//! `cnf`/`osc` (section 3.2.1), the `/authz-info` request and response
//! parameters (sections 4.1, 4.2) and the Master Salt (section 4.3). Hex
//! from `shared/vectors/ace-profile-examples.json`.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::authz_info::{TokenTransferRequest, TokenTransferResponse};
use ace_proto::cbor::IntOrText;
use ace_proto::consts::cwt as claim;
use ace_proto::cwt::{
    Audience, ClaimsSet, Confirmation, NumericDate, Tagging, TokenKey, TokenVerifier,
};
use ace_proto::oscore_input::{OscoreInputMaterial, master_salt};
use ace_proto::scope::ScopeValue;

/// Section 3.2.1, "Example CWT Claims Set with OSCORE Parameters Using CBOR
/// Encoding" (89 bytes; key order 3, 6, 4, 9, 8 as printed).
const CLAIMS: &str = "a5037674656d7053656e736f72496e4c6976696e67526f6f6d061a5112d728041a51145dc809781874656d70657261747572655f67206669726d776172655f7008a104a20041010250f9af838368e353e78888e1426bd94e6f";
const MS: &str = "f9af838368e353e78888e1426bd94e6f";
const NONCE1: &str = "018a278f7faab55a";
const ID1: &str = "1645";
const NONCE2: &str = "25a8991cd700ac01";
const ID2: &str = "0000";
const SALT: &str = "f9af838368e353e78888e1426bd94e6f";
const MASTER_SALT: &str = "50f9af838368e353e78888e1426bd94e6f48018a278f7faab55a4825a8991cd700ac01";
/// RFC 8392 A.2.1: the token of the RFC 9203 figures starts
/// `8343a1010aa2044c53...`, an untagged COSE_Encrypt0 with alg 10 and a
/// 12-byte kid starting with 'S', as this key ("Symmetric128") gives.
const AS_RS_KEY: &str = "231f4c4d4d3051fdc2ec0a3851d5b383";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn claims() -> ClaimsSet {
    ClaimsSet {
        aud: Some(Audience::Single("tempSensorInLivingRoom".into())),
        iat: Some(NumericDate::Integer(1_360_189_224)),
        exp: Some(NumericDate::Integer(1_360_289_224)),
        scope: Some(ScopeValue::Text("temperature_g firmware_p".into())),
        cnf: Some(Confirmation::Osc(OscoreInputMaterial {
            id: Some(vec![0x01]),
            ms: Some(h(MS)),
            ..OscoreInputMaterial::default()
        })),
        claim_order: [claim::AUD, claim::IAT, claim::EXP, claim::SCOPE, claim::CNF]
            .into_iter()
            .map(IntOrText::Int)
            .collect(),
        ..ClaimsSet::default()
    }
}

fn token() -> Vec<u8> {
    claims()
        .seal_encrypt0_with_iv(
            &h(AS_RS_KEY).try_into().unwrap(),
            &[0x5a; 13],
            Some(b"Symmetric128"),
            Tagging::Untagged,
        )
        .unwrap()
}

#[test]
fn claims_set_with_osc_built_byte_exact() {
    assert_eq!(hex::encode(claims().encode()), CLAIMS);
}

#[test]
fn claims_set_decoded_and_reencoded_identical() {
    let decoded = ClaimsSet::decode(&h(CLAIMS)).unwrap();
    assert_eq!(decoded, claims());
    assert_eq!(hex::encode(decoded.encode()), CLAIMS);
    let Some(Confirmation::Osc(osc)) = &decoded.cnf else {
        panic!("cnf is not osc")
    };
    assert_eq!(osc.check_usable(), Ok(()));
    assert_eq!(osc.id.as_deref(), Some(&[0x01][..]));
    // The text scope is a plain OAuth scope: two tokens, no topics.
    let scope = decoded.scope.as_ref().unwrap().text_scope().unwrap();
    assert_eq!(scope.tokens.len(), 2);
    assert_eq!(scope.to_string(), "temperature_g firmware_p");
}

#[test]
fn token_has_the_shape_of_the_rfc_token_and_opens() {
    let token = token();
    assert_eq!(hex::encode(&token[..9]), "8343a1010aa2044c53");
    let verifier = TokenVerifier::new("tempSensorInLivingRoom").with_key(
        TokenKey::aes_ccm_16_64_128(&h(AS_RS_KEY).try_into().unwrap()),
    );
    let opened = verifier.open(&token, 1_360_200_000).unwrap();
    assert_eq!(opened.claims(), &claims());
    assert!(verifier.open(&token, 1_360_289_224).is_err(), "expired");
}

#[test]
fn authz_info_request_parameters_byte_exact() {
    let token = token();
    let request = TokenTransferRequest {
        access_token: token.clone(),
        nonce1: Some(h(NONCE1)),
        ace_client_recipientid: Some(h(ID1)),
        ..TokenTransferRequest::default()
    };
    // {1: token, 40: h'018a278f7faab55a', 43: h'1645'}
    let mut expected = vec![0xa3, 0x01, 0x58, token.len() as u8];
    expected.extend_from_slice(&token);
    expected.extend_from_slice(&h("182848018a278f7faab55a182b421645"));
    assert_eq!(request.encode(), expected);
    let decoded = TokenTransferRequest::decode(&expected).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(
        decoded.oscore_inputs().unwrap(),
        (&h(NONCE1)[..], &h(ID1)[..])
    );
    // Without the nonce the OSCORE profile refuses the request (4.00).
    let bare = TokenTransferRequest {
        access_token: token,
        ..TokenTransferRequest::default()
    };
    assert_eq!(bare.oscore_inputs().unwrap_err().code().to_string(), "4.00");
}

#[test]
fn authz_info_response_parameters_byte_exact() {
    let response = TokenTransferResponse {
        nonce2: Some(h(NONCE2)),
        ace_server_recipientid: Some(h(ID2)),
        ..TokenTransferResponse::default()
    };
    // {42: h'25a8991cd700ac01', 44: h'0000'}
    let expected = "a2182a4825a8991cd700ac01182c420000";
    assert_eq!(hex::encode(response.encode()), expected);
    let decoded = TokenTransferResponse::decode(&h(expected)).unwrap();
    assert_eq!(decoded, response);
    assert_eq!(
        decoded.oscore_inputs(&h(ID1)).unwrap(),
        (&h(NONCE2)[..], &h(ID2)[..])
    );
}

#[test]
fn master_salt_concatenation_byte_exact() {
    assert_eq!(
        hex::encode(master_salt(Some(&h(SALT)), &h(NONCE1), &h(NONCE2))),
        MASTER_SALT
    );
    // Without a salt the first term is omitted.
    assert_eq!(
        hex::encode(master_salt(None, &h(NONCE1), &h(NONCE2))),
        &MASTER_SALT[34..]
    );
}
