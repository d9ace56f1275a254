//! Role settings as a policy file writes them: only what differs from the defaults, approvers by
//! name; and back, with the field of every refusal.

use serde_json::{Map, Value};

use crate::ids::PrincipalId;
use crate::settings::{ApproverRef, RoleSettings};

/// Settings keys and values (camelCase, as the API writes them).
pub type SettingsValues = Map<String, Value>;

/// The settings that differ from the defaults, with each approver's id replaced by its name
/// (`name_of`; an approver without a name keeps its id as text).
pub fn settings_values(s: &RoleSettings, name_of: &dyn Fn(PrincipalId) -> Option<String>) -> SettingsValues {
    let defaults = to_map(&RoleSettings::default());
    let mut out = to_map(s);
    out.retain(|k, v| defaults.get(k) != Some(v));
    if let Some(Value::Array(stages)) = out.get_mut("approvalStages") {
        for stage in stages.iter_mut() {
            name_approvers(stage.get_mut("approvers"), name_of);
            if let Some(e) = stage.get_mut("escalation") {
                name_approvers(e.get_mut("approvers"), name_of);
            }
        }
    }
    out
}

/// The default value of a settings key.
pub(super) fn default_of(key: &str) -> Option<Value> {
    to_map(&RoleSettings::default()).remove(key)
}

fn to_map(s: &RoleSettings) -> SettingsValues {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn name_approvers(list: Option<&mut Value>, name_of: &dyn Fn(PrincipalId) -> Option<String>) {
    let Some(Value::Array(list)) = list else { return };
    for a in list.iter_mut() {
        let id = a.get("id").and_then(Value::as_str).and_then(|s| s.parse::<PrincipalId>().ok());
        if let Some(id) = id {
            *a = Value::String(name_of(id).unwrap_or_else(|| id.to_string()));
        }
    }
}

/// Every approver name in `values`, with its field (`approvalStages[0].approvers[1]`).
pub fn approver_names(values: &SettingsValues) -> Vec<(String, String)> {
    let mut out = vec![];
    let Some(Value::Array(stages)) = values.get("approvalStages") else { return out };
    for (i, stage) in stages.iter().enumerate() {
        let lists = [
            (format!("approvalStages[{i}].approvers"), stage.get("approvers")),
            (
                format!("approvalStages[{i}].escalation.approvers"),
                stage.get("escalation").and_then(|e| e.get("approvers")),
            ),
        ];
        for (field, list) in lists {
            if let Some(Value::Array(list)) = list {
                for (j, a) in list.iter().enumerate() {
                    if let Value::String(name) = a {
                        out.push((format!("{field}[{j}]"), name.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The settings `values` describe over the defaults, each approver name resolved by `resolve`
/// (`None`: unknown). A refusal is `(field, message)`; range checks are [`RoleSettings::validate`]'s.
pub fn settings_from_values(
    values: &SettingsValues,
    resolve: &dyn Fn(&str) -> Option<ApproverRef>,
) -> Result<RoleSettings, (String, String)> {
    let mut v = values.clone();
    for (field, name) in approver_names(values) {
        let Some(r) = resolve(&name) else {
            return Err((field, format!("approver '{name}' is not a user or group")));
        };
        set_at(&mut v, &field, serde_json::json!({ "kind": r.kind, "id": r.id }));
    }
    // One key at a time first, so a refusal names its field.
    for (k, value) in &v {
        let one: Map<String, Value> = [(k.clone(), value.clone())].into_iter().collect();
        if let Err(e) = serde_json::from_value::<RoleSettings>(Value::Object(one)) {
            return Err((k.clone(), e.to_string()));
        }
    }
    let s: RoleSettings = serde_json::from_value(Value::Object(v)).map_err(|e| (String::new(), e.to_string()))?;
    s.validate().map_err(|e| (field_of_message(&e.message), e.message))?;
    Ok(s)
}

/// The field a settings message begins with (`approvalStages[0].timeoutMinutes must be ...`).
fn field_of_message(message: &str) -> String {
    let first = message.split([' ', ':']).next().unwrap_or_default();
    let looks_like_field = first.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && first.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']'));
    if looks_like_field { first.to_owned() } else { String::new() }
}

/// Replaces the value at `field` (`a[0].b[1]`) in `v`.
fn set_at(v: &mut SettingsValues, field: &str, new: Value) {
    let segs = super::file::segments(field);
    let mut cur: Option<&mut Value> = None;
    for (n, seg) in segs.iter().enumerate() {
        let next = match (seg, cur) {
            (super::file::Seg::Key(k), None) => v.get_mut(k.as_str()),
            (super::file::Seg::Key(k), Some(c)) => c.get_mut(k.as_str()),
            (super::file::Seg::Index(i), Some(c)) => c.get_mut(*i),
            (super::file::Seg::Index(_), None) => None,
        };
        let Some(next) = next else { return };
        if n + 1 == segs.len() {
            *next = new;
            return;
        }
        cur = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::PrincipalKind;

    #[test]
    fn defaults_write_nothing_and_read_back() {
        let v = settings_values(&RoleSettings::default(), &|_| None);
        assert!(v.is_empty());
        assert_eq!(settings_from_values(&v, &|_| None).unwrap(), RoleSettings::default());
    }

    #[test]
    fn approvers_travel_by_name() {
        let id = PrincipalId::new();
        let mut s = RoleSettings { require_approval_to_activate: true, ..RoleSettings::default() };
        s.approval_stages.push(crate::settings::ApprovalStage {
            approvers: vec![ApproverRef { kind: PrincipalKind::Group, id }],
            required_approvals: 1,
            timeout_minutes: 60,
            escalation: None,
        });
        let v = settings_values(&s, &|p| (p == id).then(|| "dba-leads".to_owned()));
        assert_eq!(v["approvalStages"][0]["approvers"][0], "dba-leads");
        assert_eq!(approver_names(&v), vec![("approvalStages[0].approvers[0]".to_owned(), "dba-leads".to_owned())]);
        let back =
            settings_from_values(&v, &|n| (n == "dba-leads").then_some(ApproverRef { kind: PrincipalKind::Group, id }));
        assert_eq!(back.unwrap(), s);
        let unknown = settings_from_values(&v, &|_| None).unwrap_err();
        assert_eq!(unknown.0, "approvalStages[0].approvers[0]");
    }

    #[test]
    fn refusals_name_their_field() {
        let mut v = SettingsValues::new();
        v.insert("activationMaxMinutes".into(), Value::from(5000));
        assert_eq!(settings_from_values(&v, &|_| None).unwrap_err().0, "activationMaxMinutes");
        let mut v = SettingsValues::new();
        v.insert("requireMfaOnActivation".into(), Value::from("yes"));
        v.insert("activationMaxMinutez".into(), Value::from(60));
        let e = settings_from_values(&v, &|_| None).unwrap_err();
        assert_eq!(e.0, "activationMaxMinutez");
        assert!(e.1.contains("unknown field"), "{e:?}");
    }
}
