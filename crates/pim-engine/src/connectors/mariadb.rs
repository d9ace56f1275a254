//! The MariaDB target: role grants to existing `'user'@'host'` accounts, default roles, `KILL CONNECTION`, every name backtick-quoted by one tested function.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Executor};

use super::{Connector, ConnectorError, ConnectorOptions, GrantOp, Granted, Holding, MariaDbOptions, RevokeOp};

/// The longest any one operation may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a connection (a refused connection is retried until then).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// MariaDB's longest user and role name, in characters (`mysql.user.User` is `char(128)`).
const MAX_NAME_CHARS: usize = 128;
/// MariaDB's longest host part, in characters.
const MAX_HOST_CHARS: usize = 255;
/// The session settings of every connection: statements and metadata locks give up in time.
const SESSION_SETTINGS: &str = "SET SESSION max_statement_time = 10, lock_wait_timeout = 5";
/// `ER_NO_SUCH_THREAD`: the session ended by itself before `KILL` reached it.
const ER_NO_SUCH_THREAD: u16 = 1094;

/// Grants and revokes MariaDB roles to existing accounts `'user'@'host'`.
///
/// MariaDB gives an account one *default role* (active in each new session). pim sets it to the
/// granted role when the account has none (or a stale one it no longer holds), never replaces a
/// default the account still holds, and at revoke of the default moves it to another entitlement
/// of this connector the account still holds (the first by name), or `NONE`. The other roles are
/// held and taken with `SET ROLE`.
pub struct MariaDbConnector {
    name: String,
    entitlements: Vec<String>,
    managed_logins: bool,
    /// The host part of every account (`%`).
    account_host: String,
    connect: MySqlConnectOptions,
    pool: OnceLock<MySqlPool>,
    /// Strings that must never appear in a message (the configured password).
    secrets: Vec<String>,
}

impl fmt::Debug for MariaDbConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDbConnector")
            .field("name", &self.name)
            .field("host", &self.connect.get_host())
            .field("port", &self.connect.get_port())
            .field("account_host", &self.account_host)
            .field("managed_logins", &self.managed_logins)
            .finish()
    }
}

impl MariaDbConnector {
    /// Builds the connector (no connection is made yet).
    pub fn new(connector: &ConnectorOptions, options: &MariaDbOptions) -> Result<MariaDbConnector, String> {
        let mut secrets: Vec<String> = options.password.iter().cloned().collect();
        secrets.extend(url_password(&options.url));
        if !(options.url.starts_with("mysql://") || options.url.starts_with("mariadb://")) {
            return Err(format!(
                "connector '{}': the MariaDB url is not valid: it must start with mysql:// or mariadb://",
                connector.name
            ));
        }
        let host = &options.account_host;
        if host.is_empty() || host.chars().count() > MAX_HOST_CHARS || host.contains('\0') {
            return Err(format!(
                "connector '{}': account_host must be 1 to {MAX_HOST_CHARS} characters without NUL (e.g. %)",
                connector.name
            ));
        }
        let url = options.url.replacen("mariadb://", "mysql://", 1);
        let connect = MySqlConnectOptions::from_str(&url).map_err(|e| {
            scrub(format!("connector '{}': the MariaDB url is not valid: {e}", connector.name), &secrets)
        })?;
        let mut connect = connect.disable_statement_logging();
        if let Some(p) = &options.password {
            connect = connect.password(p);
        }
        if options.managed_logins {
            tracing::warn!(connector = %connector.name, "MariaDB managed logins are not supported: every grant will fail");
        }
        Ok(MariaDbConnector {
            name: connector.name.clone(),
            entitlements: connector.entitlements(),
            managed_logins: options.managed_logins,
            account_host: host.clone(),
            connect,
            pool: OnceLock::new(),
            secrets,
        })
    }

    /// The pool, made on first use (inside the runtime: the pool's maintenance task needs one).
    fn pool(&self) -> &MySqlPool {
        self.pool.get_or_init(|| {
            MySqlPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .idle_timeout(Some(Duration::from_secs(60)))
                .after_connect(|c, _| {
                    Box::pin(async move {
                        c.execute(SESSION_SETTINGS).await?;
                        Ok(())
                    })
                })
                .connect_lazy_with(self.connect.clone())
        })
    }

