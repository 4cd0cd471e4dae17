//! CWT claims sets (RFC 8392) with the ACE claims (RFC 9200), sealed and opened
//! as COSE_Sign1, COSE_Mac0 or COSE_Encrypt0.
//!
//! - [`ClaimsSet`]: the claims map, with `cnf` ([`Confirmation`], RFC 8747,
//!   RFC 9203), `scope` (text, bytes or an extended scope), `ace_profile`,
//!   `cnonce`, `exi`; unknown claims are kept.
//! - Sealing: [`ClaimsSet::seal_sign1`] (EdDSA with Ed25519, ES256),
//!   [`ClaimsSet::seal_mac0`] (HMAC 256/64, HMAC 256/256) and
//!   [`ClaimsSet::seal_encrypt0`] (AES-CCM-16-64-128), untagged, with the
//!   COSE tag, or with the CWT tag 61 around the COSE tag ([`Tagging`]).
//! - Opening: a [`TokenVerifier`] holds the keys the RS trusts and the
//!   audiences it answers to; [`TokenVerifier::open`] strips the tags,
//!   verifies or decrypts every layer (nested CWTs included), decodes the
//!   claims and checks `iss`, `exp`, `nbf` and `aud` against the time the
//!   caller passes. Failures are [`TokenError`]s that know their CoAP
//!   response (RFC 9200 section 5.10.1.1). A [`VerifiedToken`] can only be
//!   made by the verifier.
//!
//! The COSE structures are `coset`'s; this module supplies the crypto.

use crate::cbor::{self, Codec, IntOrText, MapReader, Value};
use crate::code::Code;
use crate::consts::cose::{alg, tag as cose_tag};
use crate::consts::cwt::{self as claim, CWT_TAG, cnf as method};
use crate::credential::CoseKey;
use crate::error::DecodeError;
use crate::keys::{SigningKey, VerifyingKey};
use crate::oscore_input::OscoreInputMaterial;
use crate::scope::ScopeValue;
use coset::{AsCborValue, CoseEncrypt0, CoseMac0, CoseSign1, Header, iana};
use std::fmt;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------
// Claim value types
// ---------------------------------------------------------------------------

/// A NumericDate (RFC 8392 section 2): seconds since the Unix epoch, as an
/// integer or a floating-point number (RFC 8392 A.7 has a float `iat`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumericDate {
    /// Whole seconds.
    Integer(i64),
    /// Seconds with a fraction. Never NaN or infinite.
    Float(f64),
}

impl NumericDate {
    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Integer(i) => Value::from(*i),
            Self::Float(f) => Value::Float(*f),
        }
    }

    /// Reads an integer or a finite float.
    pub fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Float(f) if f.is_finite() => Ok(Self::Float(f)),
            Value::Float(_) => Err(DecodeError::invalid(context, "NumericDate is not finite")),
            other => cbor::int(other, context).map(Self::Integer),
        }
    }

    /// The value as a float (exact for integers up to 2^53).
    pub fn as_f64(&self) -> f64 {
        match self {
            Self::Integer(i) => *i as f64,
            Self::Float(f) => *f,
        }
    }

    /// Whether `self <= now - leeway`: for `exp`, the token has expired
    /// (RFC 7519 section 4.1.4: the current time must be before `exp`).
    fn has_passed(&self, now: u64, leeway: u64) -> bool {
        match self {
            Self::Integer(i) => i128::from(now) >= i128::from(*i) + i128::from(leeway),
            Self::Float(f) => now as f64 >= f + leeway as f64,
        }
    }

    /// Whether `now + leeway < self`: for `nbf`, the token is not valid yet.
    fn is_after(&self, now: u64, leeway: u64) -> bool {
        match self {
            Self::Integer(i) => i128::from(now) + i128::from(leeway) < i128::from(*i),
            Self::Float(f) => (now as f64 + leeway as f64) < *f,
        }
    }
}

impl fmt::Display for NumericDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
        }
    }
}

/// The `aud` claim (RFC 8392 section 3.1.3): one StringOrURI, or an array of
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// A single audience (the form the ACE RFCs use).
    Single(String),
    /// Several audiences.
    Multiple(Vec<String>),
}

impl Audience {
    /// Whether `audience` is among the values.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::Single(a) => a == audience,
            Self::Multiple(all) => all.iter().any(|a| a == audience),
        }
    }

    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Single(a) => Value::Text(a.clone()),
            Self::Multiple(all) => Value::Array(all.iter().cloned().map(Value::Text).collect()),
        }
    }

    /// Reads a text string or an array of text strings.
    pub fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Text(a) => Ok(Self::Single(a)),
            Value::Array(items) => items
                .into_iter()
                .map(|v| cbor::text(v, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Multiple),
            other => Err(DecodeError::UnexpectedItem {
                context,
                want: "text string or array of text strings",
                got: cbor::type_name(&other),
            }),
        }
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Self::Single(a.to_string())
    }
}

/// A confirmation method: the value of `cnf` (RFC 8747 section 3.1), and of
/// `req_cnf` and `rs_cnf` (RFC 9201 section 5). The map holds exactly one
/// method, naming a single proof-of-possession key.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    /// `COSE_Key` (1): the key itself (RFC 8747 section 3.2).
    CoseKey(CoseKey),
    /// `Encrypted_COSE_Key` (2): a COSE_Encrypt or COSE_Encrypt0 whose
    /// plaintext is a COSE_Key (RFC 8747 section 3.3), kept as data.
    EncryptedCoseKey(Value),
    /// `kid` (3): a reference to a key the recipient holds (RFC 8747 section
    /// 3.4).
    Kid(Vec<u8>),
    /// `osc` (4): OSCORE_Input_Material (RFC 9203 section 3.2.1).
    Osc(OscoreInputMaterial),
    /// A method this crate does not know, kept as data.
    Other(IntOrText, Value),
}

