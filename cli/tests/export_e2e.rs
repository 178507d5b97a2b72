//! `msgmig export` through the real binary: random values survive DB → CIF → our reader and
//! gemmi; the shared samples come back equal to the originals; the CLI's edge cases.

mod common;

use common::{msgmig, stdout};

use chrono::NaiveDateTime;
use msgmig_loader::{database, Loader, LoaderConfig};
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::cif::parse;
use msgmig_schemas::record::*;
use msgmig_transformer::transform_deposition;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The exported message files (in the deposition folders; the export's marker file aside).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dep in std::fs::read_dir(dir).unwrap() {
        let dep = dep.unwrap().path();
        if !dep.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dep).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// gemmi's values of each file, as `{tag: [value]}` with null markers as `?`/`.` literals.
fn gemmi(paths: &[PathBuf]) -> Vec<BTreeMap<String, Vec<String>>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oracle/gemmi_values.py");
    let out = Command::new("python3")
        .arg(script)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gemmi oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    paths
        .iter()
        .map(|p| {
            let file = &json[p.to_str().unwrap()];
            assert!(
                file.get("error").is_none(),
                "gemmi cannot read {}: {}",
                p.display(),
                file["error"]
            );
            file.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let vals = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| x["null"].as_str().unwrap().to_owned())
                        })
                        .collect();
                    (k.clone(), vals)
                })
                .collect()
        })
        .collect()
}

fn ours(path: &Path) -> BTreeMap<String, Vec<String>> {
    let doc = parse(&std::fs::read(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for t in &doc.tables {
        for (i, a) in t.attributes.iter().enumerate() {
            out.insert(
                format!("_{}.{}", t.category, a),
                t.rows
                    .iter()
                    .map(|r| r[i].as_literal().to_owned())
                    .collect(),
            );
        }
    }
    out
}

/// Value shapes of the issue: quotes, leading `_ # $`, reserved words, empty, very long lines,
/// text without final newline, non-ASCII, trailing spaces, multi-line.
fn shape() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "Z9", " ", "\t", "'", "\"", "_x", "#y", "$z", ";", "[", "]", "data_", "loop_",
        "stop_", "save_q", "global_", "é", "Ω", "你好", "🧬", "&#197;", "it's", "' ", "\" ", "\n",
        "\n\n", "line  \n", "?", ".", "None",
    ]);
    prop_oneof![
        8 => prop::collection::vec(pieces, 0..10).prop_map(|v| v.concat()),
        1 => Just("x".repeat(3000)),
        1 => Just(String::new()),
    ]
    .prop_filter(
        "a line starting with ';' is altered on purpose (tested apart)",
        |s| !s.contains("\n;"),
    )
}

/// `r` with every text value as the application's file reader gives it: non-ASCII as
/// decimal character references.
fn as_the_app_reads(mut r: MessageRecord) -> MessageRecord {
    use msgmig_schemas::message::encoding::to_character_references as refs;
    let t = |s: &mut String| *s = refs(s).into_owned();
    let m = &mut r.message;
    for s in [
        &mut m.message_id,
        &mut m.deposition_data_set_id,
        &mut m.sender,
        &mut m.context_type,
        &mut m.context_value,
        &mut m.message_subject,
        &mut m.message_text,
        &mut m.message_type,
        &mut m.send_status,
    ] {
        t(s);
    }
    for f in &mut r.file_refs {
        for s in [
            &mut f.deposition_data_set_id,
            &mut f.content_type,
            &mut f.content_format,
            &mut f.storage_type,
            &mut f.upload_file_name,
        ] {
            t(s);
        }
    }
    for o in &mut r.origcomm {
        for s in [
            &mut o.deposition_data_set_id,
            &mut o.orig_message_id,
            &mut o.orig_deposition_data_set_id,
            &mut o.orig_timestamp,
            &mut o.orig_sender,
            &mut o.orig_recipient,
            &mut o.orig_message_subject,
            &mut o.orig_attachments,
        ] {
            t(s);
        }
    }
    r
}

