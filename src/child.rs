//! Running a user's command as a child: SIGINT and SIGTERM sent to runctl are forwarded to it,
//! and its end is reported as an exit code (128 + N for a signal) and whether it was interrupted.
//!
//! A Ctrl-C typed at a terminal reaches the child directly (same process group), so only
//! signals sent by a process (`kill -INT <runctl pid>`, a scheduler's SIGTERM) are forwarded;
//! the child never gets the same Ctrl-C twice.

use std::io;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code to pass on: the child's, or 128 + the signal that killed it.
    pub code: i32,
    /// True when SIGINT or SIGTERM reached runctl or killed the child.
    pub interrupted: bool,
}

/// Spawn `cmd`, hand the child to `started` (to take its pipes), forward signals to it while
/// it runs, and wait for it.
#[cfg(unix)]
pub fn run_forwarding<T>(
    cmd: &mut Command,
    started: impl FnOnce(&mut std::process::Child) -> T,
) -> io::Result<(Outcome, T)> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::origin::WithOrigin;
    use signal_hook::low_level::siginfo::Cause;
    use std::os::unix::process::ExitStatusExt;

    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            return Err(e);
        }
    };
    let pid = crate::work::process::pid_of(&child);
    let value = started(&mut child);
    let interrupted = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&interrupted);
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            seen.store(true, Ordering::SeqCst);
            if matches!(origin.cause, Cause::Kernel) {
                continue; // typed at the terminal: the child got it too
            }
            if let Ok(sig) = nix::sys::signal::Signal::try_from(origin.signal) {
                let _ = nix::sys::signal::kill(pid, sig);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    let status = status?;
    let by_signal = status.signal();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + by_signal.unwrap_or(0));
    let killed_by_interrupt = matches!(by_signal, Some(s) if s == SIGINT || s == SIGTERM);
    let outcome = Outcome {
        code,
        interrupted: interrupted.load(Ordering::SeqCst) || killed_by_interrupt,
    };
    Ok((outcome, value))
}

/// Spawn `cmd` and wait for it (no signal forwarding where there are no Unix signals).
#[cfg(not(unix))]
pub fn run_forwarding<T>(
    cmd: &mut Command,
    started: impl FnOnce(&mut std::process::Child) -> T,
) -> io::Result<(Outcome, T)> {
    let mut child = cmd.spawn()?;
    let value = started(&mut child);
    let status = child.wait()?;
    let outcome = Outcome {
        code: status.code().unwrap_or(1),
        interrupted: false,
    };
    Ok((outcome, value))
}
