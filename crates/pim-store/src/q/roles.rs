//! Role definitions (permissions kept as JSON) and role settings per role and scope.

use pim_domain::{PrincipalId, RoleDefinition, RoleId, RoleSettings, ScopePath, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::directory::name_key;
use crate::error::Result;
use crate::row::{self, to_json};
use crate::sql::{Arg, Select, bind_all};

const ROLE_COLS: &str = "id, name, description, builtin, permissions";

fn role(r: &AnyRow) -> Result<RoleDefinition> {
    Ok(RoleDefinition {
        id: row::id(r, 0)?,
        name: row::text(r, 1)?,
        description: row::text(r, 2)?,
        builtin: row::boolean(r, 3)?,
        permissions: row::json(r, 4)?,
    })
}

/// Inserts a role; a name taken (case-insensitively) is `Unique("roles")`.
pub async fn insert_role(c: &mut AnyConnection, role: &RoleDefinition, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO roles (id, name, name_key, description, builtin, permissions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(role.id.to_string())
    .bind(role.name.clone())
    .bind(name_key(&role.name))
    .bind(role.description.clone())
    .bind(role.builtin)
    .bind(to_json(&role.permissions)?)
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Updates a role's name, description, built-in flag and permissions.
pub async fn update_role(c: &mut AnyConnection, role: &RoleDefinition, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE roles SET name = $2, name_key = $3, description = $4, builtin = $5, permissions = $6, \
         updated_at = $7 WHERE id = $1",
    )
    .bind(role.id.to_string())
    .bind(role.name.clone())
    .bind(name_key(&role.name))
    .bind(role.description.clone())
    .bind(role.builtin)
    .bind(to_json(&role.permissions)?)
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Deletes a custom role and its settings; `false` if there is no such custom role
/// (built-in roles are never deleted).
pub async fn delete_role(c: &mut AnyConnection, id: RoleId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM roles WHERE id = $1 AND builtin = FALSE")
        .bind(id.to_string())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The role with this id.
pub async fn get_role(c: &mut AnyConnection, id: RoleId) -> Result<Option<RoleDefinition>> {
    let sql = format!("SELECT {ROLE_COLS} FROM roles WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(role).transpose()
}

/// The role with this name, compared case-insensitively.
pub async fn get_role_by_name(c: &mut AnyConnection, name: &str) -> Result<Option<RoleDefinition>> {
    let sql = format!("SELECT {ROLE_COLS} FROM roles WHERE name_key = $1");
    let r = sqlx::query(&sql).bind(name_key(name)).fetch_optional(&mut *c).await?;
    r.as_ref().map(role).transpose()
}

/// Every role: built-in ones first, then by name (case-insensitively).
pub async fn list_roles(c: &mut AnyConnection) -> Result<Vec<RoleDefinition>> {
    let sql = format!("SELECT {ROLE_COLS} FROM roles ORDER BY builtin DESC, name_key, id");
    let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
    rows.iter().map(role).collect()
}

/// Sets the explicit settings of `role` at `scope` (replacing any).
pub async fn put_settings(
    c: &mut AnyConnection,
    role: RoleId,
    scope: &ScopePath,
    settings: &RoleSettings,
    now: Timestamp,
    by: Option<PrincipalId>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_settings (role_id, scope, settings, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (role_id, scope) DO UPDATE SET settings = excluded.settings, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(role.to_string())
    .bind(scope.as_str().to_owned())
    .bind(to_json(settings)?)
    .bind(now.0)
    .bind(by.map(|v| v.to_string()))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Removes the explicit settings of `role` at `scope`; `false` if there were none.
pub async fn delete_settings(c: &mut AnyConnection, role: RoleId, scope: &ScopePath) -> Result<bool> {
    let r = sqlx::query("DELETE FROM role_settings WHERE role_id = $1 AND scope = $2")
        .bind(role.to_string())
        .bind(scope.as_str().to_owned())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The explicit settings of `role` at `scope` or its nearest ancestor that has some, with the
/// scope they are defined at.
pub async fn get_settings_nearest(
    c: &mut AnyConnection,
    role: RoleId,
    scope: &ScopePath,
) -> Result<Option<(ScopePath, RoleSettings)>> {
    let mut s = Select::new("SELECT scope, settings FROM role_settings");
    s.eq("role_id", role.to_string());
    s.any_of("scope", scope.self_and_ancestors().iter().map(|a| a.as_str()));
    let (sql, args) = s.finish("scope", 0);
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    let mut best: Option<(ScopePath, &AnyRow)> = None;
    for r in &rows {
        let at = row::scope(r, 0)?;
        if best.as_ref().is_none_or(|(b, _)| at.depth() > b.depth()) {
            best = Some((at, r));
        }
    }
    best.map(|(at, r)| Ok((at, row::json(r, 1)?))).transpose()
}

/// The role with this id and, in the same statement, its explicit settings nearest to `scope`
/// (at `scope` or its nearest ancestor that has some, as [`get_settings_nearest`] answers).
pub async fn get_role_with_settings(
    c: &mut AnyConnection,
    id: RoleId,
    scope: &ScopePath,
) -> Result<Option<(RoleDefinition, Option<(ScopePath, RoleSettings)>)>> {
    let found = get_role_with_settings_at(c, id, &scope.self_and_ancestors()).await?;
    Ok(found.map(|(role, settings)| (role, nearest_settings(settings, scope))))
}

/// The role with this id and, in the same statement, its explicit settings at any of `scopes`
/// (those in force at several scopes at once: see [`nearest_settings`]).
pub async fn get_role_with_settings_at(
    c: &mut AnyConnection,
    id: RoleId,
    scopes: &[ScopePath],
) -> Result<Option<(RoleDefinition, Vec<(ScopePath, RoleSettings)>)>> {
    let mut args: Vec<Arg> = vec![id.to_string().into()];
    let mut params = Vec::new();
    for a in scopes {
        args.push(a.as_str().into());
        params.push(format!("${}", args.len()));
    }
    // The scopes are a condition of the join, so that a role without settings there still has its row.
    let sql = if params.is_empty() {
        "SELECT r.id, r.name, r.description, r.builtin, r.permissions, NULL, NULL FROM roles r WHERE r.id = $1"
            .to_owned()
    } else {
        format!(
            "SELECT r.id, r.name, r.description, r.builtin, r.permissions, s.scope, s.settings FROM roles r \
             LEFT JOIN role_settings s ON s.role_id = r.id AND s.scope IN ({}) WHERE r.id = $1",
            params.join(", ")
        )
    };
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut settings = Vec::new();
    for r in &rows {
        if let Some(at) = row::opt_scope(r, 5)? {
            settings.push((at, row::json(r, 6)?));
        }
    }
    Ok(Some((role(first)?, settings)))
}

/// Of explicit settings (of one role), those in force at `scope`: at `scope` or its nearest
/// ancestor among them.
pub fn nearest_settings(
    settings: impl IntoIterator<Item = (ScopePath, RoleSettings)>,
    scope: &ScopePath,
) -> Option<(ScopePath, RoleSettings)> {
    let mut best: Option<(ScopePath, RoleSettings)> = None;
    for (at, s) in settings {
        if at.contains(scope) && best.as_ref().is_none_or(|(b, _)| at.depth() > b.depth()) {
            best = Some((at, s));
        }
    }
    best
}

/// Every explicit setting (of one role, or of all), ordered by role and scope.
pub async fn list_settings(
    c: &mut AnyConnection,
    role: Option<RoleId>,
) -> Result<Vec<(RoleId, ScopePath, RoleSettings)>> {
    let mut s = Select::new("SELECT role_id, scope, settings FROM role_settings");
    if let Some(role) = role {
        s.eq("role_id", role.to_string());
    }
    let (sql, args) = s.finish("role_id, scope", 0);
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    rows.iter().map(|r| Ok((row::id(r, 0)?, row::scope(r, 1)?, row::json(r, 2)?))).collect()
}
