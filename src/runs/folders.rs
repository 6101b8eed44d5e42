//! A run's folders and the `latest` pointers: made, moved aside and replaced with every step
//! recorded in an [`Undo`] journal, so a failed allocation leaves the disk as it found it.

use std::path::{Path, PathBuf};

use super::{Layout, Result, RunsError, io};
use crate::undo::{self, Previous, Undo};

/// Move a superseded run's folders aside (never deleting them); returns the new outputs path.
pub fn move_aside(
    layout: &Layout,
    dir_name: &str,
    stamp: &str,
    undo: &mut Undo,
) -> Result<Option<PathBuf>> {
    let mut moved_outputs = None;
    // One new name, free in both folders: a superseded run's logs are found from its outputs'.
    let mut aside = format!("{dir_name}.superseded-{stamp}");
    let mut k = 2;
    while [&layout.outputs, &layout.logs]
        .iter()
        .any(|base| std::fs::symlink_metadata(base.join(&aside)).is_ok())
    {
        aside = format!("{dir_name}.superseded-{stamp}-{k}");
        k += 1;
    }
    for base in [&layout.outputs, &layout.logs] {
        let from = base.join(dir_name);
        if std::fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let to = base.join(&aside);
        std::fs::rename(&from, &to).map_err(io("move aside", &from))?;
        undo.renamed(&from, &to);
        if base == &layout.outputs {
            moved_outputs = Some(to);
        }
    }
    Ok(moved_outputs)
}

/// Make a folder and every missing parent, recording each one made.
pub(super) fn make_dir_all(dir: &Path, undo: &mut Undo) -> Result<()> {
    let mut missing = Vec::new();
    for d in dir.ancestors() {
        if std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => undo.made_dir(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create", d)(e).into()),
        }
    }
    Ok(())
}

/// Make a run's folders. A folder that appeared meanwhile is a conflict, never reused.
pub fn make_folders(
    layout: &Layout,
    dir_name: &str,
    undo: &mut Undo,
) -> Result<(PathBuf, PathBuf)> {
    let outputs = layout.outputs.join(dir_name);
    let logs = layout.logs.join(dir_name);
    for dir in [&outputs, &logs] {
        if let Some(parent) = dir.parent() {
            make_dir_all(parent, undo)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => undo.made_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RunsError::FolderExists { path: dir.clone() });
            }
            Err(e) => return Err(io("create", dir)(e).into()),
        }
    }
    Ok((outputs, logs))
}

/// Point `outputs/latest` (a relative symlink, or `latest.txt` where symlinks are refused) and
/// `logs/latest.txt` at the run, each replaced atomically by a rename. A pointer that is
/// something else (a folder a user made and named `latest`) is left alone: returned as a
/// warning, not an error, since the run itself is fine.
pub fn update_pointers(layout: &Layout, dir_name: &str, undo: &mut Undo) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for dir in [&layout.outputs, &layout.logs] {
        make_dir_all(dir, undo)?;
    }
    let latest = layout.outputs.join("latest");
    let tmp = undo::temp_beside(&latest);
    let _ = std::fs::remove_file(&tmp);
    let linked = std::os::unix::fs::symlink(dir_name, &tmp).is_ok();
    if linked {
        // runctl's `outputs/latest` is a symlink: a file or folder there is someone else's.
        let previous = match undo::previous_of(&latest) {
            Ok(Some(Previous::File(_))) => None,
            other => other.map_err(io("read", &latest))?,
        };
        match previous {
            Some(previous) => {
                if let Err(e) = std::fs::rename(&tmp, &latest) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io("replace", &latest)(e).into());
                }
                undo.replaced(&latest, previous);
            }
            None => {
                let _ = std::fs::remove_file(&tmp);
                warnings.push(not_a_pointer(&latest));
            }
        }
    } else {
        write_pointer(
            &layout.outputs.join("latest.txt"),
            dir_name,
            undo,
            &mut warnings,
        )?;
    }
    write_pointer(
        &layout.logs.join("latest.txt"),
        dir_name,
        undo,
        &mut warnings,
    )?;
    Ok(warnings)
}

fn not_a_pointer(path: &Path) -> String {
    format!(
        "{} is not a pointer runctl made (a file or a folder of someone else's): left as it is, not pointed at the new run",
        path.display()
    )
}

fn write_pointer(
    path: &Path,
    dir_name: &str,
    undo: &mut Undo,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let Some(previous) = undo::previous_of(path).map_err(io("read", path))? else {
        warnings.push(not_a_pointer(path));
        return Ok(());
    };
    let tmp = undo::temp_beside(path);
    if let Err(e) = undo::write_new(&tmp, format!("{dir_name}\n").as_bytes()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", &tmp)(e).into());
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("replace", path)(e).into());
    }
    undo.replaced(path, previous);
    Ok(())
}
