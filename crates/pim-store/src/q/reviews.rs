//! Access reviews: definitions, their instances and the items each instance reviews
//! (see docs/designs/access-reviews.md). Structured fields are JSON text.

use futures_util::TryStreamExt as _;
use pim_domain::review::{InstanceStatus, ReviewDefinition, ReviewInstance, ReviewItem};
use pim_domain::{AssignmentKind, ReviewId, ReviewInstanceId, ReviewItemId, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row::{self, to_json};

const REVIEW_COLS: &str = "id, name, description, target, kinds, inactive_days, reviewers, schedule, auto_apply, \
                           if_no_response, reason_required, created_by, created_at, stopped_at";

fn opt_json<T: serde::de::DeserializeOwned>(r: &AnyRow, i: usize) -> Result<Option<T>> {
    match row::opt_str_ref(r, i)? {
        Some(_) => Ok(Some(row::json(r, i)?)),
        None => Ok(None),
    }
}

fn review(r: &AnyRow) -> Result<ReviewDefinition> {
    Ok(ReviewDefinition {
        id: row::id(r, 0)?,
        name: row::text(r, 1)?,
        description: row::opt_text(r, 2)?,
        target: row::json(r, 3)?,
        kinds: row::json(r, 4)?,
        inactive_days: row::opt_int(r, 5)?.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
        reviewers: row::json(r, 6)?,
        schedule: row::json(r, 7)?,
        auto_apply: row::boolean(r, 8)?,
        if_no_response: row::json(r, 9)?,
        reason_required: row::boolean(r, 10)?,
        created_by: row::id(r, 11)?,
        created_at: row::ts(r, 12)?,
        stopped_at: row::opt_ts(r, 13)?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds what a definition says, `$1` to `$11` (its id, then the ten columns an update rewrites),
/// for both the insert and the update, so neither can forget a column.
fn bind_definition<'q>(query: &'q str, d: &ReviewDefinition) -> Result<AnyQuery<'q>> {
    Ok(sqlx::query(query)
        .bind(d.id.to_string())
        .bind(d.name.clone())
        .bind(d.description.clone())
        .bind(to_json(&d.target)?)
        .bind(to_json(&d.kinds)?)
        .bind(d.inactive_days.map(i64::from))
        .bind(to_json(&d.reviewers)?)
        .bind(to_json(&d.schedule)?)
        .bind(d.auto_apply)
        .bind(to_json(&d.if_no_response)?)
        .bind(d.reason_required))
}

/// Inserts a review definition.
pub async fn insert_review(c: &mut AnyConnection, d: &ReviewDefinition) -> Result<()> {
    bind_definition(
        "INSERT INTO access_reviews (id, name, description, target, kinds, inactive_days, reviewers, schedule, \
         auto_apply, if_no_response, reason_required, created_by, created_at, stopped_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        d,
    )?
    .bind(d.created_by.to_string())
    .bind(d.created_at.0)
    .bind(d.stopped_at.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Marks a definition stopped: no further instances start.
pub async fn stop_review(c: &mut AnyConnection, id: ReviewId, at: Timestamp) -> Result<bool> {
    let done = sqlx::query("UPDATE access_reviews SET stopped_at = $2 WHERE id = $1 AND stopped_at IS NULL")
        .bind(id.to_string())
        .bind(at.0)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Rewrites what a definition says (its id, creator, creation and stop stay).
pub async fn update_review(c: &mut AnyConnection, d: &ReviewDefinition) -> Result<()> {
    bind_definition(
        "UPDATE access_reviews SET name = $2, description = $3, target = $4, kinds = $5, inactive_days = $6, \
         reviewers = $7, schedule = $8, auto_apply = $9, if_no_response = $10, reason_required = $11 WHERE id = $1",
        d,
    )?
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One definition.
pub async fn get_review(c: &mut AnyConnection, id: ReviewId) -> Result<Option<ReviewDefinition>> {
    let sql = format!("SELECT {REVIEW_COLS} FROM access_reviews WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(review).transpose()
}

/// Every definition, oldest first; only those not stopped when `active`.
pub async fn list_reviews(c: &mut AnyConnection, active: bool) -> Result<Vec<ReviewDefinition>> {
    let sql = format!("SELECT {REVIEW_COLS} FROM access_reviews WHERE ($1 = 0 OR stopped_at IS NULL) ORDER BY id");
    let mut rows = sqlx::query(&sql).bind(i64::from(active)).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(review(&r)?);
    }
    Ok(out)
}

const INSTANCE_COLS: &str =
    "id, review_id, occurrence, start_at, end_at, status, reminded_at, completed_at, applied_at";

fn instance(r: &AnyRow) -> Result<ReviewInstance> {
    Ok(ReviewInstance {
        id: row::id(r, 0)?,
        review_id: row::id(r, 1)?,
        occurrence: u32::try_from(row::int(r, 2)?).unwrap_or(u32::MAX),
        start: row::ts(r, 3)?,
        end: row::ts(r, 4)?,
        status: row::name(r, 5, InstanceStatus::parse)?,
        reminded_at: row::opt_ts(r, 6)?,
        completed_at: row::opt_ts(r, 7)?,
        applied_at: row::opt_ts(r, 8)?,
        review_name: None,
        counts: None,
    })
}

/// Inserts an instance; a second instance of the same occurrence is `Unique`.
pub async fn insert_instance(c: &mut AnyConnection, i: &ReviewInstance) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_review_instances (id, review_id, occurrence, start_at, end_at, status, reminded_at, \
         completed_at, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(i.id.to_string())
    .bind(i.review_id.to_string())
    .bind(i64::from(i.occurrence))
    .bind(i.start.0)
    .bind(i.end.0)
    .bind(i.status.as_str())
    .bind(i.reminded_at.map(|t| t.0))
    .bind(i.completed_at.map(|t| t.0))
    .bind(i.applied_at.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records an instance's status and times.
pub async fn update_instance(c: &mut AnyConnection, i: &ReviewInstance) -> Result<()> {
    sqlx::query(
        "UPDATE access_review_instances SET status = $2, reminded_at = $3, completed_at = $4, applied_at = $5 \
         WHERE id = $1",
    )
    .bind(i.id.to_string())
    .bind(i.status.as_str())
    .bind(i.reminded_at.map(|t| t.0))
    .bind(i.completed_at.map(|t| t.0))
    .bind(i.applied_at.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One instance.
pub async fn get_instance(c: &mut AnyConnection, id: ReviewInstanceId) -> Result<Option<ReviewInstance>> {
    let sql = format!("SELECT {INSTANCE_COLS} FROM access_review_instances WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(instance).transpose()
}

/// A definition's instances, by occurrence; or (with `None`) every instance in `status`.
pub async fn list_instances(
    c: &mut AnyConnection,
    review: Option<ReviewId>,
    status: Option<InstanceStatus>,
) -> Result<Vec<ReviewInstance>> {
    let sql = format!(
        "SELECT {INSTANCE_COLS} FROM access_review_instances WHERE ($1 = '' OR review_id = $1) \
         AND ($2 = '' OR status = $2) ORDER BY review_id, occurrence"
    );
    let mut rows = sqlx::query(&sql)
        .bind(review.map(|r| r.to_string()).unwrap_or_default())
        .bind(status.map(|s| s.as_str()).unwrap_or_default())
        .fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(instance(&r)?);
    }
    Ok(out)
}

const ITEM_COLS: &str = "id, instance_id, assignment_id, principal_id, role_id, scope, kind, last_activity, \
                         recommendation, reviewers, decision, outcome, applied_request_id, applied, last_use";

fn item(r: &AnyRow) -> Result<ReviewItem> {
    Ok(ReviewItem {
        id: row::id(r, 0)?,
        instance_id: row::id(r, 1)?,
        assignment_id: row::opt_id(r, 2)?,
        principal_id: row::id(r, 3)?,
        role_id: row::id(r, 4)?,
        scope: row::scope(r, 5)?,
        kind: row::name(r, 6, AssignmentKind::parse)?,
        last_activity: row::opt_ts(r, 7)?,
        last_use: row::opt_ts(r, 14)?,
        recommendation: row::json(r, 8)?,
        reviewers: row::json(r, 9)?,
        decision: opt_json(r, 10)?,
        outcome: opt_json(r, 11)?,
        applied_request_id: row::opt_id(r, 12)?,
        applied: opt_json(r, 13)?,
        principal_name: None,
        role_name: None,
    })
}

/// Inserts an item.
pub async fn insert_item(c: &mut AnyConnection, i: &ReviewItem) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_review_items (id, instance_id, assignment_id, principal_id, role_id, scope, kind, \
         last_activity, recommendation, reviewers, decision, outcome, applied_request_id, applied, last_use) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(i.id.to_string())
    .bind(i.instance_id.to_string())
    .bind(i.assignment_id.map(|a| a.to_string()))
    .bind(i.principal_id.to_string())
    .bind(i.role_id.to_string())
    .bind(i.scope.as_str().to_owned())
    .bind(i.kind.as_str())
    .bind(i.last_activity.map(|t| t.0))
    .bind(to_json(&i.recommendation)?)
    .bind(to_json(&i.reviewers)?)
    .bind(i.decision.as_ref().map(to_json).transpose()?)
    .bind(i.outcome.as_ref().map(to_json).transpose()?)
    .bind(i.applied_request_id.map(|r| r.to_string()))
    .bind(i.applied.as_ref().map(to_json).transpose()?)
    .bind(i.last_use.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records an item's decision, outcome and applying request.
pub async fn update_item(c: &mut AnyConnection, i: &ReviewItem) -> Result<()> {
    sqlx::query(
        "UPDATE access_review_items SET decision = $2, outcome = $3, applied_request_id = $4, applied = $5 \
         WHERE id = $1",
    )
    .bind(i.id.to_string())
    .bind(i.decision.as_ref().map(to_json).transpose()?)
    .bind(i.outcome.as_ref().map(to_json).transpose()?)
    .bind(i.applied_request_id.map(|r| r.to_string()))
    .bind(i.applied.as_ref().map(to_json).transpose()?)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Clears every decision of an instance's items. Returns how many were cleared.
pub async fn clear_decisions(c: &mut AnyConnection, instance: ReviewInstanceId) -> Result<u64> {
    let done =
        sqlx::query("UPDATE access_review_items SET decision = NULL WHERE instance_id = $1 AND decision IS NOT NULL")
            .bind(instance.to_string())
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected())
}

/// The latest occurrence a definition has an instance of.
pub async fn latest_occurrence(c: &mut AnyConnection, review: ReviewId) -> Result<Option<u32>> {
    let n: Option<i64> = sqlx::query_scalar("SELECT MAX(occurrence) FROM access_review_instances WHERE review_id = $1")
        .bind(review.to_string())
        .fetch_one(&mut *c)
        .await?;
    Ok(n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// One item.
pub async fn get_item(c: &mut AnyConnection, id: ReviewItemId) -> Result<Option<ReviewItem>> {
    let sql = format!("SELECT {ITEM_COLS} FROM access_review_items WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(item).transpose()
}

/// An instance's items, in the order they were snapshotted.
pub async fn list_items(c: &mut AnyConnection, instance: ReviewInstanceId) -> Result<Vec<ReviewItem>> {
    let sql = format!("SELECT {ITEM_COLS} FROM access_review_items WHERE instance_id = $1 ORDER BY id");
    let mut rows = sqlx::query(&sql).bind(instance.to_string()).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(item(&r)?);
    }
    Ok(out)
}
