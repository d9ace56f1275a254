//! `pim audit`: list, export and verify the audit history.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use pim_api::{AuditQuery, ExportFormat, Outcome, ScopePath, Timestamp};
use pim_domain::message::count;

use super::Ctx;
use super::duration::{parse_scope, parse_time};
use super::output::{self, Format, Table, listing, more_hint, time, yes_no};
use super::resolve::Names;

/// Filters shared by `audit list` and `audit export`.
#[derive(Debug, Default, clap::Args)]
pub struct AuditFilters {
    /// Only events at or after this time (RFC 3339, a date, or e.g. -1d).
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<Timestamp>,
    /// Only events before this time.
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<Timestamp>,
    /// Only events by this actor (name or id).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events concerning this principal (name or id).
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events concerning this role (name or id).
    #[arg(long)]
    pub role: Option<String>,
    /// Only events at this scope or below it.
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<ScopePath>,
    /// Only events whose action starts with this, e.g. request.
    #[arg(long)]
    pub action: Option<String>,
    /// Only successes or only failures.
    #[arg(long, value_parser = parse_outcome)]
    pub outcome: Option<Outcome>,
}

impl AuditFilters {
    fn query(self, limit: Option<u32>, cursor: Option<String>) -> AuditQuery {
        AuditQuery {
            from: self.from,
            to: self.to,
            actor: self.actor,
            principal: self.principal,
            role: self.role,
            scope: self.scope,
            action: self.action,
            outcome: self.outcome,
            limit,
            cursor,
        }
    }
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    Outcome::parse(&s.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("'{s}' is not an outcome: use success or failure"))
}

/// `pim audit ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    List {
        /// Filters.
        #[command(flatten)]
        filters: AuditFilters,
        /// Page size (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Export audit events, oldest first, as CSV or JSON.
    Export {
        /// File format.
        #[arg(long, value_parser = output::parse_export_format, default_value = "csv", value_name = "csv|json")]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Filters.
        #[command(flatten)]
        filters: AuditFilters,
    },
    /// Verify the audit hash chain; fails if it was tampered with.
    Verify,
    /// Your own audit events (done by you or concerning you), newest first; no permission needed.
    Mine {
        /// Filters.
        #[command(flatten)]
        filters: AuditFilters,
        /// Page size (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

async fn print_page(
    ctx: &Ctx,
    client: &pim_client::Client,
    page: &pim_api::Page<pim_api::AuditEvent>,
) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(page);
    }
    let mut names = Names::new(client);
    let mut t = Table::new(&["SEQ", "AT", "ACTION", "OUTCOME", "ACTOR", "PRINCIPAL", "ROLE", "SCOPE"]);
    for e in &page.items {
        let actor = match (&e.actor_name, e.actor_id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => names.principal(id).await,
            (None, None) => "system".to_owned(),
        };
        let outcome = match &e.error_code {
            Some(code) => format!("{} ({code})", e.outcome.as_str()),
            None => e.outcome.as_str().to_owned(),
        };
        t.row(vec![
            e.seq.to_string(),
            time(e.at),
            e.action.clone(),
            outcome,
            actor,
            names.opt_principal(e.principal_id).await,
            names.opt_role(e.role_id).await,
            e.scope.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]);
    }
    output::print(&t.render())?;
    more_hint(ctx.format, page.next_cursor.as_deref());
    Ok(())
}

/// Runs `pim audit ...`.
pub async fn run(ctx: &Ctx, cmd: AuditCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        AuditCommand::List { filters, limit, cursor } => {
            let page = client.list_audit(&filters.query(limit, cursor)).await?;
            print_page(ctx, &client, &page).await
        }
        AuditCommand::Mine { filters, limit, cursor } => {
            let page = client.my_audit(&filters.query(limit, cursor)).await?;
            print_page(ctx, &client, &page).await
        }
        AuditCommand::Export { format, out, filters } => {
            let bytes = client.export_audit(format, &filters.query(None, None)).await?;
            match out {
                Some(path) => output::save(&bytes, &path),
                None => {
                    // A terminal prompt must not run on after the last line (the JSON export has no final newline).
                    let newline: &[u8] = if bytes.ends_with(b"\n") || bytes.is_empty() { b"" } else { b"\n" };
                    let mut stdout = std::io::stdout().lock();
                    match stdout
                        .write_all(&bytes)
                        .and_then(|()| stdout.write_all(newline))
                        .and_then(|()| stdout.flush())
                    {
                        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                        _ => Ok(()),
                    }
                }
            }
        }
        AuditCommand::Verify => {
            let report = client.verify_audit().await?;
            output::show(ctx.format, &report, || {
                let mut s = listing(&[("intact", yes_no(report.ok)), ("events checked", report.checked.to_string())]);
                for p in &report.problems {
                    s.push_str(&format!("\nevent {}: {} ({})", p.seq, p.message, p.kind));
                }
                s
            })?;
            if report.ok {
                Ok(())
            } else {
                Err(anyhow!("the audit chain is broken: {} found", count(report.problems.len(), "problem", "problems")))
            }
        }
    }
}
