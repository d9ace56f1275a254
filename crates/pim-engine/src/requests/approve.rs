//! Deciding requests: approvers approve or deny (one request or many at once), stages advance,
//! approved requests are carried out; unanswered ones escalate and time out; break-glass
//! activations are queued for review after the fact.

use pim_domain::actions::{REQUESTS_APPROVE, REQUESTS_READ};
use pim_domain::approval::{BreakGlassReview, Decision, Progress, ReviewVerdict, Verdict};
use pim_domain::request::normalize_justification;
use pim_domain::{
    Assignment, AuditDraft, DomainError, ErrorKind, PrincipalId, Request, RequestAction, RequestId, RequestStatus,
    Timestamp, Window,
};
use pim_store::{AnyConnection, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};
use crate::follow::Change;
use crate::notify::RequestEvent;
use crate::roles::settings_at;

use super::RequestOutcome;
use super::plan::{activation_of, apply_extension, existing_activation, load_assignment};

/// An approver's answer.
#[derive(Clone, Debug)]
pub struct DecisionInput {
    /// Approve or deny.
    pub verdict: Verdict,
    /// Why (required when the role's settings say so).
    pub justification: Option<String>,
    /// For extension and renewal requests: the end the approver grants (at most what was asked).
    pub end: Option<Timestamp>,
}

/// What an approval carried out.
struct Carried {
    insert: Option<Assignment>,
    update: Vec<Assignment>,
}

impl Engine {
    /// Whether `who` is among the approvers of `r`'s current stage now (ignoring whether they
    /// already decided, or are the requester).
    pub(crate) fn is_approver_of(&self, who: PrincipalId, r: &Request, now: Timestamp) -> bool {
        let Some(ap) = &r.approval else { return false };
        if ap.scope_admins {
            return self.index.check(who, REQUESTS_APPROVE, r.scope.as_str(), now).allowed;
        }
        let groups = self.index.groups_of(who, now);
        pim_domain::Approval::names(&ap.approvers_now(now), who, &groups)
    }

    /// Refuses unless `who` may decide `r` now.
    fn may_decide(&self, who: PrincipalId, r: &Request, now: Timestamp) -> std::result::Result<(), DomainError> {
        if r.requested_by == who || r.principal_id == who {
            return Err(DomainError::new(
                ErrorKind::ApprovalSelfForbidden,
                "nobody approves their own request, not even through a group",
            ));
        }
        if r.status != RequestStatus::PendingApproval {
            return Err(DomainError::new(
                ErrorKind::RequestNotPending,
                format!("the request is {}, not pending", r.status.as_str()),
            ));
        }
        let Some(ap) = &r.approval else {
            return Err(DomainError::new(ErrorKind::RequestNotPending, "the request waits for no approval"));
        };
        if now >= ap.deadline() {
            return Err(DomainError::new(
                ErrorKind::RequestNotPending,
                format!("the request timed out at {}", ap.deadline()),
            ));
        }
        if ap.decisions.iter().any(|d| d.approver_id == who) {
            return Err(DomainError::new(ErrorKind::AlreadyDecided, "you have already decided on this request"));
        }
        if !self.is_approver_of(who, r, now) {
            return Err(DomainError::new(
                ErrorKind::NotApprover,
                "you are not an approver of this request's current stage",
            ));
        }
        Ok(())
    }

