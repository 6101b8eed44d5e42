//! `runctl path check`: path components over 255 bytes and paths over `naming.max_path`.

use std::io::BufRead;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::hash::hash_params;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::hashing::{self, PathCheck};

/// Check paths against filesystem limits
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl path check \"logs/slurm/rule_test_model/$MODEL_ID/out.log\"\n  find outputs -type d | runctl path check --json"
)]
pub struct PathArgs {
    #[command(subcommand)]
    command: PathCommand,
}

#[derive(Debug, Subcommand)]
enum PathCommand {
    Check(CheckArgs),
}

/// Report path components over 255 bytes and paths over naming.max_path, with hashed forms
///
/// Relative paths are checked as the OS will see them: joined to the working directory. Exit 1
/// when any path is over a limit, so it works as a guard in scripts.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl path check \"logs/slurm/rule_test_model/$MODEL_ID/out.log\"
  find outputs -type d | runctl path check --json")]
struct CheckArgs {
    /// Paths to check [default: one per stdin line]
    paths: Vec<String>,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// One entry of `runctl path check --json`.
#[derive(Debug, Serialize)]
struct CheckOutput {
    path: String,
    checked: String,
    ok: bool,
    chars: usize,
    max_path: usize,
    long_components: Vec<ComponentOutput>,
    /// Components under 255 bytes hashed as well, so that the path fits max_path.
    shortened: Vec<ComponentOutput>,
    proposed: String,
    proposed_chars: usize,
}

#[derive(Debug, Serialize)]
struct ComponentOutput {
    /// 0-based among the components of `checked` (its empty root component is 0).
    index: usize,
    /// 1-based among the components of the path as written (`None`: a folder of the working
    /// directory a relative path was joined to).
    number: Option<usize>,
    bytes: usize,
    component: String,
    proposed: String,
}

pub fn run(ctx: &Ctx, args: PathArgs) -> Result<()> {
    let PathCommand::Check(args) = args.command;
    let project = ctx.find_project()?;
    let max_path = project.as_ref().map_or(240, |p| p.settings.naming.max_path);
    let (length, algo) = hash_params(project.as_ref().map(|p| &p.settings.hashing), None, None)?;
    let paths = if args.paths.is_empty() {
        read_stdin_paths()?
    } else {
        args.paths
    };
    let mut outputs = Vec::new();
    for path in paths {
        let absolute = ctx.cwd.join(&path).to_string_lossy().into_owned();
        let check: PathCheck = hashing::check_path(&absolute, max_path, length, algo);
        let ok = check.ok();
        let component = |c| component(c, &check.path, &path);
        let long_components = check.long_components.iter().map(component).collect();
        let shortened = check.shortened.iter().map(component).collect();
        outputs.push(CheckOutput {
            ok,
            path,
            checked: check.path,
            chars: check.chars,
            max_path,
            long_components,
            shortened,
            proposed: check.proposed,
            proposed_chars: check.proposed_chars,
        });
    }
    let over = outputs.iter().filter(|o| !o.ok).count();
    if args.json {
        output::print_json(&outputs)?;
    } else {
        output::print(&crate::text::printable_lines(&render(&outputs)))?;
    }
    if over > 0 {
        let mut err = CliError::general(format!(
            "{over} of {} path(s) over the limits",
            outputs.len()
        ));
        if outputs.iter().any(|o| !o.long_components.is_empty()) {
            err = err.hint(
                "a name over 255 bytes cannot exist on disk: create the folder under its hashed name (the identifier is kept by 'runctl hash --record')",
            );
        }
        if outputs.iter().any(|o| !o.shortened.is_empty()) {
            err = err.hint(
                "'runctl link DIR' makes the hashed alias shown beside an existing folder DIR",
            );
        }
        if outputs
            .iter()
            .any(|o| !o.ok && o.proposed_chars > o.max_path)
        {
            err = err
                .hint("some paths are still over: shorten their folders, or raise naming.max_path");
        }
        return Err(err);
    }
    Ok(())
}

fn component(c: &hashing::LongComponent, checked: &str, written: &str) -> ComponentOutput {
    ComponentOutput {
        index: c.index,
        number: written_number(checked, written, c.index),
        bytes: c.bytes,
        component: c.component.clone(),
        proposed: c.proposed.clone(),
    }
}

/// Which component, counted as the user wrote the path (1-based; `.` counts, the empty ones a
/// leading `/` or a `//` make do not), is component `index` of `checked` (the path split at
/// `/`, as `hashing::check_path` counts). `checked` ends with `written`: it is `written` itself
/// or `written` joined to the working directory; a component of the working directory has no
/// number.
fn written_number(checked: &str, written: &str, index: usize) -> Option<usize> {
    if !checked.ends_with(written) {
        return None;
    }
    let start = checked.len() - written.len();
    let (mut at, mut number) = (0, 0);
    for (i, part) in checked.split('/').enumerate() {
        let typed = at >= start && !part.is_empty();
        number += usize::from(typed);
        if i == index {
            return typed.then_some(number);
        }
        at += part.len() + 1;
    }
    None
}

fn read_stdin_paths() -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line
            .map_err(|e| CliError::general(format!("cannot read stdin line {}", i + 1)).cause(e))?;
        if !line.is_empty() {
            paths.push(line);
        }
    }
    Ok(paths)
}

