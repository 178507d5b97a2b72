//! `msgmig verify`: re-reads the files and compares them with the database, per deposition and
//! table (info, file references as a multiset, status, origcomm). Exit 0 only on parity.

use super::{
    open_database_reader, progress_bar, require_schema, selected_depositions, EXIT_INCOMPLETE,
    EXIT_OK,
};
use crate::cli::VerifyArgs;
use anyhow::{Context, Result};
use msgmig_loader::read::{
    deposition_states, message_ids_of, quarantine_counts, same_ids_for_the_collation,
    stored_messages, StoredMessage,
};
use msgmig_schemas::archive::MessageFileName;
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::record::{content_sha256, deposition_files, Encoding, MessageRecord};
use msgmig_transformer::{build_records, transform_deposition, SourceFile};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

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
}

/// Exports the stored messages of one deposition folder (UTF-8, so exact), re-reads the files
/// with our reader and the transformer, and lists what does not come back equal.
fn roundtrip(dep: &str, stored: &[&StoredMessage]) -> (usize, Vec<Difference>) {
    let mut sorted = stored.to_vec();
    sorted.sort_by_key(|m| m.ordinal_id);
    let contents: Vec<_> = sorted.iter().map(|m| m.content.clone()).collect();
    let mut files = Vec::new();
    let mut diffs = Vec::new();
    for f in deposition_files(&contents, Encoding::Utf8) {
        let name = MessageFileName::canonical(dep, f.content_type, 1);
        let text = match f.file.write() {
            Ok(t) => t,
            Err(e) => {
                diffs.push(Difference {
                    deposition_id: dep.into(),
                    message_id: String::new(),
                    what: format!("roundtrip_unwritable: {e}"),
                });
                continue;
            }
        };
        files.push(SourceFile {
            path: format!("{dep}/{name}"),
            name: MessageFileName::parse(&name).expect("canonical names parse"),
            size: text.len() as u64,
            bytes: text.into_bytes(),
            mtime_ns: 0,
            sha256: String::new(),
        });
    }
    let rebuilt = build_records(dep, &files);
    if let Some(q) = rebuilt.quarantine {
        diffs.push(Difference {
            deposition_id: dep.into(),
            message_id: q.message_id.unwrap_or_default(),
            what: format!("roundtrip_unreadable: {}", q.reason),
        });
        return (0, diffs);
    }
    let by_id: std::collections::HashMap<&str, &&StoredMessage> = sorted
        .iter()
        .map(|m| (m.content.message.message_id.as_str(), m))
        .collect();
    for record in &rebuilt.records {
        if let Some(s) = by_id.get(record.message.message_id.as_str()) {
            for table in compare(record, s) {
                diffs.push(Difference {
                    deposition_id: dep.into(),
                    message_id: record.message.message_id.clone(),
                    what: format!("roundtrip {table}"),
                });
            }
        }
    }
    if rebuilt.records.len() != sorted.len() {
        diffs.push(Difference {
            deposition_id: dep.into(),
            message_id: String::new(),
            what: format!(
                "roundtrip_count {} of {}",
                rebuilt.records.len(),
                sorted.len()
            ),
        });
    }
    (rebuilt.records.len(), diffs)
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
    let stored = &stored.content;
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
    let ids = selected_depositions(&args.selection)?.ids;
    let db = open_database_reader(&args.database).await?;
    require_schema(&db).await?;
    super::require_no_drift(&db, &args.database).await?;
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
        let same = same_ids_for_the_collation(&db, &want).await?;
        want.extend(same);
        want.sort();
        want.dedup();
        let stored = stored_messages(&db, &want).await?;
        // Ids the message_id column's collation takes as one (case, accents, trailing
        // spaces) find the row stored under another spelling (issue 10 §4).
        let by_key: HashMap<String, &StoredMessage> =
            stored.iter().map(|(id, m)| (message_key(id), m)).collect();
        let states = if args.gate {
            deposition_states(&db, chunk).await?
        } else {
            Default::default()
        };
        if args.gate {
            report.quarantine_rows += quarantine_counts(&db, chunk).await?.values().sum::<i64>();
        }
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
                    .iter()
                    .filter(|(o, _)| *o == dep.deposition_id)
                    .filter_map(|(_, id)| stored.get(id))
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
                match stored
                    .get(&id)
                    .or_else(|| by_key.get(&message_key(&id)).copied())
                {
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
    let mut passed = report.differences.is_empty() && report.roundtrip_differences.is_empty();
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
