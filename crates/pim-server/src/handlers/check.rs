//! The check API.

use axum::extract::State;
use pim_api::{CheckRequest, CheckResponse, Problem, ScopePath};

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
    let g = a.grant.as_ref();
    Ok(Json(CheckResponse {
        allowed: a.allowed,
        principal_id: a.principal_id,
        assignment_id: g.map(|g| g.assignment_id),
        role_id: g.map(|g| g.role_id),
        role_name: g.and_then(|g| s.engine.index().role_name(g.role_id)).map(|n| n.to_string()),
        scope: g.and_then(|g| ScopePath::parse(&g.scope).ok()),
        via_group: g.and_then(|g| g.via_group),
        via_group_name: g.and_then(|g| g.via_group).and_then(|id| s.engine.index().principal(id)).map(|p| p.name),
        ends_at: g.and_then(|g| g.ends_at),
    }))
}
