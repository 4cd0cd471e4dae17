//! Server-side block-wise state (RFC 7959): Block1 reassembly of request
//! bodies and the cache of response bodies that later Block2 requests are
//! served from.
//!
//! Both are keyed by the peer and a [`RequestKey`]: a hash of the method and
//! every option except the Block, Size, Observe and No-Response options
//! (plus the payload for FETCH, RFC 8132 section 2.3.2), so that the
//! requests of one transfer match whatever token each of them uses (RFC
//! 7959 section 2.4 lets a client change tokens; libcoap does). A
//! Request-Tag (RFC 9175) is part of the key and separates concurrent
//! transfers.

use super::timers::TimerFifo;
use crate::option::{Options, number};
use crate::response::Code;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Identifies the requests of one block-wise transfer from one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RequestKey(pub(crate) u64);

/// Computes the key of a request.
pub(crate) fn request_key(
    method_code: u8,
    options: &Options,
    payload: Option<&[u8]>,
) -> RequestKey {
    let mut h = DefaultHasher::new();
    method_code.hash(&mut h);
    for (n, v) in options.iter() {
        if matches!(
            n,
            number::BLOCK1
                | number::BLOCK2
                | number::SIZE1
                | number::SIZE2
                | number::OBSERVE
                | number::NO_RESPONSE
        ) {
            continue;
        }
        n.hash(&mut h);
        v.hash(&mut h);
    }
    if let Some(p) = payload {
        p.hash(&mut h);
    }
    RequestKey(h.finish())
}

/// A strong ETag for a representation: 8 bytes of a hash of the code,
/// options and payload (RFC 7252 section 5.10.6; RFC 7959 section 2.4
/// recommends an ETag on block-wise responses so that clients notice a
/// change mid-transfer).
pub(crate) fn etag_for(code: Code, options: &Options, payload: &[u8]) -> [u8; 8] {
    let mut h = DefaultHasher::new();
    code.0.hash(&mut h);
    for (n, v) in options.iter() {
        n.hash(&mut h);
        v.hash(&mut h);
    }
    payload.hash(&mut h);
    h.finish().to_be_bytes()
}

type Key = (SocketAddr, RequestKey);

/// A request body being reassembled from Block1 blocks.
#[derive(Debug)]
pub(crate) struct Assembly {
    pub(crate) body: Vec<u8>,
    expires: Instant,
}

/// Block1 reassemblies, bounded in number and expiring after a lifetime.
#[derive(Debug)]
pub(crate) struct Block1Store {
    map: HashMap<Key, Assembly>,
    expiry: TimerFifo<Key>,
    max: usize,
    lifetime: Duration,
}

impl Block1Store {
    pub(crate) fn new(max: usize, lifetime: Duration) -> Self {
        Self {
            map: HashMap::new(),
            expiry: TimerFifo::new(),
            max: max.max(1),
            lifetime,
        }
    }

