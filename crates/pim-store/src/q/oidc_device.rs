//! OpenID Connect device sign-ins (RFC 8628) begun and not yet finished: stored, claimed one poll
//! at a time, and taken once.

use pim_domain::Timestamp;
use sqlx::AnyConnection;

use crate::error::Result;
use crate::row;

/// A device sign-in begun at a provider and not yet finished (one `oidc_device_pending` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcDevicePending {
    /// SHA-256 (hex) of the handle the CLI polls with.
    pub handle_hash: String,
    /// The provider's configured name.
    pub provider: String,
    /// The provider's device authorization answer (with the device code), sealed by the engine.
    pub sealed: String,
    /// The hash of the CLI's binding.
    pub binding: String,
    /// How long to wait between polls of the provider, in milliseconds.
    pub interval_ms: i64,
    /// The provider is asked again no earlier than this.
    pub next_poll_at: Timestamp,
    /// When it was begun.
    pub created_at: Timestamp,
    /// When it can no longer be finished.
    pub expires_at: Timestamp,
}

/// Stores a device sign-in begun.
pub async fn insert_oidc_device(c: &mut AnyConnection, p: &OidcDevicePending) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_device_pending (handle_hash, provider, sealed, binding, interval_ms, next_poll_at, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.handle_hash.clone())
    .bind(p.provider.clone())
    .bind(p.sealed.clone())
    .bind(p.binding.clone())
    .bind(p.interval_ms)
    .bind(p.next_poll_at.0)
    .bind(p.created_at.0)
    .bind(p.expires_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The device sign-in of `handle_hash`.
pub async fn get_oidc_device(c: &mut AnyConnection, handle_hash: &str) -> Result<Option<OidcDevicePending>> {
    let r = sqlx::query(
        "SELECT handle_hash, provider, sealed, binding, interval_ms, next_poll_at, created_at, expires_at \
         FROM oidc_device_pending WHERE handle_hash = $1",
    )
    .bind(handle_hash.to_owned())
    .fetch_optional(&mut *c)
    .await?;
    r.map(|r| {
        Ok(OidcDevicePending {
            handle_hash: row::text(&r, 0)?,
            provider: row::text(&r, 1)?,
            sealed: row::text(&r, 2)?,
            binding: row::text(&r, 3)?,
            interval_ms: row::int(&r, 4)?,
            next_poll_at: row::ts(&r, 5)?,
            created_at: row::ts(&r, 6)?,
            expires_at: row::ts(&r, 7)?,
        })
    })
    .transpose()
}

/// Claims the next poll of `handle_hash` at `now`: moves `next_poll_at` one interval on, only if
/// it has come. Answers whether this caller may ask the provider (one statement, so two replicas
/// polling at once do not both ask).
pub async fn claim_oidc_device_poll(c: &mut AnyConnection, handle_hash: &str, now: Timestamp) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE oidc_device_pending SET next_poll_at = $2 + interval_ms \
         WHERE handle_hash = $1 AND next_poll_at <= $2 AND expires_at > $2",
    )
    .bind(handle_hash.to_owned())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the interval the provider asked for (after `slow_down`) and the next poll after `now`.
pub async fn set_oidc_device_interval(
    c: &mut AnyConnection,
    handle_hash: &str,
    interval_ms: i64,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("UPDATE oidc_device_pending SET interval_ms = $2, next_poll_at = $3 WHERE handle_hash = $1")
        .bind(handle_hash.to_owned())
        .bind(interval_ms)
        .bind(now.0.saturating_add(interval_ms))
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Deletes the device sign-in of `handle_hash`; answers whether this call deleted it (so a sign-in
/// finishes once).
pub async fn delete_oidc_device(c: &mut AnyConnection, handle_hash: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM oidc_device_pending WHERE handle_hash = $1")
        .bind(handle_hash.to_owned())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets the device sign-ins that expired at or before `before`; answers how many.
pub async fn prune_oidc_device(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let r =
        sqlx::query("DELETE FROM oidc_device_pending WHERE expires_at <= $1").bind(before.0).execute(&mut *c).await?;
    Ok(r.rows_affected())
}
