//! The recorder thread: the only writer of results. It commits in batches of 100 results (more
//! when more are already waiting) or every second, whichever comes first, and at the end, each
//! commit updating the run's counters and ETA in the same transaction; it also drives the
//! progress display.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::progress::Display;
use super::{Control, ErrorCategory, Exits, Origin, WorkError};
use crate::state::Stored;
use crate::store::{Keys, Progress, ResultIn, Store};

/// Commit after this many results...
const BATCH: usize = 100;
/// ...taking up to this many when more are already waiting...
const MAX_BATCH: usize = 2000;
/// ...or this long after the first uncommitted one.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A final result, with its failure's category and origin for the summary.
#[derive(Debug)]
pub(crate) struct Final {
    pub result: ResultIn,
    pub failed: Option<(Stored<ErrorCategory>, Origin)>,
}

/// What the recorder wrote in this pass.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub ok: u64,
    pub errors: BTreeMap<ErrorCategory, u64>,
    /// Errors in a category a stream worker named, by that name.
    pub named: BTreeMap<String, u64>,
    pub exits: Exits,
    /// How often each error message was recorded (its first line, cut short; at most
    /// [`MESSAGES_KEPT`] different ones are counted).
    pub messages: std::collections::HashMap<String, u64>,
    pub progress: Progress,
}

/// Different error messages counted for the summary, at most: a pass whose every error says
/// something else (an item's own text in it) keeps its memory bounded.
const MESSAGES_KEPT: usize = 1000;
/// A message is counted by its first this many characters of its first line.
const MESSAGE_CHARS: usize = 160;

impl Recorded {
    /// Count one final result for the summary.
    fn count(&mut self, last: &Final) {
        let Some((category, origin)) = last.failed.as_ref().filter(|_| !last.result.ok) else {
            self.ok += 1;
            return;
        };
        match category.known() {
            Some(known) => {
                *self.errors.entry(known).or_default() += 1;
                self.exits.count(known, *origin);
            }
            None => *self.named.entry(category.as_str().to_string()).or_default() += 1,
        }
        self.count_message(&last.result.payload);
    }

    /// Results recorded in this pass, ok or not.
    fn done(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>() + self.named.values().sum::<u64>()
    }

    fn count_message(&mut self, message: &str) {
        let line = message.lines().next().unwrap_or("");
        let short: String = line.chars().take(MESSAGE_CHARS).collect();
        if let Some(n) = self.messages.get_mut(&short) {
            *n += 1;
        } else if self.messages.len() < MESSAGES_KEPT {
            self.messages.insert(short, 1);
        }
    }

