//! Shared fixtures: an AS configuration with one audience per token format
//! and profile, and clients for each refusal.
#![allow(dead_code, clippy::unwrap_used)] // shared by several tests; tests may unwrap

pub mod cases;
pub mod oscore_client;

use ace_as::config::AsConfig;
use ace_as::store::{MemoryStore, TokenStore};
use ace_as::{AuthorizationServer, Peer};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use std::path::Path;
use std::sync::Arc;

/// The AS's Ed25519 seed.
pub const AS_SEED: &str = "28a279800089f365d245cfe4d5a23b5b24a22c5d840f669091e27fd067bc7b3d";
/// The AES key shared with `kdc` (and the other encrypting audiences).
pub const KDC_KEY: &str = "ba887aa7e241e92927b2ab9294262415";
/// The MAC key shared with `mac-rs`.
pub const MAC_KEY: &str = "7791cc5602fe4e4e4134a1f0f3e60db5fddde55abbbe33b36660e434d7936d1e";
/// A fixed time, Unix seconds.
pub const NOW: u64 = 1_700_000_000;

/// Client c2's Ed25519 key.
pub fn c2_key() -> SigningKey {
    SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[2u8; 32]).unwrap()
}

/// Client c3's P-256 key.
pub fn c3_key() -> SigningKey {
    SigningKey::from_bytes(SignatureAlgorithm::Es256, &[3u8; 32]).unwrap()
}

/// The AS's signing key.
pub fn as_key() -> SigningKey {
    SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &hex::decode(AS_SEED).unwrap()).unwrap()
}

/// The configuration text.
pub fn config_text() -> String {
    let (c2x, _) = c2_key().verifying_key().coordinates();
    let (c3x, c3y) = c3_key().verifying_key().coordinates();
    let (c2x, c3x, c3y) = (
        hex::encode(c2x),
        hex::encode(c3x),
        hex::encode(c3y.unwrap()),
    );
    format!(
        r#"
[server]
issuer = "coap://as.test"
default_audience = "kdc"
[server.signing_key]
d = "{AS_SEED}"
kid = "a5"

[[client]]
id = "c1"
profiles = ["coap_oscore"]
[client.oscore]
sender_id = "01"
recipient_id = "c1"
master_secret = "00112233445566778899aabbccddeeff"

[[client]]
id = "c2"
[client.oscore]
sender_id = "01"
recipient_id = "c2"
master_secret = "0102030405060708090a0b0c0d0e0f10"
[client.public_key]
crv = "Ed25519"
x = "{c2x}"
kid = "c2"

[[client]]
id = "c3"
[client.oscore]
sender_id = "01"
recipient_id = "c3"
master_secret = "0202030405060708090a0b0c0d0e0f10"
[client.public_key]
crv = "P-256"
x = "{c3x}"
y = "{c3y}"

[[client]]
id = "c4"
profiles = ["coap_dtls"]
[client.oscore]
sender_id = "01"
recipient_id = "c4"
master_secret = "0302030405060708090a0b0c0d0e0f10"

[[client]]
id = "c5"
[client.oscore]
sender_id = "01"
recipient_id = "c5"
master_secret = "0402030405060708090a0b0c0d0e0f10"

[[client]]
id = "c6"
[client.oscore]
sender_id = "01"
recipient_id = "c6"
master_secret = "0502030405060708090a0b0c0d0e0f10"

[[client]]
id = "nochannel"

[[audience]]
name = "kdc"
shared_key = "{KDC_KEY}"
shared_key_id = "4b"
[audience.oscore]
sender_id = "01"
recipient_id = "0a"
master_secret = "0a0b0c0d0e0f101112131415161718ff"

[[audience]]
name = "kdc-noclock"
protection = "encrypt0"
shared_key = "{KDC_KEY}"
clock = false
rs_id = "6b31"
lifetime = 120

[[audience]]
name = "kdc-ext"
shared_key = "{KDC_KEY}"
extended_scope = true
tagging = "cwt"
[audience.default_scope]
groups = [{{ name = "g1", roles = ["requester"] }}]

[[audience]]
name = "dtls-rs"
profile = "coap_dtls"
accepted_pop_keys = ["Ed25519"]
[audience.rs_public_key]
crv = "Ed25519"
x = "{c2x}"
[audience.oscore]
sender_id = "01"
recipient_id = "0b"
master_secret = "0b0b0c0d0e0f101112131415161718ff"

[[audience]]
name = "dtls-psk"
profile = "coap_dtls"
protection = "encrypt0"
shared_key = "{KDC_KEY}"

[[audience]]
name = "mac-rs"
profile = "coap_dtls"
protection = "mac0"
mac_alg = "HMAC 256/64"
shared_key = "{MAC_KEY}"

[[audience]]
name = "jwt-rs"
profile = "coap_dtls"
format = "jwt"
scope_format = "text"
[audience.oscore]
sender_id = "01"
recipient_id = "0c"
master_secret = "0c0b0c0d0e0f101112131415161718ff"

[[policy]]
clients = ["c1", "c2", "c3", "c4", "c6", "nochannel"]
audiences = ["kdc*", "dtls-*", "mac-rs"]
groups = [
    {{ name = "g1", roles = ["requester", "responder"] }},
    {{ name = "sensors-*", roles = ["monitor"] }},
]

[[policy]]
clients = ["c2"]
audiences = ["jwt-rs"]
text = "publish_sensors/+/temp subscribe_alerts/# read"
"#
    )
}

/// The configuration with `n` more clients `bench-0`, `bench-1`, ... each
/// with its own OSCORE context, allowed what `c1` is allowed.
pub fn bench_config(n: usize) -> AsConfig {
    let mut text = config_text();
    let mut names = Vec::new();
    for i in 0..n {
        text.push_str(&format!(
            "\n[[client]]\nid = \"bench-{i}\"\nprofiles = [\"coap_oscore\"]\n[client.oscore]\nsender_id = \"01\"\nrecipient_id = \"{:04x}\"\nmaster_secret = \"{:032x}\"\n",
            0x1000 + i,
            0xbe00 + i
        ));
        names.push(format!("\"bench-{i}\""));
    }
    text.push_str(&format!(
        "\n[[policy]]\nclients = [{}]\naudiences = [\"kdc\"]\ngroups = [{{ name = \"g1\", roles = [\"requester\", \"responder\"] }}]\n",
        names.join(", ")
    ));
    AsConfig::from_toml_str(&text, Path::new(".")).unwrap()
}

/// The validated configuration.
pub fn config() -> AsConfig {
    AsConfig::from_toml_str(&config_text(), Path::new(".")).unwrap()
}

/// An AS over a memory store.
pub fn server() -> (AuthorizationServer, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let dyn_store: Arc<dyn TokenStore> = store.clone();
    (AuthorizationServer::new(config(), dyn_store), store)
}

/// The peer for client `id`.
pub fn client(id: &str) -> Peer {
    Peer::Client(id.into())
}

/// The peer for the RS of audience `name`.
pub fn rs(name: &str) -> Peer {
    Peer::ResourceServer(name.into())
}
