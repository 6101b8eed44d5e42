//! Cleaning up runs: `archive` moves a run's folders under the archive (`paths.archive`) and
//! marks it archived; `remove` deletes a run's folders and its record (its name keeps
//! counting). Both refuse a run a process holds, and both do all their runs or none.
//!
//! Every folder step happens inside the store's write transaction and is recorded in an
//! [`Undo`] journal: a removed run's folders are first renamed beside themselves
//! (`.<name>.removing-<pid>`) and deleted only after the commit, so a failed step or commit
//! puts every folder back and changes nothing in the DB.

use std::path::{Path, PathBuf};

use super::{Layout, RunsError, io, update_pointers};
use crate::project::Project;
use crate::store::{Cleanup, RunRow, Store, StoreError, now_text};
use crate::undo::Undo;

/// What is done to the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Archive,
    Remove,
}

/// One of a run's folders and where it goes (`None`: deleted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FolderStep {
    /// `outputs` or `logs`.
    pub kind: &'static str,
    pub from: PathBuf,
    pub to: Option<PathBuf>,
}

/// What happens to one run.
#[derive(Debug, Clone)]
pub struct RunStep {
    pub run: RunRow,
    /// The run's folders that exist (a folder deleted by hand is simply not there).
    pub folders: Vec<FolderStep>,
    /// Already archived: nothing to do for `archive`.
    pub skipped: bool,
}

/// Why runs could not be cleaned up.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("run {run} is held by a process ({holder}); nothing was {done}")]
    Held {
        run: String,
        holder: String,
        done: &'static str,
    },
    #[error("{} is already in the archive; nothing was archived", path.display())]
    InArchive { path: PathBuf },
    #[error(transparent)]
    Lock(crate::lock::LockError),
    #[error(transparent)]
    Runs(#[from] RunsError),
}

impl From<StoreError> for CleanupError {
    fn from(e: StoreError) -> Self {
        CleanupError::Runs(RunsError::Store(e))
    }
}

impl From<crate::project::ProjectError> for CleanupError {
    fn from(e: crate::project::ProjectError) -> Self {
        CleanupError::Runs(RunsError::Project(e))
    }
}

/// A failed cleanup, with the steps that could not be undone.
#[derive(Debug)]
pub struct CleanupFailed {
    pub error: CleanupError,
    pub not_undone: Vec<String>,
}

/// What `action` would do to `runs`, without changing anything; refused when a process holds
/// one of them.
pub fn plan(
    project: &Project,
    runs: &[RunRow],
    action: Action,
) -> Result<Vec<RunStep>, CleanupError> {
    let locks = project.state_dir().join("locks");
    let archive = project.archive_dir()?;
    let logs = project.logs_dir()?;
    let mut steps = Vec::new();
    for run in runs {
        if let Some(holder) = crate::lock::holder_of(&locks, &run.id) {
            return Err(CleanupError::Held {
                run: run.name.clone(),
                holder,
                done: done_word(action),
            });
        }
        let skipped = action == Action::Archive && run.archived_at.is_some();
        let mut folders = Vec::new();
        for (from, kind) in folders_of(project, run, &logs) {
            let to = match action {
                Action::Remove => None,
                Action::Archive => Some(
                    archive
                        .join(kind)
                        .join(from.file_name().unwrap_or_default()),
                ),
            };
            folders.push(FolderStep { kind, from, to });
        }
        if skipped {
            folders.clear();
        }
        steps.push(RunStep {
            run: run.clone(),
            folders,
            skipped,
        });
    }
    Ok(steps)
}

fn done_word(action: Action) -> &'static str {
    match action {
        Action::Archive => "archived",
        Action::Remove => "removed",
    }
}

/// The run's folders that exist: its outputs (where `--force` moved it, for a superseded run)
/// and its logs.
fn folders_of(project: &Project, run: &RunRow, logs: &Path) -> Vec<(PathBuf, &'static str)> {
    let outputs_dir = run.moved_to.as_deref().unwrap_or(&run.outputs_dir);
    let mut logs_dir = project.root.join(&run.logs_dir);
    // `--force` moves the logs folder aside with the same suffix as the outputs folder.
    if let (Some(moved), None) = (&run.moved_to, &run.archived_at)
        && let Some(name) = Path::new(moved).file_name()
    {
        logs_dir = logs.join(name);
    }
    [
        (project.root.join(outputs_dir), "outputs"),
        (logs_dir, "logs"),
    ]
    .into_iter()
    .filter(|(p, _)| std::fs::symlink_metadata(p).is_ok())
    .collect()
}

/// Carry out `steps` (from [`plan`]): all of them, or, when a step or the commit fails,
/// none. Returns notes of what could not be tidied after the commit.
pub fn apply(
    store: &mut Store,
    project: &Project,
    steps: &[RunStep],
    action: Action,
) -> Result<Vec<String>, CleanupFailed> {
    let mut undo = Undo::default();
    let mut trash = Vec::new();
    let layout = Layout {
        outputs: project.outputs_dir().map_err(fail)?,
        logs: project.logs_dir().map_err(fail)?,
        max_path: project.settings.naming.max_path,
    };
    let _locks = hold(project, steps, action).map_err(fail)?;
    let done = store.cleanup(|c| {
        for step in steps.iter().filter(|s| !s.skipped) {
            match action {
                Action::Archive => archive_one(c, step, &mut undo)?,
                Action::Remove => trash.extend(remove_one(c, step, &mut undo)?),
            }
        }
        repoint(c, &layout, steps, &mut undo)
    });
    let clear_pointers = match done {
        Ok(clear) => clear,
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
        notes.extend(clear_latest(&layout, steps));
    }
    Ok(notes)
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
    steps: &[RunStep],
    action: Action,
) -> Result<Vec<crate::lock::RunLock>, CleanupError> {
    let locks = project.state_dir().join("locks");
    steps
        .iter()
        .map(|s| {
            crate::lock::lock_run(&locks, &s.run.id, &s.run.name).map_err(|e| match e {
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
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(CleanupError::InArchive { path: to.clone() });
        }
        if let Some(parent) = to.parent() {
            super::folders::make_dir_all(parent, undo)?;
        }
        std::fs::rename(&folder.from, to)
            .map_err(io("move into the archive", &folder.from))
            .map_err(RunsError::from)?;
        undo.renamed(&folder.from, to);
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
    if !steps.iter().any(|s| latest_names(layout, &s.run.dir_name)) {
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
