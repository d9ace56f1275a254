//! The connector worker: claims due work rows with a lease, brings each principal's access in the
//! target in line with what is in effect now (grant what is missing, revoke what ended), records
//! every attempt with its audit event, and reschedules the row at the principal's next transition
//! or, after a failure, with backoff (revokes for ever). A group's row is expanded into its members'.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use pim_domain::{
    AssignmentId, AuditDraft, ConnectorGrant, ConnectorWork, Principal, PrincipalId, PrincipalKind, ProvisionState,
    RoleId, ScopePath, Timestamp,
};
use pim_store::q;

use super::{ConnectorHandle, GrantOp, RevokeOp};
use crate::engine::Engine;
use crate::error::Result;

/// How long a claim holds: longer than one principal's calls can take (each call has its own timeout).
pub const LEASE_MS: i64 = 30_000;
/// Delay after the first failed attempt; it doubles after each further one, up to the connector's
/// `retry_max`.
pub const FIRST_RETRY_MS: i64 = 1_000;
/// Rows claimed per batch.
const BATCH: i64 = 100;
/// Principals synced at once.
const PARALLEL: usize = 8;
/// Batches per run, so one run ends and the loop can look at the clock again.
const MAX_BATCHES_PER_RUN: usize = 200;
/// The longest the loop sleeps without looking at the queue (rows other replicas wrote).
const POLL: Duration = Duration::from_millis(250);

/// The delay before the next attempt after `failed` failed attempts: 1 s, 2 s, 4 s, ..., at most `max_ms`.
pub fn backoff_ms(failed: i64, max_ms: i64) -> i64 {
    let doublings = u32::try_from((failed.max(1) - 1).min(30)).unwrap_or(30);
    FIRST_RETRY_MS.saturating_mul(1_i64 << doublings).min(max_ms.max(FIRST_RETRY_MS))
}

/// What one run of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectorReport {
    /// Work rows taken (a group's counts once, its members each).
    pub synced: usize,
    /// Entitlements granted.
    pub granted: usize,
    /// Entitlements revoked.
    pub revoked: usize,
    /// Calls that failed (to be retried, or given up for grants after their attempts).
    pub failed: usize,
}

impl ConnectorReport {
    fn add(&mut self, o: ConnectorReport) {
        self.synced += o.synced;
        self.granted += o.granted;
        self.revoked += o.revoked;
        self.failed += o.failed;
    }
}

/// What a principal should hold of one entitlement: the grant that justifies it (the one ending last).
#[derive(Clone, Debug)]
pub(super) struct Want {
    ends_at: Option<Timestamp>,
    pub(super) assignment_id: AssignmentId,
    role_id: RoleId,
    role_name: String,
    scope: ScopePath,
}

/// One claimed row after its target calls, before it is recorded.
enum Synced {
    /// Its connector is not configured (any more): the row waits.
    Unconfigured(ConnectorWork),
    /// A group: its members' rows are made due.
    Group { w: ConnectorWork, members: Vec<PrincipalId> },
    /// A user or service principal, and what each call did.
    Principal { w: ConnectorWork, handle: ConnectorHandle, outcomes: Vec<Outcome> },
}

/// One call's outcome, recorded after the calls.
enum Outcome {
    Granted { grant: ConnectorGrant, credential: Option<String>, role_id: RoleId, scope: ScopePath },
    GrantFailed { grant: ConnectorGrant, role_id: Option<RoleId>, scope: Option<ScopePath> },
    Revoked { grant: ConnectorGrant },
    RevokeFailed { grant: ConnectorGrant },
}

