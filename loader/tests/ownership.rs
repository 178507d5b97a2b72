//! Ownership by the rule alone: the owner of a contested message id (byte-equal, or equal under
//! the `message_id` column's collation), the tables, each deposition's recorded state and
//! conflicts, and a run's summary counts are the same whatever the arrival order of the
//! depositions, the batch boundaries and the number of loaders running at once. 20 arrival
//! orders × 1, 2 and 4 concurrent loaders on MariaDB (1 on SQLite, whose pool has one writer).

mod common;

use common::*;
use msgmig_loader::{DepositionReport, Loader, LoaderConfig, RowCounts};
use msgmig_schemas::record::{MessageRecord, RecordsMessage};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::DatabaseConnection;

/// A deposition's state as the transformer publishes it: its records, then its end marker.
fn deposition(dep: &str, generation: i64, records: Vec<MessageRecord>) -> Vec<RecordsMessage> {
    let n = records.len() as u32;
    let mut out: Vec<RecordsMessage> = records.into_iter().map(msg).collect();
    out.push(end(dep, generation, n));
    out
}

/// `id` in folder `dep`, whose row says it belongs to `says`.
fn claim(dep: &str, id: &str, says: &str, generation: i64, subject: &str) -> MessageRecord {
    let mut r = record(dep, id, None, generation, subject);
    r.message.deposition_data_set_id = says.into();
    r
}

/// A case: what is loaded before the run, and the run's depositions (applied in any order).
struct Case {
    name: &'static str,
    before: Vec<Vec<RecordsMessage>>,
    run: Vec<Vec<RecordsMessage>>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            // The example archive's shape: D_3's message also written into D_2's file (naming
            // D_2), and D_3's subject changed meanwhile. Both name themselves: D_2 (the
            // smaller folder) owns it.
            name: "incremental copy",
            before: vec![
                deposition("D_2", 10, vec![claim("D_2", "a2", "D_2", 10, "a")]),
                deposition(
                    "D_3",
                    10,
                    vec![
                        claim("D_3", "m", "D_3", 10, "original"),
                        claim("D_3", "b3", "D_3", 10, "b"),
                    ],
                ),
            ],
            run: vec![
                deposition(
                    "D_2",
                    20,
                    vec![
                        claim("D_2", "a2", "D_2", 20, "a"),
                        claim("D_2", "m", "D_2", 20, "copy"),
                    ],
                ),
                deposition(
                    "D_3",
                    20,
                    vec![
                        claim("D_3", "m", "D_3", 20, "subject changed"),
                        claim("D_3", "b3", "D_3", 20, "b"),
                    ],
                ),
            ],
        },
        Case {
            // The copy keeps naming D_3: the named folder owns it.
            name: "incremental named copy",
            before: vec![deposition(
                "D_3",
                10,
                vec![claim("D_3", "m", "D_3", 10, "original")],
            )],
            run: vec![
                deposition("D_2", 20, vec![claim("D_2", "m", "D_3", 20, "copy")]),
                deposition(
                    "D_3",
                    20,
                    vec![claim("D_3", "m", "D_3", 20, "subject changed")],
                ),
            ],
        },
        Case {
            // Spellings the collation treats as one id, on a fresh database: the smaller folder
            // owns it, spelt its way.
            name: "collation-equal spellings",
            before: vec![],
            run: vec![
                deposition(
                    "D_10",
                    10,
                    vec![
                        claim("D_10", "x1", "D_10", 10, "x1"),
                        claim("D_10", "X", "D_10", 10, "D_10's"),
                    ],
                ),
                deposition(
                    "D_11",
                    10,
                    vec![
                        claim("D_11", "x ", "D_11", 10, "D_11's"),
                        claim("D_11", "y1", "D_11", 10, "y1"),
                    ],
                ),
                deposition(
                    "D_20",
                    10,
                    vec![claim("D_20", "b3df-0001", "D_20", 10, "lower")],
                ),
                deposition(
                    "D_21",
                    10,
                    vec![claim("D_21", "B3DF-0001", "D_21", 10, "upper")],
                ),
            ],
        },
        Case {
            name: "three claimants",
            before: vec![],
            run: ["D_1", "D_5", "D_9"]
                .iter()
                .map(|dep| {
                    deposition(
                        dep,
                        10,
                        vec![
                            claim(dep, &format!("{dep}-own"), dep, 10, "own"),
                            claim(dep, "tri", dep, 10, &format!("{dep}'s")),
                        ],
                    )
                })
                .collect(),
        },
    ]
}

