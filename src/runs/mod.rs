//! Runs as a domain: choosing a new run's name ([`plan`]), making its folders and pointers
//! ([`folders`]), the one operation that does all of it with its record ([`allocate`]), the
//! runtime metadata a run's processes get, and running a run's own command.
//!
//! Everything here runs inside the store's allocation transaction (see
//! [`crate::store::Allocation`]). SQL stays in the store and the terminal in the CLI: this
//! layer returns what happened (the row, the plan, warnings) and typed errors ([`RunsError`]);
//! the CLI renders them.

mod allocate;
pub mod annotations;
pub mod cleanup;
mod command;
mod counter;
mod folders;
mod metadata;
mod plan;
pub mod tee;

use std::path::PathBuf;

pub use allocate::{AllocateError, Allocated, Clock, NewRun, allocate};
pub use command::{Ended, Logging, run_command};
pub use folders::{make_folders, move_aside, update_pointers};
pub use metadata::{RunDirs, metadata, metadata_env, prefix_of};
pub use plan::{Layout, NameRequest, Plan, plan};

use crate::store::StoreError;

/// Why a run could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("run index {number} is taken: the name {name} belongs to {holder}")]
    IndexTaken {
        number: u32,
        name: String,
        holder: String,
        /// The name belonged to a run `runctl rm` deleted (nothing is there to keep aside).
        removed: bool,
    },
    #[error("{} already exists", path.display())]
    FolderExists { path: PathBuf },
    #[error(transparent)]
    Io(#[from] crate::io_error::IoError),
    #[error("cannot run {}", program.display())]
    CannotStart {
        program: PathBuf,
        /// The run, recorded as failed.
        run: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error("cannot read randomness from the OS: {0}")]
    Randomness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = RunsError> = std::result::Result<T, E>;

use crate::io_error::io;
