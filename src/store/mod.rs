//! The only place in runctl with SQL: opening `state.db`, its schema migrations, and one module
//! per table group.
//!
//! A [`Store`] is opened once per command with WAL, a busy timeout and foreign keys on. A DB
//! written by a newer runctl is refused before anything can write to it; a file that is not a
//! SQLite DB is refused with a clear error. The store knows nothing of the terminal: the CLI
//! decides whether pending migrations are applied (see `schema`).

mod allocation;
mod annotations;
#[cfg(test)]
#[path = "tests.rs"]
mod api_tests;
mod backup;
mod copy;
#[cfg(feature = "postgres")]
mod copy_pg;
mod copy_sqlite;
mod error;
mod export;
mod file;
mod folder_scans;
mod hashes;
mod ingest;
mod ledger;
#[cfg(feature = "postgres")]
mod ledger_pg;
mod location;
mod members;
#[cfg(feature = "postgres")]
mod members_pg;
mod network_fs;
mod pages;
mod paths;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pg_conn;
#[cfg(feature = "postgres")]
mod pgpass;
#[cfg(test)]
mod plan_tests;
mod progress;
mod reconnect;
mod runs;
mod schema;
mod sources;
mod sql;
mod state_sql;
mod times;
mod txn;
mod versions;
mod wal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use allocation::Allocation;
pub use annotations::{Cleanup, NoteRow};
pub use copy::{Copied, CopyError};
pub use error::StoreError;
/// What the floor of bench/pg.sh runs, as runctl runs it.
#[cfg(feature = "postgres")]
pub mod pg_floor {
    pub use super::ledger_pg::{RESULTS_LOCK, UPSERT_RESULTS_PG};
    pub use super::members_pg::claim_sql;
}
use error::classify;
use file::{Header, check_file, check_header};
pub use folder_scans::FolderStat;
pub use hashes::{HashRecord, LinkRecord};
pub use ledger::{
    ExportRow, ItemPages, Keys, PageItem, Prior, RecordError, ResultIn, Selection,
    UPSERT_RESULT_SQL,
};
pub use location::{
    DATABASE_URL_ENV, Location, LocationError, PgUrl, choose as choose_location, parse_store,
};
pub use members::{JoinRequest, MemberEnd, MemberRow, Membership};
pub use network_fs::refuse_network_fs;
pub use paths::{path_to_text, text_to_path};
pub use progress::{Progress, eta_stamp, finish_at};
pub use runs::{RunFilter, RunRow};
pub use schema::{MigrationInfo, SchemaStatus};
pub use sources::{IngestError, SourceMeta, SourceRow};
pub use times::{now_text, time_text};
pub use versions::{AddConflict, Applied, NewVersion, VersionRow};
use wal::{configure_connection, has_wal_content};

/// How long a writer waits for another writer before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a command needs of `state.db`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading only: the file is opened read-only and nothing on disk is created or changed
    /// (a missing DB reads as an empty one, kept in memory).
    Read,
    /// Reading and writing: a missing DB is created and migrated.
    Write,
}

/// An open store: `state.db`, or a PostgreSQL database.
pub struct Store {
    engine: Engine,
    /// The DB file; for PostgreSQL, the URL without its password (what messages name).
    path: PathBuf,
    /// Where the schema stands: read once at open, refreshed by `migrate`.
    status: SchemaStatus,
    /// Whether `conn` may write (a read-only connection can neither write nor checkpoint).
    writable: bool,
    /// The member of a run's pass this store claims and records as, once it joined one
    /// (PostgreSQL: members.rs).
    claimant: std::cell::RefCell<Option<members::Claimant>>,
}

