//! The sliding replay window of a Recipient Context (RFC 8613 sections 3.2.2
//! and 7.4): the anti-replay window of RFC 6347 section 4.1.2.6, of a
//! configurable size (32 by default, any size from 32 up).
//!
//! A window is either *valid* or *invalid*. A valid window has a lower
//! limit below which every sequence number is refused, and remembers which
//! of the `size` numbers ending at the highest one accepted were seen. An
//! invalid window (after the replay state was lost, RFC 8613 Appendix
//! B.1.2, or for a Recipient Context created after another was deleted, RFC
//! 10021 section 2.6.1.2) accepts nothing until it is initialized from a
//! request whose freshness was proven with Echo.
//!
//! Checking and updating are separate so that the update happens only after
//! successful decryption (RFC 8613 section 8.2 step 6); both take `&mut`
//! access to the context, which makes the pair atomic (section 7.4).
//!
//! A valid window can be saved as a [`WindowState`] and restored after a
//! restart ([`ReplayWindow::state`], [`ReplayWindow::from_state`]): RFC
//! 8613 Appendix B.1.2 lets a server that kept its replay window in
//! persistent storage go on accepting requests without an Echo round trip.
//! The saved state is only as good as its freshness: it must be the state
//! after the last request accepted, so save it once the endpoint stopped
//! processing messages, and discard it (use an invalid window) when that
//! cannot be guaranteed.

/// The default window size (RFC 8613 section 3.2.2).
pub const DEFAULT_WINDOW_SIZE: u32 = 32;

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The number was accepted before.
    #[error("sequence number {0} already received")]
    Replayed(u64),
    /// The number is below the window: it cannot be told apart from a replay.
    #[error("sequence number {0} is older than the replay window")]
    TooOld(u64),
    /// The window is invalid; freshness must be established first.
    #[error("replay window not initialized")]
    Uninitialized,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Valid {
    /// Numbers below this are refused.
    lower: u64,
    /// The highest number accepted so far, if any.
    highest: Option<u64>,
    /// Bit `i` of the little-endian word vector: `highest - i` was seen.
    seen: Vec<u64>,
}

/// The saved state of a valid replay window (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    /// The window size (32 or more).
    pub size: u32,
    /// Sequence numbers below this are refused.
    pub lower: u64,
    /// The highest sequence number accepted, if any.
    pub highest: Option<u64>,
    /// Which of the `size` numbers ending at `highest` were received: bit
    /// `i` of this little-endian vector of words is `highest - i`; exactly
    /// `size.div_ceil(64)` words.
    pub seen: Vec<u64>,
}

/// Why a [`WindowState`] cannot be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowStateError {
    /// The saved window has another size than the context's.
    #[error("saved replay window of size {saved}, the context uses {expected}")]
    SizeMismatch {
        /// The saved size.
        saved: u32,
        /// The context's size.
        expected: u32,
    },
    /// The bitmap does not have `size.div_ceil(64)` words.
    #[error("saved replay window bitmap of {0} words does not fit its size")]
    BitmapLength(usize),
    /// The lower limit is above the highest number accepted.
    #[error("saved replay window has its lower limit above the highest number")]
    LowerAboveHighest,
    /// Numbers are marked received although none was accepted, or beyond
    /// the window.
    #[error("saved replay window marks numbers it cannot have received")]
    StrayBits,
}

/// A replay window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    size: u32,
    state: Option<Valid>,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_SIZE)
    }
}

impl ReplayWindow {
    /// A valid, empty window with lower limit 0 (RFC 8613 section 3.2.2).
    /// Sizes below 32 are raised to 32.
    pub fn new(size: u32) -> Self {
        let size = size.max(DEFAULT_WINDOW_SIZE);
        Self {
            size,
            state: Some(Valid {
                lower: 0,
                highest: None,
                seen: vec![0; size.div_ceil(64) as usize],
            }),
        }
    }

    /// An invalid window, to be initialized through Echo (RFC 8613
    /// Appendix B.1.2, RFC 10021 section 2.6.1.2).
    pub fn invalid(size: u32) -> Self {
        Self {
            size: size.max(DEFAULT_WINDOW_SIZE),
            state: None,
        }
    }

    /// The window size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether the window is valid.
    pub fn is_valid(&self) -> bool {
        self.state.is_some()
    }

    /// The highest sequence number accepted so far (for Observe, the
    /// Notification Number of RFC 8613 section 4.1.3.5.2).
    pub fn highest(&self) -> Option<u64> {
        self.state.as_ref().and_then(|s| s.highest)
    }

