//! Authentication credentials: CWT Claims Sets (CCS) with a COSE_Key in `cnf`,
//! and bare COSE_Keys (RFC 9052 section 7), kept with their exact bytes.
//!
//! RFC 9594 moves credentials around as opaque byte strings (`client_cred`,
//! `creds`, `kdc_cred`): the KDC redistributes them byte for byte and Group
//! OSCORE puts them verbatim into its external AAD. A [`Credential`] is
//! therefore the original bytes plus a parsed view; it never re-encodes.
//!
//! Supported keys: OKP Ed25519 and X25519, EC2 P-256. Parsing refuses
//! private key material (`d`), malformed or off-curve points and an `alg`
//! that does not fit the key. A credential without `alg` parses (the RFC
//! 9594 examples have none) and reports it through [`Credential::alg`] and
//! [`Credential::check_alg`], so that a KDC can refuse it (some peers reject
//! such credentials). [`Credential::ccs_for_signing_key`] always writes
//! `alg`.

use crate::cbor::{self, Codec, IntOrText, MapReader, Value};
use crate::consts::cose::{alg, crv, header, key as param, kty};
use crate::cwt::{ClaimsSet, Confirmation};
use crate::error::DecodeError;
use crate::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use crate::pop::DhPublicKey;
use std::fmt;

// ---------------------------------------------------------------------------
// COSE_Key
// ---------------------------------------------------------------------------

/// A COSE_Key (RFC 9052 section 7): a map of key parameters.
///
/// The entries are kept in wire order, so a decoded key encodes back to the
/// same bytes. Construction checks the common parameters: `kty` (1) present
/// and `int / tstr`, `kid` (2) a byte string, `alg` (3) `int / tstr`,
/// `key_ops` (4) an array, `Base IV` (5) a byte string, and no label twice.
/// `Debug` output hides secret parameters.
#[derive(Clone, PartialEq)]
pub struct CoseKey {
    entries: Vec<(IntOrText, Value)>,
}

