//! The client's state as one serializable value: identity, the contexts
//! with the Authorization Servers, the access tokens with their OSCORE
//! contexts with the KDC, the groups with their keying material, and the
//! sequence-number reservations. The CLI keeps it in a JSON state file so
//! that separate invocations compose (join in one, send in the next).
//!
//! Secrets are in it (private key, Master Secrets): the CLI writes it with
//! mode 0600.

use crate::config::{AsContext, ClientConfig, Identity};
use crate::error::ClientError;
use crate::flow::KdcSession;
use crate::membership::MembershipRecord;
use ace_proto::authz_info::{KdcDhCredsEntry, SignInfoEntry};
use ace_proto::cbor::{self, Codec, Value};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::scope::GroupScope;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The version of the state format.
pub const STATE_VERSION: u32 = 1;

/// The client's identity in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// `EdDSA` or `ES256`.
    pub alg: String,
    /// The private key (Ed25519 seed or P-256 scalar).
    #[serde(with = "crate::hexser")]
    pub private_key: Vec<u8>,
    /// The credential.
    #[serde(with = "crate::hexser")]
    pub credential: Vec<u8>,
}

impl IdentityRecord {
    /// The record of `identity`.
    pub fn of(identity: &Identity) -> Self {
        Self {
            alg: alg_name(identity.algorithm()).to_string(),
            private_key: identity.key().to_bytes().to_vec(),
            credential: identity.credential().to_vec(),
        }
    }

    /// The identity.
    pub fn identity(&self) -> Result<Identity, ClientError> {
        let alg = parse_alg(&self.alg)?;
        let key = SigningKey::from_bytes(alg, &self.private_key)
            .map_err(|e| ClientError::State(format!("private key: {e}")))?;
        Identity::with_credential(key, self.credential.clone())
    }
}

/// `EdDSA` or `ES256`.
pub fn alg_name(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::EdDsa => "EdDSA",
        SignatureAlgorithm::Es256 => "ES256",
    }
}

/// Parses `EdDSA`/`Ed25519` or `ES256`/`P-256`.
pub fn parse_alg(name: &str) -> Result<SignatureAlgorithm, ClientError> {
    match name {
        "EdDSA" | "Ed25519" | "eddsa" | "ed25519" => Ok(SignatureAlgorithm::EdDsa),
        "ES256" | "P-256" | "es256" | "p256" => Ok(SignatureAlgorithm::Es256),
        other => Err(ClientError::Config(format!(
            "unknown signature algorithm {other:?} (EdDSA or ES256)"
        ))),
    }
}

/// An AS context in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsRecord {
    /// The token endpoint URI.
    pub uri: String,
    /// The client's Sender ID.
    #[serde(with = "crate::hexser")]
    pub sender_id: Vec<u8>,
    /// The client's Recipient ID.
    #[serde(with = "crate::hexser")]
    pub recipient_id: Vec<u8>,
    /// Master Secret.
    #[serde(with = "crate::hexser")]
    pub master_secret: Vec<u8>,
    /// Master Salt.
    #[serde(with = "crate::hexser", default)]
    pub master_salt: Vec<u8>,
    /// ID Context.
    #[serde(with = "crate::hexser::opt", default)]
    pub id_context: Option<Vec<u8>>,
}

impl AsRecord {
    /// The record of `c`.
    pub fn of(c: &AsContext) -> Self {
        Self {
            uri: c.uri.clone(),
            sender_id: c.sender_id.clone(),
            recipient_id: c.recipient_id.clone(),
            master_secret: c.master_secret.to_vec(),
            master_salt: c.master_salt.clone(),
            id_context: c.id_context.clone(),
        }
    }

    /// The context.
    pub fn context(&self) -> AsContext {
        AsContext {
            uri: self.uri.clone(),
            sender_id: self.sender_id.clone(),
            recipient_id: self.recipient_id.clone(),
            master_secret: self.master_secret.clone().into(),
            master_salt: self.master_salt.clone(),
            id_context: self.id_context.clone(),
        }
    }
}

