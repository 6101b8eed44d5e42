//! `runctl version export`: the registry as a versions JSON file (the seed's
//! `training_versions.json`), in the shape `version import` reads back without loss.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::export_target::{is_stdout, open_target};
use super::version::open_project;
use super::version_view::VersionOutput;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::Store;
use crate::versions::{FileVersion, VersionsFile};

/// Write the versions as a versions JSON file ({"versions": [...]})
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version export --family style_1 -o training_versions.json\n  runctl version export -o training_versions.json --json | jq .versions"
)]
pub struct ExportArgs {
    /// Only this family
    #[arg(long, value_name = "F")]
    family: Option<String>,
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print a summary as JSON on stdout (docs/json.md); needs -o FILE, since without it the
    /// versions file itself is on stdout
    #[arg(long)]
    json: bool,
}

/// `runctl version export -o FILE --json`.
#[derive(Debug, Serialize)]
struct ExportOutput {
    output: PathBuf,
    family: Option<String>,
    versions: usize,
}

pub fn export(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    if args.json && args.output.as_deref().is_none_or(is_stdout) {
        return Err(CliError::usage(
            "--json prints the summary on stdout, where the versions file itself goes without -o FILE",
        )
        .hint("give -o FILE to write the versions file to a file, or leave --json out"));
    }
    let (project, template, store) = open_project(ctx, false)?;
    let rows = store.list_versions(args.family.as_deref(), None)?;
    let file = VersionsFile {
        versions: rows
            .iter()
            .map(|r| {
                let v = VersionOutput::new(r, &template);
                FileVersion {
                    id: v.job_id,
                    name: Some(v.name),
                    family: Some(v.family),
                    status: Some(v.status.to_string()),
                    lora_url: v.artifact_url,
                    timestamp: Some(v.created_at),
                    parameters: v.parameters,
                    description: v.description,
                    last_synced: v.last_synced,
                    error: v.error,
                    etag: v.etag,
                    size: v.size,
                    last_modified: v.last_modified,
                }
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file)?;
    text.push('\n');
    let Some(given) = args.output.as_deref().filter(|p| !is_stdout(p)) else {
        return output::print(&text);
    };
    let path = write_file(&project, &store, &ctx.cwd.join(given), &text)?;
    if args.json {
        return output::print_json(&ExportOutput {
            output: path,
            family: args.family,
            versions: file.versions.len(),
        });
    }
    ctx.note(format!(
        "wrote {} versions to {}",
        file.versions.len(),
        path.display()
    ));
    Ok(())
}

/// Write `text` where `-o` says: through a temporary file renamed into place (none is left
/// behind when that fails), or into a FIFO or device; runctl's own files and the project's
/// sources refused, as `runctl export` refuses them. Returns the file written.
fn write_file(project: &Project, store: &Store, given: &Path, text: &str) -> Result<PathBuf> {
    let (mut sink, target) = open_target(project, store, given)?;
    let written = sink.write_all(text.as_bytes()).and_then(|()| sink.flush());
    drop(sink);
    match (written, target) {
        (Err(e), Some((tmp, path))) => {
            let _ = std::fs::remove_file(&tmp);
            Err(CliError::io("write", &path, e))
        }
        (Err(e), None) => Err(CliError::io("write", given, e)),
        (Ok(()), Some((tmp, path))) => match std::fs::rename(&tmp, &path) {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(CliError::io("write", &path, e))
            }
        },
        (Ok(()), None) => Ok(given.to_path_buf()),
    }
}
