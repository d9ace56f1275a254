//! Security alerts (SPEC section 10): the built-in rules with their severities and thresholds, and
//! their evaluation, a pure function over facts the engine gathers (assignments, activations,
//! users, the MFA setting in force for each eligible role and scope).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::assignment::{Assignment, AssignmentKind};
use crate::error::DomainError;
use crate::ids::{AlertId, AssignmentId, PrincipalId, RoleId};
use crate::message::count;
use crate::principal::{Principal, PrincipalKind};
use crate::role;
use crate::scope::ScopePath;
use crate::time::{DAY_MS, MINUTE_MS, Timestamp};

/// How serious an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Should be fixed.
    Medium,
    /// Needs attention now (notified as critical).
    High,
}

impl Severity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum AlertState {
    /// Raised and still applying.
    Active,
    /// An administrator dismissed it (it stays dismissed while it still applies).
    Dismissed,
    /// It no longer applies (or its rule was disabled).
    Resolved,
}

impl AlertState {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Active => "active",
            AlertState::Dismissed => "dismissed",
            AlertState::Resolved => "resolved",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<AlertState> {
        match s {
            "active" => Some(AlertState::Active),
            "dismissed" => Some(AlertState::Dismissed),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }
}

/// Rule ids.
pub mod rules {
    /// Too many Global Administrators.
    pub const TOO_MANY_GLOBAL_ADMINS: &str = "tooManyGlobalAdmins";
    /// Roles activated too frequently.
    pub const FREQUENT_ACTIVATIONS: &str = "frequentActivations";
    /// Roles don't require MFA for activation.
    pub const ROLES_WITHOUT_MFA: &str = "rolesWithoutMfa";
    /// Potential stale accounts in a privileged role.
    pub const STALE_ACCOUNTS: &str = "staleAccounts";
    /// Administrators aren't using their privileged roles.
    pub const UNUSED_ROLES: &str = "unusedRoles";
    /// Roles assigned outside pim (fed by connectors).
    pub const EXTERNAL_ACCESS: &str = "externalAccess";
    /// Too many owners / permanent owners of a resource.
    pub const TOO_MANY_OWNERS: &str = "tooManyOwners";
    /// An emergency access account lacks a permanent active Global Administrator assignment at `/`.
    pub const EMERGENCY_ACCOUNT_UNPROTECTED: &str = "emergencyAccountUnprotected";
    /// An emergency access account signed in.
    pub const EMERGENCY_ACCOUNT_USED: &str = "emergencyAccountUsed";
    /// A connector keeps failing to grant or revoke access in its target.
    pub const CONNECTOR_FAILING: &str = "connectorFailing";
}

/// A threshold a rule accepts: its name, default and allowed range.
#[derive(Clone, Copy, Debug)]
pub struct ThresholdDef {
    /// Its name in `thresholds`.
    pub name: &'static str,
    /// The default.
    pub default: i64,
    /// The smallest value allowed.
    pub min: i64,
    /// The largest value allowed.
    pub max: i64,
}

/// A built-in rule.
#[derive(Clone, Copy, Debug)]
pub struct RuleDef {
    /// Its id.
    pub id: &'static str,
    /// Its title.
    pub name: &'static str,
    /// What it looks for.
    pub description: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// Its thresholds.
    pub thresholds: &'static [ThresholdDef],
    /// Whether pim offers a fix.
    pub remediable: bool,
    /// Whether it is evaluated on a schedule (the others are raised by events).
    pub evaluated: bool,
}

const fn t(name: &'static str, default: i64, min: i64, max: i64) -> ThresholdDef {
    ThresholdDef { name, default, min, max }
}

/// Every built-in rule.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        id: rules::TOO_MANY_GLOBAL_ADMINS,
        name: "Too many Global Administrators",
        description: "At least `count` principals hold Global Administrator (eligible or active) and they are at least `percent` % of all assignments.",
        severity: Severity::Low,
        thresholds: &[t("count", 5, 1, 10_000), t("percent", 10, 0, 100)],
        remediable: false,
        evaluated: true,
    },
    RuleDef {
        id: rules::FREQUENT_ACTIVATIONS,
        name: "Roles activated too frequently",
        description: "A principal activated one role at least `activations` times within `windowMinutes` minutes.",
        severity: Severity::Medium,
        thresholds: &[t("activations", 3, 2, 1000), t("windowMinutes", 60, 1, 43_200)],
        remediable: false,
        evaluated: true,
    },
    RuleDef {
        id: rules::ROLES_WITHOUT_MFA,
        name: "Roles don't require MFA for activation",
        description: "A role with eligible assignments can be activated without MFA at their scope.",
        severity: Severity::Medium,
        thresholds: &[],
        remediable: true,
        evaluated: true,
    },
    RuleDef {
        id: rules::STALE_ACCOUNTS,
        name: "Potential stale accounts in a privileged role",
        description: "A user holding a privileged role has not signed in for `days` days (emergency access accounts aside).",
        severity: Severity::Medium,
        thresholds: &[t("days", 30, 1, 3650)],
        remediable: true,
        evaluated: true,
    },
    RuleDef {
        id: rules::UNUSED_ROLES,
        name: "Administrators aren't using their privileged roles",
        description: "An eligible assignment of a privileged role has not been activated for `days` days.",
        severity: Severity::Low,
        thresholds: &[t("days", 30, 1, 3650)],
        remediable: true,
        evaluated: true,
    },
    RuleDef {
        id: rules::EXTERNAL_ACCESS,
        name: "Roles assigned outside pim",
        description: "A connected system reports access that pim did not grant.",
        severity: Severity::High,
        thresholds: &[],
        remediable: false,
        evaluated: false,
    },
    RuleDef {
        id: rules::TOO_MANY_OWNERS,
        name: "Too many owners of a resource",
        description: "At least `count` principals hold Owner at one scope, or at least `permanentCount` hold it permanently and active.",
        severity: Severity::Medium,
        thresholds: &[t("count", 5, 1, 10_000), t("permanentCount", 3, 1, 10_000)],
        remediable: false,
        evaluated: true,
    },
    RuleDef {
        id: rules::EMERGENCY_ACCOUNT_UNPROTECTED,
        name: "Emergency access account without permanent Global Administrator",
        description: "An enabled emergency access account lacks a permanent active Global Administrator assignment at `/`.",
        severity: Severity::High,
        thresholds: &[],
        remediable: false,
        evaluated: true,
    },
    RuleDef {
        id: rules::EMERGENCY_ACCOUNT_USED,
        name: "Emergency access account used",
        description: "An emergency access account signed in (raised at every sign-in).",
        severity: Severity::High,
        thresholds: &[],
        remediable: false,
        evaluated: false,
    },
    RuleDef {
        id: rules::CONNECTOR_FAILING,
        name: "Connector failing",
        description: "A connector failed `attempts` times in a row to grant or revoke access in its target (raised and resolved by the connector worker).",
        severity: Severity::High,
        thresholds: &[t("attempts", 3, 1, 1000)],
        remediable: false,
        evaluated: false,
    },
];

