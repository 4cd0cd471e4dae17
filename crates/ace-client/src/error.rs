//! The client's errors: what failed, with the CoAP code of the peer's
//! answer and, for RFC 9594 problem details, the error id with the RFC's
//! wording and the client guidance of RFC 9594 section 9.
//!
//! Each variant says whose fault it is, as rustls' errors do: the peer
//! refused (`Rejected`, `TokenRefused`), the peer misbehaved (`Malformed`,
//! `KdcProofFailed`, `NoCreationHints`), the local state does not allow the
//! operation (`NotMember`, `MaterialExpired`), or the transport failed.

use ace_proto::code::Code;
use ace_proto::consts::groupcomm::{ClientAction, ErrorId};
use ace_proto::error::DecodeError;
use ace_proto::oauth::ErrorCode;
use ace_proto::pop::PopError;
use ace_proto::problem::ProblemDetails;
use std::fmt;

/// A refusal by the KDC: the response code and, when the body was concise
/// problem details (RFC 9594 section 4.1.2), its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The operation, e.g. `"POST /ace-group/g1"`.
    pub operation: String,
    /// The response code.
    pub code: Code,
    /// The `error-id` of the `ace-groupcomm-error` entry, if any (kept as
    /// the raw value so that ids unknown here survive).
    pub error_id: Option<i64>,
    /// The problem details, if the body was one.
    pub problem: Option<ProblemDetails>,
    /// A diagnostic payload (text), if the body was one.
    pub diagnostic: Option<String>,
}

impl Rejection {
    /// The registered error id, if the KDC sent a known one.
    pub fn known_error(&self) -> Option<ErrorId> {
        self.error_id.and_then(ErrorId::from_value)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {}",
            self.operation,
            describe_code(self.code)
        )?;
        match (self.error_id, self.known_error()) {
            (_, Some(id)) => write!(
                f,
                ": error id {} \"{}\"{}; {}",
                id.value(),
                id.description(),
                if id.is_suggested() {
                    " (Group OSCORE profile, suggested value)"
                } else {
                    " (RFC 9594)"
                },
                id.client_action().description()
            )?,
            (Some(raw), None) => write!(f, ": unregistered error id {raw}")?,
            (None, None) => {}
        }
        if let Some(detail) = self.problem.as_ref().and_then(|p| p.detail.as_deref()) {
            write!(f, " [detail: {detail}]")?;
        }
        if let Some(diag) = &self.diagnostic {
            write!(f, " [{diag}]")?;
        }
        Ok(())
    }
}

/// The CoAP code with its name, e.g. `4.03 (Forbidden)`.
pub fn describe_code(code: Code) -> String {
    let name = match (code.class(), code.detail()) {
        (2, 1) => "Created",
        (2, 2) => "Deleted",
        (2, 3) => "Valid",
        (2, 4) => "Changed",
        (2, 5) => "Content",
        (4, 0) => "Bad Request",
        (4, 1) => "Unauthorized",
        (4, 2) => "Bad Option",
        (4, 3) => "Forbidden",
        (4, 4) => "Not Found",
        (4, 5) => "Method Not Allowed",
        (4, 6) => "Not Acceptable",
        (4, 8) => "Request Entity Incomplete",
        (4, 12) => "Precondition Failed",
        (4, 13) => "Request Entity Too Large",
        (4, 15) => "Unsupported Content-Format",
        (5, 0) => "Internal Server Error",
        (5, 1) => "Not Implemented",
        (5, 2) => "Bad Gateway",
        (5, 3) => "Service Unavailable",
        (5, 4) => "Gateway Timeout",
        _ => "",
    };
    if name.is_empty() {
        format!("{}.{:02}", code.class(), code.detail())
    } else {
        format!("{}.{:02} ({name})", code.class(), code.detail())
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The KDC refused the request (RFC 9594 section 4.1.2): the code, and
    /// the error id with the RFC's description and the client guidance of
    /// RFC 9594 section 9 when the body is problem details.
    #[error("{0}")]
    Rejected(Box<Rejection>),
    /// The AS refused the token request (RFC 9200 section 5.8.3).
    #[error(
        "the AS refused the token request with {}: {}{}",
        describe_code(*code),
        error.map_or_else(|| "no OAuth error".to_string(), |e| e.to_string()),
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    TokenRefused {
        /// The response code.
        code: Code,
        /// The OAuth error code, if the body carried one.
        error: Option<ErrorCode>,
        /// `error_description`, if any.
        description: Option<String>,
    },
    /// The KDC answered an unauthorized request without AS Request Creation
    /// Hints (RFC 9200 section 5.3), so the client cannot tell which AS to
    /// ask.
    #[error(
        "the KDC answered {} to a request without a token, with no AS Request Creation Hints",
        describe_code(*code)
    )]
    NoCreationHints {
        /// The response code.
        code: Code,
    },
    /// The AS named in the creation hints is not one this client has a
    /// security context with (RFC 9200 section 6.9: hints are not trusted).
    #[error("no OSCORE context with the AS {0:?} named in the creation hints")]
    UnknownAuthorizationServer(String),
    /// The AS granted a scope that does not contain the requested roles.
    #[error("the AS did not grant {roles} on group {group:?}")]
    ScopeNotGranted {
        /// The group.
        group: String,
        /// The roles asked for, by name.
        roles: String,
    },
    /// `kdc_cred_verify` did not verify: the join is treated as failed
    /// (RFC 9594 section 4.3.1), or a new KDC credential is not stored
    /// (section 4.5.1).
    #[error("the KDC's proof of possession (kdc_cred_verify) failed: {0}")]
    KdcProofFailed(String),
    /// A peer's message could not be decoded or does not fit the protocol.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The message.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The client is not (or no longer) a member of the group.
    #[error("not a member of group {0:?}")]
    NotMember(String),
    /// The group keying material has expired and no newer could be
    /// obtained (RFC 9594 section 4.3.1: it MUST NOT be used).
    #[error("the keying material of group {group:?} expired at {expired_at}")]
    MaterialExpired {
        /// The group.
        group: String,
        /// The expiry, Unix seconds.
        expired_at: u64,
    },
    /// The operation needs a role this membership does not have (e.g. a
    /// Monitor sending a request).
    #[error("group {group:?}: {reason}")]
    RoleNotAllowed {
        /// The group.
        group: String,
        /// Why.
        reason: String,
    },
    /// Setting up or using an OSCORE or Group OSCORE context failed.
    #[error("OSCORE: {0}")]
    Oscore(String),
    /// The exchange failed (timeout, reset, closed endpoint, bad URI).
    #[error("{operation}: {reason}")]
    Transport {
        /// The operation.
        operation: String,
        /// What happened.
        reason: String,
    },
    /// An invalid configuration or argument.
    #[error("configuration: {0}")]
    Config(String),
    /// Reading or writing the state file failed.
    #[error("state file: {0}")]
    State(String),
}

