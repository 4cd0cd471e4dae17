//! The client's configuration: its identity (signature key and
//! authentication credential), the OSCORE contexts it shares with
//! Authorization Servers, the KDC, and how its endpoint runs.

use crate::error::ClientError;
use ace_coap::fault::FaultConfig;
use ace_coap::tap::TapSink;
use ace_coap::{MulticastGroup, ProtocolConfig, SocketOptions};
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::groupcomm::GetCreds;
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use group_oscore::group::CountersignatureStructure;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use zeroize::Zeroizing;

/// A source of the current time in Unix seconds. Time enters the client
/// only through this (token and keying material expiry).
pub trait Clock: Send + Sync + 'static {
    /// The current time, seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock, shifted by an offset that tests can move forward (to
/// reach token or keying material expiry without waiting).
#[derive(Debug, Default)]
pub struct SystemClock {
    offset: AtomicU64,
}

impl SystemClock {
    /// Moves the clock `seconds` forward.
    pub fn advance(&self, seconds: u64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        t + self.offset.load(Ordering::SeqCst)
    }
}

/// The client's signature key and the authentication credential that
/// carries its public key, as sent in `client_cred` (RFC 9594 section
/// 4.3.1) and used by Group OSCORE (RFC 10021 section 2.4).
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    credential: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("algorithm", &self.key.algorithm())
            .field("credential", &hex::encode(&self.credential))
            .finish()
    }
}

impl Identity {
    /// A fresh key for `alg`, with a CWT Claims Set credential (`kccs`, the
    /// Group OSCORE profile's default format) whose `sub` is `subject`. The
    /// COSE_Key carries `alg` (some peers refuse keys without it).
    pub fn generate(alg: SignatureAlgorithm, subject: &str) -> Self {
        Self::from_key(SigningKey::generate(alg), subject)
    }

    /// `key` with a CCS credential whose `sub` is `subject`.
    pub fn from_key(key: SigningKey, subject: &str) -> Self {
        let credential = Credential::ccs_for_signing_key(&key, subject, None).into_bytes();
        Self { key, credential }
    }

    /// `key` with a given credential (original bytes, CCS), which must
    /// carry the key's public key.
    pub fn with_credential(key: SigningKey, credential: Vec<u8>) -> Result<Self, ClientError> {
        let parsed = Credential::parse_ccs(&credential)
            .map_err(|e| ClientError::Config(format!("credential: {e}")))?;
        if *parsed.public_key() != PublicKey::from(&key.verifying_key()) {
            return Err(ClientError::Config(
                "the credential does not carry the public key of the signing key".into(),
            ));
        }
        Ok(Self { key, credential })
    }

    /// The signature key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The credential, original bytes.
    pub fn credential(&self) -> &[u8] {
        &self.credential
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
}

/// A pre-established OSCORE Security Context (RFC 8613) with an
/// Authorization Server, from the client's side: the channel over which it
/// asks for tokens (RFC 9200 section 5.8; RFC 9203 section 3).
#[derive(Clone)]
pub struct AsContext {
    /// The AS's token endpoint, e.g. `coap://127.0.0.1:5683/token`. A
    /// creation hint naming this URI selects this context.
    pub uri: String,
    /// The client's Sender ID (the AS's Recipient ID).
    pub sender_id: Vec<u8>,
    /// The client's Recipient ID (the AS's Sender ID).
    pub recipient_id: Vec<u8>,
    /// The Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// The Master Salt (empty if none).
    pub master_salt: Vec<u8>,
    /// The ID Context, if any.
    pub id_context: Option<Vec<u8>>,
}

impl std::fmt::Debug for AsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsContext")
            .field("uri", &self.uri)
            .field("sender_id", &hex::encode(&self.sender_id))
            .field("recipient_id", &hex::encode(&self.recipient_id))
            .finish_non_exhaustive()
    }
}

