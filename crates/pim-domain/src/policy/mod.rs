//! Declarative policy: the document `pim export` writes and `pim plan` / `pim apply` read, by names
//! (never ids), and the changes between two documents (docs/designs/policy.md).

mod diff;
mod file;
mod settings;

use std::collections::BTreeMap;
use std::fmt;

pub use diff::{FieldDiff, PolicyChange, diff};
pub use file::{line_of, parse, render};
pub use settings::{SettingsValues, approver_names, settings_from_values, settings_values};

use crate::alert::{AlertRule, Severity, rule_def};
use crate::review::{IfNoResponse, ReviewSchedule, ReviewedKinds};
use crate::scope::ScopePath;
use crate::{AssignmentKind, Timestamp};

/// The version of the file format `render` writes and `parse` reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole policy: what the server should hold at and below `scope`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDoc {
    /// What the document covers: settings and assignments at this scope or below (`/`: everything).
    pub scope: ScopePath,
    /// Resources registered at scopes, by scope.
    pub resources: Vec<ResourcePolicy>,
    /// Custom roles, by name.
    pub roles: Vec<RolePolicy>,
    /// Groups and their static members, by name.
    pub groups: Vec<GroupPolicy>,
    /// Explicit role settings, by role name and scope.
    pub settings: Vec<SettingsPolicy>,
    /// Eligible and permanent active assignments.
    pub assignments: Vec<AssignmentPolicy>,
    /// Alert rules configured away from their defaults (only in a document for `/`).
    pub alert_rules: Vec<AlertRulePolicy>,
    /// Access review definitions not stopped, by name.
    pub reviews: Vec<ReviewPolicy>,
}

impl PolicyDoc {
    /// An empty document covering `scope`.
    pub fn empty(scope: ScopePath) -> PolicyDoc {
        PolicyDoc {
            scope,
            resources: vec![],
            roles: vec![],
            groups: vec![],
            settings: vec![],
            assignments: vec![],
            alert_rules: vec![],
            reviews: vec![],
        }
    }

    /// Puts every list in the canonical order (what `render` writes and `diff` walks).
    pub fn sort(&mut self) {
        self.resources.sort_by_key(ResourcePolicy::sort_key);
        self.roles.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &mut self.roles {
            r.actions.sort();
            r.actions.dedup();
            r.not_actions.sort();
            r.not_actions.dedup();
        }
        self.groups.sort_by(|a, b| a.name.cmp(&b.name));
        for g in &mut self.groups {
            g.members.sort();
            g.members.dedup();
        }
        self.settings.sort_by(|a, b| (&a.role, a.scope.as_str()).cmp(&(&b.role, b.scope.as_str())));
        self.assignments.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.alert_rules.sort_by(|a, b| a.id.cmp(&b.id));
        self.reviews.sort_by(|a, b| a.name.cmp(&b.name));
        for r in &mut self.reviews {
            r.sort();
        }
    }
}

/// A resource registered at a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePolicy {
    /// Where (its key: one resource per scope).
    pub scope: ScopePath,
    /// Display name.
    pub name: String,
    /// Type, e.g. `subscription`.
    pub kind: String,
}

impl ResourcePolicy {
    /// The tree's depth-first order (`/a`, `/a/b`, `/a-b`), as the resources API lists them.
    fn sort_key(&self) -> String {
        self.scope.as_str().replace('/', "\u{1}")
    }
}

/// A custom role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePolicy {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Allowed action patterns.
    pub actions: Vec<String>,
    /// Excluded action patterns.
    pub not_actions: Vec<String>,
}

/// A group and its static members (users and groups, by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPolicy {
    /// Unique name.
    pub name: String,
    /// Its direct members' names.
    pub members: Vec<String>,
}

/// A role's explicit settings at a scope: only what differs from the defaults, approvers by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsPolicy {
    /// The role's name.
    pub role: String,
    /// Where they are defined (they apply there and below).
    pub scope: ScopePath,
    /// The settings that differ from SPEC section 5's defaults, camelCase keys.
    pub values: SettingsValues,
}

