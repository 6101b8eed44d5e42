//! Progress of a pass: an indicatif bar on a terminal, a plain line at an interval otherwise
//! (10 s; `RUNCTL_PROGRESS_SECS` changes it), nothing when quiet. Always on stderr.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    /// A line at this interval.
    Lines(Duration),
    Quiet,
}

impl Style {
    /// The bar on a terminal, else lines, unless quiet.
    pub fn detect(quiet: bool) -> Style {
        use std::io::IsTerminal;
        if quiet {
            Style::Quiet
        } else if std::io::stderr().is_terminal() {
            Style::Bar
        } else {
            let secs = std::env::var("RUNCTL_PROGRESS_SECS")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(Duration::from_secs(10));
            Style::Lines(secs)
        }
    }
}

/// Prints notes without tearing the bar; cheap to clone into other threads.
#[derive(Debug, Clone)]
pub struct Notifier {
    bar: Option<ProgressBar>,
}

impl Notifier {
    /// A warning (shown even when quiet).
    pub fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }
}

/// The display, owned by the recorder thread.
#[derive(Debug)]
pub struct Display {
    style: Style,
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    errors: u64,
    start: Instant,
    last_line: Instant,
}

impl Display {
    pub fn new(style: Style, total: u64) -> Display {
        let bar = (style == Style::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} {msg} {per_sec:.dim} ETA {eta} ",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message("0 errors");
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Display {
            style,
            bar,
            total,
            done: 0,
            errors: 0,
            start: Instant::now(),
            last_line: Instant::now(),
        }
    }

    pub fn notifier(&self) -> Notifier {
        Notifier {
            bar: self.bar.clone(),
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// One more result.
    pub fn result(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.errors += 1;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if !ok {
                bar.set_message(format!("{} errors", self.errors));
            }
        }
    }

    /// Called after each wait or commit: the plain line, when it is due.
    pub fn tick(&mut self, progress: &Progress) {
        let Style::Lines(every) = self.style else {
            return;
        };
        if self.last_line.elapsed() < every {
            return;
        }
        self.last_line = Instant::now();
        eprintln!("{}", self.line(progress));
    }

    fn line(&self, progress: &Progress) -> String {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        format!(
            "progress: {}/{} this pass, {} errors, {rate:.1} items/s; run {} of {} done, {} errors{}",
            self.done,
            self.total,
            self.errors,
            progress.n_completed,
            progress.n_items,
            progress.n_errors,
            progress
                .eta
                .as_deref()
                .map(|e| format!(", ETA {e}"))
                .unwrap_or_default()
        )
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
