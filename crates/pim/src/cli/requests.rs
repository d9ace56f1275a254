//! `pim activate`, `pim deactivate`, `pim extend`, `pim renew` (the caller's own requests) and
//! `pim requests` (list, show, cancel).

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use pim_api::{
    Assignment, AssignmentId, CreateRequest, MeResponse, PrincipalId, Request, RequestAction, RequestId,
    RequestOutcome, RequestQuery, RequestStatus, RoleId, ScopePath, Ticket, Timestamp,
};
use pim_client::Client;

use super::Ctx;
use super::assignments::submit;
use super::connectors;
use super::duration::{now, parse_duration, parse_scope, parse_ticket, parse_time};
use super::output::{self, Format, more_hint};
use super::resolve::{self, Names};
use super::views::{assignment_state, outcome_listing, request_listing, requests_table, validation_listing};

/// Options of `pim activate`.
#[derive(Debug, clap::Args)]
pub struct ActivateArgs {
    /// The role (name or id).
    pub role: String,
    /// The scope: your eligibility's or one below it [default: your eligibility's, if you have only one].
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<ScopePath>,
    /// How long, from 30m to the role's maximum, e.g. 2h.
    #[arg(short = 'd', long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: u64,
    /// Why you need it.
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
    /// A ticket reference, system:number (e.g. jira:OPS-123).
    #[arg(long, value_parser = parse_ticket)]
    pub ticket: Option<Ticket>,
    /// Start later instead of now.
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub start: Option<Timestamp>,
    /// Only check whether the activation would pass, and what it needs.
    #[arg(long)]
    pub validate_only: bool,
    /// Wait until the activation is in effect: if it needs approval, until it is decided (fail unless
    /// it is granted); then until every connector mapping the role has granted the access in its
    /// target (fail, naming the connector, if one gives up).
    #[arg(long, conflicts_with = "validate_only")]
    pub wait: bool,
    /// Give up waiting after this long, e.g. 1h [default: wait as long as it takes].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "wait")]
    pub wait_timeout: Option<u64>,
    /// Seconds between two looks at a pending request (and at the targets).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS", requires = "wait")]
    pub poll_interval: f64,
    /// Break-glass: skip approval where the role's settings allow it (a justification is required;
    /// every approver is told and the activation is reviewed afterwards).
    #[arg(long)]
    pub break_glass: bool,
    /// A current code from your authenticator app, when the role requires MFA
    /// [default: asked for at the terminal when needed].
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
}

/// Options of `pim deactivate`.
#[derive(Debug, clap::Args)]
pub struct DeactivateArgs {
    /// The role whose activation to end (name or id).
    #[arg(required_unless_present = "assignment")]
    pub role: Option<String>,
    /// The activation's scope, when you have several activations of the role.
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<ScopePath>,
    /// The activation's assignment id, instead of a role.
    #[arg(long, conflicts_with_all = ["role", "scope"])]
    pub assignment: Option<AssignmentId>,
    /// Why.
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
}

/// Options of `pim extend` and `pim renew`.
#[derive(Debug, clap::Args)]
pub struct SelfChangeArgs {
    /// The assignment's id (see `pim whoami`).
    pub id: AssignmentId,
    /// The end asked for [default: the role settings decide].
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub end: Option<Timestamp>,
    /// Why.
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
    /// Only check whether the request would pass, and what it needs.
    #[arg(long)]
    pub validate_only: bool,
}

/// Options of `pim requests`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RequestsArgs {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<RequestsCommand>,
    /// Filters of the list.
    #[command(flatten)]
    pub list: RequestListArgs,
}

/// `pim requests ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RequestsCommand {
    /// List requests (the default).
    List(RequestListArgs),
    /// Show a request.
    Show {
        /// The request's id.
        id: RequestId,
    },
    /// Withdraw one of your pending requests.
    Cancel {
        /// The request's id.
        id: RequestId,
    },
}

