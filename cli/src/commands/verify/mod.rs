//! `msgmig verify`: re-reads the files and compares them with the database, per deposition and
//! table (info, file references as a multiset, status, origcomm). Exit 0 only on parity.

use super::{
    open_database_reader, progress_bar, require_schema, selected_depositions, EXIT_INCOMPLETE,
    EXIT_OK,
};
use crate::cli::VerifyArgs;
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use msgmig_loader::read::rows_filed_outside;
use msgmig_loader::read::StoredMessage;
use msgmig_schemas::db::collation::message_key;
use msgmig_transformer::DepositionRecords;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

mod compare;
mod fetch;
use compare::{compare, roundtrip};

/// One difference between the files and the database.
#[derive(Debug, Serialize)]
pub struct Difference {
    pub deposition_id: String,
    pub message_id: String,
    /// `missing_in_db`, `extra_in_db`, or the table whose content differs.
    pub what: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub depositions: usize,
    pub depositions_with_parity: usize,
    pub messages_compared: usize,
    pub differences: Vec<Difference>,
    /// Depositions whose files cannot be loaded (reported separately from differences).
    pub quarantined: Vec<(String, String)>,
    /// (deposition, message id, owning deposition): ids stored for another deposition.
    pub conflicts: Vec<(String, String, String)>,
    /// With `--roundtrip`: messages exported, re-read and compared with the database.
    pub roundtrip_messages: usize,
    /// With `--roundtrip`: values that did not come back equal (table or reason).
    pub roundtrip_differences: Vec<Difference>,
    /// With `--gate`: depositions not recorded as loaded cleanly by the loader.
    pub not_loaded: Vec<String>,
    /// With `--gate`: depositions whose files changed after their last load.
    pub changed_since_load: Vec<String>,
    /// With `--gate`: open quarantine/conflict rows in the database.
    pub quarantine_rows: i64,
    /// Messages with a status, file reference or origcomm row filed under another deposition
    /// than their info row (the old tools never wrote such rows; a hand edit can).
    pub stray_messages: usize,
    /// Depositions compared again, by message id, because they hold such a message.
    pub stray_depositions_rechecked: usize,
}

