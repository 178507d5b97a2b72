//! When each waiting deposition is due to be transformed.

use std::collections::{HashMap, VecDeque};
use tokio::time::{Duration, Instant};

/// Depositions waiting to be transformed, each with the instant it is due.
///
/// A deposition is due `debounce` after its last event, so that a burst of writes becomes one
/// transformation; or at once, when the scanner's events say how many of them it published
/// together from one listing ([`FileEvent::group_len`](msgmig_schemas::record::FileEvent)) and
/// all of them arrived, or when the caller says so ([`Schedule::at_once`]). Transforming early is
/// never wrong (the transformer lists the folder again when it reads it): the debounce only saves
/// work, and it cost a backfill over Kafka its first and last 500 ms.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// Due instant per waiting deposition: the one set last wins.
    due: HashMap<String, Instant>,
    /// `(due, id)` set by [`Schedule::after_event`] without a complete group, in the order set:
    /// the due instants never decrease, so the front is always the earliest.
    debounced: VecDeque<(Instant, String)>,
    /// `(due, id)` due at once, in the order set.
    immediate: VecDeque<(Instant, String)>,
    /// Per waiting deposition, how many events of scanner groups arrived since it began waiting.
    arrived: HashMap<String, u32>,
}

impl Schedule {
    /// Records an event for `id` that arrived at `now`. `group_len` is the event's
    /// [`group_len`](msgmig_schemas::record::FileEvent) (0: unknown).
    pub(crate) fn after_event(
        &mut self,
        id: String,
        group_len: u32,
        now: Instant,
        debounce: Duration,
    ) {
        if group_len > 0 {
            let arrived = self.arrived.entry(id.clone()).or_default();
            *arrived += 1;
            if *arrived >= group_len {
                self.arrived.remove(&id);
                self.at_once(id, now);
                return;
            }
        }
        self.later(id, now + debounce);
    }

    /// Makes `id` due at `now`.
    pub(crate) fn at_once(&mut self, id: String, now: Instant) {
        self.due.insert(id.clone(), now);
        self.immediate.push_back((now, id));
    }

    /// Makes `id` due again at `due` (which must not be earlier than any due instant set by
    /// [`Schedule::after_event`] so far: `now + debounce` is fine).
    pub(crate) fn later(&mut self, id: String, due: Instant) {
        self.due.insert(id.clone(), due);
        self.debounced.push_back((due, id));
    }

    /// Takes the next deposition due at `now` (any waiting one when `all`) out of the schedule.
    pub(crate) fn pop_due(&mut self, now: Instant, all: bool) -> Option<String> {
        loop {
            let queue = if !self.immediate.is_empty() {
                &mut self.immediate
            } else {
                match self.debounced.front() {
                    Some((due, _)) if all || *due <= now => &mut self.debounced,
                    _ => return None,
                }
            };
            let (due, id) = queue.pop_front().expect("non-empty");
            // An entry superseded by a later event or call is skipped.
            if self.due.get(&id) == Some(&due) {
                self.due.remove(&id);
                self.arrived.remove(&id);
                return Some(id);
            }
        }
    }

    /// The earliest instant a waiting deposition is due, if any waits.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let immediate = self.immediate.front().map(|(d, _)| *d);
        let debounced = self.debounced.front().map(|(d, _)| *d);
        immediate.into_iter().chain(debounced).min()
    }

    /// `true` while `id` waits.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.due.contains_key(id)
    }

    /// `true` when nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBOUNCE: Duration = Duration::from_millis(500);

    fn drain(s: &mut Schedule, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| s.pop_due(now, false)).collect()
    }

    #[test]
    fn a_complete_group_is_due_at_once_and_an_incomplete_one_after_the_debounce() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        // D_1: two of two events; D_2: one of three; D_3: no group known.
        s.after_event("D_1".into(), 2, t0, DEBOUNCE);
        s.after_event("D_2".into(), 3, t0, DEBOUNCE);
        s.after_event("D_1".into(), 2, t0, DEBOUNCE);
        s.after_event("D_3".into(), 0, t0, DEBOUNCE);
        assert_eq!(drain(&mut s, t0), ["D_1"]);
        assert_eq!(s.next_due(), Some(t0 + DEBOUNCE));
        assert!(s.contains("D_2") && s.contains("D_3") && !s.contains("D_1"));
        assert_eq!(drain(&mut s, t0 + DEBOUNCE), ["D_2", "D_3"]);
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn a_later_event_moves_the_due_instant_and_each_deposition_is_taken_once() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        s.after_event("D_1".into(), 0, t0, DEBOUNCE);
        s.after_event("D_1".into(), 0, t0 + DEBOUNCE / 2, DEBOUNCE);
        assert_eq!(drain(&mut s, t0 + DEBOUNCE), Vec::<String>::new());
        assert_eq!(drain(&mut s, t0 + DEBOUNCE * 2), ["D_1"]);
        // A group completed after a debounced event: due at once, taken once.
        s.after_event("D_2".into(), 2, t0, DEBOUNCE);
        s.after_event("D_2".into(), 2, t0, DEBOUNCE);
        assert_eq!(drain(&mut s, t0), ["D_2"]);
        assert_eq!(drain(&mut s, t0 + DEBOUNCE * 4), Vec::<String>::new());
    }

    #[test]
    fn the_count_of_a_group_starts_again_once_the_deposition_was_taken() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        s.after_event("D_1".into(), 2, t0, DEBOUNCE);
        // Its debounce ran out before the second event came: taken with one event.
        assert_eq!(drain(&mut s, t0 + DEBOUNCE), ["D_1"]);
        // A new group of two: its first event alone must not complete it.
        s.after_event("D_1".into(), 2, t0 + DEBOUNCE, DEBOUNCE);
        assert_eq!(drain(&mut s, t0 + DEBOUNCE), Vec::<String>::new());
        s.after_event("D_1".into(), 2, t0 + DEBOUNCE, DEBOUNCE);
        assert_eq!(drain(&mut s, t0 + DEBOUNCE), ["D_1"]);
    }

    #[test]
    fn once_the_input_ends_every_waiting_deposition_is_due() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        s.after_event("D_1".into(), 0, t0, DEBOUNCE);
        s.later("D_2".into(), t0 + DEBOUNCE * 2);
        let all: Vec<String> = std::iter::from_fn(|| s.pop_due(t0, true)).collect();
        assert_eq!(all, ["D_1", "D_2"]);
    }
}
