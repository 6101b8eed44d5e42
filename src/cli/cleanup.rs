//! `runctl archive` and `runctl rm`: move runs' folders under the archive, or delete runs with
//! their folders, all of the runs named or none (see `runs::cleanup`).

use std::io::BufRead;
use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::run_view::find_run;
use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::runs::cleanup::{self, Action, FolderStep, RunStep};
use crate::store::Access;

/// Move runs' folders under the archive (paths.archive) and hide them from `list`
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl archive qwen2-7b-drg_letters-full-run1 qwen2-7b-drg_letters-full-run2\n  runctl archive latest --dry-run\n  runctl list --older-than 30d --names | runctl archive -\n  runctl list --all          # archived runs too"
)]
pub struct ArchiveArgs {
    /// Runs (names, ids, unique id prefixes, latest); `-` reads one per line from stdin
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<String>,
    /// Show what would move, change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print what was done (or would be) as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Delete runs: their folders and their records (after a question on a terminal)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl rm qwen2-7b-drg_letters-full-run4\n  runctl rm latest --dry-run\n  runctl list --older-than 30d --status failed --names | runctl rm - --yes\n\nA run's name and number are never given to a later run. A run a process holds (a resume,\na running command) is refused (exit 3)."
)]
pub struct RmArgs {
    /// Runs (names, ids, unique id prefixes, latest); `-` reads one per line from stdin
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<String>,
    /// Delete without asking (needed when there is no terminal to ask on)
    #[arg(short, long)]
    yes: bool,
    /// Show what would be deleted, change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print what was done (or would be) as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `archive --json` / `rm --json`.
#[derive(Debug, Serialize)]
struct CleanupOutput {
    action: &'static str,
    dry_run: bool,
    runs: Vec<RunDone>,
}

#[derive(Debug, Serialize)]
struct RunDone {
    id: String,
    name: String,
    /// Already archived: left as it is.
    skipped: bool,
    folders: Vec<FolderStep>,
}

pub fn archive(ctx: &Ctx, args: ArchiveArgs) -> Result<()> {
    run(
        ctx,
        Action::Archive,
        &args.runs,
        args.dry_run,
        args.json,
        true,
    )
}

pub fn rm(ctx: &Ctx, args: RmArgs) -> Result<()> {
    run(
        ctx,
        Action::Remove,
        &args.runs,
        args.dry_run,
        args.json,
        args.yes,
    )
}

fn run(
    ctx: &Ctx,
    action: Action,
    refs: &[String],
    dry_run: bool,
    json: bool,
    yes: bool,
) -> Result<()> {
    let refs = references(refs)?;
    let project = ctx.require_project()?;
    if refs.is_empty() {
        // `list ... --names | runctl rm -` with no run selected.
        ctx.note("no runs named on stdin; nothing to do");
        return finish_json(json, action, dry_run, &[]);
    }
    let access = if dry_run { Access::Read } else { Access::Write };
    let mut store = ctx.open_store(&project, access)?;
    let mut runs = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for reference in &refs {
        let row = find_run(&store, reference)?;
        if ids.insert(row.id.clone()) {
            runs.push(row);
        }
    }
    let mut namesakes = |name: &str| store.runs_with_dir_name(name);
    let steps = cleanup::plan(&project, &runs, action, &mut namesakes)?;
    if dry_run || !json {
        describe(ctx, &project.root, &steps, action, dry_run, json)?;
    }
    if dry_run {
        return finish_json(json, action, true, &steps);
    }
    if !yes {
        let question = match steps.as_slice() {
            [one] => format!("delete run {} and its folders?", one.run.name),
            many => format!("delete {} runs and their folders?", many.len()),
        };
        if !prompt::confirm_typed(&question, "pass --yes to delete without asking")? {
            ctx.note("nothing was deleted");
            return Ok(());
        }
    }
    let (steps, notes) =
        cleanup::apply(&mut store, &project, &runs, &steps, action).map_err(|failed| {
            for left in failed.not_undone {
                ctx.warn(left);
            }
            CliError::from(failed.error)
        })?;
    for note in notes {
        ctx.warn(note);
    }
    let done = steps.iter().filter(|s| !s.skipped).count() as i64;
    ctx.note(match action {
        Action::Archive => format!("archived {}", crate::text::count(done, "run")),
        Action::Remove => format!("removed {}", crate::text::count(done, "run")),
    });
    finish_json(json, action, false, &steps)
}

fn finish_json(json: bool, action: Action, dry_run: bool, steps: &[RunStep]) -> Result<()> {
    if !json {
        return Ok(());
    }
    output::print_json(&CleanupOutput {
        action: match action {
            Action::Archive => "archive",
            Action::Remove => "rm",
        },
        dry_run,
        runs: steps
            .iter()
            .map(|s| RunDone {
                id: s.run.id.clone(),
                name: s.run.name.clone(),
                skipped: s.skipped,
                folders: s.folders.clone(),
            })
            .collect(),
    })
}

/// What will happen (or would), one run per paragraph: on stdout for a dry run, on stderr
/// before the question or the work otherwise.
fn describe(
    ctx: &Ctx,
    root: &Path,
    steps: &[RunStep],
    action: Action,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    let verb = match (action, dry_run) {
        (Action::Archive, true) => "would archive",
        (Action::Archive, false) => "will archive",
        (Action::Remove, true) => "would delete",
        (Action::Remove, false) => "will delete",
    };
    let shown = |p: &Path| {
        output::printable(&p.strip_prefix(root).unwrap_or(p).to_string_lossy()).into_owned()
    };
    let mut text = String::new();
    for step in steps {
        if step.skipped {
            text.push_str(&format!(
                "{}: already archived, left as it is\n",
                step.run.name
            ));
            continue;
        }
        // A superseded run's name is a newer run's: its id tells the two apart.
        let which = if step.run.superseded {
            format!("{} (superseded; id {})", step.run.name, step.run.id)
        } else {
            step.run.name.clone()
        };
        text.push_str(&format!("{verb} {which}\n"));
        if step.folders.is_empty() {
            text.push_str("  (no folders on disk)\n");
        }
        for f in &step.folders {
            match &f.to {
                Some(to) => text.push_str(&format!("  {} -> {}\n", shown(&f.from), shown(to))),
                None => text.push_str(&format!("  {}\n", shown(&f.from))),
            }
        }
    }
    if dry_run && !json {
        return output::print(&text);
    }
    if !json {
        ctx.note(text.trim_end());
    }
    Ok(())
}

/// The run references, with `-` read from stdin (one per line, blank lines skipped).
fn references(refs: &[String]) -> Result<Vec<String>> {
    if refs != ["-"] {
        if refs.iter().any(|r| r == "-") {
            return Err(CliError::usage(
                "'-' (read runs from stdin) cannot be mixed with run names",
            ));
        }
        return Ok(refs.to_vec());
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let line =
            line.map_err(|e| CliError::usage("cannot read run names from stdin").cause(e))?;
        let line = line.trim();
        // Each run once, in the order given, however often it is named.
        if !line.is_empty() && seen.insert(line.to_string()) {
            out.push(line.to_string());
        }
    }
    Ok(out)
}
