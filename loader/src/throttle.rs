//! A ceiling on the rows a loader writes per second (issue 11 §5: the live database must keep
//! serving the application while the backfill runs). A token bucket over committed batches:
//! after a batch, the loader waits until its rows fit the rate; bursts up to one second of rows
//! pass without waiting.

use std::time::{Duration, Instant};

/// Rows-per-second budget of one loader.
#[derive(Debug, Clone)]
pub struct Throttle {
    rate: f64,
    /// Rows the bucket can still take now (negative: owed, to be waited off).
    tokens: f64,
    last: Instant,
}

impl Throttle {
    /// At most `rows_per_second` rows per second on average (bursts of one second's worth).
    pub fn new(rows_per_second: f64, now: Instant) -> Self {
        let rate = rows_per_second.max(1.0);
        Throttle {
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Accounts `rows` just written at `now`; returns how long to wait before the next batch.
    pub fn after(&mut self, rows: u64, now: Instant) -> Duration {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate) - rows as f64;
        self.last = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_rate_stays_under_the_ceiling() {
        let start = Instant::now();
        let mut t = Throttle::new(1000.0, start);
        // 10 batches of 500 rows, each written instantly after the previous wait.
        let mut now = start;
        for _ in 0..10 {
            now += t.after(500, now);
        }
        let elapsed = now.duration_since(start).as_secs_f64();
        // 5,000 rows at 1,000/s with a one-second burst: at least 4 s.
        assert!((3.99..=4.01).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn slow_batches_are_not_delayed() {
        let start = Instant::now();
        let mut t = Throttle::new(1000.0, start);
        let mut now = start;
        for _ in 0..5 {
            now += Duration::from_secs(1);
            assert_eq!(t.after(800, now), Duration::ZERO);
        }
    }
}
