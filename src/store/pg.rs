//! The PostgreSQL store (docs/project.md, "PostgreSQL"): connecting to the database a URL
//! names, the schema's versions (the SQL files of `migrations/postgres/`, with the same
//! versions and names as SQLite's), and migrating. Only this, so far: every other operation of
//! the store answers [`StoreError::NotOnPostgres`] on PostgreSQL until it is written here.
//!
//! As on SQLite, the schema history is read before anything is written, so that a database
//! from a newer runctl, one whose history differs from ours, or one that holds other tables
//! is refused untouched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::{Client, NoTls};

use super::location::PgUrl;
pub(super) use super::pg_conn::{PgConn, int};
use super::schema::{HistoryRow, MigrationInfo, SchemaStatus, known_of, status_from};
use super::{Access, Engine, Store, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// refinery's bookkeeping table.
const HISTORY_TABLE: &str = "refinery_schema_history";

/// The session-level advisory lock held while migrations are checked and applied, so that
/// many processes opening a new database at once migrate it once ("runctl" in ASCII).
const MIGRATION_LOCK: i64 = 0x7275_6E63_746C;

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations for PostgreSQL, by version.
pub(super) fn known() -> Vec<(MigrationInfo, u64)> {
    known_of(&embedded::migrations::runner())
}

impl Store {
    /// Connect to the database `url` names and read where its schema stands. With
    /// [`Access::Write`] a database without tables is migrated silently; pending migrations of
    /// one that has runctl's tables wait for the caller, as on SQLite. The password comes from
    /// the URL (never from runctl.toml) or `PGPASSWORD`.
    pub fn open_postgres(url: &PgUrl, access: Access) -> Result<Store, StoreError> {
        let label = PathBuf::from(url.to_string());
        let mut config: postgres::Config =
            url.secret()
                .parse()
                .map_err(|e: postgres::Error| StoreError::Connect {
                    shown: url.to_string(),
                    detail: e.to_string(),
                })?;
        let missing = config.get_password().is_none();
        if let Some(password) = missing.then(|| password_for(&config)).flatten() {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let (client, status) = connect_ready(&config, url, &label)?;
        let mut store = Store {
            engine: Engine::Postgres(
                Box::new(std::cell::RefCell::new(PgConn::new(client, Some(config)))),
                url.clone(),
            ),
            path: label,
            status,
            writable: access == Access::Write,
            claimant: Default::default(),
        };
        if access == Access::Write && store.status.fresh && !store.status.pending.is_empty() {
            store.migrate()?;
        }
        Ok(store)
    }
}

/// The password for a URL that has none, as libpq finds it: `PGPASSWORD`, else the first
/// matching line of the password file (`PGPASSFILE`, else `~/.pgpass`).
fn password_for(config: &postgres::Config) -> Option<Vec<u8>> {
    // An empty PGPASSWORD counts as unset, as libpq has it.
    if let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Some(password.into_encoded_bytes());
    }
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => name.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user()?;
    let db = config.get_dbname().unwrap_or(user);
    super::pgpass::lookup(&super::pgpass::file()?, &host, port, db, user).map(String::into_bytes)
}

/// Connect and read the schema's status; a server that is starting up or shutting down, or
/// that drops the new connection (a restart, a terminated backend), is tried again for up to
/// 10 s, as a dropped connection is later (pg_conn.rs). A server that refuses or does not
/// answer fails at once.
fn connect_ready(
    config: &postgres::Config,
    url: &PgUrl,
    label: &Path,
) -> Result<(Client, SchemaStatus), StoreError> {
    let start = std::time::Instant::now();
    loop {
        let failed = match connect(config.clone()) {
            Ok(mut client) => match status_of(&mut client, label) {
                Ok(status) => return Ok((client, status)),
                Err(e @ StoreError::Disconnected { .. }) => e,
                Err(e) => return Err(e),
            },
            Err((detail, transient)) => {
                let e = StoreError::Connect {
                    shown: url.to_string(),
                    detail,
                };
                if !transient {
                    return Err(e);
                }
                e
            }
        };
        if start.elapsed() >= super::pg_conn::RECONNECT_FOR {
            return Err(failed);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Connect, giving up after the connect timeout: the client's own timeout covers the TCP
/// connection only, and a server (or anything else) that accepts it and never answers would
/// hold the command for ever.
///
/// The error's text, and whether it is one to try again (the server is starting up or shutting
/// down, or dropped the connection).
pub(super) fn connect(config: postgres::Config) -> Result<Client, (String, bool)> {
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("runctl-connect".into())
        .spawn(move || {
            let _ = done.send(config.connect(NoTls));
        })
        .map_err(|e| (e.to_string(), false))?;
    match answer.recv_timeout(limit) {
        Ok(connected) => connected.map_err(|e| (detail_of(&e), super::pg_conn::gone(&e))),
        Err(_) => Err((
            format!(
                "no answer within {} s (set connect_timeout in the URL for longer)",
                limit.as_secs()
            ),
            false,
        )),
    }
}

/// The server's own message where there is one ("password authentication failed for user
/// ..."), else the client's.
fn detail_of(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            // "error connecting to server" alone says too little: add its cause.
            let cause = std::error::Error::source(e).map(|c| format!(": {c}"));
            format!("{e}{}", cause.unwrap_or_default())
        }
    };
    crate::text::printable(&text).into_owned()
}

/// Any other error of the server or the connection, for `label`: a connection the server
/// dropped (or shut down under) is [`StoreError::Disconnected`].
pub(super) fn pg_err(label: &Path, e: postgres::Error) -> StoreError {
    if super::pg_conn::gone(&e) {
        return StoreError::Disconnected {
            path: label.to_path_buf(),
            detail: detail_of(&e),
        };
    }
    StoreError::Sqlite {
        path: label.to_path_buf(),
        source: detail_of(&e).into(),
    }
}

impl Store {
    /// A new connection in place of this store's (one the server dropped); nothing on SQLite.
    pub(super) fn reconnect(&self) -> Result<(), StoreError> {
        if let Engine::Postgres(conn, url) = &self.engine {
            let fresh = Store::open_postgres(url, Access::Read)?;
            if let Engine::Postgres(new, _) = &fresh.engine {
                // The dead connection goes with `fresh`.
                std::mem::swap(&mut *conn.borrow_mut(), &mut *new.borrow_mut());
            }
        }
        Ok(())
    }
}

/// Applied migrations, and whether the database is fresh (no table in its schema yet, or only
/// the empty history table of a migration another process has begun).
fn read_history(client: &mut Client, label: &Path) -> Result<(Vec<HistoryRow>, bool), StoreError> {
    let err = |e| pg_err(label, e);
    let row = client
        .query_one(
            // pg_class, not information_schema: that hides tables this role may not read.
            "SELECT count(*), coalesce(bool_or(c.relname = $1), false) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            &[&HISTORY_TABLE],
        )
        .map_err(err)?;
    let (tables, has_history): (i64, bool) = (row.get(0), row.get(1));
    if !has_history {
        if tables > 0 {
            return Err(StoreError::Foreign {
                path: label.to_path_buf(),
            });
        }
        return Ok((Vec::new(), true));
    }
    let rows = client
        .query(
            &format!("SELECT version, name, checksum FROM {HISTORY_TABLE} ORDER BY version"),
            &[],
        )
        .map_err(err)?;
    let history: Vec<HistoryRow> = rows
        .iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1), r.get(2)))
        .collect();
    // Only the history table, empty: another process has begun to migrate. With other
    // tables beside it, it is another program's (refinery is used by others too).
    if history.is_empty() && tables > 1 {
        return Err(StoreError::Foreign {
            path: label.to_path_buf(),
        });
    }
    let fresh = history.is_empty();
    Ok((history, fresh))
}

