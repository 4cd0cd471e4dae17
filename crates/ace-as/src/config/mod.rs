//! The AS configuration: a TOML file, read into raw structures and validated
//! into an [`AsConfig`] (RFC 9200 Appendix D lists what an AS must know:
//! clients and resource servers, their profiles, keys and token formats,
//! the token lifetime, and whether the RS has a clock).
//!
//! A bad file is refused at start with the line, the column and the
//! reason ([`ConfigError`]). Among the refusals: a symmetric
//! proof-of-possession key that would travel in an unencrypted token (RFC
//! 9203 section 3: the OSCORE master secret is in `cnf`, and the token
//! crosses `/authz-info` unprotected), unknown names, malformed keys and
//! patterns. The commented example `as.example.toml` at the crate root
//! documents every setting and its default.

mod error;
mod raw;
mod validate;

pub use error::{ConfigError, Location};

use crate::policy::{Policy, ScopeModel};
use ace_proto::credential::{CoseKey, PublicKey};
use ace_proto::cwt::{MacAlgorithm, Tagging};
use ace_proto::keys::SigningKey;
use ace_proto::scope::ScopeValue;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// An ACE profile the AS issues tokens for (RFC 9200 section 8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AceProfile {
    /// `coap_dtls` (RFC 9202): the token binds the client's raw public key
    /// (RPK mode) or a symmetric key the AS generates (PSK mode).
    CoapDtls,
    /// `coap_oscore` (RFC 9203): the token binds an OSCORE_Input_Material
    /// the AS generates.
    CoapOscore,
}

impl AceProfile {
    /// Every profile this AS implements.
    pub const ALL: [Self; 2] = [Self::CoapDtls, Self::CoapOscore];

    /// The ACE Profiles registry value.
    pub fn value(self) -> i64 {
        use ace_proto::consts::oauth::ace_profile;
        match self {
            Self::CoapDtls => ace_profile::COAP_DTLS,
            Self::CoapOscore => ace_profile::COAP_OSCORE,
        }
    }

    /// The registered name, also the configuration name and the JWT
    /// `ace_profile` value (RFC 9200 section 5.8.4.3).
    pub fn name(self) -> &'static str {
        match self {
            Self::CoapDtls => "coap_dtls",
            Self::CoapOscore => "coap_oscore",
        }
    }

    /// The profile named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The profile with registry value `value`.
    pub fn from_value(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.value() == value)
    }
}

impl fmt::Display for AceProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pre-established OSCORE Security Context between the AS and a peer
/// (RFC 8613 section 3), which authenticates that peer to the AS.
#[derive(Clone, PartialEq, Eq)]
pub struct OscoreContextConfig {
    /// The AS's Sender ID in this context.
    pub sender_id: Vec<u8>,
    /// The AS's Recipient ID (the peer's Sender ID).
    pub recipient_id: Vec<u8>,
    /// The Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// The Master Salt (empty by default).
    pub master_salt: Vec<u8>,
    /// The ID Context, if any.
    pub id_context: Option<Vec<u8>>,
}

impl fmt::Debug for OscoreContextConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OscoreContextConfig")
            .field("sender_id", &hex::encode(&self.sender_id))
            .field("recipient_id", &hex::encode(&self.recipient_id))
            .field("master_secret", &"<redacted>")
            .field("master_salt", &hex::encode(&self.master_salt))
            .field("id_context", &self.id_context.as_ref().map(hex::encode))
            .finish()
    }
}

/// A client's registered public key, for RPK-bound tokens (RFC 9202
/// section 3.2.1, RFC 9201 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    /// The key.
    pub key: PublicKey,
    /// The key identifier, if one was configured.
    pub kid: Option<Vec<u8>>,
}

impl ClientKey {
    /// The key as a COSE_Key with `alg` (EdDSA for Ed25519, ES256 for
    /// P-256), as the token's `cnf` carries it.
    pub fn cose_key(&self) -> CoseKey {
        use ace_proto::consts::cose::alg;
        let algorithm = match self.key {
            PublicKey::P256 { .. } => alg::ES256,
            _ => alg::EDDSA,
        };
        self.key.to_cose_key(self.kid.as_deref(), algorithm)
    }

