//! `runctl version ...`: the model-version registry. This file holds the subcommand tree and
//! the record commands (new, start, complete, fail, list, show); sync is in `version_sync.rs`,
//! import and export in `version_file.rs`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Ctx, output, version_file, version_sync};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::{AddConflict, NewVersion, Store, VersionRow};
use crate::versions::{self, Template};

/// Record trained model versions and keep them in step with their artifacts
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl version new style_1 --job-id ec487842-e2 --param lr=1e-4 --param steps=2000
  runctl version complete --job-id ec487842-e2 --url s3://loras/style_1_vV9.safetensors
  aws s3 ls s3://loras/ | awk '{print $4}' | runctl version sync --listing -
  runctl version list style_1")]
pub struct VersionArgs {
    #[command(subcommand)]
    command: VersionCommand,
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    New(NewArgs),
    Start(JobArgs),
    Complete(CompleteArgs),
    Fail(FailArgs),
    List(ListArgs),
    Show(ShowArgs),
    Sync(version_sync::SyncArgs),
    Import(version_file::ImportArgs),
    Export(version_file::ExportArgs),
}

/// Add a version to a family (pending); without --name it takes the next V<n>
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version new style_1 --job-id ec487842-e2 --description 'more steps'\n  runctl version new style_1 --name V12 --params-json params.json --json"
)]
struct NewArgs {
    /// The model family, e.g. style_1
    family: String,
    /// The version name [default: the next V<n> of the family]
    #[arg(long)]
    name: Option<String>,
    /// The external job id (the training job), used by start/complete/fail
    #[arg(long, value_name = "J")]
    job_id: Option<String>,
    /// A parameter KEY=VALUE (VALUE as JSON if it parses, else text); repeatable
    #[arg(long = "param", value_name = "K=V", conflicts_with = "params_json")]
    params: Vec<String>,
    /// Parameters from a JSON object in FILE
    #[arg(long, value_name = "FILE")]
    params_json: Option<PathBuf>,
    /// A description
    #[arg(long)]
    description: Option<String>,
    /// Print the version as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Mark a version running, by its external job id
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  runctl version start --job-id ec487842-e2")]
struct JobArgs {
    /// The external job id
    #[arg(long, value_name = "J")]
    job_id: String,
    /// Print the version as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Mark a version completed with its artifact URL, by its external job id (the webhook's update)
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  runctl version complete --job-id ec487842-e2 --url https://bucket/style_1_vV9.safetensors"
)]
struct CompleteArgs {
    #[command(flatten)]
    job: JobArgs,
    /// The artifact's URL
    #[arg(long, value_name = "U")]
    url: String,
}

/// Mark a version failed, by its external job id
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  runctl version fail --job-id ec487842-e2 --error 'CUDA out of memory'"
)]
struct FailArgs {
    #[command(flatten)]
    job: JobArgs,
    /// What went wrong
    #[arg(long, value_name = "E")]
    error: Option<String>,
}

