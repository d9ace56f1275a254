//! Reconciliation: compares what a target holds of the entitlements a connector manages with what
//! is in effect in pim, at start-up and every `reconcile_every`. What is missing is granted and what
//! pim granted that ended is revoked (both through the principals' work rows); what the target holds
//! that pim never granted raises *roles assigned outside pim*, and is revoked when the connector has
//! `revoke_unmanaged`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use pim_domain::alert::AlertItem;
use pim_domain::{AuditDraft, DomainError, PrincipalId, PrincipalKind, ProvisionState, ScopePath, Timestamp};
use pim_store::q;

use super::{ConnectorHandle, Holding, RevokeOp};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// Unmanaged holdings reported (and revoked) per reconciliation; the next one takes the rest.
const MAX_UNMANAGED: usize = 1_000;
/// A reconciliation whose listing failed is tried again after this long.
const RETRY_MS: i64 = 30_000;

/// What one reconciliation found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The connector.
    pub connector: String,
    /// Whether the target could list what it holds (a webhook without `list_url` cannot).
    pub listed: bool,
    /// What the target holds of the managed entitlements.
    pub holdings: usize,
    /// Principals whose access was out of line (missing grants, grants pim made that ended): their
    /// work rows were made due.
    pub repaired: usize,
    /// Holdings pim never granted.
    pub unmanaged: Vec<Holding>,
    /// Of those, revoked (`revoke_unmanaged`).
    pub revoked_unmanaged: usize,
    /// Why the target could not be listed, when it failed.
    pub error: Option<String>,
}

impl Engine {
    /// Reconciles every connector that has not been reconciled by this process yet, or whose
    /// `reconcile_every` has passed.
    pub(crate) async fn reconcile_if_due(&self) -> Result<()> {
        let now = self.now();
        for (i, h) in self.connectors.all().iter().enumerate() {
            let Some(last) = self.reconciled_at.get(i) else { continue };
            let at = last.load(Ordering::SeqCst);
            let every = h.options.reconcile_every_ms;
            let failed = self.reconcile_failed.get(i).is_some_and(|f| f.load(Ordering::SeqCst));
            if at == i64::MIN || (every > 0 && now.0 - at >= every) || (failed && now.0 - at >= RETRY_MS) {
                last.store(now.0, Ordering::SeqCst);
                let r = self.reconcile(h).await?;
                if let Some(e) = &r.error {
                    tracing::warn!(connector = %h.options.name, error = %e, "reconciliation could not list the target");
                }
                if let Some(f) = self.reconcile_failed.get(i) {
                    // Tried again soon, whatever the schedule (also when it only runs at start-up).
                    f.store(r.error.is_some(), Ordering::SeqCst);
                }
            }
        }
        Ok(())
    }

