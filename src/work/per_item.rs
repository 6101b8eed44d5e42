//! `--per-item`: the worker command started once per item in its own process group, the item as
//! one JSON line on stdin; exit 0 and stdout make the result. Stdout and stderr are read together
//! with poll(2), so a worker that fills one pipe never blocks on the other, and a timeout, a
//! second interrupt or a worker's orphaned children are handled by killing the process group.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Pid;

use super::process::{self, MAX_OUTPUT, kill_group, with_tail};
use super::protocol;
use super::slots::SlotContext;
use super::{Attempt, Failure, Item, Moment, Outcome, WorkError};
use crate::state::ErrorCategory;

/// Items up to this size are written to stdin directly (they fit in a pipe's buffer).
const DIRECT_WRITE: usize = 16 << 10;

/// A per-item slot: a worker started for each item it takes; at a stop, the items still coming
/// are handed back unstarted.
pub(super) fn run(mut cx: SlotContext<'_>) {
    let mut log = cx.log.take();
    // One read buffer for every item of the slot (64 KiB zeroed per item showed in profiles).
    let mut buf = vec![0u8; 64 << 10];
    for item in cx.work.iter() {
        if cx.control.stopping() {
            cx.hand_back(item);
            continue;
        }
        let (attempt, fatal) = self::attempt(&cx, item, &mut log, &mut buf);
        cx.report(attempt);
        if let Some(error) = fatal {
            cx.control.fail(error);
        }
    }
}

/// Run one attempt of `item` in the slot. The second value is set when the run cannot go on.
fn attempt(
    cx: &SlotContext<'_>,
    item: Item,
    log: &mut Option<std::fs::File>,
    buf: &mut [u8],
) -> (Attempt, Option<WorkError>) {
    let start = Moment::now();
    let started = start.at;
    let finish =
        |item: Item, outcome: Outcome| Attempt::new(item, outcome, &start, &Moment::now(), cx.slot);
    let mut cmd = process::command(cx.worker, cx.slot);
    cmd.env("RUNCTL_ITEM_KEY", &item.key);
    let (mut child, group) = match process::spawn(&mut cmd) {
        Ok(spawned) => spawned,
        Err(failure) => {
            let outcome = failure.outcome();
            return (finish(item, outcome), failure.stops_the_pass(cx.worker));
        }
    };
    feed(&mut child, item.line());
    let timeout = cx.options.timeout;
    let deadline = timeout.map(|t| started + t);
    let io = collect(&mut child, group, deadline, cx, buf);
    let status = wait(&mut child, group, deadline, cx);
    kill_group(group); // what the worker left behind
    if let (Some(file), false) = (log.as_mut(), io.stderr.is_empty()) {
        let _ = writeln!(file, "== item {} (attempt {})", item.key, item.attempt);
        let _ = file.write_all(&io.stderr);
    }
    let outcome = match judge(&io, status, timeout) {
        // Killed with the job (a preempted Slurm job signals every process): not its failure.
        Outcome::Failed(f) if f.stopped_with_the_job() && cx.control.interrupted_soon() => {
            Outcome::Abandoned
        }
        outcome => outcome,
    };
    (finish(item, outcome), None)
}

/// Write the item line to the worker's stdin and close it. A worker that exits without reading
/// it is fine: its exit status says what happened.
fn feed(child: &mut Child, line: String) {
    let Some(mut stdin) = child.stdin.take() else {
        return;
    };
    if line.len() <= DIRECT_WRITE {
        let _ = stdin.write_all(line.as_bytes());
    } else {
        // A large item could fill the pipe while the worker is still writing its output.
        let _ = std::thread::Builder::new()
            .name("runctl-feed".into())
            .spawn(move || {
                let _ = stdin.write_all(line.as_bytes());
            });
    }
}

/// What a worker wrote.
#[derive(Debug, Default)]
struct Collected {
    stdout: Vec<u8>,
    stdout_overflow: bool,
    stderr: Vec<u8>,
    timed_out: bool,
    killed: bool,
}

/// Read stdout and stderr until both close, the deadline passes, or the run is killed.
fn collect(
    child: &mut Child,
    group: Pid,
    deadline: Option<Instant>,
    cx: &SlotContext<'_>,
    buf: &mut [u8],
) -> Collected {
    let mut got = Collected::default();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    // Once the group is killed, pipes still open a second later belong to a process that left
    // the group (setsid): stop reading them.
    let mut killed_at: Option<Instant> = None;
    while out.is_some() || err.is_some() {
        if killed_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1)) {
            break;
        }
        let wait = match (killed_at, deadline) {
            (Some(_), _) => Duration::from_millis(50),
            (None, None) => Duration::from_millis(100),
            (None, Some(d)) => d
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        };
        let ready = ready_pipes(out.as_ref(), err.as_ref(), wait);
        if ready.is_empty() {
            if killed_at.is_some() {
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                got.timed_out = true;
            } else if cx.control.killing() {
                got.killed = true;
            } else if !matches!(child.try_wait(), Ok(Some(_))) {
                continue;
            }
            // Timed out, killed, or exited while its children still hold the pipes: the
            // whole group goes.
            process::kill_leader(child, group);
            killed_at = Some(Instant::now());
            continue;
        }
        // `ready` lists the open pipes in order, stdout first.
        let (out_ready, err_ready) = match (&out, &err) {
            (Some(_), _) => (ready.first(), ready.get(1)),
            (None, _) => (None, ready.first()),
        };
        if out_ready.copied().unwrap_or(false) && !read_stdout(&mut out, buf, &mut got) {
            out = None;
        }
        if err_ready.copied().unwrap_or(false) && !read_stderr(&mut err, buf, &mut got) {
            err = None;
        }
    }
    got
}