impl ComponentOutput {
    /// "component 2", or "a folder of the working directory" for one the user did not write.
    fn named(&self) -> String {
        self.number.map_or_else(
            || "a folder of the working directory".to_string(),
            |n| format!("component {n}"),
        )
    }
}

fn render(outputs: &[CheckOutput]) -> String {
    let mut text = String::new();
    for o in outputs {
        if o.ok {
            text.push_str(&format!("ok    {} ({} chars)\n", o.path, o.chars));
            continue;
        }
        text.push_str(&format!("OVER  {}\n", o.path));
        for c in &o.long_components {
            text.push_str(&format!(
                "      {} is {} bytes (limit {}); hashed: {}\n",
                c.named(),
                c.bytes,
                hashing::MAX_COMPONENT_BYTES,
                c.proposed
            ));
        }
        if o.chars > o.max_path {
            text.push_str(&format!(
                "      path is {} chars (limit naming.max_path = {})\n",
                o.chars, o.max_path
            ));
        }
        for c in &o.shortened {
            text.push_str(&format!(
                "      {} ({} chars) hashed to fit: {}\n",
                c.named(),
                c.component.chars().count(),
                c.proposed
            ));
        }
        let fits = if o.proposed_chars <= o.max_path {
            "fits"
        } else {
            "still over"
        };
        text.push_str(&format!(
            "      proposed ({} chars, {fits}): {}\n",
            o.proposed_chars, o.proposed
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::written_number;

    #[test]
    fn components_are_numbered_as_written() {
        // index counts "/home/me/./a//b" split at '/': "", home, me, ".", a, "", b.
        let checked = "/home/me/./a//b";
        let numbers: Vec<_> = (0..7)
            .map(|i| written_number(checked, "./a//b", i))
            .collect();
        assert_eq!(numbers, [None, None, None, Some(1), Some(2), None, Some(3)]);
        let numbers: Vec<_> = (0..4)
            .map(|i| written_number("/x/y/z", "/x/y/z", i))
            .collect();
        assert_eq!(numbers, [None, Some(1), Some(2), Some(3)]);
        assert_eq!(written_number("/w/models/m/f", "models/m/f", 3), Some(2));
        assert_eq!(written_number("/a//b/", "/a//b/", 3), Some(2));
        assert_eq!(written_number("/w/", "", 1), None);
        assert_eq!(written_number("/w/x", "y", 1), None);
        assert_eq!(written_number("/x", "/x", 9), None);
    }
}
