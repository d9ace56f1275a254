//! Access reviews: definitions, instances, reviewers' decisions and results as JSON or CSV
//! (docs/REVIEWS.md).

use axum::extract::State;
use axum::response::Response;
use pim_api::{
    CreateReview, DecideReviewItem, DecideReviewItems, ExportFormat, MyReview, Page, Problem, ReviewDefinition,
    ReviewDetail, ReviewId, ReviewInstance, ReviewInstanceId, ReviewItem, ReviewItemId, ReviewItemsQuery,
    ReviewResults, ReviewSchedule, Timestamp, UpdateReview,
};
use pim_engine::reviews::{ItemDecisionInput, NewReview};

use super::reports::{file, internal};
use crate::AppState;
use crate::csv_export::{cell, csv_bytes};
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};

/// The columns of an instance's results as CSV, in order.
pub const RESULTS_CSV_COLUMNS: [&str; 21] = [
    "itemId",
    "principalId",
    "principalName",
    "roleId",
    "roleName",
    "scope",
    "kind",
    "assignmentId",
    "lastActivity",
    "lastUse",
    "recommendation",
    "decision",
    "reason",
    "reviewedBy",
    "reviewedByName",
    "reviewedAt",
    "outcome",
    "applied",
    "appliedMessage",
    "appliedRequestId",
    "reviewers",
];

/// Creates an access review (needs `pim.reviews.write` at the target's scope; for a group's
/// membership, at `/groups/{id}`). Its first instance starts at once when its start has come.
#[utoipa::path(post, path = "/api/v1/reviews", tag = "reviews", security(("bearer" = [])), request_body = CreateReview,
    responses((status = 201, body = ReviewDefinition), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn create_review(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateReview>,
) -> ApiResult<(axum::http::StatusCode, Json<ReviewDefinition>)> {
    let schedule = ReviewSchedule {
        start: b.schedule.start.unwrap_or_else(|| s.engine.now()),
        recurrence: b.schedule.recurrence,
        duration_days: b.schedule.duration_days,
        end: b.schedule.end,
    };
    let new = NewReview {
        name: b.name,
        description: b.description,
        target: b.target,
        kinds: b.kinds,
        inactive_days: b.inactive_days,
        reviewers: b.reviewers,
        schedule,
        auto_apply: b.auto_apply,
        if_no_response: b.if_no_response,
        reason_required: b.reason_required,
    };
    Ok((axum::http::StatusCode::CREATED, Json(s.engine.create_review(&ctx, new).await?)))
}

/// Edits a definition for its future instances: the instance in progress keeps its items and its
/// end (needs `pim.reviews.write` at the old and the new target's scope). Refused: the schedule's
/// start or recurrence once an instance started, the target while one is in progress.
#[utoipa::path(patch, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)), request_body = UpdateReview,
    responses((status = 200, body = ReviewDefinition), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_review(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewId>,
    Json(b): Json<UpdateReview>,
) -> ApiResult<Json<ReviewDefinition>> {
    let sch = b.schedule.unwrap_or_default();
    let edit = pim_engine::reviews::ReviewEdit {
        name: b.name,
        description: b.description,
        target: b.target,
        kinds: b.kinds,
        inactive_days: b.inactive_days,
        reviewers: b.reviewers,
        start: sch.start,
        recurrence: sch.recurrence,
        duration_days: sch.duration_days,
        end: sch.end,
        auto_apply: b.auto_apply,
        if_no_response: b.if_no_response,
        reason_required: b.reason_required,
    };
    Ok(Json(s.engine.update_review(&ctx, id, edit).await?))
}

/// Review definitions the caller may read (`pim.reviews.read` at each one's scope), oldest first.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", security(("bearer" = [])),
    responses((status = 200, body = Page<ReviewDefinition>), (status = 401, body = Problem)))]
