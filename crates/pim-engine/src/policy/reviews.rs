//! Access review definitions in the policy file: the server's reviews not stopped as the document
//! names them (roles, group and reviewers by name), and a document's review back as the
//! [`NewReview`] that `create_review_in` / `update_review_in` take.

use std::collections::HashMap;

use pim_domain::policy::{ReviewPolicy, ReviewTargetPolicy, ReviewersPolicy};
use pim_domain::review::{ReviewDefinition, ReviewTarget, Reviewers};
use pim_domain::settings::ApproverRef;
use pim_domain::{DomainError, ErrorKind, Principal, PrincipalId, PrincipalKind, RoleDefinition, RoleId, ScopePath};
use pim_store::{AnyConnection, q};

use crate::error::{Result, refuse};
use crate::reviews::{NewReview, target_scope};

/// The reviews not stopped whose target is at or below `scope` (a group's membership is at the
/// group's scope, so only in a document for `/`), by name. Refuses when two of them share a name
/// (case aside): a database from before names were unique, which a document cannot hold.
pub(crate) async fn current_reviews(
    c: &mut AnyConnection,
    scope: &ScopePath,
    people: &HashMap<PrincipalId, Principal>,
    roles: &HashMap<RoleId, RoleDefinition>,
) -> Result<Vec<ReviewPolicy>> {
    let mut out: Vec<ReviewPolicy> = vec![];
    let mut ids: HashMap<String, pim_domain::ReviewId> = HashMap::new();
    for def in q::list_reviews(c, true).await? {
        if !scope.contains(&target_scope(&def.target)) {
            continue;
        }
        if let Some(other) = ids.insert(def.name.to_lowercase(), def.id) {
            return refuse(
                ErrorKind::AlreadyExists,
                format!(
                    "two access reviews not stopped are named '{}' ({other} and {}), and a policy file names \
                     reviews by name: rename one (PATCH /api/v1/reviews/{{id}}) or stop it, then export again",
                    def.name, def.id
                ),
            );
        }
        out.push(as_policy(&def, people, roles));
    }
    Ok(out)
}

/// `def` by names (an id without a name, which a consistent database has not, stays as its text).
fn as_policy(
    def: &ReviewDefinition,
    people: &HashMap<PrincipalId, Principal>,
    roles: &HashMap<RoleId, RoleDefinition>,
) -> ReviewPolicy {
    let person = |id: PrincipalId| people.get(&id).map_or_else(|| id.to_string(), |p| p.name.clone());
    let names = |refs: &[ApproverRef]| refs.iter().map(|r| person(r.id)).collect::<Vec<_>>();
    ReviewPolicy {
        name: def.name.clone(),
        description: def.description.clone(),
        target: match &def.target {
            ReviewTarget::Roles { role_ids, scope } => ReviewTargetPolicy::Roles {
                roles: role_ids
                    .iter()
                    .map(|r| roles.get(r).map_or_else(|| r.to_string(), |r| r.name.clone()))
                    .collect(),
                scope: scope.clone(),
            },
            ReviewTarget::GroupMembership { group_id } => {
                ReviewTargetPolicy::GroupMembership { group: person(*group_id) }
            }
        },
        kinds: def.kinds,
        inactive_days: def.inactive_days,
        reviewers: match &def.reviewers {
            Reviewers::SelfReview => ReviewersPolicy::SelfReview,
            Reviewers::Managers { fallback } => ReviewersPolicy::Managers { fallback: names(fallback) },
            Reviewers::Selected { reviewers } => ReviewersPolicy::Selected { reviewers: names(reviewers) },
        },
        schedule: def.schedule.clone(),
        auto_apply: def.auto_apply,
        if_no_response: def.if_no_response,
        reason_required: def.reason_required,
    }
}

/// The review not stopped named `name` (case aside) whose target is at or below `scope`: the one
/// the document of `scope` names so (an old database may hold the same name elsewhere).
pub(crate) async fn find_review(c: &mut AnyConnection, name: &str, scope: &ScopePath) -> Result<ReviewDefinition> {
    let wanted = name.to_lowercase();
    q::list_reviews(c, true)
        .await?
        .into_iter()
        .find(|d| d.name.to_lowercase() == wanted && scope.contains(&target_scope(&d.target)))
        .ok_or_else(|| DomainError::not_found(format!("access review '{name}'")).into())
}

/// `p` with its names resolved to ids, as the server holds them now (inside the apply's
/// transaction, so groups the file created are found).
pub(crate) async fn as_new_review(c: &mut AnyConnection, p: &ReviewPolicy) -> Result<NewReview> {
    let target = match &p.target {
        ReviewTargetPolicy::Roles { roles, scope } => {
            let mut role_ids = vec![];
            for r in roles {
                let role =
                    q::get_role_by_name(c, r).await?.ok_or_else(|| DomainError::not_found(format!("role '{r}'")))?;
                role_ids.push(role.id);
            }
            ReviewTarget::Roles { role_ids, scope: scope.clone() }
        }
        ReviewTargetPolicy::GroupMembership { group } => {
            ReviewTarget::GroupMembership { group_id: principal(c, group, &[PrincipalKind::Group]).await?.id }
        }
    };
    let mut refs = vec![];
    for n in p.reviewers.names() {
        let who = principal(c, n, &[PrincipalKind::User, PrincipalKind::Group]).await?;
        refs.push(ApproverRef { kind: who.kind, id: who.id });
    }
    let reviewers = match p.reviewers {
        ReviewersPolicy::SelfReview => Reviewers::SelfReview,
        ReviewersPolicy::Managers { .. } => Reviewers::Managers { fallback: refs },
        ReviewersPolicy::Selected { .. } => Reviewers::Selected { reviewers: refs },
    };
    Ok(NewReview {
        name: p.name.clone(),
        description: p.description.clone(),
        target,
        kinds: p.kinds,
        inactive_days: p.inactive_days,
        reviewers,
        schedule: p.schedule.clone(),
        auto_apply: p.auto_apply,
        if_no_response: p.if_no_response,
        reason_required: p.reason_required,
    })
}

/// The principal named `name`, of one of `kinds`.
async fn principal(c: &mut AnyConnection, name: &str, kinds: &[PrincipalKind]) -> Result<Principal> {
    match q::get_principal_by_name(c, name).await? {
        Some(p) if kinds.contains(&p.kind) => Ok(p),
        Some(p) => {
            refuse(ErrorKind::InvalidPolicy, format!("{} is a {}, which cannot be used here", p.name, p.kind.as_str()))
        }
        None => Err(DomainError::not_found(format!("principal '{name}'")).into()),
    }
}