/// Where the database's schema stands against the PostgreSQL migrations.
fn status_of(client: &mut Client, label: &Path) -> Result<SchemaStatus, StoreError> {
    let (history, fresh) = read_history(client, label)?;
    status_from(history, fresh, known, label)
}

/// Apply every pending migration in one transaction (refinery's grouped run; PostgreSQL's DDL
/// is transactional, so a failure leaves the schema as it was), under the migration lock;
/// returns what was applied and where the schema stands after.
pub(super) fn migrate(
    client: &mut Client,
    label: &Path,
) -> Result<(Vec<MigrationInfo>, SchemaStatus), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| pg_err(label, e))?;
    let result = migrate_locked(client, label);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    let result = result?;
    unlocked.map_err(|e| pg_err(label, e))?;
    Ok(result)
}

fn migrate_locked(
    client: &mut Client,
    label: &Path,
) -> Result<(Vec<MigrationInfo>, SchemaStatus), StoreError> {
    let before = status_of(client, label)?;
    if !before.pending.is_empty() {
        embedded::migrations::runner()
            .set_grouped(true)
            .run(client)
            .map_err(|e| StoreError::Migration {
                path: label.to_path_buf(),
                detail: chain(&e),
            })?;
    }
    Ok((before.pending, status_of(client, label)?))
}

/// An error with its causes ("error applying migrations: ...: relation \"x\" already
/// exists"), the server's message last.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let shown = match c.downcast_ref::<postgres::Error>() {
            Some(pg) => detail_of(pg),
            None => c.to_string(),
        };
        text.push_str(": ");
        text.push_str(&shown);
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgresql_migrations_have_sqlites_versions_and_names() {
        let names = |known: Vec<(MigrationInfo, u64)>| -> Vec<MigrationInfo> {
            known.into_iter().map(|(m, _)| m).collect()
        };
        assert_eq!(names(known()), names(super::super::schema::sqlite_known()));
    }
}
