//! One-shot commands give up on an unreachable database after `--db-timeout`
//! with exit 2 and the real cause, never the password, never hanging.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs msgmig in the background (stdout and stderr captured).
fn spawn(cwd: &std::path::Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(cwd)
        .args(args)
        .env_remove("MSGMIG_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit within `limit` (killing it and failing otherwise).
fn finish(mut child: Child, limit: Duration, what: &str) -> (i32, String) {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The one-shot commands, each against `url`.
fn one_shot_commands(url: &str, archive: &str) -> Vec<Vec<String>> {
    let base = |v: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--database-url".into(),
            url.into(),
            "--db-timeout".into(),
            "2".into(),
        ]);
        v
    };
    vec![
        base(&["migrate", "--directory", archive]),
        base(&["verify", "--directory", archive]),
        base(&["export", "--all", "--output-dir", "out"]),
        base(&["db", "status"]),
    ]
}

#[test]
fn a_refused_connection_is_exit_2_naming_the_cause() {
    let work = tempfile::tempdir().unwrap();
    let port = common::kafka::free_port();
    let url = format!("mysql://msgmig:s3cret-pw@127.0.0.1:{port}/m");
    let archive = example_archive();
    for args in one_shot_commands(&url, archive.to_str().unwrap()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, text) = finish(spawn(work.path(), &args), Duration::from_secs(60), args[0]);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(
            text.contains("Connection refused"),
            "{args:?} names the cause: {text}"
        );
        assert!(
            text.contains("no server answered there: check that it runs"),
            "{args:?} says what to check: {text}"
        );
        assert!(
            !text.contains("s3cret-pw"),
            "{args:?} leaks the password: {text}"
        );
        assert_eq!(
            text.matches("Connection refused").count(),
            1,
            "{args:?} says it once: {text}"
        );
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let work = tempfile::tempdir().unwrap();
    // Accepts connections and never says a word: a blackholed server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let url = format!("mysql://msgmig:s3cret-pw@127.0.0.1:{port}/m");
    let archive = example_archive();
    for args in one_shot_commands(&url, archive.to_str().unwrap()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, text) = finish(spawn(work.path(), &args), Duration::from_secs(60), args[0]);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(
            text.contains(&format!(
                "timed out after 2 s connecting to 127.0.0.1:{port}"
            )),
            "{args:?}: {text}"
        );
    }
}

/// The database goes away for good in the middle of a `migrate`, deposition by deposition and
/// table by table (a first backfill): it gives up after `--db-timeout` with exit 2 (a bounded
/// wait, not forever); run again once the database is back, it completes with parity.
#[test]
fn migrate_gives_up_on_an_outage_that_lasts() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    assert_exit(
        &msgmig(
            work.path(),
            &[
                "generate",
                "--depositions",
                "3000",
                "--seed",
                "5",
                "--output",
                archive.to_str().unwrap(),
            ],
        ),
        0,
    );
    let db = MariaDb::create("msgmig_outage_oneshot");
    for path in ["--no-bulk", "--bulk"] {
        db.recreate();
        outage_then_rerun(work.path(), &archive, &db, path);
    }
}

fn outage_then_rerun(work: &Path, archive: &Path, db: &MariaDb, path: &str) {
    let proxy = Proxy::start("127.0.0.1:3306");
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let via_proxy = format!("mysql://root@127.0.0.1:{}/{name}", proxy.port);
    let dir = archive.to_str().unwrap();
    let child = spawn(
        work,
        &[
            "migrate",
            "--directory",
            dir,
            "--create-tables",
            "--database-url",
            &via_proxy,
            "--db-timeout",
            "3",
            "--batch-size",
            "50",
            path,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while db
        .try_query("SELECT COUNT(*) FROM pdbx_deposition_message_info")
        .is_none_or(|n| n == "0")
    {
        assert!(Instant::now() < deadline, "nothing loaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.cut();
    let (code, text) = finish(child, Duration::from_secs(120), "migrate during an outage");
    assert_eq!(code, 2, "{path}: {text}");
    assert!(text.contains("unreachable for"), "{path}: {text}");
    let loaded: u64 = db
        .query("SELECT COUNT(*) FROM pdbx_deposition_message_info")
        .parse()
        .unwrap();
    assert!(loaded > 0, "{path}: the run stopped midway");
    proxy.restore();
    let again = msgmig(
        work,
        &["migrate", "--directory", dir, "--database-url", &db.url],
    );
    assert_exit(&again, 0);
    let verify = msgmig(
        work,
        &["verify", "--directory", dir, "--database-url", &db.url],
    );
    assert_exit(&verify, 0);
}

/// The server answers but refuses: a wrong password, a database that does not exist. Exit 2,
/// the server's own words, and what to do about each; never the password.
#[test]
fn a_refusal_by_the_server_says_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let db = MariaDb::create("msgmig_refusal");
    let archive = example_archive();
    let archive = archive.to_str().unwrap();
    let (server, name) = db.url.rsplit_once('/').unwrap();
    let host = server.rsplit_once('@').unwrap().1;
    let cases = [
        (
            format!("mysql://root:s3cret-pw@{host}/{name}"),
            "1045",
            "the server refused the user or the password",
        ),
        (
            format!("{server}/{name}_missing"),
            "Unknown database",
            "`msgmig db init` creates it",
        ),
    ];
    for (url, cause, hint) in cases {
        for args in one_shot_commands(&url, archive) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, text) = finish(spawn(work.path(), &args), Duration::from_secs(60), args[0]);
            assert_eq!(code, 2, "{args:?}: {text}");
            assert!(text.contains(cause), "{args:?} names the cause: {text}");
            assert!(text.contains(hint), "{args:?} says what to do: {text}");
            assert!(
                !text.contains("s3cret-pw"),
                "{args:?} leaks the password: {text}"
            );
        }
    }
}
