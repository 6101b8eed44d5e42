//! `work::prepare` and `work::start`: everything between "resume this run" and the engine's
//! first item. Prepare checks the run (it has items, it is not completed, its source did not
//! drift, the given config), takes the run's lock, settles the work settings (stored ones with
//! the given ones laid over), finds the worker program once, and counts the selection; start
//! records the pass's start and runs it with the lock kept.
//!
//! Warnings go to a callback as they happen, so they reach the user in order even when a later
//! check fails. Errors are [`PrepareError`]; the CLI renders both.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::start::Hold;
use super::{Mode, Options, WorkError, WorkSettings, Worker};
use crate::lock::LockError;
use crate::project::{Project, ProjectError};
use crate::runs::{RunDirs, metadata_env};
use crate::state::RunStatus;
use crate::store::{Progress, RunRow, Selection, SourceRow, Store, StoreError};

/// Why a pass cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("run {run} has no work items")]
    NoItems { run: String },
    #[error("run {run} is completed: all {n_items} items are ok")]
    Completed { run: String, n_items: i64 },
    #[error(
        "input drift: {path} changed since it was ingested (sha256 {sha256_then} then, {sha256_now} now; md5 {md5_then} then, {md5_now} now)"
    )]
    Drift {
        path: String,
        sha256_then: String,
        sha256_now: String,
        md5_then: String,
        md5_now: String,
    },
    #[error("the work settings stored with run {run} cannot be read: {detail}")]
    SettingsUnreadable { run: String, detail: String },
    #[error("run {run}: {detail}")]
    SettingsInvalid { run: String, detail: String },
    #[error("run {run} has no worker command")]
    NoCommand { run: String },
    #[error("cannot run {program}: {why}")]
    Program {
        program: String,
        why: &'static str,
        /// As a shell reports it: 127 when it is not there, 126 when it cannot be run.
        code: u8,
    },
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error(transparent)]
    Config(#[from] crate::pipeline_config::ConfigError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Work(#[from] WorkError),
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub(super) type Result<T, E = PrepareError> = std::result::Result<T, E>;

/// What a pass was asked to do.
#[derive(Debug, Clone)]
pub struct PassRequest {
    /// The settings given now (flags and command); laid over the stored ones.
    pub given: WorkSettings,
    /// Only the failed items (`--retry-errors`), not the remaining ones.
    pub retry_errors: bool,
    /// Go on when the source changed since it was ingested (`--allow-drift`).
    pub allow_drift: bool,
    /// A pipeline config to compare with the run's stored one.
    pub config: Option<PathBuf>,
    /// How long items in flight may go on after the first SIGINT/SIGTERM.
    pub grace: Duration,
    /// The progress display to use.
    pub progress: super::progress::Style,
    /// On a store many processes share: how long a member's heartbeat may go unrenewed
    /// before the others claim its items.
    pub lease: Duration,
}

/// A run checked, locked and ready for a pass.
#[derive(Debug)]
pub struct Prepared {
    pub run: RunRow,
    pub source: SourceRow,
    pub settings: WorkSettings,
    pub worker: Worker,
    pub hold: Hold,
    /// The run's counters before the pass.
    pub before: Progress,
    pub selection: Selection,
    /// How many items the selection holds.
    pub selected: u64,
}

/// Check, lock and settle a pass over `run`: see the module doc.
pub fn prepare(
    store: &Store,
    project: &Project,
    run: RunRow,
    request: &PassRequest,
    cwd: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<Prepared> {
    let source = store
        .source_of_run(&run.id)?
        .ok_or_else(|| PrepareError::NoItems {
            run: run.name.clone(),
        })?;
    if run.status.known() == Some(RunStatus::Completed) {
        return Err(PrepareError::Completed {
            run: run.name.clone(),
            n_items: source.n_items,
        });
    }
    check_drift(&source, request.allow_drift, warn)?;
    if let Some(path) = &request.config {
        check_config(&run, path, warn)?;
    }
    let settings = settings_of(store, &run, request)?;
    let selection = match request.retry_errors {
        true => Selection::Errors,
        false => Selection::Remaining,
    };
    let hold = hold_run(store, project, &run, &settings, selection, request.lease)?;
    let dirs = RunDirs::of(project, &run)?;
    // settings_of refuses an empty command, so there is a program.
    let mut argv = resolve_program(&settings.command, cwd)?.into_iter();
    let worker = Worker {
        program: argv.next().unwrap_or_default(),
        args: argv.collect(),
        env: metadata_env(&run, &dirs),
        log_dir: Some(dirs.logs),
    };
    let stored = serde_json::to_string(&settings)?;
    store.set_run_work(&run.id, &stored)?;
    let before = store.refresh_progress(&run.id)?;
    let selected = match selection {
        Selection::Errors => before.n_errors,
        _ => before.remaining(),
    };
    Ok(Prepared {
        run,
        source,
        settings,
        worker,
        hold,
        before,
        selection,
        selected: u64::try_from(selected).unwrap_or(0),
    })
}

/// The engine's options for a prepared pass: the settings with their defaults, and no more
/// slots than items (each slot is a thread, and a worker process in stream mode).
pub fn options(prepared: &Prepared, request: &PassRequest) -> Options {
    let settings = &prepared.settings;
    let total = prepared.selected;
    let jobs = settings
        .jobs
        .unwrap_or_else(cpus)
        .max(1)
        .min(usize::try_from(total).unwrap_or(usize::MAX).max(1));
    Options {
        jobs,
        mode: settings.mode.unwrap_or(Mode::PerItem),
        window: settings.window.unwrap_or(1).max(1),
        timeout: settings.timeout_ms.map(Duration::from_millis),
        retries: settings.retries.unwrap_or(0),
        retry_delay: Duration::from_millis(settings.retry_delay_ms.unwrap_or(1000)),
        rate: settings.rate,
        grace: request.grace,
        selection: prepared.selection,
        progress: request.progress,
        total,
    }
}

/// Hold the run for a pass: join it as a member on a store many processes share, else take
/// its lock.
fn hold_run(
    store: &Store,
    project: &Project,
    run: &RunRow,
    settings: &WorkSettings,
    selection: Selection,
    lease: Duration,
) -> Result<Hold> {
    let join = crate::store::JoinRequest {
        host: crate::lock::host_name(),
        pid: std::process::id(),
        jobs: settings.jobs.unwrap_or_else(cpus),
        window: settings.window.unwrap_or(1).max(1),
        selection,
        lease,
    };
    Ok(match store.join_run(&run.id, &join)? {
        Some(member) => Hold::Member(member),
        None => Hold::Lock(crate::lock::lock_run(
            &project.state_dir().join("locks"),
            &run.id,
            &run.name,
        )?),
    })
}

/// The CPUs of this machine: the default number of slots.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The run's work settings: those stored when it started (or, for a run from before they were
/// stored, its command), with the ones given now laid over them.
fn settings_of(store: &Store, run: &RunRow, request: &PassRequest) -> Result<WorkSettings> {
    let stored = store.run_work(&run.id)?.map(|text| {
        serde_json::from_str::<WorkSettings>(&text).map_err(|e| PrepareError::SettingsUnreadable {
            run: run.name.clone(),
            detail: e.to_string(),
        })
    });
    let stored: WorkSettings = match stored {
        Some(Ok(settings)) => settings,
        Some(Err(e)) if request.given.command.is_empty() => return Err(e),
        // Given again on this pass: the unreadable ones are replaced.
        Some(Err(_)) => WorkSettings::default(),
        None => WorkSettings {
            command: run
                .command
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default(),
            ..WorkSettings::default()
        },
    };
    let settings = stored.overlay(&request.given);
    settings
        .check()
        .map_err(|detail| PrepareError::SettingsInvalid {
            run: run.name.clone(),
            detail,
        })?;
    if settings.command.is_empty() {
        return Err(PrepareError::NoCommand {
            run: run.name.clone(),
        });
    }
    Ok(settings)
}

/// The worker command with its program looked up on PATH once, not at each of thousands of
/// starts; a program that is not there (127) or cannot be run (126) is an error before
/// anything starts, as a shell reports it.
pub fn resolve_program(command: &[String], cwd: &Path) -> Result<Vec<OsString>> {
    let mut argv: Vec<OsString> = command.iter().map(OsString::from).collect();
    let Some(program) = argv.first_mut() else {
        return Ok(argv);
    };
    let shown = program.to_string_lossy().into_owned();
    let cannot = |why: &'static str, code: u8| PrepareError::Program {
        program: shown.clone(),
        why,
        code,
    };
    if shown.contains('/') {
        let path = cwd.join(&*program);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && crate::plugins::is_executable(&meta) => Ok(argv),
            Ok(_) => Err(cannot("not an executable file", 126)),
            Err(_) => Err(cannot("no such file", 127)),
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let found = crate::plugins::which(program, &path_var)
        .ok_or_else(|| cannot("no such program on PATH", 127))?;
    *program = found.into_os_string();
    Ok(argv)
}

/// An error when the source file changed since it was ingested, unless allowed (then a
/// warning). A moved or deleted file is fine: the DB's copy of the items is authoritative.
fn check_drift(source: &SourceRow, allow: bool, warn: &mut dyn FnMut(String)) -> Result<()> {
    let path = &crate::store::text_to_path(&source.path);
    if !path.is_file() {
        return Ok(());
    }
    if crate::source::sha256(path)? == source.sha256 {
        return Ok(());
    }
    let now = crate::source::checksums(path)?;
    let drift = PrepareError::Drift {
        path: source.path.clone(),
        sha256_then: source.sha256.clone(),
        sha256_now: now.sha256,
        md5_then: source.md5.clone(),
        md5_now: now.md5,
    };
    if allow {
        warn(format!(
            "{drift}; going on with the items as ingested (--allow-drift)"
        ));
        return Ok(());
    }
    Err(drift)
}

/// Warn when the given config differs from the stored one; the stored one is used.
fn check_config(run: &RunRow, path: &Path, warn: &mut dyn FnMut(String)) -> Result<()> {
    let given = crate::pipeline_config::load(path)?;
    let Some(stored) = run
        .config
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    else {
        warn(format!(
            "run {} was made without a config; {} is not used",
            run.name,
            path.display()
        ));
        return Ok(());
    };
    let keys = crate::pipeline_config::differing_keys(&stored, &given);
    if !keys.is_empty() {
        warn(format!(
            "{} differs from the config stored with run {} in: {}; the stored config is used",
            path.display(),
            run.name,
            keys.join(", ")
        ));
    }
    Ok(())
}
