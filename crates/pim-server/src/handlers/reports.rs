//! Reports: who holds what at a scope now, and activation history (JSON or CSV).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pim_api::{
    AccessReport, AccessReportQuery, AccessReportRow, ActivationCount, ActivationReport, ActivationReportQuery,
    ExportFormat, Problem, ScopePath, Timestamp,
};
use pim_engine::reports::AccessFilter;

use crate::AppState;
use crate::csv_export::{cell, csv_bytes};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Ctx, Query};

/// An internal error (CSV or JSON encoding failed).
pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::from(pim_engine::EngineError::Internal(e.to_string()))
}

/// A download named `name.csv` or `name.json`.
pub(crate) fn file(body: Vec<u8>, csv: bool, name: &str) -> Response {
    let (ctype, ext) = if csv { ("text/csv; charset=utf-8", "csv") } else { ("application/json", "json") };
    let disposition = format!("attachment; filename=\"{name}.{ext}\"");
    ([(header::CONTENT_TYPE, ctype.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// The columns of the access report's CSV, in order.
pub const ACCESS_CSV_COLUMNS: [&str; 14] = [
    "principalId",
    "principalName",
    "principalKind",
    "roleId",
    "roleName",
    "scope",
    "kind",
    "source",
    "via",
    "viaGroupName",
    "inherited",
    "assignmentId",
    "start",
    "end",
];

/// Who holds what at a scope and below it, in effect now: direct or through a group, assigned
/// there or inherited from a parent scope, eligible or active. Needs `pim.reports.read` at the scope.
#[utoipa::path(get, path = "/api/v1/reports/access", tag = "reports", security(("bearer" = [])), params(AccessReportQuery),
    responses((status = 200, description = "the report as JSON (format=json, the default) or CSV (format=csv)",
        content((AccessReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn access_report(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AccessReportQuery>,
) -> ApiResult<Response> {
    let under = q.under.unwrap_or_else(ScopePath::root);
    // Authorized (and refusals recorded) before names are resolved.
    s.engine.authorize_report(&ctx, &under).await?;
    let principal = match q.principal {
        None => None,
        Some(v) => Some(match v.parse() {
            Ok(id) => id,
            Err(_) => s
                .engine
                .index()
                .resolve_name(&v)
                .ok_or_else(|| ApiError::from(pim_domain::DomainError::not_found(format!("principal '{v}'"))))?,
        }),
    };
    let role = match q.role {
        None => None,
        Some(v) => Some(s.engine.get_role(&ctx, &v).await?.id),
    };
    let filter = AccessFilter { under: under.clone(), principal, role, kind: q.kind };
    let rows: Vec<AccessReportRow> = s
        .engine
        .access_report(&ctx, &filter)
        .await?
        .into_iter()
        .map(|r| AccessReportRow {
            principal_id: r.principal_id,
            principal_name: r.principal_name,
            principal_kind: r.principal_kind,
            role_id: r.role_id,
            role_name: r.role_name,
            scope: r.scope,
            kind: r.kind,
            source: r.source.to_owned(),
            via: if r.via_group.is_some() { "group" } else { "direct" }.to_owned(),
            via_group_id: r.via_group.as_ref().map(|g| g.0),
            via_group_name: r.via_group.map(|g| g.1),
            inherited: r.inherited,
            assignment_id: r.assignment_id,
            start: r.start,
            end: r.end,
        })
        .collect();
    if q.format == Some(ExportFormat::Csv) {
        let lines = rows
            .iter()
            .map(|r| {
                vec![
                    r.principal_id.to_string(),
                    cell(&r.principal_name),
                    r.principal_kind.as_str().to_owned(),
                    r.role_id.to_string(),
                    cell(&r.role_name),
                    r.scope.to_string(),
                    r.kind.as_str().to_owned(),
                    r.source.clone(),
                    r.via.clone(),
                    cell(r.via_group_name.as_deref().unwrap_or_default()),
                    r.inherited.to_string(),
                    r.assignment_id.to_string(),
                    r.start.to_rfc3339(),
                    r.end.map(Timestamp::to_rfc3339).unwrap_or_default(),
                ]
            })
            .collect();
        return Ok(file(csv_bytes(&ACCESS_CSV_COLUMNS, lines)?, true, "pim-access"));
    }
    let report = AccessReport { under, at: s.engine.now(), rows };
    Ok(file(serde_json::to_vec(&report).map_err(internal)?, false, "pim-access"))
}

/// How many activations there were per role, per principal and per day (UTC) over a time range.
/// Needs `pim.reports.read` at the scope (`under`, default `/`).
#[utoipa::path(get, path = "/api/v1/reports/activations", tag = "reports", security(("bearer" = [])), params(ActivationReportQuery),
    responses((status = 200, description = "the counts as JSON (format=json, the default) or CSV (format=csv: dimension,key,name,count; the dimensions total, used, activityEvents, role, principal, day)",
        content((ActivationReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn activation_report(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<ActivationReportQuery>,
) -> ApiResult<Response> {
    let under = q.under.unwrap_or_else(ScopePath::root);
    let to = q.to.unwrap_or_else(|| s.engine.now());
    let from = q.from.unwrap_or(Timestamp(to.0.saturating_sub(30 * pim_domain::time::DAY_MS)));
    let c = s.engine.activation_report(&ctx, from, to, &under).await?;
    let count = |(key, name, count): (String, String, u64)| ActivationCount { key, name, count };
    let report = ActivationReport {
        from,
        to,
        under,
        total: c.total,
        by_role: c.by_role.into_iter().map(count).collect(),
        by_principal: c.by_principal.into_iter().map(count).collect(),
        by_day: c.by_day.into_iter().map(|(key, n)| ActivationCount { key, name: String::new(), count: n }).collect(),
        used: c.used,
        activity_events: c.activity_events,
    };
    if q.format == Some(ExportFormat::Csv) {
        let line = |dim: &str, n: u64| vec![dim.to_owned(), String::new(), String::new(), n.to_string()];
        let mut lines = vec![
            line("total", report.total),
            line("used", report.used),
            line("activityEvents", report.activity_events),
        ];
        for (dim, list) in [("role", &report.by_role), ("principal", &report.by_principal), ("day", &report.by_day)] {
            for c in list {
                lines.push(vec![dim.to_owned(), c.key.clone(), cell(&c.name), c.count.to_string()]);
            }
        }
        return Ok(file(csv_bytes(&["dimension", "key", "name", "count"], lines)?, true, "pim-activations"));
    }
    Ok(file(serde_json::to_vec(&report).map_err(internal)?, false, "pim-activations"))
}
