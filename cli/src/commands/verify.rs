//! `msgmig verify`: re-reads the files and compares them with the database, per deposition and
//! table (info, file references as a multiset, status, origcomm). Exit 0 only on parity.

use super::{
    open_database, progress_bar, require_schema, selected_depositions, EXIT_INCOMPLETE, EXIT_OK,
};
use crate::cli::VerifyArgs;
use anyhow::{Context, Result};
use msgmig_loader::read::{message_ids_of, stored_messages, StoredMessage};
use msgmig_schemas::record::{content_sha256, MessageRecord};
use msgmig_transformer::transform_deposition;
use serde::Serialize;
use std::collections::HashSet;

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
}

fn same<T: Ord + Clone + PartialEq>(a: &[T], b: &[T]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Names the tables that differ between a record built from the files and the stored message.
fn compare(expected: &MessageRecord, stored: &StoredMessage) -> Vec<&'static str> {
    let mut diffs = Vec::new();
    if expected.message != stored.message {
        diffs.push("pdbx_deposition_message_info");
    }
    if !same(&expected.file_refs, &stored.file_refs) {
        diffs.push("pdbx_deposition_message_file_reference");
    }
    if expected.status != stored.status {
        diffs.push("pdbx_deposition_message_status");
    }
    if !same(&expected.origcomm, &stored.origcomm) {
        diffs.push("pdbx_deposition_message_origcomm_reference");
    }
    debug_assert_eq!(
        diffs.is_empty(),
        expected.content_sha256()
            == content_sha256(
                &stored.message,
                &stored.file_refs,
                stored.status.as_ref(),
                &stored.origcomm
            )
    );
    diffs
}

pub async fn run(args: VerifyArgs) -> Result<i32> {
    let ids = selected_depositions(&args.selection)?;
    let db = open_database(&args.database).await?;
    require_schema(&db).await?;
    let bar = progress_bar(ids.len() as u64, "depositions verified");
    let mut report = Report {
        depositions: ids.len(),
        ..Report::default()
    };
    let root = args.selection.directory.clone();
    for chunk in ids.chunks(200) {
        let (r, c) = (root.clone(), chunk.to_vec());
        let built = tokio::task::spawn_blocking(move || {
            c.iter()
                .map(|id| transform_deposition(&r, id))
                .collect::<Vec<_>>()
        })
        .await
        .expect("verify task does not panic");
        let mut want: Vec<String> = built
            .iter()
            .flat_map(|d| d.records.iter().map(|r| r.message.message_id.clone()))
            .collect();
        let owned = message_ids_of(&db, chunk).await?;
        want.extend(owned.iter().map(|(_, id)| id.clone()));
        want.sort();
        want.dedup();
        let stored = stored_messages(&db, &want).await?;
        for dep in built {
            bar.inc(1);
            if let Some(q) = &dep.quarantine {
                report
                    .quarantined
                    .push((dep.deposition_id.clone(), q.reason.clone()));
                continue;
            }
            let before = report.differences.len();
            let mut in_files = HashSet::new();
            for record in &dep.records {
                report.messages_compared += 1;
                in_files.insert(record.message.message_id.as_str());
                let id = record.message.message_id.clone();
                let push = |report: &mut Report, what: &str| {
                    report.differences.push(Difference {
                        deposition_id: dep.deposition_id.clone(),
                        message_id: id.clone(),
                        what: what.to_owned(),
                    })
                };
                match stored.get(&id) {
                    None => push(&mut report, "missing_in_db"),
                    Some(s) if s.owner.as_deref().is_some_and(|o| o != dep.deposition_id) => {
                        report.conflicts.push((
                            dep.deposition_id.clone(),
                            id.clone(),
                            s.owner.clone().unwrap_or_default(),
                        ));
                    }
                    Some(s) => {
                        for table in compare(record, s) {
                            push(&mut report, table);
                        }
                    }
                }
            }
            for (owner, id) in owned.iter().filter(|(o, _)| *o == dep.deposition_id) {
                if !in_files.contains(id.as_str()) && stored.contains_key(id) {
                    report.differences.push(Difference {
                        deposition_id: owner.clone(),
                        message_id: id.clone(),
                        what: "extra_in_db".into(),
                    });
                }
            }
            if report.differences.len() == before {
                report.depositions_with_parity += 1;
            }
        }
    }
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
    for (dep, reason) in &report.quarantined {
        println!("  QUARANTINED {dep}: {reason}");
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
    Ok(if report.differences.is_empty() {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}
