//! Backups of `state.db` before a migration: a whole copy under a hidden temporary name,
//! given its `state.db.bak-*` name by a hard link only when complete, so a kill mid-backup
//! leaves no partial backup; temporaries of dead processes are removed.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{Store, StoreError, classify};

/// Remove the temporaries of backups whose process is gone (killed half-way): `.state.db.bak-
/// tmp-<pid>` with no process `<pid>`.
pub(super) fn remove_stale_temporaries(dir: &Path, db_name: &std::ffi::OsStr) {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(db_name);
    prefix.push(".bak-tmp-");
    let prefix = prefix.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Store {
    /// Write a consistent copy `state.db.bak-<UTC timestamp>[-n]` beside the DB; returns its
    /// path. The copy is made under a hidden temporary name and given its name only when whole
    /// (a hard link, which never replaces a name that is taken, so concurrent backups never race
    /// for one): a backup killed half-way is never left where a user would restore from it.
    pub fn backup(&self) -> Result<PathBuf, StoreError> {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d%H%M%S").to_string();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self.path.file_name().unwrap_or_default().to_os_string();
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(&name);
        tmp_name.push(format!(".bak-tmp-{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        remove_stale_temporaries(dir, &name);
        let _ = std::fs::remove_file(&tmp);
        let conn = self.conn()?;
        let copied = Connection::open(&tmp).and_then(|mut dest| {
            // No journal beside the copy: it is a new file, renamed into place only when whole.
            dest.pragma_update(None, "journal_mode", "OFF")?;
            let backup = rusqlite::backup::Backup::new(conn, &mut dest)?;
            backup.run_to_completion(1024, std::time::Duration::ZERO, None)
        });
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(classify(&tmp, e));
        }
        let base = super::beside(&self.path, &format!(".bak-{stamp}"));
        let mut target = base.clone();
        let mut n = 2;
        let placed = loop {
            match std::fs::hard_link(&tmp, &target) {
                Ok(()) => break Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    target = super::beside(&base, &format!("-{n}"));
                    n += 1;
                }
                Err(source) => break Err(source),
            }
        };
        let _ = std::fs::remove_file(&tmp);
        placed.map_err(|source| StoreError::Io {
            what: "create",
            path: target.clone(),
            source,
        })?;
        Ok(target)
    }
}
