//! Applying a sync plan to the table `versions`: what the plan reads of every version, and its
//! updates and inserts in one transaction.

use rusqlite::params;

use super::super::{Store, StoreError, classify, now_text};
use crate::versions::{ListingEntry, SYNCED_DESCRIPTION, SyncAction, VersionStatus, VersionView};

/// What a sync or an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub updated: usize,
    pub created: usize,
}

impl Store {
    /// What the sync plan needs of every version.
    pub fn version_views(&self) -> Result<Vec<VersionView>, StoreError> {
        let mut stmt = self
            .conn()?
            .prepare("SELECT family, name, job_id, status, artifact_url, etag, size FROM versions")
            .map_err(|e| self.sql_err(e))?;
        stmt.query_map([], |r| {
            Ok(VersionView {
                family: r.get(0)?,
                name: r.get(1)?,
                job_id: r.get(2)?,
                status: r.get(3)?,
                artifact_url: r.get(4)?,
                etag: r.get(5)?,
                size: r.get(6)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.sql_err(e))
    }

    /// Apply the changes of a sync plan in one transaction.
    pub fn apply_sync(
        &mut self,
        actions: &[SyncAction],
        number_of: impl Fn(&str) -> Option<i64>,
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let now = now_text();
        // Room for the pages a first sync of a bucket dirties (100,000 new versions: about 30
        // MB with the indexes), so that SQLite need not spill them into the `-wal` before the
        // commit, nor read back a page of an index it wrote out a moment ago; the connection's
        // own size comes back after. (The writes stay in listing order: a version's rowid says
        // which of two versions with one artifact file name a later sync finds first.)
        let cache: i64 = self
            .conn()?
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .map_err(err)?;
        self.conn()?
            .pragma_update(None, "cache_size", SYNC_CACHE_KIB)
            .map_err(err)?;
        let result = self.write_tx().and_then(|tx| {
            let applied = apply_actions(&tx, actions, number_of, &now).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(applied)
        });
        let _ = self.conn()?.pragma_update(None, "cache_size", cache);
        result
    }
}

/// The page cache of a sync's transaction: 64 MiB at most (a negative `cache_size` is KiB).
const SYNC_CACHE_KIB: i64 = -64 * 1024;

/// A version given its artifact by sync: family, name, URL, etag, size, last-modified time,
/// the time of the sync, the status.
const UPDATE_SYNCED: &str = "UPDATE versions SET status = ?8, artifact_url = ?3, \
     etag = coalesce(?4, etag), size = coalesce(?5, size), \
     last_modified = coalesce(?6, last_modified), last_synced = ?7, \
     updated_at = ?7, error = NULL WHERE family = ?1 AND name = ?2";

/// A version sync creates: family, name, number, job id, URL, description, etag, size,
/// last-modified time, the time of the sync, the status.
const INSERT_SYNCED: &str = "INSERT INTO versions (family, name, number, job_id, status, \
     artifact_url, description, etag, size, last_modified, created_at, updated_at, last_synced) \
     VALUES (?1, ?2, ?3, ?4, ?11, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?10)";

/// Run the updates and inserts of a sync plan; returns how many of each.
fn apply_actions(
    tx: &rusqlite::Transaction<'_>,
    actions: &[SyncAction],
    number_of: impl Fn(&str) -> Option<i64>,
    now: &str,
) -> rusqlite::Result<Applied> {
    let mut applied = Applied::default();
    // What sync finds in the bucket is a completed version.
    let completed = VersionStatus::Completed;
    let mut update = tx.prepare(UPDATE_SYNCED)?;
    let mut insert = tx.prepare(INSERT_SYNCED)?;
    fn fields(e: &ListingEntry) -> (Option<&str>, Option<i64>, Option<&str>) {
        (e.etag.as_deref(), e.size, e.last_modified.as_deref())
    }
    for action in actions {
        match action {
            SyncAction::Update {
                family,
                name,
                url,
                entry,
                ..
            } => {
                let (etag, size, lm) = fields(entry);
                update.execute(params![family, name, url, etag, size, lm, now, completed])?;
                applied.updated += 1;
            }
            SyncAction::Create {
                family,
                name,
                job_id,
                url,
                entry,
            } => {
                let (etag, size, lm) = fields(entry);
                insert.execute(params![
                    family,
                    name,
                    number_of(name),
                    job_id,
                    url,
                    SYNCED_DESCRIPTION,
                    etag,
                    size,
                    lm,
                    now,
                    completed
                ])?;
                applied.created += 1;
            }
            SyncAction::InSync { .. } | SyncAction::Skip { .. } => {}
        }
    }
    Ok(applied)
}
