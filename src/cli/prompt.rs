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
    ensure_interactive(question, answer_hint)?;
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_on_opt(&dialoguer::console::Term::stderr())
        .map_err(read_error)?;
    Ok(answer.unwrap_or(false))
}

/// Ask before something that cannot be undone: true only when the answer is the whole word
/// `y` or `yes` (any case), typed and ended with Enter; anything else is no.
pub fn confirm_typed(question: &str, answer_hint: &str) -> Result<bool> {
    ensure_interactive(question, answer_hint)?;
    let answer = dialoguer::Input::<String>::new()
        .with_prompt(format!("{question} [y/N]"))
        .allow_empty(true)
        .interact_text_on(&dialoguer::console::Term::stderr())
        .map_err(read_error)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Pick one of `items` (arrow keys and Enter). `None` when the user pressed Esc or q.
pub fn select(question: &str, items: &[&str], answer_hint: &str) -> Result<Option<usize>> {
    ensure_interactive(question, answer_hint)?;
    dialoguer::Select::new()
        .with_prompt(question)
        .items(items)
        .default(0)
        .interact_on_opt(&dialoguer::console::Term::stderr())
        .map_err(read_error)
}

/// Ask for a line of text, `default` when the user just presses Enter.
pub fn input(question: &str, default: &str) -> Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(question)
        .default(default.to_string())
        .interact_text_on(&dialoguer::console::Term::stderr())
        .map_err(read_error)
}

fn ensure_interactive(question: &str, answer_hint: &str) -> Result<()> {
    if interactive() {
        install_interrupt_handler();
        return Ok(());
    }
    Err(CliError::general(format!(
        "runctl would ask \"{question}\", but there is no terminal to ask on (stdin and stderr are not both one); nothing was done"
    ))
    .hint(answer_hint.to_string()))
}

fn read_error(err: dialoguer::Error) -> CliError {
    match err {
        dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            CliError::new(Kind::Interrupted, "interrupted at the prompt")
        }
        dialoguer::Error::IO(e) => CliError::general("cannot read the answer").cause(e),
    }
}

/// Ctrl-C at a prompt: restore the cursor dialoguer hid and exit 130. Installed once, by the
/// first prompt, and kept for the rest of the process (prompts come before any other handler
/// exists).
fn install_interrupt_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
        else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("runctl-prompt-interrupt".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = dialoguer::console::Term::stderr().show_cursor();
                    crate::say!(
                        "\ninterrupted at the prompt; what was already applied is kept, nothing else was done"
                    );
                    std::process::exit(i32::from(Kind::Interrupted.exit_code()));
                }
            });
    });
}
