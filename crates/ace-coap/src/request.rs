//! Requests as handlers and clients see them: method, Uri-Path and Uri-Query
//! split out, every other option, payload, and where the request came from
//! (RFC 7252 section 5.8, RFC 8132).

use crate::option::{Options, number};
use crate::response::Response;
use crate::wire::Token;
use std::any::Any;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// A request method (RFC 7252 section 5.8, RFC 8132 section 2 and 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// GET, 0.01.
    Get,
    /// POST, 0.02.
    Post,
    /// PUT, 0.03.
    Put,
    /// DELETE, 0.04.
    Delete,
    /// FETCH, 0.05 (RFC 8132 section 2).
    Fetch,
    /// PATCH, 0.06 (RFC 8132 section 3).
    Patch,
    /// iPATCH, 0.07 (RFC 8132 section 3).
    IPatch,
}

impl Method {
    /// Every method, in code order.
    pub const ALL: [Self; 7] = [
        Self::Get,
        Self::Post,
        Self::Put,
        Self::Delete,
        Self::Fetch,
        Self::Patch,
        Self::IPatch,
    ];

    /// The code byte (class 0).
    pub const fn code(self) -> u8 {
        match self {
            Self::Get => 1,
            Self::Post => 2,
            Self::Put => 3,
            Self::Delete => 4,
            Self::Fetch => 5,
            Self::Patch => 6,
            Self::IPatch => 7,
        }
    }

    /// The method for a code byte, or `None` for codes this crate does not
    /// implement (answered with 4.05, RFC 7252 section 5.8).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Get),
            2 => Some(Self::Post),
            3 => Some(Self::Put),
            4 => Some(Self::Delete),
            5 => Some(Self::Fetch),
            6 => Some(Self::Patch),
            7 => Some(Self::IPatch),
            _ => None,
        }
    }

    /// The method name as the RFCs write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Fetch => "FETCH",
            Self::Patch => "PATCH",
            Self::IPatch => "iPATCH",
        }
    }

    /// Whether the method is safe (RFC 7252 section 5.1; FETCH per RFC 8132
    /// section 2).
    pub const fn is_safe(self) -> bool {
        matches!(self, Self::Get | Self::Fetch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An opaque, typed security identity attached to a request by a security
/// layer (for example the OSCORE layer: the peer's Sender ID and context).
/// Plain CoAP requests carry none.
#[derive(Clone)]
pub struct SecurityIdentity(Arc<dyn Any + Send + Sync>);

impl SecurityIdentity {
    /// Wraps a value of any type.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// The value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Debug for SecurityIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityIdentity(..)")
    }
}

/// Why a request reaches the handler chain.
#[derive(Clone, Debug, Default)]
pub enum Origin {
    /// It arrived from the network (or is a client request being built).
    #[default]
    Network,
    /// The endpoint replays the stored registration request of an observer
    /// to produce a notification (RFC 7641 section 4.2). A security layer
    /// must not treat it as a fresh request (no replay check); it must
    /// produce a notification for the observation identified by the
    /// request's peer and token.
    Notification {
        /// The response to send, when the application passed one to
        /// `notify_with`; `None` when the resource's handler should produce
        /// the current representation.
        response: Option<Arc<Response>>,
    },
}

/// Message-layer facts about a request that handlers may want.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// The token of the request (RFC 7252 section 5.3.1).
    pub token: Token,
    /// Whether it arrived as a CON message.
    pub confirmable: bool,
    /// Whether it arrived on a multicast group address (RFC 7252 section 8).
    pub multicast: bool,
    /// Whether it comes from the network or replays an observation.
    pub origin: Origin,
}

impl Default for RequestMeta {
    fn default() -> Self {
        Self {
            token: Token::EMPTY,
            confirmable: true,
            multicast: false,
            origin: Origin::Network,
        }
    }
}

/// Path parameters captured by a router template such as
/// `/ace-group/{name}/nodes/{node}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// The value captured for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Records a captured value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Every captured parameter.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A complete CoAP request: block-wise transfers are already reassembled
/// when a handler sees it, and are performed on the wire when a client sends
/// it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Uri-Path segments (RFC 7252 section 6.5).
    pub path: Vec<String>,
    /// The Uri-Query arguments, e.g. `if=ace.group`.
    pub query: Vec<String>,
    /// Every option except Uri-Path, Uri-Query and the Block, Size and
    /// message-layer options the endpoint consumes.
    pub options: Options,
    /// The (reassembled) payload.
    pub payload: Vec<u8>,
    /// Parameters captured by the router's path template.
    pub params: PathParams,
    /// The peer's transport address (unspecified on a request being built).
    pub peer: SocketAddr,
    /// The security identity set by a security layer; `None` for plain CoAP.
    pub security: Option<SecurityIdentity>,
    /// Message-layer facts.
    pub meta: RequestMeta,
}

