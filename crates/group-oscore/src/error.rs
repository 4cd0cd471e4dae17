//! Errors of each layer, with the CoAP response RFC 8613 section 8 and RFC
//! 10021 sections 6 to 8 prescribe for them.
//!
//! * [`ContextError`]: the input parameters cannot make a security context
//!   (a configuration problem; never sent on the wire).
//! * [`ProtectError`]: a message could not be protected (local state or a
//!   caller error; a server answers 5.00 if it has to say something).
//! * [`UnprotectError`]: a received message was refused. For requests,
//!   [`UnprotectError::code`] and [`UnprotectError::diagnostic`] give the
//!   unprotected error response of RFC 8613 section 8.2 (with an Outer
//!   Max-Age of zero, section 4.1.3.1), and
//!   [`UnprotectError::error_response`] builds it. For responses, the client
//!   just stops processing (section 8.4 step 8). In groups, servers SHOULD
//!   NOT answer group requests with errors (RFC 10021 section 7).

use ace_proto::Code;
use coap_lite::{MessageClass, MessageType, Packet};

use crate::algorithm::AeadError;
use crate::message::{self, MAX_AGE, MessageError};
use crate::option::OptionError;
use crate::replay::ReplayError;
use crate::sequence::SequenceError;

/// Diagnostic payload of 4.02 (RFC 8613 section 8.2 step 2).
pub const DIAG_FAILED_TO_DECODE: &str = "Failed to decode COSE";
/// Diagnostic payload of 4.01 for an unknown context (section 8.2 step 2).
pub const DIAG_CONTEXT_NOT_FOUND: &str = "Security context not found";
/// Diagnostic payload of 4.01 for a replay (section 7.4).
pub const DIAG_REPLAY: &str = "Replay detected";
/// Diagnostic payload of 4.00 (section 8.2 step 6; RFC 10021 section 7.2
/// uses the same string for a countersignature that does not verify).
pub const DIAG_DECRYPTION_FAILED: &str = "Decryption failed";

