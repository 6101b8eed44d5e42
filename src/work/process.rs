//! Worker processes, for both worker modes: the command (its own process group, piped stdio, the
//! run's environment), spawning it and telling a failure that stops the pass from a passing one,
//! killing its whole group, reaping it, the output caps, and what its stderr and its end say in
//! an error message. What a mode does with the process is in `per_item.rs` and
//! `stream_process.rs`; `crate::child` uses [`pid_of`] for the children of `new -- CMD`.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Failure, Outcome, WorkError, Worker, protocol};
use crate::state::ErrorCategory;

/// Output beyond this is not kept; the item fails as bad output.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;
/// How much of stderr an error message quotes.
pub(crate) const STDERR_TAIL: usize = 2000;

/// The command for one worker process: its own process group, pipes, the run's env.
pub(crate) fn command(worker: &Worker, slot: usize) -> Command {
    let mut cmd = Command::new(&worker.program);
    cmd.args(&worker.args)
        .envs(worker.env.iter().map(|(k, v)| (k, v)))
        .env("RUNCTL_WORKER_ID", slot.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd
}

/// A worker process that did not start.
#[derive(Debug)]
pub(crate) struct SpawnFailure {
    pub error: std::io::Error,
    /// No item can ever start: the command is missing or not executable (rather than a passing
    /// shortage).
    pub fatal: bool,
}

impl SpawnFailure {
    /// A failure that may pass (no threads, no processes left for now).
    pub fn passing(error: std::io::Error) -> SpawnFailure {
        SpawnFailure {
            error,
            fatal: false,
        }
    }

    /// What it means for an item that was to run in it: abandoned when no item can run (the
    /// pass stops), else a spawn error.
    pub fn outcome(&self) -> Outcome {
        if self.fatal {
            Outcome::Abandoned
        } else {
            let message = format!("cannot start the worker: {}", self.error);
            Outcome::Failed(Failure::new(ErrorCategory::Spawn, message))
        }
    }

    /// The error that stops the pass, when the worker command cannot be run at all.
    pub fn stops_the_pass(self, worker: &Worker) -> Option<WorkError> {
        self.fatal.then(|| WorkError::CannotRun {
            program: worker.program.to_string_lossy().into_owned(),
            source: self.error,
        })
    }
}

/// Start `cmd`: the child and its process group.
pub(crate) fn spawn(cmd: &mut Command) -> Result<(Child, Pid), SpawnFailure> {
    let child = cmd.spawn().map_err(|error| {
        let fatal = matches!(
            error.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        ) || error.raw_os_error() == Some(nix::libc::ENOEXEC);
        SpawnFailure { error, fatal }
    })?;
    let group = pid_of(&child);
    Ok((child, group))
}

/// A child's pid (for a worker started by [`command`], its process group too).
pub fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX))
}

/// Kill a worker's whole process group (its children too); gone already is fine.
pub(crate) fn kill_group(group: Pid) {
    let _ = killpg(group, Signal::SIGKILL);
}

/// Kill a worker and its group now: the group for its children, the worker itself by its pid
/// too, in case it left its group (it is not reaped yet, so the pid is still its own).
pub(crate) fn kill_leader(child: &mut Child, group: Pid) {
    kill_group(group);
    let _ = child.kill();
}

/// How a worker was reaped: its exit status if known, and whether runctl had to kill it.
pub(crate) struct Reaped {
    pub status: Option<ExitStatus>,
    pub killed: bool,
}

/// Wait up to `grace` for the child to exit, then kill it and its group.
pub(crate) fn reap(child: &mut Child, group: Pid, grace: Duration) -> Reaped {
    let until = Instant::now() + grace;
    let mut pause = Duration::from_micros(50);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Reaped {
                    status: Some(status),
                    killed: false,
                };
            }
            Ok(None) if Instant::now() < until => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Ok(None) => {
                kill_leader(child, group);
                return Reaped {
                    status: child.wait().ok(),
                    killed: true,
                };
            }
            Err(_) => {
                return Reaped {
                    status: None,
                    killed: false,
                };
            }
        }
    }
}

/// A signal's name (`SIGKILL`), or its number when it has none.
pub(crate) fn signal_name(signal: i32) -> String {
    Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.to_string())
}

/// `what`, followed by `: ` and the tail of the worker's stderr when it wrote any.
pub(crate) fn with_tail(what: String, stderr: &[u8]) -> String {
    let tail = protocol::tail_text(stderr, STDERR_TAIL);
    if tail.is_empty() {
        what
    } else {
        format!("{what}: {tail}")
    }
}

/// Append `chunk` to `kept`, keeping its last `keep` bytes or so (trimmed once it holds twice
/// that, so that a chatty worker costs a copy now and then, not per read).
pub(crate) fn keep_tail(kept: &mut Vec<u8>, chunk: &[u8], keep: usize) {
    kept.extend_from_slice(chunk);
    if kept.len() > 2 * keep {
        let cut = kept.len() - keep;
        kept.drain(..cut);
    }
}
