//! Configuration: the TOML file as written ([`RawConfig`], serde) and the
//! validated, ready-to-use form ([`KdcConfig`], [`GroupConfig`]).
//!
//! Two levels, as ripgrep's `lowargs`/`hiargs`: parsing only checks the TOML
//! shape (errors carry the line and column `toml` reports); validation turns
//! hex strings into keys, algorithm names into types and checks every
//! combination the Group OSCORE profile forbids, with the path of the
//! offending field in the error. `crates/ace-kdc/kdc.example.toml` is the
//! commented reference.

use ace_proto::authz_info::{EcdhInfoEntry, GroupNames, KdcDhCredsEntry, SignInfoEntry};
use ace_proto::cbor::IntOrText;
use ace_proto::consts::cose::{alg, header};
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::cwt::{TokenKey, TokenVerifier};
use ace_proto::groupcomm::{Capabilities, GroupPolicies};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use ace_proto::pop::{DhCurve, DhPrivateKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The longest Sender ID the group algorithms allow: the 13-byte nonce of
/// AES-CCM-16-64-128 minus 6 (RFC 10021 section 2.2).
pub const MAX_SENDER_ID_LEN: u8 = 7;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the schema; the message
    /// carries line and column.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value that parses but is not acceptable.
    #[error("{field}: {reason}")]
    Invalid {
        /// The path of the field, e.g. `groups[1].signature`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Raw form (what the TOML says)
// ---------------------------------------------------------------------------

/// The configuration file as written.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[kdc]`: the KDC itself.
    pub kdc: RawKdc,
    /// `[as]`: the Authorization Server whose tokens the KDC accepts.
    #[serde(rename = "as")]
    pub authorization_server: RawAs,
    /// `[[groups]]`: the groups created at first start.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

/// `[kdc]`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawKdc {
    /// The audience the AS puts in tokens for this KDC (`aud`).
    pub audience: String,
    /// Address to listen on (overridden by `--listen`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Path of the SQLite database.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// The KDC's signature keys (one per algorithm its groups use).
    #[serde(default)]
    pub keys: Vec<RawKdcKey>,
    /// Whether tokens must carry a `cnonce` claim the KDC issued (RFC 9200
    /// section 5.3.1), for deployments where the KDC's clock cannot be
    /// trusted for `exp`.
    #[serde(default)]
    pub require_cnonce: bool,
    /// How long an issued `cnonce` stays acceptable, in seconds.
    #[serde(default = "default_cnonce_lifetime")]
    pub cnonce_lifetime: u64,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    #[serde(default)]
    pub token_leeway: u64,
    /// How many seconds before the group keying material expires the KDC
    /// rekeys the group.
    #[serde(default = "default_rekey_margin")]
    pub rekey_margin: u64,
    /// Interval of the service's timer, in milliseconds (token expiry,
    /// keying material refresh, operator commands).
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// SQLite `synchronous = FULL` (an fsync per transaction, durable
    /// against power loss) instead of `NORMAL` (durable against the death
    /// of the process); see [`crate::store::SqliteStore`].
    #[serde(default)]
    pub durable_fsync: bool,
    /// Receive and send buffer of the UDP socket, in bytes (`SO_RCVBUF`,
    /// `SO_SNDBUF`; the kernel caps it at `net.core.rmem_max` and
    /// `wmem_max`); 0 keeps the system default. Default:
    /// [`SocketOptions::SERVER_BUFFER_SIZE`](ace_coap::SocketOptions::SERVER_BUFFER_SIZE),
    /// 4 MiB, which says why.
    #[serde(default = "default_socket_buffer")]
    pub socket_buffer: i64,
}

/// One `[[kdc.keys]]` entry: a private signature key of the KDC.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKdcKey {
    /// `"EdDSA"` (Ed25519) or `"ES256"` (P-256).
    pub alg: String,
    /// The 32 private bytes in hex (Ed25519 seed, or P-256 scalar).
    pub private_key: String,
    /// The `sub` of the KDC's CCS credential.
    #[serde(default = "default_kdc_subject")]
    pub subject: String,
    /// Optional `kid` of the COSE_Key in the credential, hex.
    #[serde(default)]
    pub kid: Option<String>,
}