impl Codec for Confirmation {
    fn to_value(&self) -> Value {
        let (key, value) = match self {
            Self::CoseKey(k) => (Value::from(method::COSE_KEY), k.to_value()),
            Self::EncryptedCoseKey(v) => (Value::from(method::ENCRYPTED_COSE_KEY), v.clone()),
            Self::Kid(kid) => (Value::from(method::KID), Value::Bytes(kid.clone())),
            Self::Osc(m) => (Value::from(method::OSC), m.to_value()),
            Self::Other(k, v) => (k.to_value(), v.clone()),
        };
        Value::Map(vec![(key, value)])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "cnf";
        let mut entries = MapReader::new(value, CONTEXT)?.into_rest();
        if entries.len() != 1 {
            return Err(DecodeError::invalid(
                CONTEXT,
                format!(
                    "expected exactly one confirmation method, got {}",
                    entries.len()
                ),
            ));
        }
        let Some((key, value)) = entries.pop() else {
            return Err(DecodeError::missing(CONTEXT, "confirmation method"));
        };
        match key {
            IntOrText::Int(method::COSE_KEY) => CoseKey::from_value(value).map(Self::CoseKey),
            IntOrText::Int(method::ENCRYPTED_COSE_KEY) => match value {
                Value::Array(_) => Ok(Self::EncryptedCoseKey(value)),
                Value::Tag(cose_tag::ENCRYPT0 | cose_tag::ENCRYPT, ref inner)
                    if matches!(**inner, Value::Array(_)) =>
                {
                    Ok(Self::EncryptedCoseKey(value))
                }
                other => Err(DecodeError::UnexpectedItem {
                    context: "cnf Encrypted_COSE_Key",
                    want: "COSE_Encrypt or COSE_Encrypt0",
                    got: cbor::type_name(&other),
                }),
            },
            IntOrText::Int(method::KID) => cbor::bytes(value, "cnf kid").map(Self::Kid),
            IntOrText::Int(method::OSC) => OscoreInputMaterial::from_value(value).map(Self::Osc),
            other => Ok(Self::Other(other, value)),
        }
    }
}

// ---------------------------------------------------------------------------
// The claims set
// ---------------------------------------------------------------------------

/// A CWT Claims Set (RFC 8392 section 3), with the ACE claims of RFC 9200
/// section 5.10 and 8.14.
///
/// Claims are written in the order `iss, sub, aud, exp, nbf, iat, cti, cnf,
/// scope, ace_profile, cnonce, exi`, then unknown claims in `rest` order,
/// unless `claim_order` says otherwise: keys listed there come first, in
/// that order (RFC 9203's example uses `aud, iat, exp, scope, cnf`).
/// Decoding records the wire order in `claim_order`, so a decoded set
/// encodes back to the same bytes. `claim_order` is presentation only:
/// equality compares the claims (unknown claims in any order).
#[derive(Debug, Clone, Default)]
pub struct ClaimsSet {
    /// `iss` (1).
    pub iss: Option<String>,
    /// `sub` (2).
    pub sub: Option<String>,
    /// `aud` (3).
    pub aud: Option<Audience>,
    /// `exp` (4).
    pub exp: Option<NumericDate>,
    /// `nbf` (5).
    pub nbf: Option<NumericDate>,
    /// `iat` (6).
    pub iat: Option<NumericDate>,
    /// `cti` (7).
    pub cti: Option<Vec<u8>>,
    /// `cnf` (8), RFC 8747.
    pub cnf: Option<Confirmation>,
    /// `scope` (9): text, bytes, or an extended (tagged) scope.
    pub scope: Option<ScopeValue>,
    /// `ace_profile` (38), RFC 9200 section 5.10.
    pub ace_profile: Option<i64>,
    /// `cnonce` (39), RFC 9200 section 5.10.
    pub cnonce: Option<Vec<u8>>,
    /// `exi` (40), RFC 9200 section 5.10.3: lifetime in seconds from first
    /// receipt at the RS.
    pub exi: Option<u64>,
    /// Claims this crate does not interpret, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
    /// Keys to write first, in this order (see the type documentation).
    pub claim_order: Vec<IntOrText>,
}

impl PartialEq for ClaimsSet {
    fn eq(&self, other: &Self) -> bool {
        self.iss == other.iss
            && self.sub == other.sub
            && self.aud == other.aud
            && self.exp == other.exp
            && self.nbf == other.nbf
            && self.iat == other.iat
            && self.cti == other.cti
            && self.cnf == other.cnf
            && self.scope == other.scope
            && self.ace_profile == other.ace_profile
            && self.cnonce == other.cnonce
            && self.exi == other.exi
            && self.rest.len() == other.rest.len()
            && self.rest.iter().all(|entry| other.rest.contains(entry))
    }
}

impl ClaimsSet {
    /// Whether the claim with integer key `key` is present.
    pub fn has_claim(&self, key: i64) -> bool {
        let in_field = match key {
            claim::ISS => self.iss.is_some(),
            claim::SUB => self.sub.is_some(),
            claim::AUD => self.aud.is_some(),
            claim::EXP => self.exp.is_some(),
            claim::NBF => self.nbf.is_some(),
            claim::IAT => self.iat.is_some(),
            claim::CTI => self.cti.is_some(),
            claim::CNF => self.cnf.is_some(),
            claim::SCOPE => self.scope.is_some(),
            claim::ACE_PROFILE => self.ace_profile.is_some(),
            claim::CNONCE => self.cnonce.is_some(),
            claim::EXI => self.exi.is_some(),
            _ => false,
        };
        in_field || self.rest.iter().any(|(k, _)| *k == IntOrText::Int(key))
    }

    fn known_entries(&self) -> Vec<(i64, Value)> {
        let mut out = Vec::with_capacity(12);
        let mut push = |key: i64, value: Option<Value>| {
            if let Some(v) = value {
                out.push((key, v));
            }
        };
        push(claim::ISS, self.iss.clone().map(Value::Text));
        push(claim::SUB, self.sub.clone().map(Value::Text));
        push(claim::AUD, self.aud.as_ref().map(Audience::to_value));
        push(claim::EXP, self.exp.as_ref().map(NumericDate::to_value));
        push(claim::NBF, self.nbf.as_ref().map(NumericDate::to_value));
        push(claim::IAT, self.iat.as_ref().map(NumericDate::to_value));
        push(claim::CTI, self.cti.clone().map(Value::Bytes));
        push(claim::CNF, self.cnf.as_ref().map(Codec::to_value));
        push(claim::SCOPE, self.scope.as_ref().map(ScopeValue::to_value));
        push(claim::ACE_PROFILE, self.ace_profile.map(Value::from));
        push(claim::CNONCE, self.cnonce.clone().map(Value::Bytes));
        push(claim::EXI, self.exi.map(Value::from));
        out
    }