/// The built-in rule with this id.
pub fn rule_def(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().find(|r| r.id == id)
}

/// The roles whose holders count as privileged administrators.
pub const PRIVILEGED_ROLES: &[RoleId] = &[
    role::GLOBAL_ADMINISTRATOR,
    role::PRIVILEGED_ROLE_ADMINISTRATOR,
    role::SECURITY_ADMINISTRATOR,
    role::USER_ACCESS_ADMINISTRATOR,
    role::OWNER,
];

/// A rule as configured: the built-in definition with the administrators' changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    /// The rule id, e.g. `frequentActivations`.
    pub id: String,
    /// Its title.
    pub name: String,
    /// What it looks for.
    pub description: String,
    /// Severity of the alerts it raises.
    pub severity: Severity,
    /// Whether it raises alerts.
    pub enabled: bool,
    /// Its thresholds by name (all of them, defaults filled in).
    pub thresholds: BTreeMap<String, i64>,
    /// Whether pim offers a fix for its alerts.
    pub remediable: bool,
}

/// What an administrator stores for a rule (the rest comes from the built-in definition).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    /// Severity override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Enabled override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Threshold overrides.
    #[serde(default)]
    pub thresholds: BTreeMap<String, i64>,
}

impl RuleDef {
    /// The rule with `config` applied over the defaults.
    pub fn configured(&self, config: Option<&RuleConfig>) -> AlertRule {
        let mut thresholds: BTreeMap<String, i64> =
            self.thresholds.iter().map(|t| (t.name.to_owned(), t.default)).collect();
        if let Some(c) = config {
            for (k, v) in &c.thresholds {
                if let Some(slot) = thresholds.get_mut(k) {
                    *slot = *v;
                }
            }
        }
        AlertRule {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            severity: config.and_then(|c| c.severity).unwrap_or(self.severity),
            enabled: config.and_then(|c| c.enabled).unwrap_or(true),
            thresholds,
            remediable: self.remediable,
        }
    }

