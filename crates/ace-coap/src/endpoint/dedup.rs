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
//! with someone else's response. The cache holds at most `max` entries and
//! drops the oldest beyond that.

use super::JobId;
use super::timers::TimerFifo;
use crate::wire::Token;
use std::collections::HashMap;
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

#[derive(Debug)]
struct DedupEntry {
    fingerprint: Fingerprint,
    expires: Instant,
    state: DedupState,
}

/// The outcome of a lookup.
pub(crate) enum Seen<'a> {
    /// Not seen before (an entry is created by the caller).
    New,
    /// A duplicate; the remembered state.
    Duplicate(&'a mut DedupState),
}

type Key = (SocketAddr, u16);

#[derive(Debug)]
pub(crate) struct DedupCache {
    map: HashMap<Key, DedupEntry>,
    con_expiry: TimerFifo<Key>,
    non_expiry: TimerFifo<Key>,
    max: usize,
    con_lifetime: Duration,
    non_lifetime: Duration,
}

impl DedupCache {
    /// A cache of at most `max` entries; CONs are kept for `con_lifetime`
    /// (EXCHANGE_LIFETIME), NONs for `non_lifetime` (NON_LIFETIME).
    pub(crate) fn new(max: usize, con_lifetime: Duration, non_lifetime: Duration) -> Self {
        Self {
            map: HashMap::new(),
            con_expiry: TimerFifo::new(),
            non_expiry: TimerFifo::new(),
            max: max.max(1),
            con_lifetime,
            non_lifetime,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Looks up `(peer, mid)`. A stale entry with another fingerprint is
    /// dropped and reported as new.
    pub(crate) fn check(&mut self, peer: SocketAddr, mid: u16, fp: Fingerprint) -> Seen<'_> {
        let key = (peer, mid);
        let is_dup = match self.map.get(&key) {
            Some(e) if e.fingerprint == fp => true,
            Some(_) => {
                self.map.remove(&key);
                false
            }
            None => false,
        };
        if is_dup {
            match self.map.get_mut(&key) {
                Some(e) => Seen::Duplicate(&mut e.state),
                None => Seen::New,
            }
        } else {
            Seen::New
        }
    }

    /// Records a received message, a CON for EXCHANGE_LIFETIME or a NON for
    /// NON_LIFETIME (all entries of one queue share one lifetime).
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
            self.con_lifetime
        } else {
            self.non_lifetime
        };
        self.expire(now);
        while self.map.len() >= self.max {
            if !self.evict_oldest() {
                break;
            }
        }
        let expires = now + lifetime;
        let key = (peer, mid);
        self.map.insert(
            key,
            DedupEntry {
                fingerprint: fp,
                expires,
                state,
            },
        );
        if confirmable {
            self.con_expiry.push(expires, key);
        } else {
            self.non_expiry.push(expires, key);
        }
    }

    /// Updates the state of an entry, if it still exists.
    pub(crate) fn set_state(&mut self, peer: SocketAddr, mid: u16, state: DedupState) {
        if let Some(e) = self.map.get_mut(&(peer, mid)) {
            e.state = state;
        }
    }

    /// Drops expired entries.
    pub(crate) fn expire(&mut self, now: Instant) {
        for fifo in [&mut self.con_expiry, &mut self.non_expiry] {
            while let Some(key) = fifo.pop_due(now) {
                if self.map.get(&key).is_some_and(|e| e.expires <= now) {
                    self.map.remove(&key);
                }
            }
        }
    }

    /// Drops the entry that would expire first. Returns false if empty.
    fn evict_oldest(&mut self) -> bool {
        let con = self.con_expiry.next_deadline();
        let non = self.non_expiry.next_deadline();
        let fifo = match (con, non) {
            (Some(c), Some(n)) if n < c => &mut self.non_expiry,
            (Some(_), _) => &mut self.con_expiry,
            (None, Some(_)) => &mut self.non_expiry,
            (None, None) => return false,
        };
        if let Some((at, key)) = fifo.pop_front()
            && self.map.get(&key).is_some_and(|e| e.expires == at)
        {
            self.map.remove(&key);
        }
        true
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

    #[test]
    fn remembers_then_expires() {
        let t0 = Instant::now();
        let peer: SocketAddr = "127.0.0.1:5683".parse().unwrap();
        let mut d = DedupCache::new(10, Duration::from_secs(10), Duration::from_secs(10));
        assert!(matches!(d.check(peer, 1, fp(1)), Seen::New));
        d.insert(t0, peer, 1, fp(1), true, DedupState::Reply(None));
        assert!(matches!(d.check(peer, 1, fp(1)), Seen::Duplicate(_)));
        d.expire(t0 + Duration::from_secs(10));
        assert!(matches!(d.check(peer, 1, fp(1)), Seen::New));
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn reused_mid_with_other_token_is_new() {
        let t0 = Instant::now();
        let peer: SocketAddr = "127.0.0.1:5683".parse().unwrap();
        let mut d = DedupCache::new(10, Duration::from_secs(10), Duration::from_secs(10));
        d.insert(t0, peer, 7, fp(1), true, DedupState::Reply(None));
        assert!(matches!(d.check(peer, 7, fp(2)), Seen::New));
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn bounded_by_evicting_the_oldest() {
        let t0 = Instant::now();
        let peer: SocketAddr = "127.0.0.1:5683".parse().unwrap();
        let mut d = DedupCache::new(3, Duration::from_secs(10), Duration::from_secs(10));
        for mid in 0..5u16 {
            d.insert(t0, peer, mid, fp(1), mid % 2 == 0, DedupState::Reply(None));
        }
        assert_eq!(d.len(), 3);
        assert!(matches!(d.check(peer, 4, fp(1)), Seen::Duplicate(_)));
        assert!(matches!(d.check(peer, 0, fp(1)), Seen::New));
    }
}