/// A token and its OSCORE context with the KDC, in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The token.
    #[serde(with = "crate::hexser")]
    pub token: Vec<u8>,
    /// OSCORE_Input_Material, CBOR.
    #[serde(with = "crate::hexser")]
    pub material: Vec<u8>,
    /// Granted scope, CBOR.
    #[serde(with = "crate::hexser")]
    pub granted: Vec<u8>,
    /// Token expiry.
    pub expires_at: u64,
    /// `nonce1`.
    #[serde(with = "crate::hexser")]
    pub nonce1: Vec<u8>,
    /// `nonce2`.
    #[serde(with = "crate::hexser")]
    pub nonce2: Vec<u8>,
    /// ID1.
    #[serde(with = "crate::hexser")]
    pub id1: Vec<u8>,
    /// ID2.
    #[serde(with = "crate::hexser")]
    pub id2: Vec<u8>,
    /// N_S.
    #[serde(with = "crate::hexser::opt")]
    pub kdcchallenge: Option<Vec<u8>>,
    /// `sign_info` entries, CBOR array (empty: none).
    #[serde(with = "crate::hexser")]
    pub sign_info: Vec<u8>,
    /// `kdc_dh_creds` entries, CBOR array (empty: none).
    #[serde(with = "crate::hexser")]
    pub kdc_dh_creds: Vec<u8>,
    /// The replay window of the OSCORE context with the KDC (requests the
    /// KDC sends to the `control_uri`), present only in a state taken after
    /// the client stopped (see [`ClientState`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<WindowRecord>,
}

impl SessionRecord {
    /// The record of `s`.
    pub fn of(s: &KdcSession) -> Self {
        Self {
            token: s.token.clone(),
            material: s.material.encode(),
            granted: s.granted.encode(),
            expires_at: s.expires_at,
            nonce1: s.nonce1.clone(),
            nonce2: s.nonce2.clone(),
            id1: s.id1.clone(),
            id2: s.id2.clone(),
            kdcchallenge: s.kdcchallenge.clone(),
            sign_info: if s.sign_info.is_empty() {
                Vec::new()
            } else {
                cbor::to_vec(&SignInfoEntry::list_to_value(&s.sign_info))
            },
            kdc_dh_creds: if s.kdc_dh_creds.is_empty() {
                Vec::new()
            } else {
                cbor::to_vec(&KdcDhCredsEntry::list_to_value(&s.kdc_dh_creds))
            },
            replay: None,
        }
    }

    /// The session.
    pub fn session(&self) -> Result<KdcSession, ClientError> {
        let bad = |what: &str, e: ace_proto::DecodeError| {
            ClientError::State(format!("session {}: {what}: {e}", hex::encode(&self.id1)))
        };
        let list = |bytes: &[u8]| -> Result<Option<Value>, ace_proto::DecodeError> {
            if bytes.is_empty() {
                Ok(None)
            } else {
                cbor::from_slice(bytes).map(Some)
            }
        };
        Ok(KdcSession {
            token: self.token.clone(),
            material: OscoreInputMaterial::decode(&self.material)
                .map_err(|e| bad("material", e))?,
            granted: GroupScope::decode(&self.granted).map_err(|e| bad("scope", e))?,
            expires_at: self.expires_at,
            nonce1: self.nonce1.clone(),
            nonce2: self.nonce2.clone(),
            id1: self.id1.clone(),
            id2: self.id2.clone(),
            kdcchallenge: self.kdcchallenge.clone(),
            sign_info: list(&self.sign_info)
                .and_then(|v| {
                    v.map(|v| SignInfoEntry::list_from_value(v, "sign_info"))
                        .transpose()
                })
                .map_err(|e| bad("sign_info", e))?
                .unwrap_or_default(),
            kdc_dh_creds: list(&self.kdc_dh_creds)
                .and_then(|v| {
                    v.map(|v| KdcDhCredsEntry::list_from_value(v, "kdc_dh_creds"))
                        .transpose()
                })
                .map_err(|e| bad("kdc_dh_creds", e))?
                .unwrap_or_default(),
        })
    }
}

/// A group in the state: the membership and where group requests go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The membership.
    pub membership: MembershipRecord,
    /// The multicast address of group requests.
    pub multicast: Option<SocketAddr>,
    /// The members' addresses for group requests without multicast.
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
    /// The replay windows of the Group OSCORE context, present only in a
    /// state taken after the client stopped (see [`ClientState`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<GroupReplayRecord>,
}

/// A replay window in the state ([`group_oscore::WindowState`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// The window size.
    pub size: u32,
    /// Sequence numbers below this are refused.
    pub lower: u64,
    /// The highest sequence number accepted.
    pub highest: Option<u64>,
    /// The bitmap of the numbers received below `highest`.
    pub seen: Vec<u64>,
}

impl WindowRecord {
    /// The record of `w`.
    pub fn of(w: &group_oscore::WindowState) -> Self {
        Self {
            size: w.size,
            lower: w.lower,
            highest: w.highest,
            seen: w.seen.clone(),
        }
    }

    /// The window state (checked when it is restored).
    pub fn state(&self) -> group_oscore::WindowState {
        group_oscore::WindowState {
            size: self.size,
            lower: self.lower,
            highest: self.highest,
            seen: self.seen.clone(),
        }
    }
}

/// One member's replay window in a [`GroupReplayRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientWindowRecord {
    /// The member's Sender ID.
    #[serde(with = "crate::hexser")]
    pub sender_id: Vec<u8>,
    /// Its window; none when it was invalid (the member goes through Echo).
    pub window: Option<WindowRecord>,
}

