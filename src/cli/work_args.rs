//! The work flags shared by `runctl resume` and `runctl new --source ... -- CMD`, and how they
//! lay over the settings stored with a run. Parsing only; the checks and the engine are in
//! `resume` and `crate::work`.

use std::ffi::OsString;
use std::time::Duration;

use clap::Args;

use crate::work::{Mode, WorkSettings, settings};

/// The work flags of `resume` and `new --source ... -- CMD`. Flags not given keep the values
/// stored with the run.
#[derive(Debug, Clone, Default, Args)]
pub struct WorkArgs {
    /// Worker slots [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: Option<u32>,
    /// Start CMD once per item: the item as JSON on stdin, the result on stdout (the default)
    #[arg(long, conflicts_with = "stream")]
    pub per_item: bool,
    /// Start CMD once per slot: items in and results out as JSON lines
    #[arg(long)]
    pub stream: bool,
    /// Items in flight per stream worker [default: 1]
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub window: Option<u32>,
    /// Fail an item that runs longer, killing its process group (30s, 5m, 1h30m)
    #[arg(long, value_name = "D", value_parser = settings::parse_timeout)]
    pub timeout: Option<Duration>,
    /// Retry a failed item up to N times in this pass, with exponential backoff [default: 0]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// The first retry's delay, doubled for each next one, with jitter [default: 1s]
    #[arg(long, value_name = "D", value_parser = settings::parse_duration)]
    pub retry_delay: Option<Duration>,
    /// Start at most R items per second (5, 5/s, 300/min), e.g. an API's quota
    #[arg(long, value_name = "R", value_parser = settings::parse_rate)]
    pub rate: Option<f64>,
    /// After the first interrupt, how long items in flight may take to finish
    #[arg(long, value_name = "D", value_parser = settings::parse_duration, default_value = "30s")]
    pub grace: Duration,
    /// On PostgreSQL: how long a process's heartbeat may go unrenewed before the other
    /// processes working the run claim its items (docs/cluster.md)
    #[arg(long, value_name = "D", value_parser = settings::parse_lease, default_value = "60s")]
    pub lease: Duration,
    /// Only the items whose result is an error [env: RETRY_ERRORS_ONLY=1]
    #[arg(long)]
    pub retry_errors: bool,
    /// Go on although the source file changed since it was ingested (the DB's items are used)
    #[arg(long)]
    pub allow_drift: bool,
}

impl WorkArgs {
    pub(super) fn given(&self, command: &[OsString]) -> WorkSettings {
        WorkSettings {
            command: command
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect(),
            mode: if self.stream {
                Some(Mode::Stream)
            } else if self.per_item {
                Some(Mode::PerItem)
            } else {
                None
            },
            jobs: self.jobs.map(|j| j as usize),
            window: self.window.map(|w| w as usize),
            timeout_ms: self.timeout.map(|t| t.as_millis() as u64),
            retries: self.retries,
            retry_delay_ms: self.retry_delay.map(|t| t.as_millis() as u64),
            rate: self.rate,
        }
    }

    /// Whether any work flag was given (they need `--source` on `new`).
    pub fn given_any(&self) -> bool {
        self.given(&[]) != WorkSettings::default() || self.retry_errors || self.allow_drift
    }

    pub(super) fn retry_errors(&self) -> bool {
        self.retry_errors || std::env::var("RETRY_ERRORS_ONLY").is_ok_and(|v| v == "1")
    }
}
