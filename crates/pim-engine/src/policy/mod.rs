//! Declarative policy (docs/POLICY.md): export the server's policy as a TOML file, plan what a file
//! would change, and apply it in one transaction through the same code as the single endpoints.

mod apply;
mod current;
mod resolve;
mod reviews;

use pim_domain::actions::{
    ALERTS_READ, ASSIGNMENTS_READ, DIRECTORY_READ, REVIEWS_READ, ROLES_READ, SCOPES_READ, SETTINGS_READ,
};
use pim_domain::policy::{PolicyChange, diff, parse, render};
use pim_domain::{ScopePath, SettingsChangeId};
use pim_store::{AnyConnection, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;

/// The justification of the requests apply makes when the caller gives none.
pub const DEFAULT_JUSTIFICATION: &str = "pim apply: declarative policy";

/// What happens (plan) or happened (apply) to one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    /// Apply would make it.
    WouldApply,
    /// Apply would file it as a proposal: the settings in force there are protected.
    WouldPropose,
    /// A removal, made only with prune (apply without prune leaves it).
    NeedsPrune,
    /// Apply made it.
    Applied,
    /// Apply filed it as a proposal that waits for a second administrator.
    Proposed,
}

impl ChangeStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::WouldApply => "wouldApply",
            ChangeStatus::WouldPropose => "wouldPropose",
            ChangeStatus::NeedsPrune => "needsPrune",
            ChangeStatus::Applied => "applied",
            ChangeStatus::Proposed => "proposed",
        }
    }
}

/// One change of a plan or an apply.
#[derive(Clone, Debug)]
pub struct PlannedChange {
    /// The change.
    pub change: PolicyChange,
    /// What happens to it.
    pub status: ChangeStatus,
    /// The proposal filed for it (protected settings).
    pub settings_change_id: Option<SettingsChangeId>,
}

/// A plan, or what an apply did.
#[derive(Clone, Debug)]
pub struct PolicyReport {
    /// What the file covers.
    pub scope: ScopePath,
    /// Whether removals are carried out.
    pub prune: bool,
    /// Every difference between the server and the file, in the order apply takes them.
    pub changes: Vec<PlannedChange>,
}

impl Engine {
    /// The policy at `scope` and below as a TOML file (`pim.roles.read` and `pim.directory.read`
    /// at `/`, `pim.scopes.read`, `pim.settings.read` and `pim.assignments.read` at `scope`, and for `/` (which holds
    /// the alert rules) `pim.alerts.read`).
    pub async fn export_policy(&self, ctx: &Context, scope: &ScopePath) -> Result<String> {
        let reviews = self.authorize_policy_read(ctx, scope, false).await?;
        let mut c = self.store.read().await?;
        let doc = current::current(&mut c, scope, self.now(), reviews).await?;
        Ok(render(&doc)?)
    }

    /// What applying the file `text` would change, changing nothing (the permissions of export, at
    /// the file's scope).
    pub async fn plan_policy(&self, ctx: &Context, text: &str, prune: bool) -> Result<PolicyReport> {
        let doc = parse(text).map_err(pim_domain::DomainError::from)?;
        let reviews = self.authorize_policy_read(ctx, &doc.scope, !doc.reviews.is_empty()).await?;
        let now = self.now();
        let mut c = self.store.read().await?;
        let names = resolve::Names::load(&mut c).await?;
        let desired = resolve::resolve(text, doc, &names, now)?;
        let current = current::current(&mut c, &desired.scope, now, reviews).await?;
        let mut changes = vec![];
        for change in diff(&current, &desired) {
            let status = if change.is_removal() && !prune {
                ChangeStatus::NeedsPrune
            } else if protected(&mut c, &change).await? {
                ChangeStatus::WouldPropose
            } else {
                ChangeStatus::WouldApply
            };
            changes.push(PlannedChange { change, status, settings_change_id: None });
        }
        Ok(PolicyReport { scope: desired.scope, prune, changes })
    }

