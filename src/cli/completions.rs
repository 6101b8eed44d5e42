//! `runctl completions <shell>` and `runctl man`: generated from the clap definition, so they
//! never drift from the real command line.

use clap::{Args, CommandFactory};

use super::{Cli, output};
use crate::error::Result;

/// Print a shell completion script to stdout
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl completions bash > ~/.local/share/bash-completion/completions/runctl\n  runctl completions zsh > \"${fpath[1]}/_runctl\"\n  runctl completions fish > ~/.config/fish/completions/runctl.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print the man page (roff) to stdout
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl man > ~/.local/share/man/man1/runctl.1\n  runctl man | man -l -"
)]
pub struct ManArgs {}

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "runctl", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))
}

pub fn man(_args: ManArgs) -> Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    output::print(&String::from_utf8_lossy(&buf))
}