    /// Reconciles the connector named `name` now (for `pim connectors reconcile`). Needs
    /// `pim.assignments.write` at `/`.
    pub async fn reconcile_connector(&self, ctx: &Context, name: &str) -> Result<ReconcileReport> {
        let mut draft = self.draft(ctx, "connector.reconcile");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "connector": name });
        let h = self
            .audited(draft, async {
                self.authorize(ctx, pim_domain::actions::ASSIGNMENTS_WRITE, &ScopePath::root())?;
                self.connectors
                    .get(name)
                    .cloned()
                    .ok_or_else(|| EngineError::Refused(DomainError::not_found(format!("connector {name:?}"))))
            })
            .await?;
        self.reconcile(&h).await
    }

    async fn reconcile(&self, h: &ConnectorHandle) -> Result<ReconcileReport> {
        let o = &h.options;
        let mut report = ReconcileReport { connector: o.name.clone(), ..ReconcileReport::default() };
        let records = {
            let mut c = self.store.read().await?;
            let f = q::GrantFilter { connector: Some(o.name.clone()), ..Default::default() };
            q::list_connector_grants(&mut c, &f).await?
        };
        // What is mapped now, and what pim granted under a mapping since removed.
        let mut entitlements = o.entitlements();
        entitlements.extend(records.iter().filter(|g| g.state.may_be_held()).map(|g| g.entitlement.clone()));
        entitlements.sort();
        entitlements.dedup();
        let holdings = match h.target.list(&entitlements).await {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(report),
            Err(e) => {
                report.error = Some(e.message);
                return Ok(report);
            }
        };
        report.listed = true;
        report.holdings = holdings.len();
        self.follow_changes().await?;
        let now = self.now();
        let held: BTreeSet<(String, String)> =
            holdings.iter().map(|x| (x.account.clone(), x.entitlement.clone())).collect();

        // Every user and service principal: its account and what it should hold.
        let (by_account, desired) = self.accounts_and_desired(h, now).await?;
        let recorded: HashMap<(PrincipalId, &str), &pim_domain::ConnectorGrant> =
            records.iter().map(|g| ((g.principal_id, g.entitlement.as_str()), g)).collect();

        let mut due: BTreeSet<PrincipalId> = BTreeSet::new();
        let mut lost: Vec<pim_domain::ConnectorGrant> = Vec::new();
        // What pim granted that is no longer wanted (a removed mapping, pim down at the end): revoked.
        for g in records.iter().filter(|g| g.state.may_be_held() && !g.account.is_empty()) {
            if !desired.get(&g.principal_id).is_some_and(|(_, w)| w.contains(&g.entitlement)) {
                due.insert(g.principal_id);
            }
        }
        // Missing in the target: granted again (a grant given up stays so until a change).
        for (p, (account, wants)) in &desired {
            for e in wants {
                let given_up = recorded.get(&(*p, e.as_str())).is_some_and(|g| g.state == ProvisionState::Failed);
                if !given_up && !held.contains(&(account.clone(), e.clone())) {
                    due.insert(*p);
                    if let Some(g) = recorded.get(&(*p, e.as_str())).filter(|g| g.state == ProvisionState::Granted) {
                        let mut g = (*g).clone();
                        g.state = ProvisionState::Pending;
                        g.last_error = Some("missing in the target at reconciliation".into());
                        g.updated_at = now;
                        lost.push(g);
                    }
                }
            }
        }
        // Held in the target: justified, pim's own to revoke, or unmanaged.
        for x in &holdings {
            let owner = by_account.get(&x.account).copied();
            if let Some(p) = owner.filter(|p| desired.get(p).is_some_and(|(_, w)| w.contains(&x.entitlement))) {
                if recorded.get(&(p, x.entitlement.as_str())).is_none_or(|g| g.state != ProvisionState::Granted) {
                    due.insert(p);
                }
                continue;
            }
            let ours = records
                .iter()
                .find(|g| g.entitlement == x.entitlement && g.account == x.account && g.state.may_be_held());
            if let Some(g) = ours {
                due.insert(g.principal_id);
                continue;
            }
            if report.unmanaged.len() < MAX_UNMANAGED {
                report.unmanaged.push(x.clone());
            }
        }
        report.repaired = due.len();

        let mut tx = self.store.write(now).await?;
        for g in &lost {
            q::put_connector_grant(tx.conn(), g).await?;
        }
        for p in &due {
            q::enqueue_connector_work(tx.conn(), &o.name, *p, now).await?;
        }
        if !due.is_empty() || !report.unmanaged.is_empty() {
            let draft = AuditDraft {
                action: "connector.reconciled".into(),
                scope: Some(ScopePath::root()),
                details: serde_json::json!({
                    "connector": o.name, "holdings": report.holdings, "repaired": report.repaired,
                    "unmanaged": report.unmanaged.len(), "revokeUnmanaged": o.revoke_unmanaged,
                }),
                ..AuditDraft::default()
            };
            tx.audit(now, draft).await?;
        }
        tx.commit().await?;
        if !due.is_empty() {
            self.connectors.wake_all();
        }

        let items: Vec<AlertItem> = report
            .unmanaged
            .iter()
            .map(|x| AlertItem {
                principal_id: by_account.get(&x.account).copied(),
                role_id: None,
                scope: None,
                assignment_id: None,
                detail: format!("{} holds {} in {}", x.account, x.entitlement, o.name),
            })
            .collect();
        self.report_external_access(&o.name, items).await?;
        if o.revoke_unmanaged {
            for x in &report.unmanaged {
                let op = RevokeOp {
                    connector: o.name.clone(),
                    principal_id: by_account.get(&x.account).copied().unwrap_or(PrincipalId::SYSTEM),
                    principal_name: x.account.clone(),
                    account: x.account.clone(),
                    entitlement: x.entitlement.clone(),
                    terminate_sessions: o.terminates_sessions(&x.entitlement),
                    assignment_id: None,
                    idempotency_key: format!("revoke-unmanaged:{}:{}:{}:{}", o.name, x.account, x.entitlement, now.0),
                };
                let outcome = h.target.revoke(&op).await;
                if outcome.is_ok() {
                    report.revoked_unmanaged += 1;
                }
                let draft = AuditDraft {
                    action: "connector.unmanaged_revoked".into(),
                    principal_id: by_account.get(&x.account).copied(),
                    scope: Some(ScopePath::root()),
                    error_code: outcome.is_err().then(|| "connector_failed".to_owned()),
                    details: serde_json::json!({
                        "connector": o.name, "account": x.account, "entitlement": x.entitlement,
                        "error": outcome.err().map(|e| e.message),
                    }),
                    ..AuditDraft::default()
                };
                let mut tx = self.store.write(now).await?;
                tx.audit(now, draft).await?;
                tx.commit().await?;
            }
        }
        Ok(report)
    }

    /// Every enabled user's and service principal's account in the connector's target, and what
    /// each should hold there now (only those that should hold something).
    async fn accounts_and_desired(
        &self,
        h: &ConnectorHandle,
        now: Timestamp,
    ) -> Result<(HashMap<String, PrincipalId>, BTreeMap<PrincipalId, (String, BTreeSet<String>)>)> {
        let mut by_account = HashMap::new();
        let mut desired = BTreeMap::new();
        let mut c = self.store.read().await?;
        for p in q::all_principals(&mut c).await?.iter().filter(|p| p.kind != PrincipalKind::Group) {
            let Ok(account) = h.options.login_attribute.account_of(p) else { continue };
            by_account.insert(account.clone(), p.id);
            let wants: BTreeSet<String> = self.desired(h, p.id, now).into_keys().collect();
            if !wants.is_empty() {
                desired.insert(p.id, (account, wants));
            }
        }
        Ok((by_account, desired))
    }
}
