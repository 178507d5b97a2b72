//! Pure planning of a batch: what each record does to the database (architecture.md §3).

use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::record::MessageRecord;
use std::collections::HashMap;

/// What the database holds for a message id when the batch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The stored spelling of the id (it may differ from a record's in case, accents or
    /// trailing spaces: the collation treats them as one).
    pub message_id: String,
    /// `deposition_data_set_id` of the info row.
    pub info_deposition: String,
    /// msgmig's provenance, absent for rows msgmig did not write (the app, or the old migrator).
    pub provenance: Option<CurrentProvenance>,
}

/// The stored provenance of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentProvenance {
    /// The deposition folder that owns the message id.
    pub owner: String,
    pub generation: i64,
    pub record_sha256: String,
}

/// The decision for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// New message: insert its rows.
    Insert,
    /// Changed content (a draft edited, a status flipped): update in place (D4).
    Update,
    /// Same content: touch nothing in the app tables; `bump` when only the generation grew.
    Unchanged { bump: bool },
    /// Older than what is stored (a late duplicate or a stale replay): skipped.
    Stale,
    /// The message id belongs to another deposition: reported, not overwritten.
    Conflict,
    /// The message id is stored for another deposition that [`outranks`] says yields to this
    /// one: the rows are replaced by this record's (file references and status exactly), and
    /// the displaced deposition is the one reported in conflict.
    TakeOver,
}

/// Whether the folder `claimant` (whose record says `claimant_says`) takes a message id from
/// the folder `owner` (whose stored row says `owner_says`), where `*_says` is the message's
/// `deposition_data_set_id`.
///
/// The rule (issue 10 §5), independent of which deposition was loaded first, so parallel
/// loaders and any batch size give the same tables: the folder named by the message's own
/// `deposition_data_set_id` owns it; between two folders that both are (or both are not) the
/// named one, the smaller folder id (byte order) owns it.
pub fn outranks(claimant: &str, claimant_says: &str, owner: &str, owner_says: &str) -> bool {
    let rank = |folder: &str, says: &str| (folder != says, folder.to_owned());
    rank(claimant, claimant_says) < rank(owner, owner_says)
}

/// A planned record with its content hash (computed once).
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    /// Borrowed from the batch, which is kept for a retry: a batch is never copied to be
    /// planned (5,000 records per loader, issue 12 §3).
    pub record: &'a MessageRecord,
    pub sha256: String,
    pub action: Action,
    /// For conflicts: the deposition that owns the id; for a take-over: the one displaced.
    pub owner: Option<String>,
}

/// Decides one record against what is stored (or planned earlier in the batch) for its id:
/// the action, and for a conflict or take-over the other deposition.
fn decide(
    record: &MessageRecord,
    sha256: &str,
    current: Option<&Current>,
) -> (Action, Option<String>) {
    match current {
        None => (Action::Insert, None),
        // The same id for the collation, spelt differently: never two rows, never a rewrite
        // under the other spelling (issue 10 §4). Reported against whoever holds it.
        Some(c) if c.message_id != record.message.message_id => (
            Action::Conflict,
            Some(
                c.provenance
                    .as_ref()
                    .map_or(c.info_deposition.clone(), |p| p.owner.clone()),
            ),
        ),
        Some(Current {
            provenance: Some(p),
            info_deposition,
            ..
        }) if p.owner != record.deposition_id => {
            let takes = outranks(
                &record.deposition_id,
                &record.message.deposition_data_set_id,
                &p.owner,
                info_deposition,
            );
            let action = if takes {
                Action::TakeOver
            } else {
                Action::Conflict
            };
            (action, Some(p.owner.clone()))
        }
        Some(Current {
            provenance: None,
            info_deposition,
            ..
        }) if *info_deposition != record.message.deposition_data_set_id => {
            (Action::Conflict, Some(info_deposition.clone()))
        }
        Some(Current {
            provenance: Some(p),
            ..
        }) if record.provenance.generation < p.generation => (Action::Stale, None),
        Some(Current {
            provenance: Some(p),
            ..
        }) if p.record_sha256 == sha256 => (
            Action::Unchanged {
                bump: record.provenance.generation > p.generation,
            },
            None,
        ),
        Some(_) => (Action::Update, None),
    }
}

/// Decides every record of a batch against the current state, in order. Records of the same
/// deposition and message id collapse to the last one; later records see the effect of earlier
/// ones. Two depositions claiming one id are settled by [`outranks`], whatever their order:
/// when a later record of the batch takes an id from an earlier one, the earlier becomes the
/// conflict and the later is planned against the stored state alone (so the rows are written
/// once, as if it had come first).
///
/// `stored` is keyed by collation key ([`message_key`]), and so is every identity here: ids
/// the `message_id` column's collation treats as equal are one id.
pub fn plan<'a>(
    records: Vec<&'a MessageRecord>,
    stored: HashMap<String, Current>,
) -> Vec<Planned<'a>> {
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        last.insert(
            (r.deposition_id.clone(), message_key(&r.message.message_id)),
            i,
        );
    }
    let mut current = stored.clone();
    // The planned record (index into `out`) whose claim `current` holds for an id.
    let mut claimed: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Planned<'_>> = Vec::with_capacity(records.len());
    for (i, record) in records.into_iter().enumerate() {
        let id = message_key(&record.message.message_id);
        if last[&(record.deposition_id.clone(), id.clone())] != i {
            continue;
        }
        let sha256 = record.content_sha256();
        let (mut action, mut owner) = decide(record, &sha256, current.get(&id));
        if action == Action::TakeOver {
            if let Some(&earlier) = claimed.get(&id) {
                out[earlier].action = Action::Conflict;
                out[earlier].owner = Some(record.deposition_id.clone());
                (action, owner) = decide(record, &sha256, stored.get(&id));
            }
        }
        if matches!(
            action,
            Action::Insert | Action::Update | Action::TakeOver | Action::Unchanged { bump: true }
        ) {
            current.insert(
                id.clone(),
                Current {
                    message_id: record.message.message_id.clone(),
                    info_deposition: record.message.deposition_data_set_id.clone(),
                    provenance: Some(CurrentProvenance {
                        owner: record.deposition_id.clone(),
                        generation: record.provenance.generation,
                        record_sha256: sha256.clone(),
                    }),
                },
            );
            claimed.insert(id, out.len());
        }
        out.push(Planned {
            record,
            sha256,
            action,
            owner,
        });
    }
    out
}