pub async fn run(args: VerifyArgs) -> Result<i32> {
    let selected = selected_depositions(&args.selection)?;
    let ids = selected.ids;
    let db = open_database_reader(&args.database).await?;
    require_schema(&db).await?;
    super::require_no_drift(&db, &args.database).await?;
    let bar = progress_bar(ids.len() as u64, "depositions verified");
    let mut report = Report {
        depositions: ids.len(),
        ..Report::default()
    };
    let root = args.selection.directory.clone();
    // Over the whole archive every table is read by filing, and the strays are compared again
    // afterwards; named depositions are read exactly at once (a pass over the tables'
    // depositions would cost more than they do).
    let (read, mut strays) = if selected.whole_archive {
        let outside = rows_filed_outside(&db, &ids).await?;
        (fetch::ReadBy::Filing, outside.into_iter().collect())
    } else {
        (fetch::ReadBy::InfoFiling, BTreeSet::new())
    };
    let chunks = futures::stream::iter(ids.chunks(fetch::CHUNK).map(<[String]>::to_vec))
        .map(|c| fetch::fetch(db.clone(), root.clone(), c, args.gate, read))
        .buffered(fetch::IN_FLIGHT);
    futures::pin_mut!(chunks);
    while let Some(chunk) = chunks.try_next().await? {
        let fetch::Chunk {
            built,
            stored,
            owned,
            states,
            quarantine_rows,
            strays: chunk_strays,
        } = chunk;
        strays.extend(chunk_strays);
        let lookup = Lookup::new(&stored);
        report.quarantine_rows += quarantine_rows;
        for dep in built {
            if args.gate {
                match states.get(&dep.deposition_id) {
                    Some((generation, state)) if state == "loaded" => {
                        if dep.generation > *generation {
                            report.changed_since_load.push(dep.deposition_id.clone());
                        }
                    }
                    _ => report.not_loaded.push(dep.deposition_id.clone()),
                }
            }
            if args.roundtrip {
                let mine: Vec<&StoredMessage> = owned
                    .get(&dep.deposition_id)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| stored.get(id))
                    .collect();
                let (n, diffs) = roundtrip(&dep.deposition_id, &mine);
                report.roundtrip_messages += n;
                report.roundtrip_differences.extend(diffs);
            }
            bar.inc(1);
            if let Some(q) = &dep.quarantine {
                report
                    .quarantined
                    .push((dep.deposition_id.clone(), q.reason.clone()));
                continue;
            }
            judge(&mut report, &dep, &lookup, &owned);
        }
    }
    recheck_strays(&mut report, &db, &root, &ids, strays).await?;
    bar.finish_and_clear();
    println!("Verification Summary");
    println!(
        "  depositions: {} ({} with parity, {} quarantined)",
        report.depositions,
        report.depositions_with_parity,
        report.quarantined.len()
    );
    println!("  messages compared: {}", report.messages_compared);
    println!("  differences: {}", report.differences.len());
    for d in report.differences.iter().take(50) {
        println!("  DIFF {} {} {}", d.deposition_id, d.message_id, d.what);
    }
    if report.differences.len() > 50 {
        println!(
            "  … {} more in the JSON report",
            report.differences.len() - 50
        );
    }
    println!(
        "  conflicts (message stored for another deposition): {}",
        report.conflicts.len()
    );
    if report.stray_messages > 0 {
        println!(
            "  messages with rows filed under another deposition than their info row: {} ({} depositions compared again by message id)",
            report.stray_messages, report.stray_depositions_rechecked
        );
    }
    for (dep, reason) in &report.quarantined {
        println!("  QUARANTINED {dep}: {reason}");
    }
    if args.roundtrip {
        println!(
            "  round trip (DB → CIF → our reader): {} messages, {} differences",
            report.roundtrip_messages,
            report.roundtrip_differences.len()
        );
        for d in report.roundtrip_differences.iter().take(20) {
            println!(
                "  ROUNDTRIP {} {} {}",
                d.deposition_id, d.message_id, d.what
            );
        }
    }
    // A quarantined deposition is not at parity: its files are not (all) in the database.
    let mut passed = report.differences.is_empty()
        && report.roundtrip_differences.is_empty()
        && report.quarantined.is_empty();
    if args.gate {
        let checks = [
            (
                "every deposition loaded by the loader",
                report.not_loaded.is_empty(),
                format!("{} not loaded", report.not_loaded.len()),
            ),
            (
                "files equal the database (parity)",
                report.differences.is_empty(),
                format!("{} differences", report.differences.len()),
            ),
            (
                "nothing quarantined or conflicting",
                report.quarantined.is_empty() && report.quarantine_rows == 0,
                format!(
                    "{} quarantined, {} open quarantine rows",
                    report.quarantined.len(),
                    report.quarantine_rows
                ),
            ),
            (
                "no file newer than its last load",
                report.changed_since_load.is_empty(),
                format!("{} changed since", report.changed_since_load.len()),
            ),
            (
                "consumer lag 0",
                true,
                "n/a: no Kafka configured".to_owned(),
            ),
        ];
        println!("Cut-over gate");
        for (what, ok, detail) in &checks {
            println!(
                "  [{}] {what}{}",
                if *ok { "x" } else { " " },
                if *ok {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            );
        }
        passed = passed && checks.iter().all(|c| c.1);
        println!("  gate: {}", if passed { "PASSED" } else { "FAILED" });
    }
    if let Some(path) = &args.json_report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    tracing::info!(
        event = "verify_complete",
        depositions = report.depositions,
        parity = report.depositions_with_parity,
        differences = report.differences.len()
    );
    Ok(if passed { EXIT_OK } else { EXIT_INCOMPLETE })
}

/// The stored messages of a chunk, found by id as the message_id column's collation compares
/// them: an id of the files finds the row stored under another spelling the collation takes
/// as the same (case, accents, trailing spaces).
pub(super) struct Lookup<'a> {
    stored: &'a HashMap<String, StoredMessage>,
    /// Built at the first id not stored under its own spelling: collation keys cost a Unicode
    /// normalisation each, and at parity every id is found as it is.
    by_key: std::cell::OnceCell<HashMap<String, &'a StoredMessage>>,
}

impl<'a> Lookup<'a> {
    pub(super) fn new(stored: &'a HashMap<String, StoredMessage>) -> Self {
        Lookup {
            stored,
            by_key: std::cell::OnceCell::new(),
        }
    }

