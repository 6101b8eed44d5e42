//! Tests of the command tree as clap defines it: consistency, an example in every --help, the
//! built-in list, and --json on every command that prints data with its shape in docs/json.md.

use std::collections::BTreeSet;

use super::*;
use clap::CommandFactory;

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_command_shows_an_example_in_its_help() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let path = format!("{path} {}", sub.get_name());
            let help = [sub.get_after_help(), sub.get_after_long_help()]
                .into_iter()
                .flatten()
                .map(|h| h.to_string())
                .collect::<String>();
            if !help.contains("Examples:\n  ") {
                missing.push(path.clone());
            }
            walk(sub, &path, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&Cli::command(), "runctl", &mut missing);
    assert!(missing.is_empty(), "no example in --help: {missing:?}");
}

#[test]
fn builtin_list_matches_clap() {
    let mut from_clap: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    from_clap.push("help".to_string());
    assert_eq!(from_clap, builtin_names());
}

/// The commands that print no data and so take no `--json`, each with the reason.
const NO_JSON: &[(&str, &str)] = &[
    // A shell script, for the shell to source; JSON would be no use to it.
    ("completions", "prints a completion script"),
    // roff for man(1), to stdout or written into a folder; no data about the project.
    ("man", "prints or writes man pages"),
    // A run's own output, byte for byte as the command wrote it (`show --json` says where).
    ("logs", "prints a run's log files as they are"),
];

/// Every command below `cmd` by its path ("version new"), depth first; `help` left out.
fn command_paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let path = format!("{prefix}{}", sub.get_name());
        out.push((path.clone(), sub.clone()));
        command_paths(sub, &format!("{path} "), out);
    }
}

/// The commands docs/json.md gives a shape for: in its headings, each `runctl <path> ... --json`
/// in backticks, `<path>` being the lowercase words after `runctl` (up to `<run>`, `FILE` or a
/// flag).
fn documented_json_commands(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter(|line| line.starts_with('#'))
        // The odd pieces between backticks are the code spans.
        .flat_map(|line| line.split('`').skip(1).step_by(2))
        .filter_map(|span| {
            let words: Vec<&str> = span.split_whitespace().collect();
            if words.first() != Some(&"runctl") || !words.contains(&"--json") {
                return None;
            }
            let path: Vec<&str> = words
                .iter()
                .skip(1)
                .take_while(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
                .take_while(|w| !w.starts_with('-'))
                .copied()
                .collect();
            Some(path.join(" "))
        })
        .collect()
}

#[test]
fn every_command_that_prints_data_takes_json_and_docs_json_md_shows_its_shape() {
    let mut all = Vec::new();
    command_paths(&Cli::command(), "", &mut all);
    let takes_json =
        |cmd: &clap::Command| cmd.get_arguments().any(|a| a.get_long() == Some("json"));
    // A group such as `version` or `path` only dispatches: it has no arguments of its own.
    let is_group =
        |cmd: &clap::Command| cmd.has_subcommands() && cmd.get_arguments().next().is_none();
    let exempt = |path: &str| NO_JSON.iter().any(|(name, _)| *name == path);
    let missing: Vec<&str> = all
        .iter()
        .filter(|(path, cmd)| !takes_json(cmd) && !is_group(cmd) && !exempt(path))
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "commands that print data without --json: {missing:?}"
    );
    for (name, why) in NO_JSON {
        let found = all.iter().find(|(path, _)| path == name);
        assert!(
            found.is_some_and(|(_, cmd)| !takes_json(cmd)),
            "{name} ({why}) is on the list of commands without --json, but it is no such command"
        );
    }
    let with_json: BTreeSet<String> = all
        .iter()
        .filter(|(_, cmd)| takes_json(cmd))
        .map(|(path, _)| path.clone())
        .collect();
    let documented = documented_json_commands(include_str!("../../docs/json.md"));
    let undocumented: Vec<_> = with_json.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "no `runctl <command> ... --json` heading in docs/json.md for: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&with_json).collect();
    assert!(
        stale.is_empty(),
        "docs/json.md names --json on commands without it: {stale:?}"
    );
    // The walk saw the nested commands too.
    assert!(with_json.contains("version new") && with_json.contains("migrate runs"));
}

#[test]
fn json_headings_are_read_as_their_command_paths() {
    let doc = "## `runctl path check --json`\n## Runs: `runctl new --json` (or `--format json`)\n\
               ## `runctl export <run> -o FILE --json`\n## `runctl version export`\n\
               text `runctl list --json` is no heading\n";
    let found: Vec<String> = documented_json_commands(doc).into_iter().collect();
    assert_eq!(found, ["export", "new", "path check"]);
}