/// A value for a column of `max` characters, that still fits once read as the application
/// reads it (each non-ASCII character as a reference, `&#20320;`, is longer).
fn short(max: usize) -> impl Strategy<Value = String> {
    shape()
        .prop_map(move |s| s.chars().take(max).collect::<String>())
        .prop_map(move |s| {
            let mut s = s;
            while msgmig_schemas::message::encoding::to_character_references(&s)
                .chars()
                .count()
                > max
            {
                s.pop();
            }
            s
        })
}

fn record_strategy() -> impl Strategy<Value = MessageRecord> {
    (
        short(150),
        short(50),
        short(255),
        shape(),
        shape(),
        short(20),
        short(255),
        shape(),
        any::<bool>(),
    )
        .prop_map(
            |(
                sender,
                context_type,
                context_value,
                subject,
                text,
                message_type,
                upload,
                orig_subject,
                with_status,
            )| MessageRecord {
                schema_version: SCHEMA_VERSION,
                deposition_id: "D_1".into(),
                message: MessageColumns {
                    message_id: String::new(),
                    deposition_data_set_id: "D_1".into(),
                    timestamp: NaiveDateTime::parse_from_str(
                        "2024-01-02 03:04:05",
                        "%Y-%m-%d %H:%M:%S",
                    )
                    .unwrap(),
                    sender,
                    context_type,
                    context_value,
                    parent_message_id: None,
                    message_subject: subject,
                    message_text: text,
                    message_type,
                    send_status: "Y".into(),
                    content_type: ContentType::NotesFromAnnotator,
                },
                file_refs: vec![FileRefColumns {
                    deposition_data_set_id: "D_1".into(),
                    content_type: "model-annotate".into(),
                    content_format: "pdbx".into(),
                    partition_number: 1,
                    version_id: 2,
                    storage_type: "archive".into(),
                    upload_file_name: upload,
                }],
                file_ref_positions: Vec::new(),
                status: with_status.then(|| StatusColumns {
                    deposition_data_set_id: "D_1".into(),
                    read_status: "Y".into(),
                    action_reqd: "N".into(),
                    for_release: "N".into(),
                }),
                origcomm: vec![OrigcommColumns {
                    deposition_data_set_id: "D_1".into(),
                    orig_message_id: "<a@b>".into(),
                    orig_deposition_data_set_id: "None".into(),
                    orig_timestamp: "?".into(),
                    orig_sender: "x@y".into(),
                    orig_recipient: "".into(),
                    orig_message_subject: orig_subject,
                    orig_attachments: ".".into(),
                }],
                provenance: Provenance {
                    source_path: "D_1/D_1_notes-from-annotator_P1.cif.V1".into(),
                    file_version: 1,
                    file_size: 0,
                    file_mtime_ns: 1,
                    file_sha256: String::new(),
                    generation: 1,
                    original_parent_message_id: None,
                },
            },
        )
}

#[test]
fn random_values_survive_db_export_and_read_back_in_our_reader_and_gemmi() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1));
    let records: Vec<MessageRecord> = (0..120)
        .map(|i| {
            let mut r = record_strategy().new_tree(&mut runner).unwrap().current();
            r.message.message_id = format!("m-{i:04}");
            r.message.parent_message_id = (i % 3 != 0).then(|| r.message.message_id.clone());
            r.message.timestamp += chrono::Duration::seconds(i);
            r
        })
        .collect();
    let work = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        work.path().join("msgmig.db").display()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = database::connect(&url).await.unwrap();
        database::init(&db).await.unwrap();
        let mut loader = Loader::new(db, LoaderConfig::default());
        loader
            .apply_batch(RecordsMessage::with_end_markers(records.iter().cloned()))
            .await
            .unwrap();
        assert_eq!(loader.totals().inserted, 120);
    });
    let out = msgmig(
        work.path(),
        &[
            "export",
            "--all",
            "--output-dir",
            "out",
            "--utf8",
            "--database-url",
            &url,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("values the format forced to change: 0"),
        "{}",
        stdout(&out)
    );
    let files = files_under(&work.path().join("out"));
    assert_eq!(
        files.len(),
        2,
        "notes + the to-depositor file holding the statuses: {files:?}"
    );
    // gemmi and our reader agree on every exported value...
    for (path, theirs) in files.iter().zip(gemmi(&files)) {
        assert_eq!(ours(path), theirs, "{}", path.display());
    }
    // ...and our reader brings back what the database held, as the application's reader
    // gives it (non-ASCII as `&#NNN;` references).
    let back = transform_deposition(&work.path().join("out"), "D_1");
    assert!(back.quarantine.is_none(), "{:?}", back.quarantine);
    let mut back: Vec<MessageRecord> = back.records;
    back.sort_by(|a, b| a.message.message_id.cmp(&b.message.message_id));
    assert_eq!(back.len(), records.len());
    let as_read: Vec<MessageRecord> = records.iter().cloned().map(as_the_app_reads).collect();
    for (got, want) in back.iter().zip(&as_read) {
        assert_eq!(got.message, want.message);
        assert_eq!(got.file_refs, want.file_refs);
        assert_eq!(got.status, want.status);
        assert_eq!(got.origcomm, want.origcomm);
    }
    // The legacy form (no --utf8) is pure ASCII with &#NNN; references, and says so.
    let legacy = msgmig(
        work.path(),
        &[
            "export",
            "--all",
            "--output-dir",
            "legacy",
            "--database-url",
            &url,
        ],
    );
    assert!(
        !stdout(&legacy).contains("forced to change: 0"),
        "non-ASCII references are listed"
    );
    for f in files_under(&work.path().join("legacy")) {
        assert!(std::fs::read(&f).unwrap().is_ascii(), "{}", f.display());
    }
}

