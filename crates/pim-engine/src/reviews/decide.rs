//! Reviewers at work: the items waiting for the caller, and decisions on one, some or all of them
//! (approve, deny, or take pim's recommendation), each audited as `review.decided`.

use std::collections::HashSet;

use pim_domain::approval::Verdict;
use pim_domain::review::{
    ItemDecision, ReviewDefinition, ReviewInstance, ReviewItem, Reviewers, may_review, review_reason,
};
use pim_domain::{AuditDraft, DomainError, ErrorKind, ReviewInstanceId, ReviewItemId};
use pim_store::q;

use super::{ensure_in_progress, load_instance, load_review};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

/// Most items one call decides by id.
pub const MAX_ITEMS_PER_DECISION: usize = 1000;

/// A reviewer's decision on items of one instance.
#[derive(Clone, Debug, Default)]
pub struct ItemDecisionInput {
    /// The items; `None`: every item of the instance the caller reviews and has not decided yet.
    pub item_ids: Option<Vec<ReviewItemId>>,
    /// Approve or deny (exactly one of this and `accept_recommendations`).
    pub verdict: Option<Verdict>,
    /// Take pim's recommendation for each item.
    pub accept_recommendations: bool,
    /// Why (required when the review says so).
    pub reason: Option<String>,
}

/// An instance in progress with the items the caller reviews.
#[derive(Clone, Debug)]
pub struct ReviewerWork {
    /// The review.
    pub review: ReviewDefinition,
    /// The instance.
    pub instance: ReviewInstance,
    /// The caller's items, decided or not.
    pub items: Vec<ReviewItem>,
}

impl Engine {
    /// The instances in progress in which the caller reviews items, with those items (no
    /// permission needed: being named a reviewer is the permission).
    pub async fn my_reviews(&self, ctx: &Context) -> Result<Vec<ReviewerWork>> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let groups = self.index.groups_of(actor.id, now);
        let mut c = self.store.read().await?;
        let mut out = vec![];
        for mut instance in
            q::list_instances(&mut c, None, Some(pim_domain::review::InstanceStatus::InProgress)).await?
        {
            if now >= instance.end {
                continue;
            }
            let review = load_review(&mut c, instance.review_id).await?;
            let self_review = review.reviewers == Reviewers::SelfReview;
            let mut items: Vec<ReviewItem> = q::list_items(&mut c, instance.id)
                .await?
                .into_iter()
                .filter(|i| may_review(i, self_review, actor.id, &groups).is_ok())
                .collect();
            if items.is_empty() {
                continue;
            }
            self.name_items(&mut items);
            instance.review_name = Some(review.name.clone());
            instance.counts = Some(pim_domain::review::ItemCounts::of(&items));
            out.push(ReviewerWork { review, instance, items });
        }
        Ok(out)
    }

    /// Records the caller's decision on items of an instance in progress. All or nothing: an item
    /// the caller may not decide refuses the whole call. A decision may be changed until the end.
    pub async fn decide_review_items(
        &self,
        ctx: &Context,
        instance_id: ReviewInstanceId,
        input: ItemDecisionInput,
    ) -> Result<Vec<ReviewItem>> {
        let mut draft = self.draft(ctx, "review.decided");
        draft.scope = self.instance_scope(instance_id).await?;
        draft.details = serde_json::json!({ "instanceId": instance_id, "verdict": input.verdict });
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            if input.verdict.is_some() == input.accept_recommendations {
                return refuse(ErrorKind::InvalidInput, "give exactly one of verdict and acceptRecommendations");
            }
            if let Some(ids) = &input.item_ids
                && (ids.is_empty() || ids.len() > MAX_ITEMS_PER_DECISION)
            {
                return refuse(
                    ErrorKind::InvalidInput,
                    format!("itemIds must list 1 to {MAX_ITEMS_PER_DECISION} items (or be left out for all of yours)"),
                );
            }
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let instance = load_instance(tx.conn(), instance_id).await?;
            let review = load_review(tx.conn(), instance.review_id).await?;
            ensure_in_progress(&instance, now)?;
            let reason = review_reason(input.reason.as_deref(), review.reason_required)?;
            let self_review = review.reviewers == Reviewers::SelfReview;
            let groups = self.index.groups_of(actor.id, now);
            let items = q::list_items(tx.conn(), instance_id).await?;
            let chosen: Vec<ReviewItem> = match &input.item_ids {
                Some(ids) => {
                    let mut seen = HashSet::new();
                    let mut out = vec![];
                    for id in ids {
                        if !seen.insert(*id) {
                            continue;
                        }
                        let item = items.iter().find(|i| i.id == *id).ok_or_else(|| {
                            DomainError::not_found(format!("item {id} in access review instance {instance_id}"))
                        })?;
                        may_review(item, self_review, actor.id, &groups)?;
                        out.push(item.clone());
                    }
                    out
                }
                None => {
                    let yours: Vec<&ReviewItem> =
                        items.iter().filter(|i| may_review(i, self_review, actor.id, &groups).is_ok()).collect();
                    if yours.is_empty() {
                        return refuse(
                            ErrorKind::NotReviewer,
                            format!("you review no item of access review instance {instance_id}"),
                        );
                    }
                    yours.into_iter().filter(|i| i.decision.is_none()).cloned().collect()
                }
            };
            let mut out = vec![];
            for mut item in chosen {
                let verdict = input.verdict.unwrap_or(item.recommendation);
                item.decision = Some(ItemDecision { verdict, reason: reason.clone(), by: actor.id, at: now });
                q::update_item(tx.conn(), &item).await?;
                let mut d = AuditDraft {
                    principal_id: Some(item.principal_id),
                    role_id: Some(item.role_id),
                    scope: Some(item.scope.clone()),
                    justification: reason.clone(),
                    ..draft.clone()
                };
                d.details = serde_json::json!({
                    "reviewId": review.id, "instanceId": instance_id, "itemId": item.id,
                    "assignmentId": item.assignment_id, "verdict": verdict,
                    "recommendation": item.recommendation,
                });
                tx.audit(now, d).await?;
                out.push(item);
            }
            tx.commit().await?;
            self.name_items(&mut out);
            Ok(out)
        })
        .await
    }
}
