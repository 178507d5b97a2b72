//! The OneDep application is the judge: what its database reader returns from msgmig's database
//! equals what its file reader returns from the files (tests/oracle/app_check.py), on the
//! example archive, the shared wwPDB samples (when `MSGMIG_SHARED_FIXTURES` is set), a generated
//! archive of 500 depositions, and a hand-made archive of the text rules through `migrate`,
//! `run` and the Kafka pipeline; round trips through the application's own dump and through
//! msgmig's export; and rows the application writes while `msgmig run` keeps the database in
//! step. MariaDB (the application speaks MySQL only).

mod common;

use common::archive::{write_encodings, write_file, Msg};
use common::kafka::Fixture;
use common::{app, copy_dir, example_archive, migrate_into, msgmig, stdout, MariaDb};
use std::path::Path;
use std::time::{Duration, Instant};

fn migrated(work: &Path, archive: &Path, prefix: &str) -> MariaDb {
    let db = MariaDb::create(prefix);
    let out = migrate_into(work, archive.to_str().unwrap(), &db.url, &[]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The example archive and the text-rules depositions.
fn encodings_archive(work: &Path) -> std::path::PathBuf {
    let archive = work.join("archive");
    copy_dir(&example_archive(), &archive);
    write_encodings(&archive);
    archive
}

#[test]
fn the_example_archive_reads_the_same_through_the_app() {
    let work = tempfile::tempdir().unwrap();
    let db = migrated(work.path(), &example_archive(), "msgmig_app_example");
    let report = app::assert_equal(&example_archive(), &db, &[]);
    assert!(report["compared"].as_u64().unwrap() >= 10, "{report:#}");
}

#[test]
fn the_shared_wwpdb_samples_read_the_same_through_the_app() {
    let Ok(shared) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES is not set: the shared wwPDB samples are not checked");
        return;
    };
    let archive = Path::new(&shared).join("wwpdb-archive");
    assert!(archive.is_dir(), "{} is missing", archive.display());
    let work = tempfile::tempdir().unwrap();
    let db = migrated(work.path(), &archive, "msgmig_app_shared");
    let report = app::assert_equal(&archive, &db, &[]);
    assert!(report["compared"].as_u64().unwrap() >= 4, "{report:#}");
}

#[test]
fn a_generated_archive_of_500_depositions_reads_the_same_through_the_app() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    let out = msgmig(
        work.path(),
        &[
            "generate",
            "--output",
            archive.to_str().unwrap(),
            "--depositions",
            "500",
            "--seed",
            "28",
        ],
    );
    common::assert_exit(&out, 0);
    let db = migrated(work.path(), &archive, "msgmig_app_generated");
    let report = app::assert_equal(&archive, &db, &[]);
    assert_eq!(report["compared"], 500, "{report:#}");
}

/// What the text rules store, read back directly.
fn assert_text_rules(db: &MariaDb) {
    let text = |id: &str, column: &str| {
        db.query(&format!(
            "SELECT {column} FROM pdbx_deposition_message_info WHERE message_id = '{id}'"
        ))
    };
    assert!(
        text("enc-0001", "message_text").contains("&#197;ngstr&#246;m caf&#233; &#129516;"),
        "raw UTF-8 in a file is stored as the application's reader gives it"
    );
    assert_eq!(
        text("enc-0001", "message_subject"),
        "M&#252;ller's \"report\""
    );
    assert!(
        text("enc-0002", "message_text").contains(r"C:\\users\\u0041dmin and \\u00e9"),
        "a backslash-u written in a legacy file stays as written"
    );
    assert_eq!(
        text("dump-0001", "message_subject"),
        "café Ångström",
        "the escapes of the application's dump are decoded, as its migrator does"
    );
    assert!(text("dump-0001", "message_text").contains("🧬 and naïve"));
}