/// Which of the open pipes (stdout first) are readable within `wait`; empty when none is.
fn ready_pipes(out: Option<&ChildStdout>, err: Option<&ChildStderr>, wait: Duration) -> Vec<bool> {
    let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(2);
    if let Some(o) = out {
        fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
    }
    if let Some(e) = err {
        fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
    }
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(0) => Vec::new(),
        Ok(_) => fds.iter().map(|f| f.any().unwrap_or(true)).collect(),
        Err(nix::errno::Errno::EINTR) => Vec::new(),
        Err(_) => vec![true; fds.len()],
    }
}

/// Read what stdout has, keeping up to [`MAX_OUTPUT`]; false at its end.
fn read_stdout(out: &mut Option<ChildStdout>, buf: &mut [u8], got: &mut Collected) -> bool {
    read_into(out.as_mut(), buf, |chunk| {
        if got.stdout.len() + chunk.len() > MAX_OUTPUT {
            got.stdout_overflow = true;
        } else {
            got.stdout.extend_from_slice(chunk);
        }
    })
}

/// Read what stderr has, keeping its last [`MAX_STDERR_KEPT`] bytes or so; false at its end.
fn read_stderr(err: &mut Option<ChildStderr>, buf: &mut [u8], got: &mut Collected) -> bool {
    read_into(err.as_mut(), buf, |chunk| {
        process::keep_tail(&mut got.stderr, chunk, MAX_STDERR_KEPT);
    })
}

/// How much stderr is kept per item (for the log and the error message).
const MAX_STDERR_KEPT: usize = 1 << 20;

/// One read; false at end of file or on an error.
fn read_into<R: Read>(reader: Option<&mut R>, buf: &mut [u8], mut sink: impl FnMut(&[u8])) -> bool {
    let Some(reader) = reader else {
        return false;
    };
    loop {
        match reader.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                sink(buf.get(..n).unwrap_or_default());
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Wait for the worker to exit, killing its group at the deadline or on a second interrupt.
fn wait(
    child: &mut Child,
    group: Pid,
    deadline: Option<Instant>,
    cx: &SlotContext<'_>,
) -> Option<ExitStatus> {
    // A worker closes its pipes a moment before it can be reaped: yield a few times first
    // (a sleep costs at least the timer slack, 50 us, per item), then back off.
    let mut tries = 0u32;
    let mut pause = Duration::from_micros(50);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if deadline.is_some_and(|d| Instant::now() >= d) || cx.control.killing() {
            process::kill_leader(child, group);
            return child.wait().ok();
        }
        tries += 1;
        if tries < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

/// The outcome of an attempt from what the worker did.
fn judge(io: &Collected, status: Option<ExitStatus>, timeout: Option<Duration>) -> Outcome {
    let tail = |what: String| with_tail(what, &io.stderr);
    let failed = |category, what: String| Outcome::Failed(Failure::new(category, tail(what)));
    if io.killed {
        return Outcome::Abandoned;
    }
    if io.timed_out {
        let limit = timeout.map_or(String::new(), |t| format!(" after {}s", t.as_secs_f64()));
        return failed(ErrorCategory::Timeout, format!("timed out{limit}"));
    }
    let Some(status) = status else {
        return failed(ErrorCategory::Exit, "lost track of the worker".into());
    };
    if let Some(signal) = status.signal() {
        let name = process::signal_name(signal);
        return Outcome::Failed(Failure::signaled(signal, tail(format!("killed by {name}"))));
    }
    match status.code() {
        Some(0) => {}
        Some(code) => {
            let message = tail(format!("exit code {code}"));
            return Outcome::Failed(Failure::exited(code, message));
        }
        None => return failed(ErrorCategory::Exit, "no exit code".into()),
    }
    if io.stdout_overflow {
        let message = format!("the output is over {} MB", MAX_OUTPUT >> 20);
        return Outcome::Failed(Failure::new(ErrorCategory::BadOutput, message));
    }
    match protocol::output_json(&io.stdout) {
        Ok(json) => Outcome::Ok(json),
        Err(reason) => Outcome::Failed(Failure::new(ErrorCategory::BadOutput, reason)),
    }
}
