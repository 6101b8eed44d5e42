//! A run's own command (`runctl new ... -- CMD`): started with the runtime metadata in its
//! environment, SIGINT/SIGTERM forwarded to it, and its start, end and exit code recorded.
//! The exit code is an outcome for the caller to pass on, not an error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::tee::Tee;

use super::{Result, RunDirs, RunsError, metadata_env};
use crate::project::Project;
use crate::state::RunStatus;
use crate::store::{RunRow, Store, now_text};

/// How a run's command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub status: RunStatus,
    /// The command's exit code (128 + N when a signal N ended it).
    pub code: i32,
    /// Why the end could not be recorded (a full disk), if it could not: the run stays
    /// `running` in the DB, and the command's exit code still passes on.
    pub unrecorded: Option<String>,
}

/// Where a run's command's output goes besides the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    /// `<logs>/stdout.log` and `stderr.log` (the command's output is piped through runctl).
    Files { timestamps: bool },
    /// Nowhere: the command gets runctl's own stdout and stderr (`--no-log`).
    Off,
}

/// How long the logs are drained after the command ended, when something it left behind
/// still holds its output open.
const DRAIN: Duration = Duration::from_secs(2);

/// Run `command` (program and arguments) as run `row`, in `cwd`. A program that cannot start
/// is recorded as failed (127 when it is not there, 126 otherwise) and returned as
/// [`RunsError::CannotStart`]. `warn` gets the logs that could not be opened.
pub fn run_command(
    store: &Store,
    project: &Project,
    row: &RunRow,
    command: &[OsString],
    cwd: &Path,
    logging: Logging,
    warn: &mut dyn FnMut(String),
) -> Result<Option<Ended>> {
    let Some((program, rest)) = command.split_first() else {
        return Ok(None);
    };
    let dirs = RunDirs::of(project, row)?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).current_dir(cwd);
    configure(&mut cmd, row, &dirs, logging);
    store.mark_run_started(&row.id, &now_text())?;
    let started = crate::child::run_forwarding(&mut cmd, |child| {
        let Logging::Files { timestamps } = logging else {
            return None;
        };
        let tee = Tee::start(child, &dirs.logs, timestamps);
        for path in &tee.unwritable {
            warn(format!(
                "{} cannot be written (a link was put there, or the folder is not writable); that output is not kept",
                path.display()
            ));
        }
        Some(tee)
    });
    let outcome = match started {
        Ok((outcome, tee)) => {
            if let Some(tee) = tee {
                tee.finish(DRAIN);
            }
            outcome
        }
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
    let status = status_of(outcome);
    let unrecorded = store
        .mark_run_finished(&row.id, status, Some(outcome.code), &now_text())
        .err()
        .map(|e| e.to_string());
    Ok(Some(Ended {
        status,
        code: outcome.code,
        unrecorded,
    }))
}

/// How a command's end is recorded.
fn status_of(outcome: crate::child::Outcome) -> RunStatus {
    if outcome.interrupted {
        RunStatus::Interrupted
    } else if outcome.code == 0 {
        RunStatus::Completed
    } else {
        RunStatus::Failed
    }
}

/// The command's environment (the run metadata) and, when its output is logged, its pipes.
fn configure(cmd: &mut std::process::Command, row: &RunRow, dirs: &RunDirs, logging: Logging) {
    for (key, value) in metadata_env(row, dirs) {
        cmd.env(key, value);
    }
    if let Logging::Files { .. } = logging {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        // Python buffers a pipe's output by the block: lines would reach the log and the
        // terminal late. Unbuffered unless the user chose otherwise.
        if std::env::var_os("PYTHONUNBUFFERED").is_none() {
            cmd.env("PYTHONUNBUFFERED", "1");
        }
    }
}
