//! Registered resources: named, typed nodes of the scope tree.

use pim_domain::actions::{SCOPES_READ, SCOPES_WRITE};
use pim_domain::{DomainError, ErrorKind, Resource, ResourceId, ScopePath, Timestamp};
use pim_store::{WriteTx, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

fn validate_label(what: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        return refuse(ErrorKind::InvalidInput, format!("{what} must be 1-200 printable characters"));
    }
    Ok(())
}

impl Engine {
    /// Registers a resource at a scope (one per scope; `/` is the directory itself).
    pub async fn create_resource(
        &self,
        ctx: &Context,
        scope: ScopePath,
        name: String,
        kind: String,
    ) -> Result<Resource> {
        let mut draft = self.draft(ctx, "resource.create");
        draft.scope = Some(scope.clone());
        draft.details = serde_json::json!({ "name": name, "type": kind });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let r = self.create_resource_in(&mut tx, ctx, now, scope.clone(), name.clone(), kind.clone()).await?;
            tx.commit().await?;
            Ok(r)
        })
        .await
    }

    /// Renames and/or retypes a resource (`pim.scopes.write` at its scope; `resource.update`).
    pub async fn update_resource(
        &self,
        ctx: &Context,
        id: ResourceId,
        name: Option<String>,
        kind: Option<String>,
    ) -> Result<Resource> {
        let mut draft = self.draft(ctx, "resource.update");
        draft.details = serde_json::json!({ "resourceId": id, "name": name, "type": kind });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let r = self.resource_to_write(&mut tx, ctx, id).await?;
            let r = self.update_resource_in(&mut tx, ctx, now, r, name.clone(), kind.clone()).await?;
            tx.commit().await?;
            Ok(r)
        })
        .await
    }

    /// Removes a resource's registration (`pim.scopes.write` at its scope; `resource.delete`).
    /// Assignments and settings at that scope stay: a scope exists whether or not it is registered.
    pub async fn delete_resource(&self, ctx: &Context, id: ResourceId) -> Result<Resource> {
        let mut draft = self.draft(ctx, "resource.delete");
        draft.details = serde_json::json!({ "resourceId": id });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let r = self.resource_to_write(&mut tx, ctx, id).await?;
            self.delete_resource_in(&mut tx, ctx, now, &r).await?;
            tx.commit().await?;
            Ok(r)
        })
        .await
    }

    /// The resource `id`, for a change; one that does not exist is `not_found` only to those who
    /// could change resources anywhere.
    async fn resource_to_write(&self, tx: &mut WriteTx, ctx: &Context, id: ResourceId) -> Result<Resource> {
        match q::get_resource(tx.conn(), id).await? {
            Some(r) => Ok(r),
            None => {
                self.authorize(ctx, SCOPES_WRITE, &ScopePath::root())?;
                Err(DomainError::not_found(format!("resource {id}")).into())
            }
        }
    }

    /// [`Engine::update_resource`] of `r` inside `tx`, audited there; the caller commits.
    pub(crate) async fn update_resource_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        mut r: Resource,
        name: Option<String>,
        kind: Option<String>,
    ) -> Result<Resource> {
        self.authorize(ctx, SCOPES_WRITE, &r.scope)?;
        if name.is_none() && kind.is_none() {
            return refuse(ErrorKind::InvalidInput, "give a name or a type to change");
        }
        if let Some(n) = &name {
            validate_label("name", n)?;
        }
        if let Some(k) = &kind {
            validate_label("type", k)?;
        }
        let before = (r.name.clone(), r.kind.clone());
        r.name = name.unwrap_or(r.name);
        r.kind = kind.unwrap_or(r.kind);
        q::update_resource(tx.conn(), &r).await?;
        let mut d = self.draft(ctx, "resource.update");
        d.scope = Some(r.scope.clone());
        d.details = serde_json::json!({
            "resourceId": r.id,
            "from": { "name": before.0, "type": before.1 },
            "to": { "name": r.name, "type": r.kind },
        });
        tx.audit(now, d).await?;
        Ok(r)
    }

    /// [`Engine::delete_resource`] of `r` inside `tx`, audited there; the caller commits.
    pub(crate) async fn delete_resource_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        r: &Resource,
    ) -> Result<()> {
        self.authorize(ctx, SCOPES_WRITE, &r.scope)?;
        q::delete_resource(tx.conn(), r.id).await?;
        let mut d = self.draft(ctx, "resource.delete");
        d.scope = Some(r.scope.clone());
        d.details = serde_json::json!({ "resourceId": r.id, "name": r.name, "type": r.kind });
        tx.audit(now, d).await?;
        Ok(())
    }

    /// Registers a resource inside `tx` (the policy's apply), audited there; the caller commits.
    pub(crate) async fn create_resource_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        scope: ScopePath,
        name: String,
        kind: String,
    ) -> Result<Resource> {
        self.authorize(ctx, SCOPES_WRITE, &scope)?;
        if scope.is_root() {
            return refuse(ErrorKind::InvalidScope, "'/' is the directory itself and cannot be registered");
        }
        validate_label("name", &name)?;
        validate_label("type", &kind)?;
        if q::get_resource_by_scope(tx.conn(), &scope).await?.is_some() {
            return refuse(ErrorKind::AlreadyExists, format!("a resource is already registered at {scope}"));
        }
        let r = Resource { id: ResourceId::new(), scope: scope.clone(), name, kind, created_at: now };
        q::insert_resource(tx.conn(), &r).await?;
        let mut d = self.draft(ctx, "resource.create");
        d.scope = Some(scope);
        d.details = serde_json::json!({ "resourceId": r.id, "name": r.name, "type": r.kind });
        tx.audit(now, d).await?;
        Ok(r)
    }

    /// One resource.
    pub async fn get_resource(&self, ctx: &Context, id: ResourceId) -> Result<Resource> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        match q::get_resource(&mut c, id).await? {
            Some(r) => {
                self.authorize_read(ctx, SCOPES_READ, &r.scope).await?;
                Ok(r)
            }
            // Only those who could read it anywhere learn that it does not exist.
            None => {
                self.authorize_read(ctx, SCOPES_READ, &ScopePath::root()).await?;
                Err(DomainError::not_found(format!("resource {id}")).into())
            }
        }
    }

    /// Resources at or below `under`, ordered by scope, that the caller may read.
    pub async fn list_resources(
        &self,
        ctx: &Context,
        under: Option<ScopePath>,
        after_scope: Option<String>,
        limit: i64,
    ) -> Result<Vec<Resource>> {
        self.actor(ctx)?;
        let under = under.unwrap_or_else(ScopePath::root);
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        let mut after = after_scope;
        // Filter by permission page by page until the page is full or the list ends.
        loop {
            let page = q::list_resources(&mut c, Some(&under), after.as_deref(), limit).await?;
            let done = (page.len() as i64) < limit;
            after = page.last().map(|r| r.scope.as_str().to_owned());
            out.extend(page.into_iter().filter(|r| self.allowed(ctx, SCOPES_READ, &r.scope)));
            if done || out.len() as i64 >= limit {
                break;
            }
        }
        out.truncate(limit as usize);
        Ok(out)
    }
}
