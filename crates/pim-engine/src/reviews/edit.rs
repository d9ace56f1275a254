//! Editing a review definition for its future instances (`PATCH /api/v1/reviews/{id}`, and the
//! policy's apply): what may change once instances have run, and names unique among the reviews
//! not stopped.

use pim_domain::actions::REVIEWS_WRITE;
use pim_domain::review::{
    IfNoResponse, InstanceStatus, Recurrence, ReviewDefinition, ReviewEnd, ReviewTarget, ReviewedKinds, Reviewers,
    validate_definition, validate_extras,
};
use pim_domain::{ErrorKind, ReviewId, Timestamp};
use pim_store::{AnyConnection, WriteTx, q};

use super::{MAX_START_IN_PAST_MS, NewReview, load_review, target_scope};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

/// Refuses `name` when a review not stopped (other than `except`) has it, case aside.
pub(crate) async fn ensure_name_free(c: &mut AnyConnection, name: &str, except: Option<ReviewId>) -> Result<()> {
    let wanted = name.trim().to_lowercase();
    let taken =
        q::list_reviews(c, true).await?.into_iter().any(|d| Some(d.id) != except && d.name.to_lowercase() == wanted);
    if taken {
        return refuse(
            ErrorKind::AlreadyExists,
            format!(
                "an access review named '{}' exists already: names are unique among the reviews not stopped",
                name.trim()
            ),
        );
    }
    Ok(())
}

/// What `PATCH /api/v1/reviews/{id}` changes; `None`: it stays.
#[derive(Clone, Debug, Default)]
pub struct ReviewEdit {
    /// A new name.
    pub name: Option<String>,
    /// A new description (empty: none).
    pub description: Option<String>,
    /// A new target.
    pub target: Option<ReviewTarget>,
    /// New kinds.
    pub kinds: Option<ReviewedKinds>,
    /// Only principals inactive this many days (0: everyone).
    pub inactive_days: Option<u32>,
    /// New reviewers.
    pub reviewers: Option<Reviewers>,
    /// A new start of the first instance.
    pub start: Option<Timestamp>,
    /// A new recurrence.
    pub recurrence: Option<Recurrence>,
    /// A new duration of each instance.
    pub duration_days: Option<u32>,
    /// A new end of the recurrence.
    pub end: Option<ReviewEnd>,
    /// Apply results automatically.
    pub auto_apply: Option<bool>,
    /// What happens to items nobody reviewed.
    pub if_no_response: Option<IfNoResponse>,
    /// Reviewers must give a reason.
    pub reason_required: Option<bool>,
}

impl ReviewEdit {
    /// `def` with the edit made.
    fn onto(self, def: &ReviewDefinition) -> NewReview {
        let mut n = as_new(def);
        n.name = self.name.unwrap_or(n.name);
        if let Some(d) = self.description {
            n.description = Some(d).filter(|d| !d.trim().is_empty());
        }
        n.target = self.target.unwrap_or(n.target);
        n.kinds = self.kinds.unwrap_or(n.kinds);
        if let Some(days) = self.inactive_days {
            n.inactive_days = (days > 0).then_some(days);
        }
        n.reviewers = self.reviewers.unwrap_or(n.reviewers);
        n.schedule.start = self.start.unwrap_or(n.schedule.start);
        n.schedule.recurrence = self.recurrence.unwrap_or(n.schedule.recurrence);
        n.schedule.duration_days = self.duration_days.unwrap_or(n.schedule.duration_days);
        n.schedule.end = self.end.unwrap_or(n.schedule.end);
        n.auto_apply = self.auto_apply.unwrap_or(n.auto_apply);
        n.if_no_response = self.if_no_response.unwrap_or(n.if_no_response);
        n.reason_required = self.reason_required.unwrap_or(n.reason_required);
        n
    }
}

