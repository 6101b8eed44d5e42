//! One stream worker process: starting it in its own process group with the three threads
//! that serve its pipes (`pipes.rs`), closing it, reaping it with a grace period before its
//! group is killed, and what its death says. The slot's state machine is in `stream.rs`.

use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Worker;
use super::per_item::{STDERR_TAIL, command, group_of, kill_group, spawn_is_fatal};
use super::pipes::{Lines, keep_stderr, read_lines, write_lines};
use super::protocol;
use crate::state::ErrorCategory;

/// One running stream worker.
pub(super) struct Proc {
    child: Child,
    pub(super) group: Pid,
    pub(super) input: Option<Sender<String>>,
    pub(super) lines: Receiver<Lines>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// Results it has sent.
    pub(super) answered: u64,
}

/// Start the worker for `slot` with its three pipe threads; the error says whether it is fatal
/// (the program cannot run at all).
pub(super) fn spawn(
    worker: &Worker,
    slot: usize,
    log: Option<&std::fs::File>,
) -> Result<Proc, (std::io::Error, bool)> {
    let Some(mut cmd) = command(worker, slot) else {
        return Err((std::io::Error::other("no worker command"), true));
    };
    let mut child = cmd.spawn().map_err(|e| {
        let fatal = spawn_is_fatal(&e);
        (e, fatal)
    })?;
    let group = group_of(&child);
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
        return Err((e, false));
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

/// Close the worker's input and give it a moment (none when the run is being killed) to exit
/// on its own; then its group is killed.
pub(super) fn close(p: Proc, killing: bool) {
    let group = p.group;
    let grace = if killing {
        Duration::ZERO
    } else {
        Duration::from_secs(5)
    };
    reap(p, grace);
    kill_group(group);
}

/// A worker whose output closed: reaped, its group killed, and what its end says (the signal
/// that killed it or its exit code, with the tail of its stderr).
pub(super) fn death(mut p: Proc) -> (ErrorCategory, String) {
    let group = p.group;
    let stderr = Arc::clone(&p.stderr);
    let stderr_reader = p.stderr_reader.take();
    let status = reap(p, Duration::from_secs(2));
    kill_group(group);
    // Its last words may still be in the pipe: give the stderr thread a moment.
    if let Some(reader) = stderr_reader {
        let until = Instant::now() + Duration::from_millis(500);
        while !reader.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let tail = tail_of(&stderr);
    let (category, what) = match status {
        Some(s) if s.signal().is_some() => {
            let sig = s.signal().unwrap_or(0);
            let name = Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.to_string());
            (
                ErrorCategory::Signal,
                format!("the worker was killed by {name}"),
            )
        }
        Some(s) => (
            ErrorCategory::Exit,
            format!("the worker exited with code {}", s.code().unwrap_or(-1)),
        ),
        None => (
            ErrorCategory::Exit,
            "the worker closed its output".to_string(),
        ),
    };
    let message = if tail.is_empty() {
        what
    } else {
        format!("{what}: {tail}")
    };
    (category, message)
}

/// Wait up to `grace` for the worker to exit, then kill its group; its exit status if known.
pub(super) fn reap(mut p: Proc, grace: Duration) -> Option<std::process::ExitStatus> {
    p.input = None;
    let until = Instant::now() + grace;
    let mut pause = Duration::from_micros(50);
    loop {
        match p.child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Ok(None) => {
                kill_group(p.group);
                return p.child.wait().ok();
            }
            Err(_) => return None,
        }
    }
}

fn tail_of(stderr: &Mutex<Vec<u8>>) -> String {
    stderr
        .lock()
        .map(|t| protocol::tail_text(&t, STDERR_TAIL))
        .unwrap_or_default()
}