    /// Seals the claims as a COSE_Sign1 signed with `key` (EdDSA for
    /// Ed25519, ES256 for P-256), with `kid` in the unprotected header.
    pub fn seal_sign1(
        &self,
        key: &SigningKey,
        kid: Option<&[u8]>,
        tagging: Tagging,
    ) -> Result<Vec<u8>, SealError> {
        sign1(
            &self.encode(),
            key,
            Header::default(),
            kid_header(kid),
            tagging,
        )
    }

    /// Seals the claims as a COSE_Mac0 with `alg` and `key`, with `kid` in
    /// the unprotected header.
    pub fn seal_mac0(
        &self,
        key: &[u8],
        algorithm: MacAlgorithm,
        kid: Option<&[u8]>,
        tagging: Tagging,
    ) -> Result<Vec<u8>, SealError> {
        mac0(&self.encode(), key, algorithm, kid_header(kid), tagging)
    }

    /// Seals the claims as a COSE_Encrypt0 with AES-CCM-16-64-128 under
    /// `key`, with a fresh random 13-byte IV; `kid` and the IV go in the
    /// unprotected header.
    pub fn seal_encrypt0(
        &self,
        key: &[u8; 16],
        kid: Option<&[u8]>,
        tagging: Tagging,
    ) -> Result<Vec<u8>, SealError> {
        let mut iv = [0u8; AES_CCM_NONCE_LEN];
        iv.copy_from_slice(&crate::keys::random_bytes(AES_CCM_NONCE_LEN));
        self.seal_encrypt0_with_iv(key, &iv, kid, tagging)
    }

    /// As [`ClaimsSet::seal_encrypt0`] with a given IV. The IV must never
    /// repeat under one key; this form exists for test vectors.
    pub fn seal_encrypt0_with_iv(
        &self,
        key: &[u8; 16],
        iv: &[u8; AES_CCM_NONCE_LEN],
        kid: Option<&[u8]>,
        tagging: Tagging,
    ) -> Result<Vec<u8>, SealError> {
        encrypt0(&self.encode(), key, iv, kid_header(kid), tagging)
    }
}

impl Codec for ClaimsSet {
    fn to_value(&self) -> Value {
        let mut entries: Vec<(IntOrText, Value)> = self
            .known_entries()
            .into_iter()
            .map(|(k, v)| (IntOrText::Int(k), v))
            .chain(self.rest.iter().cloned())
            .collect();
        // Move the keys named in `claim_order` to the front, in that order.
        let mut ordered = Vec::with_capacity(entries.len());
        for key in &self.claim_order {
            if let Some(at) = entries.iter().position(|(k, _)| k == key) {
                ordered.push(entries.remove(at));
            }
        }
        ordered.append(&mut entries);
        Value::Map(
            ordered
                .into_iter()
                .map(|(k, v)| (k.to_value(), v))
                .collect(),
        )
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "CWT claims set";
        let order: Vec<IntOrText> = match &value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, _)| IntOrText::from_value(k.clone(), CONTEXT).ok())
                .collect(),
            _ => Vec::new(),
        };
        let mut map = MapReader::new(value, CONTEXT)?;
        let date = |v: Option<Value>, name| v.map(|v| NumericDate::from_value(v, name)).transpose();
        let claims = Self {
            iss: map.opt_text(claim::ISS, "iss")?,
            sub: map.opt_text(claim::SUB, "sub")?,
            aud: map
                .take(claim::AUD)
                .map(|v| Audience::from_value(v, "aud"))
                .transpose()?,
            exp: date(map.take(claim::EXP), "exp")?,
            nbf: date(map.take(claim::NBF), "nbf")?,
            iat: date(map.take(claim::IAT), "iat")?,
            cti: map.opt_bytes(claim::CTI, "cti")?,
            cnf: map
                .take(claim::CNF)
                .map(Confirmation::from_value)
                .transpose()?,
            scope: map
                .take(claim::SCOPE)
                .map(|v| ScopeValue::from_claim_value(v, "scope"))
                .transpose()?,
            ace_profile: map.opt_int(claim::ACE_PROFILE, "ace_profile")?,
            cnonce: map.opt_bytes(claim::CNONCE, "cnonce")?,
            exi: map.opt_uint(claim::EXI, "exi")?,
            rest: Vec::new(),
            claim_order: order,
        };
        Ok(Self {
            rest: map.into_rest(),
            ..claims
        })
    }
}

// ---------------------------------------------------------------------------
// Sealing
// ---------------------------------------------------------------------------

/// Length of the AES-CCM-16-64-128 nonce (RFC 9053 section 4.2).
pub const AES_CCM_NONCE_LEN: usize = 13;
/// Length of the AES-CCM-16-64-128 tag.
const AES_CCM_TAG_LEN: usize = 8;
/// Largest plaintext AES-CCM with a 13-byte nonce can protect (L = 2).
const AES_CCM_MAX_PLAINTEXT: usize = 0xffff;
/// How many COSE layers a token may nest (RFC 8392 A.6 has two).
const MAX_LAYERS: usize = 4;

type AesCcm16_64_128 = ccm::Ccm<aes::Aes128, ccm::consts::U8, ccm::consts::U13>;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Which CBOR tags a sealed token carries (RFC 8392 section 6, RFC 9052
/// section 2). An ACE token is usually untagged or COSE-tagged: the context
/// (`application/cwt`, `access_token`) already says it is a CWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tagging {
    /// The bare COSE array.
    Untagged,
    /// The COSE tag (18, 17 or 16).
    Cose,
    /// The CWT tag 61 around the COSE-tagged object: `61(18([...]))`.
    Cwt,
}

