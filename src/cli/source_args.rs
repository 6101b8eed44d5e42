//! `runctl new --source ...`: the source flags, checked before anything is made, and the ingest
//! of the file into the store (docs/resume.md, "Items").

use std::path::PathBuf;

use clap::Args;

use super::Ctx;
use crate::error::{CliError, Result};
use crate::source::{self, Format, Spec};
use crate::store::{IngestError, SourceMeta, SourceRow, Store};

/// The source flags of `runctl new`.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// A CSV, JSONL or XLSX file whose rows are this run's work items (ingested once)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub source: Option<PathBuf>,
    /// The column(s) that key each row, comma-separated
    #[arg(long, value_name = "COLS", value_delimiter = ',', requires = "source")]
    pub key: Vec<String>,
    /// Make one item per listed column of each row (keyed by the row key and the column)
    #[arg(long, value_name = "COLS", value_delimiter = ',', requires = "source")]
    pub unpivot: Vec<String>,
    /// The CSV delimiter [default: sniffed from the header line]
    #[arg(long, value_name = "C", requires = "source")]
    pub delimiter: Option<char>,
    /// The XLSX sheet [default: the first]
    #[arg(long, value_name = "NAME", requires = "source")]
    pub sheet: Option<String>,
    /// The file's format [default: from its extension]
    #[arg(long, value_enum, requires = "source")]
    pub source_format: Option<Format>,
}

/// A source, checked (the file is there, its format and delimiter are known) before anything
/// is made, so that a bad `--source` leaves the project as it was.
#[derive(Debug)]
pub struct Prepared {
    spec: Spec,
}

/// Check the source flags; `None` without `--source`.
pub fn prepare(ctx: &Ctx, args: &SourceArgs) -> Result<Option<Prepared>> {
    let Some(path) = &args.source else {
        return Ok(None);
    };
    let path = ctx.cwd.join(path);
    if !path.is_file() {
        return Err(CliError::not_found(format!(
            "source {} does not exist",
            path.display()
        )));
    }
    let format = args
        .source_format
        .or_else(|| Format::of(&path))
        .ok_or_else(|| {
            CliError::usage(format!("cannot tell the format of {}", path.display()))
                .hint("pass --source-format csv|jsonl|xlsx")
        })?;
    let delimiter = match args.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => {
            return Err(CliError::usage(format!(
                "the delimiter '{c}' is not one ASCII character"
            )));
        }
        None => None,
    };
    Ok(Some(Prepared {
        spec: Spec {
            path,
            format,
            key: args.key.clone(),
            unpivot: args.unpivot.clone(),
            delimiter,
            sheet: args.sheet.clone(),
        },
    }))
}

/// Ingest a prepared source (or find it already ingested); true when this call ingested it.
pub fn ingest(ctx: &Ctx, store: &mut Store, prepared: Prepared) -> Result<(SourceRow, bool)> {
    let Prepared { spec } = prepared;
    let path = spec.path.clone();
    let sums = source::checksums(&path)?;
    let meta = SourceMeta::of(&spec, sums);
    if let Some(known) = store.find_source(&meta)? {
        ctx.note(format!(
            "source {} already ingested with this checksum ({} items); not read again",
            meta.path, known.n_items
        ));
        return Ok((known, false));
    }
    let row = store
        .ingest(&meta, |sink| source::read(&spec, sink))
        .map_err(|e| match e {
            IngestError::Store(e) => CliError::from(e),
            other => CliError::general(format!("ingest failed: {other}"))
                .hint("nothing of this file was kept; fix it and run the command again"),
        })?;
    ctx.note(format!(
        "ingested {} items from {} (md5 {}, sha256 {})",
        row.n_items, meta.path, row.md5, row.sha256
    ));
    Ok((row, true))
}
