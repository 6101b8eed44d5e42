//! What is at the DB's path before SQLite opens it: a regular file or nothing (a FIFO, a
//! device or a dangling symlink is refused), and whether it is empty, a SQLite DB, and in WAL
//! mode.

use std::path::Path;

use super::{StoreError, beside};

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether the DB file exists; anything there but a regular file (a FIFO would hang every
/// command, a device would read without end) is refused.
pub(super) fn check_file(path: &Path) -> Result<bool, StoreError> {
    // SQLite's companions too: a FIFO as `-wal` would be taken for a failing disk.
    for suffix in ["-wal", "-shm"] {
        let companion = beside(path, suffix);
        // Not followed: SQLite would not use a symlinked -wal, and the DB alone would then be
        // read as an older state.
        if std::fs::symlink_metadata(&companion).is_ok_and(|m| !m.file_type().is_file()) {
            return Err(StoreError::NotRegular { path: companion });
        }
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(_) => Err(StoreError::NotRegular {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::symlink_metadata(path) {
                // A symlink to nothing: creating the DB through it would put it wherever it
                // points.
                Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::NotRegular {
                    path: path.to_path_buf(),
                }),
                // Made by another process meanwhile.
                Ok(meta) if meta.is_file() => Ok(true),
                Ok(_) => Err(StoreError::NotRegular {
                    path: path.to_path_buf(),
                }),
                Err(_) => Ok(false),
            }
        }
        Err(source) => Err(StoreError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What the start of a DB file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Header {
    Empty,
    /// A rollback-journal DB (or one too short to say).
    Rollback,
    /// In WAL mode (bytes 18 and 19 of the header are 2).
    Wal,
}

/// Refuse a file that does not start with SQLite's header; say whether it is empty or in WAL
/// mode.
pub(super) fn check_header(path: &Path) -> Result<Header, StoreError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|source| StoreError::Io {
        what: "open",
        path: path.to_path_buf(),
        source,
    })?;
    let mut header = Vec::with_capacity(20);
    file.by_ref()
        .take(20)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        })?;
    if header.is_empty() {
        Ok(Header::Empty)
    } else if header.starts_with(SQLITE_HEADER) {
        Ok(if header.get(18..20) == Some(&[2, 2][..]) {
            Header::Wal
        } else {
            Header::Rollback
        })
    } else {
        Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}
