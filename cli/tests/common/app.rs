//! The OneDep application as the judge (tests/oracle/app_check.py): its own database reader on
//! msgmig's database against its own file reader on the archive, and its own tools (the dump,
//! the data access layer). The application's packages come from `scripts/app-oracle` (PyPI,
//! cached outside the clone); a machine without them fails the test, loudly.

use super::MariaDb;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The python of the application's environment (installed by `scripts/app-oracle` once).
pub fn python() -> PathBuf {
    let out = Command::new(repo().join("scripts/app-oracle"))
        .arg("python")
        .output()
        .expect("scripts/app-oracle runs");
    assert!(
        out.status.success(),
        "the OneDep application's readers are needed (scripts/app-oracle install): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn db_name(db: &MariaDb) -> String {
    db.url.rsplit('/').next().unwrap().to_owned()
}

/// The checker's JSON report for `archive` against `db`; panics (with the differences) unless
/// everything the application reads is equal.
pub fn assert_equal(archive: &Path, db: &MariaDb, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/oracle/app_check.py"))
        .args([
            "--archive",
            archive.to_str().unwrap(),
            "--db-name",
            &db_name(db),
        ])
        .args(extra)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "app_check.py printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["equal"] == true,
        "the application reads the database differently from the files:\n{}",
        serde_json::to_string_pretty(&report["differences"]).unwrap()
    );
    report
}

/// Runs one of the application's own tools with the database of `db` as its site settings
/// (`tests/oracle/ConfigInfoFileCache.py`): `module` is a Python module path.
pub fn run_tool(db: &MariaDb, module_or_script: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(python())
        .args(module_or_script)
        .current_dir(cwd)
        .env("PYTHONPATH", repo().join("tests/oracle"))
        .env("SITE_MESSAGE_DB_HOST_NAME", "127.0.0.1")
        .env("SITE_MESSAGE_DB_PORT_NUMBER", "3306")
        .env("SITE_MESSAGE_DB_USER_NAME", "root")
        .env("SITE_MESSAGE_DB_PASSWORD", "")
        .env("SITE_MESSAGE_DB_NAME", db_name(db))
        .output()
        .unwrap()
}

/// Writes through the application's data access layer (tests/oracle/app_write.py).
pub fn write(db: &MariaDb, args: &[&str]) {
    let out = Command::new(python())
        .arg(repo().join("tests/oracle/app_write.py"))
        .args(["--db-name", &db_name(db)])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the application's write failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
