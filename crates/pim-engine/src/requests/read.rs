//! Reading requests and assignments, as far as the caller may see them.

use pim_domain::actions::{ASSIGNMENTS_READ, REQUESTS_READ};
use pim_domain::{Assignment, AssignmentId, DomainError, Request, RequestId};
use pim_store::q;

use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;

use super::plan::load_assignment;
use super::{AssignmentQuery, RequestQuery};

impl Engine {
    /// One request: the caller's own, or any with `pim.requests.read` at its scope.
    pub async fn get_request(&self, ctx: &Context, id: RequestId) -> Result<Request> {
        let actor = self.actor(ctx)?;
        let mut c = self.store.read().await?;
        let r = q::get_request(&mut c, id).await?.ok_or_else(|| DomainError::not_found(format!("request {id}")))?;
        let concerned = r.requested_by == actor.id || r.principal_id == actor.id;
        if !concerned && !self.is_approver_of(actor.id, &r, self.now()) {
            self.authorize_read(ctx, REQUESTS_READ, &r.scope).await?;
        }
        Ok(r)
    }

    /// Requests, newest first, that the caller may see.
    pub async fn list_requests(&self, ctx: &Context, query: RequestQuery) -> Result<Vec<Request>> {
        let actor = self.actor(ctx)?.clone();
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        let mut after = query.after;
        loop {
            let filter = q::RequestFilter {
                principal: query.principal,
                requested_by: if query.mine { Some(actor.id) } else { None },
                status: query.status,
                action: query.action,
                after,
                limit: query.limit,
                descending: true,
                ..Default::default()
            };
            let page = q::list_requests(&mut c, &filter).await?;
            let done = (page.len() as i64) < query.limit;
            after = page.last().map(|r| r.id);
            out.extend(page.into_iter().filter(|r| {
                r.requested_by == actor.id || r.principal_id == actor.id || self.allowed(ctx, REQUESTS_READ, &r.scope)
            }));
            if done || out.len() as i64 >= query.limit {
                break;
            }
        }
        out.truncate(query.limit as usize);
        Ok(out)
    }

    /// One assignment: the caller's own, or any with `pim.assignments.read` at its scope.
    pub async fn get_assignment(&self, ctx: &Context, id: AssignmentId) -> Result<Assignment> {
        let actor = self.actor(ctx)?;
        let mut c = self.store.read().await?;
        let a = load_assignment(&mut c, id).await?;
        if a.principal_id != actor.id {
            self.authorize_read(ctx, ASSIGNMENTS_READ, &a.scope).await?;
        }
        Ok(a)
    }

    /// Assignments the caller may see: its own, and any at scopes where it holds `pim.assignments.read`.
    pub async fn list_assignments(&self, ctx: &Context, query: AssignmentQuery) -> Result<Vec<Assignment>> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        let mut after = query.after;
        loop {
            let filter = q::AssignmentFilter {
                principal: query.principal,
                role: query.role,
                scope: query.scope.clone(),
                under: query.under.clone(),
                kind: query.kind,
                not_ended_at: if query.include_ended { None } else { Some(now) },
                after,
                limit: query.limit,
                ..Default::default()
            };
            let page = q::list_assignments(&mut c, &filter).await?;
            let done = (page.len() as i64) < query.limit;
            after = page.last().map(|a| a.id);
            out.extend(
                page.into_iter()
                    .filter(|a| a.principal_id == actor.id || self.allowed(ctx, ASSIGNMENTS_READ, &a.scope)),
            );
            if done || out.len() as i64 >= query.limit {
                break;
            }
        }
        out.truncate(query.limit as usize);
        Ok(out)
    }

    /// The caller's own current assignments (direct and through groups), eligible and active.
    pub async fn my_assignments(&self, ctx: &Context) -> Result<Vec<Assignment>> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let mut holders = vec![actor.id];
        holders.extend(self.index.groups_of(actor.id, now));
        let mut c = self.store.read().await?;
        let filter = q::AssignmentFilter { principals: Some(holders), not_ended_at: Some(now), ..Default::default() };
        Ok(q::list_assignments(&mut c, &filter).await?)
    }
}
