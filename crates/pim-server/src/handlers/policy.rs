//! Declarative policy: export the policy as TOML, plan and apply a policy file.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pim_api::{PolicyChangeView, PolicyExportQuery, PolicyFieldDiff, PolicyReport, PolicyRequest, Problem, ScopePath};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Query};

fn wire(r: pim_engine::policy::PolicyReport) -> PolicyReport {
    PolicyReport {
        scope: r.scope,
        prune: r.prune,
        differs: !r.changes.is_empty(),
        changes: r
            .changes
            .into_iter()
            .map(|c| PolicyChangeView {
                op: c.change.op().to_owned(),
                object: c.change.object().to_owned(),
                key: c.change.key(),
                status: c.status.as_str().to_owned(),
                fields: c
                    .change
                    .fields()
                    .into_iter()
                    .map(|f| PolicyFieldDiff { field: f.field, from: f.from, to: f.to })
                    .collect(),
                settings_change_id: c.settings_change_id,
            })
            .collect(),
    }
}

/// The policy at a scope and below as a TOML file (custom roles, groups and their static members,
/// role settings, eligible and permanent active assignments; never activations or secrets).
#[utoipa::path(get, path = "/api/v1/policy/export", tag = "policy", security(("bearer" = [])), params(PolicyExportQuery),
    responses((status = 200, description = "the policy file", content((String = "application/toml"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn export_policy(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<PolicyExportQuery>,
) -> ApiResult<Response> {
    let text = s.engine.export_policy(&ctx, &q.scope.unwrap_or_else(ScopePath::root)).await?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// What applying a policy file would change; changes nothing.
#[utoipa::path(post, path = "/api/v1/policy/plan", tag = "policy", security(("bearer" = [])), request_body = PolicyRequest,
    responses((status = 200, body = PolicyReport), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn plan_policy(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<PolicyRequest>,
) -> ApiResult<Json<PolicyReport>> {
    Ok(Json(wire(s.engine.plan_policy(&ctx, &b.policy, b.prune).await?)))
}

/// Applies a policy file in one transaction (all of it or nothing); removals only with `prune`;
/// changes to protected settings are filed as proposals.
#[utoipa::path(post, path = "/api/v1/policy/apply", tag = "policy", security(("bearer" = [])), request_body = PolicyRequest,
    responses((status = 200, body = PolicyReport), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn apply_policy(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<PolicyRequest>,
) -> ApiResult<Json<PolicyReport>> {
    Ok(Json(wire(s.engine.apply_policy(&ctx, &b.policy, b.prune, b.justification).await?)))
}
