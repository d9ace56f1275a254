//! Versioned, forward-only migrations (one SQL file per version and backend, embedded), each
//! applied in its own transaction and recorded in `schema_migrations`; then the built-in roles.
//!
//! On PostgreSQL the whole run holds an advisory lock, so replicas starting together do not race.

use std::collections::HashMap;

use pim_domain::role::builtin_roles;
use sqlx::{AnyConnection, AnyPool, Connection as _};

use crate::error::{Result, StoreError};
use crate::q;
use crate::store::{Backend, system_now};

/// One schema version.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/sqlite/0001_init.sql") },
    Migration { version: 2, name: "changes", sql: include_str!("../migrations/sqlite/0002_changes.sql") },
    Migration { version: 3, name: "mfa", sql: include_str!("../migrations/sqlite/0003_mfa.sql") },
    Migration { version: 4, name: "outbox", sql: include_str!("../migrations/sqlite/0004_outbox.sql") },
    Migration { version: 5, name: "approvals", sql: include_str!("../migrations/sqlite/0005_approvals.sql") },
    Migration { version: 6, name: "alerts", sql: include_str!("../migrations/sqlite/0006_alerts.sql") },
    Migration { version: 7, name: "reviews", sql: include_str!("../migrations/sqlite/0007_reviews.sql") },
    Migration { version: 8, name: "review_apply", sql: include_str!("../migrations/sqlite/0008_review_apply.sql") },
    Migration {
        version: 9,
        name: "sign_in_failures",
        sql: include_str!("../migrations/sqlite/0009_sign_in_failures.sql"),
    },
    Migration { version: 10, name: "connectors", sql: include_str!("../migrations/sqlite/0010_connectors.sql") },
    Migration { version: 11, name: "signing", sql: include_str!("../migrations/sqlite/0011_signing.sql") },
    Migration { version: 12, name: "ssh_ca", sql: include_str!("../migrations/sqlite/0012_ssh_ca.sql") },
    Migration { version: 14, name: "oidc", sql: include_str!("../migrations/sqlite/0014_oidc.sql") },
    Migration { version: 13, name: "scim", sql: include_str!("../migrations/sqlite/0013_scim.sql") },
    Migration { version: 15, name: "oidc_sessions", sql: include_str!("../migrations/sqlite/0015_oidc_sessions.sql") },
    Migration { version: 16, name: "activity", sql: include_str!("../migrations/sqlite/0016_activity.sql") },
    Migration { version: 17, name: "oidc_device", sql: include_str!("../migrations/sqlite/0017_oidc_device.sql") },
    Migration {
        version: 18,
        name: "unrecorded_ends",
        sql: include_str!("../migrations/sqlite/0018_unrecorded_ends.sql"),
    },
    Migration {
        version: 19,
        name: "foreign_key_indexes",
        sql: include_str!("../migrations/sqlite/0019_foreign_key_indexes.sql"),
    },
    Migration {
        version: 20,
        name: "unrecorded_ends_table",
        sql: include_str!("../migrations/sqlite/0020_unrecorded_ends_table.sql"),
    },
    Migration {
        version: 21,
        name: "assignments_role_scope_principal",
        sql: include_str!("../migrations/sqlite/0021_assignments_role_scope_principal.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/postgres/0001_init.sql") },
    Migration { version: 2, name: "changes", sql: include_str!("../migrations/postgres/0002_changes.sql") },
    Migration { version: 3, name: "mfa", sql: include_str!("../migrations/postgres/0003_mfa.sql") },
    Migration { version: 4, name: "outbox", sql: include_str!("../migrations/postgres/0004_outbox.sql") },
    Migration { version: 5, name: "approvals", sql: include_str!("../migrations/postgres/0005_approvals.sql") },
    Migration { version: 6, name: "alerts", sql: include_str!("../migrations/postgres/0006_alerts.sql") },
    Migration { version: 7, name: "reviews", sql: include_str!("../migrations/postgres/0007_reviews.sql") },
    Migration { version: 8, name: "review_apply", sql: include_str!("../migrations/postgres/0008_review_apply.sql") },
    Migration {
        version: 9,
        name: "sign_in_failures",
        sql: include_str!("../migrations/postgres/0009_sign_in_failures.sql"),
    },
    Migration { version: 10, name: "connectors", sql: include_str!("../migrations/postgres/0010_connectors.sql") },
    Migration { version: 11, name: "signing", sql: include_str!("../migrations/postgres/0011_signing.sql") },
    Migration { version: 12, name: "ssh_ca", sql: include_str!("../migrations/postgres/0012_ssh_ca.sql") },
    Migration { version: 14, name: "oidc", sql: include_str!("../migrations/postgres/0014_oidc.sql") },
    Migration { version: 13, name: "scim", sql: include_str!("../migrations/postgres/0013_scim.sql") },
    Migration {
        version: 15,
        name: "oidc_sessions",
        sql: include_str!("../migrations/postgres/0015_oidc_sessions.sql"),
    },
    Migration { version: 16, name: "activity", sql: include_str!("../migrations/postgres/0016_activity.sql") },
    Migration { version: 17, name: "oidc_device", sql: include_str!("../migrations/postgres/0017_oidc_device.sql") },
    Migration {
        version: 18,
        name: "unrecorded_ends",
        sql: include_str!("../migrations/postgres/0018_unrecorded_ends.sql"),
    },
    Migration {
        version: 19,
        name: "foreign_key_indexes",
        sql: include_str!("../migrations/postgres/0019_foreign_key_indexes.sql"),
    },
    Migration {
        version: 20,
        name: "unrecorded_ends_table",
        sql: include_str!("../migrations/postgres/0020_unrecorded_ends_table.sql"),
    },
    Migration {
        version: 21,
        name: "assignments_role_scope_principal",
        sql: include_str!("../migrations/postgres/0021_assignments_role_scope_principal.sql"),
    },
];

