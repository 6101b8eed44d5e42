//! `runctl version import`: the versions JSON file (the seed's `training_versions.json`) into
//! the registry, every entry checked first (none imported when one is refused), its duplicate
//! pairs merged (asked per pair on a terminal: `merge`). `version export` writes the file back.

use std::path::{Path, PathBuf};

use clap::Args;

use super::version::invalid;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::store::{AddConflict, NewVersion, Store};
use crate::versions::{self, VersionDraft, VersionsFile};

mod merge;
mod report;

use merge::{Merging, additions};
use report::Report;

/// Read a versions JSON file ({"versions": [...]}), merging its duplicate pairs
///
/// A duplicate pair is an entry still waiting for its artifact (pending, failed or without URL)
/// and a "Synced from S3" entry for the same file. Merged, they keep the first's id, name and
/// parameters and take the second's URL. Each pair is asked about on a terminal; --yes merges
/// all, --dry-run lists them.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl version import training_versions.json --dry-run\n  runctl version import training_versions.json --family style_1 --yes\n  runctl version import training_versions.json --yes --json | jq '.imported | length'"
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
    /// Print what was merged, imported and skipped as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// At most this many refused entries are named in the error; the count says the rest.
const SHOWN_INVALID: usize = 20;

/// Every entry to be imported against its checks (`VersionDraft::checked`): all refused
/// entries are named, and nothing is imported when any is, so a file is never half imported.
/// Returns the checked versions, in order.
fn check_all<'a>(
    template: &versions::Template,
    path: &Path,
    drafts: impl Iterator<Item = (usize, &'a VersionDraft)>,
) -> Result<Vec<NewVersion>> {
    let mut checked = Vec::new();
    let mut refused = Vec::new();
    for (i, draft) in drafts {
        match draft.checked(template) {
            Ok(new) => checked.push(new),
            Err(e) => {
                let id = draft
                    .job_id
                    .as_deref()
                    .map(|j| format!(" (id {})", versions::printable(j)))
                    .unwrap_or_default();
                refused.push(format!("entry {}{id}: {e}", i + 1));
            }
        }
    }
    if refused.is_empty() {
        return Ok(checked);
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
    let mut report = Report::new(path.clone(), args.dry_run);
    // Checked before the first question, so nobody answers prompts for a file that is then
    // refused; checked again after, for the entries the answers changed.
    let first: Vec<Option<VersionDraft>> = file
        .versions
        .iter()
        .map(|e| versions::entry_draft(&template, e, args.family.as_deref()))
        .collect();
    check_all(
        &template,
        &path,
        first
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|n| (i, n))),
    )?;
    let merging = Merging {
        template: &template,
        file: &file,
        family: args.family.as_deref(),
        ask: !(args.dry_run || args.yes),
    };
    let (drafts, merged_away) = merging.merge_duplicates(first, &mut report)?;
    let drafts = additions(&file, drafts, &merged_away, &mut report);
    let checked = check_all(&template, &path, drafts.iter().map(|a| (a.index, &a.draft)))?;
    let to_add: Vec<((usize, String), NewVersion)> = drafts
        .into_iter()
        .map(|a| (a.index, a.label))
        .zip(checked)
        .collect();
    if args.dry_run {
        for (_, new) in &to_add {
            let name = new.name.as_deref().unwrap_or("");
            report.imported(&new.family, name, new.status.to_string());
        }
    } else {
        // The store is opened only now: a refused file or a dry run makes nothing.
        let mut store = super::version::store_of(ctx, &project, true)?;
        add_all(&mut store, to_add, &mut report)?;
    }
    report.finish();
    if args.json {
        return output::print_json(&report.out);
    }
    output::print(&report.text)
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

/// Add the versions in one transaction, reporting each as added or skipped (its name or job id
/// taken).
fn add_all(
    store: &mut Store,
    to_add: Vec<((usize, String), NewVersion)>,
    report: &mut Report,
) -> Result<()> {
    let news: Vec<NewVersion> = to_add.iter().map(|(_, new)| new.clone()).collect();
    let results = store.add_versions(&news, versions::version_number)?;
    for (((index, label), new), result) in to_add.into_iter().zip(results) {
        match result {
            Ok(row) => report.imported(&row.family, &row.name, row.status.to_string()),
            Err(AddConflict::NameTaken { name }) => report.skipped(
                index,
                &label,
                format!("{} {name} is already in the registry", new.family),
            ),
            Err(AddConflict::JobTaken { family, name }) => report.skipped(
                index,
                &label,
                format!("its job id already belongs to {family} {name}"),
            ),
            // Every imported entry has a name: none asks for the next number.
            Err(AddConflict::NoNextNumber { .. }) => {
                report.skipped(index, &label, "no next version number".into())
            }
        }
    }
    Ok(())
}
