//! The member side of one group, without I/O: the keying material from the
//! Join Response, its version and expiry, the members' credentials, and
//! the rules for installing new material (RFC 9594 sections 4.3.1, 4.8.1.1
//! and 6; Group OSCORE profile sections 6.4 and 11; RFC 10021 section 12.2).
//!
//! * The `key` of the Join Response is kept whole: rekeying messages carry
//!   only `ms`, `contextId` and `salt`, the algorithms stay those of the
//!   join. Absent parameters take the profile's defaults (section 6.4):
//!   HKDF SHA-256, empty Master Salt, Point-to-Point rekeying; an absent
//!   algorithm leaves its mode unset.
//! * New material with version `V + 1` is installed ([`RekeyOutcome::Install`]):
//!   the stale Sender IDs' credentials and Recipient Contexts go first. A
//!   version further ahead means missed rekeyings ([`RekeyOutcome::Gap`]):
//!   the caller fetches the stale Sender IDs of the versions in between
//!   (`/stale-sids`), or re-joins. A version not newer is ignored.
//! * Expiry: the local expiry is `exp` when the clock is synchronized with
//!   UTC, else the receipt time plus `exi`; material past it MUST NOT be
//!   used.

use crate::config::Identity;
use crate::error::ClientError;
use crate::flow::{Joined, dh_credential};
use ace_proto::cbor::{Codec, IntOrText};
use ace_proto::consts::groupcomm::{profile, rekeying_scheme};
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::groupcomm::{
    GroupKey, GroupKeyingMaterial, GroupOscoreInputMaterial, GroupPolicies, PeerCredentials,
    RekeyingMessage,
};
use ace_proto::keys::SignatureAlgorithm;
use ace_proto::pop::{DhPrivateKey, DhPublicKey};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::MONITOR;
use group_oscore::algorithm::{Hkdf, aead_by_id};
use group_oscore::group::{
    self, CountersignatureStructure, GroupParams, GroupSecurity, KeyAgreement, OwnIdentity,
    Rekeying,
};
use std::collections::BTreeMap;

/// Another member, as the KDC described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its Sender ID (node identifier).
    pub sender_id: Vec<u8>,
    /// Its credential, original bytes.
    pub credential: Vec<u8>,
    /// Its roles (AIF bits), if the KDC said.
    pub roles: Option<u64>,
}

/// What to do with new keying material.
#[derive(Debug)]
pub enum RekeyOutcome {
    /// Version `V + 1`: installed in this membership; apply the plan to the
    /// Group OSCORE state.
    Install(Box<RekeyPlan>),
    /// Missed rekeyings: the material is version `to`, this member has
    /// `from < to - 1`. Fetch the stale Sender IDs since `from`, then call
    /// [`Membership::install_after_gap`], or re-join.
    Gap {
        /// The member's version.
        from: u64,
        /// The announced version.
        to: u64,
    },
    /// Not newer than the current version: ignored (profile section 11).
    Ignored {
        /// The member's version.
        current: u64,
        /// The received version.
        received: u64,
    },
}

/// The change to make to a Group OSCORE state after new material was
/// accepted.
pub struct RekeyPlan {
    /// The new version.
    pub num: u64,
    /// New keying material for [`GroupSecurity::rekey`].
    pub rekeying: Rekeying,
    /// Members to add (credentials that came with the material).
    pub new_members: Vec<group::Member>,
}

impl std::fmt::Debug for RekeyPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekeyPlan")
            .field("num", &self.num)
            .field("gid", &hex::encode(&self.rekeying.gid))
            .field("stale", &self.rekeying.stale_sender_ids.len())
            .field("new_members", &self.new_members.len())
            .finish()
    }
}