/// Filters of `pim requests list`.
#[derive(Debug, Default, clap::Args)]
pub struct RequestListArgs {
    /// Only requests waiting for your decision now (as an approver).
    #[arg(long, conflicts_with_all = ["mine", "status", "action", "principal", "cursor"])]
    pub pending: bool,
    /// Only your own requests.
    #[arg(long)]
    pub mine: bool,
    /// Only requests with this status (PendingApproval, Granted, Provisioned, Denied, ...).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<RequestStatus>,
    /// Only requests with this action (selfActivate, adminAssign, ...).
    #[arg(long, value_parser = parse_action)]
    pub action: Option<RequestAction>,
    /// Only requests concerning this principal (name or id).
    #[arg(long)]
    pub principal: Option<String>,
    /// Page size (1-1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

fn parse_status(s: &str) -> Result<RequestStatus, String> {
    RequestStatus::ALL.into_iter().find(|x| x.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
        let all: Vec<_> = RequestStatus::ALL.iter().map(|x| x.as_str()).collect();
        format!("'{s}' is not a status: use one of {}", all.join(", "))
    })
}

fn parse_action(s: &str) -> Result<RequestAction, String> {
    RequestAction::ALL.into_iter().find(|x| x.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
        let all: Vec<_> = RequestAction::ALL.iter().map(|x| x.as_str()).collect();
        format!("'{s}' is not an action: use one of {}", all.join(", "))
    })
}

/// The scope to activate at when none is given: the eligibility's, when there is exactly one.
fn infer_scope(me: &MeResponse, role: RoleId) -> anyhow::Result<ScopePath> {
    let scopes: BTreeSet<&ScopePath> =
        me.eligible_assignments.iter().filter(|a| a.role_id == role).map(|a| &a.scope).collect();
    match scopes.len() {
        0 => Ok(ScopePath::root()),
        1 => Ok(scopes.into_iter().next().cloned().unwrap_or_else(ScopePath::root)),
        _ => {
            let list: Vec<_> = scopes.iter().map(|s| s.as_str()).collect();
            Err(anyhow!("you are eligible for this role at several scopes ({}): pass --scope", list.join(", ")))
        }
    }
}

/// The caller's own activation of `role` (at `scope`, if given).
fn find_activation<'a>(
    active: &'a [Assignment],
    me: PrincipalId,
    role: RoleId,
    scope: Option<&ScopePath>,
) -> anyhow::Result<&'a Assignment> {
    let found: Vec<&Assignment> = active
        .iter()
        .filter(|a| a.principal_id == me && a.role_id == role && a.activated_from.is_some())
        .filter(|a| scope.is_none_or(|s| &a.scope == s))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            Err(anyhow!("you have no activation of this role{}", scope.map(|s| format!(" at {s}")).unwrap_or_default()))
        }
        many => {
            let list: Vec<_> = many.iter().map(|a| format!("{} at {}", a.id, a.scope)).collect();
            Err(anyhow!(
                "you have several activations of this role ({}): pass --scope or --assignment",
                list.join(", ")
            ))
        }
    }
}

fn failed(status: RequestStatus) -> bool {
    matches!(
        status,
        RequestStatus::Denied
            | RequestStatus::Canceled
            | RequestStatus::Revoked
            | RequestStatus::TimedOut
            | RequestStatus::Failed
    )
}

async fn print_outcome(ctx: &Ctx, client: &Client, outcome: &RequestOutcome) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(outcome);
    }
    output::print(&outcome_listing(&mut Names::new(client), outcome).await)
}

/// Polls `request` until it leaves PendingApproval (or `deadline` passes); the decided request.
async fn wait_for_decision(
    client: &Client,
    mut request: Request,
    interval: Duration,
    deadline: Option<Instant>,
) -> anyhow::Result<Request> {
    if request.status == RequestStatus::PendingApproval {
        output::note(&format!("Waiting for approval of request {}...", request.id));
    }
    while request.status == RequestStatus::PendingApproval {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(anyhow!("gave up waiting: request {} is still pending approval", request.id));
        }
        tokio::time::sleep(interval).await;
        request = client.get_request(request.id).await?;
    }
    Ok(request)
}

