//! Moving a project's state to another store (`runctl store copy`): the source checked (no
//! live process works one of its runs), the target opened (a PostgreSQL database, migrated
//! when it is new; or a new SQLite file, made here and removed again when the copy fails), and
//! the copy made by the store in one transaction. The run folders stay where they are. Knows
//! nothing of the terminal.

use std::path::{Path, PathBuf};

use crate::store::{Access, Copied, CopyError, Location, Store, StoreError, beside};

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StateCopyError {
    #[error("{} exists already; store copy makes a new SQLite file", crate::text::printable(&.path.to_string_lossy()))]
    Exists { path: PathBuf },
    #[error("cannot create {}: {source}", crate::text::printable(&.path.to_string_lossy()))]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "run {run} is being worked (a live process on {host}); refusing to copy a state that changes"
    )]
    Worked { run: String, host: String },
    #[error(transparent)]
    Copy(#[from] CopyError),
}

impl From<StoreError> for StateCopyError {
    fn from(e: StoreError) -> Self {
        StateCopyError::Copy(CopyError::Store(e))
    }
}

/// Copy `source`'s state into the store at `to`, which must be empty (a new SQLite file, or a
/// PostgreSQL database with no runctl state). Nothing is left behind on failure but, on a
/// PostgreSQL database that was new, runctl's empty tables.
pub fn copy_state(source: &Store, to: &Location) -> Result<Copied, StateCopyError> {
    if let Some((run, host)) = source.any_live_member()? {
        return Err(StateCopyError::Worked { run, host });
    }
    match to {
        Location::Postgres(_) => {
            let mut target = Store::open_at(to, Access::Write)?;
            Ok(source.copy_into(&mut target)?)
        }
        Location::Sqlite(path) => copy_to_new_file(source, path),
    }
}

/// The files SQLite and runctl keep beside a DB (runctl's lock of a first migration).
const BESIDE: [&str; 4] = ["-wal", "-shm", "-journal", ".migrate-lock"];

fn copy_to_new_file(source: &Store, path: &Path) -> Result<Copied, StateCopyError> {
    let files: Vec<PathBuf> = std::iter::once(path.to_path_buf())
        .chain(BESIDE.iter().map(|s| beside(path, s)))
        .collect();
    // A symlink counts: nothing is written through one.
    if let Some(there) = files.iter().find(|f| f.symlink_metadata().is_ok()) {
        return Err(StateCopyError::Exists {
            path: there.clone(),
        });
    }
    // Made here, exclusively: a file that appeared since the check is not taken over.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => StateCopyError::Exists {
                path: path.to_path_buf(),
            },
            _ => StateCopyError::Create {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let copied = Store::open(path, Access::Write)
        .map_err(StateCopyError::from)
        .and_then(|mut target| Ok(source.copy_into(&mut target)?));
    // Only what this copy made (each was absent before it began): all of it when the copy
    // failed, else what is left beside the new file.
    let made = match copied {
        Ok(_) => files.get(1..).unwrap_or_default(),
        Err(_) => &files[..],
    };
    for file in made {
        if file.symlink_metadata().is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(file);
        }
    }
    copied
}
