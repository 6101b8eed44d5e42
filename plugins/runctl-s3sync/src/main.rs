//! `runctl-s3sync`: the reference runctl plugin. It lists an S3 bucket (or any S3-compatible
//! store) with pagination and feeds the objects, as JSON lines with etag, size and
//! last-modified, to `$RUNCTL version sync --listing -`, passing its output and exit code
//! through. All matching, and every write to runctl's state, is done by runctl itself.
//!
//! Credentials come from the standard AWS environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or profile files (`~/.aws/credentials`,
//! `AWS_PROFILE`), never from arguments.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, ValueEnum};
use s3::Region;
use s3::bucket::Bucket;
use s3::creds::Credentials;

mod s3_error;

const EXAMPLES: &str = "\
Examples:
  runctl s3sync --bucket loras --prefix style_1/ --dry-run
  runctl s3sync --bucket loras --family style_1 --json
  runctl s3sync --bucket loras --url-style https   # https://loras.s3.amazonaws.com/KEY URLs
  runctl s3sync --bucket loras --endpoint http://127.0.0.1:9000   # MinIO, s3s-fs, ...

An endpoint given as an IP address or localhost is addressed in path style on its own.

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or a profile
in ~/.aws/credentials (AWS_PROFILE). Run it as `runctl s3sync`: runctl sets RUNCTL, and this
plugin drives that same runctl.";

/// Sync runctl's model-version registry with the artifacts in an S3 bucket
///
/// Lists the bucket (all pages), then runs `$RUNCTL version sync --listing -` on the objects:
/// waiting versions get their artifact URL (s3://BUCKET/KEY, or the object's https:// URL with
/// --url-style https), already-synced ones are left alone, and only unmatched files become
/// new versions (docs/versions.md).
#[derive(Debug, Parser)]
#[command(name = "runctl s3sync", version, after_help = EXAMPLES, max_term_width = 100)]
struct Args {
    /// The bucket to list
    #[arg(long)]
    bucket: String,
    /// Only keys under this prefix
    #[arg(long, default_value = "")]
    prefix: String,
    /// Only versions of this family
    #[arg(long, value_name = "F")]
    family: Option<String>,
    /// An S3-compatible endpoint URL instead of AWS
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The region [default: $AWS_REGION, else us-east-1]
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Address the bucket in the path (http://host/bucket/key), as most local servers need
    /// [default: on for an endpoint that is an IP address or localhost]
    #[arg(long)]
    path_style: bool,
    /// The artifact URLs to record: s3://BUCKET/KEY, or the object's https:// URL
    #[arg(long, value_enum, default_value_t = UrlStyle::S3)]
    url_style: UrlStyle,
    /// Show runctl's plan; change nothing
    #[arg(long)]
    dry_run: bool,
    /// runctl's JSON summary instead of text
    #[arg(long)]
    json: bool,
}

/// The form of the artifact URLs handed to runctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum UrlStyle {
    /// s3://BUCKET/KEY
    S3,
    /// The object's URL at the endpoint: https://BUCKET.s3.amazonaws.com/KEY on AWS (the
    /// seed's loraUrl form), ENDPOINT/BUCKET/KEY in path style
    Https,
}

/// A failure with its hint, printed as `error:` / `hint:` lines.
struct Failure {
    message: String,
    hint: Option<String>,
}