/// `[as]`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAs {
    /// The AS URI sent in AS Request Creation Hints (RFC 9200 section 5.3).
    pub uri: String,
    /// Accepted `iss` values (none: `iss` is not checked, the key names the
    /// AS).
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Keys that open the AS's tokens.
    #[serde(default)]
    pub keys: Vec<RawAsKey>,
}

/// One `[[as.keys]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsKey {
    /// `"ed25519"` or `"es256"` (public keys verifying COSE_Sign1),
    /// `"aes-ccm-16-64-128"` (a key shared with the AS decrypting
    /// COSE_Encrypt0), `"hmac"` (a key shared with the AS verifying
    /// COSE_Mac0).
    #[serde(rename = "type")]
    pub kind: String,
    /// The key in hex: Ed25519 32-byte point; P-256 `x || y` (64 bytes) or
    /// SEC1 uncompressed (65 bytes); symmetric key bytes.
    pub key: String,
    /// Optional `kid` the key is bound to, hex.
    #[serde(default)]
    pub kid: Option<String>,
}

/// One `[[groups]]` entry; also the form in which the store keeps a group's
/// configuration and in which `ace-kdc group create` builds one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group name, also GROUPNAME in `/ace-group/GROUPNAME` (Group
    /// OSCORE profile section 3: the name is a URI path segment).
    pub name: String,
    /// `"group"` (signature-only), `"pairwise"` (pairwise-only) or `"both"`.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Signature algorithm of group mode: `"EdDSA"` or `"ES256"`.
    #[serde(default = "default_signature")]
    pub signature: String,
    /// Curve of a pairwise-only group: `"X25519"` or `"P-256"`.
    #[serde(default = "default_dh_curve")]
    pub dh_curve: String,
    /// Group Encryption Algorithm (COSE id; 10 = AES-CCM-16-64-128).
    #[serde(default = "default_aead")]
    pub gp_enc_alg: i64,
    /// Pairwise AEAD Algorithm (COSE id; 10).
    #[serde(default = "default_aead")]
    pub alg: i64,
    /// Pairwise Key Agreement Algorithm (COSE id; -27 ECDH-SS + HKDF-256).
    #[serde(default = "default_ecdh")]
    pub ecdh_alg: i64,
    /// HKDF (COSE id of its HMAC; 5 = HKDF SHA-256).
    #[serde(default = "default_hkdf")]
    pub hkdf: i64,
    /// Credential format (COSE header label; 14 = kccs).
    #[serde(default = "default_cred_fmt")]
    pub cred_fmt: i64,
    /// Length of the Gid in bytes (prefix + epoch).
    #[serde(default = "default_gid_len")]
    pub gid_len: u8,
    /// Length of the Gid prefix (unique per group on this KDC).
    #[serde(default = "default_gid_prefix_len")]
    pub gid_prefix_len: u8,
    /// Longest Sender ID the KDC hands out, in bytes (1 to 7).
    #[serde(default = "default_max_sender_id_len")]
    pub max_sender_id_len: u8,
    /// Lifetime of the group keying material, in seconds.
    #[serde(default = "default_key_lifetime")]
    pub key_lifetime: u64,
    /// Rekey when a node joins (backward security).
    #[serde(default)]
    pub backward_security: bool,
    /// Maximum number of members.
    #[serde(default = "default_max_members")]
    pub max_members: u32,
    /// Stale Sender ID sets kept (Group OSCORE profile section 11,
    /// `max_stale_sets`, default 3).
    #[serde(default = "default_max_stale_sets")]
    pub max_stale_sets: u32,
    /// Key Update Check Interval policy, seconds (RFC 9594 Table 3).
    #[serde(default = "default_key_update_check_interval")]
    pub key_update_check_interval: i64,
    /// Expiration Delta policy, seconds (RFC 9594 Table 3).
    #[serde(default)]
    pub expiration_delta: u64,
    /// `control_group_uri` given to joining nodes (RFC 9594 section 4.3.1).
    #[serde(default)]
    pub control_group_uri: Option<String>,
    /// Whether the group is active (Group OSCORE profile section 9).
    #[serde(default = "default_true")]
    pub active: bool,
}

