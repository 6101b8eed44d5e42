//! Carrying out a cleanup: the runs' locks taken, the plan made again inside the write
//! transaction from the records as they are now, every folder step journalled, the `latest`
//! pointers moved off the runs, and a removed run's folders deleted after the commit.

use std::path::{Path, PathBuf};

use super::{Action, Bases, CleanupError, CleanupFailed, RunStep, done_word, plan_one};
use crate::io_error::io;
use crate::project::Project;
use crate::runs::{Layout, RunsError, update_pointers};
use crate::store::{Cleanup, RunRow, Store, now_text};
use crate::undo::Undo;

/// Archive or remove `runs`: all of them, or, when a step or the commit fails, none. Returns
/// what was done (planned again under the locks, from the records as they are then) and notes
/// of what could not be tidied after the commit.
pub fn apply(
    store: &mut Store,
    project: &Project,
    runs: &[RunRow],
    shown: &[RunStep],
    action: Action,
) -> Result<(Vec<RunStep>, Vec<String>), CleanupFailed> {
    let mut undo = Undo::default();
    let mut trash = Vec::new();
    let layout = Layout {
        outputs: project.outputs_dir().map_err(fail)?,
        logs: project.logs_dir().map_err(fail)?,
        max_path: project.settings.naming.max_path,
    };
    let bases = Bases::of(project).map_err(fail)?;
    let _locks = hold(project, runs, action).map_err(fail)?;
    let done = store.cleanup(|c| {
        let steps = replan(c, &bases, runs, shown, action)?;
        for step in steps.iter().filter(|s| !s.skipped) {
            match action {
                Action::Archive => archive_one(c, step, &mut undo)?,
                Action::Remove => trash.extend(remove_one(c, step, &mut undo)?),
            }
        }
        let clear = repoint(c, &layout, &steps, &mut undo)?;
        Ok((steps, clear))
    });
    let (steps, clear_pointers) = match done {
        Ok(done) => done,
        Err(error) => {
            return Err(CleanupFailed {
                error,
                not_undone: undo.undo(),
            });
        }
    };
    let mut notes = Vec::new();
    for path in trash {
        if let Err(e) = remove_path(&path) {
            notes.push(format!("{} could not be deleted: {e}", path.display()));
        }
    }
    if clear_pointers {
        notes.extend(clear_latest(&layout, &steps));
    }
    Ok((steps, notes))
}

/// The plan made again inside the transaction, from the records as they are now; refused when
/// a run is gone or its folders are not the ones shown.
fn replan(
    c: &Cleanup<'_>,
    bases: &Bases,
    runs: &[RunRow],
    shown: &[RunStep],
    action: Action,
) -> Result<Vec<RunStep>, CleanupError> {
    let mut steps = Vec::new();
    for run in runs {
        let now = c.run_by_id(&run.id)?.ok_or_else(|| CleanupError::Gone {
            run: run.name.clone(),
            done: done_word(action),
        })?;
        // On a store many processes share, the runs' locks hold on this host only.
        if let Some(host) = c.worked_from(&run.id)? {
            return Err(CleanupError::Held {
                run: run.name.clone(),
                holder: format!("a member on {host}"),
                done: done_word(action),
            });
        }
        let mut namesakes = |name: &str| c.runs_with_dir_name(name);
        let step = plan_one(bases, &now, runs, action, &mut namesakes)?;
        // What was shown (and asked about) is what is done, or nothing is.
        let same = |a: &RunStep| {
            a.run.id == step.run.id
                && a.folders
                    .iter()
                    .map(|f| (&f.from, &f.to))
                    .eq(step.folders.iter().map(|f| (&f.from, &f.to)))
        };
        if !shown.iter().any(same) {
            return Err(CleanupError::Changed {
                run: run.name.clone(),
                done: done_word(action),
            });
        }
        steps.push(step);
    }
    Ok(steps)
}

fn fail(e: impl Into<CleanupError>) -> CleanupFailed {
    CleanupFailed {
        error: e.into(),
        not_undone: Vec::new(),
    }
}

/// Take every run's lock for the length of the process, so that no resume starts on a run
/// while its folders move.
fn hold(
    project: &Project,
    runs: &[RunRow],
    action: Action,
) -> Result<Vec<crate::lock::RunLock>, CleanupError> {
    let locks = project.state_dir().join("locks");
    runs.iter()
        .map(|run| {
            crate::lock::lock_run(&locks, &run.id, &run.name).map_err(|e| match e {
                crate::lock::LockError::Held { run, holder } => CleanupError::Held {
                    run,
                    holder,
                    done: done_word(action),
                },
                other => CleanupError::Lock(other),
            })
        })
        .collect()
}

