//! Stale Sender ID sets (Group OSCORE profile section 11).
//!
//! The set of version `v` holds the Sender IDs that became stale while `v`
//! was the current version: those of members that left or were evicted,
//! and the old identifiers of members that re-joined or obtained a new
//! Sender ID. When the group is rekeyed to `v + 1`, the set of `v` is the
//! `stale_node_ids` of the rekeying message. The KDC keeps the sets of the
//! `max_stale_sets` newest versions (the current one included), so a member
//! at version `V` that missed rekeyings up to the current `V'` can ask for
//! the union of the sets `V ..= V'` (FETCH `/stale-sids`) as long as
//! `V' - V + 1 <= max_stale_sets`.

use std::collections::BTreeMap;

/// The stale sets of one group.
#[derive(Debug, Clone, Default)]
pub struct StaleSets {
    max: u32,
    sets: BTreeMap<u64, Vec<Vec<u8>>>,
}

impl StaleSets {
    /// Sets for a group keeping `max` of them.
    pub fn new(max: u32) -> Self {
        Self {
            max: max.max(1),
            sets: BTreeMap::new(),
        }
    }

    /// The oldest version whose set is still kept when `current` is the
    /// current version.
    pub fn floor(&self, current: u64) -> u64 {
        current.saturating_sub(u64::from(self.max) - 1)
    }

    /// Adds `id` to the set of version `version`.
    pub fn add(&mut self, version: u64, id: Vec<u8>) {
        let set = self.sets.entry(version).or_default();
        if !set.contains(&id) {
            set.push(id);
        }
    }

    /// The set of version `version` (empty if none became stale).
    pub fn set(&self, version: u64) -> &[Vec<u8>] {
        self.sets.get(&version).map_or(&[], Vec::as_slice)
    }

    /// Forgets the sets older than what version `current` keeps; returns
    /// the floor, below which storage may delete.
    pub fn trim(&mut self, current: u64) -> u64 {
        let floor = self.floor(current);
        self.sets = self.sets.split_off(&floor);
        floor
    }

    /// The answer to FETCH `/stale-sids` with version `v` when `current` is
    /// the current version: the union of the sets `v ..= current`, or
    /// `None` when some of them are no longer kept. The caller refuses
    /// `v >= current` first (4.00).
    pub fn since(&self, v: u64, current: u64) -> Option<Vec<Vec<u8>>> {
        if v < self.floor(current) {
            return None;
        }
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (_, set) in self.sets.range(v..=current) {
            for id in set {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
        }
        Some(out)
    }

    /// Every kept set, by version (for `group show`).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[Vec<u8>])> {
        self.sets.iter().map(|(v, s)| (*v, s.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_the_newest_sets() {
        let mut s = StaleSets::new(3);
        s.add(0, vec![1]);
        s.add(1, vec![2]);
        s.add(1, vec![2]);
        s.add(2, vec![3]);
        assert_eq!(s.set(1), [vec![2]]);
        assert_eq!(s.since(0, 2), Some(vec![vec![1], vec![2], vec![3]]));
        assert_eq!(s.since(1, 2), Some(vec![vec![2], vec![3]]));
        s.add(3, vec![4]);
        assert_eq!(s.trim(3), 1);
        // Version 0's set is gone: a member at 0 cannot be helped.
        assert_eq!(s.since(0, 3), None);
        assert_eq!(s.since(1, 3), Some(vec![vec![2], vec![3], vec![4]]));
        assert!(s.set(0).is_empty());
    }
}
