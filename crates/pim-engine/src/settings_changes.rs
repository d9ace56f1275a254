//! Changing role settings, with four eyes on protected ones: where the settings in force at a
//! scope are protected, a change (or a reset) becomes a [`SettingsChange`] that another holder of
//! `pim.settings.write` at that scope must approve.

use pim_domain::actions::{SETTINGS_READ, SETTINGS_WRITE};
use pim_domain::approval::{Decision, Verdict};
use pim_domain::request::normalize_justification;
use pim_domain::{
    AuditDraft, DomainError, ErrorKind, PrincipalId, RequestStatus, RoleSettings, ScopePath, SettingsChange,
    SettingsChangeId, Timestamp,
};
use pim_store::{AnyConnection, WriteTx, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::notify::{Audience, Notice};
use crate::roles::{EffectiveSettings, check_settings, find_role, settings_at};

/// What a settings change did.
#[derive(Clone, Debug)]
pub enum SettingsUpdate {
    /// Applied: the settings now in force at the scope.
    Applied(EffectiveSettings),
    /// The settings are protected: the change waits for a second administrator.
    Pending(SettingsChange),
}

impl Engine {
    /// Applies `settings` (or, with `None`, removes the explicit settings) of a role at a scope,
    /// unless the settings in force there are protected: then proposes the change.
    pub(crate) async fn change_settings(
        &self,
        ctx: &Context,
        role: &str,
        scope: ScopePath,
        settings: Option<RoleSettings>,
    ) -> Result<SettingsUpdate> {
        let draft = self.settings_draft(ctx, &scope, settings.as_ref());
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let update = self.change_settings_in(&mut tx, ctx, &draft, now, role, &scope, settings.clone()).await?;
            tx.commit().await?;
            Ok(update)
        })
        .await
    }

    /// The audit event of a settings change (or reset, with `None`) at `scope`.
    pub(crate) fn settings_draft(
        &self,
        ctx: &Context,
        scope: &ScopePath,
        settings: Option<&RoleSettings>,
    ) -> AuditDraft {
        let mut draft = self.draft(ctx, if settings.is_some() { "settings.update" } else { "settings.reset" });
        draft.scope = Some(scope.clone());
        if let Some(s) = settings {
            draft.details = serde_json::to_value(s).unwrap_or_default();
        }
        draft
    }

    /// [`Engine::change_settings`] inside `tx`, audited with `draft` (`settings.update` or
    /// `settings.reset`; a proposal is audited as `settings.changeProposed`). The caller commits.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn change_settings_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        draft: &AuditDraft,
        now: Timestamp,
        role: &str,
        scope: &ScopePath,
        settings: Option<RoleSettings>,
    ) -> Result<SettingsUpdate> {
        let scope = scope.clone();
        let actor = self.actor(ctx)?.clone();
        self.authorize(ctx, SETTINGS_WRITE, &scope)?;
        let role = find_role(tx.conn(), role).await?;
        if let Some(s) = &settings {
            check_settings(tx.conn(), s).await?;
        }
        self.authorize_principals(ctx, tx.conn(), role.id, &scope, settings.as_ref()).await?;
        let protected = q::get_settings_nearest(tx.conn(), role.id, &scope).await?.is_some_and(|(_, s)| s.protected);
        let mut d = draft.clone();
        d.role_id = Some(role.id);
        if protected {
            let change = SettingsChange {
                id: SettingsChangeId::new(),
                role_id: role.id,
                scope: scope.clone(),
                settings,
                status: RequestStatus::PendingApproval,
                requested_by: actor.id,
                justification: None,
                decision: None,
                created_at: now,
                updated_at: now,
                status_reason: None,
            };
            q::insert_settings_change(tx.conn(), &change).await?;
            let mut notice = Notice::new(
                "settings.approvalNeeded",
                &format!("{} proposes a change to the settings of {} at {scope}", actor.name, role.name),
                &format!(
                    "{} proposes to {} the protected settings of {} at {scope}.\n\n\
                     They apply once another administrator approves:\n  pim settings-changes show {}\n  \
                     pim settings-changes approve {} -j \"...\"\n",
                    actor.name,
                    if change.settings.is_some() { "change" } else { "reset" },
                    role.name,
                    change.id,
                    change.id
                ),
            );
            notice.critical = true;
            let to = [Audience::HoldersOf { action: SETTINGS_WRITE, scope: scope.clone() }];
            self.notify(tx.conn(), now, &notice, &to).await?;
            d.action = "settings.changeProposed".into();
            d.details = serde_json::json!({ "changeId": change.id, "settings": change.settings });
            tx.audit(now, d).await?;
            return Ok(SettingsUpdate::Pending(change));
        }
        apply(tx.conn(), role.id, &scope, settings.as_ref(), now, actor.id).await?;
        tx.audit(now, d).await?;
        Ok(SettingsUpdate::Applied(settings_at(tx.conn(), role.id, &scope).await?))
    }

    /// Settings changes at scopes where the caller may read settings, newest first.
    pub async fn list_settings_changes(
        &self,
        ctx: &Context,
        status: Option<RequestStatus>,
    ) -> Result<Vec<SettingsChange>> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        Ok(q::list_settings_changes(&mut c, status, 0)
            .await?
            .into_iter()
            .filter(|s| self.allowed(ctx, SETTINGS_READ, &s.scope))
            .collect())
    }

    /// One settings change (with `pim.settings.read` at its scope).
    pub async fn get_settings_change(&self, ctx: &Context, id: SettingsChangeId) -> Result<SettingsChange> {
        let mut c = self.store.read().await?;
        let s = q::get_settings_change(&mut c, id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("settings change {id}")))?;
        self.authorize_read(ctx, SETTINGS_READ, &s.scope).await?;
        Ok(s)
    }

    /// A second administrator approves or denies a settings change; approval applies it.
    pub async fn decide_settings_change(
        &self,
        ctx: &Context,
        id: SettingsChangeId,
        verdict: Verdict,
        justification: Option<String>,
    ) -> Result<SettingsChange> {
        let mut draft = self.draft(
            ctx,
            match verdict {
                Verdict::Approve => "settings.changeApproved",
                Verdict::Deny => "settings.changeDenied",
            },
        );
        draft.justification = justification.clone();
        draft.details = serde_json::json!({ "changeId": id });
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let justification = normalize_justification(justification.as_deref())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut s = load(tx.conn(), id).await?;
            self.authorize(ctx, SETTINGS_WRITE, &s.scope)?;
            if s.requested_by == actor.id {
                return refuse(
                    ErrorKind::ApprovalSelfForbidden,
                    "a protected settings change needs another administrator's approval",
                );
            }
            pending(&s, now)?;
            let in_force = settings_at(tx.conn(), s.role_id, &s.scope).await?.settings;
            if in_force.approver_justification_required && justification.is_none() {
                return refuse(
                    ErrorKind::JustificationRequired,
                    "the role's settings require approvers to give a justification",
                );
            }
            s.decision = Some(Decision {
                stage: 0,
                approver_id: actor.id,
                approver_name: actor.name.clone(),
                verdict,
                justification: justification.clone(),
                at: now,
            });
            s.updated_at = now;
            if verdict == Verdict::Approve {
                if let Some(new) = &s.settings {
                    check_settings(tx.conn(), new).await?;
                }
                self.authorize_principals(ctx, tx.conn(), s.role_id, &s.scope, s.settings.as_ref()).await?;
                apply(tx.conn(), s.role_id, &s.scope, s.settings.as_ref(), now, s.requested_by).await?;
                s.status = RequestStatus::Provisioned;
            } else {
                s.status = RequestStatus::Denied;
                s.status_reason = justification.clone().map(|j| format!("denied by {}: {j}", actor.name));
            }
            q::update_settings_change(tx.conn(), &s).await?;
            let mut d = draft.clone();
            d.role_id = Some(s.role_id);
            d.scope = Some(s.scope.clone());
            d.principal_id = Some(s.requested_by);
            d.details = serde_json::json!({ "changeId": s.id, "settings": s.settings });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(s)
        })
        .await
    }

    /// The proposer withdraws a pending settings change.
    pub async fn cancel_settings_change(&self, ctx: &Context, id: SettingsChangeId) -> Result<SettingsChange> {
        let mut draft = self.draft(ctx, "settings.changeCanceled");
        draft.details = serde_json::json!({ "changeId": id });
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut s = load(tx.conn(), id).await?;
            if s.requested_by != actor.id {
                return refuse(ErrorKind::Forbidden, "only the proposer can cancel a settings change");
            }
            pending(&s, now)?;
            s.status = RequestStatus::Canceled;
            s.updated_at = now;
            q::update_settings_change(tx.conn(), &s).await?;
            let mut d = draft.clone();
            d.role_id = Some(s.role_id);
            d.scope = Some(s.scope.clone());
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(s)
        })
        .await
    }

    /// Ends settings changes nobody decided in time (part of the approval worker's transaction).
    pub(crate) async fn time_out_settings_changes(&self, tx: &mut pim_store::WriteTx, now: Timestamp) -> Result<usize> {
        let mut n = 0;
        for mut s in q::list_settings_changes(tx.conn(), Some(RequestStatus::PendingApproval), 0).await? {
            if now < s.deadline() {
                continue;
            }
            s.status = RequestStatus::TimedOut;
            s.updated_at = now;
            s.status_reason = Some("no second administrator answered in time".into());
            q::update_settings_change(tx.conn(), &s).await?;
            let event = AuditDraft {
                action: "settings.changeTimedOut".into(),
                role_id: Some(s.role_id),
                scope: Some(s.scope.clone()),
                principal_id: Some(s.requested_by),
                details: serde_json::json!({ "changeId": s.id }),
                ..AuditDraft::default()
            };
            tx.audit(now, event).await?;
            n += 1;
        }
        Ok(n)
    }
}

