//! Registered resources: named, typed nodes of the scope tree.

use pim_domain::actions::{SCOPES_READ, SCOPES_WRITE};
use pim_domain::{DomainError, ErrorKind, Resource, ResourceId, ScopePath};
use pim_store::q;

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
            self.authorize(ctx, SCOPES_WRITE, &scope)?;
            if scope.is_root() {
                return refuse(ErrorKind::InvalidScope, "'/' is the directory itself and cannot be registered");
            }
            validate_label("name", &name)?;
            validate_label("type", &kind)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::get_resource_by_scope(tx.conn(), &scope).await?.is_some() {
                return refuse(ErrorKind::AlreadyExists, format!("a resource is already registered at {scope}"));
            }
            let r = Resource {
                id: ResourceId::new(),
                scope: scope.clone(),
                name: name.clone(),
                kind: kind.clone(),
                created_at: now,
            };
            q::insert_resource(tx.conn(), &r).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "resourceId": r.id, "name": name, "type": kind });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(r)
        })
        .await
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
