//! JWT access tokens (RFC 7519) signed with EdDSA (RFC 8037), through
//! `jsonwebtoken` with this crate's Ed25519 as its crypto backend.
//!
//! `jsonwebtoken` 11 takes its cryptography from a process-wide
//! [`CryptoProvider`]. This module supplies one built on
//! `ace_proto::keys` (ed25519-dalek), so the workspace keeps a single
//! crypto stack; [`install_provider`] installs it once (a `OnceLock`).
//! The provider signs and verifies EdDSA only:
//!
//! - an [`EncodingKey`] for it is `EncodingKey::from_ed_der` of the PKCS#8
//!   v1 encoding of an Ed25519 private key (RFC 8410 section 7), as
//!   [`ed25519_pkcs8`] builds it;
//! - a [`DecodingKey`] is `DecodingKey::from_ed_der` of the 32-byte public
//!   key (or of its SubjectPublicKeyInfo), or `from_ed_components` of its
//!   base64url form. Verification is strict (RFC 8032 section 5.1.7).
//!
//! The claims are the CWT claims in JSON form (RFC 9200 section 8.13):
//! `jti` is the base64url of `cti`; `cnf` holds a `jwk` (RFC 7800) or a
//! `kid`; `ace_profile` is the profile name; `cnonce` is base64url; a
//! binary scope travels as the base64url of its JSON AIF array (the form
//! RFC 9431 section 3 uses for AIF scopes), a text scope as itself.
//! Symmetric key material never goes into a JWT: without JWE it would be
//! readable by anyone holding the token.

use crate::config::AceProfile;
use crate::policy::ScopeModel;
use ace_proto::Codec;
use ace_proto::consts::cose::{alg, crv};
use ace_proto::credential::{CoseKey, PublicKey};
use ace_proto::cwt::{Audience, ClaimsSet, Confirmation, NumericDate};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use ace_proto::roles::Roles;
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error as JwtLibError, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value as Json, json};
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 section 7):
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING {
/// OCTET STRING (32) } }`.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The SubjectPublicKeyInfo prefix of an Ed25519 public key (RFC 8410
/// section 4).
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The `jsonwebtoken` crypto provider of this crate: EdDSA over
/// `ace_proto::keys`.
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: unsupported_rsa,
        rsa_pub_components_from_public_key: unsupported_rsa,
        ec_pub_components_from_private_key: unsupported_ec,
        ed_pub_components_from_private_key: ed_public_from_private,
        compute_digest,
    },
};

static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs [`PROVIDER`] as the process's `jsonwebtoken` provider, once.
/// Returns whether it is the installed one (`false` if another provider
/// was installed before; JWTs then go through that one).
pub fn install_provider() -> bool {
    *INSTALLED.get_or_init(|| PROVIDER.install_default().is_ok())
}

/// The PKCS#8 v1 DER of an Ed25519 private key from its 32-byte seed (RFC
/// 8410 section 7), for `EncodingKey::from_ed_der`.
pub fn ed25519_pkcs8(seed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&PKCS8_ED25519_PREFIX);
    der.extend_from_slice(seed);
    der
}

fn pkcs8_seed(der: &[u8]) -> Option<&[u8]> {
    der.strip_prefix(&PKCS8_ED25519_PREFIX[..])
        .filter(|seed| seed.len() == 32)
}

fn raw_public_key(bytes: &[u8]) -> Option<&[u8]> {
    match bytes.len() {
        32 => Some(bytes),
        44 => bytes
            .strip_prefix(&SPKI_ED25519_PREFIX[..])
            .filter(|x| x.len() == 32),
        _ => None,
    }
}

struct EdDsaSigner(SigningKey);

impl jsonwebtoken::signature::Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        Ok(self.0.sign(msg))
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdDsaVerifier(VerifyingKey);

