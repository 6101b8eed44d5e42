//! Schema versions of `state.db`: the SQL files of `migrations/sqlite/` embedded with refinery, the
//! status of a DB against them, backups, and applying what is pending.
//!
//! Every check here reads the schema history itself (read-only where it matters), so that a DB
//! from a newer runctl, or one whose applied migrations differ from ours, is refused before
//! refinery or SQLite can write to it.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use super::{Store, StoreError, classify};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// refinery's bookkeeping table.
const HISTORY_TABLE: &str = "refinery_schema_history";

/// One migration, by version and name (`V2__hashes.sql` is version 2, name `hashes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationInfo {
    pub version: i64,
    pub name: String,
}

/// Where a DB stands against the migrations this runctl embeds.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    /// The highest applied version, 0 for none.
    pub current: i64,
    /// The highest version this runctl knows.
    pub latest: i64,
    pub applied: Vec<MigrationInfo>,
    pub pending: Vec<MigrationInfo>,
    /// True when the DB has no tables at all: migrating it loses nothing.
    #[serde(skip)]
    pub fresh: bool,
}

/// The migrations this runctl carries, by version (refinery hands them out in file-name
/// order, where V10 comes before V2).
fn known() -> Vec<(MigrationInfo, u64)> {
    known_of(&embedded::migrations::runner())
}

/// SQLite's migrations, for the test that the PostgreSQL ones match them.
#[cfg(all(test, feature = "postgres"))]
pub(super) fn sqlite_known() -> Vec<(MigrationInfo, u64)> {
    known()
}

/// The migrations of `runner`, by version.
pub(super) fn known_of(runner: &refinery::Runner) -> Vec<(MigrationInfo, u64)> {
    let mut migrations: Vec<_> = runner
        .get_migrations()
        .iter()
        .map(|m| {
            (
                MigrationInfo {
                    version: i64::from(m.version()),
                    name: m.name().to_string(),
                },
                m.checksum(),
            )
        })
        .collect();
    migrations.sort_by_key(|(m, _)| m.version);
    migrations
}

/// One applied migration as the history table holds it: version, name, checksum.
pub(super) type HistoryRow = (i64, String, String);

/// Applied migrations, and whether the DB is fresh (nothing of runctl's in it yet).
fn read_history(conn: &Connection, path: &Path) -> Result<(Vec<HistoryRow>, bool), StoreError> {
    let err = |e| classify(path, e);
    // One statement, one snapshot: another process may be creating the history table.
    let (tables, has_history): (i64, bool) = conn
        .query_row(
            "SELECT count(*), coalesce(max(name = ?1), 0) FROM sqlite_master WHERE type = 'table'",
            [HISTORY_TABLE],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(err)?;
    if !has_history {
        if tables > 0 {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
            });
        }
        return Ok((Vec::new(), true));
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT version, name, CAST(checksum AS TEXT) FROM {HISTORY_TABLE} ORDER BY version"
        ))
        .map_err(err)?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    // refinery commits its history table before the migrations: a DB holding only that empty
    // table is one another process has just begun to migrate, still fresh. With other tables
    // beside it, it is another program's (refinery is used by others too).
    if rows.is_empty() && tables > 1 {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    let fresh = rows.is_empty();
    Ok((rows, fresh))
}

/// The newest schema version, the number of files in `migrations/sqlite/` (a test checks it). Kept as
/// a constant so that the common case, a DB already at this version, is recognized without
/// building refinery's runner, which compiles a regex (most of a command's start-up time).
pub const LATEST_VERSION: i64 = 11;

/// The applied migrations of `history`, each of which must be one of ours, by name and checksum.
fn matching_known(
    history: &[HistoryRow],
    known: &[(MigrationInfo, u64)],
    path: &Path,
) -> Result<Vec<MigrationInfo>, StoreError> {
    let mut applied = Vec::new();
    for (version, name, checksum) in history {
        let ours = known.iter().find(|(m, _)| m.version == *version);
        match ours {
            Some((m, sum)) if m.name == *name && sum.to_string() == *checksum => {
                applied.push(m.clone());
            }
            _ => {
                return Err(StoreError::Divergent {
                    path: path.to_path_buf(),
                    version: *version,
                    name: name.clone(),
                });
            }
        }
    }
    Ok(applied)
}

/// A DB at a schema version this runctl does not know is refused.
fn refuse_newer(path: &Path, current: i64, latest: i64) -> Result<(), StoreError> {
    if current > latest {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            db_version: current,
            known_version: latest,
        });
    }
    Ok(())
}

/// Where the DB's schema stands against this runctl's migrations; a newer or divergent
/// history is an error before anything is written.
pub(super) fn status_of(conn: &Connection, path: &Path) -> Result<SchemaStatus, StoreError> {
    let (history, fresh) = read_history(conn, path)?;
    status_from(history, fresh, known, path)
}

