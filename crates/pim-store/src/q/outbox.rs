//! The notification outbox: rows written with the change that caused them, claimed by delivery
//! workers with a lease, and marked delivered, retried later, or failed.

use futures_util::TryStreamExt as _;
use pim_domain::{Channel, DeliveryStatus, Notification, NotificationId, RequestId, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Col, JsonRows, Select, bind_all};

/// Which notifications to list. Every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// In this delivery status.
    pub status: Option<DeliveryStatus>,
    /// Of this event.
    pub event: Option<String>,
    /// Concerning this request.
    pub request: Option<RequestId>,
    /// Over this channel.
    pub channel: Option<Channel>,
    /// The cursor: ids after this one (before it when `descending`).
    pub after: Option<NotificationId>,
    /// At most this many (`0`: all).
    pub limit: i64,
    /// Newest first.
    pub descending: bool,
}

const OUTBOX_COLS: &str = "id, created_at, event, channel, recipient, subject, body, payload, critical, status, \
                           attempts, next_attempt_at, claimed_until, last_error, delivered_at, principal_id, \
                           role_id, scope, request_id";

fn notification(r: &AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: row::id(r, 0)?,
        created_at: row::ts(r, 1)?,
        event: row::text(r, 2)?,
        channel: row::name(r, 3, Channel::parse)?,
        recipient: row::text(r, 4)?,
        subject: row::text(r, 5)?,
        text: row::text(r, 6)?,
        payload: row::json(r, 7)?,
        critical: row::boolean(r, 8)?,
        status: row::name(r, 9, DeliveryStatus::parse)?,
        attempts: row::int(r, 10)?,
        next_attempt_at: row::ts(r, 11)?,
        claimed_until: row::opt_ts(r, 12)?,
        last_error: row::opt_text(r, 13)?,
        delivered_at: row::opt_ts(r, 14)?,
        principal_id: row::opt_id(r, 15)?,
        role_id: row::opt_id(r, 16)?,
        scope: row::opt_scope(r, 17)?,
        request_id: row::opt_id(r, 18)?,
    })
}

async fn collect(c: &mut AnyConnection, sql: &str, args: Vec<crate::sql::Arg>) -> Result<Vec<Notification>> {
    let mut rows = bind_all(sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(notification(&r)?);
    }
    Ok(out)
}

/// The columns of an outbox row as written, in [`insert_notifications`]'s order.
const INSERT_COLS: &str = "id, created_at, event, channel, recipient, subject, body, payload, critical, status, \
                           attempts, next_attempt_at, claimed_until, last_error, delivered_at, principal_id, role_id, \
                           scope, request_id";
const INSERT_COL_COUNT: usize = 19;

/// Inserts a notification (as written, normally pending with no attempt yet).
pub async fn insert_notification(c: &mut AnyConnection, n: &Notification) -> Result<()> {
    insert_notifications(c, std::slice::from_ref(n)).await
}

const INSERT_TYPES: [Col; INSERT_COL_COUNT] = {
    use Col::{Bool, Int, Text};
    [Text, Int, Text, Text, Text, Text, Text, Text, Bool, Text, Int, Int, Int, Text, Int, Text, Text, Text, Text]
};

/// Inserts notifications in multi-row statements: on PostgreSQL 2,000 rows a statement bound as
/// one JSON parameter (see [`crate::sql::json_rows_select`]), on SQLite one `?` per value.
pub async fn insert_notifications(c: &mut AnyConnection, list: &[Notification]) -> Result<()> {
    if crate::sql::is_sqlite(c) {
        return insert_notifications_bound(c, list).await;
    }
    for chunk in list.chunks(crate::q::JSON_ROWS) {
        let mut rows = JsonRows::default();
        for n in chunk {
            rows.row()
                .text(&n.id.to_string())
                .int(n.created_at.0)
                .text(&n.event)
                .text(n.channel.as_str())
                .text(&n.recipient)
                .text(&n.subject)
                .text(&n.text)
                .text(&row::to_json(&n.payload)?)
                .bool(n.critical)
                .text(n.status.as_str())
                .int(n.attempts)
                .int(n.next_attempt_at.0)
                .opt_int(n.claimed_until.map(|t| t.0))
                .opt_text(n.last_error.as_deref())
                .opt_int(n.delivered_at.map(|t| t.0))
                .opt_text(n.principal_id.map(|v| v.to_string()).as_deref())
                .opt_text(n.role_id.map(|v| v.to_string()).as_deref())
                .opt_text(n.scope.as_ref().map(|s| s.as_str()))
                .opt_text(n.request_id.map(|v| v.to_string()).as_deref());
        }
        let sql = format!("INSERT INTO outbox ({INSERT_COLS}) {}", crate::sql::json_rows_select("$1", &INSERT_TYPES));
        sqlx::query(&sql).bind(rows.finish()).execute(&mut *c).await?;
    }
    Ok(())
}

