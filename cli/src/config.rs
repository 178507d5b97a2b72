//! Resolving the database URL and keeping secrets out of output.

use crate::args::DatabaseArgs;
use anyhow::{bail, Result};

/// The embedded default: a SQLite file in the current directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://msgmig.db?mode=rwc";

/// The database URL from flags and environment, by precedence: `--database-url` /
/// `MSGMIG_DATABASE_URL`, then `SITE_MESSAGE_DB_HOST_NAME` + `_USER_NAME` + `_NAME` (required
/// together) with `_PORT_NUMBER` (3306), `_PASSWORD` (empty) and `_SOCKET` (a Unix socket, used
/// instead of TCP when set), then [`DEFAULT_DATABASE_URL`].
/// User and password are percent-encoded (the old tools were not).
pub fn database_url(args: &DatabaseArgs) -> Result<String> {
    if let Some(url) = &args.database_url {
        return checked(normalise(url));
    }
    if let Some(path) = &args.database_url_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read --database-url-file {}: {e}", path.display())
        })?;
        let url = text.lines().next().unwrap_or("").trim();
        if url.is_empty() {
            bail!("--database-url-file {} is empty", path.display());
        }
        return checked(normalise(url));
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let host = var("SITE_MESSAGE_DB_HOST_NAME");
    let user = var("SITE_MESSAGE_DB_USER_NAME");
    let name = var("SITE_MESSAGE_DB_NAME");
    match (host, user, name) {
        (Some(host), Some(user), Some(name)) => {
            let port = var("SITE_MESSAGE_DB_PORT_NUMBER").unwrap_or_else(|| "3306".into());
            let mut url = url::Url::parse(&format!("mysql://{host}:{port}/{name}"))?;
            url.set_username(&user).map_err(|()| anyhow::anyhow!("invalid SITE_MESSAGE_DB_USER_NAME"))?;
            if let Some(pw) = var("SITE_MESSAGE_DB_PASSWORD") {
                url.set_password(Some(&pw)).map_err(|()| anyhow::anyhow!("invalid SITE_MESSAGE_DB_PASSWORD"))?;
            }
            // The old tools connect through the socket when one is set.
            if let Some(socket) = var("SITE_MESSAGE_DB_SOCKET") {
                url.query_pairs_mut().append_pair("socket", &socket);
            }
            Ok(url.to_string())
        }
        (None, None, None) => Ok(DEFAULT_DATABASE_URL.to_owned()),
        _ => bail!("SITE_MESSAGE_DB_HOST_NAME, SITE_MESSAGE_DB_USER_NAME and SITE_MESSAGE_DB_NAME must be set together"),
    }
}

/// [`database_url`] when one is configured (flag, file, `MSGMIG_DATABASE_URL`, or the legacy
/// variables), `None` when it would fall back to the embedded default: for commands whose
/// database is optional (`scan`).
pub fn configured_database_url(args: &DatabaseArgs) -> Result<Option<String>> {
    let url = database_url(args)?;
    let explicit = args.database_url.is_some() || args.database_url_file.is_some();
    Ok((explicit || url != DEFAULT_DATABASE_URL).then_some(url))
}

/// The URL, parsed once and refused with a message that shows it masked: an unknown scheme,
/// a bad port or an unencoded `@` in the password would otherwise reach the
/// driver, whose errors quote the whole URL.
fn checked(url: String) -> Result<String> {
    let parsed = url::Url::parse(&url).map_err(|e| {
        anyhow::anyhow!(
            "the database URL {} is not valid ({e}); percent-encode special characters in the user name and password (@ is %40, : is %3A, / is %2F, # is %23)",
            redact(&url)
        )
    })?;
    if parsed.scheme() == "mysql"
        && (parsed.path().contains('@') || parsed.query().is_some_and(|q| q.contains('@')))
    {
        bail!(
            "the database URL {} has an `@` after the host: percent-encode special characters in the password (@ is %40, / is %2F, : is %3A, # is %23)",
            redact(&url)
        );
    }
    match parsed.scheme() {
        "mysql" | "sqlite" => Ok(url),
        other => bail!(
            "unsupported database URL scheme `{other}` in {}: use mysql://user:password@host:3306/db (MySQL or MariaDB) or sqlite://path/to/file.db",
            redact(&url)
        ),
    }
}

/// A bare SQLite path gets `mode=rwc` so the file is created on first use.
fn normalise(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        return format!("{url}{sep}mode=rwc");
    }
    url.to_owned()
}

/// The URL with any password replaced by `***`, safe for logs and error messages.
pub fn redact(url: &str) -> String {
    let suspicious =
        |u: &url::Url| u.path().contains('@') || u.query().is_some_and(|q| q.contains('@'));
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() && !suspicious(&u) => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) if !suspicious(&u) => url.to_owned(),
        // Unparsable, or parsed wrongly (an unencoded `@` or `/` in the password, a bad port):
        // mask everything between the user name and the last `@`.
        _ => {
            let Some(start) = url.find("://").map(|i| i + 3) else {
                return url.to_owned();
            };
            let rest = &url[start..];
            let Some(at) = rest.rfind('@') else {
                return url.to_owned();
            };
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..start], &rest[at..])
        }
    }
}

/// `text` (an error message from a driver) with the password of `url` masked, raw and
/// percent-decoded, wherever it appears.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    let password = match url::Url::parse(url) {
        Ok(u) if !u.path().contains('@') => u.password().map(str::to_owned),
        _ => url.find("://").and_then(|i| {
            let rest = &url[i + 3..];
            let at = rest.rfind('@')?;
            rest[..at].split_once(':').map(|(_, p)| p.to_owned())
        }),
    };
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(&pw)
            .decode_utf8_lossy()
            .into_owned();
        for secret in [pw, decoded] {
            if secret.len() >= 3 {
                out = out.replace(&secret, "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("mysql://root:s3cr%40t@db:3306/m"),
            "mysql://root:***@db:3306/m"
        );
        assert_eq!(
            redact("sqlite://msgmig.db?mode=rwc"),
            "sqlite://msgmig.db?mode=rwc"
        );
        assert_eq!(
            redact("mysql://root:p@ss/w0rd@db:3306/m"),
            "mysql://root:***@db:3306/m",
            "an unencoded @ and / in the password"
        );
        assert_eq!(
            redact("mysql://root:s3cret@db:99999/m"),
            "mysql://root:***@db:99999/m",
            "a bad port"
        );
        assert_eq!(
            scrub(
                "no driver for mysqlx://root:s3cr%40t@db/m (s3cr@t)",
                "mysqlx://root:s3cr%40t@db/m"
            ),
            "no driver for mysqlx://root:***@db/m (***)"
        );
    }

    #[test]
    fn bad_urls_are_refused_masked() {
        for url in [
            "postgres://root:s3cret@db/m",
            "mysql://root:s3cr/t@db:3306/m",
            "mysql://root:s3cret@db:99999/m",
        ] {
            let args = DatabaseArgs {
                database_url: Some(url.into()),
                database_url_file: None,
                db_timeout: 60,
            };
            let e = database_url(&args).unwrap_err().to_string();
            assert!(!e.contains("s3cr"), "{e}");
            assert!(e.contains("***"), "{e}");
        }
    }

    #[test]
    fn sqlite_files_are_created_on_first_use() {
        let args = DatabaseArgs {
            database_url: Some("sqlite://x.db".into()),
            database_url_file: None,
            db_timeout: 60,
        };
        assert_eq!(database_url(&args).unwrap(), "sqlite://x.db?mode=rwc");
    }
}
