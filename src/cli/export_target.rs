//! Where `runctl export -o PATH` writes: a file replaced atomically, a FIFO or device written
//! into, or the process's own stdout; runctl's own files and the project's sources refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::Store;

/// The names under which `-o` means the process's own stdout.
pub(super) fn is_stdout(path: &Path) -> bool {
    let shown = path.to_string_lossy();
    ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"].contains(&shown.as_ref())
}

/// Where `-o PATH` is written: into a FIFO, a device or `/dev/stdout` directly (never replaced
/// by a file); else to a temporary file renamed over the file at the end. A symlink, even one
/// to a file not made yet, is written through (its file is replaced, the symlink stays).
/// runctl's own files and every source of the project are refused, checked on the file the
/// path leads to.
pub(super) fn open_target(
    project: &Project,
    store: &Store,
    given: &Path,
) -> Result<(Sink, Target)> {
    // The process's own stdout, whatever it is (a file opened for appending by `>>` included):
    // written through fd 1, never reopened or replaced.
    if is_stdout(given) {
        return Ok((Box::new(std::io::stdout().lock()), None));
    }
    let meta = std::fs::metadata(given);
    if meta.as_ref().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::usage(format!("{} is a folder", given.display()))
            .hint("give a file name with -o"));
    }
    let path = match &meta {
        Ok(m) if m.is_file() => std::fs::canonicalize(given).unwrap_or_else(|_| given.into()),
        Ok(_) => given.to_path_buf(),
        Err(_) => crate::protect::follow_symlinks(given),
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(CliError::usage(format!(
            "{} is a loop of symbolic links",
            given.display()
        )));
    }
    let sources: Vec<PathBuf> = store
        .source_paths()?
        .iter()
        .map(|p| crate::store::text_to_path(p))
        .collect();
    let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
    if let Some(what) = crate::protect::protected(project, &path, &sources) {
        return Err(CliError::usage(format!(
            "refusing to export to {}: it is {what}",
            given.display()
        ))
        .hint("give another file with -o, or leave -o out to write to stdout"));
    }
    if meta.is_ok_and(|m| !m.is_file()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| CliError::io("open", &path, e))?;
        // What was opened must still be what was checked: a regular file swapped in since (a
        // symlink to the DB, say) is refused, never written into.
        if file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(CliError::conflict(format!(
                "{} changed while it was being opened for the export; refusing it",
                given.display()
            )));
        }
        return Ok((Box::new(WriteTo(file, path)), None));
    }
    // A private name beside it, made afresh: nothing planted there is written through.
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".export-tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    folder_exists(given, &path)?;
    let file = crate::undo::create_fresh(&tmp).map_err(|e| CliError::io("create", &tmp, e))?;
    Ok((Box::new(file), Some((tmp, path))))
}

pub(super) type Sink = Box<dyn Write>;

/// A FIFO or device written into directly; its write errors name it.
struct WriteTo(std::fs::File, PathBuf);

impl Write for WriteTo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(|e| self.named(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(|e| self.named(e))
    }
}

impl WriteTo {
    fn named(&self, e: std::io::Error) -> std::io::Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return e;
        }
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", self.1.display()))
    }
}
/// The temporary file and the file it becomes, when the export is renamed into place.
pub(super) type Target = Option<(PathBuf, PathBuf)>;

/// A missing folder is the user's path's problem: say so of that path, not of the temporary
/// file beside it.
fn folder_exists(given: &Path, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(CliError::general(format!(
            "cannot write {}: its folder {} does not exist",
            given.display(),
            dir.display()
        ))
        .hint("make the folder first, or write somewhere else"));
    }
    Ok(())
}
