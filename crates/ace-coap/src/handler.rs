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
//! so a layer can protect every notification for its observer.

use crate::request::Request;
use crate::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Produces the response to a request.
pub trait Handler: Send + Sync + 'static {
    /// Handles one complete request.
    fn call(&self, request: Request) -> BoxFuture<Response>;
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
