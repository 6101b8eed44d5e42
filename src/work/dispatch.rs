//! The dispatcher: pages the selected items out of the DB (short reads, in key order), hands
//! them to the slots at the `--rate` cap, schedules retries with exponential backoff and jitter,
//! and passes each final result to the recorder. It never writes to the DB.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender};

use super::progress::Notifier;
use super::recorder::Final;
use super::retry::Retries;
use super::slots::{self, SlotContext};
use super::{Attempt, Control, Failure, Item, Options, Outcome, WorkError, Worker};
use crate::store::{ItemPages, ResultIn, Store};

/// Final results go to the recorder in batches of this many...
const FINALS_BATCH: usize = 32;
/// ...or after this long.
const FINALS_WAIT: Duration = Duration::from_millis(20);

/// What the dispatcher counted.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub retried: u64,
}

/// Starts at most `rate` per second, evenly spaced.
struct Pace {
    every: Duration,
    next: Instant,
}

pub(crate) fn run(
    reader: &Store,
    run_id: &str,
    worker: &Worker,
    options: &Options,
    control: &Control,
    notifier: &Notifier,
    record: Sender<Vec<Final>>,
) -> Result<Stats, WorkError> {
    let (work_tx, work_rx) = crossbeam_channel::bounded::<Item>(slots::queue_capacity(options));
    let (report_tx, report_rx) = crossbeam_channel::unbounded::<Attempt>();
    std::thread::scope(|scope| -> Result<Stats, WorkError> {
        for slot in 1..=options.jobs {
            let (work, reports) = (work_rx.clone(), report_tx.clone());
            let (log, notifier) = (slots::log_of(worker, slot), notifier.clone());
            std::thread::Builder::new()
                .name(format!("runctl-slot-{slot}"))
                .spawn_scoped(scope, move || {
                    let (work, reports) = (&work, &reports);
                    SlotContext {
                        worker,
                        options,
                        control,
                        slot,
                        work,
                        reports,
                        log,
                        notifier,
                    }
                    .run();
                })
                .map_err(|source| WorkError::Io {
                    what: "start a worker thread",
                    source,
                })?;
        }
        drop(work_rx);
        drop(report_tx);
        let pages = reader.item_pages(run_id, options.selection);
        let mut hub = Hub::new(options, control, record, work_tx, pages);
        let result = hub.dispatch(&report_rx);
        if result.is_err() {
            control.abort();
        }
        hub.work = None;
        // Let the slots finish what they hold and pass on their last results.
        for report in report_rx.iter() {
            hub.handle(report);
        }
        hub.flush_retries();
        hub.pass_on();
        result.map(|()| hub.stats)
    })
}

struct Hub<'a> {
    options: &'a Options,
    control: &'a Control,
    record: Sender<Vec<Final>>,
    /// Final results on their way to the recorder, passed on in small batches so that the
    /// recorder wakes up once per batch rather than per item.
    finals: Vec<Final>,
    finals_since: Option<Instant>,
    work: Option<Sender<Item>>,
    pages: ItemPages<'a>,
    /// What is left of the last page read.
    page: VecDeque<Item>,
    retries: Retries,
    /// Items handed out and not yet back.
    outstanding: u64,
    pace: Option<Pace>,
    stats: Stats,
}

impl<'a> Hub<'a> {
    fn new(
        options: &'a Options,
        control: &'a Control,
        record: Sender<Vec<Final>>,
        work: Sender<Item>,
        pages: ItemPages<'a>,
    ) -> Hub<'a> {
        Hub {
            options,
            control,
            record,
            finals: Vec::new(),
            finals_since: None,
            work: Some(work),
            pages,
            page: VecDeque::new(),
            retries: Retries::new(),
            outstanding: 0,
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

    fn dispatch(&mut self, reports: &Receiver<Attempt>) -> Result<(), WorkError> {
        loop {
            if self.control.stopping() {
                return Ok(());
            }
            if self.page.is_empty() && !self.pages.is_done() {
                self.fill()?;
            }
            if self.pages.is_done()
                && self.page.is_empty()
                && self.retries.is_empty()
                && self.outstanding == 0
            {
                return Ok(());
            }
            let now = Instant::now();
            let paced = self
                .pace
                .as_ref()
                .map_or(Duration::ZERO, |p| p.next.saturating_duration_since(now));
            let retry_due = self.retries.next_due();
            let next = if paced.is_zero() {
                self.next_item(retry_due, now)
            } else {
                None
            };
            if self
                .finals_since
                .is_some_and(|t| t.elapsed() >= FINALS_WAIT)
            {
                self.pass_on();
            }
            let wait = self.wait(paced, retry_due, now);
            let Some(work) = self.work.clone() else {
                return Ok(());
            };
            if !self.exchange(&work, reports, next, wait, now) {
                return Ok(()); // every slot is gone
            }
        }
    }

    /// Within `wait`, hand `next` to a free slot or take a report, whichever comes first; an
    /// item not taken goes back where it came from. False when every slot is gone.
    fn exchange(
        &mut self,
        work: &Sender<Item>,
        reports: &Receiver<Attempt>,
        mut next: Option<Item>,
        wait: Duration,
        now: Instant,
    ) -> bool {
        let mut sel = Select::new();
        let send_at = next.as_ref().map(|_| sel.send(work));
        let recv_at = sel.recv(reports);
        match sel.select_timeout(wait) {
            Ok(op) if Some(op.index()) == send_at => {
                if let Some(item) = next.take() {
                    match op.send(work, item) {
                        Ok(()) => {
                            self.outstanding += 1;
                            if let Some(p) = self.pace.as_mut() {
                                p.next = p.next.max(now) + p.every;
                            }
                        }
                        Err(e) => next = Some(e.into_inner()),
                    }
                }
            }
            Ok(op) if op.index() == recv_at => match op.recv(reports) {
                Ok(report) => self.handle(report),
                Err(_) => return false, // `next` is not recorded: the next resume does it
            },
            Ok(_) | Err(_) => {}
        }
        if let Some(item) = next {
            if item.attempt > 1 {
                self.retries.push(item, now);
            } else {
                self.page.push_front(item);
            }
        }
        true
    }

    /// The item to hand out: a retry that is due, else the next of the page.
    fn next_item(&mut self, retry_due: Option<Instant>, now: Instant) -> Option<Item> {
        if retry_due.is_some_and(|at| at <= now) {
            self.retries.pop()
        } else {
            self.page.pop_front()
        }
    }

    /// How long to wait for a free slot or a report: until the pace allows a start, a retry is
    /// due or the batch of finals is due at the recorder, and never over 100 ms (to see a stop).
    fn wait(&self, paced: Duration, retry_due: Option<Instant>, now: Instant) -> Duration {
        let mut wait = Duration::from_millis(100);
        if let Some(t) = self.finals_since {
            wait = wait.min(FINALS_WAIT.saturating_sub(t.elapsed()));
        }
        if !paced.is_zero() {
            wait = wait.min(paced);
        }
        if let Some(at) = retry_due {
            wait = wait.min(at.saturating_duration_since(now));
        }
        wait
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
        }));
        Ok(())
    }

    fn handle(&mut self, attempt: Attempt) {
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
            Outcome::Abandoned => return,
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
            };
            let failed = Some((last.category, last.origin));
            self.finish(Final { result, failed });
        }
    }
}
