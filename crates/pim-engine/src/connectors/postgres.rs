//! The PostgreSQL target: role grants and revokes, managed logins, every name quoted by the server (`%I`).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

use super::{Connector, ConnectorError, ConnectorOptions, GrantOp, Granted, Holding, PostgresOptions, RevokeOp};

/// The longest any one operation may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a connection (a refused connection is retried until then).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `pg_terminate_backend` waits for each session to end, in milliseconds.
const TERMINATE_WAIT_MS: i64 = 2_000;
/// The length of a managed login's password (letters and digits).
const PASSWORD_LEN: usize = 32;
/// PBKDF2 iterations of the SCRAM verifier sent instead of the password (PostgreSQL's default).
const SCRAM_ITERATIONS: u32 = 4_096;
/// PostgreSQL's longest name (`NAMEDATALEN - 1`); longer names are silently truncated by the server.
const MAX_NAME_BYTES: usize = 63;

/// Grants and revokes PostgreSQL roles.
pub struct PostgresConnector {
    name: String,
    entitlements: Vec<String>,
    managed_logins: bool,
    connect: PgConnectOptions,
    pool: OnceLock<PgPool>,
    /// The comment pim puts on the logins it creates for this connector.
    comment: String,
    /// Strings that must never appear in a message (the configured password).
    secrets: Vec<String>,
}

impl fmt::Debug for PostgresConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnector")
            .field("name", &self.name)
            .field("host", &self.connect.get_host())
            .field("port", &self.connect.get_port())
            .field("managed_logins", &self.managed_logins)
            .finish()
    }
}

impl PostgresConnector {
    /// Builds the connector (no connection is made yet).
    pub fn new(connector: &ConnectorOptions, options: &PostgresOptions) -> Result<PostgresConnector, String> {
        let mut secrets: Vec<String> = options.password.iter().cloned().collect();
        secrets.extend(url_password(&options.url));
        if !(options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")) {
            return Err(format!(
                "connector '{}': the PostgreSQL url is not valid: it must start with postgres:// or postgresql://",
                connector.name
            ));
        }
        let connect = PgConnectOptions::from_str(&options.url).map_err(|e| {
            scrub(format!("connector '{}': the PostgreSQL url is not valid: {e}", connector.name), &secrets)
        })?;
        // Statement logging is off: DDL texts carry password verifiers.
        let mut connect = connect
            .application_name("pim connector")
            .options([("statement_timeout", "10s"), ("lock_timeout", "5s")])
            .disable_statement_logging();
        if let Some(p) = &options.password {
            connect = connect.password(p);
        }
        Ok(PostgresConnector {
            name: connector.name.clone(),
            entitlements: connector.entitlements(),
            managed_logins: options.managed_logins,
            connect,
            pool: OnceLock::new(),
            comment: managed_comment(&connector.name),
            secrets,
        })
    }

    /// The pool, made on first use (inside the runtime: the pool's maintenance task needs one).
    fn pool(&self) -> &PgPool {
        self.pool.get_or_init(|| {
            PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(Some(Duration::from_secs(60)))
                .connect_lazy_with(self.connect.clone())
        })
    }

    /// A failure of `what`, with the server's message and never a secret.
    fn error(&self, what: &str, e: &sqlx::Error) -> ConnectorError {
        let message = match e {
            sqlx::Error::Database(d) => format!("{what}: PostgreSQL says: {}", d.message()),
            sqlx::Error::PoolTimedOut => format!(
                "{what}: no connection to the PostgreSQL server at {}:{} within {} s",
                self.connect.get_host(),
                self.connect.get_port(),
                ACQUIRE_TIMEOUT.as_secs()
            ),
            other => format!("{what}: {other}"),
        };
        ConnectorError::new(scrub(message, &self.secrets))
    }