/// The member side of one group.
#[derive(Debug, Clone)]
pub struct Membership {
    /// The group name.
    pub group: String,
    /// NODENAME.
    pub node: String,
    /// The roles joined with (AIF bits).
    pub roles: u64,
    /// The client's Recipient ID at the KDC (ID1): which session it joined
    /// under.
    pub session: Vec<u8>,
    /// The own Sender ID (none for a monitor).
    pub sender_id: Option<Vec<u8>>,
    /// The full `key`: the join's algorithms with the current `ms`,
    /// `contextId` and `salt`.
    key: GroupOscoreInputMaterial,
    /// The version.
    pub num: u64,
    /// `exp` of the current material, if sent.
    pub exp: Option<u64>,
    /// The local expiry of the current material (Unix seconds).
    pub expires_at: Option<u64>,
    /// The group policies (profile defaults when absent).
    pub policies: GroupPolicies,
    /// The KDC's credential, verified (its bytes are Group OSCORE's GM
    /// credential).
    pub kdc_cred: Vec<u8>,
    /// N_C of the latest Join Request, which the KDC keeps as
    /// `clientchallenge` for `/kdc-cred` (RFC 9594 section 4.5.1).
    pub clientchallenge: Vec<u8>,
    /// The credential the client joined with.
    pub own_credential: Vec<u8>,
    /// Whether the group is pairwise-only.
    pub pairwise_only: bool,
    /// `control_group_uri`, if the KDC sent one.
    pub control_group_uri: Option<String>,
    peers: BTreeMap<Vec<u8>, Peer>,
}

fn int_of(value: &Option<IntOrText>, what: &str) -> Result<Option<i64>, ClientError> {
    match value {
        None => Ok(None),
        Some(IntOrText::Int(i)) => Ok(Some(*i)),
        Some(IntOrText::Text(t)) => Err(ClientError::Oscore(format!(
            "{what} {t:?}: algorithm names are not supported, only COSE identifiers"
        ))),
    }
}

fn local_expiry(material: &GroupKeyingMaterial, now: u64, utc: bool) -> Option<u64> {
    material.expiry(now, utc)
}

fn group_key(material: &GroupKeyingMaterial) -> Result<&GroupOscoreInputMaterial, ClientError> {
    match &material.key {
        GroupKey::GroupOscore(k) => Ok(k),
        GroupKey::Other { gkty, .. } => Err(ClientError::malformed(
            "keying material",
            format!("gkty {gkty:?} is not Group_OSCORE_Input_Material (1), the profile in use"),
        )),
    }
}

fn check_profile(material: &GroupKeyingMaterial) -> Result<(), ClientError> {
    match material.ace_groupcomm_profile {
        None | Some(profile::COAP_GROUP_OSCORE_APP) => Ok(()),
        Some(other) => Err(ClientError::malformed(
            "keying material",
            format!("ace_groupcomm_profile {other}, expected coap_group_oscore_app (1)"),
        )),
    }
}

fn num_of(material: &GroupKeyingMaterial) -> Result<u64, ClientError> {
    u64::try_from(material.num)
        .map_err(|_| ClientError::malformed("keying material", "negative num"))
}

fn peers_from(creds: &PeerCredentials) -> Vec<Peer> {
    creds
        .creds
        .iter()
        .zip(&creds.peer_identifiers)
        .enumerate()
        .map(|(i, (cred, sid))| Peer {
            sender_id: sid.clone(),
            credential: cred.clone(),
            roles: creds
                .peer_roles
                .as_ref()
                .and_then(|r| r.get(i))
                .and_then(|r| match r {
                    Roles::Aif(bits) => Some(*bits),
                    _ => None,
                }),
        })
        .collect()
}

