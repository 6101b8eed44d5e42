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
    /// Bytes queued for its stdin and bytes written to it since it started: an item whose
    /// line starts at or past `sent` never reached the worker.
    queued: u64,
    sent: u64,
    /// When its stdin's reader went away (it closed its input, or is exiting).
    input_broke: Option<Instant>,
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
            queued: 0,
            sent: 0,
            input_broke: None,
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

    /// Its stdin while open, and whether lines wait to be written to it.
    pub(super) fn stdin_fd(&self) -> Option<(BorrowedFd<'_>, bool)> {
        let waiting = !self.pending.is_empty();
        self.stdin.as_ref().map(|s| (s.as_fd(), waiting))
    }

    /// Its stdin's reader is gone (the worker closed its input, or exited).
    pub(super) fn input_gone(&mut self) {
        self.input_broke.get_or_insert_with(Instant::now);
        self.close_input();
    }

    /// Queue item lines for its stdin and write what the pipe takes now.
    pub(super) fn send(&mut self, lines: &[u8]) {
        if self.stdin.is_some() {
            self.pending.extend_from_slice(lines);
            self.queued += lines.len() as u64;
            self.write();
        }
    }

    /// How many bytes have been queued for its stdin so far: the line queued next starts
    /// there.
    pub(super) fn queued(&self) -> u64 {
        self.queued
    }

    /// How many bytes of its input have been written to it: a line that starts before this
    /// reached it (a line longer than the pipe holds is sent as the worker reads it).
    pub(super) fn sent(&self) -> u64 {
        self.sent
    }

    /// The start of a last line that had no newline.
    pub(super) fn take_partial(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }

    /// It takes no more input: its stdin refused a write, or was closed.
    pub(super) fn input_closed(&self) -> bool {
        self.stdin.is_none()
    }

    /// When its stdin's reader went away, if it did: it closed its input, or it is exiting.
    pub(super) fn input_broke(&self) -> Option<Instant> {
        self.input_broke
    }

    /// Whether it has exited (reaped now if so); its pipes may still be held by its children.
    pub(super) fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Whether it exits within a millisecond or so: a worker whose output just closed is
    /// usually exiting, a moment before it can be reaped.
    pub(super) fn exits_soon(&mut self) -> bool {
        let until = Instant::now() + Duration::from_millis(1);
        loop {
            if self.exited() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::yield_now();
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
                Ok(n) => {
                    self.written += n;
                    self.sent += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.input_gone();
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

    /// At the end of a pass, after its input was closed: whether it has exited; its group is
    /// killed once it has (its children may linger) or when `now` says so.
    pub(super) fn ended(&mut self, now: bool) -> bool {
        if now {
            process::kill_leader(&mut self.child, self.group);
            let _ = self.child.wait();
        } else if !self.exited() {
            return false;
        }
        kill_group(self.group);
        true
    }

    /// Kill the worker and its group now and reap it.
    pub(super) fn kill(mut self) {
        self.close_input();
        process::kill_leader(&mut self.child, self.group);
        let _ = self.child.wait();
    }

    /// A worker whose output closed: reaped, its group killed, and what its end says (the
    /// signal that killed it or its exit code, with the tail of its stderr).
    pub(super) fn death(mut self, grace: Duration) -> Failure {
        let reaped = self.reap(grace);
        kill_group(self.group);
        // Its last words may still be in the pipe: give the stderr thread a moment (its group
        // is gone, so only a process that left the group can hold the pipe longer).
        if let Some(reader) = self.stderr_reader.take() {
            let until = Instant::now() + Duration::from_millis(100);
            while !reader.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let with_tail = |what: String| match self.stderr.lock() {
            Ok(stderr) => process::with_tail(what, &stderr),
            Err(_) => what,
        };
        match reaped.status.map(|s| (s.signal(), s.code())) {
            // Killed by runctl after its grace: its own end was to close its output.
            _ if reaped.killed => {
                let what =
                    "the worker closed its output and did not exit within 2s, so it was killed"
                        .to_string();
                Failure::new(ErrorCategory::Exit, with_tail(what))
            }
            Some((Some(signal), _)) => {
                let what = format!("the worker was killed by {}", process::signal_name(signal));
                Failure::signaled(signal, with_tail(what))
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

    /// Close the worker's input, wait up to `grace` for it to exit, then kill it and its group.
    fn reap(&mut self, grace: Duration) -> process::Reaped {
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
