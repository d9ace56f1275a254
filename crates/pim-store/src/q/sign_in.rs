//! Failed password sign-ins per user name (keyed by a hash the engine computes), for the lockout.

use pim_domain::Timestamp;
use sqlx::AnyConnection;

use crate::error::Result;

/// The failures counted for `name_hash`: how many, and when their window started.
pub async fn get_sign_in_failures(c: &mut AnyConnection, name_hash: &str) -> Result<Option<(i64, Timestamp)>> {
    let r: Option<(i64, i64)> =
        sqlx::query_as("SELECT failed, window_start FROM sign_in_failures WHERE name_hash = $1")
            .bind(name_hash.to_owned())
            .fetch_optional(&mut *c)
            .await?;
    Ok(r.map(|(n, start)| (n, Timestamp(start))))
}

/// Stores the failures counted for `name_hash`, replacing any.
pub async fn set_sign_in_failures(
    c: &mut AnyConnection,
    name_hash: &str,
    failed: i64,
    window_start: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sign_in_failures (name_hash, failed, window_start) VALUES ($1, $2, $3) \
         ON CONFLICT (name_hash) DO UPDATE SET failed = excluded.failed, window_start = excluded.window_start",
    )
    .bind(name_hash.to_owned())
    .bind(failed)
    .bind(window_start.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Forgets the failures of `name_hash` (after a successful sign-in).
pub async fn clear_sign_in_failures(c: &mut AnyConnection, name_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE name_hash = $1")
        .bind(name_hash.to_owned())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Forgets every count whose window started at or before `before`; answers how many.
pub async fn prune_sign_in_failures(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let r =
        sqlx::query("DELETE FROM sign_in_failures WHERE window_start <= $1").bind(before.0).execute(&mut *c).await?;
    Ok(r.rows_affected())
}

/// How many user names have failures counted.
pub async fn count_sign_in_failures(c: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures").fetch_one(&mut *c).await?)
}
