//! Connectors' tables: the work queue (one row per connector and principal, claimed with a lease),
//! what pim granted in each target, and managed logins' sealed passwords.

use futures_util::TryStreamExt as _;
use pim_domain::{ConnectorGrant, ConnectorWork, PrincipalId, ProvisionState, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

const WORK_COLS: &str = "connector, principal_id, due_at, generation, attempts, last_error";

fn work(r: &AnyRow) -> Result<ConnectorWork> {
    Ok(ConnectorWork {
        connector: row::text(r, 0)?,
        principal_id: row::id(r, 1)?,
        due_at: row::ts(r, 2)?,
        generation: row::int(r, 3)?,
        attempts: row::int(r, 4)?,
        last_error: row::opt_text(r, 5)?,
    })
}

/// Makes `principal`'s row of `connector` due at `due_at` at the latest (an earlier due time is
/// kept) and bumps its generation, so a worker holding the row looks again. Run it in the
/// transaction of the change.
pub async fn enqueue_connector_work(
    c: &mut AnyConnection,
    connector: &str,
    principal: PrincipalId,
    due_at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO connector_work (connector, principal_id, due_at, generation, attempts, pending_since) \
         VALUES ($1, $2, $3, 1, 0, $3) \
         ON CONFLICT (connector, principal_id) DO UPDATE SET \
         due_at = CASE WHEN excluded.due_at < connector_work.due_at THEN excluded.due_at ELSE connector_work.due_at END, \
         generation = connector_work.generation + 1, \
         pending_since = COALESCE(connector_work.pending_since, excluded.pending_since)",
    )
    .bind(connector.to_owned())
    .bind(principal.to_string())
    .bind(due_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Claims up to `limit` rows of `connectors` due at `now` whose lease is free (or lapsed), the
/// earliest due first, by setting their lease to `lease_until`. Run it inside a write transaction:
/// writers are serialized, so two workers never claim the same row.
pub async fn claim_connector_work(
    c: &mut AnyConnection,
    connectors: &[String],
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<ConnectorWork>> {
    let mut s = Select::new(&format!("SELECT {WORK_COLS} FROM connector_work"));
    let p = s.arg(now.0);
    s.cond(format!("due_at <= {p}"));
    s.cond(format!("(claimed_until IS NULL OR claimed_until <= {p})"));
    s.any_of("connector", connectors.iter().map(String::as_str));
    if s.empty {
        return Ok(Vec::new());
    }
    let (sql, args) = s.finish("due_at, connector, principal_id", limit.max(1));
    let mut rows = bind_all(&sql, args).fetch(&mut *c);
    let mut claimed = Vec::new();
    while let Some(r) = rows.try_next().await? {
        claimed.push(work(&r)?);
    }
    drop(rows);
    for w in &claimed {
        sqlx::query("UPDATE connector_work SET claimed_until = $3 WHERE connector = $1 AND principal_id = $2")
            .bind(w.connector.clone())
            .bind(w.principal_id.to_string())
            .bind(lease_until.0)
            .execute(&mut *c)
            .await?;
    }
    Ok(claimed)
}

/// Releases a row claimed with lease `lease` after a sync. When the lease is still held and no
/// change came in since the claim (same generation), the row is rescheduled at `next` (deleted when
/// `None`) with `attempts` and `error`; when a change came in, it stays due (the change made it so)
/// and only the lease and the counters change. Returns `false` when the lease was lost (lapsed and
/// taken, or the row removed): the caller makes the row due again, as a sync after its own is safe.
pub async fn finish_connector_work(
    c: &mut AnyConnection,
    w: &ConnectorWork,
    lease: Timestamp,
    next: Option<Timestamp>,
    attempts: i64,
    error: Option<&str>,
) -> Result<bool> {
    let (connector, principal) = (w.connector.clone(), w.principal_id.to_string());
    if next.is_none() && attempts == 0 {
        let done = sqlx::query(
            "DELETE FROM connector_work WHERE connector = $1 AND principal_id = $2 AND generation = $3 \
             AND claimed_until = $4",
        )
        .bind(connector.clone())
        .bind(principal.clone())
        .bind(w.generation)
        .bind(lease.0)
        .execute(&mut *c)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
    }
    let done = sqlx::query(
        "UPDATE connector_work SET claimed_until = NULL, attempts = $4, last_error = $5, \
         due_at = CASE WHEN generation = $3 AND $6 >= 0 THEN $6 ELSE due_at END, \
         pending_since = CASE WHEN $4 > 0 THEN COALESCE(pending_since, $8) \
                              WHEN generation = $3 THEN NULL ELSE pending_since END \
         WHERE connector = $1 AND principal_id = $2 AND claimed_until = $7",
    )
    .bind(connector)
    .bind(principal)
    .bind(w.generation)
    .bind(attempts)
    .bind(error.map(str::to_owned))
    .bind(next.map_or(-1, |t| t.0))
    .bind(lease.0)
    .bind(w.due_at.0)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The earliest `due_at` among `connectors`' rows whose lease is free at `now` (the worker sleeps
/// until then).
pub async fn next_connector_due(
    c: &mut AnyConnection,
    connectors: &[String],
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    let mut s = Select::new("SELECT MIN(due_at) FROM connector_work");
    let p = s.arg(now.0);
    s.cond(format!("(claimed_until IS NULL OR claimed_until <= {p})"));
    s.any_of("connector", connectors.iter().map(String::as_str));
    if s.empty {
        return Ok(None);
    }
    let (sql, args) = s.finish("1", 0);
    let r = bind_all(&sql, args).fetch_one(&mut *c).await?;
    Ok(row::opt_int(&r, 0)?.map(Timestamp))
}

/// The queue of one connector at `now`: (rows due now, the earliest `pending_since` of any row —
/// how long some principal's access has been out of line, retries included — and rows whose last
/// sync failed).
pub async fn connector_queue(
    c: &mut AnyConnection,
    connector: &str,
    now: Timestamp,
) -> Result<(i64, Option<Timestamp>, i64)> {
    let r = sqlx::query(
        "SELECT SUM(CASE WHEN due_at <= $2 THEN 1 ELSE 0 END), MIN(pending_since), \
         SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) FROM connector_work WHERE connector = $1",
    )
    .bind(connector.to_owned())
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    Ok((row::opt_int(&r, 0)?.unwrap_or(0), row::opt_int(&r, 1)?.map(Timestamp), row::opt_int(&r, 2)?.unwrap_or(0)))
}

/// The principals other than `except` that pim records as (possibly) holding something with
/// `account` in `connector`: a second principal must not be given the same account.
pub async fn account_holders(
    c: &mut AnyConnection,
    connector: &str,
    account: &str,
    except: PrincipalId,
) -> Result<Vec<PrincipalId>> {
    let rows = sqlx::query(
        "SELECT DISTINCT principal_id FROM connector_grants WHERE connector = $1 AND account = $2 \
         AND principal_id <> $3 AND state <> 'revoked' ORDER BY principal_id",
    )
    .bind(connector.to_owned())
    .bind(account.to_owned())
    .bind(except.to_string())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| row::id(r, 0)).collect()
}

/// The principals with a record in `connector` that may still be held, and the principals whose
/// records name one of `assignments` (whose access a change of a group may end).
pub async fn principals_with_grants(
    c: &mut AnyConnection,
    connector: &str,
    assignments: Option<&[pim_domain::AssignmentId]>,
) -> Result<Vec<PrincipalId>> {
    let mut s = Select::new("SELECT DISTINCT principal_id FROM connector_grants");
    s.eq("connector", connector);
    s.cond("state <> 'revoked'".to_owned());
    if let Some(ids) = assignments {
        s.any_of("assignment_id", ids.iter().map(|a| a.to_string()));
        if s.empty {
            return Ok(Vec::new());
        }
    }
    let (sql, args) = s.finish("principal_id", 0);
    let rows = bind_all(&sql, args).fetch_all(&mut *c).await?;
    rows.iter().map(|r| row::id(r, 0)).collect()
}

/// The work row of `principal` in `connector`, if any.
pub async fn get_connector_work(
    c: &mut AnyConnection,
    connector: &str,
    principal: PrincipalId,
) -> Result<Option<ConnectorWork>> {
    let sql = format!("SELECT {WORK_COLS} FROM connector_work WHERE connector = $1 AND principal_id = $2");
    let r = sqlx::query(&sql).bind(connector.to_owned()).bind(principal.to_string()).fetch_optional(&mut *c).await?;
    r.as_ref().map(work).transpose()
}

const GRANT_COLS: &str = "connector, principal_id, entitlement, account, state, attempts, last_error, ends_at, \
                          assignment_id, granted_at, updated_at";

fn grant(r: &AnyRow) -> Result<ConnectorGrant> {
    Ok(ConnectorGrant {
        connector: row::text(r, 0)?,
        principal_id: row::id(r, 1)?,
        entitlement: row::text(r, 2)?,
        account: row::text(r, 3)?,
        state: row::name(r, 4, ProvisionState::parse)?,
        attempts: row::int(r, 5)?,
        last_error: row::opt_text(r, 6)?,
        ends_at: row::opt_ts(r, 7)?,
        assignment_id: row::opt_id(r, 8)?,
        granted_at: row::opt_ts(r, 9)?,
        updated_at: row::ts(r, 10)?,
    })
}

/// Writes (inserts or replaces) a grant record.
pub async fn put_connector_grant(c: &mut AnyConnection, g: &ConnectorGrant) -> Result<()> {
    sqlx::query(
        "INSERT INTO connector_grants (connector, principal_id, entitlement, account, state, attempts, last_error, \
         ends_at, assignment_id, granted_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (connector, principal_id, entitlement) DO UPDATE SET account = excluded.account, \
         state = excluded.state, attempts = excluded.attempts, last_error = excluded.last_error, \
         ends_at = excluded.ends_at, assignment_id = excluded.assignment_id, granted_at = excluded.granted_at, \
         updated_at = excluded.updated_at",
    )
    .bind(g.connector.clone())
    .bind(g.principal_id.to_string())
    .bind(g.entitlement.clone())
    .bind(g.account.clone())
    .bind(g.state.as_str())
    .bind(g.attempts)
    .bind(g.last_error.clone())
    .bind(g.ends_at.map(|t| t.0))
    .bind(g.assignment_id.map(|a| a.to_string()))
    .bind(g.granted_at.map(|t| t.0))
    .bind(g.updated_at.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Which grant records to list. Every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Of this connector.
    pub connector: Option<String>,
    /// Of this principal.
    pub principal: Option<PrincipalId>,
    /// In one of these states (empty: any).
    pub states: Vec<ProvisionState>,
    /// At most this many (`0`: all).
    pub limit: i64,
}

/// Grant records matching `f`, by connector, principal and entitlement.
pub async fn list_connector_grants(c: &mut AnyConnection, f: &GrantFilter) -> Result<Vec<ConnectorGrant>> {
    let mut s = Select::new(&format!("SELECT {GRANT_COLS} FROM connector_grants"));
    if let Some(n) = &f.connector {
        s.eq("connector", n.as_str());
    }
    if let Some(p) = f.principal {
        s.eq("principal_id", p.to_string());
    }
    if !f.states.is_empty() {
        s.any_of("state", f.states.iter().map(|st| st.as_str()));
    }
    let (sql, args) = s.finish("connector, principal_id, entitlement", f.limit);
    let mut rows = bind_all(&sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(grant(&r)?);
    }
    Ok(out)
}

/// Forgets revoked records last changed before `before`. Returns how many.
pub async fn prune_revoked_grants(c: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM connector_grants WHERE state = 'revoked' AND updated_at < $1")
        .bind(before.0)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// Stores a managed login's sealed password for its user to take (replacing one not taken).
pub async fn put_connector_credential(
    c: &mut AnyConnection,
    connector: &str,
    principal: PrincipalId,
    account: &str,
    sealed: &str,
    now: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO connector_credentials (connector, principal_id, account, sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connector, principal_id) DO UPDATE SET \
         account = excluded.account, sealed = excluded.sealed, created_at = excluded.created_at, \
         expires_at = excluded.expires_at",
    )
    .bind(connector.to_owned())
    .bind(principal.to_string())
    .bind(account.to_owned())
    .bind(sealed.to_owned())
    .bind(now.0)
    .bind(expires_at.map(|t| t.0))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A credential waiting for its user: (account, sealed password, created, expires).
pub type WaitingCredential = (String, String, Timestamp, Option<Timestamp>);

/// Takes (reads and deletes) the credential of `principal` in `connector`. Run it in a write
/// transaction, so it is handed out once.
pub async fn take_connector_credential(
    c: &mut AnyConnection,
    connector: &str,
    principal: PrincipalId,
) -> Result<Option<WaitingCredential>> {
    let r = sqlx::query(
        "SELECT account, sealed, created_at, expires_at FROM connector_credentials WHERE connector = $1 AND principal_id = $2",
    )
    .bind(connector.to_owned())
    .bind(principal.to_string())
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let out = (row::text(&r, 0)?, row::text(&r, 1)?, row::ts(&r, 2)?, row::opt_ts(&r, 3)?);
    sqlx::query("DELETE FROM connector_credentials WHERE connector = $1 AND principal_id = $2")
        .bind(connector.to_owned())
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(Some(out))
}

/// Drops the credential of `principal` in `connector` (its login was dropped).
pub async fn drop_connector_credential(c: &mut AnyConnection, connector: &str, principal: PrincipalId) -> Result<()> {
    sqlx::query("DELETE FROM connector_credentials WHERE connector = $1 AND principal_id = $2")
        .bind(connector.to_owned())
        .bind(principal.to_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The rows of `connector` whose last `threshold` syncs or more failed in a row.
pub async fn failing_connector_work(
    c: &mut AnyConnection,
    connector: &str,
    threshold: i64,
) -> Result<Vec<ConnectorWork>> {
    let sql = format!(
        "SELECT {WORK_COLS} FROM connector_work WHERE connector = $1 AND attempts >= $2 ORDER BY principal_id LIMIT 1000"
    );
    let mut rows = sqlx::query(&sql).bind(connector.to_owned()).bind(threshold.max(1)).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(work(&r)?);
    }
    Ok(out)
}

/// The credentials waiting for `principal` (without their sealed secrets): (connector, account,
/// expires), by connector.
pub async fn waiting_credentials(
    c: &mut AnyConnection,
    principal: PrincipalId,
) -> Result<Vec<(String, String, Option<Timestamp>)>> {
    let rows = sqlx::query(
        "SELECT connector, account, expires_at FROM connector_credentials WHERE principal_id = $1 ORDER BY connector",
    )
    .bind(principal.to_string())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok((row::text(r, 0)?, row::text(r, 1)?, row::opt_ts(r, 2)?))).collect()
}
