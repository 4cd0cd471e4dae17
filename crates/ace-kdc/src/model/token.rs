//! Access tokens the KDC stores (RFC 9200 section 5.10.1) and the OSCORE
//! channel each one is bound to (RFC 9203 section 4).
//!
//! A token is identified by the `id` of its OSCORE_Input_Material (RFC 9203
//! section 3.2.1: unique at the AS, and the `kid` of later access-rights
//! updates), so one token per PoP key is kept (RFC 9200 section 5.10.1): a
//! token posted again replaces the stored one and gets a new channel, and
//! group memberships, bound to the token, follow it.
//!
//! The channel is identified by the KDC's own OSCORE Recipient ID
//! (`ace_server_recipientid`, ID2), which the KDC picks unique among its
//! channels: it is what the OSCORE layer reports for a verified request.

use ace_proto::keys::random_bytes;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::Roles;
use ace_proto::scope::GroupScope;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// An OSCORE channel between the KDC and a client: the KDC's Recipient ID
/// for it (RFC 9203 section 4.2, `ace_server_recipientid`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub Vec<u8>);

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", hex::encode(&self.0))
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

/// The inputs of a channel's OSCORE context (RFC 9203 section 4.3), kept so
/// that the context can be derived again after a restart.
#[derive(Clone, PartialEq)]
pub struct ChannelRecord {
    /// The KDC's Recipient ID (ID2).
    pub id: ChannelId,
    /// The client's Recipient ID (ID1), the KDC's Sender ID.
    pub client_recipient_id: Vec<u8>,
    /// `nonce1` (N1).
    pub nonce1: Vec<u8>,
    /// `nonce2` (N2).
    pub nonce2: Vec<u8>,
    /// The OSCORE_Input_Material of the token's `cnf`.
    pub material: OscoreInputMaterial,
    /// The Sender Sequence Number reserved so far (RFC 8613 Appendix B.1.1):
    /// after a restart the KDC sends from here.
    pub sequence_mark: u64,
}

impl fmt::Debug for ChannelRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelRecord")
            .field("id", &self.id)
            .field(
                "client_recipient_id",
                &hex::encode(&self.client_recipient_id),
            )
            .field("sequence_mark", &self.sequence_mark)
            .finish_non_exhaustive()
    }
}

/// A stored access token.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The OSCORE_Input_Material `id`.
    pub id: Vec<u8>,
    /// The granted scope (AIF entries, Group OSCORE profile section 3).
    pub scope: GroupScope,
    /// When the token expires (`exp`, or first receipt + `exi`).
    pub expires_at: Option<u64>,
    /// The latest `kdcchallenge` N_S given to this client (RFC 9594 section
    /// 3.3), kept until the token is deleted.
    pub kdcchallenge: Option<Vec<u8>>,
    /// The OSCORE channel.
    pub channel: ChannelRecord,
}

impl TokenRecord {
    /// Whether the token is still valid at `now`.
    pub fn is_valid(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|exp| now < exp)
    }

    /// The AIF role bits the token grants on `group` (merged over every
    /// entry naming it); `None` when no entry names it.
    pub fn roles_for(&self, group: &str) -> Option<u64> {
        match self.scope.roles_for(group)? {
            Some(Roles::Aif(bits)) => Some(bits),
            _ => None,
        }
    }
}

/// The `cnonce` values the KDC issued in AS Request Creation Hints (RFC
/// 9200 section 5.3.1), each acceptable once until it expires. Bounded:
/// the oldest are forgotten first. Kept in memory only: after a restart a
/// client whose token carries an unknown `cnonce` gets new hints.
#[derive(Debug)]
pub struct CnonceRegistry {
    lifetime: u64,
    max: usize,
    issued: HashMap<Vec<u8>, u64>,
    order: VecDeque<(Vec<u8>, u64)>,
}

/// Length of an issued `cnonce` (64 random bits).
pub const CNONCE_LEN: usize = 8;

impl CnonceRegistry {
    /// A registry whose nonces live `lifetime` seconds, holding at most
    /// `max`.
    pub fn new(lifetime: u64, max: usize) -> Self {
        Self {
            lifetime,
            max: max.max(1),
            issued: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// A fresh nonce, remembered until `now + lifetime`.
    pub fn issue(&mut self, now: u64) -> Vec<u8> {
        self.expire(now);
        while self.order.len() >= self.max {
            if let Some((old, _)) = self.order.pop_front() {
                self.issued.remove(&old);
            }
        }
        let nonce = random_bytes(CNONCE_LEN);
        let until = now.saturating_add(self.lifetime);
        self.issued.insert(nonce.clone(), until);
        self.order.push_back((nonce.clone(), until));
        nonce
    }

    /// Whether `nonce` was issued and is still fresh; it is consumed.
    pub fn consume(&mut self, nonce: &[u8], now: u64) -> bool {
        match self.issued.remove(nonce) {
            Some(until) => now < until,
            None => false,
        }
    }

    /// Whether `nonce` is outstanding and fresh, without consuming it.
    pub fn is_fresh(&self, nonce: &[u8], now: u64) -> bool {
        self.issued.get(nonce).is_some_and(|until| now < *until)
    }

    /// Forgets expired nonces.
    pub fn expire(&mut self, now: u64) {
        while let Some((nonce, until)) = self.order.front() {
            if *until > now && self.issued.contains_key(nonce) {
                break;
            }
            if *until <= now {
                self.issued.remove(nonce);
            }
            self.order.pop_front();
        }
    }

    /// The earliest expiry of an outstanding nonce.
    pub fn next_expiry(&self) -> Option<u64> {
        self.order.front().map(|(_, until)| *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnonce_is_single_use_and_expires() {
        let mut r = CnonceRegistry::new(10, 3);
        let a = r.issue(100);
        assert!(r.is_fresh(&a, 105));
        assert!(r.consume(&a, 105));
        assert!(!r.consume(&a, 105));
        let b = r.issue(100);
        assert!(!r.consume(&b, 110));
        // Bounded: the oldest goes first.
        let c = r.issue(200);
        let _d = r.issue(200);
        let _e = r.issue(200);
        let _f = r.issue(200);
        assert!(!r.is_fresh(&c, 201));
    }
}
