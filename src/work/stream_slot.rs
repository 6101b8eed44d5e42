//! One stream slot of the stream engine (`stream.rs`): its worker, started with its first
//! items and restarted after a death, the items it holds in flight, and what each line the
//! worker writes, its death, a broken protocol and a timeout do to them.

use std::time::{Duration, Instant};

use super::hub::Hub;
use super::process::MAX_OUTPUT;
use super::progress::Notifier;
use super::stream_process::{self, Output, Proc};
use super::{Attempt, Control, Failure, Item, Moment, Outcome, WorkError, Worker};
use crate::state::ErrorCategory;

mod ends;

/// Deaths before any answer, in a row, that stop the run; failed starts, in a row, that retire
/// the slot.
const DEATHS_IN_A_ROW: u32 = 3;
/// How long a worker whose stdin's reader went away has to exit (or answer what it read)
/// before it is taken to have closed its input.
const INPUT_GONE_GRACE: Duration = Duration::from_secs(1);

/// What the slots of a pass share.
pub(super) struct Shared<'a> {
    pub(super) worker: &'a Worker,
    pub(super) control: &'a Control,
    pub(super) notifier: &'a Notifier,
    pub(super) window: usize,
    pub(super) timeout: Option<Duration>,
}

struct Flight {
    item: Item,
    started: Moment,
    /// Where its line starts in the worker's input (`Proc::was_sent`).
    start: u64,
}

/// One stream slot: its worker (started with its first items) and what it holds.
pub(super) struct Slot {
    slot: usize,
    log: Option<std::fs::File>,
    pub(super) proc: Option<Proc>,
    /// Its worker after its output closed, until it exits or is killed.
    dying: Option<ends::Dying>,
    in_flight: foldhash::HashMap<String, Flight>,
    deaths_in_a_row: u32,
    /// After a death before any answer or a failed start: no restart before this.
    restart_at: Option<Instant>,
    /// Starts that failed in a row (no file descriptors, no processes left).
    failed_starts: u32,
    /// Given up after failed starts: it takes no more items.
    pub(super) retired: bool,
    strays: u32,
}

impl Slot {
    pub(super) fn new(slot: usize, worker: &Worker) -> Slot {
        Slot {
            slot,
            log: super::slots::log_of(worker, slot),
            proc: None,
            dying: None,
            in_flight: foldhash::HashMap::default(),
            deaths_in_a_row: 0,
            restart_at: None,
            failed_starts: 0,
            retired: false,
            strays: 0,
        }
    }

    /// Nothing in flight, and no worker dying.
    pub(super) fn idle(&self) -> bool {
        self.in_flight.is_empty() && self.dying.is_none()
    }

    /// Fill the window from the hub, starting the worker if it is not running.
    pub(super) fn fill(
        &mut self,
        hub: &mut Hub<'_>,
        shared: &Shared<'_>,
        now: Instant,
    ) -> Result<(), WorkError> {
        if !self.has_room(shared, now) {
            return Ok(());
        }
        self.restart_at = None;
        let room = shared.window.saturating_sub(self.in_flight.len());
        let items = hub.take(room, now)?;
        if items.is_empty() {
            return Ok(());
        }
        hub.started(items.len(), now);
        if self.proc.is_none() && !self.start(shared) {
            hub.give_back(items, now);
            return Ok(());
        }
        let Some(p) = self.proc.as_mut() else {
            return Ok(());
        };
        let started = Moment::now();
        let size: usize = items
            .iter()
            .map(|i| i.key.len() + i.data.len() + i.location.len())
            .sum();
        let mut lines = String::with_capacity(size + 64 * items.len());
        let base = p.queued();
        for item in items {
            let start = base + lines.len() as u64;
            item.push_line(&mut lines);
            let flight = Flight {
                started: started.clone(),
                start,
                item,
            };
            self.in_flight.insert(flight.item.key.clone(), flight);
        }
        p.send(lines.as_bytes());
        Ok(())
    }

    /// Start the worker for `items`; false when it could not start (they go back). A command
    /// that cannot run at all stops the pass (nothing is recorded); a start that fails for want
    /// of resources is tried again later, and the slot is retired after three in a row.
    fn start(&mut self, shared: &Shared<'_>) -> bool {
        let failure = match stream_process::spawn(shared.worker, self.slot, self.log.as_ref()) {
            Ok(p) => {
                self.proc = Some(p);
                self.failed_starts = 0;
                return true;
            }
            Err(failure) => failure,
        };
        if failure.fatal {
            if let Some(error) = failure.stops_the_pass(shared.worker) {
                shared.control.fail(error);
            }
            return false;
        }
        self.failed_starts += 1;
        if self.failed_starts >= DEATHS_IN_A_ROW {
            self.retired = true;
            shared.notifier.warn(&format!(
                "warning: worker {} could not start {} times in a row ({}); going on without it",
                self.slot, DEATHS_IN_A_ROW, failure.error
            ));
        } else {
            let pause = Duration::from_millis(100) * self.failed_starts;
            self.restart_at = Some(Instant::now() + pause);
        }
        false
    }

