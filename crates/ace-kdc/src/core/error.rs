//! Why the KDC refuses a request, and the response each refusal becomes
//! (RFC 9594 section 4.1.2; RFC 9200 sections 5.3 and 5.10.1.1; Group
//! OSCORE profile sections 6.2 and 9).
//!
//! Every handler returns `Result<_, Refusal>`; a refusal never changes
//! state (the only exception the RFC mandates: a Join or credential update
//! without a stored N_S stores the new `kdcchallenge` it sends).

use super::KdcResponse;
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::cwt::TokenError;
use ace_proto::error::DecodeError;
use ace_proto::groupcomm::GroupcommErrorBody;
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::problem::ProblemDetails;

/// A refused request.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// 4.01: no valid token for this client (RFC 9594 section 4.1.2 check
    /// 1), with AS Request Creation Hints (RFC 9200 section 5.3), CF 19.
    Unauthorized(Box<AsRequestCreationHints>),
    /// A token refused at `/authz-info` (RFC 9200 section 5.10.1.1): 4.00,
    /// 4.01 or 4.03 as [`TokenError::code`] says.
    Token(TokenError),
    /// 4.01 without hints (an access-rights update that does not match the
    /// channel, RFC 9203 section 4.1; a `cnonce` check that failed).
    TokenUnauthorized(String),
    /// 4.03: the token does not grant the operation (check 2). With an
    /// error id, a problem-details body (e.g. 0: only group members).
    Forbidden {
        /// The ACE Groupcomm error id, if the RFC names one.
        error_id: Option<ErrorId>,
        /// Text for humans (and the log).
        detail: String,
    },
    /// 4.04: no such resource (e.g. unknown group).
    NotFound(String),
    /// 4.05: the resource does not support the method.
    MethodNotAllowed,
    /// 4.15: a Content-Format the resource does not take.
    UnsupportedContentFormat(Option<u16>),
    /// 4.00 without an error id: malformed request (check 3).
    BadRequest(String),
    /// 4.00 with Content-Format 261 (RFC 9594 section 4.3.1; profile
    /// section 6.2): a new `kdcchallenge`, or `sign_info`/`ecdh_info`/
    /// `kdc_dh_creds` so the client can correct its credential.
    BadRequestBody(Box<GroupcommErrorBody>),
    /// A response with problem details carrying an ACE Groupcomm error id.
    Problem {
        /// The response code.
        code: Code,
        /// The error id.
        error_id: ErrorId,
        /// Text for humans (the `detail` entry).
        detail: String,
    },
    /// 5.00: the KDC failed (storage). Nothing was changed.
    Internal(String),
}

impl Refusal {
    /// 4.03 without an error id.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden {
            error_id: None,
            detail: detail.into(),
        }
    }

    /// 4.03 with error id 0, "Operation permitted only to group members".
    pub fn only_members() -> Self {
        Self::Forbidden {
            error_id: Some(ErrorId::OnlyGroupMembers),
            detail: "the client is not a member of the group".into(),
        }
    }

    /// 4.00 with an error id.
    pub fn bad_request(error_id: ErrorId, detail: impl Into<String>) -> Self {
        Self::Problem {
            code: Code::BAD_REQUEST,
            error_id,
            detail: detail.into(),
        }
    }

    /// 5.03 with an error id.
    pub fn unavailable(error_id: ErrorId, detail: impl Into<String>) -> Self {
        Self::Problem {
            code: Code::SERVICE_UNAVAILABLE,
            error_id,
            detail: detail.into(),
        }
    }

    /// The response code.
    pub fn code(&self) -> Code {
        match self {
            Self::Unauthorized(_) | Self::TokenUnauthorized(_) => Code::UNAUTHORIZED,
            Self::Token(e) => e.code(),
            Self::Forbidden { .. } => Code::FORBIDDEN,
            Self::NotFound(_) => Code::NOT_FOUND,
            Self::MethodNotAllowed => Code::METHOD_NOT_ALLOWED,
            Self::UnsupportedContentFormat(_) => Code::UNSUPPORTED_CONTENT_FORMAT,
            Self::BadRequest(_) | Self::BadRequestBody(_) => Code::BAD_REQUEST,
            Self::Problem { code, .. } => *code,
            Self::Internal(_) => Code::INTERNAL_SERVER_ERROR,
        }
    }

    /// The ACE Groupcomm error id, if any.
    pub fn error_id(&self) -> Option<ErrorId> {
        match self {
            Self::Forbidden { error_id, .. } => *error_id,
            Self::Problem { error_id, .. } => Some(*error_id),
            _ => None,
        }
    }

    /// The CoAP response. Refusals without a registered body carry a
    /// diagnostic payload (RFC 7252 section 5.5.2: UTF-8 text, no
    /// Content-Format).
    pub fn into_response(self) -> KdcResponse {
        let code = self.code();
        match self {
            Self::Unauthorized(hints) => KdcResponse::with_body(code, cf::ACE_CBOR, hints.encode()),
            Self::Forbidden {
                error_id: Some(id),
                detail,
            }
            | Self::Problem {
                error_id: id,
                detail,
                ..
            } => KdcResponse::with_body(
                code,
                cf::CONCISE_PROBLEM_DETAILS_CBOR,
                ProblemDetails::groupcomm(id, Some(detail)).encode(),
            ),
            Self::BadRequestBody(body) => {
                KdcResponse::with_body(code, cf::ACE_GROUPCOMM_CBOR, body.encode())
            }
            Self::Token(e) => KdcResponse::diagnostic(code, &e.to_string()),
            Self::Forbidden { detail, .. }
            | Self::TokenUnauthorized(detail)
            | Self::NotFound(detail)
            | Self::BadRequest(detail)
            | Self::Internal(detail) => KdcResponse::diagnostic(code, &detail),
            Self::MethodNotAllowed => KdcResponse::empty(code),
            Self::UnsupportedContentFormat(got) => KdcResponse::diagnostic(
                code,
                &match got {
                    Some(c) => format!("Content-Format {c} not accepted here"),
                    None => "a Content-Format is required".into(),
                },
            ),
        }
    }
}

impl From<DecodeError> for Refusal {
    fn from(e: DecodeError) -> Self {
        match e.error_id().and_then(ErrorId::from_value) {
            Some(id) => Self::Problem {
                code: e.code(),
                error_id: id,
                detail: e.to_string(),
            },
            None => Self::BadRequest(e.to_string()),
        }
    }
}

impl From<TokenError> for Refusal {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}
