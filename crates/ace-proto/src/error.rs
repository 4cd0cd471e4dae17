//! The error every decoder of this crate returns.
//!
//! Each variant knows the CoAP response it should cause ([`DecodeError::code`])
//! and, where RFC 9594 or the Group OSCORE profile names one, the error id to
//! put in the problem details ([`DecodeError::error_id`]).

use crate::code::Code;

/// Why received bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not one well-formed CBOR data item.
    #[error("not well-formed CBOR: {0}")]
    Malformed(String),
    /// Bytes follow the CBOR data item.
    #[error("{0} trailing byte(s) after the CBOR data item")]
    TrailingData(usize),
    /// A data item of the wrong major type or value range.
    #[error("{context}: expected {want}, got {got}")]
    UnexpectedItem {
        /// Which field or structure was being read.
        context: &'static str,
        /// What the specification requires there.
        want: &'static str,
        /// What was found.
        got: &'static str,
    },
    /// A map key appears twice (RFC 8949 section 5.6: not valid CBOR maps for
    /// our purposes; COSE and CWT forbid it outright).
    #[error("{context}: duplicate map key {key}")]
    DuplicateKey {
        /// The map being read.
        context: &'static str,
        /// The repeated key, in diagnostic notation.
        key: String,
    },
    /// A parameter the specification makes mandatory is absent.
    #[error("{context}: missing required parameter {name}")]
    MissingParameter {
        /// The message being read.
        context: &'static str,
        /// The parameter's name as the RFC spells it.
        name: &'static str,
    },
    /// A value of the right type that the specification forbids.
    #[error("{context}: {reason}")]
    InvalidValue {
        /// Which field or structure was being read.
        context: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A refusal for which the specification prescribes a response code and
    /// an ACE Groupcomm error id (RFC 9594 section 9), e.g. a credential that
    /// does not fit the group (4.00, error id 2).
    #[error("{reason} (error id {error_id})")]
    Groupcomm {
        /// The response code to send.
        code: Code,
        /// The ACE Groupcomm error id.
        error_id: i64,
        /// What is wrong, for the `detail` of the problem details.
        reason: String,
    },
}

impl DecodeError {
    /// The CoAP response this error should cause: 4.00 (Bad Request) unless
    /// the specification names another.
    pub fn code(&self) -> Code {
        match self {
            Self::Groupcomm { code, .. } => *code,
            _ => Code::BAD_REQUEST,
        }
    }

    /// The ACE Groupcomm error id to report, where the specification names one.
    pub fn error_id(&self) -> Option<i64> {
        match self {
            Self::Groupcomm { error_id, .. } => Some(*error_id),
            _ => None,
        }
    }

    /// Shorthand for [`DecodeError::InvalidValue`].
    pub fn invalid(context: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidValue {
            context,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`DecodeError::MissingParameter`].
    pub fn missing(context: &'static str, name: &'static str) -> Self {
        Self::MissingParameter { context, name }
    }
}
