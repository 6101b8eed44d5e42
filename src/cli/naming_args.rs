//! The naming flags shared by `runctl name` and `runctl new`, and how they become segments:
//! first that is set wins, as docs/naming.md lists. Also what both commands need to choose a
//! name: the clock and randomness, and the notes on shortened segments.

use std::path::PathBuf;

use clap::Args;
use clap::builder::{EnumValueParser, TypedValueParser};

use super::Ctx;
use crate::error::{CliError, Result};
use crate::naming::{self, Scope, Shortened};
use crate::pipeline_config;
use crate::project::Project;
use crate::runs::{self, Layout, NameRequest};

#[derive(Debug, Clone, Args)]
pub struct NamingArgs {
    /// Model name [else: --config's training.model_name_or_path, $SERVED_MODEL_NAME, basename of --model-path]
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Model folder on disk, whose basename names the model as a last resort
    #[arg(long, value_name = "DIR")]
    pub model_path: Option<PathBuf>,
    /// Dataset name [else: --config's data.dataset_name, basename of --preprocess-dir]
    #[arg(long, value_name = "D")]
    pub dataset: Option<String>,
    /// Preprocessing output folder, whose basename (without _full/_nX) names the dataset
    #[arg(long, value_name = "DIR")]
    pub preprocess_dir: Option<PathBuf>,
    /// Sample size: a count, or full [else: --config's data.sample_size; default full]
    #[arg(long, value_name = "N")]
    pub sample_size: Option<String>,
    /// The pipeline's config file (YAML, TOML or JSON); its keys are set in runctl.toml [naming]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Counter scope [default: naming.run_counter_scope, model_dataset]
    #[arg(long, value_parser = scope_parser())]
    pub scope: Option<Scope>,
    /// Use this run number instead of the next free one [env: FORCE_RUN_INDEX]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=9999))]
    pub run_index: Option<u32>,
    /// With --run-index: take the name even if it is taken (the old run is kept, its folder moved aside)
    #[arg(long)]
    pub force: bool,
}

/// `--scope`, spelled as runctl.toml, `show` and `--json` spell it (`model_dataset`), or with
/// a hyphen as command lines often do.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    /// One counter per model and dataset.
    #[value(name = "model_dataset", alias = "model-dataset")]
    ModelDataset,
    /// One counter per model.
    Model,
    /// One counter for the whole project.
    Global,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Scope {
        match arg {
            ScopeArg::ModelDataset => Scope::ModelDataset,
            ScopeArg::Model => Scope::Model,
            ScopeArg::Global => Scope::Global,
        }
    }
}

fn scope_parser() -> impl TypedValueParser<Value = Scope> {
    EnumValueParser::<ScopeArg>::new().map(Scope::from)
}

