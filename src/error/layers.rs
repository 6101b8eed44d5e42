//! How each layer's errors reach the user: the exit code's [`Kind`] and the hints, chosen by
//! the error's variant (never by its text). One `From` impl per layer error.

use std::io;

use super::{CliError, Kind};

impl From<crate::project::ProjectError> for CliError {
    fn from(err: crate::project::ProjectError) -> Self {
        use crate::project::ProjectError;
        match &err {
            ProjectError::Malformed { .. } => CliError::general(format!(
                "malformed settings: {err}"
            ))
            .hint("fix the file; 'runctl init' in an empty folder writes a commented example"),
            ProjectError::RootMissing(_) => CliError::not_found(err.to_string()),
            ProjectError::NotARunFolder { .. } => CliError::general(err.to_string())
                .hint("name a folder for run folders, such as \"outputs\" or \"runs/outputs\""),
            ProjectError::Outside { .. } => CliError::general(format!("{err}; refusing to write there"))
                .hint("keep run folders inside the project, or set paths.allow_outside = true in runctl.toml if that is meant"),
            ProjectError::ArchiveInRuns { .. } => CliError::general(err.to_string())
                .hint("use the default \"outputs/.archive\", or a folder of its own such as \"archive\""),
            ProjectError::Io { .. } => CliError::general(err.to_string()),
        }
    }
}

