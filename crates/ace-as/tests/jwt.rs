//! JWT access tokens, verified with `jsonwebtoken` itself.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::jwt;
use ace_as::policy::ScopeModel;
use ace_proto::oauth::AccessTokenRequest;
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn validation(audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&[audience]);
    v.set_issuer(&["coap://as.test"]);
    v
}

fn as_public() -> DecodingKey {
    DecodingKey::from_ed_components(&b64(&as_key().verifying_key().coordinates().0)).unwrap()
}

#[test]
fn a_jwt_verified_with_jsonwebtoken() {
    assert!(jwt::install_provider());
    let (server, _) = server();
    let now = wall_clock();
    let request = AccessTokenRequest {
        audience: Some("jwt-rs".into()),
        scope: Some(ScopeValue::Text(
            "publish_sensors/a/temp subscribe_alerts/# write".into(),
        )),
        ..AccessTokenRequest::default()
    };
    let issued = server.issue(Some(&client("c2")), &request, now).unwrap();
    assert_eq!(
        issued.response.scope,
        Some(ScopeValue::Text(
            "publish_sensors/a/temp subscribe_alerts/#".into()
        ))
    );
    let token = String::from_utf8(issued.response.access_token.clone()).unwrap();
    assert!(jwt::looks_like_jwt(token.as_bytes()));

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some("pQ"), "base64url of h'a5'");

    let data = jsonwebtoken::decode::<Value>(&token, &as_public(), &validation("jwt-rs")).unwrap();
    let claims = data.claims;
    assert_eq!(claims["iss"], "coap://as.test");
    assert_eq!(claims["aud"], "jwt-rs");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 3600);
    assert_eq!(claims["jti"], b64(&issued.record.cti));
    assert_eq!(claims["scope"], "publish_sensors/a/temp subscribe_alerts/#");
    assert_eq!(claims["ace_profile"], "coap_dtls");
    let jwk = &claims["cnf"]["jwk"];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["x"], b64(&c2_key().verifying_key().coordinates().0));
    assert_eq!(jwk["kid"], b64(&[0xc2]));
    assert_eq!(jwk["alg"], "EdDSA");

    // The RS reads the same claims back into CWT form.
    let back = jwt::decode(
        &token,
        &as_key().verifying_key(),
        "jwt-rs",
        ScopeModel::Text,
    )
    .unwrap();
    assert_eq!(back.cnf, issued.claims.cnf);
    assert_eq!(back.cti, issued.claims.cti);
    assert_eq!(back.scope, issued.claims.scope);
    assert_eq!(back.ace_profile, Some(1));
}

#[test]
fn forged_misaddressed_and_unsigned_jwts_are_refused() {
    jwt::install_provider();
    let (server, _) = server();
    let now = wall_clock();
    let request = AccessTokenRequest {
        audience: Some("jwt-rs".into()),
        scope: Some(ScopeValue::Text("read".into())),
        ..AccessTokenRequest::default()
    };
    let token = String::from_utf8(
        server
            .issue(Some(&client("c2")), &request, now)
            .unwrap()
            .response
            .access_token,
    )
    .unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // Another claims part under the same signature.
    let forged_claims = b64(br#"{"aud":"jwt-rs","exp":99999999999,"scope":"write"}"#);
    let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
    let err =
        jsonwebtoken::decode::<Value>(&forged, &as_public(), &validation("jwt-rs")).unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::InvalidSignature);

    // A different key.
    let other =
        DecodingKey::from_ed_components(&b64(&c2_key().verifying_key().coordinates().0)).unwrap();
    let err = jsonwebtoken::decode::<Value>(&token, &other, &validation("jwt-rs")).unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::InvalidSignature);

    // Another audience.
    let err = jsonwebtoken::decode::<Value>(&token, &as_public(), &validation("kdc")).unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::InvalidAudience);

    // alg "none" is never accepted.
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{}.{}.", none_header, parts[1]);
    assert!(jsonwebtoken::decode::<Value>(&unsigned, &as_public(), &validation("jwt-rs")).is_err());
    assert!(
        jwt::decode(
            &unsigned,
            &as_key().verifying_key(),
            "jwt-rs",
            ScopeModel::Text
        )
        .is_err()
    );

    // HS256 with the public key as secret (algorithm confusion).
    let hs_header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let confused = format!("{}.{}.{}", hs_header, parts[1], parts[2]);
    assert!(
        jwt::decode(
            &confused,
            &as_key().verifying_key(),
            "jwt-rs",
            ScopeModel::Text
        )
        .is_err()
    );
}

