//! `--stream`: the worker command started once per slot, in its own process group, speaking JSON
//! lines: items in on stdin, one `{"key":..,"ok"|"error":..}` line out per item, matched by key,
//! in any order, with up to `window` items in flight. A writer thread and a reader thread per
//! worker (`pipes.rs`, started with the process in `stream_process.rs`) keep the slot from ever
//! blocking on a pipe, so timeouts and interrupts always work.
//!
//! A worker that dies fails its in-flight items (one attempt each) and is restarted with the
//! next item; one that dies three times in a row before answering anything stops the run. A line
//! that is not a result breaks the protocol: the items in flight fail as bad output and the
//! worker is restarted. A timed-out item fails; the worker is restarted and the other items it
//! held go back in the queue without counting an attempt.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crossbeam_channel::Select;

use super::pipes::Lines;
use super::process::{MAX_OUTPUT, SpawnFailure};
use super::protocol;
use super::slots::SlotContext;
use super::stream_process::{self, Proc};
use super::{Attempt, Failure, Item, Outcome, WorkError};
use crate::state::ErrorCategory;
use crate::store::now_text as now;

/// Deaths before any answer, in a row, that stop the run.
const DEATHS_IN_A_ROW: u32 = 3;

struct Flight {
    item: Item,
    started: Instant,
    started_at: String,
}

/// One stream slot, until its input closes and its items are answered, or the run is killed.
pub(crate) struct Slot<'a> {
    cx: SlotContext<'a>,
    window: usize,
    timeout: Option<Duration>,
}

struct State {
    proc: Option<Proc>,
    in_flight: HashMap<String, Flight>,
    requeue: VecDeque<Item>,
    input_open: bool,
    deaths_in_a_row: u32,
    strays: u32,
}