impl Membership {
    /// The membership a verified join established, at time `now`; `utc`
    /// says whether the clock is synchronized with UTC. `session` is the
    /// client's Recipient ID at the KDC.
    pub fn from_joined(
        joined: &Joined,
        session: &[u8],
        now: u64,
        utc: bool,
    ) -> Result<Self, ClientError> {
        let response = &joined.response;
        check_profile(&response.material)?;
        let key = group_key(&response.material)?.clone();
        if let Some(scheme) = response.rekeying_scheme
            && scheme != rekeying_scheme::POINT_TO_POINT
        {
            return Err(ClientError::malformed(
                "Join Response",
                format!("rekeying scheme {scheme}: only Point-to-Point (0) is implemented"),
            ));
        }
        let monitor = joined.roles & MONITOR != 0;
        let sender_id = key.group_sender_id.clone();
        match (&sender_id, monitor) {
            (None, false) => {
                return Err(ClientError::malformed(
                    "Join Response",
                    "no group_SenderId for a non-monitor member",
                ));
            }
            (Some(_), true) => {
                return Err(ClientError::malformed(
                    "Join Response",
                    "a group_SenderId for a monitor-only member",
                ));
            }
            _ => {}
        }
        let kdc = response.kdc.as_ref().ok_or(ClientError::KdcProofFailed(
            "the Join Response has no kdc_cred".into(),
        ))?;
        let mut membership = Self {
            group: joined.group.clone(),
            node: joined.node.clone(),
            roles: joined.roles,
            session: session.to_vec(),
            sender_id,
            key: GroupOscoreInputMaterial {
                group_sender_id: None,
                ..key
            },
            num: num_of(&response.material)?,
            exp: response.material.exp,
            expires_at: local_expiry(&response.material, now, utc),
            policies: response.group_policies.clone().unwrap_or_default(),
            kdc_cred: kdc.kdc_cred.clone(),
            clientchallenge: joined.cnonce.clone(),
            own_credential: joined.own_credential.clone(),
            pairwise_only: joined.pairwise_only,
            control_group_uri: response.control_group_uri.clone(),
            peers: BTreeMap::new(),
        };
        if let Some(peers) = &response.peers {
            membership.set_peers(peers);
        }
        membership.params(CountersignatureStructure::Rfc9338)?;
        Ok(membership)
    }

    /// The Gid (the current OSCORE ID Context).
    pub fn gid(&self) -> &[u8] {
        self.key.gid().unwrap_or_default()
    }

    /// The full Group_OSCORE_Input_Material of the current version.
    pub fn key(&self) -> &GroupOscoreInputMaterial {
        &self.key
    }

    /// Whether the material must no longer be used at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// The Key Update Check Interval in seconds (policy 1; profile default
    /// 3600).
    pub fn key_update_check_interval(&self) -> u64 {
        u64::try_from(self.policies.key_update_check_interval_or_default())
            .unwrap_or(3600)
            .max(1)
    }

    /// The known members, by Sender ID.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    /// The member with Sender ID `sid`.
    pub fn peer(&self, sid: &[u8]) -> Option<&Peer> {
        self.peers.get(sid)
    }

    /// Replaces the known members with those of `creds` (a Join Response
    /// with `get_creds`, or GET `/creds`).
    pub fn set_peers(&mut self, creds: &PeerCredentials) {
        self.peers.clear();
        self.add_peers(creds);
    }

    /// Adds (or updates) the members in `creds`, except this client.
    pub fn add_peers(&mut self, creds: &PeerCredentials) -> Vec<Peer> {
        let mut added = Vec::new();
        for peer in peers_from(creds) {
            if Some(&peer.sender_id) == self.sender_id.as_ref() {
                continue;
            }
            added.push(peer.clone());
            self.peers.insert(peer.sender_id.clone(), peer);
        }
        added
    }

    /// Forgets the members with these Sender IDs.
    pub fn remove_peers(&mut self, sids: &[Vec<u8>]) {
        for sid in sids {
            self.peers.remove(sid);
        }
    }

    /// Records a new own Sender ID (Key Renewal Response, RFC 9594 section
    /// 4.8.2.1).
    pub fn set_sender_id(&mut self, sid: Vec<u8>) {
        self.sender_id = Some(sid);
    }

    /// Records a new, verified KDC credential (RFC 9594 section 4.5.1).
    pub fn set_kdc_cred(&mut self, cred: Vec<u8>) {
        self.kdc_cred = cred;
    }

