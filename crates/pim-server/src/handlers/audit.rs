//! The audit history: list, export (CSV, JSON) and verify.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pim_api::{
    AuditChainProblem, AuditEvent, AuditExportQuery, AuditQuery, AuditVerifyReport, ExportFormat, Page, PrincipalId,
    Problem, RoleId,
};
use pim_engine::Context;
use pim_engine::audit::AuditQuery as EngineQuery;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Ctx, Json, Query};
use crate::paging;

fn principal_ref(s: &AppState, v: Option<String>) -> ApiResult<Option<PrincipalId>> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(id) = v.parse() {
        return Ok(Some(id));
    }
    s.engine
        .index()
        .resolve_name(&v)
        .map(Some)
        .ok_or_else(|| pim_domain::DomainError::not_found(format!("principal '{v}'")).into())
}

async fn role_ref(s: &AppState, ctx: &Context, v: Option<String>) -> ApiResult<Option<RoleId>> {
    match v {
        None => Ok(None),
        Some(v) => Ok(Some(s.engine.get_role(ctx, &v).await?.id)),
    }
}

/// Longest cursor the audit list issues: an event's sequence number (at most 20 digits), in base64.
pub const MAX_CURSOR_LEN: usize = 28;

/// Refuses filters longer than any value they could match: a principal's name or id, a role's
/// name or id, an action, or a cursor this server issued.
pub fn check_filter_lengths(q: &AuditQuery) -> ApiResult<()> {
    let fields = [
        ("actor", &q.actor, pim_domain::principal::MAX_NAME_LEN),
        ("principal", &q.principal, pim_domain::principal::MAX_NAME_LEN),
        ("role", &q.role, pim_domain::role::MAX_ROLE_NAME_LEN),
        ("action", &q.action, pim_domain::permission::MAX_ACTION_LEN),
        ("cursor", &q.cursor, MAX_CURSOR_LEN),
    ];
    for (field, value, max) in fields {
        if value.as_ref().is_some_and(|v| v.len() > max) {
            return Err(ApiError::bad_request(format!("the {field} filter is longer than {max} bytes")));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn engine_query(s: &AppState, ctx: &Context, q: AuditQuery) -> ApiResult<EngineQuery> {
    // Authorize before resolving names, so that outsiders cannot probe which names exist.
    s.engine.audit_visibility(ctx).await?;
    check_filter_lengths(&q)?;
    Ok(EngineQuery {
        from: q.from,
        to: q.to,
        actor: principal_ref(s, q.actor)?,
        principal: principal_ref(s, q.principal)?,
        role: role_ref(s, ctx, q.role).await?,
        scope: q.scope,
        action: q.action,
        outcome: q.outcome,
        before_seq: paging::decode::<i64>(q.cursor.as_deref())?,
        limit: paging::limit(q.limit)?,
    })
}

/// Audit events, newest first, within the scopes where the caller may read the audit history.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let query = engine_query(&s, &ctx, q).await?;
    let limit = query.limit;
    let items = s.engine.list_audit(&ctx, query).await?;
    Ok(Json(paging::page(items, limit, |e| e.seq)))
}

/// The caller's own audit events, newest first: those they did and those that concern them.
/// Any signed-in principal may read them; the filters and paging are those of `/api/v1/audit`.
#[utoipa::path(get, path = "/api/v1/me/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn my_audit(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    // Signed in first, so that anonymous callers cannot probe names.
    s.engine.signed_in(&ctx)?;
    check_filter_lengths(&q)?;
    let role = match q.role {
        None => None,
        // Role names are resolved as the system: the caller needs no right to read role definitions.
        Some(v) => Some(s.engine.get_role(&Context::system(), &v).await?.id),
    };
    let query = EngineQuery {
        from: q.from,
        to: q.to,
        actor: principal_ref(&s, q.actor)?,
        principal: principal_ref(&s, q.principal)?,
        role,
        scope: q.scope,
        action: q.action,
        outcome: q.outcome,
        before_seq: paging::decode::<i64>(q.cursor.as_deref())?,
        limit: paging::limit(q.limit)?,
    };
    let limit = query.limit;
    let items = s.engine.my_audit(&ctx, query).await?;
    Ok(Json(paging::page(items, limit, |e| e.seq)))
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 18] = [
    "seq",
    "at",
    "action",
    "outcome",
    "errorCode",
    "actorId",
    "actorName",
    "principalId",
    "roleId",
    "scope",
    "justification",
    "ticket",
    "requestId",
    "httpRequestId",
    "clientAddr",
    "details",
    "prevHash",
    "hash",
];

/// Free text of an event as a formula-neutralized cell (empty when absent).
fn cell(v: Option<&str>) -> String {
    crate::csv_export::cell(v.unwrap_or_default())
}

/// Renders events as CSV with a header line.
pub fn to_csv(events: &[AuditEvent]) -> Result<Vec<u8>, ApiError> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let rows = events.iter().map(|e| {
        vec![
            e.seq.to_string(),
            e.at.to_rfc3339(),
            e.action.clone(),
            e.outcome.as_str().to_owned(),
            opt(e.error_code.clone()),
            opt(e.actor_id.map(|v| v.to_string())),
            cell(e.actor_name.as_deref()),
            opt(e.principal_id.map(|v| v.to_string())),
            opt(e.role_id.map(|v| v.to_string())),
            opt(e.scope.as_ref().map(|v| v.to_string())),
            cell(e.justification.as_deref()),
            cell(e.ticket.as_deref()),
            opt(e.request_id.map(|v| v.to_string())),
            cell(e.http_request_id.as_deref()),
            opt(e.client_addr.clone()),
            cell(Some(e.details.to_string()).as_deref().filter(|d| *d != "null")),
            e.prev_hash.clone(),
            e.hash.clone(),
        ]
    });
    crate::csv_export::csv_bytes(&CSV_COLUMNS, rows.collect())
}