/// A MAC algorithm for COSE_Mac0 (RFC 9053 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// HMAC 256/64 (alg 4): HMAC-SHA-256 truncated to 8 bytes.
    Hmac256_64,
    /// HMAC 256/256 (alg 5).
    Hmac256_256,
}

impl MacAlgorithm {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Hmac256_64 => alg::HMAC_256_64,
            Self::Hmac256_256 => alg::HMAC_256_256,
        }
    }

    /// The algorithm with COSE identifier `id`, if implemented.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            alg::HMAC_256_64 => Some(Self::Hmac256_64),
            alg::HMAC_256_256 => Some(Self::Hmac256_256),
            _ => None,
        }
    }

    /// Length of the tag in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Self::Hmac256_64 => 8,
            Self::Hmac256_256 => 32,
        }
    }

    fn iana(self) -> iana::Algorithm {
        match self {
            Self::Hmac256_64 => iana::Algorithm::HMAC_256_64,
            Self::Hmac256_256 => iana::Algorithm::HMAC_256_256,
        }
    }
}

/// Why a token could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The plaintext exceeds what AES-CCM with a 13-byte nonce protects
    /// (65535 bytes).
    #[error("plaintext of {0} bytes exceeds the AES-CCM-16-64-128 limit of 65535 bytes")]
    PlaintextTooLong(usize),
    /// The COSE structure could not be serialized (duplicate header labels).
    #[error("COSE encoding failed: {0}")]
    Encoding(String),
}

fn kid_header(kid: Option<&[u8]>) -> Header {
    Header {
        key_id: kid.map(<[u8]>::to_vec).unwrap_or_default(),
        ..Header::default()
    }
}

fn finish(
    structure: Result<Value, coset::CoseError>,
    tag: u64,
    tagging: Tagging,
) -> Result<Vec<u8>, SealError> {
    let value = structure.map_err(|e| SealError::Encoding(e.to_string()))?;
    let value = match tagging {
        Tagging::Untagged => value,
        Tagging::Cose => Value::Tag(tag, Box::new(value)),
        Tagging::Cwt => Value::Tag(CWT_TAG, Box::new(Value::Tag(tag, Box::new(value)))),
    };
    Ok(cbor::to_vec(&value))
}

/// Builds a COSE_Sign1 over `payload` (RFC 9052 section 4.2), external AAD
/// empty. `alg` is set in `protected` from the key; other header parameters
/// are kept as given (`coset` writes `alg` first).
pub fn sign1(
    payload: &[u8],
    key: &SigningKey,
    mut protected: Header,
    unprotected: Header,
    tagging: Tagging,
) -> Result<Vec<u8>, SealError> {
    protected.alg = Some(coset::Algorithm::Assigned(match key.algorithm() {
        crate::keys::SignatureAlgorithm::EdDsa => iana::Algorithm::EdDSA,
        crate::keys::SignatureAlgorithm::Es256 => iana::Algorithm::ES256,
    }));
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(payload.to_vec())
        .create_signature(&[], |tbs| key.sign(tbs))
        .build();
    finish(sign1.to_cbor_value(), cose_tag::SIGN1, tagging)
}

/// Builds a COSE_Mac0 over `payload` (RFC 9052 section 6.2) with `alg` in
/// the protected header, external AAD empty.
pub fn mac0(
    payload: &[u8],
    key: &[u8],
    algorithm: MacAlgorithm,
    unprotected: Header,
    tagging: Tagging,
) -> Result<Vec<u8>, SealError> {
    let protected = coset::HeaderBuilder::new()
        .algorithm(algorithm.iana())
        .build();
    let mac0 = coset::CoseMac0Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(payload.to_vec())
        .create_tag(&[], |data| hmac_tag(key, data, algorithm))
        .build();
    finish(mac0.to_cbor_value(), cose_tag::MAC0, tagging)
}

/// Builds a COSE_Encrypt0 of `plaintext` (RFC 9052 section 5.2) with
/// AES-CCM-16-64-128 under `key`; `alg` goes in the protected header, the
/// IV in the unprotected one, external AAD empty.
pub fn encrypt0(
    plaintext: &[u8],
    key: &[u8; 16],
    iv: &[u8; AES_CCM_NONCE_LEN],
    mut unprotected: Header,
    tagging: Tagging,
) -> Result<Vec<u8>, SealError> {
    use ccm::KeyInit as _;
    use ccm::aead::{Aead as _, Payload};
    if plaintext.len() > AES_CCM_MAX_PLAINTEXT {
        return Err(SealError::PlaintextTooLong(plaintext.len()));
    }
    unprotected.iv = iv.to_vec();
    let protected = coset::HeaderBuilder::new()
        .algorithm(iana::Algorithm::AES_CCM_16_64_128)
        .build();
    let cipher = AesCcm16_64_128::new(&(*key).into());
    let nonce = ccm::Nonce::<ccm::consts::U13>::from(*iv);
    let encrypt0 = coset::CoseEncrypt0Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .try_create_ciphertext(plaintext, &[], |pt, aad| {
            cipher
                .encrypt(&nonce, Payload { msg: pt, aad })
                .map_err(|_| SealError::PlaintextTooLong(pt.len()))
        })?
        .build();
    finish(encrypt0.to_cbor_value(), cose_tag::ENCRYPT0, tagging)
}

fn hmac_tag(key: &[u8], data: &[u8], algorithm: MacAlgorithm) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    let full = mac.finalize().into_bytes();
    full[..algorithm.tag_len()].to_vec()
}

fn hmac_verify(key: &[u8], data: &[u8], tag: &[u8], algorithm: MacAlgorithm) -> bool {
    use hmac::{KeyInit as _, Mac as _};
    if tag.len() != algorithm.tag_len() {
        return false;
    }
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    // Constant-time comparison of the leftmost bytes (RFC 9053 section 3.1).
    mac.verify_truncated_left(tag).is_ok()
}

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

