//! Cleaning up runs: `archive` moves a run's folders under the archive (`paths.archive`) and
//! marks it archived; `remove` deletes a run's folders and its record (its name keeps
//! counting). Both refuse a run a process holds, and both do all their runs or none.
//!
//! A run's folders are looked for in this project only: a recorded path outside the project's
//! outputs, logs and archive folders (a project copied or moved elsewhere) names the folder of
//! the same name here, so that a copy never acts on the original. A superseded run has only the
//! folders `--force` moved aside; a folder that another run's record names too is refused.
//!
//! Every folder step happens inside the store's write transaction and is recorded in an
//! [`Undo`](crate::undo::Undo) journal: a removed run's folders are first renamed beside
//! themselves (`.<name>.removing-<pid>`) and deleted only after the commit, so a failed step
//! or commit puts every folder back and changes nothing in the DB. The plan is made again once
//! the runs' locks are held, inside that transaction, so nothing done meanwhile is missed.

mod apply;

use std::path::{Path, PathBuf};

pub use apply::apply;

use super::RunsError;
use crate::project::Project;
use crate::store::{RunRow, StoreError};

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
    #[error("{} is also the folder of run {other}; nothing was {done}", path.display())]
    Shared {
        path: PathBuf,
        other: String,
        done: &'static str,
    },
    #[error(
        "run {run} changed while this command waited for it (its folders are not the ones shown); nothing was {done}"
    )]
    Changed { run: String, done: &'static str },
    #[error("run {run} is no longer there (another command removed it); nothing was {done}")]
    Gone { run: String, done: &'static str },
    #[error(
        "cannot move {} into the archive {}: they are on different filesystems; nothing was archived",
        from.display(), to.display()
    )]
    CrossDevice { from: PathBuf, to: PathBuf },
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

/// The runs whose folder name is the one given (from the store, or from inside the cleanup's
/// transaction).
pub type Namesakes<'a> = dyn FnMut(&str) -> Result<Vec<RunRow>, StoreError> + 'a;

/// The project's folders runs live in.
struct Bases {
    outputs: PathBuf,
    logs: PathBuf,
    archive: PathBuf,
}

impl Bases {
    fn of(project: &Project) -> Result<Bases, CleanupError> {
        Ok(Bases {
            outputs: project.outputs_dir()?,
            logs: project.logs_dir()?,
            archive: project.archive_dir()?,
        })
    }
}

/// What `action` would do to `runs`, without changing anything; refused when a process holds
/// one of them, when a folder is another run's too, or (archive) when its place is taken.
pub fn plan(
    project: &Project,
    runs: &[RunRow],
    action: Action,
    namesakes: &mut Namesakes<'_>,
) -> Result<Vec<RunStep>, CleanupError> {
    let locks = project.state_dir().join("locks");
    let bases = Bases::of(project)?;
    let mut steps = Vec::new();
    for run in runs {
        if let Some(holder) = crate::lock::holder_of(&locks, &run.id) {
            return Err(CleanupError::Held {
                run: run.name.clone(),
                holder,
                done: done_word(action),
            });
        }
        steps.push(plan_one(&bases, run, runs, action, namesakes)?);
    }
    Ok(steps)
}

fn plan_one(
    bases: &Bases,
    run: &RunRow,
    batch: &[RunRow],
    action: Action,
    namesakes: &mut Namesakes<'_>,
) -> Result<RunStep, CleanupError> {
    let skipped = action == Action::Archive && run.archived_at.is_some();
    let mut folders = Vec::new();
    if skipped {
        return Ok(RunStep {
            run: run.clone(),
            folders,
            skipped,
        });
    }
    for (from, kind) in folders_of(bases, run) {
        let to = match action {
            Action::Remove => None,
            Action::Archive => Some(
                bases
                    .archive
                    .join(kind)
                    .join(from.file_name().unwrap_or_default()),
            ),
        };
        let there = std::fs::symlink_metadata(&from).is_ok();
        let step = match &to {
            // Moved into the archive by an archive that was killed before its commit: adopted.
            Some(to) if !there && std::fs::symlink_metadata(to).is_ok() => FolderStep {
                kind,
                from: to.clone(),
                to: Some(to.clone()),
            },
            Some(to) if there && std::fs::symlink_metadata(to).is_ok() => {
                return Err(CleanupError::InArchive { path: to.clone() });
            }
            _ if there => FolderStep { kind, from, to },
            _ => continue,
        };
        refuse_shared(bases, run, batch, action, &step.from, namesakes)?;
        folders.push(step);
    }
    Ok(RunStep {
        run: run.clone(),
        folders,
        skipped,
    })
}

/// Refuse a folder that the record of another run (not one of this batch) names too: the runs
/// named like the folder or like this run, whose folders are looked for as this run's are.
fn refuse_shared(
    bases: &Bases,
    run: &RunRow,
    batch: &[RunRow],
    action: Action,
    folder: &Path,
    namesakes: &mut Namesakes<'_>,
) -> Result<(), CleanupError> {
    let folder_name = folder
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut others = namesakes(&run.dir_name)?;
    if folder_name != run.dir_name {
        others.extend(namesakes(&folder_name)?);
    }
    let shared = others
        .iter()
        .filter(|o| o.id != run.id && !batch.iter().any(|b| b.id == o.id))
        .find(|o| folders_of(bases, o).iter().any(|(p, _)| p == folder));
    match shared {
        Some(other) => Err(CleanupError::Shared {
            path: folder.to_path_buf(),
            other: other.name.clone(),
            done: done_word(action),
        }),
        None => Ok(()),
    }
}

fn done_word(action: Action) -> &'static str {
    match action {
        Action::Archive => "archived",
        Action::Remove => "removed",
    }
}

/// Where the run's folders are in this project: its outputs folder (for a superseded run, the
/// one `--force` moved aside; none if it had none) and its logs folder.
fn folders_of(bases: &Bases, run: &RunRow) -> Vec<(PathBuf, &'static str)> {
    let (outputs, logs) = if run.archived_at.is_some() {
        // Archived: its record names its folders in the archive, superseded since or not.
        (
            local(&run.outputs_dir, &bases.archive.join("outputs")),
            local(&run.logs_dir, &bases.archive.join("logs")),
        )
    } else if run.superseded {
        // `--force` moved both aside under one new name; its record names the outputs.
        let outputs = run
            .moved_to
            .as_deref()
            .and_then(|m| local(m, &bases.outputs));
        let logs = outputs
            .as_ref()
            .and_then(|o| o.file_name())
            .map(|name| bases.logs.join(name));
        (outputs, logs)
    } else {
        (
            local(&run.outputs_dir, &bases.outputs),
            local(&run.logs_dir, &bases.logs),
        )
    };
    [(outputs, "outputs"), (logs, "logs")]
        .into_iter()
        .filter_map(|(p, kind)| p.map(|p| (p, kind)))
        .collect()
}

/// A recorded folder, when it lies in `base`; otherwise the folder of its name in `base` (the
/// project was copied or moved, or the setting changed): never a folder elsewhere, never
/// `base` itself (a recorded path with no name of its own names no folder).
fn local(recorded: &str, base: &Path) -> Option<PathBuf> {
    let path = Path::new(recorded);
    let name = path.file_name().filter(|n| !n.is_empty())?;
    // Never a pointer or a hidden folder (the archive, a folder being removed): run folders are
    // never named so.
    let text = name.to_string_lossy();
    if text.starts_with('.') || text == "latest" || text == "latest.txt" {
        return None;
    }
    if path.is_absolute() && path.parent() == Some(base) {
        return Some(path.to_path_buf());
    }
    Some(base.join(name))
}