    /// A failure of `what`, with the server's message and never a secret.
    fn error(&self, what: &str, e: &sqlx::Error) -> ConnectorError {
        let message = match e {
            sqlx::Error::Database(d) => format!("{what}: MariaDB says: {}", d.message()),
            sqlx::Error::PoolTimedOut => format!(
                "{what}: no connection to the MariaDB server at {}:{} within {} s",
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

    /// `` `user`@`host` `` of `user`.
    fn account(&self, user: &str) -> String {
        account_name(user, &self.account_host)
    }

    async fn grant_inner(&self, op: &GrantOp, what: &str) -> Result<Granted, ConnectorError> {
        let err = |e: sqlx::Error| self.error(what, &e);
        let mut c = self.pool().acquire().await.map_err(err)?;
        let Some(default) = default_role(&mut c, &op.account, &self.account_host).await.map_err(err)? else {
            return Err(ConnectorError::new(format!(
                "{what}: the account {} does not exist (this connector grants to existing accounts only)",
                self.account(&op.account)
            )));
        };
        let account = self.account(&op.account);
        // Granting a role the account holds is a no-op for MariaDB.
        let sql = format!("GRANT {} TO {account}", quote_ident(&op.entitlement));
        c.execute(sql.as_str()).await.map_err(err)?;
        let keep = match default.as_deref() {
            None => false,
            Some(d) => holds(&mut c, &op.account, &self.account_host, d).await.map_err(err)?,
        };
        if !keep {
            let sql = format!("SET DEFAULT ROLE {} FOR {account}", quote_ident(&op.entitlement));
            c.execute(sql.as_str()).await.map_err(err)?;
        }
        tracing::info!(connector = %self.name, account = %op.account, entitlement = %op.entitlement,
            default_role = !keep, "granted");
        Ok(Granted::default())
    }

    async fn revoke_inner(&self, op: &RevokeOp, what: &str) -> Result<(), ConnectorError> {
        let err = |e: sqlx::Error| self.error(what, &e);
        let mut c = self.pool().acquire().await.map_err(err)?;
        let user = op.account.as_str();
        let host = self.account_host.as_str();
        let Some(default) = default_role(&mut c, user, host).await.map_err(err)? else {
            tracing::debug!(connector = %self.name, account = %user, "revoke: the account is gone");
            return Ok(());
        };
        let account = self.account(user);
        let held = holds(&mut c, user, host, &op.entitlement).await.map_err(err)?;
        if held {
            let sql = format!("REVOKE {} FROM {account}", quote_ident(&op.entitlement));
            c.execute(sql.as_str()).await.map_err(err)?;
            tracing::info!(connector = %self.name, account = %user, entitlement = %op.entitlement, "revoked");
        }
        // MariaDB keeps a revoked default role as the default: move it (also when the role was
        // revoked outside pim).
        if default.as_deref() == Some(op.entitlement.as_str()) {
            let mut next = None;
            for e in self.entitlements.iter().filter(|e| **e != op.entitlement) {
                if holds(&mut c, user, host, e).await.map_err(err)? {
                    next = Some(e.as_str());
                    break;
                }
            }
            let sql = match next {
                Some(e) => format!("SET DEFAULT ROLE {} FOR {account}", quote_ident(e)),
                None => format!("SET DEFAULT ROLE NONE FOR {account}"),
            };
            c.execute(sql.as_str()).await.map_err(err)?;
        }
        if op.terminate_sessions {
            let ended = kill_sessions(&mut c, user).await.map_err(err)?;
            if ended > 0 {
                tracing::info!(connector = %self.name, account = %user, sessions = ended, "ended sessions");
            }
        }
        Ok(())
    }

    async fn list_inner(&self, entitlements: &[String]) -> Result<Vec<Holding>, ConnectorError> {
        let what = "listing the role grants";
        let err = |e: sqlx::Error| self.error(what, &e);
        if entitlements.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.pool().acquire().await.map_err(err)?;
        // The connector's own account holds every role it created (WITH ADMIN OPTION): not a holding.
        let me: String = sqlx::query_scalar("SELECT CURRENT_USER()").fetch_one(&mut *c).await.map_err(err)?;
        let (my_user, my_host) = me.rsplit_once('@').unwrap_or((me.as_str(), ""));
        let marks = vec!["?"; entitlements.len()].join(", ");
        let sql = format!(
            "SELECT CONVERT(User USING utf8mb4), CONVERT(Role USING utf8mb4) FROM mysql.roles_mapping \
             WHERE Host = ? AND Role IN ({marks}) \
             AND NOT (User = ? AND Host = ?) ORDER BY User, Role"
        );
        let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(&self.account_host);
        for e in entitlements {
            q = q.bind(e);
        }
        let rows = q.bind(my_user).bind(my_host).fetch_all(&mut *c).await.map_err(err)?;
        Ok(rows.into_iter().map(|(account, entitlement)| Holding { account, entitlement }).collect())
    }
}

impl Connector for MariaDbConnector {
    fn grant<'a>(&'a self, op: &'a GrantOp) -> BoxFuture<'a, Result<Granted, ConnectorError>> {
        Box::pin(async move {
            let what = format!("granting {} to {}", op.entitlement, op.account);
            if self.managed_logins {
                return Err(ConnectorError::new(format!(
                    "{what}: managed logins are not supported for MariaDB (connector {}); set managed_logins = false \
                     and create the accounts",
                    self.name
                )));
            }
            check_name("account", &op.account, &what)?;
            check_name("entitlement", &op.entitlement, &what)?;
            self.timed(&what, self.grant_inner(op, &what)).await
        })
    }

    fn revoke<'a>(&'a self, op: &'a RevokeOp) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let what = format!("revoking {} from {}", op.entitlement, op.account);
            if check_name("account", &op.account, &what).is_err()
                || check_name("entitlement", &op.entitlement, &what).is_err()
            {
                // pim refuses to grant such names, so it holds nothing under them.
                tracing::warn!(connector = %self.name, "revoke of a name MariaDB cannot hold: nothing to do");
                return Ok(());
            }
            self.timed(&what, self.revoke_inner(op, &what)).await
        })
    }

