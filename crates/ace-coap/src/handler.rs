//! Handlers and layers: the server-side extension points.
//!
//! A [`Handler`] turns a complete [`Request`] into a complete [`Response`].
//! The router is a handler; so is a closure `|req| async { .. }`. A *layer*
//! is a handler that wraps another one: it sees the whole reassembled
//! request before the inner handler and the whole response after it, which
//! is where a security layer (OSCORE) sits: below the router, above
//! block-wise transfer and the message layer.
//!
//! Observe notifications go through the same chain: to notify, the endpoint
//! replays each observer's stored registration request (marked with
//! [`crate::request::Origin::Notification`]) through the top-level handler,
//! so a layer can protect every notification for its observer. When the
//! endpoint stops notifying an observer it tells the chain through
//! [`Handler::observation_ended`], so that a layer frees what it keeps per
//! observation.

use crate::request::Request;
use crate::response::Response;
use crate::wire::Token;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// Why the endpoint stopped notifying an observer (RFC 7641).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The client deregistered: GET or FETCH with Observe 1, or without
    /// Observe, with the token of the observation (section 3.6).
    Deregistered,
    /// The client rejected a notification with a Reset (section 3.6,
    /// 4.5).
    Reset,
    /// A Confirmable notification was never acknowledged (section 4.5).
    Timeout,
    /// The handler chain produced the last notification: an error, or one
    /// marked [`Response::ends_observation`] (sections 3.2 and 4.2).
    Final,
    /// The application ended it without notifying
    /// ([`crate::Endpoint::forget_observers`]).
    Forgotten,
    /// The endpoint shut down.
    Shutdown,
    /// A response accepted the registration
    /// ([`Response::observed_resource`]) but the endpoint did not register
    /// the observer (the observer limit, RFC 7641 section 4.1, or a
    /// request the endpoint does not treat as a registration).
    NotRegistered,
}

/// The end of an observation, as the endpoint reports it to the handler
/// chain: the observer is identified as in the notifications it was sent,
/// by the client's address and the registration's token (RFC 7641 section
/// 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObservationEnded {
    /// The observer's transport address.
    pub peer: SocketAddr,
    /// The token of the registration.
    pub token: Token,
    /// Why it ended.
    pub reason: EndReason,
}

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Produces the response to a request.
pub trait Handler: Send + Sync + 'static {
    /// Handles one complete request.
    fn call(&self, request: Request) -> BoxFuture<Response>;

    /// The endpoint stopped notifying an observer: every observation a
    /// response registered ([`Response::observed_resource`]) ends with
    /// exactly one call, whatever ends it (see [`EndReason`]). Called on
    /// the endpoint's driver task, so it must not block. A layer frees its
    /// per-observation state here and passes the call on to the handler it
    /// wraps. The default does nothing.
    fn observation_ended(&self, ended: &ObservationEnded) {
        let _ = ended;
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, request: Request) -> BoxFuture<Response> {
        Box::pin(self(request))
    }
}

/// A shared, type-erased handler.
pub type SharedHandler = Arc<dyn Handler>;

/// Wraps a handler in another (a security layer, logging, access control).
pub trait Layer: Send + Sync + 'static {
    /// Returns a handler that runs around `inner`.
    fn layer(&self, inner: SharedHandler) -> SharedHandler;
}

/// A layer from a closure `|request, next| async { .. }` that may inspect or
/// rewrite the request, call `next`, and inspect or rewrite the response.
pub struct Middleware<F> {
    inner: SharedHandler,
    f: Arc<F>,
}

impl<F, Fut> Middleware<F>
where
    F: Fn(Request, SharedHandler) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    /// Wraps `inner` with `f`.
    pub fn wrap(inner: SharedHandler, f: F) -> SharedHandler {
        Arc::new(Self {
            inner,
            f: Arc::new(f),
        })
    }
}

impl<F, Fut> Handler for Middleware<F>
where
    F: Fn(Request, SharedHandler) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, request: Request) -> BoxFuture<Response> {
        Box::pin((self.f)(request, self.inner.clone()))
    }

    fn observation_ended(&self, ended: &ObservationEnded) {
        self.inner.observation_ended(ended);
    }
}

/// The handler a pure client endpoint uses: every request gets 4.04.
pub fn not_found() -> SharedHandler {
    Arc::new(|_req: Request| async { Response::not_found() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Code;

    fn block_on<T>(f: BoxFuture<T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn closures_and_middleware_compose() {
        let inner: SharedHandler =
            Arc::new(|req: Request| async move { Response::content(req.payload) });
        let outer = Middleware::wrap(inner, |mut req: Request, next: SharedHandler| async move {
            req.payload.extend_from_slice(b"+in");
            let mut r = next.call(req).await;
            r.payload.extend_from_slice(b"+out");
            r
        });
        let r = block_on(outer.call(Request::post("/").with_payload("x")));
        assert_eq!(r.payload, b"x+in+out");
        assert_eq!(
            block_on(not_found().call(Request::get("/"))).code,
            Code::NOT_FOUND
        );
    }
}
