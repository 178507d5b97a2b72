//! A corpus of inputs MySQL would refuse or mangle, run on MariaDB and on SQLite. Both
//! backends quarantine (or report as conflicts) exactly the same depositions for the same
//! reasons, load the rest exactly, exit 1, and `verify` and `export --all` still work after.
//! (Rows the server cannot take in one packet: `large_messages.rs`; a refused batch isolated:
//! `loader/tests/upsert.rs`.)

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// One message file holding one message (the layout of the archive's files).
fn message_file(dep: &str, id: &str, timestamp: &str, sender: &str) -> String {
    format!(
        "data_messages\n#\n\
_pdbx_deposition_message_info.ordinal_id 1\n\
_pdbx_deposition_message_info.message_id '{id}'\n\
_pdbx_deposition_message_info.deposition_data_set_id {dep}\n\
_pdbx_deposition_message_info.timestamp '{timestamp}'\n\
_pdbx_deposition_message_info.sender '{sender}'\n\
_pdbx_deposition_message_info.context_type ?\n\
_pdbx_deposition_message_info.context_value ?\n\
_pdbx_deposition_message_info.parent_message_id ?\n\
_pdbx_deposition_message_info.message_subject 'Hello'\n\
_pdbx_deposition_message_info.message_text\n;Dear Depositors,\n;\n\
_pdbx_deposition_message_info.message_type text\n\
_pdbx_deposition_message_info.send_status Y\n#\n"
    )
}

fn write(archive: &Path, dep: &str, version: u32, body: &str) -> std::path::PathBuf {
    let dir = archive.join(dep);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{dep}_messages-to-depositor_P1.cif.V{version}"));
    std::fs::write(&path, body).unwrap();
    path
}

/// The corpus, and per deposition the quarantine kind expected (None: loaded).
fn corpus(archive: &Path) -> BTreeMap<&'static str, Option<&'static str>> {
    let ok = "2023-06-14 23:45:33";
    let good = |dep: &str, id: &str| message_file(dep, id, ok, "CS");
    let mut expect = BTreeMap::new();
    write(
        archive,
        "D_2000000001",
        1,
        &good("D_2000000001", &"a".repeat(65)),
    );
    expect.insert("D_2000000001", Some("bad_value")); // message_id longer than VARCHAR(64)
    write(
        archive,
        "D_2000000002",
        1,
        &message_file("D_2000000002", "leap", "2016-12-31 23:59:60", "CS"),
    );
    expect.insert("D_2000000002", Some("bad_timestamp")); // a leap second
    write(
        archive,
        "D_2000000003",
        1,
        &message_file("D_2000000003", "zero", "0000-00-00 00:00:00", "CS"),
    );
    expect.insert("D_2000000003", Some("bad_timestamp")); // MySQL's zero date
    write(
        archive,
        "D_2000000004",
        1,
        &message_file("D_2000000004", "feb30", "2023-02-30 10:00:00", "CS"),
    );
    expect.insert("D_2000000004", Some("bad_timestamp")); // no such day
    write(archive, "D_2000000005", 1, &good("D_2000000005", "sym-1"));
    std::os::unix::fs::symlink(
        "D_2000000005_messages-to-depositor_P1.cif.V1",
        archive.join("D_2000000005/D_2000000005_messages-to-depositor_P1.cif.V2"),
    )
    .unwrap();
    expect.insert("D_2000000005", Some("not_regular_file")); // the latest is a symlink
    write(archive, "D_2000000006", 1, &good("D_2000000006", "fifo-1"));
    let fifo = archive.join("D_2000000006/D_2000000006_messages-to-depositor_P1.cif.V2");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    expect.insert("D_2000000006", Some("not_regular_file")); // the latest is a FIFO (never opened blocking)
    write(
        archive,
        "D_2000000007",
        1,
        &message_file("D_2000000007", "long-sender", ok, &"s".repeat(151)),
    );
    expect.insert("D_2000000007", Some("bad_value")); // sender longer than VARCHAR(150)
    write(
        archive,
        "D_2000000008",
        1,
        &good("D_2000000008", "dangling-1"),
    );
    std::os::unix::fs::symlink(
        "/nonexistent/file",
        archive.join("D_2000000008/D_2000000008_messages-to-depositor_P1.cif.V2"),
    )
    .unwrap();
    expect.insert("D_2000000008", Some("not_regular_file")); // a dangling symlink as the latest
    write(archive, "D_2000000009", 1, &good("D_2000000009", "fine-1"));
    expect.insert("D_2000000009", None);
    // Ids the message_id column's collation (utf8mb4_unicode_ci) treats as one: the one the
    // ownership rule does not give the id is a conflict on both backends, never a duplicate-key
    // abort, never two rows.
    write(
        archive,
        "D_2000000010",
        1,
        &good("D_2000000010", "Abc-Case-1"),
    );
    expect.insert("D_2000000010", None);
    write(
        archive,
        "D_2000000011",
        1,
        &good("D_2000000011", "abc-case-1 "),
    );
    expect.insert("D_2000000011", Some("conflict")); // case and a trailing space
    write(
        archive,
        "D_2000000012",
        1,
        &good("D_2000000012", "caf\u{e9}-1"),
    );
    expect.insert("D_2000000012", None);
    // A raw accent in a file is stored as the application reads it, `caf&#233;-1`: another id.
    write(archive, "D_2000000013", 1, &good("D_2000000013", "cafe-1"));
    expect.insert("D_2000000013", None);
    write(archive, "D_2000000014", 1, &good("D_2000000014", "dup-X"));
    std::fs::write(
        archive.join("D_2000000014/D_2000000014_notes-from-annotator_P1.cif.V1"),
        good("D_2000000014", "DUP-x"),
    )
    .unwrap();
    expect.insert("D_2000000014", Some("duplicate_message_id")); // one id twice in a deposition
                                                                 // Folders that look almost like depositions: counted and listed, not read.
    for folder in ["D_12a", "d_2000000010", &format!("D_{}", "1".repeat(60))] {
        write(archive, folder, 1, &good(folder, "never-read"));
    }
    expect
}

