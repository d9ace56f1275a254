//! `pim assign` and `pim assignments`: administrators' requests (adminAssign, adminUpdate, adminRemove,
//! adminExtend, adminRenew) and the assignment lists.

use anyhow::anyhow;
use pim_api::{
    AssignmentId, AssignmentKind, AssignmentQuery, AssignmentState, CreateRequest, RequestAction, ScopePath, Timestamp,
};
use pim_client::Client;

use super::Ctx;
use super::duration::{add_minutes, now, parse_duration, parse_scope, parse_time};
use super::output::{self, Format, more_hint};
use super::resolve::{self, Names};
use super::views::{assignment_listing, assignments_table, outcome_listing, validation_listing};

/// Options of `pim assign`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("assignment_kind").required(true).args(["eligible", "active"]))]
pub struct AssignArgs {
    /// Who (user, group or service principal; name or id).
    pub principal: String,
    /// Which role (name or id).
    pub role: String,
    /// Where.
    #[arg(long, value_parser = parse_scope, default_value = "/")]
    pub scope: ScopePath,
    /// Make the principal eligible (they activate when needed).
    #[arg(long)]
    pub eligible: bool,
    /// Give the role actively (held without activation).
    #[arg(long)]
    pub active: bool,
    /// When it starts [default: now].
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub start: Option<Timestamp>,
    /// When it ends [default: permanent].
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, conflicts_with = "duration")]
    pub end: Option<Timestamp>,
    /// How long it lasts from its start, e.g. 30d.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<u64>,
    /// Why.
    #[arg(short = 'j', long)]
    pub justification: Option<String>,
    /// Only check whether the request would pass, and what it needs.
    #[arg(long)]
    pub validate_only: bool,
}

/// `pim assignments ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AssignmentsCommand {
    /// List assignments.
    List {
        /// Only those held by this principal (name or id).
        #[arg(long)]
        principal: Option<String>,
        /// Only those of this role (name or id).
        #[arg(long)]
        role: Option<String>,
        /// Only those at exactly this scope.
        #[arg(long, value_parser = parse_scope)]
        scope: Option<ScopePath>,
        /// Only those at this scope or below.
        #[arg(long, value_parser = parse_scope)]
        under: Option<ScopePath>,
        /// Only eligible ones.
        #[arg(long, conflicts_with = "active")]
        eligible: bool,
        /// Only active ones.
        #[arg(long)]
        active: bool,
        /// Also those that have ended.
        #[arg(long)]
        all: bool,
        /// Page size (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show an assignment.
    Show {
        /// The assignment's id.
        id: AssignmentId,
    },
    /// Change an assignment's window.
    Update {
        /// The assignment's id.
        id: AssignmentId,
        /// New start.
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
        start: Option<Timestamp>,
        /// New end.
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, conflicts_with_all = ["permanent", "duration"])]
        end: Option<Timestamp>,
        /// New end, this long from now.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION", conflicts_with = "permanent")]
        duration: Option<u64>,
        /// Make it permanent.
        #[arg(long)]
        permanent: bool,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
    /// Remove an assignment (or revoke an activation).
    Remove {
        /// The assignment's id.
        id: AssignmentId,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
    /// Extend an assignment that is still in effect.
    Extend {
        /// The assignment's id.
        id: AssignmentId,
        /// The new end.
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, required_unless_present = "by", conflicts_with = "by")]
        end: Option<Timestamp>,
        /// Push the current end back by this much, e.g. 30d.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        by: Option<u64>,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
    /// Renew an assignment that has expired.
    Renew {
        /// The assignment's id.
        id: AssignmentId,
        /// New start [default: now].
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
        start: Option<Timestamp>,
        /// New end.
        #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, conflicts_with = "duration")]
        end: Option<Timestamp>,
        /// New end, this long from the start.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        duration: Option<u64>,
        /// Why.
        #[arg(short = 'j', long)]
        justification: Option<String>,
    },
}