    /// Runs `work` with the call timeout.
    async fn timed<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        match tokio::time::timeout(CALL_TIMEOUT, work).await {
            Ok(r) => r,
            Err(_) => Err(ConnectorError::new(format!("{what}: no answer within {} s", CALL_TIMEOUT.as_secs()))),
        }
    }

    /// The batch's outcomes, after ending (in one query) the sessions of every login whose revoke
    /// asked for it; `None` where the op is left to the single path.
    async fn end_sessions(
        &self,
        batch: &[RevokeOp],
        outcomes: Vec<Option<RevokeOutcome>>,
    ) -> Vec<Option<Result<(), ConnectorError>>> {
        let ending: Vec<usize> = (0..batch.len())
            .filter(|k| batch[*k].terminate_sessions && matches!(outcomes[*k], Some(RevokeOutcome::Done { .. })))
            .collect();
        let ended = if ending.is_empty() {
            Ok(())
        } else {
            let logins: Vec<String> = ending.iter().map(|k| batch[*k].account.clone()).collect();
            self.timed("ending the sessions", self.terminate_all(&logins)).await
        };
        outcomes
            .into_iter()
            .enumerate()
            .map(|(k, o)| match o? {
                RevokeOutcome::Done { .. } if ending.contains(&k) => Some(ended.clone()),
                RevokeOutcome::Done { .. } => Some(Ok(())),
                RevokeOutcome::StillMember => Some(Err(still_member(
                    &format!("revoking {} from {}", batch[k].entitlement, batch[k].account),
                    &batch[k].account,
                    &batch[k].entitlement,
                ))),
            })
            .collect()
    }

    /// Ends the open sessions of `accounts` (one query for all).
    async fn terminate_all(&self, accounts: &[String]) -> Result<(), ConnectorError> {
        let what = "ending the sessions";
        let mut c = self.pool().acquire().await.map_err(|e| self.error(what, &e))?;
        let ended = terminate_sessions(&mut c, accounts).await.map_err(|e| self.error(what, &e))?;
        if ended > 0 {
            tracing::info!(connector = %self.name, logins = accounts.len(), sessions = ended, "ended sessions");
        }
        Ok(())
    }

    /// The comment on the login made for `principal`.
    fn comment_for(&self, principal: pim_domain::PrincipalId) -> String {
        format!("{} for {principal}", self.comment)
    }

    async fn grant_existing(&self, op: &GrantOp, what: &str) -> Result<Granted, ConnectorError> {
        let mut c = self.pool().acquire().await.map_err(|e| self.error(what, &e))?;
        // Only a plain login of a person or program: never a group role (its members would all
        // gain the entitlement), a superuser, or the connector's own role.
        let kind: Option<(bool, bool, bool, bool)> = sqlx::query_as(
            "SELECT rolcanlogin, rolsuper, rolname = current_user, \
             EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid) FROM pg_roles r WHERE rolname = $1",
        )
        .bind(&op.account)
        .fetch_optional(&mut *c)
        .await
        .map_err(|e| self.error(what, &e))?;
        let refuse = |why: &str| Err(ConnectorError::new(format!("{what}: {} {why}", op.account)));
        match kind {
            None => return refuse("has no login in this server (create it first, or use managed_logins)"),
            Some((false, _, _, _)) => return refuse("is not a login (NOLOGIN): pim grants only to logins"),
            Some((_, true, _, _)) => return refuse("is a superuser: pim does not manage it"),
            Some((_, _, true, _)) => return refuse("is the connector's own role"),
            Some((_, _, _, true)) => {
                return refuse("has members (it is a group role): its members would all gain the role");
            }
            Some(_) => {}
        }
        // Already a member: PostgreSQL only notes it.
        ddl(&mut c, "GRANT %I TO %I", &[&op.entitlement, &op.account]).await.map_err(|e| self.error(what, &e))?;
        tracing::info!(connector = %self.name, account = %op.account, entitlement = %op.entitlement, "granted");
        Ok(Granted::default())
    }

    async fn grant_managed(&self, op: &GrantOp, what: &str) -> Result<Granted, ConnectorError> {
        let err = |e: sqlx::Error| self.error(what, &e);
        let account = op.account.as_str();
        let valid_until = op.ends_at.map_or_else(|| "infinity".to_owned(), |t| t.to_rfc3339());
        let mut tx = self.pool().begin().await.map_err(err)?;
        let existing: Option<(bool, Option<String>)> =
            sqlx::query_as("SELECT rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
        let credential = match existing {
            None => {
                let password = new_password();
                // The server gets the SCRAM verifier, never the password (statement logs, pg_stat_activity).
                let verifier = scram_verifier(&password, &rand::random::<[u8; 16]>(), SCRAM_ITERATIONS)
                    .ok_or_else(|| ConnectorError::new(format!("{what}: could not derive the password verifier")))?;
                ddl(&mut tx, "CREATE ROLE %I LOGIN PASSWORD %L VALID UNTIL %L", &[account, &verifier, &valid_until])
                    .await
                    .map_err(err)?;
                ddl(&mut tx, "COMMENT ON ROLE %I IS %L", &[account, &self.comment_for(op.principal_id)])
                    .await
                    .map_err(err)?;
                tracing::info!(connector = %self.name, account = %account, "created a managed login");
                Some(password)
            }
            Some((can_login, Some(comment))) if comment == self.comment_for(op.principal_id) => {
                let later: bool = sqlx::query_scalar(
                    "SELECT rolvaliduntil IS NOT NULL AND rolvaliduntil < $2::timestamptz FROM pg_roles WHERE rolname = $1",
                )
                .bind(account)
                .bind(&valid_until)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
                if later {
                    ddl(&mut tx, "ALTER ROLE %I VALID UNTIL %L", &[account, &valid_until]).await.map_err(err)?;
                }
                if !can_login {
                    // A revoke that stopped between NOLOGIN and DROP ROLE.
                    ddl(&mut tx, "ALTER ROLE %I LOGIN", &[account]).await.map_err(err)?;
                }
                None
            }
            Some(_) => {
                return Err(ConnectorError::new(format!(
                    "{what}: the login {account} exists and was not created by pim for connector {}; pim does not \
                     manage it (drop or rename it, or use a connector with managed_logins = false)",
                    self.name
                )));
            }
        };
        ddl(&mut tx, "GRANT %I TO %I", &[&op.entitlement, account]).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        tracing::info!(connector = %self.name, account = %account, entitlement = %op.entitlement, "granted");
        Ok(Granted { credential })
    }

    async fn revoke_inner(&self, op: &RevokeOp, what: &str) -> Result<(), ConnectorError> {
        let err = |e: sqlx::Error| self.error(what, &e);
        let account = op.account.as_str();
        let mut tx = self.pool().begin().await.map_err(err)?;
        let comment: Option<Option<String>> =
            sqlx::query_scalar("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
        let Some(comment) = comment else {
            tracing::debug!(connector = %self.name, account = %account, "revoke: the login is gone");
            return Ok(());
        };
        let member = is_member(&mut tx, account, &op.entitlement).await.map_err(err)?;
        if member {
            ddl(&mut tx, "REVOKE %I FROM %I", &[&op.entitlement, account]).await.map_err(err)?;
            // PostgreSQL 16 and later revoke only the grants the connector's role made (another
            // grantor's stays, with a warning): a revoke is done only when the membership is gone.
            if is_member(&mut tx, account, &op.entitlement).await.map_err(err)? {
                return Err(still_member(what, account, &op.entitlement));
            }
        }
        let drop = self.managed_logins && comment.as_deref() == Some(self.comment_for(op.principal_id).as_str()) && {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_auth_members m WHERE m.member = to_regrole(quote_ident($1))::oid \
                 AND m.roleid IN (SELECT to_regrole(quote_ident(e))::oid FROM unnest($2::text[]) e)",
            )
            .bind(account)
            .bind(&self.entitlements)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            left == 0
        };
        if drop {
            // No new sessions from here on, then end the open ones, then drop.
            ddl(&mut tx, "ALTER ROLE %I NOLOGIN", &[account]).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        if member {
            tracing::info!(connector = %self.name, account = %account, entitlement = %op.entitlement, "revoked");
        }
        if drop || op.terminate_sessions {
            self.terminate_all(std::slice::from_ref(&op.account)).await?;
        }
        if drop {
            let mut tx = self.pool().begin().await.map_err(err)?;
            // REASSIGN/DROP OWNED need membership in the login (a non-superuser connector has none);
            // the membership goes with the role.
            ddl(&mut tx, "GRANT %I TO CURRENT_USER", &[account]).await.map_err(err)?;
            ddl(&mut tx, "REASSIGN OWNED BY %I TO CURRENT_USER", &[account]).await.map_err(err)?;
            ddl(&mut tx, "DROP OWNED BY %I", &[account]).await.map_err(err)?;
            ddl(&mut tx, "DROP ROLE %I", &[account]).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            tracing::info!(connector = %self.name, account = %account, "dropped the managed login");
        }
        Ok(())
    }

    /// The batch path of [`Connector::revoke_many`]: in one transaction, one query reads every
    /// login and membership, one `REVOKE e FROM a, b, c` per entitlement takes them, one query
    /// re-checks. A pim-managed login (which may have to be dropped) is left to
    /// [`Self::revoke_inner`]: its outcome is `None`.
    async fn revoke_batch(&self, ops: &[RevokeOp]) -> Result<Vec<Option<RevokeOutcome>>, sqlx::Error> {
        let accounts: Vec<&str> = ops.iter().map(|o| o.account.as_str()).collect();
        let entitlements: Vec<&str> = ops.iter().map(|o| o.entitlement.as_str()).collect();
        let mut tx = self.pool().begin().await?;
        // Names are looked up through the catalog caches (`to_regrole`), never joined: with many
        // roles a join's plan can scan pg_authid per row, and does after a REVOKE in the transaction.
        let rows: Vec<(i64, bool, Option<String>, bool)> = sqlx::query_as(
            "SELECT a.i, u.oid IS NOT NULL, shobj_description(u.oid, 'pg_authid'), EXISTS (SELECT 1 FROM \
             pg_auth_members m WHERE m.member = u.oid AND m.roleid = to_regrole(quote_ident(a.ent))::oid) \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS a(account, ent, i), \
             LATERAL (SELECT to_regrole(quote_ident(a.account))::oid AS oid) u ORDER BY a.i",
        )
        .bind(&accounts)
        .bind(&entitlements)
        .fetch_all(&mut *tx)
        .await?;
        let mut out: Vec<Option<RevokeOutcome>> = vec![None; ops.len()];
        let mut take = Vec::new();
        for (i, present, comment, member) in rows {
            let Some(i) = usize::try_from(i - 1).ok().filter(|i| *i < ops.len()) else { continue };
            let op = &ops[i];
            if !present {
                out[i] = Some(RevokeOutcome::Done { revoked: false });
            } else if self.managed_logins && comment.as_deref() == Some(self.comment_for(op.principal_id).as_str()) {
                // Left to the single path.
            } else if member {
                take.push(i);
            } else {
                out[i] = Some(RevokeOutcome::Done { revoked: false });
            }
        }
        if !take.is_empty() {
            let t_accounts: Vec<&str> = take.iter().map(|i| accounts[*i]).collect();
            let t_entitlements: Vec<&str> = take.iter().map(|i| entitlements[*i]).collect();
            let statements: Vec<String> = sqlx::query_scalar(
                "SELECT format('REVOKE %I FROM ', ent) || string_agg(DISTINCT format('%I', account), ', ') \
                 FROM unnest($1::text[], $2::text[]) AS a(account, ent) GROUP BY ent ORDER BY ent",
            )
            .bind(&t_accounts)
            .bind(&t_entitlements)
            .fetch_all(&mut *tx)
            .await?;
            for sql in &statements {
                tx.execute(sql.as_str()).await?;
            }
            // PostgreSQL 16 and later revoke only the grants the connector's role made (another
            // grantor's stays, with a warning): a revoke is done only when the membership is gone.
            let still: Vec<i64> = sqlx::query_scalar(
                "SELECT a.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS a(account, ent, i) \
                 WHERE EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = \
                 to_regrole(quote_ident(a.account))::oid AND m.roleid = to_regrole(quote_ident(a.ent))::oid)",
            )
            .bind(&t_accounts)
            .bind(&t_entitlements)
            .fetch_all(&mut *tx)
            .await?;
            for (k, i) in take.iter().enumerate() {
                let stays = still.contains(&i64::try_from(k + 1).unwrap_or(i64::MAX));
                out[*i] = Some(if stays { RevokeOutcome::StillMember } else { RevokeOutcome::Done { revoked: true } });
            }
        }
        tx.commit().await?;
        for (ent, n) in count_by(
            take.iter().filter(|i| out[**i] == Some(RevokeOutcome::Done { revoked: true })).map(|i| entitlements[*i]),
        ) {
            tracing::info!(connector = %self.name, entitlement = %ent, logins = n, "revoked");
        }
        Ok(out)
    }

    async fn list_inner(&self, entitlements: &[String]) -> Result<Vec<Holding>, ConnectorError> {
        let what = "listing the role memberships";
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT u.rolname::text, r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
             JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = ANY($1) ORDER BY 1, 2",
        )
        .bind(entitlements)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(what, &e))?;
        Ok(rows.into_iter().map(|(account, entitlement)| Holding { account, entitlement }).collect())
    }
}

