//! Reading, exporting and verifying the hash-chained audit history.

use pim_domain::actions::AUDIT_READ;
use pim_domain::{AuditEvent, Outcome, PrincipalId, RoleId, ScopePath, Timestamp};
use pim_store::q;

use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;

/// Most events one export returns.
pub const EXPORT_LIMIT: i64 = 1_000_000;

/// Filters for the audit history.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Before this time.
    pub to: Option<Timestamp>,
    /// Who did it.
    pub actor: Option<PrincipalId>,
    /// Whom it concerned.
    pub principal: Option<PrincipalId>,
    /// Which role.
    pub role: Option<RoleId>,
    /// At this scope or below.
    pub scope: Option<ScopePath>,
    /// Action prefix (`request.`).
    pub action: Option<String>,
    /// Success or failure.
    pub outcome: Option<Outcome>,
    /// Page cursor: events with a smaller sequence number than this.
    pub before_seq: Option<i64>,
    /// Page size.
    pub limit: i64,
}

impl Engine {
    /// Scopes within which the caller may read the audit history; `None` means everywhere.
    /// Refuses with `forbidden` when there are none.
    pub async fn audit_visibility(&self, ctx: &Context) -> Result<Option<Vec<ScopePath>>> {
        let actor = self.actor(ctx)?;
        if self.allowed(ctx, AUDIT_READ, &ScopePath::root()) {
            return Ok(None);
        }
        let now = self.now();
        let scopes: Vec<ScopePath> = self
            .index
            .effective(actor.id, now)
            .into_iter()
            .filter_map(|g| ScopePath::parse(&g.scope).ok())
            .filter(|s| self.allowed(ctx, AUDIT_READ, s))
            .collect();
        if scopes.is_empty() {
            // Refused, and the refusal recorded.
            self.authorize_read(ctx, AUDIT_READ, &ScopePath::root()).await?;
        }
        Ok(Some(scopes))
    }

    fn audit_filter(&self, query: &AuditQuery, within: Option<Vec<ScopePath>>, descending: bool) -> q::AuditFilter {
        q::AuditFilter {
            from: query.from,
            to: query.to,
            actor: query.actor,
            principal: query.principal,
            role: query.role,
            scope_under: query.scope.clone(),
            scopes_within: within,
            involving: None,
            action_prefix: query.action.clone(),
            outcome: query.outcome,
            before_seq: if descending { query.before_seq } else { None },
            after_seq: None,
            descending,
            limit: query.limit,
        }
    }

    /// A page of the audit history, newest first.
    pub async fn list_audit(&self, ctx: &Context, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        let within = self.audit_visibility(ctx).await?;
        let filter = self.audit_filter(&query, within, true);
        let mut c = self.store.read().await?;
        Ok(q::list_audit(&mut c, &filter).await?)
    }

    /// Every matching event, oldest first, for export.
    pub async fn export_audit(&self, ctx: &Context, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        let within = self.audit_visibility(ctx).await?;
        let mut filter = self.audit_filter(&query, within, false);
        let mut c = self.store.read().await?;
        let mut out = Vec::new();
        loop {
            filter.limit = 5_000;
            let page = q::list_audit(&mut c, &filter).await?;
            let done = page.len() < 5_000;
            filter.after_seq = page.last().map(|e| e.seq);
            out.extend(page);
            if done || out.len() as i64 >= EXPORT_LIMIT {
                break;
            }
        }
        Ok(out)
    }

    /// Recomputes the hash chain and reports modified, inserted or deleted events.
    /// Needs `pim.audit.read` at `/`.
    pub async fn verify_audit(&self, ctx: &Context) -> Result<pim_store::VerifyReport> {
        self.authorize_read(ctx, AUDIT_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::verify_audit(&mut c).await?)
    }
}

impl Engine {
    /// The signed-in caller's id; `unauthenticated` without one.
    pub fn signed_in(&self, ctx: &Context) -> Result<PrincipalId> {
        Ok(self.actor(ctx)?.id)
    }

    /// The caller's own audit history, newest first: every event the caller did or that concerns
    /// them. Any signed-in principal may read it; `query.actor` and `query.principal` narrow it further.
    pub async fn my_audit(&self, ctx: &Context, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        let me = self.actor(ctx)?.id;
        let mut filter = self.audit_filter(&query, None, true);
        filter.involving = Some(me);
        let mut c = self.store.read().await?;
        Ok(q::list_audit(&mut c, &filter).await?)
    }

    /// Removes the audit events older than the retention (`EngineOptions::audit_retention_days`),
    /// keeping the chain verifiable: the last removed event becomes the anchor the first kept one
    /// links to, and the pruning is itself recorded as `audit.pruned` (count and anchor) in the same
    /// transaction, with the activity recorded before the same cut-off. Returns how many audit
    /// events were removed.
    pub async fn prune_audit(&self) -> Result<i64> {
        let Some(days) = self.options.audit_retention_days else { return Ok(0) };
        let now = self.now();
        let before = Timestamp(now.0.saturating_sub(i64::from(days).saturating_mul(pim_domain::time::DAY_MS)));
        let mut tx = self.store.write(now).await?;
        // Activity follows the audit retention (docs/ACTIVITY.md): its events are audited, and
        // what the audit history no longer holds is not kept beside it either.
        let activity = q::prune_activity(tx.conn(), before).await?;
        let Some(p) = q::audit_prunable(tx.conn(), before).await? else {
            tx.commit().await?;
            return Ok(0);
        };
        q::prune_audit(tx.conn(), &p).await?;
        let draft = pim_domain::AuditDraft {
            action: "audit.pruned".into(),
            details: serde_json::json!({
                "count": p.count,
                "anchorSeq": p.anchor_seq,
                "anchorHash": p.anchor_hash,
                "before": before,
                "retentionDays": days,
                "activityEvents": activity,
            }),
            ..pim_domain::AuditDraft::default()
        };
        tx.audit(now, draft).await?;
        tx.commit().await?;
        tracing::info!(count = p.count, anchor_seq = p.anchor_seq, "pruned the audit history");
        Ok(p.count)
    }
}
