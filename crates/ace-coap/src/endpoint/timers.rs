//! Deadlines of the endpoint: a heap for timers of varying duration and
//! FIFO queues for timers that all have the same duration (a FIFO is a
//! priority queue when insertion order is deadline order, and costs O(1)).
//!
//! Entries are never removed early: a timer whose subject has gone away is
//! recognised as stale when it fires (quinn's `TimerTable` re-arms; here the
//! subjects carry a generation or the owner checks its own state).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// A min-heap of `(deadline, value)`, ties broken by insertion order.
#[derive(Debug)]
pub(crate) struct TimerHeap<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    seq: u64,
    value: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the earliest first.
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<T> TimerHeap<T> {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub(crate) fn push(&mut self, at: Instant, value: T) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            value,
        });
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.heap.peek().is_some_and(|e| e.at <= now) {
            self.heap.pop().map(|e| e.value)
        } else {
            None
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// A FIFO of deadlines pushed in non-decreasing order.
#[derive(Debug)]
pub(crate) struct TimerFifo<T> {
    queue: VecDeque<(Instant, T)>,
}

impl<T> TimerFifo<T> {
    pub(crate) fn new() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }

    /// Appends a deadline. Deadlines must not decrease; a smaller one is
    /// raised to the last one so that order holds (it then fires a little
    /// late, never early).
    pub(crate) fn push(&mut self, at: Instant, value: T) {
        let at = match self.queue.back() {
            Some((last, _)) if *last > at => *last,
            _ => at,
        };
        self.queue.push_back((at, value));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _)| *at)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.queue.front().is_some_and(|(at, _)| *at <= now) {
            self.queue.pop_front().map(|(_, v)| v)
        } else {
            None
        }
    }

    /// Removes the oldest entry regardless of its deadline.
    pub(crate) fn pop_front(&mut self) -> Option<(Instant, T)> {
        self.queue.pop_front()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heap_pops_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let mut h = TimerHeap::new();
        h.push(t0 + Duration::from_millis(30), "c");
        h.push(t0 + Duration::from_millis(10), "a");
        h.push(t0 + Duration::from_millis(10), "b");
        assert_eq!(h.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(h.pop_due(t0), None);
        let now = t0 + Duration::from_millis(20);
        assert_eq!(h.pop_due(now), Some("a"));
        assert_eq!(h.pop_due(now), Some("b"));
        assert_eq!(h.pop_due(now), None);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn fifo_never_fires_early() {
        let t0 = Instant::now();
        let mut f = TimerFifo::new();
        f.push(t0 + Duration::from_millis(20), 1);
        f.push(t0 + Duration::from_millis(10), 2);
        assert_eq!(f.pop_due(t0 + Duration::from_millis(15)), None);
        assert_eq!(f.pop_due(t0 + Duration::from_millis(20)), Some(1));
        assert_eq!(f.pop_due(t0 + Duration::from_millis(20)), Some(2));
        assert!(f.is_empty());
        assert_eq!(
            earliest([None, Some(t0), Some(t0 + Duration::from_secs(1))]),
            Some(t0)
        );
    }
}
