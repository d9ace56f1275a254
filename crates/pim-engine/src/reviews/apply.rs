//! Applying an instance's results: each item whose outcome is removal is carried out through the
//! normal request path (an `adminRemove` request, so it cascades to activations, keeps the last
//! Global Administrator, is audited and notified), or, for a static group membership, by removing
//! the member. The whole apply is one transaction: all of it happens, or none.

use pim_domain::actions::REVIEWS_WRITE;
use pim_domain::review::{ApplyStatus, InstanceStatus, ItemApplied, ItemCounts, ItemOutcome, ReviewItem, ReviewTarget};
use pim_domain::{AuditDraft, ErrorKind, RequestAction, ReviewInstanceId, Timestamp};
use pim_store::{WriteTx, q};

use super::{load_instance, load_review, target_scope, texts};
use crate::context::{Context, ReviewAuthority};
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};
use crate::follow::Change;
use crate::notify::{Audience, Notice};
use crate::requests::RequestInput;

impl Engine {
    /// Applies a completed instance's results (`pim.reviews.write` at its review's scope: that is
    /// the authority to remove what the review's reviewers denied). Applying twice is refused.
    pub async fn apply_review_instance(
        &self,
        ctx: &Context,
        id: ReviewInstanceId,
    ) -> Result<pim_domain::review::ReviewInstance> {
        let mut draft = self.draft(ctx, "review.apply");
        draft.scope = self.instance_scope(id).await?;
        draft.details = serde_json::json!({ "instanceId": id });
        self.audited(draft, async {
            let mut c = self.store.read().await?;
            let instance = load_instance(&mut c, id).await?;
            let review = load_review(&mut c, instance.review_id).await?;
            drop(c);
            self.authorize(ctx, REVIEWS_WRITE, &target_scope(&review.target))?;
            let ctx = Context { on_behalf_of: Some(ReviewAuthority { instance: id }), ..ctx.clone() };
            self.apply_results(&ctx, id).await
        })
        .await?;
        self.instance_view(id).await
    }

    /// Carries out the removals of a completed instance as `ctx` (which carries the review's
    /// authority) in one transaction, records what each did, and marks the instance `Applied`.
    pub(crate) async fn apply_results(&self, ctx: &Context, id: ReviewInstanceId) -> Result<()> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let mut instance = load_instance(tx.conn(), id).await?;
        if instance.status != InstanceStatus::Completed {
            return refuse(
                ErrorKind::ReviewNotCompleted,
                format!(
                    "access review instance {id} is {}: only a completed instance that was not applied yet can be \
                     applied (stop it first to end it early)",
                    instance.status.as_str()
                ),
            );
        }
        let review = load_review(tx.conn(), instance.review_id).await?;
        let mut items = q::list_items(tx.conn(), id).await?;
        let mut touched = vec![];
        let mut memberships = vec![];
        for item in items.iter_mut().filter(|i| i.outcome == Some(ItemOutcome::Remove) && i.applied.is_none()) {
            let review_ref = serde_json::json!({ "reviewId": review.id, "instanceId": id, "itemId": item.id });
            let (status, message) = match item.assignment_id {
                Some(assignment_id) => {
                    let mut input = RequestInput::new(RequestAction::AdminRemove);
                    input.assignment_id = Some(assignment_id);
                    input.justification = Some(justification(&review.name, instance.occurrence, item));
                    let mut draft = self.request_draft(ctx, &input);
                    draft.details["review"] = review_ref;
                    match self.write_request(&mut tx, ctx, &actor, &draft, &input, now).await {
                        Ok(done) => {
                            item.applied_request_id = Some(done.request.id);
                            touched.extend(done.touched);
                            (ApplyStatus::Removed, None)
                        }
                        Err(EngineError::Refused(e))
                            if matches!(e.kind, ErrorKind::AssignmentEnded | ErrorKind::NotFound) =>
                        {
                            (ApplyStatus::AlreadyEnded, None)
                        }
                        Err(EngineError::Refused(e)) => {
                            refusal(&mut tx, now, draft, &e).await?;
                            (ApplyStatus::Refused, Some(e.message))
                        }
                        Err(e) => return Err(e),
                    }
                }
                None => {
                    let ReviewTarget::GroupMembership { group_id } = review.target else {
                        continue;
                    };
                    if q::remove_member(tx.conn(), group_id, item.principal_id).await? {
                        let mut d = self.draft(ctx, "group.removeMember");
                        d.scope = Some(item.scope.clone());
                        d.principal_id = Some(item.principal_id);
                        d.justification = Some(justification(&review.name, instance.occurrence, item));
                        d.details = serde_json::json!({ "groupId": group_id, "review": review_ref });
                        tx.audit(now, d).await?;
                        self.record_changes(&mut tx, now, &[Change::Membership(group_id, item.principal_id)]).await?;
                        memberships.push((group_id, item.principal_id));
                        (ApplyStatus::Removed, None)
                    } else {
                        (ApplyStatus::AlreadyEnded, None)
                    }
                }
            };
            if status == ApplyStatus::Removed {
                self.notify_removed(&mut tx, now, &review.name, item).await?;
            }
            item.applied = Some(ItemApplied { status, message, at: now });
            q::update_item(tx.conn(), item).await?;
        }
        instance.status = InstanceStatus::Applied;
        instance.applied_at = Some(now);
        q::update_instance(tx.conn(), &instance).await?;
        let mut d = self.draft(ctx, "review.applied");
        d.scope = Some(target_scope(&review.target));
        d.details = serde_json::json!({
            "reviewId": review.id, "instanceId": id, "name": review.name, "counts": ItemCounts::of(&items),
        });
        tx.audit(now, d).await?;
        let counts = ItemCounts::of(&items);
        let text = texts::applied(&review.name, &actor.name, &counts, id);
        let mut notice = Notice::new("review.applied", &format!("Access review applied: {}", review.name), &text);
        notice.scope = Some(target_scope(&review.target));
        notice.data = serde_json::json!({ "reviewId": review.id, "instanceId": id, "counts": counts });
        self.notify(tx.conn(), now, &notice, &[Audience::Principal(review.created_by)]).await?;
        tx.commit().await?;
        for a in &touched {
            self.index.upsert_assignment(a);
        }
        for (g, m) in memberships {
            self.index.set_membership(g, m, false);
        }
        Ok(())
    }
}