impl jsonwebtoken::signature::Verifier<Vec<u8>> for EdDsaVerifier {
    fn verify(
        &self,
        msg: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        self.0
            .verify(msg, signature)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for EdDsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn new_signer(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let seed = pkcs8_seed(key.as_bytes()).ok_or(ErrorKind::InvalidEddsaKey)?;
    let key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, seed)
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdDsaSigner(key)))
}

fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let x = raw_public_key(key.try_get_as_bytes()?).ok_or(ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::ed25519(x).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdDsaVerifier(key)))
}

fn unsupported_rsa(_: &[u8]) -> jsonwebtoken::errors::Result<(Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::UnsupportedAlgorithm.into())
}

fn unsupported_ec(
    _: &[u8],
    _: Algorithm,
) -> jsonwebtoken::errors::Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::UnsupportedAlgorithm.into())
}

fn ed_public_from_private(
    der: &[u8],
    curve: &EllipticCurve,
) -> jsonwebtoken::errors::Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let seed = pkcs8_seed(der).ok_or(ErrorKind::InvalidEddsaKey)?;
    let key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, seed)
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(key.verifying_key().coordinates().0)
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> jsonwebtoken::errors::Result<Vec<u8>> {
    use sha2::Digest as _;
    Ok(match hash {
        ThumbprintHash::SHA256 => sha2::Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => sha2::Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    })
}

/// Why a JWT could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The signing key is not Ed25519.
    #[error("JWT access tokens are signed with EdDSA; the key is not Ed25519")]
    NotEd25519,
    /// A claim holds symmetric key material, which a signed JWT would
    /// expose.
    #[error(
        "a JWT would expose the symmetric key in cnf; it needs encryption (JWE), which this AS does not issue"
    )]
    SymmetricKey,
    /// A claim has no JSON form here.
    #[error("claim {0} has no JSON form")]
    Unsupported(String),
    /// The token or a claim does not parse.
    #[error("invalid JWT: {0}")]
    Invalid(String),
    /// `jsonwebtoken` refused the token (signature, algorithm, audience).
    #[error("JWT refused: {0}")]
    Refused(String),
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| JwtError::Invalid(format!("{what}: {e}")))
}

/// Signs `claims` as a JWT with `key` (Ed25519), `kid` in the header as
/// base64url.
pub fn encode(
    claims: &ClaimsSet,
    key: &SigningKey,
    kid: Option<&[u8]>,
) -> Result<String, JwtError> {
    install_provider();
    let SigningKey::Ed25519(ed) = key else {
        return Err(JwtError::NotEd25519);
    };
    let payload = claims_to_json(claims)?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = kid.map(b64);
    let seed = Zeroizing::new(ed.to_bytes());
    let der = ed25519_pkcs8(&seed);
    let encoding_key = EncodingKey::from_ed_der(&der);
    jsonwebtoken::encode(&header, &payload, &encoding_key).map_err(|e| refused(&e))
}

fn refused(e: &JwtLibError) -> JwtError {
    JwtError::Refused(e.to_string())
}

/// Verifies a JWT's EdDSA signature with `key` and its `aud` against
/// `audience`, and returns its claims in CWT form, the binary scope read
/// under `model`. Time claims are not checked here: the caller compares
/// `exp` with its own clock.
pub fn decode(
    token: &str,
    key: &VerifyingKey,
    audience: &str,
    model: ScopeModel,
) -> Result<ClaimsSet, JwtError> {
    install_provider();
    let VerifyingKey::Ed25519(ed) = key else {
        return Err(JwtError::NotEd25519);
    };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    let decoding_key = DecodingKey::from_ed_der(ed.as_bytes());
    let data = jsonwebtoken::decode::<Map<String, Json>>(token, &decoding_key, &validation)
        .map_err(|e| refused(&e))?;
    claims_from_json(&data.claims, model)
}

// ---------------------------------------------------------------------------
// Claims in JSON
// ---------------------------------------------------------------------------

