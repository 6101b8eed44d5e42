//! `runctl version import` and `runctl version export`: the versions JSON file (the seed's
//! `training_versions.json`) into the registry, its duplicate pairs merged (asked per pair on a
//! terminal), and the registry back out in the same shape.

use std::path::{Path, PathBuf};

use clap::Args;

use super::version::open;
use super::version_view::VersionOutput;
use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::store::{AddConflict, NewVersion, Store};
use crate::versions::{self, FileVersion, VersionsFile};

/// Read a versions JSON file ({"versions": [...]}), merging its duplicate pairs
///
/// A duplicate pair is an entry still waiting for its artifact (pending, failed or without URL)
/// and a "Synced from S3" entry for the same file. Merged, they keep the first's id, name and
/// parameters and take the second's URL. Each pair is asked about on a terminal; --yes merges
/// all, --dry-run lists them.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version import training_versions.json --dry-run\n  runctl version import training_versions.json --family style_1 --yes"
)]
pub struct ImportArgs {
    /// The versions JSON file
    file: PathBuf,
    /// Family of entries whose name, URL and id do not tell it
    #[arg(long, value_name = "F")]
    family: Option<String>,
    /// Merge every duplicate pair without asking
    #[arg(short, long)]
    yes: bool,
    /// List what would be merged and imported; change nothing
    #[arg(long)]
    dry_run: bool,
}

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

/// One entry of a versions file as a new version.
fn as_new(
    template: &versions::Template,
    e: &FileVersion,
    family: Option<&str>,
) -> Option<NewVersion> {
    let (family, name) = versions::entry_identity(template, e, family)?;
    let status = e.status.clone().unwrap_or_else(|| {
        if e.lora_url.is_some() {
            "completed".into()
        } else {
            "pending".into()
        }
    });
    Some(NewVersion {
        family,
        name: Some(name),
        job_id: e.id.clone(),
        status,
        artifact_url: e.lora_url.clone(),
        parameters: e.parameters.as_ref().map(|p| p.to_string()),
        description: e.description.clone(),
        created_at: e.timestamp.clone(),
        last_synced: e.last_synced.clone(),
    })
}

pub fn import(ctx: &Ctx, args: ImportArgs) -> Result<()> {
    let (template, mut store) = open(ctx, true)?;
    let file = read_versions_file(&ctx.cwd.join(&args.file))?;
    let mut report = String::new();
    let (news, merged_away) = merge_duplicates(&template, &file, &args, &mut report)?;
    let (to_add, no_family) = additions(&file, news, &merged_away, &mut report);
    let (imported, conflicts) = if args.dry_run {
        for (_, new) in &to_add {
            let name = new.name.as_deref().unwrap_or("");
            report.push_str(&format!("would import {} {name}\n", new.family));
        }
        (to_add.len(), 0)
    } else {
        add_all(&mut store, to_add, &mut report)?
    };
    report.push_str(&format!(
        "{} {imported}, skipped {}\n",
        if args.dry_run {
            "would import"
        } else {
            "imported"
        },
        no_family + conflicts
    ));
    output::print(&report)
}

fn read_versions_file(path: &Path) -> Result<VersionsFile> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CliError::not_found(format!("{} does not exist", path.display()))
        }
        _ => CliError::io("read", path, e),
    })?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::general(format!("{}:{}:{}: not a versions file: {e}", path.display(), e.line(), e.column()))
            .hint("expected {\"versions\": [{\"id\": ..., \"name\": ..., \"status\": ..., \"loraUrl\": ...}]}")
    })
}