/// List versions, by family and number
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version list\n  runctl version list style_1 --status pending --json"
)]
struct ListArgs {
    /// Only this family
    family: Option<String>,
    /// Only this status: pending, running, completed, failed
    #[arg(long)]
    status: Option<String>,
    /// Print a JSON array (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Show one version: <family> <name>, or --job-id J
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version show style_1 V8\n  runctl version show --job-id ec487842-e2 --json"
)]
struct ShowArgs {
    /// The family
    #[arg(required_unless_present = "job_id", requires = "name")]
    family: Option<String>,
    /// The version name
    name: Option<String>,
    /// Find it by external job id instead
    #[arg(long, value_name = "J", conflicts_with = "family")]
    job_id: Option<String>,
    /// Print the version as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// A version in `--json` output (docs/json.md).
#[derive(Debug, Serialize)]
pub struct VersionOutput {
    pub family: String,
    pub name: String,
    pub job_id: Option<String>,
    pub status: String,
    pub artifact_url: Option<String>,
    pub artifact_name: String,
    pub parameters: Option<serde_json::Value>,
    pub description: Option<String>,
    pub error: Option<String>,
    pub etag: Option<String>,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_synced: Option<String>,
}

impl VersionOutput {
    pub fn new(row: &VersionRow, template: &Template) -> VersionOutput {
        VersionOutput {
            artifact_name: template.format(&row.family, &row.name),
            family: row.family.clone(),
            name: row.name.clone(),
            job_id: row.job_id.clone(),
            status: row.status.clone(),
            artifact_url: row.artifact_url.clone(),
            parameters: row
                .parameters
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
            description: row.description.clone(),
            error: row.error.clone(),
            etag: row.etag.clone(),
            size: row.size,
            last_modified: row.last_modified.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
            last_synced: row.last_synced.clone(),
        }
    }
}

/// The project's artifact template, refused at load when it cannot be parsed back.
pub fn template(project: &Project) -> Result<Template> {
    Template::parse(&project.settings.versions.artifact_template).map_err(|e| {
        CliError::general(e.to_string()).hint(format!(
            "fix versions.artifact_template in {}",
            project.settings_path().display()
        ))
    })
}

/// The project, its template and its store, for every version command.
pub fn open(ctx: &Ctx, write: bool) -> Result<(Template, Store)> {
    let project = if write {
        ctx.project_for_write()?
    } else {
        ctx.require_project()?
    };
    let template = template(&project)?;
    let store = ctx.open_store(&project)?;
    Ok((template, store))
}

pub fn run(ctx: &Ctx, args: VersionArgs) -> Result<()> {
    match args.command {
        VersionCommand::New(a) => new(ctx, a),
        VersionCommand::Start(a) => by_job(ctx, &a, "running", None, None),
        VersionCommand::Complete(a) => by_job(ctx, &a.job, "completed", Some(&a.url), None),
        VersionCommand::Fail(a) => by_job(ctx, &a.job, "failed", None, a.error.as_deref()),
        VersionCommand::List(a) => list(ctx, a),
        VersionCommand::Show(a) => show(ctx, a),
        VersionCommand::Sync(a) => version_sync::sync(ctx, a),
        VersionCommand::Import(a) => version_file::import(ctx, a),
        VersionCommand::Export(a) => version_file::export(ctx, a),
    }
}

fn parameters(ctx: &Ctx, args: &NewArgs) -> Result<Option<String>> {
    if let Some(path) = &args.params_json {
        let path = ctx.cwd.join(path);
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::io("read", &path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::general(format!("{} is not valid JSON: {e}", path.display())))?;
        if !value.is_object() {
            return Err(CliError::general(format!(
                "{} must hold a JSON object",
                path.display()
            )));
        }
        return Ok(Some(value.to_string()));
    }
    if args.params.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for param in &args.params {
        let Some((key, value)) = param.split_once('=') else {
            return Err(CliError::usage(format!(
                "--param '{param}' is not KEY=VALUE"
            )));
        };
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        map.insert(key.to_string(), value);
    }
    Ok(Some(serde_json::Value::Object(map).to_string()))
}

fn new(ctx: &Ctx, args: NewArgs) -> Result<()> {
    let (template, mut store) = open(ctx, true)?;
    template
        .allows_family(&args.family)
        .map_err(CliError::usage)?;
    if let Some(name) = &args.name {
        template.allows_version(name).map_err(CliError::usage)?;
    }
    let new = NewVersion {
        family: args.family.clone(),
        name: args.name.clone(),
        job_id: args.job_id.clone(),
        status: "pending".into(),
        parameters: parameters(ctx, &args)?,
        description: args.description.clone(),
        ..NewVersion::default()
    };
    let row = match store.add_version(&new, versions::version_number)? {
        Ok(row) => row,
        Err(AddConflict::NameTaken) => {
            return Err(CliError::conflict(format!(
                "family {} already has a version {}",
                args.family,
                args.name.unwrap_or_default()
            ))
            .hint("leave out --name for the next free V<n>"));
        }
        Err(AddConflict::JobTaken { family, name }) => {
            return Err(CliError::conflict(format!(
                "job id {} already belongs to {family} {name}",
                args.job_id.unwrap_or_default()
            )));
        }
    };
    print_version(ctx, &row, &template, args.json, true)
}

fn print_version(
    ctx: &Ctx,
    row: &VersionRow,
    template: &Template,
    json: bool,
    name_only: bool,
) -> Result<()> {
    if json {
        return output::print_json(&VersionOutput::new(row, template));
    }
    if name_only {
        ctx.note(format!(
            "{} {} ({}; artifact {})",
            row.family,
            row.name,
            row.status,
            template.format(&row.family, &row.name)
        ));
        return output::print(&format!("{}\n", row.name));
    }
    let v = VersionOutput::new(row, template);
    let mut text = String::new();
    let mut line = |k: &str, val: &str| text.push_str(&format!("{k:<14} {val}\n"));
    line("family", &v.family);
    line("name", &v.name);
    line("status", &v.status);
    line("job id", v.job_id.as_deref().unwrap_or("-"));
    line("artifact", &v.artifact_name);
    line("artifact url", v.artifact_url.as_deref().unwrap_or("-"));
    if let Some(p) = &v.parameters {
        line("parameters", &p.to_string());
    }
    if let Some(d) = &v.description {
        line("description", d);
    }
    if let Some(e) = &v.error {
        line("error", e);
    }
    line("created", &v.created_at);
    line("updated", &v.updated_at);
    if let Some(s) = &v.last_synced {
        line("last synced", s);
    }
    output::print(&text)
}

fn by_job(
    ctx: &Ctx,
    args: &JobArgs,
    status: &str,
    url: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    let (template, store) = open(ctx, true)?;
    let row = store
        .update_version_by_job(&args.job_id, status, url, error)?
        .ok_or_else(|| {
            CliError::not_found(format!("no version has job id '{}'", args.job_id))
                .hint("'runctl version list' shows the versions and their job ids")
        })?;
    print_version(ctx, &row, &template, args.json, true)
}

fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let (template, store) = open(ctx, false)?;
    let rows = store.list_versions(args.family.as_deref(), args.status.as_deref())?;
    if args.json {
        let out: Vec<VersionOutput> = rows
            .iter()
            .map(|r| VersionOutput::new(r, &template))
            .collect();
        return output::print_json(&out);
    }
    if rows.is_empty() {
        ctx.note("no versions");
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.family.clone(),
                r.name.clone(),
                r.status.clone(),
                r.job_id.clone().unwrap_or_else(|| "-".into()),
                r.artifact_url.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::print(&output::table(
        &["FAMILY", "NAME", "STATUS", "JOB ID", "ARTIFACT URL"],
        &table,
    ))
}

fn show(ctx: &Ctx, args: ShowArgs) -> Result<()> {
    let (template, store) = open(ctx, false)?;
    let row = match (&args.job_id, &args.family, &args.name) {
        (Some(job), _, _) => store.version_by_job(job)?,
        (None, Some(family), Some(name)) => store.version(family, name)?,
        _ => return Err(CliError::usage("give <family> <name>, or --job-id J")),
    };
    let row = row.ok_or_else(|| {
        CliError::not_found("no such version").hint("'runctl version list' shows the versions")
    })?;
    print_version(ctx, &row, &template, args.json, false)
}
