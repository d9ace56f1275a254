//! `pim reviews`: access reviews (docs/REVIEWS.md). Administrators create, list, show and stop
//! review definitions, and reset, stop, apply and read the results of their instances; reviewers
//! list the items waiting for them and decide them.

use std::path::PathBuf;

use anyhow::anyhow;
use pim_api::{
    ApproverRef, CreateReview, DecideReviewItems, ExportFormat, IfNoResponse, InstanceStatus, ItemOutcome,
    PrincipalKind, Recurrence, ReviewDefinition, ReviewEnd, ReviewId, ReviewInstance, ReviewInstanceId, ReviewItem,
    ReviewItemId, ReviewScheduleInput, ReviewTarget, ReviewedKinds, Reviewers, ScopePath, Timestamp, UpdateReview,
    UpdateReviewSchedule, Verdict,
};
use pim_client::Client;
use pim_domain::message::count;

use super::Ctx;
use super::duration::{parse_scope, parse_time};
use super::output::{self, Format, Table, listing, opt_time, time, yes_no};
use super::resolve::{self, Names};

/// `pim reviews ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReviewsCommand {
    /// Create an access review: what is reviewed, who reviews, when, and what happens at the end.
    ///
    /// The first instance starts at once when its start has come (the default), with a snapshot of
    /// the access it reviews; its reviewers are notified.
    #[command(after_help = CREATE_EXAMPLES)]
    Create(Box<CreateArgs>),
    /// List the review definitions you may read, oldest first.
    List,
    /// Show a review definition and its instances (newest first) with their counts.
    Show {
        /// The review's id.
        id: ReviewId,
    },
    /// Change a review definition for its future instances; what you do not give stays.
    ///
    /// The instance in progress keeps its items and its end (its automatic apply and
    /// no-response outcome follow the change). The start and recurrence cannot change once an
    /// instance started, nor the target while one is in progress.
    #[command(after_help = UPDATE_EXAMPLES)]
    Update(Box<UpdateArgs>),
    /// Stop a review: no further instance starts, and the one in progress completes now.
    Stop {
        /// The review's id.
        id: ReviewId,
    },
    /// Show one instance of a review with its counts.
    Instance {
        /// The instance's id (see `pim reviews show REVIEW_ID`).
        id: ReviewInstanceId,
    },
    /// An instance's results: every item with its recommendation, decision, outcome and what
    /// applying did; a table, or the server's CSV or JSON file with --format.
    Results {
        /// The instance's id.
        id: ReviewInstanceId,
        /// Write the server's file (csv or json) instead of a table.
        #[arg(long, value_parser = output::parse_export_format, value_name = "csv|json")]
        format: Option<ExportFormat>,
        /// Write to this file instead of standard output (with --format; json by default).
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Clear every decision of an instance in progress (reviewers start over).
    Reset {
        /// The instance's id.
        id: ReviewInstanceId,
    },
    /// End an instance in progress now: each item gets its outcome (applied at once when the review
    /// applies its results automatically).
    #[command(name = "stop-instance")]
    StopInstance {
        /// The instance's id.
        id: ReviewInstanceId,
    },
    /// Apply a completed instance's results: remove the access whose outcome is removal.
    Apply {
        /// The instance's id.
        id: ReviewInstanceId,
    },
    /// The items waiting for your review, in every instance in progress where you are a reviewer.
    Mine,
    /// Decide items you review: approve (keep the access), deny (remove it) or take pim's
    /// recommendations.
    ///
    /// Without item ids, every item of the instance you review and have not decided yet. All or
    /// nothing: an item you may not decide refuses the whole call. You may change a decision until
    /// the instance ends.
    #[command(group = clap::ArgGroup::new("verdict").required(true).args(["approve", "deny", "accept_recommendations"]))]
    Decide {
        /// The instance's id (see `pim reviews mine`).
        instance: ReviewInstanceId,
        /// The items [default: every undecided item of yours in the instance].
        items: Vec<ReviewItemId>,
        /// Keep the access.
        #[arg(long)]
        approve: bool,
        /// Remove the access (when the results are applied).
        #[arg(long)]
        deny: bool,
        /// Take pim's recommendation for each item (deny when no activation or sign-in for 30 days).
        #[arg(long)]
        accept_recommendations: bool,
        /// Why (required unless the review was created with --no-reason-required).
        #[arg(short = 'r', long)]
        reason: Option<String>,
    },
}