/// What must not depend on the order: the tables, owners, states, conflicts and the summary.
async fn outcome(db: &DatabaseConnection, summary: &RowCounts) -> Vec<String> {
    let mut out = vec![format!(
        "summary: {} inserted, {} updated, {} unchanged, {} stale, {} conflicts; {} file references, {} statuses",
        summary.inserted,
        summary.updated,
        summary.unchanged,
        summary.stale,
        summary.conflicts,
        summary.file_refs_inserted,
        summary.statuses_written
    )];
    for (what, sql) in [
        ("info", "SELECT CONCAT_WS('|', message_id, deposition_data_set_id, message_subject) FROM pdbx_deposition_message_info"),
        ("owners", "SELECT CONCAT_WS('|', message_id, deposition_id) FROM msgmig_message_provenance"),
        ("file references", "SELECT CONCAT_WS('|', message_id, content_type) FROM pdbx_deposition_message_file_reference"),
        ("statuses", "SELECT CONCAT_WS('|', message_id, deposition_data_set_id) FROM pdbx_deposition_message_status"),
        ("states", "SELECT CONCAT_WS('|', deposition_id, state, conflicts) FROM msgmig_depositions"),
        ("quarantine", "SELECT CONCAT_WS('|', deposition_id, kind, COALESCE(message_id, '')) FROM msgmig_quarantine"),
    ] {
        let mut rows = rows(db, sql).await;
        rows.sort();
        out.push(format!("{what}: {}", rows.join(", ")));
    }
    out
}

/// One run of `case`'s depositions in the order `seed` gives, split into batches at random
/// points, spread over `loaders` loaders running at once; returns the summary counts (the
/// reports, with the recounts of take-overs, as `migrate` adds them up).
async fn run(db: &DatabaseConnection, case: &Case, seed: u64, loaders: usize) -> RowCounts {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut depositions: Vec<Vec<RecordsMessage>> = case.run.clone();
    depositions.shuffle(&mut rng);
    let mut streams: Vec<Vec<RecordsMessage>> = vec![Vec::new(); loaders];
    for (i, d) in depositions.into_iter().enumerate() {
        streams[i % loaders].extend(d);
    }
    let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel::<DepositionReport>();
    let mut tasks = Vec::new();
    for stream in streams {
        let mut batches: Vec<Vec<RecordsMessage>> = Vec::new();
        let mut rest = stream.as_slice();
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len());
            batches.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        let config = LoaderConfig {
            run_id: Some(format!("run-{seed}")),
            ..LoaderConfig::default()
        };
        let mut loader = Loader::new(db.clone(), config).with_reports(tx.clone());
        tasks.push(tokio::spawn(async move {
            for batch in batches {
                loader.apply_batch(batch).await.unwrap();
            }
        }));
    }
    drop(tx);
    for t in tasks {
        t.await.unwrap();
    }
    let mut summary = RowCounts::default();
    while let Some(report) = reports.recv().await {
        summary.add(&report.counts);
        for c in &report.recounts {
            summary.recount(c);
        }
    }
    summary
}

async fn every_order_and_loader_count_gives_one_outcome(db: DatabaseConnection, loaders: &[usize]) {
    for case in cases() {
        let mut first: Option<(String, Vec<String>)> = None;
        for &n in loaders {
            for seed in 0..20u64 {
                wipe(&db).await;
                for d in &case.before {
                    load(&db, d.clone()).await;
                }
                let summary = run(&db, &case, seed, n).await;
                let got = outcome(&db, &summary).await;
                let label = format!("{} loaders, order {seed}", n);
                match &first {
                    None => first = Some((label, got)),
                    Some((first_label, want)) => assert_eq!(
                        &got, want,
                        "{}: {label} differs from {first_label}",
                        case.name
                    ),
                }
            }
        }
        let (_, got) = first.unwrap();
        match case.name {
            "incremental copy" => {
                assert!(
                    got.iter().any(|l| l.contains("m|D_2")),
                    "D_2 owns m: {got:#?}"
                );
                assert!(got.iter().any(|l| l.contains("m|D_2|copy")), "{got:#?}");
            }
            "incremental named copy" => {
                assert!(
                    got.iter().any(|l| l.contains("m|D_3|subject changed")),
                    "{got:#?}"
                )
            }
            "collation-equal spellings" => {
                assert!(got.iter().any(|l| l.contains("X|D_10|D_10's")), "{got:#?}");
                assert!(
                    got.iter().any(|l| l.contains("b3df-0001|D_20|lower")),
                    "{got:#?}"
                );
            }
            _ => assert!(got.iter().any(|l| l.contains("tri|D_1|D_1's")), "{got:#?}"),
        }
    }
}

#[tokio::test]
async fn on_mariadb_the_rule_decides_whatever_the_order_and_the_loaders() {
    let (db, guard) = mysql().await;
    every_order_and_loader_count_gives_one_outcome(db, &[1, 2, 4]).await;
    guard.drop_now().await;
}

#[tokio::test]
async fn on_sqlite_the_rule_decides_whatever_the_order() {
    let (db, _dir) = sqlite().await;
    every_order_and_loader_count_gives_one_outcome(db, &[1]).await;
}
