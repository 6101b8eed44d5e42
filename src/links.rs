//! Folder aliases on disk: a relative symlink, else a folder of hard links, else a copy.
//!
//! This module does the filesystem work of `runctl link` and knows nothing of SQL or the
//! terminal. An alias is never replaced: one that exists and leads elsewhere is reported, and
//! the caller decides (a collision).

use std::io;
use std::path::{Path, PathBuf};

use crate::project::LinkMode;

/// Errors making an alias.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot make {alias} by any means (symlink: {symlink}; hard links: {hardlink}; copy: {copy})"
    )]
    AllFailed {
        alias: PathBuf,
        symlink: String,
        hardlink: String,
        copy: String,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LinkError + 'a {
    move |source| LinkError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// What is at an alias path now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    /// A symlink, with where it leads (resolved against the alias's folder).
    Symlink(PathBuf),
    /// A real folder (an earlier hard-link or copy alias, or something else).
    Folder,
    /// A file or anything else.
    Other,
}

/// Look at `alias` without following it.
pub fn existing(alias: &Path) -> Result<Existing, LinkError> {
    let meta = match std::fs::symlink_metadata(alias) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(io_err("inspect", alias)(e)),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(alias).map_err(io_err("read link", alias))?;
        let base = alias.parent().unwrap_or(Path::new("."));
        Ok(Existing::Symlink(base.join(target)))
    } else if meta.is_dir() {
        Ok(Existing::Folder)
    } else {
        Ok(Existing::Other)
    }
}

/// Make `alias` (a sibling of `target`) lead to `target` by `mode`; returns the mode used.
/// `Auto` tries a symlink, then a folder of hard links, then a copy.
pub fn make_alias(target: &Path, alias: &Path, mode: LinkMode) -> Result<LinkMode, LinkError> {
    match mode {
        LinkMode::Symlink => symlink(target, alias).map(|()| LinkMode::Symlink),
        LinkMode::Hardlink => replicate(target, alias, true).map(|()| LinkMode::Hardlink),
        LinkMode::Copy => replicate(target, alias, false).map(|()| LinkMode::Copy),
        LinkMode::Auto => {
            let symlink_err = match symlink(target, alias) {
                Ok(()) => return Ok(LinkMode::Symlink),
                Err(e) => e,
            };
            let hardlink_err = match replicate(target, alias, true) {
                Ok(()) => return Ok(LinkMode::Hardlink),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(alias);
                    e
                }
            };
            match replicate(target, alias, false) {
                Ok(()) => Ok(LinkMode::Copy),
                Err(copy) => {
                    let _ = std::fs::remove_dir_all(alias);
                    Err(LinkError::AllFailed {
                        alias: alias.to_path_buf(),
                        symlink: symlink_err.to_string(),
                        hardlink: hardlink_err.to_string(),
                        copy: copy.to_string(),
                    })
                }
            }
        }
    }
}

/// A relative symlink `alias` -> `target`'s file name (they are siblings).
fn symlink(target: &Path, alias: &Path) -> Result<(), LinkError> {
    let relative = target
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| target.to_path_buf());
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(&relative, alias);
    #[cfg(windows)]
    let made = std::os::windows::fs::symlink_dir(&relative, alias);
    made.map_err(io_err("create symlink", alias))
}

/// Recreate `from` at `to`: folders made, files hard-linked (or copied), symlinks recreated.
fn replicate(from: &Path, to: &Path, hard: bool) -> Result<(), LinkError> {
    std::fs::create_dir(to).map_err(io_err("create", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err("inspect", &src))?;
        if kind.is_dir() {
            replicate(&src, &dst, hard)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&src).map_err(io_err("read link", &src))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&link, &dst).map_err(io_err("create symlink", &dst))?;
            #[cfg(not(unix))]
            std::fs::copy(&src, &dst)
                .map(|_| ())
                .map_err(io_err("copy", &dst))?;
        } else if hard {
            std::fs::hard_link(&src, &dst).map_err(io_err("hard-link", &dst))?;
        } else {
            std::fs::copy(&src, &dst).map_err(io_err("copy", &dst))?;
        }
    }
    Ok(())
}
