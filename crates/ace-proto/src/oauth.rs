//! ACE-OAuth messages of RFC 9200: the token endpoint, AS Request Creation
//! Hints and introspection.
//!
//! All are `application/ace+cbor` maps (RFC 9200 section 5; Content-Format
//! 19) keyed by the OAuth Parameters CBOR Mappings
//! ([`crate::consts::oauth`]). Each type writes its keys in a fixed order
//! (the order of the RFC 9200 examples where there is one), keeps
//! parameters it does not know in `rest`, and refuses wrong types with a
//! 4.00 [`DecodeError`].

use crate::cbor::{self, Codec, IntOrText, MapBuilder, MapReader, Value};
use crate::code::Code;
use crate::consts::oauth::{self as key, error_code, grant_type, introspection as intro};
use crate::cwt::{Audience, Confirmation, NumericDate};
use crate::error::DecodeError;
use crate::scope::ScopeValue;
use std::fmt;

fn append_rest(mut map: MapBuilder, rest: &[(IntOrText, Value)]) -> MapBuilder {
    for (k, v) in rest {
        map = map.raw(k.to_value(), v.clone());
    }
    map
}

fn opt_scope(map: &mut MapReader, label: i64) -> Result<Option<ScopeValue>, DecodeError> {
    map.take(label)
        .map(|v| ScopeValue::from_parameter_value(v, "scope"))
        .transpose()
}

fn opt_cnf(map: &mut MapReader, label: i64) -> Result<Option<Confirmation>, DecodeError> {
    map.take(label).map(Confirmation::from_value).transpose()
}

// ---------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------

/// The Access Token Request: the payload of `POST /token` (RFC 9200 section
/// 5.8.1; RFC 9201 section 5 for `req_cnf`).
///
/// Written in the order `grant_type, client_id, client_secret, audience,
/// scope, req_cnf, ace_profile, cnonce, refresh_token` (RFC 9200 Figure 6
/// order), then `rest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessTokenRequest {
    /// `grant_type` (33); absent means `client_credentials` (2).
    pub grant_type: Option<u64>,
    /// `client_id` (24).
    pub client_id: Option<String>,
    /// `client_secret` (25).
    pub client_secret: Option<Vec<u8>>,
    /// `audience` (5): the RS (for RFC 9594, the KDC).
    pub audience: Option<String>,
    /// `scope` (9): text or bytes (RFC 9594: bytes wrapping scope entries).
    pub scope: Option<ScopeValue>,
    /// `req_cnf` (4): the PoP key the client asks for (RFC 9201 section 5).
    pub req_cnf: Option<Confirmation>,
    /// `ace_profile: null` (38): asks the AS to name the profile in its
    /// response (RFC 9200 section 5.8.1).
    pub ace_profile: bool,
    /// `cnonce` (39): copied from the AS Request Creation Hints.
    pub cnonce: Option<Vec<u8>>,
    /// `refresh_token` (37), with grant type `refresh_token`.
    pub refresh_token: Option<Vec<u8>>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl AccessTokenRequest {
    /// The grant type, `client_credentials` when absent.
    pub fn effective_grant_type(&self) -> u64 {
        self.grant_type.unwrap_or(grant_type::CLIENT_CREDENTIALS)
    }
}

