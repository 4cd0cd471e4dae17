//! What the client reports: the outcome of a join, a view of a group's
//! keying material (also the export format for handing the material to
//! another Group OSCORE implementation, e.g. an aiocoap member), responses
//! to group requests, and the events of its background work.

use crate::membership::Membership;
use ace_coap::{Code, Options};
use ace_proto::cbor::IntOrText;
use ace_proto::roles::group_oscore as roles;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The outcome of [`crate::GroupClient::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOutcome {
    /// The group.
    pub group: String,
    /// NODENAME (the last segment of the Location-Path).
    pub node: String,
    /// Whether the KDC added a new member (2.01) rather than answering a
    /// current member (2.04).
    pub created: bool,
    /// The Sender ID assigned (none for a monitor).
    pub sender_id: Option<Vec<u8>>,
    /// The version of the keying material.
    pub num: u64,
    /// The Gid.
    pub gid: Vec<u8>,
    /// How many members' credentials came with the Join Response.
    pub peers: usize,
    /// Whether a new access token was obtained (hints, AS, token transfer)
    /// for this join, rather than an existing one reused.
    pub new_token: bool,
    /// Whether that new token updated the access rights of a token held
    /// (RFC 9203 section 4.1): posted over the existing OSCORE context with
    /// the KDC, which was kept.
    pub access_rights_updated: bool,
}

/// A member in a [`KeyingMaterialView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// Sender ID.
    #[serde(with = "crate::hexser")]
    pub sender_id: Vec<u8>,
    /// Credential, original bytes.
    #[serde(with = "crate::hexser")]
    pub credential: Vec<u8>,
    /// Roles (AIF bits), if known.
    pub roles: Option<u64>,
}

fn alg(v: &Option<IntOrText>) -> Option<i64> {
    match v {
        Some(IntOrText::Int(i)) => Some(*i),
        _ => None,
    }
}

/// The keying material of one group as the client holds it, with what a
/// Group OSCORE implementation needs to build the same Security Context
/// (RFC 10021 section 2): byte strings as hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyingMaterialView {
    /// The group name.
    pub group: String,
    /// NODENAME.
    pub node: String,
    /// The roles (AIF bits).
    pub roles: u64,
    /// Role names, e.g. `Requester+Responder`.
    pub role_names: String,
    /// The version (`num`).
    pub num: u64,
    /// The Gid (ID Context).
    #[serde(with = "crate::hexser")]
    pub gid: Vec<u8>,
    /// The Master Secret.
    #[serde(with = "crate::hexser")]
    pub master_secret: Vec<u8>,
    /// The Master Salt (empty if none).
    #[serde(with = "crate::hexser")]
    pub master_salt: Vec<u8>,
    /// The own Sender ID (none for a monitor).
    #[serde(with = "crate::hexser::opt")]
    pub sender_id: Option<Vec<u8>>,
    /// HKDF (COSE id; 5 = HKDF SHA-256).
    pub hkdf: i64,
    /// Group Encryption Algorithm (none: no group mode).
    pub gp_enc_alg: Option<i64>,
    /// Signature Algorithm.
    pub sign_alg: Option<i64>,
    /// AEAD Algorithm (none: no pairwise mode).
    pub alg: Option<i64>,
    /// Pairwise Key Agreement Algorithm.
    pub ecdh_alg: Option<i64>,
    /// Credential format (COSE header label; 14 = kccs).
    pub cred_fmt: i64,
    /// `exp`, if the KDC sent it.
    pub exp: Option<u64>,
    /// The local expiry (Unix seconds) after which the material is not used.
    pub expires_at: Option<u64>,
    /// The Key Update Check Interval (seconds).
    pub key_update_check_interval: i64,
    /// The Expiration Delta (seconds).
    pub expiration_delta: u64,
    /// The KDC's (Group Manager's) credential.
    #[serde(with = "crate::hexser")]
    pub kdc_cred: Vec<u8>,
    /// The client's own credential in the group.
    #[serde(with = "crate::hexser")]
    pub own_credential: Vec<u8>,
    /// The client's private key (32 bytes), only in an export that asked
    /// for it (to hand the membership to another implementation).
    #[serde(with = "crate::hexser::opt", default)]
    pub private_key: Option<Vec<u8>>,
    /// The next Sender Sequence Number of the own Sender Context: an
    /// implementation taking the membership over starts there (numbers are
    /// never reused with a key, RFC 8613 section 7.2.1), and the exporting
    /// client must not send with it any more.
    #[serde(default)]
    pub sender_sequence_number: Option<u64>,
    /// The members whose credentials the client knows.
    pub members: Vec<MemberView>,
}

