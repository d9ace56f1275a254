//! The connector worker: claims due work rows of one connector with a lease, plans what each
//! principal's access in the target needs (grant what is missing, revoke what ended), writes the
//! intended grants before calling the target (so a crash cannot leave an unrecorded grant), makes
//! the calls, then records every attempt with its audit event and reschedules the row at the
//! principal's next transition or, after a failure, with backoff (revokes for ever). A group's row
//! is expanded into its members'. Each connector has its own loop, so a slow target holds up no other.

use std::collections::{BTreeMap, HashSet};
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

/// How long a claim holds. A sync that outlives it is still safe: its finish finds the lease lost
/// and makes the row due again instead of rescheduling it.
pub const LEASE_MS: i64 = 60_000;
/// Delay after the first failed attempt; it doubles after each further one, up to the connector's
/// `retry_max`.
pub const FIRST_RETRY_MS: i64 = 1_000;
/// Rows claimed per batch (four rounds of [`PARALLEL`]: well within the lease).
const BATCH: i64 = 32;
/// Principals synced at once, per connector.
const PARALLEL: usize = 8;
/// Batches per run, so one run ends and the loop can look at the clock again.
const MAX_BATCHES_PER_RUN: usize = 400;
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
    /// Calls that failed (to be retried, or given up for grants after their attempts), and grants
    /// refused before any call (no account, an account another principal holds).
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

/// One claimed row, planned.
struct Plan {
    w: ConnectorWork,
    lease: Timestamp,
    /// The instant the plan was made for: the row is rescheduled at the next transition after it.
    at: Timestamp,
    kind: PlanKind,
}

enum PlanKind {
    /// A group: these principals' rows are made due.
    Group(Vec<PrincipalId>),
    /// A user or service principal: the calls to make, revokes first.
    Principal { steps: Vec<Step>, holds_nothing: bool, deferred: bool },
}

enum Step {
    Revoke {
        grant: ConnectorGrant,
        op: RevokeOp,
    },
    /// `grant` is the record as it will be once granted (state still the prior one).
    Grant {
        grant: ConnectorGrant,
        op: GrantOp,
        role_id: RoleId,
        scope: ScopePath,
    },
    /// Refused before any call (no account, or an account another principal holds).
    Refuse {
        grant: ConnectorGrant,
        role_id: RoleId,
        scope: ScopePath,
    },
}

/// One call's outcome, recorded after the calls.
enum Outcome {
    Granted { grant: ConnectorGrant, credential: Option<String>, role_id: RoleId, scope: ScopePath },
    GrantFailed { grant: ConnectorGrant, role_id: Option<RoleId>, scope: Option<ScopePath> },
    Revoked { grant: ConnectorGrant },
    RevokeFailed { grant: ConnectorGrant },
}

/// A planned row after its calls.
struct Done {
    plan: Plan,
    outcomes: Vec<Outcome>,
    /// A grant was held back until an earlier account's revoke is done (the row is retried soon).
    deferred: bool,
}

impl Engine {
    /// One run of every connector: reconciles those whose time has come, then takes every due row
    /// (in batches). Returns what it did.
    pub async fn run_connectors_once(&self) -> Result<ConnectorReport> {
        let mut report = ConnectorReport::default();
        if self.connectors.is_empty() {
            return Ok(report);
        }
        self.reconcile_if_due().await?;
        for h in self.connectors.all() {
            report.add(self.run_connector_once(h).await?);
        }
        self.report_connector_health(report.failed > 0).await?;
        Ok(report)
    }

