//! `runctl migrate runs`: give run folders made before runctl their canonical names, keeping a
//! symlink at each old name, and record them as runs.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::legacy;
use crate::naming::{self, Segments};
use crate::pipeline_config;
use crate::project::Project;
use crate::runs::{self, Layout, NameRequest};
use crate::store::{RunRow, Store};

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

/// A folder to migrate.
#[derive(Debug, Clone)]
struct Candidate {
    folder: String,
    time: jiff::civil::DateTime,
    run_id: Option<String>,
    segments: Segments,
    config: Option<(String, PathBuf)>,
    found_by: &'static str,
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

const CONFIG_NAMES: [&str; 3] = ["config.yaml", "config.yml", "config.json"];

/// The pipeline config inside a folder: `None` when there is none, `Err` when it cannot be read.
fn find_config(dir: &Path) -> Option<std::result::Result<(serde_json::Value, PathBuf), String>> {
    let named = CONFIG_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let toml = || {
        let mut tomls: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect();
        tomls.sort();
        tomls.into_iter().next()
    };
    let path = named.or_else(toml)?;
    Some(
        pipeline_config::load(&path)
            .map(|v| (v, path.clone()))
            .map_err(|e| e.to_string()),
    )
}

fn folder_time(dir: &Path) -> jiff::civil::DateTime {
    let modified = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    jiff::tz::TimeZone::UTC.to_datetime(modified)
}

/// Folders of outputs/ and logs/ that the DB does not know, and the ones passed over.
fn discover(
    project: &Project,
    store: &Store,
    layout: &Layout,
) -> Result<(Vec<Candidate>, Vec<NotDone>)> {
    let mut names: Vec<String> = Vec::new();
    for base in [&layout.outputs, &layout.logs] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_real_dir
                && !name.starts_with('.')
                && !name.contains(".superseded-")
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names.sort();
    let keys = &project.settings.naming;
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        if !store.runs_named(&name)?.is_empty() {
            continue; // a run runctl already knows
        }
        let dir = [&layout.outputs, &layout.logs]
            .into_iter()
            .map(|b| b.join(&name))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| layout.outputs.join(&name));
        let parsed = legacy::parse_name(&name);
        let config = match find_config(&dir) {
            Some(Ok(config)) => Some(config),
            Some(Err(reason)) if parsed.is_none() => {
                skipped.push(NotDone {
                    folder: name,
                    reason: format!("its config cannot be read: {reason}"),
                });
                continue;
            }
            _ => None,
        };
        if parsed.is_none() && config.is_none() {
            skipped.push(NotDone {
                folder: name,
                reason: "not a legacy run folder (no run id in its name, no config inside)".into(),
            });
            continue;
        }
        let value = |key: &str| -> Option<String> {
            let (v, _) = config.as_ref()?;
            pipeline_config::lookup(v, key).and_then(pipeline_config::as_text)
        };
        let model = value(&keys.model_key)
            .or_else(|| parsed.as_ref().and_then(|p| p.model.clone()))
            .unwrap_or_default();
        let dataset = value(&keys.dataset_key).unwrap_or_default();
        let size = value(&keys.sample_size_key);
        let (segments, _) = naming::segments_from(&model, &dataset, size.as_deref());
        let found_by = match (&parsed, &config) {
            (_, Some(_)) => "config",
            (Some(p), None) if p.model.is_some() => "model_h id",
            (Some(p), None) if p.run_id.is_some() => "run id",
            _ => "timestamp",
        };
        candidates.push(Candidate {
            time: parsed
                .as_ref()
                .map_or_else(|| folder_time(&dir), |p| p.time),
            run_id: parsed.and_then(|p| p.run_id),
            config: config.map(|(v, p)| (v.to_string(), p)),
            segments,
            folder: name,
            found_by,
        });
    }
    candidates.sort_by(|a, b| a.time.cmp(&b.time).then(a.folder.cmp(&b.folder)));
    Ok((candidates, skipped))
}

