//! The files a command must never write over, whatever path it is given: the project's state
//! folder (`state.db`, its `-wal`/`-shm`, locks, backups), its `runctl.toml`, and the source
//! file a run was ingested from. Pure checks over the filesystem's answers; no writes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::project::Project;

/// What writing to `target` would overwrite, if it is one of the protected files: the project's
/// state folder or anything in it, its settings, or one of `sources`. Symlinks, `..` and hard
/// links are seen through: the comparison is of real paths and of file identities.
pub fn protected(project: &Project, target: &Path, sources: &[&Path]) -> Option<String> {
    let state = real(&project.state_dir());
    let target_real = real(target);
    // By path, and by the identity of every folder above the target: a bind mount or a second
    // path to `.runctl/` is the same folder.
    let state_id = identity(&project.state_dir());
    let inside_state = target_real.starts_with(&state)
        || (state_id.is_some() && target_real.ancestors().any(|a| identity(a) == state_id));
    if inside_state {
        return Some(format!(
            "runctl's own state folder {}",
            project.state_dir().display()
        ));
    }
    let settings = project.settings_path();
    // The DB and its companions wherever they really are (`state.db` may be a symlink to a DB
    // kept elsewhere, on a local disk say).
    let db = project.db_path();
    let real_db = real(&db);
    let companions: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| crate::store::beside(&real_db, suffix))
        .collect();
    let mut guarded: Vec<(String, &Path)> = vec![(
        format!("the project settings {}", settings.display()),
        &settings,
    )];
    for file in &companions {
        guarded.push((format!("runctl's database {}", file.display()), file));
    }
    for source in sources {
        guarded.push((format!("the run's source {}", source.display()), source));
    }
    let target_id = identity(target);
    guarded.into_iter().find_map(|(what, path)| {
        let same_path = real(path) == target_real;
        let same_file = target_id.is_some() && identity(path) == target_id;
        (same_path || same_file).then_some(what)
    })
}

/// Where `path` leads when it is a symlink (or a chain of them), even to a file that does not
/// exist yet; `path` itself otherwise. At most 40 links are followed, as the kernel does.
pub fn follow_symlinks(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        if !is_link {
            break;
        }
        path = match path.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    path
}

/// The path with its folder's symlinks and `..` resolved (the file itself may not exist yet; a
/// symlink as the file itself is resolved too).
fn real(path: &Path) -> PathBuf {
    if let Ok(full) = std::fs::canonicalize(path) {
        return full;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => real(parent).join(name),
        _ => path.to_path_buf(),
    }
}

/// Device and inode of what `path` names (following symlinks), if it exists.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
