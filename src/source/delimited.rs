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
    let bad = |location: String, reason: String| SourceError::Bad {
        path: spec.path.clone(),
        location,
        reason,
    };
    // A read error: the item limit, else what the csv crate says, at the line it happened.
    let failed = |e: csv::Error, tracker: &mut Tracker| {
        let line = tracker.line_of(e.position().map_or(tracker.read, csv::Position::byte));
        if tracker.too_long {
            bad(line.to_string(), super::too_long("the record"))
        } else {
            bad(line.to_string(), e.to_string())
        }
    };
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(failed(e, &mut tracker.borrow_mut())),
    };
    check_columns(spec, &headers, "1")?;
    let mut record = csv::StringRecord::new();
    loop {
        tracker.borrow_mut().boundary = reader.position().byte();
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => return Err(failed(e, &mut tracker.borrow_mut())),
        };
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
        for item in row_items(spec, row, line)? {
            sink(item)?;
        }
    }
    if let Some(opened) = tracker.borrow().open_quote {
        return Err(bad(
            opened.to_string(),
            "a quoted field opened on this line is never closed (a missing '\"')".into(),
        ));
    }
    Ok(headers)
}

/// What the reader under the csv crate sees of the file: line numbers by byte offset (counted
/// on '\n' alone, so CRLF files number their lines as editors do), the bytes read since the
/// current record began (for the item limit), and whether a quoted field is still open at the
/// end (the csv crate takes the rest of the file into it without a word).
struct Tracker {
    delimiter: u8,
    read: u64,
    /// Where the record being read began.
    boundary: u64,
    too_long: bool,
    /// Offsets of the newlines read but not yet passed by a [`Tracker::line_of`] question.
    newlines: VecDeque<u64>,
    /// Newlines before the last offset asked about.
    lines_before: u64,
    quote: FieldState,
    /// The line of the quote that opened the field still open, if one is.
    open_quote: Option<u64>,
    /// Newlines read so far, for `open_quote`.
    lines_read: u64,
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
            newlines: VecDeque::new(),
            lines_before: 0,
            quote: FieldState::FieldStart,
            open_quote: None,
            lines_read: 0,
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = self.read + i as u64;
            if b == b'\n' {
                self.newlines.push_back(at);
                self.lines_read += 1;
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
                _ => FieldState::Unquoted,
            };
            if self.quote != FieldState::Quoted {
                self.open_quote = None;
            }
        }
        self.read += bytes.len() as u64;
    }

    /// The 1-based line of byte `offset`; offsets are asked about in increasing order.
    fn line_of(&mut self, offset: u64) -> u64 {
        // `<=`: in a CRLF file the csv crate starts the next record at the `\n` of the `\r\n`.
        while self.newlines.front().is_some_and(|&nl| nl <= offset) {
            self.newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }
}

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
        tracker.scan(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}
