//! The engine's errors: what stops a pass (a worker command that cannot run, one that keeps
//! dying, the run's lock lost) and what keeps one from starting or from being recorded. The
//! texts are the messages the user reads; the CLI matches the variants.

use crate::store::{RecordError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A thread (or the signal watch) of the pass could not be started.
    #[error("cannot {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The recorder thread panicked.
    #[error("the recorder thread stopped")]
    RecorderStopped,
    /// A result for a key that is not an item of the run.
    #[error("'{key}' is not an item of this run")]
    UnknownItem { key: String },
    /// The worker command is missing or not executable: no item can ever start.
    #[error("cannot run {program}: {source}")]
    CannotRun {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// A stream worker died (or broke the protocol) `times` times in a row before answering
    /// any item.
    #[error("the worker failed {times} times in a row before answering any item ({last})")]
    KeepsDying {
        times: u32,
        /// What its last death said.
        last: String,
    },
    /// No stream worker could be started (each slot gave up after failed starts).
    #[error("no worker could be started (each slot tried 3 times; see the warnings above)")]
    CannotStart,
    /// The run's lock could not be kept (what the lock said).
    #[error("lost the run's lock: {0}")]
    LostLock(String),
    /// This member's heartbeat was not renewed within the lease (it was stopped, or could not
    /// reach the database): the other members may hold its items now.
    #[error(
        "this process lost its lease on the run's items (no heartbeat within {}); the other processes working the run carry on",
        crate::work::progress::text::duration(*lease)
    )]
    LostLease { lease: std::time::Duration },
}

impl WorkError {
    /// Whether the items in flight must be killed at once: their results could not be
    /// recorded, and other processes may be running them.
    pub fn kills_in_flight(&self) -> bool {
        matches!(self, WorkError::LostLease { .. })
    }
}

impl From<RecordError> for WorkError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::UnknownItem { key } => WorkError::UnknownItem { key },
            RecordError::Store(e) => WorkError::Store(e),
        }
    }
}
