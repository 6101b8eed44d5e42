//! One stream worker process: starting it (`process.rs`) with its stdin and stdout made
//! non-blocking for the stream engine's poll loop (`stream.rs`) and a thread that keeps its
//! stderr; writing item lines without ever blocking, reading whole result lines, closing it,
//! killing it, reaping it with a grace period before its group is killed, and what its death
//! says.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::Pid;

use super::process::{self, MAX_OUTPUT, STDERR_TAIL, SpawnFailure, keep_tail, kill_group};
use super::{Failure, Worker};
use crate::state::ErrorCategory;

/// What one read of a worker's stdout brought.
pub(super) enum Output {
    /// Whole lines, each ending in a newline.
    Lines(Vec<u8>),
    /// A line over the output cap.
    TooLong,
    /// The end of its output, with a last line that had no newline (or nothing).
    End(Vec<u8>),
    /// Nothing yet.
    Nothing,
}

/// One running stream worker.
pub(super) struct Proc {
    child: Child,
    group: Pid,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Item lines for the worker's stdin; those before `written` are written.
    pending: Vec<u8>,
    written: usize,
    /// The start of a result line not yet ended.
    partial: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    /// Results it has sent.
    pub(super) answered: u64,
}

type Pipes = (ChildStdin, ChildStdout, Option<JoinHandle<()>>);

/// Start the worker for `slot`, its stderr kept by a thread of its own.
pub(super) fn spawn(
    worker: &Worker,
    slot: usize,
    log: Option<&std::fs::File>,
) -> Result<Proc, SpawnFailure> {
    let (mut child, group) = process::spawn(&mut process::command(worker, slot))?;
    let stderr = Arc::new(Mutex::new(Vec::new()));
    match pipes(&mut child, &stderr, log) {
        Ok((stdin, stdout, stderr_reader)) => Ok(Proc {
            child,
            group,
            stdin: Some(stdin),
            stdout,
            pending: Vec::new(),
            written: 0,
            partial: Vec::new(),
            stderr,
            stderr_reader,
            answered: 0,
        }),
        Err(e) => {
            kill_group(group);
            let _ = child.wait();
            Err(SpawnFailure::passing(e))
        }
    }
}

/// The worker's stdin and stdout, made non-blocking, and the thread that keeps its stderr.
fn pipes(
    child: &mut Child,
    stderr: &Arc<Mutex<Vec<u8>>>,
    log: Option<&std::fs::File>,
) -> std::io::Result<Pipes> {
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the worker's pipes are missing"));
    };
    for fd in [stdin.as_fd(), stdout.as_fd()] {
        fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(std::io::Error::from)?;
    }
    let mut reader = None;
    if let Some(err) = child.stderr.take() {
        let tail = Arc::clone(stderr);
        let log = log.and_then(|f| f.try_clone().ok());
        reader = Some(
            std::thread::Builder::new()
                .name("runctl-stream-err".into())
                .spawn(move || keep_stderr(err, &tail, log))?,
        );
    }
    Ok((stdin, stdout, reader))
}

impl Proc {
    pub(super) fn stdout_fd(&self) -> BorrowedFd<'_> {
        self.stdout.as_fd()
    }

    /// Its stdin, while lines wait to be written to it.
    pub(super) fn waiting_stdin(&self) -> Option<BorrowedFd<'_>> {
        self.stdin
            .as_ref()
            .filter(|_| !self.pending.is_empty())
            .map(AsFd::as_fd)
    }

    /// Queue item lines for its stdin and write what the pipe takes now.
    pub(super) fn send(&mut self, lines: &[u8]) {
        if self.stdin.is_some() {
            self.pending.extend_from_slice(lines);
            self.write();
        }
    }

    /// Write what the pipe takes now. A worker that no longer reads its input is not waited
    /// for: its stdout's end tells the rest.
    pub(super) fn write(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        while self.written < self.pending.len() {
            match stdin.write(self.pending.get(self.written..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.close_input();
                    return;
                }
            }
        }
        if self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
        }
    }

    /// One read of its stdout into `buf`: the whole lines it completes.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Output {
        let n = loop {
            match self.stdout.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Output::Nothing,
                Err(_) => break 0,
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        if n == 0 {
            return Output::End(std::mem::take(&mut self.partial));
        }
        let newline = |b: &u8| *b == b'\n';
        let (Some(first), Some(last)) = (
            data.iter().position(newline),
            data.iter().rposition(newline),
        ) else {
            self.partial.extend_from_slice(data);
            if self.partial.len() > MAX_OUTPUT {
                return Output::TooLong;
            }
            return Output::Nothing;
        };
        if self.partial.len() + first + 1 > MAX_OUTPUT {
            return Output::TooLong;
        }
        let mut lines = Vec::with_capacity(self.partial.len() + last + 1);
        lines.append(&mut self.partial);
        lines.extend_from_slice(data.get(..=last).unwrap_or_default());
        self.partial
            .extend_from_slice(data.get(last + 1..).unwrap_or_default());
        Output::Lines(lines)
    }

    /// Close the worker's input (it is told the stream ended).
    pub(super) fn close_input(&mut self) {
        self.stdin = None;
        self.pending = Vec::new();
        self.written = 0;
    }

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
        self.close_input();
        process::reap(&mut self.child, self.group, grace)
    }
}

/// The stderr thread: appended to the slot's log, its tail kept for error messages.
fn keep_stderr(
    mut err: std::process::ChildStderr,
    tail: &Mutex<Vec<u8>>,
    mut log: Option<std::fs::File>,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match err.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if let Some(file) = log.as_mut() {
            let _ = file.write_all(chunk);
        }
        if let Ok(mut t) = tail.lock() {
            keep_tail(&mut t, chunk, STDERR_TAIL);
        }
    }
}
