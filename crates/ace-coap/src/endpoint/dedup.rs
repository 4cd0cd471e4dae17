//! Duplicate detection per (peer, Message ID) (RFC 7252 section 4.5).
//!
//! A CON is remembered for EXCHANGE_LIFETIME and a NON for NON_LIFETIME. A
//! duplicate CON gets the cached reply (piggybacked response, empty ACK or
//! RST) without running the handler again; a duplicate NON is ignored.
//!
//! A retransmission is byte-identical, so an entry also records a
//! fingerprint (code, token, length). A message that reuses a remembered
//! Message ID with another fingerprint is a new message from a peer that
//! broke the reuse rule; it replaces the entry rather than being answered
//! with someone else's response.
//!
//! Entries are kept per peer, most recent last, at most `per_peer` of them:
//! a client retransmits only its outstanding requests (NSTART of them, RFC
//! 7252 section 4.7), so the recent Message IDs of a peer are the ones that
//! matter, and one busy or hostile peer cannot push out the entries of the
//! others. The number of peers and the bytes of cached replies are bounded
//! too; beyond them the peer whose state was created first is dropped.

use super::JobId;
use crate::wire::Token;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What identifies a retransmission of the same message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) code: u8,
    pub(crate) token: Token,
    pub(crate) len: usize,
}

/// The state remembered for a received message.
#[derive(Debug)]
pub(crate) enum DedupState {
    /// A request whose handler has not answered yet.
    InProgress(JobId),
    /// The datagram to send again for a duplicate, or `None` to ignore it.
    Reply(Option<Box<[u8]>>),
}

impl DedupState {
    fn bytes(&self) -> usize {
        match self {
            Self::Reply(Some(b)) => b.len(),
            _ => 0,
        }
    }
}

#[derive(Debug)]
struct Entry {
    mid: u16,
    fingerprint: Fingerprint,
    expires: Instant,
    state: DedupState,
}

#[derive(Debug)]
struct PeerEntries {
    generation: u64,
    entries: VecDeque<Entry>,
}

/// The outcome of a lookup.
pub(crate) enum Seen<'a> {
    /// Not seen before (an entry is created by the caller).
    New,
    /// A duplicate; the remembered state.
    Duplicate(&'a mut DedupState),
}

/// Bounds of the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DedupLimits {
    pub(crate) per_peer: usize,
    pub(crate) max_peers: usize,
    pub(crate) max_bytes: usize,
    pub(crate) con_lifetime: Duration,
    pub(crate) non_lifetime: Duration,
}

#[derive(Debug)]
pub(crate) struct DedupCache {
    peers: HashMap<SocketAddr, PeerEntries>,
    /// Peers in creation order, with the generation they were created in.
    order: VecDeque<(SocketAddr, u64)>,
    generation: u64,
    entries: usize,
    bytes: usize,
    limits: DedupLimits,
}

impl DedupCache {
    pub(crate) fn new(limits: DedupLimits) -> Self {
        Self {
            peers: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
            entries: 0,
            bytes: 0,
            limits: DedupLimits {
                per_peer: limits.per_peer.max(1),
                max_peers: limits.max_peers.max(1),
                ..limits
            },
        }
    }