    /// Checks threshold changes: known names, values in range.
    pub fn check_thresholds(&self, thresholds: &BTreeMap<String, i64>) -> Result<(), DomainError> {
        for (k, v) in thresholds {
            let Some(def) = self.thresholds.iter().find(|t| t.name == k) else {
                let known: Vec<&str> = self.thresholds.iter().map(|t| t.name).collect();
                return Err(DomainError::invalid(if known.is_empty() {
                    format!("rule {} has no thresholds (got {k:?})", self.id)
                } else {
                    format!("rule {} has no threshold {k:?}; it has: {}", self.id, known.join(", "))
                }));
            };
            if *v < def.min || *v > def.max {
                return Err(DomainError::invalid(format!(
                    "threshold {k} of rule {} must be between {} and {} (got {v})",
                    self.id, def.min, def.max
                )));
            }
        }
        Ok(())
    }
}

/// One affected item of an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertItem {
    /// The principal concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// The role concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// The scope concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// The assignment concerned (what remediation removes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// What was found, in words.
    pub detail: String,
}

/// A raised alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Its id.
    pub id: AlertId,
    /// The rule that raised it.
    pub rule_id: String,
    /// Which instance of the rule (the rule id, or e.g. the connected system): an alert that still
    /// applies is updated, not raised again.
    pub key: String,
    /// Severity when raised.
    pub severity: Severity,
    /// `active`, `dismissed` or `resolved`.
    pub state: AlertState,
    /// A one-line summary.
    pub title: String,
    /// The affected principals, roles and scopes.
    pub items: Vec<AlertItem>,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// When its items last changed (or it changed state).
    pub updated_at: Timestamp,
    /// When it stopped applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// Who dismissed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissed_by: Option<PrincipalId>,
    /// When it was dismissed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissed_at: Option<Timestamp>,
    /// Why it was dismissed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismiss_reason: Option<String>,
}

/// What an evaluated rule found: one alert's worth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The alert key.
    pub key: String,
    /// The summary.
    pub title: String,
    /// The affected items (never empty).
    pub items: Vec<AlertItem>,
}

/// The facts rules are evaluated over.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// The time of evaluation.
    pub now: Timestamp,
    /// Assignments that have not ended (eligible and active, including activations).
    pub current: &'a [Assignment],
    /// Every activation (active assignments made from an eligible one), ended or not.
    pub activations: &'a [Assignment],
    /// Every user.
    pub users: &'a [Principal],
    /// For each role and scope of a current eligible assignment: whether activation requires MFA there.
    pub mfa_on_activation: &'a [(RoleId, ScopePath, bool)],
    /// Role names, for titles and details.
    pub role_names: &'a HashMap<RoleId, String>,
}

impl Facts<'_> {
    fn role(&self, id: RoleId) -> String {
        self.role_names.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
}

fn item(a: &Assignment, detail: String) -> AlertItem {
    AlertItem {
        principal_id: Some(a.principal_id),
        role_id: Some(a.role_id),
        scope: Some(a.scope.clone()),
        assignment_id: Some(a.id),
        detail,
    }
}

fn finding(rule: &str, title: String, items: Vec<AlertItem>) -> Vec<Finding> {
    if items.is_empty() { vec![] } else { vec![Finding { key: rule.to_owned(), title, items }] }
}

