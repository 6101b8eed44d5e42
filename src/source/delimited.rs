//! CSV (and TSV, or any one-byte delimiter) sources, streamed record by record with the csv
//! crate; the delimiter is sniffed from the header line unless given.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::{ITEM_MAX_BYTES, Item, SourceError, Spec, check_columns, row_items};

/// The delimiter of a CSV file: the one of `,`, `;`, tab and `|` found most in its first line.
fn sniff_delimiter(path: &Path) -> Result<u8, SourceError> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let first = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    Ok([b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first.iter().filter(|b| *b == d).count())
        .unwrap_or(b','))
}

pub(super) fn read(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let delimiter = match spec.delimiter {
        Some(d) => d,
        None => sniff_delimiter(&spec.path)?,
    };
    let file = std::fs::File::open(&spec.path).map_err(|source| SourceError::Io {
        path: spec.path.clone(),
        source,
    })?;
    let tracker = Rc::new(RefCell::new(Tracker::new(delimiter)));
    let tracked = Tracked {
        inner: file,
        tracker: Rc::clone(&tracker),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(tracked);
    let at = At { path: &spec.path };
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(at.read_failed(e, &mut tracker.borrow_mut())),
    };
    if let Some(e) = at.quote_then_text(&tracker.borrow()) {
        return Err(e);
    }
    if let Err(e) = check_columns(spec, &headers, "1") {
        // A header that took the whole file: an opening quote never closed says why.
        return Err(match tracker.borrow().open_quote {
            Some(opened) if tracker.borrow().at_end => at.unterminated(opened),
            _ => e,
        });
    }
    let mut record = csv::StringRecord::new();
    loop {
        tracker.borrow_mut().boundary = reader.position().byte();
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => return Err(at.read_failed(e, &mut tracker.borrow_mut())),
        };
        if let Some(e) = at.quote_then_text(&tracker.borrow()) {
            return Err(e);
        }
        if !more {
            break;
        }
        let start = record.position().map_or(0, csv::Position::byte);
        let line = tracker.borrow_mut().line_of(start).to_string();
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        row_items(spec, row, line, sink)?;
    }
    if let Some(opened) = tracker.borrow().open_quote {
        return Err(at.unterminated(opened));
    }
    Ok(headers)
}

/// The errors of one file, each at its line.
struct At<'a> {
    path: &'a Path,
}

impl At<'_> {
    fn bad(&self, line: u64, reason: String) -> SourceError {
        SourceError::Bad {
            path: self.path.to_path_buf(),
            location: line.to_string(),
            reason,
        }
    }

    /// A read error: the item limit, else what the csv crate says, at the line it happened.
    fn read_failed(&self, e: csv::Error, tracker: &mut Tracker) -> SourceError {
        // A record cut at the limit is named by where it began, not where reading stopped.
        let at = if tracker.too_long {
            tracker.boundary
        } else {
            e.position().map_or(tracker.read, csv::Position::byte)
        };
        let line = tracker.line_of(at);
        let reason = match e.kind() {
            _ if tracker.too_long => super::too_long("the record"),
            // The csv crate's own message carries its own line count; say it plainly.
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields where the header has {expected_len}"),
            _ => e.to_string(),
        };
        self.bad(line, reason)
    }

    fn unterminated(&self, opened: u64) -> SourceError {
        self.bad(
            opened,
            "a quoted field opened on this line is never closed (a missing '\"')".into(),
        )
    }

    fn quote_then_text(&self, tracker: &Tracker) -> Option<SourceError> {
        tracker.text_after_quote.map(|line| {
            self.bad(
                line,
                "text after the closing quote of a quoted field (a quote inside one is written \"\")"
                    .into(),
            )
        })
    }
}

