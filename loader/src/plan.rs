//! Pure planning of a batch: what each record does to the database.

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
    /// What the run that last wrote or counted this message counted it as, when that run is
    /// the current one (see [`Counted`]); `None` otherwise.
    pub counted_now: Option<Counted>,
    /// The rows no longer hash to `record_sha256`: someone else (the application) changed
    /// them since msgmig wrote them. Only looked at for rows a batch would rewrite
    /// (`crate::guard`); `false` otherwise.
    pub changed_since_written: bool,
}

/// What a one-shot run counted one message as in its summary: its category and the rows its
/// record wrote. Kept with the message's provenance for the rest of the run, so a later
/// claimant that takes the id over moves exactly this to `conflicts`, and the summary is the
/// same whichever claimant the run met first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counted {
    /// `true`: counted as inserted (the id was new to the database in this run); otherwise
    /// as updated or unchanged (`unchanged`).
    pub inserted: bool,
    pub unchanged: bool,
    pub file_refs: u32,
    pub status: bool,
    pub origcomm: u32,
}

impl Counted {
    /// The stored form: `i|u|n` (inserted, updated, unchanged), then the row counts.
    pub fn encode(&self) -> String {
        let kind = match (self.inserted, self.unchanged) {
            (true, _) => 'i',
            (false, true) => 'n',
            (false, false) => 'u',
        };
        format!(
            "{kind}:{}:{}:{}",
            self.file_refs,
            u8::from(self.status),
            self.origcomm
        )
    }

    /// Reads [`Counted::encode`]'s form; `None` for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let kind = parts.next()?;
        let file_refs = parts.next()?.parse().ok()?;
        let status = parts.next()? == "1";
        let origcomm = parts.next()?.parse().ok()?;
        let (inserted, unchanged) = match kind {
            "i" => (true, false),
            "u" => (false, false),
            "n" => (false, true),
            _ => return None,
        };
        Some(Counted {
            inserted,
            unchanged,
            file_refs,
            status,
            origcomm,
        })
    }
}

/// The decision for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// New message: insert its rows.
    Insert,
    /// Changed content (a draft edited, a status flipped): update in place.
    Update,
    /// Same content: touch nothing in the app tables; `bump` when only the generation grew.
    Unchanged { bump: bool },
    /// Older than what is stored (a late duplicate or a stale replay): skipped.
    Stale,
    /// The message id belongs to another deposition: reported, not overwritten.
    Conflict,
    /// The message id is stored for another deposition that [`outranks`] says yields to this
    /// one (or for this deposition under another spelling the collation treats as equal): the
    /// stored rows are deleted and this record's inserted in their place, so the tables are
    /// exactly what they would be had this record come first. The displaced deposition is the
    /// one reported in conflict.
    TakeOver,
    /// An update or a take-over of rows the application changed since msgmig wrote them: left
    /// as they are, and reported (`crate::guard`).
    Kept,
}

/// Whether the folder `claimant` (whose record says `claimant_says`) takes a message id from
/// the folder `owner` (whose stored row says `owner_says`), where `*_says` is the message's
/// `deposition_data_set_id`.
///
/// The rule, independent of which deposition was loaded first, so parallel loaders, any batch
/// size and any arrival order give the same tables: the folder named by the message's own
/// `deposition_data_set_id` owns it; between two folders that both are (or both are not) the
/// named one, the smaller folder id (byte order) owns it. The same rule settles two spellings
/// of one id that the `message_id` column's collation treats as equal.
pub fn outranks(claimant: &str, claimant_says: &str, owner: &str, owner_says: &str) -> bool {
    let rank = |folder: &str, says: &str| (folder != says, folder.to_owned());
    rank(claimant, claimant_says) < rank(owner, owner_says)
}

/// A planned record with its content hash (computed once).
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    /// Borrowed from the batch, which is kept for a retry: a batch is never copied to be
    /// planned.
    pub record: &'a MessageRecord,
    pub sha256: String,
    pub action: Action,
    /// For conflicts: the deposition that owns the id; for a take-over: the one displaced.
    pub owner: Option<String>,
    /// For a take-over: the id as stored (possibly another spelling), and what the current
    /// run counted it as (when it did).
    pub displaced: Option<(String, Option<Counted>)>,
    /// For an update or a take-over of a row msgmig wrote: its stored id and the content hash
    /// msgmig wrote it with (what `crate::guard` compares the rows with).
    pub written_as: Option<(String, String)>,
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
        // The same id for the collation, spelt differently: never two rows. A row msgmig did
        // not write is never taken over; between msgmig's claimants the rule decides, and the
        // same deposition respelling its own id replaces its row.
        Some(c) if c.message_id != record.message.message_id => match &c.provenance {
            None => (Action::Conflict, Some(c.info_deposition.clone())),
            Some(p) if p.owner == record.deposition_id => (Action::TakeOver, Some(p.owner.clone())),
            Some(p) => {
                let takes = outranks(
                    &record.deposition_id,
                    &record.message.deposition_data_set_id,
                    &p.owner,
                    &c.info_deposition,
                );
                let action = if takes {
                    Action::TakeOver
                } else {
                    Action::Conflict
                };
                (action, Some(p.owner.clone()))
            }
        },
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
///
/// An update or a take-over of a stored row the application changed since msgmig wrote it
/// ([`CurrentProvenance::changed_since_written`]) becomes [`Action::Kept`].
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
        let mut against = current.get(&id);
        if action == Action::TakeOver {
            if let Some(&earlier) = claimed.get(&id) {
                out[earlier].action = Action::Conflict;
                out[earlier].owner = Some(record.deposition_id.clone());
                out[earlier].displaced = None;
                out[earlier].written_as = None;
                (action, owner) = decide(record, &sha256, stored.get(&id));
                against = stored.get(&id);
            }
        }
        // Against a stored row the application changed: left as it is, reported.
        let changed = against.is_some_and(|a| {
            stored.get(&id) == Some(a)
                && a.provenance
                    .as_ref()
                    .is_some_and(|p| p.changed_since_written)
        });
        if matches!(action, Action::Update | Action::TakeOver) && changed {
            tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "app_changed", deposition_id = %record.deposition_id, message_id = %record.message.message_id,
                "the message's rows changed in the database since msgmig wrote them (the application): the file's version is not applied");
            action = Action::Kept;
        }
        let displaced = (action == Action::TakeOver).then(|| {
            let c = against.expect("a take-over is decided against a stored row");
            (
                c.message_id.clone(),
                c.provenance.as_ref().and_then(|p| p.counted_now),
            )
        });
        let written_as = match (action, against) {
            (Action::Update | Action::TakeOver, Some(c)) => c
                .provenance
                .as_ref()
                .map(|p| (c.message_id.clone(), p.record_sha256.clone())),
            _ => None,
        };
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
                        counted_now: None,
                        changed_since_written: false,
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
            displaced,
            written_as,
        });
    }
    out
}
