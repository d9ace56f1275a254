//! Principals (users, groups, service principals in one table and one namespace of names),
//! their password hashes, and static group memberships.

use futures_util::TryStreamExt as _;
use pim_domain::{Principal, PrincipalId, PrincipalKind, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

/// Which principals to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrincipalFilter {
    /// Only this kind.
    pub kind: Option<PrincipalKind>,
    /// Only names starting with this (case-insensitive).
    pub name_prefix: Option<String>,
    /// Only ids after this one (the cursor).
    pub after: Option<PrincipalId>,
    /// At most this many (`0`: all).
    pub limit: i64,
}

const PRINCIPAL_COLS: &str = "id, kind, name, display_name, email, description, manager_id, enabled, \
                              emergency_access, last_sign_in_at, created_at, updated_at";

/// The case-insensitive key of a name.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

fn principal(r: &AnyRow) -> Result<Principal> {
    Ok(Principal {
        id: row::id(r, 0)?,
        kind: row::name(r, 1, PrincipalKind::parse)?,
        name: row::text(r, 2)?,
        display_name: row::text(r, 3)?,
        email: row::opt_text(r, 4)?,
        description: row::opt_text(r, 5)?,
        manager_id: row::opt_id(r, 6)?,
        enabled: row::boolean(r, 7)?,
        emergency_access: row::boolean(r, 8)?,
        last_sign_in_at: row::opt_ts(r, 9)?,
        created_at: row::ts(r, 10)?,
        updated_at: row::ts(r, 11)?,
    })
}

