//! The only place in runctl with SQL: opening `state.db`, its schema migrations, and one module
//! per table group.
//!
//! A [`Store`] is opened once per command with WAL, a busy timeout and foreign keys on. A DB
//! written by a newer runctl is refused before anything can write to it; a file that is not a
//! SQLite DB is refused with a clear error. The store knows nothing of the terminal: the CLI
//! decides whether pending migrations are applied (see `schema`).

mod hashes;
mod ledger;
mod progress;
mod runs;
mod schema;
mod sources;
mod versions;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use hashes::{HashRecord, LinkRecord, Recorded};
pub use ledger::{ExportRow, PageItem, ResultIn, Selection};
pub use progress::{Progress, eta_stamp, finish_at};
pub use runs::{Allocation, RunFilter, RunRow};
pub use schema::{MigrationInfo, SchemaStatus};
pub use sources::{IngestError, SourceMeta, SourceRow};
pub use versions::{AddConflict, Applied, NewVersion, VersionRow};

/// How long a writer waits for another writer before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the store. The CLI maps them to exit codes and hints.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a SQLite database")]
    NotADatabase { path: PathBuf },
    #[error("{path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} was written by a newer runctl (schema version {db_version}; this runctl knows up to {known_version})"
    )]
    NewerSchema {
        path: PathBuf,
        db_version: i64,
        known_version: i64,
    },
    #[error("{path} has tables but no runctl schema history")]
    Foreign { path: PathBuf },
    #[error("{path} has applied migration V{version} '{name}', which differs from this runctl's")]
    Divergent {
        path: PathBuf,
        version: i64,
        name: String,
    },
    #[error("the database is busy: another runctl process held it for over {}s", BUSY_TIMEOUT.as_secs())]
    Busy,
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "hash collision: '{hash}' is already the hash of '{existing}', so it cannot also stand for '{new}'"
    )]
    Collision {
        hash: String,
        existing: String,
        new: String,
    },
    #[error("cannot write {path}: {detail}")]
    Write { path: PathBuf, detail: String },
    #[error("migration of {path} failed: {detail}")]
    Migration { path: PathBuf, detail: String },
}

/// An open `state.db`.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Where the schema stands: read once at open, refreshed by `migrate`.
    status: SchemaStatus,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Open (creating if missing) the DB at `path`. A new, empty DB is migrated silently; an
    /// existing one is left at its schema, for the caller to check [`Store::schema_status`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        check_header(path)?;
        // Opening and reading write nothing: the schema is checked (and a newer or foreign DB
        // refused) before the only write of opening, switching an old file to WAL.
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        configure_connection(&conn, path)?;
        let status = schema::status_of(&conn, path)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            status,
        };
        store.ensure_wal()?;
        if store.status.fresh && !store.status.pending.is_empty() {
            store.migrate()?;
        }
        Ok(store)
    }

    /// A private, empty, migrated DB in memory: for read-only planning where no project DB
    /// exists yet (`runctl name` outside a project), so that nothing is created on disk.
    pub fn in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| classify(&path, e))?;
        let status = schema::status_of(&conn, &path)?;
        let mut store = Store { conn, path, status };
        store.migrate()?;
        Ok(store)
    }

    fn ensure_wal(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(|e| classify(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
                .map_err(|e| classify(&path, e))?;
        }
        Ok(())
    }

    /// The DB file this store has open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql_err(&self, err: rusqlite::Error) -> StoreError {
        classify(&self.path, err)
    }
}

/// Busy timeout, foreign keys and WAL's usual sync level: settings of the connection, not the file.
fn configure_connection(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| classify(path, e))?;
    Ok(())
}

/// Refuse a file that exists, is not empty, and does not start with SQLite's header.
fn check_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                what: "open",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut header = Vec::with_capacity(16);
    file.by_ref()
        .take(16)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        })?;
    if header.is_empty() || header.as_slice() == SQLITE_HEADER {
        Ok(())
    } else {
        Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

/// Turn a rusqlite error into the store error a user can act on.
fn classify(path: &Path, err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    if let rusqlite::Error::SqliteFailure(failure, ref detail) = err {
        let detail = detail.clone().unwrap_or_else(|| failure.to_string());
        match failure.code {
            ErrorCode::NotADatabase => {
                return StoreError::NotADatabase {
                    path: path.to_path_buf(),
                };
            }
            ErrorCode::DatabaseCorrupt => {
                return StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail,
                };
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => return StoreError::Busy,
            ErrorCode::DiskFull | ErrorCode::SystemIoFailure => {
                return StoreError::Write {
                    path: path.to_path_buf(),
                    detail,
                };
            }
            _ => {}
        }
    }
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source: err,
    }
}

/// The current UTC time as stored: RFC 3339 with exactly six fractional digits, so that text
/// order is time order.
pub fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}
