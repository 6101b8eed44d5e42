//! `runctl new`: allocate a run (its name, folders, pointers and record), optionally ingest its
//! work items, and run its command or its worker.

use std::ffi::OsString;
use std::path::Path;

use clap::Args;

use super::naming_args::{self, NamingArgs, Resolved, clock, shortened_note};
use super::run_view::{self, Format, RunOutput};
use super::{Ctx, output};
use crate::error::{CliError, Kind, Result};
use crate::runs;
use crate::state::RunStatus;
use crate::store::{Access, RunRow, Store};
use crate::undo::Undo;

const NEW_EXAMPLES: &str = "\
Examples:
  runctl new --model Qwen2-7B --dataset drg_letters --sample-size full
      # qwen2-7b-drg_letters-full-run1, with outputs/ and logs/ folders
  eval \"$(runctl new --config train.yaml --format shell)\"; echo \"$RUN_DIR\"
  runctl new --model mistral-7b --dataset eval -- python train.py --out \"\\$RUN_DIR\"
  runctl new --model phi-3 --run-index 7 --force       # take run7, keeping the old one aside";

/// Allocate a run: a unique name, its output and log folders, and its record
///
/// The name is <model>-<dataset>-<size>-run<N> (docs/naming.md), N the next free number in the
/// counter scope over the DB and the folders on disk, allocated atomically. With -- CMD, runs CMD
/// with RUN_ID, RUN_NAME, RUN_DIR, ... in its environment, records its start, end and exit code,
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
    /// The command to run as this run
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

fn allocate(
    ctx: &Ctx,
    store: &mut Store,
    resolved: &Resolved,
    command: &[OsString],
    source: Option<&crate::store::SourceRow>,
) -> Result<RunRow> {
    let clock = clock()?;
    let layout = &resolved.layout;
    let command_json = if command.is_empty() {
        None
    } else {
        let words: Vec<String> = command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        Some(serde_json::to_string(&words)?)
    };
    // Every folder step is undone if a later one, the insert or the commit fails.
    let mut undo = Undo::default();
    let allocated = store.allocate(true, |a| -> Result<_> {
        let plan = runs::plan(a, &resolved.request, layout, &clock.stamp, &clock.salt)?;
        let moved = if resolved.request.force {
            take_over(a, layout, &plan, &clock.stamp, &mut undo)?
        } else {
            None
        };
        for s in resolved.capped.iter().chain(&plan.shortened) {
            a.record_shortened(&s.to, &s.from)?;
        }
        let dir_name = if resolved.legacy {
            clock.id.clone()
        } else {
            plan.name.clone()
        };
        let (outputs_dir, logs_dir) = runs::make_folders(layout, &dir_name, &mut undo)?;
        let row = run_row(
            resolved,
            &clock,
            &plan,
            dir_name.clone(),
            &outputs_dir,
            &logs_dir,
            command_json.clone(),
        );
        a.insert(&row)?;
        if let Some(s) = source {
            a.attach_source(&row.id, s.id, s.n_items)?;
        }
        let warnings = runs::update_pointers(layout, &dir_name, &mut undo)?;
        Ok((row, plan, moved, warnings))
    });
    let (row, plan, moved, warnings) = match allocated {
        Ok(done) => done,
        Err(e) => {
            for left in undo.undo() {
                ctx.warn(left);
            }
            return Err(e);
        }
    };
    for warning in warnings {
        ctx.warn(warning);
    }
    shortened_note(ctx, &plan);
    if let (Some(old), Some(moved)) = (&plan.supersede, &moved) {
        ctx.note(format!(
            "note: run {} (id {}) is kept, marked superseded; its folder moved to {}",
            old.name,
            old.id,
            moved.display()
        ));
    } else if let Some(moved) = &moved {
        ctx.note(format!(
            "note: the folder that held the name was moved to {}",
            moved.display()
        ));
    }
    Ok(row)
}

/// `--force`: move the folder holding the name aside (never deleting it) and mark the run
/// that held it superseded; returns where its outputs folder went.
fn take_over(
    a: &crate::store::Allocation<'_>,
    layout: &runs::Layout,
    plan: &runs::Plan,
    stamp: &str,
    undo: &mut Undo,
) -> Result<Option<std::path::PathBuf>> {
    let old_dir = plan
        .supersede
        .as_ref()
        .map_or(plan.name.as_str(), |r| r.dir_name.as_str());
    let moved = runs::move_aside(layout, old_dir, stamp, undo)?;
    if let Some(old) = &plan.supersede {
        let moved_text = moved.as_ref().map(|p| p.to_string_lossy().into_owned());
        a.supersede(&old.id, moved_text.as_deref())?;
    }
    Ok(moved)
}

