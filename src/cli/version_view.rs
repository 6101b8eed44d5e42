//! `runctl version list` and `runctl version show`, and how a version is printed (its name,
//! its fields, or JSON) by every version command.

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::Serialize;

use super::version::open;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::store::VersionRow;
use crate::versions::{Template, VersionStatus, printable};

/// List versions, by family and number
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version list\n  runctl version list style_1 --status pending --json"
)]
pub(super) struct ListArgs {
    /// Only this family
    family: Option<String>,
    /// Only this status
    #[arg(long, value_parser = status_parser())]
    status: Option<VersionStatus>,
    /// Print a JSON array (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `--status`: one of the statuses, each spelled as the store and `--json` spell it.
fn status_parser() -> impl TypedValueParser<Value = VersionStatus> {
    PossibleValuesParser::new(VersionStatus::ALL.iter().map(|s| s.as_str())).try_map(|text| {
        VersionStatus::parse(&text).ok_or_else(|| format!("'{text}' is not a status"))
    })
}

/// Show one version: <family> <name>, or --job-id J
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version show style_1 V8\n  runctl version show --job-id ec487842-e2 --json"
)]
pub(super) struct ShowArgs {
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
    pub status: crate::state::Stored<VersionStatus>,
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

/// A version: its name (the full record on stderr), every field, or JSON.
pub(super) fn print_version(
    ctx: &Ctx,
    row: &VersionRow,
    template: &Template,
    json: bool,
    name_only: bool,
) -> Result<()> {
    if json {
        return output::print_json(&VersionOutput::new(row, template));
    }
    // Rows written before runctl checked what enters may hold control characters: escaped
    // here, they show instead of acting on the terminal.
    if name_only {
        ctx.note(format!(
            "{} {} ({}; artifact {})",
            printable(&row.family),
            printable(&row.name),
            row.status,
            printable(&template.format(&row.family, &row.name))
        ));
        return output::print(&format!("{}\n", printable(&row.name)));
    }
    let v = VersionOutput::new(row, template);
    let mut text = String::new();
    let mut line = |k: &str, val: &str| text.push_str(&format!("{k:<14} {}\n", printable(val)));
    line("family", &v.family);
    line("name", &v.name);
    line("status", v.status.as_str());
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

pub(super) fn list(ctx: &Ctx, args: ListArgs) -> Result<()> {
    let (template, store) = open(ctx, false)?;
    let rows = store.list_versions(args.family.as_deref(), args.status)?;
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
            [
                Some(r.family.as_str()),
                Some(r.name.as_str()),
                Some(r.status.as_str()),
                r.job_id.as_deref(),
                r.artifact_url.as_deref(),
            ]
            .iter()
            .map(|cell| cell.map_or_else(|| "-".into(), |c| printable(c).into_owned()))
            .collect()
        })
        .collect();
    output::print(&output::table(
        &["FAMILY", "NAME", "STATUS", "JOB ID", "ARTIFACT URL"],
        &table,
    ))
}

pub(super) fn show(ctx: &Ctx, args: ShowArgs) -> Result<()> {
    let (template, store) = open(ctx, false)?;
    let row = match (&args.job_id, &args.family, &args.name) {
        (Some(job), _, _) => store.version_by_job(job)?,
        (None, Some(family), Some(name)) => store.version(family, name)?,
        _ => return Err(CliError::usage("give <family> <name>, or --job-id J")),
    };
    let row = row.ok_or_else(|| {
        let (what, hint) = match (&args.job_id, &args.family, &args.name) {
            (Some(job), _, _) => (
                format!("no version has job id {job}"),
                "'runctl version list' shows the versions and their job ids".to_string(),
            ),
            (None, Some(family), Some(name)) => (
                format!("{family} has no version {name}"),
                format!("'runctl version list {family}' shows its versions"),
            ),
            _ => (
                "no such version".to_string(),
                "'runctl version list' shows the versions".to_string(),
            ),
        };
        CliError::not_found(what).hint(hint)
    })?;
    print_version(ctx, &row, &template, args.json, false)
}
