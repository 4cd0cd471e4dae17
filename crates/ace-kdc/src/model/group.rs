//! A group at the KDC: its configuration, current keying material, members,
//! Sender IDs and stale sets (RFC 9594 section 2.7 of the digest: the state
//! a KDC keeps; Group OSCORE profile sections 6 and 11).

use super::material::KeyingMaterial;
use super::sender_ids::SenderIdAllocator;
use super::stale::StaleSets;
use crate::config::GroupConfig;
use ace_proto::groupcomm::CredsMember;
use ace_proto::roles::Roles;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A group member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The node name (NODENAME), unique in the group, never reused.
    pub node: String,
    /// The token the membership is bound to (its OSCORE_Input_Material `id`).
    pub token_id: Vec<u8>,
    /// The member's roles (AIF bits).
    pub roles: u64,
    /// The member's Sender ID (its node identifier); `None` for a
    /// monitor-only member (Group OSCORE profile section 6.3).
    pub sender_id: Option<Vec<u8>>,
    /// The member's authentication credential, exact bytes (none for a
    /// monitor-only member).
    pub credential: Option<Vec<u8>>,
    /// `control_uri` from the latest Join Request.
    pub control_uri: Option<String>,
    /// The `scope` of the latest Join Request, exact bytes (the PoP input
    /// of a credential update covers it, RFC 9594 section 4.9.1).
    pub join_scope: Vec<u8>,
    /// N_C of the latest Join Request, the `clientchallenge` (RFC 9594
    /// section 4.3.1) the KDC's PoP on GET `/kdc-cred` covers; it goes with
    /// the membership.
    pub client_challenge: Vec<u8>,
}

/// A member as `get_creds` selection sees it: only members with a Sender ID
/// and a credential are "nodes with credentials".
#[derive(Debug, Clone)]
pub struct CredView {
    roles: Roles,
    node_id: Vec<u8>,
    credential: Vec<u8>,
}

impl CredsMember for CredView {
    fn node_id(&self) -> &[u8] {
        &self.node_id
    }
    fn roles(&self) -> &Roles {
        &self.roles
    }
    fn credential(&self) -> &[u8] {
        &self.credential
    }
}

/// A group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The validated configuration.
    pub config: Arc<GroupConfig>,
    /// The Gid prefix, unique among the KDC's groups.
    pub prefix: Vec<u8>,
    /// The current keying material.
    pub material: KeyingMaterial,
    /// Members by node name.
    pub members: BTreeMap<String, Member>,
    /// Node name by token id.
    pub by_token: HashMap<Vec<u8>, String>,
    /// Node name by Sender ID.
    pub by_sender_id: HashMap<Vec<u8>, String>,
    /// Sender IDs issued under the current Gid.
    pub sender_ids: SenderIdAllocator,
    /// Stale Sender ID sets.
    pub stale: StaleSets,
    /// The counter node names are made from.
    pub next_node: u64,
    /// Whether the group is active (Group OSCORE profile section 9).
    pub active: bool,
    /// The Signature Encryption Key of the current material (group mode),
    /// for `verif-data`.
    pub sign_enc_key: Option<Vec<u8>>,
}

impl Group {
    /// The group name.
    pub fn name(&self) -> &str {
        self.config.name()
    }

    /// The member bound to token `token_id`.
    pub fn member_by_token(&self, token_id: &[u8]) -> Option<&Member> {
        self.by_token
            .get(token_id)
            .and_then(|n| self.members.get(n))
    }

    /// Adds or replaces a member, keeping the indexes right.
    pub fn put_member(&mut self, member: Member) {
        if let Some(old) = self.members.get(&member.node) {
            if let Some(sid) = &old.sender_id {
                self.by_sender_id.remove(sid);
            }
            self.by_token.remove(&old.token_id);
        }
        if let Some(sid) = &member.sender_id {
            self.by_sender_id.insert(sid.clone(), member.node.clone());
        }
        self.by_token
            .insert(member.token_id.clone(), member.node.clone());
        self.members.insert(member.node.clone(), member);
    }

    /// Removes a member.
    pub fn remove_member(&mut self, node: &str) -> Option<Member> {
        let m = self.members.remove(node)?;
        if let Some(sid) = &m.sender_id {
            self.by_sender_id.remove(sid);
        }
        self.by_token.remove(&m.token_id);
        Some(m)
    }

    /// A fresh node name (never used in this group).
    pub fn new_node_name(&mut self) -> String {
        loop {
            let name = format!("node{}", self.next_node);
            self.next_node += 1;
            if !self.members.contains_key(&name) {
                return name;
            }
        }
    }

    /// The Sender IDs of the current members.
    pub fn sender_ids_in_use(&self) -> Vec<Vec<u8>> {
        self.members
            .values()
            .filter_map(|m| m.sender_id.clone())
            .collect()
    }

    /// The members with a Sender ID and a credential, as `get_creds` sees
    /// them, excluding the node named `except`.
    pub fn cred_views(&self, except: Option<&str>) -> Vec<CredView> {
        self.members
            .values()
            .filter(|m| Some(m.node.as_str()) != except)
            .filter_map(|m| {
                Some(CredView {
                    roles: Roles::Aif(m.roles),
                    node_id: m.sender_id.clone()?,
                    credential: m.credential.clone()?,
                })
            })
            .collect()
    }
}