impl Codec for AccessTokenRequest {
    fn to_value(&self) -> Value {
        let map = MapBuilder::new()
            .opt(key::GRANT_TYPE, self.grant_type)
            .opt(key::CLIENT_ID, self.client_id.clone())
            .opt_bytes(key::CLIENT_SECRET, self.client_secret.as_deref())
            .opt(key::AUDIENCE, self.audience.clone())
            .opt(key::SCOPE, self.scope.as_ref().map(ScopeValue::to_value))
            .opt(key::REQ_CNF, self.req_cnf.as_ref().map(Codec::to_value))
            .opt(key::ACE_PROFILE, self.ace_profile.then_some(Value::Null))
            .opt_bytes(key::CNONCE, self.cnonce.as_deref())
            .opt_bytes(key::REFRESH_TOKEN, self.refresh_token.as_deref());
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "access token request")?;
        let ace_profile = match map.take(key::ACE_PROFILE) {
            None => false,
            Some(Value::Null) => true,
            Some(other) => {
                return Err(DecodeError::UnexpectedItem {
                    context: "ace_profile",
                    want: "null in an access token request",
                    got: cbor::type_name(&other),
                });
            }
        };
        let request = Self {
            grant_type: map.opt_uint(key::GRANT_TYPE, "grant_type")?,
            client_id: map.opt_text(key::CLIENT_ID, "client_id")?,
            client_secret: map.opt_bytes(key::CLIENT_SECRET, "client_secret")?,
            audience: map.opt_text(key::AUDIENCE, "audience")?,
            scope: opt_scope(&mut map, key::SCOPE)?,
            req_cnf: opt_cnf(&mut map, key::REQ_CNF)?,
            ace_profile,
            cnonce: map.opt_bytes(key::CNONCE, "cnonce")?,
            refresh_token: map.opt_bytes(key::REFRESH_TOKEN, "refresh_token")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..request
        })
    }
}

/// The Access Information: the payload of the 2.01 (Created) response of
/// `/token` (RFC 9200 section 5.8.2; RFC 9201 section 5 for `cnf` and
/// `rs_cnf`).
///
/// Written in the order `access_token, token_type, ace_profile, expires_in,
/// scope, cnf, rs_cnf, refresh_token` (RFC 9200 Figure 7 order), then
/// `rest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessTokenResponse {
    /// `access_token` (1): the token, opaque to the client.
    pub access_token: Vec<u8>,
    /// `token_type` (34); absent means PoP (2).
    pub token_type: Option<i64>,
    /// `ace_profile` (38): MUST be present if the request asked for it.
    pub ace_profile: Option<i64>,
    /// `expires_in` (2): lifetime in seconds.
    pub expires_in: Option<u64>,
    /// `scope` (9): present when the granted scope differs from the
    /// requested one (RFC 9594 section 3.2).
    pub scope: Option<ScopeValue>,
    /// `cnf` (8): the PoP key the AS chose (e.g. OSCORE_Input_Material).
    pub cnf: Option<Confirmation>,
    /// `rs_cnf` (41): the RS's public key (RFC 9201 section 5).
    pub rs_cnf: Option<Confirmation>,
    /// `refresh_token` (37).
    pub refresh_token: Option<Vec<u8>>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl AccessTokenResponse {
    /// The token type, PoP when absent (RFC 9200 section 5.8.4.2).
    pub fn effective_token_type(&self) -> i64 {
        self.token_type.unwrap_or(key::token_type::POP)
    }
}

impl Codec for AccessTokenResponse {
    fn to_value(&self) -> Value {
        let map = MapBuilder::new()
            .bytes(key::ACCESS_TOKEN, &self.access_token)
            .opt(key::TOKEN_TYPE, self.token_type)
            .opt(key::ACE_PROFILE, self.ace_profile)
            .opt(key::EXPIRES_IN, self.expires_in)
            .opt(key::SCOPE, self.scope.as_ref().map(ScopeValue::to_value))
            .opt(key::CNF, self.cnf.as_ref().map(Codec::to_value))
            .opt(key::RS_CNF, self.rs_cnf.as_ref().map(Codec::to_value))
            .opt_bytes(key::REFRESH_TOKEN, self.refresh_token.as_deref());
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "access token response")?;
        let response = Self {
            access_token: map.req_bytes(key::ACCESS_TOKEN, "access_token")?,
            token_type: map.opt_int(key::TOKEN_TYPE, "token_type")?,
            ace_profile: map.opt_int(key::ACE_PROFILE, "ace_profile")?,
            expires_in: map.opt_uint(key::EXPIRES_IN, "expires_in")?,
            scope: opt_scope(&mut map, key::SCOPE)?,
            cnf: opt_cnf(&mut map, key::CNF)?,
            rs_cnf: opt_cnf(&mut map, key::RS_CNF)?,
            refresh_token: map.opt_bytes(key::REFRESH_TOKEN, "refresh_token")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..response
        })
    }
}

