//! WAL mode and the connection's settings, and the `-wal` between commands: kept at close (no
//! checkpoint, so a short command pays no fsync for it), and folded into `state.db` by the
//! command that finds it past [`WAL_KEEP_BYTES`] as it closes.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::{BUSY_TIMEOUT, Store, StoreError, beside, classify};

/// Closing a store that may write folds its `-wal` into `state.db` only once the `-wal` has
/// grown past [`WAL_KEEP_BYTES`]; below that the `-wal` is kept for the next command.
impl Drop for Store {
    fn drop(&mut self) {
        // Never into a DB whose migrations are pending (declined, or left to the user).
        if self.writable
            && self.status.pending.is_empty()
            && has_wal_over(&self.path, WAL_KEEP_BYTES)
        {
            self.fold_wal();
        }
    }
}

/// How large a `-wal` the short commands leave for the next one. Each process that opens the
/// DB first reads the whole `-wal` to rebuild its index (SQLite's recovery), and forgets how
/// much of it was already copied into `state.db`, so a large `-wal` costs every command; at
/// 1 MiB (about 30 `new`s) that is a few tenths of a millisecond at most (a `new`'s median did
/// not move against 256 KiB), while the fold's fsyncs are spread over four times as many
/// commands.
const WAL_KEEP_BYTES: u64 = 1 << 20;

/// How long closing waits for other processes to let the fold happen: not at all. A reader's
/// snapshot or another writer holds the fold back, and waiting for them made every short
/// command pay the whole wait while, say, an export ran; a fold that cannot happen now is
/// left to a later command and loses nothing.
const FOLD_WAIT: Duration = Duration::ZERO;

impl Store {
    pub(super) fn ensure_wal(&mut self) -> Result<(), StoreError> {
        // Two processes that both made a new DB switch it at once, and SQLite answers the one
        // holding a read lock "busy" at once rather than wait (it would deadlock): try again
        // for as long as the busy timeout.
        let conn = self.conn()?;
        let start = std::time::Instant::now();
        loop {
            match Self::switch_to_wal(conn) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && start.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                other => return other.map_err(|e| classify(&self.path, e)),
            }
        }
    }

    fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        }
        Ok(())
    }

    /// Copy the `-wal` into `state.db` and empty it (a truncating checkpoint), waiting
    /// [`FOLD_WAIT`] for other readers and writers.
    fn fold_wal(&self) {
        if let Ok(conn) = self.conn() {
            let _ = conn.busy_timeout(FOLD_WAIT);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

/// Whether a `-wal` beside the DB holds anything (commits not yet in the DB file).
pub(super) fn has_wal_content(path: &Path) -> bool {
    has_wal_over(path, 0)
}

/// Whether the `-wal` beside the DB is over `bytes` long.
fn has_wal_over(path: &Path, bytes: u64) -> bool {
    std::fs::symlink_metadata(beside(path, "-wal")).is_ok_and(|m| m.is_file() && m.len() > bytes)
}

/// Busy timeout, foreign keys, WAL's usual sync level and no checkpoint at close: settings of
/// the connection, not the file.
///
/// Closing the last connection would otherwise fold the `-wal` into `state.db` and delete both
/// companions, so that every short command paid two fsyncs for the checkpoint and the next one
/// two more to make a new `-wal` (its header and its folder). The `-wal` and `-shm` are kept
/// instead, and folded in by SQLite's auto-checkpoint within a long command and by closing
/// once the `-wal` is over 1 MiB (see `Drop for Store`).
pub(super) fn configure_connection(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(path, e))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| classify(path, e))?;
    Ok(())
}
