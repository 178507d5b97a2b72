//! One chunk of `verify`'s input: a run of deposition folders in archive order, their latest
//! files read and parsed, and what the database holds for them.
//!
//! The database side is read by deposition ([`ReadBy`]): over the whole archive every table by
//! the deposition each row is filed under (one indexed range per table and deposition, rows
//! next to each other in insertion order), plus the owners msgmig's provenance records for the
//! chunk's folders. At 10^5 depositions looking the per-message tables up by message id made
//! `verify` slower than the migration itself. What this fast path does not settle
//! is then looked up by id, exactly: an id of the files not found (a missing row, a row filed
//! under another deposition, a row stored under another spelling the collation takes as the
//! same), a row whose owner is not one of the chunk's folders, an owned message filed
//! elsewhere, and a message whose rows differ from the files. A row filed under another
//! deposition than its message's info row comes back as a stray ([`Chunk::strays`]): `verify`
//! compares its message's deposition again, by id, once the pass is over. On an archive at
//! parity there are none.

use anyhow::Result;
use msgmig_loader::read::{
    deposition_states, owned_message_ids, quarantine_counts, same_ids_for_the_collation,
    stored_messages, stored_messages_filed_under, stored_messages_with_info_filed_under,
    StoredMessage,
};
use msgmig_transformer::{transform_deposition, DepositionRecords};
use sea_orm::DatabaseConnection;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Depositions per chunk: one `IN (…)` list per table (the loader's statements take at most
/// 400 values).
pub(super) const CHUNK: usize = 400;

/// Chunks in flight at once: parsing of the next chunks overlaps the database reads of this
/// one. Memory is bounded by this many chunks of files and rows.
pub(super) const IN_FLIGHT: usize = 4;

/// How a chunk's stored rows are first read (what does not match the files is then read by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadBy {
    /// Every table by the deposition each row is filed under; rows filed elsewhere come back
    /// as strays. For a pass over the whole archive, whose strays filed outside it
    /// [`msgmig_loader::read::rows_filed_outside`] finds.
    Filing,
    /// Info rows by deposition, the other tables by the message ids found: exact for those
    /// messages without a pass over the tables' depositions. For named depositions.
    InfoFiling,
    /// Every message of the files and every owned message by id: exact, slow. For the
    /// depositions of strays, after the pass.
    MessageId,
}

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
    /// With [`ReadBy::Filing`]: message ids of rows filed under the chunk's depositions whose
    /// message's info row is not (sorted).
    pub strays: Vec<String>,
}

/// Reads and parses `ids`' files on a blocking thread while the database rows are fetched.
pub(super) async fn fetch(
    db: DatabaseConnection,
    root: PathBuf,
    ids: Vec<String>,
    gate: bool,
    read: ReadBy,
) -> Result<Chunk> {
    let parse = tokio::task::spawn_blocking({
        let ids = ids.clone();
        move || {
            ids.iter()
                .map(|id| transform_deposition(&root, id))
                .collect::<Vec<_>>()
        }
    });
    let mut strays = Vec::new();
    let mut stored = match read {
        ReadBy::Filing => {
            let filed = stored_messages_filed_under(&db, &ids).await?;
            strays = filed.strays;
            filed.messages
        }
        ReadBy::InfoFiling => stored_messages_with_info_filed_under(&db, &ids).await?,
        ReadBy::MessageId => HashMap::new(),
    };
    let mut owned: HashMap<String, Vec<String>> = HashMap::new();
    for (owner, id) in owned_message_ids(&db, &ids).await? {
        if let Some(m) = stored.get_mut(&id) {
            m.owner = Some(owner.clone());
        }
        owned.entry(owner).or_default().push(id);
    }
    let (states, quarantine_rows) = if gate {
        let states = deposition_states(&db, &ids).await?;
        let rows = quarantine_counts(&db, &ids).await?.values().sum();
        (states, rows)
    } else {
        Default::default()
    };
    let built = parse.await.expect("verify's parsing does not panic");

    let lookup = super::Lookup::new(&stored);
    let mut not_found = Vec::new();
    let mut recheck: HashSet<String> = HashSet::new();
    for dep in &built {
        for record in &dep.records {
            let id = &record.message.message_id;
            match lookup.get(id) {
                None => not_found.push(id.clone()),
                Some(m) if m.owner.is_none() || !super::compare::compare(record, m).is_empty() => {
                    recheck.insert(m.content.message.message_id.clone());
                }
                Some(_) => {}
            }
        }
    }
    for id in owned.values().flatten() {
        if !stored.contains_key(id) {
            recheck.insert(id.clone());
        }
    }
    if !not_found.is_empty() {
        recheck.extend(same_ids_for_the_collation(&db, &not_found).await?);
        recheck.extend(not_found);
    }
    if !recheck.is_empty() {
        let mut want: Vec<String> = recheck.into_iter().collect();
        want.sort();
        stored.extend(stored_messages(&db, &want).await?);
        // A stray whose message this chunk just read by id is settled (the example archive's
        // D_0000000102 holds a message filed under D_9000000102, with its rows).
        strays.retain(|id| want.binary_search(id).is_err());
    }
    Ok(Chunk {
        built,
        stored,
        owned,
        states,
        quarantine_rows,
        strays,
    })
}
