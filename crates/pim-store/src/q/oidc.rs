//! OpenID Connect sign-in: the subjects linked to pim users, and sign-ins begun and not yet finished.

use pim_domain::{PrincipalId, Timestamp, TokenId};
use sqlx::AnyConnection;

use crate::error::Result;
use crate::row;

/// A sign-in begun at a provider and not yet finished (one `oidc_pending` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcPending {
    /// SHA-256 (hex) of the `state` sent to the provider.
    pub state_hash: String,
    /// The provider's configured name.
    pub provider: String,
    /// The nonce and PKCE verifier, sealed by the engine.
    pub sealed: String,
    /// Where the provider sends the browser back.
    pub redirect_uri: String,
    /// `portal` or `cli`.
    pub purpose: String,
    /// The hash of the browser-binding cookie (portal), or empty.
    pub binding: String,
    /// When it was begun.
    pub created_at: Timestamp,
    /// When it can no longer be finished.
    pub expires_at: Timestamp,
}

/// Stores a sign-in begun.
pub async fn insert_oidc_pending(c: &mut AnyConnection, p: &OidcPending) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_pending (state_hash, provider, sealed, redirect_uri, purpose, binding, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.state_hash.clone())
    .bind(p.provider.clone())
    .bind(p.sealed.clone())
    .bind(p.redirect_uri.clone())
    .bind(p.purpose.clone())
    .bind(p.binding.clone())
    .bind(p.created_at.0)
    .bind(p.expires_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Takes the sign-in begun with `state_hash`: deletes it and answers it, in one statement, so a
/// `state` finishes at most one sign-in even when two replicas try at once.
pub async fn take_oidc_pending(c: &mut AnyConnection, state_hash: &str) -> Result<Option<OidcPending>> {
    let r = sqlx::query(
        "DELETE FROM oidc_pending WHERE state_hash = $1 \
         RETURNING state_hash, provider, sealed, redirect_uri, purpose, binding, created_at, expires_at",
    )
    .bind(state_hash.to_owned())
    .fetch_optional(&mut *c)
    .await?;
    r.map(|r| {
        Ok(OidcPending {
            state_hash: row::text(&r, 0)?,
            provider: row::text(&r, 1)?,
            sealed: row::text(&r, 2)?,
            redirect_uri: row::text(&r, 3)?,
            purpose: row::text(&r, 4)?,
            binding: row::text(&r, 5)?,
            created_at: row::ts(&r, 6)?,
            expires_at: row::ts(&r, 7)?,
        })
    })
    .transpose()
}

/// Forgets the sign-ins that expired at or before `before`; answers how many.
pub async fn prune_oidc_pending(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let r = sqlx::query("DELETE FROM oidc_pending WHERE expires_at <= $1").bind(before.0).execute(&mut *c).await?;
    Ok(r.rows_affected())
}

/// The pim user linked to `subject` at `provider`.
pub async fn get_oidc_identity(c: &mut AnyConnection, provider: &str, subject: &str) -> Result<Option<PrincipalId>> {
    let r = sqlx::query("SELECT principal_id FROM oidc_identities WHERE provider = $1 AND subject = $2")
        .bind(provider.to_owned())
        .bind(subject.to_owned())
        .fetch_optional(&mut *c)
        .await?;
    r.map(|r| row::id(&r, 0)).transpose()
}

/// Links `subject` at `provider` to `principal` (refused by the key when the subject is linked already).
pub async fn insert_oidc_identity(
    c: &mut AnyConnection,
    provider: &str,
    subject: &str,
    principal: PrincipalId,
    email: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_identities (provider, subject, principal_id, email, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(provider.to_owned())
    .bind(subject.to_owned())
    .bind(principal.to_string())
    .bind(email.map(str::to_owned))
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records a sign-in through a linked subject.
pub async fn touch_oidc_identity(c: &mut AnyConnection, provider: &str, subject: &str, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE oidc_identities SET last_used_at = $3 WHERE provider = $1 AND subject = $2")
        .bind(provider.to_owned())
        .bind(subject.to_owned())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Whether `principal` is linked to a subject at any provider.
pub async fn principal_has_any_oidc_identity(c: &mut AnyConnection, principal: PrincipalId) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_identities WHERE principal_id = $1")
        .bind(principal.to_string())
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

/// The users whose email is `email` (compared case-insensitively), at most two (one is a match,
/// two are ambiguous).
pub async fn users_with_email(c: &mut AnyConnection, email: &str) -> Result<Vec<PrincipalId>> {
    let rows = sqlx::query("SELECT id FROM principals WHERE kind = 'user' AND LOWER(email) = LOWER($1) LIMIT 2")
        .bind(email.to_owned())
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| row::id(r, 0)).collect()
}

/// Records that the session holding `token` began with a sign-in as `subject` at `provider`.
pub async fn set_token_oidc(c: &mut AnyConnection, token: TokenId, provider: &str, subject: &str) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET oidc_provider = $2, oidc_subject = $3 WHERE id = $1")
        .bind(token.to_string())
        .bind(provider.to_owned())
        .bind(subject.to_owned())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The provider and subject the session holding `token` signed in as, if it signed in through one.
pub async fn get_token_oidc(c: &mut AnyConnection, token: TokenId) -> Result<Option<(String, String)>> {
    let r = sqlx::query("SELECT oidc_provider, oidc_subject FROM api_tokens WHERE id = $1")
        .bind(token.to_string())
        .fetch_optional(&mut *c)
        .await?;
    let Some(r) = r else { return Ok(None) };
    Ok(row::opt_text(&r, 0)?.zip(row::opt_text(&r, 1)?))
}
