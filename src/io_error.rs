//! One I/O failure on one path, as the domain layers report it: "cannot <what> <path>", with
//! the OS error as its source (the CLI prints it as a `caused by:` line). Shared by the error
//! enums of `runs`, `lock` and `legacy_runs`.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}", path.display())]
pub struct IoError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// For `map_err`: the I/O error of doing `what` on `path` (`?` turns it into any error enum
/// with a `From<IoError>` variant).
pub fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.to_path_buf();
    move |source| IoError { what, path, source }
}
