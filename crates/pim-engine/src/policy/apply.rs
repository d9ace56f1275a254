//! Carrying out one policy change inside the apply's transaction, through the code of the
//! change's own endpoint (`put_role_in`, `membership_in_tx`, `change_settings_in`,
//! `write_request`, ...), and what the access index learns once the transaction commits.

use std::collections::HashMap;

use pim_domain::policy::{AssignmentPolicy, PolicyChange, RolePolicy};
use pim_domain::review::ReviewDefinition;
use pim_domain::{
    Assignment, DomainError, Pattern, Permissions, Principal, PrincipalId, PrincipalKind, RequestAction,
    ReviewInstanceId, RoleDefinition, RoleId, SettingsChangeId, Timestamp,
};
use pim_store::{WriteTx, q};

use super::current::find_assignment;
use super::resolve::{Names, settings_of};
use super::reviews::{as_new_review, find_review};
use crate::context::{Actor, Context};
use crate::directory::NewPrincipal;
use crate::engine::{Engine, index_principal};
use crate::error::Result;
use crate::index::AccessIndex;
use crate::requests::RequestInput;
use crate::roles::{find_role, role_draft};
use crate::settings_changes::SettingsUpdate;

/// What the index learns after commit.
#[derive(Default)]
pub(crate) struct Done {
    roles: Vec<RoleDefinition>,
    removed_roles: Vec<RoleId>,
    principals: Vec<Principal>,
    memberships: Vec<(PrincipalId, PrincipalId, bool)>,
    assignments: Vec<Assignment>,
    /// Whether a review was created or changed (its due instances start after commit).
    pub(crate) reviews_changed: bool,
    /// Reviews stopped, with the instances that completed (applied after commit when automatic).
    pub(crate) stopped_reviews: Vec<(ReviewDefinition, Vec<ReviewInstanceId>)>,
}

impl Done {
    /// Puts every committed change in the index.
    pub(crate) fn put_in_index(&mut self, index: &AccessIndex) {
        for r in self.roles.drain(..) {
            index.upsert_role(r);
        }
        for p in &self.principals {
            index.upsert_principal(index_principal(p));
        }
        for (g, m, add) in self.memberships.drain(..) {
            index.set_membership(g, m, add);
        }
        for a in &self.assignments {
            index.upsert_assignment(a);
        }
        for r in self.removed_roles.drain(..) {
            index.remove_role(r);
        }
    }
}

fn permissions(r: &RolePolicy) -> Result<Permissions> {
    let list = |v: &[String]| {
        v.iter().map(|p| Pattern::parse(p).map_err(DomainError::from)).collect::<std::result::Result<Vec<_>, _>>()
    };
    Ok(Permissions { actions: list(&r.actions)?, not_actions: list(&r.not_actions)? })
}

async fn principal(tx: &mut WriteTx, name: &str) -> Result<Principal> {
    q::get_principal_by_name(tx.conn(), name)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("principal '{name}'")).into())
}

/// The resource registered at `scope`.
async fn registered(tx: &mut WriteTx, scope: &pim_domain::ScopePath) -> Result<pim_domain::Resource> {
    q::get_resource_by_scope(tx.conn(), scope)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("the resource at {scope}")).into())
}

