//! `runctl resume`: work through a run's items with a worker command (the remaining items, or
//! with `--retry-errors` the failed ones); `runctl new --source ... -- CMD` goes through the same
//! `work_on` (the flags are in `work_args.rs`, the end of a pass in `resume_summary.rs`).
//! Checks (completed run, input drift, config, lock) happen here; the engine is `crate::work`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::work_args::WorkArgs;

use super::{Ctx, run_view};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::state::RunStatus;
use crate::store::{Access, RunRow, Selection, Store};
use crate::work::{self, Mode, WorkSettings};

const RESUME_EXAMPLES: &str = "\
Examples:
  runctl new --source cases.csv --key incident_id -j 8 -- python summarize.py
  runctl resume                                # the newest unfinished run, as it was started
  runctl resume my-run -j 4 --timeout 2m --retries 3 -- python summarize.py
  runctl resume my-run --stream --window 64 -- ./worker     # one worker per slot, JSON lines
  runctl resume my-run --retry-errors --rate 300/min        # only the failed items, at most 5/s
  RESUME=1 EXPERIMENT_ID=my-run runctl new ...              # the same as 'runctl resume my-run'";

/// Work through a run's items: the remaining ones, or with --retry-errors the failed ones
///
/// CMD is the worker. --per-item (the default) starts it once per item with the item as JSON on
/// stdin and RUNCTL_ITEM_KEY, RUNCTL_WORKER_ID and the run metadata in its environment; exit 0
/// and stdout make the result. --stream starts it once per slot and speaks JSON lines. Results
/// are committed every 100 or every second; a crash loses at most that, and the next resume
/// redoes it. The first Ctrl-C lets items in flight finish; the second stops now.
#[derive(Debug, Args)]
#[command(after_help = RESUME_EXAMPLES)]
pub struct ResumeArgs {
    /// A run name, run id, unique id prefix, or latest [default: the newest unfinished run]
    run: Option<String>,
    #[command(flatten)]
    work: WorkArgs,
    /// The pipeline config; where it differs from the run's stored one, a warning lists the keys
    /// and the stored one is used
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print a summary of the pass as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
    /// The worker command [default: the one stored with the run]
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub fn resume(ctx: &Ctx, args: ResumeArgs) -> Result<()> {
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Write)?;
    let run = match &args.run {
        Some(reference) => run_view::find_run(&store, reference)?,
        None => store.newest_unfinished_run()?.ok_or_else(|| {
            CliError::not_found("there is no unfinished run with work items")
                .hint("make one with 'runctl new --source FILE --key COLUMN -- CMD'")
        })?,
    };
    let request = Request {
        work: &args.work,
        command: &args.command,
        config: args.config.as_ref().map(|c| ctx.cwd.join(c)),
        json: args.json,
    };
    work_on(ctx, &project, store, run, &request)
}

/// What a resume was asked to do.
pub struct Request<'a> {
    pub work: &'a WorkArgs,
    pub command: &'a [OsString],
    pub config: Option<PathBuf>,
    pub json: bool,
}