const CREATE_EXAMPLES: &str = "Examples:
  pim reviews create \"Q3 prod admins\" --role Owner --role Contributor --scope /prod \\
      --reviewer alice --reviewer security-team --duration-days 14
  pim reviews create \"ops members\" --group ops --managers --fallback alice \\
      --recurrence quarterly --duration-days 14 --end-after 4 --auto-apply --if-no-response take-recommendation
  pim reviews create \"stale readers\" --role Reader --scope / --kinds eligible --inactive-days 90 \\
      --self-review --start 2026-01-05T09:00:00Z --duration-days 7";

const UPDATE_EXAMPLES: &str = "Examples:
  pim reviews update 0190... --duration-days 21 --reviewer security-team
  pim reviews update 0190... --name \"Q4 prod admins\" --end-after 8 --auto-apply=true
  pim reviews update 0190... --role Owner --scope /prod --inactive-days 0";

/// Options of `pim reviews update`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("who").args(["self_review", "managers", "reviewers"]))]
#[command(group = clap::ArgGroup::new("ends").args(["end_on", "end_after", "end_never"]))]
pub struct UpdateArgs {
    /// The review's id.
    pub id: ReviewId,
    /// A new name (unique among the reviews not stopped).
    #[arg(long)]
    pub name: Option<String>,
    /// A new description ("" removes it).
    #[arg(long)]
    pub description: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,
    /// Which assignments are reviewed.
    #[arg(long, value_parser = parse_kinds, value_name = "eligible|active|both", help_heading = "Target")]
    pub kinds: Option<ReviewedKinds>,
    /// Only principals with no activation or sign-in for this many days (0: everyone).
    #[arg(long, value_name = "N", help_heading = "Target")]
    pub inactive_days: Option<u32>,
    #[command(flatten)]
    pub who: ReviewerArgs,

    /// A new start of the first instance (only before it started).
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, help_heading = "Schedule")]
    pub start: Option<Timestamp>,
    /// A new recurrence (only before the first instance started).
    #[arg(long, value_parser = parse_recurrence, value_name = "one-time|weekly|monthly|quarterly|semi-annually|annually", help_heading = "Schedule")]
    pub recurrence: Option<Recurrence>,
    /// How long each future instance lasts, in days.
    #[arg(long, value_name = "N", help_heading = "Schedule")]
    pub duration_days: Option<u32>,
    /// Start no instance on or after this time.
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, help_heading = "Schedule")]
    pub end_on: Option<Timestamp>,
    /// End after this many occurrences (missed ones count).
    #[arg(long, value_name = "N", help_heading = "Schedule")]
    pub end_after: Option<u32>,
    /// Recur for ever.
    #[arg(long, help_heading = "Schedule")]
    pub end_never: bool,

    /// Apply the results automatically when an instance ends.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true", help_heading = "Settings")]
    pub auto_apply: Option<bool>,
    /// What happens to items nobody reviewed.
    #[arg(long, value_parser = parse_if_no_response, value_name = "no-change|remove|approve|take-recommendation", help_heading = "Settings")]
    pub if_no_response: Option<IfNoResponse>,
    /// Whether reviewers must give a reason with each decision.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true", help_heading = "Settings")]
    pub reason_required: Option<bool>,
}

/// What a review covers, as `create` and `update` take it.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// A role whose assignments are reviewed (name or id); repeat or separate with commas; needs --scope.
    #[arg(long = "role", value_name = "ROLE", value_delimiter = ',', requires = "scope", help_heading = "Target")]
    pub roles: Vec<String>,
    /// Where the roles' assignments are reviewed: at this scope and below it.
    #[arg(long, value_parser = parse_scope, requires = "roles", conflicts_with = "group", help_heading = "Target")]
    pub scope: Option<ScopePath>,
    /// Review the membership of this group (name or id) instead: its static members and its Member
    /// assignments.
    #[arg(long, value_name = "GROUP", help_heading = "Target")]
    pub group: Option<String>,
}

