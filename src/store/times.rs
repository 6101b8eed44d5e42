//! Times as the DB stores them: one text format, written by one function.

/// The current UTC time as stored ([`time_text`]).
pub fn now_text() -> String {
    time_text(jiff::Timestamp::now())
}

/// A time as stored: RFC 3339 in UTC with exactly six fractional digits, so that text order is
/// time order. Every stored time is written by this one function.
pub fn time_text(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}
