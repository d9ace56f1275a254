//! `pim approve`, `pim deny`, `pim settings-changes` and `pim break-glass`: the approver's side.

use anyhow::anyhow;
use pim_api::{
    BulkDecision, CompleteReview, DecideRequest, DecideSettingsChange, RequestId, RequestStatus, ReviewVerdict,
    SettingsChangeId, Timestamp, Verdict,
};
use pim_domain::message::count;

use super::Ctx;
use super::duration::parse_time;
use super::output::{self, Format, Table, time};
use super::resolve::Names;

/// Options of `pim approve` and `pim deny`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The requests (see `pim requests --pending`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<RequestId>,
    /// Every request waiting for your decision now.
    #[arg(long)]
    pub all: bool,
    /// Why (required by default role settings).
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
    /// Approving one extension or renewal: the end you grant (at most what was asked).
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub end: Option<Timestamp>,
}

/// Runs `pim approve` or `pim deny`.
pub async fn decide(ctx: &Ctx, a: DecideArgs, verdict: Verdict) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut a = a;
    if a.all {
        a.ids = client.pending_approvals().await?.items.into_iter().map(|r| r.id).collect();
        if a.ids.is_empty() {
            output::note("Nothing waits for your decision.");
            return Ok(());
        }
    }
    if a.end.is_some() && (a.ids.len() != 1 || verdict == Verdict::Deny) {
        return Err(anyhow!("--end applies when approving one extension or renewal"));
    }
    if let ([id], Some(end)) = (a.ids.as_slice(), a.end) {
        let body = DecideRequest { justification: a.justification, end: Some(end) };
        let o = client.approve_request(*id, &body).await?;
        return output::show(ctx.format, &o, || format!("Request {} is {}.", o.request.id, o.request.status.as_str()));
    }
    // The server takes at most 100 requests per call.
    let mut result = pim_api::BulkDecisionResult { items: Vec::new() };
    for chunk in a.ids.chunks(100) {
        let body = BulkDecision { verdict, request_ids: chunk.to_vec(), justification: a.justification.clone() };
        result.items.extend(client.decide_requests(&body).await?.items);
    }
    if ctx.format == Format::Json {
        output::print_json(&result)?;
    } else {
        let mut t = Table::new(&["REQUEST", "RESULT"]);
        for item in &result.items {
            let outcome = match (&item.request, &item.problem) {
                (Some(r), _) if r.status == RequestStatus::PendingApproval => {
                    let stage = r.approval.as_ref().map_or(0, |a| a.stage + 1);
                    format!("recorded; waiting (stage {stage})")
                }
                (Some(r), _) => r.status.as_str().to_owned(),
                (None, Some(p)) => format!("refused: {} ({})", p.message, p.code),
                (None, None) => String::new(),
            };
            t.row(vec![item.request_id.to_string(), outcome]);
        }
        output::print(&t.render())?;
    }
    let refused = result.items.iter().filter(|i| i.problem.is_some()).count();
    if refused > 0 {
        let verb = if refused == 1 { "was" } else { "were" };
        return Err(anyhow!("{refused} of {} {verb} refused", count(result.items.len(), "decision", "decisions")));
    }
    Ok(())
}