impl TargetArgs {
    /// The target named, with names resolved to ids; `None` when none is given.
    async fn resolve(&self, client: &Client) -> anyhow::Result<Option<ReviewTarget>> {
        Ok(match (&self.group, &self.scope) {
            (Some(g), _) => Some(ReviewTarget::GroupMembership { group_id: group_id(client, g).await? }),
            (None, Some(scope)) => {
                Some(ReviewTarget::Roles { role_ids: role_ids(client, &self.roles).await?, scope: scope.clone() })
            }
            (None, None) => None,
        })
    }
}

/// Who reviews, as `create` and `update` take it.
#[derive(Debug, clap::Args)]
pub struct ReviewerArgs {
    /// Each principal reviews their own access (a group's or service principal's goes to you).
    #[arg(long, help_heading = "Reviewers")]
    pub self_review: bool,
    /// Each principal's manager reviews; principals without one go to the --fallback reviewers.
    #[arg(long, requires = "fallback", help_heading = "Reviewers")]
    pub managers: bool,
    /// With --managers: who reviews principals without a manager (user or group, name or id); repeat
    /// or separate with commas.
    #[arg(
        long,
        value_name = "USER_OR_GROUP",
        value_delimiter = ',',
        requires = "managers",
        help_heading = "Reviewers"
    )]
    pub fallback: Vec<String>,
    /// A reviewer of every item (user or group, name or id; any member of a group may review); repeat
    /// or separate with commas.
    #[arg(long = "reviewer", value_name = "USER_OR_GROUP", value_delimiter = ',', help_heading = "Reviewers")]
    pub reviewers: Vec<String>,
}

impl ReviewerArgs {
    /// The reviewers named, with names resolved to ids; `None` when none are given.
    async fn resolve(&self, client: &Client) -> anyhow::Result<Option<Reviewers>> {
        Ok(if self.self_review {
            Some(Reviewers::SelfReview)
        } else if self.managers {
            Some(Reviewers::Managers { fallback: reviewer_refs(client, &self.fallback).await? })
        } else if !self.reviewers.is_empty() {
            Some(Reviewers::Selected { reviewers: reviewer_refs(client, &self.reviewers).await? })
        } else {
            None
        })
    }
}

/// Options of `pim reviews create`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["roles", "group"]))]
#[command(group = clap::ArgGroup::new("who").required(true).args(["self_review", "managers", "reviewers"]))]
pub struct CreateArgs {
    /// The review's name (1-200 characters).
    pub name: String,
    /// What it is for.
    #[arg(long)]
    pub description: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,
    /// Which assignments are reviewed (static group members count as active).
    #[arg(long, value_parser = parse_kinds, default_value = "both", value_name = "eligible|active|both", help_heading = "Target")]
    pub kinds: ReviewedKinds,
    /// Only principals with no activation or sign-in for this many days (1-3650).
    #[arg(long, value_name = "N", help_heading = "Target")]
    pub inactive_days: Option<u32>,

    #[command(flatten)]
    pub who: ReviewerArgs,

    /// When the first instance starts (RFC 3339, a date, or e.g. +1d; at most a day in the past)
    /// [default: now, by the server's clock].
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, help_heading = "Schedule")]
    pub start: Option<Timestamp>,
    /// How often it recurs.
    #[arg(
        long,
        value_parser = parse_recurrence,
        default_value = "one-time",
        value_name = "one-time|weekly|monthly|quarterly|semi-annually|annually",
        help_heading = "Schedule"
    )]
    pub recurrence: Recurrence,
    /// How long each instance lasts, in days (1-180, and no longer than the recurrence period).
    #[arg(long, value_name = "N", help_heading = "Schedule")]
    pub duration_days: u32,
    /// A recurring review starts no instance on or after this time.
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true, conflicts_with = "end_after", help_heading = "Schedule")]
    pub end_on: Option<Timestamp>,
    /// A recurring review ends after this many occurrences (missed ones count).
    #[arg(long, value_name = "N", help_heading = "Schedule")]
    pub end_after: Option<u32>,

    /// Apply the results automatically when an instance ends (removals through adminRemove requests).
    #[arg(long, help_heading = "Settings")]
    pub auto_apply: bool,
    /// What happens to items nobody reviewed.
    #[arg(
        long,
        value_parser = parse_if_no_response,
        default_value = "no-change",
        value_name = "no-change|remove|approve|take-recommendation",
        help_heading = "Settings"
    )]
    pub if_no_response: IfNoResponse,
    /// Reviewers may decide without giving a reason [default: a reason is required].
    #[arg(long, help_heading = "Settings")]
    pub no_reason_required: bool,
}