impl KeyingMaterialView {
    /// The view of `m`.
    pub fn of(m: &Membership) -> Self {
        let k = m.key();
        Self {
            group: m.group.clone(),
            node: m.node.clone(),
            roles: m.roles,
            role_names: roles::names(m.roles),
            num: m.num,
            gid: m.gid().to_vec(),
            master_secret: k.oscore.ms.clone().unwrap_or_default(),
            master_salt: k.oscore.salt.clone().unwrap_or_default(),
            sender_id: m.sender_id.clone(),
            hkdf: alg(&k.oscore.hkdf).unwrap_or(5),
            gp_enc_alg: alg(&k.gp_enc_alg),
            sign_alg: alg(&k.sign_alg),
            alg: alg(&k.oscore.alg),
            ecdh_alg: alg(&k.ecdh_alg),
            cred_fmt: k.cred_fmt.unwrap_or(14),
            exp: m.exp,
            expires_at: m.expires_at,
            key_update_check_interval: m.policies.key_update_check_interval_or_default(),
            expiration_delta: m.policies.expiration_delta_or_default(),
            kdc_cred: m.kdc_cred.clone(),
            own_credential: m.own_credential.clone(),
            private_key: None,
            sender_sequence_number: None,
            members: m
                .peers()
                .map(|p| MemberView {
                    sender_id: p.sender_id.clone(),
                    credential: p.credential.clone(),
                    roles: p.roles,
                })
                .collect(),
        }
    }
}

impl KeyingMaterialView {
    /// A Group OSCORE state built from this view alone, as another
    /// implementation would build it from the export (RFC 10021 section
    /// 2): the algorithms, the Gid and keys, the Group Manager's and the
    /// members' credentials, and the own Sender Context from the private
    /// key (none without one: a monitor), starting at
    /// [`KeyingMaterialView::sender_sequence_number`].
    pub fn group_security(
        &self,
        structure: group_oscore::group::CountersignatureStructure,
    ) -> Result<group_oscore::group::GroupSecurity, crate::ClientError> {
        use crate::membership::{MembershipRecord, PeerRecord};
        use ace_proto::cbor::Codec;
        use ace_proto::groupcomm::{Capabilities, GroupOscoreInputMaterial, GroupPolicies};
        use ace_proto::oscore_input::OscoreInputMaterial;
        let int = |v: Option<i64>| v.map(IntOrText::Int);
        let key = GroupOscoreInputMaterial {
            oscore: OscoreInputMaterial {
                ms: Some(self.master_secret.clone()),
                hkdf: Some(IntOrText::Int(self.hkdf)),
                alg: int(self.alg),
                salt: Some(self.master_salt.clone()),
                context_id: Some(self.gid.clone()),
                ..OscoreInputMaterial::default()
            },
            group_sender_id: None,
            cred_fmt: Some(self.cred_fmt),
            gp_enc_alg: int(self.gp_enc_alg),
            sign_alg: int(self.sign_alg),
            sign_params: None::<Capabilities>,
            ecdh_alg: int(self.ecdh_alg),
            ecdh_params: None,
        };
        let pairwise_only = self.sign_alg.is_none();
        let record = MembershipRecord {
            group: self.group.clone(),
            node: self.node.clone(),
            roles: self.roles,
            session: Vec::new(),
            sender_id: self.sender_id.clone(),
            key: key.encode(),
            num: self.num,
            exp: self.exp,
            expires_at: self.expires_at,
            policies: GroupPolicies::default().encode(),
            kdc_cred: self.kdc_cred.clone(),
            clientchallenge: Vec::new(),
            own_credential: self.own_credential.clone(),
            pairwise_only,
            control_group_uri: None,
            peers: self
                .members
                .iter()
                .map(|m| PeerRecord {
                    sender_id: m.sender_id.clone(),
                    credential: m.credential.clone(),
                    roles: m.roles,
                })
                .collect(),
        };
        let membership = Membership::from_record(&record)?;
        let identity = match (&self.private_key, &self.sender_id) {
            (Some(private), _) => {
                let alg = match self.sign_alg {
                    Some(id) => ace_proto::keys::SignatureAlgorithm::from_cose_id(id)
                        .ok_or_else(|| crate::ClientError::Oscore(format!("sign_alg {id}")))?,
                    // Pairwise-only: the key type follows the credential
                    // (X25519 from an Ed25519 key, P-256 from an ES256 one).
                    None => {
                        match ace_proto::credential::Credential::parse_ccs(&self.own_credential)
                            .map(|c| *c.public_key())
                        {
                            Ok(ace_proto::credential::PublicKey::P256 { .. }) => {
                                ace_proto::keys::SignatureAlgorithm::Es256
                            }
                            _ => ace_proto::keys::SignatureAlgorithm::EdDsa,
                        }
                    }
                };
                let key = ace_proto::keys::SigningKey::from_bytes(alg, private)
                    .map_err(|e| crate::ClientError::Config(format!("private key: {e}")))?;
                Some(crate::config::Identity::from_key(key, ""))
            }
            (None, Some(_)) => {
                return Err(crate::ClientError::Config(
                    "a member with a Sender ID needs the private key (export with it)".into(),
                ));
            }
            (None, None) => None,
        };
        let security = match &identity {
            Some(identity) => membership.security(identity, structure)?,
            None => group_oscore::group::GroupSecurity::new(
                membership.params(structure)?,
                group_oscore::group::OwnIdentity::monitor(),
                membership.group_members(),
            )
            .map_err(|e| crate::ClientError::Oscore(e.to_string()))?
            .with_key_generation(self.num),
        };
        Ok(match self.sender_sequence_number {
            Some(next) => security.with_sequence(group_oscore::SenderSequence::resume(
                next,
                Box::new(group_oscore::Volatile),
                u64::MAX,
            )),
            None => security,
        })
    }
}

