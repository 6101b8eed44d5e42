//! The hub of a pass: pages the selected items out of the DB (short reads, in key order), hands
//! them out at the `--rate` cap, schedules retries with exponential backoff and jitter, and
//! passes each final result to the recorder in small batches. It never writes to the DB. The
//! per-item dispatcher (`dispatch.rs`) and the stream engine (`stream.rs`) both drive one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::recorder::Final;
use super::retry::Retries;
use super::{Attempt, Control, Failure, Item, Options, Outcome, WorkError};
use crate::store::{ItemPages, ResultIn};

/// Final results go to the recorder in batches of this many...
const FINALS_BATCH: usize = 32;
/// ...or after this long.
const FINALS_WAIT: Duration = Duration::from_millis(20);
/// The longest wait between two looks at the stop flags.
const LOOK: Duration = Duration::from_millis(100);

/// What the hub counted.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Retries that ran (a retry still waiting at a stop is not counted).
    pub retried: u64,
    /// Every selected item was done (an interrupt that came after that interrupted nothing).
    pub finished: bool,
}

/// Starts at most `rate` per second, evenly spaced.
struct Pace {
    every: Duration,
    next: Instant,
}

pub(crate) struct Hub<'a> {
    options: &'a Options,
    control: &'a Control,
    record: Sender<Vec<Final>>,
    /// Final results on their way to the recorder, passed on in small batches so that the
    /// recorder wakes up once per batch rather than per item.
    finals: Vec<Final>,
    finals_since: Option<Instant>,
    pages: ItemPages<'a>,
    /// What is left of the last page read.
    page: VecDeque<Item>,
    retries: Retries,
    /// Items handed out and not yet back.
    outstanding: u64,
    /// Items stopped in flight by a kill, not recorded.
    abandoned: u64,
    pace: Option<Pace>,
    stats: Stats,
}