impl Engine {
    /// Tells a principal (a group: its members) that a review removed its access.
    async fn notify_removed(&self, tx: &mut WriteTx, now: Timestamp, review: &str, item: &ReviewItem) -> Result<()> {
        let role = self.index.role_name(item.role_id).map_or_else(|| item.role_id.to_string(), |n| n.to_string());
        let what = match item.assignment_id {
            Some(_) => format!("{} assignment of {role} at {}", item.kind.as_str(), item.scope),
            None => format!("membership of the group at {}", item.scope),
        };
        let reason = item.decision.as_ref().and_then(|d| d.reason.clone());
        let text = format!(
            "Your {what} was removed by the access review \"{review}\"{}.\n\nIf you still need it, ask for it again.\n",
            reason.as_deref().map(|r| format!(" (reviewer's reason: {r})")).unwrap_or_default(),
        );
        let mut notice =
            Notice::new("review.accessRemoved", &format!("Access removed by review {review}: {what}"), &text);
        notice.principal_id = Some(item.principal_id);
        notice.role_id = Some(item.role_id);
        notice.scope = Some(item.scope.clone());
        notice.request_id = item.applied_request_id;
        notice.data = serde_json::json!({
            "instanceId": item.instance_id, "itemId": item.id, "assignmentId": item.assignment_id, "reason": reason,
        });
        self.notify(tx.conn(), now, &notice, &[Audience::Principal(item.principal_id)]).await
    }
}

/// The justification of a removal: the review, and the reviewer's reason or the rule that decided.
fn justification(review: &str, occurrence: u32, item: &pim_domain::review::ReviewItem) -> String {
    let why = match &item.decision {
        Some(d) => match &d.reason {
            Some(r) => format!("denied by the reviewer: {r}"),
            None => "denied by the reviewer".to_owned(),
        },
        None => "not reviewed; removed by the review's settings".to_owned(),
    };
    let mut s = format!("access review {review} (occurrence {}): {why}", occurrence + 1);
    let mut end = s.len().min(pim_domain::request::MAX_JUSTIFICATION_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// Records a refused removal as a failure event in the apply's own transaction.
async fn refusal(tx: &mut WriteTx, now: Timestamp, mut draft: AuditDraft, e: &pim_domain::DomainError) -> Result<()> {
    draft.error_code = Some(e.code().to_owned());
    if let Some(obj) = draft.details.as_object_mut() {
        obj.insert("message".into(), serde_json::Value::String(e.message.clone()));
    }
    tx.audit(now, draft).await?;
    Ok(())
}
