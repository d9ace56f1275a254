//! Signed access tokens' tables: audiences (the resource servers) and signing keys (their private
//! halves sealed by the engine before they get here).

use pim_domain::token::{Audience, SigningAlg, SigningKeyInfo};
use pim_domain::{AudienceId, PrincipalId, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;

const AUDIENCE_COLS: &str =
    "id, name, role_ids, scope_prefix, lifetime_secs, algorithm, introspector, created_at, updated_at";

fn audience(r: &AnyRow) -> Result<Audience> {
    Ok(Audience {
        id: row::id(r, 0)?,
        name: row::text(r, 1)?,
        role_ids: row::json(r, 2)?,
        scope_prefix: row::scope(r, 3)?,
        lifetime_secs: u32::try_from(row::int(r, 4)?).unwrap_or(pim_domain::token::DEFAULT_LIFETIME_SECS),
        algorithm: row::opt_str_ref(r, 5)?.and_then(SigningAlg::parse),
        introspector: row::opt_id(r, 6)?,
        created_at: row::ts(r, 7)?,
        updated_at: row::ts(r, 8)?,
    })
}

/// Registers an audience; a name taken already is `Unique("audiences")`.
pub async fn insert_audience(c: &mut AnyConnection, a: &Audience) -> Result<()> {
    sqlx::query(&format!("INSERT INTO audiences ({AUDIENCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(a.id.to_string())
        .bind(a.name.clone())
        .bind(row::to_json(&a.role_ids)?)
        .bind(a.scope_prefix.as_str().to_owned())
        .bind(i64::from(a.lifetime_secs))
        .bind(a.algorithm.map(|x| x.as_str().to_owned()))
        .bind(a.introspector.map(|p| p.to_string()))
        .bind(a.created_at.0)
        .bind(a.updated_at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Writes every field of an existing audience but its id and creation time.
pub async fn update_audience(c: &mut AnyConnection, a: &Audience) -> Result<()> {
    sqlx::query(
        "UPDATE audiences SET name = $2, role_ids = $3, scope_prefix = $4, lifetime_secs = $5, algorithm = $6, \
         introspector = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(a.id.to_string())
    .bind(a.name.clone())
    .bind(row::to_json(&a.role_ids)?)
    .bind(a.scope_prefix.as_str().to_owned())
    .bind(i64::from(a.lifetime_secs))
    .bind(a.algorithm.map(|x| x.as_str().to_owned()))
    .bind(a.introspector.map(|p| p.to_string()))
    .bind(a.updated_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Removes an audience.
pub async fn delete_audience(c: &mut AnyConnection, id: AudienceId) -> Result<()> {
    sqlx::query("DELETE FROM audiences WHERE id = $1").bind(id.to_string()).execute(&mut *c).await?;
    Ok(())
}

/// The audience with this id.
pub async fn get_audience(c: &mut AnyConnection, id: AudienceId) -> Result<Option<Audience>> {
    let sql = format!("SELECT {AUDIENCE_COLS} FROM audiences WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(audience).transpose()
}

/// The audience with this name (compared exactly: it is the tokens' `aud`).
pub async fn get_audience_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<Audience>> {
    let sql = format!("SELECT {AUDIENCE_COLS} FROM audiences WHERE name = $1");
    let r = sqlx::query(&sql).bind(name.to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(audience).transpose()
}

/// Every audience, by name.
pub async fn list_audiences(c: &mut AnyConnection) -> Result<Vec<Audience>> {
    let sql = format!("SELECT {AUDIENCE_COLS} FROM audiences ORDER BY name");
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter().map(audience).collect()
}

/// A signing key as stored: its public facts, its JWK and its sealed private half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's id, algorithm and life.
    pub info: SigningKeyInfo,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    /// The PKCS#8 private key, sealed by the engine's secret box.
    pub private_sealed: String,
}

const KEY_COLS: &str = "kid, algorithm, created_at, rotated_at, retire_at, retired_at, public_jwk, private_sealed";

fn key(r: &AnyRow) -> Result<StoredKey> {
    Ok(StoredKey {
        info: SigningKeyInfo {
            kid: row::text(r, 0)?,
            algorithm: row::name(r, 1, SigningAlg::parse)?,
            created_at: row::ts(r, 2)?,
            rotated_at: row::opt_ts(r, 3)?,
            retire_at: row::opt_ts(r, 4)?,
            retired_at: row::opt_ts(r, 5)?,
        },
        public_jwk: row::text(r, 6)?,
        private_sealed: row::text(r, 7)?,
    })
}

/// Stores a new signing key.
pub async fn insert_signing_key(c: &mut AnyConnection, k: &StoredKey) -> Result<()> {
    sqlx::query(&format!("INSERT INTO signing_keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(k.info.kid.clone())
        .bind(k.info.algorithm.as_str().to_owned())
        .bind(k.info.created_at.0)
        .bind(k.info.rotated_at.map(|t| t.0))
        .bind(k.info.retire_at.map(|t| t.0))
        .bind(k.info.retired_at.map(|t| t.0))
        .bind(k.public_jwk.clone())
        .bind(k.private_sealed.clone())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The key that signs new tokens of `alg`: its newest row not rotated.
pub async fn current_signing_key(c: &mut AnyConnection, alg: SigningAlg) -> Result<Option<StoredKey>> {
    let sql = format!(
        "SELECT {KEY_COLS} FROM signing_keys WHERE algorithm = $1 AND rotated_at IS NULL \
         ORDER BY created_at DESC, kid DESC LIMIT 1"
    );
    let r = sqlx::query(&sql).bind(alg.as_str().to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(key).transpose()
}

/// The key with this id.
pub async fn get_signing_key(c: &mut AnyConnection, kid: &str) -> Result<Option<StoredKey>> {
    let sql = format!("SELECT {KEY_COLS} FROM signing_keys WHERE kid = $1");
    let r = sqlx::query(&sql).bind(kid.to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(key).transpose()
}

/// Every key, oldest first.
pub async fn list_signing_keys(c: &mut AnyConnection) -> Result<Vec<StoredKey>> {
    let sql = format!("SELECT {KEY_COLS} FROM signing_keys ORDER BY created_at, kid");
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter().map(key).collect()
}

/// Marks a key rotated at `at`, leaving the JWKS at `retire_at`.
pub async fn rotate_signing_key(c: &mut AnyConnection, kid: &str, at: Timestamp, retire_at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE signing_keys SET rotated_at = $2, retire_at = $3 WHERE kid = $1 AND rotated_at IS NULL")
        .bind(kid.to_owned())
        .bind(at.0)
        .bind(retire_at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Records that a key's retirement has come, and forgets its sealed private half (it never signs
/// again; the public half stays for the record).
pub async fn mark_signing_key_retired(c: &mut AnyConnection, kid: &str, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE signing_keys SET retired_at = $2, private_sealed = '' WHERE kid = $1 AND retired_at IS NULL")
        .bind(kid.to_owned())
        .bind(at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Records that `principal` was disabled at `at`: its access tokens issued before then are dead.
pub async fn set_access_token_cutoff(c: &mut AnyConnection, principal: PrincipalId, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_token_cutoffs (principal_id, not_before) VALUES ($1, $2) \
         ON CONFLICT (principal_id) DO UPDATE SET not_before = excluded.not_before",
    )
    .bind(principal.to_string())
    .bind(at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// When `principal` was last disabled, if ever.
pub async fn access_token_cutoff(c: &mut AnyConnection, principal: PrincipalId) -> Result<Option<Timestamp>> {
    let r = sqlx::query("SELECT not_before FROM access_token_cutoffs WHERE principal_id = $1")
        .bind(principal.to_string())
        .fetch_optional(&mut *c)
        .await?;
    r.map(|r| row::ts(&r, 0)).transpose()
}