impl Connector for PostgresConnector {
    fn grant<'a>(&'a self, op: &'a GrantOp) -> BoxFuture<'a, Result<Granted, ConnectorError>> {
        Box::pin(async move {
            let what = format!("granting {} to {}", op.entitlement, op.account);
            check_name("account", &op.account, &what)?;
            check_name("entitlement", &op.entitlement, &what)?;
            if self.managed_logins {
                self.timed(&what, self.grant_managed(op, &what)).await
            } else {
                self.timed(&what, self.grant_existing(op, &what)).await
            }
        })
    }

    fn revoke<'a>(&'a self, op: &'a RevokeOp) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let what = format!("revoking {} from {}", op.entitlement, op.account);
            if op.account.len() > MAX_NAME_BYTES || op.entitlement.len() > MAX_NAME_BYTES {
                // pim refuses to grant such names, so it holds nothing under them.
                tracing::warn!(connector = %self.name, "revoke of a name longer than 63 bytes: nothing to do");
                return Ok(());
            }
            self.timed(&what, self.revoke_inner(op, &what)).await
        })
    }

    fn revoke_many<'a>(&'a self, ops: &'a [RevokeOp]) -> BoxFuture<'a, Vec<Result<(), ConnectorError>>> {
        Box::pin(async move {
            let one_by_one = |idx: Vec<usize>| {
                futures_util::StreamExt::collect::<Vec<_>>(futures_util::StreamExt::buffered(
                    futures_util::stream::iter(idx.into_iter().map(|i| async move { (i, self.revoke(&ops[i]).await) })),
                    super::REVOKES_AT_ONCE,
                ))
            };
            let batched: Vec<usize> = (0..ops.len())
                .filter(|i| ops[*i].account.len() <= MAX_NAME_BYTES && ops[*i].entitlement.len() <= MAX_NAME_BYTES)
                .collect();
            let mut out: Vec<Option<Result<(), ConnectorError>>> = vec![None; ops.len()];
            // With fewer than two there is nothing to gain: the single path.
            if batched.len() >= 2 {
                let batch: Vec<RevokeOp> = batched.iter().map(|i| ops[*i].clone()).collect();
                let what = format!("revoking {} memberships", batch.len());
                match tokio::time::timeout(CALL_TIMEOUT, self.revoke_batch(&batch)).await {
                    Ok(Ok(outcomes)) => {
                        for (k, r) in self.end_sessions(&batch, outcomes).await.into_iter().enumerate() {
                            out[batched[k]] = r;
                        }
                    }
                    // One bad op must not hold up the others: each alone below, with its own error.
                    Ok(Err(e)) => tracing::warn!(connector = %self.name, error = %self.error(&what, &e),
                        "the batch revoke failed; revoking one by one"),
                    Err(_) => {
                        let e = ConnectorError::new(format!("{what}: no answer within {} s", CALL_TIMEOUT.as_secs()));
                        for i in &batched {
                            out[*i] = Some(Err(e.clone()));
                        }
                    }
                }
            }
            // The managed logins, names pim never grants, and every op of a failed batch, one by one.
            let rest: Vec<usize> = (0..ops.len()).filter(|i| out[*i].is_none()).collect();
            for (i, r) in one_by_one(rest).await {
                out[i] = Some(r);
            }
            out.into_iter().map(|r| r.unwrap_or_else(|| Err(ConnectorError::new("revoking: no outcome")))).collect()
        })
    }

    fn list<'a>(&'a self, entitlements: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<Holding>>, ConnectorError>> {
        Box::pin(async move {
            let what = "listing the role memberships";
            self.timed(what, self.list_inner(entitlements)).await.map(Some)
        })
    }
}

/// Runs the statement `template` with `args` quoted by the server (`%I` identifiers, `%L`
/// literals): pim never splices a name into SQL.
async fn ddl(conn: &mut PgConnection, template: &str, args: &[&str]) -> Result<(), sqlx::Error> {
    let sql: String = sqlx::query_scalar("SELECT format($1, VARIADIC $2::text[])")
        .bind(template)
        .bind(args)
        .fetch_one(&mut *conn)
        .await?;
    conn.execute(sql.as_str()).await?;
    Ok(())
}

/// Ends every session of the `accounts` except this one, waiting for each; returns how many ended.
async fn terminate_sessions(conn: &mut PgConnection, accounts: &[String]) -> Result<i64, sqlx::Error> {
    // The pids first (MATERIALIZED), so that no other session's pid is ever signalled.
    sqlx::query_scalar(
        "WITH s AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE usename = ANY($1) \
         AND pid <> pg_backend_pid()) SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2)) FROM s",
    )
    .bind(accounts)
    .bind(TERMINATE_WAIT_MS)
    .fetch_one(conn)
    .await
}

/// What the batch revoke found for one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RevokeOutcome {
    /// Nothing is held any more (`revoked`: this batch's REVOKE took it).
    Done { revoked: bool },
    /// The membership outlived the REVOKE (another grantor's).
    StillMember,
}

/// The error of a revoke whose membership outlived the REVOKE.
fn still_member(what: &str, account: &str, entitlement: &str) -> ConnectorError {
    ConnectorError::new(format!(
        "{what}: {account} is still a member of {entitlement} after REVOKE (granted by another role: give the \
         connector's role ADMIN OPTION, or revoke it as that role)"
    ))
}