pub async fn list_reviews(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<ReviewDefinition>>> {
    Ok(Json(Page::all(s.engine.list_reviews(&ctx).await?)))
}

/// A review definition with its instances, newest first (needs `pim.reviews.read` at its scope).
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)),
    responses((status = 200, body = ReviewDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_review(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewId>,
) -> ApiResult<Json<ReviewDetail>> {
    let d = s.engine.get_review(&ctx, id).await?;
    Ok(Json(ReviewDetail { review: d.review, instances: d.instances }))
}

/// Stops a review: no further instance starts, and the one in progress completes now (needs
/// `pim.reviews.write` at its scope).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/stop", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewId, Path)),
    responses((status = 200, body = ReviewDefinition), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn stop_review(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewId>,
) -> ApiResult<Json<ReviewDefinition>> {
    Ok(Json(s.engine.stop_review(&ctx, id).await?))
}

/// One instance with its counts (needs `pim.reviews.read` at its review's scope).
#[utoipa::path(get, path = "/api/v1/review-instances/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path)),
    responses((status = 200, body = ReviewInstance), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_review_instance(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
) -> ApiResult<Json<ReviewInstance>> {
    Ok(Json(s.engine.get_review_instance(&ctx, id).await?))
}

/// An instance's results: every item with its recommendation, decision, outcome and what applying
/// did, as JSON or CSV (needs `pim.reviews.read` at its review's scope).
#[utoipa::path(get, path = "/api/v1/review-instances/{id}/items", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path), ReviewItemsQuery),
    responses((status = 200, body = ReviewResults, description = "the results as JSON (format=json, the default) or CSV (format=csv)"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_review_items(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
    Query(q): Query<ReviewItemsQuery>,
) -> ApiResult<Response> {
    let (review, instance, items) = s.engine.list_review_items(&ctx, id).await?;
    let name = format!("pim-review-{id}");
    if q.format == Some(ExportFormat::Csv) {
        let lines = items.iter().map(|i| results_row(&s, i)).collect();
        return Ok(file(csv_bytes(&RESULTS_CSV_COLUMNS, lines)?, true, &name));
    }
    let body = ReviewResults { review, instance, items };
    Ok(file(serde_json::to_vec(&body).map_err(internal)?, false, &name))
}

/// One item of an instance's results as a CSV row ([`RESULTS_CSV_COLUMNS`]); the portal's download
/// uses it too.
pub(crate) fn results_row(s: &AppState, i: &ReviewItem) -> Vec<String> {
    let name_of = |id| s.engine.index().principal(id).map(|p| p.name).unwrap_or_default();
    let d = i.decision.as_ref();
    let verdict = |v: pim_api::Verdict| if v == pim_api::Verdict::Approve { "approve" } else { "deny" };
    vec![
        i.id.to_string(),
        i.principal_id.to_string(),
        cell(i.principal_name.as_deref().unwrap_or_default()),
        i.role_id.to_string(),
        cell(i.role_name.as_deref().unwrap_or_default()),
        i.scope.to_string(),
        i.kind.as_str().to_owned(),
        i.assignment_id.map(|a| a.to_string()).unwrap_or_default(),
        i.last_activity.map(Timestamp::to_rfc3339).unwrap_or_default(),
        i.last_use.map(Timestamp::to_rfc3339).unwrap_or_default(),
        verdict(i.recommendation).to_owned(),
        d.map(|d| verdict(d.verdict)).unwrap_or_default().to_owned(),
        cell(d.and_then(|d| d.reason.as_deref()).unwrap_or_default()),
        d.map(|d| d.by.to_string()).unwrap_or_default(),
        cell(&d.map(|d| name_of(d.by)).unwrap_or_default()),
        d.map(|d| d.at.to_rfc3339()).unwrap_or_default(),
        match i.outcome {
            Some(pim_api::ItemOutcome::Keep) => "keep",
            Some(pim_api::ItemOutcome::Remove) => "remove",
            None => "",
        }
        .to_owned(),
        i.applied.as_ref().map(|a| a.status.as_str()).unwrap_or_default().to_owned(),
        cell(i.applied.as_ref().and_then(|a| a.message.as_deref()).unwrap_or_default()),
        i.applied_request_id.map(|r| r.to_string()).unwrap_or_default(),
        cell(&i.reviewers.iter().map(|r| name_of(r.id)).collect::<Vec<_>>().join(" ")),
    ]
}

/// Clears every decision of an instance in progress (needs `pim.reviews.write` at its review's scope).
#[utoipa::path(post, path = "/api/v1/review-instances/{id}/reset", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path)),
    responses((status = 200, body = ReviewInstance), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn reset_review_instance(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
) -> ApiResult<Json<ReviewInstance>> {
    Ok(Json(s.engine.reset_review_instance(&ctx, id).await?))
}

/// Ends an instance in progress now: outcomes are computed, and applied at once when the review
/// applies automatically (needs `pim.reviews.write` at its review's scope).
#[utoipa::path(post, path = "/api/v1/review-instances/{id}/stop", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path)),
    responses((status = 200, body = ReviewInstance), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn stop_review_instance(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
) -> ApiResult<Json<ReviewInstance>> {
    Ok(Json(s.engine.stop_review_instance(&ctx, id).await?))
}

/// Applies a completed instance's results: each removal through an `adminRemove` request (needs
/// `pim.reviews.write` at its review's scope). Applying twice is refused.
#[utoipa::path(post, path = "/api/v1/review-instances/{id}/apply", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path)),
    responses((status = 200, body = ReviewInstance), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn apply_review_instance(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
) -> ApiResult<Json<ReviewInstance>> {
    Ok(Json(s.engine.apply_review_instance(&ctx, id).await?))
}

/// Decides items of an instance in progress: the given ones, or every undecided item the caller
/// reviews; approve, deny, or take pim's recommendations. All or nothing. Reviewers need no permission.
#[utoipa::path(post, path = "/api/v1/review-instances/{id}/decisions", tag = "reviews", security(("bearer" = [])),
    params(("id" = ReviewInstanceId, Path)), request_body = DecideReviewItems,
    responses((status = 200, body = Page<ReviewItem>), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decide_review_items(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ReviewInstanceId>,
    Json(b): Json<DecideReviewItems>,
) -> ApiResult<Json<Page<ReviewItem>>> {
    let input = ItemDecisionInput {
        item_ids: b.item_ids,
        verdict: b.verdict,
        accept_recommendations: b.accept_recommendations,
        reason: b.reason,
    };
    Ok(Json(Page::all(s.engine.decide_review_items(&ctx, id, input).await?)))
}

/// Decides one item of an instance in progress (the reviewer may change it until the end).
#[utoipa::path(post, path = "/api/v1/review-instances/{id}/items/{itemId}/decision", tag = "reviews",
    security(("bearer" = [])), params(("id" = ReviewInstanceId, Path), ("itemId" = ReviewItemId, Path)),
    request_body = DecideReviewItem,
    responses((status = 200, body = ReviewItem), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decide_review_item(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path((id, item_id)): Path<(ReviewInstanceId, ReviewItemId)>,
    Json(b): Json<DecideReviewItem>,
) -> ApiResult<Json<ReviewItem>> {
    let input = ItemDecisionInput {
        item_ids: Some(vec![item_id]),
        verdict: Some(b.verdict),
        accept_recommendations: false,
        reason: b.reason,
    };
    let mut items = s.engine.decide_review_items(&ctx, id, input).await?;
    items.pop().map(Json).ok_or_else(|| internal("a decision on one item returned none"))
}

/// The instances in progress in which the caller reviews items, with those items.
#[utoipa::path(get, path = "/api/v1/me/reviews", tag = "reviews", security(("bearer" = [])),
    responses((status = 200, body = Page<MyReview>), (status = 401, body = Problem)))]
pub async fn my_reviews(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<MyReview>>> {
    let work = s.engine.my_reviews(&ctx).await?;
    Ok(Json(Page::all(
        work.into_iter().map(|w| MyReview { review: w.review, instance: w.instance, items: w.items }).collect(),
    )))
}