impl CoseKey {
    /// A key from its parameters, in the order given.
    pub fn from_entries(entries: Vec<(IntOrText, Value)>) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "COSE_Key";
        for (i, (label, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(l, _)| l == label) {
                return Err(DecodeError::DuplicateKey {
                    context: CONTEXT,
                    key: format!("{label:?}"),
                });
            }
        }
        let key = Self { entries };
        match key.get(param::KTY) {
            Some(Value::Integer(_) | Value::Text(_)) => {}
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    context: "COSE_Key kty",
                    want: "integer or text string",
                    got: cbor::type_name(other),
                });
            }
            None => return Err(DecodeError::missing(CONTEXT, "kty")),
        }
        key.check_type(
            param::KID,
            "COSE_Key kid",
            |v| matches!(v, Value::Bytes(_)),
            "byte string",
        )?;
        key.check_type(
            param::ALG,
            "COSE_Key alg",
            |v| matches!(v, Value::Integer(_) | Value::Text(_)),
            "integer or text string",
        )?;
        key.check_type(
            param::KEY_OPS,
            "COSE_Key key_ops",
            |v| matches!(v, Value::Array(_)),
            "array",
        )?;
        key.check_type(
            param::BASE_IV,
            "COSE_Key Base IV",
            |v| matches!(v, Value::Bytes(_)),
            "byte string",
        )?;
        // Integers must fit i64 where we read them.
        if let Some(v) = key.get(param::ALG) {
            IntOrText::from_value(v.clone(), "COSE_Key alg")?;
        }
        if let Some(v) = key.get(param::KTY) {
            IntOrText::from_value(v.clone(), "COSE_Key kty")?;
        }
        Ok(key)
    }

    fn check_type(
        &self,
        label: i64,
        context: &'static str,
        ok: impl Fn(&Value) -> bool,
        want: &'static str,
    ) -> Result<(), DecodeError> {
        match self.get(label) {
            Some(v) if !ok(v) => Err(DecodeError::UnexpectedItem {
                context,
                want,
                got: cbor::type_name(v),
            }),
            _ => Ok(()),
        }
    }

    /// An OKP key `{1: 1, 2?: kid, 3?: alg, -1: crv, -2: x}`.
    pub fn okp(curve: i64, x: &[u8], kid: Option<&[u8]>, algorithm: Option<i64>) -> Self {
        let mut entries = Self::head(kty::OKP, kid, algorithm);
        entries.push((IntOrText::Int(param::CRV), Value::from(curve)));
        entries.push((IntOrText::Int(param::X), Value::Bytes(x.to_vec())));
        Self { entries }
    }

    /// An EC2 key `{1: 2, 2?: kid, 3?: alg, -1: crv, -2: x, -3: y}`.
    pub fn ec2(curve: i64, x: &[u8], y: &[u8], kid: Option<&[u8]>, algorithm: Option<i64>) -> Self {
        let mut entries = Self::head(kty::EC2, kid, algorithm);
        entries.push((IntOrText::Int(param::CRV), Value::from(curve)));
        entries.push((IntOrText::Int(param::X), Value::Bytes(x.to_vec())));
        entries.push((IntOrText::Int(param::Y), Value::Bytes(y.to_vec())));
        Self { entries }
    }

    /// A symmetric key `{1: 4, 2?: kid, 3?: alg, -1: k}` (RFC 9053 section
    /// 6.1), as the AS puts in `cnf` for symmetric PoP (RFC 9202 section
    /// 3.2.1). Such a key may only travel inside an encrypted token.
    pub fn symmetric(k: &[u8], kid: Option<&[u8]>, algorithm: Option<i64>) -> Self {
        let mut entries = Self::head(kty::SYMMETRIC, kid, algorithm);
        entries.push((IntOrText::Int(param::K), Value::Bytes(k.to_vec())));
        Self { entries }
    }

    fn head(key_type: i64, kid: Option<&[u8]>, algorithm: Option<i64>) -> Vec<(IntOrText, Value)> {
        let mut entries = vec![(IntOrText::Int(param::KTY), Value::from(key_type))];
        if let Some(kid) = kid {
            entries.push((IntOrText::Int(param::KID), Value::Bytes(kid.to_vec())));
        }
        if let Some(a) = algorithm {
            entries.push((IntOrText::Int(param::ALG), Value::from(a)));
        }
        entries
    }

    /// The parameters, in order.
    pub fn entries(&self) -> &[(IntOrText, Value)] {
        &self.entries
    }

    /// The value of integer label `label`.
    pub fn get(&self, label: i64) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(l, _)| *l == IntOrText::Int(label))
            .map(|(_, v)| v)
    }

    /// `kty`.
    pub fn kty(&self) -> IntOrText {
        self.get(param::KTY)
            .and_then(|v| IntOrText::from_value(v.clone(), "COSE_Key kty").ok())
            .unwrap_or(IntOrText::Int(0))
    }

    /// `kid`, if present.
    pub fn kid(&self) -> Option<&[u8]> {
        match self.get(param::KID) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    /// `alg`, if present.
    pub fn alg(&self) -> Option<IntOrText> {
        self.get(param::ALG)
            .and_then(|v| IntOrText::from_value(v.clone(), "COSE_Key alg").ok())
    }

    /// The symmetric key `k`, for a key of type Symmetric.
    pub fn symmetric_key(&self) -> Option<&[u8]> {
        if self.kty() != IntOrText::Int(kty::SYMMETRIC) {
            return None;
        }
        match self.get(param::K) {
            Some(Value::Bytes(k)) => Some(k),
            _ => None,
        }
    }

    /// The public key this COSE_Key describes (see [`PublicKey::from_cose_key`]).
    pub fn public_key(&self) -> Result<PublicKey, DecodeError> {
        PublicKey::from_cose_key(self)
    }

    fn is_secret(&self, label: &IntOrText) -> bool {
        *label == IntOrText::Int(param::D)
            || (*label == IntOrText::Int(param::K) && self.kty() == IntOrText::Int(kty::SYMMETRIC))
    }
}

impl Codec for CoseKey {
    fn to_value(&self) -> Value {
        Value::Map(
            self.entries
                .iter()
                .map(|(k, v)| (k.to_value(), v.clone()))
                .collect(),
        )
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        Self::from_entries(MapReader::new(value, "COSE_Key")?.into_rest())
    }
}