    fn list<'a>(&'a self, entitlements: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<Holding>>, ConnectorError>> {
        Box::pin(async move {
            let what = "listing the role grants";
            self.timed(what, self.list_inner(entitlements)).await.map(Some)
        })
    }
}

/// `name` as a MariaDB quoted identifier: in backticks, each backtick doubled. A backtick-quoted
/// name means the same under every `sql_mode` (`ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` change
/// only `"` and `'...'`), which `QUOTE()`'s backslash-escaped literals do not; callers refuse NUL.
fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for ch in name.chars() {
        if ch == '`' {
            out.push('`');
        }
        out.push(ch);
    }
    out.push('`');
    out
}

/// The account `user`@`host`, both parts quoted.
fn account_name(user: &str, host: &str) -> String {
    format!("{}@{}", quote_ident(user), quote_ident(host))
}

/// The account's default role: `None` when the account does not exist, `Some(None)` when it has
/// no default role.
async fn default_role(c: &mut MySqlConnection, user: &str, host: &str) -> Result<Option<Option<String>>, sqlx::Error> {
    // The view's columns are binary strings or of mixed collations: compared here, not in SQL.
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT CONVERT(default_role USING utf8mb4), CONVERT(is_role USING utf8mb4) FROM mysql.user \
         WHERE User = ? AND Host = ?",
    )
    .bind(user)
    .bind(host)
    .fetch_all(c)
    .await?;
    let account = rows.into_iter().find(|(_, is_role)| is_role.as_deref() != Some("Y"));
    Ok(account.map(|(d, _)| d.filter(|d| !d.is_empty())))
}

/// Whether `user`@`host` holds `role`.
async fn holds(c: &mut MySqlConnection, user: &str, host: &str, role: &str) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = ? AND Host = ? AND Role = ?")
            .bind(user)
            .bind(host)
            .bind(role)
            .fetch_one(c)
            .await?;
    Ok(n > 0)
}

/// Ends every session of `user` (any host) except this one; returns how many were ended. The
/// processlist's `USER` is case-insensitive (`utf8mb3_general_ci`) while accounts are not: compared
/// as bytes, so `Alice`'s sessions stay when `alice`'s end.
async fn kill_sessions(c: &mut MySqlConnection, user: &str) -> Result<u64, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE CAST(USER AS BINARY) = CAST(? AS BINARY) \
         AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'",
    )
    .bind(user)
    .fetch_all(&mut *c)
    .await?;
    let mut ended = 0;
    for id in ids {
        match c.execute(format!("KILL CONNECTION {id}").as_str()).await {
            Ok(_) => ended += 1,
            Err(sqlx::Error::Database(d))
                if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|m| m.number())
                    == Some(ER_NO_SUCH_THREAD) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ended)
}

/// Refuses names MariaDB cannot hold.
fn check_name(kind: &str, name: &str, what: &str) -> Result<(), ConnectorError> {
    if name.is_empty() || name.contains('\0') || name.chars().count() > MAX_NAME_CHARS {
        return Err(ConnectorError::new(format!(
            "{what}: the {kind} name must be 1 to {MAX_NAME_CHARS} characters without NUL"
        )));
    }
    Ok(())
}

