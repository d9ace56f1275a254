//! Where access stands in each target: per connector (queue, failures, last reconciliation), per
//! assignment and per principal (pending, granted, revoking, revoked, failed), and the one-time
//! hand-out of a managed login's password.

use std::sync::atomic::Ordering;

use pim_domain::actions::ASSIGNMENTS_READ;
use pim_domain::{AssignmentId, ConnectorGrant, DomainError, PrincipalId, ProvisionState, ScopePath, Timestamp};
use pim_store::q;

use super::{ConnectorHandle, Mapping};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// A connector, its configuration (without secrets) and its queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorStatus {
    /// Its name.
    pub name: String,
    /// `postgres`, `webhook` or `custom`.
    pub kind: String,
    /// Which roles at which scopes give which entitlements.
    pub mappings: Vec<Mapping>,
    /// The attribute naming accounts in the target.
    pub login_attribute: String,
    /// Whether pim creates and drops the logins (PostgreSQL managed logins).
    pub managed_logins: bool,
    /// Whether holdings pim did not grant are revoked.
    pub revoke_unmanaged: bool,
    /// Milliseconds between reconciliations (`0`: at start-up only).
    pub reconcile_every_ms: i64,
    /// Work rows due now (principals whose access may be out of line).
    pub due: i64,
    /// How long the oldest due row has waited, in milliseconds.
    pub oldest_due_age_ms: Option<i64>,
    /// Principals whose last sync failed.
    pub failing: i64,
    /// Entitlements pim holds granted in the target.
    pub granted: i64,
    /// When this replica last reconciled it.
    pub reconciled_at: Option<Timestamp>,
}

/// Where one entitlement of one principal stands in one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioning {
    /// The connector.
    pub connector: String,
    /// The principal.
    pub principal_id: PrincipalId,
    /// The entitlement in the target.
    pub entitlement: String,
    /// The account in the target, once known.
    pub account: Option<String>,
    /// Where it stands.
    pub state: ProvisionState,
    /// Attempts since the last success.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// The assignment that justifies it (in effect), or that it relied on (ended).
    pub assignment_id: Option<AssignmentId>,
    /// When the record last changed.
    pub updated_at: Option<Timestamp>,
}

impl Provisioning {
    fn from_record(g: &ConnectorGrant) -> Provisioning {
        Provisioning {
            connector: g.connector.clone(),
            principal_id: g.principal_id,
            entitlement: g.entitlement.clone(),
            account: Some(g.account.clone()),
            state: g.state,
            attempts: g.attempts,
            last_error: g.last_error.clone(),
            assignment_id: g.assignment_id,
            updated_at: Some(g.updated_at),
        }
    }
}

/// A managed login's password, handed out once.
#[derive(Clone, PartialEq, Eq)]
pub struct TakenCredential {
    /// The connector.
    pub connector: String,
    /// The login.
    pub account: String,
    /// The password.
    pub password: String,
    /// When the login stops working (`VALID UNTIL`), `None`: with the access.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for TakenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TakenCredential")
            .field("connector", &self.connector)
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One connector's queue, for `/metrics` and `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueFigures {
    /// The connector.
    pub connector: String,
    /// Rows due now.
    pub due: i64,
    /// Age of the oldest due row, in milliseconds.
    pub oldest_due_age_ms: i64,
    /// Rows whose last sync failed.
    pub failing: i64,
}