impl fmt::Debug for CoseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (label, value) in &self.entries {
            if self.is_secret(label) {
                map.entry(label, &"<redacted>");
            } else {
                map.entry(label, &crate::diag::value_to_diag(value));
            }
        }
        map.finish()
    }
}

// ---------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------

/// A public key of a supported type, decoded and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// OKP, Ed25519 (signatures, alg EdDSA).
    Ed25519([u8; 32]),
    /// OKP, X25519 (key agreement).
    X25519([u8; 32]),
    /// EC2, P-256 (ES256 signatures or ECDH), affine coordinates.
    P256 {
        /// x coordinate, big-endian.
        x: [u8; 32],
        /// y coordinate, big-endian.
        y: [u8; 32],
    },
}

impl PublicKey {
    /// Reads and validates the public key of `key`: OKP with `crv` Ed25519
    /// or X25519 and a 32-byte `x`; or EC2 with `crv` P-256, a 32-byte `x`
    /// and a 32-byte `y` (or a bool `y`, the sign bit of a compressed point,
    /// RFC 9053 section 7.1.1). Ed25519 and P-256 points must be valid
    /// curve points. A key holding the private `d` is refused: a credential
    /// is public. An `alg` that does not fit the key is refused.
    pub fn from_cose_key(key: &CoseKey) -> Result<Self, DecodeError> {
        Self::decode_cose_key(key).map(|(public, _)| public)
    }

    /// [`PublicKey::from_cose_key`], also returning the decoded curve point
    /// of an Ed25519 or P-256 key, so that a caller that verifies with the
    /// key does not decode (decompress) the point a second time.
    fn decode_cose_key(key: &CoseKey) -> Result<(Self, Option<VerifyingKey>), DecodeError> {
        const CONTEXT: &str = "COSE_Key";
        if key.get(param::D).is_some() {
            return Err(DecodeError::invalid(
                CONTEXT,
                "private key parameter d in a public key",
            ));
        }
        let curve = match key.get(param::CRV) {
            Some(v) => cbor::int(v.clone(), "COSE_Key crv")?,
            None => return Err(DecodeError::missing(CONTEXT, "crv")),
        };
        let x = coordinate(key.get(param::X), "x")?;
        let (public, point) = match (key.kty(), curve) {
            (IntOrText::Int(kty::OKP), crv::ED25519) => {
                no_y(key)?;
                let point = VerifyingKey::ed25519(&x)
                    .map_err(|_| DecodeError::invalid(CONTEXT, "invalid Ed25519 point"))?;
                (Self::Ed25519(x), Some(point))
            }
            (IntOrText::Int(kty::OKP), crv::X25519) => {
                no_y(key)?;
                (Self::X25519(x), None)
            }
            (IntOrText::Int(kty::EC2), crv::P256) => match key.get(param::Y) {
                Some(Value::Bool(sign)) => {
                    let mut sec1 = [0u8; 33];
                    sec1[0] = if *sign { 0x03 } else { 0x02 };
                    sec1[1..].copy_from_slice(&x);
                    let point = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .map(VerifyingKey::P256)
                        .map_err(|_| DecodeError::invalid(CONTEXT, "invalid P-256 point"))?;
                    match point.coordinates() {
                        (x, Some(y)) => (
                            Self::P256 {
                                x: to_array(&x)?,
                                y: to_array(&y)?,
                            },
                            Some(point),
                        ),
                        _ => return Err(DecodeError::invalid(CONTEXT, "invalid P-256 point")),
                    }
                }
                other => {
                    let y = coordinate(other, "y")?;
                    let point = VerifyingKey::p256(&x, &y).map_err(|_| {
                        DecodeError::invalid(CONTEXT, "P-256 point not on the curve")
                    })?;
                    (Self::P256 { x, y }, Some(point))
                }
            },
            (key_type, curve) => {
                return Err(DecodeError::invalid(
                    CONTEXT,
                    format!("unsupported key type {key_type:?} with curve {curve}"),
                ));
            }
        };
        if let Some(algorithm) = key.alg() {
            match algorithm {
                IntOrText::Int(a) if public.allows_alg(a) => {}
                other => {
                    return Err(DecodeError::invalid(
                        CONTEXT,
                        format!("alg {other:?} does not fit a {} key", public.name()),
                    ));
                }
            }
        }
        Ok((public, point))
    }

