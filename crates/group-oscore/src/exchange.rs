//! What each side keeps between a request and its responses (RFC 8613
//! section 8: the association of the Token with the security context and
//! the request's 'kid' and Partial IV; RFC 10021 section 5.1 for long
//! exchanges).
//!
//! A server gets a [`ServerExchange`] when it verifies a request and passes
//! it to every response it protects for that request; a client gets a
//! [`ClientExchange`] when it protects a request and passes it to every
//! response it verifies. Both are plain values owned by the caller (the
//! CoAP endpoint keys them by Token).

use std::collections::HashMap;

use coap_lite::{MessageClass, MessageType, Packet};

use crate::message::{self, ECHO};
use crate::replay::{ReplayError, ReplayWindow};

/// How many out-of-order notifications a client can still accept (the
/// window over the Partial IVs of an Observe or group exchange).
const RESPONSE_WINDOW: u32 = 64;

/// What a server keeps from a verified request to protect its responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerExchange {
    pub(crate) request_kid: Vec<u8>,
    pub(crate) request_piv: Vec<u8>,
    pub(crate) request_kid_context: Option<Vec<u8>>,
    pub(crate) observe: bool,
    pub(crate) nonce_reusable: bool,
    pub(crate) responses_sent: u64,
    pub(crate) group: Option<GroupServerInfo>,
}

/// The Group OSCORE part of a [`ServerExchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupServerInfo {
    /// The Gid of the context that verified the request.
    pub verified_gid: Vec<u8>,
    /// Whether the request was protected in group mode.
    pub group_mode: bool,
    /// Our Sender ID when the request was verified.
    pub sender_id: Option<Vec<u8>>,
}

impl ServerExchange {
    /// The requester's 'kid' (its Sender ID), by which an application maps
    /// the request to its security identity (e.g. an ACE token).
    pub fn request_kid(&self) -> &[u8] {
        &self.request_kid
    }

    /// The request's Partial IV.
    pub fn request_piv(&self) -> &[u8] {
        &self.request_piv
    }

    /// The request's 'kid context', if it carried one (always in Group
    /// OSCORE).
    pub fn request_kid_context(&self) -> Option<&[u8]> {
        self.request_kid_context.as_deref()
    }

    /// Whether the request was an Observe registration, so that several
    /// responses (notifications) may follow.
    pub fn is_observe(&self) -> bool {
        self.observe
    }

    /// Whether the request was protected in Group OSCORE group mode.
    pub fn is_group_mode(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.group_mode)
    }

    /// How many responses were protected for this request so far.
    pub fn responses_sent(&self) -> u64 {
        self.responses_sent
    }

    /// Whether the next response may reuse the request's nonce (only the
    /// first response, and only when nothing forces a fresh Partial IV,
    /// RFC 8613 section 8.3 and RFC 10021 section 7.3).
    pub fn may_reuse_nonce(&self) -> bool {
        self.nonce_reusable && self.responses_sent == 0
    }
}

/// The Echo challenge of RFC 8613 Appendix B.1.2 and RFC 10021 section 9:
/// the request verified but its freshness cannot be established, so the
/// server answers with a *protected* 4.01 (Unauthorized) carrying only an
/// Echo option, with its own Partial IV. The client repeats the request
/// with that Echo value (as an inner option); the server then accepts it
/// and initializes its replay window from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoChallenge {
    /// The Echo value to send (RFC 9175 section 2.2.1: 1 to 40 bytes).
    pub echo: Vec<u8>,
    /// The exchange to protect the 4.01 response with; it forces a fresh
    /// Partial IV.
    pub exchange: ServerExchange,
}

impl EchoChallenge {
    /// The unprotected 4.01 response carrying only the Echo option, to be
    /// protected with [`EchoChallenge::exchange`]. Token, message type and
    /// Message ID follow [`crate::UnprotectError::error_response`].
    pub fn response(&self, request: &Packet) -> Packet {
        let mut out = Packet::new();
        if request.header.get_type() == MessageType::Confirmable {
            out.header.set_type(MessageType::Acknowledgement);
            out.header.message_id = request.header.message_id;
        } else {
            out.header.set_type(MessageType::NonConfirmable);
        }
        out.header.code = MessageClass::from(ace_proto::Code::UNAUTHORIZED.0);
        out.set_token(request.get_token().to_vec());
        message::add_option(&mut out, ECHO, self.echo.clone());
        out
    }
}

/// Replay state of the responses from one server within one exchange: the
/// Notification Number of RFC 8613 section 4.1.3.5.2 and the Response
/// Number of RFC 10021 section 5.3.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseTracker {
    /// Partial IVs of accepted responses (the highest is the Response
    /// Number); replays and too old ones are refused.
    window: ReplayWindow,
    /// Whether the one response allowed without a Partial IV was accepted.
    unnumbered_seen: bool,
    /// Whether any response was accepted.
    any: bool,
    /// The 'kid' of the first valid response (Group OSCORE "kid1").
    pub kid1: Option<Vec<u8>>,
    /// The Gid of the context the Response Number belongs to.
    pub gid: Option<Vec<u8>>,
}