/// Lower case without `-`, `_` or spaces, so `semi-annually`, `semiAnnually` and `SEMI_ANNUALLY` agree.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '-' | '_' | ' ')).flat_map(char::to_lowercase).collect()
}

fn parse_recurrence(s: &str) -> Result<Recurrence, String> {
    match squash(s).as_str() {
        "onetime" | "once" => Ok(Recurrence::OneTime),
        "weekly" => Ok(Recurrence::Weekly),
        "monthly" => Ok(Recurrence::Monthly),
        "quarterly" => Ok(Recurrence::Quarterly),
        "semiannually" => Ok(Recurrence::SemiAnnually),
        "annually" | "yearly" => Ok(Recurrence::Annually),
        _ => Err(format!(
            "'{s}' is not a recurrence: use one-time, weekly, monthly, quarterly, semi-annually or annually"
        )),
    }
}

fn parse_if_no_response(s: &str) -> Result<IfNoResponse, String> {
    match squash(s).as_str() {
        "nochange" => Ok(IfNoResponse::NoChange),
        "remove" => Ok(IfNoResponse::Remove),
        "approve" => Ok(IfNoResponse::Approve),
        "takerecommendation" => Ok(IfNoResponse::TakeRecommendation),
        _ => Err(format!("'{s}' is not a choice: use no-change, remove, approve or take-recommendation")),
    }
}

fn parse_kinds(s: &str) -> Result<ReviewedKinds, String> {
    match squash(s).as_str() {
        "eligible" => Ok(ReviewedKinds::Eligible),
        "active" => Ok(ReviewedKinds::Active),
        "both" => Ok(ReviewedKinds::Both),
        _ => Err(format!("'{s}' is not a kind: use eligible, active or both")),
    }
}

fn recurrence_name(r: Recurrence) -> &'static str {
    match r {
        Recurrence::OneTime => "one-time",
        Recurrence::Weekly => "weekly",
        Recurrence::Monthly => "monthly",
        Recurrence::Quarterly => "quarterly",
        Recurrence::SemiAnnually => "semi-annually",
        Recurrence::Annually => "annually",
    }
}

fn if_no_response_name(r: IfNoResponse) -> &'static str {
    match r {
        IfNoResponse::NoChange => "no-change (keep the access)",
        IfNoResponse::Remove => "remove",
        IfNoResponse::Approve => "approve",
        IfNoResponse::TakeRecommendation => "take-recommendation",
    }
}

fn kinds_name(k: ReviewedKinds) -> &'static str {
    match k {
        ReviewedKinds::Eligible => "eligible",
        ReviewedKinds::Active => "active",
        ReviewedKinds::Both => "both",
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    }
}

/// Users and groups named on the command line, as reviewer references (the kind is the
/// principal's; the server refuses service principals).
async fn reviewer_refs(client: &Client, names: &[String]) -> anyhow::Result<Vec<ApproverRef>> {
    let mut out = Vec::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let p = resolve::principal(client, n).await?;
        out.push(ApproverRef { kind: p.kind, id: p.id });
    }
    Ok(out)
}

/// The request body of `pim reviews create`, with names resolved to ids.
async fn create_body(client: &Client, a: CreateArgs) -> anyhow::Result<CreateReview> {
    if a.recurrence == Recurrence::OneTime && (a.end_on.is_some() || a.end_after.is_some()) {
        return Err(anyhow!("--end-on and --end-after apply to a recurring review: give --recurrence too"));
    }
    let target =
        a.target.resolve(client).await?.ok_or_else(|| anyhow!("give --role ROLE --scope SCOPE, or --group GROUP"))?;
    let reviewers =
        a.who.resolve(client).await?.ok_or_else(|| anyhow!("give --self-review, --managers or --reviewer"))?;
    let end = match (a.end_on, a.end_after) {
        (Some(at), _) => ReviewEnd::OnDate { at },
        (None, Some(count)) => ReviewEnd::AfterOccurrences { count },
        (None, None) => ReviewEnd::Never,
    };
    Ok(CreateReview {
        name: a.name,
        description: a.description,
        target,
        kinds: a.kinds,
        inactive_days: a.inactive_days,
        reviewers,
        schedule: ReviewScheduleInput { start: a.start, recurrence: a.recurrence, duration_days: a.duration_days, end },
        auto_apply: a.auto_apply,
        if_no_response: a.if_no_response,
        reason_required: !a.no_reason_required,
    })
}

