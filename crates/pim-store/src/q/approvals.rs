//! Changes to protected role settings waiting for a second administrator, and break-glass
//! activations queued for review. (A request's own approval state is a column of `requests`.)

use futures_util::TryStreamExt as _;
use pim_domain::approval::{BreakGlassReview, ReviewVerdict};
use pim_domain::{RequestId, RequestStatus, SettingsChange, SettingsChangeId};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row::{self, to_json};

const CHANGE_COLS: &str = "id, role_id, scope, settings, status, requested_by, justification, decision, \
                           created_at, updated_at, status_reason";

fn change(r: &AnyRow) -> Result<SettingsChange> {
    Ok(SettingsChange {
        id: row::id(r, 0)?,
        role_id: row::id(r, 1)?,
        scope: row::scope(r, 2)?,
        settings: match row::opt_str_ref(r, 3)? {
            Some(_) => Some(row::json(r, 3)?),
            None => None,
        },
        status: row::name(r, 4, RequestStatus::parse)?,
        requested_by: row::id(r, 5)?,
        justification: row::opt_text(r, 6)?,
        decision: match row::opt_str_ref(r, 7)? {
            Some(_) => Some(row::json(r, 7)?),
            None => None,
        },
        created_at: row::ts(r, 8)?,
        updated_at: row::ts(r, 9)?,
        status_reason: row::opt_text(r, 10)?,
    })
}

/// Inserts a proposed settings change.
pub async fn insert_settings_change(c: &mut AnyConnection, s: &SettingsChange) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings_changes (id, role_id, scope, settings, status, requested_by, justification, decision, \
         created_at, updated_at, status_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(s.id.to_string())
    .bind(s.role_id.to_string())
    .bind(s.scope.as_str().to_owned())
    .bind(s.settings.as_ref().map(to_json).transpose()?)
    .bind(s.status.as_str())
    .bind(s.requested_by.to_string())
    .bind(s.justification.clone())
    .bind(s.decision.as_ref().map(to_json).transpose()?)
    .bind(s.created_at.0)
    .bind(s.updated_at.0)
    .bind(s.status_reason.clone())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records a settings change's status, decision and reason.
pub async fn update_settings_change(c: &mut AnyConnection, s: &SettingsChange) -> Result<()> {
    sqlx::query(
        "UPDATE settings_changes SET status = $2, decision = $3, updated_at = $4, status_reason = $5 WHERE id = $1",
    )
    .bind(s.id.to_string())
    .bind(s.status.as_str())
    .bind(s.decision.as_ref().map(to_json).transpose()?)
    .bind(s.updated_at.0)
    .bind(s.status_reason.clone())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One settings change.
pub async fn get_settings_change(c: &mut AnyConnection, id: SettingsChangeId) -> Result<Option<SettingsChange>> {
    let sql = format!("SELECT {CHANGE_COLS} FROM settings_changes WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(change).transpose()
}

/// Settings changes, newest first, optionally only those in `status`.
pub async fn list_settings_changes(
    c: &mut AnyConnection,
    status: Option<RequestStatus>,
    limit: i64,
) -> Result<Vec<SettingsChange>> {
    let limit = if limit <= 0 { i64::MAX } else { limit };
    let sql =
        format!("SELECT {CHANGE_COLS} FROM settings_changes WHERE ($1 = '' OR status = $1) ORDER BY id DESC LIMIT $2");
    let mut rows = sqlx::query(&sql).bind(status.map(|s| s.as_str()).unwrap_or_default()).bind(limit).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(change(&r)?);
    }
    Ok(out)
}

const REVIEW_COLS: &str =
    "request_id, principal_id, role_id, scope, created_at, reviewed_by, reviewed_at, verdict, note";

fn review(r: &AnyRow) -> Result<BreakGlassReview> {
    Ok(BreakGlassReview {
        request_id: row::id(r, 0)?,
        principal_id: row::id(r, 1)?,
        role_id: row::id(r, 2)?,
        scope: row::scope(r, 3)?,
        created_at: row::ts(r, 4)?,
        reviewed_by: row::opt_id(r, 5)?,
        reviewed_at: row::opt_ts(r, 6)?,
        verdict: match row::opt_str_ref(r, 7)? {
            Some(_) => Some(row::name(r, 7, ReviewVerdict::parse)?),
            None => None,
        },
        note: row::opt_text(r, 8)?,
    })
}

/// Queues a break-glass activation for review.
pub async fn insert_break_glass_review(c: &mut AnyConnection, v: &BreakGlassReview) -> Result<()> {
    sqlx::query(
        "INSERT INTO break_glass_reviews (request_id, principal_id, role_id, scope, created_at, reviewed_by, \
         reviewed_at, verdict, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(v.request_id.to_string())
    .bind(v.principal_id.to_string())
    .bind(v.role_id.to_string())
    .bind(v.scope.as_str().to_owned())
    .bind(v.created_at.0)
    .bind(v.reviewed_by.map(|p| p.to_string()))
    .bind(v.reviewed_at.map(|t| t.0))
    .bind(v.verdict.map(|x| x.as_str()))
    .bind(v.note.clone())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records a review's outcome.
pub async fn complete_break_glass_review(c: &mut AnyConnection, v: &BreakGlassReview) -> Result<()> {
    sqlx::query(
        "UPDATE break_glass_reviews SET reviewed_by = $2, reviewed_at = $3, verdict = $4, note = $5 \
         WHERE request_id = $1",
    )
    .bind(v.request_id.to_string())
    .bind(v.reviewed_by.map(|p| p.to_string()))
    .bind(v.reviewed_at.map(|t| t.0))
    .bind(v.verdict.map(|x| x.as_str()))
    .bind(v.note.clone())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One review.
pub async fn get_break_glass_review(c: &mut AnyConnection, id: RequestId) -> Result<Option<BreakGlassReview>> {
    let sql = format!("SELECT {REVIEW_COLS} FROM break_glass_reviews WHERE request_id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(review).transpose()
}

/// Reviews, newest first; only those not yet reviewed when `pending`.
pub async fn list_break_glass_reviews(c: &mut AnyConnection, pending: bool) -> Result<Vec<BreakGlassReview>> {
    let sql = format!(
        "SELECT {REVIEW_COLS} FROM break_glass_reviews WHERE ($1 = 0 OR reviewed_at IS NULL) ORDER BY request_id DESC"
    );
    let mut rows = sqlx::query(&sql).bind(i64::from(pending)).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(review(&r)?);
    }
    Ok(out)
}
