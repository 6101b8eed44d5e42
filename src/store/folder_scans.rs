//! The run counter's folder cache (schema V10): what the last `new` saw of `outputs/` and
//! `logs/`, so that the next one reads a folder's entries again only when the folder changed.
//! A row is trusted only while the folder's device, inode, modification time and link count
//! are what was recorded with it; anything else is a miss and the folder is read again.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::sql::{Db, DbError};
use super::{Allocation, StoreError};

/// A folder's identity and state, as `stat` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStat {
    pub dev: u64,
    pub ino: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Link count: 2 plus the number of subfolders on most file systems (1 where it is not
    /// kept: ext4 past 65,000 subfolders, btrfs).
    pub nlink: u64,
}

impl FolderStat {
    /// The stat of the folder at `dir` (through a symlink, as reading it goes), if it is one.
    pub fn of(dir: &Path) -> Option<FolderStat> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dir).ok().filter(|m| m.is_dir())?;
        Some(FolderStat {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            nlink: meta.nlink(),
        })
    }

    /// The columns as SQLite stores them (its integers are signed: u64s keep their bits).
    fn columns(&self) -> [i64; 4] {
        [
            self.dev as i64,
            self.ino as i64,
            self.mtime_ns,
            self.nlink as i64,
        ]
    }
}

/// The first stem past every stem that starts with `prefix` (a scope prefix ends in `-`, and
/// `.` is the byte after it); `None` for the empty prefix (every stem) or any other.
fn stem_end(prefix: &str) -> Option<String> {
    prefix.strip_suffix('-').map(|head| format!("{head}."))
}

