//! Approvals: what waits for the caller, approve or deny (one or many), protected settings
//! changes, and the review of break-glass activations.

use axum::extract::State;
use pim_api::{
    BreakGlassQuery, BreakGlassReview, BulkDecision, BulkDecisionItem, BulkDecisionResult, CompleteReview,
    DecideRequest, DecideSettingsChange, Page, Problem, ProblemItem, Request, RequestId, RequestOutcome,
    SettingsChange, SettingsChangeId, SettingsChangeQuery, Verdict,
};
use pim_engine::EngineError;
use pim_engine::requests::DecisionInput;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Ctx, Json, Path, Query};

/// Most requests one bulk decision may name.
pub const MAX_BULK: usize = 100;

/// Requests waiting for the caller's decision now (directly or through a group; escalations included).
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", security(("bearer" = [])),
    responses((status = 200, body = Page<Request>), (status = 401, body = Problem)))]
pub async fn list_approvals(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<Request>>> {
    Ok(Json(Page::all(s.engine.pending_approvals(&ctx).await?)))
}

/// Approves or denies many requests with one justification; each is decided on its own and the
/// answer lists the outcome of each.
#[utoipa::path(post, path = "/api/v1/approvals", tag = "approvals", security(("bearer" = [])), request_body = BulkDecision,
    responses((status = 200, body = BulkDecisionResult), (status = 400, body = Problem)))]
pub async fn decide_requests(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<BulkDecision>,
) -> ApiResult<Json<BulkDecisionResult>> {
    if b.request_ids.is_empty() || b.request_ids.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!("requestIds must name 1 to {MAX_BULK} requests")));
    }
    let mut seen = std::collections::HashSet::new();
    if !b.request_ids.iter().all(|id| seen.insert(*id)) {
        return Err(ApiError::bad_request("requestIds names a request twice"));
    }
    let input = DecisionInput { verdict: b.verdict, justification: b.justification, end: None };
    let mut items = Vec::with_capacity(b.request_ids.len());
    for (id, r) in s.engine.decide_many(&ctx, &b.request_ids, &input).await? {
        items.push(match r {
            Ok(o) => BulkDecisionItem { request_id: id, request: Some(o.request), problem: None },
            Err(EngineError::Refused(e)) => BulkDecisionItem {
                request_id: id,
                request: None,
                problem: Some(ProblemItem { code: e.code().to_owned(), message: e.message }),
            },
            Err(e) => return Err(e.into()),
        });
    }
    Ok(Json(BulkDecisionResult { items }))
}

async fn decide(
    s: AppState,
    ctx: pim_engine::Context,
    id: RequestId,
    verdict: Verdict,
    b: DecideRequest,
) -> ApiResult<Json<RequestOutcome>> {
    let input = DecisionInput { verdict, justification: b.justification, end: b.end };
    let o = s.engine.decide(&ctx, id, input).await?;
    Ok(Json(RequestOutcome { request: o.request, assignment: o.assignment }))
}

/// Approves a request (as an approver of its current stage).
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "approvals", security(("bearer" = [])),
    params(("id" = RequestId, Path)), request_body = DecideRequest,
    responses((status = 200, body = RequestOutcome), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn approve_request(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<RequestId>,
    Json(b): Json<DecideRequest>,
) -> ApiResult<Json<RequestOutcome>> {
    decide(s, ctx, id, Verdict::Approve, b).await
}

/// Denies a request: one denial ends it.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = "approvals", security(("bearer" = [])),
    params(("id" = RequestId, Path)), request_body = DecideRequest,
    responses((status = 200, body = RequestOutcome), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn deny_request(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<RequestId>,
    Json(b): Json<DecideRequest>,
) -> ApiResult<Json<RequestOutcome>> {
    decide(s, ctx, id, Verdict::Deny, b).await
}

/// Changes to protected role settings, at scopes where the caller may read settings, newest first.
#[utoipa::path(get, path = "/api/v1/settings-changes", tag = "approvals", security(("bearer" = [])),
    params(SettingsChangeQuery), responses((status = 200, body = Page<SettingsChange>), (status = 400, body = Problem)))]
pub async fn list_settings_changes(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<SettingsChangeQuery>,
) -> ApiResult<Json<Page<SettingsChange>>> {
    Ok(Json(Page::all(s.engine.list_settings_changes(&ctx, q.status).await?)))
}

/// A change to protected role settings.
#[utoipa::path(get, path = "/api/v1/settings-changes/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = SettingsChangeId, Path)),
    responses((status = 200, body = SettingsChange), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_settings_change(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<SettingsChangeId>,
) -> ApiResult<Json<SettingsChange>> {
    Ok(Json(s.engine.get_settings_change(&ctx, id).await?))
}

/// A second administrator approves a settings change, which applies it.
#[utoipa::path(post, path = "/api/v1/settings-changes/{id}/approve", tag = "approvals", security(("bearer" = [])),
    params(("id" = SettingsChangeId, Path)), request_body = DecideSettingsChange,
    responses((status = 200, body = SettingsChange), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn approve_settings_change(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<SettingsChangeId>,
    Json(b): Json<DecideSettingsChange>,
) -> ApiResult<Json<SettingsChange>> {
    Ok(Json(s.engine.decide_settings_change(&ctx, id, Verdict::Approve, b.justification).await?))
}

/// A second administrator denies a settings change.
#[utoipa::path(post, path = "/api/v1/settings-changes/{id}/deny", tag = "approvals", security(("bearer" = [])),
    params(("id" = SettingsChangeId, Path)), request_body = DecideSettingsChange,
    responses((status = 200, body = SettingsChange), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn deny_settings_change(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<SettingsChangeId>,
    Json(b): Json<DecideSettingsChange>,
) -> ApiResult<Json<SettingsChange>> {
    Ok(Json(s.engine.decide_settings_change(&ctx, id, Verdict::Deny, b.justification).await?))
}

/// The proposer withdraws a settings change.
#[utoipa::path(post, path = "/api/v1/settings-changes/{id}/cancel", tag = "approvals", security(("bearer" = [])),
    params(("id" = SettingsChangeId, Path)),
    responses((status = 200, body = SettingsChange), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_settings_change(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<SettingsChangeId>,
) -> ApiResult<Json<SettingsChange>> {
    Ok(Json(s.engine.cancel_settings_change(&ctx, id).await?))
}

/// Break-glass activations queued for review, at scopes where the caller may read requests.
#[utoipa::path(get, path = "/api/v1/break-glass-reviews", tag = "approvals", security(("bearer" = [])),
    params(BreakGlassQuery), responses((status = 200, body = Page<BreakGlassReview>), (status = 400, body = Problem)))]
pub async fn list_break_glass_reviews(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<BreakGlassQuery>,
) -> ApiResult<Json<Page<BreakGlassReview>>> {
    Ok(Json(Page::all(s.engine.list_break_glass_reviews(&ctx, q.pending.unwrap_or(false)).await?)))
}

/// Records the review of a break-glass activation (by an approver of its scope, not the activator).
#[utoipa::path(post, path = "/api/v1/break-glass-reviews/{id}/complete", tag = "approvals", security(("bearer" = [])),
    params(("id" = RequestId, Path)), request_body = CompleteReview,
    responses((status = 200, body = BreakGlassReview), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn complete_break_glass_review(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<RequestId>,
    Json(b): Json<CompleteReview>,
) -> ApiResult<Json<BreakGlassReview>> {
    Ok(Json(s.engine.complete_break_glass_review(&ctx, id, b.verdict, b.note).await?))
}