impl Engine {
    /// One run: claims every due row (in batches) and syncs each. Returns what it did.
    pub async fn run_connectors_once(&self) -> Result<ConnectorReport> {
        let mut report = ConnectorReport::default();
        if self.connectors.is_empty() {
            return Ok(report);
        }
        self.reconcile_if_due().await?;
        for _ in 0..MAX_BATCHES_PER_RUN {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let claimed =
                q::claim_connector_work(tx.conn(), &self.connectors.names, now, Timestamp(now.0 + LEASE_MS), BATCH)
                    .await?;
            tx.commit().await?;
            if claimed.is_empty() {
                break;
            }
            // The index must be at least as new as the changes that made these rows due.
            self.follow_changes().await?;
            let synced: Vec<Result<Synced>> = futures_util::stream::iter(claimed)
                .map(|w| self.sync_row(w))
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            let mut done = Vec::with_capacity(synced.len());
            for r in synced {
                match r {
                    Ok(s) => done.push(s),
                    // Its lease lapses and the row is taken again.
                    Err(e) => tracing::warn!(error = %e, "a connector sync failed; retrying after its lease"),
                }
            }
            report.add(self.record_batch(done).await?);
        }
        self.report_connector_health(report.failed > 0).await?;
        Ok(report)
    }

    /// Runs the worker until the task is aborted: after each run it sleeps until the earliest due
    /// row (at most [`POLL`], so rows written by other replicas are seen), or until a local commit
    /// wrote work.
    pub fn spawn_connector_worker(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.connectors.is_empty() {
            return None;
        }
        let engine = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let wait = match engine.run_connectors_once().await {
                    Ok(_) => engine.until_next_due().await.unwrap_or(POLL),
                    Err(e) => {
                        tracing::warn!(error = %e, "the connector worker failed; retrying");
                        Duration::from_secs(1)
                    }
                };
                if !wait.is_zero() {
                    let _ = tokio::time::timeout(wait, engine.connectors.wake.notified()).await;
                }
            }
        }))
    }

    /// How long until the earliest due row (zero when one is due, at most [`POLL`]).
    async fn until_next_due(&self) -> Result<Duration> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let next = q::next_connector_due(&mut c, &self.connectors.names, now).await?;
        Ok(match next {
            Some(t) if t.0 <= now.0 => Duration::ZERO,
            Some(t) => Duration::from_millis(u64::try_from(t.0 - now.0).unwrap_or(0)).min(POLL),
            None => POLL,
        })
    }

    /// Syncs one claimed row: the target calls, not yet recorded.
    async fn sync_row(&self, w: ConnectorWork) -> Result<Synced> {
        let Some(handle) = self.connectors.get(&w.connector).cloned() else {
            // A connector no longer configured: its rows wait until it is again.
            return Ok(Synced::Unconfigured(w));
        };
        let principal = {
            let mut c = self.store.read().await?;
            q::get_principal(&mut c, w.principal_id).await?
        };
        if let Some(g) = principal.as_ref().filter(|p| p.kind == PrincipalKind::Group) {
            let members = self.members_of(g.id).await?;
            return Ok(Synced::Group { w, members });
        }
        let outcomes = self.sync_principal(&handle, &w, principal.as_ref()).await?;
        Ok(Synced::Principal { w, handle, outcomes })
    }

    /// A group's members to bring in line: static members, nested, and those of just-in-time
    /// memberships in effect.
    async fn members_of(&self, group: PrincipalId) -> Result<Vec<PrincipalId>> {
        let now = self.now();
        let mut members = self.index.members(group, now);
        let mut c = self.store.read().await?;
        let mut todo = vec![group];
        let mut seen = vec![group];
        while let Some(g) = todo.pop() {
            for m in q::list_members(&mut c, g).await? {
                if !seen.contains(&m) {
                    seen.push(m);
                    todo.push(m);
                    members.push(m);
                }
            }
        }
        members.retain(|m| *m != group);
        members.sort();
        members.dedup();
        Ok(members)
    }

    /// What `principal` should hold in the connector's target now, by entitlement.
    pub(super) fn desired(
        &self,
        handle: &ConnectorHandle,
        principal: PrincipalId,
        now: Timestamp,
    ) -> BTreeMap<String, Want> {
        let mut out: BTreeMap<String, Want> = BTreeMap::new();
        for g in self.index.effective(principal, now) {
            let Some(role_name) = self.index.role_name(g.role_id) else { continue };
            for m in handle.options.mappings.iter().filter(|m| m.covers(&role_name, &g.scope)) {
                let Ok(scope) = ScopePath::parse(&g.scope) else { continue };
                let want = Want {
                    ends_at: g.ends_at,
                    assignment_id: g.assignment_id,
                    role_id: g.role_id,
                    role_name: role_name.to_string(),
                    scope,
                };
                let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(x), Some(y)) => y > x,
                };
                match out.get(&m.entitlement) {
                    Some(have) if !later(have.ends_at, want.ends_at) => {}
                    _ => {
                        out.insert(m.entitlement.clone(), want);
                    }
                }
            }
        }
        out
    }

    /// Brings one user's or service principal's access in the target in line; returns what each
    /// call did, for [`Engine::record_batch`].
    async fn sync_principal(
        &self,
        handle: &ConnectorHandle,
        w: &ConnectorWork,
        principal: Option<&Principal>,
    ) -> Result<Vec<Outcome>> {
        let o = &handle.options;
        let now = self.now();
        let desired = self.desired(handle, w.principal_id, now);
        let recorded = {
            let mut c = self.store.read().await?;
            let f = q::GrantFilter {
                connector: Some(o.name.clone()),
                principal: Some(w.principal_id),
                ..Default::default()
            };
            q::list_connector_grants(&mut c, &f).await?
        };
        let name = principal.map_or_else(|| w.principal_id.to_string(), |p| p.name.clone());
        let account = match principal {
            Some(p) => o.login_attribute.account_of(p),
            None => Err(format!("principal {} no longer exists", w.principal_id)),
        };
        let mut outcomes = Vec::new();

        // Revoke first: what is no longer justified, and what an account that changed its name holds.
        for r in recorded.iter().filter(|r| r.state.may_be_held()) {
            let keep = desired.contains_key(&r.entitlement) && account.as_deref() == Ok(r.account.as_str());
            if keep {
                continue;
            }
            let op = RevokeOp {
                connector: o.name.clone(),
                principal_id: w.principal_id,
                principal_name: name.clone(),
                account: r.account.clone(),
                entitlement: r.entitlement.clone(),
                terminate_sessions: o.terminates_sessions(&r.entitlement),
                assignment_id: r.assignment_id,
                idempotency_key: format!("revoke:{}:{}:{}:{}", o.name, w.principal_id, r.entitlement, r.updated_at.0),
            };
            let mut g = r.clone();
            g.updated_at = now;
            match handle.target.revoke(&op).await {
                Ok(()) => {
                    g.state = ProvisionState::Revoked;
                    g.attempts = 0;
                    g.last_error = None;
                    outcomes.push(Outcome::Revoked { grant: g });
                }
                Err(e) => {
                    g.state = ProvisionState::Revoking;
                    g.attempts += 1;
                    g.last_error = Some(e.message);
                    outcomes.push(Outcome::RevokeFailed { grant: g });
                }
            }
        }

        for (entitlement, want) in &desired {
            let prior = recorded.iter().find(|r| &r.entitlement == entitlement);
            let mut g = prior.cloned().unwrap_or_else(|| ConnectorGrant {
                connector: o.name.clone(),
                principal_id: w.principal_id,
                entitlement: entitlement.clone(),
                account: String::new(),
                state: ProvisionState::Pending,
                attempts: 0,
                last_error: None,
                ends_at: None,
                assignment_id: None,
                granted_at: None,
                updated_at: now,
            });
            let account = match &account {
                Ok(a) => a.clone(),
                Err(msg) => {
                    if g.state != ProvisionState::Failed || g.last_error.as_deref() != Some(msg.as_str()) {
                        g.state = ProvisionState::Failed;
                        g.attempts += 1;
                        g.last_error = Some(msg.clone());
                        g.updated_at = now;
                        outcomes.push(Outcome::GrantFailed {
                            grant: g,
                            role_id: Some(want.role_id),
                            scope: Some(want.scope.clone()),
                        });
                    }
                    continue;
                }
            };
            let current = g.state == ProvisionState::Granted
                && g.account == account
                && g.ends_at == want.ends_at
                && g.assignment_id == Some(want.assignment_id);
            if current || (g.state == ProvisionState::Failed && g.attempts >= o.max_grant_attempts && w.attempts > 0) {
                continue;
            }
            if g.state == ProvisionState::Failed {
                g.attempts = 0; // a new change or a reconciliation gives a failed grant new attempts
            }
            let op = GrantOp {
                connector: o.name.clone(),
                principal_id: w.principal_id,
                principal_name: name.clone(),
                account: account.clone(),
                entitlement: entitlement.clone(),
                ends_at: want.ends_at,
                assignment_id: want.assignment_id,
                role_id: want.role_id,
                role_name: want.role_name.clone(),
                scope: want.scope.clone(),
                idempotency_key: format!(
                    "grant:{}:{}:{}:{}",
                    o.name,
                    w.principal_id,
                    entitlement,
                    want.ends_at.map_or_else(|| "permanent".to_owned(), |t| t.0.to_string())
                ),
            };
            g.account = account;
            g.ends_at = want.ends_at;
            g.assignment_id = Some(want.assignment_id);
            g.updated_at = now;
            match handle.target.grant(&op).await {
                Ok(granted) => {
                    if g.state != ProvisionState::Granted {
                        g.granted_at = Some(now);
                    }
                    g.state = ProvisionState::Granted;
                    g.attempts = 0;
                    g.last_error = None;
                    outcomes.push(Outcome::Granted {
                        grant: g,
                        credential: granted.credential,
                        role_id: want.role_id,
                        scope: want.scope.clone(),
                    });
                }
                Err(e) => {
                    g.attempts += 1;
                    g.state = if g.attempts >= o.max_grant_attempts {
                        ProvisionState::Failed
                    } else {
                        ProvisionState::Pending
                    };
                    g.last_error = Some(e.message);
                    outcomes.push(Outcome::GrantFailed {
                        grant: g,
                        role_id: Some(want.role_id),
                        scope: Some(want.scope.clone()),
                    });
                }
            }
        }
        Ok(outcomes)
    }

    /// Writes what a batch did (grant records, audit events, credentials) and reschedules its
    /// rows, in one transaction; wakes the worker when a group's members were made due.
    async fn record_batch(&self, batch: Vec<Synced>) -> Result<ConnectorReport> {
        let mut report = ConnectorReport::default();
        if batch.is_empty() {
            return Ok(report);
        }
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let mut expanded = false;
        for s in batch {
            report.synced += 1;
            match s {
                Synced::Unconfigured(w) => {
                    q::finish_connector_work(tx.conn(), &w, Some(Timestamp(now.0 + LEASE_MS)), w.attempts, None)
                        .await?;
                }
                Synced::Group { w, members } => {
                    for m in &members {
                        q::enqueue_connector_work(tx.conn(), &w.connector, *m, now).await?;
                    }
                    expanded |= !members.is_empty();
                    q::finish_connector_work(tx.conn(), &w, None, 0, None).await?;
                }
                Synced::Principal { w, handle, outcomes } => {
                    report.add(self.record_principal(&mut tx, now, &handle, &w, outcomes).await?);
                }
            }
        }
        tx.commit().await?;
        if expanded {
            self.connectors.wake.notify_one();
        }
        Ok(report)
    }

    /// Writes one principal's outcomes in the batch's transaction and reschedules its row.
    async fn record_principal(
        &self,
        tx: &mut pim_store::WriteTx,
        now: Timestamp,
        handle: &ConnectorHandle,
        w: &ConnectorWork,
        outcomes: Vec<Outcome>,
    ) -> Result<ConnectorReport> {
        let o = &handle.options;
        let mut report = ConnectorReport::default();
        let mut retry = false;
        let mut first_error: Option<String> = None;
        for outcome in outcomes {
            let (g, action, role_id, scope, failed) = match &outcome {
                Outcome::Granted { grant, role_id, scope, .. } => {
                    report.granted += 1;
                    (grant, "connector.granted", Some(*role_id), Some(scope.clone()), false)
                }
                Outcome::GrantFailed { grant, role_id, scope } => {
                    report.failed += 1;
                    retry |= grant.state == ProvisionState::Pending;
                    (grant, "connector.grant_failed", *role_id, scope.clone(), true)
                }
                Outcome::Revoked { grant } => {
                    report.revoked += 1;
                    (grant, "connector.revoked", None, None, false)
                }
                Outcome::RevokeFailed { grant } => {
                    report.failed += 1;
                    retry = true;
                    (grant, "connector.revoke_failed", None, None, true)
                }
            };
            if failed && first_error.is_none() {
                first_error.clone_from(&g.last_error);
            }
            q::put_connector_grant(tx.conn(), g).await?;
            if let Outcome::Granted { credential: Some(secret), .. } = &outcome {
                let sealed = self
                    .secrets
                    .seal(secret.as_bytes(), &credential_context(&o.name, g.principal_id))
                    .map_err(|e| crate::error::EngineError::Internal(format!("sealing a credential: {e}")))?;
                q::put_connector_credential(tx.conn(), &o.name, g.principal_id, &g.account, &sealed, now, g.ends_at)
                    .await?;
            }
            if let Outcome::Revoked { .. } = &outcome
                && matches!(o.kind, super::ConnectorKind::Postgres(ref p) if p.managed_logins)
            {
                q::drop_connector_credential(tx.conn(), &o.name, g.principal_id).await?;
            }
            let draft = AuditDraft {
                action: action.into(),
                principal_id: Some(g.principal_id),
                role_id,
                scope,
                error_code: failed.then(|| "connector_failed".to_owned()),
                details: serde_json::json!({
                    "connector": o.name,
                    "entitlement": g.entitlement,
                    "account": g.account,
                    "assignmentId": g.assignment_id,
                    "endsAt": g.ends_at,
                    "attempt": if failed { g.attempts } else { g.attempts + 1 },
                    "error": g.last_error,
                }),
                ..AuditDraft::default()
            };
            tx.audit(now, draft).await?;
        }
        if retry {
            let attempts = w.attempts + 1;
            let next = Timestamp(now.0 + backoff_ms(attempts, o.retry_max_ms));
            q::finish_connector_work(tx.conn(), w, Some(next), attempts, first_error.as_deref()).await?;
        } else {
            let next = self.index.next_transition(w.principal_id, now);
            q::finish_connector_work(tx.conn(), w, next, 0, None).await?;
        }
        Ok(report)
    }

    /// Raises, updates or resolves each connector's *connector failing* alert, when something
    /// failed in this run or a connector was failing before.
    async fn report_connector_health(&self, failed_now: bool) -> Result<()> {
        if !failed_now && !self.connector_failing.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let Some(threshold) = self.connector_failing_threshold().await? else { return Ok(()) };
        let mut any = false;
        for h in self.connectors.all() {
            let rows = {
                let mut c = self.store.read().await?;
                q::failing_connector_work(&mut c, &h.options.name, threshold).await?
            };
            any |= !rows.is_empty();
            let items = rows
                .into_iter()
                .map(|w| pim_domain::alert::AlertItem {
                    principal_id: Some(w.principal_id),
                    role_id: None,
                    scope: None,
                    assignment_id: None,
                    detail: format!(
                        "{} failed {} in a row: {}",
                        self.index.principal(w.principal_id).map_or_else(|| w.principal_id.to_string(), |p| p.name),
                        pim_domain::message::count(w.attempts, "attempt", "attempts"),
                        w.last_error.unwrap_or_default()
                    ),
                })
                .collect();
            self.report_connector_failing(&h.options.name, items).await?;
        }
        self.connector_failing.store(any || failed_now, Ordering::SeqCst);
        Ok(())
    }
}

/// The sealing context of a managed login's password.
pub(crate) fn credential_context(connector: &str, principal: PrincipalId) -> String {
    format!("connector-credential:{connector}:{principal}")
}
