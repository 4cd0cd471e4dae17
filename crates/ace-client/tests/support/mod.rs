//! The real AS and KDC services on loopback (ephemeral ports, a temporary
//! SQLite database for the KDC), and clients configured to reach them.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use ace_as::AuthorizationServer;
use ace_as::config::AsConfig;
use ace_as::store::MemoryStore;
use ace_client::{AsContext, ClientConfig, ClientEvent, GroupClient, Identity, SystemClock};
use ace_kdc::Kdc;
use ace_kdc::config::RawConfig;
use ace_kdc::service::{KdcService, ServiceOptions};
use ace_kdc::store::{SqliteStore, Store};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The KDC's audience.
pub const AUDIENCE: &str = "coap://kdc.test";
/// The AS's Ed25519 seed (RFC 8032 section 7.1, test 3).
pub const AS_SEED: &str = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";
/// The key the AS shares with the KDC (AES-CCM-16-64-128).
pub const SHARED_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
/// The KDC's Ed25519 seed (RFC 8032 section 7.1, test 1).
pub const KDC_ED25519: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The KDC's P-256 scalar (RFC 6979 A.2.5).
pub const KDC_ES256: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
/// How many client contexts the AS knows (`c001` ... ).
pub const CLIENTS: usize = 200;

/// Default groups: `g1` (both modes, EdDSA), `g2` (both modes), `ges`
/// (group mode, ES256), `gb` (backward security), `gp` (pairwise-only,
/// X25519).
pub const GROUPS: &str = r#"
[[groups]]
name = "g1"

[[groups]]
name = "g2"

[[groups]]
name = "ges"
mode = "group"
signature = "ES256"

[[groups]]
name = "gb"
backward_security = true

[[groups]]
name = "gp"
mode = "pairwise"
dh_curve = "X25519"
"#;

fn as_public() -> String {
    let key =
        SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &hex::decode(AS_SEED).unwrap()).unwrap();
    hex::encode(key.verifying_key().coordinates().0)
}

/// The master secret the AS shares with client `i`.
fn client_secret(i: usize) -> Vec<u8> {
    let mut secret = vec![0x40; 16];
    secret[0] = i as u8;
    secret[1] = (i >> 8) as u8;
    secret
}

fn as_config(lifetime: u64) -> String {
    let mut clients = String::new();
    for i in 1..=CLIENTS {
        clients.push_str(&format!(
            r#"
[[client]]
id = "c{i:03}"
profiles = ["coap_oscore"]
[client.oscore]
sender_id = "01"
recipient_id = "c0{i:02x}"
master_secret = "{secret}"
master_salt = "9e7ca92223786340"
"#,
            secret = hex::encode(client_secret(i)),
        ));
    }
    format!(
        r#"
[server]
issuer = "coap://as.test"
[server.signing_key]
d = "{AS_SEED}"
kid = "a5"
{clients}
[[audience]]
name = "{AUDIENCE}"
profile = "coap_oscore"
protection = "sign1+encrypt0"
shared_key = "{SHARED_KEY}"
lifetime = {lifetime}

[[policy]]
clients = ["c*"]
audiences = ["{AUDIENCE}"]
groups = [{{ name = "*", roles = ["requester", "responder", "monitor"] }}]
"#
    )
}

fn kdc_config(db: &std::path::Path, as_uri: &str, groups: &str, require_cnonce: bool) -> String {
    format!(
        r#"
[kdc]
audience = "{AUDIENCE}"
listen = "127.0.0.1:0"
database = "{db}"
rekey_margin = 0
tick_ms = 50
require_cnonce = {require_cnonce}

[[kdc.keys]]
alg = "EdDSA"
private_key = "{KDC_ED25519}"

[[kdc.keys]]
alg = "ES256"
private_key = "{KDC_ES256}"

[as]
uri = "{as_uri}"

[[as.keys]]
type = "ed25519"
key = "{as_public}"

[[as.keys]]
type = "aes-ccm-16-64-128"
key = "{SHARED_KEY}"

{groups}
"#,
        db = db.display(),
        as_public = as_public(),
    )
}

/// Client-side protocol parameters: short timers.
pub fn protocol() -> ace_coap::ProtocolConfig {
    let mut p = ace_coap::ProtocolConfig::fast_for_tests();
    p.response_timeout = Duration::from_secs(5);
    p
}