fn default_listen() -> String {
    "[::]:5683".into()
}
fn default_database() -> PathBuf {
    PathBuf::from("kdc.sqlite")
}
fn default_cnonce_lifetime() -> u64 {
    300
}
fn default_rekey_margin() -> u64 {
    60
}
fn default_tick_ms() -> u64 {
    500
}
fn default_socket_buffer() -> i64 {
    ace_coap::SocketOptions::SERVER_BUFFER_SIZE as i64
}
fn default_kdc_subject() -> String {
    "kdc".into()
}
fn default_mode() -> String {
    "both".into()
}
fn default_signature() -> String {
    "EdDSA".into()
}
fn default_dh_curve() -> String {
    "X25519".into()
}
fn default_aead() -> i64 {
    alg::AES_CCM_16_64_128
}
fn default_ecdh() -> i64 {
    alg::ECDH_SS_HKDF_256
}
fn default_hkdf() -> i64 {
    alg::HMAC_256_256
}
fn default_cred_fmt() -> i64 {
    header::KCCS
}
fn default_gid_len() -> u8 {
    6
}
fn default_gid_prefix_len() -> u8 {
    2
}
fn default_max_sender_id_len() -> u8 {
    2
}
fn default_key_lifetime() -> u64 {
    86_400
}
fn default_max_members() -> u32 {
    65_536
}
fn default_max_stale_sets() -> u32 {
    3
}
fn default_key_update_check_interval() -> i64 {
    3600
}
fn default_true() -> bool {
    true
}

impl GroupSpec {
    /// A group named `name` with every default (both modes, EdDSA, X25519
    /// pairwise keys, AES-CCM-16-64-128, HKDF SHA-256, CCS credentials).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            mode: default_mode(),
            signature: default_signature(),
            dh_curve: default_dh_curve(),
            gp_enc_alg: default_aead(),
            alg: default_aead(),
            ecdh_alg: default_ecdh(),
            hkdf: default_hkdf(),
            cred_fmt: default_cred_fmt(),
            gid_len: default_gid_len(),
            gid_prefix_len: default_gid_prefix_len(),
            max_sender_id_len: default_max_sender_id_len(),
            key_lifetime: default_key_lifetime(),
            backward_security: false,
            max_members: default_max_members(),
            max_stale_sets: default_max_stale_sets(),
            key_update_check_interval: default_key_update_check_interval(),
            expiration_delta: 0,
            control_group_uri: None,
            active: true,
        }
    }

    /// The spec as TOML (how the store keeps it).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// A spec from its TOML form.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }
}

impl RawConfig {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }
}

// ---------------------------------------------------------------------------
// Validated form
// ---------------------------------------------------------------------------

/// Which modes of Group OSCORE a group uses (RFC 10021 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMode {
    /// Group mode only (signature-only group).
    GroupOnly,
    /// Pairwise mode only (pairwise-only group): no signatures; the PoP is
    /// the HKDF MAC (Group OSCORE profile section 6.1).
    PairwiseOnly,
    /// Both modes.
    Both,
}

impl GroupMode {
    /// Whether group mode (signatures) is used.
    pub fn uses_signatures(self) -> bool {
        self != Self::PairwiseOnly
    }

    /// Whether pairwise mode is used.
    pub fn uses_pairwise(self) -> bool {
        self != Self::GroupOnly
    }
}

/// The KDC's key material for one group: its credential (the `kdc_cred` of
/// the group, in the group's format) and the private key that proves it.
#[derive(Clone)]
pub enum KdcGroupKey {
    /// A signature key (groups using group mode).
    Signature(Arc<SigningKey>),
    /// A Diffie-Hellman key (pairwise-only groups; the PoP is the HKDF MAC).
    Dh(Arc<DhPrivateKey>),
}

impl fmt::Debug for KdcGroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signature(k) => write!(f, "Signature({:?})", k.algorithm()),
            Self::Dh(k) => write!(f, "Dh({:?})", k.curve()),
        }
    }
}

/// A validated group configuration.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// The spec it was built from (kept for the store and `group show`).
    pub spec: GroupSpec,
    /// Modes.
    pub mode: GroupMode,
    /// Signature algorithm (group mode).
    pub signature: Option<SignatureAlgorithm>,
    /// Curve of the members' Diffie-Hellman keys (pairwise mode).
    pub dh_curve: Option<DhCurve>,
    /// The KDC's credential for this group (`kdc_cred`), exact bytes.
    pub kdc_credential: Vec<u8>,
    /// The private key behind `kdc_credential`.
    pub kdc_key: KdcGroupKey,
}

