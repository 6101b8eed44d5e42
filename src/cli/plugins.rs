//! `runctl plugins` and the dispatch of `runctl <name>` to the plugin `runctl-<name>`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{Ctx, builtin_names, output};
use crate::error::{CliError, Result};
use crate::plugins::{self, Listed, PluginEnv, Problem};
use crate::project::{DB_FILE, STATE_DIR};

/// List the runctl-<name> plugins found on PATH, with warnings
///
/// The first executable runctl-<name> on PATH is the one `runctl <name>` runs. Files that are
/// shadowed by an earlier one, not executable, or named like a built-in are listed with a
/// warning, since they never run.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl plugins\n  runctl plugins --json | jq -r '.plugins[] | select(.active) | .name'"
)]
pub struct PluginsArgs {
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// One entry of `runctl plugins --json`.
#[derive(Debug, Serialize)]
struct PluginOutput {
    name: String,
    path: PathBuf,
    active: bool,
    warnings: Vec<String>,
}

/// `runctl plugins --json`.
#[derive(Debug, Serialize)]
struct PluginsOutput {
    plugins: Vec<PluginOutput>,
}

fn describe(problem: &Problem, name: &str) -> String {
    match problem {
        Problem::Shadowed(winner) => format!(
            "shadowed by {}, which comes earlier on PATH",
            winner.display()
        ),
        Problem::NotExecutable => "not executable (chmod +x to enable it)".to_string(),
        Problem::BuiltinClash => {
            format!("never runs: '{name}' is a built-in command, and built-ins always win")
        }
    }
}

fn listed() -> Vec<Listed> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    plugins::classify(plugins::scan(&path), &builtin_names())
}

pub fn run(ctx: &Ctx, args: PluginsArgs) -> Result<()> {
    let entries: Vec<PluginOutput> = listed()
        .into_iter()
        .map(|l| PluginOutput {
            warnings: l
                .problems
                .iter()
                .map(|p| describe(p, &l.found.name))
                .collect(),
            active: l.active(),
            name: l.found.name,
            path: l.found.path,
        })
        .collect();
    if args.json {
        return output::print_json(&PluginsOutput { plugins: entries });
    }
    for entry in &entries {
        for warning in &entry.warnings {
            ctx.warn(format!("{}: {warning}", entry.path.display()));
        }
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .filter(|e| e.active)
        .map(|e| vec![e.name.clone(), e.path.display().to_string()])
        .collect();
    if rows.is_empty() {
        ctx.note("no plugins found on PATH (a plugin is an executable named runctl-<name>)");
        return Ok(());
    }
    output::print(&output::table(&["NAME", "PATH"], &rows))
}

/// `runctl <name> ARGS...`: exec the first `runctl-<name>` on PATH, or explain.
pub fn dispatch(ctx: &Ctx, args: Vec<OsString>) -> Result<()> {
    let mut args = args.into_iter();
    let raw_name = args.next().unwrap_or_default();
    let Some(name) = raw_name.to_str().map(str::to_string) else {
        return Err(CliError::usage(format!(
            "no such command: {} (not valid UTF-8)",
            raw_name.to_string_lossy()
        )));
    };
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let Some(plugin) = plugins::find(&name, &path_var) else {
        return Err(unknown_command(&name));
    };
    let runctl = std::env::current_exe()
        .map_err(|e| CliError::general("cannot find the path of the running runctl").cause(e))?;
    let root = ctx.project_root()?;
    let db = root.as_ref().map(|r| r.join(STATE_DIR).join(DB_FILE));
    let env = PluginEnv::new(&runctl, root.as_deref(), db.as_deref());
    let rest: Vec<OsString> = args.collect();
    let err = plugins::exec(&plugin, &rest, &env);
    Err(
        CliError::general(format!("cannot run plugin {}", plugin.display()))
            .cause(err)
            .hint("a script needs a #! line and execute permission"),
    )
}

fn unknown_command(name: &str) -> CliError {
    let builtins = builtin_names();
    let plugin_names: Vec<String> = listed()
        .into_iter()
        .filter(|l| l.active())
        .map(|l| l.found.name)
        .collect();
    let candidates = builtins.iter().chain(&plugin_names).map(String::as_str);
    let suggestions = plugins::suggest(name, candidates);
    let mut err = CliError::usage(format!(
        "no such command: '{name}' (not a built-in, and no runctl-{name} on PATH)"
    ));
    if !suggestions.is_empty() {
        let quoted: Vec<String> = suggestions.iter().map(|s| format!("'{s}'")).collect();
        err = err.hint(format!("did you mean {}?", quoted.join(" or ")));
    }
    err.hint("'runctl --help' lists the built-ins, 'runctl plugins' the plugins on PATH")
}
