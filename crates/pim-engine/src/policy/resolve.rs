//! A policy file checked against the server: every role and principal it names exists with the
//! kind it needs (or is declared in the file), settings are in range, and every name is spelled
//! as the server spells it. Each refusal carries the file's line and field.

use std::collections::HashMap;

use pim_domain::policy::{
    PolicyDoc, PolicyError, ReviewTargetPolicy, ReviewersPolicy, approver_names, settings_from_values, settings_values,
};
use pim_domain::settings::ApproverRef;
use pim_domain::{Principal, PrincipalId, PrincipalKind, RoleSettings, Timestamp};
use pim_store::{AnyConnection, q};

use super::current::principals;
use crate::error::{EngineError, Result};
use crate::reviews::MAX_START_IN_PAST_MS;

/// Names as the server knows them, plus what the file declares.
pub(crate) struct Names {
    /// Principals by lower-case name.
    principals: HashMap<String, Principal>,
    /// Roles (built-in and custom) by lower-case name, with their spelling and whether built-in.
    roles: HashMap<String, (String, bool)>,
    /// The reviews not stopped: lower-case name, spelling, and the scope of their target.
    reviews: Vec<(String, String, pim_domain::ScopePath)>,
}

impl Names {
    /// Reads the server's names.
    pub(crate) async fn load(c: &mut AnyConnection) -> Result<Names> {
        let principals = principals(c).await?.into_values().map(|p| (p.name.to_lowercase(), p)).collect();
        let roles = q::list_roles(c).await?.into_iter().map(|r| (r.name.to_lowercase(), (r.name, r.builtin))).collect();
        let reviews = q::list_reviews(c, true)
            .await?
            .into_iter()
            .map(|r| (r.name.to_lowercase(), r.name.clone(), crate::reviews::target_scope(&r.target)))
            .collect();
        Ok(Names { principals, roles, reviews })
    }

    /// The principal named `name`.
    pub(crate) fn principal(&self, name: &str) -> Option<&Principal> {
        self.principals.get(&name.to_lowercase())
    }
}

fn refused(text: &str, field: String, message: String) -> EngineError {
    EngineError::Refused(PolicyError::at(text, field, message).into())
}

