//! The policy file: TOML text to a [`PolicyDoc`] (every refusal with its line and field), the
//! canonical rendering back, and finding a field's line in the text.

use serde::{Deserialize, Serialize};

use super::settings::SettingsValues;
use super::{
    AlertRulePolicy, AssignmentPolicy, FORMAT_VERSION, GroupPolicy, PolicyDoc, PolicyError, ResourcePolicy,
    ReviewPolicy, ReviewTargetPolicy, ReviewersPolicy, RolePolicy, SettingsPolicy,
};
use crate::permission::{Pattern, Permissions};
use crate::review::{IfNoResponse, Recurrence, ReviewEnd, ReviewSchedule, ReviewedKinds};
use crate::scope::ScopePath;
use crate::{AssignmentKind, DomainError, ErrorKind, Timestamp};

/// What `render` writes first.
const HEADER: &str = "# pim policy, written by `pim export`. Review it in git; `pim plan -f FILE` shows what\n\
                      # applying it changes and `pim apply -f FILE` applies it (see docs/POLICY.md).\n\n";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileIn {
    version: u32,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    resources: Vec<ResourceEntry>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
    #[serde(default)]
    groups: Vec<GroupEntry>,
    #[serde(default)]
    settings: Vec<toml::Table>,
    #[serde(default)]
    assignments: Vec<AssignmentEntry>,
    #[serde(default)]
    alert_rules: Vec<AlertRuleEntry>,
    #[serde(default)]
    reviews: Vec<ReviewEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileOut<'a> {
    version: u32,
    scope: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<ResourceEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<RoleEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    settings: Vec<SettingsOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    assignments: Vec<AssignmentEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reviews: Vec<ReviewEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alert_rules: Vec<AlertRuleEntry>,
}

/// A review definition as the file writes it: what equals the API's default is left out.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReviewEntry {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    kinds: ReviewedKinds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inactive_days: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    auto_apply: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    if_no_response: IfNoResponse,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    reason_required: bool,
    target: TargetEntry,
    reviewers: ReviewersEntry,
    schedule: ScheduleEntry,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
enum TargetEntry {
    Roles { roles: Vec<String>, scope: String },
    GroupMembership { group: String },
}

