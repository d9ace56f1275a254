//! Users, groups (nested, no cycles) and service principals; principals are disabled, never deleted.

use pim_domain::actions::{DIRECTORY_READ, DIRECTORY_WRITE};
use pim_domain::principal::validate_name;
use pim_domain::{DomainError, ErrorKind, Principal, PrincipalId, PrincipalKind, ScopePath};
use pim_store::q;

use crate::auth::{hash_password, validate_password};
use crate::context::Context;
use crate::engine::{Engine, index_principal};
use crate::error::{Result, refuse};
use crate::follow::Change;

/// A new principal.
#[derive(Clone, Debug, Default)]
pub struct NewPrincipal {
    /// Unique name.
    pub name: String,
    /// Name for people (defaults to `name`).
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Description (groups, service principals).
    pub description: Option<String>,
    /// Manager (users).
    pub manager_id: Option<PrincipalId>,
    /// Initial password (users).
    pub password: Option<String>,
    /// Break-glass account (users).
    pub emergency_access: bool,
}

/// Changes to a principal; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PrincipalPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New manager (`Some(None)` clears it).
    pub manager_id: Option<Option<PrincipalId>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Set or clear the emergency access flag.
    pub emergency_access: Option<bool>,
    /// New password (users).
    pub password: Option<String>,
}

pub(crate) fn validate_text(what: &str, v: &str, max: usize) -> Result<()> {
    if v.len() > max || v.chars().any(|c| c.is_control()) {
        return refuse(ErrorKind::InvalidInput, format!("{what} must be at most {max} printable characters"));
    }
    Ok(())
}

pub(crate) fn validate_email(e: &str) -> Result<()> {
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '>'));
    if ok { Ok(()) } else { refuse(ErrorKind::InvalidInput, format!("'{e}' is not an email address")) }
}

/// Refuses user-only fields on other kinds, and hashes a new password (argon2id) after checking it.
async fn user_fields_and_password(
    kind: PrincipalKind,
    has_user_only_fields: bool,
    password: &Option<String>,
) -> Result<Option<String>> {
    if kind != PrincipalKind::User && has_user_only_fields {
        return refuse(ErrorKind::InvalidInput, "password, manager and emergency access apply to users only");
    }
    match password {
        Some(p) => {
            validate_password(p)?;
            Ok(Some(hash_password(p.clone()).await?))
        }
        None => Ok(None),
    }
}

fn kind_word(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Group => "group",
        PrincipalKind::ServicePrincipal => "servicePrincipal",
    }
}

impl Engine {
    /// Creates a user, group or service principal.
    pub async fn create_principal(&self, ctx: &Context, kind: PrincipalKind, new: NewPrincipal) -> Result<Principal> {
        let draft = self.principal_draft(ctx, kind, &new.name);
        self.audited(draft.clone(), async {
            self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
            let user_only = new.password.is_some() || new.manager_id.is_some() || new.emergency_access;
            let hash = user_fields_and_password(kind, user_only, &new.password).await?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let p = self.create_principal_in(&mut tx, ctx, &draft, now, kind, &new, hash.as_deref()).await?;
            tx.commit().await?;
            self.index.upsert_principal(index_principal(&p));
            Ok(p)
        })
        .await
    }