/// How many times each item comes, in order of the items.
fn count_by<'a>(items: impl Iterator<Item = &'a str>) -> std::collections::BTreeMap<&'a str, usize> {
    let mut out = std::collections::BTreeMap::new();
    for i in items {
        *out.entry(i).or_insert(0) += 1;
    }
    out
}

/// Refuses names the server would change (truncate) or cannot hold.
fn check_name(kind: &str, name: &str, what: &str) -> Result<(), ConnectorError> {
    if name.is_empty() || name.contains('\0') || name.len() > MAX_NAME_BYTES {
        return Err(ConnectorError::new(format!(
            "{what}: the {kind} name must be 1 to {MAX_NAME_BYTES} bytes without NUL (PostgreSQL truncates longer names)"
        )));
    }
    Ok(())
}

/// Whether `account` is a direct member of `role` (looked up through the catalog caches: a join
/// with pg_roles can scan pg_authid, and does after a REVOKE in the same transaction).
async fn is_member(c: &mut sqlx::PgConnection, account: &str, role: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = to_regrole(quote_ident($1))::oid \
         AND m.roleid = to_regrole(quote_ident($2))::oid)",
    )
    .bind(account)
    .bind(role)
    .fetch_one(c)
    .await
}

/// The comment on the logins pim creates for connector `name`: the principal it was made for
/// follows, so a login is never taken over by another principal with the same account name.
fn managed_comment(name: &str) -> String {
    format!("pim managed login (connector {name})")
}

/// A new managed login's password: 32 letters and digits from the OS's generator.
fn new_password() -> String {
    rand::rngs::OsRng.sample_iter(&rand::distributions::Alphanumeric).take(PASSWORD_LEN).map(char::from).collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().into())
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, 7677), which `CREATE
/// ROLE ... PASSWORD` accepts as is. `password` must be ASCII letters and digits (no SASLprep).
fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> Option<String> {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac_sha256(password.as_bytes(), &block)?;
    let mut salted = u;
    for _ in 1..iterations {
        u = hmac_sha256(password.as_bytes(), &u)?;
        salted.iter_mut().zip(u.iter()).for_each(|(s, x)| *s ^= x);
    }
    let client_key = hmac_sha256(&salted, b"Client Key")?;
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Some(format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    ))
}

/// The password in a URL's user part (`postgres://user:password@host`), to keep it out of messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