/// The JSON form of `claims` (RFC 7519 section 4, RFC 9200 section 8.13).
pub fn claims_to_json(claims: &ClaimsSet) -> Result<Json, JwtError> {
    let mut out = Map::new();
    if let Some(iss) = &claims.iss {
        out.insert("iss".into(), json!(iss));
    }
    if let Some(sub) = &claims.sub {
        out.insert("sub".into(), json!(sub));
    }
    if let Some(aud) = &claims.aud {
        out.insert(
            "aud".into(),
            match aud {
                Audience::Single(a) => json!(a),
                Audience::Multiple(all) => json!(all),
            },
        );
    }
    for (name, date) in [
        ("exp", &claims.exp),
        ("nbf", &claims.nbf),
        ("iat", &claims.iat),
    ] {
        if let Some(d) = date {
            out.insert(
                name.into(),
                match d {
                    NumericDate::Integer(i) => json!(i),
                    NumericDate::Float(f) => json!(f),
                },
            );
        }
    }
    if let Some(cti) = &claims.cti {
        out.insert("jti".into(), json!(b64(cti)));
    }
    if let Some(cnf) = &claims.cnf {
        out.insert("cnf".into(), cnf_to_json(cnf)?);
    }
    if let Some(scope) = &claims.scope {
        out.insert("scope".into(), json!(scope_to_json(scope)?));
    }
    if let Some(profile) = claims.ace_profile {
        out.insert(
            "ace_profile".into(),
            match AceProfile::from_value(profile) {
                Some(p) => json!(p.name()),
                None => json!(profile),
            },
        );
    }
    if let Some(cnonce) = &claims.cnonce {
        out.insert("cnonce".into(), json!(b64(cnonce)));
    }
    if let Some(exi) = claims.exi {
        out.insert("exi".into(), json!(exi));
    }
    if let Some((key, _)) = claims.rest.first() {
        return Err(JwtError::Unsupported(format!("{key:?}")));
    }
    Ok(Json::Object(out))
}

/// The CWT form of JSON claims; a string `scope` is read under `model`.
/// Unknown claims are ignored.
pub fn claims_from_json(
    json: &Map<String, Json>,
    model: ScopeModel,
) -> Result<ClaimsSet, JwtError> {
    let text = |name: &str| -> Result<Option<String>, JwtError> {
        match json.get(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JwtError::Invalid(format!("{name} is not a string"))),
        }
    };
    let date = |name: &str| -> Result<Option<NumericDate>, JwtError> {
        match json.get(name) {
            None => Ok(None),
            Some(Json::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Some(NumericDate::Integer(i))),
                (None, Some(f)) if f.is_finite() => Ok(Some(NumericDate::Float(f))),
                _ => Err(JwtError::Invalid(format!("{name} is not a NumericDate"))),
            },
            Some(_) => Err(JwtError::Invalid(format!("{name} is not a number"))),
        }
    };
    let aud = match json.get("aud") {
        None => None,
        Some(Json::String(a)) => Some(Audience::Single(a.clone())),
        Some(Json::Array(items)) => Some(Audience::Multiple(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| JwtError::Invalid("aud holds a non-string".into()))
                })
                .collect::<Result<_, _>>()?,
        )),
        Some(_) => return Err(JwtError::Invalid("aud is not a string or array".into())),
    };
    let ace_profile = match json.get("ace_profile") {
        None => None,
        Some(Json::String(name)) => Some(
            AceProfile::from_name(name)
                .ok_or_else(|| JwtError::Invalid(format!("unknown ace_profile {name:?}")))?
                .value(),
        ),
        Some(Json::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| JwtError::Invalid("ace_profile out of range".into()))?,
        ),
        Some(_) => return Err(JwtError::Invalid("ace_profile is not a string".into())),
    };
    let exi = match json.get("exi") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| JwtError::Invalid("exi is not an unsigned integer".into()))?,
        ),
    };
    Ok(ClaimsSet {
        iss: text("iss")?,
        sub: text("sub")?,
        aud,
        exp: date("exp")?,
        nbf: date("nbf")?,
        iat: date("iat")?,
        cti: text("jti")?.map(|j| unb64(&j, "jti")).transpose()?,
        cnf: json.get("cnf").map(cnf_from_json).transpose()?,
        scope: text("scope")?
            .map(|s| scope_from_json(&s, model))
            .transpose()?,
        ace_profile,
        cnonce: text("cnonce")?.map(|c| unb64(&c, "cnonce")).transpose()?,
        exi,
        ..ClaimsSet::default()
    })
}

