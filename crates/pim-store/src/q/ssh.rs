//! SSH certificate authority keys: the public half in clear, the private half as the engine sealed it.

use pim_domain::Timestamp;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;

/// A stored CA key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshCaKeyRow {
    /// Its id (a UUID v7).
    pub id: String,
    /// Its algorithm, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The public key as one OpenSSH line.
    pub public_key: String,
    /// The private key, sealed by the engine.
    pub sealed: String,
    /// When it was made.
    pub created_at: Timestamp,
}

fn ca_key(r: &AnyRow) -> Result<SshCaKeyRow> {
    Ok(SshCaKeyRow {
        id: row::text(r, 0)?,
        algorithm: row::text(r, 1)?,
        public_key: row::text(r, 2)?,
        sealed: row::text(r, 3)?,
        created_at: row::ts(r, 4)?,
    })
}

/// The CA key in use: the newest one.
pub async fn current_ssh_ca_key(c: &mut AnyConnection) -> Result<Option<SshCaKeyRow>> {
    let r = sqlx::query(
        "SELECT id, algorithm, public_key, sealed, created_at FROM ssh_ca_keys ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(&mut *c)
    .await?;
    r.as_ref().map(ca_key).transpose()
}

/// Stores a new CA key (run it in the write transaction that looked for one first).
pub async fn insert_ssh_ca_key(c: &mut AnyConnection, k: &SshCaKeyRow) -> Result<()> {
    sqlx::query("INSERT INTO ssh_ca_keys (id, algorithm, public_key, sealed, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(k.id.clone())
        .bind(k.algorithm.clone())
        .bind(k.public_key.clone())
        .bind(k.sealed.clone())
        .bind(k.created_at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}
