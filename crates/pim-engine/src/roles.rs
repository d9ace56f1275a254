//! Role definitions (built-in and custom) and role settings per role at a scope, nearest ancestor wins.

use pim_domain::actions::{ROLES_READ, ROLES_WRITE, SETTINGS_READ};
use pim_domain::role::validate_custom;
use pim_domain::{
    AuditDraft, DomainError, ErrorKind, Permissions, PrincipalKind, RoleDefinition, RoleId, RoleSettings, ScopePath,
    Timestamp,
};
use pim_store::{WriteTx, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::follow::Change;
use crate::settings_changes::SettingsUpdate;

/// The settings in force for a role at a scope, and where they were defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveSettings {
    /// The role.
    pub role_id: RoleId,
    /// The scope asked about.
    pub scope: ScopePath,
    /// The scope whose explicit settings apply; `None` means the defaults.
    pub defined_at: Option<ScopePath>,
    /// The settings.
    pub settings: RoleSettings,
}

impl Engine {
    /// Every role definition.
    pub async fn list_roles(&self, ctx: &Context) -> Result<Vec<RoleDefinition>> {
        self.authorize_read(ctx, ROLES_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::list_roles(&mut c).await?)
    }

    /// A role by id or name (any signed-in principal may read a role it refers to by name).
    pub async fn get_role(&self, ctx: &Context, id_or_name: &str) -> Result<RoleDefinition> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        find_role(&mut c, id_or_name).await
    }

    /// Creates a custom role.
    pub async fn create_role(
        &self,
        ctx: &Context,
        name: String,
        description: String,
        permissions: Permissions,
    ) -> Result<RoleDefinition> {
        let draft = role_draft(self.draft(ctx, "role.create"), &name, &permissions);
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let role = self
                .put_role_in(&mut tx, ctx, &draft, now, None, name.clone(), description.clone(), permissions.clone())
                .await?;
            tx.commit().await?;
            self.index.upsert_role(role.clone());
            Ok(role)
        })
        .await
    }

    /// Replaces a custom role's name, description and permissions.
    pub async fn update_role(
        &self,
        ctx: &Context,
        id_or_name: &str,
        name: String,
        description: String,
        permissions: Permissions,
    ) -> Result<RoleDefinition> {
        let draft = role_draft(self.draft(ctx, "role.update"), &name, &permissions);
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let role = self
                .put_role_in(
                    &mut tx,
                    ctx,
                    &draft,
                    now,
                    Some(id_or_name),
                    name.clone(),
                    description.clone(),
                    permissions.clone(),
                )
                .await?;
            tx.commit().await?;
            self.index.upsert_role(role.clone());
            Ok(role)
        })
        .await
    }

    /// [`Engine::create_role`] (`replacing` `None`) or [`Engine::update_role`] of the role
    /// `replacing` inside `tx`, audited with `draft`; the caller commits, then puts the role in the
    /// index.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_role_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        draft: &AuditDraft,
        now: Timestamp,
        replacing: Option<&str>,
        name: String,
        description: String,
        permissions: Permissions,
    ) -> Result<RoleDefinition> {
        self.authorize(ctx, ROLES_WRITE, &ScopePath::root())?;
        validate_custom(&name, &description, &permissions)?;
        let old = match replacing {
            Some(id_or_name) => Some(find_role(tx.conn(), id_or_name).await?),
            None => None,
        };
        if let Some(old) = &old
            && old.builtin
        {
            return refuse(ErrorKind::BuiltinRoleReadOnly, format!("the built-in role {} cannot be changed", old.name));
        }
        if let Some(other) = q::get_role_by_name(tx.conn(), &name).await?
            && old.as_ref().is_none_or(|o| o.id != other.id)
        {
            return refuse(ErrorKind::NameTaken, format!("a role named '{name}' exists"));
        }
        let id = old.as_ref().map_or_else(RoleId::new, |o| o.id);
        let role = RoleDefinition { id, name, description, builtin: false, permissions };
        if old.is_some() {
            q::update_role(tx.conn(), &role, now).await?;
        } else {
            q::insert_role(tx.conn(), &role, now).await?;
        }
        let mut d = draft.clone();
        d.role_id = Some(role.id);
        tx.audit(now, d).await?;
        self.record_changes(tx, now, &[Change::Role(role.id)]).await?;
        Ok(role)
    }

    /// Deletes a custom role that no current assignment uses.
    pub async fn delete_role(&self, ctx: &Context, id_or_name: &str) -> Result<()> {
        let mut draft = self.draft(ctx, "role.delete");
        draft.scope = Some(ScopePath::root());
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let role = self.delete_role_in(&mut tx, ctx, &draft, now, id_or_name).await?;
            tx.commit().await?;
            self.index.remove_role(role);
            Ok(())
        })
        .await
    }

    /// [`Engine::delete_role`] inside `tx`, audited with `draft`: the role deleted. The caller
    /// commits, then removes it from the index.
    pub(crate) async fn delete_role_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        draft: &AuditDraft,
        now: Timestamp,
        id_or_name: &str,
    ) -> Result<RoleId> {
        self.authorize(ctx, ROLES_WRITE, &ScopePath::root())?;
        let role = find_role(tx.conn(), id_or_name).await?;
        if role.builtin {
            return refuse(
                ErrorKind::BuiltinRoleReadOnly,
                format!("the built-in role {} cannot be deleted", role.name),
            );
        }
        let filter = q::AssignmentFilter { role: Some(role.id), limit: 1, ..Default::default() };
        if !q::list_assignments(tx.conn(), &filter).await?.is_empty() {
            return refuse(
                ErrorKind::RoleInUse,
                format!(
                    "role {} cannot be deleted: it has assignments (current or past), and a role that was assigned \
                     stays for the audit history",
                    role.name
                ),
            );
        }
        let reviewed = q::list_reviews(tx.conn(), true).await?.into_iter().find(|d| {
            matches!(&d.target, pim_domain::review::ReviewTarget::Roles { role_ids, .. } if role_ids.contains(&role.id))
        });
        if let Some(review) = reviewed {
            return refuse(
                ErrorKind::RoleInUse,
                format!(
                    "role {} cannot be deleted: the access review '{}' reviews it; change that review's roles or \
                     stop it first",
                    role.name, review.name
                ),
            );
        }
        for (r, scope, _) in q::list_settings(tx.conn(), Some(role.id)).await? {
            q::delete_settings(tx.conn(), r, &scope).await?;
        }
        q::delete_role(tx.conn(), role.id).await?;
        let mut d = draft.clone();
        d.role_id = Some(role.id);
        d.details = serde_json::json!({ "name": role.name });
        tx.audit(now, d).await?;
        self.record_changes(tx, now, &[Change::Role(role.id)]).await?;
        Ok(role.id)
    }

    /// The settings in force for a role at a scope.
    pub async fn effective_settings(&self, ctx: &Context, role: &str, scope: ScopePath) -> Result<EffectiveSettings> {
        self.authorize_read(ctx, SETTINGS_READ, &scope).await?;
        let mut c = self.store.read().await?;
        let role = find_role(&mut c, role).await?;
        settings_at(&mut c, role.id, &scope).await
    }

    /// Every explicitly defined setting the caller may read, optionally for one role.
    pub async fn list_settings(&self, ctx: &Context, role: Option<RoleId>) -> Result<Vec<EffectiveSettings>> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        Ok(q::list_settings(&mut c, role)
            .await?
            .into_iter()
            .filter(|(_, scope, _)| self.allowed(ctx, SETTINGS_READ, scope))
            .map(|(role_id, scope, settings)| EffectiveSettings {
                role_id,
                defined_at: Some(scope.clone()),
                scope,
                settings,
            })
            .collect())
    }

    /// Sets a role's settings at a scope (they apply there and below, until overridden). Where the
    /// settings in force are protected, the change waits for a second administrator instead.
    pub async fn put_settings(
        &self,
        ctx: &Context,
        role: &str,
        scope: ScopePath,
        settings: RoleSettings,
    ) -> Result<SettingsUpdate> {
        self.change_settings(ctx, role, scope, Some(settings)).await
    }

    /// Removes a role's explicit settings at a scope, so it inherits again (or proposes it, where
    /// the settings are protected).
    pub async fn delete_settings(&self, ctx: &Context, role: &str, scope: ScopePath) -> Result<SettingsUpdate> {
        self.change_settings(ctx, role, scope, None).await
    }
}