/// The request body of `pim reviews update`, with names resolved to ids.
async fn update_body(client: &Client, a: UpdateArgs) -> anyhow::Result<UpdateReview> {
    let target = a.target.resolve(client).await?;
    let reviewers = a.who.resolve(client).await?;
    let end = match (a.end_on, a.end_after, a.end_never) {
        (Some(at), _, _) => Some(ReviewEnd::OnDate { at }),
        (None, Some(count), _) => Some(ReviewEnd::AfterOccurrences { count }),
        (None, None, true) => Some(ReviewEnd::Never),
        (None, None, false) => None,
    };
    let schedule =
        UpdateReviewSchedule { start: a.start, recurrence: a.recurrence, duration_days: a.duration_days, end };
    let body = UpdateReview {
        name: a.name,
        description: a.description,
        target,
        kinds: a.kinds,
        inactive_days: a.inactive_days,
        reviewers,
        schedule: (schedule != UpdateReviewSchedule::default()).then_some(schedule),
        auto_apply: a.auto_apply,
        if_no_response: a.if_no_response,
        reason_required: a.reason_required,
    };
    if body == UpdateReview::default() {
        return Err(anyhow!("nothing to change: give at least one option (see pim reviews update --help)"));
    }
    Ok(body)
}

/// The group named `g` (or with that id).
async fn group_id(client: &Client, g: &str) -> anyhow::Result<pim_api::PrincipalId> {
    let p = resolve::principal(client, g).await?;
    if p.kind != PrincipalKind::Group {
        return Err(anyhow!("{} is a {}, not a group", p.name, p.kind.as_str()));
    }
    Ok(p.id)
}