fn archive_one(c: &Cleanup<'_>, step: &RunStep, undo: &mut Undo) -> Result<(), CleanupError> {
    let mut outputs = PathBuf::from(&step.run.outputs_dir);
    let mut logs = PathBuf::from(&step.run.logs_dir);
    for folder in &step.folders {
        let Some(to) = &folder.to else { continue };
        if folder.from != *to {
            move_into_archive(&folder.from, to, undo)?;
        }
        if folder.kind == "outputs" {
            outputs = to.clone();
        } else {
            logs = to.clone();
        }
    }
    c.archived(
        &step.run.id,
        &outputs.to_string_lossy(),
        &logs.to_string_lossy(),
        &now_text(),
    )?;
    Ok(())
}

/// Move one folder to its place in the archive (never over anything there).
fn move_into_archive(from: &Path, to: &Path, undo: &mut Undo) -> Result<(), CleanupError> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(CleanupError::InArchive {
            path: to.to_path_buf(),
        });
    }
    if let Some(parent) = to.parent() {
        crate::runs::folders::make_dir_all(parent, undo)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => {
            undo.renamed(from, to);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            Err(CleanupError::CrossDevice {
                from: from.to_path_buf(),
                to: to.to_path_buf(),
            })
        }
        Err(e) => Err(RunsError::from(io("move into the archive", from)(e)).into()),
    }
}

/// Rename the run's folders beside themselves, to be deleted after the commit; delete the row.
fn remove_one(
    c: &Cleanup<'_>,
    step: &RunStep,
    undo: &mut Undo,
) -> Result<Vec<PathBuf>, CleanupError> {
    let mut trash = Vec::new();
    for folder in &step.folders {
        let name = folder
            .from
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let aside = folder
            .from
            .with_file_name(format!(".{name}.removing-{}", std::process::id()));
        std::fs::rename(&folder.from, &aside)
            .map_err(io("move aside to delete", &folder.from))
            .map_err(RunsError::from)?;
        undo.renamed(&folder.from, &aside);
        trash.push(aside);
    }
    c.removed(&step.run.id, &now_text())?;
    Ok(trash)
}

/// Point `latest` at the newest run still shown when it named one of these runs; true when no
/// run is left for it, so the pointers are to be cleared after the commit.
fn repoint(
    c: &Cleanup<'_>,
    layout: &Layout,
    steps: &[RunStep],
    undo: &mut Undo,
) -> Result<bool, CleanupError> {
    let named = |s: &RunStep| !s.run.superseded && latest_names(layout, &s.run.dir_name);
    if !steps.iter().any(named) {
        return Ok(false);
    }
    match c.newest_shown()? {
        Some(newest) => {
            update_pointers(layout, &newest.dir_name, undo)?;
            Ok(false)
        }
        None => Ok(true),
    }
}

/// Whether `outputs/latest` (or a `latest.txt`) names `dir_name`.
fn latest_names(layout: &Layout, dir_name: &str) -> bool {
    let link = std::fs::read_link(layout.outputs.join("latest"))
        .is_ok_and(|target| target == Path::new(dir_name));
    let text = |p: PathBuf| std::fs::read_to_string(p).is_ok_and(|t| t.trim_end() == dir_name);
    link || text(layout.outputs.join("latest.txt")) || text(layout.logs.join("latest.txt"))
}

/// Remove the `latest` pointers that name one of these runs (no run is left to point at).
fn clear_latest(layout: &Layout, steps: &[RunStep]) -> Vec<String> {
    let mut notes = Vec::new();
    for step in steps {
        let name = Path::new(&step.run.dir_name);
        let link = layout.outputs.join("latest");
        if std::fs::read_link(&link).is_ok_and(|t| t == name) {
            let _ = std::fs::remove_file(&link);
        }
        for file in [
            layout.outputs.join("latest.txt"),
            layout.logs.join("latest.txt"),
        ] {
            if std::fs::read_to_string(&file).is_ok_and(|t| t.trim_end() == step.run.dir_name)
                && let Err(e) = std::fs::remove_file(&file)
            {
                notes.push(format!("{} could not be removed: {e}", file.display()));
            }
        }
    }
    notes
}

/// Delete a folder moved aside for deletion (a symlink: the link only).
fn remove_path(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