/// Makes `req` (or only validates it) and prints the outcome; a refused validation is an error.
pub async fn submit(ctx: &Ctx, client: &Client, req: CreateRequest, validate_only: bool) -> anyhow::Result<()> {
    let mut names = Names::new(client);
    if validate_only {
        let v = client.validate_request(&req).await?;
        output::show(ctx.format, &v, || validation_listing(&v))?;
        return match v.problems.first() {
            Some(p) if !v.valid => Err(anyhow!("the request would be refused: {} ({})", p.message, p.code)),
            None if !v.valid => Err(anyhow!("the request would be refused")),
            _ => Ok(()),
        };
    }
    let outcome = client.create_request(&req).await?;
    if ctx.format == Format::Json {
        return output::print_json(&outcome);
    }
    output::print(&outcome_listing(&mut names, &outcome).await)
}

/// Runs `pim assign`.
pub async fn assign(ctx: &Ctx, a: AssignArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let principal_id = resolve::principal_id(&client, &a.principal).await?;
    let role_id = resolve::role_id(&client, &a.role).await?;
    let end = match (a.end, a.duration) {
        (Some(e), _) => Some(e),
        (None, Some(d)) => Some(add_minutes(a.start.unwrap_or_else(now), d)),
        (None, None) => None,
    };
    let req = CreateRequest {
        principal_id: Some(principal_id),
        role_id: Some(role_id),
        scope: Some(a.scope),
        kind: Some(if a.eligible { AssignmentKind::Eligible } else { AssignmentKind::Active }),
        start: a.start,
        end,
        justification: a.justification,
        ..CreateRequest::new(RequestAction::AdminAssign)
    };
    submit(ctx, &client, req, a.validate_only).await
}

/// Runs `pim assignments ...`.
pub async fn run(ctx: &Ctx, cmd: AssignmentsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        AssignmentsCommand::List { principal, role, scope, under, eligible, active, all, limit, cursor } => {
            let principal_id = match principal {
                Some(p) => Some(resolve::principal_id(&client, &p).await?),
                None => None,
            };
            let role_id = match role {
                Some(r) => Some(resolve::role_id(&client, &r).await?),
                None => None,
            };
            let kind = match (eligible, active) {
                (true, _) => Some(AssignmentKind::Eligible),
                (_, true) => Some(AssignmentKind::Active),
                _ => None,
            };
            let q = AssignmentQuery {
                principal_id,
                role_id,
                scope,
                under,
                kind,
                state: all.then_some(AssignmentState::All),
                limit,
                cursor,
            };
            let page = client.list_assignments(&q).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            output::print(&assignments_table(&mut Names::new(&client), &page.items).await)?;
            more_hint(ctx.format, page.next_cursor.as_deref());
            Ok(())
        }
        AssignmentsCommand::Show { id } => {
            let a = client.get_assignment(id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&a);
            }
            output::print(&assignment_listing(&mut Names::new(&client), &a).await)
        }
        AssignmentsCommand::Update { id, start, end, duration, permanent, justification } => {
            let end = end.or_else(|| duration.map(|d| add_minutes(now(), d)));
            if start.is_none() && end.is_none() && !permanent {
                return Err(anyhow!("say what to change: --start, --end, --duration or --permanent"));
            }
            let req = CreateRequest {
                start,
                end,
                permanent: permanent.then_some(true),
                justification,
                ..CreateRequest::for_assignment(RequestAction::AdminUpdate, id)
            };
            submit(ctx, &client, req, false).await
        }
        AssignmentsCommand::Remove { id, justification } => {
            let req = CreateRequest { justification, ..CreateRequest::for_assignment(RequestAction::AdminRemove, id) };
            submit(ctx, &client, req, false).await
        }
        AssignmentsCommand::Extend { id, end, by, justification } => {
            let end = match (end, by) {
                (Some(e), _) => e,
                (None, Some(by)) => {
                    let a = client.get_assignment(id).await?;
                    let current = a.window.end.ok_or_else(|| anyhow!("assignment {id} is permanent already"))?;
                    add_minutes(current, by)
                }
                (None, None) => return Err(anyhow!("pass --end TIME or --by DURATION")),
            };
            let req = CreateRequest {
                end: Some(end),
                justification,
                ..CreateRequest::for_assignment(RequestAction::AdminExtend, id)
            };
            submit(ctx, &client, req, false).await
        }
        AssignmentsCommand::Renew { id, start, end, duration, justification } => {
            let end = end.or_else(|| duration.map(|d| add_minutes(start.unwrap_or_else(now), d)));
            let req = CreateRequest {
                start,
                end,
                justification,
                ..CreateRequest::for_assignment(RequestAction::AdminRenew, id)
            };
            submit(ctx, &client, req, false).await
        }
    }
}
