//! A stand-in for the security layer in network tests: it attaches a
//! [`Peer`] to requests from known source addresses. It authenticates
//! nothing (any process on the host can send from any port) and exists
//! only so that tests exercise the CoAP service without the OSCORE layer.
#![allow(dead_code, clippy::unwrap_used)] // shared by several tests; tests may unwrap

use ace_as::Peer;
use ace_coap::{Middleware, Request, SecurityIdentity, SharedHandler};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Source address -> peer.
#[derive(Clone, Default)]
pub struct AddressTable(Arc<Mutex<HashMap<SocketAddr, Peer>>>);

impl AddressTable {
    /// Requests from `addr` are from `peer`.
    pub fn insert(&self, addr: SocketAddr, peer: Peer) {
        self.0.lock().unwrap().insert(addr, peer);
    }

    /// Wraps `inner` so that it sees the peer as the security identity.
    pub fn layer(&self, inner: SharedHandler) -> SharedHandler {
        let table = self.clone();
        Middleware::wrap(inner, move |mut request: Request, next: SharedHandler| {
            let peer = table.0.lock().unwrap().get(&request.peer).cloned();
            async move {
                request.security = peer.map(SecurityIdentity::new);
                next.call(request).await
            }
        })
    }
}