/// Why a security context could not be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A Sender or Recipient ID longer than nonce length minus 6 (RFC 8613
    /// section 3.3, RFC 10021 section 2.2).
    #[error("{which} of {len} bytes exceeds the maximum of {max}")]
    IdTooLong {
        /// "Sender ID" or "Recipient ID".
        which: &'static str,
        /// Its length.
        len: usize,
        /// The maximum for the algorithms in use.
        max: usize,
    },
    /// An AEAD with a nonce shorter than 7 bytes (RFC 8613 section 5.2).
    #[error("AEAD nonce of {0} bytes is shorter than the 7 OSCORE needs")]
    NonceTooShort(usize),
    /// Sender ID and Recipient ID are equal (RFC 8613 section 3.3; RFC 9203
    /// section 4.3 makes the client abort).
    #[error("Sender ID and Recipient ID are equal")]
    SameIds,
    /// An OSCORE version other than 1 (RFC 8613 section 5.4).
    #[error("unsupported OSCORE version {0}")]
    UnsupportedVersion(u64),
    /// An algorithm identifier this crate does not implement.
    #[error("unsupported {what} algorithm {id}")]
    UnsupportedAlgorithm {
        /// Which parameter.
        what: &'static str,
        /// The COSE identifier.
        id: i64,
    },
    /// An algorithm named by a text string this crate does not implement.
    #[error("unsupported {what} algorithm {name:?}")]
    UnsupportedAlgorithmName {
        /// Which parameter.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A required input parameter is missing.
    #[error("missing input parameter: {0}")]
    Missing(&'static str),
    /// The group's algorithms or keys do not fit together (RFC 10021
    /// section 2), e.g. a signing key of another algorithm than the group's
    /// Signature Algorithm, or no mode at all.
    #[error("inconsistent group configuration: {0}")]
    Inconsistent(&'static str),
    /// A saved replay window does not fit the context (RFC 8613 Appendix
    /// B.1.2).
    #[error("saved replay state: {0}")]
    ReplayState(#[from] crate::replay::WindowStateError),
}

/// Why a message could not be protected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    /// The message cannot be carried (nested OSCORE, wrong code, a
    /// Proxy-Uri that does not decompose).
    #[error(transparent)]
    Message(#[from] MessageError),
    /// No sequence number is left, or none could be reserved (RFC 8613
    /// section 7.2.1): the context must be replaced.
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// The OSCORE option would exceed its limits.
    #[error(transparent)]
    Option(#[from] OptionError),
    /// The AEAD refused its input.
    #[error(transparent)]
    Aead(#[from] AeadError),
    /// This endpoint has no Sender Context in the group (a monitor, or
    /// silent server), and never sends protected messages (RFC 10021
    /// section 2.2, draft-ietf-ace-key-groupcomm-oscore section 3).
    #[error("no Sender Context: a monitor never sends protected messages")]
    NoSenderContext,
    /// Our own roles do not allow sending this message (a request without
    /// the Requester role, a response without the Responder role).
    #[error("own roles do not allow sending a {0}")]
    RoleForbids(&'static str),
    /// The requested mode is not available in this group (its algorithms
    /// are not set, RFC 10021 sections 7 and 8).
    #[error("{0} mode is not available in this group")]
    ModeUnavailable(&'static str),
    /// Pairwise mode towards a member whose credential we do not have.
    #[error("no Recipient Context for the pairwise peer")]
    UnknownPeer,
    /// The static-static Diffie-Hellman with the peer failed (degenerate or
    /// unusable public key, RFC 10021 section 2.5.2).
    #[error("key agreement with the peer failed")]
    KeyAgreement,
    /// A request protected in group mode was answered too many times; or
    /// this exchange belongs to a context that no longer exists.
    #[error("the exchange can no longer be used: {0}")]
    StaleExchange(&'static str),
}

impl ProtectError {
    /// The response a server sends when it fails to protect its own
    /// response: 5.00 (Internal Server Error), unprotected.
    pub fn code(&self) -> Code {
        Code::INTERNAL_SERVER_ERROR
    }
}

/// Why the OSCORE option or compressed COSE object of a received message
/// could not be decoded (RFC 8613 section 8.2 step 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFailure {
    /// The OSCORE option value is malformed.
    #[error(transparent)]
    Option(#[from] OptionError),
    /// The OSCORE option appears more than once (it is not repeatable,
    /// RFC 8613 section 2).
    #[error("OSCORE option repeated")]
    RepeatedOption,
    /// An OSCORE message without payload (RFC 8613 section 2).
    #[error("OSCORE message without payload")]
    NoPayload,
    /// A request without 'Partial IV' or 'kid' (RFC 8613 section 5), or a
    /// Group OSCORE request without 'kid context' (RFC 10021 section 3.2).
    #[error("request lacks the '{0}' field")]
    MissingField(&'static str),
    /// The payload is too short to contain the tag and, in group mode, the
    /// encrypted countersignature.
    #[error("payload too short")]
    ShortPayload,
    /// The decrypted plaintext is not a valid message of the expected kind.
    #[error(transparent)]
    Plaintext(#[from] MessageError),
    /// The Group Flag is set but no group context applies (RFC 10021
    /// section 6).
    #[error("Group Flag set for a non-group security context")]
    GroupFlagWithoutGroup,
}

/// Why a received message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnprotectError {
    /// The message has no OSCORE option: it is not for this layer.
    #[error("message is not OSCORE-protected")]
    NotProtected,
    /// Decompression or COSE decoding failed: 4.02 "Failed to decode COSE".
    #[error("failed to decode COSE: {0}")]
    FailedToDecode(#[from] DecodeFailure),
    /// No security context (or Recipient Context) matches the 'kid' and
    /// 'kid context': 4.01 "Security context not found".
    #[error("security context not found")]
    ContextNotFound,
    /// The Partial IV was seen before, or is too old: 4.01 "Replay detected".
    #[error("replay detected: {0}")]
    Replay(ReplayError),
    /// The AEAD tag does not verify: 4.00 "Decryption failed".
    #[error("decryption failed")]
    DecryptionFailed,
    /// A Group OSCORE countersignature does not verify: 4.00 with the
    /// diagnostic "Decryption failed", as if decryption had failed (RFC
    /// 10021 section 7.2).
    #[error("countersignature does not verify")]
    SignatureInvalid,
    /// The request verified, but the replay state is not initialized: the
    /// server must establish freshness with Echo (RFC 8613 Appendix B.1.2,
    /// RFC 10021 section 9). The request MUST NOT be delivered; answer with
    /// [`crate::EchoChallenge::response`] protected through the context.
    #[error("request freshness unknown: Echo challenge required")]
    EchoRequired(Box<crate::exchange::EchoChallenge>),
    /// The mode of the message (Group Flag) is not supported by this group
    /// context (RFC 10021 section 6; section 8.4 allows 4.02 for an
    /// unsupported pairwise mode).
    #[error("{0} mode not available in this group")]
    ModeUnavailable(&'static str),
    /// The sender is a group member whose credential is not available yet
    /// (RFC 10021 section 7.2): 5.03 with a Max-Age saying when to retry.
    #[error("sender's credential not available yet")]
    CredentialPending {
        /// Seconds after which the client may retry.
        retry_after: Option<u32>,
    },
    /// The sender's roles do not allow this message: requests only from
    /// Requesters, responses only from Responders
    /// (draft-ietf-ace-key-groupcomm-oscore section 6.4). Ignored silently.
    #[error("sender's roles do not allow a {0}")]
    RoleNotAuthorized(&'static str),
    /// A request whose 'kid' is our own Sender ID (RFC 10021 section 7.2:
    /// SHOULD NOT be processed).
    #[error("request carries our own Sender ID")]
    OwnSenderId,
    /// A response that does not belong to the exchange: another server than
    /// the one addressed, a kid that changed within a long exchange (RFC
    /// 10021 section 7.4), or an Observe notification for a non-Observe
    /// request (RFC 8613 section 4.1.3.5.2).
    #[error("response does not match the request: {0}")]
    UnexpectedResponse(&'static str),
}

impl UnprotectError {
    /// The CoAP response code the RFCs name for this refusal of a request.
    pub fn code(&self) -> Code {
        match self {
            Self::NotProtected | Self::FailedToDecode(_) | Self::ModeUnavailable(_) => {
                Code::BAD_OPTION
            }
            Self::ContextNotFound
            | Self::Replay(_)
            | Self::EchoRequired(_)
            | Self::RoleNotAuthorized(_)
            | Self::OwnSenderId
            | Self::UnexpectedResponse(_) => Code::UNAUTHORIZED,
            Self::DecryptionFailed | Self::SignatureInvalid => Code::BAD_REQUEST,
            Self::CredentialPending { .. } => Code::SERVICE_UNAVAILABLE,
        }
    }

    /// The diagnostic payload RFC 8613 section 8.2 suggests, if any.
    pub fn diagnostic(&self) -> Option<&'static str> {
        match self {
            Self::FailedToDecode(_) => Some(DIAG_FAILED_TO_DECODE),
            Self::ContextNotFound => Some(DIAG_CONTEXT_NOT_FOUND),
            Self::Replay(_) => Some(DIAG_REPLAY),
            Self::DecryptionFailed | Self::SignatureInvalid => Some(DIAG_DECRYPTION_FAILED),
            _ => None,
        }
    }

    /// Whether the RFCs foresee an unprotected error response to a request
    /// refused this way. `false` for a message that is not OSCORE, for the
    /// Echo challenge (it is a *protected* response), and for refusals the
    /// specifications say to ignore silently (wrong role, own Sender ID).
    pub fn answers_with_error(&self) -> bool {
        !matches!(
            self,
            Self::NotProtected
                | Self::EchoRequired(_)
                | Self::RoleNotAuthorized(_)
                | Self::OwnSenderId
                | Self::UnexpectedResponse(_)
        )
    }

    /// The unprotected error response to `request`: the code, an Outer
    /// Max-Age of 0 (RFC 8613 section 4.1.3.1) or the retry time for 5.03,
    /// and the diagnostic payload. The token is copied; for a Confirmable
    /// request the response is a piggybacked ACK with its Message ID,
    /// otherwise a Non-confirmable message whose Message ID the transport
    /// assigns.
    pub fn error_response(&self, request: &Packet) -> Packet {
        let mut out = Packet::new();
        if request.header.get_type() == MessageType::Confirmable {
            out.header.set_type(MessageType::Acknowledgement);
            out.header.message_id = request.header.message_id;
        } else {
            out.header.set_type(MessageType::NonConfirmable);
        }
        out.header.code = MessageClass::from(self.code().0);
        out.set_token(request.get_token().to_vec());
        let max_age = match self {
            Self::CredentialPending { retry_after } => retry_after.map(u64::from),
            _ => Some(0),
        };
        if let Some(age) = max_age {
            message::add_option(&mut out, MAX_AGE, message::uint_value(age));
        }
        if let Some(diag) = self.diagnostic() {
            out.payload = diag.as_bytes().to_vec();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8613_error_codes_and_diagnostics() {
        let cases = [
            (
                UnprotectError::FailedToDecode(DecodeFailure::NoPayload),
                "4.02",
                Some("Failed to decode COSE"),
            ),
            (
                UnprotectError::ContextNotFound,
                "4.01",
                Some("Security context not found"),
            ),
            (
                UnprotectError::Replay(ReplayError::Replayed(3)),
                "4.01",
                Some("Replay detected"),
            ),
            (
                UnprotectError::DecryptionFailed,
                "4.00",
                Some("Decryption failed"),
            ),
            (
                UnprotectError::SignatureInvalid,
                "4.00",
                Some("Decryption failed"),
            ),
            (
                UnprotectError::CredentialPending { retry_after: None },
                "5.03",
                None,
            ),
        ];
        for (err, code, diag) in cases {
            assert_eq!(err.code().to_string(), code, "{err}");
            assert_eq!(err.diagnostic(), diag, "{err}");
        }
    }

    #[test]
    fn error_response_is_unprotected_with_max_age_zero() {
        let mut req = Packet::new();
        req.header.set_type(MessageType::Confirmable);
        req.header.message_id = 0x1234;
        req.header.code = MessageClass::from(0x02);
        req.set_token(vec![1, 2]);
        let resp = UnprotectError::ContextNotFound.error_response(&req);
        let bytes = resp.to_bytes().unwrap();
        // ACK 4.01, MID 0x1234, token 0102, Max-Age (14) = 0 as an empty
        // value (delta 14 = 13 + 1), then the diagnostic payload.
        assert_eq!(
            hex::encode(bytes),
            format!(
                "628112340102d001ff{}",
                hex::encode("Security context not found")
            )
        );
    }
}
