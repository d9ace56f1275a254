//! What a connector is configured with (`[[connectors]]` of pim.toml): its target, which pim
//! roles at which scopes map to which entitlements there, and how it retries and reconciles.

use std::fmt;
use std::sync::Arc;

use pim_domain::time::MINUTE_MS;

const SECOND_MS: i64 = 1_000;
use pim_domain::{Principal, ScopePath};

use super::Connector;

/// One configured connector.
#[derive(Clone)]
pub struct ConnectorOptions {
    /// A unique name (`prod-db`): shown in statuses, alerts and the audit history.
    pub name: String,
    /// The target and how to reach it.
    pub kind: ConnectorKind,
    /// Which roles at which scopes give which entitlements.
    pub mappings: Vec<Mapping>,
    /// Which attribute of a pim user names its account in the target.
    pub login_attribute: LoginAttribute,
    /// Revoke what the target holds of the managed entitlements that pim did not grant.
    pub revoke_unmanaged: bool,
    /// How often reconciliation runs, in milliseconds (`0`: only at start-up).
    pub reconcile_every_ms: i64,
    /// The longest wait between two attempts, in milliseconds.
    pub retry_max_ms: i64,
    /// Attempts of a grant before it is marked failed (revokes are retried for ever).
    pub max_grant_attempts: i64,
}

impl ConnectorOptions {
    /// Options with the defaults: reconcile every 5 minutes, retries at most 30 s apart, 10
    /// attempts per grant, accounts named by the user name, nothing unmanaged revoked.
    pub fn new(name: &str, kind: ConnectorKind, mappings: Vec<Mapping>) -> ConnectorOptions {
        ConnectorOptions {
            name: name.to_owned(),
            kind,
            mappings,
            login_attribute: LoginAttribute::Name,
            revoke_unmanaged: false,
            reconcile_every_ms: 5 * MINUTE_MS,
            retry_max_ms: 30 * SECOND_MS,
            max_grant_attempts: 10,
        }
    }

    /// Refuses what cannot work, with a message naming the connector.
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let name_ok = !n.is_empty()
            && n.len() <= 64
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !name_ok {
            return Err(format!(
                "connector name '{}' must be 1 to 64 letters, digits, '-', '_' or '.'",
                n.chars().take(32).collect::<String>()
            ));
        }
        if self.mappings.is_empty() {
            return Err(format!("connector '{n}' needs at least one mapping"));
        }
        for m in &self.mappings {
            if m.role.trim().is_empty() {
                return Err(format!("connector '{n}': a mapping has no role"));
            }
            if m.entitlement.is_empty() || m.entitlement.len() > 256 || m.entitlement.contains('\0') {
                return Err(format!("connector '{n}': entitlement must be 1 to 256 characters, without NUL"));
            }
        }
        if self.retry_max_ms < SECOND_MS {
            return Err(format!("connector '{n}': retry_max must be at least 1 second"));
        }
        if self.max_grant_attempts < 1 {
            return Err(format!("connector '{n}': max_grant_attempts must be at least 1"));
        }
        if self.reconcile_every_ms != 0 && self.reconcile_every_ms < 10 * SECOND_MS {
            return Err(format!("connector '{n}': reconcile_every must be 0 or at least 10 seconds"));
        }
        Ok(())
    }

    /// The entitlements this connector manages, sorted, each once.
    pub fn entitlements(&self) -> Vec<String> {
        let mut out: Vec<String> = self.mappings.iter().map(|m| m.entitlement.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether the account's sessions end with this entitlement (any mapping to it says so).
    pub fn terminates_sessions(&self, entitlement: &str) -> bool {
        self.mappings.iter().any(|m| m.entitlement == entitlement && m.terminate_sessions)
    }

    /// The kind's name (`postgres`, `mariadb`, `webhook`, `custom`).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ConnectorKind::Postgres(_) => "postgres",
            ConnectorKind::MariaDb(_) => "mariadb",
            ConnectorKind::Webhook(_) => "webhook",
            ConnectorKind::Custom(_) => "custom",
        }
    }
}