impl GroupConfig {
    /// The group name (= GROUPNAME).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The `sign_params` / signature capabilities: `[[kty], [kty, crv]]`.
    pub fn sign_capabilities(&self) -> Option<Capabilities> {
        self.signature.map(|s| match s {
            SignatureAlgorithm::EdDsa => Capabilities::eddsa_ed25519(),
            SignatureAlgorithm::Es256 => Capabilities::ec2_p256(),
        })
    }

    /// The `ecdh_params`: `[[kty], [kty, crv]]` of the members' DH keys.
    pub fn ecdh_capabilities(&self) -> Option<Capabilities> {
        self.dh_curve.map(|c| match c {
            DhCurve::X25519 => Capabilities::okp_x25519(),
            DhCurve::P256 => Capabilities::ec2_p256(),
        })
    }

    /// The group policies sent in Join Responses and GET `/policies` (RFC
    /// 9594 section 4.6.1; Group OSCORE profile section 6.3).
    pub fn policies(&self) -> GroupPolicies {
        GroupPolicies {
            sequence_number_sync: None,
            key_update_check_interval: Some(self.spec.key_update_check_interval),
            expiration_delta: Some(self.spec.expiration_delta),
            other: Vec::new(),
        }
    }

    /// The `sign_info` entry for this group (RFC 9594 section 3.3.1), or
    /// `None` for a pairwise-only group.
    pub fn sign_info(&self) -> Option<SignInfoEntry> {
        let caps = self.sign_capabilities()?;
        let sign = self.signature?;
        Some(SignInfoEntry {
            id: GroupNames::One(self.spec.name.clone()),
            sign_alg: IntOrText::Int(sign.cose_id()),
            sign_parameters: caps.alg,
            sign_key_parameters: caps.key_type,
            more_capabilities: Vec::new(),
            cred_fmt: Some(self.spec.cred_fmt),
        })
    }

    /// The `ecdh_info` entry (Group OSCORE profile section 5.3.1), or `None`
    /// for a signature-only group.
    pub fn ecdh_info(&self) -> Option<EcdhInfoEntry> {
        let caps = self.ecdh_capabilities()?;
        Some(EcdhInfoEntry {
            id: GroupNames::One(self.spec.name.clone()),
            ecdh_alg: IntOrText::Int(self.spec.ecdh_alg),
            ecdh_parameters: caps.alg,
            ecdh_key_parameters: caps.key_type,
            more_capabilities: Vec::new(),
            cred_fmt: Some(self.spec.cred_fmt),
        })
    }

