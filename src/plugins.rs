//! Finding, listing and running `runctl-<name>` plugins from PATH, git-style.
//!
//! Only directories named in PATH are searched, in order; an empty PATH entry is skipped rather
//! than read as the current directory, so a plugin never runs from `.` unless PATH names `.`
//! explicitly. This module knows nothing of clap: the CLI passes the built-in names in.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// File-name prefix of a plugin executable.
pub const PREFIX: &str = "runctl-";

/// A `runctl-<name>` file found in a PATH directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub path: PathBuf,
    pub executable: bool,
}

/// Why a found plugin file is not the one `runctl <name>` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An earlier PATH entry holds a plugin of the same name, at this path.
    Shadowed(PathBuf),
    /// The file lacks execute permission.
    NotExecutable,
    /// The name is a built-in command, which always wins.
    BuiltinClash,
}

/// A plugin file and whether (and why not) it is the one that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub found: Found,
    pub problems: Vec<Problem>,
}

impl Listed {
    /// True when `runctl <name>` runs this file.
    pub fn active(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The PATH directories to search, in order, without empty entries.
fn search_dirs(path_var: &OsStr) -> impl Iterator<Item = PathBuf> + '_ {
    std::env::split_paths(path_var).filter(|dir| !dir.as_os_str().is_empty())
}

fn plugin_name(file_name: &OsStr) -> Option<String> {
    let name = file_name.to_str()?.strip_prefix(PREFIX)?;
    let name = name
        .strip_suffix(std::env::consts::EXE_SUFFIX)
        .filter(|_| !std::env::consts::EXE_SUFFIX.is_empty())
        .unwrap_or(name);
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(unix)]
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.is_file()
}

/// Every `runctl-*` file in the PATH directories, in PATH order, then by name. Unreadable
/// directories are skipped, as a shell would.
pub fn scan(path_var: &OsStr) -> Vec<Found> {
    let mut all = Vec::new();
    for dir in search_dirs(path_var) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut in_dir: Vec<Found> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let name = plugin_name(&entry.file_name())?;
                let path = entry.path();
                // Follow symlinks: a linked plugin is as good as a copied one.
                let meta = std::fs::metadata(&path).ok()?;
                if meta.is_dir() {
                    return None;
                }
                Some(Found {
                    name,
                    executable: is_executable(&meta),
                    path,
                })
            })
            .collect();
        in_dir.sort_by(|a, b| a.name.cmp(&b.name));
        all.extend(in_dir);
    }
    all
}

/// Each found file with the problems that keep it from running.
pub fn classify(found: Vec<Found>, builtins: &[String]) -> Vec<Listed> {
    let mut winners: Vec<(String, PathBuf)> = Vec::new();
    found
        .into_iter()
        .map(|found| {
            let mut problems = Vec::new();
            if builtins.contains(&found.name) {
                problems.push(Problem::BuiltinClash);
            }
            if !found.executable {
                problems.push(Problem::NotExecutable);
            } else if let Some((_, winner)) = winners.iter().find(|(n, _)| *n == found.name) {
                problems.push(Problem::Shadowed(winner.clone()));
            } else {
                winners.push((found.name.clone(), found.path.clone()));
            }
            Listed { found, problems }
        })
        .collect()
}

/// The file `runctl <name>` runs: the first executable `runctl-<name>` on PATH.
pub fn find(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    let file = format!("{PREFIX}{name}{}", std::env::consts::EXE_SUFFIX);
    search_dirs(path_var)
        .map(|dir| dir.join(&file))
        .find(|path| std::fs::metadata(path).is_ok_and(|m| is_executable(&m)))
}

/// The first executable file called `program` on PATH, as a shell would find it (a name with a
/// slash is not looked up). Used to resolve a worker command once instead of at every start.
pub fn which(program: &OsStr, path_var: &OsStr) -> Option<PathBuf> {
    let name = program.to_str()?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    search_dirs(path_var)
        .map(|dir| dir.join(name))
        .find(|path| std::fs::metadata(path).is_ok_and(|m| is_executable(&m)))
}

/// The environment a plugin gets (docs/plugins.md): variables to set, and ones to remove.
#[derive(Debug, Clone)]
pub struct PluginEnv {
    pub set: Vec<(&'static str, OsString)>,
    pub remove: Vec<&'static str>,
}

impl PluginEnv {
    pub fn new(runctl: &Path, root: Option<&Path>, db: Option<&Path>) -> PluginEnv {
        let mut set = vec![
            ("RUNCTL", runctl.as_os_str().to_owned()),
            ("RUNCTL_VERSION", OsString::from(env!("CARGO_PKG_VERSION"))),
        ];
        let mut remove = Vec::new();
        for (key, value) in [("RUNCTL_ROOT", root), ("RUNCTL_DB", db)] {
            match value {
                Some(v) => set.push((key, v.as_os_str().to_owned())),
                None => remove.push(key),
            }
        }
        PluginEnv { set, remove }
    }
}

/// Run the plugin in place of this process (Unix `exec`): it gets our stdin, stdout, stderr
/// and signals directly. Returns only if the exec failed.
#[cfg(unix)]
pub fn exec(path: &Path, args: &[OsString], env: &PluginEnv) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command(path, args, env).exec()
}

/// Run the plugin as a child and return its exit code (where there is no `exec`).
#[cfg(not(unix))]
pub fn exec(path: &Path, args: &[OsString], env: &PluginEnv) -> std::io::Error {
    match command(path, args, env).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}

fn command(path: &Path, args: &[OsString], env: &PluginEnv) -> std::process::Command {
    let mut cmd = std::process::Command::new(path);
    cmd.args(args);
    for (key, value) in &env.set {
        cmd.env(key, value);
    }
    for key in &env.remove {
        cmd.env_remove(key);
    }
    cmd
}

/// Names close to `unknown` among `candidates`, best first, for "did you mean".
pub fn suggest<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let distance = strsim::damerau_levenshtein(unknown, c);
            let close = distance <= 2.max(unknown.chars().count() / 3);
            let prefix = unknown.len() >= 3 && c.starts_with(unknown);
            (close || prefix).then_some((distance, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .map(|(_, c)| c.to_string())
        .take(3)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_prefix() {
        assert_eq!(
            plugin_name(OsStr::new("runctl-s3sync")).as_deref(),
            Some("s3sync")
        );
        assert_eq!(plugin_name(OsStr::new("runctl-")), None);
        assert_eq!(plugin_name(OsStr::new("other")), None);
    }

    #[test]
    fn suggestions_are_close_names() {
        let names = ["init", "migrate", "plugins", "hello"];
        assert_eq!(suggest("initt", names), vec!["init"]);
        assert_eq!(suggest("plugin", names), vec!["plugins"]);
        assert_eq!(suggest("hellp", names), vec!["hello"]);
        assert!(suggest("zzzzzz", names).is_empty());
    }

    #[test]
    fn classify_marks_shadowed_and_clashing() {
        let f = |name: &str, dir: &str, executable| Found {
            name: name.into(),
            path: PathBuf::from(dir).join(format!("runctl-{name}")),
            executable,
        };
        let listed = classify(
            vec![
                f("a", "/1", true),
                f("init", "/1", true),
                f("a", "/2", true),
                f("b", "/2", false),
            ],
            &["init".to_string()],
        );
        let problems: Vec<_> = listed.iter().map(|l| l.problems.clone()).collect();
        assert_eq!(
            problems,
            vec![
                vec![],
                vec![Problem::BuiltinClash],
                vec![Problem::Shadowed(PathBuf::from("/1/runctl-a"))],
                vec![Problem::NotExecutable],
            ]
        );
    }
}
