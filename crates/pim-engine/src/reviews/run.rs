//! The review job: completes instances whose end has come (applying them when the review says
//! so), starts each due instance with a snapshot of what it reviews, and reminds reviewers at the
//! midpoint. Each step runs in a write transaction, so replicas running it together do it once.

use std::collections::{BTreeSet, HashMap};

use pim_domain::review::{
    InstanceStatus, ItemCounts, RECOMMEND_DENY_AFTER_DAYS, ReviewDefinition, ReviewInstance, ReviewItem, ReviewTarget,
    Reviewee, UseEvidence, item_reviewers, outcome, recommend_with_use,
};
use pim_domain::role::GROUP_MEMBER;
use pim_domain::settings::ApproverRef;
use pim_domain::time::DAY_MS;
use pim_domain::{
    Assignment, AssignmentKind, AuditDraft, PrincipalId, PrincipalKind, ReviewInstanceId, ReviewItemId, RoleId,
    ScopePath, Timestamp,
};
use pim_store::{AnyConnection, WriteTx, q};

use super::{load_instance, load_review, target_scope, texts};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;
use crate::notify::{Audience, Notice};

/// Most occurrences the job walks over in one look for a definition's due instance.
const MAX_OCCURRENCE_WALK: u32 = 100_000;

/// One access to review, found when an instance starts.
struct Found {
    assignment_id: Option<pim_domain::AssignmentId>,
    principal_id: PrincipalId,
    role_id: pim_domain::RoleId,
    scope: ScopePath,
    kind: AssignmentKind,
}

impl From<&Assignment> for Found {
    fn from(a: &Assignment) -> Found {
        Found {
            assignment_id: Some(a.id),
            principal_id: a.principal_id,
            role_id: a.role_id,
            scope: a.scope.clone(),
            kind: a.kind,
        }
    }
}

impl Engine {
    /// One pass of the review job: complete ended instances, start due ones, send midpoint reminders.
    pub async fn run_reviews(&self) -> Result<()> {
        self.complete_ended_instances().await?;
        self.start_due_instances().await?;
        self.remind_reviewers().await?;
        Ok(())
    }

