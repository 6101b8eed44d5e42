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
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::not_found(format!(
                "source {} does not exist",
                path.display()
            )));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(CliError::usage(format!(
                "source {} is not a regular file (a folder, a pipe or a device)",
                path.display()
            ))
            .hint("give a CSV, JSON lines or XLSX file; runctl reads a source twice (its checksums, then its rows)"));
        }
        Err(e) => {
            return Err(
                CliError::general(format!("cannot read source {}", path.display())).cause(e),
            );
        }
        Ok(_) => {}
    }
    check_columns(&args.key, &args.unpivot)?;
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

/// `new --source ... --dry-run --json`.
#[derive(Debug, serde::Serialize)]
struct DryRunOutput<'a> {
    dry_run: bool,
    source: String,
    format: &'static str,
    key: &'a [String],
    /// Whether an ingest would take the file (no empty and no duplicate key).
    would_ingest: bool,
    #[serde(flatten)]
    survey: &'a source::Survey,
}

/// `new --source ... --dry-run`: what the source would make, and nothing made. Exit 1 when an
/// ingest would refuse it.
pub fn dry_run(ctx: &Ctx, prepared: Prepared, json: bool) -> Result<()> {
    let spec = prepared.spec;
    let survey = source::survey(&spec).map_err(|e| {
        CliError::general(format!("the source cannot be read: {e}"))
            .hint("nothing was made (dry run)")
    })?;
    let would_ingest = survey.empty_keys == 0 && survey.duplicates == 0;
    if json {
        super::output::print_json(&DryRunOutput {
            dry_run: true,
            source: spec.path.to_string_lossy().into_owned(),
            format: spec.format.as_str(),
            key: &spec.key,
            would_ingest,
            survey: &survey,
        })?;
    } else {
        super::output::print(&describe(&spec, &survey))?;
    }
    if !would_ingest {
        return Err(CliError::general(format!(
            "an ingest would refuse this source: {} and {}",
            crate::text::count(survey.empty_keys as i64, "empty key"),
            crate::text::count(survey.duplicates as i64, "duplicate key")
        ))
        .hint("fix those rows, or key the items by more columns (--key a,b)"));
    }
    ctx.note("nothing was made (dry run)");
    Ok(())
}

/// A location as an ingest's message gives it: `line 4`, `sheet S row 4`.
fn at(location: &str) -> String {
    if location.bytes().all(|b| b.is_ascii_digit()) {
        format!("line {location}")
    } else {
        location.to_string()
    }
}

fn describe(spec: &Spec, survey: &source::Survey) -> String {
    use crate::text::count;
    let shown = |v: &[String]| super::output::printable(&v.join(", ")).into_owned();
    let mut text = format!(
        "would ingest {} from {} ({}; columns: {})\n",
        count(survey.items as i64, "item"),
        spec.path.display(),
        spec.format.as_str(),
        shown(&survey.columns)
    );
    if !survey.unpivot.is_empty() {
        text.push_str(&format!(
            "--unpivot: each row makes {}, one per column ({}), keyed by the row's key and the column\n",
            count(survey.unpivot.len() as i64, "item"),
            shown(&survey.unpivot)
        ));
    }
    text.push_str(&format!("first keys: {}\n", shown(&survey.first_keys)));
    if survey.empty_keys > 0 {
        text.push_str(&format!(
            "empty keys: {} (at {})\n",
            survey.empty_keys,
            survey
                .empty_at
                .iter()
                .map(|l| at(l))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for d in &survey.duplicate_at {
        text.push_str(&format!(
            "duplicate key {} at {} (first at {})\n",
            super::output::printable(&d.key),
            at(&d.at),
            at(&d.first)
        ));
    }
    if survey.duplicates > survey.duplicate_at.len() as u64 {
        text.push_str(&format!(
            "... {} duplicate keys in all\n",
            survey.duplicates
        ));
    }
    text
}

/// `--key` and `--unpivot` name each column once, and no column is both.
fn check_columns(key: &[String], unpivot: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (flag, column) in key
        .iter()
        .map(|c| ("--key", c))
        .chain(unpivot.iter().map(|c| ("--unpivot", c)))
    {
        if column.is_empty() {
            return Err(CliError::usage(format!("{flag} names an empty column")));
        }
        if !seen.insert(column.as_str()) {
            let both = key.contains(column) && unpivot.contains(column);
            let why = if both {
                "both --key and --unpivot"
            } else {
                "twice"
            };
            return Err(CliError::usage(format!(
                "the column '{}' is named {why}",
                super::output::printable(column)
            ))
            .hint("a key column keys the items; --unpivot makes one item per other column"));
        }
    }
    Ok(())
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
            e @ IngestError::KeyTooLong { .. } => CliError::general(format!("ingest failed: {e}"))
                .hint("nothing of this file was kept; key the items by a shorter column (--key), or keep this project on SQLite"),
            other => CliError::general(format!("ingest failed: {other}"))
                .hint("nothing of this file was kept; fix it and run the command again"),
        })?;
    ctx.note(format!(
        "ingested {} items from {} (md5 {}, sha256 {})",
        row.n_items, meta.path, row.md5, row.sha256
    ));
    Ok((row, true))
}
