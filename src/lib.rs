//! runctl: the bookkeeper of ML and data pipelines.
//!
//! The binary is a thin shell over this library: `cli` parses and renders, `project` finds the
//! project and its settings, `store` owns every line of SQL, and `plugins` finds and runs
//! `runctl-<name>` executables. Integration tests and plugin crates use it too.

/// `eprintln!` that never panics: a closed or full stderr (`runctl ... 2>&1 | head`,
/// `2>/dev/full`) loses the line, not the pass. Every line runctl writes to stderr goes
/// through it.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod child;
pub mod cli;
pub mod error;
pub mod hashing;
pub mod io_error;
pub mod legacy;
pub mod legacy_runs;
pub mod links;
pub mod lock;
pub mod naming;
pub mod pipeline_config;
pub mod plugins;
pub mod project;
pub mod protect;
pub mod runs;
pub mod source;
pub mod state;
pub mod state_copy;
pub mod store;
pub mod text;
pub mod undo;
pub mod versions;
pub mod work;
