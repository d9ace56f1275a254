//! The change feed: which entities each write changed, in commit order, so that every replica's
//! in-memory access index can follow the others (writers are serialized, so `seq` order is commit order).

use pim_domain::Timestamp;
use sqlx::{AnyConnection, Row};

use crate::error::Result;

/// One entry of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRow {
    /// Position in the feed.
    pub seq: i64,
    /// What kind of entity: `principal`, `membership`, `role`, `assignment`.
    pub kind: String,
    /// Which one (an id, or `group:member` for memberships).
    pub entity: String,
}

/// Records that the current write changed `kind` `entity`.
pub async fn record_change(c: &mut AnyConnection, kind: &str, entity: &str, at: Timestamp) -> Result<()> {
    sqlx::query("INSERT INTO changes (kind, entity, at) VALUES ($1, $2, $3)")
        .bind(kind.to_owned())
        .bind(entity.to_owned())
        .bind(at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// A change-feed entry not written yet (see [`record_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEntry {
    /// What changed: `principal`, `membership`, `role`, `assignment`.
    pub kind: String,
    /// Its id (a membership: `group:member`).
    pub entity: String,
    /// When.
    pub at: Timestamp,
}

/// Appends entries to the change feed in this order, many rows per statement.
pub async fn record_changes(c: &mut AnyConnection, entries: &[ChangeEntry]) -> Result<()> {
    let (_, per) = crate::q::chunk_sizes(c, CHANGE_INSERT_COLS);
    for chunk in entries.chunks(per) {
        let sql = record_changes_sql(crate::sql::is_sqlite(c), chunk.len(), 1);
        bind_changes(sqlx::query(&sql), chunk).execute(&mut *c).await?;
    }
    Ok(())
}

/// Values per row of [`record_changes_sql`].
pub(crate) const CHANGE_INSERT_COLS: usize = 3;

/// The `INSERT` of `n` feed entries, PostgreSQL's placeholders from `$first`; bound by
/// [`bind_changes`]. The rows are inserted (and numbered) in the order of their `VALUES`.
pub(crate) fn record_changes_sql(sqlite: bool, n: usize, first: usize) -> String {
    format!(
        "INSERT INTO changes (kind, entity, at) VALUES {}",
        crate::q::values_rows_from(sqlite, n, CHANGE_INSERT_COLS, first)
    )
}

/// Binds the values of [`record_changes_sql`] for `entries`.
pub(crate) fn bind_changes<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    entries: &[ChangeEntry],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for e in entries {
        q = q.bind(e.kind.clone()).bind(e.entity.clone()).bind(e.at.0);
    }
    q
}

/// Entries after `after`, oldest first, at most `limit`.
pub async fn changes_after(c: &mut AnyConnection, after: i64, limit: i64) -> Result<Vec<ChangeRow>> {
    let rows = sqlx::query("SELECT seq, kind, entity FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(ChangeRow { seq: r.try_get("seq")?, kind: r.try_get("kind")?, entity: r.try_get("entity")? });
    }
    Ok(out)
}

/// The newest position of the feed (0 when empty).
pub async fn last_change_seq(c: &mut AnyConnection) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes").fetch_one(&mut *c).await?;
    Ok(v.unwrap_or(0))
}

/// Forgets entries written before `before` (replicas that far behind reload everything). Returns how many.
pub async fn prune_changes(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM changes WHERE at < $1").bind(before.0).execute(&mut *c).await?;
    Ok(done.rows_affected())
}
