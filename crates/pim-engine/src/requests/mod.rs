//! Requests: the nine actions of SPEC section 4, planned against the rules and the role settings,
//! then carried out in one transaction with their audit events, or only validated.

mod approve;
pub(crate) mod batch;
mod plan;
mod prefetch;
mod read;

use std::collections::HashMap;

use pim_domain::request::Needs;
use pim_domain::time::DAY_MS;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, AuditDraft, DomainError, ErrorKind, Principal, PrincipalId, Request,
    RequestAction, RequestId, RequestStatus, RoleId, ScopePath, Ticket, Timestamp, Window,
};
use pim_store::{WriteTx, q};

use crate::context::{Actor, Context};
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};
use crate::follow::Change;
use crate::notify::RequestEvent;

pub use approve::DecisionInput;
pub use batch::{BATCH_REQUESTS_BUCKETS, BATCH_SECONDS_BUCKETS, BatchFigures, Histogram};
use plan::Plan;
pub(crate) use plan::ensure_global_admin_remains;

/// How far ahead of its end an assignment may be extended by its holder.
pub const EXTEND_WINDOW_MS: i64 = 14 * DAY_MS;
/// How long after its end an assignment may be renewed by its holder.
pub const RENEW_WINDOW_MS: i64 = 30 * DAY_MS;

/// What a caller asks for; which fields matter depends on `action` (see docs/API.md).
#[derive(Clone, Debug)]
pub struct RequestInput {
    /// The action.
    pub action: RequestAction,
    /// Whose assignment (admin assign).
    pub principal_id: Option<PrincipalId>,
    /// Which role (assign, activate).
    pub role_id: Option<RoleId>,
    /// Where (assign, activate).
    pub scope: Option<ScopePath>,
    /// Eligible or active (assign).
    pub kind: Option<AssignmentKind>,
    /// The assignment concerned (update, remove, extend, renew, deactivate).
    pub assignment_id: Option<AssignmentId>,
    /// Requested start.
    pub start: Option<Timestamp>,
    /// Requested end.
    pub end: Option<Timestamp>,
    /// Make the assignment permanent (update).
    pub permanent: bool,
    /// Activation length in minutes.
    pub duration_minutes: Option<u32>,
    /// Why.
    pub justification: Option<String>,
    /// Ticket reference.
    pub ticket: Option<Ticket>,
    /// Only say whether it would pass.
    pub validate_only: bool,
    /// Break-glass activation: no approval, justification mandatory, approvers told, reviewed later.
    pub break_glass: bool,
    /// A TOTP code to pass MFA with before the request is planned.
    pub otp: Option<String>,
}

impl RequestInput {
    /// An input for `action` with every other field empty.
    pub fn new(action: RequestAction) -> RequestInput {
        RequestInput {
            action,
            principal_id: None,
            role_id: None,
            scope: None,
            kind: None,
            assignment_id: None,
            start: None,
            end: None,
            permanent: false,
            duration_minutes: None,
            justification: None,
            ticket: None,
            validate_only: false,
            break_glass: false,
            otp: None,
        }
    }
}

/// A request carried out (or accepted, or pending) and the assignment it made or changed.
#[derive(Clone, Debug)]
pub struct RequestOutcome {
    /// The request as stored.
    pub request: Request,
    /// The assignment it created or changed.
    pub assignment: Option<Assignment>,
}

/// The answer to a `validateOnly` request.
#[derive(Clone, Debug)]
pub struct Validation {
    /// Whether it would be carried out (or accepted for approval) now.
    pub valid: bool,
    /// What it still needs.
    pub needs: Needs,
    /// The rules it breaks.
    pub problems: Vec<DomainError>,
    /// The window it would have.
    pub window: Option<Window>,
}

/// A request written by `write_request` in a transaction not committed yet.
pub(crate) struct WrittenRequest {
    /// The request as stored.
    pub(crate) request: Request,
    /// The assignment it created or changed.
    pub(crate) assignment: Option<Assignment>,
    /// Every assignment it inserted or changed: for the index, after commit.
    pub(crate) touched: Vec<Assignment>,
}

