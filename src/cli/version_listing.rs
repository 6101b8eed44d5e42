//! Reading a `version sync` listing from a file or stdin: line by line with a bound on each
//! line, so a 10 GB line without a newline costs time but not memory; bytes that are not UTF-8
//! and lines that do not parse are reported, never guessed. What the lines mean is
//! `versions::parse_listing_line`.

use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

use super::Ctx;
use crate::error::{CliError, Result};
use crate::versions;

/// A listing line or entry that sync did not use, and why.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub location: String,
    pub reason: String,
}

/// The listing's entries, the lines that could not be read, and whether it had any line
/// that was not blank.
pub struct Listing {
    pub entries: Vec<versions::ListingEntry>,
    pub unreadable: Vec<Skipped>,
    pub any_line: bool,
}

/// The longest listing line read: room for a JSON line with the longest URL and key runctl
/// stores (128 KiB each; an S3 key is at most 1,024 bytes). A longer line is skipped without
/// being held in memory.
const MAX_LINE: usize = 256 * 1024 + 1024;

/// The next line of `reader` without its newline, at most [`MAX_LINE`] bytes kept: `None` at
/// the end, `Some(false)` for a line in `line`, `Some(true)` for a line that was too long.
fn next_line(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut too_long, mut any) = (false, false);
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        if !too_long && line.len() + chunk.len() > MAX_LINE {
            too_long = true;
            line.clear();
        }
        if !too_long {
            line.extend_from_slice(chunk);
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// Read the listing at `path` (`-`: stdin).
pub fn read_listing(ctx: &Ctx, path: &Path) -> Result<Listing> {
    let mut reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        ctx.open_input(path, "listing ")?
    };
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut any = false;
    let mut line = Vec::new();
    let mut number = 0;
    while let Some(too_long) = next_line(reader.as_mut(), &mut line)
        .map_err(|e| CliError::general("cannot read the listing").cause(e))?
    {
        number += 1;
        let mut skip = |reason: String| {
            skipped.push(Skipped {
                location: format!("line {number}"),
                reason,
            })
        };
        if too_long {
            any = true;
            skip(format!("longer than {MAX_LINE} bytes"));
            continue;
        }
        // A listing saved by a Windows editor starts with a byte-order mark.
        let bytes = match number {
            1 => line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&line),
            _ => &line,
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            any = true;
            skip("not valid UTF-8".into());
            continue;
        };
        any |= !text.trim().is_empty();
        match versions::parse_listing_line(text) {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(reason) => skip(reason),
        }
    }
    Ok(Listing {
        entries,
        unreadable: skipped,
        any_line: any,
    })
}
