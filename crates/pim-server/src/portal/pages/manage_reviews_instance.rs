//! Manage, Access reviews: one instance of a review with its items (principal, role, scope, kind,
//! recommendation, decision, reviewer, reason, outcome, what applying did), stopping it,
//! resetting its decisions, applying its results, and its results as the API's CSV. Reading needs
//! `pim.reviews.read`, the actions `pim.reviews.write`, at the review's scope.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use pim_domain::ReviewInstanceId;
use pim_domain::actions::REVIEWS_WRITE;
use pim_domain::approval::Verdict;
use pim_domain::message::count;
use pim_domain::review::{InstanceStatus, ItemCounts, ItemOutcome, ReviewItem};
use pim_engine::EngineError;
use pim_engine::reviews::target_scope;

use super::manage::{Tab, tabs};
use super::manage_reviews::{id_of, status_label};
use crate::AppState;
use crate::csv_export::csv_bytes;
use crate::handlers::reports::file;
use crate::handlers::reviews::{RESULTS_CSV_COLUMNS, results_row};
use crate::portal::session::Session;
use crate::portal::view::principal_name;
use crate::portal::view::refused;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, opt_time, redirect_with, render, time};

/// The routes of an instance's pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/review-instances/{id}", get(show_instance))
        .route("/manage/review-instances/{id}/stop", post(stop_instance))
        .route("/manage/review-instances/{id}/reset", post(reset_instance))
        .route("/manage/review-instances/{id}/apply", post(apply_instance))
        .route("/manage/review-instances/{id}/results.csv", get(download_results))
}

/// A verdict as the API writes it.
fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Deny => "deny",
    }
}

struct ItemRow {
    principal: String,
    role: String,
    scope: String,
    kind: &'static str,
    last_activity: String,
    last_use: String,
    recommendation: &'static str,
    decision: &'static str,
    reviewer: String,
    reason: String,
    outcome: &'static str,
    applied: String,
}

#[derive(Template)]
#[template(path = "manage_reviews_instance.html")]
struct InstancePage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    id: String,
    review_id: String,
    review_name: String,
    occurrence: u32,
    window: String,
    status: &'static str,
    completed: String,
    applied: String,
    counts: ItemCounts,
    items: Vec<ItemRow>,
    may_write: bool,
    in_progress: bool,
    completed_only: bool,
}

fn item_row(s: &AppState, i: &ReviewItem) -> ItemRow {
    let d = i.decision.as_ref();
    ItemRow {
        principal: i.principal_name.clone().unwrap_or_else(|| i.principal_id.to_string()),
        role: i.role_name.clone().unwrap_or_else(|| i.role_id.to_string()),
        scope: i.scope.to_string(),
        kind: i.kind.as_str(),
        last_activity: opt_time(i.last_activity),
        last_use: opt_time(i.last_use),
        recommendation: verdict(i.recommendation),
        decision: d.map_or("not reviewed", |d| verdict(d.verdict)),
        reviewer: match d {
            Some(d) => principal_name(s, d.by),
            None => i.reviewers.iter().map(|r| principal_name(s, r.id)).collect::<Vec<_>>().join(", "),
        },
        reason: d.and_then(|d| d.reason.clone()).unwrap_or_default(),
        outcome: match i.outcome {
            Some(ItemOutcome::Keep) => "keep",
            Some(ItemOutcome::Remove) => "remove",
            None => "-",
        },
        applied: match &i.applied {
            Some(a) => match &a.message {
                Some(m) => format!("{}: {m}", a.status.as_str()),
                None => a.status.as_str().to_owned(),
            },
            None => "-".to_owned(),
        },
    }
}

/// `GET /manage/review-instances/{id}`: the instance with its items.
async fn show_instance(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let id: ReviewInstanceId = id_of(&session, &id, "access review instance")?;
    let mut chrome = Chrome::new(&session, "manage", "Access review instance");
    let (review, instance, items) =
        s.engine.list_review_items(&session.ctx, id).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    chrome.title = format!("{}: occurrence {}", review.name, instance.occurrence + 1);
    Ok(render(&InstancePage {
        tabs: tabs(&s, &session, "reviews"),
        id: instance.id.to_string(),
        review_id: review.id.to_string(),
        review_name: review.name.clone(),
        occurrence: instance.occurrence + 1,
        window: format!("{} to {}", time(instance.start), time(instance.end)),
        status: status_label(instance.status),
        completed: opt_time(instance.completed_at),
        applied: opt_time(instance.applied_at),
        counts: instance.counts.unwrap_or_else(|| ItemCounts::of(&items)),
        items: items.iter().map(|i| item_row(&s, i)).collect(),
        may_write: session.allowed(&s, REVIEWS_WRITE, &target_scope(&review.target)),
        in_progress: instance.status == InstanceStatus::InProgress,
        completed_only: instance.status == InstanceStatus::Completed,
        chrome,
    }))
}

/// Back to the instance with what an action did, or why it was refused.
fn back_to_instance(session: &Session, id: ReviewInstanceId, done: Result<String, EngineError>) -> PortalResult {
    let back = format!("/manage/review-instances/{id}");
    match done {
        Ok(text) => Ok(redirect_with(&back, Flash::ok(text))),
        Err(e) => refused(session, &back, &e),
    }
}

/// `POST /manage/review-instances/{id}/stop`: ends it now; outcomes are computed.
async fn stop_instance(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: FormData,
) -> PortalResult {
    let id: ReviewInstanceId = id_of(&session, &id, "access review instance")?;
    let done = s.engine.stop_review_instance(&session.ctx, id).await.map(|i| {
        let c = i.counts.unwrap_or_default();
        format!(
            "Stopped: the instance is {}; {} of {} to be removed.",
            status_label(i.status),
            c.to_remove,
            count(c.total, "item is", "items are")
        )
    });
    back_to_instance(&session, id, done)
}

/// `POST /manage/review-instances/{id}/reset`: clears every decision.
async fn reset_instance(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: FormData,
) -> PortalResult {
    let id: ReviewInstanceId = id_of(&session, &id, "access review instance")?;
    let done = s
        .engine
        .reset_review_instance(&session.ctx, id)
        .await
        .map(|_| "Reset: every decision of this instance was cleared.".to_owned());
    back_to_instance(&session, id, done)
}

/// `POST /manage/review-instances/{id}/apply`: carries out the removals of a completed instance.
async fn apply_instance(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: FormData,
) -> PortalResult {
    let id: ReviewInstanceId = id_of(&session, &id, "access review instance")?;
    let done = s.engine.apply_review_instance(&session.ctx, id).await.map(|i| {
        let c = i.counts.unwrap_or_default();
        format!("Applied: {}.", c.removals())
    });
    back_to_instance(&session, id, done)
}

/// `GET /manage/review-instances/{id}/results.csv`: the results, as the API's CSV.
async fn download_results(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let id: ReviewInstanceId = id_of(&session, &id, "access review instance")?;
    let chrome = Chrome::new(&session, "manage", "Access review results");
    let (_, _, items) =
        s.engine.list_review_items(&session.ctx, id).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let rows = items.iter().map(|i| results_row(&s, i)).collect();
    let body = csv_bytes(&RESULTS_CSV_COLUMNS, rows)
        .map_err(|_| PortalError::from(EngineError::Internal("the results could not be written as CSV".into())))?;
    Ok(file(body, true, &format!("pim-review-{id}")).into_response())
}
