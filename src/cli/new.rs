//! `runctl new`: allocate a run (its name, folders, pointers and record), optionally ingest its
//! work items, and run its command or its worker.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Args;

use super::Ctx;
use super::naming_args::{self, NamingArgs, Resolved, shortened_note};
use super::run_view::{self, Format};
use crate::error::{CliError, Result};
use crate::runs;
use crate::store::{Access, RunRow, Store};

const NEW_EXAMPLES: &str = "\
Examples:
  runctl new --model Qwen2-7B --dataset drg_letters --sample-size full
      # qwen2-7b-drg_letters-full-run1, with outputs/ and logs/ folders
  vars=\"$(runctl new --config train.yaml --format shell)\" && eval \"$vars\"; echo \"$RUN_DIR\"
  runctl new --model mistral-7b --dataset eval -- sh -c 'python train.py --out \"$RUN_DIR\"'
      # runctl expands nothing: the shell it starts reads RUN_DIR from the run's environment
  runctl new --model phi-3 --run-index 7 --force       # take run7, keeping the old one aside
  runctl new --model phi-3 --dataset eval --tag lr=3e-4 --tag owner=ana
  runctl new --model m --source cases.csv --key id --dry-run   # the items it would make";

/// Allocate a run: a unique name, its output and log folders, and its record
///
/// The name is <model>-<dataset>-<size>-run<N> (docs/naming.md), N the next free number in the
/// counter scope over the DB and the folders on disk, allocated atomically. With -- CMD, runs CMD
/// with RUN_ID, RUN_NAME, RUN_DIR, ... in its environment, records its start, end and exit code,
/// keeps its output in logs/<run>/stdout.log and stderr.log (`runctl logs`) as it passes it on,
/// forwards SIGINT/SIGTERM to it, and exits with its code.
#[derive(Debug, Args)]
#[command(after_help = NEW_EXAMPLES)]
pub struct NewArgs {
    #[command(flatten)]
    naming: NamingArgs,
    #[command(flatten)]
    source: super::source_args::SourceArgs,
    #[command(flatten)]
    work: super::work_args::WorkArgs,
    /// Output: the name (text), JSON, KEY=value lines (env) or export lines (shell)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as --format json
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Do not keep CMD's output in logs/<run>/stdout.log and stderr.log: CMD writes to this
    /// terminal directly (for a program that needs one)
    #[arg(long)]
    no_log: bool,
    /// Put the time before each line of CMD's output in the log files
    #[arg(long, conflicts_with = "no_log")]
    log_timestamps: bool,
    /// With --source: show what the source would make (item count, first keys, empty and
    /// duplicate keys, what --unpivot makes) and make nothing
    #[arg(long, requires = "source")]
    dry_run: bool,
    /// Tag the run KEY=VALUE (repeatable; see runctl tag)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// The command to run as this run
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Allocate the run; print what could not be undone when that fails, and the notes of a
/// run that was made (shortened segments, a name taken over).
fn allocate(
    ctx: &Ctx,
    store: &mut Store,
    resolved: &Resolved,
    command: &[OsString],
    source: Option<&(crate::store::SourceRow, bool)>,
    tags: &[(String, String)],
) -> Result<RunRow> {
    let clock = runs::Clock::now()?;
    let new = runs::NewRun {
        request: &resolved.request,
        layout: &resolved.layout,
        legacy: resolved.legacy,
        capped: &resolved.capped,
        config: resolved.config.as_ref(),
        command,
        source: source.map(|(row, _)| row),
        source_fresh: source.is_some_and(|(_, fresh)| *fresh),
        tags,
    };
    let made = runs::allocate(store, new, &clock).map_err(|failed| {
        for left in failed.not_undone {
            ctx.warn(left);
        }
        CliError::from(failed.error)
    })?;
    for warning in &made.warnings {
        ctx.warn(warning);
    }
    shortened_note(ctx, &made.plan);
    if let Some(note) = made.take_over_note() {
        ctx.note(note);
    }
    Ok(made.row)
}

pub fn new(ctx: &Ctx, args: NewArgs) -> Result<ExitCode> {
    if std::env::var("RESUME").is_ok_and(|v| v == "1") {
        let json = args.json || args.format == Format::Json;
        let config = args.naming.config.as_ref().map(|c| ctx.cwd.join(c));
        return super::resume::resume_env(ctx, &args.work, &args.command, config, json);
    }
    // Everything that can be checked is checked before anything is made.
    let tags = super::annotate::parse_tags(&args.tags)?;
    if args.dry_run {
        ctx.require_project()?;
        let json = args.json || args.format == Format::Json;
        return match super::source_args::prepare(ctx, &args.source)? {
            Some(prepared) => {
                super::source_args::dry_run(ctx, prepared, json).map(|()| ExitCode::SUCCESS)
            }
            None => Ok(ExitCode::SUCCESS),
        };
    }
    let project = ctx.project_for_write()?;
    let resolved = naming_args::resolve(ctx, &project, &args.naming)?;
    let prepared = super::source_args::prepare(ctx, &args.source)?;
    check_worker(ctx, &args, prepared.is_some())?;
    let mut store = ctx.open_store(&project, Access::Write)?;
    let source = match prepared {
        Some(prepared) => Some(super::source_args::ingest(ctx, &mut store, prepared)?),
        None => None,
    };
    let row = allocate(
        ctx,
        &mut store,
        &resolved,
        &args.command,
        source.as_ref(),
        &tags,
    )?;
    let format = if args.json { Format::Json } else { args.format };
    run_view::print_new(ctx, &store, &row, format, &args.command)?;
    if args.command.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if source.is_some() {
        // CMD is the worker over the items.
        let request = super::resume::Request {
            work: &args.work,
            command: &args.command,
            config: None,
            json: false,
        };
        return super::resume::work_on(ctx, &project, store, row, &request);
    }
    run_command(ctx, &project, &store, &row, &args)
}

/// The work flags need a source; with one, the worker program must be there.
fn check_worker(ctx: &Ctx, args: &NewArgs, has_source: bool) -> Result<()> {
    if !has_source && args.work.given_any() {
        return Err(CliError::usage(
            "the work flags (-j, --stream, --timeout, ...) need --source and a worker command",
        )
        .hint("runctl new --source items.csv --key id -j 4 -- python worker.py"));
    }
    if args.command.is_empty() && (args.no_log || args.log_timestamps) {
        return Err(CliError::usage(
            "--no-log and --log-timestamps are about the output of a command: give one after --",
        )
        .hint("runctl new --model m --log-timestamps -- python3 train.py"));
    }
    if has_source && (args.no_log || args.log_timestamps) {
        return Err(CliError::usage(
            "--no-log and --log-timestamps are for a run's own command, not a worker over items",
        )
        .hint("a batch keeps each worker's stderr in logs/<run>/worker-<N>.log: 'runctl logs RUN --worker N'"));
    }
    if has_source {
        // The worker as a resume will take it: the command's words as the work settings hold them.
        crate::work::resolve_program(&args.work.given(&args.command).command, &ctx.cwd)?;
    }
    Ok(())
}

fn run_command(
    ctx: &Ctx,
    project: &crate::project::Project,
    store: &Store,
    row: &RunRow,
    args: &NewArgs,
) -> Result<ExitCode> {
    let (command, no_log, timestamps) = (&args.command, args.no_log, args.log_timestamps);
    // Held while the command runs: `rm` and `archive` refuse the run meanwhile.
    let lock = crate::lock::lock_run(&project.state_dir().join("locks"), &row.id, &row.name)?;
    keep_holding(lock, ctx.color());
    let logging = if no_log {
        runs::Logging::Off
    } else {
        runs::Logging::Files { timestamps }
    };
    let mut warn = |w: String| ctx.warn(w);
    let Some(ended) =
        runs::run_command(store, project, row, command, &ctx.cwd, logging, &mut warn)?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    match &ended.unrecorded {
        Some(why) => ctx.warn(format!(
            "run {} ended with exit code {}, but that could not be recorded ({why}); it stays {} in the DB",
            row.name,
            ended.code,
            crate::state::RunStatus::Running
        )),
        None => ctx.note(format!(
            "run {} {} (exit code {})",
            row.name, ended.status, ended.code
        )),
    }
    Ok(ExitCode::from(u8::try_from(ended.code).unwrap_or(1)))
}

/// Keep holding the run while its command runs: a lock file removed meanwhile (`.runctl/locks`
/// deleted) is taken again within a second, so `rm` cannot take the run from under it.
fn keep_holding(mut lock: crate::lock::RunLock, color: bool) {
    let _ = std::thread::Builder::new()
        .name("runctl-lock".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                if let Err(e) = lock.keep() {
                    super::output::warn(color, format!("{e}; the run is no longer held"));
                    return;
                }
            }
        });
}
