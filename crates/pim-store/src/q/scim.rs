//! SCIM provisioning: registered clients (their secrets as SHA-256 hashes) and the SCIM document
//! of each user or group written through SCIM.

use futures_util::TryStreamExt as _;
use pim_domain::{PrincipalId, ScimClient, ScimClientId, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;

const CLIENT_COLS: &str = "id, name, created_at, created_by, revoked_at, last_used_at";

fn client(r: &AnyRow) -> Result<ScimClient> {
    Ok(ScimClient {
        id: row::id(r, 0)?,
        name: row::text(r, 1)?,
        created_at: row::ts(r, 2)?,
        created_by: row::opt_id(r, 3)?,
        revoked_at: row::opt_ts(r, 4)?,
        last_used_at: row::opt_ts(r, 5)?,
    })
}

/// Stores a client with the hash of its secret.
pub async fn insert_scim_client(c: &mut AnyConnection, client: &ScimClient, secret_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_clients (id, name, name_key, secret_hash, created_at, created_by, revoked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(client.id.to_string())
    .bind(client.name.clone())
    .bind(client.name.to_lowercase())
    .bind(secret_hash.to_owned())
    .bind(client.created_at.0)
    .bind(client.created_by.map(|v| v.to_string()))
    .bind(client.revoked_at.map(|v| v.0))
    .bind(client.last_used_at.map(|v| v.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The client with this name (case-insensitive), revoked or not.
pub async fn get_scim_client_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<ScimClient>> {
    let sql = format!("SELECT {CLIENT_COLS} FROM scim_clients WHERE name_key = $1");
    let r = sqlx::query(&sql).bind(name.to_lowercase()).fetch_optional(&mut *c).await?;
    r.as_ref().map(client).transpose()
}

/// The client with this id.
pub async fn get_scim_client(c: &mut AnyConnection, id: ScimClientId) -> Result<Option<ScimClient>> {
    let sql = format!("SELECT {CLIENT_COLS} FROM scim_clients WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(client).transpose()
}

/// The client whose secret hashes to `hash` (revoked ones included: check `revoked_at`).
pub async fn get_scim_client_by_hash(c: &mut AnyConnection, hash: &str) -> Result<Option<ScimClient>> {
    let sql = format!("SELECT {CLIENT_COLS} FROM scim_clients WHERE secret_hash = $1");
    let r = sqlx::query(&sql).bind(hash.to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(client).transpose()
}

/// Every client, oldest first.
pub async fn list_scim_clients(c: &mut AnyConnection) -> Result<Vec<ScimClient>> {
    let sql = format!("SELECT {CLIENT_COLS} FROM scim_clients ORDER BY id");
    let mut rows = sqlx::query(&sql).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(client(&r)?);
    }
    Ok(out)
}

/// Revokes a client; whether it was active.
pub async fn revoke_scim_client(c: &mut AnyConnection, id: ScimClientId, now: Timestamp) -> Result<bool> {
    let r = sqlx::query("UPDATE scim_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.to_string())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Records a client's use.
pub async fn touch_scim_client(c: &mut AnyConnection, id: ScimClientId, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE scim_clients SET last_used_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The SCIM document of a user or group written through SCIM.
#[derive(Clone, Debug, PartialEq)]
pub struct ScimDocument {
    /// The principal.
    pub principal_id: PrincipalId,
    /// Its `externalId`.
    pub external_id: Option<String>,
    /// The canonical SCIM document (JSON).
    pub document: serde_json::Value,
    /// The client that last wrote it.
    pub client_id: Option<ScimClientId>,
    /// When it was last written.
    pub updated_at: Timestamp,
    /// When SCIM deleted the principal.
    pub deleted_at: Option<Timestamp>,
}

const DOC_COLS: &str = "principal_id, external_id, document, client_id, updated_at, deleted_at";

fn document(r: &AnyRow) -> Result<ScimDocument> {
    Ok(ScimDocument {
        principal_id: row::id(r, 0)?,
        external_id: row::opt_text(r, 1)?,
        document: row::json(r, 2)?,
        client_id: row::opt_id(r, 3)?,
        updated_at: row::ts(r, 4)?,
        deleted_at: row::opt_ts(r, 5)?,
    })
}

/// Inserts or replaces a principal's SCIM document.
pub async fn put_scim_document(c: &mut AnyConnection, d: &ScimDocument) -> Result<()> {
    sqlx::query(
        "INSERT INTO scim_resources (principal_id, external_id, document, client_id, updated_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (principal_id) DO UPDATE SET external_id = excluded.external_id, \
         document = excluded.document, client_id = excluded.client_id, updated_at = excluded.updated_at, \
         deleted_at = excluded.deleted_at",
    )
    .bind(d.principal_id.to_string())
    .bind(d.external_id.clone())
    .bind(row::to_json(&d.document)?)
    .bind(d.client_id.map(|v| v.to_string()))
    .bind(d.updated_at.0)
    .bind(d.deleted_at.map(|v| v.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A principal's SCIM document.
pub async fn get_scim_document(c: &mut AnyConnection, id: PrincipalId) -> Result<Option<ScimDocument>> {
    let sql = format!("SELECT {DOC_COLS} FROM scim_resources WHERE principal_id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(document).transpose()
}

/// The documents (deleted ones included) whose externalId is `external_id` (case-exact).
pub async fn scim_documents_by_external_id(c: &mut AnyConnection, external_id: &str) -> Result<Vec<ScimDocument>> {
    let sql = format!("SELECT {DOC_COLS} FROM scim_resources WHERE external_id = $1 ORDER BY principal_id");
    let mut rows = sqlx::query(&sql).bind(external_id.to_owned()).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(document(&r)?);
    }
    Ok(out)
}

/// Every SCIM document (deleted ones included).
pub async fn all_scim_documents(c: &mut AnyConnection) -> Result<Vec<ScimDocument>> {
    let sql = format!("SELECT {DOC_COLS} FROM scim_resources ORDER BY principal_id");
    let mut rows = sqlx::query(&sql).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(document(&r)?);
    }
    Ok(out)
}
