//! A workbook's zip parts checked before calamine inflates anything: zip bombs, shared strings
//! and whole-read parts over what runctl holds in memory, and a text run over the item limit
//! (docs/resume.md, "Limits"), each by the sizes the zip declares or in one streamed pass.

use std::path::Path;

use super::SourceError;
use super::Spec;
use super::workbook::bad;

/// Refuse a workbook whose parts would inflate past what runctl reads (docs/resume.md,
/// "Limits"), by the sizes its zip declares, before calamine inflates anything: the zip reader
/// holds each part to its declared size. A file that is not a zip (.xls) has no parts to check.
pub(super) fn check_parts(spec: &Spec) -> Result<(), SourceError> {
    use super::{BOMB_MIN_BYTES, BOMB_RATIO, SHARED_STRINGS_MAX_BYTES, WHOLE_PART_MAX_BYTES};
    let Ok(file) = std::fs::File::open(&spec.path) else {
        return Ok(()); // calamine reports it
    };
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Ok(());
    };
    let whole = !is_xlsx_zip(&spec.path);
    let mib = |n: u64| n / (1024 * 1024);
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let name = part.name().map(|n| n.into_owned()).unwrap_or_default();
        let (size, packed) = (part.size(), part.compressed_size());
        let refuse = |reason: String| {
            Err(bad(
                spec,
                format!("part {}", super::shorten(&name)),
                format!("{reason}; save the sheet as CSV to read it"),
            ))
        };
        if size > BOMB_MIN_BYTES && size / packed.max(1) > BOMB_RATIO {
            return refuse(format!(
                "inflates from {} KiB to {} MiB ({}x), which no real sheet does: a zip bomb",
                packed / 1024,
                mib(size),
                size / packed.max(1)
            ));
        }
        if name == "xl/sharedStrings.xml" && size > SHARED_STRINGS_MAX_BYTES {
            return refuse(format!(
                "its shared strings are {} MiB, over the {} MiB runctl holds in memory",
                mib(size),
                mib(SHARED_STRINGS_MAX_BYTES)
            ));
        }
        if whole && size > WHOLE_PART_MAX_BYTES {
            return refuse(format!(
                "{} MiB to read whole, over the {} MiB runctl takes",
                mib(size),
                mib(WHOLE_PART_MAX_BYTES)
            ));
        }
        let text_part = name.starts_with("xl/worksheets/") || name == "xl/sharedStrings.xml";
        if text_part && size > super::ITEM_MAX_BYTES {
            drop(part);
            if has_long_text(&mut archive, i) {
                return refuse(super::too_long("a text in it (one cell)"));
            }
        }
    }
    Ok(())
}

/// A part big enough to hold a cell over the item limit is inflated once, in a stream, before
/// calamine reads it (calamine builds each cell whole): whether a run of text between two tags
/// is longer than [`super::ITEM_MAX_BYTES`].
fn has_long_text<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: usize,
) -> bool {
    use std::io::Read;
    let Ok(mut part) = archive.by_index(index) else {
        return false;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut run: u64 = 0;
    loop {
        let n = match part.read(&mut buf) {
            Ok(0) | Err(_) => return false, // a part that cannot be read: calamine says why
            Ok(n) => n,
        };
        for &b in buf.get(..n).unwrap_or_default() {
            if b != b'<' {
                run += 1;
                if run > super::ITEM_MAX_BYTES {
                    return true;
                }
            } else {
                run = 0;
            }
        }
    }
}

/// Whether the file is an Office Open XML workbook (.xlsx, .xlsm), which streams; .xls and .ods
/// are read whole.
pub(super) fn is_xlsx_zip(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("xlsx" | "xlsm")
    )
}
