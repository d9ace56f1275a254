//! `pim reports`: who holds what at a scope now, and activation history, as tables, JSON or CSV.

use std::path::PathBuf;

use pim_api::{AccessReportQuery, ActivationReportQuery, AssignmentKind, ExportFormat, ScopePath, Timestamp};

use super::Ctx;
use super::duration::{parse_scope, parse_time};
use super::output::{self, Format, Table, time};

fn parse_kind(s: &str) -> Result<AssignmentKind, String> {
    AssignmentKind::parse(&s.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("'{s}' is not an assignment kind: use eligible or active"))
}

/// `pim reports ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportsCommand {
    /// Who holds what at a scope and below it now: direct or through groups, inherited, eligible or active.
    Access {
        /// The scope reported on [default: /].
        #[arg(long, value_parser = parse_scope)]
        under: Option<ScopePath>,
        /// Only this principal (name or id).
        #[arg(long)]
        principal: Option<String>,
        /// Only this role (name or id).
        #[arg(long)]
        role: Option<String>,
        /// Only eligible or only active access.
        #[arg(long, value_parser = parse_kind, value_name = "eligible|active")]
        kind: Option<AssignmentKind>,
        /// Write the server's file (csv or json) instead of a table.
        #[arg(long, value_parser = output::parse_export_format, value_name = "csv|json")]
        format: Option<ExportFormat>,
        /// Write to this file instead of standard output (with --format; json by default).
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Activations per role, per principal and per day over a time range.
    Activations {
        /// From this time (RFC 3339, a date, or e.g. -7d) [default: 30 days before --to].
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
        from: Option<Timestamp>,
        /// Until this time (exclusive) [default: now].
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
        to: Option<Timestamp>,
        /// Only activations at this scope or below it [default: /].
        #[arg(long, value_parser = parse_scope)]
        under: Option<ScopePath>,
        /// Write the server's file (csv or json) instead of a table.
        #[arg(long, value_parser = output::parse_export_format, value_name = "csv|json")]
        format: Option<ExportFormat>,
        /// Write to this file instead of standard output (with --format; json by default).
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs `pim reports ...`.
pub async fn run(ctx: &Ctx, cmd: ReportsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        ReportsCommand::Access { under, principal, role, kind, format, out } => {
            let mut q = AccessReportQuery { under, principal, role, kind, format };
            if format.is_some() || out.is_some() {
                q.format = Some(format.unwrap_or(ExportFormat::Json));
                return output::write_file(&client.access_report_file(&q).await?, out);
            }
            let report = client.access_report(&q).await?;
            if ctx.format == Format::Json {
                return output::print_json(&report);
            }
            let mut t = Table::new(&["PRINCIPAL", "ROLE", "SCOPE", "KIND", "SOURCE", "VIA", "INHERITED", "END"]);
            for r in &report.rows {
                t.row(vec![
                    r.principal_name.clone(),
                    r.role_name.clone(),
                    r.scope.to_string(),
                    r.kind.as_str().to_owned(),
                    r.source.clone(),
                    r.via_group_name.as_ref().map(|g| format!("group {g}")).unwrap_or_else(|| "direct".to_owned()),
                    if r.inherited { "yes" } else { "no" }.to_owned(),
                    r.end.map(time).unwrap_or_else(|| "permanent".to_owned()),
                ]);
            }
            output::print(&t.render())
        }
        ReportsCommand::Activations { from, to, under, format, out } => {
            let mut q = ActivationReportQuery { from, to, under, format };
            if format.is_some() || out.is_some() {
                q.format = Some(format.unwrap_or(ExportFormat::Json));
                return output::write_file(&client.activation_report_file(&q).await?, out);
            }
            let report = client.activation_report(&q).await?;
            if ctx.format == Format::Json {
                return output::print_json(&report);
            }
            let mut t = Table::new(&["BY", "KEY", "NAME", "COUNT"]);
            t.row(vec!["total".into(), String::new(), String::new(), report.total.to_string()]);
            for (by, list) in [("role", &report.by_role), ("principal", &report.by_principal), ("day", &report.by_day)]
            {
                for c in list {
                    t.row(vec![by.to_owned(), c.key.clone(), c.name.clone(), c.count.to_string()]);
                }
            }
            output::print(&t.render())
        }
    }
}
