//! Responses: a code, options and a payload (RFC 7252 section 5.9), plus
//! what the handler chain tells the endpoint beyond them: the Observe
//! registration marker the router sets, the decision to send nothing at all
//! ([`Response::no_response`], [`Response::silenced`]), and the end of an
//! observation that the code cannot show ([`Response::ending_observation`]).

use crate::option::{Options, number};
pub use ace_proto::Code;

/// Response codes beyond those `ace_proto::Code` names (RFC 7252 section
/// 12.1.2, RFC 7959 section 2.9, RFC 8516).
pub mod codes {
    use ace_proto::Code;

    /// 2.03 Valid (RFC 7252 section 5.9.1.3).
    pub const VALID: Code = Code::new(2, 3);
    /// 2.31 Continue (RFC 7959 section 2.9.1).
    pub const CONTINUE: Code = Code::new(2, 31);
    /// 4.08 Request Entity Incomplete (RFC 7959 section 2.9.2).
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
    /// 4.09 Conflict (RFC 8132 section 3.4).
    pub const CONFLICT: Code = Code::new(4, 9);
    /// 4.12 Precondition Failed (RFC 7252 section 5.9.2.9).
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    /// 4.22 Unprocessable Entity (RFC 8132 section 3.4).
    pub const UNPROCESSABLE_ENTITY: Code = Code::new(4, 22);
    /// 4.29 Too Many Requests (RFC 8516 section 3).
    pub const TOO_MANY_REQUESTS: Code = Code::new(4, 29);
    /// 5.01 Not Implemented (RFC 7252 section 5.9.3.2).
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    /// 0.00 Empty (RFC 7252 section 4.1): never a response code on the
    /// wire; the code of [`super::Response::no_response`].
    pub const EMPTY: Code = Code::new(0, 0);
}

/// A complete CoAP response: block-wise transfers are reassembled when a
/// client receives it, and performed on the wire when a handler returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The response code.
    pub code: Code,
    /// The options (Location-Path, Content-Format, Max-Age, ETag, ...).
    pub options: Options,
    /// The (complete) payload.
    pub payload: Vec<u8>,
    /// Set on a 2.xx response to a GET or FETCH with Observe 0 when the
    /// resource accepts the registration: the resource path the observer now
    /// watches, i.e. the key that `notify` matches (RFC 7641 section 4.1).
    /// The router sets it for routes marked observable. Not sent on the
    /// wire. A security layer that builds an outer response from an inner
    /// one must carry it over.
    pub observed_resource: Option<String>,
    /// Send nothing: the handler or a layer decided that this request gets
    /// no response (a Group OSCORE Monitor never sends protected messages
    /// and a member ignores requests from a non-Requester, RFC 10021
    /// sections 2.2 and 7; the client asked not to hear of this class, RFC
    /// 7967 section 2.1). A Confirmable request is acknowledged with an
    /// empty ACK so that the client stops retransmitting (RFC 7252 section
    /// 4.2); a Non-confirmable one gets nothing. The code still counts: a
    /// silenced 2.xx with [`Response::observed_resource`] registers the
    /// observer (RFC 7967 with Observe: the client hears only the classes
    /// it asked for), a silenced notification with a 2.xx code (or
    /// [`codes::EMPTY`]) keeps the observer, one with an error code (or
    /// [`Response::ends_observation`]) ends the observation without a word.
    /// Not sent on the wire.
    pub silent: bool,
    /// On a notification: this is the last one, even though its code is a
    /// success. A security layer sets it when the code on the wire hides
    /// the real one: an OSCORE notification whose inner code is an error
    /// (the KDC's 4.04 eviction notice) has the outer code 2.04 (RFC 8613
    /// section 4.2). The endpoint sends it without Observe, as a
    /// Confirmable message, and removes the observer, so the client's
    /// endpoint ends the observation too (RFC 7641 sections 3.2 and 4.2,
    /// RFC 8613 section 4.1.3.5.2: the Outer Observe of a notification
    /// takes the value of the original message's, which an error has not).
    /// Not sent on the wire.
    pub ends_observation: bool,
}

