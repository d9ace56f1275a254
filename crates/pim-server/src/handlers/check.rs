//! The check API: one question, or a batch of them in one round trip.

use axum::extract::State;
use pim_api::{BatchCheckRequest, BatchCheckResponse, CheckRequest, CheckResponse, Problem, ScopePath};
use pim_engine::check::{CheckAnswer, Question};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json};

/// May a principal perform an action at a scope now (or at `at`)?
#[utoipa::path(post, path = "/api/v1/check", tag = "check", security(("bearer" = [])), request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn check(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    let a = s.engine.check(&ctx, &b.principal, &b.action, &b.scope, b.at)?;
    s.metrics.count_check(a.allowed);
    Ok(Json(response(&s, a)))
}

/// Many checks in one round trip (1 to 1000), answered in order: for gateways that authorize a
/// page of resources at once. A bad question refuses the whole batch and names it.
#[utoipa::path(post, path = "/api/v1/check/batch", tag = "check", security(("bearer" = [])), request_body = BatchCheckRequest,
    responses((status = 200, body = BatchCheckResponse), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "a question names a principal that does not exist", body = Problem)))]
pub async fn check_batch(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<BatchCheckRequest>,
) -> ApiResult<Json<BatchCheckResponse>> {
    let questions: Vec<Question<'_>> = b
        .checks
        .iter()
        .map(|c| Question { principal: &c.principal, action: &c.action, scope: &c.scope, at: c.at })
        .collect();
    let answers = s.engine.check_many(&ctx, &questions)?;
    let results = answers
        .into_iter()
        .map(|a| {
            s.metrics.count_check(a.allowed);
            response(&s, a)
        })
        .collect();
    Ok(Json(BatchCheckResponse { results }))
}

/// A check's answer as the API shows it.
fn response(s: &AppState, a: CheckAnswer) -> CheckResponse {
    let g = a.grant.as_ref();
    CheckResponse {
        allowed: a.allowed,
        principal_id: a.principal_id,
        assignment_id: g.map(|g| g.assignment_id),
        role_id: g.map(|g| g.role_id),
        role_name: g.and_then(|g| s.engine.index().role_name(g.role_id)).map(|n| n.to_string()),
        scope: g.and_then(|g| ScopePath::parse(&g.scope).ok()),
        via_group: g.and_then(|g| g.via_group),
        via_group_name: g.and_then(|g| g.via_group).and_then(|id| s.engine.index().principal(id)).map(|p| p.name),
        ends_at: g.and_then(|g| g.ends_at),
    }
}
