//! One stream worker process: starting it (`process.rs`) with the three threads that serve its
//! pipes (`pipes.rs`), closing it, killing it, reaping it with a grace period before its group
//! is killed, and what its death says. The slot's state machine is in `stream.rs`.

use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use nix::unistd::Pid;

use super::pipes::{Lines, keep_stderr, read_lines, write_lines};
use super::process::{self, SpawnFailure, kill_group};
use super::{Failure, Worker};
use crate::state::ErrorCategory;

/// One running stream worker.
pub(super) struct Proc {
    child: Child,
    group: Pid,
    pub(super) input: Option<Sender<String>>,
    pub(super) lines: Receiver<Lines>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// Results it has sent.
    pub(super) answered: u64,
}

/// Start the worker for `slot` with its three pipe threads.
pub(super) fn spawn(
    worker: &Worker,
    slot: usize,
    log: Option<&std::fs::File>,
) -> Result<Proc, SpawnFailure> {
    let (mut child, group) = process::spawn(&mut process::command(worker, slot))?;
    let (input_tx, input_rx) = crossbeam_channel::unbounded::<String>();
    let (lines_tx, lines_rx) = crossbeam_channel::bounded::<Lines>(64);
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut stderr_reader = None;
    let spawned = (|| -> std::io::Result<()> {
        if let Some(stdin) = child.stdin.take() {
            std::thread::Builder::new()
                .name("runctl-stream-in".into())
                .spawn(move || write_lines(stdin, &input_rx))?;
        }
        if let Some(stdout) = child.stdout.take() {
            std::thread::Builder::new()
                .name("runctl-stream-out".into())
                .spawn(move || read_lines(stdout, &lines_tx))?;
        }
        if let Some(err) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            let log = log.and_then(|f| f.try_clone().ok());
            stderr_reader = Some(
                std::thread::Builder::new()
                    .name("runctl-stream-err".into())
                    .spawn(move || keep_stderr(err, &tail, log))?,
            );
        }
        Ok(())
    })();
    if let Err(e) = spawned {
        kill_group(group);
        let _ = child.wait();
        return Err(SpawnFailure::passing(e));
    }
    Ok(Proc {
        child,
        group,
        input: Some(input_tx),
        lines: lines_rx,
        stderr,
        stderr_reader,
        answered: 0,
    })
}

impl Proc {
    /// Close the worker's input and give it a moment (none when the run is being killed) to
    /// exit on its own; then its group is killed.
    pub(super) fn close(mut self, killing: bool) {
        let grace = if killing {
            Duration::ZERO
        } else {
            Duration::from_secs(5)
        };
        self.reap(grace);
        kill_group(self.group);
    }

    /// Kill the worker's group now and reap it.
    pub(super) fn kill(mut self) {
        kill_group(self.group);
        self.reap(Duration::from_secs(1));
    }

    /// A worker whose output closed: reaped, its group killed, and what its end says (the
    /// signal that killed it or its exit code, with the tail of its stderr).
    pub(super) fn death(mut self) -> Failure {
        let status = self.reap(Duration::from_secs(2));
        kill_group(self.group);
        // Its last words may still be in the pipe: give the stderr thread a moment.
        if let Some(reader) = self.stderr_reader.take() {
            let until = Instant::now() + Duration::from_millis(500);
            while !reader.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let with_tail = |what: String| match self.stderr.lock() {
            Ok(stderr) => process::with_tail(what, &stderr),
            Err(_) => what,
        };
        match status.map(|s| (s.signal(), s.code())) {
            Some((Some(signal), _)) => {
                let what = format!("the worker was killed by {}", process::signal_name(signal));
                Failure::new(ErrorCategory::Signal, with_tail(what))
            }
            Some((None, Some(code))) => {
                let what = format!("the worker exited with code {code}");
                Failure::exited(code, with_tail(what))
            }
            Some((None, None)) | None => {
                let what = "the worker closed its output".to_string();
                Failure::new(ErrorCategory::Exit, with_tail(what))
            }
        }
    }

    /// Close the worker's input, wait up to `grace` for it to exit, then kill its group; its
    /// exit status if known.
    fn reap(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        self.input = None;
        process::reap(&mut self.child, self.group, grace)
    }
}
