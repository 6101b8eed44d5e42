//! A run's own command (`runctl new ... -- CMD`): started with the runtime metadata in its
//! environment, SIGINT/SIGTERM forwarded to it, and its start, end and exit code recorded.
//! The exit code is an outcome for the caller to pass on, not an error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Result, RunDirs, RunsError, metadata_env};
use crate::project::Project;
use crate::state::RunStatus;
use crate::store::{RunRow, Store, now_text};

/// How a run's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub status: RunStatus,
    /// The command's exit code (128 + N when a signal N ended it).
    pub code: i32,
}

/// Run `command` (program and arguments) as run `row`, in `cwd`. A program that cannot start
/// is recorded as failed (127 when it is not there, 126 otherwise) and returned as
/// [`RunsError::CannotStart`].
pub fn run_command(
    store: &Store,
    project: &Project,
    row: &RunRow,
    command: &[OsString],
    cwd: &Path,
) -> Result<Option<Ended>> {
    let Some((program, rest)) = command.split_first() else {
        return Ok(None);
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).current_dir(cwd);
    for (key, value) in metadata_env(row, &RunDirs::of(project, row)?) {
        cmd.env(key, value);
    }
    store.mark_run_started(&row.id, &now_text())?;
    let outcome = match crate::child::run_forwarding(&mut cmd) {
        Ok(outcome) => outcome,
        Err(source) => {
            let code = if source.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            store.mark_run_finished(&row.id, RunStatus::Failed, Some(code), &now_text())?;
            return Err(RunsError::CannotStart {
                program: PathBuf::from(program),
                run: row.name.clone(),
                source,
            });
        }
    };
    let status = if outcome.interrupted {
        RunStatus::Interrupted
    } else if outcome.code == 0 {
        RunStatus::Completed
    } else {
        RunStatus::Failed
    };
    store.mark_run_finished(&row.id, status, Some(outcome.code), &now_text())?;
    Ok(Some(Ended {
        status,
        code: outcome.code,
    }))
}