/// `pim settings-changes ...`: changes to protected role settings.
#[derive(Debug, clap::Subcommand)]
pub enum SettingsChangesCommand {
    /// List changes (pending ones by default).
    List {
        /// Every change, not only the pending ones.
        #[arg(long)]
        all: bool,
    },
    /// Show a change, with the settings it proposes.
    Show {
        /// The change's id.
        id: SettingsChangeId,
    },
    /// Approve a change proposed by another administrator: it is applied.
    Approve {
        /// The change's id.
        id: SettingsChangeId,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
    /// Deny a change.
    Deny {
        /// The change's id.
        id: SettingsChangeId,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
    /// Withdraw a change you proposed.
    Cancel {
        /// The change's id.
        id: SettingsChangeId,
    },
}

/// Runs `pim settings-changes ...`.
pub async fn settings_changes(ctx: &Ctx, command: SettingsChangesCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut names = Names::new(&client);
    let change = match command {
        SettingsChangesCommand::List { all } => {
            let page = client.list_settings_changes((!all).then_some(RequestStatus::PendingApproval)).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut t = Table::new(&["ID", "ROLE", "SCOPE", "CHANGE", "STATUS", "PROPOSED BY", "CREATED"]);
            for c in &page.items {
                t.row(vec![
                    c.id.to_string(),
                    names.role(c.role_id).await,
                    c.scope.to_string(),
                    if c.settings.is_some() { "update" } else { "reset" }.to_owned(),
                    c.status.as_str().to_owned(),
                    names.principal(c.requested_by).await,
                    time(c.created_at),
                ]);
            }
            return output::print(&t.render());
        }
        SettingsChangesCommand::Show { id } => client.get_settings_change(id).await?,
        SettingsChangesCommand::Approve { id, justification } => {
            client.decide_settings_change(id, true, &DecideSettingsChange { justification }).await?
        }
        SettingsChangesCommand::Deny { id, justification } => {
            client.decide_settings_change(id, false, &DecideSettingsChange { justification }).await?
        }
        SettingsChangesCommand::Cancel { id } => client.cancel_settings_change(id).await?,
    };
    if ctx.format == Format::Json {
        return output::print_json(&change);
    }
    let settings = match &change.settings {
        Some(s) => serde_json::to_string_pretty(s)?,
        None => "(reset: inherit from the parent scope)".to_owned(),
    };
    output::print(&output::listing(&[
        ("change", change.id.to_string()),
        ("role", names.role(change.role_id).await),
        ("scope", change.scope.to_string()),
        ("status", change.status.as_str().to_owned()),
        ("reason", change.status_reason.clone().unwrap_or_default()),
        ("proposed by", names.principal(change.requested_by).await),
        ("created", time(change.created_at)),
        ("settings", settings),
    ]))
}

/// `pim break-glass ...`: break-glass activations and their review.
#[derive(Debug, clap::Subcommand)]
pub enum BreakGlassCommand {
    /// List break-glass activations (those not yet reviewed by default).
    List {
        /// Also the reviewed ones.
        #[arg(long)]
        all: bool,
    },
    /// Record your review of a break-glass activation.
    Review {
        /// The break-glass request's id.
        id: RequestId,
        /// appropriate or inappropriate.
        #[arg(long, value_parser = parse_verdict)]
        verdict: ReviewVerdict,
        /// A note.
        #[arg(short = 'n', long)]
        note: Option<String>,
    },
}

fn parse_verdict(s: &str) -> Result<ReviewVerdict, String> {
    ReviewVerdict::parse(&s.trim().to_lowercase()).ok_or_else(|| format!("'{s}': use appropriate or inappropriate"))
}

/// Runs `pim break-glass ...`.
pub async fn break_glass(ctx: &Ctx, command: BreakGlassCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut names = Names::new(&client);
    match command {
        BreakGlassCommand::List { all } => {
            let page = client.list_break_glass_reviews(!all).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut t = Table::new(&["REQUEST", "WHO", "ROLE", "SCOPE", "AT", "REVIEW"]);
            for v in &page.items {
                let review = match (v.verdict, v.reviewed_by) {
                    (Some(x), Some(by)) => format!("{} by {}", x.as_str(), names.principal(by).await),
                    _ => "pending".to_owned(),
                };
                t.row(vec![
                    v.request_id.to_string(),
                    names.principal(v.principal_id).await,
                    names.role(v.role_id).await,
                    v.scope.to_string(),
                    time(v.created_at),
                    review,
                ]);
            }
            output::print(&t.render())
        }
        BreakGlassCommand::Review { id, verdict, note } => {
            let v = client.complete_break_glass_review(id, &CompleteReview { verdict, note }).await?;
            output::show(ctx.format, &v, || format!("Reviewed break-glass activation {id}: {}.", verdict.as_str()))
        }
    }
}
