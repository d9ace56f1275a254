//! Requests: every change to assignments, with its status. The ticket is two columns.

use futures_util::TryStreamExt as _;
use pim_domain::{
    AssignmentId, AssignmentKind, PrincipalId, Request, RequestAction, RequestId, RequestStatus, RoleId, Ticket, Window,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

/// Which requests to list. Every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Concerning this principal's assignments.
    pub principal: Option<PrincipalId>,
    /// Made by this principal.
    pub requested_by: Option<PrincipalId>,
    /// In this status.
    pub status: Option<RequestStatus>,
    /// In any of these statuses (an empty list matches nothing).
    pub statuses: Option<Vec<RequestStatus>>,
    /// With this action.
    pub action: Option<RequestAction>,
    /// For this role.
    pub role: Option<RoleId>,
    /// About this assignment.
    pub target_assignment: Option<AssignmentId>,
    /// Activations using this eligibility.
    pub eligibility: Option<AssignmentId>,
    /// The cursor: ids after this one (before it when `descending`).
    pub after: Option<RequestId>,
    /// At most this many (`0`: all).
    pub limit: i64,
    /// Newest first.
    pub descending: bool,
}

const REQUEST_COLS: &str = "id, action, status, principal_id, role_id, scope, kind, start_at, end_at, requested_by, \
                            justification, ticket_system, ticket_number, target_assignment, eligibility, \
                            created_at, updated_at, status_reason, duration_minutes, break_glass, approval";

fn request(r: &AnyRow) -> Result<Request> {
    let ticket = match (row::opt_text(r, 11)?, row::opt_text(r, 12)?) {
        (Some(system), Some(number)) => Some(Ticket { system, number }),
        _ => None,
    };
    Ok(Request {
        id: row::id(r, 0)?,
        action: row::name(r, 1, RequestAction::parse)?,
        status: row::name(r, 2, RequestStatus::parse)?,
        principal_id: row::id(r, 3)?,
        role_id: row::id(r, 4)?,
        scope: row::scope(r, 5)?,
        kind: row::name(r, 6, AssignmentKind::parse)?,
        window: Window { start: row::ts(r, 7)?, end: row::opt_ts(r, 8)? },
        requested_by: row::id(r, 9)?,
        justification: row::opt_text(r, 10)?,
        ticket,
        target_assignment: row::opt_id(r, 13)?,
        eligibility: row::opt_id(r, 14)?,
        created_at: row::ts(r, 15)?,
        updated_at: row::ts(r, 16)?,
        status_reason: row::opt_text(r, 17)?,
        duration_minutes: row::opt_int(r, 18)?.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        break_glass: row::boolean(r, 19)?,
        approval: match row::opt_str_ref(r, 20)? {
            Some(_) => Some(row::json(r, 20)?),
            None => None,
        },
        requester_name: None,
    })
}

/// Inserts a request.
pub async fn insert_request(c: &mut AnyConnection, r: &Request) -> Result<()> {
    insert_requests(c, std::slice::from_ref(r)).await
}

/// Inserts requests, many rows per statement (one statement for a single row too).
pub async fn insert_requests(c: &mut AnyConnection, list: &[Request]) -> Result<()> {
    let (_, per) = crate::q::chunk_sizes(c, REQUEST_INSERT_COLS);
    for chunk in list.chunks(per) {
        let sql = insert_requests_sql(crate::sql::is_sqlite(c), chunk.len(), 1);
        bind_requests(sqlx::query(&sql), chunk)?.execute(&mut *c).await?;
    }
    Ok(())
}

/// Values per row of [`insert_requests_sql`].
pub(crate) const REQUEST_INSERT_COLS: usize = 21;

/// The `INSERT` of `n` requests, PostgreSQL's placeholders from `$first`; bound by [`bind_requests`].
pub(crate) fn insert_requests_sql(sqlite: bool, n: usize, first: usize) -> String {
    format!(
        "INSERT INTO requests (id, action, status, principal_id, role_id, scope, kind, start_at, end_at, \
         requested_by, justification, ticket_system, ticket_number, target_assignment, eligibility, \
         created_at, updated_at, status_reason, duration_minutes, break_glass, approval) VALUES {}",
        crate::q::values_rows_from(sqlite, n, REQUEST_INSERT_COLS, first)
    )
}

