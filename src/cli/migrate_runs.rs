//! `runctl migrate runs`: give run folders made before runctl their canonical names, keeping a
//! symlink at each old name, and record them as runs.

use clap::Args;
use serde::Serialize;

use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::legacy_runs::{self, Candidate, discover};
use crate::naming;
use crate::runs::{self, Layout};
use crate::store::{Access, Store};

/// Rename run folders made before runctl to canonical names, leaving a symlink at the old name
///
/// Looks in outputs/ and logs/ for folders the DB does not know: timestamp run ids
/// (20251228_143025, 20251228_143025_789456_a3f9, xgboost_h20_20251228_143025_789456_a3f9) and
/// any folder holding a pipeline config (config.yaml, config.json, *.toml). Model, dataset and
/// size come from the config where it has them; numbers follow the folders' times. Asks per
/// folder on a terminal; --yes applies all; --dry-run only shows the plan.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl migrate runs --dry-run\n  runctl migrate runs            # asks per folder\n  runctl migrate runs --yes --json"
)]
pub struct RunsArgs {
    /// Show the plan; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Apply every proposal without asking
    #[arg(short, long)]
    yes: bool,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Planned {
    folder: String,
    name: String,
    found_by: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct Renamed {
    from: String,
    to: String,
    run_id: String,
}

#[derive(Debug, Clone, Serialize)]
struct NotDone {
    folder: String,
    reason: String,
}

/// `runctl migrate runs --json`.
#[derive(Debug, Default, Serialize)]
struct RunsOutput {
    dry_run: bool,
    planned: Vec<Planned>,
    renamed: Vec<Renamed>,
    skipped: Vec<NotDone>,
    failed: Vec<NotDone>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= naming::NAME_MAX
        && naming::slug(name) == name
        && !name.starts_with('_')
}

enum Decision {
    Accept(String),
    Skip,
}

/// Ask per folder; `None` when the user quits.
fn ask(candidates: &[Candidate], proposals: &[(String, Option<u32>)]) -> Result<Vec<Decision>> {
    let items = [
        "accept",
        "edit the name",
        "skip",
        "accept this and all the rest",
        "quit",
    ];
    let mut decisions = Vec::new();
    let mut all = false;
    for (c, (name, _)) in candidates.iter().zip(proposals) {
        if all {
            decisions.push(Decision::Accept(name.clone()));
            continue;
        }
        let question = format!("{} ({}) -> {name}", c.folder, c.found_by);
        match prompt::select(
            &question,
            &items,
            "pass --yes to apply every proposal, or --dry-run to see them",
        )? {
            Some(0) => decisions.push(Decision::Accept(name.clone())),
            Some(1) => loop {
                let edited = prompt::input("new name", name)?;
                if valid_name(&edited) {
                    decisions.push(Decision::Accept(edited));
                    break;
                }
                crate::say!(
                    "'{edited}' is not a valid run name: use a-z, 0-9, '-' and '_', at most 128 characters"
                );
            },
            Some(2) => decisions.push(Decision::Skip),
            Some(3) => {
                all = true;
                decisions.push(Decision::Accept(name.clone()));
            }
            _ => break,
        }
    }
    Ok(decisions)
}

pub fn run(ctx: &Ctx, args: RunsArgs) -> Result<()> {
    let project = ctx.require_project()?;
    // Write even for a dry run: the plan holds each proposal in a rolled-back transaction.
    let mut store = ctx.open_store(&project, Access::Write)?;
    let layout = Layout {
        outputs: project.outputs_dir()?,
        logs: project.logs_dir()?,
        max_path: project.settings.naming.max_path,
    };
    let scope = project.settings.naming.run_counter_scope.to_string();
    if !args.dry_run {
        for (from, to) in legacy_runs::repair(&layout) {
            ctx.note(format!(
                "note: finished renaming {from} to {to}, which a stopped 'migrate runs' left half-done"
            ));
        }
    }
    let (candidates, passed_over) = discover(&project, &store, &layout)?;
    let proposals = legacy_runs::propose(
        &mut store,
        &candidates,
        project.settings.naming.run_counter_scope,
        &layout,
    )?;
    let mut out = outline(args.dry_run, passed_over, &candidates, &proposals);
    if !args.dry_run && !candidates.is_empty() {
        let decisions = if args.yes {
            proposals
                .iter()
                .map(|(n, _)| Decision::Accept(n.clone()))
                .collect()
        } else {
            ask(&candidates, &proposals)?
        };
        apply_all(
            &mut store,
            &candidates,
            &proposals,
            decisions,
            &scope,
            &layout,
            &mut out,
        );
        if !out.renamed.is_empty() {
            point_latest(ctx, &store, &layout)?;
        }
    }
    if args.json {
        output::print_json(&out)?;
    } else {
        output::print(&crate::text::printable_lines(&render(&out)))?;
    }
    if out.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::general(format!(
            "{} folder(s) could not be migrated",
            out.failed.len()
        )))
    }
}