    /// A human-readable name of the key type.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "Ed25519",
            Self::X25519(_) => "X25519",
            Self::P256 { .. } => "P-256",
        }
    }

    /// Whether COSE algorithm `algorithm` may be used with this key: EdDSA
    /// for Ed25519; ES256 or ECDH for P-256; ECDH for X25519 (RFC 9053
    /// sections 2 and 6.3).
    pub fn allows_alg(&self, algorithm: i64) -> bool {
        const ECDH: [i64; 4] = [
            alg::ECDH_ES_HKDF_256,
            alg::ECDH_ES_HKDF_512,
            alg::ECDH_SS_HKDF_256,
            alg::ECDH_SS_HKDF_512,
        ];
        match self {
            Self::Ed25519(_) => algorithm == alg::EDDSA,
            Self::X25519(_) => ECDH.contains(&algorithm),
            Self::P256 { .. } => algorithm == alg::ES256 || ECDH.contains(&algorithm),
        }
    }

    /// The COSE_Key for this public key, in the order `{1: kty, 2?: kid, 3:
    /// alg, -1: crv, -2: x, -3?: y}`.
    pub fn to_cose_key(&self, kid: Option<&[u8]>, algorithm: i64) -> CoseKey {
        match self {
            Self::Ed25519(x) => CoseKey::okp(crv::ED25519, x, kid, Some(algorithm)),
            Self::X25519(x) => CoseKey::okp(crv::X25519, x, kid, Some(algorithm)),
            Self::P256 { x, y } => CoseKey::ec2(crv::P256, x, y, kid, Some(algorithm)),
        }
    }

    /// The key for verifying signatures (Ed25519 or P-256).
    pub fn verifying_key(&self) -> Result<VerifyingKey, DecodeError> {
        const CONTEXT: &str = "credential";
        match self {
            Self::Ed25519(x) => VerifyingKey::ed25519(x)
                .map_err(|_| DecodeError::invalid(CONTEXT, "invalid Ed25519 point")),
            Self::P256 { x, y } => VerifyingKey::p256(x, y)
                .map_err(|_| DecodeError::invalid(CONTEXT, "invalid P-256 point")),
            Self::X25519(_) => Err(DecodeError::invalid(
                CONTEXT,
                "an X25519 key cannot verify signatures",
            )),
        }
    }
}

impl From<&VerifyingKey> for PublicKey {
    fn from(key: &VerifyingKey) -> Self {
        // Both key types have 32-byte coordinates; copying through a
        // length-checked helper keeps this total anyway.
        fn to32(bytes: &[u8]) -> [u8; 32] {
            let mut out = [0u8; 32];
            let n = bytes.len().min(32);
            out[..n].copy_from_slice(&bytes[..n]);
            out
        }
        let (x, y) = key.coordinates();
        match y {
            None => Self::Ed25519(to32(&x)),
            Some(y) => Self::P256 {
                x: to32(&x),
                y: to32(&y),
            },
        }
    }
}

fn coordinate(value: Option<&Value>, name: &'static str) -> Result<[u8; 32], DecodeError> {
    match value {
        Some(Value::Bytes(b)) => to_array(b),
        Some(other) => Err(DecodeError::UnexpectedItem {
            context: "COSE_Key coordinate",
            want: "32-byte string",
            got: cbor::type_name(other),
        }),
        None => Err(DecodeError::missing("COSE_Key", name)),
    }
}

fn to_array(bytes: &[u8]) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| {
        DecodeError::invalid(
            "COSE_Key",
            format!("coordinate of {} bytes, expected 32", bytes.len()),
        )
    })
}

