//! `runctl list`, `runctl show` and `runctl env`: reading run records.

use clap::Args;

use super::run_view::{self, Format, RunOutput};
use super::{Ctx, output};
use crate::error::Result;
use crate::naming;
use crate::store::{Access, RunFilter};

/// `--status`: the statuses runctl writes, and `superseded`.
fn status_values() -> clap::builder::PossibleValuesParser {
    let names = crate::state::RunStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(["superseded"]);
    clap::builder::PossibleValuesParser::new(names)
}

/// List runs, newest first
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl list\n  runctl list --model Qwen2-7B --status failed --limit 5\n  runctl list --tag baseline=yes --all\n  runctl list --older-than 30d --status failed --names | runctl rm - --yes\n  runctl list --json | jq -r '.[].name'"
)]
pub struct ListArgs {
    /// Only runs of this model (normalized as names are)
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Only runs of this dataset (normalized as names are)
    #[arg(long, value_name = "D")]
    dataset: Option<String>,
    /// Only runs with this status (or superseded ones)
    #[arg(long, value_name = "S", value_parser = status_values())]
    status: Option<String>,
    /// Only runs with this tag (repeatable: all of them)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Only runs created longer ago than this (30d, 12h, 2w, 1h30m)
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Option<jiff::Span>,
    /// Archived runs too
    #[arg(long)]
    all: bool,
    /// At most N runs
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Print only the run names, one per line (the id for a superseded run), for `runctl rm -`
    #[arg(long, conflicts_with = "json")]
    names: bool,
    /// Print the runs as a JSON array (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `--older-than`: a positive age such as 30d, 12h, 2w or 1h30m.
fn parse_age(text: &str) -> std::result::Result<jiff::Span, String> {
    let span: jiff::Span = text
        .parse()
        .map_err(|_| format!("'{text}' is not an age such as 30d, 12h, 2w or 1h30m"))?;
    if span.is_negative() || span.is_zero() {
        return Err(format!("'{text}': the age must be more than zero"));
    }
    Ok(span)
}

/// The stored time `age` before now.
fn created_before(age: jiff::Span) -> Result<String> {
    jiff::ZonedDateTime::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .checked_sub(age)
        .map(|z| crate::store::time_text(z.timestamp()))
        .map_err(|_| {
            crate::error::CliError::usage(format!("--older-than {age:#} reaches before year -9999"))
        })
}

/// Show one run: <run> is a run name, a run id, a unique id prefix, or latest
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl show latest\n  runctl show qwen2-7b-drg_letters-full-run3\n  runctl show 20261123_1405 --json"
)]
pub struct ShowArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// Print the run as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Print a run's runtime metadata (RUN_ID, RUN_NAME, RUN_DIR, ...)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl env latest\n  eval \"$(runctl env latest --format shell)\"\n  docker run --env-file <(runctl env latest) image\n  runctl env latest --json | jq -r .RUN_DIR"
)]
pub struct EnvArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// KEY=value lines (env), export lines for bash/zsh (shell), or JSON
    #[arg(long, value_enum, default_value_t = Format::Env)]
    format: Format,
    /// Same as --format json (docs/json.md)
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