impl From<crate::store::LocationError> for CliError {
    fn from(err: crate::store::LocationError) -> Self {
        use crate::store::LocationError;
        let env = crate::store::DATABASE_URL_ENV;
        match err {
            LocationError::NotAUrl { .. } => CliError::general(err.to_string()).hint(format!(
                "a PostgreSQL store is named like postgres://user@host:5432/dbname; unset {env} and empty store.url to use .runctl/state.db"
            )),
            LocationError::PasswordInSettings { .. } => CliError::general(format!("{err}; refusing it"))
                .hint(format!("remove the password from runctl.toml; give it in {env} (an environment variable, never committed) or in PGPASSWORD")),
            LocationError::NotAStore { .. } => CliError::usage(err.to_string())
                .hint("name a PostgreSQL database as postgres://user@host:5432/dbname, or a new SQLite file as sqlite:PATH"),
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let message = err.to_string();
        const KEEP: &str = "do not delete the file: it holds this project's run history";
        match err {
            StoreError::NotADatabase { .. } | StoreError::Corrupt { .. } => {
                CliError::general(message)
                    .hint("restore it from a state.db.bak-* beside it, or move it aside to start afresh")
                    .hint(KEEP)
            }
            StoreError::ReadOnly { .. } => CliError::general(message)
                .hint("check that .runctl/ and the files in it are writable by you; read commands (list, show, export) work on a read-only project"),
            StoreError::WalUnreadable { path } => CliError::general(message).hint(format!(
                "someone who may write to that folder can fold the -wal into the DB (sqlite3 '{}' 'PRAGMA wal_checkpoint(TRUNCATE)'), or read a copy of the project",
                crate::text::printable(&path.to_string_lossy())
            )),
            StoreError::NotRegular { .. } => CliError::general(message)
                .hint("runctl keeps its state in a regular file .runctl/state.db; move what is there aside"),
            StoreError::NewerSchema { .. } => CliError::general(format!("{message}; refusing to touch it"))
                .hint("upgrade runctl to a version that knows this schema")
                .hint(KEEP),
            StoreError::Foreign { .. } => CliError::general(format!("{message}; it is not a runctl state file"))
                .hint("runctl keeps its state in .runctl/state.db, or in a PostgreSQL database of its own: move this one aside, or name an empty database"),
            StoreError::Divergent { .. } => CliError::general(message)
                .hint("this DB was migrated by a different build of runctl; use that build, or restore a backup")
                .hint(KEEP),
            StoreError::Busy => CliError::conflict(message)
                .hint("wait for the other runctl command to finish, then try again"),
            StoreError::Collision { .. } => CliError::conflict(message)
                .hint("use --length 12 (or set hashing.length) for longer, collision-safe hashes"),
            StoreError::Migration { .. } => CliError::general(message)
                .hint("the database is unchanged: all migrations run in one transaction"),
            StoreError::Write { .. } => CliError::general(message).hint(
                "the disk (or a file-size limit) may be full: make room and run the command again; \
                 what was committed before is kept",
            ),
            StoreError::NetworkFs { .. } => CliError::conflict(message)
                .hint("keep .runctl/ on a local disk (it may be a symlink to one); or, if only one host ever uses this project, set allow_network_fs = true under [store] in runctl.toml"),
            StoreError::Connect { .. } => CliError::general(message).hint(format!(
                "check the URL in {} or store.url, that the server runs, and that it lets you in (a password goes in the URL of {}, in PGPASSWORD or in ~/.pgpass, never in runctl.toml)",
                crate::store::DATABASE_URL_ENV,
                crate::store::DATABASE_URL_ENV
            )),
            StoreError::NoPostgresSupport => CliError::general(message).hint(
                "install a runctl built with its default features (cargo install --path . does)",
            ),
            StoreError::Disconnected { .. } => CliError::general(message).hint(
                "check that the server runs and lets you in; what was recorded is kept, and 'runctl resume' goes on where it stopped",
            ),
            StoreError::OtherPass { .. } => CliError::conflict(message).hint(
                "join it with the same selection, or wait until they are done",
            ),
            StoreError::NotOnPostgres => CliError::general(message).hint(format!(
                "unset {} and store.url to use .runctl/state.db",
                crate::store::DATABASE_URL_ENV
            )),
            StoreError::Io { .. } | StoreError::Sqlite { .. } => CliError::general(message),
        }
    }
}

impl From<crate::work::WorkError> for CliError {
    fn from(e: crate::work::WorkError) -> Self {
        match e {
            crate::work::WorkError::Store(e) => e.into(),
            other => CliError::general(other.to_string()),
        }
    }
}

impl From<crate::lock::LockError> for CliError {
    fn from(err: crate::lock::LockError) -> Self {
        use crate::lock::LockError;
        const REMAKE: &str =
            "remove it; runctl makes a new lock file when the run is next worked on";
        match err {
            LockError::NotRegular { .. } | LockError::Linked { .. } => {
                CliError::chain(Kind::General, &err).hint(REMAKE)
            }
            LockError::Held { .. } => CliError::chain(Kind::Conflict, &err).hint(
                "wait for it to finish (the lock is released as soon as that process ends, even if it is killed); on SQLite one process works a run: for many processes or hosts on one run, use a PostgreSQL store (docs/cluster.md)",
            ),
            LockError::Io(_) => CliError::chain(Kind::General, &err),
        }
    }
}

impl From<crate::state_copy::StateCopyError> for CliError {
    fn from(err: crate::state_copy::StateCopyError) -> Self {
        use crate::state_copy::StateCopyError;
        use crate::store::{CopyError, StoreError};
        const UNCHANGED: &str =
            "the target is as it was (the copy is one transaction): run the copy again";
        const EMPTY: &str = "copy into an empty database (createdb a new one), or name another";
        match err {
            StateCopyError::Exists { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("name a file that does not exist yet: store copy never writes over a database"),
            StateCopyError::Create { .. } => CliError::general(err.to_string()),
            StateCopyError::Worked { leased: true, .. } => CliError::chain(Kind::Conflict, &err).hint(
                "copy once the pass has ended ('runctl show RUN' lists its members); a process of another host that was killed counts as live until its lease (60 s by default) has passed since its last heartbeat",
            ),
            StateCopyError::Worked { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("copy once that process has ended (or stop it: what it recorded is kept)"),
            StateCopyError::Target(StoreError::Connect { .. }) => CliError::general(err.to_string())
                .hint("check the URL given to --to, that the server runs, and that it lets you in (a password in ~/.pgpass or PGPASSWORD)"),
            StateCopyError::Target(
                StoreError::NewerSchema { .. } | StoreError::Foreign { .. } | StoreError::Divergent { .. },
            ) => CliError::general(err.to_string()).hint(EMPTY),
            StateCopyError::Target(e) => e.into(),
            StateCopyError::Copy(CopyError::Store(e)) => CliError::general(e.to_string()).hint(UNCHANGED),
            StateCopyError::Copy(CopyError::NotEmpty { .. }) => CliError::chain(Kind::Conflict, &err)
                .hint(format!("{EMPTY}; nothing was written")),
            StateCopyError::Copy(CopyError::Version { of_source: true, .. }) => {
                CliError::chain(Kind::General, &err).hint("run 'runctl migrate' first")
            }
            StateCopyError::Copy(CopyError::Version { .. }) => {
                CliError::chain(Kind::General, &err).hint(EMPTY)
            }
            StateCopyError::Copy(CopyError::Value { .. }) => {
                CliError::chain(Kind::General, &err).hint("the target is as it was: the copy is one transaction")
            }
        }
    }
}

impl From<crate::runs::RunsError> for CliError {
    fn from(err: crate::runs::RunsError) -> Self {
        use crate::runs::RunsError;
        match err {
            RunsError::IndexTaken { removed: true, .. } => CliError::chain(Kind::Conflict, &err)
                .hint("drop --run-index / FORCE_RUN_INDEX for the next free number; --force gives the removed run's name to a new run anyway"),
            RunsError::IndexTaken { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("drop --run-index / FORCE_RUN_INDEX for the next free number, or add --force to take the name (the old run is kept and its folder moved aside)"),
            RunsError::FolderExists { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("runctl never reuses a run folder; try again for the next number"),
            RunsError::CannotStart { ref source, ref run, .. } => {
                let kind = if source.kind() == io::ErrorKind::NotFound {
                    Kind::CommandNotFound
                } else {
                    Kind::CannotExecute
                };
                let hint = format!("the run {run} is recorded as failed");
                CliError::chain(kind, &err).hint(hint)
            }
            RunsError::Io(_) | RunsError::Randomness(_) => CliError::chain(Kind::General, &err),
            RunsError::Project(e) => e.into(),
            RunsError::Store(e) => e.into(),
        }
    }
}

impl From<crate::work::PrepareError> for CliError {
    fn from(err: crate::work::PrepareError) -> Self {
        use crate::work::PrepareError as E;
        let message = err.to_string();
        match err {
            E::NoItems { .. } => CliError::usage(message).hint(
                "make a run with items with 'runctl new --source FILE --key COLUMN -- CMD'",
            ),
            E::Completed { run, .. } => CliError::conflict(message)
                .hint(format!("'runctl export {run}' writes its results")),
            E::Drift { .. } => CliError::conflict(message)
                .hint("the run's items are the ones ingested; pass --allow-drift to go on with them, or make a new run with 'runctl new --source FILE'"),
            E::SettingsUnreadable { run, .. } => CliError::usage(message).hint(format!(
                "give the worker and its flags again: 'runctl resume {run} -j N -- CMD'"
            )),
            E::SettingsInvalid { .. } => CliError::usage(message).hint(
                "give the flag again on this resume (--rate, --timeout, --retry-delay, -j, --window) to replace it",
            ),
            E::NoCommand { run } => CliError::usage(message).hint(format!(
                "give one after --: 'runctl resume {run} -- python worker.py'"
            )),
            E::Program { code, .. } => {
                let kind = if code == 127 {
                    Kind::CommandNotFound
                } else {
                    Kind::CannotExecute
                };
                CliError::new(kind, message)
                    .hint("give the worker's path (./worker.sh) or check PATH; no run was started")
            }
            E::Source(e) => e.into(),
            // A config that cannot be read, even a missing one, is a general error here.
            E::Config(_) => CliError::general(message),
            E::Lock(e) => e.into(),
            E::Project(e) => e.into(),
            E::Store(e) => e.into(),
            E::Work(e) => e.into(),
            E::Json(e) => e.into(),
        }
    }
}

impl From<crate::legacy_runs::LegacyError> for CliError {
    fn from(err: crate::legacy_runs::LegacyError) -> Self {
        use crate::legacy_runs::LegacyError;
        match err {
            LegacyError::NameTaken { .. } => CliError::chain(Kind::Conflict, &err),
            LegacyError::Io(_) | LegacyError::Randomness(_) => CliError::chain(Kind::General, &err),
            LegacyError::Runs(e) => e.into(),
            LegacyError::Store(e) => e.into(),
        }
    }
}

impl From<crate::source::SourceError> for CliError {
    /// Its message names the file and what went wrong with it (the I/O error included).
    fn from(err: crate::source::SourceError) -> Self {
        CliError::general(err.to_string())
    }
}

impl From<crate::runs::cleanup::CleanupError> for CliError {
    fn from(err: crate::runs::cleanup::CleanupError) -> Self {
        use crate::runs::cleanup::CleanupError;
        match err {
            CleanupError::Held { .. } => CliError::chain(Kind::Conflict, &err).hint(
                "wait for it to finish, or stop it (Ctrl-C, or kill its pid), then try again",
            ),
            CleanupError::InArchive { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("move that folder out of the archive first; runctl never overwrites one"),
            CleanupError::Shared { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("'runctl show' both runs; remove the folder by hand if it is neither's"),
            CleanupError::Gone { .. } => CliError::chain(Kind::NotFound, &err),
            CleanupError::Changed { .. } => CliError::chain(Kind::Conflict, &err)
                .hint("run the command again: it shows what it would do now"),
            CleanupError::CrossDevice { .. } => CliError::chain(Kind::General, &err)
                .hint("set paths.archive in runctl.toml to a folder on the same filesystem as the run folders"),
            CleanupError::Lock(e) => e.into(),
            CleanupError::Runs(e) => e.into(),
        }
    }
}