    /// [`Engine::create_principal`] inside `tx` (with the password already hashed), audited with
    /// `draft`; the caller commits, then puts the principal in the index.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn create_principal_in(
        &self,
        tx: &mut pim_store::WriteTx,
        ctx: &Context,
        draft: &pim_domain::AuditDraft,
        now: pim_domain::Timestamp,
        kind: PrincipalKind,
        new: &NewPrincipal,
        password_hash: Option<&str>,
    ) -> Result<Principal> {
        self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
        validate_name(&new.name)?;
        if let Some(d) = &new.display_name {
            validate_text("displayName", d, 256)?;
        }
        if let Some(d) = &new.description {
            validate_text("description", d, 1024)?;
        }
        if let Some(e) = &new.email {
            validate_email(e)?;
        }
        if let Some(m) = new.manager_id {
            self.require_user(tx.conn(), m).await?;
        }
        if q::get_principal_by_name(tx.conn(), &new.name).await?.is_some() {
            return refuse(ErrorKind::NameTaken, format!("the name '{}' is already taken", new.name));
        }
        let p = Principal {
            id: PrincipalId::new(),
            kind,
            name: new.name.clone(),
            display_name: new.display_name.clone().unwrap_or_else(|| new.name.clone()),
            email: new.email.clone(),
            description: new.description.clone(),
            manager_id: new.manager_id,
            enabled: true,
            emergency_access: new.emergency_access,
            last_sign_in_at: None,
            created_at: now,
            updated_at: now,
        };
        q::insert_principal(tx.conn(), &p).await?;
        if let Some(h) = password_hash {
            q::set_password_hash(tx.conn(), p.id, h, now).await?;
        }
        let mut d = draft.clone();
        d.principal_id = Some(p.id);
        tx.audit(now, d).await?;
        self.record_changes(tx, now, &[Change::Principal(p.id)]).await?;
        Ok(p)
    }

    /// The audit event of a principal's creation.
    pub(crate) fn principal_draft(&self, ctx: &Context, kind: PrincipalKind, name: &str) -> pim_domain::AuditDraft {
        let mut draft = self.draft(ctx, &format!("{}.create", kind_word(kind)));
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "name": name });
        draft
    }

    async fn require_user(&self, c: &mut pim_store::AnyConnection, id: PrincipalId) -> Result<Principal> {
        match q::get_principal(c, id).await? {
            Some(p) if p.kind == PrincipalKind::User => Ok(p),
            _ => Err(DomainError::not_found(format!("user {id}")).into()),
        }
    }

    /// Changes a principal of `kind`. Disabling the holder of the last permanent Global Administrator
    /// assignment is refused.
    pub async fn update_principal(
        &self,
        ctx: &Context,
        kind: PrincipalKind,
        id: PrincipalId,
        patch: PrincipalPatch,
    ) -> Result<Principal> {
        let mut draft = self.draft(ctx, &format!("{}.update", kind_word(kind)));
        draft.scope = Some(ScopePath::root());
        draft.principal_id = Some(id);
        self.audited(draft.clone(), async {
            self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
            if let Some(d) = &patch.display_name {
                validate_text("displayName", d, 256)?;
            }
            if let Some(Some(d)) = &patch.description {
                validate_text("description", d, 1024)?;
            }
            if let Some(Some(e)) = &patch.email {
                validate_email(e)?;
            }
            let user_only = patch.password.is_some() || patch.manager_id.is_some() || patch.emergency_access.is_some();
            let hash = user_fields_and_password(kind, user_only, &patch.password).await?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut p = match q::get_principal(tx.conn(), id).await? {
                Some(p) if p.kind == kind => p,
                _ => return Err(DomainError::not_found(format!("{} {id}", kind_word(kind))).into()),
            };
            let mut changed = Vec::new();
            if let Some(v) = patch.display_name.clone() {
                p.display_name = v;
                changed.push("displayName");
            }
            if let Some(v) = patch.email.clone() {
                p.email = v;
                changed.push("email");
            }
            if let Some(v) = patch.description.clone() {
                p.description = v;
                changed.push("description");
            }
            if let Some(v) = patch.manager_id {
                if let Some(m) = v {
                    if m == id {
                        return refuse(ErrorKind::InvalidInput, "a user cannot be their own manager");
                    }
                    self.require_user(tx.conn(), m).await?;
                }
                p.manager_id = v;
                changed.push("managerId");
            }
            if let Some(v) = patch.emergency_access {
                p.emergency_access = v;
                changed.push("emergencyAccess");
            }
            let mut revoked = Vec::new();
            if let Some(v) = patch.enabled {
                if !v && p.enabled {
                    revoked = disable_cascade(tx.conn(), now, id).await?;
                }
                p.enabled = v;
                changed.push("enabled");
            }
            if let Some(h) = &hash {
                q::set_password_hash(tx.conn(), id, h, now).await?;
                changed.push("password");
            }
            p.updated_at = now;
            q::update_principal(tx.conn(), &p).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "changed": changed, "enabled": p.enabled });
            if !revoked.is_empty() {
                d.details["revokedTokens"] = serde_json::json!(revoked.len());
            }
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(p.id)]).await?;
            tx.commit().await?;
            self.tokens.forget_principal(p.id);
            self.index.upsert_principal(index_principal(&p));
            Ok(p)
        })
        .await
    }

    /// Reads a principal by id or name.
    pub async fn get_principal(&self, ctx: &Context, id_or_name: &str) -> Result<Principal> {
        let actor = self.actor(ctx)?;
        let is_self = id_or_name == actor.id.to_string() || id_or_name.eq_ignore_ascii_case(&actor.name);
        if !is_self {
            // Before the lookup, so that callers who may not read the directory cannot probe names.
            self.authorize_read(ctx, DIRECTORY_READ, &ScopePath::root()).await?;
        }
        let mut c = self.store.read().await?;
        let p = match id_or_name.parse::<PrincipalId>() {
            Ok(id) => q::get_principal(&mut c, id).await?,
            Err(_) => q::get_principal_by_name(&mut c, id_or_name).await?,
        };
        p.ok_or_else(|| DomainError::not_found(format!("principal '{id_or_name}'")).into())
    }

    /// Lists principals of a kind, by id, optionally by name prefix.
    pub async fn list_principals(
        &self,
        ctx: &Context,
        kind: PrincipalKind,
        name_prefix: Option<String>,
        after: Option<PrincipalId>,
        limit: i64,
    ) -> Result<Vec<Principal>> {
        self.authorize_read(ctx, DIRECTORY_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        let filter = q::PrincipalFilter { kind: Some(kind), name_prefix, after, limit };
        Ok(q::list_principals(&mut c, &filter).await?)
    }

    /// The direct members of a group.
    pub async fn list_members(&self, ctx: &Context, group: PrincipalId) -> Result<Vec<Principal>> {
        self.authorize_read(ctx, DIRECTORY_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        self.require_kind(&mut c, group, PrincipalKind::Group).await?;
        let mut out = Vec::new();
        for id in q::list_members(&mut c, group).await? {
            if let Some(p) = q::get_principal(&mut c, id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    async fn require_kind(
        &self,
        c: &mut pim_store::AnyConnection,
        id: PrincipalId,
        kind: PrincipalKind,
    ) -> Result<Principal> {
        match q::get_principal(c, id).await? {
            Some(p) if p.kind == kind => Ok(p),
            _ => Err(DomainError::not_found(format!("{} {id}", kind_word(kind))).into()),
        }
    }

    /// Adds a user or group to a group; a membership that would make a cycle is refused.
    pub async fn add_member(&self, ctx: &Context, group: PrincipalId, member: PrincipalId) -> Result<()> {
        self.change_membership(ctx, group, member, true).await
    }

    /// Removes a direct member from a group.
    pub async fn remove_member(&self, ctx: &Context, group: PrincipalId, member: PrincipalId) -> Result<()> {
        self.change_membership(ctx, group, member, false).await
    }

    async fn change_membership(&self, ctx: &Context, group: PrincipalId, member: PrincipalId, add: bool) -> Result<()> {
        let draft = self.membership_draft(ctx, group, member, add);
        self.audited(draft.clone(), async {
            self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            self.require_kind(tx.conn(), group, PrincipalKind::Group).await?;
            let m = q::get_principal(tx.conn(), member)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("principal {member}")))?;
            if !self.membership_in_tx(&mut tx, now, group, &m, add, draft.clone()).await? {
                return if add {
                    refuse(ErrorKind::AlreadyExists, format!("{} is already a member", m.name))
                } else {
                    Err(DomainError::not_found(format!("membership of {} in group {group}", m.name)).into())
                };
            }
            tx.commit().await?;
            self.index.set_membership(group, member, add);
            Ok(())
        })
        .await
    }
}

impl Engine {
    /// The audit event of a static membership's change.
    pub(crate) fn membership_draft(
        &self,
        ctx: &Context,
        group: PrincipalId,
        member: PrincipalId,
        add: bool,
    ) -> pim_domain::AuditDraft {
        let mut draft = self.draft(ctx, if add { "group.addMember" } else { "group.removeMember" });
        draft.scope = Some(ScopePath::for_group(group));
        draft.principal_id = Some(member);
        draft.details = serde_json::json!({ "groupId": group });
        draft
    }

    /// Adds (`add`) or removes the static membership of `member` in `group` inside `tx`, with its
    /// audit event (`draft`) and its change-feed and connector rows; refuses service principals
    /// and cycles. Whether anything changed (nothing is written otherwise). The caller updates the
    /// index after commit (`index.set_membership`).
    pub(crate) async fn membership_in_tx(
        &self,
        tx: &mut pim_store::WriteTx,
        now: pim_domain::Timestamp,
        group: PrincipalId,
        member: &Principal,
        add: bool,
        draft: pim_domain::AuditDraft,
    ) -> Result<bool> {
        if add {
            if member.kind == PrincipalKind::ServicePrincipal {
                return refuse(ErrorKind::InvalidInput, "groups hold users and groups, not service principals");
            }
            if member.kind == PrincipalKind::Group && would_cycle(tx.conn(), group, member.id).await? {
                return refuse(
                    ErrorKind::GroupCycle,
                    format!("adding group {} to this group would make a cycle", member.name),
                );
            }
            if !q::add_member(tx.conn(), group, member.id, now).await? {
                return Ok(false);
            }
        } else if !q::remove_member(tx.conn(), group, member.id).await? {
            return Ok(false);
        }
        tx.audit(now, draft).await?;
        self.record_changes(tx, now, &[Change::Membership(group, member.id)]).await?;
        Ok(true)
    }
}

/// The cascade of disabling a principal, inside the disabling transaction: refused for the holder
/// of the last permanent Global Administrator assignment; every token and portal session is
/// revoked for good (enabling again brings none back). The caller then forgets the cached tokens
/// and updates the index after commit, which stops counting the principal's assignments at once.
pub(crate) async fn disable_cascade(
    c: &mut pim_store::AnyConnection,
    now: pim_domain::Timestamp,
    id: PrincipalId,
) -> Result<Vec<pim_domain::TokenId>> {
    crate::requests::ensure_global_admin_remains(c, now, &[], Some(id)).await?;
    // Disabling ends every token and portal session for good: enabling again does not bring them back.
    let revoked = q::revoke_principal_tokens(c, id, now).await?;
    // Signed access tokens already out, too (introspection refuses those issued before).
    q::set_access_token_cutoff(c, id, now).await?;
    Ok(revoked)
}

/// Whether making `member` a member of `group` closes a cycle: `group` is `member` or lies below it.
pub(crate) async fn would_cycle(
    c: &mut pim_store::AnyConnection,
    group: PrincipalId,
    member: PrincipalId,
) -> Result<bool> {
    if group == member {
        return Ok(true);
    }
    // Walk down from `member` through its member groups; a cycle exists if `group` is reached.
    let mut stack = vec![member];
    let mut seen = std::collections::HashSet::new();
    while let Some(g) = stack.pop() {
        if !seen.insert(g) {
            continue;
        }
        for m in q::list_members(c, g).await? {
            if m == group {
                return Ok(true);
            }
            stack.push(m);
        }
    }
    Ok(false)
}
