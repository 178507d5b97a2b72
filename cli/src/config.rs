//! Resolving the database URL (architecture.md §5) and keeping secrets out of output.

use crate::cli::DatabaseArgs;
use anyhow::{bail, Result};

/// The embedded default: a SQLite file in the current directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://msgmig.db?mode=rwc";

/// The database URL from flags and environment, by precedence: `--database-url` /
/// `MSGMIG_DATABASE_URL`, then `SITE_MESSAGE_DB_HOST_NAME` + `_USER_NAME` + `_NAME` (required
/// together) with `_PORT_NUMBER` (3306) and `_PASSWORD` (empty), then [`DEFAULT_DATABASE_URL`].
/// User and password are percent-encoded (the old tools were not: B10).
pub fn database_url(args: &DatabaseArgs) -> Result<String> {
    if let Some(url) = &args.database_url {
        return Ok(normalise(url));
    }
    if let Some(path) = &args.database_url_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read --database-url-file {}: {e}", path.display())
        })?;
        let url = text.lines().next().unwrap_or("").trim();
        if url.is_empty() {
            bail!("--database-url-file {} is empty", path.display());
        }
        return Ok(normalise(url));
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
            Ok(url.to_string())
        }
        (None, None, None) => Ok(DEFAULT_DATABASE_URL.to_owned()),
        _ => bail!("SITE_MESSAGE_DB_HOST_NAME, SITE_MESSAGE_DB_USER_NAME and SITE_MESSAGE_DB_NAME must be set together"),
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
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
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
    }

    #[test]
    fn sqlite_files_are_created_on_first_use() {
        let args = DatabaseArgs {
            database_url: Some("sqlite://x.db".into()),
            database_url_file: None,
        };
        assert_eq!(database_url(&args).unwrap(), "sqlite://x.db?mode=rwc");
    }
}
