//! `--stream`: the worker command started once per slot, in its own process group, speaking JSON
//! lines: items in on stdin, one `{"key":..,"ok"|"error":..}` line out per item, matched by key,
//! in any order, with up to `window` items in flight. One thread runs the hub and every slot's
//! worker: it polls the workers' pipes (non-blocking, `stream_process.rs`), so no slot ever
//! blocks on a pipe and timeouts and interrupts always work, and nothing wakes a thread per
//! item.
//!
//! A worker that dies fails its in-flight items (one attempt each) and is restarted with the
//! next item; one that dies three times in a row before answering anything stops the run. A line
//! that is not a result breaks the protocol: the items in flight fail as bad output and the
//! worker is restarted. A timed-out item fails; the worker is restarted and the other items it
//! held go back to the hub without counting an attempt.

use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::hub::Hub;
use super::progress::Notifier;
use super::stream_process::Proc;
use super::stream_slot::{Shared, Slot};
use super::{Control, Options, WorkError, Worker};

/// What one read of a worker's stdout takes at most.
const READ_SIZE: usize = 256 << 10;
/// How often the loop looks for workers that exited while a child of theirs holds the pipes.
const EXIT_LOOK: Duration = Duration::from_millis(100);
/// How long the workers have, together, to exit once their input is closed at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Run the pass's stream slots until the hub has nothing more, the pass is stopped and what is
/// in flight has come back, or the pass is killed.
pub(crate) fn run(
    hub: &mut Hub<'_>,
    worker: &Worker,
    options: &Options,
    control: &Control,
    notifier: &Notifier,
) -> Result<(), WorkError> {
    let shared = Shared {
        worker,
        control,
        notifier,
        window: options.window.max(1),
        timeout: options.timeout,
    };
    let mut slots: Vec<Slot> = (1..=options.jobs).map(|n| Slot::new(n, worker)).collect();
    let mut buf = vec![0u8; READ_SIZE];
    let mut exits_looked = Instant::now();
    loop {
        if control.killing() {
            slots.iter_mut().for_each(|s| s.kill(hub));
            return Ok(());
        }
        let now = Instant::now();
        for s in &mut slots {
            s.fill(hub, &shared, now)?;
        }
        if slots.iter().all(|s| s.retired) {
            control.fail(WorkError::CannotStart);
        }
        let idle = slots.iter().all(Slot::idle);
        if idle && (control.stopping() || hub.finished()) {
            // What is recorded is passed on before the workers are waited for.
            hub.settle();
            close(&mut slots, control);
            return Ok(());
        }
        let room = slots.iter().any(|s| s.has_room(&shared, now));
        let wait = slots
            .iter()
            .filter_map(|s| s.next_deadline(&shared))
            .map(|d| d.saturating_duration_since(now))
            .fold(hub.wait(now, room), Duration::min);
        wait_and_read(&mut slots, hub, &shared, wait, &mut buf);
        for s in &mut slots {
            s.expire(hub, &shared);
        }
        if exits_looked.elapsed() >= EXIT_LOOK {
            exits_looked = Instant::now();
            for s in &mut slots {
                s.check_exit(hub, &shared, &mut buf);
                s.check_input(hub, &shared);
                s.check_dying(hub, &shared);
            }
        }
        hub.tick();
    }
}

/// Wait up to `wait` for the workers' pipes, then write to those that take input and read
/// what those that answered wrote.
fn wait_and_read(
    slots: &mut [Slot],
    hub: &mut Hub<'_>,
    shared: &Shared<'_>,
    wait: Duration,
    buf: &mut [u8],
) {
    let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(slots.len() * 2);
    // (slot index, its stdout?) for each fd polled.
    let mut whose: Vec<(usize, bool)> = Vec::with_capacity(slots.len() * 2);
    for (i, s) in slots.iter().enumerate() {
        let Some(p) = s.proc.as_ref() else { continue };
        fds.push(PollFd::new(p.stdout_fd(), PollFlags::POLLIN));
        whose.push((i, true));
        // Its stdin always: a worker that closes its input shows as POLLERR there, even
        // with nothing to write.
        if let Some((stdin, waiting)) = p.stdin_fd() {
            let events = if waiting {
                PollFlags::POLLOUT
            } else {
                PollFlags::empty()
            };
            fds.push(PollFd::new(stdin, events));
            whose.push((i, false));
        }
    }
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    let ready: Vec<(usize, bool, PollFlags)> = match poll(&mut fds, timeout) {
        Ok(n) if n > 0 => fds
            .iter()
            .zip(&whose)
            .filter_map(|(fd, w)| {
                let r = fd.revents().filter(|r| !r.is_empty())?;
                Some((w.0, w.1, r))
            })
            .collect(),
        // Nothing ready, or interrupted by a signal: the loop looks at the flags again.
        _ => Vec::new(),
    };
    drop(fds);
    for (i, stdout, revents) in ready {
        let Some(s) = slots.get_mut(i) else { continue };
        if stdout {
            s.read(hub, shared, buf);
        } else if let Some(p) = s.proc.as_mut() {
            if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                p.input_gone();
            } else {
                p.write();
            }
        }
    }
}

/// The end of the pass: every worker's input is closed, then they have [`CLOSE_GRACE`]
/// together to exit (none once the pass is being killed: a second interrupt, or the grace
/// period over); each one's group is killed as it exits, the rest at the end.
fn close(slots: &mut [Slot], control: &Control) {
    let mut procs: Vec<Proc> = slots.iter_mut().filter_map(|s| s.proc.take()).collect();
    procs.iter_mut().for_each(Proc::close_input);
    let until = Instant::now() + CLOSE_GRACE;
    let mut pause = Duration::from_micros(50);
    while !procs.is_empty() {
        let now = control.killing() || Instant::now() >= until;
        procs.retain_mut(|p| !p.ended(now));
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
