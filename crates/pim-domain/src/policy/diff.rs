//! The changes that make one policy document (the server's) into another (the file's), by names,
//! in the order apply carries them out: creations and updates first, removals last.

use serde_json::Value;

use super::settings::{SettingsValues, default_of};
use super::{AlertRulePolicy, AssignmentPolicy, PolicyDoc, ResourcePolicy, ReviewPolicy, RolePolicy};
use crate::scope::ScopePath;

/// One change, with what apply needs to carry it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyChange {
    /// A resource to register.
    CreateResource(ResourcePolicy),
    /// A registered resource whose name or type changes.
    UpdateResource {
        /// As the server has it.
        from: ResourcePolicy,
        /// As the file has it.
        to: ResourcePolicy,
    },
    /// A registered resource the file does not list.
    RemoveResource(ResourcePolicy),
    /// A custom role to create.
    CreateRole(RolePolicy),
    /// A custom role whose description or permissions change.
    UpdateRole {
        /// As the server has it.
        from: RolePolicy,
        /// As the file has it.
        to: RolePolicy,
    },
    /// A custom role the file does not list.
    RemoveRole(RolePolicy),
    /// A group to create.
    CreateGroup(String),
    /// A static member to add.
    AddMember {
        /// The group.
        group: String,
        /// The member's name.
        member: String,
    },
    /// A static member the file does not list.
    RemoveMember {
        /// The group.
        group: String,
        /// The member's name.
        member: String,
    },
    /// Settings to define or change at a scope.
    PutSettings {
        /// The role.
        role: String,
        /// Where.
        scope: ScopePath,
        /// The explicit settings there now, if any.
        from: Option<SettingsValues>,
        /// The settings the file wants.
        to: SettingsValues,
    },
    /// Explicit settings the file does not list (the scope inherits again).
    ResetSettings {
        /// The role.
        role: String,
        /// Where.
        scope: ScopePath,
        /// The explicit settings there now.
        from: SettingsValues,
    },
    /// An assignment to make.
    CreateAssignment(AssignmentPolicy),
    /// An eligible assignment whose end changes.
    UpdateAssignment {
        /// As the server has it.
        from: AssignmentPolicy,
        /// As the file has it.
        to: AssignmentPolicy,
    },
    /// An assignment the file does not list.
    RemoveAssignment(AssignmentPolicy),
    /// An alert rule whose settings change.
    SetAlertRule {
        /// As the server has it (empty: the defaults).
        from: AlertRulePolicy,
        /// As the file has it.
        to: AlertRulePolicy,
    },
    /// An alert rule configured on the server that the file does not list: back to its defaults.
    ResetAlertRule(AlertRulePolicy),
    /// An access review to create.
    CreateReview(ReviewPolicy),
    /// An access review whose definition changes (for its future instances).
    UpdateReview {
        /// As the server has it.
        from: ReviewPolicy,
        /// As the file has it.
        to: ReviewPolicy,
    },
    /// An access review the file does not list: stopped (stopped reviews are history).
    StopReview(ReviewPolicy),
}

/// One field that changes: its value before and after (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// The field, e.g. `activationMaxMinutes` or `end`.
    pub field: String,
    /// Before.
    pub from: Option<Value>,
    /// After.
    pub to: Option<Value>,
}

