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
    #[error("{alias} appeared while runctl was making it; left as it is")]
    Appeared { alias: PathBuf },
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
/// `Auto` tries a symlink, then a folder of hard links, then a copy. Something that appears at
/// `alias` meanwhile is never removed or replaced: only what this call made is cleaned up.
pub fn make_alias(target: &Path, alias: &Path, mode: LinkMode) -> Result<LinkMode, LinkError> {
    match mode {
        LinkMode::Symlink => symlink(target, alias).map(|()| LinkMode::Symlink),
        LinkMode::Hardlink => replicate_fresh(target, alias, true).map(|()| LinkMode::Hardlink),
        LinkMode::Copy => replicate_fresh(target, alias, false).map(|()| LinkMode::Copy),
        LinkMode::Auto => {
            let symlink_err = match symlink(target, alias) {
                Ok(()) => return Ok(LinkMode::Symlink),
                Err(e @ LinkError::Appeared { .. }) => return Err(e),
                Err(e) => e,
            };
            let hardlink_err = match replicate_fresh(target, alias, true) {
                Ok(()) => return Ok(LinkMode::Hardlink),
                Err(e @ LinkError::Appeared { .. }) => return Err(e),
                Err(e) => e,
            };
            match replicate_fresh(target, alias, false) {
                Ok(()) => Ok(LinkMode::Copy),
                Err(e @ LinkError::Appeared { .. }) => Err(e),
                Err(copy) => Err(LinkError::AllFailed {
                    alias: alias.to_path_buf(),
                    symlink: symlink_err.to_string(),
                    hardlink: hardlink_err.to_string(),
                    copy: copy.to_string(),
                }),
            }
        }
    }
}

/// A new folder `to` replicating `from`; on a failure after `to` was made, what this call made
/// is removed again (and nothing else: `to` is made exclusively).
fn replicate_fresh(from: &Path, to: &Path, hard: bool) -> Result<(), LinkError> {
    match std::fs::create_dir(to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(LinkError::Appeared {
                alias: to.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err("create", to)(e)),
    }
    fill(from, to, hard).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(to);
    })
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
    made.map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            LinkError::Appeared {
                alias: alias.to_path_buf(),
            }
        } else {
            io_err("create symlink", alias)(e)
        }
    })
}

/// Fill the new folder `to` as `from`: folders made, files hard-linked (or copied), symlinks
/// recreated.
fn fill(from: &Path, to: &Path, hard: bool) -> Result<(), LinkError> {
    for entry in std::fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err("inspect", &src))?;
        if kind.is_dir() {
            std::fs::create_dir(&dst).map_err(io_err("create", &dst))?;
            fill(&src, &dst, hard)?;
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
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(io_err("copy", &dst))?;
        } else {
            // A FIFO would block the copy for ever; a socket or device is no file to copy.
            return Err(io_err("copy", &src)(io::Error::other(
                "not a regular file (a FIFO, socket or device)",
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window between `existing()` and `make_alias()` cannot be hit from the binary
    /// without a debugger (it was widened with strace to find the bug), so it is opened here by
    /// calling `make_alias` on an alias path that is already taken, as it would be if
    /// something appeared in that window.
    #[test]
    fn an_alias_that_appears_meanwhile_is_left_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("M:a=1");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("weights"), "w").unwrap();
        let alias = tmp.path().join("M:hash=12345678");
        std::fs::create_dir(&alias).unwrap();
        std::fs::write(alias.join("users-file"), "keep me").unwrap();
        for mode in [
            LinkMode::Auto,
            LinkMode::Symlink,
            LinkMode::Hardlink,
            LinkMode::Copy,
        ] {
            let err = make_alias(&target, &alias, mode).unwrap_err();
            assert!(matches!(err, LinkError::Appeared { .. }), "{mode:?}: {err}");
            assert_eq!(
                std::fs::read_to_string(alias.join("users-file")).unwrap(),
                "keep me"
            );
        }
        // A FIFO in the folder: a copy fails at once (it would block for ever), leaving nothing.
        let with_fifo = tmp.path().join("F:x=1");
        std::fs::create_dir(&with_fifo).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(with_fifo.join("pipe"))
                .status()
                .unwrap()
                .success()
        );
        let copy_alias = tmp.path().join("F:hash=00000000");
        let err = make_alias(&with_fifo, &copy_alias, LinkMode::Copy).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(!copy_alias.exists());
        // With the path free, the same call makes the alias.
        let free = tmp.path().join("M:hash=abcdef01");
        assert_eq!(
            make_alias(&target, &free, LinkMode::Copy).unwrap(),
            LinkMode::Copy
        );
        assert!(free.join("weights").exists());
    }
}
