//! The one error type the CLI reports, its exit codes, and the one place that prints it.
//!
//! Layers below (`store`, `project`, pure modules) have their own `thiserror` enums; they convert
//! into [`CliError`] here, which carries a [`Kind`] (mapped to DESIGN.md's exit codes), a message,
//! the chain of causes and optional hints. Nothing else in runctl prints an `error:` line.

use std::fmt;
use std::io::{self, Write};

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit 1: anything that is not one of the kinds below.
    General,
    /// Exit 2: the command line itself is wrong.
    Usage,
    /// Exit 3: a name or index is taken, a lock is held, a checksum drifted, a hash collided.
    Conflict,
    /// Exit 4: the run, file, hash or plugin asked for does not exist.
    NotFound,
    /// Exit 130: the user pressed Ctrl-C.
    Interrupted,
    /// Exit 126: a command to run is there but cannot be executed (as a shell reports it).
    CannotExecute,
    /// Exit 127: a command to run is not there (as a shell reports it).
    CommandNotFound,
    /// stdout was closed by the reader (`runctl plugins | head -1`): exit 0, print nothing.
    BrokenPipe,
}

impl Kind {
    /// The process exit code for this kind, as DESIGN.md section 2 fixes it.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::General => 1,
            Kind::Usage => 2,
            Kind::Conflict => 3,
            Kind::NotFound => 4,
            Kind::Interrupted => 130,
            Kind::CannotExecute => 126,
            Kind::CommandNotFound => 127,
            Kind::BrokenPipe => 0,
        }
    }
}

/// An error on its way to the user: `error: <message>`, then `caused by:` and `hint:` lines.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// An error of a layer below, as `kind`: its message, then each error of its source
    /// chain as a `caused by:` line.
    pub fn chain(kind: Kind, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut out = Self::new(kind, err.to_string());
        let mut source = err.source();
        while let Some(cause) = source {
            out.causes.push(cause.to_string());
            source = cause.source();
        }
        out
    }

    pub fn general(message: impl Into<String>) -> Self {
        Self::new(Kind::General, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }

    pub fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "interrupted")
    }

    /// An I/O failure while doing `what` on `path`; a closed stdout becomes [`Kind::BrokenPipe`].
    pub fn io(what: impl fmt::Display, path: &std::path::Path, err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(format!("cannot {what} {}", path.display())).cause(err)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// Print the error to stderr, coloured when `color` is true. Quiet for a broken pipe.
    pub fn report(&self, color: bool) {
        if self.kind == Kind::BrokenPipe {
            return;
        }
        let mut err = io::stderr().lock();
        let (red, yellow, reset) = if color {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            let yellow = anstyle::AnsiColor::Yellow.on_default().bold();
            (
                red.render().to_string(),
                yellow.render().to_string(),
                anstyle::Reset.render().to_string(),
            )
        } else {
            (String::new(), String::new(), String::new())
        };
        // Ignore failures: there is nowhere left to report them.
        // A message may quote what it was given (a path, a name): nothing in it drives the
        // terminal.
        let shown = crate::text::printable_lines;
        let _ = writeln!(err, "{red}error:{reset} {}", shown(&self.message));
        for cause in &self.causes {
            let _ = writeln!(err, "caused by: {}", shown(cause));
        }
        for hint in &self.hints {
            let _ = writeln!(err, "{yellow}hint:{reset} {}", shown(hint));
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(err.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(err: serde_json::Error) -> Self {
        if err.io_error_kind() == Some(io::ErrorKind::BrokenPipe) {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(format!("cannot write JSON: {err}"))
    }
}

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
            ProjectError::Io { .. } => CliError::general(err.to_string()),
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
            StoreError::WalUnreadable { .. } => CliError::general(message)
                .hint("let one runctl command write there once (it folds the -wal into the DB), or read a copy of the project"),
            StoreError::NotRegular { .. } => CliError::general(message)
                .hint("runctl keeps its state in a regular file .runctl/state.db; move what is there aside"),
            StoreError::NewerSchema { .. } => CliError::general(format!("{message}; refusing to touch it"))
                .hint("upgrade runctl to a version that knows this schema")
                .hint(KEEP),
            StoreError::Foreign { .. } => CliError::general(format!("{message}; it is not a runctl state file"))
                .hint("move it aside; runctl keeps its state in .runctl/state.db"),
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
            StoreError::Io { .. } | StoreError::Sqlite { .. } => CliError::general(message),
        }
    }
}

/// Replace Rust's panic message (and any backtrace that `RUST_BACKTRACE` would add) by one
/// `error:` line. A panic is a bug in runctl; the user gets a clear line, never a trace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {payload}{location}");
        eprintln!(
            "hint: this is a bug in runctl; please report it with the command that caused it"
        );
    }));
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
                "wait for it to finish; the lock is released as soon as that process ends, even if it is killed",
            ),
            LockError::Io { .. } => CliError::chain(Kind::General, &err),
        }
    }
}

impl From<crate::runs::RunsError> for CliError {
    fn from(err: crate::runs::RunsError) -> Self {
        use crate::runs::RunsError;
        match err {
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
            RunsError::Io { .. } | RunsError::Randomness(_) => CliError::chain(Kind::General, &err),
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
            // Their messages say all (as one line each, the way they always read).
            E::Source(_) | E::Config(_) => CliError::general(message),
            E::Lock(e) => e.into(),
            E::Project(e) => e.into(),
            E::Store(e) => e.into(),
            E::Work(e) => e.into(),
        }
    }
}