pub fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let filter = RunFilter {
        model: args.model.as_deref().map(naming::model_segment),
        dataset: args.dataset.as_deref().map(naming::dataset_segment),
        status: args.status,
        limit: args.limit,
        tags: super::annotate::parse_tags(&args.tags)?,
        created_before: args.older_than.map(created_before).transpose()?,
        archived: args.all,
    };
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let runs = store.list_runs(&filter)?;
    if args.names {
        // A superseded run's name belongs to a newer run: its id is what finds it.
        let names: String = runs
            .iter()
            .map(|r| {
                let reference = if r.superseded { &r.id } else { &r.name };
                format!("{}\n", output::printable(reference))
            })
            .collect();
        return output::print(&names);
    }
    if args.json {
        let out = runs
            .iter()
            .map(|r| RunOutput::from_row(r).with_items(&store))
            .collect::<Result<Vec<RunOutput>>>()?;
        return output::print_json(&out);
    }
    if runs.is_empty() {
        ctx.note("no runs");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let view = RunOutput::from_row(r).with_items(&store)?;
            Ok(vec![
                r.name.clone(),
                match &r.archived_at {
                    Some(_) => format!("{} (archived)", view.status),
                    None => view.status,
                },
                view.items
                    .as_ref()
                    .map_or_else(|| "-".to_string(), run_view::ItemsOutput::short),
                r.created_at
                    .get(..19)
                    .unwrap_or(&r.created_at)
                    .replace('T', " "),
                r.id.clone(),
            ])
        })
        .collect::<Result<_>>()?;
    output::print(&output::table(
        &["NAME", "STATUS", "ITEMS", "CREATED (UTC)", "ID"],
        &rows,
    ))
}

pub fn show(ctx: &Ctx, args: ShowArgs) -> Result<()> {
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let row = run_view::find_run(&store, &args.run)?;
    let mut view = RunOutput::from_row(&row).with_items(&store)?;
    let members = super::members_view::members_of(&store, &row.id)?;
    if args.json {
        view.store = Some(store.kind());
        view.members = Some(members);
        return output::print_json(&view);
    }
    let mut text = String::new();
    // Every value shown escaped: a command line or a path may carry terminal escapes.
    let mut line = |k: &str, v: &str| text.push_str(&format!("{k:<12} {}\n", output::printable(v)));
    line("name", &view.name);
    line("id", &view.id);
    line("status", &view.status);
    line("outputs", &view.outputs_dir.to_string_lossy());
    line("logs", &view.logs_dir.to_string_lossy());
    line("model", &view.model);
    line("dataset", &view.dataset);
    line("size", &view.size);
    line("scope", &view.scope);
    if let Some(items) = &view.items {
        line(
            "items",
            &format!("{} ({} remaining)", items.short(), items.remaining),
        );
        if let Some(eta) = &items.eta {
            line("eta", eta);
        }
    }
    line("created", &view.created_at);
    if let Some(v) = &view.started_at {
        line("started", v);
    }
    if let Some(v) = &view.finished_at {
        line("finished", v);
    }
    if let Some(code) = view.exit_code {
        line("exit code", &code.to_string());
    }
    if let Some(cmd) = &view.command {
        line("command", &cmd.join(" "));
    }
    if let Some(path) = &view.config_path {
        line("config", path);
    }
    if let Some(moved) = &view.moved_to {
        line("moved to", moved);
    }
    text.push_str(&annotation_lines(&view));
    for member in super::members_view::lines(&members) {
        text.push_str(&format!(
            "{:<12} {}\n",
            "member",
            output::printable(&member)
        ));
    }
    output::print(&text)
}

/// The archive time, tags and notes of `show`, in its key-value layout.
fn annotation_lines(view: &RunOutput) -> String {
    let mut text = String::new();
    let mut line = |k: &str, v: &str| text.push_str(&format!("{k:<12} {}\n", output::printable(v)));
    if let Some(at) = &view.archived_at {
        line("archived", at);
    }
    for (key, value) in &view.tags {
        line("tag", &format!("{key}={value}"));
    }
    for note in &view.notes {
        let when = note
            .created_at
            .get(..16)
            .unwrap_or(&note.created_at)
            .replace('T', " ");
        for (i, words) in note.text.lines().enumerate() {
            let (key, lead) = if i == 0 {
                ("note", format!("{when}  "))
            } else {
                ("", " ".repeat(when.len() + 2))
            };
            line(key, &format!("{lead}{words}"));
        }
    }
    text
}

pub fn env(ctx: &Ctx, args: EnvArgs) -> Result<()> {
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let row = run_view::find_run(&store, &args.run)?;
    let format = if args.json { Format::Json } else { args.format };
    output::print(&run_view::render_metadata(&row, format)?)
}