    /// The Group OSCORE Common Context parameters of the current material
    /// (RFC 10021 section 2.1) with the profile's defaults for absent
    /// parameters (profile section 6.4).
    pub fn params(&self, structure: CountersignatureStructure) -> Result<GroupParams, ClientError> {
        let k = &self.key;
        let ms = k
            .oscore
            .ms
            .clone()
            .ok_or_else(|| ClientError::malformed("keying material", "no ms"))?;
        let gid = k
            .gid()
            .ok_or_else(|| ClientError::malformed("keying material", "no contextId"))?;
        let hkdf = match int_of(&k.oscore.hkdf, "hkdf")? {
            None => Hkdf::Sha256,
            Some(id) => Hkdf::from_cose_id(id)
                .ok_or_else(|| ClientError::Oscore(format!("unsupported HKDF {id}")))?,
        };
        let aead = |v: &Option<IntOrText>, what: &str| -> Result<_, ClientError> {
            match int_of(v, what)? {
                None => Ok(None),
                Some(id) => aead_by_id(id)
                    .map(Some)
                    .ok_or_else(|| ClientError::Oscore(format!("unsupported {what} {id}"))),
            }
        };
        let signature = match int_of(&k.sign_alg, "sign_alg")? {
            None => None,
            Some(id) => Some(
                SignatureAlgorithm::from_cose_id(id)
                    .ok_or_else(|| ClientError::Oscore(format!("unsupported sign_alg {id}")))?,
            ),
        };
        let key_agreement = match int_of(&k.ecdh_alg, "ecdh_alg")? {
            None => None,
            Some(id) => Some(
                KeyAgreement::from_cose_id(id)
                    .ok_or_else(|| ClientError::Oscore(format!("unsupported ecdh_alg {id}")))?,
            ),
        };
        let mut params = GroupParams::new(
            gid,
            &ms,
            signature.unwrap_or(SignatureAlgorithm::EdDsa),
            &self.kdc_cred,
        )
        .master_salt(k.oscore.salt.as_deref().unwrap_or_default())
        .countersignature(structure);
        params.hkdf = hkdf;
        params.group_encryption = aead(&k.gp_enc_alg, "gp_enc_alg")?;
        params.signature = signature;
        params.aead = aead(&k.oscore.alg, "alg")?;
        params.key_agreement = key_agreement;
        if let Some(fmt) = k.cred_fmt {
            params.cred_fmt = fmt;
        }
        if !params.has_group_mode() && !params.has_pairwise_mode() {
            return Err(ClientError::Oscore(
                "the keying material sets neither group mode nor pairwise mode".into(),
            ));
        }
        Ok(params)
    }

    /// The own identity in the group: a monitor has none; a pairwise-only
    /// group uses the Diffie-Hellman form of the key.
    pub fn own_identity(&self, identity: &Identity) -> Result<OwnIdentity, ClientError> {
        let own = match (&self.sender_id, self.pairwise_only) {
            (None, _) => return Ok(OwnIdentity::monitor()),
            (Some(sid), false) => {
                OwnIdentity::new(sid, identity.key().clone(), &self.own_credential)
            }
            (Some(sid), true) => {
                let (dh, cred) = dh_credential(identity, "")?;
                OwnIdentity::pairwise_only(sid, dh, &cred)
            }
        };
        Ok(own.with_roles(self.roles))
    }

    /// A peer as a Group OSCORE member: its credential with the key parsed
    /// (a signature key, or a DH key in pairwise-only groups).
    pub fn group_member(&self, peer: &Peer) -> Result<group::Member, ClientError> {
        let parsed = Credential::parse_ccs(&peer.credential)
            .map_err(|e| ClientError::decode("member credential", e))?;
        let credential = if self.pairwise_only {
            let dh = match *parsed.public_key() {
                PublicKey::X25519(x) => DhPublicKey::x25519(&x),
                PublicKey::P256 { x, y } => DhPublicKey::p256(&x, &y),
                PublicKey::Ed25519(_) => {
                    let vk = parsed
                        .verifying_key()
                        .map_err(|e| ClientError::decode("member credential", e))?;
                    DhPublicKey::from_verifying_key(&vk)
                }
            }
            .map_err(|e| ClientError::malformed("member credential", e))?;
            group::Credential::pairwise_only(&peer.credential, dh)
        } else {
            let vk = parsed
                .verifying_key()
                .map_err(|e| ClientError::decode("member credential", e))?;
            group::Credential::new(&peer.credential, vk)
                .map_err(|e| ClientError::Oscore(e.to_string()))?
        };
        let member = group::Member::new(&peer.sender_id, credential);
        Ok(match peer.roles {
            Some(r) => member.with_roles(r),
            None => member,
        })
    }