    /// Makes the server match the file `text` in one transaction: each change through the code of
    /// its own endpoint (its permission, validation and audit event), removals only with `prune`,
    /// protected settings filed as proposals, then one `policy.applied` event. Any refusal leaves
    /// everything as it was.
    pub async fn apply_policy(
        &self,
        ctx: &Context,
        text: &str,
        prune: bool,
        justification: Option<String>,
    ) -> Result<PolicyReport> {
        let mut draft = self.draft(ctx, "policy.apply");
        draft.details = serde_json::json!({ "prune": prune });
        let outcome = self
            .audited(draft.clone(), async {
                let actor = self.actor(ctx)?.clone();
                let doc = parse(text).map_err(pim_domain::DomainError::from)?;
                draft.scope = Some(doc.scope.clone());
                let reviews = self.authorize_policy_read(ctx, &doc.scope, !doc.reviews.is_empty()).await?;
                let justification = pim_domain::request::normalize_justification(justification.as_deref())?
                    .unwrap_or(DEFAULT_JUSTIFICATION.into());
                let now = self.now();
                let mut tx = self.store.write(now).await?;
                let names = resolve::Names::load(tx.conn()).await?;
                let desired = resolve::resolve(text, doc, &names, now)?;
                let current = current::current(tx.conn(), &desired.scope, now, reviews).await?;
                let mut done = apply::Done::default();
                let mut changes = vec![];
                for change in diff(&current, &desired) {
                    if change.is_removal() && !prune {
                        changes.push(PlannedChange {
                            change,
                            status: ChangeStatus::NeedsPrune,
                            settings_change_id: None,
                        });
                        continue;
                    }
                    let proposal = self
                        .apply_policy_change(
                            &mut tx,
                            ctx,
                            &actor,
                            &desired.scope,
                            &change,
                            now,
                            &justification,
                            &mut done,
                        )
                        .await?;
                    let status = if proposal.is_some() { ChangeStatus::Proposed } else { ChangeStatus::Applied };
                    changes.push(PlannedChange { change, status, settings_change_id: proposal });
                }
                let count = |s: ChangeStatus| changes.iter().filter(|c| c.status == s).count();
                let mut d = self.draft(ctx, "policy.applied");
                d.scope = Some(desired.scope.clone());
                d.justification = Some(justification.clone());
                d.details = serde_json::json!({
                    "prune": prune,
                    "applied": count(ChangeStatus::Applied),
                    "proposed": count(ChangeStatus::Proposed),
                    "notRemoved": count(ChangeStatus::NeedsPrune),
                });
                tx.audit(now, d).await?;
                tx.commit().await?;
                done.put_in_index(&self.index);
                Ok((PolicyReport { scope: desired.scope, prune, changes }, done))
            })
            .await?;
        let (report, done) = outcome;
        // After the commit, what apply did stands: a failure here is logged, and the review job
        // starts the due instances and applies the completed ones on its next run.
        if done.reviews_changed
            && let Err(e) = self.start_due_instances().await
        {
            tracing::warn!(error = %e, "policy applied; starting the due review instances failed (the review job retries)");
        }
        for (def, completed) in done.stopped_reviews {
            if let Err(e) = self.apply_stopped(&def, completed).await {
                tracing::warn!(error = %e, review = %def.id, "policy applied; applying a stopped review's results failed (the review job retries)");
            }
        }
        Ok(report)
    }

    /// Export and plan read roles, the directory, resources, settings and assignments, and at `/`
    /// alert rules. Access reviews are in the document when the caller may read them at `scope`
    /// (the answer); a file that lists reviews needs that (`with_reviews`), and a caller who may
    /// not read them neither sees nor changes them.
    async fn authorize_policy_read(&self, ctx: &Context, scope: &ScopePath, with_reviews: bool) -> Result<bool> {
        self.authorize_read(ctx, ROLES_READ, &ScopePath::root()).await?;
        if scope.is_root() {
            self.authorize_read(ctx, ALERTS_READ, &ScopePath::root()).await?;
        }
        self.authorize_read(ctx, DIRECTORY_READ, &ScopePath::root()).await?;
        self.authorize_read(ctx, SCOPES_READ, scope).await?;
        self.authorize_read(ctx, SETTINGS_READ, scope).await?;
        self.authorize_read(ctx, ASSIGNMENTS_READ, scope).await?;
        if with_reviews {
            self.authorize_read(ctx, REVIEWS_READ, scope).await?;
        }
        Ok(self.allowed(ctx, REVIEWS_READ, scope))
    }
}

/// Whether a settings change would be a proposal: the settings in force there are protected.
async fn protected(c: &mut AnyConnection, change: &PolicyChange) -> Result<bool> {
    let (PolicyChange::PutSettings { role, scope, .. } | PolicyChange::ResetSettings { role, scope, .. }) = change
    else {
        return Ok(false);
    };
    let Some(role) = q::get_role_by_name(c, role).await? else { return Ok(false) };
    Ok(q::get_settings_nearest(c, role.id, scope).await?.is_some_and(|(_, s)| s.protected))
}