/// (deposition, kind) of every quarantine row, via the backend's own client.
fn quarantined(db: Option<&MariaDb>, sqlite: &Path) -> BTreeMap<String, String> {
    let sql = "SELECT deposition_id, kind FROM msgmig_quarantine ORDER BY deposition_id";
    let text = match db {
        Some(db) => db.query(sql),
        None => {
            let out = std::process::Command::new("python3")
                .args(["-c", &format!(
                    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join('\\t'.join(map(str,r)) for r in c.execute(\"{sql}\")))"
                ), sqlite.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
    };
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(d, k)| (d.to_owned(), k.to_owned()))
        .collect()
}

#[test]
fn mariadb_and_sqlite_quarantine_the_same_hostile_inputs() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    let expect = corpus(&archive);
    let dir = archive.to_str().unwrap();
    let mariadb = MariaDb::create("msgmig_hostile");
    let sqlite = work.path().join("hostile.db");
    let sqlite_url = format!("sqlite://{}", sqlite.display());
    let mut outcomes = Vec::new();
    for (name, url, db) in [
        ("mariadb", mariadb.url.as_str(), Some(&mariadb)),
        ("sqlite", sqlite_url.as_str(), None),
    ] {
        let out = migrate_into(work.path(), dir, url, &["--loaders", "1"]);
        assert_exit(&out, 1);
        let s = stdout(&out);
        assert!(
            s.contains("depositions: 14 (4 loaded, 1 with conflicts, 9 quarantined)"),
            "{name}: {s}"
        );
        assert!(
            s.contains("folders ignored (not deposition folders): 3"),
            "{name}: {s}"
        );
        for (dep, kind) in &expect {
            match kind {
                Some("conflict") => assert!(
                    s.contains(&format!("CONFLICT {dep}: message")),
                    "{name}: {dep}: {s}"
                ),
                Some(kind) => assert!(
                    s.contains(&format!("QUARANTINED {dep} [{kind}]")),
                    "{name}: {dep} {kind}: {s}"
                ),
                None => {}
            }
        }
        let rows = quarantined(db, &sqlite);
        let want: BTreeMap<String, String> = expect
            .iter()
            .filter_map(|(d, k)| k.map(|k| (d.to_string(), k.to_owned())))
            .collect();
        assert_eq!(rows, want, "{name}: the quarantine table");
        let verify = msgmig(
            work.path(),
            &["verify", "--directory", dir, "--database-url", url],
        );
        // verify compares what was loaded: no differences, the quarantines listed; a
        // quarantined deposition is not at parity (exit 1).
        assert_exit(&verify, 1);
        assert!(
            stdout(&verify).contains("depositions: 14 (5 with parity, 9 quarantined)"),
            "{name}: {}",
            stdout(&verify)
        );
        let export = msgmig(
            work.path(),
            &[
                "export",
                "--all",
                "--output-dir",
                &format!("out-{name}"),
                "--database-url",
                url,
            ],
        );
        assert_exit(&export, 0);
        assert!(
            work.path()
                .join(format!("out-{name}/D_2000000009"))
                .is_dir(),
            "{name}: the good deposition exports"
        );
        outcomes.push(
            s.lines()
                .filter(|l| !l.contains("time:"))
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        outcomes[0], outcomes[1],
        "both backends give the same summary"
    );
}
