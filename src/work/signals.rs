//! SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh session) during a pass. The first stops
//! dispatching and lets in-flight items finish (bounded by the grace period, after which they
//! are killed); the second kills them now. Worker
//! processes run in their own process groups, so a Ctrl-C typed at the terminal reaches runctl
//! alone and runctl decides what the workers get.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::Control;
use super::progress::Notifier;

/// Watches signals until dropped.
pub(crate) struct Watch {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) fn watch(
    control: Arc<Control>,
    grace: Duration,
    notifier: Notifier,
) -> std::io::Result<Watch> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("runctl-signals".into())
        .spawn(move || {
            let mut first: Option<Instant> = None;
            loop {
                // Wake up now and then to enforce the grace period.
                for _ in signals.pending() {
                    if first.is_none() {
                        first = Some(Instant::now());
                        control.interrupted.store(true, Ordering::SeqCst);
                        control.stop.store(true, Ordering::SeqCst);
                        notifier.note(&format!(
                            "stopping: no new items; waiting up to {} for the items in flight \
                             (interrupt again to stop now)",
                            human(grace)
                        ));
                    } else if !control.killing() {
                        control.kill.store(true, Ordering::SeqCst);
                        notifier.note("stopping now: killing the items in flight");
                    }
                }
                if signals.is_closed() {
                    return;
                }
                if let Some(t) = first
                    && t.elapsed() >= grace
                    && !control.killing()
                {
                    control.kill.store(true, Ordering::SeqCst);
                    notifier.warn(&format!(
                        "the grace period of {} is over: killing the items in flight",
                        human(grace)
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })?;
    Ok(Watch {
        handle,
        thread: Some(thread),
    })
}

fn human(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