/// Checks the parsed `doc` (from `text`) against `names` and returns it in canonical form: the
/// server's spelling of every existing name, settings written as `render` writes them, sorted.
pub(crate) fn resolve(text: &str, mut doc: PolicyDoc, names: &Names, now: Timestamp) -> Result<PolicyDoc> {
    let declared_roles: Vec<String> = doc.roles.iter().map(|r| r.name.to_lowercase()).collect();
    let declared_role = |n: &str| declared_roles.contains(&n.to_lowercase());
    for (i, r) in doc.roles.iter_mut().enumerate() {
        if let Some((spelling, builtin)) = names.roles.get(&r.name.to_lowercase()) {
            if *builtin {
                return Err(refused(
                    text,
                    format!("roles[{i}].name"),
                    format!("{spelling} is a built-in role: it cannot be declared"),
                ));
            }
            r.name = spelling.clone();
        }
    }
    let new_groups: Vec<String> =
        doc.groups.iter().filter(|g| names.principal(&g.name).is_none()).map(|g| g.name.to_lowercase()).collect();
    let is_new_group = |n: &str| new_groups.contains(&n.to_lowercase());
    for (i, g) in doc.groups.iter_mut().enumerate() {
        if let Some(p) = names.principal(&g.name) {
            if p.kind != PrincipalKind::Group {
                return Err(refused(
                    text,
                    format!("groups[{i}].name"),
                    format!("{} is a {}, not a group", p.name, p.kind.as_str()),
                ));
            }
            g.name = p.name.clone();
        }
        for (j, m) in g.members.iter_mut().enumerate() {
            match names.principal(m) {
                Some(p) if p.kind != PrincipalKind::ServicePrincipal => *m = p.name.clone(),
                Some(p) => {
                    return Err(refused(
                        text,
                        format!("groups[{i}].members[{j}]"),
                        format!("{} is a service principal: groups hold users and groups", p.name),
                    ));
                }
                None if is_new_group(m) => {}
                None => {
                    return Err(refused(
                        text,
                        format!("groups[{i}].members[{j}]"),
                        format!("no user or group is named '{m}'"),
                    ));
                }
            }
        }
    }
    let role_name = |n: &str| names.roles.get(&n.to_lowercase()).map(|(s, _)| s.clone());
    let unknown_role = |n: &str| format!("no role is named '{n}' (neither on the server nor in this file)");
    // Groups the file creates get a stand-in id, so their settings can be checked now.
    let stand_ins: HashMap<String, PrincipalId> = new_groups.iter().map(|g| (g.clone(), PrincipalId::new())).collect();
    for (i, s) in doc.settings.iter_mut().enumerate() {
        match role_name(&s.role) {
            Some(n) => s.role = n,
            None if declared_role(&s.role) => {}
            None => return Err(refused(text, format!("settings[{i}].role"), unknown_role(&s.role))),
        }
        let (settings, spelled) = settings_of(&s.values, names, &stand_ins)
            .map_err(|(f, m)| refused(text, format!("settings[{i}]{}{f}", if f.is_empty() { "" } else { "." }), m))?;
        s.values = settings_values(&settings, &|id| spelled.get(&id).cloned());
    }
    for (i, a) in doc.assignments.iter_mut().enumerate() {
        match role_name(&a.role) {
            Some(n) => a.role = n,
            None if declared_role(&a.role) => {}
            None => return Err(refused(text, format!("assignments[{i}].role"), unknown_role(&a.role))),
        }
        match names.principal(&a.principal) {
            Some(p) => a.principal = p.name.clone(),
            None if is_new_group(&a.principal) => {}
            None => {
                return Err(refused(
                    text,
                    format!("assignments[{i}].principal"),
                    format!("no user, group or service principal is named '{}'", a.principal),
                ));
            }
        }
    }
    for (i, r) in doc.reviews.iter_mut().enumerate() {
        let field = |k: &str| format!("reviews[{i}].{k}");
        let wanted = r.name.to_lowercase();
        // Only the reviews the file covers: an old database may hold the name elsewhere too.
        let known = names.reviews.iter().find(|(n, _, at)| *n == wanted && doc.scope.contains(at));
        match known.map(|(_, spelling, _)| spelling) {
            Some(spelling) => r.name.clone_from(spelling),
            None if r.schedule.start.0 < now.0 - MAX_START_IN_PAST_MS => {
                return Err(refused(
                    text,
                    field("schedule.start"),
                    "a new review's first instance must not start more than a day in the past".into(),
                ));
            }
            None => {}
        }
        if let ReviewTargetPolicy::Roles { roles, .. } = &mut r.target {
            for (j, n) in roles.iter_mut().enumerate() {
                match role_name(n) {
                    Some(s) => *n = s,
                    None if declared_role(n) => {}
                    None => return Err(refused(text, field(&format!("target.roles[{j}]")), unknown_role(n))),
                }
            }
        }
        if let ReviewTargetPolicy::GroupMembership { group } = &mut r.target {
            match names.principal(group) {
                Some(p) if p.kind == PrincipalKind::Group => group.clone_from(&p.name),
                Some(p) => {
                    let m = format!("{} is a {}, not a group", p.name, p.kind.as_str());
                    return Err(refused(text, field("target.group"), m));
                }
                None if is_new_group(group) => {}
                None => return Err(refused(text, field("target.group"), format!("no group is named '{group}'"))),
            }
        }
        let key = if matches!(r.reviewers, ReviewersPolicy::Managers { .. }) { "fallback" } else { "reviewers" };
        for (j, n) in r.reviewers.names_mut().iter_mut().enumerate() {
            let at = field(&format!("reviewers.{key}[{j}]"));
            match names.principal(n) {
                Some(p) if p.kind != PrincipalKind::ServicePrincipal => n.clone_from(&p.name),
                Some(p) => {
                    let m = format!("{} is a service principal: reviewers are users or groups", p.name);
                    return Err(refused(text, at, m));
                }
                None if is_new_group(n) => {}
                None => return Err(refused(text, at, format!("no user or group is named '{n}'"))),
            }
        }
    }
    // Names declared in the file keep the file's spelling; make references use it too.
    let spell = |n: &mut String, declared: &[String]| {
        if let Some(d) = declared.iter().find(|d| d.eq_ignore_ascii_case(n)) {
            n.clone_from(d);
        }
    };
    let role_names: Vec<String> = doc.roles.iter().map(|r| r.name.clone()).collect();
    let group_names: Vec<String> = doc.groups.iter().map(|g| g.name.clone()).collect();
    for s in &mut doc.settings {
        spell(&mut s.role, &role_names);
    }
    for a in &mut doc.assignments {
        spell(&mut a.role, &role_names);
        spell(&mut a.principal, &group_names);
    }
    for g in &mut doc.groups {
        for m in &mut g.members {
            spell(m, &group_names);
        }
    }
    for r in &mut doc.reviews {
        match &mut r.target {
            ReviewTargetPolicy::Roles { roles, .. } => roles.iter_mut().for_each(|n| spell(n, &role_names)),
            ReviewTargetPolicy::GroupMembership { group } => spell(group, &group_names),
        }
        r.reviewers.names_mut().iter_mut().for_each(|n| spell(n, &group_names));
    }
    doc.sort();
    Ok(doc)
}

/// The settings `values` stand for, approvers resolved (groups the file creates by `stand_ins`),
/// and the spelling of each approver by id.
pub(crate) fn settings_of(
    values: &pim_domain::policy::SettingsValues,
    names: &Names,
    stand_ins: &HashMap<String, PrincipalId>,
) -> std::result::Result<(RoleSettings, HashMap<PrincipalId, String>), (String, String)> {
    let mut spelled = HashMap::new();
    for (_, n) in approver_names(values) {
        if let Some(p) = names.principal(&n) {
            spelled.insert(p.id, p.name.clone());
        } else if let Some(id) = stand_ins.get(&n.to_lowercase()) {
            spelled.insert(*id, n.clone());
        }
    }
    let resolve = |n: &str| match names.principal(n) {
        Some(p) if p.kind != PrincipalKind::ServicePrincipal => Some(ApproverRef { kind: p.kind, id: p.id }),
        Some(_) => None,
        None => stand_ins.get(&n.to_lowercase()).map(|id| ApproverRef { kind: PrincipalKind::Group, id: *id }),
    };
    let settings = settings_from_values(values, &resolve)?;
    Ok((settings, spelled))
}