/// Runs `pim activate`.
pub async fn activate(ctx: &Ctx, a: ActivateArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let role_id = resolve::role_id(&client, &a.role).await?;
    let scope = match a.scope {
        Some(s) => s,
        None => infer_scope(&client.me().await?, role_id)?,
    };
    let duration_minutes = u32::try_from(a.duration).map_err(|_| anyhow!("--duration is too long"))?;
    let req = CreateRequest {
        role_id: Some(role_id),
        scope: Some(scope),
        duration_minutes: Some(duration_minutes),
        start: a.start,
        justification: a.justification,
        ticket: a.ticket,
        break_glass: a.break_glass.then_some(true),
        otp: a.otp,
        ..CreateRequest::new(RequestAction::SelfActivate)
    };
    if a.validate_only {
        let v = client.validate_request(&req).await?;
        output::show(ctx.format, &v, || validation_listing(&v))?;
        if !v.valid {
            let why = v.problems.first().map(|p| format!(": {} ({})", p.message, p.code)).unwrap_or_default();
            return Err(anyhow!("the activation would be refused{why}"));
        }
        return Ok(());
    }
    if a.wait && (!a.poll_interval.is_finite() || a.poll_interval <= 0.0) {
        return Err(anyhow!("--poll-interval must be a positive number of seconds"));
    }
    let mut outcome = match client.create_request(&req).await {
        Err(e) if e.code() == Some("mfa_required") && req.otp.is_none() && std::io::stdin().is_terminal() => {
            let code = rpassword::prompt_password("MFA code from your authenticator app: ")?;
            client.create_request(&CreateRequest { otp: Some(code.trim().to_owned()), ..req }).await?
        }
        other => other?,
    };
    let seconds = if a.poll_interval.is_finite() { a.poll_interval.clamp(0.001, 3600.0) } else { 2.0 };
    let interval = Duration::from_secs_f64(seconds);
    // One deadline for the whole wait: the approval, then the targets.
    let deadline = a.wait_timeout.map(|m| Instant::now() + Duration::from_secs(m.saturating_mul(60)));
    if a.wait && outcome.request.status == RequestStatus::PendingApproval {
        let request = wait_for_decision(&client, outcome.request, interval, deadline).await?;
        let assignment = match request.target_assignment {
            Some(id) if !failed(request.status) => client.get_assignment(id).await.ok(),
            _ => None,
        };
        outcome = RequestOutcome { request, assignment };
    }
    let r = &outcome.request;
    // Granted and in effect now: wait until every mapped target has granted it too.
    let in_effect = outcome.assignment.as_ref().filter(|x| assignment_state(x, now()) == "in effect");
    let provision = a.wait && !failed(r.status) && in_effect.is_some();
    if !provision || ctx.format == Format::Table {
        print_outcome(ctx, &client, &outcome).await?;
    }
    if a.wait && failed(r.status) {
        let why = r.status_reason.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
        return Err(anyhow!("request {} was {}{why}", r.id, r.status.as_str()));
    }
    if a.wait
        && !provision
        && let Some(x) = outcome.assignment.as_ref().filter(|x| x.window.start > now())
    {
        output::note(&format!("It starts at {}: the targets grant it then.", output::time(x.window.start)));
    }
    let Some(assignment) = in_effect.filter(|_| provision) else { return Ok(()) };
    let waited = connectors::wait_for_targets(&client, assignment.id, interval, deadline).await;
    if ctx.format == Format::Json {
        // The outcome, and where the access stands in the targets (what was last seen).
        let rows = match &waited {
            Ok(rows) => rows.clone(),
            Err(_) => client.assignment_provisioning(assignment.id).await.unwrap_or_default(),
        };
        let mut doc = serde_json::to_value(&outcome)?;
        if let Some(o) = doc.as_object_mut() {
            o.insert("provisioning".to_owned(), serde_json::to_value(&rows)?);
        }
        output::print_json(&doc)?;
    }
    let rows = waited?;
    connectors::report_granted(ctx, &client, &rows).await
}

/// Runs `pim deactivate`.
pub async fn deactivate(ctx: &Ctx, a: DeactivateArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let id = match (a.assignment, a.role) {
        (Some(id), _) => id,
        (None, Some(role)) => {
            let role_id = resolve::role_id(&client, &role).await?;
            let me = client.me().await?;
            find_activation(&me.active_assignments, me.principal.id, role_id, a.scope.as_ref())?.id
        }
        (None, None) => return Err(anyhow!("pass a role or --assignment ID")),
    };
    let req = CreateRequest {
        justification: a.justification,
        ..CreateRequest::for_assignment(RequestAction::SelfDeactivate, id)
    };
    submit(ctx, &client, req, false).await
}

