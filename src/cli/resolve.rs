//! `runctl resolve`: the full identifier and the real folder behind a hash or an alias.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::hashing;
use crate::links::{self, Existing};
use crate::store::{Access, Store};

/// Show the full identifier and the real folder behind a hash or an alias
///
/// Takes a hash (a7f3c9d4, :hash=a7f3c9d4), an alias folder (models/M:hash=a7f3c9d4), or a real
/// folder that has been linked (then its aliases are shown). Looks in the project's registry and
/// in the xxxxxxxx.hash files that `runctl link` leaves, so an alias copied to another machine
/// still resolves. Unknown: exit 4.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl resolve a7f3c9d4
  runctl resolve 'models/DyRCNNx8:hash=a7f3c9d4'
  runctl resolve --json ':hash=a7f3c9d4' | jq -r '.matches[0].folder'")]
pub struct ResolveArgs {
    /// A hash, an alias, or a linked folder
    target: String,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// One identifier found for the target.
#[derive(Debug, Serialize)]
struct Match {
    hash: String,
    hex: String,
    /// The digest, when the registry knows it.
    algo: Option<String>,
    identifier: String,
    /// The real folder, when one is known.
    folder: Option<PathBuf>,
    aliases: Vec<PathBuf>,
}

/// `runctl resolve --json`.
#[derive(Debug, Serialize)]
struct ResolveOutput {
    query: String,
    matches: Vec<Match>,
}

pub fn run(ctx: &Ctx, args: ResolveArgs) -> Result<()> {
    // Outside any project, a PostgreSQL store named by the environment is still the one the
    // writes (`hash --record`, `link`) used there.
    let project = match ctx.find_project()? {
        Some(project) => Some(project),
        None if super::ctx::database_url_given() => Some(ctx.project_for_write()?),
        None => None,
    };
    let store = match project {
        Some(project) if super::ctx::has_state(&project)? => {
            Some(ctx.open_store(&project, Access::Read)?)
        }
        _ => None,
    };
    let path = ctx.cwd.join(&args.target);
    let candidates: Vec<(String, Option<PathBuf>)> = match links::existing(&path) {
        Ok(Existing::Symlink(to)) => {
            let hex = file_hex(&path);
            hex.into_iter()
                .map(|h| (h, to.canonicalize().ok()))
                .collect()
        }
        Ok(Existing::Folder) => folder_candidates(&path, store.as_ref())?,
        _ => hashing::hex_of(&args.target)
            .map(|h| vec![(h.to_ascii_lowercase(), None)])
            .unwrap_or_default(),
    };
    if candidates.is_empty() && hashing::hex_of(&args.target).is_none() && !path.exists() {
        return Err(CliError::usage(format!(
            "'{}' is neither a hash, nor an alias, nor a folder",
            args.target
        ))
        .hint("give a hash such as a7f3c9d4 or :hash=a7f3c9d4, or an alias path"));
    }
    let mut matches = Vec::new();
    for (hex, folder) in candidates {
        matches.extend(matches_for(&hex, folder, store.as_ref())?);
    }
    if matches.is_empty() {
        return Err(CliError::not_found(format!("nothing known for '{}'", args.target)).hint(
            "hashes are known once recorded by 'runctl link' or 'runctl hash --record' in this project",
        ));
    }
    let out = ResolveOutput {
        query: args.target,
        matches,
    };
    if args.json {
        return output::print_json(&out);
    }
    let mut text = String::new();
    for m in &out.matches {
        text.push_str(&format!(
            "identifier: {}\nhash:       {}\n",
            m.identifier, m.hash
        ));
        if let Some(folder) = &m.folder {
            text.push_str(&format!("folder:     {}\n", folder.display()));
        }
        for alias in &m.aliases {
            text.push_str(&format!("alias:      {}\n", alias.display()));
        }
    }
    output::print(&text)
}

/// The hex digits in a path's file name.
fn file_hex(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.contains(hashing::MARKER)
        .then(|| hashing::hex_of(name).map(str::to_ascii_lowercase))
        .flatten()
}

/// A real folder (its `*.hash` files) or an alias folder made of hard links or a copy.
fn folder_candidates(path: &Path, store: Option<&Store>) -> Result<Vec<(String, Option<PathBuf>)>> {
    if let Some(hex) = file_hex(path) {
        let target = match store {
            Some(store) => store
                .find_links(None, Some(path))?
                .into_iter()
                .next()
                .map(|l| l.target_path),
            None => None,
        };
        return Ok(vec![(
            hex,
            Some(target.unwrap_or_else(|| path.to_path_buf())),
        )]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| CliError::io("read", path, e))?;
    let mut found: Vec<(String, Option<PathBuf>)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let hex = name.strip_suffix(".hash")?;
            hashing::hex_of(hex).filter(|h| h.len() == hex.len())?;
            Some((hex.to_ascii_lowercase(), Some(path.to_path_buf())))
        })
        .collect();
    found.sort();
    Ok(found)
}

fn matches_for(hex: &str, folder: Option<PathBuf>, store: Option<&Store>) -> Result<Vec<Match>> {
    let (records, link_rows) = match store {
        Some(store) => (store.find_hash(hex)?, store.find_links(Some(hex), None)?),
        None => (Vec::new(), Vec::new()),
    };
    let folder = folder.or_else(|| link_rows.first().map(|l| l.target_path.clone()));
    let aliases: Vec<PathBuf> = link_rows.iter().map(|l| l.alias_path.clone()).collect();
    let from_file = folder.as_ref().and_then(|f| {
        std::fs::read_to_string(f.join(format!("{hex}.hash")))
            .ok()
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
    });
    let make = |algo: Option<String>, identifier: String| Match {
        hash: format!(":{}{hex}", hashing::MARKER),
        hex: hex.to_string(),
        algo,
        identifier,
        folder: folder.clone(),
        aliases: aliases.clone(),
    };
    if records.is_empty() {
        return Ok(from_file.map(|id| make(None, id)).into_iter().collect());
    }
    Ok(records
        .into_iter()
        .map(|r| make(Some(r.algo), r.identifier))
        .collect())
}