/// The password in a URL's user part (`mysql://user:password@host`), to keep it out of messages.
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
    use std::time::Instant;

    use futures_util::FutureExt;
    use pim_domain::{AssignmentId, PrincipalId, RoleId, ScopePath};
    use rand::Rng;
    use sqlx::Connection;

    use super::*;
    use crate::connectors::{ConnectorKind, Mapping};

    /// The admin URL, or `None` (with the reason printed) when the tests cannot run here.
    fn admin_url() -> Option<String> {
        match std::env::var("PIM_TEST_MARIADB_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "PIM_TEST_MARIADB_URL is not set, and CI=true requires the MariaDB tests to run"
                );
                eprintln!("skipped: PIM_TEST_MARIADB_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)");
                None
            }
        }
    }

    /// One test's server and its random name prefix (accounts and roles are server-wide).
    struct Ctx {
        url: String,
        prefix: String,
    }

    impl Ctx {
        fn name(&self, s: &str) -> String {
            format!("{}{s}", self.prefix)
        }

        async fn admin(&self) -> MySqlConnection {
            MySqlConnection::connect(&self.url).await.expect("connect to PIM_TEST_MARIADB_URL")
        }

        /// The test database (from the URL).
        fn database(&self) -> String {
            let o = MySqlConnectOptions::from_str(&self.url).expect("the URL");
            o.get_database().unwrap_or("test").to_owned()
        }

        /// A new session as `user`@`%` with its password, on no database (an account without
        /// privileges there may not connect to it).
        async fn session(&self, user: &str, password: &str) -> Result<MySqlConnection, sqlx::Error> {
            let admin = MySqlConnectOptions::from_str(&self.url)?;
            MySqlConnectOptions::new()
                .host(admin.get_host())
                .port(admin.get_port())
                .username(user)
                .password(password)
                .connect()
                .await
        }

        fn connector(&self, entitlements: &[&str]) -> (MariaDbConnector, String) {
            let name = format!("test-{}", &self.prefix[5..13]);
            (connector_at(&name, &self.url, None, "%", false, entitlements), name)
        }
    }

    fn options(
        name: &str,
        url: &str,
        password: Option<&str>,
        host: &str,
        managed: bool,
        ents: &[&str],
    ) -> ConnectorOptions {
        let m = MariaDbOptions {
            url: url.into(),
            password: password.map(str::to_owned),
            account_host: host.into(),
            managed_logins: managed,
        };
        let mappings = ents
            .iter()
            .map(|e| Mapping {
                role: "Database Administrator".into(),
                scope: ScopePath::parse("/").expect("scope"),
                entitlement: (*e).to_owned(),
                terminate_sessions: true,
            })
            .collect();
        ConnectorOptions::new(name, ConnectorKind::MariaDb(m), mappings)
    }

    fn connector_at(
        name: &str,
        url: &str,
        password: Option<&str>,
        host: &str,
        managed: bool,
        ents: &[&str],
    ) -> MariaDbConnector {
        let o = options(name, url, password, host, managed, ents);
        let ConnectorKind::MariaDb(m) = &o.kind else { unreachable!() };
        MariaDbConnector::new(&o, m).expect("connector")
    }

    /// Runs `body` with a fresh prefix, then drops every account, role and table with that
    /// prefix, also when the body failed.
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
        assert_eq!(left, 0, "accounts or roles with the prefix {prefix} were left behind");
    }

    async fn exec(c: &mut MySqlConnection, sql: &str) {
        c.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn cleanup(url: &str, prefix: &str) -> i64 {
        let mut c = MySqlConnection::connect(url).await.expect("connect for the clean-up");
        let n = prefix.chars().count() as i64;
        let ids: Vec<i64> = sqlx::query_scalar("SELECT ID FROM information_schema.PROCESSLIST WHERE LEFT(USER, ?) = ?")
            .bind(n)
            .bind(prefix)
            .fetch_all(&mut c)
            .await
            .expect("sessions");
        for id in ids {
            let _ = c.execute(format!("KILL CONNECTION {id}").as_str()).await;
        }
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND LEFT(TABLE_NAME, ?) = ?",
        )
        .bind(n)
        .bind(prefix)
        .fetch_all(&mut c)
        .await
        .expect("tables");
        for t in tables {
            exec(&mut c, &format!("DROP TABLE IF EXISTS {}", quote_ident(&t))).await;
        }
        let accounts: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT CONVERT(User USING utf8mb4), CONVERT(Host USING utf8mb4), CONVERT(is_role USING utf8mb4) \
                 FROM mysql.user WHERE LEFT(User, ?) = ?",
        )
        .bind(n)
        .bind(prefix)
        .fetch_all(&mut c)
        .await
        .expect("accounts");
        for (user, host, is_role) in &accounts {
            if is_role == "Y" {
                exec(&mut c, &format!("DROP ROLE IF EXISTS {}", quote_ident(user))).await;
            } else {
                exec(&mut c, &format!("DROP USER IF EXISTS {}", account_name(user, host))).await;
            }
        }
        sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE LEFT(User, ?) = ?")
            .bind(n)
            .bind(prefix)
            .fetch_one(&mut c)
            .await
            .expect("count")
    }

    fn grant_op(connector: &str, account: &str, entitlement: &str) -> GrantOp {
        GrantOp {
            connector: connector.into(),
            principal_id: PrincipalId::new(),
            principal_name: account.into(),
            account: account.into(),
            entitlement: entitlement.into(),
            ends_at: None,
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
            principal_id: PrincipalId::new(),
            principal_name: account.into(),
            account: account.into(),
            entitlement: entitlement.into(),
            terminate_sessions,
            assignment_id: None,
            idempotency_key: format!("revoke:{account}:{entitlement}"),
        }
    }

    fn password() -> String {
        rand::rngs::OsRng.sample_iter(&rand::distributions::Alphanumeric).take(24).map(char::from).collect()
    }

    /// Creates `user`@`host` with a new password, returned.
    async fn create_account(c: &mut MySqlConnection, user: &str, host: &str) -> String {
        let pw = password();
        // The password is letters and digits only.
        exec(c, &format!("CREATE USER {} IDENTIFIED BY '{pw}'", account_name(user, host))).await;
        pw
    }

    async fn create_role(c: &mut MySqlConnection, role: &str) {
        exec(c, &format!("CREATE ROLE {}", quote_ident(role))).await;
    }

    async fn account_exists(c: &mut MySqlConnection, user: &str) -> bool {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE User = ?")
            .bind(user)
            .fetch_one(c)
            .await
            .expect("mysql.user");
        n > 0
    }

    async fn default_of(c: &mut MySqlConnection, user: &str) -> Option<String> {
        default_role(c, user, "%").await.expect("mysql.user").expect("the account exists")
    }

    /// Every (user, host, role) granted without admin option where the user or the role has the
    /// prefix, or the user is `root`.
    async fn mappings(c: &mut MySqlConnection, prefix: &str) -> Vec<(String, String, String)> {
        sqlx::query_as(
            "SELECT CONVERT(User USING utf8mb4), CONVERT(Host USING utf8mb4), CONVERT(Role USING utf8mb4) \
             FROM mysql.roles_mapping WHERE Admin_option = 'N' \
             AND (LEFT(User, ?) = ? OR LEFT(Role, ?) = ? OR User = 'root') ORDER BY User, Host, Role",
        )
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .fetch_all(c)
        .await
        .expect("mysql.roles_mapping")
    }

    fn m(user: &str, role: &str) -> (String, String, String) {
        (user.to_owned(), "%".to_owned(), role.to_owned())
    }

    async fn root_is_intact(c: &mut MySqlConnection) {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT CONVERT(Super_priv USING utf8mb4), CONVERT(Grant_priv USING utf8mb4) FROM mysql.user \
             WHERE User = 'root'",
        )
        .fetch_all(c)
        .await
        .expect("mysql.user");
        assert!(rows.iter().any(|(s, g)| s == "Y" && g == "Y"), "root still exists with all privileges: {rows:?}");
    }

    /// A table readable only through `role`.
    async fn protected_table(c: &mut MySqlConnection, db: &str, table: &str, role: &str) {
        let t = format!("{}.{}", quote_ident(db), quote_ident(table));
        exec(c, &format!("CREATE TABLE {t} (v int)")).await;
        exec(c, &format!("INSERT INTO {t} VALUES (42)")).await;
        exec(c, &format!("GRANT SELECT ON {t} TO {}", quote_ident(role))).await;
    }

    async fn read(c: &mut MySqlConnection, db: &str, table: &str) -> Result<i32, sqlx::Error> {
        let sql = format!("SELECT v FROM {}.{}", quote_ident(db), quote_ident(table));
        sqlx::query_scalar(&sql).fetch_one(c).await
    }

    async fn alive(c: &mut MySqlConnection) -> bool {
        sqlx::query("SELECT 1").execute(c).await.is_ok()
    }

    #[test]
    fn identifiers_are_backtick_quoted_with_backticks_doubled() {
        assert_eq!(quote_ident("reader"), "`reader`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("``"), "``````");
        assert_eq!(quote_ident("x'; DROP USER root; --"), "`x'; DROP USER root; --`");
        assert_eq!(quote_ident("back\\slash \"q\""), "`back\\slash \"q\"`");
        assert_eq!(quote_ident(""), "``");
        assert_eq!(account_name("ann@x", "%"), "`ann@x`@`%`");
        assert_eq!(account_name("o'b`", "10.0.%"), "`o'b```@`10.0.%`");
    }

    #[test]
    fn names_mariadb_cannot_hold_are_refused() {
        assert!(check_name("account", "alice", "w").is_ok());
        assert!(check_name("account", &"é".repeat(128), "w").is_ok(), "128 characters, more bytes");
        for bad in [String::new(), "a\0b".into(), "x".repeat(129)] {
            let e = check_name("account", &bad, "w").expect_err("refused");
            assert!(e.message.contains("1 to 128 characters"), "{}", e.message);
        }
    }

    #[test]
    fn building_needs_no_runtime_and_no_server_and_checks_the_options() {
        let o = options("lazy", "mysql://pim@127.0.0.1:1/test", Some("pw"), "%", false, &["reader"]);
        let built = crate::connectors::Connectors::build(std::slice::from_ref(&o)).expect("built outside a runtime");
        assert!(built.get("lazy").is_some());
        assert_eq!(o.kind_name(), "mariadb");
        let o = options("lazy", "mariadb://pim@127.0.0.1:1/test", None, "10.0.0.%", false, &["reader"]);
        assert!(crate::connectors::Connectors::build(std::slice::from_ref(&o)).is_ok(), "mariadb:// works too");
        for (url, host, says) in [
            ("postgres://pim@x/y", "%", "must start with mysql://"),
            ("mysql://pim@x/y", "", "account_host"),
            ("mysql://pim@x:notaport/y", "%", "not valid"),
        ] {
            let o = options("bad", url, None, host, false, &["reader"]);
            let ConnectorKind::MariaDb(m) = &o.kind else { unreachable!() };
            let e = MariaDbConnector::new(&o, m).expect_err("refused");
            assert!(e.contains(says), "{e}");
        }
    }

    #[tokio::test]
    async fn managed_logins_are_refused_with_a_clear_message() {
        // Refused before any connection is made: nothing listens at port 1.
        let conn = connector_at("managed", "mysql://pim@127.0.0.1:1/test", None, "%", true, &["reader"]);
        let started = Instant::now();
        let e = conn.grant(&grant_op("managed", "alice", "reader")).await.expect_err("not supported");
        assert!(e.message.contains("managed logins are not supported for MariaDB"), "{}", e.message);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_existing_account_gains_and_loses_real_access_and_its_sessions() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let db = ctx.database();
            let (user, role, table, bystander) =
                (ctx.name("alice"), ctx.name("reader"), ctx.name("secrets"), ctx.name("ALICE"));
            let pw = create_account(&mut admin, &user, "%").await;
            let bob_pw = create_account(&mut admin, &bystander, "%").await;
            create_role(&mut admin, &role).await;
            protected_table(&mut admin, &db, &table, &role).await;
            let (conn, name) = ctx.connector(&[&role]);

            let mut before = ctx.session(&user, &pw).await.expect("connect as the account");
            assert!(read(&mut before, &db, &table).await.is_err(), "no access before the grant");
            assert!(ctx.session(&user, "wrong").await.is_err(), "the password is checked");
            assert_eq!(conn.grant(&grant_op(&name, &user, &role)).await.expect("grant"), Granted::default());
            assert_eq!(default_of(&mut admin, &user).await, Some(role.clone()), "the default role");
            let mut during = ctx.session(&user, &pw).await.expect("connect as the account");
            assert_eq!(read(&mut during, &db, &table).await.expect("a new session has the role"), 42);
            conn.revoke(&revoke_op(&name, &user, &role, false)).await.expect("revoke");
            assert_eq!(default_of(&mut admin, &user).await, None, "the default role is reset");
            let mut after = ctx.session(&user, &pw).await.expect("connect as the account");
            assert!(read(&mut after, &db, &table).await.is_err(), "no access after the revoke");
            // MariaDB, like PostgreSQL, leaves an open session its active role.
            assert_eq!(read(&mut during, &db, &table).await.expect("the open session keeps the role"), 42);

            // Ending the sessions ends that: the account's sessions go, others' and the connector's stay.
            let mut bob = ctx.session(&bystander, &bob_pw).await.expect("connect as the bystander");
            conn.grant(&grant_op(&name, &user, &role)).await.expect("grant");
            let mut held = ctx.session(&user, &pw).await.expect("connect as the account");
            assert_eq!(read(&mut held, &db, &table).await.expect("read"), 42);
            conn.revoke(&revoke_op(&name, &user, &role, true)).await.expect("revoke and end sessions");
            assert!(!alive(&mut held).await, "the session with the role was killed");
            assert!(!alive(&mut during).await, "the earlier session was killed");
            assert!(!alive(&mut before).await, "every session of the account was killed");
            assert!(alive(&mut bob).await, "another account's session lives (ALICE is not alice)");
            assert!(alive(&mut admin).await, "the admin session lives");
            assert_eq!(conn.list(std::slice::from_ref(&role)).await.expect("list"), Some(vec![]), "still works");
            let mut later = ctx.session(&user, &pw).await.expect("the account itself is kept");
            assert!(read(&mut later, &db, &table).await.is_err(), "no access after the revoke");
        })
        .await;
    }

    #[tokio::test]
    async fn grants_and_revokes_are_idempotent() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (user, role) = (ctx.name("carol"), ctx.name("writer"));
            create_account(&mut admin, &user, "%").await;
            create_role(&mut admin, &role).await;
            let (conn, name) = ctx.connector(&[&role]);

            conn.grant(&grant_op(&name, &user, &role)).await.expect("first grant");
            conn.grant(&grant_op(&name, &user, &role)).await.expect("second grant");
            assert_eq!(mappings(&mut admin, &ctx.prefix).await, vec![m(&user, &role)]);
            assert_eq!(default_of(&mut admin, &user).await, Some(role.clone()));
            conn.revoke(&revoke_op(&name, &user, &role, true)).await.expect("first revoke");
            conn.revoke(&revoke_op(&name, &user, &role, true)).await.expect("second revoke");
            assert_eq!(mappings(&mut admin, &ctx.prefix).await, vec![]);
            assert_eq!(default_of(&mut admin, &user).await, None);

            let ghost = ctx.name("nobody");
            conn.revoke(&revoke_op(&name, &ghost, &role, true)).await.expect("revoke from a missing account");
            conn.revoke(&revoke_op(&name, &user, &ctx.name("no_such_role"), true))
                .await
                .expect("revoke of a missing entitlement");
            let e = conn.grant(&grant_op(&name, &ghost, &role)).await.expect_err("a missing account");
            assert!(e.message.contains("does not exist"), "{}", e.message);
            assert!(!account_exists(&mut admin, &ghost).await, "nothing is created");
            let e = conn.grant(&grant_op(&name, &user, &ctx.name("no_such_role"))).await.expect_err("a missing role");
            assert!(e.message.contains("MariaDB says"), "the server's message: {}", e.message);

            // The same user name at another host is another account.
            let (local_conn, _) = (connector_at(&name, &ctx.url, None, "localhost", false, &[&role]), ());
            let e = local_conn.grant(&grant_op(&name, &user, &role)).await.expect_err("no carol@localhost");
            assert!(e.message.contains("@`localhost` does not exist"), "{}", e.message);
        })
        .await;
    }

    #[tokio::test]
    async fn one_default_role_kept_while_held_then_moved_to_another_held_entitlement() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let db = ctx.database();
            let (user, e1, e2, foreign) = (ctx.name("dave"), ctx.name("e1"), ctx.name("e2"), ctx.name("dba_set"));
            let (t1, t2) = (ctx.name("t1"), ctx.name("t2"));
            let pw = create_account(&mut admin, &user, "%").await;
            for r in [&e1, &e2, &foreign] {
                create_role(&mut admin, r).await;
            }
            protected_table(&mut admin, &db, &t1, &e1).await;
            protected_table(&mut admin, &db, &t2, &e2).await;
            let (conn, name) = ctx.connector(&[&e1, &e2]);

            conn.grant(&grant_op(&name, &user, &e1)).await.expect("grant e1");
            conn.grant(&grant_op(&name, &user, &e2)).await.expect("grant e2");
            assert_eq!(default_of(&mut admin, &user).await, Some(e1.clone()), "the first grant stays the default");
            let mut s = ctx.session(&user, &pw).await.expect("connect");
            assert_eq!(read(&mut s, &db, &t1).await.expect("e1 is active"), 42);
            assert!(read(&mut s, &db, &t2).await.is_err(), "one role at a time");
            exec(&mut s, &format!("SET ROLE {}", quote_ident(&e2))).await;
            assert_eq!(read(&mut s, &db, &t2).await.expect("e2 by SET ROLE"), 42);

            conn.revoke(&revoke_op(&name, &user, &e1, false)).await.expect("revoke e1");
            assert_eq!(default_of(&mut admin, &user).await, Some(e2.clone()), "moved to the held e2");
            let mut s = ctx.session(&user, &pw).await.expect("connect");
            assert_eq!(read(&mut s, &db, &t2).await.expect("e2 is active"), 42);
            conn.revoke(&revoke_op(&name, &user, &e2, false)).await.expect("revoke e2");
            assert_eq!(default_of(&mut admin, &user).await, None);

            // A default set by a DBA and still held is left alone; a stale one is replaced.
            let acct = account_name(&user, "%");
            exec(&mut admin, &format!("GRANT {} TO {acct}", quote_ident(&foreign))).await;
            exec(&mut admin, &format!("SET DEFAULT ROLE {} FOR {acct}", quote_ident(&foreign))).await;
            conn.grant(&grant_op(&name, &user, &e1)).await.expect("grant e1");
            assert_eq!(default_of(&mut admin, &user).await, Some(foreign.clone()), "the DBA's default stays");
            conn.revoke(&revoke_op(&name, &user, &e1, false)).await.expect("revoke e1");
            assert_eq!(default_of(&mut admin, &user).await, Some(foreign.clone()), "not pim's to reset");
            exec(&mut admin, &format!("REVOKE {} FROM {acct}", quote_ident(&foreign))).await;
            assert_eq!(default_of(&mut admin, &user).await, Some(foreign.clone()), "MariaDB keeps a stale default");
            conn.grant(&grant_op(&name, &user, &e2)).await.expect("grant e2");
            assert_eq!(default_of(&mut admin, &user).await, Some(e2.clone()), "a stale default is replaced");
            // Revoked outside pim while the default: pim's revoke still resets it.
            exec(&mut admin, &format!("REVOKE {} FROM {acct}", quote_ident(&e2))).await;
            conn.revoke(&revoke_op(&name, &user, &e2, false)).await.expect("revoke e2");
            assert_eq!(default_of(&mut admin, &user).await, None);
        })
        .await;
    }

    #[tokio::test]
    async fn hostile_names_change_exactly_one_mapping() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let pairs = [
                (ctx.name("x`; DROP USER `root`@`127.0.0.1`; --"), ctx.name("r` TO `root`@`%`; --")),
                (ctx.name("Ann O'Brien \"the admin\""), ctx.name("read 'only' role")),
                (ctx.name("50% _ ? \\ back\\'"), ctx.name("e'); DROP USER root@localhost; --")),
                (ctx.name("mal@lory'@'%"), ctx.name("``double``")),
            ];
            let mut passwords = Vec::new();
            for (a, e) in &pairs {
                passwords.push(create_account(&mut admin, a, "%").await);
                create_role(&mut admin, e).await;
                assert!(account_exists(&mut admin, a).await, "the account has exactly the hostile name {a}");
                assert!(account_exists(&mut admin, e).await, "the role has exactly the hostile name {e}");
            }
            let (conn, name) = ctx.connector(&pairs.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>());
            let before = mappings(&mut admin, &ctx.prefix).await;
            assert_eq!(before, vec![]);
            for ((a, e), pw) in pairs.iter().zip(&passwords) {
                conn.grant(&grant_op(&name, a, e)).await.expect("grant");
                assert_eq!(mappings(&mut admin, &ctx.prefix).await, vec![m(a, e)], "exactly {a} in {e}");
                assert_eq!(default_of(&mut admin, a).await, Some(e.clone()));
                let mut s = ctx.session(a, pw).await.expect("connect with the hostile name");
                let current: Option<String> =
                    sqlx::query_scalar("SELECT CURRENT_ROLE()").fetch_one(&mut s).await.expect("current role");
                assert_eq!(current.as_deref(), Some(e.as_str()));
                root_is_intact(&mut admin).await;
                assert_eq!(
                    conn.list(std::slice::from_ref(e)).await.expect("list"),
                    Some(vec![Holding { account: a.clone(), entitlement: e.clone() }])
                );
                conn.revoke(&revoke_op(&name, a, e, true)).await.expect("revoke");
                assert!(!alive(&mut s).await, "the hostile account's session was killed");
                assert_eq!(mappings(&mut admin, &ctx.prefix).await, before);
                assert_eq!(default_of(&mut admin, a).await, None);
                root_is_intact(&mut admin).await;
            }
            let too_long = ctx.name(&"y".repeat(120));
            let e = conn.grant(&grant_op(&name, &too_long, &pairs[0].1)).await.expect_err("too long");
            assert!(e.message.contains("128 characters"), "{}", e.message);
            conn.revoke(&revoke_op(&name, &too_long, &pairs[0].1, true)).await.expect("nothing to revoke");
        })
        .await;
    }

    #[tokio::test]
    async fn list_returns_exactly_the_account_grants_of_the_listed_entitlements() {
        run(|ctx| async move {
            let mut admin = ctx.admin().await;
            let (a, b, c, group) = (ctx.name("a"), ctx.name("b"), ctx.name("c"), ctx.name("team"));
            let (e1, e2, e3) = (ctx.name("e1"), ctx.name("e2"), ctx.name("e3"));
            for u in [&a, &b, &c] {
                create_account(&mut admin, u, "%").await;
            }
            create_account(&mut admin, &a, "localhost").await;
            for r in [&group, &e1, &e2, &e3] {
                create_role(&mut admin, r).await;
            }
            let pct = |u: &str| account_name(u, "%");
            for (r, to) in [
                (&e1, pct(&a)),
                (&e1, pct(&b)),
                (&e2, pct(&a)),
                (&e3, pct(&c)),
                (&e2, account_name(&a, "localhost")),
                (&e1, quote_ident(&group)),
                (&group, pct(&c)),
            ] {
                exec(&mut admin, &format!("GRANT {} TO {to}", quote_ident(r))).await;
            }
            let (conn, _) = ctx.connector(&[&e1, &e2]);
            let h =
                |account: &str, entitlement: &str| Holding { account: account.into(), entitlement: entitlement.into() };
            // Not the other host's account, not the role granted to a role, not root's admin grants.
            let mut want = vec![h(&a, &e1), h(&b, &e1), h(&a, &e2)];
            want.sort();
            assert_eq!(conn.list(&[e1.clone(), e2.clone()]).await.expect("list"), Some(want));
            assert_eq!(conn.list(std::slice::from_ref(&e3)).await.expect("list"), Some(vec![h(&c, &e3)]));
            assert_eq!(conn.list(&[]).await.expect("list"), Some(vec![]));
            assert_eq!(conn.list(&[ctx.name("none")]).await.expect("list"), Some(vec![]));
            let local = connector_at("local", &ctx.url, None, "localhost", false, &[&e2]);
            assert_eq!(local.list(std::slice::from_ref(&e2)).await.expect("list"), Some(vec![h(&a, &e2)]));
        })
        .await;
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_without_the_password() {
        let password = "Sup3r-Secret-Pw-7f3a";
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let url = format!("mysql://pim_connector@127.0.0.1:{port}/test");
        let o = options("down", &url, Some(password), "%", false, &["reader"]);
        assert!(!format!("{o:?}").contains(password), "the options' Debug hides the password");
        let conn = connector_at("down", &url, Some(password), "%", false, &["reader"]);
        assert!(!format!("{conn:?}").contains(password), "the connector's Debug hides it");

        let started = Instant::now();
        let e = conn.grant(&grant_op("down", "alice", "reader")).await.expect_err("nothing listens");
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
        let in_url = format!("mysql://pim:{password}@127.0.0.1:{port}/test");
        let conn = connector_at("down", &in_url, None, "%", false, &["reader"]);
        let e = conn.grant(&grant_op("down", "alice", "reader")).await.expect_err("nothing listens");
        assert!(!e.message.contains(password), "{}", e.message);
        for bad in [format!("mysql://pim:{password}@127.0.0.1:notaport/test"), format!("postgres://pim:{password}@x/y")]
        {
            let o = options("bad", &bad, Some(password), "%", false, &["reader"]);
            let ConnectorKind::MariaDb(m) = &o.kind else { unreachable!() };
            let e = MariaDbConnector::new(&o, m).expect_err("not a MariaDB URL");
            assert!(e.contains("not valid") && !e.contains(password), "{e}");
        }
    }

    #[tokio::test]
    async fn a_wrong_password_is_not_in_the_message() {
        let Some(url) = admin_url() else { return };
        let admin = MySqlConnectOptions::from_str(&url).expect("the URL");
        let password = "Wr0ng-Secret-Pw-9c1d";
        let url =
            format!("mysql://pimt_nobody_{:08x}@{}:{}/", rand::random::<u32>(), admin.get_host(), admin.get_port());
        let conn = connector_at("wrong", &url, Some(password), "%", false, &["reader"]);
        let e = conn.list(&["reader".into()]).await.expect_err("access denied");
        assert!(e.message.contains("Access denied") || e.message.contains("no connection"), "{}", e.message);
        assert!(!e.message.contains(password), "{}", e.message);
    }
}
