//! `runctl link`: a short hashed alias beside an over-long folder.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::hash::{algo_parser, hash_params};
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::hashing::{self, HashAlgo};
use crate::links::{self, Existing};
use crate::project::LinkMode;
use crate::store::{Access, LinkRecord, Store};
use crate::undo::{Previous, Undo};

/// Make the alias PREFIX:hash=xxxxxxxx beside a folder whose name is too long
///
/// The folder name is split at its first ':' into PREFIX and the identifier that is hashed
/// (as `runctl hash` does). The alias is a relative symlink (or, where symlinks are refused, a
/// folder of hard links or a copy: see hashing.link_mode), and DIR gets a file xxxxxxxx.hash
/// holding the full identifier. Running it again changes nothing. The hash is recorded in the
/// registry; another identifier with the same hash is a collision (exit 3).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl link 'models/DyRCNNx8:tsteps=20+dt=2+..._42_imagenette'
      # -> models/DyRCNNx8:hash=a7f3c9d4 -> DyRCNNx8:tsteps=20+dt=2+..._42_imagenette
  runctl link --length 12 --json models/run_with_long_name
  runctl link --prefix 'DyRCNNx8_' models/DyRCNNx8_tsteps=20+dt=2")]
pub struct LinkArgs {
    /// The folder to alias
    dir: PathBuf,
    /// Hex digits to keep [default: hashing.length, 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    length: Option<u16>,
    /// Digest to use [default: hashing.algo, md5]
    #[arg(long, value_parser = algo_parser())]
    algo: Option<HashAlgo>,
    /// Keep this start of the folder name in the alias, and hash the rest [default: up to the first ':']
    #[arg(long, value_name = "P")]
    prefix: Option<String>,
    /// How to make the alias [default: hashing.link_mode, auto]
    #[arg(long, value_enum)]
    mode: Option<LinkMode>,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl link --json`.
#[derive(Debug, Serialize)]
struct LinkOutput {
    alias: PathBuf,
    target: PathBuf,
    identifier: String,
    hash: String,
    hex: String,
    algo: &'static str,
    mode: &'static str,
    created: bool,
}

/// The folder's name as (the name, its prefix, the rest to hash) and the folder it is in.
fn split_target<'a>(
    dir: &'a Path,
    prefix: Option<&str>,
) -> Result<(&'a str, &'a str, &'a str, &'a Path)> {
    let (Some(name), Some(parent)) = (dir.file_name().and_then(|n| n.to_str()), dir.parent())
    else {
        return Err(CliError::usage(format!(
            "cannot alias {}: its name is empty or not valid UTF-8",
            dir.display()
        )));
    };
    let Some((prefix, rest)) = hashing::split_folder_name(name, prefix) else {
        return Err(CliError::usage(format!(
            "the folder name '{name}' does not start with the prefix '{}'",
            prefix.unwrap_or_default()
        )));
    };
    Ok((name, prefix, rest, parent))
}

pub fn run(ctx: &Ctx, args: LinkArgs) -> Result<()> {
    let dir = ctx.cwd.join(&args.dir);
    check_folder(&dir)?;
    let (name, prefix, rest, parent) = split_target(&dir, args.prefix.as_deref())?;
    let project = ctx.project_for_write()?;
    let (length, algo) = hash_params(Some(&project.settings.hashing), args.length, args.algo)?;
    let hashed = hashing::compute_hash(&[rest], length, algo);
    let Some(hex) = hashed.hex else {
        return Err(CliError::usage(format!(
            "'{name}' already holds a hash; link the full folder instead"
        )));
    };
    let mode = args.mode.unwrap_or(project.settings.hashing.link_mode);
    let mut store = ctx.open_store(&project, Access::Write)?;
    store.record_hash(algo.as_str(), &hex, &hashed.identifier, "link")?;

    let content = format!("{}\n", hashed.identifier);
    // The hash file and the alias are taken back if a later step fails.
    let mut undo = Undo::default();
    if let Some((file, previous)) = write_hash_file(&dir, &hex, &content)? {
        undo.replaced(&file, previous);
    }
    let alias = parent.join(hashing::alias_name(prefix, &hex));
    let placed =
        place_alias(ctx, &store, &dir, &alias, mode, &hex, &content).and_then(|(used, created)| {
            if created {
                undo.made_alias(&alias);
            }
            store.record_link(&LinkRecord {
                alias_path: alias.clone(),
                target_path: dir.clone(),
                algo: algo.as_str().to_string(),
                hash: hex.clone(),
                mode: used.as_str().to_string(),
            })?;
            Ok((used, created))
        });
    let (used, created) = match placed {
        Ok(placed) => placed,
        Err(e) => {
            for left in undo.undo() {
                ctx.warn(left);
            }
            return Err(e);
        }
    };

    let out = LinkOutput {
        alias,
        target: dir,
        identifier: hashed.identifier,
        hash: hashed.text,
        hex,
        algo: algo.as_str(),
        mode: used.as_str(),
        created,
    };
    render(ctx, &out, args.json)
}

fn render(ctx: &Ctx, out: &LinkOutput, json: bool) -> Result<()> {
    if json {
        return output::print_json(out);
    }
    if !out.created {
        ctx.note(format!("alias already in place ({})", out.mode));
    }
    output::print(&format!("{}\n", out.alias.display()))
}

/// Refuse what is not an existing folder.
fn check_folder(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CliError::usage(format!(
            "{} is not a folder",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::not_found(format!(
            "folder {} does not exist",
            dir.display()
        ))),
        Err(e) => Err(CliError::io("access", dir, e)),
    }
}

/// `<hex>.hash` in the folder, holding the full identifier; left alone when it already does.
/// Written to a private temporary file renamed into place, so that a symlink planted at the
/// name is replaced, never followed; returns whether it was written, for undoing.
fn write_hash_file(dir: &Path, hex: &str, content: &str) -> Result<Option<(PathBuf, Previous)>> {
    let hash_file = dir.join(format!("{hex}.hash"));
    let previous = crate::undo::previous_of(&hash_file)
        .map_err(|e| CliError::io("read", &hash_file, e))?
        .unwrap_or(Previous::Absent);
    if matches!(&previous, Previous::File(bytes) if bytes.as_slice() == content.as_bytes()) {
        return Ok(None);
    }
    let tmp = crate::undo::temp_beside(&hash_file);
    let written = crate::undo::write_new(&tmp, content.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &hash_file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io("write", &hash_file, e));
    }
    Ok(Some((hash_file, previous)))
}

/// Make the alias, or find it already in place; returns how it is made and whether it is new.
/// Anything else at the alias's path is a conflict.
fn place_alias(
    ctx: &Ctx,
    store: &Store,
    dir: &Path,
    alias: &Path,
    mode: LinkMode,
    hex: &str,
    content: &str,
) -> Result<(LinkMode, bool)> {
    match links::existing(alias).map_err(link_err)? {
        Existing::Nothing => {
            let used = links::make_alias(dir, alias, mode).map_err(link_err)?;
            if mode == LinkMode::Auto && used != LinkMode::Symlink {
                ctx.warn(format!(
                    "symlinks are refused in {}; made the alias as a {} instead \
                     (files added to the folder later will not appear in it)",
                    alias.parent().unwrap_or(alias).display(),
                    if used == LinkMode::Hardlink {
                        "folder of hard links"
                    } else {
                        "copy"
                    }
                ));
            }
            Ok((used, true))
        }
        Existing::Symlink(to) if same_place(&to, dir) => Ok((LinkMode::Symlink, false)),
        Existing::Folder if holds_identifier(alias, hex, content) => {
            let known = store.find_links(None, Some(alias))?;
            let mode = known.first().map_or("copy", |l| l.mode.as_str());
            let used = if mode == "hardlink" {
                LinkMode::Hardlink
            } else {
                LinkMode::Copy
            };
            Ok((used, false))
        }
        other => {
            let what = match other {
                Existing::Symlink(to) => format!("leads to {}", to.display()),
                _ => "is something else".to_string(),
            };
            Err(CliError::conflict(format!(
                "the alias {} already exists and {what}, not to {}",
                alias.display(),
                dir.display()
            ))
            .hint("move it aside, or use --length 12 for a different alias"))
        }
    }
}

fn link_err(err: links::LinkError) -> CliError {
    if let links::LinkError::Appeared { .. } = err {
        return CliError::conflict(err.to_string())
            .hint("another process made it; run the command again to check what is there");
    }
    CliError::general(err.to_string())
        .hint("set hashing.link_mode = \"copy\" where links are refused")
}

/// Whether two paths lead to the same folder.
fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether an alias folder (hard links or copy) carries this identifier's hash file.
fn holds_identifier(alias: &Path, hex: &str, content: &str) -> bool {
    matches!(
        crate::undo::previous_of(&alias.join(format!("{hex}.hash"))),
        Ok(Some(Previous::File(bytes))) if bytes.as_slice() == content.as_bytes()
    )
}
