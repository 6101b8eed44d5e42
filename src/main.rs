//! The `runctl` binary: parse, run, and turn any error into its message and exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    runctl::error::install_panic_hook();
    let cli = match runctl::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let color = cli.global.color.enabled(&std::io::stderr());
    match runctl::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            err.report(color);
            ExitCode::from(err.exit_code())
        }
    }
}
