//! Times as the DB stores them: one text format, written by one function.

use jiff::fmt::temporal::DateTimePrinter;

/// RFC 3339 in UTC with exactly six fractional digits (jiff's printer, which does not parse a
/// format string per call as `strftime` does: a pass writes two times per item).
const PRINTER: DateTimePrinter = DateTimePrinter::new().precision(Some(6));

/// The current UTC time as stored ([`time_text`]).
pub fn now_text() -> String {
    time_text(jiff::Timestamp::now())
}

/// A time as stored: RFC 3339 in UTC with exactly six fractional digits, so that text order is
/// time order. Every stored time is written by this one function.
pub fn time_text(at: jiff::Timestamp) -> String {
    PRINTER.timestamp_to_string(&at)
}

#[cfg(test)]
mod tests {
    use super::time_text;

    #[test]
    fn six_digits_truncated_always_z() {
        for (secs, nanos, text) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (1_796_178_178, 434_718_899, "2026-12-02T02:22:58.434718Z"),
            (1_796_178_178, 999_999_999, "2026-12-02T02:22:58.999999Z"),
            (1_796_178_178, 1_000, "2026-12-02T02:22:58.000001Z"),
            (1_796_178_178, 999, "2026-12-02T02:22:58.000000Z"),
        ] {
            let at = jiff::Timestamp::new(secs, nanos).unwrap();
            assert_eq!(time_text(at), text);
            assert_eq!(
                time_text(at),
                at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
            );
        }
    }
}
