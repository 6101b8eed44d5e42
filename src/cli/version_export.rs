//! `runctl version export`: the registry as a versions JSON file (the seed's
//! `training_versions.json`), in the shape `version import` reads back without loss.

use std::path::PathBuf;

use clap::Args;

use super::version::open;
use super::version_view::VersionOutput;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::versions::{FileVersion, VersionsFile};

/// Write the versions as a versions JSON file ({"versions": [...]})
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version export --family style_1 -o training_versions.json"
)]
pub struct ExportArgs {
    /// Only this family
    #[arg(long, value_name = "F")]
    family: Option<String>,
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn export(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    let (template, store) = open(ctx, false)?;
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
    match &args.output {
        None => output::print(&text),
        Some(path) => {
            let path = ctx.cwd.join(path);
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, &text).map_err(|e| CliError::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| CliError::io("write", &path, e))?;
            ctx.note(format!(
                "wrote {} versions to {}",
                file.versions.len(),
                path.display()
            ));
            Ok(())
        }
    }
}