    /// The number of remembered messages.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Looks up `(peer, mid)`. An entry with another fingerprint is dropped
    /// and reported as new; so is an expired one.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mid: u16,
        fp: Fingerprint,
    ) -> Seen<'_> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Seen::New;
        };
        let Some(i) = p.entries.iter().rposition(|e| e.mid == mid) else {
            return Seen::New;
        };
        if p.entries[i].fingerprint == fp && p.entries[i].expires > now {
            return Seen::Duplicate(&mut p.entries[i].state);
        }
        if let Some(old) = p.entries.remove(i) {
            self.entries -= 1;
            self.bytes -= old.state.bytes();
        }
        Seen::New
    }

    /// Records a received message, a CON for EXCHANGE_LIFETIME or a NON for
    /// NON_LIFETIME.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mid: u16,
        fp: Fingerprint,
        confirmable: bool,
        state: DedupState,
    ) {
        let lifetime = if confirmable {
            self.limits.con_lifetime
        } else {
            self.limits.non_lifetime
        };
        if !self.peers.contains_key(&peer) {
            while self.peers.len() >= self.limits.max_peers && self.evict_oldest_peer() {}
            self.generation += 1;
            self.order.push_back((peer, self.generation));
            self.peers.insert(
                peer,
                PeerEntries {
                    generation: self.generation,
                    entries: VecDeque::new(),
                },
            );
        }
        let added = state.bytes();
        let per_peer = self.limits.per_peer;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let mut removed_entries = 0;
        let mut removed_bytes = 0;
        while let Some(front) = p.entries.front() {
            if front.expires > now && p.entries.len() < per_peer {
                break;
            }
            if let Some(old) = p.entries.pop_front() {
                removed_entries += 1;
                removed_bytes += old.state.bytes();
            }
        }
        p.entries.push_back(Entry {
            mid,
            fingerprint: fp,
            expires: now + lifetime,
            state,
        });
        self.entries = self.entries + 1 - removed_entries;
        self.bytes = self.bytes + added - removed_bytes;
        while self.bytes > self.limits.max_bytes && self.peers.len() > 1 && self.evict_oldest_peer()
        {
        }
    }

    /// Updates the state of an entry, if it still exists.
    pub(crate) fn set_state(&mut self, peer: SocketAddr, mid: u16, state: DedupState) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(e) = p.entries.iter_mut().rev().find(|e| e.mid == mid) else {
            return;
        };
        self.bytes = self.bytes + state.bytes() - e.state.bytes();
        e.state = state;
        while self.bytes > self.limits.max_bytes && self.peers.len() > 1 && self.evict_oldest_peer()
        {
        }
    }

    /// Drops expired entries and peers left without entries.
    pub(crate) fn expire(&mut self, now: Instant) {
        let mut removed_entries = 0;
        let mut removed_bytes = 0;
        self.peers.retain(|_, p| {
            p.entries.retain(|e| {
                let keep = e.expires > now;
                if !keep {
                    removed_entries += 1;
                    removed_bytes += e.state.bytes();
                }
                keep
            });
            !p.entries.is_empty()
        });
        self.entries -= removed_entries;
        self.bytes -= removed_bytes;
        let peers = &self.peers;
        self.order.retain(|(addr, generation)| {
            peers.get(addr).is_some_and(|p| p.generation == *generation)
        });
    }

    /// Drops the state of the peer created first. Returns false if none.
    fn evict_oldest_peer(&mut self) -> bool {
        while let Some((addr, generation)) = self.order.pop_front() {
            if self
                .peers
                .get(&addr)
                .is_some_and(|p| p.generation == generation)
            {
                if let Some(p) = self.peers.remove(&addr) {
                    self.entries -= p.entries.len();
                    self.bytes -= p.entries.iter().map(|e| e.state.bytes()).sum::<usize>();
                }
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(token: u8) -> Fingerprint {
        Fingerprint {
            code: 1,
            token: Token::new(&[token]).unwrap(),
            len: 10,
        }
    }

    fn limits(per_peer: usize, max_peers: usize) -> DedupLimits {
        DedupLimits {
            per_peer,
            max_peers,
            max_bytes: 1 << 20,
            con_lifetime: Duration::from_secs(10),
            non_lifetime: Duration::from_secs(5),
        }
    }

    fn peer(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 5683))
    }

    #[test]
    fn remembers_then_expires() {
        let t0 = Instant::now();
        let mut d = DedupCache::new(limits(8, 8));
        assert!(matches!(d.check(t0, peer(1), 1, fp(1)), Seen::New));
        d.insert(t0, peer(1), 1, fp(1), true, DedupState::Reply(None));
        assert!(matches!(d.check(t0, peer(1), 1, fp(1)), Seen::Duplicate(_)));
        assert!(
            matches!(d.check(t0, peer(2), 1, fp(1)), Seen::New),
            "per peer"
        );
        // A NON is forgotten sooner than a CON.
        d.insert(t0, peer(1), 2, fp(2), false, DedupState::Reply(None));
        let later = t0 + Duration::from_secs(6);
        assert!(matches!(d.check(later, peer(1), 2, fp(2)), Seen::New));
        assert!(matches!(
            d.check(later, peer(1), 1, fp(1)),
            Seen::Duplicate(_)
        ));
        d.expire(t0 + Duration::from_secs(10));
        assert_eq!(d.len(), 0);
        assert!(matches!(d.check(t0, peer(1), 1, fp(1)), Seen::New));
    }

    #[test]
    fn reused_mid_with_other_token_is_new() {
        let t0 = Instant::now();
        let mut d = DedupCache::new(limits(8, 8));
        d.insert(t0, peer(1), 7, fp(1), true, DedupState::Reply(None));
        assert!(matches!(d.check(t0, peer(1), 7, fp(2)), Seen::New));
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn bounded_per_peer_and_in_peers() {
        let t0 = Instant::now();
        let mut d = DedupCache::new(limits(3, 2));
        for mid in 0..5u16 {
            d.insert(t0, peer(1), mid, fp(1), true, DedupState::Reply(None));
        }
        assert_eq!(d.len(), 3);
        assert!(matches!(d.check(t0, peer(1), 4, fp(1)), Seen::Duplicate(_)));
        assert!(matches!(d.check(t0, peer(1), 1, fp(1)), Seen::New));
        // A busy peer does not push out another peer's entries.
        d.insert(t0, peer(2), 9, fp(1), true, DedupState::Reply(None));
        for mid in 10..100u16 {
            d.insert(t0, peer(1), mid, fp(1), true, DedupState::Reply(None));
        }
        assert!(matches!(d.check(t0, peer(2), 9, fp(1)), Seen::Duplicate(_)));
        // A third peer evicts the peer created first.
        d.insert(t0, peer(3), 1, fp(1), true, DedupState::Reply(None));
        assert!(matches!(d.check(t0, peer(1), 99, fp(1)), Seen::New));
        assert!(matches!(d.check(t0, peer(2), 9, fp(1)), Seen::Duplicate(_)));
    }

    #[test]
    fn cached_bytes_are_bounded() {
        let t0 = Instant::now();
        let mut l = limits(8, 8);
        l.max_bytes = 100;
        let mut d = DedupCache::new(l);
        d.insert(
            t0,
            peer(1),
            1,
            fp(1),
            true,
            DedupState::Reply(Some(vec![0; 60].into())),
        );
        d.insert(
            t0,
            peer(2),
            1,
            fp(1),
            true,
            DedupState::Reply(Some(vec![0; 60].into())),
        );
        assert!(matches!(d.check(t0, peer(1), 1, fp(1)), Seen::New));
        assert!(matches!(d.check(t0, peer(2), 1, fp(1)), Seen::Duplicate(_)));
        d.set_state(peer(2), 1, DedupState::Reply(None));
        assert_eq!(d.len(), 1);
    }
}
