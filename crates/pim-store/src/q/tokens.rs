//! API tokens: metadata plus the SHA-256 (hex) of the secret, which the engine computes.

use pim_domain::{ApiToken, PrincipalId, Timestamp, TokenId};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

const TOKEN_COLS: &str = "id, principal_id, name, created_at, expires_at, revoked_at, last_used_at, mfa_at";

fn token(r: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row::id(r, 0)?,
        principal_id: row::id(r, 1)?,
        name: row::text(r, 2)?,
        created_at: row::ts(r, 3)?,
        expires_at: row::ts(r, 4)?,
        revoked_at: row::opt_ts(r, 5)?,
        last_used_at: row::opt_ts(r, 6)?,
        mfa_at: row::opt_ts(r, 7)?,
    })
}

/// Stores a token with the hash of its secret.
pub async fn insert_token(c: &mut AnyConnection, t: &ApiToken, hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, principal_id, name, token_hash, created_at, expires_at, revoked_at, last_used_at, \
         mfa_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.id.to_string())
    .bind(t.principal_id.to_string())
    .bind(t.name.clone())
    .bind(hash.to_owned())
    .bind(t.created_at.0)
    .bind(t.expires_at.0)
    .bind(t.revoked_at.map(|v| v.0))
    .bind(t.last_used_at.map(|v| v.0))
    .bind(t.mfa_at.map(|v| v.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The token whose secret hashes to `hash` (revoked and expired ones included: check validity).
pub async fn get_token_by_hash(c: &mut AnyConnection, hash: &str) -> Result<Option<ApiToken>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = $1");
    let r = sqlx::query(&sql).bind(hash.to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(token).transpose()
}

/// The token with this id.
pub async fn get_token(c: &mut AnyConnection, id: TokenId) -> Result<Option<ApiToken>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(token).transpose()
}

/// Every token (of one principal, or of all), oldest first.
pub async fn list_tokens(c: &mut AnyConnection, principal: Option<PrincipalId>) -> Result<Vec<ApiToken>> {
    let mut s = Select::new(&format!("SELECT {TOKEN_COLS} FROM api_tokens"));
    if let Some(p) = principal {
        s.eq("principal_id", p.to_string());
    }
    let (sql, args) = s.finish("id", 0);
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    rows.iter().map(token).collect()
}

/// Revokes a token at `now`; `false` if there is no such token or it was revoked already.
pub async fn revoke_token(c: &mut AnyConnection, id: TokenId, now: Timestamp) -> Result<bool> {
    let r = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.to_string())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Revokes at `now` every token of `principal` not revoked yet; answers their ids.
pub async fn revoke_principal_tokens(
    c: &mut AnyConnection,
    principal: PrincipalId,
    now: Timestamp,
) -> Result<Vec<TokenId>> {
    let rows = sqlx::query("SELECT id FROM api_tokens WHERE principal_id = $1 AND revoked_at IS NULL ORDER BY id")
        .bind(principal.to_string())
        .fetch_all(&mut *c)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE principal_id = $1 AND revoked_at IS NULL")
        .bind(principal.to_string())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    rows.iter().map(|r| row::id(r, 0)).collect()
}

/// Records that a token was used at `now`.
pub async fn touch_token(c: &mut AnyConnection, id: TokenId, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}