    /// The message stored under `id`, or under a spelling the collation takes as `id`.
    pub(super) fn get(&self, id: &str) -> Option<&'a StoredMessage> {
        self.stored.get(id).or_else(|| {
            self.by_key
                .get_or_init(|| {
                    self.stored
                        .iter()
                        .map(|(id, m)| (message_key(id), m))
                        .collect()
                })
                .get(&message_key(id))
                .copied()
        })
    }
}

/// Compares one deposition's records with the stored messages and counts the outcome:
/// messages compared, differences, conflicts (a message stored for another folder), messages
/// msgmig stored for the folder that its files no longer hold, and parity.
fn judge(
    report: &mut Report,
    dep: &DepositionRecords,
    stored: &Lookup<'_>,
    owned: &HashMap<String, Vec<String>>,
) {
    let before = report.differences.len();
    let mut in_files = HashSet::new();
    for record in &dep.records {
        report.messages_compared += 1;
        in_files.insert(record.message.message_id.as_str());
        let id = &record.message.message_id;
        let mut push = |what: &str| {
            report.differences.push(Difference {
                deposition_id: dep.deposition_id.clone(),
                message_id: id.clone(),
                what: what.to_owned(),
            })
        };
        match stored.get(id) {
            None => push("missing_in_db"),
            Some(s) if s.owner.as_deref().is_some_and(|o| o != dep.deposition_id) => {
                report.conflicts.push((
                    dep.deposition_id.clone(),
                    id.clone(),
                    s.owner.clone().unwrap_or_default(),
                ));
            }
            Some(s) => {
                for table in compare(record, s) {
                    push(table);
                }
            }
        }
    }
    for id in owned.get(&dep.deposition_id).into_iter().flatten() {
        if !in_files.contains(id.as_str()) && stored.stored.contains_key(id) {
            report.differences.push(Difference {
                deposition_id: dep.deposition_id.clone(),
                message_id: id.clone(),
                what: "extra_in_db".into(),
            });
        }
    }
    if report.differences.len() == before {
        report.depositions_with_parity += 1;
    }
}

/// Compares again, by message id, every selected deposition that holds a stray's message (its
/// info row's deposition, and its owner's): a row filed under another deposition than its
/// message's info row was not read with that message by the pass. The deposition's first
/// outcome is replaced. No-op without strays (a database msgmig wrote has none).
async fn recheck_strays(
    report: &mut Report,
    db: &sea_orm::DatabaseConnection,
    root: &std::path::Path,
    selected: &[String],
    strays: BTreeSet<String>,
) -> Result<()> {
    if strays.is_empty() {
        return Ok(());
    }
    let strays: Vec<String> = strays.into_iter().collect();
    let mut depositions = BTreeSet::new();
    for m in msgmig_loader::read::stored_messages(db, &strays)
        .await?
        .values()
    {
        depositions.insert(m.content.message.deposition_data_set_id.clone());
        depositions.extend(m.owner.clone());
    }
    depositions.retain(|d| selected.binary_search(d).is_ok());
    report.stray_messages = strays.len();
    report.stray_depositions_rechecked = depositions.len();
    tracing::info!(
        event = "verify_strays",
        messages = strays.len(),
        depositions = depositions.len(),
        "rows filed under another deposition than their message's: comparing those depositions by message id"
    );
    let depositions: Vec<String> = depositions.into_iter().collect();
    for ids in depositions.chunks(fetch::CHUNK) {
        let chunk = fetch::fetch(
            db.clone(),
            root.to_owned(),
            ids.to_vec(),
            false,
            fetch::ReadBy::MessageId,
        )
        .await?;
        let lookup = Lookup::new(&chunk.stored);
        for dep in chunk.built.iter().filter(|d| d.quarantine.is_none()) {
            let id = &dep.deposition_id;
            if !report.differences.iter().any(|d| &d.deposition_id == id) {
                report.depositions_with_parity -= 1;
            }
            report.differences.retain(|d| &d.deposition_id != id);
            report.conflicts.retain(|c| &c.0 != id);
            report.messages_compared -= dep.records.len();
            judge(report, dep, &lookup, &chunk.owned);
        }
    }
    Ok(())
}
