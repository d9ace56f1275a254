//! Connectors (SPEC section 12): pim grants and revokes the real access in target systems and
//! always converges. The model (docs/designs/connectors.md): every change that can start or end
//! access makes the principal's work row due in the same transaction (`enqueue`); the worker
//! (`worker`) brings the target in line with what is in effect now and reschedules the row at the
//! principal's next transition; reconciliation (`reconcile`) repairs drift; `status` says where each
//! grant stands. A target is one module implementing [`Connector`] (`postgres`, `mariadb`, `webhook`).

mod config;
#[cfg(feature = "mariadb")]
pub mod mariadb;
pub mod postgres;
mod reconcile;
mod status;
pub mod webhook;
mod worker;

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use pim_domain::{AssignmentId, PrincipalId, RoleId, ScopePath, Timestamp};
use pim_store::{WriteTx, q};

pub use config::{
    ConnectorKind, ConnectorOptions, LoginAttribute, Mapping, MariaDbOptions, PostgresOptions, WebhookTarget,
};
pub use reconcile::ReconcileReport;
pub use status::{ConnectorStatus, Provisioning, QueueFigures, TakenCredential};
pub use worker::{ConnectorReport, FIRST_RETRY_MS, LEASE_MS, backoff_ms};

use crate::engine::Engine;
use crate::error::Result;
use crate::follow::Change;

/// A grant to make in the target: `account` gets `entitlement` until `ends_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantOp {
    /// The connector's name.
    pub connector: String,
    /// The principal in pim.
    pub principal_id: PrincipalId,
    /// Its name in pim.
    pub principal_name: String,
    /// The account in the target (from the connector's login attribute).
    pub account: String,
    /// The entitlement in the target (a PostgreSQL role, ...).
    pub entitlement: String,
    /// The end of the access (`None`: permanent); a managed login is `VALID UNTIL` then.
    pub ends_at: Option<Timestamp>,
    /// The assignment that justifies it (the one ending last), its role and scope.
    pub assignment_id: AssignmentId,
    pub role_id: RoleId,
    pub role_name: String,
    pub scope: ScopePath,
    /// Unique per grant and end: a receiver that sees it twice does the work once.
    pub idempotency_key: String,
}

/// A revoke to make in the target: `account` loses `entitlement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeOp {
    /// The connector's name.
    pub connector: String,
    /// The principal in pim.
    pub principal_id: PrincipalId,
    /// Its name in pim (when still known).
    pub principal_name: String,
    /// The account in the target, as it was granted.
    pub account: String,
    /// The entitlement in the target.
    pub entitlement: String,
    /// End the account's open sessions in the target too (PostgreSQL: `pg_terminate_backend`).
    pub terminate_sessions: bool,
    /// The assignment the grant relied on, when known.
    pub assignment_id: Option<AssignmentId>,
    /// Unique per revoke: a receiver that sees it twice does the work once.
    pub idempotency_key: String,
}

/// What a successful grant hands back.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// A new secret for the user (a managed login's password), handed out once.
    pub credential: Option<String>,
}

impl fmt::Debug for Granted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Granted").field("credential", &self.credential.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// One entitlement an account holds in the target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Holding {
    /// The account (login).
    pub account: String,
    /// The entitlement.
    pub entitlement: String,
}

/// Why a call to the target failed. The message is shown to administrators and audited, so it
/// must never carry a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    /// What went wrong, for people.
    pub message: String,
}

impl ConnectorError {
    /// An error with `message` (clipped to 500 bytes).
    pub fn new(message: impl Into<String>) -> ConnectorError {
        ConnectorError { message: pim_domain::message::bounded(message.into()) }
    }
}

/// Calls to [`Connector::revoke`] the default [`Connector::revoke_many`] makes at once.
pub const REVOKES_AT_ONCE: usize = 8;

/// A target system. Every operation is idempotent: granting what is held and revoking what is
/// not held are successes. Implementations hold their own connections and never log secrets.
pub trait Connector: Send + Sync {
    /// Gives `op.account` `op.entitlement` (creating a managed login when the target does that).
    fn grant<'a>(&'a self, op: &'a GrantOp) -> BoxFuture<'a, std::result::Result<Granted, ConnectorError>>;
    /// Takes `op.entitlement` from `op.account` (ending its sessions when asked; dropping a
    /// managed login that holds nothing more).
    fn revoke<'a>(&'a self, op: &'a RevokeOp) -> BoxFuture<'a, std::result::Result<(), ConnectorError>>;
    /// Makes several revokes at once (an expiry storm ends many grants in the same second): one
    /// outcome per op, in the same order. The default makes [`REVOKES_AT_ONCE`] calls to
    /// [`Connector::revoke`] at a time; a target that can take many in one round trip overrides it.
    fn revoke_many<'a>(&'a self, ops: &'a [RevokeOp]) -> BoxFuture<'a, Vec<std::result::Result<(), ConnectorError>>> {
        Box::pin(futures_util::StreamExt::collect(futures_util::StreamExt::buffered(
            futures_util::stream::iter(ops.iter().map(|op| self.revoke(op))),
            REVOKES_AT_ONCE,
        )))
    }
    /// What the target holds of `entitlements`, for reconciliation; `None` when it cannot say.
    fn list<'a>(
        &'a self,
        entitlements: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<Option<Vec<Holding>>, ConnectorError>>;
}

