//! A record of the inner exchange of every OSCORE-protected request a
//! server serves: the method, path and response code that OSCORE (RFC 8613
//! section 4) hides from a capture, keyed by what a capture does see (the
//! requester's address and the CoAP token).
//!
//! [`InnerTrace`] is a [`Layer`] to put inside the OSCORE server layer
//! (e.g. the KDC's `ServiceOptions::inner_layers`). Each protected request answered, and each notification produced for an
//! observation made through a protected registration, writes one line:
//!
//! ```text
//! inner 127.0.0.1:40312 token=8a41 POST /ace-group/g1 -> 2.01
//! inner-notification 127.0.0.1:40312 token=8a42 GET /ace-group/g1 -> 2.05
//! ```
//!
//! The address is the requester's (the outer message's source), the token
//! the outer message's, in hexadecimal (`-` when empty); the path is the
//! inner Uri-Path. With the outer messages of a pcap or a trace of the same
//! run, a reader labels each protected exchange with its inner request and
//! response, as the scenario runner does in process for the AS and the KDC.
//! Unprotected requests (e.g. a token POST to `/authz-info`) are not recorded:
//! their method and path are visible anyway.

use crate::handler::{Layer, Middleware, SharedHandler};
use crate::request::Origin;
use crate::{Request, Response};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Writes one line per protected exchange (see the module docs).
#[derive(Clone)]
pub struct InnerTrace {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for InnerTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InnerTrace")
    }
}

impl InnerTrace {
    /// Lines to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
        }
    }

    /// Lines to standard error (next to `ace-coap`'s datagram trace).
    pub fn stderr() -> Self {
        Self::new(Box::new(std::io::stderr()))
    }

    /// The line for `request` answered with `response`, or `None` for an
    /// unprotected request.
    pub fn line(request: &Request, response: &Response) -> Option<String> {
        request.security.as_ref()?;
        let kind = match request.meta.origin {
            Origin::Network => "inner",
            Origin::Notification { .. } => "inner-notification",
        };
        let token = if request.meta.token.is_empty() {
            "-".to_owned()
        } else {
            request.meta.token.to_string()
        };
        Some(format!(
            "{kind} {} token={token} {} /{} -> {}\n",
            request.peer,
            request.method.as_str(),
            request.path.join("/"),
            response.code,
        ))
    }

    fn write(&self, line: &str) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per line, so that lines from several writers sharing
        // standard error do not interleave.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

impl Layer for InnerTrace {
    fn layer(&self, inner: SharedHandler) -> SharedHandler {
        let trace = self.clone();
        Middleware::wrap(inner, move |request: Request, next: SharedHandler| {
            let trace = trace.clone();
            async move {
                if request.security.is_none() {
                    return next.call(request).await;
                }
                // What the line needs, kept before the handler consumes the
                // request.
                let mut head = Request::new(request.method, "/");
                head.path.clone_from(&request.path);
                head.peer = request.peer;
                head.security.clone_from(&request.security);
                head.meta = request.meta.clone();
                let response = next.call(request).await;
                if let Some(line) = Self::line(&head, &response) {
                    trace.write(&line);
                }
                response
            }
        })
    }
}