/// `message` with every secret replaced.
fn scrub(mut message: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(s.as_str(), "<redacted>");
    }
    message
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use futures_util::FutureExt;
    use pim_domain::{AssignmentId, PrincipalId, RoleId, ScopePath, Timestamp};
    use sqlx::Connection;

    use super::*;
    use crate::connectors::{ConnectorKind, Mapping};

    const HOUR_MS: i64 = 3_600_000;

    /// The admin URL, or `None` (with the reason printed) when the tests cannot run here.
    fn admin_url() -> Option<String> {
        match std::env::var("PIM_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "PIM_TEST_POSTGRES_URL is not set, and CI=true requires the PostgreSQL tests to run"
                );
                eprintln!("skipped: PIM_TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
                None
            }
        }
    }

    /// One test's server and its random role prefix (roles are cluster-wide).
    struct Ctx {
        url: String,
        prefix: String,
    }

    impl Ctx {
        fn name(&self, s: &str) -> String {
            format!("{}{s}", self.prefix)
        }

        async fn admin(&self) -> PgConnection {
            PgConnection::connect(&self.url).await.expect("connect to PIM_TEST_POSTGRES_URL")
        }

        /// A new session as `login` (the test server trusts local TCP connections).
        async fn session(&self, login: &str) -> Result<PgConnection, sqlx::Error> {
            PgConnectOptions::from_str(&self.url)?.username(login).connect().await
        }

        fn connector(&self, managed: bool, entitlements: &[&str]) -> (PostgresConnector, String) {
            let name = format!("test-{}", &self.prefix[5..13]);
            let url = self.url.clone();
            (connector_at(&name, &url, None, managed, entitlements), name)
        }
    }

    fn options(name: &str, url: &str, password: Option<&str>, managed: bool, ents: &[&str]) -> ConnectorOptions {
        let pg = PostgresOptions { url: url.into(), password: password.map(str::to_owned), managed_logins: managed };
        let mappings = ents
            .iter()
            .map(|e| Mapping {
                role: "Database Administrator".into(),
                scope: ScopePath::parse("/").expect("scope"),
                entitlement: (*e).to_owned(),
                terminate_sessions: true,
            })
            .collect();
        ConnectorOptions::new(name, ConnectorKind::Postgres(pg), mappings)
    }

    fn connector_at(name: &str, url: &str, password: Option<&str>, managed: bool, ents: &[&str]) -> PostgresConnector {
        let o = options(name, url, password, managed, ents);
        let ConnectorKind::Postgres(pg) = &o.kind else { unreachable!() };
        PostgresConnector::new(&o, pg).expect("connector")
    }

    /// Runs `body` with a fresh prefix, then drops every role and table with that prefix, also
    /// when the body failed.
    async fn run<F, Fut>(body: F)
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Some(url) = admin_url() else { return };
        let prefix = format!("pimt_{:08x}_", rand::random::<u32>());
        let outcome =
            std::panic::AssertUnwindSafe(body(Ctx { url: url.clone(), prefix: prefix.clone() })).catch_unwind().await;
        let left = cleanup(&url, &prefix).await;
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
        assert_eq!(left, 0, "roles with the prefix {prefix} were left behind");
    }

    async fn cleanup(url: &str, prefix: &str) -> i64 {
        let mut c = PgConnection::connect(url).await.expect("connect for the clean-up");
        sqlx::query("SELECT pg_terminate_backend(pid, 2000) FROM pg_stat_activity WHERE starts_with(usename, $1)")
            .bind(prefix)
            .execute(&mut c)
            .await
            .expect("end the sessions");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)",
        )
        .bind(prefix)
        .fetch_all(&mut c)
        .await
        .expect("tables");
        for t in tables {
            ddl(&mut c, "DROP TABLE IF EXISTS %I", &[&t]).await.expect("drop table");
        }
        let roles: Vec<String> =
            sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1")
                .bind(prefix)
                .fetch_all(&mut c)
                .await
                .expect("roles");
        for r in &roles {
            ddl(&mut c, "DROP OWNED BY %I", &[r]).await.expect("drop owned");
        }
        for r in &roles {
            ddl(&mut c, "DROP ROLE IF EXISTS %I", &[r]).await.expect("drop role");
        }
        sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)")
            .bind(prefix)
            .fetch_one(&mut c)
            .await
            .expect("count")
    }

    fn now_ms() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    /// The principal an account stands for in these tests (the same one every time).
    fn principal_of(account: &str) -> PrincipalId {
        use sha2::Digest as _;
        let h = sha2::Sha256::digest(account.as_bytes());
        let mut b = [0_u8; 16];
        b.copy_from_slice(&h[..16]);
        PrincipalId(uuid::Uuid::from_bytes(b))
    }

    fn grant_op(connector: &str, account: &str, entitlement: &str, ends_at: Option<Timestamp>) -> GrantOp {
        GrantOp {
            connector: connector.into(),
            principal_id: principal_of(account),
            principal_name: account.into(),
            account: account.into(),
            entitlement: entitlement.into(),
            ends_at,
            assignment_id: AssignmentId::new(),
            role_id: RoleId::new(),
            role_name: "Database Administrator".into(),
            scope: ScopePath::parse("/").expect("scope"),
            idempotency_key: format!("grant:{account}:{entitlement}"),
        }
    }

    fn revoke_op(connector: &str, account: &str, entitlement: &str, terminate_sessions: bool) -> RevokeOp {
        RevokeOp {
            connector: connector.into(),
            principal_id: principal_of(account),
            principal_name: account.into(),
            account: account.into(),
            entitlement: entitlement.into(),
            terminate_sessions,
            assignment_id: None,
            idempotency_key: format!("revoke:{account}:{entitlement}"),
        }
    }

    async fn create_role(c: &mut PgConnection, name: &str, login: bool) {
        let t = if login { "CREATE ROLE %I LOGIN" } else { "CREATE ROLE %I NOLOGIN" };
        ddl(c, t, &[name]).await.expect("create role");
    }

    async fn role_exists(c: &mut PgConnection, name: &str) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(c)
            .await
            .expect("pg_roles")
    }

    /// Every (member, role) where one side has the prefix or is `postgres`.
    async fn memberships(c: &mut PgConnection, prefix: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT u.rolname::text, r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
             JOIN pg_roles u ON u.oid = m.member WHERE starts_with(u.rolname, $1) OR starts_with(r.rolname, $1) \
             OR u.rolname = 'postgres' OR r.rolname = 'postgres' ORDER BY 1, 2",
        )
        .bind(prefix)
        .fetch_all(c)
        .await
        .expect("pg_auth_members")
    }

    async fn postgres_is_intact(c: &mut PgConnection) {
        let sup: Option<bool> = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")
            .fetch_optional(c)
            .await
            .expect("pg_roles");
        assert_eq!(sup, Some(true), "postgres still exists and is a superuser");
    }

    /// Reads the protected table `table` on `c`.
    async fn read(c: &mut PgConnection, table: &str) -> Result<i32, sqlx::Error> {
        let sql: String =
            sqlx::query_scalar("SELECT format('SELECT v FROM %I', $1::text)").bind(table).fetch_one(&mut *c).await?;
        sqlx::query_scalar(sql.as_str()).fetch_one(c).await
    }

    async fn alive(c: &mut PgConnection) -> bool {
        sqlx::query("SELECT 1").execute(c).await.is_ok()
    }

    /// A table readable only through `entitlement`.
    async fn protected_table(c: &mut PgConnection, table: &str, entitlement: &str) {
        ddl(c, "CREATE TABLE %I (v int)", &[table]).await.expect("table");
        ddl(c, "INSERT INTO %I VALUES (42)", &[table]).await.expect("insert");
        ddl(c, "GRANT SELECT ON %I TO %I", &[table, entitlement]).await.expect("grant select");
    }

    /// `url` with `user` as its user name (and no password).
    fn url_as(url: &str, user: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let authority = rest.find('/').unwrap_or(rest.len());
        let host = rest[..authority].rfind('@').map_or(rest, |at| &rest[at + 1..]);
        format!("{scheme}://{user}@{host}")
    }

    #[tokio::test]
    async fn an_existing_login_gains_and_loses_real_access_and_its_sessions() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (login, ent, table, bystander) =
                (ctx.name("alice"), ctx.name("reader"), ctx.name("secrets"), ctx.name("bob"));
            create_role(&mut admin, &login, true).await;
            create_role(&mut admin, &bystander, true).await;
            create_role(&mut admin, &ent, false).await;
            protected_table(&mut admin, &table, &ent).await;
            let (conn, name) = ctx.connector(false, &[&ent]);

            let mut before = ctx.session(&login).await.expect("connect as the login");
            assert!(read(&mut before, &table).await.is_err(), "no access before the grant");
            assert_eq!(conn.grant(&grant_op(&name, &login, &ent, None)).await.expect("grant"), Granted::default());
            let mut during = ctx.session(&login).await.expect("connect as the login");
            assert_eq!(read(&mut during, &table).await.expect("access after the grant"), 42);
            conn.revoke(&revoke_op(&name, &login, &ent, false)).await.expect("revoke");
            let mut after = ctx.session(&login).await.expect("connect as the login");
            assert!(read(&mut after, &table).await.is_err(), "no access after the revoke");

            // A session that took the role keeps it when sessions are not ended...
            conn.grant(&grant_op(&name, &login, &ent, None)).await.expect("grant");
            let mut held = ctx.session(&login).await.expect("connect as the login");
            ddl(&mut held, "SET ROLE %I", &[&ent]).await.expect("set role");
            assert_eq!(read(&mut held, &table).await.expect("read as the role"), 42);
            conn.revoke(&revoke_op(&name, &login, &ent, false)).await.expect("revoke");
            assert_eq!(read(&mut held, &table).await.expect("the session survives"), 42);

            // ...and loses it with them; other logins' sessions and the connector's own stay.
            conn.grant(&grant_op(&name, &login, &ent, None)).await.expect("grant");
            let mut other = ctx.session(&login).await.expect("connect as the login");
            ddl(&mut other, "SET ROLE %I", &[&ent]).await.expect("set role");
            let mut bob = ctx.session(&bystander).await.expect("connect as the bystander");
            conn.revoke(&revoke_op(&name, &login, &ent, true)).await.expect("revoke and end sessions");
            assert!(!alive(&mut held).await, "the earlier session was ended");
            assert!(!alive(&mut other).await, "the session with the role was ended");
            assert!(alive(&mut bob).await, "another login's session lives");
            assert!(alive(&mut admin).await, "the admin session lives");
            assert_eq!(
                conn.list(std::slice::from_ref(&ent)).await.expect("list"),
                Some(vec![]),
                "the connector still works"
            );
            let mut later = ctx.session(&login).await.expect("the login itself is kept");
            assert!(read(&mut later, &table).await.is_err(), "no access after the revoke");
        })
        .await;
    }

    #[tokio::test]
    async fn a_batch_of_revokes_takes_every_membership_and_answers_each_op() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (e1, e2, table) = (ctx.name("r1"), ctx.name("r2"), ctx.name("t"));
            create_role(&mut admin, &e1, false).await;
            create_role(&mut admin, &e2, false).await;
            protected_table(&mut admin, &table, &e1).await;
            let logins: Vec<String> = (0..5).map(|i| ctx.name(&format!("u{i}"))).collect();
            let odd = ctx.name("o'dd \"x\", y");
            let (conn, name) = ctx.connector(false, &[&e1, &e2]);
            for l in logins.iter().chain([&odd]) {
                create_role(&mut admin, l, true).await;
                conn.grant(&grant_op(&name, l, &e1, None)).await.expect("grant r1");
            }
            conn.grant(&grant_op(&name, &logins[0], &e2, None)).await.expect("grant r2");
            let mut ended = ctx.session(&logins[0]).await.expect("connect");
            ddl(&mut ended, "SET ROLE %I", &[&e1]).await.expect("set role");
            let mut kept = ctx.session(&logins[1]).await.expect("connect");
            ddl(&mut kept, "SET ROLE %I", &[&e1]).await.expect("set role");
            let ops = vec![
                revoke_op(&name, &logins[0], &e1, true),
                revoke_op(&name, &logins[0], &e2, false),
                revoke_op(&name, &logins[1], &e1, false),
                revoke_op(&name, &logins[2], &e1, true),
                revoke_op(&name, &logins[3], &e2, true), // not a member: nothing to do
                revoke_op(&name, &ctx.name("ghost"), &e1, true), // no such login
                revoke_op(&name, &odd, &e1, false),
                revoke_op(&name, &"x".repeat(64), &e1, false), // a name pim never grants
            ];
            let out = conn.revoke_many(&ops).await;
            assert_eq!(out, vec![Ok(()); ops.len()], "one success per op");
            let left = vec![(logins[3].clone(), e1.clone()), (logins[4].clone(), e1.clone())];
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, left, "exactly the listed memberships went");
            assert!(!alive(&mut ended).await, "the session of a revoke that ends sessions was ended");
            assert!(alive(&mut kept).await, "the session of a revoke that keeps sessions lives");
            assert_eq!(conn.revoke_many(&ops).await, vec![Ok(()); ops.len()], "and again: nothing held, all done");
            postgres_is_intact(&mut admin).await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_batch_that_fails_is_revoked_one_by_one_and_drops_managed_logins() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let ent = ctx.name("ops");
            create_role(&mut admin, &ent, false).await;
            let (managed, name) = ctx.connector(true, &[&ent]);
            let (made, plain) = (ctx.name("made"), ctx.name("plain"));
            let end = Timestamp(now_ms() + HOUR_MS);
            managed.grant(&grant_op(&name, &made, &ent, Some(end))).await.expect("a managed login");
            create_role(&mut admin, &plain, true).await;
            ddl(&mut admin, "GRANT %I TO %I", &[&ent, &plain]).await.expect("a membership pim did not make");
            // A NUL cannot even be sent to the server: the batch fails as a whole, and each op alone.
            let bad = revoke_op(&name, "nul\0login", &ent, false);
            let ops = vec![revoke_op(&name, &made, &ent, true), bad, revoke_op(&name, &plain, &ent, false)];
            let out = managed.revoke_many(&ops).await;
            assert_eq!(out[0], Ok(()), "the managed login's revoke");
            assert!(out[1].is_err(), "the bad op fails alone");
            assert_eq!(out[2], Ok(()), "the plain login's revoke");
            assert!(!role_exists(&mut admin, &made).await, "the managed login holding nothing more was dropped");
            assert!(role_exists(&mut admin, &plain).await, "a login pim did not create is kept");
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![]);
            // Without the bad op the batch path takes the plain login and leaves the managed one to
            // the single path, which drops it.
            managed.grant(&grant_op(&name, &made, &ent, Some(end))).await.expect("made again");
            ddl(&mut admin, "GRANT %I TO %I", &[&ent, &plain]).await.expect("again");
            let ops = vec![revoke_op(&name, &made, &ent, true), revoke_op(&name, &plain, &ent, false)];
            assert_eq!(managed.revoke_many(&ops).await, vec![Ok(()), Ok(())]);
            assert!(!role_exists(&mut admin, &made).await, "dropped through the batch too");
            assert!(role_exists(&mut admin, &plain).await);
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![]);
        })
        .await;
    }

    #[tokio::test]
    async fn grants_and_revokes_are_idempotent() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (login, ent) = (ctx.name("carol"), ctx.name("writer"));
            create_role(&mut admin, &login, true).await;
            create_role(&mut admin, &ent, false).await;
            let (conn, name) = ctx.connector(false, &[&ent]);
            let (managed, _) = ctx.connector(true, &[&ent]);
            let pair = vec![(login.clone(), ent.clone())];

            conn.grant(&grant_op(&name, &login, &ent, None)).await.expect("first grant");
            conn.grant(&grant_op(&name, &login, &ent, None)).await.expect("second grant");
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, pair);
            conn.revoke(&revoke_op(&name, &login, &ent, true)).await.expect("first revoke");
            conn.revoke(&revoke_op(&name, &login, &ent, true)).await.expect("second revoke");
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![]);

            let ghost = ctx.name("nobody");
            conn.revoke(&revoke_op(&name, &ghost, &ent, true)).await.expect("revoke from a missing login");
            managed.revoke(&revoke_op(&name, &ghost, &ent, true)).await.expect("managed: revoke from a missing login");
            let gone_ent = ctx.name("no_such_role");
            conn.revoke(&revoke_op(&name, &login, &gone_ent, true)).await.expect("revoke of a missing entitlement");
            assert!(role_exists(&mut admin, &login).await);

            let e =
                conn.grant(&grant_op(&name, &ghost, &ent, None)).await.expect_err("a missing login cannot be granted");
            assert!(e.message.contains("has no login"), "a clear message: {}", e.message);
            assert!(!role_exists(&mut admin, &ghost).await, "an existing-login connector creates nothing");

            // Only plain logins: never a role without LOGIN, a superuser, or a group role (its
            // members would all gain the entitlement).
            let e = conn.grant(&grant_op(&name, &ent, &ent, None)).await.expect_err("NOLOGIN");
            assert!(e.message.contains("is not a login"), "{}", e.message);
            let e = conn.grant(&grant_op(&name, "postgres", &ent, None)).await.expect_err("a superuser");
            assert!(e.message.contains("superuser"), "{}", e.message);
            let group = ctx.name("team");
            create_role(&mut admin, &group, true).await;
            ddl(&mut admin, "GRANT %I TO %I", &[&group, &login]).await.expect("a member");
            let e = conn.grant(&grant_op(&name, &group, &ent, None)).await.expect_err("a group role");
            assert!(e.message.contains("has members"), "{}", e.message);
            assert_eq!(
                memberships(&mut admin, &ctx.prefix).await,
                vec![(login.clone(), group.clone())],
                "nothing was granted by the refused calls"
            );
        })
        .await;
    }

    /// Whether `verifier` (pg_authid.rolpassword) is the SCRAM verifier of `password`.
    fn verifier_matches(verifier: &str, password: &str) -> bool {
        let parse = || -> Option<(u32, Vec<u8>)> {
            let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
            let (iter_salt, _) = rest.split_once('$')?;
            let (iter, salt) = iter_salt.split_once(':')?;
            Some((iter.parse().ok()?, base64::engine::general_purpose::STANDARD.decode(salt).ok()?))
        };
        parse().and_then(|(i, s)| scram_verifier(password, &s, i)).as_deref() == Some(verifier)
    }

    #[tokio::test]
    async fn the_scram_verifier_is_the_one_the_server_computes() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let role = ctx.name("scram");
            let password = new_password();
            sqlx::query("SET password_encryption = 'scram-sha-256'").execute(&mut admin).await.expect("set");
            ddl(&mut admin, "CREATE ROLE %I PASSWORD %L", &[&role, &password]).await.expect("create role");
            let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
                .bind(&role)
                .fetch_one(&mut admin)
                .await
                .expect("pg_authid");
            assert!(verifier_matches(&stored, &password), "our verifier of the server's salt equals {stored}");
            assert!(!verifier_matches(&stored, &new_password()), "another password does not match");
        })
        .await;
    }

    async fn login_row(
        c: &mut PgConnection,
        login: &str,
    ) -> Option<(bool, Option<i64>, bool, Option<String>, Option<String>)> {
        sqlx::query_as(
            "SELECT rolcanlogin, CASE WHEN isfinite(rolvaliduntil) THEN (extract(epoch FROM rolvaliduntil) * 1000)::int8 END, \
             rolvaliduntil = 'infinity', shobj_description(oid, 'pg_authid'), rolpassword FROM pg_authid WHERE rolname = $1",
        )
        .bind(login)
        .fetch_optional(c)
        .await
        .expect("pg_authid")
    }

    #[tokio::test]
    async fn a_managed_login_lives_as_long_as_its_entitlements() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (acct, e1, e2, table) = (ctx.name("dave"), ctx.name("ro"), ctx.name("rw"), ctx.name("owned"));
            create_role(&mut admin, &e1, false).await;
            create_role(&mut admin, &e2, false).await;
            let (conn, name) = ctx.connector(true, &[&e1, &e2]);
            let end1 = Timestamp(now_ms() + HOUR_MS);
            let end2 = Timestamp(end1.0 + HOUR_MS);

            let granted = conn.grant(&grant_op(&name, &acct, &e1, Some(end1))).await.expect("grant creates the login");
            let password = granted.credential.expect("the new login's password");
            assert_eq!(password.len(), 32);
            assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
            let (can_login, until, _, comment, verifier) = login_row(&mut admin, &acct).await.expect("the login");
            assert!(can_login);
            assert_eq!(until, Some(end1.0), "VALID UNTIL is the grant's end");
            let made_for = format!("pim managed login (connector {name}) for {}", principal_of(&acct));
            assert_eq!(comment.as_deref(), Some(made_for.as_str()), "names the principal it was made for");
            let verifier = verifier.expect("a password is set");
            assert!(verifier_matches(&verifier, &password), "the returned password is the login's");
            assert!(!verifier.contains(&password), "the server never saw the password");
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![(acct.clone(), e1.clone())]);

            let again =
                conn.grant(&grant_op(&name, &acct, &e2, Some(end2))).await.expect("grant of a second entitlement");
            assert_eq!(again.credential, None, "no new password");
            let row = login_row(&mut admin, &acct).await.expect("the login");
            assert_eq!(row.1, Some(end2.0), "VALID UNTIL raised to the later end");
            assert_eq!(row.4.as_deref(), Some(verifier.as_str()), "the password is unchanged");
            conn.grant(&grant_op(&name, &acct, &e1, Some(end1))).await.expect("grant again with the earlier end");
            assert_eq!(login_row(&mut admin, &acct).await.expect("the login").1, Some(end2.0), "never lowered");

            // Something the login owns, and an open session of it.
            ddl(&mut admin, "CREATE TABLE %I (v int)", &[&table]).await.expect("table");
            ddl(&mut admin, "ALTER TABLE %I OWNER TO %I", &[&table, &acct]).await.expect("owner");
            let mut session = ctx.session(&acct).await.expect("connect as the managed login");

            conn.revoke(&revoke_op(&name, &acct, &e1, false)).await.expect("revoke of one entitlement");
            assert!(role_exists(&mut admin, &acct).await, "the login holds another entitlement");
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![(acct.clone(), e2.clone())]);
            assert!(alive(&mut session).await);

            conn.revoke(&revoke_op(&name, &acct, &e2, false)).await.expect("revoke of the last entitlement");
            assert!(!role_exists(&mut admin, &acct).await, "the login is dropped");
            assert!(!alive(&mut session).await, "its session was ended");
            let owner: String = sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = $1")
                .bind(&table)
                .fetch_one(&mut admin)
                .await
                .expect("the table is kept");
            assert_eq!(owner, "postgres", "its objects went to the connector's user");
            conn.revoke(&revoke_op(&name, &acct, &e2, true)).await.expect("revoke once the login is gone");

            // A permanent grant raises VALID UNTIL to infinity; a login left NOLOGIN by an
            // interrupted drop can log in again.
            let forever = ctx.name("erin");
            let g = conn.grant(&grant_op(&name, &forever, &e1, Some(end1))).await.expect("grant");
            assert!(g.credential.is_some());
            ddl(&mut admin, "ALTER ROLE %I NOLOGIN", &[&forever]).await.expect("nologin");
            let g = conn.grant(&grant_op(&name, &forever, &e2, None)).await.expect("permanent grant");
            assert_eq!(g.credential, None);
            let row = login_row(&mut admin, &forever).await.expect("the login");
            assert!(row.0 && row.2, "LOGIN again, VALID UNTIL infinity");

            // A grant that fails leaves no login behind.
            let nothing = ctx.name("nothing");
            let e = conn.grant(&grant_op(&name, &nothing, &ctx.name("no_such"), None)).await.expect_err("no role");
            assert!(e.message.contains("does not exist"), "{}", e.message);
            assert!(!role_exists(&mut admin, &nothing).await, "the transaction was rolled back");

            // Logins pim did not create (or created for another connector) are refused, never dropped.
            let (foreign, other) = (ctx.name("frank"), ctx.name("grace"));
            create_role(&mut admin, &foreign, true).await;
            create_role(&mut admin, &other, true).await;
            ddl(&mut admin, "COMMENT ON ROLE %I IS %L", &[&other, "pim managed login (connector elsewhere)"])
                .await
                .expect("comment");
            for login in [&foreign, &other] {
                let e = conn.grant(&grant_op(&name, login, &e1, Some(end1))).await.expect_err("refused");
                assert!(e.message.contains("was not created by pim"), "{}", e.message);
                ddl(&mut admin, "GRANT %I TO %I", &[&e1, login]).await.expect("grant by hand");
                conn.revoke(&revoke_op(&name, login, &e1, true)).await.expect("revoke");
                assert!(role_exists(&mut admin, login).await, "a login pim did not create is not dropped");
            }
            let left = memberships(&mut admin, &ctx.prefix).await;
            assert_eq!(
                left,
                vec![(forever.clone(), e1.clone()), (forever.clone(), e2.clone())],
                "only erin's grants are left"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn hostile_names_change_exactly_one_membership() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let pairs = [
                (ctx.name("x\"; DROP ROLE postgres; --"), ctx.name("r\" TO postgres; --")),
                (ctx.name("Ann O'Brien \"the admin\""), ctx.name("read 'only' role")),
                (ctx.name("50% %I $1 \\ back"), ctx.name("e'); DROP ROLE postgres; --")),
            ];
            for (a, e) in &pairs {
                create_role(&mut admin, a, true).await;
                create_role(&mut admin, e, false).await;
            }
            let (conn, name) = ctx.connector(false, &pairs.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>());
            let before = memberships(&mut admin, &ctx.prefix).await;
            for (a, e) in &pairs {
                conn.grant(&grant_op(&name, a, e, None)).await.expect("grant");
                let mut want = before.clone();
                want.push((a.clone(), e.clone()));
                want.sort();
                assert_eq!(memberships(&mut admin, &ctx.prefix).await, want, "exactly {a} in {e}");
                postgres_is_intact(&mut admin).await;
                conn.revoke(&revoke_op(&name, a, e, true)).await.expect("revoke");
                assert_eq!(memberships(&mut admin, &ctx.prefix).await, before);
                postgres_is_intact(&mut admin).await;
            }
            // The same names as managed logins.
            let (managed, mname) = ctx.connector(true, &[&pairs[0].1]);
            let login = ctx.name("m\"; DROP ROLE postgres; --");
            let g = managed.grant(&grant_op(&mname, &login, &pairs[0].1, None)).await.expect("managed grant");
            assert!(g.credential.is_some());
            assert!(role_exists(&mut admin, &login).await, "the login has exactly the hostile name");
            postgres_is_intact(&mut admin).await;
            managed.revoke(&revoke_op(&mname, &login, &pairs[0].1, true)).await.expect("managed revoke");
            assert!(!role_exists(&mut admin, &login).await);
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, before);
            postgres_is_intact(&mut admin).await;
            let too_long = ctx.name(&"y".repeat(60));
            let e = conn.grant(&grant_op(&name, &too_long, &pairs[0].1, None)).await.expect_err("too long");
            assert!(e.message.contains("63 bytes"), "{}", e.message);
        })
        .await;
    }

    #[tokio::test]
    async fn list_returns_exactly_the_memberships_of_the_listed_entitlements() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (a, b, c, group) = (ctx.name("a"), ctx.name("b"), ctx.name("c"), ctx.name("team"));
            let (e1, e2, e3) = (ctx.name("e1"), ctx.name("e2"), ctx.name("e3"));
            for l in [&a, &b, &c] {
                create_role(&mut admin, l, true).await;
            }
            for r in [&group, &e1, &e2, &e3] {
                create_role(&mut admin, r, false).await;
            }
            for (r, m) in [(&e1, &a), (&e1, &b), (&e2, &a), (&e3, &c), (&e1, &group), (&group, &c)] {
                ddl(&mut admin, "GRANT %I TO %I", &[r, m]).await.expect("grant");
            }
            let (conn, _) = ctx.connector(false, &[&e1, &e2]);
            let h =
                |account: &str, entitlement: &str| Holding { account: account.into(), entitlement: entitlement.into() };
            let mut want = vec![h(&a, &e1), h(&b, &e1), h(&group, &e1), h(&a, &e2)];
            want.sort();
            assert_eq!(conn.list(&[e1.clone(), e2.clone()]).await.expect("list"), Some(want));
            assert_eq!(conn.list(std::slice::from_ref(&e3)).await.expect("list"), Some(vec![h(&c, &e3)]));
            assert_eq!(conn.list(&[]).await.expect("list"), Some(vec![]));
            assert_eq!(conn.list(&[ctx.name("none")]).await.expect("list"), Some(vec![]));
        })
        .await;
    }

    #[test]
    fn building_needs_no_runtime_and_no_server() {
        let o = options("lazy", "postgres://pim@127.0.0.1:1/test", Some("pw"), false, &["reader"]);
        let built = crate::connectors::Connectors::build(std::slice::from_ref(&o)).expect("built outside a runtime");
        assert!(built.get("lazy").is_some());
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_without_the_password() {
        let password = "Sup3r-Secret-Pw-7f3a";
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let url = format!("postgres://pim_connector@127.0.0.1:{port}/test");
        let o = options("down", &url, Some(password), true, &["reader"]);
        assert!(!format!("{o:?}").contains(password), "the options' Debug hides the password");
        let conn = connector_at("down", &url, Some(password), true, &["reader"]);
        assert!(!format!("{conn:?}").contains(password), "the connector's Debug hides it");

        let started = Instant::now();
        let e = conn.grant(&grant_op("down", "alice", "reader", None)).await.expect_err("nothing listens");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "fails within the acquire timeout: {:?}",
            started.elapsed()
        );
        assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{}", e.message);
        assert!(!e.message.contains(password), "{}", e.message);
        let e = conn.revoke(&revoke_op("down", "alice", "reader", true)).await.expect_err("nothing listens");
        assert!(!e.message.contains(password), "{}", e.message);
        let e = conn.list(&["reader".into()]).await.expect_err("nothing listens");
        assert!(!e.message.contains(password), "{}", e.message);

        // A password in the URL itself is kept out of messages too.
        let in_url = format!("postgres://pim:{password}@127.0.0.1:{port}/test");
        let conn = connector_at("down", &in_url, None, false, &["reader"]);
        let e = conn.grant(&grant_op("down", "alice", "reader", None)).await.expect_err("nothing listens");
        assert!(!e.message.contains(password), "{}", e.message);
        for bad in [format!("postgres://pim:{password}@127.0.0.1:notaport/test"), format!("mysql://pim:{password}@x/y")]
        {
            let o = options("bad", &bad, Some(password), false, &["reader"]);
            let ConnectorKind::Postgres(pg) = &o.kind else { unreachable!() };
            let e = PostgresConnector::new(&o, pg).expect_err("not a PostgreSQL URL");
            assert!(e.contains("not valid") && !e.contains(password), "{e}");
        }
    }

    #[tokio::test]
    async fn a_non_superuser_with_createrole_and_pg_signal_backend_is_enough() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (agent, login, ent, table) = (ctx.name("agent"), ctx.name("hank"), ctx.name("ops"), ctx.name("t"));
            ddl(&mut admin, "CREATE ROLE %I LOGIN NOSUPERUSER CREATEROLE", &[&agent]).await.expect("agent");
            create_role(&mut admin, &login, true).await;
            create_role(&mut admin, &ent, false).await;
            protected_table(&mut admin, &table, &ent).await;
            let url = url_as(&ctx.url, &agent);
            let name = "agent-test";
            let conn = connector_at(name, &url, None, false, &[&ent]);

            conn.grant(&grant_op(name, &login, &ent, None)).await.expect("CREATEROLE grants");
            let mut s = ctx.session(&login).await.expect("connect as the login");
            ddl(&mut s, "SET ROLE %I", &[&ent]).await.expect("set role");
            // Without pg_signal_backend the membership goes but the session cannot be ended.
            let e = conn.revoke(&revoke_op(name, &login, &ent, true)).await.expect_err("cannot end sessions");
            assert!(e.message.contains("pg_signal_backend"), "{}", e.message);
            assert_eq!(memberships(&mut admin, &ctx.prefix).await, vec![], "the REVOKE itself went through");
            assert!(alive(&mut s).await);

            ddl(&mut admin, "GRANT pg_signal_backend TO %I", &[&agent]).await.expect("pg_signal_backend");
            conn.grant(&grant_op(name, &login, &ent, None)).await.expect("grant");
            conn.revoke(&revoke_op(name, &login, &ent, true)).await.expect("revoke and end sessions");
            assert!(!alive(&mut s).await, "the session was ended");
            assert_eq!(conn.list(std::slice::from_ref(&ent)).await.expect("list"), Some(vec![]));

            // Managed logins: create, comment, raise VALID UNTIL, reassign, drop.
            let managed = connector_at(name, &url, None, true, &[&ent]);
            let acct = ctx.name("ivy");
            let end = Timestamp(now_ms() + HOUR_MS);
            let g = managed.grant(&grant_op(name, &acct, &ent, Some(end))).await.expect("create the login");
            assert!(g.credential.is_some());
            managed.grant(&grant_op(name, &acct, &ent, Some(Timestamp(end.0 + HOUR_MS)))).await.expect("raise");
            let owned = ctx.name("owned");
            ddl(&mut admin, "CREATE TABLE %I (v int)", &[&owned]).await.expect("table");
            ddl(&mut admin, "ALTER TABLE %I OWNER TO %I", &[&owned, &acct]).await.expect("owner");
            let mut m = ctx.session(&acct).await.expect("connect as the managed login");
            managed.revoke(&revoke_op(name, &acct, &ent, true)).await.expect("drop the login");
            assert!(!role_exists(&mut admin, &acct).await);
            assert!(!alive(&mut m).await);
            let owner: String = sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = $1")
                .bind(&owned)
                .fetch_one(&mut admin)
                .await
                .expect("the table is kept");
            assert_eq!(owner, agent, "its objects went to the connector's role");

            // The connector cannot touch superusers.
            let e = managed.grant(&grant_op(name, "postgres", &ent, None)).await.expect_err("postgres is not pim's");
            assert!(e.message.contains("not created by pim"), "{}", e.message);
            postgres_is_intact(&mut admin).await;
        })
        .await;
    }
}