/// How a response to a group request was protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseProtection {
    /// Group mode (signed).
    Group,
    /// Pairwise mode.
    Pairwise,
}

/// One member's verified response to a group request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResponse {
    /// Where it came from.
    pub from: SocketAddr,
    /// The responder's Sender ID.
    pub kid: Vec<u8>,
    /// The (inner) response code.
    pub code: Code,
    /// The (inner) options.
    pub options: Options,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Where a rekeying came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RekeySource {
    /// An Observe notification of `/ace-group/GROUPNAME`.
    Notification,
    /// A POST to the client's `control_uri`.
    ControlUri,
    /// A GET of the keying material (polling, expiry, or on request).
    Fetched,
    /// A re-join after missed rekeyings.
    Rejoin,
}

/// Something the client's background work did or saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Joined a group.
    Joined {
        /// The group.
        group: String,
        /// The version.
        num: u64,
    },
    /// New keying material installed.
    Rekeyed {
        /// The group.
        group: String,
        /// The new version.
        num: u64,
        /// How it arrived.
        source: RekeySource,
    },
    /// Rekeying messages were missed: the stale Sender IDs were fetched (or
    /// the client re-joined) before installing.
    RekeyGap {
        /// The group.
        group: String,
        /// The version held.
        from: u64,
        /// The version announced.
        to: u64,
    },
    /// A new Sender ID was obtained.
    SenderIdRenewed {
        /// The group.
        group: String,
        /// The new Sender ID.
        sender_id: Vec<u8>,
    },
    /// The KDC ended this client's membership (DELETE to `control_uri`,
    /// or 4.04 with error id 5).
    Evicted {
        /// The group.
        group: String,
    },
    /// The KDC deleted the group (4.04 with error id 6).
    GroupDeleted {
        /// The group.
        group: String,
    },
    /// The client left the group.
    Left {
        /// The group.
        group: String,
    },
    /// The keying material expired and no newer one was available: the
    /// group cannot be used until new material arrives.
    MaterialExpired {
        /// The group.
        group: String,
    },
    /// The observation of `/ace-group/GROUPNAME` was registered again: it
    /// had ended, or the KDC had lost it (RFC 7641 section 3.3.1). The
    /// first registration after a join or a restore is not reported (see
    /// [`crate::GroupClient::is_observing`]).
    ObservationRenewed {
        /// The group.
        group: String,
    },
    /// A verified group request reached this member (Responder or Monitor).
    MessageReceived {
        /// The group.
        group: String,
        /// The sender's Sender ID.
        kid: Vec<u8>,
        /// The method, e.g. `GET`.
        method: String,
        /// The path.
        path: String,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A background operation failed.
    Error {
        /// The group, if the failure concerns one.
        group: Option<String>,
        /// What happened.
        message: String,
    },
}