/// [`insert_notifications`] with one placeholder per value (see `chunk_sizes`).
async fn insert_notifications_bound(c: &mut AnyConnection, list: &[Notification]) -> Result<()> {
    let (_, per) = crate::q::chunk_sizes(c, INSERT_COL_COUNT);
    for chunk in list.chunks(per) {
        let sql = format!(
            "INSERT INTO outbox ({INSERT_COLS}) VALUES {}",
            crate::q::values_rows(crate::sql::is_sqlite(c), chunk.len(), INSERT_COL_COUNT)
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            q = q
                .bind(n.id.to_string())
                .bind(n.created_at.0)
                .bind(n.event.clone())
                .bind(n.channel.as_str())
                .bind(n.recipient.clone())
                .bind(n.subject.clone())
                .bind(n.text.clone())
                .bind(row::to_json(&n.payload)?)
                .bind(n.critical)
                .bind(n.status.as_str())
                .bind(n.attempts)
                .bind(n.next_attempt_at.0)
                .bind(n.claimed_until.map(|t| t.0))
                .bind(n.last_error.clone())
                .bind(n.delivered_at.map(|t| t.0))
                .bind(n.principal_id.map(|v| v.to_string()))
                .bind(n.role_id.map(|v| v.to_string()))
                .bind(n.scope.as_ref().map(|s| s.as_str().to_owned()))
                .bind(n.request_id.map(|v| v.to_string()));
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// The notification with this id.
pub async fn get_notification(c: &mut AnyConnection, id: NotificationId) -> Result<Option<Notification>> {
    let sql = format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(notification).transpose()
}

/// Claims up to `limit` pending notifications over `channels` that are due at `now` and not
/// claimed by anyone else (or whose claim has lapsed), oldest due first, by setting their
/// `claimed_until` to `lease_until`. Run it inside a write transaction: writers are serialized,
/// so two workers never claim the same row.
pub async fn claim_notifications(
    c: &mut AnyConnection,
    now: Timestamp,
    lease_until: Timestamp,
    channels: &[Channel],
    limit: i64,
) -> Result<Vec<Notification>> {
    let mut s = Select::new(&format!("SELECT {OUTBOX_COLS} FROM outbox"));
    s.eq("status", DeliveryStatus::Pending.as_str());
    let p = s.arg(now.0);
    s.cond(format!("next_attempt_at <= {p}"));
    s.cond(format!("(claimed_until IS NULL OR claimed_until <= {p})"));
    s.any_of("channel", channels.iter().map(|ch| ch.as_str()));
    if s.empty {
        return Ok(Vec::new());
    }
    let (sql, args) = s.finish("next_attempt_at, id", limit.max(1));
    let mut claimed = collect(c, &sql, args).await?;
    for n in &mut claimed {
        sqlx::query("UPDATE outbox SET claimed_until = $2 WHERE id = $1")
            .bind(n.id.to_string())
            .bind(lease_until.0)
            .execute(&mut *c)
            .await?;
        n.claimed_until = Some(lease_until);
    }
    Ok(claimed)
}

/// Records a successful delivery (one more attempt). Returns whether the row was still pending.
pub async fn mark_delivered(c: &mut AnyConnection, id: NotificationId, now: Timestamp) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = $2, claimed_until = NULL, \
         last_error = NULL WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Records a failed attempt; the row stays pending until `next_attempt_at`. Returns whether the row
/// was still pending.
pub async fn record_failed_attempt(
    c: &mut AnyConnection,
    id: NotificationId,
    error: &str,
    next_attempt_at: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, claimed_until = NULL \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(error.to_owned())
    .bind(next_attempt_at.0)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Records a last failed attempt and gives up: the row becomes `failed`. Returns whether the row
/// was still pending.
pub async fn mark_failed(c: &mut AnyConnection, id: NotificationId, error: &str) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $2, claimed_until = NULL \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(error.to_owned())
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Notifications matching `f`, ordered by id (descending if asked).
pub async fn list_notifications(c: &mut AnyConnection, f: &OutboxFilter) -> Result<Vec<Notification>> {
    let mut s = Select::new(&format!("SELECT {OUTBOX_COLS} FROM outbox"));
    if let Some(st) = f.status {
        s.eq("status", st.as_str());
    }
    if let Some(e) = &f.event {
        s.eq("event", e.as_str());
    }
    if let Some(r) = f.request {
        s.eq("request_id", r.to_string());
    }
    if let Some(ch) = f.channel {
        s.eq("channel", ch.as_str());
    }
    if let Some(a) = f.after {
        let p = s.arg(a.to_string());
        s.cond(format!("id {} {p}", if f.descending { "<" } else { ">" }));
    }
    let (sql, args) = s.finish(if f.descending { "id DESC" } else { "id" }, f.limit);
    collect(c, &sql, args).await
}

/// How many notifications are in each status (for metrics and tests), as (pending, delivered, failed).
pub async fn count_notifications(c: &mut AnyConnection) -> Result<(i64, i64, i64)> {
    let rows = sqlx::query("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetch_all(&mut *c).await?;
    let mut out = (0, 0, 0);
    for r in &rows {
        let n = row::int(r, 1)?;
        match row::name(r, 0, DeliveryStatus::parse)? {
            DeliveryStatus::Pending => out.0 = n,
            DeliveryStatus::Delivered => out.1 = n,
            DeliveryStatus::Failed => out.2 = n,
        }
    }
    Ok(out)
}
