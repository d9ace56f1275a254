//! MFA: TOTP factors (secrets stored encrypted by the engine), recovery codes (keyed hashes the
//! engine computes), and when a token's session last passed MFA.

use pim_domain::mfa::TotpFactor;
use pim_domain::{MfaFactorId, PrincipalId, Timestamp, TokenId};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;

const FACTOR_COLS: &str =
    "id, principal_id, secret, confirmed_at, last_step, failed_attempts, locked_until, created_at";

fn factor(r: &AnyRow) -> Result<TotpFactor> {
    Ok(TotpFactor {
        id: row::id(r, 0)?,
        principal_id: row::id(r, 1)?,
        secret: row::text(r, 2)?,
        confirmed_at: row::opt_ts(r, 3)?,
        last_step: row::opt_int(r, 4)?,
        failed_attempts: row::int(r, 5)?,
        locked_until: row::opt_ts(r, 6)?,
        created_at: row::ts(r, 7)?,
    })
}

/// Stores a new factor (a second pending or confirmed factor of one principal is a unique violation).
pub async fn insert_totp_factor(c: &mut AnyConnection, f: &TotpFactor) -> Result<()> {
    sqlx::query(
        "INSERT INTO mfa_totp_factors (id, principal_id, secret, confirmed_at, last_step, failed_attempts, \
         locked_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(f.id.to_string())
    .bind(f.principal_id.to_string())
    .bind(f.secret.clone())
    .bind(f.confirmed_at.map(|t| t.0))
    .bind(f.last_step)
    .bind(f.failed_attempts)
    .bind(f.locked_until.map(|t| t.0))
    .bind(f.created_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The principal's confirmed factor.
pub async fn get_confirmed_totp_factor(c: &mut AnyConnection, principal: PrincipalId) -> Result<Option<TotpFactor>> {
    let sql =
        format!("SELECT {FACTOR_COLS} FROM mfa_totp_factors WHERE principal_id = $1 AND confirmed_at IS NOT NULL");
    let r = sqlx::query(&sql).bind(principal.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(factor).transpose()
}

/// The principal's pending factor (enrolled, not yet confirmed).
pub async fn get_pending_totp_factor(c: &mut AnyConnection, principal: PrincipalId) -> Result<Option<TotpFactor>> {
    let sql = format!("SELECT {FACTOR_COLS} FROM mfa_totp_factors WHERE principal_id = $1 AND confirmed_at IS NULL");
    let r = sqlx::query(&sql).bind(principal.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(factor).transpose()
}

/// Removes the principal's pending factor; whether there was one.
pub async fn delete_pending_totp_factor(c: &mut AnyConnection, principal: PrincipalId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM mfa_totp_factors WHERE principal_id = $1 AND confirmed_at IS NULL")
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes the principal's confirmed factor; whether there was one.
pub async fn delete_confirmed_totp_factor(c: &mut AnyConnection, principal: PrincipalId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM mfa_totp_factors WHERE principal_id = $1 AND confirmed_at IS NOT NULL")
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes every factor of the principal, pending or confirmed; how many there were.
pub async fn delete_totp_factors(c: &mut AnyConnection, principal: PrincipalId) -> Result<u64> {
    let r = sqlx::query("DELETE FROM mfa_totp_factors WHERE principal_id = $1")
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected())
}

/// Makes a pending factor the principal's confirmed one (the previous confirmed factor, if any,
/// must be deleted first), with `step` as its last accepted time step.
pub async fn confirm_totp_factor(c: &mut AnyConnection, id: MfaFactorId, now: Timestamp, step: i64) -> Result<()> {
    sqlx::query(
        "UPDATE mfa_totp_factors SET confirmed_at = $2, last_step = $3, failed_attempts = 0, locked_until = NULL \
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(now.0)
    .bind(step)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records an accepted proof: the time step of a TOTP code (unchanged for a recovery code), and
/// no wrong attempts outstanding.
pub async fn record_mfa_success(c: &mut AnyConnection, id: MfaFactorId, step: Option<i64>) -> Result<()> {
    sqlx::query(
        "UPDATE mfa_totp_factors SET last_step = COALESCE($2, last_step), failed_attempts = 0, locked_until = NULL \
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(step)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records a wrong proof: the new count of wrong attempts and the lock, if it now holds one.
pub async fn record_mfa_failure(
    c: &mut AnyConnection,
    id: MfaFactorId,
    failed_attempts: i64,
    locked_until: Option<Timestamp>,
) -> Result<()> {
    sqlx::query(
        "UPDATE mfa_totp_factors SET failed_attempts = $2, locked_until = COALESCE($3, locked_until) WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(failed_attempts)
    .bind(locked_until.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Replaces the principal's recovery codes with `hashes` (keyed hashes, never the codes).
pub async fn replace_recovery_codes(
    c: &mut AnyConnection,
    principal: PrincipalId,
    hashes: &[String],
    now: Timestamp,
) -> Result<()> {
    delete_recovery_codes(c, principal).await?;
    for h in hashes {
        sqlx::query("INSERT INTO mfa_recovery_codes (principal_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(principal.to_string())
            .bind(h.clone())
            .bind(now.0)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Removes every recovery code of the principal; how many there were (used ones included).
pub async fn delete_recovery_codes(c: &mut AnyConnection, principal: PrincipalId) -> Result<u64> {
    let r = sqlx::query("DELETE FROM mfa_recovery_codes WHERE principal_id = $1")
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected())
}

/// What became of a recovery code presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryCodeUse {
    /// It was unused and is now used.
    Used,
    /// It was used before (at this time).
    UsedBefore(Timestamp),
    /// The principal has no such code.
    Unknown,
}

/// Marks the principal's recovery code with this hash as used at `now`, if it is unused.
pub async fn use_recovery_code(
    c: &mut AnyConnection,
    principal: PrincipalId,
    hash: &str,
    now: Timestamp,
) -> Result<RecoveryCodeUse> {
    let r = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $3 WHERE principal_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(principal.to_string())
    .bind(hash.to_owned())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    if r.rows_affected() > 0 {
        return Ok(RecoveryCodeUse::Used);
    }
    let used: Option<Option<i64>> =
        sqlx::query_scalar("SELECT used_at FROM mfa_recovery_codes WHERE principal_id = $1 AND code_hash = $2")
            .bind(principal.to_string())
            .bind(hash.to_owned())
            .fetch_optional(&mut *c)
            .await?;
    Ok(match used.flatten() {
        Some(at) => RecoveryCodeUse::UsedBefore(Timestamp(at)),
        None => RecoveryCodeUse::Unknown,
    })
}

/// How many unused recovery codes the principal has.
pub async fn count_unused_recovery_codes(c: &mut AnyConnection, principal: PrincipalId) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mfa_recovery_codes WHERE principal_id = $1 AND used_at IS NULL")
        .bind(principal.to_string())
        .fetch_one(&mut *c)
        .await?)
}

/// Records that the session holding `token` passed MFA at `at`.
pub async fn set_token_mfa(c: &mut AnyConnection, token: TokenId, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET mfa_at = $2 WHERE id = $1")
        .bind(token.to_string())
        .bind(at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Forgets that any of the principal's sessions passed MFA (after its MFA was reset); how many
/// tokens had.
pub async fn clear_tokens_mfa(c: &mut AnyConnection, principal: PrincipalId) -> Result<u64> {
    let r = sqlx::query("UPDATE api_tokens SET mfa_at = NULL WHERE principal_id = $1 AND mfa_at IS NOT NULL")
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected())
}