    /// Starts a new reassembly with the first block, replacing any older one.
    pub(crate) fn start(&mut self, now: Instant, key: Key, first: Vec<u8>) {
        self.expire(now);
        while self.map.len() >= self.max && !self.map.contains_key(&key) {
            match self.expiry.pop_front() {
                Some((_, old)) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        let expires = now + self.lifetime;
        self.expiry.push(expires, key);
        self.map.insert(
            key,
            Assembly {
                body: first,
                expires,
            },
        );
    }

    /// The reassembly in progress for `key`, with its lifetime renewed.
    pub(crate) fn get(&mut self, now: Instant, key: &Key) -> Option<&mut Assembly> {
        let lifetime = self.lifetime;
        let a = self.map.get_mut(key)?;
        if a.expires <= now {
            self.map.remove(key);
            return None;
        }
        let renewed = now + lifetime;
        if renewed > a.expires {
            a.expires = renewed;
            self.expiry.push(renewed, *key);
        }
        self.map.get_mut(key)
    }

    pub(crate) fn remove(&mut self, key: &Key) -> Option<Vec<u8>> {
        self.map.remove(key).map(|a| a.body)
    }

    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(key) = self.expiry.pop_due(now) {
            if self.map.get(&key).is_some_and(|a| a.expires <= now) {
                self.map.remove(&key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A complete response kept to serve further Block2 requests.
#[derive(Debug, Clone)]
pub(crate) struct CachedResponse {
    pub(crate) code: Code,
    pub(crate) options: Options,
    pub(crate) payload: Vec<u8>,
    expires: Instant,
}

/// Response bodies for Block2, bounded in total bytes.
#[derive(Debug)]
pub(crate) struct Block2Cache {
    map: HashMap<Key, CachedResponse>,
    expiry: TimerFifo<Key>,
    bytes: usize,
    max_bytes: usize,
    lifetime: Duration,
}

impl Block2Cache {
    pub(crate) fn new(max_bytes: usize, lifetime: Duration) -> Self {
        Self {
            map: HashMap::new(),
            expiry: TimerFifo::new(),
            bytes: 0,
            max_bytes,
            lifetime,
        }
    }

    pub(crate) fn insert(
        &mut self,
        now: Instant,
        key: Key,
        code: Code,
        options: Options,
        payload: Vec<u8>,
    ) {
        self.expire(now);
        self.remove(&key);
        let size = payload.len();
        if size > self.max_bytes {
            return;
        }
        while self.bytes + size > self.max_bytes {
            match self.expiry.pop_front() {
                Some((_, old)) => self.remove(&old),
                None => break,
            }
        }
        let expires = now + self.lifetime;
        self.expiry.push(expires, key);
        self.bytes += size;
        self.map.insert(
            key,
            CachedResponse {
                code,
                options,
                payload,
                expires,
            },
        );
    }

    pub(crate) fn get(&self, now: Instant, key: &Key) -> Option<&CachedResponse> {
        self.map.get(key).filter(|c| c.expires > now)
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= old.payload.len();
        }
    }

    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(key) = self.expiry.pop_due(now) {
            if self.map.get(&key).is_some_and(|c| c.expires <= now) {
                self.remove(&key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_block_and_observe_but_not_path() {
        let mut a = Options::new();
        a.push(number::URI_PATH, "x");
        let mut b = a.clone();
        b.set_uint(number::OBSERVE, 0);
        b.set(number::BLOCK2, vec![0x16]);
        assert_eq!(request_key(1, &a, None), request_key(1, &b, None));
        let mut c = a.clone();
        c.push(number::URI_PATH, "y");
        assert_ne!(request_key(1, &a, None), request_key(1, &c, None));
        assert_ne!(request_key(1, &a, None), request_key(2, &a, None));
        assert_ne!(
            request_key(5, &a, Some(b"q1")),
            request_key(5, &a, Some(b"q2"))
        );
    }

    #[test]
    fn cache_is_bounded_in_bytes() {
        let t0 = Instant::now();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut c = Block2Cache::new(100, Duration::from_secs(5));
        c.insert(
            t0,
            (peer, RequestKey(1)),
            Code::CONTENT,
            Options::new(),
            vec![0; 60],
        );
        c.insert(
            t0,
            (peer, RequestKey(2)),
            Code::CONTENT,
            Options::new(),
            vec![0; 60],
        );
        assert!(c.get(t0, &(peer, RequestKey(1))).is_none());
        assert!(c.get(t0, &(peer, RequestKey(2))).is_some());
        c.insert(
            t0,
            (peer, RequestKey(3)),
            Code::CONTENT,
            Options::new(),
            vec![0; 101],
        );
        assert!(c.get(t0, &(peer, RequestKey(3))).is_none());
        assert!(
            c.get(t0 + Duration::from_secs(5), &(peer, RequestKey(2)))
                .is_none()
        );
    }

    #[test]
    fn block1_store_renews_and_expires() {
        let t0 = Instant::now();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let key = (peer, RequestKey(9));
        let mut s = Block1Store::new(2, Duration::from_secs(5));
        s.start(t0, key, vec![1, 2]);
        let a = s.get(t0 + Duration::from_secs(4), &key).unwrap();
        a.body.push(3);
        assert_eq!(
            s.get(t0 + Duration::from_secs(8), &key).unwrap().body,
            vec![1, 2, 3]
        );
        s.expire(t0 + Duration::from_secs(20));
        assert_eq!(s.len(), 0);
    }
}