fn stamp(time: &jiff::civil::DateTime) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

fn row(
    c: &Candidate,
    name: &str,
    number: Option<u32>,
    id: String,
    scope: &str,
    layout: &Layout,
) -> RunRow {
    RunRow {
        id,
        name: name.to_string(),
        dir_name: name.to_string(),
        model: c.segments.model.clone(),
        dataset: c.segments.dataset.clone(),
        size: c.segments.size.clone(),
        number,
        scope: scope.to_string(),
        status: "migrated".into(),
        superseded: false,
        moved_to: None,
        outputs_dir: layout.outputs.join(name).to_string_lossy().into_owned(),
        logs_dir: layout.logs.join(name).to_string_lossy().into_owned(),
        command: None,
        config: c.config.as_ref().map(|(c, _)| c.clone()),
        config_path: c
            .config
            .as_ref()
            .map(|(_, p)| p.to_string_lossy().into_owned()),
        exit_code: None,
        created_at: stamp(&c.time),
        started_at: Some(stamp(&c.time)),
        finished_at: None,
    }
}

/// The proposed name of every candidate, numbered in time order, without writing anything.
fn plan(
    store: &mut Store,
    candidates: &[Candidate],
    project: &Project,
    layout: &Layout,
) -> Result<Vec<(String, Option<u32>)>> {
    let scope = project.settings.naming.run_counter_scope;
    store.allocate(false, |a| {
        let mut names = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let request = NameRequest {
                segments: c.segments.clone(),
                scope,
                forced: None,
                force: false,
            };
            let p = runs::plan(a, &request, layout, "00000000000000", "0000")?;
            // Held in this (rolled back) transaction so that the next proposal counts it.
            a.insert(&row(
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
    store.allocate(true, |a| {
        if a.live_run_named(name)?.is_some()
            || [&layout.outputs, &layout.logs]
                .iter()
                .any(|b| std::fs::symlink_metadata(b.join(name)).is_ok())
        {
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
        let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
        let undo = |done: &[(PathBuf, PathBuf)]| {
            for (from, to) in done.iter().rev() {
                let _ = std::fs::remove_file(from);
                let _ = std::fs::rename(to, from);
            }
        };
        for base in [&layout.outputs, &layout.logs] {
            let from = base.join(&c.folder);
            if !std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let to = base.join(name);
            if let Err(e) = std::fs::rename(&from, &to) {
                undo(&done);
                return Err(CliError::io("rename", &from, e));
            }
            done.push((from.clone(), to));
            #[cfg(unix)]
            if let Err(e) = std::os::unix::fs::symlink(name, &from) {
                undo(&done);
                return Err(CliError::io("leave a symlink at", &from, e));
            }
        }
        if let Err(e) = a.insert(&row(c, name, number, id.clone(), scope, layout)) {
            undo(&done);
            return Err(e.into());
        }
        Ok(id)
    })
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
    let mut store = ctx.open_store(&project)?;
    let layout = Layout {
        outputs: project.root.join(&project.settings.paths.outputs),
        logs: project.root.join(&project.settings.paths.logs),
        max_path: project.settings.naming.max_path,
    };
    let scope = project.settings.naming.run_counter_scope.to_string();
    let (candidates, skipped) = discover(&project, &store, &layout)?;
    let proposals = plan(&mut store, &candidates, &project, &layout)?;
    let mut out = RunsOutput {
        dry_run: args.dry_run,
        skipped,
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
        let answered = decisions.len();
        for ((c, (proposed, number)), decision) in candidates.iter().zip(&proposals).zip(decisions)
        {
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
            match apply(&mut store, c, &name, number, &scope, &layout) {
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
        if !out.renamed.is_empty()
            && let Some(latest) = store.latest_run()?
        {
            runs::update_pointers(&layout, &latest.dir_name)?;
        }
    }
    if args.json {
        output::print_json(&out)?;
    } else {
        output::print(&render(&out))?;
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