    /// The `kdc_dh_creds` entry (Group OSCORE profile section 5.3.2) of a
    /// pairwise-only group.
    pub fn kdc_dh_creds(&self) -> Option<KdcDhCredsEntry> {
        match (&self.kdc_key, self.mode) {
            (KdcGroupKey::Dh(_), GroupMode::PairwiseOnly) => Some(KdcDhCredsEntry {
                id: GroupNames::One(self.spec.name.clone()),
                cred_fmt: self.spec.cred_fmt,
                cred: self.kdc_credential.clone(),
            }),
            _ => None,
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct KdcConfig {
    /// The KDC's audience.
    pub audience: String,
    /// The AS URI for creation hints.
    pub as_uri: String,
    /// Listen address.
    pub listen: String,
    /// Database path.
    pub database: PathBuf,
    /// See [`RawKdc::require_cnonce`].
    pub require_cnonce: bool,
    /// See [`RawKdc::cnonce_lifetime`].
    pub cnonce_lifetime: u64,
    /// See [`RawKdc::rekey_margin`].
    pub rekey_margin: u64,
    /// See [`RawKdc::tick_ms`].
    pub tick_ms: u64,
    /// See [`RawKdc::durable_fsync`].
    pub durable_fsync: bool,
    /// See [`RawKdc::socket_buffer`]; `None` keeps the system default.
    pub socket_buffer: Option<usize>,
    /// The verifier of the AS's tokens.
    pub verifier: TokenVerifier,
    /// The KDC's signature keys, by algorithm, with their credentials.
    pub keys: BTreeMap<i64, KdcKey>,
    /// The groups of the configuration file.
    pub groups: Vec<GroupSpec>,
}

/// A KDC signature key and its CCS credential.
#[derive(Debug, Clone)]
pub struct KdcKey {
    /// The private key.
    pub key: Arc<SigningKey>,
    /// The `sub` of the credential.
    pub subject: String,
    /// The `kid` of the credential's COSE_Key.
    pub kid: Option<Vec<u8>>,
}

impl KdcConfig {
    /// Validates a raw configuration.
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.kdc.audience.is_empty() {
            return Err(ConfigError::invalid("kdc.audience", "must not be empty"));
        }
        let socket_buffer = ace_coap::SocketOptions::configured_buffer_size(raw.kdc.socket_buffer)
            .map_err(|e| ConfigError::invalid("kdc.socket_buffer", e))?;
        let mut keys = BTreeMap::new();
        for (i, k) in raw.kdc.keys.iter().enumerate() {
            let field = format!("kdc.keys[{i}]");
            let sig = signature_by_name(&k.alg)
                .ok_or_else(|| ConfigError::invalid(format!("{field}.alg"), "EdDSA or ES256"))?;
            let bytes = parse_hex(&format!("{field}.private_key"), &k.private_key)?;
            let key = SigningKey::from_bytes(sig, &bytes)
                .map_err(|e| ConfigError::invalid(format!("{field}.private_key"), e.to_string()))?;
            let kid = k
                .kid
                .as_deref()
                .map(|h| parse_hex(&format!("{field}.kid"), h))
                .transpose()?;
            if keys
                .insert(
                    sig.cose_id(),
                    KdcKey {
                        key: Arc::new(key),
                        subject: k.subject.clone(),
                        kid,
                    },
                )
                .is_some()
            {
                return Err(ConfigError::invalid(
                    field,
                    format!("a second {} key", k.alg),
                ));
            }
        }
        let mut verifier = TokenVerifier::new(raw.kdc.audience.clone())
            .with_leeway(raw.kdc.token_leeway)
            .with_required_claim(ace_proto::consts::cwt::CNF)
            .with_required_claim(ace_proto::consts::cwt::SCOPE);
        for issuer in &raw.authorization_server.issuers {
            verifier = verifier.with_issuer(issuer.clone());
        }
        if raw.authorization_server.keys.is_empty() {
            return Err(ConfigError::invalid(
                "as.keys",
                "at least one key is needed to open the AS's tokens",
            ));
        }
        for (i, k) in raw.authorization_server.keys.iter().enumerate() {
            verifier = verifier.with_key(as_key(&format!("as.keys[{i}]"), k)?);
        }
        let config = Self {
            audience: raw.kdc.audience,
            as_uri: raw.authorization_server.uri,
            listen: raw.kdc.listen,
            database: raw.kdc.database,
            require_cnonce: raw.kdc.require_cnonce,
            cnonce_lifetime: raw.kdc.cnonce_lifetime.max(1),
            rekey_margin: raw.kdc.rekey_margin,
            tick_ms: raw.kdc.tick_ms.clamp(10, 60_000),
            durable_fsync: raw.kdc.durable_fsync,
            socket_buffer,
            verifier,
            keys,
            groups: Vec::new(),
        };
        let mut names = std::collections::HashSet::new();
        for (i, g) in raw.groups.iter().enumerate() {
            config
                .group(g)
                .map_err(|e| prefix(e, &format!("groups[{i}]")))?;
            if !names.insert(g.name.clone()) {
                return Err(ConfigError::invalid(
                    format!("groups[{i}].name"),
                    format!("group {:?} defined twice", g.name),
                ));
            }
        }
        Ok(Self {
            groups: raw.groups,
            ..config
        })
    }

    /// Reads and validates a file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        Self::from_raw(RawConfig::read(path)?)
    }

    /// Validates a group spec against this KDC's keys.
    pub fn group(&self, spec: &GroupSpec) -> Result<GroupConfig, ConfigError> {
        check_group_name(&spec.name)?;
        let mode = match spec.mode.as_str() {
            "group" => GroupMode::GroupOnly,
            "pairwise" => GroupMode::PairwiseOnly,
            "both" => GroupMode::Both,
            other => {
                return Err(ConfigError::invalid(
                    "mode",
                    format!("{other:?}: expected \"group\", \"pairwise\" or \"both\""),
                ));
            }
        };
        if spec.gp_enc_alg != alg::AES_CCM_16_64_128 || spec.alg != alg::AES_CCM_16_64_128 {
            return Err(ConfigError::invalid(
                "gp_enc_alg/alg",
                "only AES-CCM-16-64-128 (10) is implemented",
            ));
        }
        if spec.ecdh_alg != alg::ECDH_SS_HKDF_256 {
            return Err(ConfigError::invalid(
                "ecdh_alg",
                "only ECDH-SS + HKDF-256 (-27) is implemented",
            ));
        }
        if spec.hkdf != alg::HMAC_256_256 {
            return Err(ConfigError::invalid(
                "hkdf",
                "only HKDF SHA-256 (5) is implemented",
            ));
        }
        if spec.cred_fmt != header::KCCS {
            return Err(ConfigError::invalid(
                "cred_fmt",
                "only CWT Claims Sets (kccs, 14) are implemented",
            ));
        }
        if !(1..=8).contains(&spec.gid_len) || spec.gid_prefix_len >= spec.gid_len {
            return Err(ConfigError::invalid(
                "gid_len",
                "gid_len must be 1 to 8 and larger than gid_prefix_len",
            ));
        }
        if !(1..=MAX_SENDER_ID_LEN).contains(&spec.max_sender_id_len) {
            return Err(ConfigError::invalid(
                "max_sender_id_len",
                format!("must be 1 to {MAX_SENDER_ID_LEN}"),
            ));
        }
        if spec.key_lifetime == 0 {
            return Err(ConfigError::invalid("key_lifetime", "must be positive"));
        }
        if spec.max_stale_sets < 2 {
            return Err(ConfigError::invalid(
                "max_stale_sets",
                "must be at least 2 (Group OSCORE profile section 11: N > 1)",
            ));
        }
        if spec.max_members == 0 {
            return Err(ConfigError::invalid("max_members", "must be positive"));
        }
        if let Some(uri) = &spec.control_group_uri {
            check_control_group_uri(uri, &spec.name)?;
        }
        let signature = if mode.uses_signatures() {
            Some(signature_by_name(&spec.signature).ok_or_else(|| {
                ConfigError::invalid("signature", "expected \"EdDSA\" or \"ES256\"")
            })?)
        } else {
            None
        };
        let dh_curve = if mode.uses_pairwise() {
            Some(match signature {
                // With group mode the DH keys are the signature keys (Ed25519
                // mapped to X25519, RFC 10021 section 2.5.1).
                Some(SignatureAlgorithm::EdDsa) => DhCurve::X25519,
                Some(SignatureAlgorithm::Es256) => DhCurve::P256,
                None => match spec.dh_curve.as_str() {
                    "X25519" => DhCurve::X25519,
                    "P-256" => DhCurve::P256,
                    other => {
                        return Err(ConfigError::invalid(
                            "dh_curve",
                            format!("{other:?}: expected \"X25519\" or \"P-256\""),
                        ));
                    }
                },
            })
        } else {
            None
        };
        let needed = match (signature, dh_curve) {
            (Some(s), _) => s,
            (None, Some(DhCurve::X25519)) => SignatureAlgorithm::EdDsa,
            (None, Some(DhCurve::P256)) => SignatureAlgorithm::Es256,
            (None, None) => SignatureAlgorithm::EdDsa,
        };
        let kdc = self.keys.get(&needed.cose_id()).ok_or_else(|| {
            ConfigError::invalid(
                "signature",
                format!("the KDC has no {needed:?} key in [[kdc.keys]] for this group"),
            )
        })?;
        let (kdc_credential, kdc_key) = match signature {
            Some(_) => (
                Credential::ccs_for_signing_key(&kdc.key, &kdc.subject, kdc.kid.as_deref())
                    .into_bytes(),
                KdcGroupKey::Signature(kdc.key.clone()),
            ),
            None => {
                // Pairwise-only: the KDC's DH key is the DH form of its
                // signature key of the same curve; its credential names the
                // key agreement algorithm.
                let dh = DhPrivateKey::from_signing_key(&kdc.key);
                let public = match dh.public_key() {
                    ace_proto::pop::DhPublicKey::X25519(p) => PublicKey::X25519(*p.as_bytes()),
                    ace_proto::pop::DhPublicKey::P256(p) => {
                        let sec1 = p.to_sec1_bytes();
                        let vk = VerifyingKey::p256(&sec1[1..33], &sec1[33..65])
                            .map_err(|e| ConfigError::invalid("signature", e.to_string()))?;
                        PublicKey::from(&vk)
                    }
                };
                let cred =
                    Credential::ccs(&public, spec.ecdh_alg, &kdc.subject, kdc.kid.as_deref())
                        .map_err(|e| ConfigError::invalid("dh_curve", e.to_string()))?;
                (cred.into_bytes(), KdcGroupKey::Dh(Arc::new(dh)))
            }
        };
        Ok(GroupConfig {
            spec: spec.clone(),
            mode,
            signature,
            dh_curve,
            kdc_credential,
            kdc_key,
        })
    }
}

fn prefix(e: ConfigError, path: &str) -> ConfigError {
    match e {
        ConfigError::Invalid { field, reason } => ConfigError::Invalid {
            field: format!("{path}.{field}"),
            reason,
        },
        other => other,
    }
}

fn signature_by_name(name: &str) -> Option<SignatureAlgorithm> {
    match name {
        "EdDSA" | "Ed25519" => Some(SignatureAlgorithm::EdDsa),
        "ES256" => Some(SignatureAlgorithm::Es256),
        _ => None,
    }
}

fn parse_hex(field: &str, text: &str) -> Result<Vec<u8>, ConfigError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(cleaned).map_err(|e| ConfigError::invalid(field, format!("not hex: {e}")))
}

