//! `runctl completions <shell>`: generated from the clap definition, so it never drifts from
//! the real command line (`runctl man` is in `man.rs`).

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

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "runctl", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))
}