impl Engine {
    /// Carries out `change` of the file covering `scope` in `tx` as the caller; the proposal filed
    /// instead, for protected settings.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_policy_change(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        scope: &pim_domain::ScopePath,
        change: &PolicyChange,
        now: Timestamp,
        justification: &str,
        done: &mut Done,
    ) -> Result<Option<SettingsChangeId>> {
        match change {
            PolicyChange::CreateResource(r) => {
                self.create_resource_in(tx, ctx, now, r.scope.clone(), r.name.clone(), r.kind.clone()).await?;
            }
            PolicyChange::UpdateResource { from, to } => {
                let have = registered(tx, &to.scope).await?;
                let changed = |a: &String, b: &String| (a != b).then(|| b.clone());
                let (name, kind) = (changed(&from.name, &to.name), changed(&from.kind, &to.kind));
                self.update_resource_in(tx, ctx, now, have, name, kind).await?;
            }
            PolicyChange::RemoveResource(r) => {
                let have = registered(tx, &r.scope).await?;
                self.delete_resource_in(tx, ctx, now, &have).await?;
            }
            PolicyChange::CreateRole(r) => {
                let p = permissions(r)?;
                let draft = role_draft(self.draft(ctx, "role.create"), &r.name, &p);
                let role =
                    self.put_role_in(tx, ctx, &draft, now, None, r.name.clone(), r.description.clone(), p).await?;
                done.roles.push(role);
            }
            PolicyChange::UpdateRole { to: r, .. } => {
                let p = permissions(r)?;
                let draft = role_draft(self.draft(ctx, "role.update"), &r.name, &p);
                let role = self
                    .put_role_in(tx, ctx, &draft, now, Some(&r.name), r.name.clone(), r.description.clone(), p)
                    .await?;
                done.roles.push(role);
            }
            PolicyChange::RemoveRole(r) => {
                let mut draft = self.draft(ctx, "role.delete");
                draft.scope = Some(pim_domain::ScopePath::root());
                done.removed_roles.push(self.delete_role_in(tx, ctx, &draft, now, &r.name).await?);
            }
            PolicyChange::CreateGroup(name) => {
                let draft = self.principal_draft(ctx, PrincipalKind::Group, name);
                let new = NewPrincipal { name: name.clone(), ..NewPrincipal::default() };
                let p = self.create_principal_in(tx, ctx, &draft, now, PrincipalKind::Group, &new, None).await?;
                done.principals.push(p);
            }
            PolicyChange::AddMember { group, member } | PolicyChange::RemoveMember { group, member } => {
                let add = matches!(change, PolicyChange::AddMember { .. });
                self.authorize(ctx, pim_domain::actions::DIRECTORY_WRITE, &pim_domain::ScopePath::root())?;
                let g = principal(tx, group).await?;
                let m = principal(tx, member).await?;
                let draft = self.membership_draft(ctx, g.id, m.id, add);
                if self.membership_in_tx(tx, now, g.id, &m, add, draft).await? {
                    done.memberships.push((g.id, m.id, add));
                }
            }
            PolicyChange::PutSettings { role, scope, to, .. } => {
                // Resolved again inside the transaction: groups the file created now have ids.
                let names = Names::load(tx.conn()).await?;
                let (settings, _) = settings_of(to, &names, &HashMap::new())
                    .map_err(|(f, m)| DomainError::new(pim_domain::ErrorKind::InvalidPolicy, format!("{f}: {m}")))?;
                let draft = self.settings_draft(ctx, scope, Some(&settings));
                return self.settings_outcome(tx, ctx, &draft, now, role, scope, Some(settings)).await;
            }
            PolicyChange::ResetSettings { role, scope, .. } => {
                let draft = self.settings_draft(ctx, scope, None);
                return self.settings_outcome(tx, ctx, &draft, now, role, scope, None).await;
            }
            PolicyChange::CreateAssignment(a) => {
                let (p, role) = self.holder_and_role(tx, a).await?;
                let mut input = RequestInput::new(RequestAction::AdminAssign);
                input.principal_id = Some(p.id);
                input.role_id = Some(role);
                input.scope = Some(a.scope.clone());
                input.kind = Some(a.kind);
                input.end = a.end;
                self.request(tx, ctx, actor, input, now, justification, done).await?;
            }
            PolicyChange::UpdateAssignment { to: a, .. } => {
                let mut input = RequestInput::new(RequestAction::AdminUpdate);
                input.assignment_id = Some(self.assignment_of(tx, a, now).await?);
                input.end = a.end;
                input.permanent = a.end.is_none();
                self.request(tx, ctx, actor, input, now, justification, done).await?;
            }
            PolicyChange::SetAlertRule { to: r, .. } | PolicyChange::ResetAlertRule(r) => {
                let target = match change {
                    PolicyChange::ResetAlertRule(_) => {
                        pim_domain::policy::AlertRulePolicy { id: r.id.clone(), ..Default::default() }
                    }
                    _ => r.clone(),
                };
                let (severity, enabled, thresholds) = target.full();
                let update = crate::alerts::RuleUpdate { severity: Some(severity), enabled: Some(enabled), thresholds };
                let draft = self.alert_rule_draft(ctx, &r.id, &update);
                self.update_alert_rule_in(tx, ctx, &draft, now, &r.id, &update).await?;
            }
            PolicyChange::RemoveAssignment(a) => {
                let mut input = RequestInput::new(RequestAction::AdminRemove);
                input.assignment_id = Some(self.assignment_of(tx, a, now).await?);
                self.request(tx, ctx, actor, input, now, justification, done).await?;
            }
            PolicyChange::CreateReview(r) => {
                let new = as_new_review(tx.conn(), r).await?;
                self.create_review_in(tx, ctx, now, new).await?;
                done.reviews_changed = true;
            }
            PolicyChange::UpdateReview { to: r, .. } => {
                let def = find_review(tx.conn(), &r.name, scope).await?;
                let new = as_new_review(tx.conn(), r).await?;
                self.update_review_in(tx, ctx, now, def, new).await?;
                done.reviews_changed = true;
            }
            PolicyChange::StopReview(r) => {
                let def = find_review(tx.conn(), &r.name, scope).await?;
                done.stopped_reviews.push(self.stop_review_in(tx, ctx, now, def).await?);
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    async fn settings_outcome(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        draft: &pim_domain::AuditDraft,
        now: Timestamp,
        role: &str,
        scope: &pim_domain::ScopePath,
        settings: Option<pim_domain::RoleSettings>,
    ) -> Result<Option<SettingsChangeId>> {
        Ok(match self.change_settings_in(tx, ctx, draft, now, role, scope, settings).await? {
            SettingsUpdate::Applied(_) => None,
            SettingsUpdate::Pending(change) => Some(change.id),
        })
    }

    async fn holder_and_role(&self, tx: &mut WriteTx, a: &AssignmentPolicy) -> Result<(Principal, RoleId)> {
        let p = principal(tx, &a.principal).await?;
        let role = find_role(tx.conn(), &a.role).await?;
        Ok((p, role.id))
    }

    async fn assignment_of(
        &self,
        tx: &mut WriteTx,
        a: &AssignmentPolicy,
        now: Timestamp,
    ) -> Result<pim_domain::AssignmentId> {
        let (p, role) = self.holder_and_role(tx, a).await?;
        let found = find_assignment(tx.conn(), p.id, role, a, now).await?;
        Ok(found
            .ok_or_else(|| {
                DomainError::not_found(format!(
                    "the {} assignment of {} to {} at {}",
                    a.kind.as_str(),
                    a.role,
                    a.principal,
                    a.scope
                ))
            })?
            .id)
    }

    /// An admin request written in `tx` by the request path (its authorization, rules, cascade,
    /// audit events and notices).
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        mut input: RequestInput,
        now: Timestamp,
        justification: &str,
        done: &mut Done,
    ) -> Result<()> {
        input.justification = Some(justification.to_owned());
        let draft = self.request_draft(ctx, &input);
        let written = self.write_request(tx, ctx, actor, &draft, &input, now).await?;
        done.assignments.extend(written.touched);
        Ok(())
    }
}
