//! `runctl man`: man pages generated from the clap definition, so they never drift from the
//! real command line. One page per command (`runctl(1)`, `runctl-new(1)`,
//! `runctl-version-new(1)`, ...), printed one at a time or all written into a folder.
//!
//! A page is rendered in `man/roff.rs` (clap_mangen's sections, then the `--help` examples in
//! no-fill mode, so that each keeps its line, SEE ALSO naming the other pages, and VERSION).
//! Writing the folder is all or nothing per page: a temporary file each, renamed into place only
//! once every page is written.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::{Cli, Ctx, output};
use crate::error::{CliError, Result};

mod roff;

use roff::{page_name, render};

/// Print a man page (roff) to stdout, or write every page into a folder
///
/// Without COMMAND, runctl's own page, runctl(1); with one, that command's page, e.g.
/// runctl-new(1) or runctl-version-new(1). --dir DIR writes runctl.1 and a runctl-<command>.1
/// for every command into DIR, making DIR (and its parents) if missing.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl man | man -l -
  runctl man version new | man -l -
  runctl man --dir ~/.local/share/man/man1      # made if missing; then: man runctl-new")]
pub struct ManArgs {
    /// The command whose page to print, e.g. new, or version new
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    command: Vec<String>,
    /// Write every page (runctl.1, runctl-<command>.1, ...) into DIR, made if missing
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// One man page: its name (`runctl-version-new`) and its roff text.
#[derive(Debug)]
struct Page {
    name: String,
    roff: String,
}

pub fn man(ctx: &Ctx, args: ManArgs) -> Result<()> {
    let root = tree();
    if let Some(dir) = &args.dir {
        let pages = pages(&root)?;
        let dir = ctx.cwd.join(dir);
        write_pages(&dir, &pages)?;
        ctx.note(format!(
            "wrote {} man pages to {}",
            pages.len(),
            dir.display()
        ));
        return Ok(());
    }
    let mut cmd = &root;
    let mut parents = Vec::new();
    for name in &args.command {
        parents.push(cmd);
        cmd = cmd
            .get_subcommands()
            .find(|c| c.get_name() == name)
            .ok_or_else(|| unknown_command(&args.command))?;
    }
    output::print(&render(cmd, parents.last().copied())?)
}

fn unknown_command(path: &[String]) -> CliError {
    let shown = crate::text::printable(&path.join(" ")).into_owned();
    CliError::usage(format!(
        "runctl has no command '{shown}' to show the man page of"
    ))
    .hint("'runctl --help' lists the commands; 'runctl man --dir DIR' writes every page")
}

/// The command tree as the pages show it: built (so that each command knows its full name,
/// `runctl-version-new`, and its global flags), without the `help` subcommand.
fn tree() -> clap::Command {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    root
}

/// Every page: runctl(1) first, then each command's, depth first.
fn pages(root: &clap::Command) -> Result<Vec<Page>> {
    fn walk(
        cmd: &clap::Command,
        parent: Option<&clap::Command>,
        out: &mut Vec<Page>,
    ) -> Result<()> {
        out.push(Page {
            name: page_name(cmd),
            roff: render(cmd, parent)?,
        });
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, Some(cmd), out)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, None, &mut out)?;
    Ok(out)
}

/// Write every page into `dir` (made if missing) as `<name>.1`: each to a temporary file
/// first, and renamed into place once all are written, so that a failure leaves no page half
/// written and no temporary file behind.
fn write_pages(dir: &Path, pages: &[Page]) -> Result<()> {
    make_dir(dir)?;
    let mut temps: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(pages.len());
    let remove = |temps: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in temps {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for page in pages {
        let path = dir.join(format!("{}.1", page.name));
        // Found now, not when renaming: a folder in a page's place would stop the renames
        // half way through.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            remove(&temps);
            return Err(CliError::general(format!(
                "cannot write {}: it is a folder",
                path.display()
            ))
            .hint("no page was written"));
        }
        let tmp = crate::undo::temp_beside(&path);
        if let Err(e) = crate::undo::write_new(&tmp, page.roff.as_bytes()) {
            let _ = std::fs::remove_file(&tmp);
            remove(&temps);
            return Err(CliError::io("write", &path, e).hint("no page was written"));
        }
        temps.push((tmp, path));
    }
    for (i, (tmp, path)) in temps.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            remove(temps.get(i..).unwrap_or_default());
            return Err(CliError::io("write", path, e).hint(format!(
                "{i} of the {} pages were written before it; no page is half written",
                temps.len()
            )));
        }
    }
    Ok(())
}

/// `dir` as a folder to write into: made, with its parents, if missing; a file (or a symlink
/// to one) is refused, and so is a symlink that leads nowhere.
fn make_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(CliError::usage("--dir needs a folder"));
    }
    // Other failures (a parent that is a file, no permission) are create_dir_all's to report.
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(
                CliError::usage(format!("{} is not a folder", dir.display()))
                    .hint("give --dir a folder (made if missing), e.g. ~/.local/share/man/man1"),
            );
        }
        Err(_) => {}
    }
    if let Ok(target) = std::fs::read_link(dir) {
        return Err(CliError::general(format!(
            "{} is a symbolic link to {}, which does not exist",
            dir.display(),
            target.display()
        ))
        .hint("make the folder it leads to, or give --dir another folder"));
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io("create the folder", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_starts_with_th_and_names_the_others() {
        let root = tree();
        let pages = pages(&root).unwrap();
        let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"runctl"));
        assert!(names.contains(&"runctl-new") && names.contains(&"runctl-version-new"));
        for page in &pages {
            let th = format!(".TH {} 1 ", page.name);
            assert!(page.roff.starts_with(&th), "{}", page.name);
            assert!(
                page.roff.contains(".SH \"SEE ALSO\"\n.ad l\n"),
                "{}",
                page.name
            );
            assert!(page.roff.contains(".SH EXAMPLES\n.nf\n"), "{}", page.name);
        }
        let top = &pages[0].roff;
        assert!(top.contains(r"\fBrunctl\-version\-new\fR(1)"));
        let version_new = pages
            .iter()
            .find(|p| p.name == "runctl-version-new")
            .unwrap();
        assert!(
            version_new
                .roff
                .contains("\\fBrunctl\\fR(1),\n\\fBrunctl\\-version\\fR(1)\n")
        );
    }
}
