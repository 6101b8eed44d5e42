//! The resume engine: a dispatcher that pages a run's selected items out of the DB, worker slots
//! that run the user's command per item or as a stream, and one recorder thread that alone writes
//! results, in batches (docs/resume.md).
//!
//! Workers never touch SQLite. Every attempt goes back to the dispatcher, which retries a failed
//! item (with backoff) or hands the final result to the recorder. A crash loses at most the
//! results of the last uncommitted second; those items have no row and the next resume redoes
//! them, so recording is exactly-once and execution at-least-once.

mod dispatch;
mod error;
mod failure;
mod hub;
mod per_item;
mod prepare;
pub(crate) mod process;
pub mod progress;
pub mod protocol;
mod recorder;
mod retry;
pub mod settings;
mod signals;
mod slots;
mod start;
mod stream;
mod stream_process;
mod stream_slot;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::state::ErrorCategory;
pub use error::WorkError;
pub(crate) use failure::Failure;
pub use failure::{Exits, Origin};
pub use prepare::{PassRequest, PrepareError, Prepared, options, prepare, resolve_program};
pub use settings::{Mode, WorkSettings};
pub use start::{Hold, release, start};

use crate::store::{Progress, Selection, Store};

/// The worker command and what it is started with. Workers run in runctl's working directory.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The program, found on PATH already.
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Added to the environment of every worker process (the run metadata).
    pub env: Vec<(String, std::ffi::OsString)>,
    /// Where each slot appends its workers' stderr (`worker-<slot>.log`), if anywhere.
    pub log_dir: Option<PathBuf>,
}

/// How one pass over a run's items goes.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub mode: Mode,
    /// Items in flight per stream worker.
    pub window: usize,
    pub timeout: Option<Duration>,
    pub retries: u32,
    /// The first retry's delay; each next one doubles it (with jitter), up to a minute.
    pub retry_delay: Duration,
    /// Starts per second, at most.
    pub rate: Option<f64>,
    /// How long in-flight items may go on after the first SIGINT/SIGTERM.
    pub grace: Duration,
    pub selection: Selection,
    pub progress: progress::Style,
    /// Items selected for this pass (for the progress bar and the ETA).
    pub total: u64,
}

/// An item on its way through the engine.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub key: String,
    pub data: String,
    pub location: String,
    /// 1 for the first attempt of this pass.
    pub attempt: u32,
    /// Attempts recorded in earlier passes.
    pub prior: u32,
    /// The message of this pass's first failed attempt.
    pub first_error: Option<String>,
    /// The last failed attempt, while a retry is pending.
    pub last_failure: Option<Failure>,
    /// Its result when the pass read it.
    pub prior_result: crate::store::Prior,
}

impl Item {
    fn line(&self) -> String {
        let mut line = String::new();
        self.push_line(&mut line);
        line
    }

    /// Append the item's line (with its attempt number) to `out`.
    fn push_line(&self, out: &mut String) {
        let attempt = Some(self.prior.saturating_add(self.attempt));
        protocol::push_item_line(out, &self.key, &self.data, &self.location, attempt, None);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The output, JSON text.
    Ok(String),
    Failed(Failure),
    /// Stopped by a second interrupt: not recorded, so the next resume redoes it.
    Abandoned,
    /// Handed to a slot and never started (a stop came first): back where it came from, so a
    /// retry waits with the others (recorded with its last error at the stop) and a first
    /// attempt is left for the next resume.
    NotStarted,
}

#[derive(Debug)]
pub(crate) struct Attempt {
    pub item: Item,
    pub outcome: Outcome,
    pub started_at: String,
    pub finished_at: String,
    pub duration: Duration,
    pub worker: usize,
}

impl Attempt {
    /// An attempt of `item` in `worker` that began at `started` and ended at `ended`.
    pub fn new(
        item: Item,
        outcome: Outcome,
        started: &Moment,
        ended: &Moment,
        worker: usize,
    ) -> Attempt {
        Attempt {
            item,
            outcome,
            started_at: started.text.clone(),
            finished_at: ended.text.clone(),
            duration: ended.at.saturating_duration_since(started.at),
            worker,
        }
    }
}

/// A moment of a pass: for durations, and as stored text. The items a slot sends together
/// share the moment they started, the answers it reads together the moment they ended.
#[derive(Debug, Clone)]
pub(crate) struct Moment {
    pub at: Instant,
    pub text: String,
}

impl Moment {
    pub fn now() -> Moment {
        Moment {
            at: Instant::now(),
            text: crate::store::now_text(),
        }
    }
}

/// Flags shared by every thread of a pass.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Start no more items.
    pub stop: AtomicBool,
    /// Kill what is in flight.
    pub kill: AtomicBool,
    /// Set by a signal (as opposed to a fatal error).
    pub interrupted: AtomicBool,
    /// The first error that stopped the pass.
    pub fatal: Mutex<Option<WorkError>>,
}