/// How the client runs.
#[derive(Clone)]
pub struct ClientConfig {
    /// A name for logs and events.
    pub name: String,
    /// The client's signature key and credential.
    pub identity: Identity,
    /// The Authorization Servers the client has an OSCORE context with.
    pub authorization_servers: Vec<AsContext>,
    /// The KDC: its address.
    pub kdc: SocketAddr,
    /// The KDC's audience for token requests. `None`: taken from the AS
    /// Request Creation Hints (RFC 9200 section 5.3). RFC 9200 section 6.9
    /// warns that the hint is unauthenticated: configure the audience when
    /// it is known.
    pub kdc_audience: Option<String>,
    /// Roles (AIF bits) used when [`crate::GroupClient::join`] is asked for
    /// none (0).
    pub roles: Option<u64>,
    /// The address the endpoint binds (loopback, ephemeral port by default).
    pub bind: SocketAddr,
    /// Whether joins give the KDC a `control_uri` hosted by this client
    /// (rekeying POSTs and eviction DELETEs, RFC 9594 section 4.3.1).
    pub control_uri: bool,
    /// Whether the client observes `/ace-group/GROUPNAME` for rekeying
    /// notifications (RFC 9594 section 6.1).
    pub observe: bool,
    /// Whether the client's clock is synchronized with UTC (then `exp` is
    /// used, else `exi`; RFC 9594 section 4.3.1).
    pub utc_synchronized: bool,
    /// Polling of `/num` at the Key Update Check Interval (RFC 9594 section
    /// 4.3.1, policy 1). `None`: the group's policy (or the profile default
    /// of 3600 s); `Some(d)`: every `d` (tests).
    pub key_check_interval: Option<Duration>,
    /// Ask the KDC for a new Sender ID once this few sequence numbers are
    /// left (RFC 10021 section 2.6.2; profile section 9).
    pub sender_id_renewal_margin: u64,
    /// Group-mode countersignature structure: RFC 10021, or aiocoap 0.4.17's
    /// for interoperating with it.
    pub countersignature: CountersignatureStructure,
    /// CoAP protocol parameters of the endpoint.
    pub protocol: ProtocolConfig,
    /// Sinks that see every datagram of the endpoint (pcap, trace).
    pub taps: Vec<Arc<dyn TapSink>>,
    /// Layers inside the OSCORE layer, around what this client serves (the
    /// members' group requests, the KDC's requests to the `control_uri`):
    /// each sees the requests as decrypted and the responses before they
    /// are protected, e.g. to record the inner method, path and code of
    /// each protected exchange (`ace_coap::tap::InnerTrace`). The first
    /// one is the outermost.
    pub inner_layers: Vec<Arc<dyn ace_coap::handler::Layer>>,
    /// Faults to inject into the endpoint (tests, packet loss scenarios).
    pub faults: Option<FaultConfig>,
    /// Socket options of the endpoint (e.g. the interface for outgoing
    /// multicast).
    pub socket: SocketOptions,
    /// Multicast groups the endpoint listens on, for group requests sent
    /// to a multicast address (RFC 7252 section 8).
    pub multicast_groups: Vec<MulticastGroup>,
    /// Where sequence-number reservations are recorded durably before use
    /// (RFC 8613 Appendix B.1.1). `None`: in memory only, and in
    /// [`crate::ClientState::sequence_marks`]. The pre-established contexts
    /// with the AS outlive the process: a client restarted with the same
    /// AS context must resume from this file or from its saved state, or it
    /// would reuse nonces.
    pub sequence_file: Option<PathBuf>,
    /// How many sequence numbers one reservation covers.
    pub sequence_block: u64,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("authorization_servers", &self.authorization_servers)
            .field("kdc", &self.kdc)
            .field("bind", &self.bind)
            .field("control_uri", &self.control_uri)
            .field("observe", &self.observe)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A configuration for `name` with `identity`, one AS context and the
    /// KDC at `kdc`: loopback on an ephemeral port, `control_uri` and
    /// Observe on, the RFC 7252 transmission parameters with the OSCORE
    /// option let through.
    pub fn new(name: &str, identity: Identity, authority: AsContext, kdc: SocketAddr) -> Self {
        let bind = if kdc.is_ipv6() {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
        } else {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0))
        };
        Self {
            name: name.to_string(),
            identity,
            authorization_servers: vec![authority],
            kdc,
            kdc_audience: None,
            roles: None,
            bind,
            control_uri: true,
            observe: true,
            utc_synchronized: true,
            key_check_interval: None,
            sender_id_renewal_margin: 1 << 16,
            countersignature: CountersignatureStructure::Rfc9338,
            protocol: ProtocolConfig::default(),
            taps: Vec::new(),
            inner_layers: Vec::new(),
            faults: None,
            socket: SocketOptions::default(),
            multicast_groups: Vec::new(),
            sequence_file: None,
            sequence_block: 64,
            clock: Arc::new(SystemClock::default()),
        }
    }

    /// The AS context for the token endpoint `uri`, if configured.
    pub fn authority(&self, uri: &str) -> Option<&AsContext> {
        self.authorization_servers
            .iter()
            .find(|a| same_uri(&a.uri, uri))
    }
}

