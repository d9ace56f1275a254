//! The check API: may principal P perform action A at scope S now? Answered from the access index.

use pim_domain::actions::CHECK_READ;
use pim_domain::permission::{MAX_BATCH_CHECKS, is_valid_action};
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

/// One question of a batch check: may `principal` perform `action` at `scope` at `at` (now when `None`)?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// The principal's id or name.
    pub principal: &'a str,
    /// A concrete action.
    pub action: &'a str,
    /// The scope path.
    pub scope: &'a str,
    /// The instant asked about.
    pub at: Option<Timestamp>,
}

impl Engine {
    /// Answers many checks at once, in order, for gateways that authorize a page of resources in one
    /// round trip. Every question is validated before any is answered (a bad one refuses the whole
    /// batch, naming it); asking about anyone but oneself needs `pim.check.read` at `/`, once; an
    /// unknown principal is not found for the whole batch, as for [`Engine::check`].
    pub fn check_many(&self, ctx: &Context, questions: &[Question<'_>]) -> Result<Vec<CheckAnswer>> {
        let actor = self.actor(ctx)?;
        if questions.is_empty() || questions.len() > MAX_BATCH_CHECKS {
            return refuse(
                ErrorKind::InvalidInput,
                format!("a batch check asks 1 to {MAX_BATCH_CHECKS} questions, not {}", questions.len()),
            );
        }
        for (i, q) in questions.iter().enumerate() {
            if !is_valid_action(q.action) {
                return refuse(
                    ErrorKind::InvalidAction,
                    format!(
                        "check {i}: '{}' is not an action name (dot-separated segments of letters, digits, '-' and '_')",
                        q.action
                    ),
                );
            }
            ScopePath::validate(q.scope)
                .map_err(|e| DomainError::new(ErrorKind::InvalidScope, format!("check {i}: {e}")))?;
        }
        let found: Vec<Option<PrincipalId>> = questions.iter().map(|q| self.resolve_checked(q.principal)).collect();
        if found.iter().any(|f| *f != Some(actor.id)) {
            self.authorize_check_of_others(ctx)?;
        }
        let now = self.now();
        questions
            .iter()
            .zip(found)
            .map(|(q, f)| {
                let principal_id = f.ok_or_else(|| DomainError::not_found(format!("principal '{}'", q.principal)))?;
                let d = self.index.check(principal_id, q.action, q.scope, q.at.unwrap_or(now));
                Ok(CheckAnswer { allowed: d.allowed, principal_id, grant: d.grant })
            })
            .collect()
    }

    /// The principal a check names (by id or name), if it exists.
    fn resolve_checked(&self, principal: &str) -> Option<PrincipalId> {
        match principal.parse::<PrincipalId>() {
            Ok(id) => self.index.knows(id).then_some(id),
            Err(_) => self.index.resolve_name(principal),
        }
    }

    /// Authorizes asking about others (`pim.check.read` at `/`); a refusal is recorded off the hot
    /// path, since a check changes nothing and nothing waits for the event.
    fn authorize_check_of_others(&self, ctx: &Context) -> Result<()> {
        /// `/`, made once (a check of others asks at it on every call).
        static ROOT: std::sync::LazyLock<ScopePath> = std::sync::LazyLock::new(ScopePath::root);
        let Err(e) = self.authorize(ctx, CHECK_READ, &ROOT) else { return Ok(()) };
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
        Err(e)
    }

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
        ScopePath::validate(scope).map_err(DomainError::from)?;
        let found = self.resolve_checked(principal);
        // Authorize before saying whether the principal exists, so outsiders cannot probe names.
        if found != Some(actor.id) {
            self.authorize_check_of_others(ctx)?;
        }
        let principal_id = found.ok_or_else(|| DomainError::not_found(format!("principal '{principal}'")))?;
        let now = at.unwrap_or_else(|| self.now());
        let d = self.index.check(principal_id, action, scope, now);
        Ok(CheckAnswer { allowed: d.allowed, principal_id, grant: d.grant })
    }
}
