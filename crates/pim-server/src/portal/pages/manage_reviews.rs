//! Manage, the Access reviews tab (docs/REVIEWS.md): the review definitions the user may read,
//! and one definition with its instances and their counts (and stopping it). One instance with
//! its items is in `manage_reviews_instance`, creating a review in `manage_reviews_create`. Reading needs `pim.reviews.read`, changing `pim.reviews.write`, at
//! the review's scope (a group's membership: `/groups/{id}`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use pim_domain::actions::{REVIEWS_READ, REVIEWS_WRITE};
use pim_domain::message::count;
use pim_domain::review::{
    IfNoResponse, InstanceStatus, ItemCounts, Recurrence, ReviewDefinition, ReviewEnd, ReviewInstance, ReviewTarget,
    ReviewedKinds, Reviewers,
};
use pim_domain::{ErrorKind, ReviewId};
use pim_engine::reviews::target_scope;

use super::manage::{Tab, tabs};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render, time};
use crate::portal::view::{principal_name, role_name};

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/reviews", get(list_reviews))
        .route("/manage/reviews/{id}", get(show_review))
        .route("/manage/reviews/{id}/stop", post(stop_review))
        .merge(super::manage_reviews_instance::routes())
        .merge(super::manage_reviews_create::routes())
}

/// What a review covers, in words.
fn target_text(s: &AppState, t: &ReviewTarget) -> String {
    match t {
        ReviewTarget::Roles { role_ids, scope } => {
            let names: Vec<String> = role_ids.iter().map(|r| role_name(s, *r)).collect();
            format!("{} at {scope}", names.join(", "))
        }
        ReviewTarget::GroupMembership { group_id } => format!("members of group {}", principal_name(s, *group_id)),
    }
}

fn reviewers_text(s: &AppState, r: &Reviewers) -> String {
    let names = |list: &[pim_domain::settings::ApproverRef]| {
        list.iter().map(|a| principal_name(s, a.id)).collect::<Vec<_>>().join(", ")
    };
    match r {
        Reviewers::SelfReview => "each principal (self-review)".to_owned(),
        Reviewers::Managers { fallback } => format!("managers (fallback: {})", names(fallback)),
        Reviewers::Selected { reviewers } => names(reviewers),
    }
}

/// The recurrences: form value, label.
pub(crate) const RECURRENCES: &[(&str, &str)] = &[
    ("oneTime", "One time"),
    ("weekly", "Weekly"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
    ("semiAnnually", "Semi-annually"),
    ("annually", "Annually"),
];

/// What happens to unanswered items: form value, label.
pub(crate) const IF_NO_RESPONSE: &[(&str, &str)] = &[
    ("noChange", "No change"),
    ("remove", "Remove access"),
    ("approve", "Approve access"),
    ("takeRecommendation", "Take the recommendation"),
];

/// The reviewed kinds: form value, label.
pub(crate) const KINDS: &[(&str, &str)] =
    &[("both", "Eligible and active"), ("eligible", "Eligible only"), ("active", "Active only")];

pub(crate) fn recurrence_value(r: Recurrence) -> &'static str {
    match r {
        Recurrence::OneTime => "oneTime",
        Recurrence::Weekly => "weekly",
        Recurrence::Monthly => "monthly",
        Recurrence::Quarterly => "quarterly",
        Recurrence::SemiAnnually => "semiAnnually",
        Recurrence::Annually => "annually",
    }
}

fn label(list: &[(&'static str, &'static str)], value: &str) -> &'static str {
    list.iter().find(|(v, _)| *v == value).map_or("", |(_, l)| l)
}

fn kinds_value(k: ReviewedKinds) -> &'static str {
    match k {
        ReviewedKinds::Both => "both",
        ReviewedKinds::Eligible => "eligible",
        ReviewedKinds::Active => "active",
    }
}

fn if_no_response_value(i: IfNoResponse) -> &'static str {
    match i {
        IfNoResponse::NoChange => "noChange",
        IfNoResponse::Remove => "remove",
        IfNoResponse::Approve => "approve",
        IfNoResponse::TakeRecommendation => "takeRecommendation",
    }
}

fn end_text(e: &ReviewEnd) -> String {
    match e {
        ReviewEnd::Never => "never".to_owned(),
        ReviewEnd::OnDate { at } => format!("no instance starts on or after {}", time(*at)),
        ReviewEnd::AfterOccurrences { count: n } => format!("after {}", count(*n, "occurrence", "occurrences")),
    }
}

fn status_text(s: &AppState, d: &ReviewDefinition) -> String {
    match d.stopped_at {
        Some(t) => format!("stopped {}", time(t)),
        None if d.schedule.start > s.engine.now() => format!("starts {}", time(d.schedule.start)),
        None => "running".to_owned(),
    }
}

pub(crate) fn id_of<T: std::str::FromStr>(session: &Session, raw: &str, what: &str) -> Result<T, PortalError> {
    raw.parse().map_err(|_| {
        PortalError::new(ErrorKind::NotFound, format!("there is no {what} '{raw}'"))
            .within(&Chrome::new(session, "manage", ""))
    })
}

