//! Moving a project's state to another store (`runctl store copy`): the source checked (no
//! live process works one of its runs), the target opened (a PostgreSQL database, migrated
//! when it is new; or a new SQLite file, written under a hidden temporary name beside it and
//! given its name only once complete), and the copy made by the store in one transaction. The
//! run folders stay where they are. Knows nothing of the terminal.

use std::path::{Path, PathBuf};

use crate::store::{Access, Copied, CopyError, Location, RunFilter, Store, StoreError, beside};

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StateCopyError {
    #[error("{} exists already; store copy makes a new SQLite file", crate::text::printable(&.path.to_string_lossy()))]
    Exists { path: PathBuf },
    #[error("cannot create {}: {detail}", crate::text::printable(&.path.to_string_lossy()))]
    Create { path: PathBuf, detail: String },
    #[error(
        "run {run} is being worked (a live process: {holder}); refusing to copy a state that changes"
    )]
    Worked {
        run: String,
        holder: String,
        /// Seen by its heartbeat (PostgreSQL), not by a lock of this host.
        leased: bool,
    },
    /// The target could not be opened (or made) as an empty runctl store.
    #[error(transparent)]
    Target(StoreError),
    #[error(transparent)]
    Copy(#[from] CopyError),
}

impl From<StoreError> for StateCopyError {
    fn from(e: StoreError) -> Self {
        StateCopyError::Copy(CopyError::Store(e))
    }
}

/// Copy `source`'s state into the store at `to`, which must be empty (a new SQLite file, or a
/// PostgreSQL database with no runctl state). `locks` is the project's folder of run locks
/// (a SQLite store's runs being worked hold one). Nothing is left behind on failure but, on a
/// PostgreSQL database that was new, runctl's empty tables.
pub fn copy_state(source: &Store, locks: &Path, to: &Location) -> Result<Copied, StateCopyError> {
    refuse_worked(source, locks)?;
    match to {
        Location::Postgres(_) => {
            let mut target = Store::open_at(to, Access::Write).map_err(StateCopyError::Target)?;
            Ok(source.copy_into(&mut target)?)
        }
        Location::Sqlite(path) => copy_to_new_file(source, path),
    }
}

/// Refused while a process works one of the runs: a live member (PostgreSQL; one of this host
/// whose process is gone does not count), or a run's lock held (SQLite).
fn refuse_worked(source: &Store, locks: &Path) -> Result<(), StateCopyError> {
    let here = crate::lock::host_name();
    for (run, host, pid) in source.live_members()? {
        if host == here && !alive(pid) {
            continue;
        }
        let name = source.run_by_id(&run)?.map_or(run, |r| r.name);
        return Err(StateCopyError::Worked {
            run: name,
            holder: format!("pid {pid} on {}", crate::text::printable(&host)),
            leased: true,
        });
    }
    let running = RunFilter {
        status: Some("running".into()),
        archived: true,
        ..RunFilter::default()
    };
    for run in source.list_runs(&running)? {
        if let Some(holder) = crate::lock::holder_of(locks, &run.id) {
            return Err(StateCopyError::Worked {
                run: run.name,
                holder: crate::text::printable(holder.trim()).into_owned(),
                leased: false,
            });
        }
    }
    Ok(())
}

/// Whether process `pid` of this host still runs.
fn alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// The files SQLite and runctl keep beside a DB (runctl's lock of a first migration).
const BESIDE: [&str; 4] = ["-wal", "-shm", "-journal", ".migrate-lock"];

fn with_companions(path: &Path) -> Vec<PathBuf> {
    std::iter::once(path.to_path_buf())
        .chain(BESIDE.iter().map(|s| beside(path, s)))
        .collect()
}

/// Written as `.runctl-copy-PID` beside PATH, then linked to PATH (which never appears half
/// made, even when the copy is killed), the temporary name removed.
fn copy_to_new_file(source: &Store, path: &Path) -> Result<Copied, StateCopyError> {
    // A symlink counts: nothing is written through one.
    let taken = |files: &[PathBuf]| files.iter().find(|f| f.symlink_metadata().is_ok()).cloned();
    if let Some(there) = taken(&with_companions(path)) {
        return Err(StateCopyError::Exists { path: there });
    }
    // A short name of its own: NAME itself may be as long as a name can be.
    let temp = path.with_file_name(format!(".runctl-copy-{}", std::process::id()));
    let made = with_companions(&temp);
    if let Some(there) = taken(&made) {
        return Err(StateCopyError::Exists { path: there });
    }
    let copied = create_exclusive(&temp, path)
        .and_then(|()| Store::open(&temp, Access::Write).map_err(StateCopyError::Target))
        .and_then(|mut target| Ok(source.copy_into(&mut target)?))
        .and_then(|copied| name_it(&temp, path).map(|()| copied));
    // Only what this copy made, each absent before it began.
    for file in &made {
        if file.symlink_metadata().is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(file);
        }
    }
    copied
}

/// A new empty file at `temp`, made exclusively (a file that appeared since the check is not
/// taken over); errors name `path`, the file the user asked for.
fn create_exclusive(temp: &Path, path: &Path) -> Result<(), StateCopyError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(temp)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StateCopyError::Exists {
                path: temp.to_path_buf(),
            },
            _ => StateCopyError::Create {
                path: path.to_path_buf(),
                detail: e.to_string(),
            },
        })
}

/// Give the complete copy its name, never over a file that appeared meanwhile: a hard link
/// (which fails on a name taken), or where the filesystem has none, a rename checked first.
fn name_it(temp: &Path, path: &Path) -> Result<(), StateCopyError> {
    let exists = || StateCopyError::Exists {
        path: path.to_path_buf(),
    };
    match std::fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if path.symlink_metadata().is_ok() => Err(exists()),
        Err(_) => std::fs::rename(temp, path).map_err(|e| StateCopyError::Create {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}