fn no_y(key: &CoseKey) -> Result<(), DecodeError> {
    match key.get(param::Y) {
        Some(_) => Err(DecodeError::invalid("COSE_Key", "an OKP key has no y")),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

/// The encodings of an authentication credential this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialFormat {
    /// A CWT Claims Set with the key in `cnf` (`kccs`, COSE header parameter
    /// 14, RFC 9528 section 3.5.2).
    Ccs,
    /// A bare COSE_Key (RFC 9052 section 7). It has no COSE header
    /// parameter, so no `cred_fmt` value.
    CoseKey,
}

impl CredentialFormat {
    /// The `cred_fmt` value of RFC 9594 section 3.3.1 (a COSE Header
    /// Parameters label), where one exists.
    pub fn cred_fmt(self) -> Option<i64> {
        match self {
            Self::Ccs => Some(header::KCCS),
            Self::CoseKey => None,
        }
    }

    /// The format for a `cred_fmt` value, if this crate reads it.
    pub fn from_cred_fmt(cred_fmt: i64) -> Option<Self> {
        (cred_fmt == header::KCCS).then_some(Self::Ccs)
    }
}

/// An authentication credential: the exact bytes received, and what they
/// say.
///
/// The curve point of an Ed25519 or P-256 key is decoded once, when the
/// credential is parsed or built (that decoding is what validates the key),
/// and kept: [`Credential::verifying_key`] hands out that point instead of
/// decoding the key again (an Ed25519 decompression costs a field
/// exponentiation).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    bytes: Vec<u8>,
    format: CredentialFormat,
    claims: Option<ClaimsSet>,
    key: CoseKey,
    public_key: PublicKey,
    /// The decoded point of `public_key` (Ed25519 and P-256).
    point: Option<VerifyingKey>,
}

impl Credential {
    /// Parses `bytes` in `format`.
    pub fn parse(format: CredentialFormat, bytes: &[u8]) -> Result<Self, DecodeError> {
        match format {
            CredentialFormat::Ccs => Self::parse_ccs(bytes),
            CredentialFormat::CoseKey => Self::parse_cose_key(bytes),
        }
    }

