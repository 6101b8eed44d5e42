//! How a stream slot's worker ends badly: a broken protocol, a death (its output closed, or
//! it exited while a child of its holds the pipes), an input it closed while alive; and what
//! then becomes of the items it held (`Slot::gone`).

use std::time::{Duration, Instant};

use super::super::hub::Hub;
use super::super::process::MAX_OUTPUT;
use super::super::stream_process::{Output, Proc};
use super::super::{Attempt, Failure, Item, Moment, Outcome, WorkError};
use super::{DEATHS_IN_A_ROW, Flight, INPUT_GONE_GRACE, Shared, Slot};

/// How long a worker whose output closed has to exit before it is killed.
const DEATH_GRACE: Duration = Duration::from_secs(2);

/// A worker whose output closed, waited for without waiting: see [`Slot::died`].
pub(in crate::work) struct Dying {
    proc: Proc,
    until: Instant,
    answered: u64,
    /// Bytes of its input written to it.
    sent: u64,
}

impl Dying {
    /// When its grace is over.
    pub(in crate::work) fn until(&self) -> Instant {
        self.until
    }

    /// Killed now, with its group (the pass is being killed, or is over).
    pub(in crate::work) fn kill(self) {
        self.proc.kill();
    }
}
use crate::state::ErrorCategory;

impl Slot {
    /// The worker wrote something that is not a result: it is killed, and what it holds ends
    /// as after a death (`gone`), as bad output.
    pub(in crate::work) fn broken(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>, what: String) {
        let message = format!(
            "the worker wrote {what} (a stream worker's stdout carries only result lines; log to stderr)"
        );
        self.kill_and_end(hub, shared, Failure::new(ErrorCategory::BadOutput, message));
    }

    /// The worker's stdout closed, or it exited (its children may hold the pipe): once it has
    /// exited (or [`DEATH_GRACE`] later, killed), it is reaped, its group killed, and what it
    /// holds ends (`gone`) with what its end says. Until then the slot takes no items, and the
    /// other slots go on: nothing here waits.
    pub(in crate::work) fn died(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>) {
        let Some(mut p) = self.proc.take() else {
            return;
        };
        let (answered, sent) = (p.answered, p.sent());
        if p.exits_soon() {
            let failure = p.death(Duration::ZERO);
            self.gone(hub, shared, &failure, answered, sent);
        } else {
            self.dying = Some(Dying {
                proc: p,
                until: Instant::now() + DEATH_GRACE,
                answered,
                sent,
            });
        }
    }

    /// A worker whose output closed, once it has exited or its grace is over: as [`Slot::died`].
    pub(in crate::work) fn check_dying(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>) {
        let due = match self.dying.as_mut() {
            Some(d) => d.proc.exited() || Instant::now() >= d.until,
            None => false,
        };
        if let Some(d) = self.dying.take_if(|_| due) {
            let failure = d.proc.death(Duration::ZERO);
            self.gone(hub, shared, &failure, d.answered, d.sent);
        }
    }

    /// A worker whose stdin's reader went away takes no more items. One that is exiting is
    /// seen by [`Slot::check_exit`]; one still alive [`INPUT_GONE_GRACE`] later closed its
    /// input: it is killed, and what it holds ends as after a death.
    pub(in crate::work) fn check_input(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>) {
        let broke = self.proc.as_ref().and_then(Proc::input_broke);
        if broke.is_none_or(|at| at.elapsed() < INPUT_GONE_GRACE) {
            return;
        }
        let message = "the worker closed its input (stdin) while it still had items to read";
        self.kill_and_end(
            hub,
            shared,
            Failure::new(ErrorCategory::Exit, message.to_string()),
        );
    }

    /// Kill the worker now; what it holds ends as after a death, with `failure`.
    fn kill_and_end(&mut self, hub: &mut Hub<'_>, shared: &Shared<'_>, failure: Failure) {
        let Some(p) = self.proc.take() else { return };
        let (answered, sent) = (p.answered, p.sent());
        p.kill();
        self.gone(hub, shared, &failure, answered, sent);
    }

    /// The worker is gone with `failure` after `sent` bytes of its input. Items it was never
    /// sent go back without an attempt.
    /// Of those it was sent, all fail when it had answered something; when it had answered
    /// nothing, only the first (the one it was most likely working on: a worker that cannot
    /// start would otherwise fail its whole window each time) and the rest go back. Three such
    /// deaths in a row stop the run, each followed by a pause before the next start; a death
    /// on an item's retry is the item's, not the worker's, and is not counted.
    pub(in crate::work) fn gone(
        &mut self,
        hub: &mut Hub<'_>,
        shared: &Shared<'_>,
        failure: &Failure,
        answered: u64,
        sent: u64,
    ) {
        let now = Moment::now();
        if failure.stopped_with_the_job() && shared.control.interrupted_soon() {
            // Killed with the job (a preempted Slurm job signals every process): what it held
            // is left without a result, as the items not started.
            self.end_in_flight(hub, || Outcome::Abandoned);
            return;
        }
        let mut flights: Vec<Flight> = self.in_flight.drain().map(|(_, f)| f).collect();
        flights.sort_by_key(|f| f.start);
        let had_items = !flights.is_empty();
        let (was_sent, unsent): (Vec<Flight>, Vec<Flight>) =
            flights.into_iter().partition(|f| f.start < sent);
        let on_a_retry = was_sent.first().is_some_and(|f| f.item.attempt > 1);
        let mut back: Vec<Item> = unsent.into_iter().map(|f| f.item).collect();
        for (i, f) in was_sent.into_iter().enumerate() {
            if answered == 0 && i > 0 {
                back.push(f.item);
            } else {
                let outcome = Outcome::Failed(failure.clone());
                hub.handle(Attempt::new(f.item, outcome, &f.started, &now, self.slot));
            }
        }
        back.sort_by(|a, b| a.key.cmp(&b.key));
        hub.give_back(back, now.at);
        if answered == 0 && had_items && !on_a_retry {
            self.deaths_in_a_row += 1;
            if self.deaths_in_a_row >= DEATHS_IN_A_ROW {
                shared.control.fail(WorkError::KeepsDying {
                    times: DEATHS_IN_A_ROW,
                    last: failure.message.clone(),
                });
                return;
            }
            // Do not spin on a worker that cannot start.
            let pause = Duration::from_millis(100) * self.deaths_in_a_row;
            self.restart_at = Some(Instant::now() + pause);
        }
    }

    /// A worker that has exited while something else holds its pipes open (a child it left
    /// running): what it wrote is read, then it ends as a death. Looked at now and then.
    pub(in crate::work) fn check_exit(
        &mut self,
        hub: &mut Hub<'_>,
        shared: &Shared<'_>,
        buf: &mut [u8],
    ) {
        if !self.proc.as_mut().is_some_and(Proc::exited) {
            return;
        }
        while let Some(p) = self.proc.as_mut() {
            match p.read(buf) {
                Output::Nothing => {
                    // It has exited: a last line without its newline is its last answer.
                    let last = p.take_partial();
                    if !self.lines(hub, shared, &last) {
                        return;
                    }
                    break;
                }
                Output::TooLong => {
                    let what = format!("a line over {} MB", MAX_OUTPUT >> 20);
                    self.broken(hub, shared, what);
                    return;
                }
                Output::Lines(lines) => {
                    if !self.lines(hub, shared, &lines) {
                        return;
                    }
                }
                Output::End(last) => {
                    if self.lines(hub, shared, &last) {
                        self.died(hub, shared);
                    }
                    return;
                }
            }
        }
        self.died(hub, shared);
    }
}