impl fmt::Debug for ConnectorOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorOptions")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("mappings", &self.mappings)
            .field("login_attribute", &self.login_attribute)
            .field("revoke_unmanaged", &self.revoke_unmanaged)
            .field("reconcile_every_ms", &self.reconcile_every_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .field("max_grant_attempts", &self.max_grant_attempts)
            .finish()
    }
}

impl PartialEq for ConnectorOptions {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.kind == o.kind
            && self.mappings == o.mappings
            && self.login_attribute == o.login_attribute
            && self.revoke_unmanaged == o.revoke_unmanaged
            && self.reconcile_every_ms == o.reconcile_every_ms
            && self.retry_max_ms == o.retry_max_ms
            && self.max_grant_attempts == o.max_grant_attempts
    }
}

impl Eq for ConnectorOptions {}

impl PartialEq for ConnectorKind {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (ConnectorKind::Postgres(a), ConnectorKind::Postgres(b)) => a == b,
            (ConnectorKind::MariaDb(a), ConnectorKind::MariaDb(b)) => a == b,
            (ConnectorKind::Webhook(a), ConnectorKind::Webhook(b)) => a == b,
            (ConnectorKind::Custom(a), ConnectorKind::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for ConnectorKind {}

/// The target of a connector.
#[derive(Clone)]
pub enum ConnectorKind {
    /// A PostgreSQL server.
    Postgres(PostgresOptions),
    /// A MariaDB server.
    MariaDb(MariaDbOptions),
    /// A generic signed webhook.
    Webhook(WebhookTarget),
    /// A target provided by the program embedding pim.
    Custom(Arc<dyn Connector>),
}

impl fmt::Debug for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectorKind::Postgres(p) => f.debug_tuple("Postgres").field(p).finish(),
            ConnectorKind::MariaDb(m) => f.debug_tuple("MariaDb").field(m).finish(),
            ConnectorKind::Webhook(w) => f.debug_tuple("Webhook").field(w).finish(),
            ConnectorKind::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Role *role* at scope *scope* (or above it: an assignment at `/` covers `/databases/prod`)
/// gives *entitlement* in the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The pim role's name (case-insensitive).
    pub role: String,
    /// The scope the entitlement stands for.
    pub scope: ScopePath,
    /// The entitlement in the target.
    pub entitlement: String,
    /// End the account's sessions when the entitlement is revoked [default: true].
    pub terminate_sessions: bool,
}

impl Mapping {
    /// Whether an assignment of role `role_name` at `scope` gives this mapping's entitlement.
    pub fn covers(&self, role_name: &str, scope: &str) -> bool {
        if !self.role.eq_ignore_ascii_case(role_name) {
            return false;
        }
        let want = self.scope.as_str();
        scope == "/" || want == scope || (want.starts_with(scope) && want.as_bytes().get(scope.len()) == Some(&b'/'))
    }
}

/// Which attribute of a principal names its account in a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAttribute {
    /// The user name [default].
    Name,
    /// The email address.
    Email,
    /// The email address before the `@`.
    EmailLocalPart,
}

impl LoginAttribute {
    /// Parses `name`, `email` or `email_local_part`.
    pub fn parse(s: &str) -> Option<LoginAttribute> {
        match s {
            "name" => Some(LoginAttribute::Name),
            "email" => Some(LoginAttribute::Email),
            "email_local_part" => Some(LoginAttribute::EmailLocalPart),
            _ => None,
        }
    }

    /// The principal's account name in the target, or why it has none.
    pub fn account_of(self, p: &Principal) -> Result<String, String> {
        let v = match self {
            LoginAttribute::Name => Some(p.name.clone()),
            LoginAttribute::Email => p.email.clone(),
            LoginAttribute::EmailLocalPart => p.email.as_deref().and_then(|e| e.split('@').next()).map(str::to_owned),
        };
        match v {
            Some(v) if !v.is_empty() && !v.contains('\0') => Ok(v),
            _ => Err(format!("{} has no {} to name its account", p.name, self.as_str())),
        }
    }