/// An OAuth error code (RFC 9200 section 5.8.3, Table 3; RFC 6749 section
/// 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request` (1).
    InvalidRequest,
    /// `invalid_client` (2).
    InvalidClient,
    /// `invalid_grant` (3).
    InvalidGrant,
    /// `unauthorized_client` (4).
    UnauthorizedClient,
    /// `unsupported_grant_type` (5).
    UnsupportedGrantType,
    /// `invalid_scope` (6).
    InvalidScope,
    /// `unsupported_pop_key` (7): the client's key is of a type the RS does
    /// not support.
    UnsupportedPopKey,
    /// `incompatible_ace_profiles` (8): client and RS share no profile.
    IncompatibleAceProfiles,
    /// A code registered after RFC 9200.
    Other(i64),
}

impl ErrorCode {
    /// The CBOR value.
    pub fn value(self) -> i64 {
        match self {
            Self::InvalidRequest => error_code::INVALID_REQUEST,
            Self::InvalidClient => error_code::INVALID_CLIENT,
            Self::InvalidGrant => error_code::INVALID_GRANT,
            Self::UnauthorizedClient => error_code::UNAUTHORIZED_CLIENT,
            Self::UnsupportedGrantType => error_code::UNSUPPORTED_GRANT_TYPE,
            Self::InvalidScope => error_code::INVALID_SCOPE,
            Self::UnsupportedPopKey => error_code::UNSUPPORTED_POP_KEY,
            Self::IncompatibleAceProfiles => error_code::INCOMPATIBLE_ACE_PROFILES,
            Self::Other(v) => v,
        }
    }

    /// The code for CBOR value `value`.
    pub fn from_value(value: i64) -> Self {
        match value {
            error_code::INVALID_REQUEST => Self::InvalidRequest,
            error_code::INVALID_CLIENT => Self::InvalidClient,
            error_code::INVALID_GRANT => Self::InvalidGrant,
            error_code::UNAUTHORIZED_CLIENT => Self::UnauthorizedClient,
            error_code::UNSUPPORTED_GRANT_TYPE => Self::UnsupportedGrantType,
            error_code::INVALID_SCOPE => Self::InvalidScope,
            error_code::UNSUPPORTED_POP_KEY => Self::UnsupportedPopKey,
            error_code::INCOMPATIBLE_ACE_PROFILES => Self::IncompatibleAceProfiles,
            other => Self::Other(other),
        }
    }

    /// The RFC 6749 / RFC 9200 name, e.g. `"invalid_scope"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedPopKey => "unsupported_pop_key",
            Self::IncompatibleAceProfiles => "incompatible_ace_profiles",
            Self::Other(_) => "unknown",
        }
    }

    /// The CoAP response code (RFC 9200 section 5.8.3): 4.00 (Bad Request)
    /// for every error, except `invalid_client`, for which the AS uses 4.01
    /// (Unauthorized) as the RFC allows.
    pub fn coap_code(self) -> Code {
        match self {
            Self::InvalidClient => Code::UNAUTHORIZED,
            _ => Code::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(v) => write!(f, "error {v}"),
            known => f.write_str(known.name()),
        }
    }
}

/// The error response of the token (and introspection) endpoint (RFC 9200
/// section 5.8.3): `{30: error, ? 31: error_description, ? 32: error_uri}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    /// `error` (30).
    pub error: ErrorCode,
    /// `error_description` (31): human-readable, for developers.
    pub error_description: Option<String>,
    /// `error_uri` (32).
    pub error_uri: Option<String>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl ErrorResponse {
    /// An error response with only the code.
    pub fn new(error: ErrorCode) -> Self {
        Self {
            error,
            error_description: None,
            error_uri: None,
            rest: Vec::new(),
        }
    }

    /// Adds a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// The CoAP response code to send it with.
    pub fn coap_code(&self) -> Code {
        self.error.coap_code()
    }
}