fn cnf_to_json(cnf: &Confirmation) -> Result<Json, JwtError> {
    match cnf {
        Confirmation::CoseKey(key) => Ok(json!({ "jwk": cose_key_to_jwk(key)? })),
        Confirmation::Kid(kid) => Ok(json!({ "kid": b64(kid) })),
        Confirmation::Osc(_) => Err(JwtError::SymmetricKey),
        Confirmation::EncryptedCoseKey(_) => {
            Err(JwtError::Unsupported("cnf Encrypted_COSE_Key".into()))
        }
        Confirmation::Other(method, _) => Err(JwtError::Unsupported(format!("cnf {method:?}"))),
    }
}

fn cnf_from_json(value: &Json) -> Result<Confirmation, JwtError> {
    let Json::Object(map) = value else {
        return Err(JwtError::Invalid("cnf is not an object".into()));
    };
    if map.len() != 1 {
        return Err(JwtError::Invalid(
            "cnf must hold exactly one confirmation method".into(),
        ));
    }
    match (map.get("jwk"), map.get("kid")) {
        (Some(jwk), None) => jwk_to_cose_key(jwk).map(Confirmation::CoseKey),
        (None, Some(Json::String(kid))) => Ok(Confirmation::Kid(unb64(kid, "cnf kid")?)),
        _ => Err(JwtError::Unsupported(
            "cnf method other than jwk or kid".into(),
        )),
    }
}

/// The JWK of a public COSE_Key (RFC 8037 section 2 for OKP, RFC 7518
/// section 6.2 for EC). Symmetric and private keys are refused.
pub fn cose_key_to_jwk(key: &CoseKey) -> Result<Json, JwtError> {
    if key.symmetric_key().is_some() {
        return Err(JwtError::SymmetricKey);
    }
    let public = key
        .public_key()
        .map_err(|e| JwtError::Unsupported(format!("cnf COSE_Key: {e}")))?;
    let mut jwk = match public {
        PublicKey::Ed25519(x) => json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&x) }),
        PublicKey::P256 { x, y } => {
            json!({ "kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y) })
        }
        PublicKey::X25519(x) => json!({ "kty": "OKP", "crv": "X25519", "x": b64(&x) }),
    };
    if let Json::Object(map) = &mut jwk {
        if let Some(kid) = key.kid() {
            map.insert("kid".into(), json!(b64(kid)));
        }
        match key.alg() {
            Some(ace_proto::cbor::IntOrText::Int(alg::EDDSA)) => {
                map.insert("alg".into(), json!("EdDSA"));
            }
            Some(ace_proto::cbor::IntOrText::Int(alg::ES256)) => {
                map.insert("alg".into(), json!("ES256"));
            }
            _ => {}
        }
    }
    Ok(jwk)
}

