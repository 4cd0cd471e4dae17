//! The Sender Sequence Number and its persistence (RFC 8613 sections 3.2.2,
//! 7.2 and Appendix B.1.1).
//!
//! A number is never used twice with the same Sender Key. Instead of writing
//! every number to stable storage, the sender *reserves* numbers ahead in
//! blocks of `K`: before handing out a number at or past the reserved mark,
//! it asks its [`SequenceStore`] to durably record a new mark `K` further.
//! After a restart the sender resumes at the last recorded mark, skipping at
//! most `K - 1` numbers and never repeating one. This is the B.1.1 procedure
//! with the write made before use, so its margin `F` is zero; a store that
//! cannot make its write durable before returning should add its own margin
//! to the value passed to [`SenderSequence::resume`].
//!
//! The largest number is 2^40 - 1 (section 7.2.1); after it the Sender
//! Context MUST NOT be used, and [`SenderSequence::next_number`] reports
//! [`SequenceError::Exhausted`].

use std::fmt;

/// The largest Sender Sequence Number (RFC 8613 section 7.2.1).
pub const MAX_SEQUENCE_NUMBER: u64 = (1 << 40) - 1;

/// The default reservation block size `K`.
pub const DEFAULT_RESERVATION: u64 = 256;

/// Why no sequence number could be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// The number space is used up; a new security context is needed.
    #[error("sender sequence number space exhausted")]
    Exhausted,
    /// The store could not record the next reservation; no number is
    /// handed out (none may be used that was not reserved).
    #[error("sequence number reservation failed: {0}")]
    Store(String),
}

/// Durable storage of the reserved mark.
pub trait SequenceStore: Send {
    /// Durably records that every number below `mark` may have been used.
    /// Must not return `Ok` before the value would survive a restart.
    fn reserve(&mut self, mark: u64) -> Result<(), String>;
}

/// A store that records nothing, for contexts that never outlive the
/// process (e.g. RFC 9203 contexts, re-derived with fresh nonces after a
/// restart, or static test groups).
#[derive(Debug, Clone, Copy, Default)]
pub struct Volatile;

impl SequenceStore for Volatile {
    fn reserve(&mut self, _mark: u64) -> Result<(), String> {
        Ok(())
    }
}

impl<F: FnMut(u64) -> Result<(), String> + Send> SequenceStore for F {
    fn reserve(&mut self, mark: u64) -> Result<(), String> {
        self(mark)
    }
}

/// The Sender Sequence Number of a Sender Context.
pub struct SenderSequence {
    next: u64,
    reserved: u64,
    block: u64,
    store: Box<dyn SequenceStore>,
}

impl fmt::Debug for SenderSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderSequence")
            .field("next", &self.next)
            .field("reserved", &self.reserved)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

impl Default for SenderSequence {
    fn default() -> Self {
        Self::volatile()
    }
}

impl SenderSequence {
    /// A new sequence starting at 0 (RFC 8613 section 3.2.2), reserving
    /// `block` numbers at a time in `store`.
    pub fn new(store: Box<dyn SequenceStore>, block: u64) -> Self {
        Self::resume(0, store, block)
    }

    /// A sequence resumed after a restart at the last mark recorded in the
    /// store (every number below `mark` is considered used).
    pub fn resume(mark: u64, store: Box<dyn SequenceStore>, block: u64) -> Self {
        Self {
            next: mark,
            reserved: mark,
            block: block.max(1),
            store,
        }
    }

    /// A sequence starting at 0 that persists nothing.
    pub fn volatile() -> Self {
        Self::new(Box::new(Volatile), u64::MAX)
    }

    /// The number the next call to [`SenderSequence::next_number`] hands out.
    pub fn peek(&self) -> u64 {
        self.next
    }

    /// Hands out the next number, reserving a new block first when needed.
    pub fn next_number(&mut self) -> Result<u64, SequenceError> {
        let seq = self.next;
        if seq > MAX_SEQUENCE_NUMBER {
            return Err(SequenceError::Exhausted);
        }
        if seq >= self.reserved {
            let mark = seq.saturating_add(self.block).min(MAX_SEQUENCE_NUMBER + 1);
            self.store.reserve(mark).map_err(SequenceError::Store)?;
            self.reserved = mark;
        }
        self.next = seq + 1;
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn recording() -> (Arc<Mutex<Vec<u64>>>, Box<dyn SequenceStore>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let store = move |mark: u64| {
            l.lock().unwrap().push(mark);
            Ok(())
        };
        (log, Box::new(store))
    }

    #[test]
    fn reserves_in_blocks_and_resumes_past_the_mark() {
        let (log, store) = recording();
        let mut s = SenderSequence::new(store, 10);
        for expect in 0..25 {
            assert_eq!(s.next_number().unwrap(), expect);
        }
        assert_eq!(*log.lock().unwrap(), vec![10, 20, 30]);
        // Restart: resume at the last durable mark; numbers 25..29 are skipped,
        // none repeated.
        let mark = *log.lock().unwrap().last().unwrap();
        let (log2, store2) = recording();
        let mut s = SenderSequence::resume(mark, store2, 10);
        assert_eq!(s.next_number().unwrap(), 30);
        assert_eq!(*log2.lock().unwrap(), vec![40]);
    }

    #[test]
    fn store_failure_hands_out_nothing() {
        let mut fail_next = false;
        let store = move |_m: u64| {
            if fail_next {
                Err("disk full".to_string())
            } else {
                fail_next = true;
                Ok(())
            }
        };
        let mut s = SenderSequence::new(Box::new(store), 2);
        assert_eq!(s.next_number().unwrap(), 0);
        assert_eq!(s.next_number().unwrap(), 1);
        assert_eq!(
            s.next_number(),
            Err(SequenceError::Store("disk full".into()))
        );
        assert_eq!(s.peek(), 2);
    }

    #[test]
    fn exhaustion_at_2_pow_40_minus_1() {
        let (log, store) = recording();
        let mut s = SenderSequence::resume(MAX_SEQUENCE_NUMBER - 1, store, 1000);
        assert_eq!(s.next_number().unwrap(), MAX_SEQUENCE_NUMBER - 1);
        assert_eq!(s.next_number().unwrap(), MAX_SEQUENCE_NUMBER);
        assert_eq!(s.next_number(), Err(SequenceError::Exhausted));
        assert_eq!(s.next_number(), Err(SequenceError::Exhausted));
        assert_eq!(*log.lock().unwrap(), vec![MAX_SEQUENCE_NUMBER + 1]);
    }
}