/// The output before anything is applied: what is passed over and what is planned.
fn outline(
    dry_run: bool,
    passed_over: Vec<legacy_runs::PassedOver>,
    candidates: &[Candidate],
    proposals: &[(String, Option<u32>)],
) -> RunsOutput {
    let mut out = RunsOutput {
        dry_run,
        skipped: passed_over
            .into_iter()
            .map(|p| NotDone {
                folder: p.folder,
                reason: p.reason,
            })
            .collect(),
        ..RunsOutput::default()
    };
    out.planned = candidates
        .iter()
        .zip(proposals)
        .map(|(c, (name, _))| Planned {
            folder: c.folder.clone(),
            name: name.clone(),
            found_by: c.found_by,
        })
        .collect();
    out
}

/// Point `latest` at the newest run once the renames are recorded; a pointer that cannot be
/// moved is only a warning by then.
fn point_latest(ctx: &Ctx, store: &Store, layout: &Layout) -> Result<()> {
    let Some(latest) = store.latest_run()? else {
        return Ok(());
    };
    let mut undo = crate::undo::Undo::default();
    match runs::update_pointers(layout, &latest.dir_name, &mut undo) {
        Ok(warnings) => warnings.into_iter().for_each(|w| ctx.warn(w)),
        Err(e) => ctx.warn(format!("the latest pointers were not updated: {e}")),
    }
    drop(undo);
    Ok(())
}

/// Apply the decisions, one folder at a time, into `out`; the candidates after a quit are
/// reported as not reached.
fn apply_all(
    store: &mut Store,
    candidates: &[Candidate],
    proposals: &[(String, Option<u32>)],
    decisions: Vec<Decision>,
    scope: &str,
    layout: &Layout,
    out: &mut RunsOutput,
) {
    let answered = decisions.len();
    for ((c, (proposed, number)), decision) in candidates.iter().zip(proposals).zip(decisions) {
        let Decision::Accept(name) = decision else {
            out.skipped.push(NotDone {
                folder: c.folder.clone(),
                reason: "skipped at the prompt".into(),
            });
            continue;
        };
        let number = if name == *proposed {
            *number
        } else {
            naming::run_number(&name)
        };
        match legacy_runs::adopt(store, c, &name, number, scope, layout) {
            Ok(run_id) => out.renamed.push(Renamed {
                from: c.folder.clone(),
                to: name,
                run_id,
            }),
            Err(e) => out.failed.push(NotDone {
                folder: c.folder.clone(),
                reason: e.to_string(),
            }),
        }
    }
    for c in candidates.iter().skip(answered) {
        out.skipped.push(NotDone {
            folder: c.folder.clone(),
            reason: "not reached (quit)".into(),
        });
    }
}

fn render(out: &RunsOutput) -> String {
    let mut text = String::new();
    if out.dry_run {
        for p in &out.planned {
            text.push_str(&format!(
                "would rename {} -> {} ({})\n",
                p.folder, p.name, p.found_by
            ));
        }
    }
    for r in &out.renamed {
        text.push_str(&format!(
            "renamed {} -> {} (run id {})\n",
            r.from, r.to, r.run_id
        ));
    }
    for s in &out.skipped {
        text.push_str(&format!("skipped {}: {}\n", s.folder, s.reason));
    }
    for f in &out.failed {
        text.push_str(&format!("failed {}: {}\n", f.folder, f.reason));
    }
    if out.planned.is_empty() {
        text.push_str("nothing to migrate: every run folder is already known\n");
    } else if out.dry_run {
        text.push_str(&format!(
            "would rename {}, skipped {}\n",
            out.planned.len(),
            out.skipped.len()
        ));
    } else {
        text.push_str(&format!(
            "renamed {}, skipped {}, failed {}\n",
            out.renamed.len(),
            out.skipped.len(),
            out.failed.len()
        ));
    }
    text
}