/// What the reader under the csv crate sees of the file: line numbers by byte offset (a line
/// ends at `\n`, `\r\n` or a lone `\r`, and a record's line is that of its first byte of
/// content, past any blank lines, so that files number their lines as editors do), the bytes
/// read since the current record began (for the item limit), a quoted field still open at the
/// end (the csv crate takes the rest of the file into it without a word), and text after a
/// closing quote (which the csv crate would silently join to the field).
struct Tracker {
    delimiter: u8,
    read: u64,
    /// Where the record being read began.
    boundary: u64,
    too_long: bool,
    /// The line breaks read but not yet passed by a [`Tracker::line_of`] question: the offset
    /// of each, and whether the line it ends was blank.
    breaks: VecDeque<(u64, bool)>,
    /// Line breaks before the last offset asked about.
    lines_before: u64,
    /// Whether the line being read has anything but `\r` so far.
    content: bool,
    /// A `\r` whose line break is decided by the next byte (`\r\n` is one break).
    pending_cr: Option<u64>,
    quote: FieldState,
    /// The line of the quote that opened the field still open, if one is.
    open_quote: Option<u64>,
    /// The first line with text after a closing quote.
    text_after_quote: Option<u64>,
    /// Line breaks read so far.
    lines_read: u64,
    /// Whether the whole file has been read.
    at_end: bool,
}

/// Where the scan stands in a field, as the csv crate's default dialect reads it.
#[derive(Clone, Copy, PartialEq)]
enum FieldState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the end of it, or the first of a doubled quote.
    QuotedEnd,
}

impl Tracker {
    fn new(delimiter: u8) -> Tracker {
        Tracker {
            delimiter,
            read: 0,
            boundary: 0,
            too_long: false,
            breaks: VecDeque::new(),
            lines_before: 0,
            content: false,
            pending_cr: None,
            quote: FieldState::FieldStart,
            open_quote: None,
            text_after_quote: None,
            lines_read: 0,
            at_end: false,
        }
    }

    fn line_break(&mut self, at: u64) {
        self.breaks.push_back((at, !self.content));
        self.content = false;
        self.lines_read += 1;
    }

    fn scan(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = self.read + i as u64;
            // A byte-order mark first in the file is not content (the csv crate drops it too).
            if at < 3 && BOM.get(usize::try_from(at).unwrap_or(3)) == Some(&b) {
                continue;
            }
            if let Some(cr) = self.pending_cr.take()
                && b != b'\n'
            {
                self.line_break(cr);
            }
            match b {
                b'\n' => self.line_break(at),
                b'\r' => self.pending_cr = Some(at),
                _ => self.content = true,
            }
            let end = b == self.delimiter || b == b'\n' || b == b'\r';
            self.quote = match (self.quote, b) {
                (FieldState::FieldStart, b'"') => {
                    self.open_quote = Some(self.lines_read + 1);
                    FieldState::Quoted
                }
                (FieldState::Quoted, b'"') => FieldState::QuotedEnd,
                (FieldState::Quoted, _) => FieldState::Quoted,
                (FieldState::QuotedEnd, b'"') => FieldState::Quoted,
                (FieldState::FieldStart | FieldState::Unquoted | FieldState::QuotedEnd, _)
                    if end =>
                {
                    FieldState::FieldStart
                }
                (FieldState::QuotedEnd, _) => {
                    self.text_after_quote.get_or_insert(self.lines_read + 1);
                    FieldState::Unquoted
                }
                _ => FieldState::Unquoted,
            };
            if self.quote != FieldState::Quoted {
                self.open_quote = None;
            }
        }
        self.read += bytes.len() as u64;
    }

    /// The 1-based line of the record starting at byte `offset`: past the breaks before it
    /// (and the one at it: in a CRLF file the csv crate starts the next record at the `\n` of
    /// the `\r\n`), and past blank lines before its content. Offsets are asked about in
    /// increasing order.
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.breaks.front().is_some_and(|&(at, _)| at <= offset) {
            self.breaks.pop_front();
            self.lines_before += 1;
        }
        while self.breaks.front().is_some_and(|&(_, blank)| blank) {
            self.breaks.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The file under the csv reader, reporting to the [`Tracker`].
struct Tracked {
    inner: std::fs::File,
    tracker: Rc<RefCell<Tracker>>,
}

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut tracker = self.tracker.borrow_mut();
        if tracker.read.saturating_sub(tracker.boundary) > ITEM_MAX_BYTES {
            tracker.too_long = true;
            return Err(std::io::Error::other("record too long"));
        }
        let n = self.inner.read(buf)?;
        tracker.at_end |= n == 0 && !buf.is_empty();
        tracker.scan(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}