/// A configured connector: its options and the target behind the trait.
#[derive(Clone)]
pub struct ConnectorHandle {
    /// The options it was built from.
    pub options: Arc<ConnectorOptions>,
    /// The target.
    pub target: Arc<dyn Connector>,
}

impl fmt::Debug for ConnectorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorHandle").field("name", &self.options.name).finish()
    }
}

/// Every configured connector, and the wake-up of each one's worker loop.
#[derive(Default)]
pub struct Connectors {
    pub(crate) list: Vec<ConnectorHandle>,
    pub(crate) names: Vec<String>,
    pub(crate) wakes: Vec<tokio::sync::Notify>,
}

impl fmt::Debug for Connectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connectors").field("names", &self.names).finish()
    }
}

impl Connectors {
    /// Builds the targets from their options (no connection is made yet).
    pub fn build(options: &[ConnectorOptions]) -> std::result::Result<Connectors, String> {
        let mut list = Vec::with_capacity(options.len());
        for o in options {
            o.validate()?;
            let target: Arc<dyn Connector> = match &o.kind {
                ConnectorKind::Postgres(p) => Arc::new(postgres::PostgresConnector::new(o, p)?),
                ConnectorKind::MariaDb(m) => mariadb_target(o, m)?,
                ConnectorKind::Webhook(w) => Arc::new(webhook::WebhookConnector::new(o, w)?),
                ConnectorKind::Custom(t) => Arc::clone(t),
            };
            list.push(ConnectorHandle { options: Arc::new(o.clone()), target });
        }
        let mut names: Vec<String> = list.iter().map(|c| c.options.name.clone()).collect();
        names.sort();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err("two connectors have the same name".into());
        }
        let wakes = list.iter().map(|_| tokio::sync::Notify::new()).collect();
        Ok(Connectors { list, names, wakes })
    }

    /// The connector named `name`.
    pub fn get(&self, name: &str) -> Option<&ConnectorHandle> {
        self.list.iter().find(|c| c.options.name == name)
    }

    /// Every connector.
    pub fn all(&self) -> &[ConnectorHandle] {
        &self.list
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Wakes every connector's worker loop (a permit is kept for a loop that is busy).
    pub(crate) fn wake_all(&self) {
        for w in &self.wakes {
            w.notify_one();
        }
    }
}

/// The MariaDB target, when this build has it.
#[cfg(feature = "mariadb")]
fn mariadb_target(o: &ConnectorOptions, m: &MariaDbOptions) -> std::result::Result<Arc<dyn Connector>, String> {
    Ok(Arc::new(mariadb::MariaDbConnector::new(o, m)?))
}

/// Without the `mariadb` feature, a MariaDB connector is refused at start-up with a clear message.
#[cfg(not(feature = "mariadb"))]
fn mariadb_target(o: &ConnectorOptions, _: &MariaDbOptions) -> std::result::Result<Arc<dyn Connector>, String> {
    Err(format!(
        "connector '{}': this pim was built without MariaDB support (build it with `--features mariadb`)",
        o.name
    ))
}

impl Engine {
    /// Records `changes` in the change feed and, when connectors are configured, makes the work
    /// row of every principal they concern due now, in the same transaction; the local worker is
    /// woken once it commits.
    pub(crate) async fn record_changes(&self, tx: &mut WriteTx, now: Timestamp, changes: &[Change]) -> Result<()> {
        crate::follow::record(tx, now, changes);
        if self.connectors.is_empty() {
            return Ok(());
        }
        let mut principals: Vec<PrincipalId> = changes.iter().filter_map(Change::principal).collect();
        // A role's change (a rename) can change what its holders map to.
        for ch in changes {
            if let Change::Role(role) = ch {
                let f = q::AssignmentFilter { role: Some(*role), not_ended_at: Some(now), ..Default::default() };
                principals.extend(q::list_assignments(tx.conn(), &f).await?.into_iter().map(|a| a.principal_id));
            }
        }
        principals.sort();
        principals.dedup();
        if principals.is_empty() {
            return Ok(());
        }
        for name in &self.connectors.names {
            for p in &principals {
                q::enqueue_connector_work(tx.conn(), name, *p, now).await?;
            }
        }
        let connectors = Arc::clone(&self.connectors);
        tx.after_commit(move || connectors.wake_all());
        Ok(())
    }

    /// The configured connectors.
    pub fn connectors(&self) -> &Connectors {
        &self.connectors
    }
}
