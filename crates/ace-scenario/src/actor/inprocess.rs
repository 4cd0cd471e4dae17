//! The AS and the KDC started in this process on loopback: the AS on
//! `ace-as`'s service with the OSCORE contexts of the generated
//! configuration, the KDC on `ace-kdc`'s service with a SQLite database in
//! the run's temporary directory.

use super::{ActorError, ActorFuture, KdcControl};
use crate::capture::Capture;
use crate::report::flow::code_text;
use ace_as::AuthorizationServer;
use ace_as::config::AsConfig;
use ace_coap::handler::{Layer, Middleware, SharedHandler};
use ace_coap::{CoapEndpoint, EndpointConfig, ProtocolConfig, Request};
use ace_kdc::Kdc;
use ace_kdc::KdcConfig;
use ace_kdc::admin::Command;
use ace_kdc::service::{Clock, KdcService, ServiceOptions, SystemClock};
use ace_kdc::store::{SqliteStore, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The CoAP parameters of every endpoint of a run: short loopback timers,
/// more retransmissions when the scenario drops packets, the OSCORE option
/// let through, room for many clients.
pub fn scenario_protocol(lossy: bool) -> ProtocolConfig {
    let mut p = ProtocolConfig::fast_for_tests();
    p.transmission.ack_timeout = Duration::from_millis(150);
    p.transmission.max_retransmit = if lossy { 7 } else { 4 };
    p.transmission.nstart = 32;
    p.separate_response_after = Duration::from_millis(60);
    p.response_timeout = Duration::from_secs(if lossy { 60 } else { 20 });
    if !p
        .extra_critical_options
        .contains(&ace_coap::option::number::OSCORE)
    {
        p.extra_critical_options
            .push(ace_coap::option::number::OSCORE);
    }
    p.limits.dedup_per_peer = 1024;
    p.limits.max_observers = 1 << 20;
    p
}

/// Records the inner method, path and response code of every protected
/// request from the network that reaches `inner`, so the diagram can show
/// them.
pub fn inner_labels(inner: SharedHandler, capture: Arc<Capture>) -> SharedHandler {
    Middleware::wrap(inner, move |request: Request, next: SharedHandler| {
        let capture = capture.clone();
        async move {
            // A notification's run of the handler (the KDC's Observe
            // resources) would relabel the registration's exchange.
            let protected = request.security.is_some()
                && matches!(request.meta.origin, ace_coap::request::Origin::Network);
            let peer = request.peer;
            let token = request.meta.token;
            if protected {
                capture.label_request(
                    peer,
                    token.as_bytes(),
                    request.method.as_str(),
                    &format!("/{}", request.path.join("/")),
                );
            }
            let response = next.call(request).await;
            if protected {
                capture.label_response(peer, token.as_bytes(), &code_text(response.code.0));
            }
            response
        }
    })
}

/// [`inner_labels`] as a layer (for the inner layers of the KDC service
/// and of the members).
pub(crate) struct InnerLabels(pub(crate) Arc<Capture>);

impl Layer for InnerLabels {
    fn layer(&self, inner: SharedHandler) -> SharedHandler {
        inner_labels(inner, self.0.clone())
    }
}

/// The AS running in this process.
pub struct InProcessAs {
    endpoint: CoapEndpoint,
}

impl std::fmt::Debug for InProcessAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessAs")
            .field("addr", &self.endpoint.local_addr())
            .finish()
    }
}