/// Check, lock and work through `run`.
pub fn work_on(
    ctx: &Ctx,
    project: &Project,
    store: Store,
    run: RunRow,
    request: &Request<'_>,
) -> Result<()> {
    let source = store.source_of_run(&run.id)?.ok_or_else(|| {
        CliError::usage(format!("run {} has no work items", run.name))
            .hint("make a run with items with 'runctl new --source FILE --key COLUMN -- CMD'")
    })?;
    let retry_errors = request.work.retry_errors();
    if run.status == RunStatus::Completed {
        return Err(CliError::conflict(format!(
            "run {} is completed: all {} items are ok",
            run.name, source.n_items
        ))
        .hint(format!("'runctl export {}' writes its results", run.name)));
    }
    check_drift(ctx, &source, request.work.allow_drift)?;
    if let Some(path) = &request.config {
        check_config(ctx, &run, path)?;
    }
    let mut lock = crate::lock::lock_run(&project.state_dir().join("locks"), &run.id, &run.name)?;
    let settings = settings_of(&store, &run, request)?;
    let worker = worker_of(&ctx.cwd, project, &run, &settings)?;
    store.set_run_work(&run.id, &serde_json::to_string(&settings)?)?;
    let before = store.refresh_progress(&run.id)?;
    let selection = if retry_errors {
        Selection::Errors
    } else {
        Selection::Remaining
    };
    let selected = match selection {
        Selection::Errors => before.n_errors,
        _ => before.remaining(),
    };
    let selected = u64::try_from(selected).unwrap_or(0);
    if selected == 0 {
        return super::resume_summary::nothing_to_do(
            ctx,
            &store,
            &run,
            retry_errors,
            &before,
            request.json,
        );
    }
    let options = options_of(ctx, &settings, request.work, selection, selected);
    ctx.note(format!(
        "run {}: {selected} {} items, {} slots, {} mode",
        run.name,
        if retry_errors { "failed" } else { "remaining" },
        options.jobs,
        match options.mode {
            Mode::PerItem => "per-item",
            Mode::Stream => "stream",
        }
    ));
    store.mark_run_started(&run.id, &crate::store::now_text())?;
    let recorder = Store::open(&project.db_path(), Access::Write)?;
    let keep: work::Keep = Box::new(move || {
        lock.keep()
            .map_err(|e| work::WorkError::LostLock(e.message))
    });
    let summary = work::run(&store, recorder, &run.id, worker, options, keep)?;
    super::resume_summary::finish(ctx, &store, &run, selected, &summary, request.json)
}

/// The worker: its program found on PATH, the run's metadata in its environment, its stderr
/// logged in the run's logs folder.
fn worker_of(
    cwd: &std::path::Path,
    project: &Project,
    run: &RunRow,
    settings: &WorkSettings,
) -> Result<work::Worker> {
    let dirs = run_view::RunDirs::of(project, run)?;
    let mut argv = resolve_program(&settings.command, cwd)?.into_iter();
    Ok(work::Worker {
        program: argv.next().unwrap_or_default(), // settings_of refuses an empty command
        args: argv.collect(),
        env: run_view::metadata_env(run, &dirs),
        log_dir: Some(dirs.logs),
    })
}

