//! Fault injection for tests: drop a share of datagrams, or the datagrams
//! at given positions, on send and on receive.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Which datagrams to drop in one direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DropPolicy {
    /// Drop nothing.
    #[default]
    None,
    /// Drop each datagram with this probability (0.0 to 1.0).
    Share(f64),
    /// Drop the datagrams at these 1-based positions (counted per direction).
    List(Vec<u64>),
}

/// The faults to inject.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Datagrams to drop instead of sending.
    pub send: DropPolicy,
    /// Received datagrams to drop before processing.
    pub receive: DropPolicy,
    /// Seed for `Share` decisions, so a run can be repeated.
    pub seed: u64,
}

impl FaultConfig {
    /// Drops `share` of the datagrams in both directions.
    pub fn lossy(share: f64, seed: u64) -> Self {
        Self {
            send: DropPolicy::Share(share),
            receive: DropPolicy::Share(share),
            seed,
        }
    }
}

/// Applies a [`FaultConfig`].
#[derive(Debug)]
pub struct FaultInjector {
    config: FaultConfig,
    rng: StdRng,
    sent: u64,
    received: u64,
    dropped: u64,
}

impl FaultInjector {
    /// An injector for `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            config,
            rng,
            sent: 0,
            received: 0,
            dropped: 0,
        }
    }

    fn decide(policy: &DropPolicy, rng: &mut StdRng, position: u64) -> bool {
        match policy {
            DropPolicy::None => false,
            DropPolicy::Share(p) => rng.random::<f64>() < *p,
            DropPolicy::List(list) => list.contains(&position),
        }
    }

    /// Whether to drop the next datagram to be sent.
    pub fn drop_send(&mut self) -> bool {
        self.sent += 1;
        let d = Self::decide(&self.config.send, &mut self.rng, self.sent);
        self.dropped += u64::from(d);
        d
    }

    /// Whether to drop the next received datagram.
    pub fn drop_receive(&mut self) -> bool {
        self.received += 1;
        let d = Self::decide(&self.config.receive, &mut self.rng, self.received);
        self.dropped += u64::from(d);
        d
    }

    /// How many datagrams were dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_drops_exact_positions() {
        let mut f = FaultInjector::new(FaultConfig {
            send: DropPolicy::List(vec![2, 3]),
            ..Default::default()
        });
        let pattern: Vec<bool> = (0..4).map(|_| f.drop_send()).collect();
        assert_eq!(pattern, vec![false, true, true, false]);
        assert!(!f.drop_receive());
        assert_eq!(f.dropped(), 2);
    }

    #[test]
    fn share_is_close_and_repeatable() {
        let run = || {
            let mut f = FaultInjector::new(FaultConfig::lossy(0.3, 7));
            (0..10_000).filter(|_| f.drop_receive()).count()
        };
        let n = run();
        assert!((2700..3300).contains(&n), "{n}");
        assert_eq!(n, run());
    }
}
