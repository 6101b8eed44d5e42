//! The slot threads: each takes items from the dispatcher and reports every attempt back,
//! through a stream worker (`stream.rs`) or one process per item (`per_item.rs`).

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::progress::Notifier;
use super::{Attempt, Control, Item, Mode, Options, Outcome, Worker};

/// The slot's worker log, `<logs>/worker-<slot>.log`, appended to; none if it cannot be opened.
/// A symlink planted in its place is not followed (project folders are often group-writable).
pub(super) fn open_log(worker: &Worker, slot: usize) -> Option<std::fs::File> {
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

#[allow(clippy::too_many_arguments)]
/// One slot's thread: a stream worker kept for the whole pass, or a per-item worker started for
/// each item it takes; at a stop, the items still coming are handed back as abandoned.
pub(super) fn run_slot(
    worker: &Worker,
    options: &Options,
    control: &Control,
    slot: usize,
    work: &Receiver<Item>,
    reports: &Sender<Attempt>,
    mut log: Option<std::fs::File>,
    notifier: Notifier,
) {
    match options.mode {
        Mode::Stream => super::stream::Slot {
            worker,
            slot,
            window: options.window.max(1),
            timeout: options.timeout,
            control,
            work,
            reports,
            log,
            notifier,
        }
        .run(),
        Mode::PerItem => {
            for item in work.iter() {
                if control.stopping() {
                    let now = crate::store::now_text();
                    let _ = reports.send(Attempt::new(
                        item,
                        Outcome::Abandoned,
                        Instant::now(),
                        now,
                        slot,
                    ));
                    continue;
                }
                let (attempt, fatal) = super::per_item::attempt(
                    worker,
                    item,
                    slot,
                    options.timeout,
                    control,
                    &mut log,
                );
                let _ = reports.send(attempt);
                if let Some(message) = fatal {
                    control.fail(message);
                }
            }
        }
    }
}