fn as_key(field: &str, k: &RawAsKey) -> Result<TokenKey, ConfigError> {
    let bytes = parse_hex(&format!("{field}.key"), &k.key)?;
    let key = match k.kind.as_str() {
        "ed25519" => TokenKey::verifying(
            VerifyingKey::ed25519(&bytes)
                .map_err(|e| ConfigError::invalid(format!("{field}.key"), e.to_string()))?,
        ),
        "es256" => {
            let xy = match bytes.len() {
                64 => &bytes[..],
                65 if bytes[0] == 0x04 => &bytes[1..],
                n => {
                    return Err(ConfigError::invalid(
                        format!("{field}.key"),
                        format!("{n} bytes: expected x || y (64) or SEC1 uncompressed (65)"),
                    ));
                }
            };
            TokenKey::verifying(
                VerifyingKey::p256(&xy[..32], &xy[32..])
                    .map_err(|e| ConfigError::invalid(format!("{field}.key"), e.to_string()))?,
            )
        }
        "aes-ccm-16-64-128" => {
            let key: [u8; 16] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| ConfigError::invalid(format!("{field}.key"), "expected 16 bytes"))?;
            TokenKey::aes_ccm_16_64_128(&key)
        }
        "hmac" => {
            if bytes.len() < 16 {
                return Err(ConfigError::invalid(
                    format!("{field}.key"),
                    "an HMAC key shorter than 16 bytes is refused",
                ));
            }
            TokenKey::mac(&bytes)
        }
        other => {
            return Err(ConfigError::invalid(
                format!("{field}.type"),
                format!("{other:?}: expected ed25519, es256, aes-ccm-16-64-128 or hmac"),
            ));
        }
    };
    Ok(match &k.kid {
        Some(kid) => key.with_kid(&parse_hex(&format!("{field}.kid"), kid)?),
        None => key,
    })
}

