//! The check API: may principal P perform action A at scope S now? Answered from the access index.

use pim_domain::actions::CHECK_READ;
use pim_domain::permission::is_valid_action;
use pim_domain::{DomainError, ErrorKind, PrincipalId, ScopePath, Timestamp};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::index::Grant;

/// The answer to a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckAnswer {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The principal asked about.
    pub principal_id: PrincipalId,
    /// The assignment that allows it, when allowed.
    pub grant: Option<Grant>,
}

impl Engine {
    /// Answers a check. Anyone may ask about themselves; asking about others needs `pim.check.read` at `/`.
    pub fn check(
        &self,
        ctx: &Context,
        principal: &str,
        action: &str,
        scope: &str,
        at: Option<Timestamp>,
    ) -> Result<CheckAnswer> {
        let actor = self.actor(ctx)?;
        if !is_valid_action(action) {
            return refuse(
                ErrorKind::InvalidAction,
                format!("'{action}' is not an action name (dot-separated segments of letters, digits, '-' and '_')"),
            );
        }
        ScopePath::parse(scope).map_err(DomainError::from)?;
        let found = match principal.parse::<PrincipalId>() {
            Ok(id) => self.index.principal(id).map(|p| p.id),
            Err(_) => self.index.resolve_name(principal),
        };
        // Authorize before saying whether the principal exists, so outsiders cannot probe names.
        if found != Some(actor.id)
            && let Err(e) = self.authorize(ctx, CHECK_READ, &ScopePath::root())
        {
            // Recorded off the hot path: a check changes nothing, so nothing waits for the event.
            if let Some(r) = e.refusal().cloned() {
                let engine = self.clone();
                let mut d = self.draft(ctx, "access.denied");
                d.scope = Some(ScopePath::root());
                d.details = serde_json::json!({ "action": CHECK_READ });
                tokio::spawn(async move {
                    if let Err(err) = engine.record_refusal(d, &r).await {
                        tracing::warn!(error = %err, "could not record a refused check");
                    }
                });
            }
            return Err(e);
        }
        let principal_id = found.ok_or_else(|| DomainError::not_found(format!("principal '{principal}'")))?;
        let now = at.unwrap_or_else(|| self.now());
        let d = self.index.check(principal_id, action, scope, now);
        Ok(CheckAnswer { allowed: d.allowed, principal_id, grant: d.grant })
    }
}