    /// One run of one connector's queue.
    async fn run_connector_once(&self, h: &ConnectorHandle) -> Result<ConnectorReport> {
        let mut report = ConnectorReport::default();
        let names = [h.options.name.clone()];
        for _ in 0..MAX_BATCHES_PER_RUN {
            let now = self.now();
            let lease = Timestamp(now.0 + LEASE_MS);
            let mut tx = self.store.write(now).await?;
            let claimed = q::claim_connector_work(tx.conn(), &names, now, lease, BATCH).await?;
            tx.commit().await?;
            if claimed.is_empty() {
                break;
            }
            // The index must be at least as new as the changes that made these rows due.
            self.follow_changes().await?;
            let planned: Vec<Result<Plan>> = futures_util::stream::iter(claimed)
                .map(|w| self.plan_row(h, w, lease))
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            let mut plans = Vec::with_capacity(planned.len());
            for p in planned {
                match p {
                    Ok(p) => plans.push(p),
                    // Its lease lapses and the row is taken again.
                    Err(e) => tracing::warn!(error = %e, "planning a connector sync failed; retrying after its lease"),
                }
            }
            self.write_intents(&plans).await?;
            // The batch's revokes first, all in one call (a storm's ends go to the target together),
            // then each principal's grants.
            let revoked = revoke_all(h, &plans).await;
            let done: Vec<Done> = futures_util::stream::iter(plans.into_iter().zip(revoked))
                .map(|(p, r)| self.execute(h, p, r))
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            report.add(self.record_batch(h, done).await?);
        }
        Ok(report)
    }