#[test]
fn symmetric_keys_never_enter_a_jwt() {
    use ace_proto::cwt::{ClaimsSet, Confirmation};
    use ace_proto::oscore_input::OscoreInputMaterial;
    let claims = ClaimsSet {
        cnf: Some(Confirmation::Osc(OscoreInputMaterial {
            id: Some(vec![1]),
            ms: Some(vec![2; 16]),
            ..Default::default()
        })),
        ..ClaimsSet::default()
    };
    assert_eq!(
        jwt::encode(&claims, &as_key(), None).unwrap_err(),
        jwt::JwtError::SymmetricKey
    );
    let claims = ClaimsSet {
        cnf: Some(Confirmation::CoseKey(
            ace_proto::credential::CoseKey::symmetric(&[7; 16], None, None),
        )),
        ..ClaimsSet::default()
    };
    assert_eq!(
        jwt::encode(&claims, &as_key(), None).unwrap_err(),
        jwt::JwtError::SymmetricKey
    );
}

#[test]
fn aif_scopes_travel_as_base64url_json() {
    // [["g1", 6]] in JSON, base64url.
    let scope = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 6)]));
    let text = jwt::scope_to_json(&scope).unwrap();
    assert_eq!(text, b64(br#"[["g1",6]]"#));
    assert_eq!(
        jwt::scope_from_json(&text, ScopeModel::AifGroupOscore).unwrap(),
        scope
    );
    // The RFC 9431 section 3 example scope string (AIF-MQTT in JSON).
    let rfc9431 = "W1sidG9waWMxIixbInB1YiIsInN1YiJdXSxbInRvcGljMi8jIixbInB1YiJdXSxbIisvdG9waWMzIixbInN1YiJdXV0";
    let parsed = jwt::scope_from_json(rfc9431, ScopeModel::Textual)
        .unwrap()
        .group_scope()
        .unwrap();
    let names: Vec<(&str, Option<Vec<String>>)> = parsed
        .entries
        .iter()
        .map(|e| {
            let roles = match &e.roles {
                Some(ace_proto::roles::Roles::Text(r)) => Some(r.clone()),
                _ => None,
            };
            (e.name.as_str(), roles)
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("topic1", Some(vec!["pub".to_string(), "sub".to_string()])),
            ("topic2/#", Some(vec!["pub".to_string()])),
            ("+/topic3", Some(vec!["sub".to_string()])),
        ]
    );
    assert!(jwt::scope_from_json("not base64!", ScopeModel::AifGroupOscore).is_err());
    assert!(jwt::scope_from_json(&b64(b"{}"), ScopeModel::AifGroupOscore).is_err());
}

#[test]
fn the_provider_keys_follow_rfc8410() {
    use jsonwebtoken::EncodingKey;
    jwt::install_provider();
    let seed = [9u8; 32];
    let der = jwt::ed25519_pkcs8(&seed);
    assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
    let key = EncodingKey::from_ed_der(&der);
    let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    header.typ = None;
    let token =
        jsonwebtoken::encode(&header, &serde_json::json!({"exp": 4102444800u64}), &key).unwrap();
    let public =
        ace_proto::keys::SigningKey::from_bytes(ace_proto::keys::SignatureAlgorithm::EdDsa, &seed)
            .unwrap()
            .verifying_key()
            .coordinates()
            .0;
    // Raw 32-byte key and SubjectPublicKeyInfo both verify.
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend_from_slice(&public);
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    for der in [public.clone(), spki] {
        assert!(jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_ed_der(&der), &v).is_ok());
    }
    // A key that is not PKCS#8 Ed25519 is refused, not a panic.
    let bad = EncodingKey::from_ed_der(&[0u8; 32]);
    assert!(jsonwebtoken::encode(&header, &serde_json::json!({}), &bad).is_err());
    // Other algorithms are not provided.
    let hs = EncodingKey::from_secret(b"secret");
    assert!(
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({}),
            &hs
        )
        .is_err()
    );
}
