//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used)] // tests may unwrap
#![allow(dead_code)] // each test binary uses a subset

use ace_coap::{CoapEndpoint, EndpointConfig, ProtocolConfig, SharedHandler};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Fails the test instead of hanging.
pub async fn bounded<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .expect("test step timed out")
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn config(bind: SocketAddr) -> EndpointConfig {
    EndpointConfig::new(bind).protocol(ProtocolConfig::fast_for_tests())
}

pub async fn server(handler: SharedHandler) -> CoapEndpoint {
    CoapEndpoint::bind(config(loopback()), handler)
        .await
        .unwrap()
}

pub async fn client() -> CoapEndpoint {
    CoapEndpoint::bind(config(loopback()), ace_coap::handler::not_found())
        .await
        .unwrap()
}

/// Whether peers are required (`ACE_REQUIRE_PEERS=1`, set by `scripts/test`).
pub fn peers_required() -> bool {
    std::env::var("ACE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Finds an executable on PATH. When it is missing, fails if peers are
/// required and otherwise prints a skip notice and returns `None`.
pub fn peer(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !peers_required(),
            "peer {name} is missing and ACE_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: peer {name} missing");
    }
    found
}
