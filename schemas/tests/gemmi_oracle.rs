//! Our codec against gemmi (PyPI), an independent CIF implementation: the same values, read from
//! the real sample files and from files our writer produced for random records.
//! Needs `python3` with `gemmi` (the test script installs it); a missing gemmi is a failure.

use msgmig_schemas::cif::{parse, Document, Value};
use msgmig_schemas::message::{FileRefRow, InfoRow, MessageFile, OrigcommRow, StatusRow};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

type Values = BTreeMap<String, Vec<Value>>;

fn oracle_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oracle/gemmi_values.py")
}

/// gemmi's reading of each file.
fn gemmi_values(paths: &[PathBuf]) -> Vec<Values> {
    let out = Command::new("python3")
        .arg(oracle_script())
        .args(paths)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "gemmi oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    paths
        .iter()
        .map(|p| {
            let file = &json[p.to_str().unwrap()];
            if let Some(e) = file.get("error") {
                panic!(
                    "gemmi cannot read {}: {e}\n{}",
                    p.display(),
                    std::fs::read_to_string(p).unwrap_or_default()
                );
            }
            file.as_object()
                .unwrap()
                .iter()
                .map(|(tag, vals)| {
                    let vals = vals
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => Value::text(s.clone()),
                            serde_json::Value::Object(o) if o["null"] == "?" => Value::Unknown,
                            _ => Value::Inapplicable,
                        })
                        .collect();
                    (tag.clone(), vals)
                })
                .collect()
        })
        .collect()
}

fn our_values(doc: &Document) -> Values {
    let mut out = Values::new();
    for t in &doc.tables {
        for (i, a) in t.attributes.iter().enumerate() {
            out.insert(
                format!("_{}.{}", t.category, a),
                t.rows.iter().map(|r| r[i].clone()).collect(),
            );
        }
    }
    out
}

/// Every non-empty sample file of `fixtures/wwpdb-archive` reads the same in our reader and
/// gemmi. Switched on by `MSGMIG_SHARED_FIXTURES`; then a missing archive is a failure.
#[test]
fn sample_files_agree_with_gemmi() {
    let Ok(dir) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES not set: sample files not compared");
        return;
    };
    let root = Path::new(&dir).join("wwpdb-archive");
    let mut files = Vec::new();
    for dep in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dep = dep.unwrap().path();
        if dep.is_dir() {
            for f in std::fs::read_dir(&dep).unwrap() {
                let f = f.unwrap().path();
                if std::fs::metadata(&f).unwrap().len() > 0 {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 12, "the 12 non-empty sample files");
    let theirs = gemmi_values(&files);
    let mut total = 0;
    for (path, gemmi) in files.iter().zip(theirs) {
        let doc = parse(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ours = our_values(&doc);
        assert_eq!(ours, gemmi, "{}", path.display());
        total += ours.values().map(Vec::len).sum::<usize>();
        // And the typed layer sees every row.
        let file = MessageFile::from_document(doc);
        assert!(
            file.unknown.is_empty(),
            "{}: {:?}",
            path.display(),
            file.unknown
        );
    }
    assert_eq!(
        total, 2070,
        "docs/domain.md: gemmi and the C++ reader agree on all 2,070 sample values"
    );
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "Z",
        "0",
        " ",
        "  ",
        "\t",
        "\n",
        "'",
        "\"",
        "_",
        "#",
        "$",
        ";",
        "[",
        "]",
        "?",
        ".",
        "data_",
        "loop_",
        "save_",
        "stop_",
        "global_",
        "é",
        "Ω",
        "你好",
        "🧬",
        "&#197;",
        "\\u00e9",
        "x'y",
        "' ",
        "\" ",
        "None",
        "http://t.com/#!/x",
        "=20",
        "\n\n",
        " \n",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Unknown),
        1 => Just(Value::Inapplicable),
        12 => text_strategy().prop_map(Value::Text),
    ]
}

fn row_strategy(width: usize) -> impl Strategy<Value = Vec<Option<Value>>> {
    prop::collection::vec(value_strategy().prop_map(Some), width)
}

fn file_strategy() -> impl Strategy<Value = MessageFile> {
    (
        prop::collection::vec(row_strategy(InfoRow::ATTRIBUTES.len()), 0..4),
        prop::collection::vec(row_strategy(FileRefRow::ATTRIBUTES.len()), 0..3),
        prop::collection::vec(row_strategy(StatusRow::ATTRIBUTES.len()), 0..3),
        prop::collection::vec(row_strategy(OrigcommRow::ATTRIBUTES.len()), 0..2),
    )
        .prop_map(|(i, f, s, o)| MessageFile {
            info: i
                .into_iter()
                .map(|r| (0, InfoRow::from_values(r)))
                .collect(),
            file_refs: f
                .into_iter()
                .map(|r| (0, FileRefRow::from_values(r)))
                .collect(),
            statuses: s
                .into_iter()
                .map(|r| (0, StatusRow::from_values(r)))
                .collect(),
            origcomm: o
                .into_iter()
                .map(|r| (0, OrigcommRow::from_values(r)))
                .collect(),
            unknown: Vec::new(),
        })
        .prop_filter("writer rejects values it cannot carry", |f| {
            f.write().is_ok()
        })
}

/// Random records → our writer → our reader and gemmi: both return exactly the written values.
#[test]
fn writer_output_reads_back_in_our_reader_and_gemmi() {
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let written = std::cell::RefCell::new(Vec::new());
    runner
        .run(&file_strategy(), |file| {
            let text = file.write().unwrap();
            let doc =
                parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let back = MessageFile::from_document(doc.clone());
            let strip = |f: &MessageFile| {
                (
                    f.info.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                    f.file_refs.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                    f.statuses.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                    f.origcomm.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                )
            };
            prop_assert_eq!(strip(&back), strip(&file), "{}", text);
            if !file.is_empty() {
                let mut written = written.borrow_mut();
                let path = dir.path().join(format!("f{}.cif", written.len()));
                std::fs::write(&path, &text).unwrap();
                written.push((path, our_values(&doc)));
            }
            Ok(())
        })
        .unwrap();
    let written = written.into_inner();
    assert!(written.len() > 100, "enough non-empty files were generated");
    let paths: Vec<PathBuf> = written.iter().map(|(p, _)| p.clone()).collect();
    for ((path, ours), gemmi) in written.iter().zip(gemmi_values(&paths)) {
        assert_eq!(
            &gemmi,
            ours,
            "{}:\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap()
        );
    }
}
