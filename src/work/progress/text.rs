//! The words of progress: a rate, a duration, a finish time on the local clock, and the status
//! that the bar and the plain line both show. Pure: the time now is an argument.

use std::time::Duration;

use jiff::ZonedDateTime;

/// An ETA further away than this is not worth a clock time.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a pass has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Items with a result in this pass.
    pub done: u64,
    /// Items selected for this pass.
    pub total: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Counts {
    /// Items per second so far (0 before the first).
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        }
    }

    /// How long the rest should take at the rate so far; none before there is a rate, or once
    /// nothing is left.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total.saturating_sub(self.done);
        let rate = self.rate();
        if left == 0 || rate <= 0.0 {
            return None;
        }
        // Not a duration at all is simply far.
        Some(Duration::try_from_secs_f64(left as f64 / rate).unwrap_or(Duration::MAX))
    }
}

/// `393/3000 (13%), 2 errors, 40.3/s, 9m45s elapsed, ETA 1m05s (at 14:05)`: the counts are
/// this pass's, of the items its first note names (the remaining or the failed ones).
pub fn status(counts: &Counts, now: &ZonedDateTime) -> String {
    let percent = match counts.total {
        0 => String::new(),
        total => format!(" ({}%)", u128::from(counts.done) * 100 / u128::from(total)),
    };
    let mut text = format!(
        "{}/{}{percent}, {}, {}, {} elapsed",
        counts.done,
        counts.total,
        crate::text::count(counts.errors, "error"),
        rate(counts.rate()),
        duration(counts.elapsed),
    );
    match counts.eta() {
        Some(eta) if eta > FAR => text.push_str(", ETA over a year"),
        Some(eta) => {
            text.push_str(&format!(", ETA {}", duration(eta)));
            if let Some(at) = jiff::SignedDuration::try_from(eta)
                .ok()
                .and_then(|d| now.checked_add(d).ok())
            {
                text.push_str(&format!(" (at {})", clock(&at, now)));
            }
        }
        None => {}
    }
    text
}

/// A rate of items per second as a person reads it: per second from 1/s, else per minute,
/// else per hour; three significant digits below 100, whole numbers from there (`40.3/s`,
/// `185103/s`, `15/min`, `3.6/h`).
pub fn rate(per_sec: f64) -> String {
    if per_sec.is_nan() || per_sec <= 0.0 {
        return "0/s".to_string();
    }
    if per_sec >= 1e9 {
        return format!("{per_sec:.2e}/s");
    }
    if per_sec >= 1.0 {
        return format!("{}/s", significant(per_sec));
    }
    let per_min = per_sec * 60.0;
    if per_min >= 1.0 {
        return format!("{}/min", significant(per_min));
    }
    let per_hour = per_sec * 3600.0;
    if per_hour >= 0.01 {
        format!("{}/h", significant(per_hour))
    } else {
        "<0.01/h".to_string()
    }
}

/// `x` (from 0.01 up to 1e9) with at most three significant digits, trailing zeros trimmed.
fn significant(x: f64) -> String {
    let text = if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A duration to the nearest second in its two largest units: `0s`, `59s`, `1m05s`, `1h00m`,
/// `3d00h`.
pub fn duration(d: Duration) -> String {
    let secs = d
        .as_secs()
        .saturating_add(u64::from(d.subsec_millis() >= 500));
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{mins}m{:02}s", secs % 60),
        3600..86_400 => format!("{}h{mins:02}m", secs / 3600),
        _ => format!("{days}d{hours:02}h"),
    }
}

/// How long a pass took: tenths of a second under a minute (`0.3s`), else as [`duration`].
pub fn took(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        duration(d)
    }
}