/// Binds the values of [`insert_requests_sql`] for `list`.
pub(crate) fn bind_requests<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    list: &[Request],
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    for r in list {
        q = q
            .bind(r.id.to_string())
            .bind(r.action.as_str())
            .bind(r.status.as_str())
            .bind(r.principal_id.to_string())
            .bind(r.role_id.to_string())
            .bind(r.scope.as_str().to_owned())
            .bind(r.kind.as_str())
            .bind(r.window.start.0)
            .bind(r.window.end.map(|t| t.0))
            .bind(r.requested_by.to_string())
            .bind(r.justification.clone())
            .bind(r.ticket.as_ref().map(|t| t.system.clone()))
            .bind(r.ticket.as_ref().map(|t| t.number.clone()))
            .bind(r.target_assignment.map(|v| v.to_string()))
            .bind(r.eligibility.map(|v| v.to_string()))
            .bind(r.created_at.0)
            .bind(r.updated_at.0)
            .bind(r.status_reason.clone())
            .bind(r.duration_minutes.map(i64::from))
            .bind(r.break_glass)
            .bind(r.approval.as_ref().map(row::to_json).transpose()?);
    }
    Ok(q)
}

/// Updates every field of the request with `r.id` but its id and creation time.
pub async fn update_request(c: &mut AnyConnection, r: &Request) -> Result<()> {
    sqlx::query(
        "UPDATE requests SET action = $2, status = $3, principal_id = $4, role_id = $5, scope = $6, kind = $7, \
         start_at = $8, end_at = $9, requested_by = $10, justification = $11, ticket_system = $12, \
         ticket_number = $13, target_assignment = $14, eligibility = $15, updated_at = $16, status_reason = $17, \
         duration_minutes = $18, break_glass = $19, approval = $20 WHERE id = $1",
    )
    .bind(r.id.to_string())
    .bind(r.action.as_str())
    .bind(r.status.as_str())
    .bind(r.principal_id.to_string())
    .bind(r.role_id.to_string())
    .bind(r.scope.as_str().to_owned())
    .bind(r.kind.as_str())
    .bind(r.window.start.0)
    .bind(r.window.end.map(|t| t.0))
    .bind(r.requested_by.to_string())
    .bind(r.justification.clone())
    .bind(r.ticket.as_ref().map(|t| t.system.clone()))
    .bind(r.ticket.as_ref().map(|t| t.number.clone()))
    .bind(r.target_assignment.map(|v| v.to_string()))
    .bind(r.eligibility.map(|v| v.to_string()))
    .bind(r.updated_at.0)
    .bind(r.status_reason.clone())
    .bind(r.duration_minutes.map(i64::from))
    .bind(r.break_glass)
    .bind(r.approval.as_ref().map(row::to_json).transpose()?)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The request with this id.
pub async fn get_request(c: &mut AnyConnection, id: RequestId) -> Result<Option<Request>> {
    let sql = format!("SELECT {REQUEST_COLS} FROM requests WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(request).transpose()
}

/// Requests matching `f`, ordered by id (descending if asked).
pub async fn list_requests(c: &mut AnyConnection, f: &RequestFilter) -> Result<Vec<Request>> {
    let mut s = Select::new(&format!("SELECT {REQUEST_COLS} FROM requests"));
    if let Some(p) = f.principal {
        s.eq("principal_id", p.to_string());
    }
    if let Some(p) = f.requested_by {
        s.eq("requested_by", p.to_string());
    }
    if let Some(st) = f.status {
        s.eq("status", st.as_str());
    }
    if let Some(sts) = &f.statuses {
        s.any_of("status", sts.iter().map(|st| st.as_str()));
    }
    if let Some(a) = f.action {
        s.eq("action", a.as_str());
    }
    if let Some(r) = f.role {
        s.eq("role_id", r.to_string());
    }
    if let Some(a) = f.target_assignment {
        s.eq("target_assignment", a.to_string());
    }
    if let Some(a) = f.eligibility {
        s.eq("eligibility", a.to_string());
    }
    if let Some(a) = f.after {
        let p = s.arg(a.to_string());
        s.cond(format!("id {} {p}", if f.descending { "<" } else { ">" }));
    }
    if s.empty {
        return Ok(Vec::new());
    }
    let (sql, args) = s.finish(if f.descending { "id DESC" } else { "id" }, f.limit);
    let mut rows = bind_all(&sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(request(&r)?);
    }
    Ok(out)
}