/// Checks that a group name can be GROUPNAME: a non-empty URI path segment
/// of unreserved characters (RFC 3986 section 2.3), so it needs no
/// percent-encoding anywhere.
pub fn check_group_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ConfigError::invalid("name", "1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        || name == "."
        || name == ".."
    {
        return Err(ConfigError::invalid(
            "name",
            format!("{name:?} is not a path segment of unreserved characters"),
        ));
    }
    Ok(())
}

/// RFC 9594 section 4.3.1: `control_group_uri` includes GROUPNAME in its
/// url-path and MUST NOT have the url-path `/ace-group/GROUPNAME/nodes`.
fn check_control_group_uri(uri: &str, name: &str) -> Result<(), ConfigError> {
    let path = uri_path(uri).ok_or_else(|| {
        ConfigError::invalid("control_group_uri", "expected an absolute coap:// URI")
    })?;
    if !path.split('/').any(|seg| seg == name) {
        return Err(ConfigError::invalid(
            "control_group_uri",
            "the url-path must include GROUPNAME (RFC 9594 section 4.3.1)",
        ));
    }
    if path.trim_end_matches('/') == format!("/ace-group/{name}/nodes") {
        return Err(ConfigError::invalid(
            "control_group_uri",
            "the url-path must not be /ace-group/GROUPNAME/nodes",
        ));
    }
    Ok(())
}