/// When `at` is, on the local clock: `14:05` on the day of `now`, else with the date
/// (`2026-11-24 14:05`).
pub fn clock(at: &ZonedDateTime, now: &ZonedDateTime) -> String {
    if at.date() == now.date() {
        at.strftime("%H:%M").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i8, m: i8) -> ZonedDateTime {
        jiff::civil::date(2026, 11, 23)
            .at(h, m, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .unwrap()
    }

    #[test]
    fn rates_read_with_three_digits_at_most_and_slow_ones_per_minute_or_hour() {
        let cases = [
            (0.0, "0/s"),
            (-3.0, "0/s"),
            (f64::NAN, "0/s"),
            (1e-300, "<0.01/h"),
            (f64::MIN_POSITIVE, "<0.01/h"),
            (1.0 / 86_400.0, "0.04/h"),
            (0.001, "3.6/h"),
            (0.25, "15/min"),
            (0.999_99, "60/min"),
            (1.0, "1/s"),
            (5.0, "5/s"),
            (1.256, "1.26/s"),
            (9.999, "10/s"),
            (40.3496, "40.3/s"),
            (99.96, "100/s"),
            (185_103.4, "185103/s"),
            (1e12, "1.00e12/s"),
            (f64::MAX, "1.80e308/s"),
            (f64::INFINITY, "inf/s"),
        ];
        for (r, want) in cases {
            assert_eq!(rate(r), want, "{r}");
        }
    }

    #[test]
    fn durations_take_their_two_largest_units() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(499), "0s"),
            (Duration::from_millis(500), "1s"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_millis(59_600), "1m00s"),
            (Duration::from_secs(65), "1m05s"),
            (Duration::from_secs(3600), "1h00m"),
            (Duration::from_secs(3 * 86_400), "3d00h"),
            (Duration::from_secs(3 * 86_400 + 5 * 3600 + 59), "3d05h"),
            (Duration::MAX, "213503982334601d07h"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "{d:?}");
        }
        assert_eq!(took(Duration::from_millis(300)), "0.3s");
        assert_eq!(took(Duration::from_secs(1012)), "16m52s");
    }

    #[test]
    fn the_finish_time_has_a_date_when_it_is_not_today() {
        let now = at(14, 0);
        assert_eq!(clock(&at(14, 5), &now), "14:05");
        assert_eq!(clock(&at(23, 59), &now), "23:59");
        let tomorrow = now
            .checked_add(jiff::SignedDuration::from_hours(11))
            .unwrap();
        assert_eq!(clock(&tomorrow, &now), "2026-11-24 01:00");
    }

    #[test]
    fn the_status_has_one_count_a_percent_the_rate_and_the_eta_with_its_clock_time() {
        let now = at(14, 0);
        let counts = |done, total, errors, secs| Counts {
            done,
            total,
            errors,
            elapsed: Duration::from_secs(secs),
        };
        assert_eq!(
            status(&counts(393, 3000, 2, 585), &now),
            "393/3000 (13%), 2 errors, 40.3/min, 9m45s elapsed, ETA 1h04m (at 15:04)"
        );
        assert_eq!(
            status(&counts(0, 10, 0, 0), &now),
            "0/10 (0%), 0 errors, 0/s, 0s elapsed"
        );
        assert_eq!(
            status(&counts(10, 10, 1, 2), &now),
            "10/10 (100%), 1 error, 5/s, 2s elapsed"
        );
        assert_eq!(
            status(&counts(1, 3, 0, 36 * 3600), &now),
            "1/3 (33%), 0 errors, 0.03/h, 1d12h elapsed, ETA 3d00h (at 2026-11-26 14:00)"
        );
        assert_eq!(
            status(&counts(1, u64::MAX, 0, 1), &now),
            format!(
                "1/{} (0%), 0 errors, 1/s, 1s elapsed, ETA over a year",
                u64::MAX
            )
        );
        // Nothing selected (never shown: such a pass does not start) and more done than
        // selected (counters that disagree) still read.
        assert_eq!(
            status(&counts(0, 0, 0, 1), &now),
            "0/0, 0 errors, 0/s, 1s elapsed"
        );
        assert!(status(&counts(5, 3, 0, 1), &now).starts_with("5/3 (166%)"));
    }
}
