//! The KDC's in-memory state and the rules that read and change it.

use super::{Caller, ChannelSetup, Refusal};
use crate::config::{ConfigError, GroupConfig, GroupMode, GroupSpec, KdcConfig};
use crate::model::material::MaterialError;
use crate::model::{
    ChannelId, CnonceRegistry, Group, KeyingMaterial, SenderIdAllocator, StaleSets, TokenRecord,
};
use crate::store::{Change, GroupRow, Snapshot, StoreError};
use ace_proto::cbor::IntOrText;
use ace_proto::consts::groupcomm::profile;
use ace_proto::groupcomm::{GroupKey, GroupKeyingMaterial, GroupOscoreInputMaterial};
use ace_proto::keys::{SignatureAlgorithm, random_bytes};
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use group_oscore::group::{GroupContext, GroupParams, OwnIdentity};
use group_oscore::profile::{AuthzInfoExchange, MissingSalt, Role, context_params};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// How many `cnonce` values may be outstanding.
const MAX_CNONCES: usize = 65_536;

/// Why the state could not be loaded or a group created.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored or configured group does not validate.
    #[error("group configuration: {0}")]
    Config(#[from] ConfigError),
    /// No keying material could be made.
    #[error(transparent)]
    Material(#[from] MaterialError),
    /// No unique Gid prefix is left.
    #[error("no free Gid prefix of {0} bytes")]
    NoPrefix(u8),
}

/// The KDC state.
#[derive(Debug)]
pub(crate) struct State {
    pub groups: BTreeMap<String, Group>,
    pub tokens: HashMap<Vec<u8>, TokenRecord>,
    pub channels: HashMap<ChannelId, Vec<u8>>,
    pub next_channel: u64,
    pub cnonces: CnonceRegistry,
    pub deleted_groups: BTreeSet<String>,
    /// Changes with every reload after a failed write (see
    /// [`super::commit`]).
    pub epoch: u64,
}

/// The Signature Encryption Key of a group's material (RFC 10021 section
/// 2.1.9), derived as a Group OSCORE member would; `None` without group
/// mode.
pub(crate) fn sign_enc_key(config: &GroupConfig, material: &KeyingMaterial) -> Option<Vec<u8>> {
    if !config.mode.uses_signatures() {
        return None;
    }
    let ctx = GroupContext::new(
        group_params(config, material),
        OwnIdentity::monitor(),
        Vec::new(),
    )
    .ok()?;
    ctx.signature_encryption_key().map(<[u8]>::to_vec)
}

/// The Group OSCORE Common Context parameters of a group's material.
pub fn group_params(config: &GroupConfig, material: &KeyingMaterial) -> GroupParams {
    let params = GroupParams::new(
        &material.gid,
        &material.master_secret,
        config.signature.unwrap_or(SignatureAlgorithm::EdDsa),
        &config.kdc_credential,
    )
    .master_salt(&material.master_salt);
    match config.mode {
        GroupMode::GroupOnly => params.signature_only(),
        GroupMode::PairwiseOnly => params.pairwise_only(),
        GroupMode::Both => params,
    }
}

/// The Group_OSCORE_Input_Material of a group (Group OSCORE profile section
/// 6.3). `full` adds the algorithms and credential format (Join Response,
/// Key Distribution Response); without it only what a rekeying message
/// carries (`ms`, `contextId`, `salt`; section 11).
pub(crate) fn group_key(
    config: &GroupConfig,
    material: &KeyingMaterial,
    sender_id: Option<&[u8]>,
    full: bool,
) -> GroupOscoreInputMaterial {
    let mut key = GroupOscoreInputMaterial {
        oscore: OscoreInputMaterial {
            ms: Some(material.master_secret.to_vec()),
            salt: Some(material.master_salt.clone()),
            context_id: Some(material.gid.clone()),
            ..OscoreInputMaterial::default()
        },
        group_sender_id: sender_id.map(<[u8]>::to_vec),
        ..GroupOscoreInputMaterial::default()
    };
    if full {
        key.oscore.hkdf = Some(IntOrText::Int(config.spec.hkdf));
        key.cred_fmt = Some(config.spec.cred_fmt);
        if config.mode.uses_signatures() {
            key.gp_enc_alg = Some(IntOrText::Int(config.spec.gp_enc_alg));
            key.sign_alg = config.signature.map(|s| IntOrText::Int(s.cose_id()));
            key.sign_params = config.sign_capabilities();
        }
        if config.mode.uses_pairwise() {
            key.oscore.alg = Some(IntOrText::Int(config.spec.alg));
            key.ecdh_alg = Some(IntOrText::Int(config.spec.ecdh_alg));
            key.ecdh_params = config.ecdh_capabilities();
        }
    }
    key
}

/// `gkty`, `key`, `num`, `ace_groupcomm_profile`, `exp`, `exi` of a group.
pub(crate) fn keying_material(
    group: &Group,
    sender_id: Option<&[u8]>,
    full: bool,
    now: u64,
) -> GroupKeyingMaterial {
    let m = &group.material;
    GroupKeyingMaterial {
        key: GroupKey::GroupOscore(Box::new(group_key(&group.config, m, sender_id, full))),
        num: i64::try_from(m.num).unwrap_or(i64::MAX),
        ace_groupcomm_profile: Some(profile::COAP_GROUP_OSCORE_APP),
        exp: Some(m.exp),
        exi: Some(m.exi(now)),
    }
}

/// The stored row of a group.
pub(crate) fn group_row(group: &Group) -> GroupRow {
    GroupRow {
        spec: group.config.spec.clone(),
        prefix: group.prefix.clone(),
        num: group.material.num,
        gid: group.material.gid.clone(),
        master_secret: group.material.master_secret.clone(),
        master_salt: group.material.master_salt.clone(),
        exp: group.material.exp,
        next_node: group.next_node,
        active: group.active,
    }
}

/// The identifier at position `index` of the enumeration 1-byte, 2-byte,
/// ... strings (also the order of Sender IDs).
fn id_at(index: u64) -> Vec<u8> {
    let mut rest = index;
    let mut len = 1usize;
    loop {
        let size = 1u64.checked_shl(8 * len as u32).unwrap_or(u64::MAX);
        if rest < size || len == 8 {
            return rest.to_be_bytes()[8 - len..].to_vec();
        }
        rest -= size;
        len += 1;
    }
}

impl State {
    /// Builds the state from a snapshot.
    pub fn load(config: &KdcConfig, snap: Snapshot) -> Result<Self, LoadError> {
        let mut groups = BTreeMap::new();
        for stored in snap.groups {
            let gc = Arc::new(config.group(&stored.row.spec)?);
            let row = stored.row;
            let material = KeyingMaterial {
                num: row.num,
                gid: row.gid,
                master_secret: row.master_secret,
                master_salt: row.master_salt,
                exp: row.exp,
            };
            let mut stale = StaleSets::new(gc.spec.max_stale_sets);
            for (v, id) in stored.stale {
                stale.add(v, id);
            }
            let in_use: Vec<Vec<u8>> = stored
                .members
                .iter()
                .filter_map(|m| m.sender_id.clone())
                .collect();
            let mut sender_ids = SenderIdAllocator::new(gc.spec.max_sender_id_len, in_use);
            for id in stored.issued {
                sender_ids.mark_issued(id);
            }
            let mut group = Group {
                sign_enc_key: sign_enc_key(&gc, &material),
                config: gc,
                prefix: row.prefix,
                material,
                members: BTreeMap::new(),
                by_token: HashMap::new(),
                by_sender_id: HashMap::new(),
                sender_ids,
                stale,
                next_node: row.next_node,
                active: row.active,
            };
            for m in stored.members {
                group.put_member(m);
            }
            groups.insert(group.name().to_string(), group);
        }
        let mut tokens = HashMap::new();
        let mut channels = HashMap::new();
        for t in snap.tokens {
            channels.insert(t.channel.id.clone(), t.id.clone());
            tokens.insert(t.id.clone(), t);
        }
        Ok(Self {
            groups,
            tokens,
            channels,
            next_channel: 0,
            cnonces: CnonceRegistry::new(config.cnonce_lifetime, MAX_CNONCES),
            deleted_groups: snap.deleted_groups.into_iter().collect(),
            epoch: 0,
        })
    }

    /// Creates a group: a unique Gid prefix, version 0 keying material.
    pub fn create_group(
        &mut self,
        config: &KdcConfig,
        spec: GroupSpec,
        now: u64,
        changes: &mut Vec<Change>,
    ) -> Result<(), LoadError> {
        let gc = Arc::new(config.group(&spec)?);
        let prefix = self.fresh_prefix(spec.gid_prefix_len)?;
        let material = KeyingMaterial::generate(
            &prefix,
            usize::from(spec.gid_len),
            0,
            now,
            spec.key_lifetime,
        )?;
        let group = Group {
            sign_enc_key: sign_enc_key(&gc, &material),
            sender_ids: SenderIdAllocator::new(spec.max_sender_id_len, []),
            stale: StaleSets::new(spec.max_stale_sets),
            active: spec.active,
            config: gc,
            prefix,
            material,
            members: BTreeMap::new(),
            by_token: HashMap::new(),
            by_sender_id: HashMap::new(),
            next_node: 0,
        };
        changes.push(Change::PutGroup(Box::new(group_row(&group))));
        changes.push(Change::NewGid {
            group: spec.name.clone(),
            gid: group.material.gid.clone(),
        });
        self.deleted_groups.remove(&spec.name);
        self.groups.insert(spec.name, group);
        Ok(())
    }

    /// A random Gid prefix such that no two groups' Gids can be equal: it
    /// is neither a prefix of another group's prefix nor has one as prefix.
    fn fresh_prefix(&self, len: u8) -> Result<Vec<u8>, LoadError> {
        if len == 0 {
            return if self.groups.is_empty() {
                Ok(Vec::new())
            } else {
                Err(LoadError::NoPrefix(0))
            };
        }
        for _ in 0..4096 {
            let candidate = random_bytes(usize::from(len));
            if self
                .groups
                .values()
                .all(|g| !g.prefix.starts_with(&candidate) && !candidate.starts_with(&g.prefix))
            {
                return Ok(candidate);
            }
        }
        Err(LoadError::NoPrefix(len))
    }

    /// The valid token of `caller`.
    pub fn token(&self, caller: &Caller, now: u64) -> Option<&TokenRecord> {
        match caller {
            Caller::Unauthenticated => None,
            Caller::Channel(ch) => self
                .channels
                .get(ch)
                .and_then(|id| self.tokens.get(id))
                .filter(|t| t.is_valid(now)),
        }
    }

    /// The 4.01 with AS Request Creation Hints for a client that needs a
    /// token with `roles` on `group` (RFC 9200 section 5.3; the `cnonce` is
    /// remembered for the check of the token's `cnonce` claim).
    pub fn unauthorized(
        &mut self,
        config: &KdcConfig,
        group: Option<&str>,
        roles: u64,
        now: u64,
    ) -> Refusal {
        let scope = group.map(|g| {
            ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
                g.to_string(),
                roles,
            )]))
        });
        Refusal::Unauthorized(Box::new(AsRequestCreationHints {
            as_uri: Some(config.as_uri.clone()),
            kid: None,
            audience: Some(config.audience.clone()),
            scope,
            cnonce: Some(self.cnonces.issue(now)),
            rest: Vec::new(),
        }))
    }

    /// A fresh channel id (the KDC's Recipient ID) different from
    /// `client_id` and from every live channel. The counter is not stored:
    /// after a restart it starts again and skips the restored channels (an
    /// identifier of a channel that is gone may be used again; its old
    /// context cannot decrypt anything under the new one).
    pub fn allocate_channel(&mut self, client_id: &[u8]) -> ChannelId {
        loop {
            let id = id_at(self.next_channel);
            self.next_channel += 1;
            let ch = ChannelId(id);
            if ch.0 != client_id && !self.channels.contains_key(&ch) {
                return ch;
            }
        }
    }

    /// The OSCORE context setups of every stored channel.
    pub fn channel_setups(&self, restored: bool) -> Vec<ChannelSetup> {
        self.tokens
            .values()
            .filter_map(|t| match channel_setup(t, restored) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(channel = %t.channel.id, error = %e, "stored channel cannot be restored");
                    None
                }
            })
            .collect()
    }
}

/// The OSCORE context of a token's channel (RFC 9203 section 4.3, the KDC
/// as resource server; a missing `salt` is omitted from the Master Salt).
pub(crate) fn channel_setup(
    token: &TokenRecord,
    restored: bool,
) -> Result<ChannelSetup, group_oscore::ContextError> {
    let ch = &token.channel;
    let params = context_params(
        &ch.material,
        &AuthzInfoExchange {
            nonce1: &ch.nonce1,
            nonce2: &ch.nonce2,
            client_recipient_id: &ch.client_recipient_id,
            server_recipient_id: &ch.id.0,
        },
        Role::ResourceServer,
        MissingSalt::Omit,
    )?;
    Ok(ChannelSetup {
        channel: ch.id.clone(),
        params,
        expires_at: token.expires_at,
        sequence_mark: ch.sequence_mark,
        restored,
    })
}

#[cfg(test)]
mod tests {
    use super::id_at;

    #[test]
    fn channel_ids_enumerate_by_length() {
        assert_eq!(id_at(0), [0]);
        assert_eq!(id_at(256), [0, 0]);
        assert_eq!(id_at(257), [0, 1]);
    }
}
