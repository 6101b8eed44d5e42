//! Where a project's state lives: `.runctl/state.db` (SQLite), or a PostgreSQL database named
//! by `RUNCTL_DATABASE_URL` or the `store.url` setting. A URL is never shown with its
//! password, and a password written into `runctl.toml` (which is meant for version control)
//! is refused.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Access;

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

    /// Whether the URL carries a password: in its user part, or as an option whose name,
    /// decoded, holds "password" in any case (the client decodes option names, and a
    /// misspelt one still holds the secret).
    pub fn has_password(&self) -> bool {
        let parts = Parts::of(&self.0);
        parts.user.is_some_and(|u| u.contains(':'))
            || parts.query.is_some_and(|q| q.split('&').any(secret_option))
    }

    /// The URL with its password left out altogether (the user part keeps the name; options
    /// that hold a password go): one to paste into `RUNCTL_DATABASE_URL`, the password then
    /// coming from `~/.pgpass` or `PGPASSWORD`. Control characters escaped.
    pub fn without_password(&self) -> String {
        let parts = Parts::of(&self.0);
        let mut out = parts.scheme.to_string();
        if let Some(user) = parts.user {
            let name = user.split_once(':').map_or(user, |(name, _)| name);
            out.push_str(&format!("{name}@"));
        }
        out.push_str(parts.rest);
        if let Some(query) = parts.query {
            let kept: Vec<&str> = query.split('&').filter(|kv| !secret_option(kv)).collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        crate::text::printable(&out).into_owned()
    }

    fn redacted(&self) -> String {
        let parts = Parts::of(&self.0);
        let mut out = parts.scheme.to_string();
        if let Some(user) = parts.user {
            match user.split_once(':') {
                Some((name, _)) => out.push_str(&format!("{name}:***@")),
                None => out.push_str(&format!("{user}@")),
            }
        }
        out.push_str(parts.rest);
        if let Some(query) = parts.query {
            let shown: Vec<String> = query
                .split('&')
                .map(|kv| match (secret_option(kv), kv.split_once('=')) {
                    (true, Some((key, _))) => format!("{key}=***"),
                    (true, None) => "***".to_string(),
                    (false, _) => kv.to_string(),
                })
                .collect();
            out.push('?');
            out.push_str(&shown.join("&"));
        }
        out
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

/// A URL cut so that no piece of a password can be left outside the user part: that is
/// everything before the last `@` (the client itself ends it at the first `@`, so a password
/// may hold `/` or `?`; and one with a raw `@` must not leave its tail in sight), the options
/// everything after the first `?` that follows it.
struct Parts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    /// Host, port and database.
    rest: &'a str,
    query: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn of(url: &'a str) -> Parts<'a> {
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let (scheme, after) = url.split_at(scheme_end);
        let (user, after) = match after.rsplit_once('@') {
            Some((user, after)) => (Some(user), after),
            None => (None, after),
        };
        let (rest, query) = match after.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (after, None),
        };
        Parts {
            scheme,
            user,
            rest,
            query,
        }
    }
}

/// Whether an option (`key=value`) names a password, its key percent-decoded, trimmed and in
/// any case; one without `=` is judged whole.
fn secret_option(kv: &str) -> bool {
    let key = kv.split_once('=').map_or(kv, |(key, _)| key);
    percent_decoded(key).to_lowercase().contains("password")
}

/// `%XX` escapes undone (an invalid one kept as it is).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    /// The text is not shown, as for [`LocationError::NotAUrl`].
    #[error(
        "{from} is neither a PostgreSQL URL (postgres://...) nor sqlite:PATH (a path, as sqlite:copy.db or sqlite:/abs/copy.db)"
    )]
    NotAStore { from: &'static str },
}

/// A store named on the command line (`--to`): a `postgres://` or `postgresql://` URL, or
/// `sqlite:PATH` (PATH relative to `cwd`).
pub fn parse_store(text: &str, from: &'static str, cwd: &Path) -> Result<Location, LocationError> {
    if let Some(path) = text.strip_prefix("sqlite:") {
        // `sqlite://x.db` would name /x.db: a URL's spelling, not a path.
        if path.is_empty() || path.starts_with("//") {
            return Err(LocationError::NotAStore { from });
        }
        return Ok(Location::Sqlite(cwd.join(path)));
    }
    pg_url(text, from)
        .map(Location::Postgres)
        .map_err(|_| LocationError::NotAStore { from })
}

/// Where the state is: `RUNCTL_DATABASE_URL` when set and not empty, else `store.url` when
/// not empty, else `db` (the project's `.runctl/state.db`).
pub fn choose(env: Option<&str>, setting: &str, db: PathBuf) -> Result<Location, LocationError> {
    // A password in runctl.toml is refused even where the environment wins: the file is
    // meant to be committed.
    let from_settings = match setting.trim().is_empty() {
        true => None,
        false => Some(pg_url(setting, "store.url")?),
    };
    if let Some(url) = from_settings.as_ref().filter(|u| u.has_password()) {
        return Err(LocationError::PasswordInSettings {
            shown: url.to_string(),
        });
    }
    if let Some(url) = env.filter(|u| !u.trim().is_empty()) {
        return pg_url(url, DATABASE_URL_ENV).map(Location::Postgres);
    }
    Ok(from_settings.map_or(Location::Sqlite(db), Location::Postgres))
}

fn pg_url(text: &str, from: &'static str) -> Result<PgUrl, LocationError> {
    let text = text.trim();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(PgUrl(text.to_string()))
    } else {
        Err(LocationError::NotAUrl { from })
    }
}

impl super::Store {
    /// Open the store at `location`: [`Store::open`] for a DB file, [`Store::open_postgres`]
    /// for a PostgreSQL URL.
    pub fn open_at(location: &Location, access: Access) -> Result<super::Store, super::StoreError> {
        match location {
            Location::Sqlite(path) => super::Store::open(path, access),
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => super::Store::open_postgres(url, access),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => Err(super::StoreError::NoPostgresSupport),
        }
    }

    /// A second connection to the same store (for a thread of its own, such as the recorder
    /// of a pass).
    /// The member this store claims and records as, if it joined a pass, goes along.
    pub fn open_another(&self, access: Access) -> Result<super::Store, super::StoreError> {
        let another = match &self.engine {
            super::Engine::Sqlite(_) => super::Store::open(&self.path, access),
            #[cfg(feature = "postgres")]
            super::Engine::Postgres(_, url) => super::Store::open_postgres(url, access),
        }?;
        *another.claimant.borrow_mut() = self.claimant.borrow().clone();
        Ok(another)
    }

    /// `sqlite` or `postgres`: which engine this store is.
    pub fn kind(&self) -> &'static str {
        match self.engine {
            super::Engine::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            super::Engine::Postgres(..) => "postgres",
        }
    }
}

#[cfg(test)]
#[path = "location_tests.rs"]
mod tests;
