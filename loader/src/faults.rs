//! How the loader tells failures apart (architecture.md §3, "nothing lost"): an outage waits,
//! a lock conflict retries, a refused value is dead-lettered; and the helpers that isolate a
//! refused deposition.

use crate::worker::Item;
use msgmig_bus::Receipt;
use msgmig_schemas::record::DeadLetter;
use sea_orm::DbErr;
use std::collections::HashMap;

/// Fills the bus position of a dead letter.
pub(crate) fn locate(letter: &mut DeadLetter, receipt: Option<&Receipt>) {
    if let Some(r) = receipt {
        letter.source_topic = Some(r.topic.clone());
        letter.source_partition = Some(r.partition);
        letter.source_offset = Some(r.offset);
    }
}

/// The batch's items grouped per deposition, in order of first appearance (order within a
/// deposition kept).
pub(crate) fn split_by_deposition(batch: Vec<Item>) -> Vec<Vec<Item>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Item>> = HashMap::new();
    for item in batch {
        let key = item
            .payload
            .as_ref()
            .map(|p| p.deposition_id().to_owned())
            .unwrap_or_default();
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(item);
    }
    order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .collect()
}

/// The server is unreachable or the connection broke: wait for it, never give up.
pub(crate) fn is_outage(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    matches!(e, DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
        || [
            "gone away",
            "lost connection",
            "broken pipe",
            "connection reset",
            "connection refused",
            "pool timed out",
            "error communicating with database",
            "server shutdown",
        ]
        .iter()
        .any(|s| text.contains(s))
}

/// Worth a few more attempts: lock conflicts, and two partitions inserting one message id at
/// once (replanning turns it into a conflict).
pub(crate) fn is_transient(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    [
        "deadlock",
        "duplicate entry",
        "unique constraint",
        "lock wait timeout",
        "database is locked",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// The database refused the data itself (too long, out of range, bad value): dead-letter
/// material. A missing table or privilege is not: that stops the loader with the error.
pub(crate) fn is_content_error(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    !is_outage(e)
        && !is_transient(e)
        && [
            "data too long",
            "out of range",
            "incorrect",
            "truncated",
            "check constraint",
            "cannot be null",
            "foreign key constraint",
            "invalid utf8",
            "string or blob too big",
        ]
        .iter()
        .any(|s| text.contains(s))
}
