//! `runctl version import`: the versions JSON file (the seed's `training_versions.json`) into
//! the registry, every entry checked first (none imported when one is refused), its duplicate
//! pairs merged (asked per pair on a terminal). `version export` writes the file back.

use std::path::{Path, PathBuf};

use clap::Args;

use super::version::invalid;
use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::store::{AddConflict, NewVersion, Store};
use crate::versions::{self, FileVersion, Status, VersionsFile};

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

/// One entry of a versions file as a new version.
fn as_new(
    template: &versions::Template,
    e: &FileVersion,
    family: Option<&str>,
) -> Option<NewVersion> {
    let (family, name) = versions::entry_identity(template, e, family)?;
    let status = e.status.clone().unwrap_or_else(|| {
        if e.lora_url.is_some() {
            Status::Completed.as_str().into()
        } else {
            Status::Pending.as_str().into()
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
        error: e.error.clone(),
        etag: e.etag.clone(),
        size: e.size,
        last_modified: e.last_modified.clone(),
        created_at: e.timestamp.clone(),
        last_synced: e.last_synced.clone(),
    })
}

/// At most this many refused entries are named in the error; the count says the rest.
const SHOWN_INVALID: usize = 20;

/// Every entry to be imported against `NewVersion::check`: all refused entries are named, and
/// nothing is imported when any is, so a file is never half imported.
fn check_all<'a>(
    template: &versions::Template,
    path: &Path,
    news: impl Iterator<Item = (usize, &'a NewVersion)>,
) -> Result<()> {
    let refused: Vec<String> = news
        .filter_map(|(i, new)| {
            new.check(template).err().map(|e| {
                let id = new
                    .job_id
                    .as_deref()
                    .map(|j| format!(" (id {})", versions::printable(j)))
                    .unwrap_or_default();
                format!("entry {}{id}: {e}", i + 1)
            })
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let mut err = CliError::general(format!(
        "{}: {} of its entries cannot be imported, so nothing was imported",
        path.display(),
        refused.len()
    ));
    for line in refused.iter().take(SHOWN_INVALID) {
        err = err.cause(line);
    }
    if refused.len() > SHOWN_INVALID {
        err = err.cause(format!("... and {} more", refused.len() - SHOWN_INVALID));
    }
    Err(err.hint(
        "fix those entries and import again; docs/versions.md lists what each field may hold",
    ))
}

pub fn import(ctx: &Ctx, args: ImportArgs) -> Result<()> {
    let (project, template) = super::version::project_and_template(ctx, true)?;
    if let Some(family) = &args.family {
        versions::check_family(&template, family).map_err(invalid)?;
    }
    let path = ctx.cwd.join(&args.file);
    let file = read_versions_file(&path)?;
    let mut report = String::new();
    // Checked before the first question, so nobody answers prompts for a file that is then
    // refused; checked again after, for the entries the answers changed.
    let first: Vec<Option<NewVersion>> = file
        .versions
        .iter()
        .map(|e| as_new(&template, e, args.family.as_deref()))
        .collect();
    check_all(
        &template,
        &path,
        first
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|n| (i, n))),
    )?;
    let (news, merged_away) = merge_duplicates(&template, &file, &args, first, &mut report)?;
    let (to_add, no_family) = additions(&file, news, &merged_away, &mut report);
    check_all(&template, &path, to_add.iter().map(|a| (a.index, &a.new)))?;
    let (imported, conflicts) = if args.dry_run {
        for a in &to_add {
            let name = a.new.name.as_deref().unwrap_or("");
            report.push_str(&format!("would import {} {name}\n", a.new.family));
        }
        (to_add.len(), 0)
    } else {
        // The store is opened only now: a refused file or a dry run makes nothing.
        let mut store = super::version::store_of(ctx, &project, true)?;
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

/// The largest versions file read. The seed's file holds a few hundred entries, a few hundred
/// bytes each; a bound keeps `version import /dev/zero` from filling memory. A pipe is fine
/// (`version import <(curl ...)`), so the bound is on what is read, not on the file's type.
const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;

fn read_versions_file(path: &Path) -> Result<VersionsFile> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CliError::not_found(format!("{} does not exist", path.display()))
        }
        _ => CliError::io("open", path, e),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::io("read", path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::general(format!(
            "{} is larger than {} MiB, too large for a versions file",
            path.display(),
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        CliError::general(format!(
            "{}: not a versions file: not valid UTF-8 (at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    // A file saved by a Windows editor starts with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(text).map_err(|e| {
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
    mut news: Vec<Option<NewVersion>>,
    report: &mut String,
) -> Result<(Vec<Option<NewVersion>>, Vec<bool>)> {
    let family = args.family.as_deref();
    let mut merged_away = vec![false; file.versions.len()];
    for (waiting, synced) in versions::duplicate_pairs(template, &file.versions, family) {
        let (w, s) = (&file.versions[waiting], &file.versions[synced]);
        let shown =
            |v: &Option<String>| versions::printable(v.as_deref().unwrap_or("-")).into_owned();
        let describe = format!(
            "entry {} ({}, {}) and entry {} ({}, {}) are the same version",
            shown(&w.id),
            shown(&w.name),
            shown(&w.status),
            shown(&s.id),
            shown(&s.name),
            shown(&s.lora_url),
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
            new.status = Status::Completed.as_str().into();
            // The synced entry saw the artifact: its etag and size come with its URL.
            new.etag = s.etag.clone().or(new.etag.take());
            new.size = s.size.or(new.size);
            new.last_modified = s.last_modified.clone().or(new.last_modified.take());
            new.last_synced = s
                .last_synced
                .clone()
                .or_else(|| Some(crate::store::now_text()));
        }
        merged_away[synced] = true;
    }
    Ok((news, merged_away))
}

/// An entry of the file that will be added: its position, a label for the report (its id,
/// name or position) and the version.
struct Addition {
    index: usize,
    label: String,
    new: NewVersion,
}

/// The versions to add; and how many entries were skipped for want of a family or a name.
fn additions(
    file: &VersionsFile,
    news: Vec<Option<NewVersion>>,
    merged_away: &[bool],
    report: &mut String,
) -> (Vec<Addition>, usize) {
    let mut skipped = 0;
    let mut to_add = Vec::new();
    for (index, (entry, new)) in file.versions.iter().zip(news).enumerate() {
        if merged_away.get(index).copied().unwrap_or(false) {
            continue;
        }
        let label = entry
            .id
            .as_deref()
            .or(entry.name.as_deref())
            .map(|l| versions::printable(l).into_owned())
            .unwrap_or_else(|| format!("#{}", index + 1));
        match new {
            Some(new) => to_add.push(Addition { index, label, new }),
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
    to_add: Vec<Addition>,
    report: &mut String,
) -> Result<(usize, usize)> {
    let news: Vec<NewVersion> = to_add.iter().map(|a| a.new.clone()).collect();
    let results = store.add_versions(&news, versions::version_number)?;
    let (mut imported, mut skipped) = (0, 0);
    for (Addition { label, new, .. }, result) in to_add.into_iter().zip(results) {
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