/// The database engine behind a [`Store`] and its connection.
enum Engine {
    Sqlite(Connection),
    #[cfg(feature = "postgres")]
    /// In a cell: statements that read run on `&Store`, and PostgreSQL's client wants `&mut`.
    /// With the URL it was opened with, for [`Store::open_another`].
    Postgres(Box<std::cell::RefCell<pg::PgConn>>, PgUrl),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open the DB at `path`. The schema is read before anything can write, so that a DB from
    /// a newer runctl (or a foreign or damaged one) is refused with not a byte of it, or of its
    /// `-wal`, changed: over a read-only connection, or, for writing to a DB in WAL mode, over
    /// the read-write one, which writes nothing until asked to. With [`Access::Write`] a missing
    /// or empty DB is created and migrated silently; an existing DB with pending migrations is
    /// not written until the caller decides ([`Store::migrate`]).
    pub fn open(path: &Path, access: Access) -> Result<Store, StoreError> {
        let header = match check_file(path)? {
            true => check_header(path)?,
            false => Header::Empty,
        };
        match (header, access) {
            (Header::Empty, Access::Read) => return Store::in_memory(),
            (Header::Rollback, _) | (Header::Wal, Access::Read) => {
                let mut store = Store::open_read_only(path)?;
                match access {
                    // Another process has only begun to migrate a new DB: nothing to read yet.
                    Access::Read if store.status.fresh => return Store::in_memory(),
                    Access::Read => {}
                    Access::Write if store.status.fresh => {
                        store.migrate()?;
                    }
                    Access::Write if store.status.pending.is_empty() => store.make_writable()?,
                    Access::Write => {}
                }
                return Ok(store);
            }
            _ => {}
        }
        // A new (or empty) file: nothing to refuse, nothing to lose. Or a DB in WAL mode opened
        // for writing: a read-write connection changes neither it nor its -wal until it writes
        // (it checkpoints at no close: `configure_connection`; a hot journal cannot be), so the
        // schema is read over the connection that will write. A newer or foreign schema is
        // still refused untouched.
        let mut store = Store::open_read_write(path)?;
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
        let mut store = Store {
            engine: Engine::Sqlite(conn),
            path,
            status,
            writable: true,
            claimant: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let attempt = |conn: Connection| -> Result<Store, StoreError> {
            // A read-only connection cannot checkpoint; say so twice, so that closing it can
            // never fold a `-wal` left by a killed writer into a DB that is being refused.
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(|e| classify(path, e))?;
            conn.busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| classify(path, e))?;
            let status = schema::status_of(&conn, path)?;
            Ok(Store {
                engine: Engine::Sqlite(conn),
                path: path.to_path_buf(),
                status,
                writable: false,
                claimant: Default::default(),
            })
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
        match attempt(conn) {
            Err(StoreError::ReadOnly { .. }) if !has_wal_content(path) => {
                // A WAL DB in a folder this process cannot write (a read-only project), with
                // no -wal holding commits: no writer can be using it either, as none could make
                // its -wal, so it is read as the immutable file it is. (With a -wal, reading
                // the file alone would show an older state: that stays an error.)
                let conn = Connection::open_with_flags(immutable_uri(path), flags)
                    .map_err(|e| classify(path, e))?;
                attempt(conn)
            }
            Err(StoreError::ReadOnly { .. }) => Err(StoreError::WalUnreadable {
                path: path.to_path_buf(),
            }),
            other => other,
        }
    }

    fn open_read_write(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        configure_connection(&conn, path)?;
        let status = schema::status_of(&conn, path)?;
        let mut store = Store {
            engine: Engine::Sqlite(conn),
            path: path.to_path_buf(),
            status,
            writable: true,
            claimant: Default::default(),
        };
        if store.status.pending.is_empty() || store.status.fresh {
            store.ensure_wal()?;
        }
        Ok(store)
    }

    /// Reopen read-write (a no-op when already so), checking the schema again on the new
    /// connection: another process may have migrated it meanwhile.
    pub fn make_writable(&mut self) -> Result<(), StoreError> {
        if self.writable {
            return Ok(());
        }
        #[cfg(feature = "postgres")]
        if let Engine::Postgres(..) = self.engine {
            self.writable = true;
            return Ok(());
        }
        *self = Store::open_read_write(&self.path)?;
        Ok(())
    }

    /// The DB file this store has open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite connection; on PostgreSQL, the error that says the operation is not there
    /// yet (the PostgreSQL store serves only what `store::postgres` implements).
    fn conn(&self) -> Result<&Connection, StoreError> {
        match &self.engine {
            Engine::Sqlite(conn) => Ok(conn),
            #[cfg(feature = "postgres")]
            Engine::Postgres(..) => Err(StoreError::NotOnPostgres),
        }
    }

    fn conn_mut(&mut self) -> Result<&mut Connection, StoreError> {
        match &mut self.engine {
            Engine::Sqlite(conn) => Ok(conn),
            #[cfg(feature = "postgres")]
            Engine::Postgres(..) => Err(StoreError::NotOnPostgres),
        }
    }
}

/// The file named `path` + `suffix` (`state.db-wal`, `state.db.bak-...`), for any path, UTF-8 or
/// not.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// `file:PATH?immutable=1`, every byte of PATH but the plainest percent-encoded, so that any
/// path (not valid UTF-8, with `?` or `#`) names the same file.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_whatever_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        for bytes in [
            &b"/tmp/a b/c.csv"[..],
            b"/tmp/proj\xff\xfe/x.csv",
            b"/\x00%41",
        ] {
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
            let text = path_to_text(&path);
            assert_eq!(text_to_path(&text), path, "{text}");
        }
        assert_eq!(path_to_text(Path::new("/tmp/a.csv")), "/tmp/a.csv");
    }
}
