//! The server's policy as a document: what `pim export` writes and what a file is compared with.

use std::collections::HashMap;

use pim_domain::policy::{
    AssignmentPolicy, GroupPolicy, PolicyDoc, ResourcePolicy, RolePolicy, SettingsPolicy, settings_values,
};
use pim_domain::{
    Assignment, AssignmentKind, Principal, PrincipalId, PrincipalKind, RoleDefinition, RoleId, ScopePath, Timestamp,
};
use pim_store::{AnyConnection, q};

use crate::error::Result;

/// Every principal, by id (names for the document, and for resolving a file).
pub(crate) async fn principals(c: &mut AnyConnection) -> Result<HashMap<PrincipalId, Principal>> {
    Ok(q::all_principals(c).await?.into_iter().map(|p| (p.id, p)).collect())
}

/// Whether an assignment is policy (an eligibility, or a permanent active assignment) rather than
/// access in use (an activation or another time-bound active assignment).
pub(crate) fn is_policy(a: &Assignment) -> bool {
    !a.is_activation() && (a.kind == AssignmentKind::Eligible || a.window.is_permanent())
}

/// The server's policy at `scope` and below, at `now`, in canonical order; its access reviews
/// only `with_reviews`.
pub(crate) async fn current(
    c: &mut AnyConnection,
    scope: &ScopePath,
    now: Timestamp,
    with_reviews: bool,
) -> Result<PolicyDoc> {
    let people = principals(c).await?;
    let roles: HashMap<RoleId, RoleDefinition> = q::list_roles(c).await?.into_iter().map(|r| (r.id, r)).collect();
    let name = |id: PrincipalId| people.get(&id).map(|p| p.name.clone());
    let mut doc = PolicyDoc::empty(scope.clone());
    let mut after: Option<String> = None;
    loop {
        let page = q::list_resources(c, Some(scope), after.as_deref(), 1000).await?;
        after = page.last().map(|r| r.scope.as_str().to_owned());
        let done = page.len() < 1000;
        doc.resources.extend(page.into_iter().map(|r| ResourcePolicy { scope: r.scope, name: r.name, kind: r.kind }));
        if done {
            break;
        }
    }
    for r in roles.values().filter(|r| !r.builtin) {
        doc.roles.push(RolePolicy {
            name: r.name.clone(),
            description: r.description.clone(),
            actions: r.permissions.actions.iter().map(|p| p.as_str().to_owned()).collect(),
            not_actions: r.permissions.not_actions.iter().map(|p| p.as_str().to_owned()).collect(),
        });
    }
    let mut groups: Vec<&Principal> = people.values().filter(|p| p.kind == PrincipalKind::Group).collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    for g in groups {
        let members = q::list_members(c, g.id).await?.into_iter().filter_map(name).collect();
        doc.groups.push(GroupPolicy { name: g.name.clone(), members });
    }
    for (role_id, at, settings) in q::list_settings(c, None).await? {
        let (Some(role), true) = (roles.get(&role_id), scope.contains(&at)) else { continue };
        doc.settings.push(SettingsPolicy {
            role: role.name.clone(),
            scope: at,
            values: settings_values(&settings, &name),
        });
    }
    let filter = q::AssignmentFilter { under: Some(scope.clone()), not_ended_at: Some(now), ..Default::default() };
    for a in q::list_assignments(c, &filter).await?.into_iter().filter(is_policy) {
        let (Some(principal), Some(role)) = (name(a.principal_id), roles.get(&a.role_id)) else { continue };
        let p = AssignmentPolicy {
            principal,
            role: role.name.clone(),
            scope: a.scope.clone(),
            kind: a.kind,
            end: a.window.end,
        };
        if !doc.assignments.iter().any(|o| o.key() == p.key()) {
            doc.assignments.push(p);
        }
    }
    if scope.is_root() {
        let rules = crate::alerts::rules_now(c).await?;
        doc.alert_rules = rules.iter().filter_map(pim_domain::policy::AlertRulePolicy::from_rule).collect();
    }
    if with_reviews {
        doc.reviews = super::reviews::current_reviews(c, scope, &people, &roles).await?;
    }
    doc.sort();
    Ok(doc)
}

/// The assignment a document's entry stands for, at `now`.
pub(crate) async fn find_assignment(
    c: &mut AnyConnection,
    principal: PrincipalId,
    role: RoleId,
    entry: &AssignmentPolicy,
    now: Timestamp,
) -> Result<Option<Assignment>> {
    let filter = q::AssignmentFilter {
        principal: Some(principal),
        role: Some(role),
        scope: Some(entry.scope.clone()),
        kind: Some(entry.kind),
        not_ended_at: Some(now),
        ..Default::default()
    };
    Ok(q::list_assignments(c, &filter).await?.into_iter().find(is_policy))
}