    /// The kind of key.
    pub fn kind(&self) -> PopKeyType {
        match self.key {
            PublicKey::P256 { .. } => PopKeyType::P256,
            _ => PopKeyType::Ed25519,
        }
    }
}

/// The asymmetric proof-of-possession key types an RS can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopKeyType {
    /// OKP Ed25519.
    Ed25519,
    /// EC2 P-256.
    P256,
}

impl PopKeyType {
    /// The configuration name (the COSE curve name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::P256 => "P-256",
        }
    }

    /// The type of `key`, if it is a signature key.
    pub fn of(key: &PublicKey) -> Option<Self> {
        match key {
            PublicKey::Ed25519(_) => Some(Self::Ed25519),
            PublicKey::P256 { .. } => Some(Self::P256),
            PublicKey::X25519(_) => None,
        }
    }
}

/// A client of the AS.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client identifier.
    pub id: String,
    /// The ACE profiles the client supports (all by default); a request
    /// for an audience with another profile fails with
    /// `incompatible_ace_profiles` (RFC 9200 section 5.8.3).
    pub profiles: Vec<AceProfile>,
    /// The OSCORE context the client shares with the AS. A client without
    /// one cannot authenticate, so every request it makes is refused.
    pub oscore: Option<OscoreContextConfig>,
    /// The client's public key, for RPK-bound tokens.
    pub public_key: Option<ClientKey>,
}

/// A symmetric key the AS shares with one resource server.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedKey {
    /// The key.
    pub key: Zeroizing<Vec<u8>>,
    /// The key identifier sent in the COSE `kid` header, if any.
    pub kid: Option<Vec<u8>>,
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKey")
            .field("key", &"<redacted>")
            .field("kid", &self.kid.as_ref().map(hex::encode))
            .finish()
    }
}

/// How a CWT is protected (RFC 8392 section 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CwtProtection {
    /// COSE_Sign1 with the AS's signing key.
    Sign1,
    /// COSE_Mac0 with the key shared with the RS.
    Mac0 {
        /// The key (at least 32 bytes).
        key: SharedKey,
        /// HMAC 256/64 or HMAC 256/256.
        algorithm: MacAlgorithm,
    },
    /// COSE_Encrypt0 (AES-CCM-16-64-128) with the key shared with the RS.
    Encrypt0 {
        /// The 16-byte key.
        key: SharedKey,
    },
    /// A COSE_Sign1 with the AS's signing key, nested in a COSE_Encrypt0
    /// (AES-CCM-16-64-128) with the key shared with the RS (RFC 8392
    /// Appendix A.6).
    Sign1Encrypt0 {
        /// The 16-byte key.
        key: SharedKey,
    },
}

impl CwtProtection {
    /// Whether the claims are encrypted for the RS.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Self::Encrypt0 { .. } | Self::Sign1Encrypt0 { .. })
    }

    /// The configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sign1 => "sign1",
            Self::Mac0 { .. } => "mac0",
            Self::Encrypt0 { .. } => "encrypt0",
            Self::Sign1Encrypt0 { .. } => "sign1+encrypt0",
        }
    }

    /// The key shared with the RS, if the protection uses one.
    pub fn shared_key(&self) -> Option<&SharedKey> {
        match self {
            Self::Sign1 => None,
            Self::Mac0 { key, .. } | Self::Encrypt0 { key } | Self::Sign1Encrypt0 { key } => {
                Some(key)
            }
        }
    }
}

/// The format of the access tokens for an audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFormat {
    /// A CWT (RFC 8392).
    Cwt {
        /// The COSE protection.
        protection: CwtProtection,
        /// The CBOR tags on the outermost layer.
        tagging: Tagging,
    },
    /// A JWT (RFC 7519) signed with EdDSA (RFC 8037), with the claims in
    /// JSON form.
    Jwt,
}

impl TokenFormat {
    /// Whether the claims are encrypted for the RS.
    pub fn is_encrypted(&self) -> bool {
        match self {
            Self::Cwt { protection, .. } => protection.is_encrypted(),
            Self::Jwt => false,
        }
    }