impl InProcessAs {
    /// Starts the AS of `config` on `listen`, its endpoint tapped into
    /// `capture`, with packet loss `faults`.
    pub async fn start(
        config: AsConfig,
        listen: SocketAddr,
        protocol: ProtocolConfig,
        capture: Arc<Capture>,
        faults: Option<ace_coap::fault::FaultConfig>,
    ) -> Result<Self, ActorError> {
        let store = Arc::new(ace_as::store::MemoryStore::new());
        let server = Arc::new(AuthorizationServer::new(config, store.clone()));
        let contexts = ace_as::service::oscore::contexts(server.config(), store)
            .map_err(|e| ActorError::other(format!("AS OSCORE contexts: {e}")))?;
        let service = ace_as::service::AsService::new(
            server.clone(),
            ace_as::service::oscore::resolver(server),
        );
        let handler = inner_labels(service.router().into_handler(), capture.clone());
        let handler = contexts.server_layer().layer(handler);
        let mut endpoint = EndpointConfig::new(listen)
            .protocol(protocol)
            .tap(capture.tap("AS"));
        if let Some(f) = faults {
            endpoint = endpoint.faults(f);
        }
        let endpoint = CoapEndpoint::bind(endpoint, handler)
            .await
            .map_err(|e| ActorError::other(format!("AS bind {listen}: {e}")))?;
        capture.register("AS", endpoint.local_addr(), true);
        Ok(Self { endpoint })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// Stops it.
    pub async fn shutdown(&self) {
        self.endpoint.shutdown().await;
    }
}

/// The KDC running in this process.
pub struct InProcessKdc {
    config: KdcConfig,
    addr: SocketAddr,
    protocol: ProtocolConfig,
    capture: Arc<Capture>,
    service: tokio::sync::Mutex<Option<KdcService>>,
}

impl std::fmt::Debug for InProcessKdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessKdc")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl InProcessKdc {
    /// Opens the SQLite database of `config` and starts the KDC on
    /// `listen`; the inner request and response of each protected exchange
    /// go to `capture` as labels.
    pub async fn start(
        config: KdcConfig,
        listen: SocketAddr,
        protocol: ProtocolConfig,
        capture: Arc<Capture>,
    ) -> Result<Self, ActorError> {
        let service = Self::launch(&config, listen, &protocol, &capture).await?;
        let addr = service.local_addr();
        Ok(Self {
            config,
            addr,
            protocol,
            capture,
            service: tokio::sync::Mutex::new(Some(service)),
        })
    }

    async fn launch(
        config: &KdcConfig,
        listen: SocketAddr,
        protocol: &ProtocolConfig,
        capture: &Arc<Capture>,
    ) -> Result<KdcService, ActorError> {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&config.database)
                .map_err(|e| ActorError::other(format!("KDC database: {e}")))?,
        );
        let clock = Arc::new(SystemClock::default());
        let (kdc, restore) = Kdc::open(config.clone(), store, clock.now())
            .map_err(|e| ActorError::other(format!("KDC state: {e}")))?;
        let mut options = ServiceOptions::new(listen);
        options.protocol = protocol.clone();
        options.tick = Duration::from_millis(config.tick_ms);
        options.eviction_grace = Duration::from_millis(500);
        options.clock = clock;
        options
            .inner_layers
            .push(Arc::new(InnerLabels(capture.clone())));
        KdcService::start(kdc, restore, options)
            .await
            .map_err(|e| ActorError::other(format!("KDC bind {listen}: {e}")))
    }
}

impl KdcControl for InProcessKdc {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn kill(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            match self.service.lock().await.take() {
                Some(s) => {
                    s.shutdown().await;
                    Ok(())
                }
                None => Err(ActorError::other("the KDC is not running")),
            }
        })
    }

    fn restart(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            let mut slot = self.service.lock().await;
            if let Some(s) = slot.take() {
                s.shutdown().await;
            }
            // The port was just released; rebinding it can race with the
            // old socket's teardown, so try a few times.
            let mut last = None;
            for _ in 0..20 {
                match Self::launch(&self.config, self.addr, &self.protocol, &self.capture).await {
                    Ok(s) => {
                        *slot = Some(s);
                        return Ok(());
                    }
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Err(last.unwrap_or_else(|| ActorError::other("KDC restart failed")))
        })
    }

    fn command(&self, command: Command) -> ActorFuture<'_, String> {
        Box::pin(async move {
            let slot = self.service.lock().await;
            let service = slot
                .as_ref()
                .ok_or_else(|| ActorError::other("the KDC is not running"))?;
            service.execute(&command).map_err(ActorError::other)
        })
    }

    fn current_num(&self, group: &str) -> ActorFuture<'_, Option<u64>> {
        let group = group.to_string();
        Box::pin(async move {
            let slot = self.service.lock().await;
            Ok(slot
                .as_ref()
                .and_then(|s| s.kdc().group_summary(&group))
                .map(|g| g.num))
        })
    }

    fn shutdown(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            if let Some(s) = self.service.lock().await.take() {
                s.shutdown().await;
            }
            Ok(())
        })
    }
}
