//! Audiences: the resource servers administrators register to accept pim's access tokens
//! (`pim.tokens.read` / `pim.tokens.write` at `/`), each change audited.

use pim_domain::actions::{TOKENS_READ, TOKENS_WRITE};
use pim_domain::token::{
    Audience, DEFAULT_LIFETIME_SECS, MAX_AUDIENCE_ROLES, SigningAlg, validate_audience_name, validate_lifetime,
};
use pim_domain::{AudienceId, DomainError, ErrorKind, PrincipalId, PrincipalKind, RoleId, ScopePath};
use pim_store::{AnyConnection, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

/// The fields of an audience to set; `None` keeps (on update) or defaults (on create).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudienceChange {
    /// The name (the tokens' `aud`); required on create.
    pub name: Option<String>,
    /// Roles by id or name; at least one (an audience accepts only the roles it lists).
    pub roles: Option<Vec<String>>,
    /// The scope prefix (default `/`).
    pub scope_prefix: Option<ScopePath>,
    /// Token lifetime in seconds (default 900).
    pub lifetime_secs: Option<u32>,
    /// The signing algorithm (default: the server's).
    pub algorithm: Option<SigningAlg>,
    /// The introspecting principal by id or name; `Some("")` clears it.
    pub introspector: Option<String>,
}

/// Finds an audience by id or name.
async fn find(c: &mut AnyConnection, id_or_name: &str) -> Result<Audience> {
    let found = match id_or_name.parse::<AudienceId>() {
        Ok(id) => q::get_audience(c, id).await?,
        Err(_) => q::get_audience_by_name(c, id_or_name).await?,
    };
    found.ok_or_else(|| DomainError::not_found(format!("audience '{id_or_name}'")).into())
}

impl Engine {
    /// Every audience, by name.
    pub async fn list_audiences(&self, ctx: &Context) -> Result<Vec<Audience>> {
        self.authorize_read(ctx, TOKENS_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::list_audiences(&mut c).await?)
    }

    /// One audience by id or name.
    pub async fn get_audience(&self, ctx: &Context, id_or_name: &str) -> Result<Audience> {
        self.authorize_read(ctx, TOKENS_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        find(&mut c, id_or_name).await
    }

    /// Registers an audience.
    pub async fn create_audience(&self, ctx: &Context, change: AudienceChange) -> Result<Audience> {
        let mut draft = self.draft(ctx, "audience.create");
        draft.details = serde_json::json!({ "name": change.name });
        self.audited(draft.clone(), async {
            self.authorize(ctx, TOKENS_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut a = Audience {
                id: AudienceId::new(),
                name: String::new(),
                role_ids: Vec::new(),
                scope_prefix: ScopePath::root(),
                lifetime_secs: DEFAULT_LIFETIME_SECS,
                algorithm: None,
                introspector: None,
                created_at: now,
                updated_at: now,
            };
            if change.name.is_none() {
                return refuse(ErrorKind::InvalidInput, "an audience needs a name");
            }
            apply(tx.conn(), &mut a, change).await?;
            needs_roles(&a)?;
            if q::get_audience_by_name(tx.conn(), &a.name).await?.is_some() {
                return refuse(ErrorKind::NameTaken, format!("an audience named '{}' exists", a.name));
            }
            q::insert_audience(tx.conn(), &a).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "audience": a });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(a)
        })
        .await
    }

    /// Changes an audience (by id or name).
    pub async fn update_audience(&self, ctx: &Context, id_or_name: &str, change: AudienceChange) -> Result<Audience> {
        let mut draft = self.draft(ctx, "audience.update");
        draft.details = serde_json::json!({ "audience": id_or_name });
        self.audited(draft.clone(), async {
            self.authorize(ctx, TOKENS_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut a = find(tx.conn(), id_or_name).await?;
            let old_name = a.name.clone();
            apply(tx.conn(), &mut a, change).await?;
            needs_roles(&a)?;
            if a.name != old_name && q::get_audience_by_name(tx.conn(), &a.name).await?.is_some() {
                return refuse(ErrorKind::NameTaken, format!("an audience named '{}' exists", a.name));
            }
            a.updated_at = now;
            q::update_audience(tx.conn(), &a).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "audience": a });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(a)
        })
        .await
    }

    /// Removes an audience: its tokens stop introspecting as active at once (they still verify
    /// offline until their `exp`, at most the lifetime they were issued with).
    pub async fn delete_audience(&self, ctx: &Context, id_or_name: &str) -> Result<()> {
        let mut draft = self.draft(ctx, "audience.delete");
        draft.details = serde_json::json!({ "audience": id_or_name });
        self.audited(draft.clone(), async {
            self.authorize(ctx, TOKENS_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let a = find(tx.conn(), id_or_name).await?;
            q::delete_audience(tx.conn(), a.id).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "audience": a });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Refuses an audience that lists no role: every role is never implied (it would include the
/// administrative ones), so each accepted role is named.
fn needs_roles(a: &Audience) -> Result<()> {
    if a.role_ids.is_empty() {
        return refuse(ErrorKind::InvalidInput, "an audience needs at least one role: list every role it accepts");
    }
    Ok(())
}

/// Applies `change` to `a`, checking every field.
async fn apply(c: &mut AnyConnection, a: &mut Audience, change: AudienceChange) -> Result<()> {
    if let Some(name) = change.name {
        validate_audience_name(&name)?;
        a.name = name;
    }
    if let Some(roles) = change.roles {
        if roles.len() > MAX_AUDIENCE_ROLES {
            return refuse(ErrorKind::InvalidInput, format!("an audience lists at most {MAX_AUDIENCE_ROLES} roles"));
        }
        let mut ids: Vec<RoleId> = Vec::new();
        for r in &roles {
            let id = crate::roles::find_role(c, r.trim()).await?.id;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        a.role_ids = ids;
    }
    if let Some(p) = change.scope_prefix {
        a.scope_prefix = p;
    }
    if let Some(l) = change.lifetime_secs {
        validate_lifetime(l)?;
        a.lifetime_secs = l;
    }
    if let Some(alg) = change.algorithm {
        a.algorithm = Some(alg);
    }
    if let Some(who) = change.introspector {
        a.introspector = if who.is_empty() { None } else { Some(find_introspector(c, &who).await?) };
    }
    Ok(())
}

/// The user or service principal named by id or name.
async fn find_introspector(c: &mut AnyConnection, id_or_name: &str) -> Result<PrincipalId> {
    let p = match id_or_name.parse::<PrincipalId>() {
        Ok(id) => q::get_principal(c, id).await?,
        Err(_) => q::get_principal_by_name(c, id_or_name).await?,
    };
    let p = p.ok_or_else(|| DomainError::not_found(format!("principal '{id_or_name}'")))?;
    if p.kind == PrincipalKind::Group {
        return refuse(ErrorKind::InvalidInput, "the introspector must be a user or a service principal");
    }
    Ok(p.id)
}
