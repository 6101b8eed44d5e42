//! Questions asked on a terminal with dialoguer. Without a terminal on both stdin and stderr
//! there is nobody to ask: the caller gets an error carrying the hint of the flag that answers
//! the question (`--yes`), never a hang.

use std::io::IsTerminal;

use crate::error::{CliError, Kind, Result};

/// Whether a person can be asked: stdin and stderr are both terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask a yes/no question (default no). `answer_hint` tells how to answer it without a terminal.
pub fn confirm(question: &str, answer_hint: &str) -> Result<bool> {
    if !interactive() {
        return Err(CliError::general(format!(
            "{question} (no terminal to ask on, so nothing was done)"
        ))
        .hint(answer_hint.to_string()));
    }
    let term = dialoguer::console::Term::stderr();
    // Ctrl-C at a prompt: restore the cursor dialoguer hid, say nothing was done, exit 130.
    // (Only the first handler set in a process takes effect; a prompt is asked before any
    // other handler exists.)
    let _ = ctrlc::set_handler(|| {
        let _ = dialoguer::console::Term::stderr().show_cursor();
        eprintln!("\ninterrupted at the prompt; nothing was done");
        std::process::exit(i32::from(Kind::Interrupted.exit_code()));
    });
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_on_opt(&term)
        .map_err(|err| match err {
            dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                CliError::new(
                    Kind::Interrupted,
                    "interrupted at the prompt; nothing was done",
                )
            }
            dialoguer::Error::IO(e) => CliError::general("cannot read the answer").cause(e),
        })?;
    Ok(answer.unwrap_or(false))
}
