//! `runctl hash`: the short deterministic hash of an identifier, one at a time or streamed.

use std::io::{BufRead, BufWriter, Write};

use clap::Args;
use clap::builder::{EnumValueParser, TypedValueParser};
use serde::Serialize;

use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::hashing::{self, HashAlgo};
use crate::project::HashingSettings;

/// Print the short deterministic hash (:hash=xxxxxxxx) of an identifier
///
/// The parts have every leading ':' stripped and are joined with '_'; the first N hex digits of
/// their MD5 follow ':hash='. A part that already contains 'hash=' is printed as is. This is
/// byte-for-byte the compute_hash() recipe of docs/hashing.md.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl hash ':tsteps=20+dt=2+tau=5' 42 imagenette      # :hash=... of tsteps=20+dt=2+tau=5_42_imagenette
  runctl hash --length 12 --record \"$MODEL_ARGS\" \"$SEED\"  # longer hash, kept in the registry
  printf 'a\\tb\\nc\\n' | runctl hash --batch              # one hash per input line
  runctl hash -- -leading-dash-part                       # parts starting with '-' go after --")]
pub struct HashArgs {
    /// Parts of the identifier
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    parts: Vec<String>,
    /// Hex digits to keep [default: hashing.length, 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    length: Option<u16>,
    /// Digest to use [default: hashing.algo, md5]
    #[arg(long, value_parser = algo_parser())]
    algo: Option<HashAlgo>,
    /// Read identifiers from stdin, one per line, parts separated by tabs; print one hash per line
    #[arg(long)]
    batch: bool,
    /// Also record each hash and its identifier in the project's registry (collisions exit 3)
    #[arg(long)]
    record: bool,
    /// Print JSON (JSON lines with --batch; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `--algo` as the command line spells it (`hash` and `link` take it).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AlgoArg {
    Md5,
    Sha256,
}

impl From<AlgoArg> for HashAlgo {
    fn from(arg: AlgoArg) -> HashAlgo {
        match arg {
            AlgoArg::Md5 => HashAlgo::Md5,
            AlgoArg::Sha256 => HashAlgo::Sha256,
        }
    }
}

pub(super) fn algo_parser() -> impl TypedValueParser<Value = HashAlgo> {
    EnumValueParser::<AlgoArg>::new().map(HashAlgo::from)
}

/// `runctl hash --json` (one per line with `--batch`).
#[derive(Debug, Serialize)]
struct HashOutput<'a> {
    hash: &'a str,
    hex: Option<&'a str>,
    identifier: &'a str,
    algo: &'static str,
    length: usize,
    already_hashed: bool,
}

impl<'a> HashOutput<'a> {
    fn new(hashed: &'a hashing::Hashed, algo: HashAlgo, length: usize) -> Self {
        HashOutput {
            hash: &hashed.text,
            hex: hashed.hex.as_deref(),
            identifier: &hashed.identifier,
            algo: algo.as_str(),
            length,
            already_hashed: hashed.hex.is_none(),
        }
    }
}

/// Hash length and digest: flags first, then the project's settings, then the defaults.
pub fn hash_params(
    settings: Option<&HashingSettings>,
    length: Option<u16>,
    algo: Option<HashAlgo>,
) -> Result<(usize, HashAlgo)> {
    let length = match length {
        Some(n) => usize::from(n),
        None => settings.as_ref().map_or(8, |s| s.length),
    };
    if !(1..=64).contains(&length) {
        return Err(CliError::general(format!(
            "hashing.length is {length}; it must be between 1 and 64"
        ))
        .hint("fix runctl.toml or pass --length"));
    }
    let algo = algo.or(settings.map(|s| s.algo)).unwrap_or_default();
    Ok((length, algo))
}

pub fn run(ctx: &Ctx, args: HashArgs) -> Result<()> {
    // The project is read once, and only when it is needed: for --record, or for a default.
    let project = if args.record {
        Some(ctx.project_for_write()?)
    } else if args.length.is_none() || args.algo.is_none() {
        ctx.find_project()?
    } else {
        None
    };
    let settings = project.as_ref().map(|p| &p.settings.hashing);
    let (length, algo) = hash_params(settings, args.length, args.algo)?;
    let mut store = match (&project, args.record) {
        (Some(project), true) => Some(ctx.open_store(project, crate::store::Access::Write)?),
        _ => None,
    };
    if args.batch {
        return batch(&args, length, algo, store.as_mut());
    }
    let hashed = hashing::compute_hash(&args.parts, length, algo);
    if let (Some(store), Some(hex)) = (store.as_mut(), hashed.hex.as_deref()) {
        store.record_hash(algo.as_str(), hex, &hashed.identifier, "hash")?;
    }
    if args.json {
        return output::print_json(&HashOutput::new(&hashed, algo, length));
    }
    output::print(&format!("{}\n", hashed.text))
}

/// Rows recorded per transaction with `--batch --record`.
const RECORD_CHUNK: usize = 5_000;

fn batch(
    args: &HashArgs,
    length: usize,
    algo: HashAlgo,
    mut store: Option<&mut crate::store::Store>,
) -> Result<()> {
    let stdin = std::io::stdin().lock();
    let mut input = std::io::BufReader::with_capacity(1 << 16, stdin);
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut raw = Vec::new();
    let mut text = String::new();
    let mut pending: Vec<(String, String)> = Vec::new();
    let mut line_no = 0usize;
    loop {
        raw.clear();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| CliError::general("cannot read stdin").cause(e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let mut line = raw.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|_| {
            CliError::general(format!("stdin line {line_no} is not valid UTF-8"))
                .hint("the hashes of the lines before it were printed")
        })?;
        if args.json || store.is_some() {
            let parts: Vec<&str> = line.split('\t').collect();
            let hashed = hashing::compute_hash(&parts, length, algo);
            if let (Some(_), Some(hex)) = (&store, &hashed.hex) {
                pending.push((hex.clone(), hashed.identifier.clone()));
            }
            if args.json {
                serde_json::to_writer(&mut out, &HashOutput::new(&hashed, algo, length))?;
            } else {
                out.write_all(hashed.text.as_bytes())?;
            }
        } else {
            // The hot path: no allocation per line.
            text.clear();
            hashing::hash_tab_line(line, length, algo, &mut text);
            out.write_all(text.as_bytes())?;
        }
        out.write_all(b"\n")?;
        if pending.len() >= RECORD_CHUNK {
            flush_records(&mut store, algo, &mut pending)?;
        }
    }
    flush_records(&mut store, algo, &mut pending)?;
    out.flush()?;
    Ok(())
}

fn flush_records(
    store: &mut Option<&mut crate::store::Store>,
    algo: HashAlgo,
    pending: &mut Vec<(String, String)>,
) -> Result<()> {
    if let Some(store) = store.as_deref_mut() {
        store.record_hashes(algo.as_str(), pending, "hash")?;
    }
    pending.clear();
    Ok(())
}
