//! Helpers shared by the binary's end-to-end tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `msgmig` in `cwd` (without any database URL from the environment).
pub fn msgmig(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(cwd)
        .args(args)
        .env_remove("MSGMIG_DATABASE_URL")
        .output()
        .unwrap()
}

/// `msgmig migrate --directory DIR --create-tables --database-url URL EXTRA…` in `cwd`: the
/// first load of an archive into a database.
pub fn migrate_into(cwd: &Path, dir: &str, url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "migrate",
        "--directory",
        dir,
        "--create-tables",
        "--database-url",
        url,
    ];
    args.extend_from_slice(extra);
    msgmig(cwd, &args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the exit code, showing what the command printed when it differs.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The example archive shipped in the repository.
/// The repository's `ops/` folder (scrape configs, alert rules, dashboards).
pub fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops")
}

pub fn example_archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archive")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A fresh MariaDB database for one test (`MSGMIG_TEST_MYSQL_URL`, default
/// `mysql://root@127.0.0.1:3306`), dropped when the guard goes out of scope, even on failure.
pub struct MariaDb {
    name: String,
    pub url: String,
}

fn mariadb_sql(q: &str) -> bool {
    Command::new("mariadb")
        .args(["-uroot", "-h127.0.0.1", "-e", q])
        .status()
        .is_ok_and(|s| s.success())
}

impl MariaDb {
    pub fn create(prefix: &str) -> Self {
        let base = std::env::var("MSGMIG_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        let name = format!("{prefix}_{}", std::process::id());
        assert!(
            mariadb_sql(&format!("CREATE DATABASE {name}")),
            "MariaDB on 127.0.0.1:3306 is required"
        );
        MariaDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        mariadb_sql(&format!("DROP DATABASE IF EXISTS {}", self.name));
    }
}

/// The origcomm table as the upstream branch's init script creates it (a DATETIME
/// `orig_timestamp`, narrower VARCHARs, its own index names): msgmig adopts it and writes into
/// it in its layout.
pub const UPSTREAM_ORIGCOMM_DDL: &str = "CREATE TABLE pdbx_deposition_message_origcomm_reference (
        ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        message_id VARCHAR(64) NOT NULL,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        orig_message_id VARCHAR(64) NULL,
        orig_deposition_data_set_id VARCHAR(50) NULL,
        orig_timestamp DATETIME NULL,
        orig_sender VARCHAR(255) NULL,
        orig_recipient VARCHAR(500) NULL,
        orig_message_subject TEXT NULL,
        orig_attachments TEXT NULL,
        created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
        INDEX idx_message_id (message_id),
        INDEX idx_deposition_data_set_id (deposition_data_set_id),
        INDEX idx_orig_timestamp (orig_timestamp),
        INDEX idx_ordinal_id (ordinal_id),
        CONSTRAINT fk_origcomm_message FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
    ) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci";

impl MariaDb {
    /// Replaces msgmig's origcomm table (created by `db init`) with the upstream branch's
    /// ([`UPSTREAM_ORIGCOMM_DDL`]).
    pub fn use_upstream_origcomm(&self) {
        self.query(&format!(
            "SET foreign_key_checks = 0; DROP TABLE pdbx_deposition_message_origcomm_reference; {UPSTREAM_ORIGCOMM_DDL}"
        ));
    }
}

pub mod app;
pub mod archive;
pub mod kafka;
pub mod snapshot;

/// Runs SQL in a SQLite file with Python's sqlite3 (what a curator would reach for) and returns
/// the first column of the rows, one per line.
pub fn sqlite(file: &Path, q: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nrows=c.execute(sys.argv[2]).fetchall()\nc.commit()\nprint('\\n'.join(str(r[0]) for r in rows))",
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

impl MariaDb {
    /// Runs SQL in this database; `None` when the server refuses it (e.g. the tables are not
    /// created yet).
    pub fn try_query(&self, q: &str) -> Option<String> {
        let out = Command::new("mariadb")
            .args([
                "-uroot",
                "-h127.0.0.1",
                "--default-character-set=utf8mb4",
                "-N",
                "-B",
                &self.name,
                "-e",
                q,
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Runs SQL in this database; returns the tab-separated output without headers.
    pub fn query(&self, q: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "-uroot",
                "-h127.0.0.1",
                "--default-character-set=utf8mb4",
                "-N",
                "-B",
                &self.name,
                "-e",
                q,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Drops the database and creates it empty (a lost or wiped database).
    pub fn recreate(&self) {
        assert!(mariadb_sql(&format!(
            "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}",
            self.name
        )));
    }

    /// A checksum of everything the app tables hold, except what the database itself assigns
    /// (auto-increment `ordinal_id`, `created_at`/`updated_at`): equal checksums = equal content.
    pub fn content_checksum(&self) -> String {
        self.query(
            "SET SESSION group_concat_max_len = 1073741824;
             SELECT SHA2(CONCAT_WS('|',
               (SELECT GROUP_CONCAT(CONCAT_WS(',', message_id, deposition_data_set_id, timestamp, sender, context_type, context_value,
                    IFNULL(parent_message_id,'NULL'), SHA2(message_subject,256), SHA2(message_text,256), message_type, send_status, content_type)
                    ORDER BY 1 SEPARATOR ';') FROM pdbx_deposition_message_info),
               (SELECT GROUP_CONCAT(CONCAT_WS(',', message_id, deposition_data_set_id, content_type, content_format, partition_number,
                    version_id, storage_type, upload_file_name) ORDER BY 1 SEPARATOR ';')
                    FROM pdbx_deposition_message_file_reference),
               (SELECT GROUP_CONCAT(CONCAT_WS(',', message_id, deposition_data_set_id, read_status, action_reqd, for_release)
                    ORDER BY 1 SEPARATOR ';') FROM pdbx_deposition_message_status),
               (SELECT COUNT(*) FROM pdbx_deposition_message_info),
               (SELECT COUNT(*) FROM pdbx_deposition_message_file_reference)), 256)",
        )
    }
}

/// A TCP proxy to MariaDB that can be cut (every connection dropped, new ones refused by
/// closing them at once) and restored: a database outage as the loader sees it.
pub struct Proxy {
    pub port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    pub fn start(target: &'static str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> =
            std::sync::Arc::default();
        let (d, o) = (down.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                o.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, down, open }
    }

    pub fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Asserts two row dumps (one row a line) are equal, showing only the rows that differ
/// (each cut to 300 characters).
pub fn assert_same_rows(got: &str, want: &str, what: &str) {
    if got == want {
        return;
    }
    let g: std::collections::BTreeSet<&str> = got.lines().collect();
    let w: std::collections::BTreeSet<&str> = want.lines().collect();
    let cut = |l: &&str| l.chars().take(300).collect::<String>();
    let missing: Vec<String> = w.difference(&g).map(cut).collect();
    let extra: Vec<String> = g.difference(&w).map(cut).collect();
    panic!("{what}: rows differ\n  missing: {missing:#?}\n  extra: {extra:#?}");
}