/// Why a token was refused. [`TokenError::code`] gives the response the RS
/// sends (RFC 9200 section 5.10.1.1).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    /// The bytes are not a CWT: not CBOR, or not a COSE structure (4.00).
    #[error("not a CWT: {0}")]
    Malformed(String),
    /// A COSE structure or header this implementation does not process
    /// (COSE_Sign/Mac/Encrypt with recipients, a critical header, a Partial
    /// IV) (4.01).
    #[error("unsupported COSE structure: {0}")]
    UnsupportedStructure(String),
    /// The protected `alg` is missing or not one this implementation
    /// verifies (4.01).
    #[error("unsupported or missing COSE algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// No configured key fits the structure, algorithm and `kid` (4.01: the
    /// issuer is not trusted for this RS).
    #[error("no trusted key for this token")]
    UnknownKey,
    /// The COSE_Sign1 signature does not verify (4.01).
    #[error("token signature does not verify")]
    BadSignature,
    /// The COSE_Mac0 tag does not verify (4.01).
    #[error("token MAC does not verify")]
    BadMac,
    /// The COSE_Encrypt0 ciphertext does not decrypt (4.01).
    #[error("token does not decrypt")]
    DecryptionFailed,
    /// The COSE layers nest deeper than this implementation follows (4.00).
    #[error("nested COSE layers exceed {MAX_LAYERS}")]
    NestingTooDeep,
    /// The protected payload is not a valid claims set (4.00: the claims
    /// cannot be obtained).
    #[error("invalid claims: {0}")]
    InvalidClaims(DecodeError),
    /// `iss` is present and not a trusted issuer (4.01).
    #[error("issuer {0:?} is not trusted")]
    WrongIssuer(String),
    /// `exp` has passed (4.01).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim.
        exp: NumericDate,
        /// The time the caller passed.
        now: u64,
    },
    /// `nbf` is in the future (4.01).
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: NumericDate,
        /// The time the caller passed.
        now: u64,
    },
    /// `aud` is absent or names no audience of this RS (4.03).
    #[error("token audience does not include this resource server")]
    WrongAudience,
    /// A claim the verifier requires is absent (4.01).
    #[error("required claim {0} is missing")]
    MissingClaim(i64),
}

impl TokenError {
    /// The CoAP response (RFC 9200 section 5.10.1.1): 4.00 when the token or
    /// its claims cannot be parsed, 4.03 for a wrong audience, 4.01 for
    /// every other invalid token.
    pub fn code(&self) -> Code {
        match self {
            Self::Malformed(_) | Self::NestingTooDeep | Self::InvalidClaims(_) => Code::BAD_REQUEST,
            Self::WrongAudience => Code::FORBIDDEN,
            _ => Code::UNAUTHORIZED,
        }
    }
}

/// The secret or public part of a [`TokenKey`].
#[derive(Clone)]
enum KeyMaterial {
    Verify(VerifyingKey),
    Mac(Zeroizing<Vec<u8>>),
    Aead(Zeroizing<[u8; 16]>),
}

/// A key a [`TokenVerifier`] trusts, optionally bound to a `kid`. A key with
/// a `kid` is tried only for tokens that carry the same `kid` or none.
#[derive(Clone)]
pub struct TokenKey {
    kid: Option<Vec<u8>>,
    material: KeyMaterial,
}

impl TokenKey {
    /// A public key for COSE_Sign1 tokens (EdDSA or ES256, following the
    /// key).
    pub fn verifying(key: VerifyingKey) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Verify(key),
        }
    }

    /// A symmetric key for COSE_Mac0 tokens (HMAC 256/64 or 256/256).
    pub fn mac(key: &[u8]) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Mac(Zeroizing::new(key.to_vec())),
        }
    }

    /// A symmetric key for COSE_Encrypt0 tokens with AES-CCM-16-64-128.
    pub fn aes_ccm_16_64_128(key: &[u8; 16]) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Aead(Zeroizing::new(*key)),
        }
    }

    /// Binds the key to `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: &[u8]) -> Self {
        self.kid = Some(kid.to_vec());
        self
    }

    fn fits_kid(&self, header_kid: &[u8]) -> bool {
        match &self.kid {
            Some(kid) => header_kid.is_empty() || kid == header_kid,
            None => true,
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.material {
            KeyMaterial::Verify(k) => format!("{k:?}"),
            KeyMaterial::Mac(_) => "Mac(<redacted>)".into(),
            KeyMaterial::Aead(_) => "AesCcm16_64_128(<redacted>)".into(),
        };
        write!(f, "TokenKey {{ kid: {:?}, key: {kind} }}", self.kid)
    }
}

/// Claims that passed a [`TokenVerifier`]. Only the verifier makes these, so
/// code that needs a verified token cannot be handed an unchecked one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    claims: ClaimsSet,
    kid: Option<Vec<u8>>,
}

impl VerifiedToken {
    /// The verified claims.
    pub fn claims(&self) -> &ClaimsSet {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> ClaimsSet {
        self.claims
    }

    /// The `kid` of the outermost COSE layer, if it had one.
    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }
}

/// Opens access tokens at a resource server (the KDC): the keys shared with
/// or published by the AS, the audiences the RS answers to, and optional
/// trusted issuers and required claims. Time is an input (`now`, Unix
/// seconds); the verifier never reads a clock.
#[derive(Debug, Clone, Default)]
pub struct TokenVerifier {
    keys: Vec<TokenKey>,
    audiences: Vec<String>,
    issuers: Vec<String>,
    required: Vec<i64>,
    leeway: u64,
}

impl TokenVerifier {
    /// A verifier for tokens addressed to `audience`.
    pub fn new(audience: impl Into<String>) -> Self {
        Self {
            audiences: vec![audience.into()],
            ..Self::default()
        }
    }

    /// A verifier that does not check `aud`: for tokens whose audience is
    /// established otherwise. A resource server should name its audience.
    pub fn without_audience() -> Self {
        Self::default()
    }