struct ReviewRow {
    id: String,
    name: String,
    target: String,
    reviewers: String,
    recurrence: String,
    status: String,
}

#[derive(Template)]
#[template(path = "manage_reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    reviews: Vec<ReviewRow>,
    may_create: bool,
}

/// `GET /manage/reviews`.
async fn list_reviews(State(s): State<AppState>, session: Session) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Access reviews");
    if s.engine.scopes_allowing(&session.ctx, REVIEWS_READ).is_empty() {
        return Err(PortalError::new(ErrorKind::Forbidden, "you may not read access reviews anywhere").within(&chrome));
    }
    let defs = s.engine.list_reviews(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let reviews = defs
        .iter()
        .map(|d| ReviewRow {
            id: d.id.to_string(),
            name: d.name.clone(),
            target: target_text(&s, &d.target),
            reviewers: reviewers_text(&s, &d.reviewers),
            recurrence: format!(
                "{}, {} each",
                label(RECURRENCES, recurrence_value(d.schedule.recurrence)),
                count(d.schedule.duration_days, "day", "days")
            ),
            status: status_text(&s, d),
        })
        .collect();
    Ok(render(&ReviewsPage {
        tabs: tabs(&s, &session, "reviews"),
        reviews,
        may_create: !s.engine.scopes_allowing(&session.ctx, REVIEWS_WRITE).is_empty(),
        chrome,
    }))
}

/// An instance's row in a definition's page.
struct InstanceRow {
    id: String,
    occurrence: u32,
    start: String,
    end: String,
    status: &'static str,
    counts: ItemCounts,
}

#[derive(Template)]
#[template(path = "manage_reviews_detail.html")]
struct ReviewPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    facts: Vec<(&'static str, String)>,
    instances: Vec<InstanceRow>,
    may_stop: bool,
}

fn instance_row(i: &ReviewInstance) -> InstanceRow {
    InstanceRow {
        id: i.id.to_string(),
        occurrence: i.occurrence + 1,
        start: time(i.start),
        end: time(i.end),
        status: status_label(i.status),
        counts: i.counts.unwrap_or_default(),
    }
}

pub(crate) fn status_label(s: InstanceStatus) -> &'static str {
    match s {
        InstanceStatus::InProgress => "in progress",
        InstanceStatus::Completed => "completed",
        InstanceStatus::Applied => "applied",
    }
}

/// `GET /manage/reviews/{id}`: the definition and its instances.
async fn show_review(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let id: ReviewId = id_of(&session, &id, "access review")?;
    let mut chrome = Chrome::new(&session, "manage", "Access review");
    let d = s.engine.get_review(&session.ctx, id).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let r = &d.review;
    chrome.title = format!("Access review: {}", r.name);
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let facts = vec![
        ("Description", r.description.clone().unwrap_or_else(|| "-".into())),
        ("What is reviewed", target_text(&s, &r.target)),
        ("Assignments", label(KINDS, kinds_value(r.kinds)).to_owned()),
        ("Only principals inactive for", r.inactive_days.map_or_else(|| "-".into(), |n| count(n, "day", "days"))),
        ("Reviewers", reviewers_text(&s, &r.reviewers)),
        ("First start", time(r.schedule.start)),
        ("Recurrence", label(RECURRENCES, recurrence_value(r.schedule.recurrence)).to_owned()),
        ("Each instance lasts", count(r.schedule.duration_days, "day", "days")),
        ("Ends", end_text(&r.schedule.end)),
        ("Apply results automatically", yes(r.auto_apply)),
        ("If a reviewer does not answer", label(IF_NO_RESPONSE, if_no_response_value(r.if_no_response)).to_owned()),
        ("Reason required", yes(r.reason_required)),
        ("Created", format!("{} by {}", time(r.created_at), principal_name(&s, r.created_by))),
        ("Status", status_text(&s, r)),
    ];
    Ok(render(&ReviewPage {
        tabs: tabs(&s, &session, "reviews"),
        id: r.id.to_string(),
        may_stop: r.stopped_at.is_none() && session.allowed(&s, REVIEWS_WRITE, &target_scope(&r.target)),
        facts,
        instances: d.instances.iter().map(instance_row).collect(),
        chrome,
    }))
}

/// `POST /manage/reviews/{id}/stop`: no further instance starts; the one in progress completes.
async fn stop_review(State(s): State<AppState>, session: Session, Path(id): Path<String>, _: FormData) -> PortalResult {
    let id: ReviewId = id_of(&session, &id, "access review")?;
    let back = format!("/manage/reviews/{id}");
    match s.engine.stop_review(&session.ctx, id).await {
        Ok(d) => Ok(redirect_with(
            &back,
            Flash::ok(format!("Stopped {}: no further instance starts, and the one in progress is completed.", d.name)),
        )),
        Err(e) => refused(&session, &back, &e),
    }
}
