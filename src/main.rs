//! The `runctl` binary: parse, run, and turn any error into its message and exit code.

use std::process::ExitCode;

use runctl::cli::{self, output::ColorChoice};

fn main() -> ExitCode {
    runctl::error::install_panic_hook();
    let (result, color) = match cli::plugin_fast_path() {
        Some(result) => (result, ColorChoice::Auto),
        None => match cli::parse() {
            Ok(parsed) => {
                let color = parsed.global.color;
                (cli::run(parsed), color)
            }
            Err(code) => return code,
        },
    };
    result.unwrap_or_else(|err| {
        err.report(color.enabled(&std::io::stderr()));
        ExitCode::from(err.exit_code())
    })
}