impl Default for ResponseTracker {
    fn default() -> Self {
        Self {
            window: ReplayWindow::new(RESPONSE_WINDOW),
            unnumbered_seen: false,
            any: false,
            kid1: None,
            gid: None,
        }
    }
}

impl ResponseTracker {
    /// Checks a response with Partial IV `piv` (a number) or without.
    /// `multiple` says whether several responses are expected at all.
    pub fn check(&self, piv: Option<u64>, multiple: bool) -> Result<(), ReplayError> {
        if !multiple && self.any {
            return Err(ReplayError::Replayed(piv.unwrap_or(0)));
        }
        match piv {
            Some(seq) => self.window.check(seq),
            // At most one response without Partial IV, the oldest (RFC 8613
            // section 7.4.1, RFC 10021 section 5.3.1).
            None if self.unnumbered_seen || self.any => Err(ReplayError::Replayed(0)),
            None => Ok(()),
        }
    }

    /// Records an accepted response.
    pub fn accept(&mut self, piv: Option<u64>) {
        self.any = true;
        match piv {
            Some(seq) => self.window.accept(seq),
            None => self.unnumbered_seen = true,
        }
    }

    /// Forgets the Response Number (after a group rekeying, RFC 10021
    /// section 2.6.3.2) while keeping "kid1".
    pub fn reset_numbers(&mut self) {
        self.window = ReplayWindow::new(RESPONSE_WINDOW);
        self.unnumbered_seen = false;
    }

    /// The Response Number: the highest Partial IV accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.window.highest()
    }
}

/// What a client keeps from a protected request to verify its responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientExchange {
    pub(crate) request_kid: Vec<u8>,
    pub(crate) request_piv: Vec<u8>,
    pub(crate) request_kid_context: Option<Vec<u8>>,
    pub(crate) observe: bool,
    pub(crate) single: ResponseTracker,
    pub(crate) group: Option<GroupClientInfo>,
}

/// The Group OSCORE part of a [`ClientExchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupClientInfo {
    /// Whether the request was protected in group mode.
    pub group_mode: bool,
    /// For a pairwise-mode request, the Recipient ID of the addressed server
    /// and its credential.
    pub target: Option<(Vec<u8>, Vec<u8>)>,
    /// Per-server replay state, keyed by the server's credential (RFC 10021
    /// section 7.4 identifies a server by its public key).
    pub servers: HashMap<Vec<u8>, ResponseTracker>,
}

impl ClientExchange {
    /// The request's 'kid' (our Sender ID when we sent it).
    pub fn request_kid(&self) -> &[u8] {
        &self.request_kid
    }

    /// The request's Partial IV.
    pub fn request_piv(&self) -> &[u8] {
        &self.request_piv
    }

    /// The request's 'kid context', if any.
    pub fn request_kid_context(&self) -> Option<&[u8]> {
        self.request_kid_context.as_deref()
    }

    /// Whether the request was an Observe registration.
    pub fn is_observe(&self) -> bool {
        self.observe
    }

    /// Whether several responses may arrive for this request (an Observe
    /// registration, or a Group OSCORE group-mode request): a "long
    /// exchange" in the words of RFC 10021 section 5.1.
    pub fn is_long(&self) -> bool {
        self.observe || self.group.as_ref().is_some_and(|g| g.group_mode)
    }

    /// The Notification Number (RFC 8613 section 4.1.3.5.2) of a plain
    /// OSCORE exchange: the highest Partial IV received.
    pub fn notification_number(&self) -> Option<u64> {
        self.single.highest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_response_exchanges_accept_one_response() {
        let mut t = ResponseTracker::default();
        assert_eq!(t.check(None, false), Ok(()));
        t.accept(None);
        assert!(t.check(None, false).is_err());
        assert!(t.check(Some(3), false).is_err());
    }

    #[test]
    fn notifications_are_ordered_by_partial_iv() {
        let mut t = ResponseTracker::default();
        // First notification may reuse the request nonce.
        assert_eq!(t.check(None, true), Ok(()));
        t.accept(None);
        assert!(t.check(None, true).is_err());
        t.check(Some(5), true).unwrap();
        t.accept(Some(5));
        t.check(Some(4), true).unwrap();
        t.accept(Some(4));
        assert_eq!(t.check(Some(5), true), Err(ReplayError::Replayed(5)));
        assert_eq!(t.highest(), Some(5));
        // A response without Partial IV after numbered ones is refused.
        let mut t = ResponseTracker::default();
        t.accept(Some(1));
        assert!(t.check(None, true).is_err());
    }
}