impl<'a> Slot<'a> {
    pub(crate) fn new(cx: SlotContext<'a>) -> Slot<'a> {
        Slot {
            window: cx.options.window.max(1),
            timeout: cx.options.timeout,
            cx,
        }
    }

    pub(crate) fn run(mut self) {
        let mut st = State {
            proc: None,
            in_flight: HashMap::new(),
            requeue: VecDeque::new(),
            input_open: true,
            deaths_in_a_row: 0,
            strays: 0,
        };
        loop {
            if self.cx.control.killing() {
                if let Some(p) = st.proc.take() {
                    p.kill();
                }
                self.end_in_flight(&mut st, || Outcome::Abandoned);
                self.abandon_queued(&mut st);
                return;
            }
            if self.cx.control.stopping() {
                st.input_open = false;
                self.abandon_queued(&mut st);
            }
            if !st.input_open && st.requeue.is_empty() && st.in_flight.is_empty() {
                if let Some(p) = st.proc.take() {
                    self.close(p);
                }
                return;
            }
            self.step(&mut st);
            self.expire(&mut st);
        }
    }

    /// Wait for the next thing to happen (an item to take, lines from the worker, a deadline)
    /// and handle it.
    fn step(&mut self, st: &mut State) {
        let room = st.in_flight.len() < self.window && !self.cx.control.stopping();
        let mut taken: Vec<Item> = Vec::new();
        if room {
            while st.in_flight.len() + taken.len() < self.window {
                match st.requeue.pop_front() {
                    Some(item) => taken.push(item),
                    None => break,
                }
            }
        }
        let wait = if taken.is_empty() {
            self.next_deadline(st)
                .map_or(Duration::from_millis(100), |d| {
                    d.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_millis(100))
        } else {
            Duration::ZERO
        };
        let lines_rx = st.proc.as_ref().map(|p| p.lines.clone());
        let mut sel = Select::new();
        let take_at = (room && st.input_open && taken.is_empty()).then(|| sel.recv(self.cx.work));
        let lines_at = lines_rx.as_ref().map(|rx| sel.recv(rx));
        if take_at.is_some() || lines_at.is_some() {
            if let Ok(op) = sel.select_timeout(wait) {
                let index = op.index();
                if Some(index) == take_at {
                    match op.recv(self.cx.work) {
                        Ok(item) => taken.push(item),
                        Err(_) => st.input_open = false,
                    }
                } else if let Some(rx) = lines_rx.as_ref().filter(|_| Some(index) == lines_at) {
                    let msg = op.recv(rx).unwrap_or(Lines::End);
                    self.on_lines(st, msg);
                }
            }
        } else {
            std::thread::sleep(wait);
        }
        if !taken.is_empty() {
            // Fill the window without waiting, then send everything in one go.
            while st.input_open && st.in_flight.len() + taken.len() < self.window {
                match self.cx.work.try_recv() {
                    Ok(item) => taken.push(item),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        st.input_open = false;
                        break;
                    }
                }
            }
            self.send(st, taken);
        }
    }

    fn send(&mut self, st: &mut State, items: Vec<Item>) {
        if st.proc.is_none() {
            match self.spawn() {
                Ok(p) => st.proc = Some(p),
                Err(failure) => {
                    for item in items {
                        self.report(item, failure.outcome(), Instant::now(), now());
                    }
                    if let Some(error) = failure.stops_the_pass(self.cx.worker) {
                        self.cx.control.fail(error);
                    }
                    return;
                }
            }
        }
        let Some(proc) = st.proc.as_ref() else {
            return;
        };
        for item in items {
            if let Some(input) = &proc.input {
                // A dead worker's input is gone; its stdout's end tells the rest.
                let _ = input.send(item.line());
            }
            st.in_flight.insert(
                item.key.clone(),
                Flight {
                    item,
                    started: Instant::now(),
                    started_at: now(),
                },
            );
        }
    }

    fn on_lines(&mut self, st: &mut State, msg: Lines) {
        match msg {
            Lines::End => self.died(st),
            Lines::TooLong => {
                self.broken(st, format!("a line over {} MB", MAX_OUTPUT >> 20));
            }
            Lines::Batch(lines) => {
                for raw in lines {
                    let Ok(text) = std::str::from_utf8(&raw) else {
                        self.broken(st, "a line that is not valid UTF-8".into());
                        return;
                    };
                    let text = text.trim();
                    if text.is_empty() {
                        continue;
                    }
                    match protocol::parse_result_line(text) {
                        Ok(line) => self.answer(st, line),
                        Err(reason) => {
                            let preview: String = text.chars().take(120).collect();
                            self.broken(st, format!("{reason}: {preview}"));
                            return;
                        }
                    }
                }
            }
        }
    }

    fn answer(&mut self, st: &mut State, line: protocol::ResultLine) {
        let Some(flight) = st.in_flight.remove(&line.key) else {
            st.strays += 1;
            if st.strays <= 3 {
                self.cx.notifier.warn(&format!(
                    "warning: worker {} answered for '{}', which is not in flight there; ignored",
                    self.cx.slot, line.key
                ));
            }
            return;
        };
        if let Some(p) = st.proc.as_mut() {
            p.answered += 1;
        }
        st.deaths_in_a_row = 0;
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
        self.report(flight.item, outcome, flight.started, flight.started_at);
    }

    /// The worker wrote something that is not a result: fail what it holds, restart it.
    fn broken(&mut self, st: &mut State, what: String) {
        if let Some(p) = st.proc.take() {
            p.kill();
        }
        let message = format!(
            "the worker wrote {what} (a stream worker's stdout carries only result lines; log to stderr)"
        );
        self.fail_all(st, &Failure::new(ErrorCategory::BadOutput, message));
    }

    /// The worker's stdout closed: it exited (or is about to).
    fn died(&mut self, st: &mut State) {
        let Some(p) = st.proc.take() else {
            return;
        };
        let answered = p.answered;
        let failure = p.death();
        let had_items = !st.in_flight.is_empty();
        self.fail_all(st, &failure);
        if answered == 0 && had_items {
            st.deaths_in_a_row += 1;
            if st.deaths_in_a_row >= DEATHS_IN_A_ROW {
                self.cx.control.fail(WorkError::KeepsDying {
                    times: DEATHS_IN_A_ROW,
                    last: failure.message,
                });
                st.input_open = false;
                return;
            }
            // Do not spin on a worker that cannot start.
            std::thread::sleep(Duration::from_millis(100) * st.deaths_in_a_row);
        }
    }

    /// Items past their deadline fail; the worker is restarted and its other items requeued.
    fn expire(&mut self, st: &mut State) {
        let Some(limit) = self.timeout else {
            return;
        };
        let now_i = Instant::now();
        if !st
            .in_flight
            .values()
            .any(|f| now_i.duration_since(f.started) >= limit)
        {
            return;
        }
        if let Some(p) = st.proc.take() {
            p.kill();
        }
        let flights: Vec<Flight> = st.in_flight.drain().map(|(_, f)| f).collect();
        for f in flights {
            if now_i.duration_since(f.started) >= limit {
                let msg = format!(
                    "timed out after {}s (the worker was restarted)",
                    limit.as_secs_f64()
                );
                self.report(
                    f.item,
                    Outcome::Failed(Failure::new(ErrorCategory::Timeout, msg)),
                    f.started,
                    f.started_at,
                );
            } else {
                st.requeue.push_back(f.item);
            }
        }
    }

    fn fail_all(&mut self, st: &mut State, failure: &Failure) {
        self.end_in_flight(st, || Outcome::Failed(failure.clone()));
    }

    /// Report every item in flight with `outcome`.
    fn end_in_flight(&mut self, st: &mut State, outcome: impl Fn() -> Outcome) {
        let flights: Vec<Flight> = st.in_flight.drain().map(|(_, f)| f).collect();
        for f in flights {
            self.report(f.item, outcome(), f.started, f.started_at);
        }
    }

    fn abandon_queued(&mut self, st: &mut State) {
        while let Some(item) = st.requeue.pop_front() {
            self.cx.abandon(item);
        }
    }

    fn next_deadline(&self, st: &State) -> Option<Instant> {
        let limit = self.timeout?;
        st.in_flight.values().map(|f| f.started + limit).min()
    }

    fn report(&self, item: Item, outcome: Outcome, started: Instant, started_at: String) {
        let attempt = Attempt::new(item, outcome, started, started_at, self.cx.slot);
        self.cx.report(attempt);
    }

    /// Close the worker's input and give it a moment to exit on its own.
    fn close(&self, p: Proc) {
        p.close(self.cx.control.killing());
    }

    fn spawn(&mut self) -> Result<Proc, SpawnFailure> {
        stream_process::spawn(self.cx.worker, self.cx.slot, self.cx.log.as_ref())
    }
}