impl PolicyChange {
    /// `create`, `update` or `remove`.
    pub fn op(&self) -> &'static str {
        use PolicyChange::*;
        match self {
            CreateResource(_) | CreateRole(_) | CreateGroup(_) | AddMember { .. } | CreateAssignment(_) => "create",
            CreateReview(_) => "create",
            PutSettings { from: None, .. } => "create",
            UpdateResource { .. }
            | UpdateRole { .. }
            | PutSettings { .. }
            | UpdateAssignment { .. }
            | SetAlertRule { .. }
            | UpdateReview { .. } => "update",
            RemoveResource(_)
            | RemoveRole(_)
            | RemoveMember { .. }
            | ResetSettings { .. }
            | RemoveAssignment(_)
            | ResetAlertRule(_)
            | StopReview(_) => "remove",
        }
    }

    /// Whether it removes something (done only with prune).
    pub fn is_removal(&self) -> bool {
        self.op() == "remove"
    }

    /// `resource`, `role`, `group`, `member`, `settings`, `assignment`, `alertRule` or `review`.
    pub fn object(&self) -> &'static str {
        use PolicyChange::*;
        match self {
            CreateResource(_) | UpdateResource { .. } | RemoveResource(_) => "resource",
            CreateRole(_) | UpdateRole { .. } | RemoveRole(_) => "role",
            CreateGroup(_) => "group",
            AddMember { .. } | RemoveMember { .. } => "member",
            PutSettings { .. } | ResetSettings { .. } => "settings",
            CreateAssignment(_) | UpdateAssignment { .. } | RemoveAssignment(_) => "assignment",
            SetAlertRule { .. } | ResetAlertRule(_) => "alertRule",
            CreateReview(_) | UpdateReview { .. } | StopReview(_) => "review",
        }
    }

    /// The object in words: `DB Operator`, `alice in oncall`, `DB Operator at /db`,
    /// `eligible DB Operator at /db for alice`.
    pub fn key(&self) -> String {
        use PolicyChange::*;
        let assignment =
            |a: &AssignmentPolicy| format!("{} {} at {} for {}", a.kind.as_str(), a.role, a.scope, a.principal);
        match self {
            CreateResource(r) | RemoveResource(r) | UpdateResource { to: r, .. } => r.scope.to_string(),
            CreateRole(r) | RemoveRole(r) | UpdateRole { to: r, .. } => r.name.clone(),
            CreateGroup(g) => g.clone(),
            AddMember { group, member } | RemoveMember { group, member } => format!("{member} in {group}"),
            PutSettings { role, scope, .. } | ResetSettings { role, scope, .. } => format!("{role} at {scope}"),
            CreateAssignment(a) | RemoveAssignment(a) | UpdateAssignment { to: a, .. } => assignment(a),
            SetAlertRule { to: r, .. } | ResetAlertRule(r) => r.id.clone(),
            CreateReview(r) | StopReview(r) | UpdateReview { to: r, .. } => r.name.clone(),
        }
    }

    /// What changes, field by field (settings: every key whose value in force differs).
    pub fn fields(&self) -> Vec<FieldDiff> {
        use PolicyChange::*;
        match self {
            UpdateResource { from, to } => {
                let mut out = vec![];
                if from.name != to.name {
                    out.push(field("name", Some(from.name.clone().into()), Some(to.name.clone().into())));
                }
                if from.kind != to.kind {
                    out.push(field("type", Some(from.kind.clone().into()), Some(to.kind.clone().into())));
                }
                out
            }
            UpdateRole { from, to } => {
                let mut out = vec![];
                let strings = |v: &[String]| Some(Value::from(v.to_vec()));
                if from.description != to.description {
                    out.push(field(
                        "description",
                        Some(from.description.clone().into()),
                        Some(to.description.clone().into()),
                    ));
                }
                if from.actions != to.actions {
                    out.push(field("actions", strings(&from.actions), strings(&to.actions)));
                }
                if from.not_actions != to.not_actions {
                    out.push(field("notActions", strings(&from.not_actions), strings(&to.not_actions)));
                }
                out
            }
            PutSettings { from, to, .. } => settings_fields(from.as_ref(), Some(to)),
            ResetSettings { from, .. } => settings_fields(Some(from), None),
            UpdateAssignment { from, to } => {
                let end = |a: &AssignmentPolicy| a.end.map(|t| Value::from(t.to_rfc3339()));
                vec![field("end", end(from), end(to))]
            }
            SetAlertRule { from, to } => rule_fields(from, to),
            ResetAlertRule(from) => {
                rule_fields(from, &AlertRulePolicy { id: from.id.clone(), ..AlertRulePolicy::default() })
            }
            UpdateReview { from, to } => from
                .fields()
                .into_iter()
                .zip(to.fields())
                .filter(|((_, a), (_, b))| a != b)
                .map(|((k, a), (_, b))| field(k, (!a.is_null()).then_some(a), (!b.is_null()).then_some(b)))
                .collect(),
            _ => vec![],
        }
    }
}

