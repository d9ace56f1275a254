//! A small key/value table for server-wide facts (setup state, key ids, ...).

use sqlx::AnyConnection;

use crate::error::Result;

/// The value stored under `key`.
pub async fn get_meta(c: &mut AnyConnection, key: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key.to_owned()).fetch_optional(&mut *c).await?)
}

/// Stores `value` under `key`, replacing any.
pub async fn set_meta(c: &mut AnyConnection, key: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&mut *c)
        .await?;
    Ok(())
}
