//! Security alerts and their rules (docs/ALERTS.md).

use axum::extract::State;
use pim_api::{Alert, AlertId, AlertQuery, AlertRule, DismissAlert, Page, Problem, RemediationResult, UpdateAlertRule};
use pim_engine::alerts::RuleUpdate;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};

/// The alert rules with their severity, enabled flag and thresholds (needs `pim.alerts.read` at `/`).
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Page<AlertRule>), (status = 403, body = Problem)))]
pub async fn list_alert_rules(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<AlertRule>>> {
    Ok(Json(Page::all(s.engine.list_alert_rules(&ctx).await?)))
}

/// Changes a rule's severity, enabled flag or thresholds (needs `pim.alerts.write` at `/`).
#[utoipa::path(put, path = "/api/v1/alert-rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path, description = "The rule id, e.g. `frequentActivations`")), request_body = UpdateAlertRule,
    responses((status = 200, body = AlertRule), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn update_alert_rule(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(b): Json<UpdateAlertRule>,
) -> ApiResult<Json<AlertRule>> {
    let update = RuleUpdate { severity: b.severity, enabled: b.enabled, thresholds: b.thresholds };
    Ok(Json(s.engine.update_alert_rule(&ctx, &id, update).await?))
}

/// Alerts, newest first (needs `pim.alerts.read` at `/`).
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = Page<Alert>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_alerts(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Page<Alert>>> {
    Ok(Json(Page::all(s.engine.list_alerts(&ctx, q.state).await?)))
}

/// Evaluates every rule now; returns the active alerts (needs `pim.alerts.write` at `/`).
#[utoipa::path(post, path = "/api/v1/alerts/evaluate", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Page<Alert>), (status = 403, body = Problem)))]
pub async fn evaluate_alerts(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<Alert>>> {
    Ok(Json(Page::all(s.engine.evaluate_alerts(&ctx).await?)))
}

/// One alert (needs `pim.alerts.read` at `/`).
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = AlertId, Path)),
    responses((status = 200, body = Alert), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_alert(State(s): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<AlertId>) -> ApiResult<Json<Alert>> {
    Ok(Json(s.engine.get_alert(&ctx, id).await?))
}

/// Dismisses an active alert with a reason (needs `pim.alerts.write` at `/`).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/dismiss", tag = "alerts", security(("bearer" = [])),
    params(("id" = AlertId, Path)), request_body = DismissAlert,
    responses((status = 200, body = Alert), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn dismiss_alert(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<AlertId>,
    Json(b): Json<DismissAlert>,
) -> ApiResult<Json<Alert>> {
    Ok(Json(s.engine.dismiss_alert(&ctx, id, Some(b.reason)).await?))
}

/// Applies the fix of a remediable alert (needs `pim.alerts.write` at `/` and what the fix needs).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/remediate", tag = "alerts", security(("bearer" = [])),
    params(("id" = AlertId, Path)),
    responses((status = 200, body = RemediationResult), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remediate_alert(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<AlertId>,
) -> ApiResult<Json<RemediationResult>> {
    let r = s.engine.remediate_alert(&ctx, id).await?;
    Ok(Json(RemediationResult { alert: r.alert, changes: r.changes }))
}