    /// The known members as Group OSCORE members (credentials that do not
    /// parse are skipped with a warning).
    pub fn group_members(&self) -> Vec<group::Member> {
        self.peers
            .values()
            .filter_map(|p| match self.group_member(p) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(group = self.group, sid = hex::encode(&p.sender_id), error = %e, "member credential skipped");
                    None
                }
            })
            .collect()
    }

    /// A Group OSCORE state for the current material, with the known
    /// members (RFC 10021 section 2.3).
    pub fn security(
        &self,
        identity: &Identity,
        structure: CountersignatureStructure,
    ) -> Result<GroupSecurity, ClientError> {
        let security = GroupSecurity::new(
            self.params(structure)?,
            self.own_identity(identity)?,
            self.group_members(),
        )
        .map_err(|e| ClientError::Oscore(e.to_string()))?;
        Ok(security.with_key_generation(self.num))
    }

    /// The Diffie-Hellman private key of a pairwise-only membership.
    pub fn dh_key(&self, identity: &Identity) -> DhPrivateKey {
        DhPrivateKey::from_signing_key(identity.key())
    }

    /// Considers a rekeying message received at `now` (RFC 9594 section 6;
    /// profile section 11).
    pub fn apply_rekey(
        &mut self,
        message: &RekeyingMessage,
        now: u64,
        utc: bool,
    ) -> Result<RekeyOutcome, ClientError> {
        let received = num_of(&message.material)?;
        if received <= self.num {
            return Ok(RekeyOutcome::Ignored {
                current: self.num,
                received,
            });
        }
        if received > self.num + 1 {
            return Ok(RekeyOutcome::Gap {
                from: self.num,
                to: received,
            });
        }
        let stale = message.stale_node_ids.clone().unwrap_or_default();
        self.install(&message.material, &stale, message.peers.as_ref(), now, utc)
            .map(|plan| RekeyOutcome::Install(Box::new(plan)))
    }

    /// Installs `material` of a version ahead by more than one, once the
    /// stale Sender IDs of every version in between are known (profile
    /// section 11: from `/stale-sids`).
    pub fn install_after_gap(
        &mut self,
        material: &GroupKeyingMaterial,
        stale: &[Vec<u8>],
        peers: Option<&PeerCredentials>,
        now: u64,
        utc: bool,
    ) -> Result<RekeyPlan, ClientError> {
        let received = num_of(material)?;
        if received <= self.num {
            return Err(ClientError::malformed(
                "keying material",
                format!("version {received} is not newer than {}", self.num),
            ));
        }
        self.install(material, stale, peers, now, utc)
    }

    fn install(
        &mut self,
        material: &GroupKeyingMaterial,
        stale: &[Vec<u8>],
        peers: Option<&PeerCredentials>,
        now: u64,
        utc: bool,
    ) -> Result<RekeyPlan, ClientError> {
        check_profile(material)?;
        let incoming = group_key(material)?;
        let ms = incoming
            .oscore
            .ms
            .clone()
            .ok_or_else(|| ClientError::malformed("keying material", "no ms"))?;
        let gid = incoming
            .gid()
            .ok_or_else(|| ClientError::malformed("keying material", "no contextId"))?
            .to_vec();
        let num = num_of(material)?;
        let mut next = self.clone();
        next.key.oscore.ms = Some(ms.clone());
        next.key.oscore.context_id = Some(gid.clone());
        next.key.oscore.salt = incoming.oscore.salt.clone();
        // A full key (GET responses) may restate the algorithms: they must
        // be the group's.
        for (theirs, ours, what) in [
            (&incoming.gp_enc_alg, &self.key.gp_enc_alg, "gp_enc_alg"),
            (&incoming.sign_alg, &self.key.sign_alg, "sign_alg"),
            (&incoming.oscore.alg, &self.key.oscore.alg, "alg"),
            (&incoming.ecdh_alg, &self.key.ecdh_alg, "ecdh_alg"),
        ] {
            if theirs.is_some() && theirs != ours {
                return Err(ClientError::malformed(
                    "keying material",
                    format!("{what} changed from {ours:?} to {theirs:?}"),
                ));
            }
        }
        next.num = num;
        next.exp = material.exp;
        next.expires_at = local_expiry(material, now, utc);
        next.remove_peers(stale);
        let added = peers.map(|p| next.add_peers(p)).unwrap_or_default();
        let own_stale = self
            .sender_id
            .as_ref()
            .is_some_and(|sid| stale.contains(sid));
        if own_stale {
            // The KDC retired our Sender ID (e.g. after a renewal whose
            // answer was lost): we may not send until we have a new one.
            tracing::warn!(group = self.group, "own Sender ID listed as stale");
        }
        let new_members = added
            .iter()
            .filter_map(|p| next.group_member(p).ok())
            .collect();
        let mut rekeying = Rekeying::new(&gid, &ms);
        rekeying.master_salt = incoming.oscore.salt.clone().unwrap_or_default();
        rekeying.key_generation = Some(num);
        rekeying.stale_sender_ids = stale.to_vec();
        rekeying.grace = self.policies.expiration_delta_or_default();
        *self = next;
        Ok(RekeyPlan {
            num,
            rekeying,
            new_members,
        })
    }

    /// The serializable form.
    pub fn to_record(&self) -> MembershipRecord {
        MembershipRecord {
            group: self.group.clone(),
            node: self.node.clone(),
            roles: self.roles,
            session: self.session.clone(),
            sender_id: self.sender_id.clone(),
            key: self.key.encode(),
            num: self.num,
            exp: self.exp,
            expires_at: self.expires_at,
            policies: self.policies.encode(),
            kdc_cred: self.kdc_cred.clone(),
            clientchallenge: self.clientchallenge.clone(),
            own_credential: self.own_credential.clone(),
            pairwise_only: self.pairwise_only,
            control_group_uri: self.control_group_uri.clone(),
            peers: self
                .peers
                .values()
                .map(|p| PeerRecord {
                    sender_id: p.sender_id.clone(),
                    credential: p.credential.clone(),
                    roles: p.roles,
                })
                .collect(),
        }
    }

    /// Restores a membership from its record.
    pub fn from_record(record: &MembershipRecord) -> Result<Self, ClientError> {
        let key = GroupOscoreInputMaterial::decode(&record.key)
            .map_err(|e| ClientError::State(format!("group {}: key: {e}", record.group)))?;
        let policies = GroupPolicies::decode(&record.policies)
            .map_err(|e| ClientError::State(format!("group {}: policies: {e}", record.group)))?;
        let membership = Self {
            group: record.group.clone(),
            node: record.node.clone(),
            roles: record.roles,
            session: record.session.clone(),
            sender_id: record.sender_id.clone(),
            key,
            num: record.num,
            exp: record.exp,
            expires_at: record.expires_at,
            policies,
            kdc_cred: record.kdc_cred.clone(),
            clientchallenge: record.clientchallenge.clone(),
            own_credential: record.own_credential.clone(),
            pairwise_only: record.pairwise_only,
            control_group_uri: record.control_group_uri.clone(),
            peers: record
                .peers
                .iter()
                .map(|p| {
                    (
                        p.sender_id.clone(),
                        Peer {
                            sender_id: p.sender_id.clone(),
                            credential: p.credential.clone(),
                            roles: p.roles,
                        },
                    )
                })
                .collect(),
        };
        membership.params(CountersignatureStructure::Rfc9338)?;
        Ok(membership)
    }
}

