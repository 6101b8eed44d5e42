//! Renaming a legacy run's folders to its canonical name with a symlink left at the old one,
//! in steps a kill can cut anywhere: a marker symlink is made first, so [`repair`] can finish
//! a rename a stopped `migrate runs` left half-done, and [`undo`] takes renames back.

use std::path::{Path, PathBuf};

use super::{Result, io_error};
use crate::naming;
use crate::runs::Layout;

/// Rename the folder to `name` in outputs/ and in logs/ (where it is), leaving a symlink at the
/// old name; on a failure, what was done is undone. Returns the (old, new) paths renamed, for
/// [`undo`] if the run cannot be recorded.
pub fn rename_folders(
    layout: &Layout,
    folder: &str,
    name: &str,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
    for base in [&layout.outputs, &layout.logs] {
        let from = base.join(folder);
        let to = base.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            // Renamed by a run of `migrate runs` that stopped before recording it: leave it.
            continue;
        }
        if !meta.is_dir() {
            continue;
        }
        // The symlink that will take the old name is made first, under a marker name: a kill
        // between the rename and putting the symlink in place leaves the marker, which says
        // what was being done (see `repair`), so the old name is never just gone.
        let marker = marker_of(base, folder);
        let _ = std::fs::remove_file(&marker);
        if let Err(e) = std::os::unix::fs::symlink(name, &marker) {
            undo(&done);
            return Err(io_error("leave a symlink at", &marker, e));
        }
        if let Err(e) = std::fs::rename(&from, &to) {
            let _ = std::fs::remove_file(&marker);
            undo(&done);
            return Err(io_error("rename", &from, e));
        }
        done.push((from.clone(), to));
        if let Err(e) = std::fs::rename(&marker, &from) {
            undo(&done);
            return Err(io_error("leave a symlink at", &from, e));
        }
    }
    Ok(done)
}

/// Where a symlink this command could have made leads: a run name (plain, beside it, with a
/// run number); `None` for any other link.
pub(super) fn run_name_link(link: &Path) -> Option<String> {
    let to = std::fs::read_link(link).ok()?.to_str()?.to_string();
    let plain = !to.is_empty() && !to.contains('/') && !to.starts_with('.');
    (plain && naming::run_number(&to).is_some()).then_some(to)
}

/// The marker of a rename under way: `.<folder>.runctl-migrating`, a symlink to the new name.
fn marker_of(base: &Path, folder: &str) -> PathBuf {
    base.join(format!(".{folder}{MARKER_SUFFIX}"))
}

const MARKER_SUFFIX: &str = ".runctl-migrating";

/// Finish or drop the renames a killed `migrate runs` left half-done, by their markers: when
/// the old folder is gone and the new one is there, the marker becomes the symlink at the old
/// name (the rename happened); when the old folder is still there, the marker is dropped (it
/// did not). Returns what was finished, as (old, new) names.
pub fn repair(layout: &Layout) -> Vec<(String, String)> {
    let mut finished = Vec::new();
    for base in [&layout.outputs, &layout.logs] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(folder) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(MARKER_SUFFIX))
            else {
                continue;
            };
            let marker = entry.path();
            // Only what this command makes: a symlink to a run name beside it (a plain name,
            // with a run number), leading to a real folder. Anything else is left as it is.
            if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            let Some(to) = run_name_link(&marker) else {
                continue;
            };
            let old = base.join(folder);
            let old_there = std::fs::symlink_metadata(&old).is_ok();
            let new_there = std::fs::symlink_metadata(base.join(&to)).is_ok_and(|m| m.is_dir());
            if !old_there && new_there && std::fs::rename(&marker, &old).is_ok() {
                finished.push((folder.to_string(), to));
            } else if old_there || !new_there {
                let _ = std::fs::remove_file(&marker);
            }
        }
    }
    finished
}

/// Put renamed folders back, newest rename first.
pub fn undo(done: &[(PathBuf, PathBuf)]) {
    for (from, to) in done.iter().rev() {
        let _ = std::fs::remove_file(from);
        let _ = std::fs::rename(to, from);
    }
}
