//! Rendering for stdout (text tables and `--json`) and the TTY and colour checks.
//!
//! Stdout carries data only; notes, warnings and prompts go to stderr. Every write goes through
//! here so that a closed stdout pipe (`runctl plugins | head -1`) ends the command quietly.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::error::Result;

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and NO_COLOR is unset
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour `stream` under this choice.
    pub fn enabled(self, stream: &impl IsTerminal) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stream.is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// Write `text` to stdout as is.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Write `value` to stdout as pretty JSON and a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// A warning line on stderr.
pub fn warn(color: bool, message: impl std::fmt::Display) {
    let message = message.to_string();
    let message = crate::text::printable_lines(&message);
    let style = anstyle::AnsiColor::Yellow.on_default().bold();
    if color {
        crate::say!(
            "{}warning:{} {message}",
            style.render(),
            style.render_reset()
        );
    } else {
        crate::say!("warning: {message}");
    }
}

/// Columns aligned with two spaces between them; the last column is not padded. Any cell of
/// any length is fine (padding is written out, not formatted: a width has no upper bound), and
/// control characters are shown escaped (`\u{1b}`), so that a stored value cannot drive the
/// terminal.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let shown: Vec<Vec<String>> = std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            row.iter()
                .map(|cell| printable(cell).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = vec![0; columns];
    for row in &shown {
        for (i, cell) in row.iter().enumerate().take(columns) {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in &shown {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub use crate::text::printable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["a".to_string(), "long value".to_string(), "x".to_string()],
            vec!["bbbb".to_string(), "v".to_string(), "y".to_string()],
        ];
        assert_eq!(
            table(&["N", "VALUE", "Z"], &rows),
            "N     VALUE       Z\na     long value  x\nbbbb  v           y\n"
        );
    }

    #[test]
    fn any_cell_fits_and_control_characters_are_escaped() {
        let huge = "x".repeat(70_000);
        let rows = vec![
            vec![huge.clone(), "end".into()],
            vec!["\u{1b}[31mred".into(), "e".into()],
        ];
        let text = table(&["A", "B"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], format!("{huge}  end"));
        assert!(lines[2].starts_with("\\u{1b}[31mred"), "{}", lines[2]);
        assert!(!text.contains('\u{1b}'));
        assert_eq!(lines[0].len(), lines[1].len() - 3 + 1);
    }
}
