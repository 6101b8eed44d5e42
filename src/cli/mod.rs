//! The command line: the clap root with its global flags, the shared context every command gets,
//! and dispatch, including the arm that runs `runctl-<name>` plugins from PATH.

mod annotate;
mod cleanup;
mod completions;
mod ctx;
mod export;
mod export_target;
mod hash;
mod init;
mod ledger;
mod link;
mod logs;
mod man;
mod members_view;
mod migrate;
mod migrate_runs;
mod name;
mod naming_args;
mod new;
pub mod output;
mod path;
mod plugins;
mod prompt;
mod resolve;
mod resume;
mod resume_summary;
mod run_view;
mod runs_cmd;
mod source_args;
mod store_cmd;
mod version;
mod version_export;
mod version_file;
mod version_listing;
mod version_sync;
mod version_view;
mod work_args;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use ctx::{Ctx, migrate_with_backup};

use crate::error::{CliError, Result};

const EXAMPLES: &str = "\
Examples:
  runctl init                       # make this folder a runctl project
  runctl new --model Qwen2-7B --dataset drg_letters  # allocate qwen2-7b-drg_letters-full-run1
  vars=\"$(runctl new --config train.yaml --format shell)\" && eval \"$vars\"  # RUN_NAME, RUN_DIR, ...
  runctl new --model m --source cases.csv --key id -j 8 -- python worker.py  # a run over the file's rows
  runctl resume                     # go on with the newest unfinished run (only what remains)
  runctl list                       # runs, newest first; 'runctl show latest' for one
  runctl logs latest --follow       # the output of a run's command as it comes
  runctl tag latest lr=3e-4         # tag a run; 'runctl list --tag lr=3e-4' selects by tag
  runctl archive latest             # move a run's folders under outputs/.archive; rm deletes
  runctl hash ':lr=0.1+bs=32' 42    # the short hash :hash=xxxxxxxx of an identifier
  runctl link 'models/M:long=args'  # a hashed alias models/M:hash=xxxxxxxx beside the folder
  runctl resolve a7f3c9d4           # the identifier and folder behind a hash
  runctl path check some/long/path  # components over 255 bytes, paths over naming.max_path
  runctl version new style_1        # record a model version V<n>; 'version sync' matches artifacts
  runctl migrate --dry-run          # list pending schema migrations of .runctl/state.db
  runctl store copy --to postgres://runctl@db.lab/runctl  # share the project's state across hosts
  runctl plugins                    # list runctl-<name> plugins found on PATH
  runctl completions bash > ~/.local/share/bash-completion/completions/runctl
  runctl --root ~/proj plugins --json

Any other name runs the plugin `runctl-<name>` from PATH (docs/plugins.md).
Exit codes: 0 ok, 1 error, 2 usage, 3 conflict, 4 not found, 130 interrupted.";