/// The path of an absolute `coap://` or `coaps://` URI, `""` when it has
/// none; `None` for anything else.
pub fn uri_path(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("coap://")
        .or_else(|| uri.strip_prefix("coaps://"))
        .or_else(|| uri.strip_prefix("coap+tcp://"))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_end == 0 {
        return None;
    }
    let path = &rest[authority_end..];
    let path_end = path.find(['?', '#']).unwrap_or(path.len());
    Some(&path[..path_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../kdc.example.toml");

    #[test]
    fn example_config_validates() {
        let config = KdcConfig::from_raw(RawConfig::parse(EXAMPLE).unwrap()).unwrap();
        assert!(!config.groups.is_empty());
        for g in &config.groups {
            config.group(g).unwrap();
        }
    }

    #[test]
    fn socket_buffer_defaults_to_4_mib_and_0_keeps_the_system_default() {
        let buffer = |text: &str| {
            KdcConfig::from_raw(RawConfig::parse(text).unwrap())
                .unwrap()
                .socket_buffer
        };
        assert_eq!(buffer(EXAMPLE), Some(4 << 20));
        let omitted = EXAMPLE.replace("socket_buffer = 4194304\n", "");
        assert_ne!(omitted, EXAMPLE);
        assert_eq!(buffer(&omitted), Some(4 << 20));
        let small = EXAMPLE.replace("socket_buffer = 4194304", "socket_buffer = 65536");
        assert_eq!(buffer(&small), Some(65536));
        let system = EXAMPLE.replace("socket_buffer = 4194304", "socket_buffer = 0");
        assert_eq!(buffer(&system), None);
        let huge = EXAMPLE.replace("socket_buffer = 4194304", "socket_buffer = 2147483648");
        let err = KdcConfig::from_raw(RawConfig::parse(&huge).unwrap()).unwrap_err();
        assert!(err.to_string().contains("kdc.socket_buffer"), "{err}");
    }

    #[test]
    fn group_names_must_be_path_segments() {
        assert!(check_group_name("g1").is_ok());
        assert!(check_group_name("a/b").is_err());
        assert!(check_group_name("").is_err());
        assert!(check_group_name("..").is_err());
        assert!(check_group_name("sp ace").is_err());
    }

    #[test]
    fn control_group_uri_rules() {
        assert!(check_control_group_uri("coap://[ff05::fd]/ace-group/g1", "g1").is_ok());
        assert!(check_control_group_uri("coap://[ff05::fd]/other", "g1").is_err());
        assert!(check_control_group_uri("coap://[ff05::fd]/ace-group/g1/nodes", "g1").is_err());
        assert!(check_control_group_uri("http://x/g1", "g1").is_err());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let bad = EXAMPLE.replace("mode = \"both\"", "mode = \"all\"");
        let err = KdcConfig::from_raw(RawConfig::parse(&bad).unwrap()).unwrap_err();
        assert!(err.to_string().contains("groups[0].mode"), "{err}");
        let err = RawConfig::parse("[kdc]\naudience = \"x\"\nbogus = 1\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn spec_round_trips_through_toml() {
        let mut spec = GroupSpec::new("g7");
        spec.backward_security = true;
        spec.control_group_uri = Some("coap://[ff05::fd]/ace-group/g7".into());
        assert_eq!(GroupSpec::from_toml(&spec.to_toml()).unwrap(), spec);
    }
}
