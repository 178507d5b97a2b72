//! A first backfill into empty tables loads table by table; the result must be the one a load
//! deposition by deposition gives, row for row, and a bulk run killed anywhere must cost
//! nothing but time. Real MariaDB (both origcomm layouts) and SQLite.
//!
//! The archive holds the example archive's depositions (origcomm rows, attachments, statuses,
//! replies), the contested ids of every kind (byte-equal, collation-equal, named owner), a
//! deposition the transformer quarantines, one whose first message is larger than the server's
//! packet (refused, quarantined whole) and the text-rule depositions.

mod common;

use common::archive::{write_contested, write_encodings};
use common::snapshot::{differences, sqlite_snapshot, Snapshot};
use common::{assert_exit, copy_dir, example_archive, migrate_into, stdout, MariaDb};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Bytes of the refused message: above MariaDB's default `max_allowed_packet` (16 MiB).
const REFUSED_TEXT: usize = 17 << 20;

fn archive(work: &Path) -> PathBuf {
    let archive = work.join("archive");
    copy_dir(&example_archive(), &archive);
    write_contested(&archive, REFUSED_TEXT);
    write_encodings(&archive);
    archive
}

/// The summary a person reads, without the line that differs by design (the time) and the one
/// that names the bulk path.
fn summary(o: &Output) -> String {
    stdout(o)
        .lines()
        .filter(|l| !l.trim_start().starts_with("time:") && !l.contains("table by table"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_same(got: &Snapshot, want: &Snapshot, what: &str) {
    assert!(got == want, "{what}:\n{}", differences(want, got));
}

/// `msgmig db init` of `db`, with the upstream branch's origcomm table when `upstream`.
fn init(work: &Path, db: &MariaDb, upstream: bool) {
    let o = common::msgmig(work, &["db", "init", "--database-url", &db.url]);
    assert_exit(&o, 0);
    if upstream {
        db.use_upstream_origcomm();
        assert_exit(
            &common::msgmig(work, &["db", "init", "--database-url", &db.url]),
            0,
        );
    }
}

#[test]
fn a_first_backfill_table_by_table_equals_deposition_by_deposition_on_mariadb() {
    let work = tempfile::tempdir().unwrap();
    let archive = archive(work.path());
    let dir = archive.to_str().unwrap();
    for upstream in [false, true] {
        let layout = if upstream { "upstream" } else { "msgmig" };
        let per = MariaDb::create("msgmig_bulk_per");
        let bulk = MariaDb::create("msgmig_bulk_bulk");
        init(work.path(), &per, upstream);
        init(work.path(), &bulk, upstream);
        let by_deposition = migrate_into(work.path(), dir, &per.url, &["--no-bulk"]);
        let by_table = migrate_into(work.path(), dir, &bulk.url, &["--bulk"]);
        assert_exit(&by_deposition, 1);
        assert_exit(&by_table, 1);
        assert!(
            stdout(&by_table).contains("loaded table by table"),
            "the summary names the bulk path: {}",
            stdout(&by_table)
        );
        assert!(!stdout(&by_deposition).contains("table by table"));
        let log = String::from_utf8_lossy(&by_table.stderr);
        assert!(
            log.contains("protocol=\"load_data\"") && !log.contains("bulk_load_data_declined"),
            "{layout} layout: MariaDB takes the tables by LOAD DATA LOCAL: {log}"
        );
        assert_eq!(
            summary(&by_table),
            summary(&by_deposition),
            "{layout} layout: the same summary"
        );
        assert_same(
            &bulk.snapshot(),
            &per.snapshot(),
            &format!("{layout} layout: bulk against per deposition"),
        );
        let stored: u64 = bulk
            .query("SELECT COUNT(*) FROM pdbx_deposition_message_origcomm_reference")
            .parse()
            .unwrap();
        assert!(stored >= 4, "{layout}: origcomm rows loaded ({stored})");
        assert_eq!(
            bulk.query("SELECT COUNT(*) FROM msgmig_bulk_loads"),
            "0",
            "a finished bulk run leaves no marker"
        );

        // The tables are no longer empty: the next run goes deposition by deposition, and
        // finds everything loaded; --bulk is refused with what to do.
        let again = migrate_into(work.path(), dir, &bulk.url, &[]);
        assert_exit(&again, 1);
        assert!(
            !stdout(&again).contains("table by table")
                && stdout(&again).contains("messages: 0 inserted, 0 updated"),
            "{}",
            stdout(&again)
        );
        let refused = migrate_into(work.path(), dir, &bulk.url, &["--bulk"]);
        assert_exit(&refused, 2);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(
            err.contains("--bulk loads only into empty tables")
                && err.contains("run without --bulk"),
            "{err}"
        );
        assert_same(&bulk.snapshot(), &per.snapshot(), "re-runs change nothing");
    }
}

#[test]
fn a_first_backfill_table_by_table_equals_deposition_by_deposition_on_sqlite() {
    let work = tempfile::tempdir().unwrap();
    let archive = archive(work.path());
    let dir = archive.to_str().unwrap();
    let per = work.path().join("per.sqlite");
    let bulk = work.path().join("bulk.sqlite");
    let url = |f: &Path| format!("sqlite://{}?mode=rwc", f.display());
    let by_deposition = migrate_into(work.path(), dir, &url(&per), &["--no-bulk"]);
    let by_table = migrate_into(work.path(), dir, &url(&bulk), &[]);
    assert_exit(&by_deposition, 1);
    assert_exit(&by_table, 1);
    assert!(
        stdout(&by_table).contains("loaded table by table"),
        "empty tables: the bulk path by itself: {}",
        stdout(&by_table)
    );
    assert_eq!(summary(&by_table), summary(&by_deposition));
    assert_same(
        &sqlite_snapshot(&bulk),
        &sqlite_snapshot(&per),
        "SQLite: bulk against per deposition",
    );
}

/// Every point where a bulk run can die: after reading (nothing written), inside and after each
/// table's transaction, before and inside the residual depositions' load, before its marker
/// is removed.
const CRASH_POINTS: &[&str] = &[
    "bulk_after_spill",
    "bulk_mid_provenance",
    "bulk_after_provenance",
    "bulk_mid_info",
    "bulk_after_info",
    "bulk_mid_file_refs",
    "bulk_after_file_refs",
    "bulk_mid_status",
    "bulk_after_status",
    "bulk_mid_origcomm",
    "bulk_after_origcomm",
    "bulk_mid_states",
    "bulk_after_states",
    "bulk_before_residual",
    "loader_before_commit",
    "bulk_before_finish",
];

#[test]
fn a_bulk_run_killed_in_any_phase_is_undone_and_the_next_run_gives_the_same_tables() {
    let work = tempfile::tempdir().unwrap();
    let archive = archive(work.path());
    let dir = archive.to_str().unwrap();
    let reference = MariaDb::create("msgmig_bulk_ref");
    assert_exit(
        &migrate_into(work.path(), dir, &reference.url, &["--no-bulk"]),
        1,
    );
    let want = reference.snapshot();
    let db = MariaDb::create("msgmig_bulk_crash");
    let spill = work.path().join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let spill_dir = spill.to_str().unwrap();
    for (i, point) in CRASH_POINTS.iter().enumerate() {
        db.recreate();
        let killed = Command::new(env!("CARGO_BIN_EXE_msgmig"))
            .current_dir(work.path())
            .args([
                "migrate",
                "--directory",
                dir,
                "--create-tables",
                "--database-url",
                &db.url,
                "--spill-dir",
                spill_dir,
            ])
            .env_remove("MSGMIG_DATABASE_URL")
            .env("FAILPOINTS", format!("{point}=return"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&killed.stderr);
        assert!(
            killed.status.code().is_none() && err.contains(&format!("failpoint {point} reached")),
            "{point}: the run dies there ({:?}): {err}",
            killed.status
        );
        // Run again, alternately by the bulk path (the recovery empties the tables first, so
        // --bulk is allowed) and deposition by deposition.
        let path = if i % 2 == 0 { "--bulk" } else { "--no-bulk" };
        let again = migrate_into(work.path(), dir, &db.url, &[path, "--spill-dir", spill_dir]);
        let wrote = *point != "bulk_after_spill";
        assert_exit(&again, 1);
        let said = String::from_utf8_lossy(&again.stderr);
        assert_eq!(
            said.contains("stopped before it finished"),
            wrote,
            "{point}: the next run says it undid the stopped one (or that there was nothing): {said}"
        );
        assert_same(
            &db.snapshot(),
            &want,
            &format!("killed at {point}, run again"),
        );
        assert_eq!(db.query("SELECT COUNT(*) FROM msgmig_bulk_loads"), "0");
    }
}