/// The replay state of a Group OSCORE context
/// ([`group_oscore::group::ReplayState`], RFC 10021 section 2.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReplayRecord {
    /// The Gid the windows belong to.
    #[serde(with = "crate::hexser")]
    pub gid: Vec<u8>,
    /// Whether a Recipient Context was ever deleted from that context.
    pub recipients_deleted: bool,
    /// The windows by Sender ID.
    pub windows: Vec<RecipientWindowRecord>,
}

impl GroupReplayRecord {
    /// The record of `state`.
    pub fn of(state: &group_oscore::group::ReplayState) -> Self {
        Self {
            gid: state.gid.clone(),
            recipients_deleted: state.recipients_deleted,
            windows: state
                .windows
                .iter()
                .map(|(kid, w)| RecipientWindowRecord {
                    sender_id: kid.clone(),
                    window: w.as_ref().map(WindowRecord::of),
                })
                .collect(),
        }
    }

    /// The replay state (checked when it is restored).
    pub fn state(&self) -> group_oscore::group::ReplayState {
        group_oscore::group::ReplayState {
            gid: self.gid.clone(),
            recipients_deleted: self.recipients_deleted,
            windows: self
                .windows
                .iter()
                .map(|r| {
                    (
                        r.sender_id.clone(),
                        r.window.as_ref().map(WindowRecord::state),
                    )
                })
                .collect(),
        }
    }
}

/// The whole client state (see the module docs).
///
/// # Replay windows
///
/// A state taken with [`crate::GroupClient::state`] after
/// [`crate::GroupClient::shutdown`] also holds the replay windows of the
/// client's contexts (each group's Group OSCORE context and each OSCORE
/// context with the KDC), so that a client restored from it accepts fresh
/// requests at once and still refuses replays (RFC 8613 Appendix B.1.2;
/// RFC 10021 section 2.6.1). Without them, every window of a restored
/// context is invalid: members' requests go through an Echo challenge
/// first, which a Monitor cannot send (RFC 10021 section 9), so a restored
/// Monitor would hear nothing until the next rekeying.
///
/// Saved windows are only as good as their freshness: a state restored
/// twice, or one older than the last request accepted, would let the
/// requests received in between be replayed. A state taken while the
/// client runs therefore holds no windows, and whoever keeps the state
/// must make sure the windows are used once: the `ace-client` command
/// writes the state file back without them as soon as it has restored a
/// client from it, and with them when the client has stopped, so that a
/// crash leaves no stale windows behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The client's name.
    pub name: String,
    /// Its identity.
    pub identity: IdentityRecord,
    /// The KDC's address.
    pub kdc: SocketAddr,
    /// The configured KDC audience, if any.
    pub kdc_audience: Option<String>,
    /// The AS contexts.
    pub authorization_servers: Vec<AsRecord>,
    /// The tokens and their KDC contexts.
    pub sessions: Vec<SessionRecord>,
    /// The groups.
    pub groups: Vec<GroupRecord>,
    /// The reserved sequence-number marks, by context key.
    pub sequence_marks: BTreeMap<String, u64>,
}

impl ClientState {
    /// A state holding only the configuration's identity, AS contexts and
    /// KDC.
    pub fn from_config(config: &ClientConfig) -> Self {
        Self {
            version: STATE_VERSION,
            name: config.name.clone(),
            identity: IdentityRecord::of(&config.identity),
            kdc: config.kdc,
            kdc_audience: config.kdc_audience.clone(),
            authorization_servers: config
                .authorization_servers
                .iter()
                .map(AsRecord::of)
                .collect(),
            sessions: Vec::new(),
            groups: Vec::new(),
            sequence_marks: BTreeMap::new(),
        }
    }

    /// A configuration with this state's identity, AS contexts and KDC, and
    /// the defaults of [`ClientConfig::new`] otherwise.
    pub fn config(&self) -> Result<ClientConfig, ClientError> {
        let mut servers = self.authorization_servers.iter().map(AsRecord::context);
        let first = servers
            .next()
            .ok_or_else(|| ClientError::State("no AS context".into()))?;
        let mut config = ClientConfig::new(&self.name, self.identity.identity()?, first, self.kdc);
        config.authorization_servers.extend(servers);
        config.kdc_audience = self.kdc_audience.clone();
        Ok(config)
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads the JSON text.
    pub fn from_json(text: &str) -> Result<Self, ClientError> {
        let state: Self =
            serde_json::from_str(text).map_err(|e| ClientError::State(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(ClientError::State(format!(
                "state version {}, this client reads {STATE_VERSION}",
                state.version
            )));
        }
        Ok(state)
    }
}