impl Engine {
    /// Every connector with its queue. Needs `pim.assignments.read` at `/`.
    pub async fn connector_statuses(&self, ctx: &Context) -> Result<Vec<ConnectorStatus>> {
        self.authorize_read(ctx, ASSIGNMENTS_READ, &ScopePath::root()).await?;
        let now = self.now();
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        for (i, h) in self.connectors.all().iter().enumerate() {
            let o = &h.options;
            let (due, oldest, failing) = q::connector_queue(&mut c, &o.name, now).await?;
            let f = q::GrantFilter {
                connector: Some(o.name.clone()),
                states: vec![ProvisionState::Granted],
                ..Default::default()
            };
            let granted = i64::try_from(q::list_connector_grants(&mut c, &f).await?.len()).unwrap_or(i64::MAX);
            let reconciled = self.reconciled_at.get(i).map(|a| a.load(Ordering::SeqCst)).filter(|t| *t != i64::MIN);
            out.push(ConnectorStatus {
                name: o.name.clone(),
                kind: o.kind_name().to_owned(),
                mappings: o.mappings.clone(),
                login_attribute: o.login_attribute.as_str().to_owned(),
                managed_logins: matches!(&o.kind, super::ConnectorKind::Postgres(p) if p.managed_logins),
                revoke_unmanaged: o.revoke_unmanaged,
                reconcile_every_ms: o.reconcile_every_ms,
                due,
                oldest_due_age_ms: oldest.map(|t| (now.0 - t.0).max(0)),
                failing,
                granted,
                reconciled_at: reconciled.map(Timestamp),
            });
        }
        Ok(out)
    }

