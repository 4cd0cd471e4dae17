//! Sender ID allocation (RFC 10021 sections 2.2 and 12.2.1; Group OSCORE
//! profile section 6.2).
//!
//! Rules: a Sender ID is never assigned twice under the same Gid, nor one
//! that was in use when the Gid started; a member that re-joins or asks for
//! a new Sender ID gets a new one and the old one becomes stale. A new Gid
//! (rekeying) frees every Sender ID not held by a current member.
//!
//! Allocation order: the identifier space is enumerated by length, then by
//! value (`00`..`ff`, then `0000`..`ffff`, ...) up to the group's
//! `max_sender_id_len`; a cursor walks it, skipping identifiers issued under
//! the current Gid, and starts again at the beginning when the Gid changes.
//! So the first members get one-byte identifiers, and an allocation costs
//! amortised constant time. The empty Sender ID is never handed out.

use std::collections::HashSet;

/// The Sender IDs issued under the current Gid, and the next candidate.
#[derive(Debug, Clone)]
pub struct SenderIdAllocator {
    max_len: u8,
    issued: HashSet<Vec<u8>>,
    cursor: u64,
}

/// Number of identifiers of 1 to `max_len` bytes.
fn capacity(max_len: u8) -> u64 {
    (1..=u32::from(max_len.min(7)))
        .map(|l| 1u64 << (8 * l))
        .sum()
}

/// The identifier at position `index` of the enumeration.
fn id_at(index: u64) -> Vec<u8> {
    let mut rest = index;
    let mut len = 1u32;
    loop {
        let size = 1u64 << (8 * len);
        if rest < size || len == 8 {
            let bytes = rest.to_be_bytes();
            return bytes[8 - len as usize..].to_vec();
        }
        rest -= size;
        len += 1;
    }
}

impl SenderIdAllocator {
    /// An allocator for a new Gid, at whose start `in_use` are held by
    /// members.
    pub fn new(max_len: u8, in_use: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self {
            max_len,
            issued: in_use.into_iter().collect(),
            cursor: 0,
        }
    }

    /// Starts a new Gid: only `in_use` (the current members' Sender IDs)
    /// stay issued.
    pub fn new_gid(&mut self, in_use: impl IntoIterator<Item = Vec<u8>>) {
        self.issued = in_use.into_iter().collect();
        self.cursor = 0;
    }

    /// Records that `id` was issued under the current Gid (when restoring
    /// from storage, or when an identifier becomes stale).
    pub fn mark_issued(&mut self, id: Vec<u8>) {
        self.issued.insert(id);
    }

    /// Whether `id` was issued under the current Gid.
    pub fn is_issued(&self, id: &[u8]) -> bool {
        self.issued.contains(id)
    }

    /// The identifier [`SenderIdAllocator::allocate`] would return, without
    /// taking it.
    pub fn peek(&self) -> Option<Vec<u8>> {
        let cap = capacity(self.max_len);
        (self.cursor..cap)
            .map(id_at)
            .find(|id| !self.issued.contains(id))
    }

    /// A Sender ID never issued under the current Gid, or `None` when the
    /// space is exhausted (5.03 with error id 4, Group OSCORE profile
    /// section 6.2).
    pub fn allocate(&mut self) -> Option<Vec<u8>> {
        let cap = capacity(self.max_len);
        while self.cursor < cap {
            let id = id_at(self.cursor);
            self.cursor += 1;
            if self.issued.insert(id.clone()) {
                return Some(id);
            }
        }
        None
    }

    /// How many more identifiers a new Gid whose start holds `in_use`
    /// identifiers could hand out.
    pub fn capacity_after_new_gid(&self, in_use: usize) -> u64 {
        capacity(self.max_len).saturating_sub(in_use as u64)
    }

    /// Number of identifiers issued under the current Gid.
    pub fn issued_count(&self) -> usize {
        self.issued.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumeration_by_length_then_value() {
        assert_eq!(id_at(0), [0x00]);
        assert_eq!(id_at(255), [0xff]);
        assert_eq!(id_at(256), [0x00, 0x00]);
        assert_eq!(id_at(256 + 0x1234), [0x12, 0x34]);
        assert_eq!(capacity(1), 256);
        assert_eq!(capacity(2), 256 + 65536);
    }

    #[test]
    fn never_reissued_under_one_gid() {
        let mut a = SenderIdAllocator::new(1, [vec![0x00], vec![0x02]]);
        assert_eq!(a.allocate(), Some(vec![0x01]));
        assert_eq!(a.peek(), Some(vec![0x03]));
        assert_eq!(a.allocate(), Some(vec![0x03]));
        let mut seen: HashSet<Vec<u8>> = [vec![0], vec![1], vec![2], vec![3]].into();
        while let Some(id) = a.allocate() {
            assert!(seen.insert(id));
        }
        assert_eq!(seen.len(), 256);
        assert_eq!(a.peek(), None);
        // A new Gid frees what current members do not hold.
        a.new_gid([vec![0x01]]);
        assert_eq!(a.allocate(), Some(vec![0x00]));
        assert_eq!(a.allocate(), Some(vec![0x02]));
        assert_eq!(a.capacity_after_new_gid(10), 246);
    }

    #[test]
    fn marked_identifiers_are_skipped() {
        let mut a = SenderIdAllocator::new(2, []);
        a.mark_issued(vec![0x00]);
        assert!(a.is_issued(&[0x00]));
        assert_eq!(a.allocate(), Some(vec![0x01]));
        assert_eq!(a.issued_count(), 2);
    }
}