/// The matching events as a CSV or JSON file, oldest first.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", security(("bearer" = [])), params(AuditExportQuery),
    responses((status = 200, description = "the events as a CSV file (format=csv) or a JSON array (format=json)",
        content((String = "text/csv"), (Vec<AuditEvent> = "application/json"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn export_audit(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AuditExportQuery>,
) -> ApiResult<Response> {
    let filters = AuditQuery {
        from: q.from,
        to: q.to,
        actor: q.actor,
        principal: q.principal,
        role: q.role,
        scope: q.scope,
        action: q.action,
        outcome: q.outcome,
        limit: None,
        cursor: None,
    };
    let query = engine_query(&s, &ctx, filters).await?;
    let events = s.engine.export_audit(&ctx, query).await?;
    export_file(&events, q.format)
}

/// Events as the export's download (`pim-audit.csv` or `pim-audit.json`); the portal's export
/// uses it too.
pub(crate) fn export_file(events: &[AuditEvent], format: ExportFormat) -> ApiResult<Response> {
    let (body, ctype, ext) = match format {
        ExportFormat::Csv => (to_csv(events)?, "text/csv; charset=utf-8", "csv"),
        ExportFormat::Json => (
            serde_json::to_vec(events).map_err(|e| ApiError::from(pim_engine::EngineError::Internal(e.to_string())))?,
            "application/json",
            "json",
        ),
    };
    let disposition = format!("attachment; filename=\"pim-audit.{ext}\"");
    Ok(([(header::CONTENT_TYPE, ctype.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// Recomputes the hash chain and reports modified, inserted or deleted events.
#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = AuditVerifyReport), (status = 403, body = Problem)))]
pub async fn verify_audit(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<AuditVerifyReport>> {
    let r = s.engine.verify_audit(&ctx).await?;
    Ok(Json(AuditVerifyReport {
        ok: r.ok,
        checked: r.checked as u64,
        problems: r
            .problems
            .into_iter()
            .map(|p| AuditChainProblem {
                seq: p.seq,
                kind: serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                message: p.message,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_longer_than_any_value_they_could_match_are_refused() {
        let ok = AuditQuery {
            actor: Some("a".repeat(128)),
            principal: Some("p".repeat(128)),
            role: Some("r".repeat(128)),
            action: Some("x".repeat(200)),
            cursor: Some(paging::encode(i64::MAX)),
            ..AuditQuery::default()
        };
        assert!(check_filter_lengths(&ok).is_ok());
        assert!(paging::encode(i64::MIN).len() <= MAX_CURSOR_LEN);
        let too_long = [
            AuditQuery { actor: Some("a".repeat(129)), ..ok.clone() },
            AuditQuery { principal: Some("p".repeat(129)), ..ok.clone() },
            AuditQuery { role: Some("r".repeat(129)), ..ok.clone() },
            AuditQuery { action: Some("x".repeat(201)), ..ok.clone() },
            AuditQuery { cursor: Some(paging::encode(format!("{:0>30}", 42))), ..ok.clone() },
        ];
        for q in too_long {
            let e = check_filter_lengths(&q).expect_err("refused");
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        }
    }
}