/// The values in force of an alert rule that differ.
fn rule_fields(from: &AlertRulePolicy, to: &AlertRulePolicy) -> Vec<FieldDiff> {
    let ((fs, fe, ft), (ts, te, tt)) = (from.full(), to.full());
    let mut out = vec![];
    if fs != ts {
        out.push(field("severity", Some(fs.as_str().into()), Some(ts.as_str().into())));
    }
    if fe != te {
        out.push(field("enabled", Some(fe.into()), Some(te.into())));
    }
    for (k, v) in &tt {
        if ft.get(k) != Some(v) {
            out.push(field(&format!("thresholds.{k}"), ft.get(k).map(|x| (*x).into()), Some((*v).into())));
        }
    }
    out
}

fn field(name: &str, from: Option<Value>, to: Option<Value>) -> FieldDiff {
    FieldDiff { field: name.to_owned(), from, to }
}

/// The keys whose value differs between two sets of explicit settings, each side read over the
/// defaults (`None`: no explicit settings, i.e. inherited; shown as the defaults).
fn settings_fields(from: Option<&SettingsValues>, to: Option<&SettingsValues>) -> Vec<FieldDiff> {
    let empty = SettingsValues::new();
    let (f, t) = (from.unwrap_or(&empty), to.unwrap_or(&empty));
    let mut keys: Vec<&String> = f.keys().chain(t.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let before = f.get(k).cloned().or_else(|| default_of(k));
            let after = t.get(k).cloned().or_else(|| default_of(k));
            (before != after).then(|| field(k, before, after))
        })
        .collect()
}

