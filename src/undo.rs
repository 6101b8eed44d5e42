//! The filesystem steps of one command, kept so that they can be undone when a later step or
//! the DB commit fails: a failed command leaves the project as it found it.
//!
//! Each step is recorded right after it succeeded. [`Undo::undo`] reverts them newest first and
//! only ever reverts what this process did: a folder it made is removed only while still
//! empty, a rename is reversed only onto a free name, a pointer is put back as it was. Nothing
//! a user made is deleted, whatever happens. This module knows nothing of SQL or the terminal.

use std::path::{Path, PathBuf};

/// What a replaced pointer (`outputs/latest`, `logs/latest.txt`) was before.
#[derive(Debug)]
pub enum Previous {
    /// There was none.
    Absent,
    /// A symlink to this target.
    Symlink(PathBuf),
    /// A regular file with these bytes.
    File(Vec<u8>),
}

#[derive(Debug)]
enum Step {
    Renamed { from: PathBuf, to: PathBuf },
    MadeDir(PathBuf),
    MadeAlias(PathBuf),
    Replaced { path: PathBuf, previous: Previous },
}

/// The steps done so far, newest last.
#[derive(Debug, Default)]
#[must_use = "call undo() when the command fails"]
pub struct Undo {
    steps: Vec<Step>,
}

impl Undo {
    /// `from` was renamed to `to`.
    pub fn renamed(&mut self, from: &Path, to: &Path) {
        self.steps.push(Step::Renamed {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
    }

    /// The folder `dir` was made (it did not exist).
    pub fn made_dir(&mut self, dir: &Path) {
        self.steps.push(Step::MadeDir(dir.to_path_buf()));
    }

    /// The alias `path` (a symlink, or a folder of hard links or copies) was made where
    /// nothing was.
    pub fn made_alias(&mut self, path: &Path) {
        self.steps.push(Step::MadeAlias(path.to_path_buf()));
    }

    /// The file or symlink at `path` was replaced; `previous` is what it was.
    pub fn replaced(&mut self, path: &Path, previous: Previous) {
        self.steps.push(Step::Replaced {
            path: path.to_path_buf(),
            previous,
        });
    }

    /// Revert every step, newest first; returns what could not be reverted, for a warning.
    pub fn undo(self) -> Vec<String> {
        let mut left = Vec::new();
        for step in self.steps.into_iter().rev() {
            if let Err(what) = revert(&step) {
                left.push(what);
            }
        }
        left
    }
}

fn revert(step: &Step) -> Result<(), String> {
    match step {
        Step::Renamed { from, to } => {
            if std::fs::symlink_metadata(from).is_ok() {
                return Err(format!(
                    "{} was not moved back to {}: that name is taken again",
                    to.display(),
                    from.display()
                ));
            }
            std::fs::rename(to, from).map_err(|e| {
                format!(
                    "cannot move {} back to {}: {e}",
                    to.display(),
                    from.display()
                )
            })
        }
        // remove_dir only removes an empty folder: whatever appeared inside is kept.
        Step::MadeDir(dir) => std::fs::remove_dir(dir)
            .map_err(|e| format!("cannot remove the new folder {}: {e}", dir.display())),
        // This process made it where nothing was: a symlink goes, a folder of links or copies
        // is removed whole (remove_dir_all removes a symlink, never what it leads to).
        Step::MadeAlias(path) => {
            let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
            let removed = if is_dir {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            removed.map_err(|e| format!("cannot remove the new alias {}: {e}", path.display()))
        }
        Step::Replaced { path, previous } => restore(path, previous)
            .map_err(|e| format!("cannot put {} back as it was: {e}", path.display())),
    }
}

fn restore(path: &Path, previous: &Previous) -> std::io::Result<()> {
    match previous {
        Previous::Absent => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        Previous::Symlink(target) => {
            let tmp = temp_beside(path);
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(target, &tmp)?;
            std::fs::rename(&tmp, path)
        }
        Previous::File(bytes) => {
            let tmp = temp_beside(path);
            write_new(&tmp, bytes)?;
            std::fs::rename(&tmp, path)
        }
    }
}

/// Write `bytes` to a new file at `path`, never through what is there: a file or symlink at
/// the name (planted, or left by a killed run of this process id) is removed first, and the
/// new one is made exclusively (`O_EXCL` does not follow a symlink).
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    create_fresh(path)?.write_all(bytes)
}

/// A new, empty file at `path`, as [`write_new`] makes it, open for writing.
pub fn create_fresh(path: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// A hidden name beside `path`, private to this process.
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// What is at `path` now, to restore it later; `None` when it is neither absent, a symlink nor
/// a regular file (a folder a user made, say), which a pointer must then leave alone.
pub fn previous_of(path: &Path) -> std::io::Result<Option<Previous>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Previous::Absent)),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(Some(Previous::Symlink(std::fs::read_link(path)?)));
    }
    if meta.is_file() && meta.len() <= 64 * 1024 {
        return Ok(Some(Previous::File(std::fs::read(path)?)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_reverts_newest_first_and_keeps_what_others_made() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("f"), "kept").unwrap();
        let mut undo = Undo::default();
        std::fs::rename(&a, &b).unwrap();
        undo.renamed(&a, &b);
        std::fs::create_dir(&a).unwrap();
        undo.made_dir(&a);
        let pointer = tmp.path().join("latest");
        let previous = previous_of(&pointer).unwrap().unwrap();
        std::os::unix::fs::symlink("a", &pointer).unwrap();
        undo.replaced(&pointer, previous);
        assert!(undo.undo().is_empty());
        assert_eq!(std::fs::read_to_string(a.join("f")).unwrap(), "kept");
        assert!(!b.exists());
        assert!(std::fs::symlink_metadata(&pointer).is_err());

        // A folder that gained a file meanwhile is not removed; the rename back is refused.
        let mut undo = Undo::default();
        std::fs::rename(&a, &b).unwrap();
        undo.renamed(&a, &b);
        std::fs::create_dir(&a).unwrap();
        undo.made_dir(&a);
        std::fs::write(a.join("new"), "someone's").unwrap();
        let left = undo.undo();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(a.join("new").exists() && b.join("f").exists());
    }

    /// A symlink planted at a temporary name (the name holds this process's id, so one can be
    /// planted ahead for a range of ids; the binary cannot be made to land on it reliably).
    #[test]
    fn write_new_replaces_a_planted_symlink_and_never_writes_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let at = temp_beside(&tmp.path().join("latest.txt"));
        std::os::unix::fs::symlink(&victim, &at).unwrap();
        write_new(&at, b"run1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&at).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&at).unwrap(), "run1\n");
    }
}