fn fail(message: impl Into<String>, hint: Option<&str>) -> Failure {
    Failure {
        message: message.into(),
        hint: hint.map(str::to_string),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            if let Some(hint) = f.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// Whether an endpoint is a host that cannot carry the bucket as a subdomain: an IP address
/// (`bucket.127.0.0.1` is no address at all) or localhost.
fn needs_path_style(endpoint: &url::Url) -> bool {
    match endpoint.host() {
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

fn bucket(args: &Args) -> Result<Box<Bucket>, Failure> {
    let mut path_style = args.path_style;
    let region = match &args.endpoint {
        Some(endpoint) => {
            let parsed = url::Url::parse(endpoint).map_err(|e| {
                fail(
                    format!("--endpoint '{endpoint}' is not a URL: {e}"),
                    Some("give the scheme and host, e.g. --endpoint http://127.0.0.1:9000"),
                )
            })?;
            path_style |= needs_path_style(&parsed);
            Region::Custom {
                region: args.region.clone(),
                endpoint: endpoint.trim_end_matches('/').to_string(),
            }
        }
        None => args.region.parse().map_err(|e| {
            fail(
                format!("unknown region '{}': {e}", args.region),
                Some("use --endpoint URL for a non-AWS store"),
            )
        })?,
    };
    let credentials = Credentials::new(None, None, None, None, None).map_err(|e| {
        fail(
            format!("no AWS credentials: {e}"),
            Some("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials"),
        )
    })?;
    let bucket = Bucket::new(&args.bucket, region, credentials).map_err(|e| {
        fail(
            format!("cannot address bucket '{}': {e}", args.bucket),
            None,
        )
    })?;
    Ok(if path_style {
        bucket.with_path_style()
    } else {
        bucket
    })
}

/// The URL recorded for an object: `s3://BUCKET/KEY`, or its URL at the endpoint with each
/// path segment percent-encoded (a key may hold spaces, `#` or `?`).
fn object_url(bucket: &Bucket, args: &Args, key: &str) -> String {
    if args.url_style == UrlStyle::S3 {
        return format!("s3://{}/{key}", args.bucket);
    }
    let base = bucket.url();
    match url::Url::parse(&base) {
        Ok(mut url) => {
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(key.split('/'));
            }
            url.to_string()
        }
        Err(_) => format!("{}/{key}", base.trim_end_matches('/')),
    }
}

/// The bucket's objects as runctl listing lines (JSON).
fn listing(args: &Args) -> Result<Vec<String>, Failure> {
    let bucket = bucket(args)?;
    let pages = bucket
        .list(args.prefix.clone(), None)
        .map_err(|e| s3_error::describe(&e, &args.bucket, &args.prefix))?;
    let mut lines = Vec::new();
    for page in pages {
        for object in page.contents {
            let line = serde_json::json!({
                "key": object.key,
                "url": object_url(&bucket, args, &object.key),
                "etag": object.e_tag,
                "size": object.size,
                "last_modified": object.last_modified,
            });
            lines.push(line.to_string());
        }
    }
    Ok(lines)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn run(args: &Args) -> Result<ExitCode, Failure> {
    let runctl = std::env::var_os("RUNCTL").ok_or_else(|| {
        fail(
            "RUNCTL is not set",
            Some("run this plugin as `runctl s3sync ...`, so that runctl sets it"),
        )
    })?;
    let lines = listing(args)?;
    eprintln!(
        "s3sync: {} objects in s3://{}/{}",
        lines.len(),
        args.bucket,
        args.prefix
    );
    let mut cmd = Command::new(&runctl);
    cmd.args(["version", "sync", "--listing", "-"]);
    if let Some(family) = &args.family {
        cmd.args(["--family", family]);
    }
    if args.dry_run {
        cmd.arg("--dry-run");
    }
    if args.json {
        cmd.arg("--json");
    }
    if lines.is_empty() {
        // The listing call succeeded: the bucket (or prefix) is empty, which runctl refuses
        // from a pipe, where an empty listing usually means a failed `aws s3 ls`.
        cmd.arg("--allow-empty");
    }
    let mut child = cmd.stdin(Stdio::piped()).spawn().map_err(|e| {
        fail(
            format!("cannot run {}: {e}", runctl.to_string_lossy()),
            None,
        )
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let mut text = lines.join("\n");
        text.push('\n');
        // A runctl that stops reading has failed; its own error and exit code say why.
        let _ = stdin.write_all(text.as_bytes());
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for runctl: {e}"), None))?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}
