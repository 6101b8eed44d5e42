//! The worker settings of a run (command, mode, slots, window, timeout, retries, rate) as stored
//! with it, so that `runctl resume` with no flags goes on as the run started; flags given on a
//! resume replace the stored ones and are stored in turn. Pure: parsing and merging only.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a worker command is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Once per item, the item as JSON on stdin, the result on stdout.
    PerItem,
    /// Once per slot, items and results as JSON lines.
    Stream,
}

/// Stored worker settings; every field optional so that a resume can give only some.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkSettings {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl WorkSettings {
    /// `self` with every setting that `given` has replaced by it.
    pub fn overlay(&self, given: &WorkSettings) -> WorkSettings {
        WorkSettings {
            command: if given.command.is_empty() {
                self.command.clone()
            } else {
                given.command.clone()
            },
            mode: given.mode.or(self.mode),
            jobs: given.jobs.or(self.jobs),
            window: given.window.or(self.window),
            timeout_ms: given.timeout_ms.or(self.timeout_ms),
            retries: given.retries.or(self.retries),
            retry_delay_ms: given.retry_delay_ms.or(self.retry_delay_ms),
            rate: given.rate.or(self.rate),
        }
    }
}

/// The longest duration runctl takes for a timeout, a retry delay or a grace period: longer
/// ones would overflow the clock arithmetic and mean "never" anyway.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The slowest `--rate`: one start a day.
pub const MIN_RATE: f64 = 1.0 / 86_400.0;
/// The fastest `--rate`: a million starts a second (faster is no limit at all).
pub const MAX_RATE: f64 = 1_000_000.0;

/// Parse a duration: `30s`, `5m`, `1h 30m`, `500ms`, ISO 8601 (`PT30S`), or a plain number of
/// seconds (`2.5`); at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if let Ok(seconds) = text.parse::<f64>() {
        Duration::try_from_secs_f64(seconds).map_err(|_| {
            if seconds.is_finite() && seconds > 0.0 {
                format!("'{text}' is longer than 365 days, the longest runctl takes")
            } else {
                format!("'{text}' is not a duration of zero or more seconds")
            }
        })?
    } else {
        let signed: jiff::SignedDuration = text
            .parse()
            .map_err(|_| format!("'{text}' is not a duration (try 30s, 5m, 1h30m or 500ms)"))?;
        Duration::try_from(signed).map_err(|_| format!("'{text}' is negative"))?
    };
    if duration > MAX_DURATION {
        return Err(format!(
            "'{text}' is longer than 365 days, the longest runctl takes"
        ));
    }
    Ok(duration)
}

/// Parse a `--lease`: between a second (heartbeats come four times a lease) and a day.
pub fn parse_lease(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_secs(1) {
        return Err(format!(
            "the lease '{}' is under a second: a member would lose it between two heartbeats",
            text.trim()
        ));
    }
    if duration > Duration::from_secs(86_400) {
        return Err(format!(
            "the lease '{}' is over a day: a dead host's items would wait that long",
            text.trim()
        ));
    }
    Ok(duration)
}

/// Parse a `--timeout`: a duration of at least a millisecond (a timeout of zero would fail every
/// item at once).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(1) {
        return Err(format!(
            "the timeout '{}' is under a millisecond: every item would time out at once",
            text.trim()
        ));
    }
    Ok(duration)
}

/// Parse a rate: `5`, `5/s`, `300/min` or `1000/h`, as starts per second, between
/// [`MIN_RATE`] and [`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, per) = match text.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (text, "s"),
    };
    let seconds = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("unknown rate unit '/{other}' (use /s, /min or /h)")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a rate (try 5, 5/s or 300/min)"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!(
            "the rate '{text}' must be a finite number above zero"
        ));
    }
    check_rate(n / seconds).map_err(|e| format!("the rate '{text}' {e}"))
}

fn check_rate(rate: f64) -> Result<f64, String> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(
            "is out of range: runctl takes from one start a day (0.042/h) to 1000000/s".to_string(),
        );
    }
    Ok(rate)
}

impl WorkSettings {
    /// Refuse stored settings out of the range the flags take (a DB edited by hand, or one
    /// written before the flags were checked), naming the setting.
    pub fn check(&self) -> Result<(), String> {
        if let Some(rate) = self.rate {
            check_rate(rate).map_err(|e| format!("the stored rate {rate:.3e}/s {e}"))?;
        }
        let max_ms = MAX_DURATION.as_millis() as u64;
        for (name, value) in [
            ("timeout", self.timeout_ms),
            ("retry delay", self.retry_delay_ms),
        ] {
            if value.is_some_and(|ms| ms > max_ms) {
                return Err(format!(
                    "the stored {name} of {} ms is longer than 365 days",
                    value.unwrap_or_default()
                ));
            }
        }
        if self.timeout_ms == Some(0) {
            return Err("the stored timeout of 0 ms would fail every item at once".into());
        }
        if self.jobs.is_some_and(|j| j == 0 || j > 4096) {
            return Err("the stored slot count is not between 1 and 4096".into());
        }
        if self.window.is_some_and(|w| w == 0 || w > 100_000) {
            return Err("the stored window is not between 1 and 100000".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_spelling() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3").is_err());
        for extreme in ["1e300", "99999999999h", "1e-300x", "inf", "NaN"] {
            assert!(parse_duration(extreme).is_err(), "{extreme}");
        }
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
        assert!(parse_duration("8761h").is_err());
    }

    #[test]
    fn rates_in_every_unit() {
        assert_eq!(parse_rate("5").unwrap(), 5.0);
        assert_eq!(parse_rate("300/min").unwrap(), 5.0);
        assert_eq!(parse_rate("7200/h").unwrap(), 2.0);
        assert!(parse_rate("0").is_err());
        for extreme in ["1e-300", "1e-20/h", "5e-324", "1e300", "inf", "NaN", "-1"] {
            assert!(parse_rate(extreme).is_err(), "{extreme}");
        }
        assert!(parse_rate("1/day").is_err());
        assert!((parse_rate("24/h").unwrap() - 1.0 / 150.0).abs() < 1e-12);
        assert!(parse_rate("5/week").is_err());
    }

    #[test]
    fn given_settings_win_and_the_rest_is_kept() {
        let stored = WorkSettings {
            command: vec!["python".into(), "w.py".into()],
            mode: Some(Mode::Stream),
            jobs: Some(4),
            ..WorkSettings::default()
        };
        let given = WorkSettings {
            jobs: Some(8),
            ..WorkSettings::default()
        };
        let merged = stored.overlay(&given);
        assert_eq!(merged.command, stored.command);
        assert_eq!(merged.mode, Some(Mode::Stream));
        assert_eq!(merged.jobs, Some(8));
        let json = serde_json::to_string(&merged).unwrap();
        assert_eq!(serde_json::from_str::<WorkSettings>(&json).unwrap(), merged);
    }
}
