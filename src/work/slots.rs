//! The per-item slot threads: each takes items from the dispatcher and reports every attempt
//! back, one process per item (`per_item.rs`). A slot's [`SlotContext`] is what it works with.
//! Every slot's worker log (per item and stream) is opened here.

use crossbeam_channel::{Receiver, Sender};

use super::{Attempt, Control, Item, Moment, Options, Outcome, Worker};

/// The most items queued ahead of the slots.
const MAX_QUEUE: usize = 1 << 16;

/// The most items queued per slot: room for the dispatcher to keep a few milliseconds of
/// short items queued (`dispatch::Depth` decides how many it does keep).
const QUEUED_PER_SLOT: usize = 32;

/// The queue ahead of the slots: room for [`QUEUED_PER_SLOT`] items a slot, but never more than
/// the items there are, nor a size that costs memory up front (crossbeam allocates it whole).
pub(super) fn queue_capacity(options: &Options) -> usize {
    if options.rate.is_some() {
        return 0;
    }
    let total = usize::try_from(options.total).unwrap_or(usize::MAX);
    options
        .jobs
        .saturating_mul(QUEUED_PER_SLOT)
        .min(total.max(1))
        .min(MAX_QUEUE)
}

/// What one slot's thread works with.
pub(super) struct SlotContext<'a> {
    pub worker: &'a Worker,
    pub options: &'a Options,
    pub control: &'a Control,
    /// 1, 2, ...: the worker's `RUNCTL_WORKER_ID`.
    pub slot: usize,
    pub work: &'a Receiver<Item>,
    pub reports: &'a Sender<Vec<Attempt>>,
    /// The slot's worker log, when it is kept.
    pub log: Option<std::fs::File>,
}

impl SlotContext<'_> {
    /// The slot's thread: a per-item worker started for each item it takes.
    pub fn run(self) {
        super::per_item::run(self);
    }

    /// Pass an attempt back to the dispatcher.
    pub fn report(&self, attempt: Attempt) {
        let _ = self.reports.send(vec![attempt]);
    }

    /// Hand `item` back unstarted (at a stop): a first attempt is not recorded, so the next
    /// resume does it; a retry waits with the others and is recorded with its last error.
    pub fn hand_back(&self, item: Item) {
        let now = Moment::now();
        self.report(Attempt::new(
            item,
            Outcome::NotStarted,
            &now,
            &now,
            self.slot,
        ));
    }
}

/// The slot's worker log, `<logs>/worker-<slot>.log`, appended to. When it cannot be opened,
/// that is said once (a symlink or hard link planted at the log's name is refused, as is a
/// folder that cannot be written) and the slot's stderr is not kept.
pub(super) fn log_of(worker: &Worker, slot: usize) -> Option<std::fs::File> {
    let log = open_log(worker, slot);
    if let (None, Some(dir)) = (&log, &worker.log_dir) {
        crate::say!(
            "warning: {} cannot be written; the stderr of slot {slot}'s worker is not kept",
            crate::text::printable(&dir.join(format!("worker-{slot}.log")).to_string_lossy())
        );
    }
    log
}

/// The log itself; none if it cannot be opened. A symlink planted in its place is not followed
/// (project folders are often group-writable).
fn open_log(worker: &Worker, slot: usize) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = worker.log_dir.as_ref()?;
    if !dir.is_dir() {
        std::fs::create_dir(dir).ok()?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(dir.join(format!("worker-{slot}.log")))
        .ok()?;
    // Nor a hard link to another file: a log runctl made has one name.
    use std::os::unix::fs::MetadataExt;
    (file.metadata().ok()?.nlink() == 1).then_some(file)
}
