//! `runctl resume`: work through a run's items with a worker command (the remaining items, or
//! with `--retry-errors` the failed ones); `runctl new --source ... -- CMD` goes through the same
//! `work_on` (the flags are in `work_args.rs`, the end of a pass in `resume_summary.rs`). The
//! checks and the pass itself are `work::prepare` and `work::start`; this file parses, calls
//! and renders.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::work_args::WorkArgs;

use super::{Ctx, resume_summary, run_view};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::{Access, RunRow, Store};
use crate::work;

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

pub fn resume(ctx: &Ctx, args: ResumeArgs) -> Result<ExitCode> {
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

/// `RESUME=1 EXPERIMENT_ID=<run> runctl new ...`: the same as `runctl resume <run>`.
pub fn resume_env(
    ctx: &Ctx,
    work: &WorkArgs,
    command: &[OsString],
    config: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let reference = std::env::var("EXPERIMENT_ID")
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CliError::usage("RESUME=1 needs EXPERIMENT_ID=<run> to say which run to resume")
                .hint("EXPERIMENT_ID takes a run name, run id, unique id prefix, or latest")
        })?;
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Write)?;
    let run = run_view::find_run(&store, &reference)?;
    ctx.note(format!(
        "RESUME=1: resuming run {} instead of making a new one",
        run.name
    ));
    let request = Request {
        work,
        command,
        config,
        json,
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

/// Prepare a pass over `run`, run it, and report how it went.
pub fn work_on(
    ctx: &Ctx,
    project: &Project,
    store: Store,
    run: RunRow,
    request: &Request<'_>,
) -> Result<ExitCode> {
    let pass = work::PassRequest {
        given: request.work.given(request.command),
        retry_errors: request.work.retry_errors(),
        allow_drift: request.work.allow_drift,
        config: request.config.clone(),
        grace: request.work.grace,
        progress: work::progress::Style::detect(ctx.global.quiet),
        lease: request.work.lease,
    };
    let prepared = work::prepare(&store, project, run, &pass, &ctx.cwd, &mut |w| ctx.warn(w))?;
    let (run, selected) = (prepared.run.clone(), prepared.selected);
    if selected == 0 {
        let before = prepared.before.clone();
        work::release(prepared);
        return resume_summary::nothing_to_do(
            ctx,
            &store,
            &run,
            pass.retry_errors,
            &before,
            request.json,
        );
    }
    let options = work::options(&prepared, &pass);
    let n_items = prepared.before.n_items;
    resume_summary::starting(ctx, &run, selected, pass.retry_errors, &options, n_items);
    let summary = work::start(&store, prepared, options)?;
    resume_summary::finish(ctx, &store, &run, selected, &summary, request.json)
}