#[test]
fn a_line_starting_with_semicolon_is_rewritten_as_the_legacy_app_does_and_listed() {
    let work = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        work.path().join("msgmig.db").display()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut r = record_strategy()
        .new_tree(&mut proptest::test_runner::TestRunner::default())
        .unwrap()
        .current();
    r.message.message_id = "semi".into();
    r.message.message_text = "first\n;second".into();
    rt.block_on(async {
        let db = database::connect(&url).await.unwrap();
        database::init(&db).await.unwrap();
        Loader::new(db, LoaderConfig::default())
            .apply_batch(RecordsMessage::with_end_markers([r]))
            .await
            .unwrap();
    });
    let out = msgmig(
        work.path(),
        &[
            "export",
            "--deposition",
            "D_1",
            "--output-dir",
            "out",
            "--utf8",
            "--database-url",
            &url,
        ],
    );
    assert!(
        stdout(&out)
            .contains("ALTERED D_1 semi message_text: line starting with ';' written as ' ;'"),
        "{}",
        stdout(&out)
    );
    let back = transform_deposition(&work.path().join("out"), "D_1");
    assert!(back.quarantine.is_none(), "{:?}", back.quarantine);
    assert_eq!(back.records[0].message.message_text, "first\n ;second");
}

#[test]
fn overwrite_protection_invalid_ids_unknown_depositions_and_unwritable_targets() {
    let work = tempfile::tempdir().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archive");
    assert_eq!(
        msgmig(
            work.path(),
            &[
                "migrate",
                "--directory",
                dir.to_str().unwrap(),
                "--create-tables"
            ]
        )
        .status
        .code(),
        Some(0)
    );
    let first = msgmig(
        work.path(),
        &[
            "export",
            "--deposition",
            "D_0000000101",
            "--output-dir",
            "out",
        ],
    );
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let v1 = work
        .path()
        .join("out/D_0000000101/D_0000000101_messages-to-depositor_P1.cif.V1");
    std::fs::write(&v1, "edited by hand").unwrap();
    let second = msgmig(
        work.path(),
        &[
            "export",
            "--deposition",
            "D_0000000101",
            "--output-dir",
            "out",
        ],
    );
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&v1).unwrap(),
        "edited by hand",
        "an existing version is never overwritten"
    );
    assert!(
        work.path()
            .join("out/D_0000000101/D_0000000101_messages-to-depositor_P1.cif.V2")
            .exists(),
        "the next version is written"
    );
    let third = msgmig(
        work.path(),
        &[
            "export",
            "--deposition",
            "D_0000000101",
            "--output-dir",
            "out",
            "--overwrite",
        ],
    );
    assert_eq!(third.status.code(), Some(0));
    assert!(
        !work
            .path()
            .join("out/D_0000000101/D_0000000101_messages-to-depositor_P1.cif.V3")
            .exists(),
        "--overwrite replaces the latest"
    );
    for bad in ["INVALID", "123456", "D_", "X_123456", ""] {
        let out = msgmig(
            work.path(),
            &["export", "--deposition", bad, "--output-dir", "out"],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let unknown = msgmig(
        work.path(),
        &["export", "--deposition", "D_999", "--output-dir", "out"],
    );
    assert_eq!(unknown.status.code(), Some(0));
    assert!(
        stdout(&unknown).contains("0 exported, 1 without messages"),
        "{}",
        stdout(&unknown)
    );
    assert!(!work.path().join("out/D_999").exists());
    std::fs::write(work.path().join("a-file"), "").unwrap();
    let unwritable = msgmig(work.path(), &["export", "--all", "--output-dir", "a-file"]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("is not a folder"));
    std::fs::create_dir(work.path().join("blocked")).unwrap();
    std::fs::write(
        work.path().join("blocked/D_0000000101"),
        "a file where a folder must go",
    )
    .unwrap();
    let blocked = msgmig(
        work.path(),
        &[
            "export",
            "--deposition",
            "D_0000000101",
            "--output-dir",
            "blocked",
        ],
    );
    assert_eq!(
        blocked.status.code(),
        Some(1),
        "a deposition that cannot be written fails the run"
    );
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("cannot create"));
    let none = msgmig(work.path(), &["export", "--all"]);
    assert_eq!(
        none.status.code(),
        Some(2),
        "no output folder given: refused"
    );
}