    /// A short description, e.g. `cwt sign1+encrypt0`.
    pub fn describe(&self) -> String {
        match self {
            Self::Cwt { protection, .. } => format!("cwt {}", protection.name()),
            Self::Jwt => "jwt".into(),
        }
    }
}

/// A resource server, named by its audience (RFC 8693 `audience`): for
/// RFC 9594, a KDC.
#[derive(Debug, Clone)]
pub struct AudienceConfig {
    /// The audience name: the `aud` claim and the token request's
    /// `audience`.
    pub name: String,
    /// The ACE profile of the RS.
    pub profile: AceProfile,
    /// The token format and protection.
    pub format: TokenFormat,
    /// Token lifetime in seconds: `exp - iat`, `expires_in`, and `exi`.
    pub lifetime: u64,
    /// Whether the RS has a synchronized clock. Without one, tokens carry
    /// `exi` and a `cti` of [`AudienceConfig::rs_id`] followed by a
    /// sequence number (RFC 9200 section 5.10.3).
    pub clock: bool,
    /// The RS identifier that prefixes `cti` of `exi` tokens.
    pub rs_id: Vec<u8>,
    /// The scope semantics of the RS.
    pub scope_model: ScopeModel,
    /// Whether the token's `scope` claim is an extended scope: the scope
    /// wrapped in the CBOR tag of its Content-Format (RFC 9594 section 7).
    pub extended_scope: bool,
    /// The scope granted (still intersected with the policy) when a request
    /// has none (RFC 6749 section 3.3). Without it such requests fail with
    /// `invalid_scope`.
    pub default_scope: Option<ScopeValue>,
    /// The asymmetric PoP key types the RS accepts (RPK-bound tokens); a
    /// client key of another type fails with `unsupported_pop_key`.
    pub accepted_pop_keys: Vec<PopKeyType>,
    /// The RS's public key, sent to the client as `rs_cnf` (RFC 9201
    /// section 5, RFC 9202 section 3.2.1).
    pub rs_public_key: Option<CoseKey>,
    /// The OSCORE context the RS shares with the AS; only an RS with one
    /// may use `/introspect`.
    pub oscore: Option<OscoreContextConfig>,
}

/// The AS itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The issuer, put in `iss` when set.
    pub issuer: Option<String>,
    /// The address to listen on (the command line may override it).
    pub listen: Option<SocketAddr>,
    /// Receive and send buffer of the UDP socket, in bytes (`SO_RCVBUF`,
    /// `SO_SNDBUF`; the kernel caps it at `net.core.rmem_max` and
    /// `wmem_max`); `None` (`socket_buffer = 0`) keeps the system default.
    /// Default:
    /// [`SocketOptions::SERVER_BUFFER_SIZE`](ace_coap::SocketOptions::SERVER_BUFFER_SIZE),
    /// 4 MiB, which says why.
    pub socket_buffer: Option<usize>,
    /// The SQLite database of issued tokens.
    pub database: Option<PathBuf>,
    /// The audience used when a token request has none.
    pub default_audience: Option<String>,
    /// The AS's signing key (Ed25519 by default).
    pub signing_key: SigningKey,
    /// Its key identifier, sent in the COSE or JOSE `kid` header.
    pub signing_kid: Option<Vec<u8>>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct AsConfig {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[[client]]`.
    pub clients: Vec<ClientConfig>,
    /// `[[audience]]`.
    pub audiences: Vec<AudienceConfig>,
    /// `[[policy]]`.
    pub policy: Policy,
}

impl AsConfig {
    /// Reads and validates the file at `path`. Relative paths inside it
    /// (the signing key file, the database) are taken relative to the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        Self::from_toml_str(&text, base).map_err(|e| e.in_file(path.to_path_buf()))
    }

    /// Validates a configuration text; relative paths are taken relative to
    /// `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        validate::validate(text, base_dir)
    }

    /// The client with identifier `id`.
    pub fn client(&self, id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The audience named `name`.
    pub fn audience(&self, name: &str) -> Option<&AudienceConfig> {
        self.audiences.iter().find(|a| a.name == name)
    }
}