/// Evaluates a rule over the facts (rules raised by events find nothing here).
pub fn evaluate(rule: &AlertRule, f: &Facts<'_>) -> Vec<Finding> {
    let th = |name: &str| rule.thresholds.get(name).copied().unwrap_or(0);
    let standing = || f.current.iter().filter(|a| !a.is_activation());
    match rule.id.as_str() {
        rules::TOO_MANY_GLOBAL_ADMINS => {
            let total = standing().count() as i64;
            let mut ga: Vec<&Assignment> = standing().filter(|a| a.role_id == role::GLOBAL_ADMINISTRATOR).collect();
            ga.sort_by_key(|a| a.id);
            let mut principals: Vec<PrincipalId> = ga.iter().map(|a| a.principal_id).collect();
            principals.sort();
            principals.dedup();
            let holders = principals.len() as i64;
            let share = if total == 0 { 0 } else { ga.len() as i64 * 100 / total };
            if holders >= th("count") && share >= th("percent") {
                let items = ga.iter().map(|a| item(a, format!("{} Global Administrator", a.kind.as_str()))).collect();
                finding(
                    &rule.id,
                    format!(
                        "{} Global Administrator ({share} % of {})",
                        count(holders, "principal holds", "principals hold"),
                        count(total, "assignment", "assignments")
                    ),
                    items,
                )
            } else {
                vec![]
            }
        }
        rules::FREQUENT_ACTIVATIONS => {
            let window = th("windowMinutes") * MINUTE_MS;
            let mut by: BTreeMap<(PrincipalId, RoleId), Vec<&Assignment>> = BTreeMap::new();
            for a in f.activations.iter().filter(|a| a.window.start.0 > f.now.0 - window && a.window.start <= f.now) {
                by.entry((a.principal_id, a.role_id)).or_default().push(a);
            }
            let items = by
                .into_iter()
                .filter(|(_, v)| v.len() as i64 >= th("activations"))
                .filter_map(|((_, role_id), v)| {
                    let last = v.iter().max_by_key(|a| a.window.start)?;
                    Some(item(
                        last,
                        format!(
                            "{} of {} in the last {}",
                            count(v.len(), "activation", "activations"),
                            f.role(role_id),
                            count(th("windowMinutes"), "minute", "minutes")
                        ),
                    ))
                })
                .collect();
            finding(&rule.id, "Roles activated too frequently".into(), items)
        }
        rules::ROLES_WITHOUT_MFA => {
            let mut items: Vec<AlertItem> = f
                .mfa_on_activation
                .iter()
                .filter(|(_, _, mfa)| !mfa)
                .map(|(role_id, scope, _)| AlertItem {
                    role_id: Some(*role_id),
                    scope: Some(scope.clone()),
                    detail: format!("{} can be activated at {scope} without MFA", f.role(*role_id)),
                    ..AlertItem::default()
                })
                .collect();
            items.sort_by(|a, b| (a.role_id, &a.scope).cmp(&(b.role_id, &b.scope)));
            items.dedup();
            finding(
                &rule.id,
                format!("{} activated without MFA", count(items.len(), "role can be", "roles can be")),
                items,
            )
        }
        rules::STALE_ACCOUNTS => {
            let limit = f.now.0 - th("days") * DAY_MS;
            let stale: HashMap<PrincipalId, Option<Timestamp>> = f
                .users
                .iter()
                .filter(|u| u.kind == PrincipalKind::User && u.enabled && !u.emergency_access)
                .filter(|u| u.last_sign_in_at.unwrap_or(u.created_at).0 <= limit)
                .map(|u| (u.id, u.last_sign_in_at))
                .collect();
            let mut items: Vec<AlertItem> = standing()
                .filter(|a| PRIVILEGED_ROLES.contains(&a.role_id))
                .filter_map(|a| {
                    let last = stale.get(&a.principal_id)?;
                    let when = last.map_or_else(|| "never signed in".to_owned(), |t| format!("last signed in {t}"));
                    Some(item(
                        a,
                        format!("{} holds {} ({}) and {when}", a.principal_id, f.role(a.role_id), a.kind.as_str()),
                    ))
                })
                .collect();
            items.sort_by_key(|i| i.assignment_id);
            finding(
                &rule.id,
                format!(
                    "{} of users who have not signed in",
                    count(items.len(), "privileged assignment", "privileged assignments")
                ),
                items,
            )
        }
        rules::UNUSED_ROLES => {
            let limit = f.now.0 - th("days") * DAY_MS;
            let mut last: HashMap<AssignmentId, Timestamp> = HashMap::new();
            for a in f.activations {
                if let Some(from) = a.activated_from {
                    let e = last.entry(from).or_insert(a.window.start);
                    if a.window.start > *e {
                        *e = a.window.start;
                    }
                }
            }
            let mut items: Vec<AlertItem> = standing()
                .filter(|a| a.kind == AssignmentKind::Eligible && PRIVILEGED_ROLES.contains(&a.role_id))
                .filter(|a| last.get(&a.id).copied().unwrap_or(a.window.start).0 <= limit)
                .map(|a| {
                    item(
                        a,
                        format!(
                            "eligible for {} and not activated for {}",
                            f.role(a.role_id),
                            count(th("days"), "day", "days")
                        ),
                    )
                })
                .collect();
            items.sort_by_key(|i| i.assignment_id);
            finding(
                &rule.id,
                format!(
                    "{} not used",
                    count(items.len(), "privileged eligible assignment", "privileged eligible assignments")
                ),
                items,
            )
        }
        rules::TOO_MANY_OWNERS => {
            let mut by: BTreeMap<ScopePath, Vec<&Assignment>> = BTreeMap::new();
            for a in standing().filter(|a| a.role_id == role::OWNER) {
                by.entry(a.scope.clone()).or_default().push(a);
            }
            let mut items = vec![];
            for (scope, v) in by {
                let permanent =
                    v.iter().filter(|a| a.kind == AssignmentKind::Active && a.window.is_permanent()).count() as i64;
                if v.len() as i64 >= th("count") || permanent >= th("permanentCount") {
                    items.extend(v.iter().map(|a| item(a, owner_detail(v.len(), permanent, &scope))));
                }
            }
            finding(&rule.id, "Too many owners".into(), items)
        }
        rules::EMERGENCY_ACCOUNT_UNPROTECTED => {
            let mut items: Vec<AlertItem> = f
                .users
                .iter()
                .filter(|u| u.emergency_access && u.enabled)
                .filter(|u| {
                    !f.current.iter().any(|a| {
                        a.principal_id == u.id
                            && a.role_id == role::GLOBAL_ADMINISTRATOR
                            && a.scope.is_root()
                            && a.kind == AssignmentKind::Active
                            && !a.is_activation()
                            && a.window.is_permanent()
                            && a.in_effect(f.now)
                    })
                })
                .map(|u| AlertItem {
                    principal_id: Some(u.id),
                    role_id: Some(role::GLOBAL_ADMINISTRATOR),
                    scope: Some(ScopePath::root()),
                    assignment_id: None,
                    detail: format!(
                        "emergency access account {} has no permanent active Global Administrator at /",
                        u.name
                    ),
                })
                .collect();
            items.sort_by_key(|i| i.principal_id);
            finding(
                &rule.id,
                format!(
                    "{} not permanent Global {}",
                    count(items.len(), "emergency access account is", "emergency access accounts are"),
                    if items.len() == 1 { "Administrator" } else { "Administrators" }
                ),
                items,
            )
        }
        _ => vec![],
    }
}