/// The record of a new run.
fn run_row(
    resolved: &Resolved,
    clock: &naming_args::Clock,
    plan: &runs::Plan,
    dir_name: String,
    outputs_dir: &Path,
    logs_dir: &Path,
    command: Option<String>,
) -> RunRow {
    RunRow {
        id: clock.id.clone(),
        name: plan.name.clone(),
        dir_name,
        model: resolved.request.segments.model.clone(),
        dataset: resolved.request.segments.dataset.clone(),
        size: resolved.request.segments.size.clone(),
        number: plan.number,
        scope: resolved.request.scope.to_string(),
        status: RunStatus::Created,
        superseded: false,
        moved_to: None,
        outputs_dir: outputs_dir.to_string_lossy().into_owned(),
        logs_dir: logs_dir.to_string_lossy().into_owned(),
        command,
        config: resolved.config.as_ref().map(|(c, _)| c.clone()),
        config_path: resolved
            .config
            .as_ref()
            .map(|(_, p)| p.to_string_lossy().into_owned()),
        exit_code: None,
        created_at: clock.now.clone(),
        started_at: None,
        finished_at: None,
    }
}

pub fn new(ctx: &Ctx, args: NewArgs) -> Result<()> {
    if std::env::var("RESUME").is_ok_and(|v| v == "1") {
        return resume_instead(ctx, &args);
    }
    // Everything that can be checked is checked before anything is made.
    let project = ctx.project_for_write()?;
    let resolved = naming_args::resolve(ctx, &project, &args.naming)?;
    let prepared = super::source_args::prepare(ctx, &args.source)?;
    if prepared.is_none() && args.work.given_any() {
        return Err(CliError::usage(
            "the work flags (-j, --stream, --timeout, ...) need --source and a worker command",
        )
        .hint("runctl new --source items.csv --key id -j 4 -- python worker.py"));
    }
    if prepared.is_some() {
        let words: Vec<String> = args
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        super::resume::resolve_program(&words, &ctx.cwd)?;
    }
    let mut store = ctx.open_store(&project, Access::Write)?;
    let (source, ingested) = match prepared {
        Some(prepared) => {
            let (source, fresh) = super::source_args::ingest(ctx, &mut store, prepared)?;
            (Some(source), fresh)
        }
        None => (None, false),
    };
    let row = match allocate(ctx, &mut store, &resolved, &args.command, source.as_ref()) {
        Ok(row) => row,
        Err(e) => {
            // No run was made: the source this command ingested goes too (unless another
            // run took it up meanwhile), so a failed `new` leaves the DB as it was.
            if let (Some(source), true) = (&source, ingested) {
                let _ = store.forget_unused_source(source.id);
            }
            return Err(e);
        }
    };
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Text if args.command.is_empty() => {
            ctx.note(format!(
                "created run {} (id {})\n  outputs: {}\n  logs:    {}",
                row.name, row.id, row.outputs_dir, row.logs_dir
            ));
            output::print(&format!("{}\n", row.name))?;
        }
        Format::Text => ctx.note(format!(
            "run {} (id {}): running {}",
            row.name,
            row.id,
            display_command(&args.command)
        )),
        Format::Json => output::print_json(&RunOutput::from_row(&row))?,
        Format::Env | Format::Shell => output::print(&run_view::render_metadata(&row, format)?)?,
    }
    if args.command.is_empty() {
        return Ok(());
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
    run_command(ctx, &project, &store, &row, &args.command)
}

/// `RESUME=1 EXPERIMENT_ID=<run> runctl new ...`: the same as `runctl resume <run>`.
fn resume_instead(ctx: &Ctx, args: &NewArgs) -> Result<()> {
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
    let request = super::resume::Request {
        work: &args.work,
        command: &args.command,
        config: args.naming.config.as_ref().map(|c| ctx.cwd.join(c)),
        json: args.json || args.format == Format::Json,
    };
    super::resume::work_on(ctx, &project, store, run, &request)
}

fn display_command(command: &[OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    output::printable(&words.join(" ")).into_owned()
}

fn run_command(
    ctx: &Ctx,
    project: &crate::project::Project,
    store: &Store,
    row: &RunRow,
    command: &[OsString],
) -> Result<()> {
    let Some((program, rest)) = command.split_first() else {
        return Ok(());
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).current_dir(&ctx.cwd);
    for (key, value) in run_view::metadata_env(row, &run_view::RunDirs::of(project, row)?) {
        cmd.env(key, value);
    }
    store.mark_run_started(&row.id, &crate::store::now_text())?;
    let outcome = match crate::child::run_forwarding(&mut cmd) {
        Ok(outcome) => outcome,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            store.mark_run_finished(
                &row.id,
                RunStatus::Failed,
                Some(code),
                &crate::store::now_text(),
            )?;
            let mut err = CliError::general(format!("cannot run {}", Path::new(program).display()))
                .cause(e)
                .hint(format!("the run {} is recorded as failed", row.name));
            err.exit_override = Some(code as u8);
            return Err(err);
        }
    };
    let status = if outcome.interrupted {
        RunStatus::Interrupted
    } else if outcome.code == 0 {
        RunStatus::Completed
    } else {
        RunStatus::Failed
    };
    store.mark_run_finished(
        &row.id,
        status,
        Some(outcome.code),
        &crate::store::now_text(),
    )?;
    ctx.note(format!(
        "run {} {status} (exit code {})",
        row.name, outcome.code
    ));
    if outcome.code == 0 {
        return Ok(());
    }
    let mut err = CliError::new(Kind::General, "");
    err.exit_override = Some(u8::try_from(outcome.code).unwrap_or(1));
    Err(err)
}
