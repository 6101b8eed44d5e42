//! The dispatcher of a pass. Per item, the slots are threads (`slots.rs`, `per_item.rs`) that
//! take items from a queue and report every attempt back; the dispatcher feeds the queue from
//! the hub (`hub.rs`) and hands the reports to it. With `--stream`, one thread runs the hub and
//! every worker (`stream.rs`). Neither writes to the DB: the recorder does.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender};

use super::hub::{Hub, Stats};
use super::progress::Notifier;
use super::recorder::Final;
use super::slots::{self, SlotContext};
use super::{Attempt, Control, Item, Mode, Options, WorkError, Worker};
use crate::store::Store;

/// How long a full queue is left alone without a report before it is looked at again.
const QUEUE_LOOK: Duration = Duration::from_millis(5);

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
        let result = dispatch(hub, control, &work_tx, &report_rx);
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
    control: &Control,
    work: &Sender<Item>,
    reports: &Receiver<Vec<Attempt>>,
) -> Result<(), WorkError> {
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
        let wait = hub.wait(now, true);
        if !exchange(hub, work, reports, next, wait, now) {
            return Ok(()); // every slot is gone
        }
    }
}

/// Within `wait`, hand `next` to a free slot or take reports, whichever comes first (the
/// reports already waiting and a queue with room are taken without waiting); an item not
/// taken goes back where it came from. False when every slot is gone.
fn exchange(
    hub: &mut Hub<'_>,
    work: &Sender<Item>,
    reports: &Receiver<Vec<Attempt>>,
    mut next: Option<Item>,
    wait: Duration,
    now: Instant,
) -> bool {
    let mut handled = false;
    while let Ok(batch) = reports.try_recv() {
        batch.into_iter().for_each(|report| hub.handle(report));
        handled = true;
    }
    if let Some(item) = next.take() {
        match work.try_send(item) {
            Ok(()) => {
                hub.started(1, now);
                return true;
            }
            Err(e) => next = Some(e.into_inner()),
        }
    }
    if handled {
        hub.put_back(next.into_iter().collect(), now);
        return true;
    }
    // A full queue is not waited on: every item a slot takes ends in a report, and each
    // report wakes this loop, which tops the queue up again; waking for every item taken would
    // cost a context switch each. A queue of no capacity (paced) is waited on.
    let rendezvous = work.capacity() == Some(0);
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
            Ok(batch) => batch.into_iter().for_each(|report| hub.handle(report)),
            Err(_) => return false, // `next` is not recorded: the next resume does it
        },
        Ok(_) | Err(_) => {}
    }
    hub.put_back(next.into_iter().collect(), now);
    true
}