    /// Checks `seq` without recording it.
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        let s = self.state.as_ref().ok_or(ReplayError::Uninitialized)?;
        if seq < s.lower {
            return Err(ReplayError::TooOld(seq));
        }
        let Some(highest) = s.highest else {
            return Ok(());
        };
        if seq > highest {
            return Ok(());
        }
        let back = highest - seq;
        if back >= u64::from(self.size) {
            return Err(ReplayError::TooOld(seq));
        }
        if bit(&s.seen, back as usize) {
            Err(ReplayError::Replayed(seq))
        } else {
            Ok(())
        }
    }

    /// Records `seq` as received. Call only after [`ReplayWindow::check`]
    /// accepted it and the message was verified.
    pub fn accept(&mut self, seq: u64) {
        let size = self.size;
        let Some(s) = self.state.as_mut() else {
            return;
        };
        match s.highest {
            Some(highest) if seq <= highest => {
                let back = highest - seq;
                if back < u64::from(size) {
                    set_bit(&mut s.seen, back as usize);
                }
            }
            Some(highest) => {
                shift(&mut s.seen, seq - highest);
                set_bit(&mut s.seen, 0);
                s.highest = Some(seq);
            }
            None => {
                set_bit(&mut s.seen, 0);
                s.highest = Some(seq);
            }
        }
        if let Some(h) = s.highest {
            s.lower = s.lower.max((h + 1).saturating_sub(u64::from(size)));
        }
    }

    /// Makes an invalid window valid from a request proven fresh: `seq` is
    /// marked received and becomes the lower limit (RFC 8613 Appendix B.1.2,
    /// RFC 10021 section 9).
    pub fn initialize_from(&mut self, seq: u64) {
        let mut seen = vec![0; self.size.div_ceil(64) as usize];
        set_bit(&mut seen, 0);
        self.state = Some(Valid {
            lower: seq,
            highest: Some(seq),
            seen,
        });
    }

    /// Makes the window invalid (the replay state is considered lost).
    pub fn invalidate(&mut self) {
        self.state = None;
    }

    /// The state of a valid window, to save it (none for an invalid one).
    pub fn state(&self) -> Option<WindowState> {
        self.state.as_ref().map(|s| WindowState {
            size: self.size,
            lower: s.lower,
            highest: s.highest,
            seen: s.seen.clone(),
        })
    }

    /// A valid window from a saved `state`, for a context whose window size
    /// is `size` (raised to 32 as in [`ReplayWindow::new`]). The state is
    /// checked: it must be one a window of that size can be in.
    pub fn from_state(size: u32, state: &WindowState) -> Result<Self, WindowStateError> {
        let size = size.max(DEFAULT_WINDOW_SIZE);
        if state.size != size {
            return Err(WindowStateError::SizeMismatch {
                saved: state.size,
                expected: size,
            });
        }
        let words = size.div_ceil(64) as usize;
        if state.seen.len() != words {
            return Err(WindowStateError::BitmapLength(state.seen.len()));
        }
        match state.highest {
            None if state.seen.iter().any(|w| *w != 0) => {
                return Err(WindowStateError::StrayBits);
            }
            Some(h) if state.lower > h => return Err(WindowStateError::LowerAboveHighest),
            _ => {}
        }
        // No bit at or beyond `size` (the last word may be partly used).
        let used = size as usize - (words - 1) * 64;
        if used < 64 && state.seen[words - 1] >> used != 0 {
            return Err(WindowStateError::StrayBits);
        }
        Ok(Self {
            size,
            state: Some(Valid {
                lower: state.lower,
                highest: state.highest,
                seen: state.seen.clone(),
            }),
        })
    }
}

