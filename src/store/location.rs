//! Where a project's state lives: `.runctl/state.db` (SQLite), or a PostgreSQL database named
//! by `RUNCTL_DATABASE_URL` or the `store.url` setting. A URL is never shown with its
//! password, and a password written into `runctl.toml` (which is meant for version control)
//! is refused.

use std::fmt;
use std::path::PathBuf;

/// The environment variable that names a PostgreSQL store (it wins over `store.url`).
pub const DATABASE_URL_ENV: &str = "RUNCTL_DATABASE_URL";

/// Where the state is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The project's `.runctl/state.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgUrl),
}

impl Location {
    /// `sqlite` or `postgres`, as `--json` says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            Location::Postgres(_) => "postgres",
        }
    }

    /// The DB file, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => url.to_string(),
        }
    }
}

/// A `postgres://` or `postgresql://` URL. Its `Display` hides the password (`user:***@`, and
/// `password=***` among the options).
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl(String);

impl PgUrl {
    /// The URL as given, password included: for connecting only.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether the URL carries a password (in its user part or as an option).
    pub fn has_password(&self) -> bool {
        let (authority, query) = split_url(&self.0);
        authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.contains(':'))
            || query.split('&').any(|kv| kv.starts_with("password="))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::printable(&self.redacted()))
    }
}

impl PgUrl {
    fn redacted(&self) -> String {
        let url = &self.0;
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let (authority, query) = split_url(url);
        let rest = &url[scheme_end + authority.len()..];
        let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
        let mut out = url[..scheme_end].to_string();
        match authority.rsplit_once('@') {
            Some((user, host)) if user.contains(':') => {
                let name = user.split_once(':').map_or(user, |(name, _)| name);
                out.push_str(&format!("{name}:***@{host}"));
            }
            _ => out.push_str(authority),
        }
        out.push_str(rest);
        if !query.is_empty() {
            let shown: Vec<&str> = query
                .split('&')
                .map(|kv| {
                    if kv.starts_with("password=") {
                        "password=***"
                    } else {
                        kv
                    }
                })
                .collect();
            out.push('?');
            out.push_str(&shown.join("&"));
        }
        out
    }
}

/// The authority (`user:pw@host:port`) and the query of a URL, both possibly empty.
fn split_url(url: &str) -> (&str, &str) {
    let after = url.find("://").map_or(url, |i| &url[i + 3..]);
    let authority = after.split(['/', '?']).next().unwrap_or("");
    let query = after.split_once('?').map_or("", |(_, q)| q);
    (authority, query)
}

/// Why a store location was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The text is not shown: it may hold a password in a form this does not know.
    #[error("{from} is not a PostgreSQL URL (it must begin postgres:// or postgresql://)")]
    NotAUrl { from: &'static str },
    #[error(
        "store.url in runctl.toml holds a password ({shown}); runctl.toml is meant for version control"
    )]
    PasswordInSettings { shown: String },
}

/// Where the state is: `RUNCTL_DATABASE_URL` when set and not empty, else `store.url` when
/// not empty, else `db` (the project's `.runctl/state.db`).
pub fn choose(env: Option<&str>, setting: &str, db: PathBuf) -> Result<Location, LocationError> {
    if let Some(url) = env.filter(|u| !u.trim().is_empty()) {
        return pg_url(url, DATABASE_URL_ENV).map(Location::Postgres);
    }
    if setting.trim().is_empty() {
        return Ok(Location::Sqlite(db));
    }
    let url = pg_url(setting, "store.url")?;
    if url.has_password() {
        return Err(LocationError::PasswordInSettings {
            shown: url.to_string(),
        });
    }
    Ok(Location::Postgres(url))
}

fn pg_url(text: &str, from: &'static str) -> Result<PgUrl, LocationError> {
    let text = text.trim();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(PgUrl(text.to_string()))
    } else {
        Err(LocationError::NotAUrl { from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> PgUrl {
        PgUrl(s.to_string())
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        let shown = |s: &str| url(s).to_string();
        assert_eq!(
            shown("postgres://ana:s3cr@t@db.lab:5432/runs"),
            "postgres://ana:***@db.lab:5432/runs"
        );
        assert_eq!(
            shown("postgres://ana@db.lab/runs"),
            "postgres://ana@db.lab/runs"
        );
        assert_eq!(
            shown("postgresql://db/runs?sslmode=require&password=x&user=ana"),
            "postgresql://db/runs?sslmode=require&password=***&user=ana"
        );
        assert_eq!(shown("postgres://:pw@db"), "postgres://:***@db");
        assert_eq!(shown("postgres://db"), "postgres://db");
        for secret in [
            "postgres://a:hunter2@h/d",
            "postgres://h/d?password=hunter2",
        ] {
            assert!(!shown(secret).contains("hunter2"), "{}", shown(secret));
            assert!(!format!("{:?}", url(secret)).contains("hunter2"));
        }
    }

    #[test]
    fn the_environment_wins_over_the_setting_and_either_over_the_file() {
        let db = PathBuf::from("/p/.runctl/state.db");
        assert_eq!(
            choose(None, "", db.clone()),
            Ok(Location::Sqlite(db.clone()))
        );
        assert_eq!(
            choose(Some(" "), " ", db.clone()),
            Ok(Location::Sqlite(db.clone()))
        );
        assert_eq!(
            choose(None, "postgres://h/d", db.clone()),
            Ok(Location::Postgres(url("postgres://h/d")))
        );
        assert_eq!(
            choose(Some("postgres://e/d"), "postgres://h/d", db.clone()),
            Ok(Location::Postgres(url("postgres://e/d")))
        );
        // A password is fine in the environment, never in runctl.toml.
        assert!(choose(Some("postgres://a:pw@h/d"), "", db.clone()).is_ok());
        let err = choose(None, "postgres://a:pw@h/d", db.clone()).unwrap_err();
        assert!(matches!(err, LocationError::PasswordInSettings { .. }));
        assert!(!err.to_string().contains(":pw@"), "{err}");
        let err = choose(None, "postgres://h/d?password=pw", db.clone()).unwrap_err();
        assert!(matches!(err, LocationError::PasswordInSettings { .. }));
    }

    #[test]
    fn anything_but_a_postgres_url_is_refused_and_shown_safely() {
        let db = PathBuf::from("/p/.runctl/state.db");
        for bad in [
            "mysql://a:pw@h/d",
            "sqlite:x.db",
            "db.lab:5432",
            "host=h password=pw",
        ] {
            let err = choose(Some(bad), "", db.clone()).unwrap_err();
            assert!(matches!(err, LocationError::NotAUrl { .. }), "{bad}");
            assert!(!err.to_string().contains("pw"), "{err}");
        }
        let err = choose(None, "post\u{1b}[2Jgres", db).unwrap_err();
        assert_eq!(err, LocationError::NotAUrl { from: "store.url" });
    }
}