impl Allocation<'_> {
    /// The largest run number recorded for `dir` among the stems that start with any of
    /// `prefixes`, if what was recorded of `dir` is still `now`: `Some(None)` when no such stem
    /// was there, `None` when nothing is recorded or the folder changed since.
    pub fn cached_folder_max(
        &self,
        dir: &Path,
        now: &FolderStat,
        prefixes: &[impl AsRef<str>],
    ) -> Result<Option<Option<u32>>, StoreError> {
        let key = dir.as_os_str().as_bytes();
        let recorded = self
            .db()
            .query_opt(
                "SELECT dev, ino, mtime_ns, nlink FROM folder_scans WHERE dir = ?1",
                &[key.into()],
                |r| Ok([r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?]),
            )
            .map_err(|e| self.err(e))?;
        if recorded != Some(now.columns()) {
            return Ok(None);
        }
        let mut max = None;
        for (i, prefix) in prefixes.iter().enumerate() {
            let prefix = prefix.as_ref();
            if prefixes[..i].iter().any(|p| p.as_ref() == prefix) {
                continue;
            }
            let found = match stem_end(prefix) {
                Some(end) => self.db().query_opt(
                    "SELECT max(max_number) FROM folder_numbers WHERE dir = ?1 AND stem >= ?2 AND stem < ?3",
                    &[key.into(), prefix.into(), (&end).into()],
                    |r| r.opt_int(0),
                ),
                // The empty prefix, or one of another shape: every stem from the prefix on (a
                // larger number than needed at worst, never a number reused).
                None => self.db().query_opt(
                    "SELECT max(max_number) FROM folder_numbers WHERE dir = ?1 AND stem >= ?2",
                    &[key.into(), prefix.into()],
                    |r| r.opt_int(0),
                ),
            }
            .map_err(|e| self.err(e))?
            .flatten();
            max = max.max(found.and_then(|n| u32::try_from(n).ok()));
        }
        Ok(Some(max))
    }

    /// Record what a read of `dir` found: its stat from before the read and the largest run
    /// number under each stem. Replaces whatever was recorded of it.
    pub fn record_folder_scan<'s>(
        &self,
        dir: &Path,
        before: &FolderStat,
        numbers: impl IntoIterator<Item = (&'s str, u32)>,
    ) -> Result<(), StoreError> {
        if !self.commits() {
            return Ok(());
        }
        let key = dir.as_os_str().as_bytes();
        let [dev, ino, mtime_ns, nlink] = before.columns();
        let db = self.db();
        let run = || -> Result<(), DbError> {
            db.execute("DELETE FROM folder_numbers WHERE dir = ?1", &[key.into()])?;
            db.execute(
                "INSERT INTO folder_scans (dir, dev, ino, mtime_ns, nlink) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (dir) DO UPDATE SET dev = ?2, ino = ?3, mtime_ns = ?4, nlink = ?5",
                &[key.into(), dev.into(), ino.into(), mtime_ns.into(), nlink.into()],
            )?;
            for (stem, n) in numbers {
                db.execute(
                    "INSERT INTO folder_numbers (dir, stem, max_number) VALUES (?1, ?2, ?3)",
                    &[key.into(), stem.into(), n.into()],
                )?;
            }
            Ok(())
        };
        run().map_err(|e| self.err(e))
    }

    /// This allocation made one folder in `dir`, named `<stem>run<n>` when `made` is given:
    /// what is recorded of `dir` moves from `before` to `after`. Only when the record was
    /// `before` and the link count rose by exactly that folder (where the file system keeps
    /// one); otherwise the record stays as it is, stale, and the next `new` reads the folder
    /// again.
    pub fn record_folder_made(
        &self,
        dir: &Path,
        before: &FolderStat,
        after: &FolderStat,
        made: Option<(&str, u32)>,
    ) -> Result<(), StoreError> {
        // A link count of 1 says nothing (ext4 past 65,000 subfolders, btrfs): the folder's
        // time alone tells a change then, and one within the same tick as this one goes unseen
        // until the folder changes again (docs/naming.md; a name is still never reused).
        let counted = before.nlink > 1 && after.nlink > 1;
        if !self.commits()
            || after.dev != before.dev
            || after.ino != before.ino
            || (counted && after.nlink != before.nlink.wrapping_add(1))
        {
            return Ok(());
        }
        let key = dir.as_os_str().as_bytes();
        let [dev, ino, mtime_ns, nlink] = before.columns();
        let [_, _, new_mtime, new_nlink] = after.columns();
        let db = self.db();
        // The larger of the two: SQLite's max(a, b), PostgreSQL's greatest(a, b).
        let larger = match db {
            Db::Sqlite(_) => "max",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "greatest",
        };
        let run = || -> Result<(), DbError> {
            let moved = db.execute(
                "UPDATE folder_scans SET mtime_ns = ?6, nlink = ?7 \
                 WHERE dir = ?1 AND dev = ?2 AND ino = ?3 AND mtime_ns = ?4 AND nlink = ?5",
                &[
                    key.into(),
                    dev.into(),
                    ino.into(),
                    mtime_ns.into(),
                    nlink.into(),
                    new_mtime.into(),
                    new_nlink.into(),
                ],
            )?;
            if let (1, Some((stem, n))) = (moved, made) {
                db.execute(
                    &format!(
                        "INSERT INTO folder_numbers (dir, stem, max_number) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (dir, stem) DO UPDATE SET max_number = \
                         {larger}(folder_numbers.max_number, ?3)"
                    ),
                    &[key.into(), stem.into(), n.into()],
                )?;
            }
            Ok(())
        };
        run().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::stem_end;

    #[test]
    fn a_scope_prefix_selects_the_stems_that_start_with_it() {
        assert_eq!(stem_end("m-d-").as_deref(), Some("m-d."));
        assert_eq!(stem_end(""), None);
        let end = stem_end("m-").unwrap();
        for inside in ["m-", "m-d-", "m-zz-full-", "m-\u{10ffff}-"] {
            assert!(inside >= "m-" && inside < end.as_str(), "{inside}");
        }
        for outside in ["m.", "ma-", "m", "n-", "l-"] {
            assert!(!(outside >= "m-" && outside < end.as_str()), "{outside}");
        }
    }
}
