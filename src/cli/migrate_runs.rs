//! `runctl migrate runs`: give run folders made before runctl their canonical names, keeping a
//! symlink at each old name, and record them as runs.

use clap::Args;
use serde::Serialize;

use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::legacy_runs::{self, Candidate, discover, run_row};
use crate::naming;
use crate::project::Project;
use crate::runs::{self, Layout, NameRequest};
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

/// The proposed name of every candidate, numbered in time order, without writing anything.
fn plan(
    store: &mut Store,
    candidates: &[Candidate],
    project: &Project,
    layout: &Layout,
) -> Result<Vec<(String, Option<u32>)>> {
    let scope = project.settings.naming.run_counter_scope;
    store.plan_with_writes(|a| {
        let mut names = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let request = NameRequest {
                segments: c.segments.clone(),
                scope,
                forced: None,
                force: false,
            };
            let p = match &c.renamed_to {
                // Already renamed by a stopped run of this command: that name is kept.
                Some(to) => runs::Plan {
                    name: to.clone(),
                    number: naming::run_number(to),
                    fitted: c.segments.clone(),
                    shortened: Vec::new(),
                    supersede: None,
                },
                None => runs::plan(a, &request, layout, "00000000000000", "0000")?,
            };
            // Held in this (rolled back) transaction so that the next proposal counts it.
            a.insert(&run_row(
                c,
                &p.name,
                p.number,
                format!("plan-{i}"),
                &scope.to_string(),
                layout,
            ))?;
            names.push((p.name, p.number));
        }
        Ok(names)
    })
}

/// Rename one folder (in outputs/ and logs/), leave symlinks, record the run: all or nothing.
fn apply(
    store: &mut Store,
    c: &Candidate,
    name: &str,
    number: Option<u32>,
    scope: &str,
    layout: &Layout,
) -> Result<String> {
    let resuming = c.renamed_to.as_deref() == Some(name);
    let mut done = Vec::new();
    let mut made = crate::undo::Undo::default();
    let recorded = store.allocate(true, |a| {
        let on_disk = !resuming
            && [&layout.outputs, &layout.logs]
                .iter()
                .any(|b| std::fs::symlink_metadata(b.join(name)).is_ok());
        if a.live_run_named(name)?.is_some() || on_disk {
            return Err(CliError::conflict(format!(
                "the name {name} was taken meanwhile"
            )));
        }
        let id = match &c.run_id {
            Some(id) if a.run_id_free(id)? => id.clone(),
            _ => {
                let mut random = [0u8; 2];
                getrandom::fill(&mut random)
                    .map_err(|e| CliError::general(format!("no OS randomness: {e}")))?;
                naming::run_id(&c.time, random)
            }
        };
        if let Some(to) = c.renamed_to.as_deref().filter(|to| *to != name) {
            // Renamed to `to` by a stopped run, and now given another name: move it on.
            done = legacy_runs::rename_folders(layout, to, name)?;
        }
        done.extend(legacy_runs::rename_folders(layout, &c.folder, name)?);
        // A run has both folders, as `new` makes them: the one a legacy run never had (its
        // logs, say) is made empty, so RUN_DIR and RUN_LOG_DIR both name a folder.
        for base in [&layout.outputs, &layout.logs] {
            let dir = base.join(name);
            if std::fs::symlink_metadata(&dir).is_err() {
                std::fs::create_dir_all(base).map_err(|e| CliError::io("create", base, e))?;
                std::fs::create_dir(&dir).map_err(|e| CliError::io("create", &dir, e))?;
                made.made_dir(&dir);
            }
        }
        a.insert(&run_row(c, name, number, id.clone(), scope, layout))?;
        Ok(id)
    });
    if recorded.is_err() {
        // The insert or the commit failed: the folders go back to their old names.
        let _ = made.undo();
        legacy_runs::undo(&done);
    }
    recorded
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
                eprintln!(
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
    let proposals = plan(&mut store, &candidates, &project, &layout)?;
    let mut out = RunsOutput {
        dry_run: args.dry_run,
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
        .zip(&proposals)
        .map(|(c, (name, _))| Planned {
            folder: c.folder.clone(),
            name: name.clone(),
            found_by: c.found_by,
        })
        .collect();
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
        if !out.renamed.is_empty()
            && let Some(latest) = store.latest_run()?
        {
            // The renames are recorded by now: a pointer that cannot be moved is only a warning.
            let mut undo = crate::undo::Undo::default();
            match runs::update_pointers(&layout, &latest.dir_name, &mut undo) {
                Ok(warnings) => warnings.into_iter().for_each(|w| ctx.warn(w)),
                Err(e) => ctx.warn(format!("the latest pointers were not updated: {e}")),
            }
            drop(undo);
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
        match apply(store, c, &name, number, scope, layout) {
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