/// What the requests written in one transaction share (group commit).
#[derive(Debug, Default)]
pub(crate) struct Sharing {
    /// Whether a request's own rows may be inserted with [`WriteTx::insert_later`]: the caller
    /// writes them ([`WriteTx::write_later_rows`]) before planning a request they could concern.
    pub(crate) defer_rows: bool,
    /// The principals read so far in the transaction (no request of a write batch changes one).
    pub(crate) principals: HashMap<PrincipalId, Principal>,
    /// Whether each request is isolated from the others of its transaction: before its first
    /// statement that writes, a savepoint is taken ([`Sharing::savepoint`]), so that its failure
    /// undoes only its own writes. A request that writes nothing before the commit takes none.
    pub(crate) isolate: bool,
    /// The savepoint taken before the current request's first write, if it wrote.
    pub(crate) savepoint: Option<pim_store::Savepoint>,
    /// What the batch's activations read at its start (see [`prefetch`]).
    pub(crate) reads: Option<prefetch::BatchReads>,
}

impl Sharing {
    /// Called before the current request's first statement that writes (see [`Sharing::isolate`]).
    async fn before_writing(&mut self, tx: &mut WriteTx) -> Result<()> {
        if self.isolate && self.savepoint.is_none() {
            self.savepoint = Some(tx.savepoint().await?);
        }
        Ok(())
    }
}

/// What `submit` did.
#[derive(Clone, Debug)]
pub enum Submission {
    /// Carried out, accepted or pending.
    Done(Box<RequestOutcome>),
    /// Only validated.
    Validated(Validation),
}

/// Filters for listing requests.
#[derive(Clone, Debug, Default)]
pub struct RequestQuery {
    /// Only requests the caller made (its own activations, extensions and renewals).
    pub mine: bool,
    /// Only requests concerning this principal.
    pub principal: Option<PrincipalId>,
    /// Only in this status.
    pub status: Option<RequestStatus>,
    /// Only this action.
    pub action: Option<RequestAction>,
    /// Page cursor: the last id of the previous page.
    pub after: Option<RequestId>,
    /// Page size.
    pub limit: i64,
}

/// Filters for listing assignments.
#[derive(Clone, Debug, Default)]
pub struct AssignmentQuery {
    /// Only this principal's.
    pub principal: Option<PrincipalId>,
    /// Only this role's.
    pub role: Option<RoleId>,
    /// Only at exactly this scope.
    pub scope: Option<ScopePath>,
    /// Only at this scope or below.
    pub under: Option<ScopePath>,
    /// Only eligible or only active.
    pub kind: Option<AssignmentKind>,
    /// Include assignments that have ended.
    pub include_ended: bool,
    /// Page cursor.
    pub after: Option<AssignmentId>,
    /// Page size.
    pub limit: i64,
}