    /// The configured name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginAttribute::Name => "name",
            LoginAttribute::Email => "email",
            LoginAttribute::EmailLocalPart => "email_local_part",
        }
    }
}

/// How pim reaches a PostgreSQL server and what it does there.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// A connection URL without the password (`postgres://pim_connector@db:5432/postgres`).
    pub url: String,
    /// The password (read from a file or the environment; never logged).
    pub password: Option<String>,
    /// Grant to existing logins, or create and drop logins.
    pub managed_logins: bool,
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("managed_logins", &self.managed_logins)
            .finish()
    }
}

/// How pim reaches a MariaDB server and what it does there.
#[derive(Clone, PartialEq, Eq)]
pub struct MariaDbOptions {
    /// A connection URL without the password (`mysql://pim_connector@db:3306/mysql`).
    pub url: String,
    /// The password (read from a file or the environment; never logged).
    pub password: Option<String>,
    /// The host part of every account pim grants to (`'user'@'host'`) [default: `%`].
    pub account_host: String,
    /// Create and drop logins: not supported for MariaDB (every grant fails with a message).
    pub managed_logins: bool,
}

impl MariaDbOptions {
    /// The host part used when none is configured.
    pub const DEFAULT_ACCOUNT_HOST: &'static str = "%";
}

impl fmt::Debug for MariaDbOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDbOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("account_host", &self.account_host)
            .field("managed_logins", &self.managed_logins)
            .finish()
    }
}

/// A generic webhook target: signed JSON calls per grant and revoke.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Where grants and revokes are POSTed.
    pub url: String,
    /// The HMAC-SHA256 signing key (`X-Pim-Signature`, as for notifications).
    pub secret: Option<String>,
    /// Where the current holdings can be read (GET), for reconciliation.
    pub list_url: Option<String>,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("list_url", &self.list_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(scope: &str) -> Mapping {
        Mapping {
            role: "Database Administrator".into(),
            scope: ScopePath::parse(scope).expect("scope"),
            entitlement: "prod_admin".into(),
            terminate_sessions: true,
        }
    }

    #[test]
    fn a_mapping_is_covered_by_its_role_at_its_scope_or_above() {
        let m = mapping("/databases/prod");
        assert!(m.covers("database administrator", "/databases/prod"));
        assert!(m.covers("Database Administrator", "/databases"));
        assert!(m.covers("Database Administrator", "/"));
        assert!(!m.covers("Database Administrator", "/databases/prod/eu"), "below is narrower");
        assert!(!m.covers("Database Administrator", "/databases/pro"), "a prefix is not a parent");
        assert!(!m.covers("Database Administrator", "/databases/prod2"));
        assert!(!m.covers("Reader", "/databases/prod"));
    }

    #[test]
    fn options_are_validated_with_the_connector_named() {
        let kind = ConnectorKind::Webhook(WebhookTarget { url: "https://x".into(), secret: None, list_url: None });
        let ok = ConnectorOptions::new("prod-db", kind.clone(), vec![mapping("/")]);
        assert_eq!(ok.validate(), Ok(()));
        let bad_name = ConnectorOptions::new("prod db", kind.clone(), vec![mapping("/")]);
        assert!(bad_name.validate().unwrap_err().contains("prod db"));
        let none = ConnectorOptions::new("x", kind.clone(), vec![]);
        assert!(none.validate().unwrap_err().contains("at least one mapping"));
        let mut slow = ConnectorOptions::new("x", kind, vec![mapping("/")]);
        slow.reconcile_every_ms = 1;
        assert!(slow.validate().unwrap_err().contains("reconcile_every"));
    }
}