/// Segments, the request and the folder layout, resolved from flags, env, config and settings.
#[derive(Debug)]
pub struct Resolved {
    pub request: NameRequest,
    pub layout: Layout,
    pub legacy: bool,
    /// The config snapshot, as JSON text, and its path.
    pub config: Option<(String, PathBuf)>,
    /// Segments cut to 64 characters (recorded in the hash registry with the name's own cuts).
    pub capped: Vec<Shortened>,
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn basename(path: &std::path::Path) -> Option<String> {
    path.components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
}

pub fn resolve(ctx: &Ctx, project: &Project, args: &NamingArgs) -> Result<Resolved> {
    let naming_settings = &project.settings.naming;
    let config = match &args.config {
        Some(path) => Some(load_config(&ctx.cwd.join(path))?),
        None => None,
    };
    let from_config = |key: &str| -> Option<Option<String>> {
        let (value, _) = config.as_ref()?;
        pipeline_config::lookup(value, key).map(pipeline_config::as_text)
    };
    let model = args
        .model
        .clone()
        .or_else(|| from_config(&naming_settings.model_key).flatten())
        .or_else(|| env_nonempty("SERVED_MODEL_NAME"))
        .or_else(|| args.model_path.as_deref().and_then(basename))
        .unwrap_or_default();
    let dataset = args
        .dataset
        .clone()
        .or_else(|| from_config(&naming_settings.dataset_key).flatten())
        .or_else(|| args.preprocess_dir.as_deref().and_then(basename))
        .unwrap_or_default();
    let size = match &args.sample_size {
        Some(s) => Some(s.clone()),
        None => from_config(&naming_settings.sample_size_key).flatten(),
    };
    if let Some((value, path)) = &config {
        warn_without_naming_keys(ctx, value, path, naming_settings);
    }
    let (segments, capped) = naming::segments_from(&model, &dataset, size.as_deref());
    let forced = match args.run_index {
        Some(n) => Some(n),
        None => forced_from_env()?,
    };
    if args.force && forced.is_none() {
        return Err(CliError::usage(
            "--force needs --run-index N (or FORCE_RUN_INDEX)",
        ));
    }
    let legacy = naming_settings.use_legacy
        || env_nonempty("USE_LEGACY_NAMING").is_some_and(|v| v != "0" && v != "false");
    let layout = Layout {
        outputs: project.outputs_dir()?,
        logs: project.logs_dir()?,
        max_path: naming_settings.max_path,
    };
    let config = config.map(|(value, path)| (value.to_string(), path));
    Ok(Resolved {
        request: NameRequest {
            segments,
            scope: args.scope.unwrap_or(naming_settings.run_counter_scope),
            forced,
            force: args.force,
        },
        layout,
        legacy,
        config,
        capped,
    })
}

/// A config with none of the keys runs are named by names nothing: say which were looked for.
fn warn_without_naming_keys(
    ctx: &Ctx,
    config: &serde_json::Value,
    path: &std::path::Path,
    naming: &crate::project::NamingSettings,
) {
    let keys = [
        &naming.model_key,
        &naming.dataset_key,
        &naming.sample_size_key,
    ];
    if keys
        .iter()
        .any(|k| pipeline_config::lookup(config, k).is_some())
    {
        return;
    }
    ctx.warn(format!(
        "{} has none of the keys runs are named by ({}; naming.model_key, dataset_key and \
         sample_size_key in runctl.toml): the name takes its segments from the flags or their \
         defaults",
        path.display(),
        keys.map(String::as_str).join(", ")
    ));
}

/// A pipeline config (YAML, TOML or JSON); a missing file is "not found".
fn load_config(path: &std::path::Path) -> Result<(serde_json::Value, PathBuf)> {
    let value = pipeline_config::load(path).map_err(|e| match e {
        pipeline_config::ConfigError::Read {
            ref source,
            ref path,
        } if source.kind() == std::io::ErrorKind::NotFound => {
            CliError::not_found(format!("config {path} does not exist"))
                .hint("--config takes the pipeline's YAML, TOML or JSON file")
        }
        other => CliError::chain(crate::error::Kind::General, &other),
    })?;
    Ok((value, path.to_path_buf()))
}

/// `FORCE_RUN_INDEX`, when set: a run number from 1 to 9999.
fn forced_from_env() -> Result<Option<u32>> {
    let Some(v) = env_nonempty("FORCE_RUN_INDEX") else {
        return Ok(None);
    };
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=9999).contains(n))
        .map(Some)
        .ok_or_else(|| {
            CliError::usage(format!(
                "FORCE_RUN_INDEX={v} is not a run number from 1 to 9999"
            ))
        })
}

/// A note for each segment shortened to fit the length limits.
pub(super) fn shortened_note(ctx: &Ctx, plan: &runs::Plan) {
    for s in &plan.shortened {
        ctx.note(format!(
            "note: shortened the {} segment to '{}' so that the name and its folders stay within \
             128 characters and naming.max_path",
            s.segment, s.to
        ));
    }
}