    /// Trusts `key`.
    #[must_use]
    pub fn with_key(mut self, key: TokenKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Also answers to `audience`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Trusts tokens whose `iss`, when present, is `issuer`. Without any
    /// issuer configured, `iss` is not checked (the key already names the
    /// AS).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Requires claim `key` (e.g. RFC 9594 section 3.2 requires `cnf`, `exp`
    /// and `scope` in the tokens a KDC accepts).
    #[must_use]
    pub fn with_required_claim(mut self, key: i64) -> Self {
        self.required.push(key);
        self
    }

    /// Tolerates clocks that differ by up to `seconds` when checking `exp`
    /// and `nbf`.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Verifies and decrypts `token` and checks its claims at time `now`.
    ///
    /// Order of checks (RFC 9200 section 5.10.1.1): COSE layers, claims
    /// decoding, `iss`, `exp`, `nbf`, `aud`, required claims.
    pub fn open(&self, token: &[u8], now: u64) -> Result<VerifiedToken, TokenError> {
        let Unprotected {
            payload,
            value,
            kid,
        } = self.unprotect(token)?;
        let value = value.ok_or_else(|| {
            TokenError::InvalidClaims(DecodeError::Malformed(format!(
                "payload of {} bytes is not CBOR",
                payload.len()
            )))
        })?;
        let claims = ClaimsSet::from_value(value).map_err(TokenError::InvalidClaims)?;
        self.check(&claims, now)?;
        Ok(VerifiedToken { claims, kid })
    }

    /// Verifies and decrypts every COSE layer of `token` and returns the
    /// innermost payload, without looking at it (for COSE objects that are
    /// not CWTs, and for tests).
    pub fn verify_payload(&self, token: &[u8]) -> Result<Vec<u8>, TokenError> {
        self.unprotect(token).map(|u| u.payload)
    }

    fn check(&self, claims: &ClaimsSet, now: u64) -> Result<(), TokenError> {
        if let Some(iss) = &claims.iss
            && !self.issuers.is_empty()
            && !self.issuers.contains(iss)
        {
            return Err(TokenError::WrongIssuer(iss.clone()));
        }
        if let Some(exp) = claims.exp
            && exp.has_passed(now, self.leeway)
        {
            return Err(TokenError::Expired { exp, now });
        }
        if let Some(nbf) = claims.nbf
            && nbf.is_after(now, self.leeway)
        {
            return Err(TokenError::NotYetValid { nbf, now });
        }
        if !self.audiences.is_empty() {
            let ok = claims
                .aud
                .as_ref()
                .is_some_and(|aud| self.audiences.iter().any(|a| aud.contains(a)));
            if !ok {
                return Err(TokenError::WrongAudience);
            }
        }
        if let Some(missing) = self.required.iter().find(|k| !claims.has_claim(**k)) {
            return Err(TokenError::MissingClaim(*missing));
        }
        Ok(())
    }

    /// Peels the COSE layers. Returns the innermost payload, its CBOR
    /// decoding when it is one data item, and the outermost `kid`.
    fn unprotect(&self, token: &[u8]) -> Result<Unprotected, TokenError> {
        let mut value =
            cbor::from_slice(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let mut outer_kid = None;
        for layer in 0..MAX_LAYERS {
            let (kind, structure) = classify(value)?;
            let (payload, kid) = match kind {
                Kind::Sign1 => self.open_sign1(structure)?,
                Kind::Mac0 => self.open_mac0(structure)?,
                Kind::Encrypt0 => self.open_encrypt0(structure)?,
            };
            if layer == 0 {
                outer_kid = kid;
            }
            match cbor::from_slice(&payload) {
                Ok(Value::Tag(t, inner)) if is_token_tag(t) => value = Value::Tag(t, inner),
                Ok(inner) => {
                    return Ok(Unprotected {
                        payload,
                        value: Some(inner),
                        kid: outer_kid,
                    });
                }
                Err(_) => {
                    return Ok(Unprotected {
                        payload,
                        value: None,
                        kid: outer_kid,
                    });
                }
            }
        }
        Err(TokenError::NestingTooDeep)
    }

    fn open_sign1(&self, structure: Value) -> Result<(Vec<u8>, Option<Vec<u8>>), TokenError> {
        let sign1 = CoseSign1::from_cbor_value(structure)
            .map_err(|e| TokenError::Malformed(format!("COSE_Sign1: {e}")))?;
        no_crit(&sign1.protected.header)?;
        let id = protected_alg(&sign1.protected.header)?;
        let kid = header_kid(&sign1.protected.header, &sign1.unprotected);
        if sign1.payload.is_none() {
            return Err(TokenError::Malformed(
                "COSE_Sign1 with detached payload".into(),
            ));
        }
        let candidates: Vec<&VerifyingKey> = self
            .keys
            .iter()
            .filter(|k| k.fits_kid(&kid))
            .filter_map(|k| match &k.material {
                KeyMaterial::Verify(vk) if vk.algorithm().cose_id() == id => Some(vk),
                _ => None,
            })
            .collect();
        if crate::keys::SignatureAlgorithm::from_cose_id(id).is_none() {
            return Err(TokenError::UnsupportedAlgorithm(format!(
                "{id} for COSE_Sign1"
            )));
        }
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let tbs = sign1.tbs_data(&[]);
        if candidates
            .iter()
            .any(|vk| vk.verify(&tbs, &sign1.signature).is_ok())
        {
            Ok((sign1.payload.unwrap_or_default(), non_empty(kid)))
        } else {
            Err(TokenError::BadSignature)
        }
    }

    fn open_mac0(&self, structure: Value) -> Result<(Vec<u8>, Option<Vec<u8>>), TokenError> {
        let mac0 = CoseMac0::from_cbor_value(structure)
            .map_err(|e| TokenError::Malformed(format!("COSE_Mac0: {e}")))?;
        no_crit(&mac0.protected.header)?;
        let id = protected_alg(&mac0.protected.header)?;
        let algorithm = MacAlgorithm::from_cose_id(id)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(format!("{id} for COSE_Mac0")))?;
        let kid = header_kid(&mac0.protected.header, &mac0.unprotected);
        if mac0.payload.is_none() {
            return Err(TokenError::Malformed(
                "COSE_Mac0 with detached payload".into(),
            ));
        }
        let candidates: Vec<&[u8]> = self
            .keys
            .iter()
            .filter(|k| k.fits_kid(&kid))
            .filter_map(|k| match &k.material {
                KeyMaterial::Mac(key) => Some(key.as_slice()),
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let payload = mac0.payload.as_deref().unwrap_or_default();
        let data = coset::mac_structure_data(
            coset::MacContext::CoseMac0,
            mac0.protected.clone(),
            &[],
            payload,
        );
        if candidates
            .iter()
            .any(|key| hmac_verify(key, &data, &mac0.tag, algorithm))
        {
            Ok((mac0.payload.unwrap_or_default(), non_empty(kid)))
        } else {
            Err(TokenError::BadMac)
        }
    }

    fn open_encrypt0(&self, structure: Value) -> Result<(Vec<u8>, Option<Vec<u8>>), TokenError> {
        use ccm::KeyInit as _;
        use ccm::aead::{Aead as _, Payload};
        let encrypt0 = CoseEncrypt0::from_cbor_value(structure)
            .map_err(|e| TokenError::Malformed(format!("COSE_Encrypt0: {e}")))?;
        no_crit(&encrypt0.protected.header)?;
        let id = protected_alg(&encrypt0.protected.header)?;
        if id != alg::AES_CCM_16_64_128 {
            return Err(TokenError::UnsupportedAlgorithm(format!(
                "{id} for COSE_Encrypt0"
            )));
        }
        let kid = header_kid(&encrypt0.protected.header, &encrypt0.unprotected);
        if !encrypt0.protected.header.partial_iv.is_empty()
            || !encrypt0.unprotected.partial_iv.is_empty()
        {
            return Err(TokenError::UnsupportedStructure(
                "Partial IV (needs a context Base IV)".into(),
            ));
        }
        let iv = if encrypt0.protected.header.iv.is_empty() {
            &encrypt0.unprotected.iv
        } else {
            &encrypt0.protected.header.iv
        };
        let nonce = ccm::Nonce::<ccm::consts::U13>::try_from(iv.as_slice())
            .map_err(|_| TokenError::Malformed(format!("IV of {} bytes, expected 13", iv.len())))?;
        let ciphertext = encrypt0.ciphertext.as_deref().ok_or_else(|| {
            TokenError::Malformed("COSE_Encrypt0 with detached ciphertext".into())
        })?;
        if ciphertext.len() < AES_CCM_TAG_LEN {
            return Err(TokenError::DecryptionFailed);
        }
        let candidates: Vec<&[u8; 16]> = self
            .keys
            .iter()
            .filter(|k| k.fits_kid(&kid))
            .filter_map(|k| match &k.material {
                KeyMaterial::Aead(key) => Some(&**key),
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        let aad = coset::enc_structure_data(
            coset::EncryptionContext::CoseEncrypt0,
            encrypt0.protected.clone(),
            &[],
        );
        for key in candidates {
            let cipher = AesCcm16_64_128::new(&(*key).into());
            if let Ok(plaintext) = cipher.decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            ) {
                return Ok((plaintext, non_empty(kid)));
            }
        }
        Err(TokenError::DecryptionFailed)
    }
}

/// The result of peeling a token's COSE layers.
struct Unprotected {
    /// The innermost payload.
    payload: Vec<u8>,
    /// Its CBOR decoding, when it is one data item.
    value: Option<Value>,
    /// The `kid` of the outermost layer.
    kid: Option<Vec<u8>>,
}

/// The COSE structures a token layer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sign1,
    Mac0,
    Encrypt0,
}

fn is_token_tag(tag: u64) -> bool {
    matches!(
        tag,
        CWT_TAG | cose_tag::SIGN1 | cose_tag::MAC0 | cose_tag::ENCRYPT0
    )
}

/// Strips the CWT tag and the COSE tag, and tells the structure. Untagged: 3
/// elements is a COSE_Encrypt0; 4 elements is a COSE_Sign1 or a COSE_Mac0,
/// told apart by the protected `alg`.
fn classify(value: Value) -> Result<(Kind, Value), TokenError> {
    let value = match value {
        Value::Tag(CWT_TAG, inner) => *inner,
        other => other,
    };
    match value {
        Value::Tag(cose_tag::SIGN1, inner) => Ok((Kind::Sign1, *inner)),
        Value::Tag(cose_tag::MAC0, inner) => Ok((Kind::Mac0, *inner)),
        Value::Tag(cose_tag::ENCRYPT0, inner) => Ok((Kind::Encrypt0, *inner)),
        Value::Tag(t @ (cose_tag::SIGN | cose_tag::MAC | cose_tag::ENCRYPT), _) => Err(
            TokenError::UnsupportedStructure(format!("COSE message with tag {t}")),
        ),
        Value::Tag(t, _) => Err(TokenError::Malformed(format!("unexpected CBOR tag {t}"))),
        Value::Array(items) => match items.len() {
            3 => Ok((Kind::Encrypt0, Value::Array(items))),
            4 => {
                let id = match items.first() {
                    Some(Value::Bytes(protected)) => {
                        coset::ProtectedHeader::from_cbor_bstr(Value::Bytes(protected.clone()))
                            .ok()
                            .and_then(|p| alg_id(&p.header))
                    }
                    _ => None,
                };
                match id {
                    Some(id) if MacAlgorithm::from_cose_id(id).is_some() => {
                        Ok((Kind::Mac0, Value::Array(items)))
                    }
                    Some(_) => Ok((Kind::Sign1, Value::Array(items))),
                    None => Err(TokenError::UnsupportedAlgorithm(
                        "untagged COSE object without a protected alg".into(),
                    )),
                }
            }
            n => Err(TokenError::Malformed(format!("COSE array of {n} elements"))),
        },
        other => Err(TokenError::Malformed(format!(
            "expected a COSE structure, got {}",
            cbor::type_name(&other)
        ))),
    }
}

fn alg_id(header: &Header) -> Option<i64> {
    match header.alg.as_ref()? {
        coset::Algorithm::Assigned(a) => Some(*a as i64),
        coset::Algorithm::PrivateUse(i) => Some(*i),
        coset::Algorithm::Text(_) => None,
    }
}

/// The algorithm, which must be integrity-protected (RFC 9052 section 3.1).
fn protected_alg(header: &Header) -> Result<i64, TokenError> {
    alg_id(header)
        .ok_or_else(|| TokenError::UnsupportedAlgorithm("no alg in the protected header".into()))
}

/// RFC 9052 section 3.1: a recipient that does not understand a critical
/// header parameter must refuse the message. None is understood here beyond
/// the ones `coset` decodes.
fn no_crit(header: &Header) -> Result<(), TokenError> {
    if header.crit.is_empty() {
        Ok(())
    } else {
        Err(TokenError::UnsupportedStructure(
            "critical header parameters".into(),
        ))
    }
}

fn header_kid(protected: &Header, unprotected: &Header) -> Vec<u8> {
    if protected.key_id.is_empty() {
        unprotected.key_id.clone()
    } else {
        protected.key_id.clone()
    }
}

fn non_empty(kid: Vec<u8>) -> Option<Vec<u8>> {
    (!kid.is_empty()).then_some(kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignatureAlgorithm;

    fn claims() -> ClaimsSet {
        ClaimsSet {
            iss: Some("as".into()),
            aud: Some("kdc".into()),
            exp: Some(NumericDate::Integer(2000)),
            nbf: Some(NumericDate::Integer(1000)),
            ..ClaimsSet::default()
        }
    }

    #[test]
    fn sign1_round_trip_and_time_checks() {
        let key = SigningKey::generate(SignatureAlgorithm::EdDsa);
        let verifier = TokenVerifier::new("kdc").with_key(TokenKey::verifying(key.verifying_key()));
        for tagging in [Tagging::Untagged, Tagging::Cose, Tagging::Cwt] {
            let token = claims().seal_sign1(&key, Some(b"k1"), tagging).unwrap();
            let opened = verifier.open(&token, 1500).unwrap();
            assert_eq!(opened.claims(), &claims());
            assert_eq!(opened.kid(), Some(&b"k1"[..]));
            assert!(matches!(
                verifier.open(&token, 2000),
                Err(TokenError::Expired { .. })
            ));
            assert!(matches!(
                verifier.open(&token, 999),
                Err(TokenError::NotYetValid { .. })
            ));
            assert_eq!(
                verifier
                    .clone()
                    .with_leeway(5)
                    .open(&token, 2004)
                    .map(|_| ()),
                Ok(())
            );
        }
    }

    /// `has_claim` answers from the fields without building the claims;
    /// it must agree with the entries the encoder writes, for every key.
    #[test]
    fn has_claim_agrees_with_the_encoded_entries() {
        let int = |n: i64| Value::Integer(n.into());
        let every_claim = Value::Map(vec![
            (int(claim::ISS), Value::Text("as".into())),
            (int(claim::SUB), Value::Text("client".into())),
            (int(claim::AUD), Value::Text("kdc".into())),
            (int(claim::EXP), int(2000)),
            (int(claim::NBF), int(1000)),
            (int(claim::IAT), int(900)),
            (int(claim::CTI), Value::Bytes(vec![1])),
            (
                int(claim::CNF),
                Value::Map(vec![(int(3), Value::Bytes(vec![7]))]),
            ),
            (int(claim::SCOPE), Value::Text("r".into())),
            (int(claim::ACE_PROFILE), int(2)),
            (int(claim::CNONCE), Value::Bytes(vec![2])),
            (int(claim::EXI), int(60)),
            (int(99), int(0)),
        ]);
        let full = ClaimsSet::from_value(every_claim).unwrap();
        for set in [full, claims(), ClaimsSet::default()] {
            let encoded: Vec<i64> = set.known_entries().iter().map(|(k, _)| *k).collect();
            for key in -5..=120 {
                let expected = encoded.contains(&key)
                    || set.rest.iter().any(|(k, _)| *k == IntOrText::Int(key));
                assert_eq!(set.has_claim(key), expected, "claim {key} in {set:?}");
            }
        }
    }

    #[test]
    fn oversized_plaintext_is_refused_by_encrypt0() {
        let big = ClaimsSet {
            cti: Some(vec![0; 70_000]),
            ..claims()
        };
        assert!(matches!(
            big.seal_encrypt0(&[1; 16], None, Tagging::Cose),
            Err(SealError::PlaintextTooLong(_))
        ));
    }

    #[test]
    fn error_codes_follow_rfc9200() {
        assert_eq!(TokenError::WrongAudience.code(), Code::FORBIDDEN);
        assert_eq!(TokenError::BadSignature.code(), Code::UNAUTHORIZED);
        assert_eq!(
            TokenError::Malformed(String::new()).code(),
            Code::BAD_REQUEST
        );
    }

    #[test]
    fn audience_issuer_and_required_claims() {
        let key = [9u8; 32];
        let token = claims()
            .seal_mac0(&key, MacAlgorithm::Hmac256_256, None, Tagging::Cose)
            .unwrap();
        let base = TokenVerifier::new("other").with_key(TokenKey::mac(&key));
        assert_eq!(
            base.open(&token, 1500).unwrap_err(),
            TokenError::WrongAudience
        );
        let ok = base.clone().with_audience("kdc");
        assert!(ok.open(&token, 1500).is_ok());
        assert_eq!(
            ok.clone()
                .with_issuer("other-as")
                .open(&token, 1500)
                .unwrap_err(),
            TokenError::WrongIssuer("as".into())
        );
        assert_eq!(
            ok.with_required_claim(claim::CNF)
                .open(&token, 1500)
                .unwrap_err(),
            TokenError::MissingClaim(claim::CNF)
        );
    }

    #[test]
    fn wrong_key_kind_or_kid_is_unknown_key() {
        let key = [1u8; 16];
        let token = claims()
            .seal_encrypt0(&key, Some(b"a"), Tagging::Untagged)
            .unwrap();
        let mac_only = TokenVerifier::new("kdc").with_key(TokenKey::mac(&key));
        assert_eq!(
            mac_only.open(&token, 1500).unwrap_err(),
            TokenError::UnknownKey
        );
        let other_kid =
            TokenVerifier::new("kdc").with_key(TokenKey::aes_ccm_16_64_128(&key).with_kid(b"b"));
        assert_eq!(
            other_kid.open(&token, 1500).unwrap_err(),
            TokenError::UnknownKey
        );
        let right =
            TokenVerifier::new("kdc").with_key(TokenKey::aes_ccm_16_64_128(&key).with_kid(b"a"));
        assert!(right.open(&token, 1500).is_ok());
    }
}