// Unit variants are empty structs: serde refuses unknown fields beside the tag only for those.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
enum ReviewersEntry {
    SelfReview {},
    Managers { fallback: Vec<String> },
    Selected { reviewers: Vec<String> },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScheduleEntry {
    start: String,
    #[serde(default, skip_serializing_if = "is_default")]
    recurrence: Recurrence,
    duration_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<EndEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
enum EndEntry {
    Never {},
    OnDate { at: String },
    AfterOccurrences { count: u32 },
}

impl ReviewEntry {
    fn of(r: &ReviewPolicy) -> ReviewEntry {
        ReviewEntry {
            name: r.name.clone(),
            description: r.description.clone(),
            kinds: r.kinds,
            inactive_days: r.inactive_days,
            auto_apply: r.auto_apply,
            if_no_response: r.if_no_response,
            reason_required: r.reason_required,
            target: match &r.target {
                ReviewTargetPolicy::Roles { roles, scope } => {
                    TargetEntry::Roles { roles: roles.clone(), scope: scope.as_str().to_owned() }
                }
                ReviewTargetPolicy::GroupMembership { group } => TargetEntry::GroupMembership { group: group.clone() },
            },
            reviewers: match &r.reviewers {
                ReviewersPolicy::SelfReview => ReviewersEntry::SelfReview {},
                ReviewersPolicy::Managers { fallback } => ReviewersEntry::Managers { fallback: fallback.clone() },
                ReviewersPolicy::Selected { reviewers } => ReviewersEntry::Selected { reviewers: reviewers.clone() },
            },
            schedule: ScheduleEntry {
                start: r.schedule.start.to_rfc3339(),
                recurrence: r.schedule.recurrence,
                duration_days: r.schedule.duration_days,
                end: match r.schedule.end {
                    ReviewEnd::Never => None,
                    ReviewEnd::OnDate { at } => Some(EndEntry::OnDate { at: at.to_rfc3339() }),
                    ReviewEnd::AfterOccurrences { count } => Some(EndEntry::AfterOccurrences { count }),
                },
            },
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AlertRuleEntry {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<crate::alert::Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    thresholds: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResourceEntry {
    scope: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleEntry {
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    not_actions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupEntry {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Serialize)]
struct SettingsOut<'a> {
    role: &'a str,
    scope: &'a str,
    #[serde(flatten)]
    values: &'a SettingsValues,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssignmentEntry {
    principal: String,
    role: String,
    scope: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

/// The canonical text of `doc` (sorted first), which `parse` reads back to the same document.
pub fn render(doc: &PolicyDoc) -> Result<String, DomainError> {
    let mut doc = doc.clone();
    doc.sort();
    let out = FileOut {
        version: FORMAT_VERSION,
        scope: doc.scope.as_str(),
        resources: doc
            .resources
            .iter()
            .map(|r| ResourceEntry { scope: r.scope.as_str().to_owned(), name: r.name.clone(), kind: r.kind.clone() })
            .collect(),
        roles: doc
            .roles
            .iter()
            .map(|r| RoleEntry {
                name: r.name.clone(),
                description: r.description.clone(),
                actions: r.actions.clone(),
                not_actions: r.not_actions.clone(),
            })
            .collect(),
        groups: doc.groups.iter().map(|g| GroupEntry { name: g.name.clone(), members: g.members.clone() }).collect(),
        settings: doc
            .settings
            .iter()
            .map(|s| SettingsOut { role: &s.role, scope: s.scope.as_str(), values: &s.values })
            .collect(),
        assignments: doc
            .assignments
            .iter()
            .map(|a| AssignmentEntry {
                principal: a.principal.clone(),
                role: a.role.clone(),
                scope: a.scope.as_str().to_owned(),
                kind: a.kind.as_str().to_owned(),
                end: a.end.map(Timestamp::to_rfc3339),
            })
            .collect(),
        reviews: doc.reviews.iter().map(ReviewEntry::of).collect(),
        alert_rules: doc
            .alert_rules
            .iter()
            .map(|r| AlertRuleEntry {
                id: r.id.clone(),
                severity: r.severity,
                enabled: r.enabled,
                thresholds: r.thresholds.clone(),
            })
            .collect(),
    };
    let body = toml::to_string(&out)
        .map_err(|e| DomainError::new(ErrorKind::InvalidPolicy, format!("the policy cannot be written: {e}")))?;
    Ok(format!("{HEADER}{body}"))
}

/// Reads a policy file: TOML syntax, known keys, version, scopes, action patterns, names, no
/// object listed twice, and settings and assignments inside the file's scope. Names are checked
/// against a server later (`pim-engine`), each refusal located with [`PolicyError::at`].
pub fn parse(text: &str) -> Result<PolicyDoc, PolicyError> {
    let file: FileIn = toml::from_str(text).map_err(|e| PolicyError {
        line: e.span().map(|s| line_at(text, s.start)),
        field: String::new(),
        message: e.message().trim().to_owned(),
    })?;
    let at = |field: String, message: String| PolicyError::at(text, field, message);
    if file.version != FORMAT_VERSION {
        return Err(at("version".into(), format!("this server reads policy version {FORMAT_VERSION}")));
    }
    let scope = match &file.scope {
        Some(s) => ScopePath::parse(s).map_err(|e| at("scope".into(), e.to_string()))?,
        None => ScopePath::root(),
    };
    let mut doc = PolicyDoc::empty(scope.clone());
    for (i, r) in file.resources.into_iter().enumerate() {
        let field = |k: &str| format!("resources[{i}].{k}");
        let s = inside(&scope, &r.scope).map_err(|m| at(field("scope"), m))?;
        if s.is_root() {
            return Err(at(field("scope"), "'/' is the directory itself and cannot be registered".into()));
        }
        label(&r.name).map_err(|m| at(field("name"), format!("name {m}")))?;
        label(&r.kind).map_err(|m| at(field("type"), format!("type {m}")))?;
        if doc.resources.iter().any(|o| o.scope == s) {
            return Err(at(field("scope"), format!("the resource at {s} is listed twice")));
        }
        doc.resources.push(ResourcePolicy { scope: s, name: r.name, kind: r.kind });
    }
    for (i, r) in file.roles.into_iter().enumerate() {
        let patterns = |list: &[String], key: &str| -> Result<Vec<Pattern>, PolicyError> {
            list.iter()
                .enumerate()
                .map(|(j, p)| Pattern::parse(p).map_err(|e| at(format!("roles[{i}].{key}[{j}]"), e.to_string())))
                .collect()
        };
        let permissions = Permissions {
            actions: patterns(&r.actions, "actions")?,
            not_actions: patterns(&r.not_actions, "notActions")?,
        };
        crate::role::validate_custom(&r.name, &r.description, &permissions)
            .map_err(|e| at(format!("roles[{i}]"), e.message))?;
        if doc.roles.iter().any(|o| o.name.eq_ignore_ascii_case(&r.name)) {
            return Err(at(format!("roles[{i}].name"), format!("the role '{}' is listed twice", r.name)));
        }
        doc.roles.push(RolePolicy {
            name: r.name,
            description: r.description,
            actions: r.actions,
            not_actions: r.not_actions,
        });
    }
    for (i, g) in file.groups.into_iter().enumerate() {
        crate::principal::validate_name(&g.name).map_err(|e| at(format!("groups[{i}].name"), e.message))?;
        if doc.groups.iter().any(|o| o.name.eq_ignore_ascii_case(&g.name)) {
            return Err(at(format!("groups[{i}].name"), format!("the group '{}' is listed twice", g.name)));
        }
        doc.groups.push(GroupPolicy { name: g.name, members: g.members });
    }
    for (i, mut t) in file.settings.into_iter().enumerate() {
        let role = take_string(&mut t, "role").map_err(|m| at(format!("settings[{i}].role"), m))?;
        let s = take_string(&mut t, "scope").map_err(|m| at(format!("settings[{i}].scope"), m))?;
        let s = inside(&scope, &s).map_err(|m| at(format!("settings[{i}].scope"), m))?;
        if doc.settings.iter().any(|o| o.role.eq_ignore_ascii_case(&role) && o.scope == s) {
            return Err(at(format!("settings[{i}]"), format!("the settings of '{role}' at {s} are listed twice")));
        }
        let values = match serde_json::to_value(&t) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(at(format!("settings[{i}]"), "the settings cannot be read".into())),
        };
        doc.settings.push(SettingsPolicy { role, scope: s, values });
    }
    for (i, a) in file.assignments.into_iter().enumerate() {
        let field = |k: &str| format!("assignments[{i}].{k}");
        let s = inside(&scope, &a.scope).map_err(|m| at(field("scope"), m))?;
        let kind = AssignmentKind::parse(&a.kind)
            .ok_or_else(|| at(field("type"), format!("'{}' is neither eligible nor active", a.kind)))?;
        let end = match &a.end {
            None => None,
            Some(_) if kind == AssignmentKind::Active => {
                return Err(at(
                    field("end"),
                    "active assignments in a policy are permanent (time-bound access is activated, not declared)"
                        .into(),
                ));
            }
            Some(e) => Some(Timestamp::parse_rfc3339(e).map_err(|m| at(field("end"), m))?),
        };
        let p = AssignmentPolicy { principal: a.principal, role: a.role, scope: s, kind, end };
        if doc.assignments.iter().any(|o| o.key() == p.key()) {
            return Err(at(format!("assignments[{i}]"), "this assignment is listed twice".into()));
        }
        doc.assignments.push(p);
    }
    for (i, r) in file.alert_rules.into_iter().enumerate() {
        let field = |k: &str| format!("alertRules[{i}].{k}");
        if !scope.is_root() {
            return Err(at(format!("alertRules[{i}]"), "alert rules are global: they belong in a file for /".into()));
        }
        let def = crate::alert::rule_def(&r.id).ok_or_else(|| {
            let known: Vec<&str> = crate::alert::RULES.iter().map(|d| d.id).collect();
            at(field("id"), format!("no alert rule is named '{}' (rules: {})", r.id, known.join(", ")))
        })?;
        def.check_thresholds(&r.thresholds).map_err(|e| at(field("thresholds"), e.message))?;
        if doc.alert_rules.iter().any(|o| o.id == r.id) {
            return Err(at(format!("alertRules[{i}]"), format!("the alert rule '{}' is listed twice", r.id)));
        }
        let p = AlertRulePolicy { id: r.id, severity: r.severity, enabled: r.enabled, thresholds: r.thresholds };
        doc.alert_rules.push(p.canonical());
    }
    for (i, r) in file.reviews.into_iter().enumerate() {
        let p = review(&scope, i, r).map_err(|(f, m)| at(f, m))?;
        if doc.reviews.iter().any(|o| o.name.eq_ignore_ascii_case(&p.name)) {
            return Err(at(format!("reviews[{i}].name"), format!("the access review '{}' is listed twice", p.name)));
        }
        doc.reviews.push(p);
    }
    Ok(doc)
}

/// The review of entry `i`, checked as far as names allow (the rules of `validate_definition`
/// and `validate_extras`); a refusal is `(field, message)`.
fn review(scope: &ScopePath, i: usize, r: ReviewEntry) -> Result<ReviewPolicy, (String, String)> {
    use crate::review::{MAX_ROLES, validate_extras};
    let field = |k: &str| format!("reviews[{i}].{k}");
    let name = r.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err((field("name"), "a review's name must be 1-200 printable characters".into()));
    }
    let description = r.description.filter(|d| !d.trim().is_empty());
    validate_extras(description.as_deref(), None).map_err(|e| (field("description"), e.message))?;
    validate_extras(None, r.inactive_days).map_err(|e| (field("inactiveDays"), e.message))?;
    let target = match r.target {
        TargetEntry::Roles { roles, scope: s } => {
            if roles.is_empty() || roles.len() > MAX_ROLES {
                return Err((field("target.roles"), format!("a review names 1 to {MAX_ROLES} roles")));
            }
            let s = inside(scope, &s).map_err(|m| (field("target.scope"), m))?;
            ReviewTargetPolicy::Roles { roles, scope: s }
        }
        TargetEntry::GroupMembership { group } => {
            if !scope.is_root() {
                return Err((
                    field("target"),
                    "a review of a group's membership is at the group's own scope: it belongs in a file for /".into(),
                ));
            }
            ReviewTargetPolicy::GroupMembership { group }
        }
    };
    let reviewers = match r.reviewers {
        ReviewersEntry::SelfReview {} => ReviewersPolicy::SelfReview,
        ReviewersEntry::Managers { fallback } => ReviewersPolicy::Managers { fallback },
        ReviewersEntry::Selected { reviewers } => ReviewersPolicy::Selected { reviewers },
    };
    if let ReviewersPolicy::Managers { fallback: n } | ReviewersPolicy::Selected { reviewers: n } = &reviewers {
        let key = if matches!(reviewers, ReviewersPolicy::Managers { .. }) { "fallback" } else { "reviewers" };
        if n.is_empty() || n.len() > 100 {
            return Err((field(&format!("reviewers.{key}")), "name 1 to 100 users or groups".into()));
        }
    }
    let time = |v: &str, k: &str| Timestamp::parse_rfc3339(v).map_err(|m| (field(k), m));
    let schedule = ReviewSchedule {
        start: time(&r.schedule.start, "schedule.start")?,
        recurrence: r.schedule.recurrence,
        duration_days: r.schedule.duration_days,
        end: match r.schedule.end {
            None | Some(EndEntry::Never {}) => ReviewEnd::Never,
            Some(EndEntry::OnDate { at }) => ReviewEnd::OnDate { at: time(&at, "schedule.end.at")? },
            Some(EndEntry::AfterOccurrences { count }) => ReviewEnd::AfterOccurrences { count },
        },
    };
    schedule.validate().map_err(|e| {
        // The message starts with the key it is about: `durationDays must ...`, `end.at must ...`.
        let key = e.message.split_whitespace().next().unwrap_or_default();
        let known = ["durationDays", "end.count", "end.at"].contains(&key);
        let f = if known { field(&format!("schedule.{key}")) } else { field("schedule") };
        (f, e.message)
    })?;
    Ok(ReviewPolicy {
        name,
        description,
        target,
        kinds: r.kinds,
        inactive_days: r.inactive_days,
        reviewers,
        schedule,
        auto_apply: r.auto_apply,
        if_no_response: r.if_no_response,
        reason_required: r.reason_required,
    })
}

/// A resource's name or type: 1-200 printable characters (as the resources API checks them).
fn label(v: &str) -> Result<(), String> {
    if v.trim().is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        return Err("must be 1-200 printable characters".into());
    }
    Ok(())
}

fn take_string(t: &mut toml::Table, key: &str) -> Result<String, String> {
    match t.remove(key) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{key} must be a string")),
        None => Err(format!("missing field `{key}`")),
    }
}

/// `s` as a scope at or below the file's `scope`.
fn inside(scope: &ScopePath, s: &str) -> Result<ScopePath, String> {
    let p = ScopePath::parse(s).map_err(|e| e.to_string())?;
    if scope.contains(&p) { Ok(p) } else { Err(format!("{p} is outside the file's scope {scope}")) }
}

/// One step of a field path.
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// `settings[1].approvalStages[0].approvers` as its steps.
pub(super) fn segments(field: &str) -> Vec<Seg> {
    let mut out = vec![];
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            out.push(Seg::Key(rest[..open].to_owned()));
            rest = &rest[open..];
            while let Some(close) = rest.find(']') {
                if let Ok(i) = rest[1..close].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &rest[close + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_owned()));
        }
    }
    out
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The line of `field` (e.g. `settings[1].activationMaxMinutes`) in `text`: the deepest part of
/// the path the text has (a missing key points at its table).
pub fn line_of(text: &str, field: &str) -> Option<usize> {
    use toml_edit::{Item, Key, Table, Value};
    fn keyed<'a>(k: Option<(&'a Key, &'a Item)>) -> Option<(Option<std::ops::Range<usize>>, &'a Item)> {
        k.map(|(key, item)| (key.span(), item))
    }
    enum Node<'a> {
        Table(&'a Table),
        Item(&'a Item),
        Value(&'a Value),
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut node = Node::Table(doc.as_table());
    let mut span: Option<std::ops::Range<usize>> = None;
    for seg in segments(field) {
        let (found, next) = match (node, &seg) {
            (Node::Table(t) | Node::Item(Item::Table(t)), Seg::Key(k)) => match keyed(t.get_key_value(k)) {
                Some((sp, item)) => (sp, Node::Item(item)),
                None => break,
            },
            (Node::Item(Item::Value(Value::InlineTable(t))) | Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                match keyed(t.get_key_value(k)) {
                    Some((sp, item)) => (sp, Node::Item(item)),
                    None => break,
                }
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => match a.get(*i) {
                Some(t) => (t.span(), Node::Table(t)),
                None => break,
            },
            (Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)), Seg::Index(i)) => {
                match a.get(*i) {
                    Some(v) => (v.span(), Node::Value(v)),
                    None => break,
                }
            }
            _ => break,
        };
        if found.is_some() {
            span = found;
        }
        node = next;
    }
    span.map(|s| line_at(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"version = 1

[[roles]]
name = "DB Operator"
actions = ["db.*"]

[[settings]]
role = "DB Operator"
scope = "/db"
activationMaxMinutes = 60

[[settings.approvalStages]]
approvers = ["alice",
  "bob"]

[[assignments]]
principal = "alice"
role = "DB Operator"
scope = "/db"
type = "eligible"

[[alertRules]]
id = "tooManyGlobalAdmins"
severity = "high"
thresholds = { count = 1, percent = 10 }
"#;

    #[test]
    fn reads_and_renders_back_the_same_document() {
        let doc = parse(TEXT).unwrap();
        assert_eq!(doc.roles[0].name, "DB Operator");
        assert_eq!(doc.settings[0].values["activationMaxMinutes"], 60);
        assert_eq!(doc.assignments[0].kind, AssignmentKind::Eligible);
        // Values equal to the defaults are not policy: `percent = 10` is the default.
        assert_eq!(doc.alert_rules[0].thresholds.keys().collect::<Vec<_>>(), ["count"]);
        let text = render(&doc).unwrap();
        assert_eq!(parse(&text).unwrap(), doc);
        assert_eq!(render(&parse(&text).unwrap()).unwrap(), text);
    }

    #[test]
    fn resources_are_keyed_by_scope_in_tree_order() {
        let text = "version = 1\n\n[[resources]]\nscope = \"/a-b\"\nname = \"AB\"\ntype = \"x\"\n\n\
                    [[resources]]\nscope = \"/a/b\"\nname = \"B\"\ntype = \"y\"\n\n\
                    [[resources]]\nscope = \"/a\"\nname = \"A\"\ntype = \"z\"\n";
        let doc = parse(text).unwrap();
        let rendered = render(&doc).unwrap();
        let scopes: Vec<&str> = rendered.lines().filter(|l| l.starts_with("scope = \"/a")).collect();
        assert_eq!(scopes, ["scope = \"/a\"", "scope = \"/a/b\"", "scope = \"/a-b\""], "depth first");
        assert_eq!(render(&parse(&rendered).unwrap()).unwrap(), rendered);
        let twice = format!("{text}\n[[resources]]\nscope = \"/a\"\nname = \"again\"\ntype = \"z\"\n");
        let e = parse(&twice).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("resources[3].scope", Some(19)));
        let located = crate::DomainError::from(e);
        assert_eq!(located.location, Some(crate::Location { line: Some(19), field: "resources[3].scope".into() }));
        let e = parse("version = 1\nscope = \"/a\"\n\n[[resources]]\nscope = \"/b\"\nname = \"B\"\ntype = \"y\"\n");
        assert_eq!(e.unwrap_err().field, "resources[0].scope", "outside the file's scope");
    }

    #[test]
    fn fields_are_found_on_their_line() {
        assert_eq!(line_of(TEXT, "version"), Some(1));
        assert_eq!(line_of(TEXT, "roles[0].actions"), Some(5));
        assert_eq!(line_of(TEXT, "settings[0].activationMaxMinutes"), Some(10));
        assert_eq!(line_of(TEXT, "settings[0].approvalStages[0].approvers[1]"), Some(14));
        assert_eq!(line_of(TEXT, "assignments[0].type"), Some(20));
        // A key the table lacks points at the deepest part found.
        assert_eq!(line_of(TEXT, "settings[0].nothing"), Some(7));
    }

    #[test]
    fn refusals_carry_line_and_field() {
        let bad_scope = TEXT.replace("scope = \"/db\"\ntype", "scope = \"/db/../x\"\ntype");
        let e = parse(&bad_scope).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(19), "assignments[0].scope"), "{e}");
        let unknown = TEXT.replace("actions = [\"db.*\"]", "actions = [\"db.*\"]\ncolour = \"red\"");
        let e = parse(&unknown).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("colour"), "{e}");
        let bad_kind = TEXT.replace("\"eligible\"", "\"permanent\"");
        assert_eq!(
            parse(&bad_kind).unwrap_err().to_string(),
            "line 20, field assignments[0].type: 'permanent' is neither eligible nor active"
        );
        let bad_threshold = TEXT.replace("count = 1,", "count = 0,");
        let e = parse(&bad_threshold).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(25), "alertRules[0].thresholds"), "{e}");
        let scoped = TEXT.replace("version = 1\n", "version = 1\nscope = \"/db\"\n");
        assert_eq!(parse(&scoped).unwrap_err().field, "alertRules[0]");
    }

    const REVIEW: &str = r#"version = 1