/// Each entry as the version it will add (`None`: no family or no name), after the pairs of
/// entries that are one version (a waiting one and its synced twin) are merged (asked about on
/// a terminal) or kept apart; and which entries were merged into their partner.
fn merge_duplicates(
    template: &versions::Template,
    file: &VersionsFile,
    args: &ImportArgs,
    report: &mut String,
) -> Result<(Vec<Option<NewVersion>>, Vec<bool>)> {
    let family = args.family.as_deref();
    let mut merged_away = vec![false; file.versions.len()];
    let mut news: Vec<Option<NewVersion>> = file
        .versions
        .iter()
        .map(|e| as_new(template, e, family))
        .collect();
    for (waiting, synced) in versions::duplicate_pairs(template, &file.versions, family) {
        let (w, s) = (&file.versions[waiting], &file.versions[synced]);
        let describe = format!(
            "entry {} ({}, {}) and entry {} ({}, {}) are the same version",
            w.id.as_deref().unwrap_or("-"),
            w.name.as_deref().unwrap_or("-"),
            w.status.as_deref().unwrap_or("-"),
            s.id.as_deref().unwrap_or("-"),
            s.name.as_deref().unwrap_or("-"),
            s.lora_url.as_deref().unwrap_or("-"),
        );
        let merge = if args.dry_run || args.yes {
            true
        } else {
            prompt::confirm(
                &format!("{describe}. Merge them into one?"),
                "pass --yes to merge every pair, or --dry-run to list them",
            )?
        };
        let partner_family = versions::entry_identity(template, s, family).map(|(f, _)| f);
        if !merge {
            // Both stay, as the file had them: the synced entry under its own name, the
            // waiting one in the family it pairs with.
            report.push_str(&format!("kept apart: {describe}\n"));
            if let (Some(Some(new)), Some(raw)) = (news.get_mut(synced), &s.name) {
                new.name = Some(raw.clone());
            }
            if let Some(slot @ None) = news.get_mut(waiting) {
                *slot = as_new(template, w, partner_family.as_deref());
            }
            continue;
        }
        report.push_str(&format!(
            "{}: {describe}\n",
            if args.dry_run {
                "would merge"
            } else {
                "merged"
            }
        ));
        if let Some(slot) = news.get_mut(waiting) {
            let Some(new) = slot
                .take()
                .or_else(|| as_new(template, w, partner_family.as_deref()))
            else {
                continue;
            };
            let new = slot.insert(new);
            new.artifact_url = s.lora_url.clone();
            new.status = "completed".into();
            new.last_synced = s
                .last_synced
                .clone()
                .or_else(|| Some(crate::store::now_text()));
        }
        merged_away[synced] = true;
    }
    Ok((news, merged_away))
}

/// The versions to add, each with a label for the report (its id, name or position); and how
/// many entries were skipped for want of a family or a name.
fn additions(
    file: &VersionsFile,
    news: Vec<Option<NewVersion>>,
    merged_away: &[bool],
    report: &mut String,
) -> (Vec<(String, NewVersion)>, usize) {
    let mut skipped = 0;
    let mut to_add = Vec::new();
    for (i, (entry, new)) in file.versions.iter().zip(news).enumerate() {
        if merged_away.get(i).copied().unwrap_or(false) {
            continue;
        }
        let label = entry
            .id
            .clone()
            .or_else(|| entry.name.clone())
            .unwrap_or_else(|| format!("#{}", i + 1));
        match new {
            Some(new) => to_add.push((label, new)),
            None => {
                skipped += 1;
                report.push_str(&format!(
                    "skipped {label}: no family (pass --family) or no name\n"
                ));
            }
        }
    }
    (to_add, skipped)
}

/// Add the versions in one transaction; returns how many were added and how many were
/// skipped because their name or job id is taken.
fn add_all(
    store: &mut Store,
    to_add: Vec<(String, NewVersion)>,
    report: &mut String,
) -> Result<(usize, usize)> {
    let news: Vec<NewVersion> = to_add.iter().map(|(_, n)| n.clone()).collect();
    let results = store.add_versions(&news, versions::version_number)?;
    let (mut imported, mut skipped) = (0, 0);
    for ((label, new), result) in to_add.into_iter().zip(results) {
        match result {
            Ok(row) => {
                imported += 1;
                report.push_str(&format!(
                    "imported {} {} ({})\n",
                    row.family, row.name, row.status
                ));
            }
            Err(AddConflict::NameTaken { name }) => {
                skipped += 1;
                report.push_str(&format!(
                    "skipped {label}: {} {name} is already in the registry\n",
                    new.family
                ));
            }
            Err(AddConflict::JobTaken { family, name }) => {
                skipped += 1;
                report.push_str(&format!(
                    "skipped {label}: its job id already belongs to {family} {name}\n"
                ));
            }
            // Every imported entry has a name: none asks for the next number.
            Err(AddConflict::NoNextNumber { .. }) => skipped += 1,
        }
    }
    Ok((imported, skipped))
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
                    status: Some(v.status),
                    lora_url: v.artifact_url,
                    timestamp: Some(v.created_at),
                    parameters: v.parameters,
                    description: v.description,
                    last_synced: v.last_synced,
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