#[test]
fn the_text_rules_read_the_same_through_the_app_via_migrate_run_and_kafka() {
    // migrate
    let work = tempfile::tempdir().unwrap();
    let archive = encodings_archive(work.path());
    let db = migrated(work.path(), &archive, "msgmig_app_text_migrate");
    assert_text_rules(&db);
    app::assert_equal(&archive, &db, &[]);

    // run: the continuous pipeline, until it has loaded everything
    let db = MariaDb::create("msgmig_app_text_run");
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(work.path())
        .args([
            "run",
            "--directory",
            archive.to_str().unwrap(),
            "--create-tables",
            "--poll-only",
            "--poll-interval",
            "1",
            "--metrics-addr",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let folders = std::fs::read_dir(&archive).unwrap().count() - 1; // the README
    wait_until("run to load the archive", Duration::from_secs(120), || {
        db.try_query("SELECT COUNT(*) FROM msgmig_depositions")
            .and_then(|n| n.parse::<usize>().ok())
            == Some(folders)
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    run.wait().unwrap();
    assert_text_rules(&db);
    app::assert_equal(&archive, &db, &[]);

    // Kafka: scan, transform and load as separate processes
    let fx = Fixture::new("app_text_kafka", 3, 1);
    let archive = encodings_archive(fx.dir.path());
    fx.cluster.scan_once(&archive);
    let dir = archive.to_str().unwrap();
    let _t = fx.cluster.spawn(
        "transform",
        &["transform", "--directory", dir, "--debounce-ms", "50"],
        &[],
    );
    let _l = fx.cluster.spawn("load", &["load"], &[]);
    wait_until(
        "the Kafka pipeline to load the archive",
        Duration::from_secs(180),
        || {
            fx.db
                .try_query("SELECT COUNT(*) FROM msgmig_depositions")
                .and_then(|n| n.parse::<usize>().ok())
                == Some(folders)
        },
    );
    assert_text_rules(&fx.db);
    app::assert_equal(&archive, &fx.db, &[]);
}

#[test]
fn round_trips_through_the_apps_dump_and_msgmigs_export() {
    let work = tempfile::tempdir().unwrap();
    let archive = encodings_archive(work.path());
    let source = migrated(work.path(), &archive, "msgmig_app_roundtrip");

    // The application's dump of msgmig's database (a rollback), migrated again by msgmig.
    let out = app::run_tool(
        &source,
        &[
            "-m",
            "wwpdb.apps.msgmodule.util.dump_db_to_cif",
            "--all",
            "--output-dir",
            "dump",
            "--site-id",
            "MSGMIG_TEST",
        ],
        work.path(),
    );
    assert!(
        out.status.success(),
        "the application's dump: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let again = migrated(work.path(), &work.path().join("dump"), "msgmig_app_redump");
    for (table, columns) in [
        (
            "pdbx_deposition_message_info",
            "message_id, deposition_data_set_id, timestamp, sender, context_type, context_value, \
             IFNULL(parent_message_id, 'NULL'), message_subject, message_text, message_type, send_status, content_type",
        ),
        (
            "pdbx_deposition_message_file_reference",
            "message_id, deposition_data_set_id, content_type, content_format, partition_number, \
             version_id, storage_type, upload_file_name",
        ),
    ] {
        // Two messages hold what the dump's own format cannot carry (its value writer,
        // `format_cif_loop_value`): a single-line value with both quote kinds is written with
        // `\"` (not CIF: read back as written), and backslashes in a single-line value are
        // doubled (`unicode_escape`) while a genuine `\u0041` is decoded like an escape. They are
        // checked apart below.
        let rows = |db: &MariaDb| {
            db.query(&format!(
                "SELECT CONCAT_WS('|', {columns}) FROM {table} \
                 WHERE message_id NOT IN ('enc-0001', 'enc-0002') ORDER BY 1"
            ))
        };
        common::assert_same_rows(
            &rows(&again),
            &rows(&source),
            &format!("{table}: the dump, migrated again"),
        );
    }
    // (The client prints a backslash as `\\`.)
    let values = |db: &MariaDb, id: &str| {
        db.query(&format!(
            "SELECT CONCAT_WS('|', message_subject, message_text) FROM pdbx_deposition_message_info WHERE message_id = '{id}'"
        ))
    };
    assert!(
        values(&again, "enc-0001").starts_with(r#"M&#252;ller's \\"report\\"|"#),
        "the dump writes a quote beside an apostrophe as backslash-quote: {}",
        values(&again, "enc-0001")
    );
    assert!(
        values(&again, "enc-0002").contains(r"C:\\\\users\\Admin"),
        "the dump doubles a single-line value's backslashes and cannot keep a written \\u0041: {}",
        values(&again, "enc-0002")
    );
    // The application's dump writes the statuses of to-depositor messages only, and no origcomm
    // (its own limits): the statuses it wrote come back exactly, the others are the ones it
    // left out.
    let statuses = |db: &MariaDb, filter: &str| {
        db.query(&format!(
            "SELECT CONCAT_WS('|', s.message_id, s.deposition_data_set_id, s.read_status, s.action_reqd, s.for_release) \
             FROM pdbx_deposition_message_status s JOIN pdbx_deposition_message_info i ON i.message_id = s.message_id \
             WHERE {filter} ORDER BY 1"
        ))
    };
    common::assert_same_rows(
        &statuses(&again, "1 = 1"),
        &statuses(&source, "i.content_type = 'messages-to-depositor'"),
        "the statuses the dump wrote",
    );

    // msgmig's export, read by the application's file reader, equals its database reader on
    // the source (subjects and texts as the application displays them: a file carries
    // non-ASCII as references, the database may hold it raw).
    let out = msgmig(
        work.path(),
        &[
            "export",
            "--all",
            "--output-dir",
            "export",
            "--database-url",
            &source.url,
        ],
    );
    common::assert_exit(&out, 0);
    app::assert_equal(&work.path().join("export"), &source, &["--as-displayed"]);
}

#[test]
fn rows_the_app_writes_while_run_keeps_the_database_in_step_are_never_overwritten() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    let dep = "D_8100000001";
    let v1 = [
        Msg::new("coexist-1", dep, "First subject"),
        Msg::new("coexist-2", dep, "Second subject"),
    ];
    write_file(&archive, dep, "messages-to-depositor", 1, &v1);
    let db = MariaDb::create("msgmig_app_coexist");
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(work.path())
        .args([
            "run",
            "--directory",
            archive.to_str().unwrap(),
            "--create-tables",
            "--poll-only",
            "--poll-interval",
            "1",
            "--metrics-addr",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let subject = |id: &str| {
        db.try_query(&format!(
            "SELECT message_subject FROM pdbx_deposition_message_info WHERE message_id = '{id}'"
        ))
        .unwrap_or_default()
    };
    wait_until("run to load", Duration::from_secs(120), || {
        subject("coexist-2") == "Second subject"
    });
    // The application writes: a message of its own, and a status flag on a loaded message.
    app::write(&db, &["new-message", dep, "app-0001"]);
    app::write(&db, &["set-read", dep, "coexist-1", "N"]);
    // The legacy files change both loaded messages.
    let v2 = [
        Msg::new("coexist-1", dep, "First subject, edited"),
        Msg::new("coexist-2", dep, "Second subject, edited"),
    ];
    write_file(&archive, dep, "messages-to-depositor", 2, &v2);
    wait_until(
        "run to load the new version",
        Duration::from_secs(120),
        || subject("coexist-2") == "Second subject, edited",
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    run.wait().unwrap();
    let check = |when: &str| {
        assert_eq!(
            subject("app-0001"),
            "Written by the application",
            "{when}: the application's own message is untouched"
        );
        assert_eq!(
            db.query("SELECT COUNT(*) FROM pdbx_deposition_message_file_reference WHERE message_id = 'app-0001'"),
            "1",
            "{when}: and its file reference"
        );
        assert_eq!(
            subject("coexist-1"),
            "First subject",
            "{when}: a message the application changed keeps the application's rows"
        );
        assert_eq!(
            db.query("SELECT read_status FROM pdbx_deposition_message_status WHERE message_id = 'coexist-1'"),
            "N",
            "{when}: the application's flag"
        );
        assert_eq!(
            db.query(&format!(
                "SELECT CONCAT(kind, ' ', message_id) FROM msgmig_quarantine WHERE deposition_id = '{dep}'"
            )),
            "app_changed coexist-1",
            "{when}: the disagreement is reported"
        );
    };
    check("run");
    for extra in [&[][..], &["--full"][..]] {
        let out = migrate_into(work.path(), archive.to_str().unwrap(), &db.url, extra);
        common::assert_exit(&out, 1);
        assert!(
            stdout(&out).contains(&format!("KEPT {dep}: message coexist-1")),
            "{}",
            stdout(&out)
        );
        check(&format!("migrate {extra:?}"));
    }
}
