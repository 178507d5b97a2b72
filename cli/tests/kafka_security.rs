//! TLS and SASL as sites deploy them: the three workers reach parity through a
//! SASL_SSL listener (SCRAM-SHA-512, a CA and broker certificate made at test time), PLAIN
//! works too, a wrong password fails with exit 2, and no secret appears in any output. Secrets
//! come from files (`MSGMIG_KAFKA_CONFIG_FILE`, `MSGMIG_DATABASE_URL_FILE`), never from the
//! command line or the environment's values.

mod common;

use common::kafka::{free_port, Broker, Fixture};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SCRAM_PASSWORD: &str = "scram-Secret-7f3a";
const PLAIN_PASSWORD: &str = "plain-Secret-91bc";
const KEYSTORE_PASSWORD: &str = "keystore-Secret-55d2";
const DB_PASSWORD: &str = "db-Secret-c0ffee";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian package openssl) runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a broker certificate for 127.0.0.1 signed by it, in a PKCS#12 keystore.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=msgmig test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "broker.key",
            "-out",
            "broker.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "broker.pem",
        ],
    );
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "broker.pem",
            "-inkey",
            "broker.key",
            "-certfile",
            "ca.pem",
            "-name",
            "broker",
            "-out",
            "broker.p12",
            "-passout",
            &format!("pass:{KEYSTORE_PASSWORD}"),
        ],
    );
}

/// A broker with a SASL_SSL listener on its own port; returns it and that listener's address.
fn secure_broker(dir: &Path) -> (Broker, String) {
    make_certificates(dir);
    let port = free_port();
    let props = dir.join("security.properties");
    std::fs::write(
        &props,
        format!(
            "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN\n\
             listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
             listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_msgmig=\"{PLAIN_PASSWORD}\";\n\
             ssl.keystore.type=PKCS12\n\
             ssl.keystore.location={}\n\
             ssl.keystore.password={KEYSTORE_PASSWORD}\n\
             ssl.key.password={KEYSTORE_PASSWORD}\n",
            dir.join("broker.p12").display()
        ),
    )
    .unwrap();
    let broker = Broker::start_with(&[
        ("KAFKA_EXTRA_PROPERTIES", props.to_str().unwrap()),
        (
            "KAFKA_LISTENERS_EXTRA",
            &format!(",SASL_SSL://127.0.0.1:{port}"),
        ),
        (
            "KAFKA_FORMAT_ARGS",
            &format!("--add-scram 'SCRAM-SHA-512=[name=msgmig,password={SCRAM_PASSWORD}]'"),
        ),
    ]);
    (broker, format!("127.0.0.1:{port}"))
}

fn all_output(dir: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "log") {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        SCRAM_PASSWORD,
        PLAIN_PASSWORD,
        KEYSTORE_PASSWORD,
        DB_PASSWORD,
    ] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn the_pipeline_runs_over_sasl_ssl_with_secrets_from_files_and_prints_none() {
    let certs = tempfile::tempdir().unwrap();
    let (broker, secure) = secure_broker(certs.path());
    let mut fx = Fixture::with_broker("kafka_sasl", 30, 9, broker);

    // The database login has a password, read from a file.
    let db_name = fx.db.url.rsplit('/').next().unwrap().to_owned();
    let user = format!("sec_{}", std::process::id());
    fx.db.query(&format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; \
         GRANT ALL ON {db_name}.* TO '{user}'@'127.0.0.1'"
    ));
    let url_file = fx.dir.path().join("database-url");
    std::fs::write(
        &url_file,
        format!("mysql://{user}:{DB_PASSWORD}@127.0.0.1:3306/{db_name}\n"),
    )
    .unwrap();
    let kafka_file = fx.dir.path().join("kafka.properties");
    std::fs::write(
        &kafka_file,
        format!(
            "# SASL over TLS, as a site's Docker secret would hold it\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanisms=SCRAM-SHA-512\n\
             sasl.username=msgmig\n\
             sasl.password={SCRAM_PASSWORD}\n\
             ssl.ca.location={}\n",
            certs.path().join("ca.pem").display()
        ),
    )
    .unwrap();
    fx.cluster.brokers = secure;
    fx.cluster.database_url = String::new();
    fx.cluster.env = vec![
        (
            "MSGMIG_DATABASE_URL_FILE".into(),
            url_file.to_str().unwrap().into(),
        ),
        (
            "MSGMIG_KAFKA_CONFIG_FILE".into(),
            kafka_file.to_str().unwrap().into(),
        ),
    ];

    fx.cluster.scan_once(&fx.archive);
    let dir = fx.archive.to_str().unwrap();
    let mut t = fx.cluster.spawn(
        "transformer",
        &["transform", "--directory", dir, "--debounce-ms", "50"],
        &[],
    );
    let mut l = fx.cluster.spawn("loader", &["load"], &[]);
    fx.cluster.wait_caught_up(1, Duration::from_secs(180));
    let (code, out) = fx.cluster.verify(&fx.archive);
    assert_eq!(code, 0, "parity over SASL_SSL:\n{out}");
    assert_eq!(
        fx.db
            .query("SELECT COUNT(*) FROM pdbx_deposition_message_info"),
        fx.generated_count("messages")
    );

    // PLAIN, with the password given on the command line: accepted, never echoed.
    let plain = fx.cluster.run(&[
        "status",
        "--kafka-config",
        "sasl.mechanisms=PLAIN",
        "--kafka-config",
        &format!("sasl.password={PLAIN_PASSWORD}"),
    ]);
    let plain_text = format!(
        "{}{}",
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(plain.status.success(), "{plain_text}");
    assert_no_secret("status with PLAIN", &plain_text);

    // A wrong password: a clear failure (exit 2) that does not echo it.
    let wrong = fx.cluster.run(&[
        "status",
        "--kafka-config",
        "sasl.password=not-the-password",
        "--kafka-config",
        "socket.timeout.ms=5000",
    ]);
    let wrong_text = String::from_utf8_lossy(&wrong.stderr).into_owned();
    assert_eq!(wrong.status.code(), Some(2), "{wrong_text}");
    assert!(!wrong_text.contains("not-the-password"), "{wrong_text}");

    assert!(t.stop().success(), "{}", t.log());
    assert!(l.stop().success(), "{}", l.log());
    assert_no_secret("worker logs", &all_output(fx.dir.path()));
    let status = fx.cluster.run(&["status"]);
    assert_no_secret(
        "status",
        &format!(
            "{}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        ),
    );
}