/// `def` as a [`NewReview`]: the starting point of an edit.
pub fn as_new(def: &ReviewDefinition) -> NewReview {
    NewReview {
        name: def.name.clone(),
        description: def.description.clone(),
        target: def.target.clone(),
        kinds: def.kinds,
        inactive_days: def.inactive_days,
        reviewers: def.reviewers.clone(),
        schedule: def.schedule.clone(),
        auto_apply: def.auto_apply,
        if_no_response: def.if_no_response,
        reason_required: def.reason_required,
    }
}

impl Engine {
    /// Changes review `id` to say `new` from now on (`pim.reviews.write` at its target's scope
    /// before and after; `review.updated`). The instance in progress keeps its items and its end.
    pub async fn update_review(&self, ctx: &Context, id: ReviewId, edit: ReviewEdit) -> Result<ReviewDefinition> {
        let mut draft = self.draft(ctx, "review.updated");
        draft.scope = q::get_review(&mut *self.store.read().await?, id).await?.map(|r| target_scope(&r.target));
        draft.details = serde_json::json!({ "reviewId": id });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let def = load_review(tx.conn(), id).await?;
            let new = edit.onto(&def);
            let def = self.update_review_in(&mut tx, ctx, now, def, new).await?;
            tx.commit().await?;
            Ok(def)
        })
        .await
    }

    /// [`Engine::update_review`] of `def` inside `tx`, audited there; the caller commits. Refuses
    /// what would change the meaning of instances that ran: the schedule's start and recurrence
    /// once an instance started (occurrences are numbered from them), and the target while an
    /// instance is in progress (its items are a snapshot of the old one).
    pub(crate) async fn update_review_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        def: ReviewDefinition,
        new: NewReview,
    ) -> Result<ReviewDefinition> {
        let (old_scope, new_scope) = (target_scope(&def.target), target_scope(&new.target));
        self.authorize(ctx, REVIEWS_WRITE, &old_scope)?;
        self.authorize(ctx, REVIEWS_WRITE, &new_scope)?;
        if def.stopped_at.is_some() {
            return refuse(
                ErrorKind::ReviewNotInProgress,
                format!("access review '{}' is stopped: it is history, create a new one", def.name),
            );
        }
        validate_definition(&new.name, &new.target, &new.reviewers, &new.schedule)?;
        validate_extras(new.description.as_deref(), new.inactive_days)?;
        let started = q::latest_occurrence(tx.conn(), def.id).await?.is_some();
        let (from, to) = (&def.schedule, &new.schedule);
        if started && (from.start != to.start || from.recurrence != to.recurrence) {
            let what = if from.start != to.start { "schedule.start" } else { "schedule.recurrence" };
            return refuse(
                ErrorKind::InvalidInput,
                format!(
                    "{what} cannot change once an instance of '{}' started (its occurrences are counted from them): \
                     stop it and create a new one",
                    def.name
                ),
            );
        }
        if !started && from.start != to.start && to.start.0 < now.0 - MAX_START_IN_PAST_MS {
            return refuse(ErrorKind::InvalidInput, "schedule.start must not be more than a day in the past");
        }
        if def.target != new.target
            && !q::list_instances(tx.conn(), Some(def.id), Some(InstanceStatus::InProgress)).await?.is_empty()
        {
            return refuse(
                ErrorKind::InvalidInput,
                format!(
                    "the target of '{}' cannot change while an instance is in progress (its items are a snapshot of \
                     the old target): stop that instance first, or change the target after it ends",
                    def.name
                ),
            );
        }
        ensure_name_free(tx.conn(), &new.name, Some(def.id)).await?;
        self.check_references(tx.conn(), &new).await?;
        let after = new.into_definition(def.id, def.created_by, def.created_at, def.stopped_at);
        q::update_review(tx.conn(), &after).await?;
        let mut d = self.draft(ctx, "review.updated");
        d.scope = Some(new_scope);
        d.details = serde_json::json!({ "reviewId": def.id, "from": def, "to": after });
        tx.audit(now, d).await?;
        Ok(after)
    }
}