/// An eligible (permanent or until `end`) or permanent active assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentPolicy {
    /// The holder's name (user, group or service principal).
    pub principal: String,
    /// The role's name.
    pub role: String,
    /// Where.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// When an eligible assignment ends (`None`: permanent).
    pub end: Option<Timestamp>,
}

impl AssignmentPolicy {
    /// What identifies it in a document: who, what, where and which kind.
    pub fn key(&self) -> (String, String, String, &'static str) {
        (self.principal.clone(), self.role.clone(), self.scope.as_str().to_owned(), self.kind.as_str())
    }

    fn sort_key(&self) -> (String, String, String, &'static str) {
        (self.scope.as_str().to_owned(), self.role.clone(), self.principal.clone(), self.kind.as_str())
    }
}

/// An alert rule's settings where they differ from its built-in defaults (`None` / absent: the
/// default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertRulePolicy {
    /// The rule, e.g. `tooManyGlobalAdmins`.
    pub id: String,
    /// Its severity.
    pub severity: Option<Severity>,
    /// Whether it raises alerts.
    pub enabled: Option<bool>,
    /// Its thresholds by name.
    pub thresholds: BTreeMap<String, i64>,
}

impl AlertRulePolicy {
    /// `rule` as a document holds it: only what differs from the defaults; `None` when nothing does.
    pub fn from_rule(rule: &AlertRule) -> Option<AlertRulePolicy> {
        let p = AlertRulePolicy {
            id: rule.id.clone(),
            severity: Some(rule.severity),
            enabled: Some(rule.enabled),
            thresholds: rule.thresholds.clone(),
        }
        .canonical();
        (p.severity.is_some() || p.enabled.is_some() || !p.thresholds.is_empty()).then_some(p)
    }

    /// The same, with every value equal to the rule's default left out.
    pub fn canonical(mut self) -> AlertRulePolicy {
        if let Some(def) = rule_def(&self.id) {
            self.severity = self.severity.filter(|s| *s != def.severity);
            self.enabled = self.enabled.filter(|e| !*e);
            self.thresholds.retain(|k, v| def.thresholds.iter().find(|t| t.name == k).is_none_or(|t| t.default != *v));
        }
        self
    }

    /// Every value in force: severity, enabled, and all thresholds, defaults filled in.
    pub fn full(&self) -> (Severity, bool, BTreeMap<String, i64>) {
        let Some(def) = rule_def(&self.id) else {
            return (self.severity.unwrap_or(Severity::Low), self.enabled.unwrap_or(true), self.thresholds.clone());
        };
        let mut thresholds: BTreeMap<String, i64> =
            def.thresholds.iter().map(|t| (t.name.to_owned(), t.default)).collect();
        thresholds.extend(self.thresholds.iter().map(|(k, v)| (k.clone(), *v)));
        (self.severity.unwrap_or(def.severity), self.enabled.unwrap_or(true), thresholds)
    }
}

/// An access review definition, by its name (unique among the reviews not stopped), with roles,
/// the group and the reviewers by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewPolicy {
    /// Its name: the key.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// What is reviewed.
    pub target: ReviewTargetPolicy,
    /// Eligible, active or both.
    pub kinds: ReviewedKinds,
    /// Only principals with no activation or sign-in for this many days.
    pub inactive_days: Option<u32>,
    /// Who reviews.
    pub reviewers: ReviewersPolicy,
    /// When its instances run.
    pub schedule: ReviewSchedule,
    /// Apply the results when an instance ends.
    pub auto_apply: bool,
    /// What happens to items nobody reviewed.
    pub if_no_response: IfNoResponse,
    /// Reviewers must give a reason.
    pub reason_required: bool,
}

/// What a review covers, by names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewTargetPolicy {
    /// Assignments of these roles at the scope and below.
    Roles {
        /// The roles' names.
        roles: Vec<String>,
        /// Where.
        scope: ScopePath,
    },
    /// The membership of a group.
    GroupMembership {
        /// The group's name.
        group: String,
    },
}