impl Request {
    /// A request for `target`, a path with an optional query such as
    /// `/.well-known/core?rt=core.rd`. Percent-encoding is not interpreted.
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = split_target(target);
        Self {
            method,
            path,
            query,
            options: Options::new(),
            payload: Vec::new(),
            params: PathParams::default(),
            peer: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            security: None,
            meta: RequestMeta::default(),
        }
    }

    /// A GET request.
    pub fn get(target: &str) -> Self {
        Self::new(Method::Get, target)
    }

    /// A POST request.
    pub fn post(target: &str) -> Self {
        Self::new(Method::Post, target)
    }

    /// A PUT request.
    pub fn put(target: &str) -> Self {
        Self::new(Method::Put, target)
    }

    /// A DELETE request.
    pub fn delete(target: &str) -> Self {
        Self::new(Method::Delete, target)
    }

    /// A FETCH request (RFC 8132).
    pub fn fetch(target: &str) -> Self {
        Self::new(Method::Fetch, target)
    }

    /// A PATCH request (RFC 8132).
    pub fn patch(target: &str) -> Self {
        Self::new(Method::Patch, target)
    }

    /// An iPATCH request (RFC 8132).
    pub fn ipatch(target: &str) -> Self {
        Self::new(Method::IPatch, target)
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

    /// Sets Accept (RFC 7252 section 5.10.4).
    #[must_use]
    pub fn with_accept(mut self, format: u16) -> Self {
        self.options.set_uint(number::ACCEPT, u32::from(format));
        self
    }

    /// Adds an option value.
    #[must_use]
    pub fn with_option(mut self, number: u16, value: impl Into<Vec<u8>>) -> Self {
        self.options.push(number, value);
        self
    }

    /// Adds a Uri-Query argument.
    #[must_use]
    pub fn with_query(mut self, argument: &str) -> Self {
        self.query.push(argument.to_owned());
        self
    }

    /// Content-Format of the payload.
    pub fn content_format(&self) -> Option<u16> {
        self.options.content_format()
    }

    /// The Accept option.
    pub fn accept(&self) -> Option<u16> {
        self.options.accept()
    }

    /// The Observe option (0 register, 1 deregister; RFC 7641 section 2).
    pub fn observe(&self) -> Option<u32> {
        self.options.observe()
    }

    /// The path as `/a/b` (`/` for the root).
    pub fn path_string(&self) -> String {
        join_path(&self.path)
    }

    /// A path parameter captured by the router.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// The value of a `key=value` query argument (the first one).
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query.iter().find_map(|q| match q.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if q == key => Some(""),
            _ => None,
        })
    }

    /// The security identity as a `T`, if a layer set one of that type.
    pub fn security<T: Any>(&self) -> Option<&T> {
        self.security.as_ref().and_then(|s| s.downcast_ref::<T>())
    }

    /// Whether the endpoint replays this request to produce a notification.
    pub fn is_notification(&self) -> bool {
        matches!(self.meta.origin, Origin::Notification { .. })
    }
}

/// Splits `/a/b?x=1&y` into segments and query arguments.
pub(crate) fn split_target(target: &str) -> (Vec<String>, Vec<String>) {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let path = path.trim_start_matches('/');
    let segments = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').map(str::to_owned).collect()
    };
    let query = query
        .map(|q| {
            q.split('&')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (segments, query)
}

/// Joins path segments as `/a/b` (`/` for none).
pub(crate) fn join_path(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".to_owned();
    }
    let mut s = String::with_capacity(segments.iter().map(|x| x.len() + 1).sum());
    for seg in segments {
        s.push('/');
        s.push_str(seg);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_codes_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_code(m.code()), Some(m));
        }
        assert_eq!(Method::from_code(8), None);
        assert_eq!(Method::IPatch.to_string(), "iPATCH");
        assert!(Method::Fetch.is_safe());
        assert!(!Method::Post.is_safe());
    }

    #[test]
    fn targets_split_into_path_and_query() {
        let r = Request::get("/.well-known/core?rt=core.rd&if=ace.group");
        assert_eq!(r.path, vec![".well-known", "core"]);
        assert_eq!(r.query, vec!["rt=core.rd", "if=ace.group"]);
        assert_eq!(r.query_value("if"), Some("ace.group"));
        assert_eq!(r.path_string(), "/.well-known/core");
        assert_eq!(Request::get("/").path_string(), "/");
        assert!(Request::get("").path.is_empty());
    }

    #[test]
    fn security_identity_downcasts() {
        #[derive(Debug, PartialEq)]
        struct Kid(Vec<u8>);
        let mut r = Request::post("/x");
        assert_eq!(r.security::<Kid>(), None);
        r.security = Some(SecurityIdentity::new(Kid(vec![1])));
        assert_eq!(r.security::<Kid>(), Some(&Kid(vec![1])));
        assert_eq!(r.security::<u32>(), None);
    }
}