    /// Parses a CCS: a CWT Claims Set whose `cnf` holds a COSE_Key (RFC
    /// 8747 section 3.2).
    pub fn parse_ccs(bytes: &[u8]) -> Result<Self, DecodeError> {
        let claims = ClaimsSet::decode(bytes)?;
        let key = match &claims.cnf {
            Some(Confirmation::CoseKey(key)) => key.clone(),
            Some(_) => {
                return Err(DecodeError::invalid(
                    "CCS",
                    "cnf must hold a COSE_Key (method 1)",
                ));
            }
            None => return Err(DecodeError::missing("CCS", "cnf")),
        };
        let (public_key, point) = PublicKey::decode_cose_key(&key)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            format: CredentialFormat::Ccs,
            claims: Some(claims),
            key,
            public_key,
            point,
        })
    }

    /// Parses a bare COSE_Key.
    pub fn parse_cose_key(bytes: &[u8]) -> Result<Self, DecodeError> {
        let key = CoseKey::decode(bytes)?;
        let (public_key, point) = PublicKey::decode_cose_key(&key)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            format: CredentialFormat::CoseKey,
            claims: None,
            key,
            public_key,
            point,
        })
    }

    /// A CCS `{2: sub, 8: {1: COSE_Key}}` for `public_key`, with the
    /// COSE_Key in the order `{1: kty, 2?: kid, 3: alg, -1: crv, -2: x, -3?:
    /// y}` (the order of the RFC 9594 section 7 examples, plus `alg`).
    /// Refuses an `alg` that does not fit the key.
    pub fn ccs(
        public_key: &PublicKey,
        algorithm: i64,
        sub: &str,
        kid: Option<&[u8]>,
    ) -> Result<Self, DecodeError> {
        if !public_key.allows_alg(algorithm) {
            return Err(DecodeError::invalid(
                "CCS",
                format!("alg {algorithm} does not fit a {} key", public_key.name()),
            ));
        }
        let key = public_key.to_cose_key(kid, algorithm);
        let claims = ClaimsSet {
            sub: Some(sub.to_string()),
            cnf: Some(Confirmation::CoseKey(key.clone())),
            ..ClaimsSet::default()
        };
        Ok(Self {
            bytes: claims.encode(),
            format: CredentialFormat::Ccs,
            claims: Some(claims),
            key,
            public_key: *public_key,
            point: public_key.verifying_key().ok(),
        })
    }

    /// The CCS of a signing key's public key, with its signature algorithm
    /// as `alg`.
    pub fn ccs_for_signing_key(key: &SigningKey, sub: &str, kid: Option<&[u8]>) -> Self {
        let point = key.verifying_key();
        let public = PublicKey::from(&point);
        let key = public.to_cose_key(kid, key.algorithm().cose_id());
        let claims = ClaimsSet {
            sub: Some(sub.to_string()),
            cnf: Some(Confirmation::CoseKey(key.clone())),
            ..ClaimsSet::default()
        };
        Self {
            bytes: claims.encode(),
            format: CredentialFormat::Ccs,
            claims: Some(claims),
            key,
            public_key: public,
            point: Some(point),
        }
    }

    /// A bare COSE_Key credential for a signing key's public key, with
    /// `alg`.
    pub fn cose_key_for_signing_key(key: &SigningKey, kid: Option<&[u8]>) -> Self {
        let point = key.verifying_key();
        let public = PublicKey::from(&point);
        let key = public.to_cose_key(kid, key.algorithm().cose_id());
        Self {
            bytes: key.encode(),
            format: CredentialFormat::CoseKey,
            claims: None,
            key,
            public_key: public,
            point: Some(point),
        }
    }

    /// The exact bytes, as received or built.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The exact bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The encoding.
    pub fn format(&self) -> CredentialFormat {
        self.format
    }

    /// The claims of a CCS.
    pub fn claims(&self) -> Option<&ClaimsSet> {
        self.claims.as_ref()
    }

    /// The `sub` claim of a CCS.
    pub fn subject(&self) -> Option<&str> {
        self.claims.as_ref().and_then(|c| c.sub.as_deref())
    }

    /// The COSE_Key.
    pub fn cose_key(&self) -> &CoseKey {
        &self.key
    }

    /// The validated public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The key's `alg`, `None` when absent. (A text `alg` never parses.)
    pub fn alg(&self) -> Option<i64> {
        match self.key.alg() {
            Some(IntOrText::Int(a)) => Some(a),
            _ => None,
        }
    }

    /// The key's `alg`, refusing a credential without one.
    pub fn check_alg(&self) -> Result<i64, DecodeError> {
        self.alg()
            .ok_or(DecodeError::missing("credential COSE_Key", "alg"))
    }

    /// The signature algorithm of the key, refusing a credential without
    /// `alg` or with a key-agreement `alg`.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, DecodeError> {
        let a = self.check_alg()?;
        SignatureAlgorithm::from_cose_id(a).ok_or_else(|| {
            DecodeError::invalid(
                "credential",
                format!("alg {a} is not a signature algorithm"),
            )
        })
    }

    /// The key for verifying this credential holder's signatures. Refuses
    /// X25519 keys and keys whose `alg` names a key-agreement algorithm
    /// (RFC 9201 section 5: a key is not used against its `alg`).
    ///
    /// The key is the point decoded when the credential was parsed; no
    /// decoding happens here.
    pub fn verifying_key(&self) -> Result<VerifyingKey, DecodeError> {
        self.verifying_key_ref().cloned()
    }

    /// [`Credential::verifying_key`] by reference.
    pub fn verifying_key_ref(&self) -> Result<&VerifyingKey, DecodeError> {
        if let Some(a) = self.alg()
            && SignatureAlgorithm::from_cose_id(a).is_none()
        {
            return Err(DecodeError::invalid(
                "credential",
                format!("alg {a} is not a signature algorithm"),
            ));
        }
        match (&self.public_key, &self.point) {
            (PublicKey::X25519(_), _) => Err(DecodeError::invalid(
                "credential",
                "an X25519 key cannot verify signatures",
            )),
            (_, Some(point)) => Ok(point),
            // Every constructor decodes the point of an Ed25519 or P-256
            // key; refuse rather than assume.
            (_, None) => Err(DecodeError::invalid(
                "credential",
                "the key was not decoded",
            )),
        }
    }

    /// The Diffie-Hellman key of a key-agreement credential (RFC 9594
    /// section 3.3.1, `ecdh_info`): an X25519 key, or a P-256 key (from
    /// the point decoded at parsing). An Ed25519 key is refused: the
    /// Montgomery form of a signature key is for the holder's own use
    /// ([`DhPublicKey::from_verifying_key`]).
    pub fn dh_public_key(&self) -> Result<DhPublicKey, DecodeError> {
        match (&self.public_key, &self.point) {
            (PublicKey::X25519(x), _) => Ok(DhPublicKey::X25519(x25519_dalek::PublicKey::from(*x))),
            (PublicKey::P256 { .. }, Some(point)) => DhPublicKey::from_verifying_key(point)
                .map_err(|e| DecodeError::invalid("credential", e.to_string())),
            (other, _) => Err(DecodeError::invalid(
                "credential",
                format!("a {} key is not a Diffie-Hellman key", other.name()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ccs_has_the_rfc_key_order_plus_alg() {
        let seed = [7u8; 32];
        let key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &seed).unwrap();
        let cred = Credential::ccs_for_signing_key(&key, "", Some(&[0x0a]));
        let b = cred.bytes();
        // {2: "", 8: {1: {1: 1, 2: h'0a', 3: -8, -1: 6, -2: h'<32 bytes>'}}}
        assert_eq!(
            hex::encode(&b[..19]),
            "a2026008a101a5010102410a03272006215820"
        );
        assert_eq!(b.len(), 19 + 32);
        let parsed = Credential::parse_ccs(b).unwrap();
        assert_eq!(parsed, cred);
        assert_eq!(parsed.alg(), Some(-8));
        assert_eq!(parsed.verifying_key().unwrap(), key.verifying_key());
    }

    #[test]
    fn parsed_points_verify_and_serve_key_agreement() {
        let message = b"scope | N_S | N_C";
        for alg in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
            let signer = SigningKey::generate(alg);
            let built = Credential::ccs_for_signing_key(&signer, "", None);
            let parsed = Credential::parse_ccs(built.bytes()).unwrap();
            let vk = parsed.verifying_key_ref().unwrap();
            assert_eq!(*vk, signer.verifying_key());
            assert_eq!(vk.verify(message, &signer.sign(message)), Ok(()));
            let cose = Credential::parse_cose_key(
                Credential::cose_key_for_signing_key(&signer, None).bytes(),
            )
            .unwrap();
            assert_eq!(cose.verifying_key().unwrap(), signer.verifying_key());
        }

        // P-256 with a compressed point (y is the sign bit): the decoded
        // point is the full one.
        let signer = SigningKey::generate(SignatureAlgorithm::Es256);
        let (x, y) = signer.verifying_key().coordinates();
        let y = y.unwrap();
        let compressed = CoseKey::from_entries(vec![
            (IntOrText::Int(param::KTY), Value::from(kty::EC2)),
            (IntOrText::Int(param::ALG), Value::from(alg::ES256)),
            (IntOrText::Int(param::CRV), Value::from(crv::P256)),
            (IntOrText::Int(param::X), Value::Bytes(x.clone())),
            (IntOrText::Int(param::Y), Value::Bool(y[31] & 1 == 1)),
        ])
        .unwrap();
        let parsed = Credential::parse_cose_key(&compressed.encode()).unwrap();
        assert_eq!(parsed.verifying_key().unwrap(), signer.verifying_key());
        assert_eq!(
            parsed.public_key(),
            &PublicKey::P256 {
                x: x.clone().try_into().unwrap(),
                y: y.clone().try_into().unwrap()
            }
        );
        assert_eq!(
            parsed.dh_public_key().unwrap(),
            DhPublicKey::p256(&x, &y).unwrap()
        );

        // X25519: key agreement only; Ed25519: signatures only.
        let x25519 = Credential::ccs(&PublicKey::X25519([9; 32]), -27, "", None).unwrap();
        let x25519 = Credential::parse_ccs(x25519.bytes()).unwrap();
        assert!(x25519.verifying_key().is_err());
        assert_eq!(
            x25519.dh_public_key().unwrap(),
            DhPublicKey::x25519(&[9; 32]).unwrap()
        );
        let ed = Credential::ccs_for_signing_key(
            &SigningKey::generate(SignatureAlgorithm::EdDsa),
            "",
            None,
        );
        assert!(ed.dh_public_key().is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let k = CoseKey::symmetric(&[0xaa; 16], Some(b"kid"), None);
        let shown = format!("{k:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("aaaa"));
    }
}