    /// Read what the worker wrote and handle its whole lines.
    pub(super) fn read(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>, buf: &mut [u8]) {
        let Some(p) = self.proc.as_mut() else { return };
        match p.read(buf) {
            Output::Nothing => {}
            Output::TooLong => {
                let what = format!("a line over {} MB", MAX_OUTPUT >> 20);
                self.broken(hub, shared, what);
            }
            Output::Lines(lines) => {
                self.lines(hub, shared, &lines);
            }
            Output::End(last) => {
                if self.lines(hub, shared, &last) {
                    self.died(hub, shared);
                }
            }
        }
    }

    /// Handle result lines; false when one broke the protocol (the worker is gone).
    fn lines(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>, lines: &[u8]) -> bool {
        let ended = Moment::now();
        for raw in lines.split(|&b| b == b'\n') {
            let Ok(text) = std::str::from_utf8(raw) else {
                self.broken(hub, shared, "a line that is not valid UTF-8".into());
                return false;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match super::protocol::parse_result_line(text) {
                Ok(line) => self.answer(hub, shared, line, &ended),
                Err(reason) => {
                    let preview: String = text.chars().take(120).collect();
                    let what = format!("a line that is not a result ({reason}): {preview}");
                    self.broken(hub, shared, what);
                    return false;
                }
            }
        }
        true
    }

    fn answer(
        &mut self,
        hub: &mut Hub<'_>,
        shared: &Shared<'_>,
        line: super::protocol::ResultLine,
        ended: &Moment,
    ) {
        let Some(flight) = self.in_flight.remove(&line.key) else {
            self.strays += 1;
            if self.strays <= 3 {
                shared.notifier.warn(&format!(
                    "warning: worker {} answered for '{}', which is not in flight there; ignored",
                    self.slot, line.key
                ));
            }
            return;
        };
        if let Some(p) = self.proc.as_mut() {
            p.answered += 1;
        }
        self.deaths_in_a_row = 0;
        let outcome = match line.outcome {
            Ok(output) => Outcome::Ok(output),
            Err(message) => {
                // The worker's own category (`http-429`) as `record` keeps it; else `exit`.
                let category = line
                    .category
                    .as_deref()
                    .map_or(ErrorCategory::Exit.into(), crate::state::Stored::parse);
                Outcome::Failed(Failure::answered(category, message))
            }
        };
        hub.handle(Attempt::new(
            flight.item,
            outcome,
            &flight.started,
            ended,
            self.slot,
        ));
    }

    /// Items past their deadline fail; the worker is restarted and its other items go back.
    pub(super) fn expire(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>) {
        let Some(limit) = shared.timeout else {
            return;
        };
        let now = Moment::now();
        if !self
            .in_flight
            .values()
            .any(|f| now.at.duration_since(f.started.at) >= limit)
        {
            return;
        }
        if let Some(p) = self.proc.take() {
            p.kill();
        }
        let mut back = Vec::new();
        for (_, f) in self.in_flight.drain() {
            if now.at.duration_since(f.started.at) >= limit {
                let msg = format!(
                    "timed out after {}s (the worker was restarted)",
                    limit.as_secs_f64()
                );
                let outcome = Outcome::Failed(Failure::new(ErrorCategory::Timeout, msg));
                hub.handle(Attempt::new(f.item, outcome, &f.started, &now, self.slot));
            } else {
                back.push(f.item);
            }
        }
        back.sort_by(|a, b| a.key.cmp(&b.key));
        hub.give_back(back, now.at);
    }

    /// Killed: the worker goes at once, what it held is not recorded.
    pub(super) fn kill(&mut self, hub: &mut Hub<'_>) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
        if let Some(d) = self.dying.take() {
            d.kill();
        }
        self.end_in_flight(hub, || Outcome::Abandoned);
    }

    /// Report every item in flight with `outcome`.
    fn end_in_flight(&mut self, hub: &mut Hub<'_>, outcome: impl Fn() -> Outcome) {
        let now = Moment::now();
        for (_, f) in self.in_flight.drain() {
            hub.handle(Attempt::new(f.item, outcome(), &f.started, &now, self.slot));
        }
    }

    /// Whether it would take an item now.
    pub(super) fn has_room(&self, shared: &Shared<'_>, now: Instant) -> bool {
        !self.retired
            && self.dying.is_none()
            && !self.proc.as_ref().is_some_and(Proc::input_closed)
            && self.restart_at.is_none_or(|at| at <= now)
            && self.in_flight.len() < shared.window
    }

    pub(super) fn next_deadline(&self, shared: &Shared<'_>) -> Option<Instant> {
        let timeout = shared
            .timeout
            .and_then(|limit| self.in_flight.values().map(|f| f.started.at + limit).min());
        let restart = self.restart_at.filter(|_| self.proc.is_none());
        let dying = self.dying.as_ref().map(ends::Dying::until);
        timeout.into_iter().chain(restart).chain(dying).min()
    }
}
