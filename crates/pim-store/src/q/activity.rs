//! Activity events: what principals did in the systems that report to pim, and connectors' grants
//! and revokes, each tied to an assignment or unmatched.

use std::collections::HashMap;

use futures_util::TryStreamExt as _;
use pim_domain::activity::{ActivityEvent, ActivityMatch, ActivityOutcome, ActivitySource};
use pim_domain::{ActivityEventId, AssignmentId, PrincipalId, RoleId, ScopePath, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row::{self, to_json};

const COLS: &str = "id, at, principal_id, assignment_id, role_id, scope, system, action, target, outcome, detail, \
                    match_kind, source, reported_by, recorded_at";

fn event(r: &AnyRow) -> Result<ActivityEvent> {
    let detail = match row::opt_str_ref(r, 10)? {
        Some(_) => row::json(r, 10)?,
        None => serde_json::Value::Null,
    };
    Ok(ActivityEvent {
        id: row::id(r, 0)?,
        at: row::ts(r, 1)?,
        principal_id: row::id(r, 2)?,
        assignment_id: row::opt_id(r, 3)?,
        role_id: row::opt_id(r, 4)?,
        scope: row::opt_scope(r, 5)?,
        system: row::text(r, 6)?,
        action: row::text(r, 7)?,
        target: row::opt_text(r, 8)?,
        outcome: row::name(r, 9, ActivityOutcome::parse)?,
        detail,
        match_kind: row::name(r, 11, ActivityMatch::parse)?,
        source: row::name(r, 12, ActivitySource::parse)?,
        reported_by: row::opt_id(r, 13)?,
        recorded_at: row::ts(r, 14)?,
    })
}

/// Stores an event.
pub async fn insert_activity(c: &mut AnyConnection, e: &ActivityEvent) -> Result<()> {
    let detail = if e.detail.is_null() { None } else { Some(to_json(&e.detail)?) };
    sqlx::query(&format!(
        "INSERT INTO activity_events ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(e.id.to_string())
    .bind(e.at.0)
    .bind(e.principal_id.to_string())
    .bind(e.assignment_id.map(|a| a.to_string()))
    .bind(e.role_id.map(|r| r.to_string()))
    .bind(e.scope.as_ref().map(|s| s.as_str().to_owned()))
    .bind(e.system.clone())
    .bind(e.action.clone())
    .bind(e.target.clone())
    .bind(e.outcome.as_str())
    .bind(detail)
    .bind(e.match_kind.as_str())
    .bind(e.source.as_str())
    .bind(e.reported_by.map(|p| p.to_string()))
    .bind(e.recorded_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The events tied to an assignment, by id (the order they were recorded), after `after`, at most
/// `limit` (`0`: all).
pub async fn list_assignment_activity(
    c: &mut AnyConnection,
    assignment: AssignmentId,
    after: Option<ActivityEventId>,
    limit: i64,
) -> Result<Vec<ActivityEvent>> {
    let sql = format!(
        "SELECT {COLS} FROM activity_events WHERE assignment_id = $1 AND id > $2 ORDER BY id LIMIT {}",
        if limit > 0 { limit } else { i64::MAX }
    );
    let rows: Vec<AnyRow> = sqlx::query(&sql)
        .bind(assignment.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .fetch(&mut *c)
        .try_collect()
        .await?;
    rows.iter().map(event).collect()
}

/// Per assignment: how many *reported* events (connectors' excluded) happened at or after `since`,
/// and the latest one's time.
pub async fn reported_use_by_assignment(
    c: &mut AnyConnection,
    since: Timestamp,
) -> Result<HashMap<AssignmentId, (u64, Timestamp)>> {
    let rows: Vec<AnyRow> = sqlx::query(
        "SELECT assignment_id, COUNT(*), MAX(at) FROM activity_events \
         WHERE source = 'reported' AND assignment_id IS NOT NULL AND at >= $1 GROUP BY assignment_id",
    )
    .bind(since.0)
    .fetch(&mut *c)
    .try_collect()
    .await?;
    rows.iter().map(|r| Ok((row::id(r, 0)?, (u64::try_from(row::int(r, 1)?).unwrap_or(0), row::ts(r, 2)?)))).collect()
}

/// The latest reported use, at or before `until`, by `principal` of `role` at `under` or below it.
pub async fn last_reported_use(
    c: &mut AnyConnection,
    principal: PrincipalId,
    role: RoleId,
    under: &ScopePath,
    until: Timestamp,
) -> Result<Option<Timestamp>> {
    let rows: Vec<AnyRow> = sqlx::query(
        "SELECT scope, MAX(at) FROM activity_events WHERE principal_id = $1 AND role_id = $2 \
         AND source = 'reported' AND at <= $3 GROUP BY scope",
    )
    .bind(principal.to_string())
    .bind(role.to_string())
    .bind(until.0)
    .fetch(&mut *c)
    .try_collect()
    .await?;
    let mut last = None;
    for r in &rows {
        if row::opt_scope(r, 0)?.is_some_and(|s| under.contains(&s)) {
            last = last.max(Some(row::ts(r, 1)?));
        }
    }
    Ok(last)
}

/// Whether some system reported use of `role` (by anyone) in `[since, until]`.
pub async fn role_has_reported_use(
    c: &mut AnyConnection,
    role: RoleId,
    since: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "SELECT id FROM activity_events WHERE role_id = $1 AND source = 'reported' AND at >= $2 AND at <= $3 LIMIT 1",
    )
    .bind(role.to_string())
    .bind(since.0)
    .bind(until.0)
    .fetch_optional(&mut *c)
    .await?;
    Ok(r.is_some())
}

/// Removes the events recorded before `before` (retention); returns how many.
pub async fn prune_activity(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM activity_events WHERE recorded_at < $1").bind(before.0).execute(&mut *c).await?;
    Ok(done.rows_affected())
}
