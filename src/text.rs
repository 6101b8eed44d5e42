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
            '\u{00ad}' // soft hyphen
                | '\u{034f}' // combining grapheme joiner
                | '\u{061c}' // Arabic letter mark (bidi)
                | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' // Hangul fillers
                | '\u{180e}' // Mongolian vowel separator
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}' // interlinear annotation
                | '\u{1d173}'..='\u{1d17a}' // musical formatting
                | '\u{e0000}'..='\u{e007f}' // tags
        )
}

/// [`printable`] line by line: the line breaks a message means to have are kept, every other
/// hidden character is escaped.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_hidden(c)) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| printable(l).into_owned())
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// The first hidden character of `text` (see [`is_hidden`]), if any. Printable ASCII, what
/// nearly every name and key is, is told at once, without decoding it.
pub fn first_hidden(text: &str) -> Option<char> {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    text.chars().find(|&c| is_hidden(c))
}

/// `text` with every control character escaped (`\u{1b}`, `\n`), safe to print on a terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if first_hidden(text).is_none() {
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

/// `n` and the word, plural unless `n` is 1: "1 error", "2 errors", "0 errors". Every word
/// runctl counts takes an `s`.
pub fn count(n: impl Into<i128>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(1u64, "error"), "1 error");
        assert_eq!(count(0u64, "error"), "0 errors");
        assert_eq!(count(2i64, "slot"), "2 slots");
    }
}
