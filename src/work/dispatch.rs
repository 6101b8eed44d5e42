//! The dispatcher of a pass. Per item, the slots are threads (`slots.rs`, `per_item.rs`) that
//! take items from a queue and report every attempt back; the dispatcher feeds the queue from
//! the hub (`hub.rs`) and hands the reports to it. With `--stream`, one thread runs the hub and
//! every worker (`stream.rs`). Neither writes to the DB: the recorder does.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};

use super::hub::{Hub, Stats};
use super::progress::Notifier;
use super::recorder::Final;
use super::slots::{self, SlotContext};
use super::{Attempt, Control, Item, Mode, Options, WorkError, Worker};
use crate::store::Store;

/// How long a full queue is left alone without a report before it is looked at again.
const QUEUE_LOOK: Duration = Duration::from_millis(5);

/// How many items the dispatcher keeps in the queue ahead of the slots. Items shorter than
/// [`QUEUE_LOOK`] (by the running mean of their attempts) get enough for twice that long, and
/// the dispatcher then looks at the queue every [`QUEUE_LOOK`] instead of waking for each
/// report: for `true` at `-j 2` that is two fewer context switches per item. Longer items get
/// one a slot, so a retry or the end of the pass waits behind little.
struct Depth {
    jobs: usize,
    capacity: usize,
    mean: Option<Duration>,
}

impl Depth {
    fn new(jobs: usize, capacity: usize) -> Depth {
        Depth {
            jobs: jobs.max(1),
            capacity,
            mean: None,
        }
    }

    /// An attempt took `took`.
    fn seen(&mut self, took: Duration) {
        self.mean = Some(match self.mean {
            None => took,
            Some(mean) => (mean * 7 + took) / 8,
        });
    }

    /// The items to keep queued (at least one, at most the queue's room).
    fn target(&self) -> usize {
        let per_slot = match self.mean {
            Some(mean) if mean < QUEUE_LOOK => {
                let fit = (2 * QUEUE_LOOK).as_nanos() / mean.as_nanos().max(1);
                usize::try_from(fit).unwrap_or(usize::MAX).saturating_add(1)
            }
            _ => 1,
        };
        self.jobs
            .saturating_mul(per_slot)
            .clamp(1, self.capacity.max(1))
    }

    /// Whether the queue at its target outlasts a [`QUEUE_LOOK`] of not looking.
    fn outlasts_a_look(&self) -> bool {
        self.target() > self.jobs
    }
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
    let mut hub = Hub::new(
        options,
        control,
        record,
        reader.item_pages(run_id, options.selection),
    );
    let result = match options.mode {
        Mode::Stream => super::stream::run(&mut hub, worker, options, control, notifier),
        Mode::PerItem => per_item(&mut hub, worker, options, control),
    };
    if result.is_err() {
        control.abort();
    }
    let stats = hub.end();
    result.map(|()| stats)
}