/// Where a history (read from either engine) stands against `known`'s migrations.
pub(super) fn status_from(
    history: Vec<HistoryRow>,
    fresh: bool,
    known: fn() -> Vec<(MigrationInfo, u64)>,
    path: &Path,
) -> Result<SchemaStatus, StoreError> {
    let current = history.iter().map(|(v, _, _)| *v).max().unwrap_or(0);
    refuse_newer(path, current, LATEST_VERSION)?;
    let contiguous = history
        .iter()
        .enumerate()
        .all(|(i, (v, _, _))| i64::try_from(i + 1).is_ok_and(|n| n == *v));
    if !fresh && current == LATEST_VERSION && contiguous {
        // Up to date. (Whether an applied file differs from ours is checked when migrating.)
        return Ok(SchemaStatus {
            current,
            latest: LATEST_VERSION,
            applied: history
                .into_iter()
                .map(|(version, name, _)| MigrationInfo { version, name })
                .collect(),
            pending: Vec::new(),
            fresh,
        });
    }
    let known = known();
    let latest = known.iter().map(|(m, _)| m.version).max().unwrap_or(0);
    refuse_newer(path, current, latest)?;
    let applied = matching_known(&history, &known, path)?;
    let pending = known
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| !history.iter().any(|(v, _, _)| *v == m.version))
        .collect();
    Ok(SchemaStatus {
        current,
        latest,
        applied,
        pending,
        fresh,
    })
}

/// After migrating: no row points at one that is not there.
fn check_foreign_keys(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let broken: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(|e| classify(path, e))?;
    if broken > 0 {
        return Err(StoreError::Migration {
            path: path.to_path_buf(),
            detail: format!("{broken} rows point at rows that are not there after migrating"),
        });
    }
    Ok(())
}

/// A file lock beside the DB, held while migrations are checked and applied, so that many
/// processes opening a new DB at once migrate it exactly once.
fn with_migration_lock<T>(
    path: &Path,
    in_memory: bool,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if in_memory {
        return f();
    }
    let lock_path = super::beside(path, ".migrate-lock");
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&lock_path)
    }
    .map_err(|source| StoreError::Io {
        what: "open",
        path: lock_path.clone(),
        source,
    })?;
    let mut lock = fd_lock::RwLock::new(file);
    let _guard = lock.write().map_err(|source| StoreError::Io {
        what: "lock",
        path: lock_path,
        source,
    })?;
    f()
}

impl Store {
    /// Where this DB stands against the migrations this runctl embeds.
    pub fn schema_status(&self) -> &SchemaStatus {
        &self.status
    }

    /// Apply every pending migration in one transaction; returns what was applied.
    pub fn migrate(&mut self) -> Result<Vec<MigrationInfo>, StoreError> {
        Ok(self.migrate_with(false)?.1)
    }

    /// Back up the DB (when it holds anything), then apply every pending migration in one
    /// transaction; returns the backup and what was applied. The backup is made under the
    /// migration lock and only when migrations are still pending there, so that many processes
    /// asked to migrate at once write one backup, of the old schema.
    pub fn backup_and_migrate(
        &mut self,
    ) -> Result<(Option<PathBuf>, Vec<MigrationInfo>), StoreError> {
        self.migrate_with(true)
    }

    fn migrate_with(
        &mut self,
        backup: bool,
    ) -> Result<(Option<PathBuf>, Vec<MigrationInfo>), StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(client, _) = &mut self.engine {
            // Transactional DDL: a failed migration leaves nothing half-done, so no backup.
            let conn = client.get_mut();
            conn.forget_statements();
            let (applied, after) = super::pg::migrate(&mut conn.client, &self.path)?;
            self.status = after;
            self.writable = true;
            return Ok((None, applied));
        }
        self.make_writable()?;
        let path = self.path.clone();
        let in_memory = path.as_os_str() == ":memory:";
        let (backup, applied, after) = with_migration_lock(&path, in_memory, || {
            let before = status_of(self.conn()?, &path)?;
            let mut made = None;
            if !before.pending.is_empty() {
                if backup && !before.fresh {
                    made = Some(self.backup()?);
                }
                // Foreign keys off while tables are rebuilt (a migration that changes a table's
                // constraints must make a new one and drop the old), on again after. Such a
                // migration checks every key itself before its commit (migrations/sqlite/V7); all are
                // checked again after.
                let set_keys = |conn: &Connection, on: bool| {
                    conn.pragma_update(None, "foreign_keys", on)
                        .map_err(|e| classify(&path, e))
                };
                set_keys(self.conn()?, false)?;
                let ran = embedded::migrations::runner()
                    .set_grouped(true)
                    .run(self.conn_mut()?)
                    .map_err(|e| StoreError::Migration {
                        path: path.clone(),
                        detail: e.to_string(),
                    });
                set_keys(self.conn()?, true)?;
                ran?;
                check_foreign_keys(self.conn()?, &path)?;
            }
            Ok((made, before.pending, status_of(self.conn()?, &path)?))
        })?;
        self.status = after;
        self.ensure_wal()?;
        Ok((backup, applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_from_one_to_latest() {
        let versions: Vec<i64> = known().iter().map(|(m, _)| m.version).collect();
        let expected: Vec<i64> = (1..=LATEST_VERSION).collect();
        assert_eq!(
            versions, expected,
            "update LATEST_VERSION when a migration lands"
        );
    }
}