/// The COSE_Key of a public JWK (OKP Ed25519 or EC P-256).
pub fn jwk_to_cose_key(jwk: &Json) -> Result<CoseKey, JwtError> {
    let field = |name: &str| -> Result<&str, JwtError> {
        jwk.get(name)
            .and_then(Json::as_str)
            .ok_or_else(|| JwtError::Invalid(format!("jwk has no {name}")))
    };
    let kid = jwk
        .get("kid")
        .and_then(Json::as_str)
        .map(|k| unb64(k, "jwk kid"))
        .transpose()?;
    let algorithm = match jwk.get("alg").and_then(Json::as_str) {
        None => None,
        Some("EdDSA") => Some(alg::EDDSA),
        Some("ES256") => Some(alg::ES256),
        Some(other) => return Err(JwtError::Unsupported(format!("jwk alg {other}"))),
    };
    let key = match (field("kty")?, field("crv")?) {
        ("OKP", "Ed25519") => CoseKey::okp(
            crv::ED25519,
            &unb64(field("x")?, "jwk x")?,
            kid.as_deref(),
            algorithm,
        ),
        ("EC", "P-256") => CoseKey::ec2(
            crv::P256,
            &unb64(field("x")?, "jwk x")?,
            &unb64(field("y")?, "jwk y")?,
            kid.as_deref(),
            algorithm,
        ),
        (kty, crv) => return Err(JwtError::Unsupported(format!("jwk {kty} {crv}"))),
    };
    key.public_key()
        .map_err(|e| JwtError::Invalid(format!("jwk: {e}")))?;
    Ok(key)
}

/// A scope in JWT form: a text scope as itself; a binary scope as the
/// base64url of its entries as a JSON AIF array (`[["g1", 6]]`, textual
/// entries `[["g1", "role"]]`).
pub fn scope_to_json(scope: &ScopeValue) -> Result<String, JwtError> {
    match scope {
        ScopeValue::Text(t) => Ok(t.clone()),
        ScopeValue::Binary(_) | ScopeValue::Extended { .. } => {
            let entries = scope
                .group_scope()
                .map_err(|e| JwtError::Unsupported(format!("binary scope: {e}")))?;
            let array: Vec<Json> = entries
                .entries
                .iter()
                .map(|e| {
                    let mut item = vec![json!(e.name)];
                    match &e.roles {
                        None => {}
                        Some(Roles::Aif(bits)) => item.push(json!(bits)),
                        Some(Roles::Text(r)) if r.len() == 1 => item.push(json!(r[0])),
                        Some(Roles::Text(r)) => item.push(json!(r)),
                    }
                    Json::Array(item)
                })
                .collect();
            Ok(b64(Json::Array(array).to_string().as_bytes()))
        }
    }
}

/// The inverse of [`scope_to_json`] under `model`.
pub fn scope_from_json(text: &str, model: ScopeModel) -> Result<ScopeValue, JwtError> {
    if model == ScopeModel::Text {
        return Ok(ScopeValue::Text(text.to_string()));
    }
    let bytes = unb64(text, "scope")?;
    let array: Json =
        serde_json::from_slice(&bytes).map_err(|e| JwtError::Invalid(format!("scope: {e}")))?;
    let Json::Array(items) = array else {
        return Err(JwtError::Invalid("scope is not a JSON array".into()));
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let bad = || JwtError::Invalid("scope entry is not [name, permissions]".into());
        let Json::Array(parts) = item else {
            return Err(bad());
        };
        let name = parts.first().and_then(Json::as_str).ok_or_else(bad)?;
        let roles = match parts.get(1) {
            None => None,
            Some(Json::Number(n)) => Some(Roles::Aif(n.as_u64().ok_or_else(bad)?)),
            Some(Json::String(r)) => Some(Roles::text(r.clone())),
            Some(Json::Array(rs)) => Some(Roles::Text(
                rs.iter()
                    .map(|r| r.as_str().map(str::to_string).ok_or_else(bad))
                    .collect::<Result<_, _>>()?,
            )),
            Some(_) => return Err(bad()),
        };
        if parts.len() > 2 {
            return Err(bad());
        }
        entries.push(ScopeEntry {
            name: name.to_string(),
            roles,
        });
    }
    let scope = GroupScope::new(entries);
    // Round-trip through CBOR so the usual checks (one format) apply.
    GroupScope::decode(&scope.encode()).map_err(|e| JwtError::Invalid(format!("scope: {e}")))?;
    Ok(ScopeValue::group(&scope))
}

/// Whether `token` looks like a JWS compact serialization (three base64url
/// parts separated by dots).
pub fn looks_like_jwt(token: &[u8]) -> bool {
    token.iter().filter(|b| **b == b'.').count() == 2
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
