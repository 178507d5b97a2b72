//! What two runs over the same archive must agree on, table by table: the application's four
//! tables (with each row's place among its deposition's rows, not the auto-increment value),
//! who owns each message, each deposition's recorded state, what was quarantined and the
//! loader's dead letters.

use super::MariaDb;
use std::collections::BTreeMap;

/// Canonical dumps, one per table, keyed by table name.
pub type Snapshot = BTreeMap<&'static str, String>;

const QUERIES: &[(&str, &str)] = &[
    (
        "pdbx_deposition_message_info",
        "SELECT message_id, deposition_data_set_id, timestamp, sender, context_type, context_value,
                IFNULL(parent_message_id, 'NULL'), SHA2(message_subject, 256), SHA2(message_text, 256),
                message_type, send_status, content_type,
                ROW_NUMBER() OVER (PARTITION BY deposition_data_set_id, content_type ORDER BY ordinal_id)
         FROM pdbx_deposition_message_info ORDER BY BINARY message_id",
    ),
    (
        "pdbx_deposition_message_file_reference",
        "SELECT message_id, deposition_data_set_id, content_type, content_format, partition_number,
                version_id, storage_type, IFNULL(upload_file_name, 'NULL'),
                ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY ordinal_id)
         FROM pdbx_deposition_message_file_reference ORDER BY BINARY message_id, 9",
    ),
    (
        "pdbx_deposition_message_status",
        "SELECT message_id, deposition_data_set_id, read_status, action_reqd, for_release
         FROM pdbx_deposition_message_status ORDER BY BINARY message_id",
    ),
    (
        "pdbx_deposition_message_origcomm_reference",
        "SELECT message_id, deposition_data_set_id, orig_message_id, orig_timestamp, orig_sender
         FROM pdbx_deposition_message_origcomm_reference ORDER BY BINARY message_id, orig_message_id",
    ),
    (
        "msgmig_message_provenance",
        "SELECT message_id, deposition_id, generation, record_sha256
         FROM msgmig_message_provenance ORDER BY BINARY message_id",
    ),
    (
        "msgmig_depositions",
        "SELECT deposition_id, generation, state, files, messages, conflicts
         FROM msgmig_depositions ORDER BY deposition_id",
    ),
    (
        "msgmig_quarantine",
        "SELECT deposition_id, kind, IFNULL(message_id, ''), IFNULL(path, ''), generation
         FROM msgmig_quarantine ORDER BY deposition_id, kind, BINARY message_id",
    ),
    (
        "msgmig_dead_letters",
        "SELECT stage, reason, IFNULL(deposition_id, ''), letter_key
         FROM msgmig_dead_letters ORDER BY letter_key",
    ),
    (
        "msgmig_file_ledger",
        "SELECT path, deposition_id, version, size FROM msgmig_file_ledger ORDER BY path",
    ),
];

impl MariaDb {
    /// This database's [`Snapshot`] (empty dumps for tables not created yet).
    pub fn snapshot(&self) -> Snapshot {
        QUERIES
            .iter()
            .map(|(table, q)| (*table, self.try_query(q).unwrap_or_default()))
            .collect()
    }
}

/// The [`Snapshot`] of a SQLite file: the same queries, in SQLite's dialect (texts compared
/// whole, byte order without `BINARY`).
pub fn sqlite_snapshot(file: &std::path::Path) -> Snapshot {
    QUERIES
        .iter()
        .map(|(table, q)| {
            let q = q
                .replace("SHA2(message_subject, 256)", "message_subject")
                .replace("SHA2(message_text, 256)", "message_text")
                .replace("BINARY ", "");
            (*table, sqlite_rows(file, &q))
        })
        .collect()
}

/// Every row of `q` in a SQLite file, tab-separated, one per line (Python's sqlite3).
fn sqlite_rows(file: &std::path::Path, q: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor r in c.execute(sys.argv[2]): print('\\t'.join('NULL' if v is None else str(v) for v in r))",
            file.to_str().unwrap(),
            q,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{q}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The tables in which `a` and `b` differ, each with both dumps' lines that the other lacks.
pub fn differences(a: &Snapshot, b: &Snapshot) -> String {
    let mut out = String::new();
    for (table, left) in a {
        let right = b.get(table).map(String::as_str).unwrap_or("");
        if left == right {
            continue;
        }
        let l: std::collections::BTreeSet<&str> = left.lines().collect();
        let r: std::collections::BTreeSet<&str> = right.lines().collect();
        out.push_str(&format!("== {table}\n"));
        for line in l.difference(&r) {
            out.push_str(&format!("  - {line}\n"));
        }
        for line in r.difference(&l) {
            out.push_str(&format!("  + {line}\n"));
        }
        if l == r {
            out.push_str("  (same rows, other order)\n");
        }
    }
    out
}