impl Codec for ErrorResponse {
    fn to_value(&self) -> Value {
        let map = MapBuilder::new()
            .entry(key::ERROR, self.error.value())
            .opt(key::ERROR_DESCRIPTION, self.error_description.clone())
            .opt(key::ERROR_URI, self.error_uri.clone());
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "error response")?;
        let response = Self {
            error: ErrorCode::from_value(map.req_int(key::ERROR, "error")?),
            error_description: map.opt_text(key::ERROR_DESCRIPTION, "error_description")?,
            error_uri: map.opt_text(key::ERROR_URI, "error_uri")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..response
        })
    }
}

// ---------------------------------------------------------------------------
// AS Request Creation Hints
// ---------------------------------------------------------------------------

/// AS Request Creation Hints (RFC 9200 section 5.3): what an RS tells a
/// client it refuses with 4.01, so the client can ask the right AS for the
/// right token. Unauthenticated: a client must not trust them blindly (RFC
/// 9200 section 6.9).
///
/// Written in the order `AS, kid, audience, scope, cnonce` (RFC 9200 Figure
/// 3), then `rest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsRequestCreationHints {
    /// `AS` (1): absolute URI of the AS.
    pub as_uri: Option<String>,
    /// `kid` (2): the key the client should use towards the RS.
    pub kid: Option<Vec<u8>>,
    /// `audience` (5).
    pub audience: Option<String>,
    /// `scope` (9).
    pub scope: Option<ScopeValue>,
    /// `cnonce` (39): a nonce the client copies into its token request (RFC
    /// 9200 section 5.3.1).
    pub cnonce: Option<Vec<u8>>,
    /// Other hints, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl Codec for AsRequestCreationHints {
    fn to_value(&self) -> Value {
        use key::creation_hints as h;
        let map = MapBuilder::new()
            .opt(h::AS, self.as_uri.clone())
            .opt_bytes(h::KID, self.kid.as_deref())
            .opt(h::AUDIENCE, self.audience.clone())
            .opt(h::SCOPE, self.scope.as_ref().map(ScopeValue::to_value))
            .opt_bytes(h::CNONCE, self.cnonce.as_deref());
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        use key::creation_hints as h;
        let mut map = MapReader::new(value, "AS request creation hints")?;
        let hints = Self {
            as_uri: map.opt_text(h::AS, "AS")?,
            kid: map.opt_bytes(h::KID, "kid")?,
            audience: map.opt_text(h::AUDIENCE, "audience")?,
            scope: opt_scope(&mut map, h::SCOPE)?,
            cnonce: map.opt_bytes(h::CNONCE, "cnonce")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..hints
        })
    }
}

// ---------------------------------------------------------------------------
// Introspection
// ---------------------------------------------------------------------------

/// The introspection request: the payload of `POST /introspect` (RFC 9200
/// section 5.9.1): `{11: token, ? 33: token_type_hint}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntrospectionRequest {
    /// `token` (11).
    pub token: Vec<u8>,
    /// `token_type_hint` (33).
    pub token_type_hint: Option<String>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl Codec for IntrospectionRequest {
    fn to_value(&self) -> Value {
        let map = MapBuilder::new()
            .bytes(intro::TOKEN, &self.token)
            .opt(intro::TOKEN_TYPE_HINT, self.token_type_hint.clone());
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "introspection request")?;
        let request = Self {
            token: map.req_bytes(intro::TOKEN, "token")?,
            token_type_hint: map.opt_text(intro::TOKEN_TYPE_HINT, "token_type_hint")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..request
        })
    }
}