    /// Runs every connector's loop, and reconciliation beside them, until the tasks are aborted:
    /// after each run a loop sleeps until its connector's earliest due row (at most [`POLL`], so
    /// rows written by other replicas are seen), or until a local commit wrote work.
    pub fn spawn_connector_worker(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.connectors.is_empty() {
            return None;
        }
        let engine = self.clone();
        Some(tokio::spawn(async move {
            let loops = engine.connectors.all().iter().enumerate().map(|(i, h)| {
                let (engine, h) = (engine.clone(), h.clone());
                async move {
                    loop {
                        let wait = match engine.run_connector_once(&h).await {
                            Ok(r) => {
                                if let Err(e) = engine.report_connector_health(r.failed > 0).await {
                                    tracing::warn!(error = %e, "the connector health check failed");
                                }
                                engine.until_next_due(&h).await.unwrap_or(POLL)
                            }
                            Err(e) => {
                                tracing::warn!(connector = %h.options.name, error = %e, "the connector worker failed; retrying");
                                Duration::from_secs(1)
                            }
                        };
                        if !wait.is_zero()
                            && let Some(wake) = engine.connectors.wakes.get(i)
                        {
                            let _ = tokio::time::timeout(wait, wake.notified()).await;
                        }
                    }
                }
            });
            let reconcile = async {
                loop {
                    if let Err(e) = engine.reconcile_if_due().await {
                        tracing::warn!(error = %e, "reconciliation failed; retrying");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            tokio::join!(futures_util::future::join_all(loops), reconcile);
        }))
    }

    /// How long until the connector's earliest due row (zero when one is due, at most [`POLL`]).
    async fn until_next_due(&self, h: &ConnectorHandle) -> Result<Duration> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let next = q::next_connector_due(&mut c, std::slice::from_ref(&h.options.name), now).await?;
        Ok(match next {
            Some(t) if t.0 <= now.0 => Duration::ZERO,
            Some(t) => Duration::from_millis(u64::try_from(t.0 - now.0).unwrap_or(0)).min(POLL),
            None => POLL,
        })
    }

    /// Plans one claimed row (reads only).
    async fn plan_row(&self, h: &ConnectorHandle, w: ConnectorWork, lease: Timestamp) -> Result<Plan> {
        let at = self.now();
        let principal = {
            let mut c = self.store.read().await?;
            q::get_principal(&mut c, w.principal_id).await?
        };
        let kind = match principal.as_ref() {
            Some(g) if g.kind == PrincipalKind::Group => PlanKind::Group(self.members_of(h, g.id).await?),
            _ => self.plan_principal(h, &w, principal.as_ref(), at).await?,
        };
        Ok(Plan { w, lease, at, kind })
    }

    /// Whose access a change of `group` may alter: every principal reachable below it by any
    /// membership (static or just-in-time, enabled or not), and every principal whose grant in this
    /// target relies on one of the group's assignments.
    async fn members_of(&self, h: &ConnectorHandle, group: PrincipalId) -> Result<Vec<PrincipalId>> {
        let mut out: HashSet<PrincipalId> = self.index.reachable_members(group).into_iter().collect();
        let mut c = self.store.read().await?;
        let f = q::AssignmentFilter { principal: Some(group), ..Default::default() };
        let held: Vec<AssignmentId> = q::list_assignments(&mut c, &f).await?.into_iter().map(|a| a.id).collect();
        out.extend(q::principals_with_grants(&mut c, &h.options.name, Some(&held)).await?);
        out.remove(&group);
        let mut out: Vec<PrincipalId> = out.into_iter().collect();
        out.sort();
        Ok(out)
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

    /// Plans one user's or service principal's calls: revoke what is no longer justified (or held
    /// by an account it no longer has), grant what is missing.
    async fn plan_principal(
        &self,
        handle: &ConnectorHandle,
        w: &ConnectorWork,
        principal: Option<&Principal>,
        now: Timestamp,
    ) -> Result<PlanKind> {
        let o = &handle.options;
        let desired = self.desired(handle, w.principal_id, now);
        let mut c = self.store.read().await?;
        let f =
            q::GrantFilter { connector: Some(o.name.clone()), principal: Some(w.principal_id), ..Default::default() };
        let recorded = q::list_connector_grants(&mut c, &f).await?;
        let name = principal.map_or_else(|| w.principal_id.to_string(), |p| p.name.clone());
        let mut account = match principal {
            Some(p) => o.login_attribute.account_of(p),
            None => Err(format!("principal {} no longer exists", w.principal_id)),
        };
        if let Ok(a) = &account
            && !desired.is_empty()
        {
            let others = q::account_holders(&mut c, &o.name, a, w.principal_id).await?;
            if !others.is_empty() {
                account =
                    Err(format!("the account {a} in {} is already held through pim by another principal", o.name));
            }
        }
        drop(c);
        let mut steps = Vec::new();
        let mut deferred = false;
        for r in recorded.iter().filter(|r| r.state.may_be_held() && !r.account.is_empty()) {
            if desired.contains_key(&r.entitlement) && account.as_deref() == Ok(r.account.as_str()) {
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
                idempotency_key: format!(
                    "revoke:{}:{}:{}:{}:{}",
                    o.name, w.principal_id, r.entitlement, r.account, r.updated_at.0
                ),
            };
            steps.push(Step::Revoke { grant: r.clone(), op });
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
                        // Granted to no account (any earlier account's grant is revoked above).
                        g.state = ProvisionState::Failed;
                        g.account = String::new();
                        g.attempts += 1;
                        g.last_error = Some(msg.clone());
                        g.updated_at = now;
                        steps.push(Step::Refuse { grant: g, role_id: want.role_id, scope: want.scope.clone() });
                    }
                    continue;
                }
            };
            let current = g.state == ProvisionState::Granted
                && g.account == account
                && g.ends_at == want.ends_at
                && g.assignment_id == Some(want.assignment_id);
            let given_up = g.state == ProvisionState::Failed && g.attempts >= o.max_grant_attempts && w.attempts > 0;
            if current || given_up {
                continue;
            }
            if g.state.may_be_held() && !g.account.is_empty() && g.account != account {
                // The account changed: the old one's revoke (planned above) goes first; the grant to
                // the new one follows in the next sync, so the record never forgets the old one.
                deferred = true;
                continue;
            }
            if g.state == ProvisionState::Failed {
                g.attempts = 0; // a new change or a reconciliation gives a failed grant new attempts
            }
            // Unique per grant: a re-grant after a revoke, or to another account, is a new one.
            let epoch = prior.filter(|p| p.state == ProvisionState::Revoked).map_or(0, |p| p.updated_at.0);
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
                    "grant:{}:{}:{}:{}:{}:{epoch}",
                    o.name,
                    w.principal_id,
                    entitlement,
                    account,
                    want.ends_at.map_or_else(|| "permanent".to_owned(), |t| t.0.to_string())
                ),
            };
            if g.account != account {
                g.state = ProvisionState::Pending;
            }
            g.account = account;
            g.ends_at = want.ends_at;
            g.assignment_id = Some(want.assignment_id);
            g.updated_at = now;
            steps.push(Step::Grant { grant: g, op, role_id: want.role_id, scope: want.scope.clone() });
        }
        Ok(PlanKind::Principal { steps, holds_nothing: desired.is_empty(), deferred })
    }

    /// Records, before any call, every grant about to be made that pim does not yet record as
    /// granted to that account: if the process dies between the call and its record, the next
    /// sync finds the record and revokes what is no longer wanted.
    async fn write_intents(&self, plans: &[Plan]) -> Result<()> {
        let intents: Vec<&ConnectorGrant> = plans
            .iter()
            .filter_map(|p| match &p.kind {
                PlanKind::Principal { steps, .. } => Some(steps),
                PlanKind::Group(_) => None,
            })
            .flatten()
            .filter_map(|s| match s {
                Step::Grant { grant, .. } if grant.state != ProvisionState::Granted => Some(grant),
                _ => None,
            })
            .collect();
        if intents.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        for g in intents {
            q::put_connector_grant(tx.conn(), g).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes a plan's grants, after its revokes (made for the whole batch) ended with `revoked`.
    async fn execute(&self, handle: &ConnectorHandle, plan: Plan, revoked: Vec<RevokeResult>) -> Done {
        let o = &handle.options;
        let mut outcomes = Vec::new();
        let PlanKind::Principal { steps, deferred, .. } = &plan.kind else {
            return Done { plan, outcomes, deferred: false };
        };
        let deferred = *deferred;
        let now = self.now();
        let mut revoked = revoked.into_iter();
        for step in steps {
            match step {
                Step::Revoke { grant, .. } => {
                    let mut g = grant.clone();
                    g.updated_at = now;
                    let result = revoked.next().unwrap_or_else(|| Err(no_outcome()));
                    match result {
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
                Step::Refuse { grant, role_id, scope } => outcomes.push(Outcome::GrantFailed {
                    grant: grant.clone(),
                    role_id: Some(*role_id),
                    scope: Some(scope.clone()),
                }),
                Step::Grant { grant, op, role_id, scope } => {
                    let mut g = grant.clone();
                    match handle.target.grant(op).await {
                        Ok(granted) => {
                            if g.state != ProvisionState::Granted {
                                g.granted_at = Some(now);
                            }
                            g.state = ProvisionState::Granted;
                            g.attempts = 0;
                            g.last_error = None;
                            g.updated_at = now;
                            outcomes.push(Outcome::Granted {
                                grant: g,
                                credential: granted.credential,
                                role_id: *role_id,
                                scope: scope.clone(),
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
                            g.updated_at = now;
                            outcomes.push(Outcome::GrantFailed {
                                grant: g,
                                role_id: Some(*role_id),
                                scope: Some(scope.clone()),
                            });
                        }
                    }
                }
            }
        }
        Done { plan, outcomes, deferred }
    }

    /// Writes what a batch did (grant records, audit events, credentials) and reschedules its
    /// rows, in one transaction; wakes the worker when a group's members were made due.
    async fn record_batch(&self, handle: &ConnectorHandle, batch: Vec<Done>) -> Result<ConnectorReport> {
        let mut report = ConnectorReport::default();
        if batch.is_empty() {
            return Ok(report);
        }
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let mut expanded = false;
        for d in batch {
            report.synced += 1;
            let Plan { w, lease, at, kind } = d.plan;
            match kind {
                PlanKind::Group(members) => {
                    for m in &members {
                        q::enqueue_connector_work(tx.conn(), &w.connector, *m, now).await?;
                    }
                    expanded |= !members.is_empty();
                    if !q::finish_connector_work(tx.conn(), &w, lease, None, 0, None).await? {
                        q::enqueue_connector_work(tx.conn(), &w.connector, w.principal_id, now).await?;
                    }
                }
                PlanKind::Principal { holds_nothing, .. } => {
                    let r = self
                        .record_principal(&mut tx, now, handle, &w, lease, at, d.outcomes, d.deferred, holds_nothing)
                        .await?;
                    report.add(r);
                }
            }
        }
        tx.commit().await?;
        if expanded {
            self.connectors.wake_all();
        }
        Ok(report)
    }

    /// Writes one principal's outcomes in the batch's transaction and reschedules its row.
    #[allow(clippy::too_many_arguments)]
    async fn record_principal(
        &self,
        tx: &mut pim_store::WriteTx,
        now: Timestamp,
        handle: &ConnectorHandle,
        w: &ConnectorWork,
        lease: Timestamp,
        planned_at: Timestamp,
        outcomes: Vec<Outcome>,
        deferred: bool,
        holds_nothing: bool,
    ) -> Result<ConnectorReport> {
        let o = &handle.options;
        let mut report = ConnectorReport::default();
        let mut retry = deferred;
        let mut first_error: Option<String> = None;
        let mut revoked_all = holds_nothing;
        let called = !outcomes.is_empty();
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
                    revoked_all = false;
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
            if !failed {
                // What the connector did becomes activity of the activation it served.
                let verb =
                    if matches!(outcome, Outcome::Granted { .. }) { "connector.grant" } else { "connector.revoke" };
                let served = match g.assignment_id {
                    Some(id) => q::get_assignment(tx.conn(), id).await?,
                    None => None,
                };
                let event = crate::activity::connector_event(&o.name, verb, g, served.as_ref(), now);
                q::insert_activity(tx.conn(), &event).await?;
            }
        }
        if revoked_all {
            // Nothing is held any more: a password not taken yet must not be handed out.
            q::drop_connector_credential(tx.conn(), &o.name, w.principal_id).await?;
        }
        let (next, attempts, error) = if retry {
            let attempts = w.attempts + 1;
            (Some(Timestamp(now.0 + backoff_ms(attempts, o.retry_max_ms))), attempts, first_error)
        } else {
            // The next transition after the instant the plan was made for (an end between the plan
            // and now is due at once).
            (self.index.next_transition(w.principal_id, planned_at), 0, None)
        };
        let kept = q::finish_connector_work(tx.conn(), w, lease, next, attempts, error.as_deref()).await?;
        if !kept && called {
            // The lease lapsed and the row was taken (or removed) meanwhile: look again.
            q::enqueue_connector_work(tx.conn(), &o.name, w.principal_id, now).await?;
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

/// A revoke's outcome.
type RevokeResult = std::result::Result<(), super::ConnectorError>;

/// Makes every revoke the batch's plans hold in one [`super::Connector::revoke_many`] call;
/// answers each plan's outcomes, in the order of its steps.
async fn revoke_all(handle: &ConnectorHandle, plans: &[Plan]) -> Vec<Vec<RevokeResult>> {
    let ops_of = |p: &Plan| -> Vec<RevokeOp> {
        match &p.kind {
            PlanKind::Principal { steps, .. } => steps
                .iter()
                .filter_map(|s| match s {
                    Step::Revoke { op, .. } => Some(op.clone()),
                    _ => None,
                })
                .collect(),
            PlanKind::Group(_) => Vec::new(),
        }
    };
    let per_plan: Vec<Vec<RevokeOp>> = plans.iter().map(ops_of).collect();
    let ops: Vec<RevokeOp> = per_plan.iter().flatten().cloned().collect();
    let mut results = if ops.is_empty() { Vec::new() } else { handle.target.revoke_many(&ops).await }.into_iter();
    // A target that answers fewer outcomes than ops fails the rest (they are retried).
    per_plan
        .iter()
        .map(|ops| ops.iter().map(|_| results.next().unwrap_or_else(|| Err(no_outcome()))).collect())
        .collect()
}

/// The error of a revoke the target gave no outcome for.
fn no_outcome() -> super::ConnectorError {
    super::ConnectorError::new("the connector gave no outcome for this revoke")
}

/// The sealing context of a managed login's password.
pub(crate) fn credential_context(connector: &str, principal: PrincipalId) -> String {
    format!("connector-credential:{connector}:{principal}")
}
