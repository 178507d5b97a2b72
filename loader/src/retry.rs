//! The loader's one retry policy, for every database call that writes: what a failure means
//! ([`crate::faults::classify`]) decides what happens next, and [`backon`] spaces the attempts.
//!
//! - An outage (the server unreachable) waits, with exponential backoff from 200 ms to 15 s,
//!   for as long as it lasts (workers) or up to `--db-timeout` (one-shot runs). It never
//!   dead-letters.
//! - A lock conflict or an id race (deadlock, duplicate key) is retried a few times.
//! - An error that recurs on the same batch while the server answers otherwise (a batch that
//!   breaks its own connection each time, a deadlock that never clears) sends the batch to
//!   isolation after [`RECURRING_LIMIT`] attempts: it is applied deposition by deposition and
//!   the one that still fails is quarantined with the error.
//! - The server refusing the data itself goes to isolation at once.

use crate::faults::{classify, Fault};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use sea_orm::{DatabaseConnection, DbErr};
use std::time::Duration;
use tokio::time::Instant;

/// Longest pause between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// Attempts of one batch that may fail with a transient or self-inflicted error before it goes
/// to isolation.
pub const RECURRING_LIMIT: u32 = 5;

/// The delays between attempts: 200 ms doubling to [`MAX_DELAY`], without end.
pub(crate) fn backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(MAX_DELAY)
        .with_factor(2.0)
        .without_max_times()
        .build()
}

/// What to do after a failed attempt.
#[derive(Debug)]
pub(crate) enum Next {
    /// Try the same work again (the pause is over).
    Retry,
    /// The work itself is refused or keeps failing: apply it in smaller parts, and quarantine
    /// the part that still fails, with this error.
    Isolate(DbErr),
}

/// The retry state of one unit of work (a batch, or one deposition's part of it).
#[derive(Debug)]
pub(crate) struct Attempts {
    delays: ExponentialBackoff,
    /// Failures that were not a plain outage (see the module doc).
    recurring: u32,
    /// Since when the server has been unreachable, for `give_up_after`.
    outage_since: Option<Instant>,
    give_up_after: Option<Duration>,
}

impl Attempts {
    /// `give_up_after`: how long an outage may last before the work fails (`None`: forever).
    pub(crate) fn new(give_up_after: Option<Duration>) -> Self {
        Attempts {
            delays: backoff(),
            recurring: 0,
            outage_since: None,
            give_up_after,
        }
    }

    /// Decides what follows `error` (pausing as the policy says) or fails with it.
    ///
    /// Errors: the error itself when it is fatal (a missing table or privilege, a bug), or an
    /// outage that outlasted `give_up_after`.
    pub(crate) async fn after(
        &mut self,
        db: &DatabaseConnection,
        error: DbErr,
    ) -> Result<Next, DbErr> {
        match classify(&error) {
            Fault::Content => Ok(Next::Isolate(error)),
            Fault::Fatal => Err(error),
            Fault::Transient => {
                self.recurring += 1;
                if self.recurring >= RECURRING_LIMIT {
                    return Ok(Next::Isolate(error));
                }
                crate::metrics::DB_RETRIES.inc();
                let delay = self.delay();
                tracing::warn!(event = "db_retry", attempt = self.recurring, retry_in_s = delay.as_secs_f64(), error = %error,
                    "database error, retrying");
                tokio::time::sleep(delay).await;
                Ok(Next::Retry)
            }
            Fault::Outage => {
                crate::metrics::DB_RETRIES.inc();
                // Is it the server, or this work? A batch can break its own connection (a
                // packet the server drops): then the server answers a ping on a new one.
                if db.ping().await.is_ok() {
                    self.outage_since = None;
                    self.recurring += 1;
                    if self.recurring >= RECURRING_LIMIT {
                        return Ok(Next::Isolate(error));
                    }
                    tracing::warn!(event = "db_retry", attempt = self.recurring, error = %error,
                        "the connection failed during the batch while the server answers: retrying");
                    tokio::time::sleep(self.delay()).await;
                    return Ok(Next::Retry);
                }
                crate::metrics::DB_UP.set(0);
                let since = *self.outage_since.get_or_insert_with(Instant::now);
                if let Some(limit) = self.give_up_after {
                    if since.elapsed() >= limit {
                        return Err(DbErr::Conn(sea_orm::RuntimeErr::Internal(format!(
                            "the database was unreachable for {} s (--db-timeout): {error}",
                            since.elapsed().as_secs()
                        ))));
                    }
                }
                let delay = self.delay();
                tracing::warn!(event = "db_unavailable", retry_in_s = delay.as_secs_f64(), error = %error,
                    "database unreachable: pausing, the batch will be applied when it is back");
                tokio::time::sleep(delay).await;
                Ok(Next::Retry)
            }
        }
    }

    fn delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(MAX_DELAY)
    }
}