async fn load(c: &mut AnyConnection, id: SettingsChangeId) -> Result<SettingsChange> {
    q::get_settings_change(c, id).await?.ok_or_else(|| DomainError::not_found(format!("settings change {id}")).into())
}

fn pending(s: &SettingsChange, now: Timestamp) -> Result<()> {
    if s.status != RequestStatus::PendingApproval {
        return refuse(ErrorKind::RequestNotPending, format!("the settings change is {}", s.status.as_str()));
    }
    if now >= s.deadline() {
        return refuse(ErrorKind::RequestNotPending, "the settings change timed out");
    }
    Ok(())
}

impl Engine {
    /// SSH principals are valid on every host that trusts pim's CA, whatever the scope of the
    /// settings that name them: a change (or reset) that alters the principals in force at `scope`
    /// needs `pim.settings.write` at `/` too, else a scoped administrator could hand out `root`
    /// everywhere.
    async fn authorize_principals(
        &self,
        ctx: &Context,
        c: &mut AnyConnection,
        role: pim_domain::RoleId,
        scope: &ScopePath,
        settings: Option<&RoleSettings>,
    ) -> Result<()> {
        let now_in_force = settings_at(c, role, scope).await?.settings.ssh_principals;
        let after = match (settings, scope.parent()) {
            (Some(s), _) => s.ssh_principals.clone(),
            (None, Some(parent)) => settings_at(c, role, &parent).await?.settings.ssh_principals,
            (None, None) => RoleSettings::default().ssh_principals,
        };
        if after == now_in_force || self.allowed(ctx, SETTINGS_WRITE, &ScopePath::root()) {
            return Ok(());
        }
        refuse(
            ErrorKind::Forbidden,
            format!(
                "changing the SSH principals needs the permission {SETTINGS_WRITE} at / (certificates are valid on \
                 every host, whatever the scope)"
            ),
        )
    }
}

/// Writes (or with `None` removes) a role's explicit settings at a scope.
async fn apply(
    c: &mut AnyConnection,
    role: pim_domain::RoleId,
    scope: &ScopePath,
    settings: Option<&RoleSettings>,
    now: Timestamp,
    by: PrincipalId,
) -> Result<()> {
    match settings {
        Some(s) => q::put_settings(c, role, scope, s, now, Some(by)).await?,
        None => {
            if !q::delete_settings(c, role, scope).await? {
                return Err(DomainError::not_found(format!("settings of role {role} defined at {scope}")).into());
            }
        }
    }
    Ok(())
}
