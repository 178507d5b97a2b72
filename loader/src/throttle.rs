//! A ceiling on the rows a loader writes per second (the live database must keep
//! serving the application while the backfill runs). A token bucket over committed batches:
//! after a batch, the loader waits until its rows fit the rate; bursts up to one second of rows
//! pass without waiting. The adaptive mode also lowers the rate while the database slows down
//! (commit latency) or is busy with other clients (`Threads_running`).

use std::time::{Duration, Instant};

/// Rows-per-second budget of one loader.
#[derive(Debug, Clone)]
pub struct Throttle {
    rate: f64,
    /// The configured ceiling (the adaptive rate never exceeds it).
    ceiling: f64,
    /// Adaptive: the fastest commit seen, in seconds per row (the database at ease).
    baseline: Option<f64>,
    adaptive: bool,
    /// Adaptive: statements the server may run besides this loader's before it backs off.
    threads_limit: f64,
    /// Adaptive: the smoothed count of statements the server runs besides this loader's.
    others_running: Option<f64>,
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
            ceiling: rate,
            baseline: None,
            adaptive: false,
            threads_limit: f64::INFINITY,
            others_running: None,
            tokens: rate,
            last: now,
        }
    }

    /// Also slows down when the database does (adaptive mode): when a batch's
    /// commit takes more than twice the fastest seconds-per-row seen, the rate drops to 70% of
    /// the lower of itself and the rate that batch achieved (never under 100 rows/s);
    /// otherwise it recovers by 10% per batch, up to the ceiling. The
    /// application's queries share the server: its commit latency is what they feel too.
    pub fn adaptive(mut self) -> Self {
        self.adaptive = true;
        self
    }

    /// Adaptive mode also backs off while the server runs more than `limit` statements besides
    /// this loader's (MySQL's `Threads_running`, smoothed over batches): the application's
    /// queries queue for the same CPUs even when commits stay fast.
    pub fn with_threads_limit(mut self, limit: u32) -> Self {
        self.threads_limit = f64::from(limit);
        self
    }

    /// The smoothed count of statements running besides this loader's, once one was observed.
    pub fn others_running(&self) -> Option<f64> {
        self.others_running
    }

    /// The current rate, rows per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The most messages one batch may hold under this rate: about a second's worth (a
    /// message writes about four rows: info, status, file references), at least 10. The
    /// bucket is settled after a batch, so a batch far above the rate would reach the server
    /// as one burst of many seconds' rows, which is what the application feels.
    pub fn batch_cap(&self) -> usize {
        ((self.rate / 4.0) as usize).max(10)
    }

    /// Feeds what a batch of `rows` met (adaptive mode only): its commit latency, and the
    /// statements the server ran besides this loader's when it ended (`None` when unknown,
    /// e.g. SQLite). Either one high backs off; both low recover.
    pub fn observe(&mut self, rows: u64, seconds: f64, others_running: Option<f64>) {
        if !self.adaptive {
            return;
        }
        if let Some(now) = others_running {
            // Half the weight to the newest sample: one busy instant is not a busy server.
            let smoothed = self
                .others_running
                .map_or(now, |before| 0.5 * before + 0.5 * now);
            self.others_running = Some(smoothed);
        }
        let busy = self.others_running.is_some_and(|n| n > self.threads_limit);
        if rows < 50 && !busy {
            return;
        }
        let per_row = seconds / rows.max(1) as f64;
        let baseline = *self.baseline.get_or_insert(per_row);
        if per_row < baseline && rows >= 50 {
            self.baseline = Some(per_row);
        }
        let slow = rows >= 50 && per_row > 2.0 * baseline;
        self.rate = if slow || busy {
            // From what the loader achieves, not from an unset ceiling (10^9 without
            // --max-rows-per-second), which 30% steps would take 50 batches to come down from.
            let achieved = if seconds > 0.0 {
                rows as f64 / seconds
            } else {
                self.rate
            };
            (self.rate.min(achieved) * 0.7).max(100.0)
        } else {
            (self.rate * 1.1).min(self.ceiling)
        };
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
    fn the_adaptive_rate_backs_off_when_commits_slow_down_and_recovers() {
        let mut t = Throttle::new(10_000.0, Instant::now()).adaptive();
        t.observe(1000, 0.1, None); // 0.1 ms per row: the baseline
        assert_eq!(t.rate(), 10_000.0);
        t.observe(1000, 0.5, None); // five times slower: 2,000 rows/s achieved, back off
        assert!((t.rate() - 1_400.0).abs() < 1.0, "{}", t.rate());
        t.observe(1000, 0.5, None);
        assert!((t.rate() - 980.0).abs() < 1.0, "{}", t.rate());
        for _ in 0..30 {
            t.observe(1000, 0.12, None);
        }
        assert_eq!(
            t.rate(),
            10_000.0,
            "recovered up to the ceiling, never above"
        );
    }

    #[test]
    fn the_adaptive_rate_backs_off_while_the_server_is_busy_even_with_fast_commits() {
        let mut t = Throttle::new(10_000.0, Instant::now())
            .adaptive()
            .with_threads_limit(4);
        t.observe(1000, 0.1, Some(1.0));
        assert_eq!(t.rate(), 10_000.0, "1 statement besides ours: at ease");
        // A single busy sample is smoothed: 0.5 × 1 + 0.5 × 9 = 5 > 4.
        t.observe(1000, 0.1, Some(9.0));
        assert!((t.rate() - 7_000.0).abs() < 1.0, "{}", t.rate());
        t.observe(1000, 0.1, Some(9.0));
        assert!((t.rate() - 4_900.0).abs() < 1.0, "{}", t.rate());
        assert!(t.others_running().is_some_and(|n| n > 4.0));
        // Quiet again: the smoothed count falls under the limit, then the rate recovers.
        for _ in 0..30 {
            t.observe(1000, 0.1, Some(0.0));
        }
        assert_eq!(t.rate(), 10_000.0);
    }

    #[test]
    fn without_a_ceiling_the_adaptive_rate_backs_off_from_what_the_loader_achieves() {
        let mut t = Throttle::new(1e9, Instant::now())
            .adaptive()
            .with_threads_limit(1);
        // 1,000 rows committed in 0.1 s (10,000 rows/s) while the server is busy.
        t.observe(1000, 0.1, Some(5.0));
        assert!((t.rate() - 7_000.0).abs() < 1.0, "{}", t.rate());
    }

    #[test]
    fn without_adaptive_mode_the_server_load_is_ignored() {
        let mut t = Throttle::new(10_000.0, Instant::now()).with_threads_limit(1);
        t.observe(1000, 5.0, Some(50.0));
        assert_eq!(t.rate(), 10_000.0);
    }

    #[test]
    fn a_batch_holds_about_a_second_of_the_rate() {
        let t = Throttle::new(1000.0, Instant::now());
        assert_eq!(t.batch_cap(), 250);
        assert_eq!(Throttle::new(1.0, Instant::now()).batch_cap(), 10);
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