/// An AS and a KDC on loopback.
pub struct World {
    pub authority: ace_as::service::RunningAs,
    pub kdc: Option<KdcService>,
    pub kdc_addr: SocketAddr,
    pub as_uri: String,
    pub dir: tempfile::TempDir,
    pub kdc_clock: Arc<ace_kdc::service::SystemClock>,
    pub groups: String,
    /// Whether the KDC requires the `cnonce` of its hints in tokens.
    pub require_cnonce: bool,
    next_client: std::sync::atomic::AtomicUsize,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(GROUPS, 3600).await
    }

    /// With the `[[groups]]` TOML `groups` and tokens valid for
    /// `lifetime` seconds.
    pub async fn start_with(groups: &str, lifetime: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = AsConfig::from_toml_str(&as_config(lifetime), dir.path()).unwrap();
        let store = Arc::new(MemoryStore::new());
        let server = Arc::new(AuthorizationServer::new(config, store.clone()));
        let authority = ace_as::service::serve(server, store, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let as_uri = format!("coap://{}/token", authority.local_addr());
        let mut world = Self {
            authority,
            kdc: None,
            kdc_addr: "127.0.0.1:0".parse().unwrap(),
            as_uri,
            dir,
            kdc_clock: Arc::new(ace_kdc::service::SystemClock::default()),
            groups: groups.to_string(),
            require_cnonce: false,
            next_client: std::sync::atomic::AtomicUsize::new(1),
        };
        world.start_kdc(None).await;
        world
    }

    /// A world whose KDC accepts only tokens carrying a `cnonce` it issued
    /// in its AS Request Creation Hints (RFC 9200 section 5.3.1).
    pub async fn start_requiring_cnonce() -> Self {
        let mut world = Self::start().await;
        world.kdc.take().unwrap().shutdown().await;
        world.require_cnonce = true;
        world.start_kdc(None).await;
        world
    }

    /// Starts (or restarts) the KDC on `addr` (an ephemeral port if none).
    pub async fn start_kdc(&mut self, addr: Option<SocketAddr>) {
        let db = self.dir.path().join("kdc.sqlite");
        let text = kdc_config(&db, &self.as_uri, &self.groups, self.require_cnonce);
        let config = ace_kdc::KdcConfig::from_raw(RawConfig::parse(&text).unwrap()).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let (kdc, restore) = Kdc::open(
            config,
            store,
            ace_kdc::service::Clock::now(&*self.kdc_clock),
        )
        .unwrap();
        let mut options =
            ServiceOptions::new(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()));
        let mut protocol = ace_coap::ProtocolConfig::fast_for_tests();
        protocol.transmission.nstart = 32;
        protocol.response_timeout = Duration::from_secs(5);
        options.protocol = protocol;
        options.tick = Duration::from_millis(50);
        options.eviction_grace = Duration::from_millis(300);
        options.clock = self.kdc_clock.clone();
        let service = KdcService::start(kdc, restore, options).await.unwrap();
        self.kdc_addr = service.local_addr();
        self.kdc = Some(service);
    }

    pub fn kdc(&self) -> &KdcService {
        self.kdc.as_ref().unwrap()
    }

    /// The AS context of client number `i`.
    pub fn as_context(&self, i: usize) -> AsContext {
        AsContext {
            uri: self.as_uri.clone(),
            sender_id: vec![0xc0, i as u8],
            recipient_id: vec![0x01],
            master_secret: client_secret(i).into(),
            master_salt: hex::decode("9e7ca92223786340").unwrap(),
            id_context: None,
        }
    }

    /// A configuration for the next client, with an Ed25519 identity.
    pub fn client_config(&self, name: &str) -> ClientConfig {
        self.client_config_with(name, SignatureAlgorithm::EdDsa)
    }

    pub fn client_config_with(&self, name: &str, alg: SignatureAlgorithm) -> ClientConfig {
        let i = self
            .next_client
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(i <= CLIENTS, "the AS knows {CLIENTS} clients");
        let mut config = ClientConfig::new(
            name,
            Identity::generate(alg, name),
            self.as_context(i),
            self.kdc_addr,
        );
        config.protocol = protocol();
        config.clock = Arc::new(SystemClock::default());
        config
    }

    pub async fn client(&self, name: &str) -> GroupClient {
        GroupClient::start(self.client_config(name)).await.unwrap()
    }
}

/// Waits (bounded) for an event matching `pred`.
pub async fn wait_event(
    events: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    within: Duration,
    pred: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    tokio::time::timeout(within, async {
        loop {
            match events.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel closed: {e}"),
            }
        }
    })
    .await
    .expect("the expected event in time")
}

/// Polls `f` until it is true (bounded).
pub async fn eventually(within: Duration, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(within, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("condition reached in time");
}