/// Per item: a thread per slot, fed through a queue.
fn per_item(
    hub: &mut Hub<'_>,
    worker: &Worker,
    options: &Options,
    control: &Control,
) -> Result<(), WorkError> {
    let (work_tx, work_rx) = crossbeam_channel::bounded::<Item>(slots::queue_capacity(options));
    let (report_tx, report_rx) = crossbeam_channel::unbounded::<Vec<Attempt>>();
    std::thread::scope(|scope| -> Result<(), WorkError> {
        for slot in 1..=options.jobs {
            let (work, reports) = (work_rx.clone(), report_tx.clone());
            let log = slots::log_of(worker, slot);
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
        let result = dispatch(hub, options.jobs, control, &work_tx, &report_rx);
        if result.is_err() {
            control.abort();
        }
        drop(work_tx);
        // Let the slots finish what they hold and pass on their last results.
        for reports in report_rx.iter() {
            reports.into_iter().for_each(|report| hub.handle(report));
        }
        result
    })
}

fn dispatch(
    hub: &mut Hub<'_>,
    jobs: usize,
    control: &Control,
    work: &Sender<Item>,
    reports: &Receiver<Vec<Attempt>>,
) -> Result<(), WorkError> {
    let mut depth = Depth::new(jobs, work.capacity().unwrap_or(0));
    loop {
        if control.stopping() {
            return Ok(());
        }
        let now = Instant::now();
        let next = hub.take(1, now)?.pop();
        if next.is_none() && hub.finished() {
            return Ok(());
        }
        hub.tick();
        // Holding an item means a slot is what it waits for: a retry that is due (this one or
        // another) cannot start before then, and is not a reason to look again at once (that
        // spun a core while a long item held the only slot).
        let wait = hub.wait(now, next.is_none());
        if !exchange(hub, work, reports, next, wait, now, &mut depth) {
            return Ok(()); // every slot is gone
        }
    }
}

/// Within `wait`, hand `next` to a free slot or take reports, whichever comes first (the
/// reports already waiting and a queue below its depth are taken without waiting); an item
/// not taken goes back where it came from. False when every slot is gone.
fn exchange(
    hub: &mut Hub<'_>,
    work: &Sender<Item>,
    reports: &Receiver<Vec<Attempt>>,
    mut next: Option<Item>,
    wait: Duration,
    now: Instant,
    depth: &mut Depth,
) -> bool {
    let Some(handled) = take_waiting(hub, reports, depth) else {
        return false; // every slot is gone
    };
    if let Some(item) = next.take() {
        match offer(hub, work, depth, item, now) {
            None => return true,
            back => next = back,
        }
    }
    if handled {
        hub.put_back(next.into_iter().collect(), now);
        return true;
    }
    // A full queue is not waited on: every item a slot takes ends in a report, and each
    // report wakes this loop, which tops the queue up again; waking for every item taken would
    // cost a context switch each. A queue deep enough for a look's worth of short items is not
    // even woken for reports: it is looked at again after `QUEUE_LOOK`. A queue of no capacity
    // (paced) is waited on.
    let rendezvous = work.capacity() == Some(0);
    if next.is_some() && depth.outlasts_a_look() {
        std::thread::sleep(wait.min(QUEUE_LOOK));
        hub.put_back(next.into_iter().collect(), now);
        return true;
    }
    let mut sel = Select::new();
    let send_at = next.as_ref().filter(|_| rendezvous).map(|_| sel.send(work));
    let wait = if next.is_none() || rendezvous {
        wait
    } else {
        wait.min(QUEUE_LOOK)
    };
    let recv_at = sel.recv(reports);
    match sel.select_timeout(wait) {
        Ok(op) if Some(op.index()) == send_at => {
            if let Some(item) = next.take() {
                match op.send(work, item) {
                    Ok(()) => hub.started(1, now),
                    Err(e) => next = Some(e.into_inner()),
                }
            }
        }
        Ok(op) if op.index() == recv_at => match op.recv(reports) {
            Ok(batch) => handle(hub, depth, batch),
            Err(_) => return false, // `next` is not recorded: the next resume does it
        },
        Ok(_) | Err(_) => {}
    }
    hub.put_back(next.into_iter().collect(), now);
    true
}

/// The reports already waiting, handled: whether there were any; `None` once every slot is
/// gone.
fn take_waiting(
    hub: &mut Hub<'_>,
    reports: &Receiver<Vec<Attempt>>,
    depth: &mut Depth,
) -> Option<bool> {
    let mut handled = false;
    loop {
        match reports.try_recv() {
            Ok(batch) => {
                handle(hub, depth, batch);
                handled = true;
            }
            Err(TryRecvError::Empty) => return Some(handled),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
}

/// Attempts to the hub, their durations to the queue's depth.
fn handle(hub: &mut Hub<'_>, depth: &mut Depth, batch: Vec<Attempt>) {
    for report in batch {
        depth.seen(report.duration);
        hub.handle(report);
    }
}

/// `item` into the queue if it is below its depth and has room; else the item back.
fn offer(
    hub: &mut Hub<'_>,
    work: &Sender<Item>,
    depth: &Depth,
    item: Item,
    now: Instant,
) -> Option<Item> {
    if work.len() >= depth.target() {
        return Some(item);
    }
    match work.try_send(item) {
        Ok(()) => {
            hub.started(1, now);
            None
        }
        Err(e) => Some(e.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_holds_two_looks_of_short_items_and_one_long_item_a_slot() {
        let ms = Duration::from_millis;
        let mut depth = Depth::new(2, 64);
        // Nothing seen yet: one a slot, and reports are waited on.
        assert_eq!(depth.target(), 2);
        assert!(!depth.outlasts_a_look());
        // 1 ms items: 10 ms of them a slot, and one more.
        depth.seen(ms(1));
        assert_eq!(depth.target(), 22);
        assert!(depth.outlasts_a_look());
        // Items of 50 ms, once the mean has moved there: one a slot again.
        for _ in 0..40 {
            depth.seen(ms(50));
        }
        assert_eq!(depth.target(), 2);
        assert!(!depth.outlasts_a_look());
        // Instant items never ask for more than the queue's room.
        depth.seen(Duration::ZERO);
        for _ in 0..40 {
            depth.seen(Duration::ZERO);
        }
        assert_eq!(depth.target(), 64);
        // A paced pass (no room at all) is always waited on.
        let mut paced = Depth::new(2, 0);
        paced.seen(Duration::ZERO);
        assert_eq!(paced.target(), 1);
        assert!(!paced.outlasts_a_look());
    }
}