/// Runs `pim extend` (`SelfExtend`) or `pim renew` (`SelfRenew`).
pub async fn self_change(ctx: &Ctx, a: SelfChangeArgs, action: RequestAction) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let req =
        CreateRequest { end: a.end, justification: a.justification, ..CreateRequest::for_assignment(action, a.id) };
    submit(ctx, &client, req, a.validate_only).await
}

/// Runs `pim requests ...`.
pub async fn requests(ctx: &Ctx, a: RequestsArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut names = Names::new(&client);
    let request = match a.command {
        None => return list(ctx, &client, a.list).await,
        Some(RequestsCommand::List(l)) => return list(ctx, &client, l).await,
        Some(RequestsCommand::Show { id }) => client.get_request(id).await?,
        Some(RequestsCommand::Cancel { id }) => client.cancel_request(id).await?,
    };
    if ctx.format == Format::Json {
        return output::print_json(&request);
    }
    output::print(&request_listing(&mut names, &request).await)
}

async fn list(ctx: &Ctx, client: &Client, l: RequestListArgs) -> anyhow::Result<()> {
    if l.pending {
        let page = client.pending_approvals().await?;
        if ctx.format == Format::Json {
            return output::print_json(&page);
        }
        if page.items.is_empty() {
            output::note("Nothing waits for your decision.");
            return Ok(());
        }
        return output::print(&super::views::approvals_table(&mut Names::new(client), &page.items).await);
    }
    let principal_id = match l.principal {
        Some(p) => Some(resolve::principal_id(client, &p).await?),
        None => None,
    };
    let q = RequestQuery {
        mine: l.mine.then_some(true),
        principal_id,
        status: l.status,
        action: l.action,
        limit: l.limit,
        cursor: l.cursor,
    };
    let page = client.list_requests(&q).await?;
    if ctx.format == Format::Json {
        return output::print_json(&page);
    }
    output::print(&requests_table(&mut Names::new(client), &page.items).await)?;
    more_hint(ctx.format, page.next_cursor.as_deref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_api::{AssignmentKind, PrincipalKind, Window};

    fn assignment(p: PrincipalId, role: RoleId, scope: &str, from: Option<AssignmentId>) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            principal_id: p,
            principal_kind: PrincipalKind::User,
            role_id: role,
            scope: ScopePath::parse(scope).unwrap(),
            kind: if from.is_some() { AssignmentKind::Active } else { AssignmentKind::Eligible },
            window: Window { start: Timestamp(0), end: None },
            activated_from: from,
            created_by_request: RequestId::new(),
            created_at: Timestamp(0),
            ended_early_at: None,
        }
    }

    #[test]
    fn statuses_and_actions_parse_case_insensitively() {
        assert_eq!(parse_status("pendingapproval"), Ok(RequestStatus::PendingApproval));
        assert_eq!(parse_action("SELFACTIVATE"), Ok(RequestAction::SelfActivate));
        assert!(parse_status("nope").unwrap_err().contains("PendingApproval"));
    }

    #[test]
    fn the_activation_to_end_is_found_by_role_and_scope() {
        let (me, other, role) = (PrincipalId::new(), PrincipalId::new(), RoleId::new());
        let elig = Some(AssignmentId::new());
        let active = vec![
            assignment(me, role, "/a", elig),
            assignment(me, role, "/b", elig),
            assignment(other, role, "/c", elig),
            assignment(me, role, "/d", None),
        ];
        assert!(find_activation(&active, me, role, None).unwrap_err().to_string().contains("several"));
        let a = ScopePath::parse("/a").unwrap();
        assert_eq!(find_activation(&active, me, role, Some(&a)).unwrap().id, active[0].id);
        let c = ScopePath::parse("/c").unwrap();
        assert!(find_activation(&active, me, role, Some(&c)).is_err(), "someone else's");
        let d = ScopePath::parse("/d").unwrap();
        assert!(find_activation(&active, me, role, Some(&d)).is_err(), "not an activation");
    }
}