/// Inserts a principal; a name taken by any principal (case-insensitively) is `Unique("principals")`.
pub async fn insert_principal(c: &mut AnyConnection, p: &Principal) -> Result<()> {
    sqlx::query(
        "INSERT INTO principals (id, kind, name, name_key, display_name, email, description, manager_id, \
         enabled, emergency_access, last_sign_in_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(p.id.to_string())
    .bind(p.kind.as_str())
    .bind(p.name.clone())
    .bind(name_key(&p.name))
    .bind(p.display_name.clone())
    .bind(p.email.clone())
    .bind(p.description.clone())
    .bind(p.manager_id.map(|v| v.to_string()))
    .bind(p.enabled)
    .bind(p.emergency_access)
    .bind(p.last_sign_in_at.map(|t| t.0))
    .bind(p.created_at.0)
    .bind(p.updated_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Updates every mutable field (all but id, kind and created_at) of the principal with `p.id`.
pub async fn update_principal(c: &mut AnyConnection, p: &Principal) -> Result<()> {
    sqlx::query(
        "UPDATE principals SET name = $2, name_key = $3, display_name = $4, email = $5, description = $6, \
         manager_id = $7, enabled = $8, emergency_access = $9, last_sign_in_at = $10, updated_at = $11 \
         WHERE id = $1",
    )
    .bind(p.id.to_string())
    .bind(p.name.clone())
    .bind(name_key(&p.name))
    .bind(p.display_name.clone())
    .bind(p.email.clone())
    .bind(p.description.clone())
    .bind(p.manager_id.map(|v| v.to_string()))
    .bind(p.enabled)
    .bind(p.emergency_access)
    .bind(p.last_sign_in_at.map(|t| t.0))
    .bind(p.updated_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The principal with this id.
pub async fn get_principal(c: &mut AnyConnection, id: PrincipalId) -> Result<Option<Principal>> {
    let sql = format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(principal).transpose()
}

/// The principals with these ids (those that exist, in no particular order; see
/// [`crate::q::rows_by_ids`]).
pub async fn get_principals(c: &mut AnyConnection, ids: &[PrincipalId]) -> Result<Vec<Principal>> {
    crate::q::rows_by_ids(c, PRINCIPAL_COLS, "principals", ids, principal).await
}

/// The principal with this name, compared case-insensitively.
pub async fn get_principal_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<Principal>> {
    let sql = format!("SELECT {PRINCIPAL_COLS} FROM principals WHERE name_key = $1");
    let r = sqlx::query(&sql).bind(name_key(name)).fetch_optional(&mut *c).await?;
    r.as_ref().map(principal).transpose()
}

/// Every principal, ordered by id, read in pages of 10,000 (the access index's load, the
/// connectors' reconciliation, the policy's export and plan).
pub async fn all_principals(c: &mut AnyConnection) -> Result<Vec<Principal>> {
    const PAGE: i64 = 10_000;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = list_principals(c, &PrincipalFilter { kind: None, name_prefix: None, after, limit: PAGE }).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let last_page = page.len() < PAGE as usize;
        out.extend(page);
        if last_page {
            break;
        }
    }
    Ok(out)
}

/// Principals matching `f`, ordered by id.
pub async fn list_principals(c: &mut AnyConnection, f: &PrincipalFilter) -> Result<Vec<Principal>> {
    let mut s = Select::new(&format!("SELECT {PRINCIPAL_COLS} FROM principals"));
    if let Some(k) = f.kind {
        s.eq("kind", k.as_str());
    }
    if let Some(p) = &f.name_prefix {
        s.starts_with("name_key", &name_key(p));
    }
    if let Some(a) = f.after {
        let p = s.arg(a.to_string());
        s.cond(format!("id > {p}"));
    }
    let (sql, args) = s.finish("id", f.limit);
    let mut rows = bind_all(&sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(principal(&r)?);
    }
    Ok(out)
}

/// How many principals there are.
pub async fn count_principals(c: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM principals").fetch_one(&mut *c).await?)
}

/// How many users there are.
pub async fn count_users(c: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM principals WHERE kind = 'user'").fetch_one(&mut *c).await?)
}

/// Sets (or replaces) a principal's password hash.
pub async fn set_password_hash(c: &mut AnyConnection, id: PrincipalId, hash: &str, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO credentials (principal_id, password_hash, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (principal_id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
    )
    .bind(id.to_string())
    .bind(hash.to_owned())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A principal's password hash, if it has one.
pub async fn get_password_hash(c: &mut AnyConnection, id: PrincipalId) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM credentials WHERE principal_id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?)
}

/// Adds `member` to `group`; `false` if it was a member already.
pub async fn add_member(
    c: &mut AnyConnection,
    group: PrincipalId,
    member: PrincipalId,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO memberships (group_id, member_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (group_id, member_id) DO NOTHING",
    )
    .bind(group.to_string())
    .bind(member.to_string())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes `member` from `group`; `false` if it was not a member.
pub async fn remove_member(c: &mut AnyConnection, group: PrincipalId, member: PrincipalId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM memberships WHERE group_id = $1 AND member_id = $2")
        .bind(group.to_string())
        .bind(member.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

async fn id_list(c: &mut AnyConnection, sql: &str, arg: PrincipalId) -> Result<Vec<PrincipalId>> {
    let rows = sqlx::query(sql).bind(arg.to_string()).fetch_all(&mut *c).await?;
    rows.iter().map(|r| row::id(r, 0)).collect()
}

/// The direct members of `group`, ordered by id.
pub async fn list_members(c: &mut AnyConnection, group: PrincipalId) -> Result<Vec<PrincipalId>> {
    id_list(c, "SELECT member_id FROM memberships WHERE group_id = $1 ORDER BY member_id", group).await
}

/// The groups `member` is directly in, ordered by id.
pub async fn list_groups_of(c: &mut AnyConnection, member: PrincipalId) -> Result<Vec<PrincipalId>> {
    id_list(c, "SELECT group_id FROM memberships WHERE member_id = $1 ORDER BY group_id", member).await
}

/// Every membership, as `(group, member)`.
pub async fn all_memberships(c: &mut AnyConnection) -> Result<Vec<(PrincipalId, PrincipalId)>> {
    let mut rows =
        sqlx::query("SELECT group_id, member_id FROM memberships ORDER BY group_id, member_id").fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push((row::id(&r, 0)?, row::id(&r, 1)?));
    }
    Ok(out)
}