impl Control {
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    /// Whether a signal (SIGINT, SIGTERM) interrupted the pass.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Whether a signal interrupted the pass, or does within 150 ms: a worker killed with
    /// its job (a scheduler signals every process of it) may be seen dead before runctl's
    /// own signal is (the signal thread looks every 50 ms).
    pub fn interrupted_soon(&self) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(150);
        while !self.interrupted() {
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }
    pub fn killing(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }
    /// Stop the pass with `error`: it ends with a summary that says so.
    pub fn fail(&self, error: WorkError) {
        if let Ok(mut fatal) = self.fatal.lock() {
            fatal.get_or_insert(error);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
    /// Stop the pass and kill what is in flight: nothing more can be recorded. The pass ends
    /// with the error of the thread that aborts it, not with a summary.
    pub fn abort(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.kill.store(true, Ordering::SeqCst);
    }
}

/// How a pass ended.
#[derive(Debug, Default)]
pub struct Summary {
    /// Items recorded ok in this pass.
    pub ok: u64,
    /// Items recorded as errors in this pass, by category.
    pub errors: BTreeMap<ErrorCategory, u64>,
    /// Items recorded as errors in a category a stream worker named (`http-429`), by it.
    pub named_errors: BTreeMap<String, u64>,
    /// Of the `exit` errors: their exit codes, and how many a stream worker answered.
    pub exits: Exits,
    /// Attempts that were retried.
    pub retried: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// What stopped the pass before its items were done.
    pub fatal: Option<WorkError>,
    /// The run's counters after the pass.
    pub progress: Progress,
    /// The most common error messages of this pass (at most 3), with how often each came.
    pub top_errors: Vec<(String, u64)>,
}

impl Summary {
    pub fn n_errors(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.named_errors.values().sum::<u64>()
    }
}

/// Run one pass over the selected items of `run_id`: `reader` pages items, `recorder` (a second
/// connection, moved to the recorder thread) writes results.
/// Called about once a second by the recorder; an error ([`WorkError::LostLock`]) stops the
/// pass (used to keep the run's lock: see [`crate::lock::RunLock::keep`]).
pub type Keep = Box<dyn FnMut() -> Result<(), WorkError> + Send>;

pub fn run(
    reader: &Store,
    recorder: Store,
    run_id: &str,
    worker: Worker,
    options: Options,
    keep: Keep,
) -> Result<Summary, WorkError> {
    let started = Instant::now();
    let control = Arc::new(Control::default());
    let display = progress::Display::new(options.progress, options.total);
    let _signals = signals::watch(Arc::clone(&control), options.grace, display.notifier())
        .map_err(|source| WorkError::Io {
            what: "watch for signals",
            source,
        })?;
    let notifier = display.notifier();
    let (record_tx, record_rx) = crossbeam_channel::bounded(256);
    let recorder = recorder::spawn(
        recorder,
        run_id.to_string(),
        record_rx,
        display,
        Arc::clone(&control),
        keep,
    )
    .map_err(|source| WorkError::Io {
        what: "start the recorder thread",
        source,
    })?;
    let stats = dispatch::run(
        reader, run_id, &worker, &options, &control, &notifier, record_tx,
    );
    let recorded = recorder.join().unwrap_or(Err(WorkError::RecorderStopped));
    let stats = stats?;
    let recorded = recorded?;
    let fatal = control.fatal.lock().ok().and_then(|mut f| f.take());
    Ok(Summary {
        ok: recorded.ok,
        top_errors: recorded.top_messages(3),
        errors: recorded.errors,
        named_errors: recorded.named,
        exits: recorded.exits,
        retried: stats.retried,
        elapsed: started.elapsed(),
        // An interrupt after the last item was done interrupted nothing.
        interrupted: control.interrupted.load(Ordering::SeqCst) && !stats.finished,
        fatal,
        progress: recorded.progress,
    })
}