/// Whether two `coap://` URIs name the same endpoint and path (trailing
/// slashes and the default port ignored).
fn same_uri(a: &str, b: &str) -> bool {
    fn norm(u: &str) -> String {
        let u = u.trim().trim_end_matches('/');
        let (scheme, rest) = u.split_once("://").unwrap_or(("coap", u));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let authority = authority.strip_suffix(":5683").unwrap_or(authority);
        format!(
            "{}://{}/{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase(),
            path
        )
    }
    norm(a) == norm(b)
}

/// Options of one join.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// `get_creds` of the Join Request (RFC 9594 section 4.3.1). The
    /// default, `null`, asks for the credentials of the members relevant to
    /// this client's roles (Group OSCORE profile section 6.3).
    pub get_creds: Option<GetCreds>,
    /// Other scope entries (group, AIF roles) to ask the AS for in the same
    /// token, when a token is needed: several groups under one token.
    pub more_groups: Vec<(String, u64)>,
    /// Overrides [`ClientConfig::control_uri`] for this group.
    pub control_uri: Option<bool>,
    /// Overrides [`ClientConfig::observe`] for this group.
    pub observe: Option<bool>,
    /// Get a new token even if a valid one grants the roles.
    pub new_token: bool,
    /// When no valid token grants the roles but one is held for the KDC,
    /// update its access rights (RFC 9203 section 4.1; RFC 9594 section
    /// 3.3): a new token with the old scope plus this group, bound to the
    /// same OSCORE_Input_Material, POSTed to `/authz-info` over the
    /// existing OSCORE context, which stays. Off (or if the update fails):
    /// a new token with its own OSCORE context. Default: on.
    pub update_access_rights: bool,
    /// Where group requests go: a multicast address (RFC 7252 section 8).
    pub multicast: Option<SocketAddr>,
    /// Where group requests go when there is no multicast address: each
    /// listed member's address (the same request, protected in group mode,
    /// sent to each).
    pub peers: Vec<SocketAddr>,
}

impl Default for JoinOptions {
    fn default() -> Self {
        Self {
            get_creds: Some(GetCreds::All),
            more_groups: Vec::new(),
            control_uri: None,
            observe: None,
            new_token: false,
            update_access_rights: true,
            multicast: None,
            peers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_compare_without_default_port_and_slash() {
        assert!(same_uri(
            "coap://AS.example/token",
            "coap://as.example:5683/token/"
        ));
        assert!(!same_uri(
            "coap://as.example/token",
            "coap://as.example:5684/token"
        ));
        assert!(!same_uri(
            "coap://as.example/token",
            "coap://as.example/tok"
        ));
    }

    #[test]
    fn identity_checks_its_credential() {
        let a = Identity::generate(SignatureAlgorithm::EdDsa, "a");
        let b = Identity::generate(SignatureAlgorithm::Es256, "b");
        assert!(Identity::with_credential(a.key().clone(), a.credential().to_vec()).is_ok());
        assert!(Identity::with_credential(a.key().clone(), b.credential().to_vec()).is_err());
        let c = Credential::parse_ccs(b.credential()).unwrap();
        assert_eq!(c.alg(), Some(-7));
    }
}