/// The changes that turn `current` into `desired` (both sorted, names as the server spells them).
/// Roles the file does not list are removed only when it covers `/`; groups it does not list are
/// never touched.
pub fn diff(current: &PolicyDoc, desired: &PolicyDoc) -> Vec<PolicyChange> {
    use PolicyChange::*;
    let mut out = vec![];
    let mut removals = vec![];
    for r in &desired.resources {
        match current.resources.iter().find(|c| c.scope == r.scope) {
            None => out.push(CreateResource(r.clone())),
            Some(c) if c != r => out.push(UpdateResource { from: c.clone(), to: r.clone() }),
            Some(_) => {}
        }
    }
    for r in &desired.roles {
        match current.roles.iter().find(|c| c.name == r.name) {
            None => out.push(CreateRole(r.clone())),
            Some(c) if c != r => out.push(UpdateRole { from: c.clone(), to: r.clone() }),
            Some(_) => {}
        }
    }
    for g in &desired.groups {
        let have = current.groups.iter().find(|c| c.name == g.name);
        if have.is_none() {
            out.push(CreateGroup(g.name.clone()));
        }
        let members = have.map(|h| h.members.as_slice()).unwrap_or_default();
        for m in g.members.iter().filter(|m| !members.contains(m)) {
            out.push(AddMember { group: g.name.clone(), member: m.clone() });
        }
        for m in members.iter().filter(|m| !g.members.contains(m)) {
            removals.push(RemoveMember { group: g.name.clone(), member: m.clone() });
        }
    }
    for s in &desired.settings {
        match current.settings.iter().find(|c| c.role == s.role && c.scope == s.scope) {
            None => {
                out.push(PutSettings { role: s.role.clone(), scope: s.scope.clone(), from: None, to: s.values.clone() })
            }
            Some(c) if c.values != s.values => out.push(PutSettings {
                role: s.role.clone(),
                scope: s.scope.clone(),
                from: Some(c.values.clone()),
                to: s.values.clone(),
            }),
            Some(_) => {}
        }
    }
    for a in &desired.assignments {
        match current.assignments.iter().find(|c| c.key() == a.key()) {
            None => out.push(CreateAssignment(a.clone())),
            Some(c) if c.end != a.end => out.push(UpdateAssignment { from: c.clone(), to: a.clone() }),
            Some(_) => {}
        }
    }
    if desired.scope.is_root() {
        for r in &desired.alert_rules {
            let from = current.alert_rules.iter().find(|c| c.id == r.id).cloned();
            let from = from.unwrap_or_else(|| AlertRulePolicy { id: r.id.clone(), ..AlertRulePolicy::default() });
            if &from != r {
                out.push(SetAlertRule { from, to: r.clone() });
            }
        }
    }
    for r in &desired.reviews {
        match current.reviews.iter().find(|c| c.name == r.name) {
            None => out.push(CreateReview(r.clone())),
            Some(c) if c != r => out.push(UpdateReview { from: c.clone(), to: r.clone() }),
            Some(_) => {}
        }
    }
    let mut tail = vec![];
    for r in current.reviews.iter().filter(|c| !desired.reviews.iter().any(|r| r.name == c.name)) {
        tail.push(StopReview(r.clone()));
    }
    for r in current.resources.iter().filter(|c| !desired.resources.iter().any(|r| r.scope == c.scope)) {
        tail.push(RemoveResource(r.clone()));
    }
    for a in current.assignments.iter().filter(|c| !desired.assignments.iter().any(|a| a.key() == c.key())) {
        tail.push(RemoveAssignment(a.clone()));
    }
    for c in
        current.settings.iter().filter(|c| !desired.settings.iter().any(|s| s.role == c.role && s.scope == c.scope))
    {
        tail.push(ResetSettings { role: c.role.clone(), scope: c.scope.clone(), from: c.values.clone() });
    }
    tail.append(&mut removals);
    if desired.scope.is_root() {
        for r in current.alert_rules.iter().filter(|c| !desired.alert_rules.iter().any(|r| r.id == c.id)) {
            tail.push(ResetAlertRule(r.clone()));
        }
        for r in current.roles.iter().filter(|c| !desired.roles.iter().any(|r| r.name == c.name)) {
            tail.push(RemoveRole(r.clone()));
        }
    }
    out.append(&mut tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AssignmentKind;

    fn doc() -> PolicyDoc {
        let mut d = PolicyDoc::empty(ScopePath::root());
        d.roles.push(RolePolicy {
            name: "Ops".into(),
            description: String::new(),
            actions: vec!["ops.*".into()],
            not_actions: vec![],
        });
        d.groups.push(super::super::GroupPolicy { name: "oncall".into(), members: vec!["alice".into()] });
        d.assignments.push(AssignmentPolicy {
            principal: "oncall".into(),
            role: "Ops".into(),
            scope: ScopePath::root(),
            kind: AssignmentKind::Eligible,
            end: None,
        });
        d
    }

    #[test]
    fn the_same_document_has_no_changes() {
        assert!(diff(&doc(), &doc()).is_empty());
    }

    #[test]
    fn each_edit_is_one_change_and_removals_come_last() {
        let current = doc();
        let mut desired = doc();
        desired.roles[0].actions.push("db.read".into());
        desired.groups[0].members = vec!["bob".into()];
        desired.assignments.clear();
        let mut s = SettingsValues::new();
        s.insert("activationMaxMinutes".into(), Value::from(60));
        desired.settings.push(super::super::SettingsPolicy { role: "Ops".into(), scope: ScopePath::root(), values: s });
        let changes = diff(&current, &desired);
        let summary: Vec<(&str, &str, String)> = changes.iter().map(|c| (c.op(), c.object(), c.key())).collect();
        assert_eq!(
            summary,
            vec![
                ("update", "role", "Ops".to_owned()),
                ("create", "member", "bob in oncall".to_owned()),
                ("create", "settings", "Ops at /".to_owned()),
                ("remove", "assignment", "eligible Ops at / for oncall".to_owned()),
                ("remove", "member", "alice in oncall".to_owned()),
            ]
        );
        assert_eq!(
            changes[2].fields(),
            vec![field("activationMaxMinutes", Some(Value::from(480)), Some(Value::from(60)))]
        );
    }

    #[test]
    fn a_file_below_the_root_never_removes_roles() {
        let current = doc();
        let mut desired = PolicyDoc::empty(ScopePath::parse("/db").unwrap());
        desired.groups = current.groups.clone();
        assert!(diff(&current, &desired).iter().all(|c| c.object() != "role"));
        assert!(diff(&current, &PolicyDoc::empty(ScopePath::root())).iter().any(|c| c.object() == "role"));
    }
}