/// The advisory lock key migrations hold on PostgreSQL ("pim_migr").
const PG_LOCK_KEY: i64 = 0x7069_6d5f_6d69_6772;

fn migrations(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// The newest schema version this build knows.
pub fn latest_version(backend: Backend) -> i64 {
    migrations(backend).iter().map(|m| m.version).max().unwrap_or(0)
}

/// Brings the schema up to date and seeds the built-in roles.
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(PG_LOCK_KEY).execute(&mut *conn).await?;
    }
    let result = run_locked(&mut conn, backend).await;
    if backend == Backend::Postgres {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(PG_LOCK_KEY).execute(&mut *conn).await;
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "could not release the migration lock; closing the connection");
            conn.close_on_drop();
        }
    }
    result
}

async fn run_locked(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
         version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&mut *conn).await?;
    let latest = latest_version(backend);
    if let Some(&newest) = applied.last().filter(|&&v| v > latest) {
        return Err(StoreError::Migration(format!(
            "the database schema is at version {newest}, newer than this pim knows ({latest}); upgrade pim"
        )));
    }
    for m in migrations(backend) {
        if applied.contains(&m.version) {
            continue;
        }
        let mut tx = conn.begin_with(backend.begin_write()).await?;
        // Another process may have applied it since we looked (SQLite has no advisory lock).
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            tx.rollback().await?;
            continue;
        }
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Migration(format!("{:04}_{}: {e}", m.version, m.name)))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(system_now().0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(backend = backend.name(), version = m.version, name = m.name, "applied database migration");
    }
    seed_builtin_roles(conn, backend).await
}

/// Inserts the built-in roles that are missing and updates those that differ from this build's.
async fn seed_builtin_roles(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    let now = system_now();
    let mut tx = conn.begin_with(backend.begin_write()).await?;
    let stored: HashMap<_, _> = q::list_roles(&mut tx).await?.into_iter().map(|r| (r.id, r)).collect();
    let mut changed = 0;
    for role in builtin_roles() {
        match stored.get(&role.id) {
            None => q::insert_role(&mut tx, &role, now).await?,
            Some(old) if *old != role => q::update_role(&mut tx, &role, now).await?,
            Some(_) => continue,
        }
        changed += 1;
    }
    tx.commit().await?;
    if changed > 0 {
        tracing::info!(changed, "seeded built-in roles");
    }
    Ok(())
}