/// The introspection response (RFC 9200 section 5.9.2): `active` and the
/// token's claims. An inactive or unknown token is a successful response
/// with `active: false`.
///
/// Written in the order `active, iss, sub, aud, exp, nbf, iat, cti, scope,
/// client_id, token_type, username, ace_profile, cnonce, exi, cnf` (RFC
/// 9200 Figure 10 order), then `rest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntrospectionResponse {
    /// `active` (10).
    pub active: bool,
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
    /// `scope` (9).
    pub scope: Option<ScopeValue>,
    /// `client_id` (24).
    pub client_id: Option<String>,
    /// `token_type` (34).
    pub token_type: Option<i64>,
    /// `username` (35).
    pub username: Option<String>,
    /// `ace_profile` (38).
    pub ace_profile: Option<i64>,
    /// `cnonce` (39).
    pub cnonce: Option<Vec<u8>>,
    /// `exi` (40).
    pub exi: Option<u64>,
    /// `cnf` (8).
    pub cnf: Option<Confirmation>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl Codec for IntrospectionResponse {
    fn to_value(&self) -> Value {
        let date = |d: &Option<NumericDate>| d.as_ref().map(NumericDate::to_value);
        let map = MapBuilder::new()
            .entry(intro::ACTIVE, self.active)
            .opt(intro::ISS, self.iss.clone())
            .opt(intro::SUB, self.sub.clone())
            .opt(intro::AUD, self.aud.as_ref().map(Audience::to_value))
            .opt(intro::EXP, date(&self.exp))
            .opt(intro::NBF, date(&self.nbf))
            .opt(intro::IAT, date(&self.iat))
            .opt_bytes(intro::CTI, self.cti.as_deref())
            .opt(intro::SCOPE, self.scope.as_ref().map(ScopeValue::to_value))
            .opt(intro::CLIENT_ID, self.client_id.clone())
            .opt(intro::TOKEN_TYPE, self.token_type)
            .opt(intro::USERNAME, self.username.clone())
            .opt(intro::ACE_PROFILE, self.ace_profile)
            .opt_bytes(intro::CNONCE, self.cnonce.as_deref())
            .opt(intro::EXI, self.exi)
            .opt(intro::CNF, self.cnf.as_ref().map(Codec::to_value));
        append_rest(map, &self.rest).build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "introspection response")?;
        let date = |v: Option<Value>, name| v.map(|v| NumericDate::from_value(v, name)).transpose();
        let response = Self {
            active: cbor::boolean(map.require(intro::ACTIVE, "active")?, "active")?,
            iss: map.opt_text(intro::ISS, "iss")?,
            sub: map.opt_text(intro::SUB, "sub")?,
            aud: map
                .take(intro::AUD)
                .map(|v| Audience::from_value(v, "aud"))
                .transpose()?,
            exp: date(map.take(intro::EXP), "exp")?,
            nbf: date(map.take(intro::NBF), "nbf")?,
            iat: date(map.take(intro::IAT), "iat")?,
            cti: map.opt_bytes(intro::CTI, "cti")?,
            scope: opt_scope(&mut map, intro::SCOPE)?,
            client_id: map.opt_text(intro::CLIENT_ID, "client_id")?,
            token_type: map.opt_int(intro::TOKEN_TYPE, "token_type")?,
            username: map.opt_text(intro::USERNAME, "username")?,
            ace_profile: map.opt_int(intro::ACE_PROFILE, "ace_profile")?,
            cnonce: map.opt_bytes(intro::CNONCE, "cnonce")?,
            exi: map.opt_uint(intro::EXI, "exi")?,
            cnf: opt_cnf(&mut map, intro::CNF)?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_and_their_coap_codes() {
        for v in 1..=8 {
            let code = ErrorCode::from_value(v);
            assert_eq!(code.value(), v);
            assert_ne!(code.name(), "unknown");
            let expected = if v == 2 {
                Code::UNAUTHORIZED
            } else {
                Code::BAD_REQUEST
            };
            assert_eq!(code.coap_code(), expected, "{code}");
        }
        assert_eq!(ErrorCode::from_value(9), ErrorCode::Other(9));
        // 4.00 {30: 1}
        let e = ErrorResponse::new(ErrorCode::InvalidRequest);
        assert_eq!(hex::encode(e.encode()), "a1181e01");
    }

    #[test]
    fn ace_profile_request_must_be_null() {
        // {38: null} asks for the profile; {38: 2} is not a request form.
        let r = AccessTokenRequest::decode(&hex::decode("a11826f6").unwrap()).unwrap();
        assert!(r.ace_profile);
        assert!(AccessTokenRequest::decode(&hex::decode("a1182602").unwrap()).is_err());
        assert_eq!(r.effective_grant_type(), grant_type::CLIENT_CREDENTIALS);
    }
}