impl<'a> Hub<'a> {
    pub fn new(
        options: &'a Options,
        control: &'a Control,
        record: Sender<Vec<Final>>,
        pages: ItemPages<'a>,
    ) -> Hub<'a> {
        Hub {
            options,
            control,
            record,
            finals: Vec::new(),
            finals_since: None,
            pages,
            page: VecDeque::new(),
            retries: Retries::new(),
            outstanding: 0,
            abandoned: 0,
            pace: options.rate.map(|r| Pace {
                // Rates are checked where they enter (settings.rs); never panic on one anyway.
                every: Duration::try_from_secs_f64(1.0 / r)
                    .unwrap_or(super::settings::MAX_DURATION)
                    .min(super::settings::MAX_DURATION),
                next: Instant::now(),
            }),
            stats: Stats::default(),
        }
    }

    /// Up to `max` items to start now (one when paced): a retry that is due, else the next of
    /// the page. None at a stop, or while the pace holds starts back. They count once
    /// [`Hub::started`] is told.
    pub fn take(&mut self, max: usize, now: Instant) -> Result<Vec<Item>, WorkError> {
        if self.control.stopping() || max == 0 || !self.paced(now).is_zero() {
            return Ok(Vec::new());
        }
        if self.retries.next_due().is_some_and(|at| at <= now) {
            return Ok(self.retries.pop().into_iter().collect());
        }
        if self.page.is_empty() && !self.pages.is_done() {
            self.fill()?;
        }
        let n = if self.pace.is_some() { 1 } else { max };
        let n = n.min(self.page.len());
        Ok(self.page.drain(..n).collect())
    }

    /// `n` items taken were started.
    pub fn started(&mut self, n: usize, now: Instant) {
        self.outstanding += n as u64;
        if let Some(p) = self.pace.as_mut() {
            p.next = p.next.max(now) + p.every;
        }
    }

    /// Items taken and not started go back where they came from, in their order.
    pub fn put_back(&mut self, items: Vec<Item>, now: Instant) {
        for item in items.into_iter().rev() {
            if item.attempt > 1 {
                self.retries.push(item, now);
            } else {
                self.page.push_front(item);
            }
        }
    }

    /// Items started and then stopped without an attempt (their worker was restarted) go back.
    pub fn give_back(&mut self, items: Vec<Item>, now: Instant) {
        self.outstanding = self.outstanding.saturating_sub(items.len() as u64);
        self.put_back(items, now);
    }

    /// Every selected item has been read, started and come back, and no retry is waiting.
    pub fn finished(&self) -> bool {
        self.pages.is_done()
            && self.page.is_empty()
            && self.retries.is_empty()
            && self.outstanding == 0
    }

    /// How long until something is due here: the pace allows a start, a retry can start (a
    /// slot has `room`, no stop, the pace allows it) or the batch of finals is due at the
    /// recorder; never over 100 ms (to see a stop). A retry that is due but cannot start is
    /// waited for by the event that lets it (an answer, the pace), not polled for.
    pub fn wait(&self, now: Instant, room: bool) -> Duration {
        let mut wait = LOOK;
        if let Some(t) = self.finals_since {
            wait = wait.min(FINALS_WAIT.saturating_sub(t.elapsed()));
        }
        let paced = self.paced(now);
        if !paced.is_zero() {
            wait = wait.min(paced);
        }
        if let Some(at) = self
            .retries
            .next_due()
            .filter(|_| room && !self.control.stopping())
        {
            wait = wait.min(at.saturating_duration_since(now).max(paced));
        }
        wait
    }

    /// Pass the batch of finals on once it is due.
    pub fn tick(&mut self) {
        if self
            .finals_since
            .is_some_and(|t| t.elapsed() >= FINALS_WAIT)
        {
            self.pass_on();
        }
    }

    /// Record the retries still waiting with their last error, pass every final result on and
    /// ask the recorder to commit them now (at the end, before the workers are waited for).
    pub fn settle(&mut self) {
        self.flush_retries();
        self.pass_on();
        let _ = self.record.send(Vec::new());
    }

    /// The end of the pass: as [`Hub::settle`]; whether every item was done is in the stats.
    pub fn end(mut self) -> Stats {
        self.stats.finished = self.finished() && self.abandoned == 0;
        self.settle();
        self.stats
    }

    fn paced(&self, now: Instant) -> Duration {
        self.pace
            .as_ref()
            .map_or(Duration::ZERO, |p| p.next.saturating_duration_since(now))
    }

    fn fill(&mut self) -> Result<(), WorkError> {
        let rows = self.pages.next_page()?;
        self.page.extend(rows.into_iter().map(|r| Item {
            key: r.key,
            data: r.data,
            location: r.location,
            attempt: 1,
            prior: u32::try_from(r.attempts).unwrap_or(0),
            first_error: None,
            last_failure: None,
            prior_result: r.prior,
        }));
        Ok(())
    }

    /// An attempt came back: final, or scheduled for a retry.
    pub fn handle(&mut self, attempt: Attempt) {
        self.outstanding = self.outstanding.saturating_sub(1);
        let Attempt {
            mut item,
            outcome,
            started_at,
            finished_at,
            duration,
            worker,
        } = attempt;
        let (ok, payload, failed) = match outcome {
            Outcome::Abandoned => {
                self.abandoned += 1;
                return;
            }
            Outcome::NotStarted => {
                self.put_back(vec![item], Instant::now());
                return;
            }
            Outcome::Ok(output) => (true, output, None),
            Outcome::Failed(failure) => {
                if item.attempt <= self.options.retries && !self.control.stopping() {
                    let delay = self.retries.delay(self.options.retry_delay, item.attempt);
                    item.first_error
                        .get_or_insert_with(|| failure.message.clone());
                    item.last_failure = Some(failure);
                    item.attempt += 1;
                    self.stats.retried += 1;
                    self.retries.push(item, Instant::now() + delay);
                    return;
                }
                let failed = Some((failure.category, failure.origin));
                (false, failure.message, failed)
            }
        };
        let result = ResultIn {
            key: item.key,
            ok,
            payload,
            category: failed.as_ref().map(|(c, _)| c.clone()),
            duration_ms: i64::try_from(duration.as_millis()).ok(),
            worker: i64::try_from(worker).ok(),
            attempts: i64::from(item.attempt),
            first_error: item.first_error,
            started_at: Some(started_at),
            finished_at: Some(finished_at),
            prior: item.prior_result,
        };
        self.finish(Final { result, failed });
    }

    fn finish(&mut self, last: Final) {
        self.finals.push(last);
        self.finals_since.get_or_insert_with(Instant::now);
        if self.finals.len() >= FINALS_BATCH {
            self.pass_on();
        }
    }

    /// Hand the batched final results to the recorder.
    fn pass_on(&mut self) {
        self.finals_since = None;
        if !self.finals.is_empty() {
            let _ = self.record.send(std::mem::take(&mut self.finals));
        }
    }

    /// At a stop, the items waiting for a retry are recorded with their last error.
    fn flush_retries(&mut self) {
        while let Some(item) = self.retries.pop() {
            self.stats.retried = self.stats.retried.saturating_sub(1);
            let last = item
                .last_failure
                .unwrap_or_else(|| Failure::new(super::ErrorCategory::Exit, String::new()));
            let result = ResultIn {
                key: item.key,
                ok: false,
                payload: last.message,
                category: Some(last.category.clone()),
                duration_ms: None,
                worker: None,
                attempts: i64::from(item.attempt.saturating_sub(1)).max(1),
                first_error: item.first_error,
                started_at: None,
                finished_at: Some(crate::store::now_text()),
                prior: item.prior_result,
            };
            let failed = Some((last.category, last.origin));
            self.finish(Final { result, failed });
        }
    }
}
