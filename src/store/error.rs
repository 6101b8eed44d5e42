//! The store's errors: what can go wrong with `state.db`, told so that a user can act on it
//! (the CLI maps each variant to an exit code and hints), and how an engine error becomes one.

use std::path::{Path, PathBuf};

use super::BUSY_TIMEOUT;

/// Errors of the store. The CLI maps them to exit codes and hints.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a SQLite database")]
    NotADatabase { path: PathBuf },
    #[error("cannot write {path}: {detail}")]
    ReadOnly { path: PathBuf, detail: String },
    #[error(
        "cannot read {path}: its -wal holds commits not yet in the file, and reading them needs a -shm file that SQLite cannot make in this read-only folder"
    )]
    WalUnreadable { path: PathBuf },
    #[error("{path} is not a regular file")]
    NotRegular { path: PathBuf },
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
    /// Any other failure of the database engine (its own error, boxed: no engine type leaves
    /// the store).
    #[error("database error on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    #[error(
        "{} is on a network filesystem ({}), where SQLite's locks do not hold across hosts; refusing to write it",
        crate::text::printable(&path.to_string_lossy()),
        crate::text::printable(kind)
    )]
    NetworkFs { path: PathBuf, kind: String },
    #[error("cannot connect to {shown}: {detail}")]
    Connect { shown: String, detail: String },
    #[error("this runctl was built without PostgreSQL support (its `postgres` feature)")]
    NoPostgresSupport,
    #[error("this command does not work on a PostgreSQL store yet")]
    NotOnPostgres,
    /// The server dropped the connection (it was restarted, or the connection terminated).
    #[error("lost the connection to {path}: {detail}", path = path.display())]
    Disconnected { path: PathBuf, detail: String },
    /// Live members work the run's other selection (`--retry-errors` or not).
    #[error("run {run} is being worked {theirs} by other processes (on {host})")]
    OtherPass {
        run: String,
        theirs: &'static str,
        host: String,
    },
    #[error("migration of {path} failed: {detail}")]
    Migration { path: PathBuf, detail: String },
}

/// Turn a rusqlite error into the store error a user can act on.
pub(super) fn classify(path: &Path, err: rusqlite::Error) -> StoreError {
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
            ErrorCode::CannotOpen | ErrorCode::ReadOnly => {
                return StoreError::ReadOnly {
                    path: path.to_path_buf(),
                    detail,
                };
            }
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
        source: Box::new(err),
    }
}