    /// Requests waiting for the caller's decision now, oldest first.
    pub async fn pending_approvals(&self, ctx: &Context) -> Result<Vec<Request>> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let mut c = self.store.read().await?;
        let filter = q::RequestFilter { status: Some(RequestStatus::PendingApproval), ..Default::default() };
        Ok(q::list_requests(&mut c, &filter)
            .await?
            .into_iter()
            .filter(|r| self.may_decide(actor.id, r, now).is_ok())
            .map(|mut r| {
                r.requester_name = self.index.principal(r.requested_by).map(|p| p.name);
                r
            })
            .collect())
    }

    /// Approves or denies one request.
    pub async fn decide(&self, ctx: &Context, id: RequestId, input: DecisionInput) -> Result<RequestOutcome> {
        let action = match input.verdict {
            Verdict::Approve => "request.approve",
            Verdict::Deny => "request.deny",
        };
        let mut draft = self.draft(ctx, action);
        draft.request_id = Some(id);
        draft.justification = input.justification.clone();
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let justification = normalize_justification(input.justification.as_deref())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut r =
                q::get_request(tx.conn(), id).await?.ok_or_else(|| DomainError::not_found(format!("request {id}")))?;
            self.may_decide(actor.id, &r, now)?;
            let settings = settings_at(tx.conn(), r.role_id, &r.scope).await?.settings;
            if settings.approver_justification_required && justification.is_none() {
                return refuse(
                    ErrorKind::JustificationRequired,
                    "the role's settings require approvers to give a justification",
                );
            }
            let extension = matches!(r.action, RequestAction::SelfExtend | RequestAction::SelfRenew);
            if input.end.is_some() && (!extension || input.verdict == Verdict::Deny) {
                return refuse(ErrorKind::InvalidInput, "only an approval of an extension or renewal takes an 'end'");
            }
            if let (Some(end), Some(asked)) = (input.end, r.window.end)
                && end > asked
            {
                return refuse(ErrorKind::InvalidWindow, "an approver may shorten what was asked, not lengthen it");
            }
            if extension && input.verdict == Verdict::Approve {
                // An end the extension could not take is the approver's mistake: refuse it, change nothing.
                let Some(end) = input.end.or(r.window.end) else {
                    return refuse(ErrorKind::InvalidInput, "this request leaves the end to the approver: give 'end'");
                };
                if end <= now {
                    return refuse(ErrorKind::InvalidWindow, "the end must be in the future");
                }
                if r.action == RequestAction::SelfExtend
                    && let Some(target) = r.target_assignment
                    && load_assignment(tx.conn(), target).await?.window.end.is_some_and(|e| end <= e)
                {
                    return refuse(ErrorKind::InvalidWindow, "the end must be later than the assignment's current end");
                }
            }
            let mut ap = r.approval.clone().ok_or_else(|| DomainError::invalid("the request waits for no approval"))?;
            let progress = ap.decide(Decision {
                stage: ap.stage,
                approver_id: actor.id,
                approver_name: actor.name.clone(),
                verdict: input.verdict,
                justification: justification.clone(),
                at: now,
            })?;
            r.approval = Some(ap.clone());
            r.updated_at = now;
            let mut d = draft.clone();
            d.principal_id = Some(r.principal_id);
            d.role_id = Some(r.role_id);
            d.scope = Some(r.scope.clone());
            d.justification = justification.clone();
            d.details = serde_json::json!({
                "stage": ap.decisions.last().map(|x| x.stage),
                "approvalsInStage": ap.approvals_in_stage(),
                "end": input.end,
            });
            let mut carried = Carried { insert: None, update: Vec::new() };
            let mut outcome_event = None;
            match progress {
                Progress::Waiting => {}
                Progress::NextStage => {
                    let approvers = ap.approvers_now(now);
                    self.notify_request(
                        tx.conn(),
                        now,
                        &r,
                        RequestEvent::ApprovalNeeded { approvers: &approvers, stage: ap.stage },
                    )
                    .await?;
                }
                Progress::Denied => {
                    r.status = RequestStatus::Denied;
                    r.status_reason = Some(match &justification {
                        Some(j) => format!("denied by {}: {j}", actor.name),
                        None => format!("denied by {}", actor.name),
                    });
                    self.notify_request(
                        tx.conn(),
                        now,
                        &r,
                        RequestEvent::Denied { by: &actor.name, justification: justification.as_deref() },
                    )
                    .await?;
                    outcome_event = Some("request.denied");
                }
                Progress::Approved => match self.carry_out(tx.conn(), &mut r, input.end, now).await {
                    Ok(c) => {
                        carried = c;
                        self.notify_request(tx.conn(), now, &r, RequestEvent::Approved { by: &actor.name }).await?;
                        self.notify_request(tx.conn(), now, &r, RequestEvent::Done).await?;
                        outcome_event = Some("request.approved");
                    }
                    Err(EngineError::Refused(e)) => {
                        r.status = RequestStatus::Failed;
                        r.status_reason = Some(format!("approved, but could not be carried out: {}", e.message));
                        outcome_event = Some("request.failed");
                    }
                    Err(e) => return Err(e),
                },
            }
            q::update_request(tx.conn(), &r).await?;
            if let Some(a) = &carried.insert {
                q::insert_assignment(tx.conn(), a).await?;
            }
            for a in &carried.update {
                q::update_assignment(tx.conn(), a).await?;
            }
            tx.audit(now, d.clone()).await?;
            if let Some(event) = outcome_event {
                let mut e = d.clone();
                e.action = event.to_owned();
                e.details = serde_json::json!({
                    "status": r.status.as_str(),
                    "assignmentId": r.target_assignment,
                    "start": r.window.start,
                    "end": r.window.end,
                    "reason": r.status_reason,
                });
                tx.audit(now, e).await?;
            }
            let changed: Vec<Change> = carried
                .insert
                .iter()
                .chain(carried.update.iter())
                .map(|a| Change::Assignment(a.id, a.principal_id))
                .collect();
            self.record_changes(&mut tx, now, &changed).await?;
            tx.commit().await?;
            let mut assignment = None;
            for a in carried.insert.iter().chain(carried.update.iter()) {
                self.index.upsert_assignment(a);
                if Some(a.id) == r.target_assignment {
                    assignment = Some(a.clone());
                }
            }
            Ok(RequestOutcome { request: r, assignment })
        })
        .await
    }

    /// Decides many requests with one answer; each is decided (and audited) on its own, so one
    /// refusal does not stop the others.
    pub async fn decide_many(
        &self,
        ctx: &Context,
        ids: &[RequestId],
        input: &DecisionInput,
    ) -> Result<Vec<(RequestId, Result<RequestOutcome>)>> {
        self.actor(ctx)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push((*id, self.decide(ctx, *id, input.clone()).await));
        }
        Ok(out)
    }

    /// Carries out an approved request: an activation from approval (or its later requested
    /// start) for the requested duration, never past its eligibility; an extension or renewal.
    async fn carry_out(
        &self,
        c: &mut AnyConnection,
        r: &mut Request,
        end: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Carried> {
        match r.action {
            RequestAction::SelfActivate => {
                let eligibility_id =
                    r.eligibility.ok_or_else(|| DomainError::invalid("the activation names no eligibility"))?;
                let eligibility = load_assignment(c, eligibility_id).await?;
                let start = r.window.start.max(now);
                if !eligibility.window.contains(start) {
                    return refuse(ErrorKind::NotEligible, "the eligibility is no longer in effect");
                }
                let holds = eligibility.principal_id == r.principal_id
                    || self.index.groups_of(r.principal_id, start).contains(&eligibility.principal_id);
                if !holds {
                    return refuse(
                        ErrorKind::NotEligible,
                        "the requester no longer holds the eligibility (group membership ended)",
                    );
                }
                let minutes = i64::from(r.duration_minutes.unwrap_or(60));
                let wanted = start.plus_millis(minutes * pim_domain::time::MINUTE_MS);
                let end = match eligibility.window.end {
                    Some(e) if e < wanted => e,
                    _ => wanted,
                };
                let window = Window { start, end: Some(end) };
                let existing = if start <= now {
                    existing_activation(c, r.principal_id, r.role_id, &r.scope, now).await?
                } else {
                    None
                };
                let kind = q::get_principal(c, r.principal_id)
                    .await?
                    .map(|p| p.kind)
                    .ok_or_else(|| DomainError::not_found(format!("principal {}", r.principal_id)))?;
                let (activation, insert, update) =
                    activation_of((r.principal_id, kind), &eligibility, &r.scope, window, existing, r.id, now);
                r.window = window;
                r.target_assignment = Some(activation.id);
                r.status = if start > now { RequestStatus::Granted } else { RequestStatus::Provisioned };
                Ok(Carried { insert, update })
            }
            RequestAction::SelfExtend | RequestAction::SelfRenew => {
                let end = end.or(r.window.end).ok_or_else(|| DomainError::invalid("give 'end'"))?;
                let (insert, update, result) = apply_extension(c, r, end, now).await?;
                r.window = match &insert {
                    Some(a) => a.window,
                    None => Window { start: r.window.start, end: Some(end) },
                };
                r.target_assignment = Some(result);
                r.status = RequestStatus::Provisioned;
                Ok(Carried { insert, update })
            }
            other => refuse(ErrorKind::InvalidInput, format!("{} requests are not approved", other.as_str())),
        }
    }

    /// Times out requests nobody answered and brings in escalation approvers whose delay has
    /// passed (each with its audit event and notices). Returns how many requests moved.
    pub async fn advance_approvals(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let filter = q::RequestFilter { status: Some(RequestStatus::PendingApproval), ..Default::default() };
        let mut n = 0;
        for mut r in q::list_requests(tx.conn(), &filter).await? {
            let Some(mut ap) = r.approval.clone() else { continue };
            let event = AuditDraft {
                principal_id: Some(r.principal_id),
                role_id: Some(r.role_id),
                scope: Some(r.scope.clone()),
                request_id: Some(r.id),
                ..AuditDraft::default()
            };
            if now >= ap.deadline() {
                r.status = RequestStatus::TimedOut;
                r.updated_at = now;
                r.status_reason = Some(format!("no approver answered stage {} in time", ap.stage + 1));
                q::update_request(tx.conn(), &r).await?;
                let details = serde_json::json!({ "stage": ap.stage, "deadline": ap.deadline() });
                tx.audit(now, AuditDraft { action: "request.timedOut".into(), details, ..event }).await?;
                self.notify_request(tx.conn(), now, &r, RequestEvent::TimedOut).await?;
                n += 1;
            } else if let Some(extra) = ap.escalation_due(now).map(<[_]>::to_vec) {
                ap.escalated = true;
                r.approval = Some(ap.clone());
                r.updated_at = now;
                q::update_request(tx.conn(), &r).await?;
                let details = serde_json::json!({ "stage": ap.stage, "approvers": extra });
                tx.audit(now, AuditDraft { action: "request.escalated".into(), details, ..event }).await?;
                self.notify_request(tx.conn(), now, &r, RequestEvent::Escalated { approvers: &extra, stage: ap.stage })
                    .await?;
                n += 1;
            }
        }
        n += self.time_out_settings_changes(&mut tx, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Queues a break-glass activation for review after the fact.
    pub(crate) async fn queue_break_glass_review(
        &self,
        c: &mut AnyConnection,
        r: &Request,
        now: Timestamp,
    ) -> Result<()> {
        let review = BreakGlassReview {
            request_id: r.id,
            principal_id: r.principal_id,
            role_id: r.role_id,
            scope: r.scope.clone(),
            created_at: now,
            reviewed_by: None,
            reviewed_at: None,
            verdict: None,
            note: None,
        };
        Ok(q::insert_break_glass_review(c, &review).await?)
    }

    /// Break-glass reviews at scopes where the caller may read requests; only open ones when `pending`.
    pub async fn list_break_glass_reviews(&self, ctx: &Context, pending: bool) -> Result<Vec<BreakGlassReview>> {
        self.actor(ctx)?;
        let mut c = self.store.read().await?;
        Ok(q::list_break_glass_reviews(&mut c, pending)
            .await?
            .into_iter()
            .filter(|v| self.allowed(ctx, REQUESTS_READ, &v.scope))
            .collect())
    }

    /// Records the review of a break-glass activation (by an approver of its scope, not the activator).
    pub async fn complete_break_glass_review(
        &self,
        ctx: &Context,
        id: RequestId,
        verdict: ReviewVerdict,
        note: Option<String>,
    ) -> Result<BreakGlassReview> {
        let mut draft = self.draft(ctx, "breakGlass.reviewed");
        draft.request_id = Some(id);
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let note = normalize_justification(note.as_deref())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut v = q::get_break_glass_review(tx.conn(), id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("break-glass review {id}")))?;
            self.authorize(ctx, REQUESTS_APPROVE, &v.scope)?;
            if v.principal_id == actor.id {
                return refuse(ErrorKind::ApprovalSelfForbidden, "nobody reviews their own break-glass activation");
            }
            if v.reviewed_at.is_some() {
                return refuse(ErrorKind::AlreadyDecided, "this break-glass activation was already reviewed");
            }
            v.reviewed_by = Some(actor.id);
            v.reviewed_at = Some(now);
            v.verdict = Some(verdict);
            v.note = note.clone();
            q::complete_break_glass_review(tx.conn(), &v).await?;
            let mut d = draft.clone();
            d.principal_id = Some(v.principal_id);
            d.role_id = Some(v.role_id);
            d.scope = Some(v.scope.clone());
            d.justification = note;
            d.details = serde_json::json!({ "verdict": verdict.as_str() });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(v)
        })
        .await
    }
}