    /// The queues of every connector (no authorization: for the server's own `/metrics`).
    pub async fn connector_queues(&self) -> Result<Vec<QueueFigures>> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        for h in self.connectors.all() {
            let (due, oldest, failing) = q::connector_queue(&mut c, &h.options.name, now).await?;
            out.push(QueueFigures {
                connector: h.options.name.clone(),
                due,
                oldest_due_age_ms: oldest.map_or(0, |t| (now.0 - t.0).max(0)),
                failing,
            });
        }
        Ok(out)
    }

    /// Where a principal's access stands in every target (by id or name): what it should hold
    /// now (granted, or pending / failed with the last error), and what ended but is still being
    /// revoked. The caller's own, or anyone's with `pim.assignments.read` at `/` (checked before
    /// the name is looked up, so the answer tells nothing of who exists).
    pub async fn principal_provisioning(&self, ctx: &Context, id_or_name: &str) -> Result<Vec<Provisioning>> {
        let actor = self.actor(ctx)?;
        // Resolved first (an id, else a name), compared by id: a user named like another's id is
        // not "own". Others' need the permission before anything is said of who exists.
        let resolved = match id_or_name.parse::<PrincipalId>() {
            Ok(id) if self.index.principal(id).is_some() => Some(id),
            _ => self.index.resolve_name(id_or_name),
        };
        if resolved != Some(actor.id) {
            self.authorize_read(ctx, ASSIGNMENTS_READ, &ScopePath::root()).await?;
        }
        let principal = resolved
            .ok_or_else(|| EngineError::Refused(DomainError::not_found(format!("principal {id_or_name:?}"))))?;
        let now = self.now();
        let mut out = Vec::new();
        for h in self.connectors.all() {
            out.extend(self.provisioning_in(h, principal, now, |_| true).await?);
        }
        Ok(out)
    }

    /// Where the access given by one assignment stands in every target (for a user's or service
    /// principal's assignment; a group's members each have their own). Readable by whoever may
    /// read the assignment.
    pub async fn assignment_provisioning(&self, ctx: &Context, id: AssignmentId) -> Result<Vec<Provisioning>> {
        let a = self.get_assignment(ctx, id).await?;
        if a.principal_kind == pim_domain::PrincipalKind::Group {
            return Ok(Vec::new()); // each member's own provisioning says where it stands
        }
        let now = self.now();
        let Some(role) = self.index.role_name(a.role_id) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for h in self.connectors.all() {
            let covered =
                |e: &str| h.options.mappings.iter().any(|m| m.entitlement == e && m.covers(&role, a.scope.as_str()));
            let mut rows = self.provisioning_in(h, a.principal_id, now, covered).await?;
            if !a.in_effect(now) {
                // Ended: what it gave is revoked unless something else still justifies it.
                for p in rows.iter_mut().filter(|p| p.state == ProvisionState::Pending && p.account.is_none()) {
                    p.state = ProvisionState::Revoked;
                }
            }
            out.extend(rows);
        }
        Ok(out)
    }

    /// The entitlements of `principal` in `h`'s target that `keep` selects: desired ones from the
    /// index joined with the records, then recorded ones still held in the target.
    async fn provisioning_in(
        &self,
        h: &ConnectorHandle,
        principal: PrincipalId,
        now: Timestamp,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<Provisioning>> {
        let o = &h.options;
        let records = {
            let mut c = self.store.read().await?;
            let f =
                q::GrantFilter { connector: Some(o.name.clone()), principal: Some(principal), ..Default::default() };
            q::list_connector_grants(&mut c, &f).await?
        };
        let desired = self.desired(h, principal, now);
        let mut out = Vec::new();
        for (e, want) in desired.iter().filter(|(e, _)| keep(e)) {
            let rec = records.iter().find(|g| &g.entitlement == e);
            out.push(match rec {
                Some(g) if g.state != ProvisionState::Revoked => {
                    let mut p = Provisioning::from_record(g);
                    if g.state == ProvisionState::Revoking {
                        p.state = ProvisionState::Pending; // wanted again: the next sync grants it
                    }
                    p
                }
                _ => Provisioning {
                    connector: o.name.clone(),
                    principal_id: principal,
                    entitlement: e.clone(),
                    account: None,
                    state: ProvisionState::Pending,
                    attempts: 0,
                    last_error: None,
                    assignment_id: Some(want.assignment_id),
                    updated_at: None,
                },
            });
        }
        for g in records.iter().filter(|g| !desired.contains_key(&g.entitlement) && keep(&g.entitlement)) {
            let mut p = Provisioning::from_record(g);
            if g.state.may_be_held() {
                p.state = ProvisionState::Revoking;
            }
            out.push(p);
        }
        Ok(out)
    }

    /// The managed logins whose password waits for the caller to take it (with
    /// [`Engine::take_connector_credential`]): `(connector, login, expires_at)`, by connector,
    /// without the passwords; ones past their expiry are left out.
    pub async fn waiting_credentials(&self, ctx: &Context) -> Result<Vec<(String, String, Option<Timestamp>)>> {
        let actor = self.actor(ctx)?.id;
        if self.connectors.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut c = self.store.read().await?;
        let waiting = q::waiting_credentials(&mut c, actor).await?;
        Ok(waiting
            .into_iter()
            .filter(|(connector, _, expires)| {
                expires.is_none_or(|t| t > now) && self.connectors.get(connector).is_some()
            })
            .collect())
    }

    /// Hands the caller the password of the login `connector` created for it, once; audited
    /// (without the password).
    pub async fn take_connector_credential(&self, ctx: &Context, connector: &str) -> Result<TakenCredential> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let Some(h) = self.connectors.get(connector) else {
            return Err(EngineError::Refused(DomainError::not_found(format!("connector {connector:?}"))));
        };
        // Only while the access it belongs to is in effect, and not past its end.
        let holds = !self.desired(h, actor.id, now).is_empty();
        let mut tx = self.store.write(now).await?;
        let waiting = if holds { q::take_connector_credential(tx.conn(), connector, actor.id).await? } else { None };
        let Some((account, sealed, _, expires_at)) = waiting.filter(|w| w.3.is_none_or(|t| t > now)) else {
            return Err(EngineError::Refused(DomainError::not_found(format!(
                "a credential for {} in connector {connector:?} (none is waiting: it was taken, it expired, the access ended, or the login is not made yet)",
                actor.name
            ))));
        };
        let password = self
            .secrets
            .open(&sealed, &super::worker::credential_context(connector, actor.id))
            .map_err(|e| EngineError::Internal(format!("opening a credential: {e}")))?;
        let password =
            String::from_utf8(password).map_err(|_| EngineError::Internal("a credential is not text".into()))?;
        let mut d = self.draft(ctx, "connector.credential_taken");
        d.principal_id = Some(actor.id);
        d.details = serde_json::json!({ "connector": connector, "account": account });
        tx.audit(now, d).await?;
        tx.commit().await?;
        Ok(TakenCredential { connector: connector.to_owned(), account, password, expires_at })
    }
}