/// Samples → migrate → export: every loaded message comes back equal to its original file
/// values (documented normalisations: ordinal_id renumbered; orphan rows were never loaded).
#[test]
fn shared_samples_export_equal_to_the_originals() {
    let Ok(fixtures) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES not set: sample export not compared");
        return;
    };
    let archive = Path::new(&fixtures).join("wwpdb-archive");
    assert!(archive.is_dir(), "{} is missing", archive.display());
    let work = tempfile::tempdir().unwrap();
    msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            archive.to_str().unwrap(),
            "--create-tables",
        ],
    );
    let out = msgmig(work.path(), &["export", "--all", "--output-dir", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Each message as its owning folder has it (the ownership rule: the folder its
    // deposition_data_set_id names, else the smaller folder id).
    let mut originals: BTreeMap<String, MessageRecord> = BTreeMap::new();
    for d in [
        "D_0000265933",
        "D_0000277853",
        "D_000219",
        "D_800219",
        "D_9000265933",
        "D_9000277853",
    ] {
        for r in transform_deposition(&archive, d).records {
            let takes = originals.get(&r.message.message_id).is_none_or(|had| {
                msgmig_loader::plan::outranks(
                    &r.deposition_id,
                    &r.message.deposition_data_set_id,
                    &had.deposition_id,
                    &had.message.deposition_data_set_id,
                )
            });
            if takes {
                originals.insert(r.message.message_id.clone(), r);
            }
        }
    }
    let exported: BTreeMap<String, MessageRecord> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|d| d.starts_with("D_") || d.starts_with("G_"))
        .flat_map(|d| transform_deposition(&work.path().join("out"), &d).records)
        .map(|r| (r.message.message_id.clone(), r))
        .collect();
    assert_eq!(originals.len(), 17);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        originals.keys().collect::<Vec<_>>()
    );
    // Export groups by deposition_data_set_id (the app's id); the D_0000277853 sample mixes
    // content ids, so a reply and its parent can land in different exported folders. Compare the
    // parent as the file writes it (the reader keeps a parent outside the folder in provenance).
    let as_written = |r: &MessageRecord| {
        let mut m = r.message.clone();
        m.parent_message_id = m.parent_message_id.or_else(|| {
            r.provenance
                .original_parent_message_id
                .clone()
                .filter(|p| p != "?")
        });
        m
    };
    for (id, want) in &originals {
        let got = &exported[id];
        assert_eq!(as_written(got), as_written(want), "{id}");
        let (mut a, mut b) = (got.file_refs.clone(), want.file_refs.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b, "{id}");
        assert_eq!(got.status, want.status, "{id}");
        assert_eq!(got.origcomm, want.origcomm, "{id}");
    }
}