fn bit(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

fn set_bit(words: &mut [u64], i: usize) {
    if let Some(w) = words.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

/// Shifts the bitmap towards higher indices by `n` (older entries age out).
fn shift(words: &mut [u64], n: u64) {
    let total = words.len() as u64 * 64;
    if n >= total {
        words.fill(0);
        return;
    }
    let word_shift = (n / 64) as usize;
    let bit_shift = (n % 64) as u32;
    for i in (0..words.len()).rev() {
        let src = i.checked_sub(word_shift);
        let hi = src.map_or(0, |s| words[s]);
        let lo = src.and_then(|s| s.checked_sub(1)).map_or(0, |s| words[s]);
        words[i] = if bit_shift == 0 {
            hi
        } else {
            (hi << bit_shift) | (lo >> (64 - bit_shift))
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &mut ReplayWindow, seq: u64) -> Result<(), ReplayError> {
        w.check(seq)?;
        w.accept(seq);
        Ok(())
    }

    #[test]
    fn fresh_window_accepts_each_number_once() {
        let mut w = ReplayWindow::default();
        assert_eq!(take(&mut w, 5), Ok(()));
        assert_eq!(take(&mut w, 5), Err(ReplayError::Replayed(5)));
        assert_eq!(take(&mut w, 3), Ok(()));
        assert_eq!(take(&mut w, 0), Ok(()));
        assert_eq!(take(&mut w, 3), Err(ReplayError::Replayed(3)));
        assert_eq!(w.highest(), Some(5));
    }

    #[test]
    fn numbers_falling_out_of_the_window_are_refused() {
        let mut w = ReplayWindow::new(32);
        take(&mut w, 100).unwrap();
        assert_eq!(take(&mut w, 69), Ok(()));
        assert_eq!(w.check(68), Err(ReplayError::TooOld(68)));
        take(&mut w, 1_000_000).unwrap();
        assert_eq!(w.check(999_968), Err(ReplayError::TooOld(999_968)));
        assert_eq!(take(&mut w, 999_969), Ok(()));
        assert_eq!(take(&mut w, 999_969), Err(ReplayError::Replayed(999_969)));
    }

    #[test]
    fn large_windows_shift_across_words() {
        let mut w = ReplayWindow::new(200);
        for s in 0..150 {
            take(&mut w, s).unwrap();
        }
        take(&mut w, 250).unwrap();
        // 250 - 199 = 51 is the oldest number still in the window.
        assert_eq!(w.check(50), Err(ReplayError::TooOld(50)));
        assert_eq!(w.check(51), Err(ReplayError::Replayed(51)));
        assert_eq!(w.check(149), Err(ReplayError::Replayed(149)));
        assert_eq!(w.check(150), Ok(()));
        take(&mut w, 317).unwrap(); // shift by 67 (one word plus 3 bits)
        assert_eq!(w.check(149), Err(ReplayError::Replayed(149)));
        assert_eq!(w.check(118), Err(ReplayError::Replayed(118)));
        assert_eq!(w.check(117), Err(ReplayError::TooOld(117)));
        assert_eq!(w.check(250), Err(ReplayError::Replayed(250)));
        assert_eq!(w.check(251), Ok(()));
    }

    #[test]
    fn invalid_window_needs_initialization() {
        let mut w = ReplayWindow::invalid(32);
        assert_eq!(w.check(7), Err(ReplayError::Uninitialized));
        w.accept(7); // ignored while invalid
        assert!(!w.is_valid());
        w.initialize_from(7);
        assert_eq!(w.check(7), Err(ReplayError::Replayed(7)));
        assert_eq!(w.check(6), Err(ReplayError::TooOld(6)));
        assert_eq!(take(&mut w, 8), Ok(()));
        w.invalidate();
        assert_eq!(w.check(9), Err(ReplayError::Uninitialized));
    }

    #[test]
    fn a_saved_window_refuses_what_it_refused_and_accepts_the_rest() {
        let mut w = ReplayWindow::new(100);
        for s in [3, 7, 8, 120, 150] {
            take(&mut w, s).unwrap();
        }
        let saved = w.state().unwrap();
        assert_eq!(saved.size, 100);
        let mut restored = ReplayWindow::from_state(100, &saved).unwrap();
        assert_eq!(restored, w);
        assert_eq!(restored.check(150), Err(ReplayError::Replayed(150)));
        assert_eq!(restored.check(120), Err(ReplayError::Replayed(120)));
        assert_eq!(restored.check(50), Err(ReplayError::TooOld(50)));
        assert_eq!(take(&mut restored, 149), Ok(()));
        assert_eq!(take(&mut restored, 151), Ok(()));
        // An empty window round-trips too; an invalid one has no state.
        let empty = ReplayWindow::new(32);
        assert_eq!(
            ReplayWindow::from_state(32, &empty.state().unwrap()).unwrap(),
            empty
        );
        assert_eq!(ReplayWindow::invalid(32).state(), None);
    }

    #[test]
    fn inconsistent_saved_windows_are_refused() {
        let mut w = ReplayWindow::new(32);
        take(&mut w, 40).unwrap();
        let good = w.state().unwrap();
        assert_eq!(
            ReplayWindow::from_state(64, &good),
            Err(WindowStateError::SizeMismatch {
                saved: 32,
                expected: 64
            })
        );
        let mut bad = good.clone();
        bad.seen.push(0);
        assert_eq!(
            ReplayWindow::from_state(32, &bad),
            Err(WindowStateError::BitmapLength(2))
        );
        let mut bad = good.clone();
        bad.lower = 41;
        assert_eq!(
            ReplayWindow::from_state(32, &bad),
            Err(WindowStateError::LowerAboveHighest)
        );
        let mut bad = good.clone();
        bad.seen[0] |= 1 << 40; // beyond a 32-number window
        assert_eq!(
            ReplayWindow::from_state(32, &bad),
            Err(WindowStateError::StrayBits)
        );
        let bad = WindowState {
            size: 32,
            lower: 0,
            highest: None,
            seen: vec![1],
        };
        assert_eq!(
            ReplayWindow::from_state(32, &bad),
            Err(WindowStateError::StrayBits)
        );
        // Sizes below 32 were raised when the window was made.
        assert!(ReplayWindow::from_state(8, &good).is_ok());
    }

    #[test]
    fn small_sizes_are_raised_to_32() {
        assert_eq!(ReplayWindow::new(4).size(), 32);
    }
}
