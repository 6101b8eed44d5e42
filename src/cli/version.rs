//! `runctl version ...`: the model-version registry. This file holds the subcommand tree and
//! the record commands (new, start, complete, fail); list and show are in `version_view.rs`,
//! sync in `version_sync.rs` (its listing input in `version_listing.rs`), import in
//! `version_file.rs`, export in `version_export.rs`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Ctx, version_export, version_file, version_sync, version_view};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::{Access, AddConflict, NewVersion, Store};
use crate::versions::{self, Template, VersionStatus};

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
    List(version_view::ListArgs),
    Show(version_view::ShowArgs),
    Sync(version_sync::SyncArgs),
    Import(version_file::ImportArgs),
    Export(version_export::ExportArgs),
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
#[command(after_help = "Examples:\n  runctl version start --job-id ec487842-e2")]
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
    after_help = "Examples:\n  runctl version complete --job-id ec487842-e2 --url https://bucket/style_1_vV9.safetensors"
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
    after_help = "Examples:\n  runctl version fail --job-id ec487842-e2 --error 'CUDA out of memory'"
)]
struct FailArgs {
    #[command(flatten)]
    job: JobArgs,
    /// What went wrong
    #[arg(long, value_name = "E")]
    error: Option<String>,
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

/// The project's `versions.url_base`, `None` when empty; refused when it is not a URL.
pub fn url_base(project: &Project) -> Result<Option<String>> {
    versions::check_url_base(&project.settings.versions.url_base)
        .map(|base| base.map(str::to_string))
        .map_err(|e| {
            CliError::general(e.to_string()).hint(format!(
                "fix versions.url_base in {}, e.g. url_base = \"s3://loras/\"",
                project.settings_path().display()
            ))
        })
}

/// The project and its template, checked before any store is opened (so that a command refused
/// for its arguments makes no `.runctl/`).
pub fn project_and_template(ctx: &Ctx, write: bool) -> Result<(Project, Template)> {
    let project = if write {
        ctx.project_for_write()?
    } else {
        ctx.require_project()?
    };
    let template = template(&project)?;
    Ok((project, template))
}

/// The project's store, for reading or writing.
pub fn store_of(ctx: &Ctx, project: &Project, write: bool) -> Result<Store> {
    ctx.open_store(project, if write { Access::Write } else { Access::Read })
}

/// The project, its template and its store, for every version command.
pub fn open_project(ctx: &Ctx, write: bool) -> Result<(Project, Template, Store)> {
    let (project, template) = project_and_template(ctx, write)?;
    let store = store_of(ctx, &project, write)?;
    Ok((project, template, store))
}

/// The template and the store, for the version commands that need no other setting.
pub fn open(ctx: &Ctx, write: bool) -> Result<(Template, Store)> {
    open_project(ctx, write).map(|(_, template, store)| (template, store))
}

/// A value refused by the checks every version passes (`versions::NewVersion::check`).
pub fn invalid(e: versions::Invalid) -> CliError {
    CliError::usage(e.to_string()).hint("docs/versions.md lists what names and fields may hold")
}

pub fn run(ctx: &Ctx, args: VersionArgs) -> Result<()> {
    match args.command {
        VersionCommand::New(a) => new(ctx, a),
        VersionCommand::Start(a) => by_job(ctx, &a, VersionStatus::Running, None, None),
        VersionCommand::Complete(a) => {
            by_job(ctx, &a.job, VersionStatus::Completed, Some(&a.url), None)
        }
        VersionCommand::Fail(a) => {
            by_job(ctx, &a.job, VersionStatus::Failed, None, a.error.as_deref())
        }
        VersionCommand::List(a) => version_view::list(ctx, a),
        VersionCommand::Show(a) => version_view::show(ctx, a),
        VersionCommand::Sync(a) => version_sync::sync(ctx, a),
        VersionCommand::Import(a) => version_file::import(ctx, a),
        VersionCommand::Export(a) => version_export::export(ctx, a),
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
    let (project, template) = project_and_template(ctx, true)?;
    let new = NewVersion {
        family: args.family.clone(),
        name: args.name.clone(),
        job_id: args.job_id.clone(),
        status: VersionStatus::Pending,
        parameters: parameters(ctx, &args)?,
        description: args.description.clone(),
        ..NewVersion::default()
    };
    new.check(&template).map_err(invalid)?;
    let mut store = store_of(ctx, &project, true)?;
    let row = match store.add_version(&new, versions::version_number)? {
        Ok(row) => row,
        Err(AddConflict::NameTaken { name }) => {
            return Err(CliError::conflict(format!(
                "family {} already has a version {name}",
                args.family
            ))
            .hint("leave out --name for the next free V<n>"));
        }
        Err(AddConflict::JobTaken { family, name }) => {
            return Err(CliError::conflict(format!(
                "job id {} already belongs to {family} {name}",
                args.job_id.unwrap_or_default()
            )));
        }
        Err(AddConflict::NoNextNumber { largest }) => {
            return Err(CliError::conflict(format!(
                "family {} has reached V{largest}: there is no next V<n>",
                args.family
            ))
            .hint("name the version with --name"));
        }
    };
    version_view::print_version(ctx, &row, &template, args.json, true)
}

fn by_job(
    ctx: &Ctx,
    args: &JobArgs,
    status: VersionStatus,
    url: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    let (project, template) = project_and_template(ctx, true)?;
    if let Some(url) = url {
        versions::check_url(url).map_err(invalid)?;
    }
    if let Some(error) = error {
        versions::check_text("error", error).map_err(invalid)?;
    }
    let not_found = || {
        CliError::not_found(format!(
            "no version has job id '{}'",
            versions::printable(&args.job_id)
        ))
        .hint("'runctl version list' shows the versions and their job ids")
    };
    if !super::ctx::has_state(&project)? {
        return Err(not_found()); // no DB, no version: nothing is made to say so
    }
    let store = store_of(ctx, &project, true)?;
    let row = store
        .update_version_by_job(&args.job_id, status, url, error)?
        .ok_or_else(not_found)?;
    version_view::print_version(ctx, &row, &template, args.json, true)
}
