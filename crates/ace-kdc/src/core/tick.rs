//! Time-driven work and operator commands: evicting members whose token
//! expired (RFC 9594 section 5, reason 3), renewing keying material before
//! it expires (section 6), and the `ace-kdc group ...` commands.

use super::rekey::remove_member;
use super::{Effect, EvictionNotice, GroupDeletion, Kdc, Refusal};
use crate::admin::Command;
use crate::store::Change;
use ace_proto::cbor::Codec;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::problem::ProblemDetails;
use std::collections::BTreeSet;

/// The problem-details body of an eviction notice (error id 5).
pub(crate) fn eviction_payload(detail: &str) -> Vec<u8> {
    ProblemDetails::groupcomm(ErrorId::MembershipTerminated, Some(detail.to_string())).encode()
}

impl Kdc {
    /// Runs the time-driven work due at `now`: members of expired tokens are
    /// evicted (each affected group is rekeyed once), expired tokens and
    /// their channels dropped, and groups whose material expires within the
    /// configured margin rekeyed.
    pub fn tick(&self, now: u64) -> Vec<Effect> {
        let mut state = self.lock();
        state.cnonces.expire(now);
        let mut changes = Vec::new();
        let mut notices = Vec::new();
        let mut drops = Vec::new();
        let mut affected = BTreeSet::new();
        let expired: Vec<Vec<u8>> = state
            .tokens
            .values()
            .filter(|t| !t.is_valid(now))
            .map(|t| t.id.clone())
            .collect();
        for id in expired {
            let Some(token) = state.tokens.remove(&id) else {
                continue;
            };
            state.channels.remove(&token.channel.id);
            for group in state.groups.values_mut() {
                let Some(node) = group.by_token.get(&id).cloned() else {
                    continue;
                };
                if let Some(m) = remove_member(group, &node, &mut changes) {
                    tracing::info!(group = group.name(), node, "member evicted: token expired");
                    notices.push(Effect::Evicted(Box::new(EvictionNotice {
                        group: group.name().to_string(),
                        node,
                        channel: Some(token.channel.id.clone()),
                        control_uri: m.control_uri,
                        payload: eviction_payload("the access token expired"),
                    })));
                    affected.insert(group.name().to_string());
                }
            }
            changes.push(Change::DeleteToken(token.channel.id.clone()));
            drops.push(Effect::DropChannel(token.channel.id));
        }
        let margin = self.config.rekey_margin;
        for (name, g) in &state.groups {
            if g.material.exp.saturating_sub(margin) <= now {
                affected.insert(name.clone());
            }
        }
        let mut deliveries = Vec::new();
        for name in &affected {
            if let Ok(rekeyed) = state.rekey_group(name, now, &mut changes) {
                deliveries.extend(state.rekey_delivery(name, &rekeyed, None, &[], now));
            }
        }
        if self.commit_and_release(state, changes).is_err() {
            return Vec::new();
        }
        notices.into_iter().chain(deliveries).chain(drops).collect()
    }

    /// The earliest time at which [`Kdc::tick`] has work: a token expiry, a
    /// keying material renewal, or a `cnonce` to forget.
    pub fn next_deadline(&self) -> Option<u64> {
        let state = self.lock();
        let margin = self.config.rekey_margin;
        state
            .tokens
            .values()
            .filter_map(|t| t.expires_at)
            .chain(
                state
                    .groups
                    .values()
                    .map(|g| g.material.exp.saturating_sub(margin)),
            )
            .chain(state.cnonces.next_expiry())
            .min()
    }

    /// Executes an operator command; returns a one-line result and the
    /// effects to carry out.
    pub fn execute(&self, command: &Command, now: u64) -> (Result<String, String>, Vec<Effect>) {
        let mut state = self.lock();
        let mut changes = Vec::new();
        let mut effects = Vec::new();
        let result: Result<String, Refusal> = match command {
            Command::Create { spec } => {
                if state.groups.contains_key(&spec.name) {
                    Err(Refusal::BadRequest(format!("group {:?} exists", spec.name)))
                } else {
                    state
                        .create_group(&self.config, spec.clone(), now, &mut changes)
                        .map(|()| format!("created group {}", spec.name))
                        .map_err(|e| Refusal::BadRequest(e.to_string()))
                }
            }
            Command::Delete { group } => match state.groups.remove(group) {
                None => Err(Refusal::NotFound(format!("no group {group:?}"))),
                Some(g) => {
                    let channels = g
                        .members
                        .values()
                        .filter_map(|m| state.tokens.get(&m.token_id))
                        .map(|t| t.channel.id.clone())
                        .collect();
                    state.deleted_groups.insert(group.clone());
                    changes.push(Change::DeleteGroup(group.clone()));
                    effects.push(Effect::GroupDeleted(Box::new(GroupDeletion {
                        group: group.clone(),
                        channels,
                        payload: ProblemDetails::groupcomm(
                            ErrorId::GroupDeleted,
                            Some(format!("group {group} was deleted")),
                        )
                        .encode(),
                    })));
                    Ok(format!("deleted group {group}"))
                }
            },
            Command::Rekey { group } => {
                state.rekey_group(group, now, &mut changes).map(|rekeyed| {
                    effects.extend(state.rekey_delivery(group, &rekeyed, None, &[], now));
                    format!(
                        "rekeyed group {group} to version {}",
                        state.groups.get(group).map_or(0, |g| g.material.num)
                    )
                })
            }
            Command::Evict { group, node } => {
                let removed = state
                    .groups
                    .get_mut(group)
                    .and_then(|g| remove_member(g, node, &mut changes));
                match removed {
                    None => Err(Refusal::NotFound(format!(
                        "no node {node:?} in group {group:?}"
                    ))),
                    Some(m) => {
                        let channel = state.tokens.get(&m.token_id).map(|t| t.channel.id.clone());
                        effects.push(Effect::Evicted(Box::new(EvictionNotice {
                            group: group.clone(),
                            node: node.clone(),
                            channel,
                            control_uri: m.control_uri,
                            payload: eviction_payload("evicted by the operator"),
                        })));
                        state.rekey_group(group, now, &mut changes).map(|rekeyed| {
                            effects.extend(state.rekey_delivery(group, &rekeyed, None, &[], now));
                            format!("evicted {node} from {group}")
                        })
                    }
                }
            }
        };
        match result {
            Ok(text) => match self.commit_and_release(state, changes) {
                Ok(()) => (Ok(text), effects),
                Err(e) => (Err(format!("{e:?}")), Vec::new()),
            },
            Err(refusal) => {
                // Undo partial changes: nothing was written.
                if !changes.is_empty() {
                    self.rollback(&mut state);
                }
                (Err(refusal_text(&refusal)), Vec::new())
            }
        }
    }
}

fn refusal_text(r: &Refusal) -> String {
    match r {
        Refusal::NotFound(t) | Refusal::BadRequest(t) | Refusal::Internal(t) => t.clone(),
        other => format!("{other:?}"),
    }
}