/// The run's work settings: those stored when it started (or, for a run from before they were
/// stored, its command), with the flags and command given now laid over them.
fn settings_of(store: &Store, run: &RunRow, request: &Request<'_>) -> Result<WorkSettings> {
    let stored = store.run_work(&run.id)?.map(|text| {
        serde_json::from_str::<WorkSettings>(&text).map_err(|e| {
            CliError::usage(format!(
                "the work settings stored with run {} cannot be read: {e}",
                run.name
            ))
            .hint(format!(
                "give the worker and its flags again: 'runctl resume {} -j N -- CMD'",
                run.name
            ))
        })
    });
    let stored: WorkSettings = match stored {
        Some(Ok(settings)) => settings,
        Some(Err(e)) if request.command.is_empty() => return Err(e),
        // Given again on this resume: the unreadable ones are replaced.
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
    let settings = stored.overlay(&request.work.given(request.command));
    settings.check().map_err(|e| {
        CliError::usage(format!("run {}: {e}", run.name)).hint(
            "give the flag again on this resume (--rate, --timeout, --retry-delay, -j, --window) to replace it",
        )
    })?;
    if settings.command.is_empty() {
        return Err(
            CliError::usage(format!("run {} has no worker command", run.name)).hint(format!(
                "give one after --: 'runctl resume {} -- python worker.py'",
                run.name
            )),
        );
    }
    Ok(settings)
}

/// The worker command with its program looked up on PATH once, not at each of thousands of
/// starts; a program that is not there (exit 127) or cannot be run (126) is an error before
/// anything starts, as a shell reports it.
pub fn resolve_program(command: &[String], cwd: &std::path::Path) -> Result<Vec<OsString>> {
    let mut argv: Vec<OsString> = command.iter().map(OsString::from).collect();
    let Some(program) = argv.first_mut() else {
        return Ok(argv);
    };
    let shown = program.to_string_lossy().into_owned();
    let cannot = |why: &str, code: u8| {
        let mut err = CliError::general(format!("cannot run {shown}: {why}"))
            .hint("give the worker's path (./worker.sh) or check PATH; no run was started");
        err.exit_override = Some(code);
        err
    };
    if shown.contains('/') {
        let path = cwd.join(&*program);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && crate::plugins::is_executable(&meta) => {}
            Ok(_) => return Err(cannot("not an executable file", 126)),
            Err(_) => return Err(cannot("no such file", 127)),
        }
        return Ok(argv);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let found = crate::plugins::which(program, &path_var)
        .ok_or_else(|| cannot("no such program on PATH", 127))?;
    *program = found.into_os_string();
    Ok(argv)
}

fn options_of(
    ctx: &Ctx,
    settings: &WorkSettings,
    args: &WorkArgs,
    selection: Selection,
    total: u64,
) -> work::Options {
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    // No more slots than items: each slot is a thread (and a worker process in stream mode).
    let jobs = settings
        .jobs
        .unwrap_or(cpus)
        .max(1)
        .min(usize::try_from(total).unwrap_or(usize::MAX).max(1));
    let mode = settings.mode.unwrap_or(Mode::PerItem);
    work::Options {
        jobs,
        mode,
        window: settings.window.unwrap_or(1).max(1),
        timeout: settings.timeout_ms.map(Duration::from_millis),
        retries: settings.retries.unwrap_or(0),
        retry_delay: Duration::from_millis(settings.retry_delay_ms.unwrap_or(1000)),
        rate: settings.rate,
        grace: args.grace,
        selection,
        progress: work::progress::Style::detect(ctx.global.quiet),
        total,
    }
}

/// Exit 3 when the source file changed since it was ingested, unless allowed.
fn check_drift(ctx: &Ctx, source: &crate::store::SourceRow, allow: bool) -> Result<()> {
    let path = &crate::store::text_to_path(&source.path);
    if !path.is_file() {
        return Ok(()); // the DB's copy is authoritative; a moved or deleted file is fine
    }
    let now = crate::source::checksums(path).map_err(|e| CliError::general(e.to_string()))?;
    if now.sha256 == source.sha256 {
        return Ok(());
    }
    let what = format!(
        "input drift: {} changed since it was ingested (sha256 {} then, {} now; md5 {} then, {} now)",
        source.path, source.sha256, now.sha256, source.md5, now.md5
    );
    if allow {
        ctx.warn(format!(
            "{what}; going on with the items as ingested (--allow-drift)"
        ));
        return Ok(());
    }
    Err(CliError::conflict(what)
        .hint("the run's items are the ones ingested; pass --allow-drift to go on with them, or make a new run with 'runctl new --source FILE'"))
}

/// Warn when the given config differs from the stored one; the stored one is used.
fn check_config(ctx: &Ctx, run: &RunRow, path: &std::path::Path) -> Result<()> {
    let given = crate::pipeline_config::load(path).map_err(|e| CliError::general(e.to_string()))?;
    let Some(stored) = run
        .config
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    else {
        ctx.warn(format!(
            "run {} was made without a config; {} is not used",
            run.name,
            path.display()
        ));
        return Ok(());
    };
    let keys = crate::pipeline_config::differing_keys(&stored, &given);
    if !keys.is_empty() {
        ctx.warn(format!(
            "{} differs from the config stored with run {} in: {}; the stored config is used",
            path.display(),
            run.name,
            keys.join(", ")
        ));
    }
    Ok(())
}