    /// Starts, for each definition not stopped, its latest occurrence whose start has come, unless
    /// it has an instance or its end has passed too (occurrences missed while pim was down are not
    /// run late). Returns the instances started.
    pub async fn start_due_instances(&self) -> Result<Vec<ReviewInstanceId>> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let mut due = vec![];
        for def in q::list_reviews(&mut c, true).await? {
            if due_occurrence(&def, q::latest_occurrence(&mut c, def.id).await?, now).is_some() {
                due.push(def);
            }
        }
        drop(c);
        let mut started = vec![];
        for def in due {
            // Checked again under the write lock: another replica may have started it meanwhile.
            let mut tx = self.store.write(now).await?;
            let latest = q::latest_occurrence(tx.conn(), def.id).await?;
            let stopped = q::get_review(tx.conn(), def.id).await?.is_none_or(|d| d.stopped_at.is_some());
            if let Some((n, start, end)) = due_occurrence(&def, latest, now).filter(|_| !stopped) {
                started.push(self.start_instance(&mut tx, &def, n, start, end, now).await?);
                tx.commit().await?;
            }
        }
        Ok(started)
    }

    /// Writes instance `n` of `def` with its items (a snapshot of the target now), its audit
    /// event and the notice to its reviewers.
    async fn start_instance(
        &self,
        tx: &mut WriteTx,
        def: &ReviewDefinition,
        n: u32,
        start: Timestamp,
        end: Timestamp,
        now: Timestamp,
    ) -> Result<ReviewInstanceId> {
        let instance = ReviewInstance {
            id: ReviewInstanceId::new(),
            review_id: def.id,
            occurrence: n,
            start,
            end,
            status: InstanceStatus::InProgress,
            reminded_at: None,
            completed_at: None,
            applied_at: None,
            review_name: None,
            counts: None,
        };
        q::insert_instance(tx.conn(), &instance).await?;
        let found = snapshot(tx.conn(), def, now).await?;
        let mut involved: Vec<PrincipalId> = found.iter().map(|f| f.principal_id).collect();
        for f in &found {
            involved.extend(self.index.members(f.principal_id, now));
        }
        involved.sort_unstable();
        involved.dedup();
        let activity = last_activities(tx.conn(), involved, now).await?;
        let mut principals = HashMap::new();
        let mut monitored: HashMap<RoleId, bool> = HashMap::new();
        let mut items = vec![];
        for f in found {
            let who = match principals.get(&f.principal_id) {
                Some(who) => *who,
                None => {
                    let who = reviewee(tx.conn(), f.principal_id).await?;
                    principals.insert(f.principal_id, who);
                    who
                }
            };
            let last = match who.kind {
                // A group is as active as its most active current member.
                PrincipalKind::Group => {
                    self.index.members(who.id, now).iter().filter_map(|m| activity.get(m).copied()).max()
                }
                _ => activity.get(&who.id).copied(),
            };
            if let Some(days) = def.inactive_days
                && last.is_some_and(|t| now.0 - t.0 < i64::from(days) * DAY_MS)
            {
                continue;
            }
            let evidence = match who.kind {
                // A group's members use their own assignments, not the group's: no evidence.
                PrincipalKind::Group => UseEvidence::default(),
                _ => {
                    let monitored = match monitored.get(&f.role_id) {
                        Some(m) => *m,
                        None => {
                            let since = now.plus_millis(-i64::from(RECOMMEND_DENY_AFTER_DAYS) * DAY_MS);
                            let m = q::role_has_reported_use(tx.conn(), f.role_id, since, now).await?;
                            monitored.insert(f.role_id, m);
                            m
                        }
                    };
                    let last_use = q::last_reported_use(tx.conn(), f.principal_id, f.role_id, &f.scope, now).await?;
                    UseEvidence { last_use, role_monitored: monitored }
                }
            };
            let item = ReviewItem {
                id: ReviewItemId::new(),
                instance_id: instance.id,
                assignment_id: f.assignment_id,
                principal_id: f.principal_id,
                role_id: f.role_id,
                scope: f.scope,
                kind: f.kind,
                last_activity: last,
                last_use: evidence.last_use,
                recommendation: recommend_with_use(last, evidence, now),
                reviewers: item_reviewers(&def.reviewers, &who, def.created_by),
                decision: None,
                outcome: None,
                applied_request_id: None,
                applied: None,
                principal_name: None,
                role_name: None,
            };
            q::insert_item(tx.conn(), &item).await?;
            items.push(item);
        }
        let scope = target_scope(&def.target);
        let event = AuditDraft {
            action: "review.started".into(),
            scope: Some(scope.clone()),
            details: serde_json::json!({
                "reviewId": def.id, "instanceId": instance.id, "name": def.name, "occurrence": n,
                "start": start, "end": end, "items": items.len(),
            }),
            ..AuditDraft::default()
        };
        tx.audit(now, event).await?;
        let reviewers = distinct_reviewers(&items);
        if !reviewers.is_empty() {
            let text = texts::started(&def.name, items.len(), end, def.reason_required);
            let mut notice = Notice::new("review.started", &format!("Access review started: {}", def.name), &text);
            notice.scope = Some(scope);
            notice.data = serde_json::json!({ "reviewId": def.id, "instanceId": instance.id, "end": end });
            self.notify(tx.conn(), now, &notice, &[Audience::Approvers(reviewers)]).await?;
        }
        Ok(instance.id)
    }

    /// Reminds, once, the reviewers who still have undecided items in an instance past its midpoint.
    pub async fn remind_reviewers(&self) -> Result<usize> {
        let now = self.now();
        let in_progress =
            q::list_instances(&mut *self.store.read().await?, None, Some(InstanceStatus::InProgress)).await?;
        if !in_progress.iter().any(|i| i.reminded_at.is_none() && midpoint(i) <= now && now < i.end) {
            return Ok(0);
        }
        let mut tx = self.store.write(now).await?;
        let mut n = 0;
        for mut i in q::list_instances(tx.conn(), None, Some(InstanceStatus::InProgress)).await? {
            if i.reminded_at.is_some() || now < midpoint(&i) || now >= i.end {
                continue;
            }
            let def = load_review(tx.conn(), i.review_id).await?;
            let undecided: Vec<ReviewItem> =
                q::list_items(tx.conn(), i.id).await?.into_iter().filter(|x| x.decision.is_none()).collect();
            let reviewers = distinct_reviewers(&undecided);
            if !reviewers.is_empty() {
                let text = texts::reminder(&def.name, i.end, undecided.len());
                let mut notice =
                    Notice::new("review.reminder", &format!("Reminder: access review {} ends soon", def.name), &text);
                notice.scope = Some(target_scope(&def.target));
                notice.data = serde_json::json!({ "reviewId": def.id, "instanceId": i.id, "end": i.end });
                self.notify(tx.conn(), now, &notice, &[Audience::Approvers(reviewers)]).await?;
            }
            i.reminded_at = Some(now);
            q::update_instance(tx.conn(), &i).await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Completes every instance in progress whose end has come, then applies those whose review
    /// applies automatically. Returns how many completed.
    pub async fn complete_ended_instances(&self) -> Result<usize> {
        let now = self.now();
        let open = q::list_instances(&mut *self.store.read().await?, None, Some(InstanceStatus::InProgress)).await?;
        let mut done = vec![];
        if open.iter().any(|i| i.end <= now) {
            done = self.complete_ended(now).await?;
        }
        for (def, id) in &done {
            if def.auto_apply {
                self.apply_automatically(def, *id).await?;
            }
        }
        // An automatic apply that did not happen (a crash between completing and applying) is done here.
        let mut c = self.store.read().await?;
        let pending = q::list_instances(&mut c, None, Some(InstanceStatus::Completed)).await?;
        if !pending.is_empty() {
            let auto: HashMap<_, _> =
                q::list_reviews(&mut c, false).await?.into_iter().filter(|d| d.auto_apply).map(|d| (d.id, d)).collect();
            drop(c);
            for i in pending {
                if let Some(def) = auto.get(&i.review_id) {
                    self.apply_automatically(def, i.id).await?;
                }
            }
        }
        Ok(done.len())
    }

    /// Completes, in one transaction, the instances in progress whose end has come.
    async fn complete_ended(&self, now: Timestamp) -> Result<Vec<(ReviewDefinition, ReviewInstanceId)>> {
        let mut tx = self.store.write(now).await?;
        let mut done = vec![];
        for i in q::list_instances(tx.conn(), None, Some(InstanceStatus::InProgress)).await? {
            if i.end <= now {
                let def = load_review(tx.conn(), i.review_id).await?;
                let id = self.complete_instance(&mut tx, &def, i, now, None, "ended").await?;
                done.push((def, id));
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Completes an instance in `tx`: each item gets its outcome (the reviewer's decision, else the
    /// review's rule for items nobody reviewed), the instance becomes `Completed`, audited
    /// (`review.completed`, with `reason`, by `by` when a person stopped it) and notified to the
    /// review's owner.
    pub(crate) async fn complete_instance(
        &self,
        tx: &mut WriteTx,
        def: &ReviewDefinition,
        mut instance: ReviewInstance,
        now: Timestamp,
        by: Option<&Context>,
        reason: &str,
    ) -> Result<ReviewInstanceId> {
        let mut items = q::list_items(tx.conn(), instance.id).await?;
        for item in &mut items {
            item.outcome =
                Some(outcome(item.decision.as_ref().map(|d| d.verdict), item.recommendation, def.if_no_response));
            q::update_item(tx.conn(), item).await?;
        }
        instance.status = InstanceStatus::Completed;
        instance.completed_at = Some(now);
        q::update_instance(tx.conn(), &instance).await?;
        let counts = ItemCounts::of(&items);
        let scope = target_scope(&def.target);
        let mut event = match by {
            Some(ctx) => self.draft(ctx, "review.completed"),
            None => AuditDraft { action: "review.completed".into(), ..AuditDraft::default() },
        };
        event.scope = Some(scope.clone());
        event.details = serde_json::json!({
            "reviewId": def.id, "instanceId": instance.id, "name": def.name, "occurrence": instance.occurrence,
            "reason": reason, "counts": counts,
        });
        tx.audit(now, event).await?;
        let reason = match by.and_then(|c| c.actor.as_ref()) {
            Some(a) => format!("{reason} by {}", a.name),
            None => reason.to_owned(),
        };
        let text = texts::completed(&def.name, &reason, &counts, def.auto_apply, instance.id);
        let mut notice = Notice::new("review.completed", &format!("Access review completed: {}", def.name), &text);
        notice.scope = Some(scope);
        notice.data = serde_json::json!({ "reviewId": def.id, "instanceId": instance.id, "counts": counts });
        self.notify(tx.conn(), now, &notice, &[Audience::Principal(def.created_by)]).await?;
        Ok(instance.id)
    }

    /// Applies an instance's results with the review's own authority, as pim itself.
    pub(crate) async fn apply_automatically(&self, def: &ReviewDefinition, id: ReviewInstanceId) -> Result<()> {
        let ctx = Context::review_system(&def.name, id);
        let instance = load_instance(&mut *self.store.read().await?, id).await?;
        if instance.status == InstanceStatus::Completed {
            self.apply_results(&ctx, id).await?;
        }
        Ok(())
    }
}

/// The occurrence of `def` to start at `now`, after the `latest` one started: the latest whose
/// start has come, if its end has not passed.
fn due_occurrence(def: &ReviewDefinition, latest: Option<u32>, now: Timestamp) -> Option<(u32, Timestamp, Timestamp)> {
    let next = latest.map_or(0, |n| n.saturating_add(1));
    let mut due = None;
    let mut n = next;
    while n - next < MAX_OCCURRENCE_WALK {
        match def.schedule.occurrence_start(n) {
            Some(s) if s <= now => due = Some(n),
            _ => break,
        }
        n += 1;
    }
    let n = due?;
    let (start, end) = def.schedule.occurrence(n)?;
    (end > now).then_some((n, start, end))
}

/// The access `def` reviews now: its target's current assignments of the kinds it reviews
/// (activations are left out: they end with the eligibility they came from), and for a group's
/// membership its static members too.
async fn snapshot(c: &mut AnyConnection, def: &ReviewDefinition, now: Timestamp) -> Result<Vec<Found>> {
    let reviewed = |a: &Assignment| !a.is_activation() && def.kinds.includes(a.kind) && a.is_current(now);
    let mut out = vec![];
    match &def.target {
        ReviewTarget::Roles { role_ids, scope } => {
            let filter =
                q::AssignmentFilter { under: Some(scope.clone()), not_ended_at: Some(now), ..Default::default() };
            for a in q::list_assignments(c, &filter).await? {
                if role_ids.contains(&a.role_id) && reviewed(&a) {
                    out.push(Found::from(&a));
                }
            }
        }
        ReviewTarget::GroupMembership { group_id } => {
            let scope = ScopePath::for_group(*group_id);
            let filter = q::AssignmentFilter {
                scope: Some(scope.clone()),
                role: Some(GROUP_MEMBER),
                not_ended_at: Some(now),
                ..Default::default()
            };
            for a in q::list_assignments(c, &filter).await? {
                if reviewed(&a) {
                    out.push(Found::from(&a));
                }
            }
            if def.kinds.includes(AssignmentKind::Active) {
                for m in q::list_members(c, *group_id).await? {
                    out.push(Found {
                        assignment_id: None,
                        principal_id: m,
                        role_id: GROUP_MEMBER,
                        scope: scope.clone(),
                        kind: AssignmentKind::Active,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The facts that decide who reviews `id`'s access: its kind and its manager, if enabled.
async fn reviewee(c: &mut AnyConnection, id: PrincipalId) -> Result<Reviewee> {
    let p = q::get_principal(c, id).await?;
    let manager = match p.as_ref().and_then(|p| p.manager_id) {
        Some(m) => q::get_principal(c, m).await?.filter(|m| m.enabled).map(|m| m.id),
        None => None,
    };
    Ok(Reviewee { id, kind: p.map_or(PrincipalKind::User, |p| p.kind), manager })
}

/// The latest sign-in or activation start at or before `now` of each of `principals`.
async fn last_activities(
    c: &mut AnyConnection,
    principals: Vec<PrincipalId>,
    now: Timestamp,
) -> Result<HashMap<PrincipalId, Timestamp>> {
    let mut out: HashMap<PrincipalId, Timestamp> = HashMap::new();
    let mut bump = |p: PrincipalId, t: Timestamp| {
        if t <= now {
            let e = out.entry(p).or_insert(t);
            *e = (*e).max(t);
        }
    };
    for chunk in principals.chunks(500) {
        let filter = q::AssignmentFilter {
            principals: Some(chunk.to_vec()),
            kind: Some(AssignmentKind::Active),
            ..Default::default()
        };
        for a in q::list_assignments(c, &filter).await? {
            if a.is_activation() {
                bump(a.principal_id, a.window.start);
            }
        }
        for id in chunk {
            if let Some(t) = q::get_principal(c, *id).await?.and_then(|p| p.last_sign_in_at) {
                bump(*id, t);
            }
        }
    }
    Ok(out)
}

/// Halfway through an instance: when its reviewers are reminded.
fn midpoint(i: &ReviewInstance) -> Timestamp {
    Timestamp(i.start.0 + (i.end.0 - i.start.0) / 2)
}

/// Every reviewer named by `items`, once, in a stable order.
fn distinct_reviewers(items: &[ReviewItem]) -> Vec<ApproverRef> {
    let set: BTreeSet<(u8, PrincipalId)> = items
        .iter()
        .flat_map(|i| i.reviewers.iter())
        .map(|r| (u8::from(r.kind == PrincipalKind::Group), r.id))
        .collect();
    set.into_iter()
        .map(|(g, id)| ApproverRef { kind: if g == 1 { PrincipalKind::Group } else { PrincipalKind::User }, id })
        .collect()
}
