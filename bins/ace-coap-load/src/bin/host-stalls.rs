//! `host-stalls`: how often this machine takes a CPU away from a running
//! thread, and for how long.
//!
//! One thread per CPU (or `--threads`) reads the monotonic clock in a tight
//! loop for `--seconds`; any gap between two readings is time the thread did
//! not run: an interrupt, another task, or, on a virtual machine, the host
//! not running the virtual CPU. A latency percentile measured on the same
//! machine cannot be better than what these gaps allow: a p99 under 1 ms
//! needs the gaps of 1 ms or more to cover well under 1 % of the time while
//! the server and the load generator both run.
//!
//! It sends nothing and stops by itself (at most 60 s).

use anyhow::bail;
use clap::Parser;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "host-stalls",
    version,
    about = "Measures how often and how long the CPUs of this machine stop running a busy thread"
)]
struct Args {
    /// Seconds to measure; at most 60.
    #[arg(short, long, default_value_t = 5.0)]
    seconds: f64,
    /// Busy threads (default: one per CPU, so that every CPU is busy, as
    /// under a load test).
    #[arg(short, long)]
    threads: Option<usize>,
}

/// The smallest gap counted as a stall: well above the cost of reading the
/// clock (tens of nanoseconds) and of a timer interrupt (a few µs).
const MIN_STALL: Duration = Duration::from_micros(50);

/// Gaps of one thread, bucketed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Stalls {
    /// Gaps of at least [`MIN_STALL`].
    count: u64,
    /// Gaps of at least 200 µs, 1 ms and 3 ms.
    over_200us: u64,
    over_1ms: u64,
    over_3ms: u64,
    /// Sum of the gaps of at least [`MIN_STALL`].
    stalled: Duration,
    /// Sum of the gaps of at least 1 ms.
    stalled_over_1ms: Duration,
    /// The longest gap.
    longest: Duration,
}

impl Stalls {
    /// Records the gap between two consecutive clock readings.
    fn record(&mut self, gap: Duration) {
        if gap < MIN_STALL {
            return;
        }
        self.count += 1;
        self.stalled += gap;
        self.longest = self.longest.max(gap);
        if gap >= Duration::from_micros(200) {
            self.over_200us += 1;
        }
        if gap >= Duration::from_millis(1) {
            self.over_1ms += 1;
            self.stalled_over_1ms += gap;
        }
        if gap >= Duration::from_millis(3) {
            self.over_3ms += 1;
        }
    }

    /// Adds another thread's figures (counts and sums add, the longest gap
    /// is the longest of both).
    fn merge(&mut self, other: &Stalls) {
        self.count += other.count;
        self.over_200us += other.over_200us;
        self.over_1ms += other.over_1ms;
        self.over_3ms += other.over_3ms;
        self.stalled += other.stalled;
        self.stalled_over_1ms += other.stalled_over_1ms;
        self.longest = self.longest.max(other.longest);
    }
}

/// Spins until `end`, recording every gap between clock readings.
fn spin_until(end: Instant) -> Stalls {
    let mut stalls = Stalls::default();
    let mut last = Instant::now();
    while last < end {
        let now = Instant::now();
        stalls.record(now - last);
        last = now;
    }
    stalls
}

/// Share of `window` (per thread) that `part` is, in percent.
fn percent(part: Duration, window: Duration, threads: usize) -> f64 {
    100.0 * part.as_secs_f64() / (window.as_secs_f64() * threads as f64)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.seconds > 0.0 && args.seconds <= 60.0) {
        bail!("--seconds must be in (0, 60]");
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cpus);
    if threads == 0 || threads > 256 {
        bail!("--threads must be 1 to 256");
    }
    let window = Duration::from_secs_f64(args.seconds);
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                spin_until(Instant::now() + window)
            })
        })
        .collect();
    let mut total = Stalls::default();
    for (i, h) in handles.into_iter().enumerate() {
        let Ok(s) = h.join() else {
            bail!("probe thread {i} panicked");
        };
        println!(
            "thread {i}: {} gaps >= 50 us ({} >= 200 us, {} >= 1 ms, {} >= 3 ms), longest {} us, stalled {:.2} % of the time",
            s.count,
            s.over_200us,
            s.over_1ms,
            s.over_3ms,
            s.longest.as_micros(),
            percent(s.stalled, window, 1),
        );
        total.merge(&s);
    }
    println!(
        "host stalls: {threads} busy thread(s) on {cpus} CPU(s) for {:.1} s: {} gaps >= 1 ms ({} >= 3 ms), longest {} us; gaps >= 1 ms {:.2} % of the time, gaps >= 50 us {:.2} %",
        window.as_secs_f64(),
        total.over_1ms,
        total.over_3ms,
        total.longest.as_micros(),
        percent(total.stalled_over_1ms, window, threads),
        percent(total.stalled, window, threads),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn gaps_are_bucketed_at_their_thresholds() {
        let mut s = Stalls::default();
        for gap in [
            us(0),
            us(49),
            us(50),
            us(199),
            us(200),
            us(999),
            us(1000),
            us(2999),
            us(3000),
        ] {
            s.record(gap);
        }
        assert_eq!(s.count, 7);
        assert_eq!(s.over_200us, 5);
        assert_eq!(s.over_1ms, 3);
        assert_eq!(s.over_3ms, 1);
        assert_eq!(s.stalled, us(50 + 199 + 200 + 999 + 1000 + 2999 + 3000));
        assert_eq!(s.stalled_over_1ms, us(1000 + 2999 + 3000));
        assert_eq!(s.longest, us(3000));
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_longest_gap() {
        let mut a = Stalls::default();
        a.record(us(1500));
        let mut b = Stalls::default();
        b.record(us(60));
        b.record(us(4000));
        a.merge(&b);
        assert_eq!((a.count, a.over_1ms, a.over_3ms), (3, 2, 1));
        assert_eq!(a.stalled, us(5560));
        assert_eq!(a.stalled_over_1ms, us(5500));
        assert_eq!(a.longest, us(4000));
    }

    #[test]
    fn percent_is_per_thread_time() {
        assert_eq!(
            percent(Duration::from_millis(20), Duration::from_secs(1), 2),
            1.0
        );
    }

    #[test]
    fn a_short_spin_ends_on_time() {
        let start = Instant::now();
        let s = spin_until(start + Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(s.stalled <= start.elapsed());
    }
}