impl Response {
    /// A response with `code`, no options and no payload.
    pub fn new(code: Code) -> Self {
        Self {
            code,
            options: Options::new(),
            payload: Vec::new(),
            observed_resource: None,
            silent: false,
            ends_observation: false,
        }
    }

    /// No response at all (see [`Response::silent`]): code 0.00 and
    /// silenced. To an Observe registration it registers nothing; as a
    /// notification it skips this one and keeps the observer.
    pub fn no_response() -> Self {
        Self::new(codes::EMPTY).silenced()
    }

    /// The same response, not sent (see [`Response::silent`]).
    #[must_use]
    pub fn silenced(mut self) -> Self {
        self.silent = true;
        self
    }

    /// The same response, marked as the last notification of an
    /// observation (see [`Response::ends_observation`]).
    #[must_use]
    pub fn ending_observation(mut self) -> Self {
        self.ends_observation = true;
        self
    }

    /// 2.05 Content with `payload`.
    pub fn content(payload: impl Into<Vec<u8>>) -> Self {
        Self::new(Code::CONTENT).with_payload(payload)
    }

    /// 2.01 Created.
    pub fn created() -> Self {
        Self::new(Code::CREATED)
    }

    /// 2.04 Changed.
    pub fn changed() -> Self {
        Self::new(Code::CHANGED)
    }

    /// 2.02 Deleted.
    pub fn deleted() -> Self {
        Self::new(Code::DELETED)
    }

    /// 4.04 Not Found.
    pub fn not_found() -> Self {
        Self::new(Code::NOT_FOUND)
    }

    /// 4.00 Bad Request with a diagnostic payload (RFC 7252 section 5.5.2).
    pub fn bad_request(diagnostic: &str) -> Self {
        Self::new(Code::BAD_REQUEST).with_payload(diagnostic.as_bytes())
    }

    /// Sets the payload.
    #[must_use]
    pub fn with_payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Sets Content-Format.
    #[must_use]
    pub fn with_content_format(mut self, format: u16) -> Self {
        self.options.set_content_format(format);
        self
    }

    /// Sets the Location-Path from `/a/b` (RFC 7252 section 5.10.7).
    #[must_use]
    pub fn with_location_path(mut self, path: &str) -> Self {
        self.options.set_location_path(path);
        self
    }

    /// Adds an option value.
    #[must_use]
    pub fn with_option(mut self, number: u16, value: impl Into<Vec<u8>>) -> Self {
        self.options.push(number, value);
        self
    }

    /// Sets Max-Age in seconds (RFC 7252 section 5.10.5).
    #[must_use]
    pub fn with_max_age(mut self, seconds: u32) -> Self {
        self.options.set_uint(number::MAX_AGE, seconds);
        self
    }

    /// Content-Format of the payload.
    pub fn content_format(&self) -> Option<u16> {
        self.options.content_format()
    }

    /// The Observe sequence number of a notification (RFC 7641 section 4.4).
    pub fn observe(&self) -> Option<u32> {
        self.options.observe()
    }

    /// The Location-Path segments.
    pub fn location_path(&self) -> Vec<String> {
        self.options.location_path()
    }

    /// Whether the code is 2.xx.
    pub fn is_success(&self) -> bool {
        self.code.is_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_options() {
        let r = Response::created()
            .with_location_path("/ace-group/g1/nodes/n1")
            .with_content_format(261);
        assert_eq!(r.code.to_string(), "2.01");
        assert_eq!(r.location_path(), vec!["ace-group", "g1", "nodes", "n1"]);
        assert_eq!(r.content_format(), Some(261));
        assert_eq!(codes::CONTINUE.to_string(), "2.31");
        assert_eq!(codes::REQUEST_ENTITY_INCOMPLETE.0, 0x88);
    }

    #[test]
    fn no_response_is_silent_and_not_a_success() {
        let r = Response::no_response();
        assert!(r.silent && !r.ends_observation);
        assert!(!r.is_success());
        assert_eq!(r.code, codes::EMPTY);
        let s = Response::content("x").silenced();
        assert!(s.silent && s.is_success());
        assert!(Response::changed().ending_observation().ends_observation);
        assert!(!Response::changed().silent);
    }
}
