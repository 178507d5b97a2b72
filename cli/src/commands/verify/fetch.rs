//! One chunk of `verify`'s input: a run of deposition folders in archive order, their latest
//! files read and parsed, and what the database holds for them.
//!
//! The database side is read by owning folder (msgmig's provenance, one indexed range per
//! folder and table) rather than one lookup per message id: at 10^5 depositions the id lookups
//! made `verify` slower than the migration itself (issue 12 §4). Only the ids the folder's own
//! rows do not account for (a missing row, a conflict stored for another folder, a row not
//! written by msgmig, another spelling under the column's collation) are then looked up by id;
//! on an archive at parity there are none.

use anyhow::Result;
use msgmig_loader::read::{
    deposition_states, quarantine_counts, same_ids_for_the_collation, stored_messages,
    stored_messages_owned_by, StoredMessage,
};
use msgmig_schemas::db::collation::message_key;
use msgmig_transformer::{transform_deposition, DepositionRecords};
use sea_orm::DatabaseConnection;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Depositions per chunk: one `IN (…)` list per table (the loader's statements take at most
/// 400 values).
pub(super) const CHUNK: usize = 400;

/// Chunks in flight at once: parsing of the next chunks overlaps the database reads of this
/// one. Memory is bounded by this many chunks of files and rows.
pub(super) const IN_FLIGHT: usize = 3;

/// A chunk's files and stored rows, ready to compare.
pub(super) struct Chunk {
    /// Per folder, in the order asked for.
    pub built: Vec<DepositionRecords>,
    /// Stored messages by id: the folders' own rows, plus any found by id.
    pub stored: HashMap<String, StoredMessage>,
    /// Message ids msgmig stored per owning folder of the chunk.
    pub owned: HashMap<String, Vec<String>>,
    /// With the gate: the loader's last (generation, state) per folder.
    pub states: HashMap<String, (i64, String)>,
    /// With the gate: open quarantine/conflict rows of the chunk's folders.
    pub quarantine_rows: i64,
}

/// Reads and parses `ids`' files on a blocking thread while the database rows are fetched.
pub(super) async fn fetch(
    db: DatabaseConnection,
    root: PathBuf,
    ids: Vec<String>,
    gate: bool,
) -> Result<Chunk> {
    let parse = tokio::task::spawn_blocking({
        let ids = ids.clone();
        move || {
            ids.iter()
                .map(|id| transform_deposition(&root, id))
                .collect::<Vec<_>>()
        }
    });
    let mut stored = stored_messages_owned_by(&db, &ids).await?;
    let mut owned: HashMap<String, Vec<String>> = HashMap::new();
    for m in stored.values() {
        if let Some(owner) = &m.owner {
            owned
                .entry(owner.clone())
                .or_default()
                .push(m.content.message.message_id.clone());
        }
    }
    let (states, quarantine_rows) = if gate {
        let states = deposition_states(&db, &ids).await?;
        let rows = quarantine_counts(&db, &ids).await?.values().sum();
        (states, rows)
    } else {
        Default::default()
    };
    let built = parse.await.expect("verify's parsing does not panic");
    let keys: HashSet<String> = stored.keys().map(|id| message_key(id)).collect();
    let leftovers: Vec<String> = built
        .iter()
        .flat_map(|d| d.records.iter().map(|r| r.message.message_id.clone()))
        .filter(|id| !stored.contains_key(id) && !keys.contains(&message_key(id)))
        .collect();
    if !leftovers.is_empty() {
        let mut want = same_ids_for_the_collation(&db, &leftovers).await?;
        want.extend(leftovers);
        want.sort();
        want.dedup();
        want.retain(|id| !stored.contains_key(id));
        stored.extend(stored_messages(&db, &want).await?);
    }
    Ok(Chunk {
        built,
        stored,
        owned,
        states,
        quarantine_rows,
    })
}