[[reviews]]
name = "DB operators"
kinds = "eligible"

[reviews.target]
type = "roles"
roles = ["DB Operator", "Reader", "DB Operator"]
scope = "/db"

[reviews.reviewers]
type = "selected"
reviewers = ["leads"]

[reviews.schedule]
start = "2027-01-04T09:00:00Z"
recurrence = "quarterly"
durationDays = 14
"#;

    #[test]
    fn reviews_read_with_the_api_defaults_and_render_back_canonically() {
        let doc = parse(REVIEW).unwrap();
        let r = &doc.reviews[0];
        assert!(r.reason_required && !r.auto_apply, "the API's defaults");
        assert_eq!((r.schedule.end, r.if_no_response), (ReviewEnd::Never, IfNoResponse::NoChange));
        let text = render(&doc).unwrap();
        assert!(text.contains("roles = [\"DB Operator\", \"Reader\"]\n"), "sorted, each once:\n{text}");
        assert!(text.contains("start = \"2027-01-04T09:00:00.000Z\"\n"), "{text}");
        assert!(!text.contains("reasonRequired") && !text.contains("[reviews.schedule.end]"), "defaults:\n{text}");
        assert_eq!(render(&parse(&text).unwrap()).unwrap(), text);
        let ended =
            text.replace("durationDays = 14\n", "durationDays = 14\n\n[reviews.schedule.end]\ntype = \"never\"\n");
        assert_eq!(render(&parse(&ended).unwrap()).unwrap(), text, "an explicit default is the same policy");
    }

    #[test]
    fn review_refusals_carry_line_and_field() {
        let line = |text: &str, needle: &str| text.lines().position(|l| l == needle).map(|i| i + 1);
        for (from, to, field) in [
            ("durationDays = 14", "durationDays = 0", "reviews[0].schedule.durationDays"),
            ("recurrence = \"quarterly\"", "recurrence = \"weekly\"", "reviews[0].schedule.durationDays"),
            ("scope = \"/db\"", "scope = \"db\"", "reviews[0].target.scope"),
            ("reviewers = [\"leads\"]", "reviewers = []", "reviews[0].reviewers.reviewers"),
            ("roles = [\"DB Operator\", \"Reader\", \"DB Operator\"]", "roles = []", "reviews[0].target.roles"),
            ("start = \"2027-01-04T09:00:00Z\"", "start = \"soon\"", "reviews[0].schedule.start"),
            ("name = \"DB operators\"", "name = \" \"", "reviews[0].name"),
        ] {
            let text = REVIEW.replace(from, to);
            let e = parse(&text).unwrap_err();
            assert_eq!(e.field, field, "{to}: {e}");
            let expected = if field.ends_with("durationDays") {
                line(&text, "durationDays = 14").or(line(&text, to))
            } else {
                line(&text, to)
            };
            assert_eq!(e.line, expected, "{to}: {e}");
        }
        let twice = format!(
            "{REVIEW}\n{}",
            &REVIEW[REVIEW.find("[[reviews]]").unwrap()..].replace("DB operators", "db OPERATORS")
        );
        assert_eq!(parse(&twice).unwrap_err().field, "reviews[1].name");
        let scoped = REVIEW.replace("version = 1\n", "version = 1\nscope = \"/db/orders\"\n");
        assert_eq!(parse(&scoped).unwrap_err().field, "reviews[0].target.scope", "outside the file's scope");
    }
}
