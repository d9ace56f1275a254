//! `pim export`, `pim plan` and `pim apply`: the policy as a TOML file kept in git (docs/POLICY.md).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use pim_api::{PolicyExportQuery, PolicyReport, PolicyRequest, ScopePath};

use super::Ctx;
use super::duration::parse_scope;
use super::output;

/// `pim export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only settings and assignments at this scope or below (roles and groups are then never pruned).
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<ScopePath>,
    /// Write the file here instead of to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `pim plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The policy file (`-`: standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Plan removals as they would be made with `pim apply --prune`.
    #[arg(long)]
    pub prune: bool,
}

/// `pim apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The policy file (`-`: standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Also remove what the file does not list (assignments, settings, members, custom roles).
    #[arg(long)]
    pub prune: bool,
    /// The justification of the assignment requests apply makes.
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
}

/// `pim plan` found differences: the process exits with 2 (for CI drift checks).
#[derive(Debug)]
pub struct Differs;

impl std::fmt::Display for Differs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server differs from the policy file")
    }
}

impl std::error::Error for Differs {}

fn read(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin()).context("cannot read the policy from standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `pim export [--scope S] [--out FILE]`.
pub async fn export(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    let text = ctx.client()?.export_policy(&PolicyExportQuery { scope: args.scope }).await?;
    match args.out {
        Some(path) => output::save(text.as_bytes(), &path),
        None => output::print(&text),
    }
}

/// `pim plan -f FILE [--prune]`: prints the changes; exits 2 when there are any.
pub async fn plan(ctx: &Ctx, args: PlanArgs) -> anyhow::Result<()> {
    let body = PolicyRequest { policy: read(&args.file)?, prune: args.prune, justification: None };
    let report = ctx.client()?.plan_policy(&body).await.with_context(|| format!("{}", args.file.display()))?;
    output::show(ctx.format, &report, || render(&report, false))?;
    if report.differs { Err(Differs.into()) } else { Ok(()) }
}

/// `pim apply -f FILE [--prune] [-j WHY]`: applies the file, all of it or nothing.
pub async fn apply(ctx: &Ctx, args: ApplyArgs) -> anyhow::Result<()> {
    let body = PolicyRequest { policy: read(&args.file)?, prune: args.prune, justification: args.justification };
    let report = ctx.client()?.apply_policy(&body).await.with_context(|| format!("{}", args.file.display()))?;
    output::show(ctx.format, &report, || render(&report, true))
}

/// The changes for people: one line each, the fields that change below it, and a summary.
fn render(report: &PolicyReport, applied: bool) -> String {
    if report.changes.is_empty() {
        return "No changes: the server matches the policy file.".to_owned();
    }
    let mut out = String::new();
    for c in &report.changes {
        let sign = match c.op.as_str() {
            "create" => '+',
            "remove" => '-',
            _ => '~',
        };
        let note = match c.status.as_str() {
            "needsPrune" if applied => "  (not removed: use --prune)".to_owned(),
            "needsPrune" => "  (would remove with --prune)".to_owned(),
            "wouldPropose" => "  (protected: filed as a proposal for a second administrator)".to_owned(),
            "proposed" => match &c.settings_change_id {
                Some(id) => {
                    format!("  (protected: waits for a second administrator: pim settings-changes approve {id})")
                }
                None => "  (protected: waits for a second administrator)".to_owned(),
            },
            _ => String::new(),
        };
        out.push_str(&format!("{sign} {} {} {}{note}\n", c.op, c.object, c.key));
        for f in &c.fields {
            let show =
                |v: &Option<serde_json::Value>| v.as_ref().map_or_else(|| "(none)".to_owned(), |v| v.to_string());
            out.push_str(&format!("    {}: {} -> {}\n", f.field, show(&f.from), show(&f.to)));
        }
    }
    let n = |status: &[&str]| report.changes.iter().filter(|c| status.contains(&c.status.as_str())).count();
    let summary = if applied {
        format!(
            "Applied {}, {} waiting for a second administrator, {} not removed (use --prune).",
            n(&["applied"]),
            n(&["proposed"]),
            n(&["needsPrune"])
        )
    } else {
        format!(
            "Plan: {} to change, {} to propose, {} to remove only with --prune.",
            n(&["wouldApply"]),
            n(&["wouldPropose"]),
            n(&["needsPrune"])
        )
    };
    out.push_str(&summary);
    out
}

/// Whether `e` is `pim plan`'s "the server differs".
pub fn is_differs(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Differs>().is_some()
}
