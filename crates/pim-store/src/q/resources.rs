//! Registered resources: named, typed nodes of the scope tree.

use pim_domain::{Resource, ResourceId, ScopePath};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

const RESOURCE_COLS: &str = "id, scope, name, kind, created_at";

/// The key resources are ordered by: the scope with `/` replaced by a byte below every character a
/// segment may hold, so that byte order is the tree's depth-first order (`/a`, `/a/b`, `/a-b`).
pub fn scope_sort_key(scope: &str) -> String {
    scope.replace('/', "\u{1}")
}

fn resource(r: &AnyRow) -> Result<Resource> {
    Ok(Resource {
        id: row::id(r, 0)?,
        scope: row::scope(r, 1)?,
        name: row::text(r, 2)?,
        kind: row::text(r, 3)?,
        created_at: row::ts(r, 4)?,
    })
}

/// Registers a resource; a scope registered already is `Unique("resources")`.
pub async fn insert_resource(c: &mut AnyConnection, res: &Resource) -> Result<()> {
    sqlx::query("INSERT INTO resources (id, scope, scope_key, name, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(res.id.to_string())
        .bind(res.scope.as_str().to_owned())
        .bind(scope_sort_key(res.scope.as_str()))
        .bind(res.name.clone())
        .bind(res.kind.clone())
        .bind(res.created_at.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The resource with this id.
pub async fn get_resource(c: &mut AnyConnection, id: ResourceId) -> Result<Option<Resource>> {
    let sql = format!("SELECT {RESOURCE_COLS} FROM resources WHERE id = $1");
    let r = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(resource).transpose()
}

/// The resource registered at this scope.
pub async fn get_resource_by_scope(c: &mut AnyConnection, scope: &ScopePath) -> Result<Option<Resource>> {
    let sql = format!("SELECT {RESOURCE_COLS} FROM resources WHERE scope = $1");
    let r = sqlx::query(&sql).bind(scope.as_str().to_owned()).fetch_optional(&mut *c).await?;
    r.as_ref().map(resource).transpose()
}

/// Resources at or below `under`, in tree order (depth first), after the scope `after_scope`.
pub async fn list_resources(
    c: &mut AnyConnection,
    under: Option<&ScopePath>,
    after_scope: Option<&str>,
    limit: i64,
) -> Result<Vec<Resource>> {
    let mut s = Select::new(&format!("SELECT {RESOURCE_COLS} FROM resources"));
    if let Some(u) = under {
        s.at_or_below("scope", u);
    }
    if let Some(a) = after_scope {
        let p = s.arg(scope_sort_key(a));
        s.cond(format!("scope_key > {p}"));
    }
    let (sql, args) = s.finish("scope_key", limit);
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    rows.iter().map(resource).collect()
}

/// Renames or retypes a resource (its scope and id stay).
pub async fn update_resource(c: &mut AnyConnection, res: &Resource) -> Result<()> {
    sqlx::query("UPDATE resources SET name = $1, kind = $2 WHERE id = $3")
        .bind(res.name.clone())
        .bind(res.kind.clone())
        .bind(res.id.to_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Removes a resource's registration (nothing else refers to it).
pub async fn delete_resource(c: &mut AnyConnection, id: ResourceId) -> Result<()> {
    sqlx::query("DELETE FROM resources WHERE id = $1").bind(id.to_string()).execute(&mut *c).await?;
    Ok(())
}