/// An owner's place among the owners of `scope`: "one of 3 owners (2 permanent) of /prod".
fn owner_detail(owners: usize, permanent: i64, scope: &ScopePath) -> String {
    if owners == 1 {
        let how = if permanent == 1 { "permanent" } else { "not permanent" };
        format!("the only owner of {scope} ({how})")
    } else {
        format!("one of {owners} owners ({permanent} permanent) of {scope}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_single_owner_is_the_only_one() {
        let root = ScopePath::parse("/prod").unwrap();
        assert_eq!(owner_detail(1, 1, &root), "the only owner of /prod (permanent)");
        assert_eq!(owner_detail(1, 0, &root), "the only owner of /prod (not permanent)");
        assert_eq!(owner_detail(3, 2, &root), "one of 3 owners (2 permanent) of /prod");
    }

    use super::*;

    #[test]
    fn every_rule_has_a_unique_id_and_defaults_in_range() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for r in RULES {
            for t in r.thresholds {
                assert!(t.min <= t.default && t.default <= t.max, "{} {}", r.id, t.name);
            }
        }
    }

    fn user(name: &str, last: Option<i64>, emergency: bool) -> Principal {
        Principal {
            id: PrincipalId::new(),
            kind: PrincipalKind::User,
            name: name.into(),
            display_name: name.into(),
            email: None,
            description: None,
            manager_id: None,
            enabled: true,
            emergency_access: emergency,
            last_sign_in_at: last.map(Timestamp),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    fn assignment(
        p: PrincipalId,
        role_id: RoleId,
        kind: AssignmentKind,
        start: i64,
        from: Option<AssignmentId>,
    ) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            principal_id: p,
            principal_kind: PrincipalKind::User,
            role_id,
            scope: ScopePath::root(),
            kind,
            window: crate::time::Window::permanent_from(Timestamp(start)),
            activated_from: from,
            created_by_request: crate::ids::RequestId::new(),
            created_at: Timestamp(start),
            ended_early_at: None,
        }
    }

    fn rule(id: &str, thresholds: &[(&str, i64)]) -> AlertRule {
        let Some(d) = rule_def(id) else { panic!("rule {id}") };
        let c = RuleConfig {
            thresholds: thresholds.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            ..Default::default()
        };
        d.configured(Some(&c))
    }

    #[test]
    fn stale_and_unused_follow_the_day_thresholds_and_spare_emergency_accounts() {
        let now = 40 * DAY_MS;
        let idle = user("idle", Some(5 * DAY_MS), false);
        let busy = user("busy", Some(now - DAY_MS), false);
        let glass = user("glass", None, true);
        let e_idle = assignment(idle.id, role::SECURITY_ADMINISTRATOR, AssignmentKind::Eligible, 0, None);
        let e_busy = assignment(busy.id, role::SECURITY_ADMINISTRATOR, AssignmentKind::Eligible, 0, None);
        let reader = assignment(idle.id, role::READER, AssignmentKind::Eligible, 0, None);
        let ga = assignment(glass.id, role::GLOBAL_ADMINISTRATOR, AssignmentKind::Active, 0, None);
        let act = assignment(
            busy.id,
            role::SECURITY_ADMINISTRATOR,
            AssignmentKind::Active,
            now - 2 * DAY_MS,
            Some(e_busy.id),
        );
        let current = vec![e_idle.clone(), e_busy.clone(), reader, ga];
        let users = vec![idle, busy, glass];
        let names = HashMap::new();
        let f = Facts {
            now: Timestamp(now),
            current: &current,
            activations: std::slice::from_ref(&act),
            users: &users,
            mfa_on_activation: &[],
            role_names: &names,
        };
        let stale = evaluate(&rule(rules::STALE_ACCOUNTS, &[]), &f);
        assert_eq!(stale.len(), 1);
        let ids: Vec<_> = stale[0].items.iter().map(|i| i.assignment_id).collect();
        assert_eq!(ids, vec![Some(e_idle.id)], "only idle's privileged role; not busy, not the emergency account");
        assert!(evaluate(&rule(rules::STALE_ACCOUNTS, &[("days", 36)]), &f).is_empty());
        let unused = evaluate(&rule(rules::UNUSED_ROLES, &[]), &f);
        assert_eq!(unused[0].items.iter().map(|i| i.assignment_id).collect::<Vec<_>>(), vec![Some(e_idle.id)]);
        // The emergency account holds a permanent active Global Administrator at `/`.
        assert!(evaluate(&rule(rules::EMERGENCY_ACCOUNT_UNPROTECTED, &[]), &f).is_empty());
        // Three activations within the window raise; two do not.
        let acts: Vec<Assignment> = (0..3)
            .map(|i| {
                assignment(
                    f.users[1].id,
                    role::READER,
                    AssignmentKind::Active,
                    now - i * 10 * MINUTE_MS,
                    Some(e_busy.id),
                )
            })
            .collect();
        let f3 = Facts { activations: &acts, ..f.clone() };
        assert_eq!(evaluate(&rule(rules::FREQUENT_ACTIVATIONS, &[]), &f3).len(), 1);
        assert!(evaluate(&rule(rules::FREQUENT_ACTIVATIONS, &[("windowMinutes", 15)]), &f3).is_empty());
    }

    #[test]
    fn thresholds_are_checked_by_name_and_range() {
        let Some(r) = rule_def(rules::FREQUENT_ACTIVATIONS) else { panic!("rule") };
        let ok: BTreeMap<String, i64> = [("activations".to_owned(), 5)].into();
        assert!(r.check_thresholds(&ok).is_ok());
        let bad: BTreeMap<String, i64> = [("activations".to_owned(), 0)].into();
        assert!(r.check_thresholds(&bad).is_err());
        let unknown: BTreeMap<String, i64> = [("days".to_owned(), 5)].into();
        assert!(r.check_thresholds(&unknown).is_err());
        let c = RuleConfig { enabled: Some(false), thresholds: ok, ..RuleConfig::default() };
        let rule = r.configured(Some(&c));
        assert!(!rule.enabled);
        assert_eq!(rule.thresholds.get("activations"), Some(&5));
        assert_eq!(rule.thresholds.get("windowMinutes"), Some(&60));
    }
}
