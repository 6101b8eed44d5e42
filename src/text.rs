//! Text that is safe to show on a terminal: any value that came from outside (a DB row, a
//! listing, a worker's output, a command line) is printed with the characters that could act on
//! the terminal or hide what the text says shown escaped. Pure; no I/O.

use std::borrow::Cow;

/// A character that acts on a terminal or hides instead of showing: C0 and C1 controls and DEL;
/// the zero-width characters and the byte-order mark, which make two names that print alike
/// differ; the line and paragraph separators; and the bidirectional marks, overrides and
/// isolates that make text display in another order.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// `text` with every control character escaped (`\u{1b}`, `\n`), safe to print on a terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_hidden(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}