impl Engine {
    /// Submits a request: validates it, and unless `validate_only`, carries it out in one transaction.
    pub async fn submit(&self, ctx: &Context, input: RequestInput) -> Result<Submission> {
        // A code sent with the request is verified first (and audited on its own), like `pim mfa verify`.
        let verified;
        let ctx = match &input.otp {
            Some(code) => {
                let at = self.verify_mfa(ctx, crate::mfa::MfaProof::Totp(code.clone())).await?;
                verified = ctx.with_mfa_at(at);
                &verified
            }
            None => ctx,
        };
        let draft = self.request_draft(ctx, &input);
        if input.validate_only {
            return self.validate(ctx, &input).await.map(Submission::Validated);
        }
        if batch::batched(input.action) {
            return self
                .audited(draft.clone(), async {
                    let actor = self.actor(ctx)?.clone();
                    let outcome = self.submit_batched(ctx, actor, draft.clone(), input).await?;
                    Ok(Submission::Done(Box::new(outcome)))
                })
                .await;
        }
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let done = self.write_request(&mut tx, ctx, &actor, &draft, &input, now).await?;
            tx.commit().await?;
            for a in &done.touched {
                self.index.upsert_assignment(a);
            }
            Ok(Submission::Done(Box::new(RequestOutcome { request: done.request, assignment: done.assignment })))
        })
        .await
    }

    /// The audit event of a request, before it is planned (also the one a refusal is recorded with).
    pub(crate) fn request_draft(&self, ctx: &Context, input: &RequestInput) -> AuditDraft {
        let mut draft = self.draft(ctx, &format!("request.{}", input.action.as_str()));
        draft.principal_id =
            input.principal_id.or(ctx.actor.as_ref().filter(|_| !input.action.is_admin()).map(|a| a.id));
        draft.role_id = input.role_id;
        draft.scope = input.scope.clone();
        draft.justification = input.justification.clone();
        draft.ticket = input.ticket.as_ref().map(|t| format!("{}:{}", t.system, t.number));
        if let Some(id) = input.assignment_id {
            draft.details = serde_json::json!({ "assignmentId": id });
        }
        draft
    }

    /// Plans a request and writes it, its assignments, audit events, notices and change-feed
    /// entries in `tx`. Nothing is written when it is refused. The caller commits, then puts
    /// `touched` in the index.
    pub(crate) async fn write_request(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        draft: &AuditDraft,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<WrittenRequest> {
        self.write_request_sharing(tx, ctx, actor, draft, input, now, &mut Sharing::default()).await
    }

    /// [`Engine::write_request`] for one of several requests written in the same transaction
    /// (group commit), sharing what `sharing` says.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_request_sharing(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        draft: &AuditDraft,
        input: &RequestInput,
        now: Timestamp,
        sharing: &mut Sharing,
    ) -> Result<WrittenRequest> {
        let pre = match (&mut sharing.reads, input.action, input.role_id, &input.scope) {
            (Some(reads), RequestAction::SelfActivate, Some(role), Some(scope)) => {
                reads.for_request(actor.id, &self.activation_holders(actor.id, now), role, scope, now)
            }
            (Some(reads), ..) => {
                reads.saw(actor.id);
                None
            }
            (None, ..) => None,
        };
        let plan = self.plan(tx.conn(), ctx, actor, input, now, pre).await?;
        if let Some(e) = plan.needs.first_unmet() {
            return Err(e.into());
        }
        let Plan {
            request,
            insert,
            update,
            requests_to_update,
            extra_events,
            result,
            break_glass_approvers,
            mut known,
            ..
        } = plan;
        for (id, p) in std::mem::take(&mut sharing.principals) {
            known.principals.entry(id).or_insert(p);
        }
        // A request that only inserts its own rows (no approval, no break-glass review, nothing
        // else changed) has them written with the transaction's others, in one statement each.
        let later = sharing.defer_rows
            && update.is_empty()
            && requests_to_update.is_empty()
            && !request.break_glass
            && request.approval.is_none();
        // Such a request writes no statement before the commit but its notices' rows (read
        // first, here): without them it needs no savepoint. Anything else takes one now, before
        // anything of it is kept for later.
        let mut done_rows = None;
        if later && self.connectors.is_empty() {
            let rows = self.request_notice_rows(tx.conn(), now, &request, RequestEvent::Done, &mut known).await?;
            if !rows.is_empty() {
                sharing.before_writing(tx).await?;
            }
            done_rows = Some(rows);
        } else {
            sharing.before_writing(tx).await?;
        }
        if later {
            tx.insert_later(request.clone(), insert.clone());
        } else {
            tx.write_later_rows().await?;
            q::insert_request(tx.conn(), &request).await?;
            if let Some(a) = &insert {
                q::insert_assignment(tx.conn(), a).await?;
            }
        }
        for a in &update {
            q::update_assignment(tx.conn(), a).await?;
        }
        for r in &requests_to_update {
            q::update_request(tx.conn(), r).await?;
        }
        let mut d = draft.clone();
        d.principal_id = Some(request.principal_id);
        d.role_id = Some(request.role_id);
        d.scope = Some(request.scope.clone());
        d.request_id = Some(request.id);
        d.justification = request.justification.clone();
        d.details = serde_json::json!({
            "status": request.status.as_str(),
            "kind": request.kind.as_str(),
            "assignmentId": result,
            "start": request.window.start,
            "end": request.window.end,
        });
        if let Some(extra) = draft.details.get("review") {
            d.details["review"] = extra.clone();
        }
        // Written with the transaction's other events (one statement for a whole write batch).
        tx.audit_later(now, d);
        for mut e in extra_events {
            e.actor_id = draft.actor_id;
            e.actor_name = draft.actor_name.clone();
            e.http_request_id = draft.http_request_id.clone();
            e.client_addr = draft.client_addr.clone();
            e.request_id.get_or_insert(request.id);
            tx.audit_later(now, e);
        }
        match &request.approval {
            Some(ap) if request.status == RequestStatus::PendingApproval => {
                let approvers = ap.approvers_now(now);
                self.notify_request_known(
                    tx.conn(),
                    now,
                    &request,
                    RequestEvent::ApprovalNeeded { approvers: &approvers, stage: 0 },
                    &mut known,
                )
                .await?;
            }
            _ => {
                if request.break_glass {
                    self.queue_break_glass_review(tx.conn(), &request, now).await?;
                    self.notify_request_known(
                        tx.conn(),
                        now,
                        &request,
                        RequestEvent::BreakGlass { approvers: &break_glass_approvers },
                        &mut known,
                    )
                    .await?;
                }
                match done_rows {
                    Some(rows) => q::insert_notifications(tx.conn(), &rows).await?,
                    None => {
                        self.notify_request_known(tx.conn(), now, &request, RequestEvent::Done, &mut known).await?;
                    }
                }
            }
        }
        sharing.principals = known.principals;
        let touched: Vec<Assignment> = insert.into_iter().chain(update).collect();
        let changed: Vec<Change> = touched.iter().map(|a| Change::Assignment(a.id, a.principal_id)).collect();
        self.record_changes(tx, now, &changed).await?;
        let assignment = touched.iter().find(|a| Some(a.id) == result).cloned();
        Ok(WrittenRequest { request, assignment, touched })
    }

    /// Answers what a request would need, changing nothing.
    async fn validate(&self, ctx: &Context, input: &RequestInput) -> Result<Validation> {
        let actor = self.actor(ctx)?.clone();
        let now = self.now();
        let mut c = self.store.read().await?;
        match self.plan(&mut c, ctx, &actor, input, now, None).await {
            Ok(plan) => {
                let problems: Vec<DomainError> = plan.needs.first_unmet().into_iter().collect();
                Ok(Validation {
                    valid: problems.is_empty(),
                    needs: plan.needs,
                    problems,
                    window: Some(plan.request.window),
                })
            }
            Err(EngineError::Refused(e)) => {
                Ok(Validation { valid: false, needs: Needs::default(), problems: vec![e], window: None })
            }
            Err(e) => Err(e),
        }
    }

    /// The requester withdraws a pending request.
    pub async fn cancel_request(&self, ctx: &Context, id: RequestId) -> Result<Request> {
        let mut draft = self.draft(ctx, "request.cancel");
        draft.request_id = Some(id);
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut r =
                q::get_request(tx.conn(), id).await?.ok_or_else(|| DomainError::not_found(format!("request {id}")))?;
            if r.requested_by != actor.id {
                return refuse(ErrorKind::Forbidden, "only the requester can cancel a request");
            }
            if r.status != RequestStatus::PendingApproval {
                return refuse(
                    ErrorKind::RequestNotPending,
                    format!("the request is {}, not pending", r.status.as_str()),
                );
            }
            r.status = r.status.transition(RequestStatus::Canceled)?;
            r.updated_at = now;
            r.status_reason = Some("canceled by the requester".into());
            q::update_request(tx.conn(), &r).await?;
            let approvers = r.approval.as_ref().map(|a| a.approvers_now(now)).unwrap_or_default();
            self.notify_request(tx.conn(), now, &r, RequestEvent::Canceled { approvers: &approvers }).await?;
            let mut d = draft.clone();
            d.principal_id = Some(r.principal_id);
            d.role_id = Some(r.role_id);
            d.scope = Some(r.scope.clone());
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(r)
        })
        .await
    }
}