    /// The `n` most common messages, most common first (ties in text order).
    pub fn top_messages(&self, n: usize) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> =
            self.messages.iter().map(|(m, c)| (m.clone(), *c)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

pub(crate) fn spawn(
    store: Store,
    run_id: String,
    rx: Receiver<Vec<Final>>,
    display: Display,
    control: Arc<Control>,
    keep: super::Keep,
) -> std::io::Result<JoinHandle<Result<Recorded, WorkError>>> {
    std::thread::Builder::new()
        .name("runctl-recorder".into())
        .spawn(move || {
            let result = record(store, &run_id, &rx, display, keep, &control);
            if result.is_err() {
                // Nothing more can be recorded: stop the pass, and let the workers' items go.
                control.abort();
            }
            result
        })
}

fn record(
    mut store: Store,
    run_id: &str,
    rx: &Receiver<Vec<Final>>,
    mut display: Display,
    mut keep: super::Keep,
    control: &Control,
) -> Result<Recorded, WorkError> {
    let start = Instant::now();
    let mut kept_at = Instant::now();
    let mut recorded = Recorded {
        progress: store.progress(run_id)?,
        ..Recorded::default()
    };
    // Where the run stood when the pass began: with other members recording too, the
    // display follows the run from there.
    let base = counted(&recorded.progress);
    let mut batch: Vec<ResultIn> = Vec::with_capacity(BATCH);
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(MAX_WAIT, |t| MAX_WAIT.saturating_sub(t.elapsed()));
        let (closed, now) = match rx.recv_timeout(wait) {
            // An empty batch asks for a commit now (the pass is about to wait for its workers).
            Ok(finals) if finals.is_empty() => (false, true),
            Ok(finals) => {
                take(finals, rx, &mut recorded, &mut display, &mut batch);
                oldest.get_or_insert_with(Instant::now);
                (false, false)
            }
            Err(RecvTimeoutError::Timeout) => (false, false),
            Err(RecvTimeoutError::Disconnected) => (true, false),
        };
        let due = oldest.is_some_and(|t| t.elapsed() >= MAX_WAIT);
        if batch.len() >= BATCH || due || ((closed || now) && !batch.is_empty()) {
            let eta = eta_of(start, &display, &recorded);
            recorded.progress =
                store.record_results(run_id, Keys::OfThisRun, &batch, eta.as_deref())?;
            if store.progress_is_shared() {
                let (done, errors) = counted(&recorded.progress);
                display.catch_up(done.saturating_sub(base.0), errors.saturating_sub(base.1));
            }
            batch.clear();
            oldest = None;
        }
        display.tick();
        if kept_at.elapsed() >= MAX_WAIT && !control.stopping() {
            kept_at = Instant::now();
            if let Err(error) = keep() {
                let kill = error.kills_in_flight();
                control.fail(error);
                if kill {
                    control.abort();
                }
            }
        }
        if closed {
            display.finish();
            return Ok(recorded);
        }
    }
}

/// A run's results (done, errors) in its counters.
fn counted(p: &Progress) -> (u64, u64) {
    let done = u64::try_from(p.n_completed + p.n_errors).unwrap_or(0);
    (done, u64::try_from(p.n_errors).unwrap_or(0))
}

/// The ETA to store with a batch, at the rate of the pass so far (the run's, with members).
fn eta_of(start: Instant, display: &Display, recorded: &Recorded) -> Option<String> {
    let done = display.done().max(recorded.done());
    eta_text(start.elapsed(), done, display.total().saturating_sub(done))
}

/// Count `finals` into the batch, and what else is waiting too (up to a cap): when results
/// come faster than commits, each commit carries more of them.
fn take(
    finals: Vec<Final>,
    rx: &Receiver<Vec<Final>>,
    recorded: &mut Recorded,
    display: &mut Display,
    batch: &mut Vec<ResultIn>,
) {
    let mut finals = Some(finals);
    while let Some(some) = finals.take() {
        for last in some {
            recorded.count(&last);
            display.result(last.result.ok);
            batch.push(last.result);
        }
        if batch.len() < MAX_BATCH {
            finals = rx.try_recv().ok();
        }
    }
}

/// The finish time of `remaining` items at this pass's rate so far, as stored in `runs.eta`;
/// the finish time itself once nothing remains.
fn eta_text(elapsed: Duration, done: u64, remaining: u64) -> Option<String> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    crate::store::finish_at(
        jiff::Timestamp::now(),
        elapsed.as_secs_f64(),
        count(done),
        count(remaining),
    )
    .map(crate::store::eta_stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_messages_come_first_by_their_first_line_and_memory_stays_bounded() {
        let mut r = Recorded::default();
        for m in [
            "exit code 2: boom\nline two",
            "exit code 2: boom\nanother tail",
            "timed out",
            "exit code 2: boom",
            "b",
            "a",
        ] {
            r.count_message(m);
        }
        assert_eq!(
            r.top_messages(3),
            [
                ("exit code 2: boom".to_string(), 3),
                ("a".to_string(), 1),
                ("b".to_string(), 1)
            ]
        );
        let long = "x".repeat(10_000);
        r.count_message(&long);
        assert!(
            r.messages
                .keys()
                .all(|m| m.chars().count() <= MESSAGE_CHARS)
        );
        for i in 0..5000 {
            r.count_message(&format!("item {i} failed"));
        }
        assert_eq!(r.messages.len(), MESSAGES_KEPT);
    }
}
