//! `runctl name`: the name `runctl new` would allocate now, with the same flags and rules,
//! allocating nothing (outside a project, against an empty in-memory DB).

use clap::Args;

use super::naming_args::{self, NamingArgs, shortened_note};
use super::{Ctx, output};
use crate::error::Result;
use crate::runs;
use crate::store::Access;

/// Print the name that `runctl new` would allocate now; allocate nothing
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl name --model Qwen2-7B --dataset drg_letters\n  runctl name --config train.yaml --json"
)]
pub struct NameArgs {
    #[command(flatten)]
    naming: NamingArgs,
    /// Print the name with its parts as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl name --json`.
#[derive(Debug, serde::Serialize)]
struct NameOutput {
    name: String,
    number: Option<u32>,
    prefix: String,
    model: String,
    dataset: String,
    size: String,
    scope: String,
    shortened: Vec<ShortenedOutput>,
}

#[derive(Debug, serde::Serialize)]
struct ShortenedOutput {
    segment: &'static str,
    from: String,
    to: String,
}

pub fn run(ctx: &Ctx, args: NameArgs) -> Result<()> {
    let project = match ctx.find_project()? {
        Some(project) => project,
        None => crate::project::Project::load(&ctx.cwd)?,
    };
    let resolved = naming_args::resolve(ctx, &project, &args.naming)?;
    let mut store = ctx.open_store(&project, Access::Read)?;
    let clock = crate::runs::Clock::now()?;
    let plan = store.allocate(false, |a| {
        runs::plan(
            a,
            &resolved.request,
            &resolved.layout,
            &clock.stamp,
            &clock.salt,
        )
    })?;
    shortened_note(ctx, &plan);
    if args.json {
        return output::print_json(&NameOutput {
            name: plan.name.clone(),
            number: plan.number,
            prefix: plan.prefix(),
            model: resolved.request.segments.model.clone(),
            dataset: resolved.request.segments.dataset.clone(),
            size: resolved.request.segments.size.clone(),
            scope: resolved.request.scope.to_string(),
            shortened: resolved
                .capped
                .iter()
                .chain(&plan.shortened)
                .map(|s| ShortenedOutput {
                    segment: s.segment,
                    from: s.from.clone(),
                    to: s.to.clone(),
                })
                .collect(),
        });
    }
    output::print(&format!("{}\n", plan.name))
}