/// A member in the state file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerRecord {
    /// Sender ID.
    #[serde(with = "crate::hexser")]
    pub sender_id: Vec<u8>,
    /// Credential.
    #[serde(with = "crate::hexser")]
    pub credential: Vec<u8>,
    /// Roles.
    pub roles: Option<u64>,
}

/// A membership in the state file (CBOR items as hex).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MembershipRecord {
    /// Group name.
    pub group: String,
    /// NODENAME.
    pub node: String,
    /// Roles (AIF bits).
    pub roles: u64,
    /// The session (ID1) it joined under.
    #[serde(with = "crate::hexser")]
    pub session: Vec<u8>,
    /// Own Sender ID.
    #[serde(with = "crate::hexser::opt")]
    pub sender_id: Option<Vec<u8>>,
    /// Group_OSCORE_Input_Material, CBOR.
    #[serde(with = "crate::hexser")]
    pub key: Vec<u8>,
    /// Version.
    pub num: u64,
    /// `exp`.
    pub exp: Option<u64>,
    /// Local expiry.
    pub expires_at: Option<u64>,
    /// Group policies, CBOR.
    #[serde(with = "crate::hexser")]
    pub policies: Vec<u8>,
    /// KDC credential.
    #[serde(with = "crate::hexser")]
    pub kdc_cred: Vec<u8>,
    /// N_C of the latest join.
    #[serde(with = "crate::hexser")]
    pub clientchallenge: Vec<u8>,
    /// Own credential.
    #[serde(with = "crate::hexser")]
    pub own_credential: Vec<u8>,
    /// Pairwise-only group.
    pub pairwise_only: bool,
    /// `control_group_uri`.
    pub control_group_uri: Option<String>,
    /// Known members.
    pub peers: Vec<PeerRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::groupcomm::{Capabilities, GroupKeyingMaterial};
    use ace_proto::oscore_input::OscoreInputMaterial;

    fn cred(seed: u8) -> Vec<u8> {
        let key = ace_proto::keys::SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[seed; 32])
            .unwrap();
        Credential::ccs_for_signing_key(&key, "", None).into_bytes()
    }

    fn full_key(gid: &[u8]) -> GroupOscoreInputMaterial {
        GroupOscoreInputMaterial {
            oscore: OscoreInputMaterial {
                ms: Some(vec![1; 16]),
                context_id: Some(gid.to_vec()),
                alg: Some(IntOrText::Int(10)),
                ..OscoreInputMaterial::default()
            },
            group_sender_id: None,
            cred_fmt: Some(14),
            gp_enc_alg: Some(IntOrText::Int(10)),
            sign_alg: Some(IntOrText::Int(-8)),
            sign_params: Some(Capabilities::eddsa_ed25519()),
            ecdh_alg: Some(IntOrText::Int(-27)),
            ecdh_params: Some(Capabilities::okp_x25519()),
        }
    }

    fn membership(num: u64) -> Membership {
        let record = MembershipRecord {
            group: "g1".into(),
            node: "n1".into(),
            roles: 6,
            session: vec![0xc1],
            sender_id: Some(vec![0x01]),
            key: full_key(&[0xb1, 0, 1]).encode(),
            num,
            exp: Some(1000),
            expires_at: Some(1000),
            policies: GroupPolicies::default().encode(),
            kdc_cred: cred(9),
            clientchallenge: vec![7; 8],
            own_credential: cred(1),
            pairwise_only: false,
            control_group_uri: None,
            peers: vec![
                PeerRecord {
                    sender_id: vec![0x02],
                    credential: cred(2),
                    roles: Some(4),
                },
                PeerRecord {
                    sender_id: vec![0x03],
                    credential: cred(3),
                    roles: Some(2),
                },
            ],
        };
        Membership::from_record(&record).unwrap()
    }

    /// A rekeying message for version `num` (only `ms`, `contextId`,
    /// `salt` in `key`, as the KDC sends it).
    fn rekey(num: i64, stale: Vec<Vec<u8>>, exp: Option<u64>, exi: Option<u64>) -> RekeyingMessage {
        RekeyingMessage {
            material: GroupKeyingMaterial {
                key: GroupKey::GroupOscore(Box::new(GroupOscoreInputMaterial {
                    oscore: OscoreInputMaterial {
                        ms: Some(vec![num as u8; 16]),
                        context_id: Some(vec![0xb1, 0, num as u8]),
                        salt: Some(vec![5; 8]),
                        ..OscoreInputMaterial::default()
                    },
                    ..GroupOscoreInputMaterial::default()
                })),
                num,
                ace_groupcomm_profile: Some(1),
                exp,
                exi,
            },
            peers: None,
            mgt_key_material: None,
            stale_node_ids: Some(stale),
        }
    }

    #[test]
    fn the_next_version_is_installed_with_the_join_algorithms() {
        let mut m = membership(4);
        let out = m
            .apply_rekey(
                &rekey(5, vec![vec![0x03]], Some(2000), Some(900)),
                100,
                true,
            )
            .unwrap();
        let RekeyOutcome::Install(plan) = out else {
            panic!("{out:?}")
        };
        assert_eq!(plan.num, 5);
        assert_eq!(plan.rekeying.key_generation, Some(5));
        assert_eq!(plan.rekeying.stale_sender_ids, vec![vec![0x03]]);
        assert_eq!(m.num, 5);
        assert_eq!(m.gid(), [0xb1, 0, 5]);
        assert!(m.peer(&[0x03]).is_none(), "stale member removed");
        assert!(m.peer(&[0x02]).is_some());
        // The algorithms are still those of the join.
        let params = m.params(CountersignatureStructure::Rfc9338).unwrap();
        assert!(params.has_group_mode() && params.has_pairwise_mode());
        assert_eq!(params.master_salt, vec![5; 8]);
        // exp is used with a synchronized clock.
        assert_eq!(m.expires_at, Some(2000));
    }

    #[test]
    fn versions_further_ahead_are_a_gap_and_older_ones_are_ignored() {
        let mut m = membership(4);
        let gap = m
            .apply_rekey(&rekey(7, vec![], None, None), 0, true)
            .unwrap();
        assert!(
            matches!(gap, RekeyOutcome::Gap { from: 4, to: 7 }),
            "{gap:?}"
        );
        assert_eq!(m.num, 4, "nothing installed on a gap");
        for old in [3, 4] {
            let out = m
                .apply_rekey(&rekey(old, vec![], None, None), 0, true)
                .unwrap();
            assert!(matches!(out, RekeyOutcome::Ignored { .. }), "{out:?}");
        }
        // After fetching the stale Sender IDs of the versions in between.
        let plan = m
            .install_after_gap(
                &rekey(7, vec![], None, None).material,
                &[vec![0x02]],
                None,
                0,
                true,
            )
            .unwrap();
        assert_eq!(plan.num, 7);
        assert!(m.peer(&[0x02]).is_none());
    }

    #[test]
    fn without_a_synchronized_clock_the_expiry_is_receipt_time_plus_exi() {
        let mut m = membership(4);
        m.apply_rekey(&rekey(5, vec![], Some(2000), Some(900)), 100, false)
            .unwrap();
        assert_eq!(m.expires_at, Some(1000));
        assert!(!m.is_expired(999));
        assert!(m.is_expired(1000));
    }

    #[test]
    fn changed_algorithms_are_refused() {
        let mut m = membership(4);
        let mut message = rekey(5, vec![], None, None);
        if let GroupKey::GroupOscore(k) = &mut message.material.key {
            k.sign_alg = Some(IntOrText::Int(-7));
        }
        assert!(m.apply_rekey(&message, 0, true).is_err());
        assert_eq!(m.num, 4);
    }

    #[test]
    fn records_round_trip_and_build_a_group_context() {
        let m = membership(4);
        let again = Membership::from_record(&m.to_record()).unwrap();
        assert_eq!(again.to_record(), m.to_record());
        let identity = crate::config::Identity::from_key(
            ace_proto::keys::SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[1; 32]).unwrap(),
            "",
        );
        let security = m
            .security(&identity, CountersignatureStructure::Rfc9338)
            .unwrap();
        assert_eq!(security.key_generation(), Some(4));
        assert_eq!(security.current().members().count(), 2);
    }
}
