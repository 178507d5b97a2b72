//! Pure planning of a batch: what each record does to the database (architecture.md §3).

use msgmig_schemas::record::MessageRecord;
use std::collections::HashMap;

/// What the database holds for a message id when the batch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
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
}

/// A planned record with its content hash (computed once).
#[derive(Debug, Clone)]
pub struct Planned {
    pub record: MessageRecord,
    pub sha256: String,
    pub action: Action,
    /// For conflicts: the deposition that owns the id.
    pub owner: Option<String>,
}

/// Decides every record of a batch against the current state, in order. Records of the same
/// deposition and message id collapse to the last one; later records see the effect of earlier
/// ones (two depositions claiming one id in one batch: the first wins, the second conflicts).
pub fn plan(records: Vec<MessageRecord>, mut current: HashMap<String, Current>) -> Vec<Planned> {
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        last.insert((r.deposition_id.clone(), r.message.message_id.clone()), i);
    }
    let mut out = Vec::with_capacity(records.len());
    for (i, record) in records.into_iter().enumerate() {
        if last[&(
            record.deposition_id.clone(),
            record.message.message_id.clone(),
        )] != i
        {
            continue;
        }
        let sha256 = record.content_sha256();
        let id = record.message.message_id.clone();
        let (action, owner) = match current.get(&id) {
            None => (Action::Insert, None),
            Some(Current {
                provenance: Some(p),
                ..
            }) if p.owner != record.deposition_id => (Action::Conflict, Some(p.owner.clone())),
            Some(Current {
                provenance: None,
                info_deposition,
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
        };
        if matches!(
            action,
            Action::Insert | Action::Update | Action::Unchanged { bump: true }
        ) {
            current.insert(
                id,
                Current {
                    info_deposition: record.message.deposition_data_set_id.clone(),
                    provenance: Some(CurrentProvenance {
                        owner: record.deposition_id.clone(),
                        generation: record.provenance.generation,
                        record_sha256: sha256.clone(),
                    }),
                },
            );
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