/// The roles named (or with those ids), each once.
async fn role_ids(client: &Client, roles: &[String]) -> anyhow::Result<Vec<pim_api::RoleId>> {
    let mut out = Vec::new();
    for r in roles.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let id = resolve::role_id(client, r).await?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// What a review covers, for people: `Owner, Reader at /prod` or `members of group ops`.
async fn target_text(names: &mut Names<'_>, t: &ReviewTarget) -> String {
    match t {
        ReviewTarget::Roles { role_ids, scope } => {
            let mut roles = Vec::new();
            for r in role_ids {
                roles.push(names.role(*r).await);
            }
            format!("{} at {scope}", roles.join(", "))
        }
        ReviewTarget::GroupMembership { group_id } => format!("members of group {}", names.principal(*group_id).await),
    }
}

async fn refs_text(names: &mut Names<'_>, list: &[ApproverRef]) -> String {
    let mut out = Vec::new();
    for r in list {
        out.push(format!("{} ({})", names.principal(r.id).await, r.kind.as_str()));
    }
    out.join(", ")
}

/// Who reviews, for people.
async fn reviewers_text(names: &mut Names<'_>, r: &Reviewers) -> String {
    match r {
        Reviewers::SelfReview => "self-review".to_owned(),
        Reviewers::Managers { fallback } => format!("managers; fallback {}", refs_text(names, fallback).await),
        Reviewers::Selected { reviewers } => refs_text(names, reviewers).await,
    }
}

fn end_text(e: &ReviewEnd) -> String {
    match e {
        ReviewEnd::Never => "never".to_owned(),
        ReviewEnd::OnDate { at } => format!("no instance starts on or after {}", time(*at)),
        ReviewEnd::AfterOccurrences { count: n } => format!("after {}", count(*n, "occurrence", "occurrences")),
    }
}

async fn reviews_table(names: &mut Names<'_>, list: &[ReviewDefinition]) -> String {
    let mut t = Table::new(&["ID", "NAME", "TARGET", "REVIEWERS", "RECURRENCE", "START", "STOPPED"]);
    for d in list {
        t.row(vec![
            d.id.to_string(),
            d.name.clone(),
            target_text(names, &d.target).await,
            reviewers_text(names, &d.reviewers).await,
            recurrence_name(d.schedule.recurrence).to_owned(),
            time(d.schedule.start),
            d.stopped_at.map(time).unwrap_or_else(|| "no".to_owned()),
        ]);
    }
    t.render()
}

async fn review_listing(names: &mut Names<'_>, d: &ReviewDefinition) -> String {
    let s = &d.schedule;
    listing(&[
        ("review", d.id.to_string()),
        ("name", d.name.clone()),
        ("description", d.description.clone().unwrap_or_default()),
        ("target", target_text(names, &d.target).await),
        ("kinds", kinds_name(d.kinds).to_owned()),
        (
            "inactive days",
            d.inactive_days
                .map(|n| format!("only principals inactive for {}", count(n, "day", "days")))
                .unwrap_or_default(),
        ),
        ("reviewers", reviewers_text(names, &d.reviewers).await),
        ("recurrence", recurrence_name(s.recurrence).to_owned()),
        ("start", time(s.start)),
        ("duration", format!("{} each", count(s.duration_days, "day", "days"))),
        ("ends", if s.recurrence == Recurrence::OneTime { String::new() } else { end_text(&s.end) }),
        ("auto-apply", yes_no(d.auto_apply)),
        ("if no response", if_no_response_name(d.if_no_response).to_owned()),
        ("reason required", yes_no(d.reason_required)),
        ("created by", names.principal(d.created_by).await),
        ("created", time(d.created_at)),
        ("stopped", opt_time(d.stopped_at)),
    ])
}

fn instances_table(list: &[ReviewInstance]) -> String {
    let mut t = Table::new(&[
        "INSTANCE",
        "OCCURRENCE",
        "STATUS",
        "START",
        "END",
        "ITEMS",
        "APPROVED",
        "DENIED",
        "NOT REVIEWED",
        "TO REMOVE",
        "REMOVED",
    ]);
    for i in list {
        let c = i.counts.unwrap_or_default();
        t.row(vec![
            i.id.to_string(),
            (u64::from(i.occurrence) + 1).to_string(),
            i.status.as_str().to_owned(),
            time(i.start),
            time(i.end),
            c.total.to_string(),
            c.approved.to_string(),
            c.denied.to_string(),
            c.not_reviewed.to_string(),
            c.to_remove.to_string(),
            c.removed.to_string(),
        ]);
    }
    t.render()
}

fn instance_listing(i: &ReviewInstance) -> String {
    let counts = i.counts.map(|c| {
        (format!("{} ({} approved, {} denied, {} not reviewed)", c.total, c.approved, c.denied, c.not_reviewed), c)
    });
    let done = i.status != InstanceStatus::InProgress;
    listing(&[
        ("instance", i.id.to_string()),
        (
            "review",
            match &i.review_name {
                Some(n) => format!("{n} ({})", i.review_id),
                None => i.review_id.to_string(),
            },
        ),
        ("occurrence", (u64::from(i.occurrence) + 1).to_string()),
        ("status", i.status.as_str().to_owned()),
        ("start", time(i.start)),
        ("end", time(i.end)),
        ("reminded", opt_time(i.reminded_at)),
        ("completed", opt_time(i.completed_at)),
        ("applied", opt_time(i.applied_at)),
        ("items", counts.as_ref().map(|(s, _)| s.clone()).unwrap_or_default()),
        ("to remove", counts.as_ref().filter(|_| done).map(|(_, c)| c.to_remove.to_string()).unwrap_or_default()),
        (
            "removed",
            counts
                .as_ref()
                .filter(|_| i.status == InstanceStatus::Applied)
                .map(|(_, c)| c.removed.to_string())
                .unwrap_or_default(),
        ),
    ])
}

/// An item's kind; a static group membership (no assignment) says so.
fn item_kind(i: &ReviewItem) -> String {
    match i.assignment_id {
        Some(_) => i.kind.as_str().to_owned(),
        None => format!("{} (static member)", i.kind.as_str()),
    }
}

fn last_activity(i: &ReviewItem) -> String {
    i.last_activity.map(time).unwrap_or_else(|| "never".to_owned())
}

fn last_use(i: &ReviewItem) -> String {
    i.last_use.map(time).unwrap_or_else(|| "none reported".to_owned())
}

fn decision_text(i: &ReviewItem) -> String {
    i.decision.as_ref().map(|d| verdict_name(d.verdict).to_owned()).unwrap_or_else(|| "not reviewed".to_owned())
}

fn name_or_id(name: &Option<String>, id: impl ToString) -> String {
    name.clone().unwrap_or_else(|| id.to_string())
}

async fn results_table(names: &mut Names<'_>, items: &[ReviewItem]) -> String {
    let mut t = Table::new(&[
        "ITEM",
        "PRINCIPAL",
        "ROLE",
        "SCOPE",
        "KIND",
        "LAST ACTIVITY",
        "LAST USE",
        "RECOMMENDATION",
        "DECISION",
        "BY",
        "REASON",
        "OUTCOME",
        "APPLIED",
    ]);
    for i in items {
        let d = i.decision.as_ref();
        let applied = match &i.applied {
            Some(a) => match &a.message {
                Some(m) => format!("{}: {m}", a.status.as_str()),
                None => a.status.as_str().to_owned(),
            },
            None => String::new(),
        };
        t.row(vec![
            i.id.to_string(),
            name_or_id(&i.principal_name, i.principal_id),
            name_or_id(&i.role_name, i.role_id),
            i.scope.to_string(),
            item_kind(i),
            last_activity(i),
            last_use(i),
            verdict_name(i.recommendation).to_owned(),
            decision_text(i),
            names.opt_principal(d.map(|d| d.by)).await,
            d.and_then(|d| d.reason.clone()).unwrap_or_default(),
            match i.outcome {
                Some(ItemOutcome::Keep) => "keep",
                Some(ItemOutcome::Remove) => "remove",
                None => "",
            }
            .to_owned(),
            applied,
        ]);
    }
    t.render()
}

/// Runs `pim reviews ...`.
pub async fn run(ctx: &Ctx, command: ReviewsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut names = Names::new(&client);
    match command {
        ReviewsCommand::Create(args) => {
            let body = create_body(&client, *args).await?;
            let def = client.create_review(&body).await?;
            if ctx.format == Format::Json {
                return output::print_json(&def);
            }
            let mut text = review_listing(&mut names, &def).await;
            // The instance that started with it, if any (reading needs pim.reviews.read).
            if let Ok(detail) = client.get_review(def.id).await {
                text.push_str("\n\n");
                text.push_str(&instances_table(&detail.instances));
            }
            output::print(&text)
        }
        ReviewsCommand::List => {
            let page = client.list_reviews().await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            output::print(&reviews_table(&mut names, &page.items).await)
        }
        ReviewsCommand::Show { id } => {
            let detail = client.get_review(id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&detail);
            }
            let mut text = review_listing(&mut names, &detail.review).await;
            text.push_str("\n\n");
            text.push_str(&instances_table(&detail.instances));
            output::print(&text)
        }
        ReviewsCommand::Update(args) => {
            let id = args.id;
            let body = update_body(&client, *args).await?;
            let def = client.update_review(id, &body).await?;
            if ctx.format == Format::Json {
                return output::print_json(&def);
            }
            output::print(&review_listing(&mut names, &def).await)
        }
        ReviewsCommand::Stop { id } => {
            let def = client.stop_review(id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&def);
            }
            output::print(&review_listing(&mut names, &def).await)
        }
        ReviewsCommand::Instance { id } => {
            let i = client.get_review_instance(id).await?;
            output::show(ctx.format, &i, || instance_listing(&i))
        }
        ReviewsCommand::Results { id, format, out } => {
            if format.is_some() || out.is_some() {
                let bytes = client.review_results_file(id, format.unwrap_or(ExportFormat::Json)).await?;
                return output::write_file(&bytes, out);
            }
            let r = client.review_results(id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&r);
            }
            let mut text = instance_listing(&r.instance);
            text.push_str("\n\n");
            text.push_str(&results_table(&mut names, &r.items).await);
            output::print(&text)
        }
        ReviewsCommand::Reset { id } => {
            let i = client.reset_review_instance(id).await?;
            output::show(ctx.format, &i, || instance_listing(&i))
        }
        ReviewsCommand::StopInstance { id } => {
            let i = client.stop_review_instance(id).await?;
            output::show(ctx.format, &i, || instance_listing(&i))
        }
        ReviewsCommand::Apply { id } => {
            let i = client.apply_review_instance(id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&i);
            }
            let mut text = instance_listing(&i);
            // What applying did to each removal (reading needs pim.reviews.read).
            if let Ok(r) = client.review_results(id).await {
                let removals: Vec<ReviewItem> =
                    r.items.into_iter().filter(|x| x.outcome == Some(ItemOutcome::Remove)).collect();
                text.push_str("\n\n");
                text.push_str(&results_table(&mut names, &removals).await);
            }
            output::print(&text)
        }
        ReviewsCommand::Mine => {
            let page = client.my_reviews().await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut t = Table::new(&[
                "INSTANCE",
                "ITEM",
                "REVIEW",
                "ENDS",
                "PRINCIPAL",
                "ROLE",
                "SCOPE",
                "KIND",
                "LAST ACTIVITY",
                "LAST USE",
                "RECOMMENDATION",
                "DECISION",
            ]);
            for w in &page.items {
                for i in &w.items {
                    t.row(vec![
                        w.instance.id.to_string(),
                        i.id.to_string(),
                        w.review.name.clone(),
                        time(w.instance.end),
                        name_or_id(&i.principal_name, i.principal_id),
                        name_or_id(&i.role_name, i.role_id),
                        i.scope.to_string(),
                        item_kind(i),
                        last_activity(i),
                        last_use(i),
                        verdict_name(i.recommendation).to_owned(),
                        decision_text(i),
                    ]);
                }
            }
            output::print(&t.render())
        }
        ReviewsCommand::Decide { instance, items, approve, deny, accept_recommendations, reason } => {
            let verdict = if approve {
                Some(Verdict::Approve)
            } else if deny {
                Some(Verdict::Deny)
            } else {
                None
            };
            let body = DecideReviewItems {
                item_ids: (!items.is_empty()).then_some(items),
                verdict,
                accept_recommendations,
                reason,
            };
            let page = client.decide_review_items(instance, &body).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            if page.items.is_empty() {
                output::note(&format!("Nothing to decide: you have no undecided items in instance {instance}."));
                return Ok(());
            }
            let mut t = Table::new(&["ITEM", "PRINCIPAL", "ROLE", "SCOPE", "KIND", "RECOMMENDATION", "DECISION"]);
            for i in &page.items {
                t.row(vec![
                    i.id.to_string(),
                    name_or_id(&i.principal_name, i.principal_id),
                    name_or_id(&i.role_name, i.role_id),
                    i.scope.to_string(),
                    item_kind(i),
                    verdict_name(i.recommendation).to_owned(),
                    decision_text(i),
                ]);
            }
            output::print(&t.render())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_occurrence_reads_in_the_singular() {
        assert_eq!(end_text(&ReviewEnd::AfterOccurrences { count: 1 }), "after 1 occurrence");
        assert_eq!(end_text(&ReviewEnd::AfterOccurrences { count: 4 }), "after 4 occurrences");
    }

    #[test]
    fn choices_parse_in_either_spelling() {
        assert_eq!(parse_recurrence("semi-annually"), Ok(Recurrence::SemiAnnually));
        assert_eq!(parse_recurrence("semiAnnually"), Ok(Recurrence::SemiAnnually));
        assert_eq!(parse_recurrence("one-time"), Ok(Recurrence::OneTime));
        assert!(parse_recurrence("daily").unwrap_err().contains("one-time, weekly"));
        assert_eq!(parse_if_no_response("take-recommendation"), Ok(IfNoResponse::TakeRecommendation));
        assert_eq!(parse_if_no_response("noChange"), Ok(IfNoResponse::NoChange));
        assert!(parse_if_no_response("keep").is_err());
        assert_eq!(parse_kinds("Eligible"), Ok(ReviewedKinds::Eligible));
        assert!(parse_kinds("all").is_err());
        for r in [
            Recurrence::OneTime,
            Recurrence::Weekly,
            Recurrence::Monthly,
            Recurrence::Quarterly,
            Recurrence::SemiAnnually,
            Recurrence::Annually,
        ] {
            assert_eq!(parse_recurrence(recurrence_name(r)), Ok(r));
        }
    }
}
