//! Security alerts (SPEC section 10; docs/ALERTS.md): the rules as configured, their evaluation on
//! a schedule and on demand (raise, update, resolve), dismissal, remediation, the emergency
//! access account sign-in alert and the entry point connectors feed with access pim did not grant.

use std::collections::{BTreeMap, HashMap, HashSet};

use pim_domain::actions::{ALERTS_READ, ALERTS_WRITE};
use pim_domain::alert::{
    Alert, AlertItem, AlertRule, AlertState, Facts, Finding, RULES, RuleConfig, Severity, evaluate, rule_def, rules,
};
use pim_domain::message::count;
use pim_domain::request::normalize_justification;
use pim_domain::{
    AlertId, AssignmentKind, AuditDraft, DomainError, Principal, PrincipalKind, RequestAction, RoleId, ScopePath,
    Timestamp, role,
};
use pim_store::{AnyConnection, WriteTx, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::notify::{Audience, Notice};
use crate::requests::RequestInput;
use crate::roles::settings_at;

/// A change to an alert rule (absent fields stay as they are).
#[derive(Clone, Debug, Default)]
pub struct RuleUpdate {
    /// New severity.
    pub severity: Option<Severity>,
    /// Turn the rule on or off.
    pub enabled: Option<bool>,
    /// Threshold changes by name.
    pub thresholds: BTreeMap<String, i64>,
}

/// What remediating an alert did.
#[derive(Clone, Debug, Default)]
pub struct Remediation {
    /// The alert after the fix (usually resolved by the re-evaluation).
    pub alert: Option<Alert>,
    /// One line per change made.
    pub changes: Vec<String>,
}

/// The facts of an evaluation, read before it (see [`Engine::evaluate_alerts_now`]).
struct AlertFacts {
    current: Vec<pim_domain::Assignment>,
    activations: Vec<pim_domain::Assignment>,
    users: Vec<Principal>,
    role_names: HashMap<RoleId, String>,
    mfa: Vec<(RoleId, ScopePath, bool)>,
}

pub(crate) async fn rules_now(c: &mut AnyConnection) -> Result<Vec<AlertRule>> {
    let configs: HashMap<String, RuleConfig> = q::list_alert_rule_configs(c).await?.into_iter().collect();
    Ok(RULES.iter().map(|d| d.configured(configs.get(d.id))).collect())
}

fn unknown_rule(id: &str) -> DomainError {
    let known: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    DomainError::not_found(format!("alert rule {id:?} (rules: {})", known.join(", ")))
}

impl Engine {
    /// The alert rules as configured (`pim.alerts.read` at `/`).
    pub async fn list_alert_rules(&self, ctx: &Context) -> Result<Vec<AlertRule>> {
        self.authorize_read(ctx, ALERTS_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        rules_now(&mut c).await
    }

    /// Changes a rule's severity, enabled flag or thresholds (`pim.alerts.write` at `/`).
    pub async fn update_alert_rule(&self, ctx: &Context, id: &str, update: RuleUpdate) -> Result<AlertRule> {
        let draft = self.alert_rule_draft(ctx, id, &update);
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let rule = self.update_alert_rule_in(&mut tx, ctx, &draft, now, id, &update).await?;
            tx.commit().await?;
            Ok(rule)
        })
        .await
    }

    /// The audit event of a rule's change.
    pub(crate) fn alert_rule_draft(&self, ctx: &Context, id: &str, update: &RuleUpdate) -> pim_domain::AuditDraft {
        let mut draft = self.draft(ctx, "alertRule.update");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({
            "ruleId": id, "severity": update.severity, "enabled": update.enabled, "thresholds": update.thresholds,
        });
        draft
    }

    /// [`Engine::update_alert_rule`] inside `tx`, audited with `draft`; the caller commits.
    pub(crate) async fn update_alert_rule_in(
        &self,
        tx: &mut pim_store::WriteTx,
        ctx: &Context,
        draft: &pim_domain::AuditDraft,
        now: Timestamp,
        id: &str,
        update: &RuleUpdate,
    ) -> Result<AlertRule> {
        self.authorize(ctx, ALERTS_WRITE, &ScopePath::root())?;
        let def = rule_def(id).ok_or_else(|| unknown_rule(id))?;
        def.check_thresholds(&update.thresholds)?;
        let mut config: RuleConfig = q::list_alert_rule_configs(tx.conn())
            .await?
            .into_iter()
            .find(|(k, _)| k == id)
            .map(|(_, c)| c)
            .unwrap_or_default();
        if update.severity.is_some() {
            config.severity = update.severity;
        }
        if update.enabled.is_some() {
            config.enabled = update.enabled;
        }
        config.thresholds.extend(update.thresholds.clone());
        q::put_alert_rule_config(tx.conn(), id, &config, now).await?;
        tx.audit(now, draft.clone()).await?;
        Ok(def.configured(Some(&config)))
    }

    /// Alerts, newest first, optionally in one state (`pim.alerts.read` at `/`).
    pub async fn list_alerts(&self, ctx: &Context, state: Option<AlertState>) -> Result<Vec<Alert>> {
        self.authorize_read(ctx, ALERTS_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::list_alerts(&mut c, state).await?)
    }

    /// One alert (`pim.alerts.read` at `/`).
    pub async fn get_alert(&self, ctx: &Context, id: AlertId) -> Result<Alert> {
        self.authorize_read(ctx, ALERTS_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::get_alert(&mut c, id).await?.ok_or_else(|| DomainError::not_found(format!("alert {id}")))?)
    }

    /// Dismisses an active alert with a reason (`pim.alerts.write` at `/`). It stays dismissed while
    /// it still applies, and is resolved when it stops applying.
    pub async fn dismiss_alert(&self, ctx: &Context, id: AlertId, reason: Option<String>) -> Result<Alert> {
        let mut draft = self.draft(ctx, "alert.dismissed");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "alertId": id });
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            self.authorize(ctx, ALERTS_WRITE, &ScopePath::root())?;
            let reason = normalize_justification(reason.as_deref())?
                .ok_or_else(|| DomainError::invalid("a reason is required to dismiss an alert"))?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut alert =
                q::get_alert(tx.conn(), id).await?.ok_or_else(|| DomainError::not_found(format!("alert {id}")))?;
            if alert.state != AlertState::Active {
                return refuse(
                    pim_domain::ErrorKind::AlertNotActive,
                    format!("alert {id} is {}; only an active alert can be dismissed", alert.state.as_str()),
                );
            }
            alert.state = AlertState::Dismissed;
            alert.dismissed_by = Some(actor.id);
            alert.dismissed_at = Some(now);
            alert.dismiss_reason = Some(reason.clone());
            alert.updated_at = now;
            q::put_alert(tx.conn(), &alert).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "alertId": id, "ruleId": alert.rule_id, "reason": reason });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(alert)
        })
        .await
    }

    /// Evaluates every rule now (`pim.alerts.write` at `/`; a refusal is audited as `alert.evaluate`);
    /// returns the active alerts.
    pub async fn evaluate_alerts(&self, ctx: &Context) -> Result<Vec<Alert>> {
        let mut draft = self.draft(ctx, "alert.evaluate");
        draft.scope = Some(ScopePath::root());
        self.audited(draft, async {
            self.authorize(ctx, ALERTS_WRITE, &ScopePath::root())?;
            self.evaluate_alerts_now().await
        })
        .await?;
        let mut c = self.store.read().await?;
        Ok(q::list_alerts(&mut c, Some(AlertState::Active)).await?)
    }

    /// The scheduled evaluation: at most once every `alert_evaluation_ms` (from `run_jobs_once`;
    /// `0` or less turns it off). Returns whether it ran.
    pub async fn evaluate_alerts_if_due(&self) -> Result<bool> {
        if self.options.alert_evaluation_ms <= 0 {
            return Ok(false);
        }
        let now = self.now();
        let last = self.alerts_evaluated_at.load(std::sync::atomic::Ordering::Relaxed);
        if last != i64::MIN && now.0 - last < self.options.alert_evaluation_ms {
            return Ok(false);
        }
        self.evaluate_alerts_now().await?;
        Ok(true)
    }

    /// Evaluates every enabled rule: raises new alerts (audited and notified), updates the items of
    /// those that still apply, and resolves those that no longer apply or whose rule is disabled.
    ///
    /// The facts (every current assignment, activation and user) are read in one read-only
    /// snapshot before the write transaction, so that the writers (activations, the expiry worker)
    /// do not wait for the reading: at 100,000 activations it held the write lock for 2-4 s. The
    /// rules and the open alerts are read in the write transaction, as before; what changes
    /// between the snapshot and it is seen at the next evaluation, as any change after it is.
    pub async fn evaluate_alerts_now(&self) -> Result<()> {
        let now = self.now();
        let read = self.alert_facts(now).await?;
        let mut tx = self.store.write(now).await?;
        let rules = rules_now(tx.conn()).await?;
        let facts = Facts {
            now,
            current: &read.current,
            activations: &read.activations,
            users: &read.users,
            mfa_on_activation: &read.mfa,
            role_names: &read.role_names,
        };
        for rule in rules.iter().filter(|r| rule_def(&r.id).is_some_and(|d| d.evaluated)) {
            let findings = if rule.enabled { evaluate(rule, &facts) } else { vec![] };
            self.apply_findings(&mut tx, now, rule, findings, true).await?;
        }
        tx.commit().await?;
        self.alerts_evaluated_at.store(now.0, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// What the rules are evaluated on, read at `now` in one read-only transaction (a snapshot:
    /// `REPEATABLE READ` on PostgreSQL, a deferred transaction on SQLite's write-ahead log).
    async fn alert_facts(&self, now: Timestamp) -> Result<AlertFacts> {
        use sqlx::Connection as _;
        let mut conn = self.store.read().await?;
        let mut snapshot = conn.begin().await.map_err(pim_store::StoreError::from)?;
        let c: &mut AnyConnection = &mut snapshot;
        if self.store.backend() == pim_store::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *c)
                .await
                .map_err(pim_store::StoreError::from)?;
        }
        let current = q::all_current_assignments(c, now).await?;
        let activations: Vec<_> =
            q::list_assignments(c, &q::AssignmentFilter { kind: Some(AssignmentKind::Active), ..Default::default() })
                .await?
                .into_iter()
                .filter(|a| a.is_activation())
                .collect();
        let users =
            q::list_principals(c, &q::PrincipalFilter { kind: Some(PrincipalKind::User), ..Default::default() })
                .await?;
        let role_names: HashMap<RoleId, String> = q::list_roles(c).await?.into_iter().map(|r| (r.id, r.name)).collect();
        let mut seen = HashSet::new();
        let mut mfa = vec![];
        for a in current.iter().filter(|a| a.kind == AssignmentKind::Eligible && a.in_effect(now)) {
            if seen.insert((a.role_id, a.scope.clone())) {
                let s = settings_at(c, a.role_id, &a.scope).await?;
                mfa.push((a.role_id, a.scope.clone(), s.settings.require_mfa_on_activation));
            }
        }
        snapshot.commit().await.map_err(pim_store::StoreError::from)?;
        Ok(AlertFacts { current, activations, users, role_names, mfa })
    }

    /// Brings a rule's open alerts in line with what it found. With `resolve_missing`, an open alert
    /// whose key was not found is resolved.
    async fn apply_findings(
        &self,
        tx: &mut WriteTx,
        now: Timestamp,
        rule: &AlertRule,
        findings: Vec<Finding>,
        resolve_missing: bool,
    ) -> Result<Vec<Alert>> {
        let open = q::open_alerts_of_rule(tx.conn(), &rule.id).await?;
        let mut out = vec![];
        for f in &findings {
            if let Some(mut a) = open.iter().find(|a| a.key == f.key).cloned() {
                if a.items != f.items || a.title != f.title {
                    a.items = f.items.clone();
                    a.title = f.title.clone();
                    a.updated_at = now;
                    q::put_alert(tx.conn(), &a).await?;
                }
                out.push(a);
            } else {
                out.push(self.raise(tx, now, rule, f).await?);
            }
        }
        if resolve_missing {
            for mut a in open.into_iter().filter(|a| !findings.iter().any(|f| f.key == a.key)) {
                a.state = AlertState::Resolved;
                a.resolved_at = Some(now);
                a.updated_at = now;
                q::put_alert(tx.conn(), &a).await?;
                let draft = AuditDraft {
                    action: "alert.resolved".into(),
                    scope: Some(ScopePath::root()),
                    details: serde_json::json!({
                        "alertId": a.id, "ruleId": a.rule_id, "key": a.key,
                        "reason": if rule.enabled { "no longer applies" } else { "rule disabled" },
                    }),
                    ..AuditDraft::default()
                };
                tx.audit(now, draft).await?;
            }
        }
        Ok(out)
    }

    /// Raises a new alert: stored, audited (`alert.raised`) and notified to the holders of
    /// `pim.alerts.write` at `/` (critical when high).
    async fn raise(&self, tx: &mut WriteTx, now: Timestamp, rule: &AlertRule, f: &Finding) -> Result<Alert> {
        let alert = Alert {
            id: AlertId::new(),
            rule_id: rule.id.clone(),
            key: f.key.clone(),
            severity: rule.severity,
            state: AlertState::Active,
            title: f.title.clone(),
            items: f.items.clone(),
            raised_at: now,
            updated_at: now,
            resolved_at: None,
            dismissed_by: None,
            dismissed_at: None,
            dismiss_reason: None,
        };
        q::put_alert(tx.conn(), &alert).await?;
        let draft = AuditDraft {
            action: "alert.raised".into(),
            principal_id: f.items.first().and_then(|i| i.principal_id).filter(|_| f.items.len() == 1),
            scope: Some(ScopePath::root()),
            details: serde_json::json!({
                "alertId": alert.id, "ruleId": rule.id, "key": f.key, "severity": rule.severity.as_str(),
                "title": f.title, "items": f.items.len(),
            }),
            ..AuditDraft::default()
        };
        tx.audit(now, draft).await?;
        let mut notice =
            Notice::new("alert.raised", &format!("[{}] {}", rule.severity.as_str(), rule.name), &alert_text(&alert));
        notice.critical = rule.severity == Severity::High;
        self.notify(tx.conn(), now, &notice, &[Audience::HoldersOf { action: ALERTS_WRITE, scope: ScopePath::root() }])
            .await?;
        Ok(alert)
    }

    /// The entry point for connectors: access `system` found that pim did not grant. The alert of
    /// rule `externalAccess` for that system is raised, updated to `items`, or (with no items)
    /// resolved. Does nothing when the rule is disabled. Returns the alert, if one applies.
    pub async fn report_external_access(&self, system: &str, items: Vec<AlertItem>) -> Result<Option<Alert>> {
        let title = |n: usize| format!("{} found in {system} that pim did not make", count(n, "grant", "grants"));
        self.report_for_system(rules::EXTERNAL_ACCESS, system, items, title).await
    }

    /// The connector worker's report: `connector` failed its rule's `attempts` times in a row for
    /// the principals in `items` (none: it is healthy again, and its alert is resolved).
    pub(crate) async fn report_connector_failing(
        &self,
        connector: &str,
        items: Vec<AlertItem>,
    ) -> Result<Option<Alert>> {
        let title =
            |n: usize| format!("connector {connector} keeps failing for {}", count(n, "principal", "principals"));
        self.report_for_system(rules::CONNECTOR_FAILING, connector, items, title).await
    }

    /// The `attempts` threshold of the `connectorFailing` rule, or `None` when the rule is disabled.
    pub(crate) async fn connector_failing_threshold(&self) -> Result<Option<i64>> {
        let mut c = self.store.read().await?;
        let rule = rules_now(&mut c)
            .await?
            .into_iter()
            .find(|r| r.id == rules::CONNECTOR_FAILING)
            .ok_or_else(|| unknown_rule(rules::CONNECTOR_FAILING))?;
        Ok(rule.enabled.then(|| rule.thresholds.get("attempts").copied().unwrap_or(3)))
    }

    /// Raises, updates or (with no items) resolves the alert of `rule_id` for one system.
    async fn report_for_system(
        &self,
        rule_id: &str,
        system: &str,
        items: Vec<AlertItem>,
        title: impl Fn(usize) -> String,
    ) -> Result<Option<Alert>> {
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let rule =
            rules_now(tx.conn()).await?.into_iter().find(|r| r.id == rule_id).ok_or_else(|| unknown_rule(rule_id))?;
        let key = format!("{rule_id}:{system}");
        let findings = if rule.enabled && !items.is_empty() {
            vec![Finding { key: key.clone(), title: title(items.len()), items }]
        } else {
            vec![]
        };
        // Resolve only this system's alert when nothing is found; other systems' alerts stay.
        let open = q::open_alerts_of_rule(tx.conn(), &rule.id).await?;
        let mut out = self.apply_findings(&mut tx, now, &rule, findings.clone(), false).await?;
        if findings.is_empty()
            && let Some(mut a) = open.into_iter().find(|a| a.key == key)
        {
            a.state = AlertState::Resolved;
            a.resolved_at = Some(now);
            a.updated_at = now;
            q::put_alert(tx.conn(), &a).await?;
            let draft = AuditDraft {
                action: "alert.resolved".into(),
                scope: Some(ScopePath::root()),
                details: serde_json::json!({ "alertId": a.id, "ruleId": a.rule_id, "key": a.key, "reason": "no longer applies" }),
                ..AuditDraft::default()
            };
            tx.audit(now, draft).await?;
        }
        tx.commit().await?;
        Ok(out.pop())
    }

    /// Called in the sign-in's transaction when an emergency access account signs in: raises the
    /// high-severity `emergencyAccountUsed` alert (one per sign-in) and notifies every Global and
    /// Privileged Role Administrator (critical), besides the holders of `pim.alerts.write`.
    pub(crate) async fn emergency_sign_in(&self, tx: &mut WriteTx, now: Timestamp, user: &Principal) -> Result<()> {
        let rule = rules_now(tx.conn())
            .await?
            .into_iter()
            .find(|r| r.id == rules::EMERGENCY_ACCOUNT_USED)
            .ok_or_else(|| unknown_rule(rules::EMERGENCY_ACCOUNT_USED))?;
        if !rule.enabled {
            return Ok(());
        }
        let finding = Finding {
            key: format!("{}:{}", rules::EMERGENCY_ACCOUNT_USED, AlertId::new()),
            title: format!("emergency access account {} signed in", user.name),
            items: vec![AlertItem {
                principal_id: Some(user.id),
                detail: format!("{} signed in at {now}", user.name),
                ..AlertItem::default()
            }],
        };
        let alert = self.raise(tx, now, &rule, &finding).await?;
        let mut to = vec![];
        let filter =
            |role_id| q::AssignmentFilter { role: Some(role_id), not_ended_at: Some(now), ..Default::default() };
        for role_id in [role::GLOBAL_ADMINISTRATOR, role::PRIVILEGED_ROLE_ADMINISTRATOR] {
            for a in q::list_assignments(tx.conn(), &filter(role_id)).await? {
                if a.in_effect(now) && !to.contains(&Audience::Principal(a.principal_id)) {
                    to.push(Audience::Principal(a.principal_id));
                }
            }
        }
        let mut notice = Notice::new(
            "alert.emergencyAccountUsed",
            &format!("Emergency access account {} signed in", user.name),
            &alert_text(&alert),
        );
        notice.critical = true;
        self.notify(tx.conn(), now, &notice, &to).await?;
        Ok(())
    }

    /// Applies the fix of a remediable alert (`pim.alerts.write` at `/`, plus what the fix needs):
    /// `rolesWithoutMfa` turns on MFA on activation in the affected roles' settings;
    /// `staleAccounts` and `unusedRoles` remove the affected eligible assignments through
    /// `adminRemove` requests. Then the rules are evaluated again.
    pub async fn remediate_alert(&self, ctx: &Context, id: AlertId) -> Result<Remediation> {
        let mut draft = self.draft(ctx, "alert.remediated");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "alertId": id });
        let alert = self
            .audited(draft.clone(), async {
                self.authorize(ctx, ALERTS_WRITE, &ScopePath::root())?;
                let mut c = self.store.read().await?;
                let alert =
                    q::get_alert(&mut c, id).await?.ok_or_else(|| DomainError::not_found(format!("alert {id}")))?;
                if alert.state != AlertState::Active {
                    return refuse(
                        pim_domain::ErrorKind::AlertNotActive,
                        format!("alert {id} is {}; only an active alert can be remediated", alert.state.as_str()),
                    );
                }
                if !rule_def(&alert.rule_id).is_some_and(|d| d.remediable) {
                    return refuse(
                        pim_domain::ErrorKind::InvalidInput,
                        format!("alert {id} (rule {}) has no automatic fix", alert.rule_id),
                    );
                }
                Ok(alert)
            })
            .await?;
        let mut changes = vec![];
        match alert.rule_id.as_str() {
            rules::ROLES_WITHOUT_MFA => {
                for i in &alert.items {
                    let (Some(role_id), Some(scope)) = (i.role_id, i.scope.clone()) else { continue };
                    let mut c = self.store.read().await?;
                    let mut s = settings_at(&mut c, role_id, &scope).await?.settings;
                    drop(c);
                    if !s.require_mfa_on_activation {
                        s.require_mfa_on_activation = true;
                        self.change_settings(ctx, &role_id.to_string(), scope.clone(), Some(s)).await?;
                        changes.push(format!("MFA on activation required for role {role_id} at {scope}"));
                    }
                }
            }
            rules::STALE_ACCOUNTS | rules::UNUSED_ROLES => {
                for i in &alert.items {
                    let Some(assignment) = i.assignment_id else { continue };
                    let mut c = self.store.read().await?;
                    let a = q::get_assignment(&mut c, assignment).await?;
                    drop(c);
                    let Some(a) = a.filter(|a| a.kind == AssignmentKind::Eligible && a.is_current(self.now())) else {
                        continue;
                    };
                    let mut input = RequestInput::new(RequestAction::AdminRemove);
                    input.assignment_id = Some(a.id);
                    input.justification = Some(format!("remediation of alert {id} ({})", alert.rule_id));
                    self.submit(ctx, input).await?;
                    changes.push(format!("eligible assignment {} removed", a.id));
                }
            }
            _ => {}
        }
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let mut d = draft;
        d.details = serde_json::json!({ "alertId": id, "ruleId": alert.rule_id, "changes": changes });
        tx.audit(now, d).await?;
        tx.commit().await?;
        self.evaluate_alerts_now().await?;
        let mut c = self.store.read().await?;
        Ok(Remediation { alert: q::get_alert(&mut c, id).await?, changes })
    }
}

fn alert_text(a: &Alert) -> String {
    let mut s = format!("{}\n\nSeverity: {}\nAlert: {}\n\n", a.title, a.severity.as_str(), a.id);
    for i in a.items.iter().take(50) {
        s.push_str("  - ");
        s.push_str(&i.detail);
        s.push('\n');
    }
    s.push_str(&format!("\n  pim alerts show {}\n", a.id));
    s
}
