//! Applying a sync plan to the table `versions`: what the plan reads of every version, and its
//! updates and inserts in one transaction.

use super::super::sql::{Db, DbError, db_error};
use super::super::{Store, StoreError, now_text};
use crate::versions::{SYNCED_DESCRIPTION, SyncAction, VersionStatus, VersionView};

/// What a sync or an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub updated: usize,
    pub created: usize,
}

impl Store {
    /// What the sync plan needs of every version.
    pub fn version_views(&self) -> Result<Vec<VersionView>, StoreError> {
        self.db()
            .query(
                "SELECT family, name, job_id, status, artifact_url, etag, size FROM versions",
                &[],
                |r| {
                    Ok(VersionView {
                        family: r.text(0)?,
                        name: r.text(1)?,
                        job_id: r.opt_text(2)?,
                        status: r.stored(3)?,
                        artifact_url: r.opt_text(4)?,
                        etag: r.opt_text(5)?,
                        size: r.opt_int(6)?,
                    })
                },
            )
            .map_err(|e| self.db_err(e))
    }

    /// Apply the changes of a sync plan in one transaction (on PostgreSQL, one writer of
    /// versions at a time across hosts, as `version new`).
    pub fn apply_sync(
        &mut self,
        actions: &[SyncAction],
        number_of: impl Fn(&str) -> Option<i64>,
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let now = now_text();
        // Room for the pages a first sync of a bucket dirties (100,000 new versions: about 30
        // MB with the indexes), so that SQLite need not spill them into the `-wal` before the
        // commit, nor read back a page of an index it wrote out a moment ago; the connection's
        // own size comes back after. (The writes stay in listing order: a version's rowid says
        // which of two versions with one artifact file name a later sync finds first.)
        let cache: Option<i64> = match self.db() {
            Db::Sqlite(conn) => {
                let cache = conn
                    .query_row("PRAGMA cache_size", [], |r| r.get(0))
                    .map_err(|e| err(e.into()))?;
                conn.pragma_update(None, "cache_size", SYNC_CACHE_KIB)
                    .map_err(|e| err(e.into()))?;
                Some(cache)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => None,
        };
        let result = self.txn().and_then(|tx| {
            tx.serialize_writers(super::VERSIONS_LOCK).map_err(err)?;
            let applied = apply_actions(tx.db(), actions, number_of, &now).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(applied)
        });
        if let (Some(cache), Db::Sqlite(conn)) = (cache, self.db()) {
            let _ = conn.pragma_update(None, "cache_size", cache);
        }
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
    db: Db<'_>,
    actions: &[SyncAction],
    number_of: impl Fn(&str) -> Option<i64>,
    now: &str,
) -> Result<Applied, DbError> {
    let mut applied = Applied::default();
    // What sync finds in the bucket is a completed version.
    let completed = VersionStatus::Completed.as_str();
    for action in actions {
        match action {
            SyncAction::Update {
                family,
                name,
                url,
                entry: e,
                ..
            } => {
                let (etag, lm) = (e.etag.as_deref(), e.last_modified.as_deref());
                let params = [family.into(), name.into(), url.into(), etag.into()];
                let more = [e.size.into(), lm.into(), now.into(), completed.into()];
                db.execute(UPDATE_SYNCED, &[params, more].concat())?;
                applied.updated += 1;
            }
            SyncAction::Create {
                family,
                name,
                job_id,
                url,
                entry: e,
            } => {
                let (etag, lm) = (e.etag.as_deref(), e.last_modified.as_deref());
                let number = number_of(name);
                let params = [family.into(), name.into(), number.into()];
                let more = [
                    job_id.as_deref().into(),
                    url.into(),
                    SYNCED_DESCRIPTION.into(),
                ];
                let rest = [
                    etag.into(),
                    e.size.into(),
                    lm.into(),
                    now.into(),
                    completed.into(),
                ];
                db.execute(INSERT_SYNCED, &[&params[..], &more, &rest].concat())?;
                applied.created += 1;
            }
            SyncAction::InSync { .. } | SyncAction::Skip { .. } => {}
        }
    }
    Ok(applied)
}