/// The audit event of a role's creation or change, before it is carried out.
pub(crate) fn role_draft(mut draft: AuditDraft, name: &str, permissions: &Permissions) -> AuditDraft {
    draft.scope = Some(ScopePath::root());
    draft.details = serde_json::json!({ "name": name, "permissions": permissions });
    draft
}

/// Checks proposed settings: ranges, and approvers that exist with the kind they claim.
pub(crate) async fn check_settings(c: &mut pim_store::AnyConnection, settings: &RoleSettings) -> Result<()> {
    settings.validate()?;
    for stage in &settings.approval_stages {
        let refs = stage.approvers.iter().chain(stage.escalation.iter().flat_map(|e| e.approvers.iter()));
        for a in refs {
            match q::get_principal(c, a.id).await? {
                Some(p) if p.kind == a.kind => {}
                _ => {
                    return refuse(
                        ErrorKind::InvalidSettings,
                        format!("approver {} {} does not exist", a.kind.as_str(), a.id),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Finds a role by id or (case-insensitive) name.
pub(crate) async fn find_role(c: &mut pim_store::AnyConnection, id_or_name: &str) -> Result<RoleDefinition> {
    let found = match id_or_name.parse::<RoleId>() {
        Ok(id) => q::get_role(c, id).await?,
        Err(_) => q::get_role_by_name(c, id_or_name).await?,
    };
    found.ok_or_else(|| DomainError::not_found(format!("role '{id_or_name}'")).into())
}

/// The settings in force for a role at a scope: the nearest ancestor's, else the defaults.
pub(crate) async fn settings_at(
    c: &mut pim_store::AnyConnection,
    role: RoleId,
    scope: &ScopePath,
) -> Result<EffectiveSettings> {
    Ok(match q::get_settings_nearest(c, role, scope).await? {
        Some((at, settings)) => {
            EffectiveSettings { role_id: role, scope: scope.clone(), defined_at: Some(at), settings }
        }
        None => EffectiveSettings {
            role_id: role,
            scope: scope.clone(),
            defined_at: None,
            settings: RoleSettings::default(),
        },
    })
}

/// Roles of "PIM for groups" may only be assigned at a group's scope, and only to users and groups;
/// and a group's scope holds nothing else (so a group's owner can grant its membership and ownership,
/// and no other role).
pub(crate) fn check_group_role(role: RoleId, scope: &ScopePath, principal_kind: PrincipalKind) -> Result<()> {
    use pim_domain::role::{GROUP_MEMBER, GROUP_OWNER};
    let group_role = role == GROUP_MEMBER || role == GROUP_OWNER;
    let under_groups = scope.as_str() == "/groups" || scope.as_str().starts_with("/groups/");
    if !group_role && under_groups {
        return refuse(
            ErrorKind::InvalidScope,
            "only the Member and Owner of group roles are assigned under /groups; assign other roles at / or at a resource's scope",
        );
    }
    if group_role {
        if scope.group().is_none() {
            return refuse(
                ErrorKind::InvalidScope,
                "the Member and Owner of group roles are assigned at a group's scope, /groups/{groupId}",
            );
        }
        if principal_kind == PrincipalKind::ServicePrincipal && role == GROUP_MEMBER {
            return refuse(ErrorKind::InvalidInput, "service principals cannot be group members");
        }
    }
    Ok(())
}
