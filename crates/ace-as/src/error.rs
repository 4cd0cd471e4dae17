//! Why a token or introspection request was refused, and the response each
//! refusal gets (RFC 9200 sections 5.8.3 and 5.9.3).

use crate::mint::MintError;
use crate::policy::ScopeRefusal;
use crate::store::StoreError;
use ace_proto::Code;
use ace_proto::error::DecodeError;
use ace_proto::oauth::{ErrorCode, ErrorResponse};

/// A refused token request. [`TokenRequestError::error_code`] is the OAuth
/// error of RFC 9200 section 5.8.3; its CoAP code is 4.00, except 4.01 for
/// `invalid_client`. Failures of the AS itself have no OAuth code and get
/// 5.00.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenRequestError {
    /// The request did not come over an authenticated channel
    /// (`invalid_client`, 4.01).
    #[error("client authentication required: no security context authenticates the requester")]
    Unauthenticated,
    /// The authenticated peer is not a configured client (`invalid_client`).
    #[error("the authenticated peer is not a registered client")]
    NotAClient,
    /// `client_id` names another client than the one authenticated
    /// (`invalid_client`).
    #[error("client_id {claimed:?} does not match the authenticated client")]
    ClientIdMismatch {
        /// The `client_id` parameter.
        claimed: String,
    },
    /// The payload is not an `application/ace+cbor` Access Token Request
    /// (`invalid_request`).
    #[error("malformed token request: {0}")]
    Malformed(String),
    /// `client_secret` on top of the channel's authentication: more than one
    /// authentication method (`invalid_request`, RFC 6749 section 5.2).
    #[error("client_secret given while the channel already authenticates the client")]
    SeveralAuthenticationMethods,
    /// A grant type other than `client_credentials`
    /// (`unsupported_grant_type`).
    #[error("grant type {0} is not supported; use client_credentials (2)")]
    UnsupportedGrantType(u64),
    /// No `audience` and no default audience (`invalid_request`).
    #[error("the request has no audience and the AS has no default audience")]
    MissingAudience,
    /// The audience is not a configured resource server (`invalid_request`).
    #[error("unknown audience {0:?}")]
    UnknownAudience(String),
    /// The client does not support the RS's profile
    /// (`incompatible_ace_profiles`).
    #[error("the client does not support profile {profile} of audience {audience:?}")]
    IncompatibleProfiles {
        /// The audience.
        audience: String,
        /// Its profile.
        profile: &'static str,
    },
    /// No policy rule lets this client ask for tokens for this audience
    /// (`unauthorized_client`).
    #[error("client {client:?} is not authorized to obtain tokens for audience {audience:?}")]
    NotAuthorized {
        /// The client.
        client: String,
        /// The audience.
        audience: String,
    },
    /// No scope in the request and no default scope (`invalid_scope`).
    #[error("the request has no scope and the audience has no default scope")]
    MissingScope,
    /// The scope is malformed or nothing of it is granted
    /// (`invalid_scope`).
    #[error(transparent)]
    Scope(ScopeRefusal),
    /// The PoP key in `req_cnf` is of a kind the RS cannot use
    /// (`unsupported_pop_key`).
    #[error("unsupported PoP key: {0}")]
    UnsupportedPopKey(String),
    /// `req_cnf` is unusable (`invalid_request`): a symmetric key, a key the
    /// AS cannot tie to the client.
    #[error("invalid req_cnf: {0}")]
    InvalidReqCnf(String),
    /// `req_cnf` references a key of an earlier grant that does not exist,
    /// belongs to another client or audience, or whose token expired or was
    /// revoked (`invalid_grant`).
    #[error("req_cnf kid {0} names no valid earlier grant of this client for this audience")]
    UnknownKeyReference(String),
    /// The token store failed (5.00).
    #[error(transparent)]
    Store(StoreError),
    /// Sealing the token failed (5.00).
    #[error(transparent)]
    Mint(MintError),
}

impl TokenRequestError {
    /// The OAuth error code, `None` for failures of the AS itself.
    pub fn error_code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::Unauthenticated | Self::NotAClient | Self::ClientIdMismatch { .. } => {
                ErrorCode::InvalidClient
            }
            Self::Malformed(_)
            | Self::SeveralAuthenticationMethods
            | Self::MissingAudience
            | Self::UnknownAudience(_)
            | Self::InvalidReqCnf(_) => ErrorCode::InvalidRequest,
            Self::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            Self::IncompatibleProfiles { .. } => ErrorCode::IncompatibleAceProfiles,
            Self::NotAuthorized { .. } => ErrorCode::UnauthorizedClient,
            Self::MissingScope | Self::Scope(_) => ErrorCode::InvalidScope,
            Self::UnsupportedPopKey(_) => ErrorCode::UnsupportedPopKey,
            Self::UnknownKeyReference(_) => ErrorCode::InvalidGrant,
            Self::Store(_) | Self::Mint(_) => return None,
        })
    }

    /// The CoAP response code: the OAuth error's (RFC 9200 section 5.8.3),
    /// or 5.00.
    pub fn coap_code(&self) -> Code {
        self.error_code()
            .map_or(Code::INTERNAL_SERVER_ERROR, ErrorCode::coap_code)
    }

    /// The error payload `{30: error, 31: description}`, `None` for 5.00.
    pub fn to_response(&self) -> Option<ErrorResponse> {
        self.error_code()
            .map(|code| ErrorResponse::new(code).with_description(self.to_string()))
    }
}

impl From<DecodeError> for TokenRequestError {
    fn from(e: DecodeError) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// A refused introspection request (RFC 9200 section 5.9.3). An unknown,
/// expired or revoked token is not an error: it is answered `active:
/// false`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntrospectionError {
    /// The requester is not authenticated (4.01, `invalid_client`).
    #[error("introspection requires an authenticated resource server")]
    Unauthenticated,
    /// The requester is authenticated but not a registered resource server
    /// (4.03, no payload).
    #[error("the requester may not introspect tokens")]
    Forbidden,
    /// The payload is not an Introspection Request (4.00,
    /// `invalid_request`).
    #[error("malformed introspection request: {0}")]
    Malformed(String),
    /// The token store failed (5.00).
    #[error(transparent)]
    Store(StoreError),
}

impl IntrospectionError {
    /// The CoAP response code.
    pub fn coap_code(&self) -> Code {
        match self {
            Self::Unauthenticated => Code::UNAUTHORIZED,
            Self::Forbidden => Code::FORBIDDEN,
            Self::Malformed(_) => Code::BAD_REQUEST,
            Self::Store(_) => Code::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error payload, where RFC 9200 section 5.9.3 has one: none for
    /// 4.03 and 5.00.
    pub fn to_response(&self) -> Option<ErrorResponse> {
        let code = match self {
            Self::Unauthenticated => ErrorCode::InvalidClient,
            Self::Malformed(_) => ErrorCode::InvalidRequest,
            Self::Forbidden | Self::Store(_) => return None,
        };
        Some(ErrorResponse::new(code).with_description(self.to_string()))
    }
}
