//! The client-side security layer slot.
//!
//! A [`ClientLayer`] sees every complete outgoing request before block-wise
//! transfer and the message layer, and returns the request to send together
//! with per-exchange state ([`ClientExchangeLayer`]) that then sees every
//! complete incoming response: the single response of a request, each
//! notification of an observation, and each member's response to a group
//! request. OSCORE (RFC 8613) and Group OSCORE fit here: protect on the way
//! out, keep the request's Partial IV and `kid` in the exchange state,
//! unprotect on the way in, and repeat a request that the server challenged
//! with Echo ([`ClientExchangeLayer::repeat`]).
//!
//! The server-side counterpart is a [`crate::handler::Layer`] around the
//! router; see the crate documentation.

use crate::request::Request;
use crate::response::Response;
use std::net::SocketAddr;
use thiserror::Error;

/// A security layer failure, with the reason.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("security layer: {reason}")]
pub struct LayerError {
    /// What went wrong.
    pub reason: String,
}

impl LayerError {
    /// A failure with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Transforms outgoing requests and creates per-exchange state.
pub trait ClientLayer: Send + Sync + 'static {
    /// Called with the complete request before it is sent to `destination`
    /// (a multicast group for a group request). Returns the request to send
    /// and the state that will see the responses.
    fn outgoing(
        &self,
        destination: SocketAddr,
        request: Request,
    ) -> Result<(Request, Box<dyn ClientExchangeLayer>), LayerError>;
}

/// Per-exchange state of a [`ClientLayer`].
pub trait ClientExchangeLayer: Send + 'static {
    /// Called with each complete response or notification from `from`;
    /// returns what the application receives.
    fn incoming(&mut self, from: SocketAddr, response: Response) -> Result<Response, LayerError>;

    /// Called with what [`ClientExchangeLayer::incoming`] returned for a
    /// response from `from`: returns a request to send to `from` in its
    /// place, or `None` to deliver the response. The request goes through
    /// the [`ClientLayer`] again, and its response is delivered as it is
    /// (the endpoint asks once per request). This is how a security layer
    /// answers a freshness challenge: the Echo option of a server that lost
    /// its replay state (RFC 9175 section 2.4, RFC 8613 Appendix B.1.2,
    /// RFC 10021 section 9). The default never repeats.
    fn repeat(&mut self, from: SocketAddr, response: &Response) -> Option<Request> {
        let _ = (from, response);
        None
    }
}
