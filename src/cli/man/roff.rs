//! One man page in roff, from one command of the built clap tree: clap_mangen's sections up to
//! SUBCOMMANDS, then the after-help examples (no fill, no hyphenation: each command on its
//! line as it is typed), its other notes, SEE ALSO and VERSION. Pure: no I/O.

use crate::error::{CliError, Result};

/// `runctl`, `runctl-new`, `runctl-version-new`.
pub(super) fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// The page of `cmd` (a command of the built tree), whose parent command is `parent`.
pub(super) fn render(cmd: &clap::Command, parent: Option<&clap::Command>) -> Result<String> {
    let version = env!("CARGO_PKG_VERSION");
    // Its examples, SEE ALSO and VERSION are written below, after its SUBCOMMANDS.
    let bare = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>)
        .version(None::<&str>)
        .long_version(None::<&str>);
    let mut buf = Vec::new();
    clap_mangen::Man::new(bare)
        .source(format!("runctl {version}"))
        .render(&mut buf)
        .map_err(|e| CliError::general("cannot render the man page").cause(e))?;
    let text = String::from_utf8_lossy(&buf);
    let mut page = th_first(&text);
    let after_help = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    page.push_str(&after_help_sections(&after_help));
    page.push_str(&see_also(cmd, parent));
    page.push_str(&format!(".SH VERSION\nv{version}\n"));
    Ok(page)
}

/// The page with its `.TH` line first: clap_mangen puts the definition of the apostrophe
/// string (`\*(Aq`) before it; it may come anywhere before its first use.
fn th_first(text: &str) -> String {
    let Some(at) = text.find(".TH ") else {
        return text.to_string();
    };
    let (preamble, rest) = text.split_at(at);
    let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
    let (th, body) = rest.split_at(end);
    format!("{th}{preamble}{body}")
}

/// The after-help text as sections: each paragraph that starts `Examples:` as EXAMPLES, its
/// lines kept as they are; any other paragraph as NOTES, its lines kept apart.
fn after_help_sections(text: &str) -> String {
    let (mut examples, mut notes) = (String::new(), String::new());
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let mut lines = paragraph.lines();
        let first = lines.clone().next().unwrap_or_default();
        if first.trim_end() == "Examples:" {
            lines.next();
            for line in lines {
                examples.push_str(&literal_line(line.strip_prefix("  ").unwrap_or(line)));
            }
        } else {
            if !notes.is_empty() {
                notes.push_str(".PP\n");
            }
            for (i, line) in lines.enumerate() {
                if i > 0 {
                    notes.push_str(".br\n");
                }
                notes.push_str(&literal_line(line.trim_start()));
            }
        }
    }
    let mut out = String::new();
    if !notes.is_empty() {
        out.push_str(&format!(".SH NOTES\n{notes}"));
    }
    if !examples.is_empty() {
        // No fill, no hyphenation: a command is shown exactly as it is typed.
        out.push_str(&format!(".SH EXAMPLES\n.nf\n.nh\n{examples}.fi\n"));
    }
    out
}

/// SEE ALSO: runctl(1), the parent command's page and the pages of the command's subcommands;
/// for runctl(1) itself, every other page.
fn see_also(cmd: &clap::Command, parent: Option<&clap::Command>) -> String {
    let mut names: Vec<String> = Vec::new();
    if let Some(parent) = parent {
        names.push("runctl".to_string());
        if parent.get_display_name().is_some_and(|n| n != "runctl") {
            names.push(page_name(parent));
        }
        names.extend(cmd.get_subcommands().map(page_name));
    } else {
        names.extend(pages_below(cmd));
    }
    if names.is_empty() {
        return String::new();
    }
    let refs: Vec<String> = names
        .iter()
        .map(|n| format!("\\fB{}\\fR(1)", escape(n)))
        .collect();
    // Left-adjusted and never hyphenated: each reference is a name to type.
    format!(".SH \"SEE ALSO\"\n.ad l\n.nh\n{}\n", refs.join(",\n"))
}

/// The names of the pages of every command below `cmd`, depth first.
fn pages_below(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .flat_map(|sub| std::iter::once(page_name(sub)).chain(pages_below(sub)))
        .collect()
}

/// One line of text as roff that prints it as it is: its own line, never a control line.
fn literal_line(line: &str) -> String {
    let escaped = escape(line);
    // A line that starts with `.` or `'` would be a request; `\&` is a zero-width guard.
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}\n")
    } else {
        format!("{escaped}\n")
    }
}

/// Text escaped for roff: the backslash (roff's escape character), `-` (else a hyphen, which
/// does not paste into a shell as a minus), and the characters groff may typeset as typographic
/// quotes or accents (`'`, `` ` ``, `~`, `^`) as their ASCII glyphs; characters beyond ASCII as
/// `\[uXXXX]`, which needs no input encoding.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\*(Aq"),
            '`' => out.push_str("\\(ga"),
            '~' => out.push_str("\\(ti"),
            '^' => out.push_str("\\(ha"),
            c if c.is_ascii_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_so_that_roff_prints_it_as_it_is() {
        assert_eq!(escape(r"a\b"), r"a\eb");
        assert_eq!(escape("--dry-run"), r"\-\-dry\-run");
        assert_eq!(
            escape("'q' `c` ~/x ^y"),
            r"\*(Aqq\*(Aq \(gac\(ga \(ti/x \(hay"
        );
        assert_eq!(escape("\"$RUN_DIR\""), "\"$RUN_DIR\"");
        assert_eq!(escape("é\t"), r"\[u00E9] ");
        assert_eq!(literal_line(".hidden"), "\\&.hidden\n");
        assert_eq!(literal_line("'quoted"), "\\*(Aqquoted\n");
        assert_eq!(literal_line("  indented"), "  indented\n");
    }

    #[test]
    fn examples_keep_their_lines_and_other_notes_their_own_section() {
        let text = "Examples:\n  runctl a --x\n      # why\n\nExit codes: 0 ok.\nMore.";
        assert_eq!(
            after_help_sections(text),
            ".SH NOTES\nExit codes: 0 ok.\n.br\nMore.\n\
             .SH EXAMPLES\n.nf\n.nh\nrunctl a \\-\\-x\n    # why\n.fi\n"
        );
        assert_eq!(after_help_sections(""), "");
    }
}