/// The bookkeeper of ML and data pipelines: run names, identifier hashes, resumable runs and
/// model versions, with its state in one SQLite file.
#[derive(Debug, Parser)]
#[command(
    name = "runctl",
    version,
    about,
    after_help = EXAMPLES,
    arg_required_else_help = true,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use DIR as the project root instead of searching upward from the working directory
    #[arg(long, global = true, env = "RUNCTL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print no notes or progress on stderr (errors and warnings still show)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour stderr
    #[arg(long, global = true, value_enum, default_value_t = output::ColorChoice::Auto, value_name = "WHEN")]
    pub color: output::ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    Name(name::NameArgs),
    New(Box<new::NewArgs>),
    List(runs_cmd::ListArgs),
    Show(runs_cmd::ShowArgs),
    Env(runs_cmd::EnvArgs),
    Tag(annotate::TagArgs),
    Note(annotate::NoteArgs),
    Archive(cleanup::ArchiveArgs),
    Rm(cleanup::RmArgs),
    Logs(logs::LogsArgs),
    Items(ledger::ItemsArgs),
    Record(ledger::RecordArgs),
    Resume(resume::ResumeArgs),
    Export(export::ExportArgs),
    Hash(hash::HashArgs),
    Link(link::LinkArgs),
    Resolve(resolve::ResolveArgs),
    Path(path::PathArgs),
    Version(version::VersionArgs),
    Migrate(migrate::MigrateArgs),
    Store(store_cmd::StoreArgs),
    Plugins(plugins::PluginsArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
    /// Any other name: run the plugin `runctl-<name>` from PATH.
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

/// The names of the built-in commands, which plugins can never shadow. Kept as a list (checked
/// against clap by a test) so that plugin dispatch need not build the clap definition.
pub const BUILTINS: &[&str] = &[
    "init",
    "name",
    "new",
    "list",
    "show",
    "env",
    "tag",
    "note",
    "archive",
    "rm",
    "logs",
    "items",
    "record",
    "resume",
    "export",
    "hash",
    "link",
    "resolve",
    "path",
    "version",
    "migrate",
    "store",
    "plugins",
    "completions",
    "man",
    "help",
];

/// [`BUILTINS`] as owned strings.
pub fn builtin_names() -> Vec<String> {
    BUILTINS.iter().map(|s| s.to_string()).collect()
}

/// `runctl <name> ...` where `<name>` is no built-in and no flag comes before it: dispatch to the
/// plugin without parsing the whole command line, so that a plugin starts as fast as possible.
/// Returns `None` when the full parser is needed.
pub fn plugin_fast_path() -> Option<Result<ExitCode>> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    let name = first.to_str()?;
    if name.is_empty() || name.starts_with('-') || BUILTINS.contains(&name) {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    let global = GlobalArgs {
        root: std::env::var_os("RUNCTL_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        quiet: false,
        color: output::ColorChoice::Auto,
    };
    let ctx = Ctx { global, cwd };
    let mut all = vec![first];
    all.extend(args);
    Some(plugins::dispatch(&ctx, all).map(|()| ExitCode::SUCCESS))
}

/// Parse the command line. On a usage error (or `--help`/`--version`), print it and return the
/// exit code to end with.
pub fn parse() -> std::result::Result<Cli, ExitCode> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| {
            let cli = Cli::from_arg_matches_mut(&mut matches);
            // Dropping the matches and the tree of every subcommand's arguments costs more than
            // parsing: the process is about to do its work and exit, so they are left to it.
            std::mem::forget(matches);
            cli
        })
        .map_err(|err| err.format(&mut command));
    std::mem::forget(command);
    parsed.map_err(|err| {
        // A closed stdout while printing help is not worth reporting.
        let _ = err.print();
        ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
    })
}

/// Run the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::general("cannot read the working directory").cause(e))?;
    let ctx = Ctx {
        global: cli.global,
        cwd,
    };
    let done = match cli.command {
        // These pass a child's exit code on, or 130 after an interrupted pass.
        Command::New(args) => return new::new(&ctx, *args),
        Command::Resume(args) => return resume::resume(&ctx, args),
        Command::Init(args) => init::run(&ctx, args),
        Command::Name(args) => name::run(&ctx, args),
        Command::List(args) => runs_cmd::list(&ctx, args),
        Command::Show(args) => runs_cmd::show(&ctx, args),
        Command::Env(args) => runs_cmd::env(&ctx, args),
        Command::Tag(args) => annotate::tag(&ctx, args),
        Command::Note(args) => annotate::note(&ctx, args),
        Command::Archive(args) => cleanup::archive(&ctx, args),
        Command::Rm(args) => cleanup::rm(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Items(args) => ledger::items(&ctx, args),
        Command::Record(args) => ledger::record(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Hash(args) => hash::run(&ctx, args),
        Command::Link(args) => link::run(&ctx, args),
        Command::Resolve(args) => resolve::run(&ctx, args),
        Command::Path(args) => path::run(&ctx, args),
        Command::Version(args) => version::run(&ctx, args),
        Command::Migrate(args) => migrate::run(&ctx, args),
        Command::Store(args) => store_cmd::run(&ctx, args),
        Command::Plugins(args) => plugins::run(&ctx, args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::man(&ctx, args),
        Command::External(args) => plugins::dispatch(&ctx, args),
    };
    done.map(|()| ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
