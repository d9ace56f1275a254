//! Access reviews (SPEC section 9; docs/REVIEWS.md): definitions and the reads of their instances
//! and results. `run` starts, reminds and completes instances on schedule, `decide` records
//! reviewers' decisions, and `apply` carries out the removals.

mod apply;
mod decide;
mod edit;
mod run;
mod texts;

use std::collections::HashMap;

use pim_domain::actions::{REVIEWS_READ, REVIEWS_WRITE};
use pim_domain::review::{
    IfNoResponse, InstanceStatus, ItemCounts, ReviewDefinition, ReviewInstance, ReviewItem, ReviewSchedule,
    ReviewTarget, ReviewedKinds, Reviewers, validate_definition, validate_extras,
};
use pim_domain::time::DAY_MS;
use pim_domain::{
    DomainError, ErrorKind, PrincipalId, PrincipalKind, ReviewId, ReviewInstanceId, ScopePath, Timestamp,
};
use pim_store::{AnyConnection, WriteTx, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

pub use decide::ItemDecisionInput;
pub use edit::{ReviewEdit, as_new};

/// How far in the past a new review's first instance may start (clocks differ a little).
pub const MAX_START_IN_PAST_MS: i64 = DAY_MS;

/// A new review definition (`POST /api/v1/reviews`).
#[derive(Clone, Debug)]
pub struct NewReview {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// What is reviewed.
    pub target: ReviewTarget,
    /// Eligible, active or both.
    pub kinds: ReviewedKinds,
    /// Only principals with no activation or sign-in for this many days.
    pub inactive_days: Option<u32>,
    /// Who reviews.
    pub reviewers: Reviewers,
    /// When; `None` for the start: now.
    pub schedule: ReviewSchedule,
    /// Apply the results when an instance ends.
    pub auto_apply: bool,
    /// What happens to items nobody reviewed.
    pub if_no_response: IfNoResponse,
    /// Reviewers must give a reason.
    pub reason_required: bool,
}

impl NewReview {
    /// The definition `id` (made by `created_by` at `created_at`, stopped at `stopped_at`) saying
    /// what this says, name trimmed and an empty description left out: the one place a definition
    /// is made from one (create and edit).
    pub(crate) fn into_definition(
        self,
        id: ReviewId,
        created_by: PrincipalId,
        created_at: Timestamp,
        stopped_at: Option<Timestamp>,
    ) -> ReviewDefinition {
        ReviewDefinition {
            id,
            name: self.name.trim().to_owned(),
            description: self.description.filter(|d| !d.trim().is_empty()),
            target: self.target,
            kinds: self.kinds,
            inactive_days: self.inactive_days,
            reviewers: self.reviewers,
            schedule: self.schedule,
            auto_apply: self.auto_apply,
            if_no_response: self.if_no_response,
            reason_required: self.reason_required,
            created_by,
            created_at,
            stopped_at,
        }
    }
}

/// A definition with its instances, newest first.
#[derive(Clone, Debug)]
pub struct ReviewDetail {
    /// The definition.
    pub review: ReviewDefinition,
    /// Its instances, with their counts.
    pub instances: Vec<ReviewInstance>,
}

/// The scope a review concerns: the roles' scope, or the group's (`/groups/{id}`).
pub fn target_scope(t: &ReviewTarget) -> ScopePath {
    match t {
        ReviewTarget::Roles { scope, .. } => scope.clone(),
        ReviewTarget::GroupMembership { group_id } => ScopePath::for_group(*group_id),
    }
}

pub(crate) async fn load_review(c: &mut AnyConnection, id: ReviewId) -> Result<ReviewDefinition> {
    Ok(q::get_review(c, id).await?.ok_or_else(|| DomainError::not_found(format!("access review {id}")))?)
}

pub(crate) async fn load_instance(c: &mut AnyConnection, id: ReviewInstanceId) -> Result<ReviewInstance> {
    Ok(q::get_instance(c, id).await?.ok_or_else(|| DomainError::not_found(format!("access review instance {id}")))?)
}

/// Refuses unless `instance` is in progress at `now` (decisions after its end are refused
/// whether or not the job that completes it has run).
pub(crate) fn ensure_in_progress(instance: &ReviewInstance, now: Timestamp) -> Result<()> {
    if instance.status != InstanceStatus::InProgress || now >= instance.end {
        return refuse(
            ErrorKind::ReviewNotInProgress,
            format!(
                "access review instance {} is {} (it ended at {})",
                instance.id,
                if instance.status == InstanceStatus::InProgress { "past its end" } else { instance.status.as_str() },
                instance.end
            ),
        );
    }
    Ok(())
}

impl Engine {
    /// Creates a review definition (`pim.reviews.write` at the target's scope). When its first
    /// instance is due, it starts at once.
    pub async fn create_review(&self, ctx: &Context, new: NewReview) -> Result<ReviewDefinition> {
        let mut draft = self.draft(ctx, "review.created");
        draft.scope = Some(target_scope(&new.target));
        draft.details = serde_json::json!({ "name": new.name });
        let def = self
            .audited(draft, async {
                let now = self.now();
                let mut tx = self.store.write(now).await?;
                let def = self.create_review_in(&mut tx, ctx, now, new).await?;
                tx.commit().await?;
                Ok(def)
            })
            .await?;
        self.start_due_instances().await?;
        Ok(def)
    }

    /// [`Engine::create_review`] inside `tx`, audited there; the caller commits, then starts the
    /// instances due ([`Engine::start_due_instances`]).
    pub(crate) async fn create_review_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        new: NewReview,
    ) -> Result<ReviewDefinition> {
        let actor = self.actor(ctx)?.clone();
        let scope = target_scope(&new.target);
        self.authorize(ctx, REVIEWS_WRITE, &scope)?;
        validate_definition(&new.name, &new.target, &new.reviewers, &new.schedule)?;
        validate_extras(new.description.as_deref(), new.inactive_days)?;
        if new.schedule.start.0 < now.0 - MAX_START_IN_PAST_MS {
            return refuse(ErrorKind::InvalidInput, "schedule.start must not be more than a day in the past");
        }
        edit::ensure_name_free(tx.conn(), &new.name, None).await?;
        self.check_references(tx.conn(), &new).await?;
        let def = new.into_definition(ReviewId::new(), actor.id, now, None);
        q::insert_review(tx.conn(), &def).await?;
        let mut d = self.draft(ctx, "review.created");
        d.scope = Some(scope);
        d.details = serde_json::json!({ "reviewId": def.id, "definition": def });
        tx.audit(now, d).await?;
        Ok(def)
    }

    /// Refuses a definition naming roles, groups or reviewers that do not exist (or are of the
    /// wrong kind).
    async fn check_references(&self, c: &mut AnyConnection, new: &NewReview) -> Result<()> {
        match &new.target {
            ReviewTarget::Roles { role_ids, .. } => {
                for r in role_ids {
                    if q::get_role(c, *r).await?.is_none() {
                        return Err(DomainError::not_found(format!("role {r}")).into());
                    }
                }
            }
            ReviewTarget::GroupMembership { group_id } => match q::get_principal(c, *group_id).await? {
                Some(p) if p.kind == PrincipalKind::Group => {}
                _ => return Err(DomainError::not_found(format!("group {group_id}")).into()),
            },
        }
        let refs = match &new.reviewers {
            Reviewers::SelfReview => &[][..],
            Reviewers::Managers { fallback } => &fallback[..],
            Reviewers::Selected { reviewers } => &reviewers[..],
        };
        for r in refs {
            match q::get_principal(c, r.id).await? {
                Some(p) if p.kind == r.kind => {}
                _ => return Err(DomainError::not_found(format!("{} {}", r.kind.as_str(), r.id)).into()),
            }
        }
        Ok(())
    }

    /// Review definitions the caller may read (`pim.reviews.read` at each one's scope), oldest first.
    pub async fn list_reviews(&self, ctx: &Context) -> Result<Vec<ReviewDefinition>> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        let all = q::list_reviews(&mut c, false).await?;
        Ok(all.into_iter().filter(|d| self.allowed(ctx, REVIEWS_READ, &target_scope(&d.target))).collect())
    }

    /// A definition and its instances (`pim.reviews.read` at its scope).
    pub async fn get_review(&self, ctx: &Context, id: ReviewId) -> Result<ReviewDetail> {
        let mut c = self.store.read().await?;
        let review = load_review(&mut c, id).await?;
        self.authorize_read(ctx, REVIEWS_READ, &target_scope(&review.target)).await?;
        let mut instances = q::list_instances(&mut c, Some(id), None).await?;
        instances.reverse();
        for i in &mut instances {
            i.review_name = Some(review.name.clone());
            i.counts = Some(ItemCounts::of(&q::list_items(&mut c, i.id).await?));
        }
        Ok(ReviewDetail { review, instances })
    }

    /// Stops a definition (`pim.reviews.write` at its scope): no further instance starts, and the
    /// one in progress, if any, completes now (and is applied when the review applies its results).
    pub async fn stop_review(&self, ctx: &Context, id: ReviewId) -> Result<ReviewDefinition> {
        let mut draft = self.draft(ctx, "review.stopped");
        draft.scope = q::get_review(&mut *self.store.read().await?, id).await?.map(|r| target_scope(&r.target));
        draft.details = serde_json::json!({ "reviewId": id });
        let (def, completed) = self
            .audited(draft, async {
                let now = self.now();
                let mut tx = self.store.write(now).await?;
                let def = load_review(tx.conn(), id).await?;
                let stopped = self.stop_review_in(&mut tx, ctx, now, def).await?;
                tx.commit().await?;
                Ok(stopped)
            })
            .await?;
        self.apply_stopped(&def, completed).await?;
        Ok(def)
    }

    /// [`Engine::stop_review`] of `def` inside `tx`, audited there: the definition stopped and the
    /// instances it completed. The caller commits, then calls [`Engine::apply_stopped`].
    pub(crate) async fn stop_review_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        mut def: ReviewDefinition,
    ) -> Result<(ReviewDefinition, Vec<ReviewInstanceId>)> {
        let scope = target_scope(&def.target);
        self.authorize(ctx, REVIEWS_WRITE, &scope)?;
        if def.stopped_at.is_some() {
            return refuse(ErrorKind::ReviewNotInProgress, format!("access review {} is already stopped", def.id));
        }
        q::stop_review(tx.conn(), def.id, now).await?;
        def.stopped_at = Some(now);
        let mut completed = vec![];
        for i in q::list_instances(tx.conn(), Some(def.id), Some(InstanceStatus::InProgress)).await? {
            completed.push(self.complete_instance(tx, &def, i, now, Some(ctx), "stopped with its review").await?);
        }
        let mut d = self.draft(ctx, "review.stopped");
        d.scope = Some(scope);
        d.details = serde_json::json!({ "reviewId": def.id, "name": def.name, "instancesCompleted": completed });
        tx.audit(now, d).await?;
        Ok((def, completed))
    }

    /// After a stop committed: applies the instances it completed when the review applies its
    /// results automatically.
    pub(crate) async fn apply_stopped(&self, def: &ReviewDefinition, completed: Vec<ReviewInstanceId>) -> Result<()> {
        if def.auto_apply {
            for i in completed {
                self.apply_automatically(def, i).await?;
            }
        }
        Ok(())
    }

    /// One instance with its counts (`pim.reviews.read` at its review's scope).
    pub async fn get_review_instance(&self, ctx: &Context, id: ReviewInstanceId) -> Result<ReviewInstance> {
        let mut c = self.store.read().await?;
        let i = load_instance(&mut c, id).await?;
        let review = load_review(&mut c, i.review_id).await?;
        drop(c);
        self.authorize_read(ctx, REVIEWS_READ, &target_scope(&review.target)).await?;
        self.instance_view(id).await
    }

    /// An instance's items with their decisions, outcomes and what applying did: the results
    /// (`pim.reviews.read` at its review's scope).
    pub async fn list_review_items(
        &self,
        ctx: &Context,
        id: ReviewInstanceId,
    ) -> Result<(ReviewDefinition, ReviewInstance, Vec<ReviewItem>)> {
        let mut c = self.store.read().await?;
        let mut instance = load_instance(&mut c, id).await?;
        let review = load_review(&mut c, instance.review_id).await?;
        self.authorize_read(ctx, REVIEWS_READ, &target_scope(&review.target)).await?;
        let mut items = q::list_items(&mut c, id).await?;
        self.name_items(&mut items);
        instance.review_name = Some(review.name.clone());
        instance.counts = Some(ItemCounts::of(&items));
        Ok((review, instance, items))
    }

    /// Fills in the principals' and roles' names of `items` (from the index).
    pub(crate) fn name_items(&self, items: &mut [ReviewItem]) {
        let mut roles: HashMap<_, Option<String>> = HashMap::new();
        for i in items {
            i.principal_name = self.index.principal(i.principal_id).map(|p| p.name);
            i.role_name = roles
                .entry(i.role_id)
                .or_insert_with(|| self.index.role_name(i.role_id).map(|n| n.to_string()))
                .clone();
        }
    }

    /// Clears every decision of an instance in progress (`pim.reviews.write` at its review's scope).
    pub async fn reset_review_instance(&self, ctx: &Context, id: ReviewInstanceId) -> Result<ReviewInstance> {
        let mut draft = self.draft(ctx, "review.reset");
        draft.scope = self.instance_scope(id).await?;
        draft.details = serde_json::json!({ "instanceId": id });
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut instance = load_instance(tx.conn(), id).await?;
            let review = load_review(tx.conn(), instance.review_id).await?;
            let scope = target_scope(&review.target);
            self.authorize(ctx, REVIEWS_WRITE, &scope)?;
            ensure_in_progress(&instance, now)?;
            let cleared = q::clear_decisions(tx.conn(), id).await?;
            let mut d = draft.clone();
            d.scope = Some(scope);
            d.details = serde_json::json!({ "reviewId": review.id, "instanceId": id, "decisionsCleared": cleared });
            tx.audit(now, d).await?;
            instance.review_name = Some(review.name);
            instance.counts = Some(ItemCounts::of(&q::list_items(tx.conn(), id).await?));
            tx.commit().await?;
            Ok(instance)
        })
        .await
    }

    /// Ends an instance in progress now (`pim.reviews.write` at its review's scope): outcomes are
    /// computed as at its end, and applied at once when the review applies automatically.
    pub async fn stop_review_instance(&self, ctx: &Context, id: ReviewInstanceId) -> Result<ReviewInstance> {
        let mut draft = self.draft(ctx, "review.stop");
        draft.scope = self.instance_scope(id).await?;
        draft.details = serde_json::json!({ "instanceId": id });
        let (review, instance) = self
            .audited(draft.clone(), async {
                let now = self.now();
                let mut tx = self.store.write(now).await?;
                let instance = load_instance(tx.conn(), id).await?;
                let review = load_review(tx.conn(), instance.review_id).await?;
                self.authorize(ctx, REVIEWS_WRITE, &target_scope(&review.target))?;
                ensure_in_progress(&instance, now)?;
                self.complete_instance(&mut tx, &review, instance.clone(), now, Some(ctx), "stopped").await?;
                tx.commit().await?;
                Ok((review, instance))
            })
            .await?;
        if review.auto_apply {
            self.apply_automatically(&review, instance.id).await?;
        }
        self.instance_view(id).await
    }

    /// The scope of an instance's review, if both exist: where a refusal about it is audited.
    pub(crate) async fn instance_scope(&self, id: ReviewInstanceId) -> Result<Option<ScopePath>> {
        let mut c = self.store.read().await?;
        let Some(i) = q::get_instance(&mut c, id).await? else { return Ok(None) };
        Ok(q::get_review(&mut c, i.review_id).await?.map(|r| target_scope(&r.target)))
    }

    /// An instance with its review's name and its counts, as stored now.
    pub(crate) async fn instance_view(&self, id: ReviewInstanceId) -> Result<ReviewInstance> {
        let mut c = self.store.read().await?;
        let mut i = load_instance(&mut c, id).await?;
        i.review_name = Some(load_review(&mut c, i.review_id).await?.name);
        i.counts = Some(ItemCounts::of(&q::list_items(&mut c, id).await?));
        Ok(i)
    }
}
