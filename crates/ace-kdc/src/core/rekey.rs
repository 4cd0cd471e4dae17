//! Rekeying (RFC 9594 section 6; Group OSCORE profile section 11; RFC 10021
//! section 12.2) and the membership changes that lead to it.
//!
//! A rekeying makes new keying material for version `num + 1` (new Gid,
//! Master Secret and Master Salt), frees the Sender IDs nobody holds
//! (a new Gid starts), keeps the stale set of the retired version for the
//! rekeying message (`stale_node_ids`) and for `/stale-sids`, and produces
//! one point-to-point delivery of the rekeying message to the remaining
//! members (rekeying scheme 0).

use super::state::{group_row, keying_material, sign_enc_key};
use super::{Effect, Refusal, RekeyDelivery, RekeyTarget, State};
use crate::model::{Group, KeyingMaterial, Member};
use crate::store::Change;
use ace_proto::cbor::Codec;
use ace_proto::groupcomm::{PeerCredentials, RekeyingMessage};
use std::sync::Arc;

/// Moves a Sender ID out of use: it joins the stale set of the current
/// version and stays issued under the current Gid (never handed out again
/// until the Gid changes).
pub(crate) fn retire_sender_id(group: &mut Group, id: Vec<u8>, changes: &mut Vec<Change>) {
    let num = group.material.num;
    let name = group.name().to_string();
    group.stale.add(num, id.clone());
    group.sender_ids.mark_issued(id.clone());
    changes.push(Change::AddStale {
        group: name.clone(),
        version: num,
        ids: vec![id.clone()],
    });
    changes.push(Change::IssueSenderIds {
        group: name,
        gid: group.material.gid.clone(),
        ids: vec![id],
    });
}

/// Removes a member from the group (RFC 9594 section 5): out of the member
/// list, its Sender ID retired, its node resource gone. Its clientchallenge
/// is deleted by the caller, which owns the token.
pub(crate) fn remove_member(
    group: &mut Group,
    node: &str,
    changes: &mut Vec<Change>,
) -> Option<Member> {
    let member = group.remove_member(node)?;
    if let Some(sid) = &member.sender_id {
        retire_sender_id(group, sid.clone(), changes);
    }
    changes.push(Change::DeleteMember {
        group: group.name().to_string(),
        node: node.to_string(),
    });
    Some(member)
}

/// The result of the state change of a rekeying, before its delivery.
#[derive(Debug, Clone)]
pub(crate) struct Rekeyed {
    /// The stale set of the retired version (`stale_node_ids`).
    pub stale: Vec<Vec<u8>>,
}

impl State {
    /// Makes new keying material for group `name` (version `num + 1`).
    /// Nothing changes if no material can be made (Gid space exhausted).
    pub(crate) fn rekey_group(
        &mut self,
        name: &str,
        now: u64,
        changes: &mut Vec<Change>,
    ) -> Result<Rekeyed, Refusal> {
        let group = self
            .groups
            .get_mut(name)
            .ok_or_else(|| Refusal::NotFound(format!("no group {name:?}")))?;
        let spec = &group.config.spec;
        let old = group.material.num;
        let material = KeyingMaterial::generate(
            &group.prefix,
            usize::from(spec.gid_len),
            old + 1,
            now,
            spec.key_lifetime,
        )
        .map_err(|e| {
            tracing::error!(group = name, error = %e, "cannot rekey");
            Refusal::Internal(e.to_string())
        })?;
        let stale = group.stale.set(old).to_vec();
        group.sign_enc_key = sign_enc_key(&group.config, &material);
        group.material = material;
        let in_use = group.sender_ids_in_use();
        group.sender_ids.new_gid(in_use);
        let floor = group.stale.trim(group.material.num);
        changes.push(Change::PutGroup(Box::new(group_row(group))));
        changes.push(Change::NewGid {
            group: name.to_string(),
            gid: group.material.gid.clone(),
        });
        changes.push(Change::TrimStale {
            group: name.to_string(),
            floor,
        });
        tracing::info!(group = name, num = group.material.num, "group rekeyed");
        Ok(Rekeyed { stale })
    }

    /// The delivery of the rekeying message of group `name`'s current
    /// material to every member except `exclude` whose token is valid:
    /// `gkty`, `key` (`ms`, `contextId`, `salt`), `num`, profile, `exp`,
    /// `exi`, `stale_node_ids`, and the credentials of new members when
    /// the rekeying is due to joins (Group OSCORE profile section 11).
    pub(crate) fn rekey_delivery(
        &self,
        name: &str,
        rekeyed: &Rekeyed,
        peers: Option<PeerCredentials>,
        exclude: &[&str],
        now: u64,
    ) -> Option<Effect> {
        let group = self.groups.get(name)?;
        let message = RekeyingMessage {
            material: keying_material(group, None, false, now),
            peers,
            mgt_key_material: None,
            stale_node_ids: Some(rekeyed.stale.clone()),
        };
        let targets = group
            .members
            .values()
            .filter(|m| !exclude.contains(&m.node.as_str()))
            .filter_map(|m| {
                let token = self.tokens.get(&m.token_id).filter(|t| t.is_valid(now))?;
                Some(RekeyTarget {
                    node: m.node.clone(),
                    channel: token.channel.id.clone(),
                    control_uri: m.control_uri.clone(),
                })
            })
            .collect();
        Some(Effect::Rekey(Arc::new(RekeyDelivery {
            group: name.to_string(),
            num: group.material.num,
            payload: message.encode(),
            targets,
        })))
    }
}
