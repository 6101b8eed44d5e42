//! One process per run: an OS file lock on `.runctl/locks/<run id>.lock` (fd-lock), holding the
//! holder's pid, host and start time for the message a second process gets. The OS drops the
//! lock when the holder dies, so a crashed holder never leaves a stale lock behind.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why a run's lock could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the run lock {} is not a regular file (a symlink or something else was put there); refusing to follow it",
        path.display()
    )]
    NotRegular { path: PathBuf },
    #[error(
        "the run lock {} has other names (a hard link was put there); refusing to write it",
        path.display()
    )]
    Linked { path: PathBuf },
    #[error("run {run} is being worked on by another process ({holder})")]
    Held { run: String, holder: String },
    #[error(transparent)]
    Io(#[from] crate::io_error::IoError),
}

type Result<T, E = LockError> = std::result::Result<T, E>;

use crate::io_error::io;

/// A held run lock; released when the process ends.
#[derive(Debug)]
pub struct RunLock {
    pub path: PathBuf,
    /// The locked file's inode, to notice the file being removed or replaced.
    inode: Option<u64>,
    locks_dir: PathBuf,
    run_id: String,
    run_name: String,
}

impl RunLock {
    /// Whether the lock file at `path` is still the one this process locked.
    pub fn intact(&self) -> bool {
        match (inode_of(&self.path), self.inode) {
            (Some(now), Some(locked)) => now == locked,
            _ => false,
        }
    }

    /// Keep holding the run: if the lock file was removed (say, `.runctl/locks` deleted under a
    /// running resume), take a new one, so that a second process cannot take the run; exit 3 if
    /// one already has.
    pub fn keep(&mut self) -> Result<()> {
        if self.intact() {
            return Ok(());
        }
        *self = lock_run(&self.locks_dir, &self.run_id, &self.run_name)?;
        Ok(())
    }
}

/// How many names the open file has.
fn file_links(file: &std::fs::File) -> u64 {
    use std::os::unix::fs::MetadataExt;
    file.metadata().map_or(1, |m| m.nlink())
}

#[cfg(unix)]
fn inode_of(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

#[cfg(not(unix))]
fn inode_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|_| 0)
}

/// Open (or create) the lock file. O_NOFOLLOW: a symlink planted between the check and the
/// open is not followed either.
fn open_no_follow(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| io("open", path)(e).into())
}

/// The error for a run a member of its pass works from `host` (a store many processes share).
pub fn held_by_member(run: &str, host: &str) -> LockError {
    LockError::Held {
        run: run.to_string(),
        holder: format!("a member on {}", crate::text::printable(host)),
    }
}

/// The host this process says it runs on: `RUNCTL_HOST` when set (a container, or a test that
/// plays several hosts), else the machine's host name.
pub fn host_name() -> String {
    if let Some(host) = std::env::var_os("RUNCTL_HOST").filter(|h| !h.is_empty()) {
        // A host name is at most 253 characters; more is cut.
        return host.to_string_lossy().chars().take(253).collect();
    }
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown host".into())
}

/// Write who holds the lock (pid, host, since when) for the message a second process gets.
fn write_holder(file: &mut std::fs::File) {
    let host = host_name();
    let holder = format!(
        "pid {} on {host}, since {}",
        std::process::id(),
        crate::store::now_text()
    );
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(holder.as_bytes());
    let _ = file.flush();
}

/// Who holds the lock of `run_id`, if a process does; nothing is created or written (for a
/// dry run). A lock file that cannot be read counts as not held.
pub fn holder_of(locks_dir: &Path, run_id: &str) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = locks_dir.join(format!("{run_id}.lock"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .ok()?;
    let lock = fd_lock::RwLock::new(file);
    match lock.try_read() {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let mut holder = String::new();
            let _ = std::fs::File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
            Some(if holder.is_empty() {
                "holder unknown".into()
            } else {
                holder
            })
        }
        Err(_) => None,
    }
}

/// Take the lock of `run_id` under `locks_dir`, or exit 3 naming the holder.
pub fn lock_run(locks_dir: &Path, run_id: &str, run_name: &str) -> Result<RunLock> {
    std::fs::create_dir_all(locks_dir).map_err(io("create", locks_dir))?;
    let path = locks_dir.join(format!("{run_id}.lock"));
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(LockError::NotRegular { path });
    }
    let file = open_no_follow(&path)?;
    // A hard link planted at the name would have the holder's line written into another file.
    if file_links(&file) > 1 {
        return Err(LockError::Linked { path });
    }
    // The lock lives as long as the process: leaking it keeps the guard valid without a
    // self-referential struct, and the OS releases it at exit, however the process ends.
    let lock: &'static mut fd_lock::RwLock<std::fs::File> =
        Box::leak(Box::new(fd_lock::RwLock::new(file)));
    match lock.try_write() {
        Ok(mut guard) => {
            write_holder(&mut guard);
            std::mem::forget(guard);
            Ok(RunLock {
                inode: inode_of(&path),
                path,
                locks_dir: locks_dir.to_path_buf(),
                run_id: run_id.to_string(),
                run_name: run_name.to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let mut holder = String::new();
            let _ = std::fs::File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
            if holder.is_empty() {
                holder = "holder unknown".into();
            }
            Err(LockError::Held {
                run: run_name.to_string(),
                holder,
            })
        }
        Err(e) => Err(io("lock", &path)(e).into()),
    }
}
