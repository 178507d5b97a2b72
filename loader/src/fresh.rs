//! When a batch may skip reading the stored rows: during a backfill, whole batches of message
//! ids are new to the database, and looking each id up before writing it costs a random index
//! page per id once the tables outgrow the buffer pool.
//!
//! The guess is only ever a shortcut, never a decision: a batch written as all new runs under a
//! savepoint, and any error (a duplicate key: some id was stored after all) rolls it back to the
//! savepoint, after which the batch is planned against the stored rows as always. A batch
//! written as all new therefore leaves exactly the rows the planned path would have: when no
//! id of the batch is stored, [`crate::plan::plan`] against an empty state is what the planned
//! path computes, and every id the plan inserts is checked by the table's unique key (the
//! `message_id` collation on MySQL; on SQLite, the provenance's `message_key` index).

/// Per loader: whether its next batch is presumed to hold only new message ids.
///
/// The rule: presume new after `needed` planned batches in a row found none of their ids
/// stored. A refuted presumption doubles `needed` (at most [`MAX_NEEDED`]), so an archive where
/// stored ids keep turning up pays for a wasted write at most once per that many batches; a
/// confirmed one resets it to 1.
#[derive(Debug, Clone)]
pub(crate) struct FreshGuess {
    /// Planned batches in a row that found no stored id.
    empty_streak: u32,
    needed: u32,
    stats: FreshStats,
}

/// The longest run of planned batches a refuted presumption asks for before the next one.
const MAX_NEEDED: u32 = 64;

/// How often a loader wrote batches as all new, and how often that was refuted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FreshStats {
    /// Batches written as all new without reading the stored rows, and kept.
    pub written_as_new: u64,
    /// Batches whose all-new write failed (a stored id, or any other error) and were rolled
    /// back to the savepoint and planned against the stored rows.
    pub refuted: u64,
}

impl Default for FreshGuess {
    fn default() -> Self {
        FreshGuess {
            empty_streak: 0,
            needed: 1,
            stats: FreshStats::default(),
        }
    }
}

impl FreshGuess {
    /// Whether to write the next batch as all new. A loader's first batch is always planned.
    pub(crate) fn presume_new(&self) -> bool {
        self.empty_streak >= self.needed
    }

    /// A planned batch found some of its ids stored (`stored_any`), or none.
    pub(crate) fn planned(&mut self, stored_any: bool) {
        self.empty_streak = if stored_any {
            0
        } else {
            self.empty_streak.saturating_add(1)
        };
    }

    /// A batch written as all new was kept.
    pub(crate) fn confirmed(&mut self) {
        self.needed = 1;
        self.stats.written_as_new += 1;
    }

    /// A batch written as all new failed and was rolled back to its savepoint.
    pub(crate) fn refuted(&mut self) {
        self.empty_streak = 0;
        self.needed = (self.needed * 2).min(MAX_NEEDED);
        self.stats.refuted += 1;
    }

    pub(crate) fn stats(&self) -> FreshStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loader_plans_its_first_batch_and_presumes_new_after_one_that_found_nothing() {
        let mut g = FreshGuess::default();
        assert!(!g.presume_new());
        g.planned(true);
        assert!(!g.presume_new(), "a batch that found stored ids");
        g.planned(false);
        assert!(g.presume_new());
        g.confirmed();
        assert!(g.presume_new(), "stays on while batches are new");
    }

    #[test]
    fn each_refutation_doubles_the_planned_batches_asked_for_up_to_a_ceiling() {
        let mut g = FreshGuess::default();
        g.planned(false);
        let mut asked = Vec::new();
        for _ in 0..9 {
            assert!(g.presume_new());
            g.refuted();
            let mut n = 0;
            while !g.presume_new() {
                g.planned(false);
                n += 1;
            }
            asked.push(n);
        }
        assert_eq!(asked, [2, 4, 8, 16, 32, 64, 64, 64, 64]);
        g.confirmed();
        g.refuted();
        g.planned(false);
        g.planned(false);
        assert!(g.presume_new(), "a kept batch resets the ceiling's climb");
        assert_eq!(
            g.stats(),
            FreshStats {
                written_as_new: 1,
                refuted: 10
            }
        );
    }

    #[test]
    fn a_batch_that_finds_a_stored_id_restarts_the_streak() {
        let mut g = FreshGuess::default();
        g.planned(false);
        g.refuted();
        g.planned(false);
        g.planned(true);
        g.planned(false);
        assert!(!g.presume_new(), "two in a row are needed, not two in all");
        g.planned(false);
        assert!(g.presume_new());
    }
}