impl ClientError {
    /// The CoAP response code of the refusal, if the failure was one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Rejected(r) => Some(r.code),
            Self::TokenRefused { code, .. } | Self::NoCreationHints { code } => Some(*code),
            _ => None,
        }
    }

    /// The ACE Groupcomm error id of the refusal, if the KDC sent a
    /// registered one.
    pub fn error_id(&self) -> Option<ErrorId> {
        match self {
            Self::Rejected(r) => r.known_error(),
            _ => None,
        }
    }

    /// The raw error id, registered or not.
    pub fn raw_error_id(&self) -> Option<i64> {
        match self {
            Self::Rejected(r) => r.error_id,
            _ => None,
        }
    }

    /// What RFC 9594 section 9 advises a client to do about the error id.
    pub fn client_action(&self) -> Option<ClientAction> {
        self.error_id().map(ErrorId::client_action)
    }

    /// The rejection, if this is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn malformed(what: &'static str, e: impl fmt::Display) -> Self {
        Self::Malformed {
            what,
            reason: e.to_string(),
        }
    }

    pub(crate) fn decode(what: &'static str, e: DecodeError) -> Self {
        Self::malformed(what, e)
    }

    pub(crate) fn transport(operation: impl Into<String>, e: impl fmt::Display) -> Self {
        Self::Transport {
            operation: operation.into(),
            reason: e.to_string(),
        }
    }
}

impl From<PopError> for ClientError {
    fn from(e: PopError) -> Self {
        Self::KdcProofFailed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::cbor::Codec;

    #[test]
    fn rejection_uses_the_rfc_wording_and_guidance() {
        let body = ProblemDetails::groupcomm(ErrorId::OnlyGroupMembers, Some("x".into()));
        let r = Rejection {
            operation: "GET /ace-group/g1/num".into(),
            code: Code::FORBIDDEN,
            error_id: Some(0),
            problem: Some(ProblemDetails::decode(&body.encode()).unwrap()),
            diagnostic: None,
        };
        let text = ClientError::Rejected(Box::new(r)).to_string();
        assert!(text.contains("4.03 (Forbidden)"), "{text}");
        assert!(
            text.contains("\"Operation permitted only to group members\""),
            "{text}"
        );
        assert!(text.contains("join the group first"), "{text}");
        assert!(text.contains("(RFC 9594)"), "{text}");
    }

    #[test]
    fn every_error_id_has_a_message() {
        for id in ErrorId::ALL {
            let e = ClientError::Rejected(Box::new(Rejection {
                operation: "op".into(),
                code: Code::BAD_REQUEST,
                error_id: Some(id.value()),
                problem: None,
                diagnostic: None,
            }));
            assert_eq!(e.error_id(), Some(id));
            assert_eq!(e.client_action(), Some(id.client_action()));
            assert!(e.to_string().contains(id.description()));
        }
        let unknown = ClientError::Rejected(Box::new(Rejection {
            operation: "op".into(),
            code: Code::BAD_REQUEST,
            error_id: Some(99),
            problem: None,
            diagnostic: None,
        }));
        assert_eq!(unknown.error_id(), None);
        assert_eq!(unknown.raw_error_id(), Some(99));
        assert!(unknown.to_string().contains("unregistered error id 99"));
    }
}
