//! A latency histogram with 1 µs buckets up to 100 ms, and an overflow
//! count above.

use std::time::Duration;

const BUCKETS: usize = 100_000;

/// Counts latencies in microsecond buckets.
pub struct Histogram {
    counts: Vec<u32>,
    overflow: u64,
    total: u64,
    max_us: u64,
    sum_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            overflow: 0,
            total: 0,
            max_us: 0,
            sum_us: 0,
        }
    }
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.total += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
        match self.counts.get_mut(us as usize) {
            Some(c) => *c += 1,
            None => self.overflow += 1,
        }
    }

    /// How many latencies were recorded.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The mean in microseconds.
    pub fn mean_us(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.total as f64
        }
    }

    /// The largest latency in microseconds.
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// The latency at quantile `q` (0.0 to 1.0) in microseconds: the upper
    /// edge of the bucket holding it (the maximum if in the overflow).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (us, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return us as u64 + 1;
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_us(0.5), 51);
        assert_eq!(h.quantile_us(0.99), 100);
        assert_eq!(h.max_us(), 100);
        h.record(Duration::from_secs(1));
        assert_eq!(h.quantile_us(1.0), 1_000_000);
        assert_eq!(h.count(), 101);
    }
}