/// Who reviews, by names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewersPolicy {
    /// Each principal reviews their own access.
    SelfReview,
    /// Each principal's manager; these users or groups for principals without one.
    Managers {
        /// The fallback reviewers' names.
        fallback: Vec<String>,
    },
    /// These users or groups review every item.
    Selected {
        /// The reviewers' names.
        reviewers: Vec<String>,
    },
}

impl ReviewersPolicy {
    /// The names listed (none for self-review).
    pub fn names(&self) -> &[String] {
        match self {
            ReviewersPolicy::SelfReview => &[],
            ReviewersPolicy::Managers { fallback: n } | ReviewersPolicy::Selected { reviewers: n } => n,
        }
    }

    /// The same, names mutable.
    pub fn names_mut(&mut self) -> &mut [String] {
        match self {
            ReviewersPolicy::SelfReview => &mut [],
            ReviewersPolicy::Managers { fallback: n } | ReviewersPolicy::Selected { reviewers: n } => n,
        }
    }
}

impl ReviewPolicy {
    /// Roles and reviewers in order, each once.
    fn sort(&mut self) {
        if let ReviewTargetPolicy::Roles { roles, .. } = &mut self.target {
            roles.sort();
            roles.dedup();
        }
        if let ReviewersPolicy::Managers { fallback: n } | ReviewersPolicy::Selected { reviewers: n } =
            &mut self.reviewers
        {
            n.sort();
            n.dedup();
        }
    }

    /// Every field with its value in force (defaults filled in), as JSON: what a diff compares.
    pub fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::{Value, json, to_value};
        let target = match &self.target {
            ReviewTargetPolicy::Roles { roles, scope } => json!({"type": "roles", "roles": roles, "scope": scope}),
            ReviewTargetPolicy::GroupMembership { group } => json!({"type": "groupMembership", "group": group}),
        };
        let reviewers = match &self.reviewers {
            ReviewersPolicy::SelfReview => json!({"type": "selfReview"}),
            ReviewersPolicy::Managers { fallback } => json!({"type": "managers", "fallback": fallback}),
            ReviewersPolicy::Selected { reviewers } => json!({"type": "selected", "reviewers": reviewers}),
        };
        let value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
        vec![
            ("description", self.description.clone().map_or(Value::Null, Value::from)),
            ("target", target),
            ("kinds", value(to_value(self.kinds))),
            ("inactiveDays", self.inactive_days.map_or(Value::Null, Value::from)),
            ("reviewers", reviewers),
            ("schedule.start", Value::from(self.schedule.start.to_rfc3339())),
            ("schedule.recurrence", value(to_value(self.schedule.recurrence))),
            ("schedule.durationDays", Value::from(self.schedule.duration_days)),
            ("schedule.end", value(to_value(self.schedule.end))),
            ("autoApply", Value::from(self.auto_apply)),
            ("ifNoResponse", value(to_value(self.if_no_response))),
            ("reasonRequired", Value::from(self.reason_required)),
        ]
    }
}

/// Where in a policy file a refusal points, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The 1-based line, when the text has the field.
    pub line: Option<usize>,
    /// The field, e.g. `settings[1].activationMaxMinutes` (empty for the file as a whole).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    /// A refusal of `field` located in `text`.
    pub fn at(text: &str, field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        let field = field.into();
        PolicyError { line: line_of(text, &field), field, message: message.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.field.is_empty()) {
            (Some(l), false) => write!(f, "line {l}, field {}: {}", self.field, self.message),
            (Some(l), true) => write!(f, "line {l}: {}", self.message),
            (None, false) => write!(f, "field {}: {}", self.field, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

impl From<PolicyError> for crate::DomainError {
    fn from(e: PolicyError) -> Self {
        let location = crate::Location { line: e.line, field: e.field.clone() };
        crate::DomainError::new(crate::ErrorKind::InvalidPolicy, e.to_string()).at(location)
    }
}
