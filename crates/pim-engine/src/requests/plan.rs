//! Planning a request: every rule of SPEC section 4 and the role settings, checked against the
//! store at `now`, producing what the request will change (nothing is written here).

use pim_domain::actions::ASSIGNMENTS_WRITE;
use pim_domain::approval::Approval;
use pim_domain::message::count;
use pim_domain::request::{ActivationInput, Needs, normalize_justification, plan_activation};
use pim_domain::role::GLOBAL_ADMINISTRATOR;
use pim_domain::settings::ApproverRef;
use pim_domain::time::DAY_MS;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, AuditDraft, DomainError, ErrorKind, PrincipalId, PrincipalKind, Request,
    RequestAction, RequestId, RequestStatus, RoleDefinition, RoleId, RoleSettings, ScopePath, Ticket, Timestamp,
    Window,
};
use pim_store::{AnyConnection, q};

use crate::context::{Actor, Context};
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::notify::Known;
use crate::roles::{check_group_role, find_role, settings_at};

use super::prefetch::ActivationReads;
use super::{EXTEND_WINDOW_MS, RENEW_WINDOW_MS, RequestInput};

/// Everything a request will change, computed before anything is written.
#[derive(Debug)]
pub(super) struct Plan {
    /// The request row to insert.
    pub(super) request: Request,
    /// A new assignment.
    pub(super) insert: Option<Assignment>,
    /// New versions of existing assignments.
    pub(super) update: Vec<Assignment>,
    /// Other requests to cancel or revoke.
    pub(super) requests_to_update: Vec<Request>,
    /// Audit events beside the request's own (cascades).
    pub(super) extra_events: Vec<AuditDraft>,
    pub(super) needs: Needs,
    /// The assignment to return to the caller.
    pub(super) result: Option<AssignmentId>,
    /// For a break-glass activation, every approver of the role's stages (they are told).
    pub(super) break_glass_approvers: Vec<ApproverRef>,
    /// What planning read that the request's notices need (not read again).
    pub(super) known: Known,
}

impl Plan {
    /// A plan that writes `request` and changes nothing else (fields are then set as needed).
    fn new(request: Request, result: Option<AssignmentId>) -> Plan {
        Plan {
            request,
            insert: None,
            update: Vec::new(),
            requests_to_update: Vec::new(),
            extra_events: Vec::new(),
            needs: Needs::default(),
            result,
            break_glass_approvers: Vec::new(),
            known: Known::default(),
        }
    }

    /// Records the role's name and the settings in force at the request's scope, as planned.
    fn knowing(mut self, role: &RoleDefinition, settings: &RoleSettings) -> Plan {
        self.known.role = Some((role.id, role.name.clone()));
        self.known.settings = Some((role.id, self.request.scope.clone(), settings.clone()));
        self
    }
}

fn missing(field: &str, action: RequestAction) -> DomainError {
    DomainError::invalid(format!("{} needs '{field}'", action.as_str()))
}

fn window_of(start: Option<Timestamp>, end: Option<Timestamp>, now: Timestamp) -> Result<Window> {
    let start = start.unwrap_or(now);
    if let Some(e) = end {
        if e <= start {
            return refuse(ErrorKind::InvalidWindow, "the end must be after the start");
        }
        if e <= now {
            return refuse(ErrorKind::InvalidWindow, "the end must be in the future");
        }
    }
    Ok(Window { start, end })
}

/// Applies "allow permanent" and "expire after N days" of the role settings to an assignment window.
fn check_assignment_policy(settings: &RoleSettings, kind: AssignmentKind, w: &Window, now: Timestamp) -> Result<()> {
    let (allow_permanent, days, what) = match kind {
        AssignmentKind::Eligible => {
            (settings.allow_permanent_eligible, settings.eligible_expire_after_days, "eligible")
        }
        AssignmentKind::Active => (settings.allow_permanent_active, settings.active_expire_after_days, "active"),
    };
    match w.end {
        None if !allow_permanent => refuse(
            ErrorKind::PermanentNotAllowed,
            format!(
                "the role's settings do not allow permanent {what} assignments; give an end within {}",
                count(days, "day", "days")
            ),
        ),
        Some(end) if !allow_permanent && end.0 - w.start.max(now).0 > i64::from(days) * DAY_MS => refuse(
            ErrorKind::ExpirationTooFar,
            format!("the role's settings allow {what} assignments of at most {}", count(days, "day", "days")),
        ),
        _ => Ok(()),
    }
}

fn request_for(
    action: RequestAction,
    a: &Assignment,
    window: Window,
    actor: &Actor,
    justification: Option<String>,
    ticket: Option<Ticket>,
    now: Timestamp,
) -> Request {
    Request {
        id: RequestId::new(),
        action,
        status: RequestStatus::Provisioned,
        principal_id: a.principal_id,
        role_id: a.role_id,
        scope: a.scope.clone(),
        kind: a.kind,
        window,
        requested_by: actor.id,
        justification,
        ticket,
        target_assignment: Some(a.id),
        eligibility: a.activated_from,
        created_at: now,
        updated_at: now,
        status_reason: None,
        duration_minutes: None,
        break_glass: false,
        approval: None,
        requester_name: None,
    }
}

/// Refuses a change that would leave no enabled user with a permanent, active Global Administrator
/// assignment at `/`. `changed` are the new versions of assignments being changed; `disabling` a user
/// being disabled.
pub(crate) async fn ensure_global_admin_remains(
    c: &mut AnyConnection,
    now: Timestamp,
    changed: &[Assignment],
    disabling: Option<PrincipalId>,
) -> Result<()> {
    let filter = q::AssignmentFilter {
        role: Some(GLOBAL_ADMINISTRATOR),
        scope: Some(ScopePath::root()),
        kind: Some(AssignmentKind::Active),
        not_ended_at: Some(now),
        ..Default::default()
    };
    let current = q::list_assignments(c, &filter).await?;
    let mut before = 0;
    let mut after = 0;
    for a in &current {
        let holder_ok = match q::get_principal(c, a.principal_id).await? {
            Some(p) => p.kind == PrincipalKind::User && p.enabled,
            None => false,
        };
        let qualifies = |x: &Assignment| x.window.end.is_none() && x.window.start <= now;
        if holder_ok && qualifies(a) {
            before += 1;
            let new = changed.iter().find(|x| x.id == a.id).unwrap_or(a);
            if qualifies(new) && disabling != Some(a.principal_id) {
                after += 1;
            }
        }
    }
    if before > 0 && after == 0 {
        return refuse(
            ErrorKind::LastGlobalAdmin,
            "this would leave no permanent active Global Administrator at /; assign another one first",
        );
    }
    Ok(())
}

impl Engine {
    /// Plans `input`; `pre` is what a self-activation reads, when the caller has read it.
    pub(super) async fn plan(
        &self,
        c: &mut AnyConnection,
        ctx: &Context,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
        pre: Option<ActivationReads>,
    ) -> Result<Plan> {
        let justification = normalize_justification(input.justification.as_deref())?;
        if let Some(t) = &input.ticket {
            t.validate()?;
        }
        let input = &RequestInput { justification, ..input.clone() };
        match input.action {
            RequestAction::AdminAssign => self.plan_assign(c, ctx, actor, input, now).await,
            RequestAction::AdminRenew => self.plan_admin_renew(c, ctx, actor, input, now).await,
            RequestAction::AdminUpdate | RequestAction::AdminExtend => {
                self.plan_admin_change(c, ctx, actor, input, now).await
            }
            RequestAction::AdminRemove => self.plan_remove(c, ctx, actor, input, now).await,
            RequestAction::SelfActivate => self.plan_activate(c, actor, input, now, pre).await,
            RequestAction::SelfDeactivate => self.plan_deactivate(c, actor, input, now).await,
            RequestAction::SelfExtend | RequestAction::SelfRenew => self.plan_self_extend(c, actor, input, now).await,
        }
    }

    /// `adminAssign` (and the new assignment of `adminRenew`).
    async fn plan_assign(
        &self,
        c: &mut AnyConnection,
        ctx: &Context,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let action = input.action;
        let principal_id = input.principal_id.ok_or_else(|| missing("principalId", action))?;
        let role_id = input.role_id.ok_or_else(|| missing("roleId", action))?;
        let scope = input.scope.clone().ok_or_else(|| missing("scope", action))?;
        let kind = input.kind.ok_or_else(|| missing("kind", action))?;
        self.authorize(ctx, ASSIGNMENTS_WRITE, &scope)?;
        let principal = q::get_principal(c, principal_id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("principal {principal_id}")))?;
        if !principal.enabled {
            return refuse(ErrorKind::PrincipalDisabled, format!("{} is disabled", principal.name));
        }
        let role = find_role(c, &role_id.to_string()).await?;
        check_group_role(role.id, &scope, principal.kind)?;
        if role.id == pim_domain::role::GROUP_MEMBER
            && principal.kind == PrincipalKind::Group
            && let Some(g) = scope.group()
            && (g == principal.id || self.index.groups_of(g, now).contains(&principal.id))
        {
            return refuse(ErrorKind::GroupCycle, "this membership would make a group cycle");
        }
        let window = window_of(input.start, input.end, now)?;
        if principal.kind == PrincipalKind::ServicePrincipal
            && (kind == AssignmentKind::Eligible || window.end.is_none())
        {
            return refuse(
                ErrorKind::ActiveOnlyPrincipal,
                "service principals may hold time-bound active assignments only",
            );
        }
        let settings = settings_at(c, role.id, &scope).await?.settings;
        check_assignment_policy(&settings, kind, &window, now)?;
        let needs = match kind {
            AssignmentKind::Active => Needs {
                mfa: settings.require_mfa_on_active_assignment && !self.mfa_fresh(actor),
                justification: settings.require_justification_on_active_assignment && input.justification.is_none(),
                ticket: false,
                approval: false,
            },
            AssignmentKind::Eligible => Needs::default(),
        };
        if has_current_assignment(c, principal.id, role.id, &scope, kind, now).await? {
            return refuse(
                ErrorKind::AlreadyExists,
                format!(
                    "{} already has a current {} assignment of {} at {scope}",
                    principal.name,
                    kind.as_str(),
                    role.name
                ),
            );
        }
        let request_id = RequestId::new();
        let a = Assignment {
            id: AssignmentId::new(),
            principal_id: principal.id,
            principal_kind: principal.kind,
            role_id: role.id,
            scope,
            kind,
            window,
            activated_from: None,
            created_by_request: request_id,
            created_at: now,
            ended_early_at: None,
        };
        let mut request =
            request_for(action, &a, window, actor, input.justification.clone(), input.ticket.clone(), now);
        request.id = request_id;
        if window.start > now {
            request.status = RequestStatus::Granted;
        }
        let id = a.id;
        let mut plan = Plan { insert: Some(a), needs, ..Plan::new(request, Some(id)) }.knowing(&role, &settings);
        plan.known.principals.insert(principal.id, principal);
        Ok(plan)
    }

    /// The assignment an admin request concerns, once the caller may manage assignments at its scope.
    async fn admin_target(&self, c: &mut AnyConnection, ctx: &Context, input: &RequestInput) -> Result<Assignment> {
        let id = input.assignment_id.ok_or_else(|| missing("assignmentId", input.action))?;
        let a = load_assignment(c, id).await?;
        // An access review removes what it reviewed by its own authority (checked when it was
        // applied or created); that authority removes and nothing else.
        if ctx.on_behalf_of.is_none() || input.action != RequestAction::AdminRemove {
            self.authorize(ctx, ASSIGNMENTS_WRITE, &a.scope)?;
        }
        Ok(a)
    }

    /// `adminRenew`: a new assignment like an ended one.
    async fn plan_admin_renew(
        &self,
        c: &mut AnyConnection,
        ctx: &Context,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let old = self.admin_target(c, ctx, input).await?;
        if old.is_activation() {
            return refuse(ErrorKind::NotRenewable, "activations are not renewed; activate the role again");
        }
        if !old.window.has_ended(now) {
            return refuse(ErrorKind::NotRenewable, "the assignment has not ended; extend it instead");
        }
        let renewed = RequestInput {
            principal_id: Some(old.principal_id),
            role_id: Some(old.role_id),
            scope: Some(old.scope.clone()),
            kind: Some(old.kind),
            ..input.clone()
        };
        let mut plan = self.plan_assign(c, ctx, actor, &renewed, now).await?;
        plan.request.target_assignment = plan.result;
        plan.extra_events.push(AuditDraft {
            action: "assignment.renewed".into(),
            principal_id: Some(old.principal_id),
            role_id: Some(old.role_id),
            scope: Some(old.scope.clone()),
            details: serde_json::json!({ "renewedFrom": old.id, "assignmentId": plan.result }),
            ..AuditDraft::default()
        });
        Ok(plan)
    }

    /// `adminUpdate` and `adminExtend`: a new window for a current assignment.
    async fn plan_admin_change(
        &self,
        c: &mut AnyConnection,
        ctx: &Context,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let action = input.action;
        let old = self.admin_target(c, ctx, input).await?;
        let id = old.id;
        if old.window.has_ended(now) {
            return refuse(ErrorKind::AssignmentEnded, "the assignment has ended; renew it instead");
        }
        let window = if action == RequestAction::AdminExtend {
            let end = input.end.ok_or_else(|| missing("end", action))?;
            if old.window.end.is_none() {
                return refuse(ErrorKind::NotExtendable, "the assignment is permanent");
            }
            if old.window.end.is_some_and(|e| end <= e) {
                return refuse(ErrorKind::InvalidWindow, "an extension must end later than the assignment does now");
            }
            Window { start: old.window.start, end: Some(end) }
        } else {
            if input.permanent && input.end.is_some() {
                return refuse(ErrorKind::InvalidInput, "give either 'end' or 'permanent', not both");
            }
            if input.start.is_none() && input.end.is_none() && !input.permanent {
                return refuse(ErrorKind::InvalidInput, "adminUpdate needs 'start', 'end' or 'permanent'");
            }
            let start = match input.start {
                Some(s) if old.window.start <= now && s != old.window.start => {
                    return refuse(ErrorKind::InvalidWindow, "the start of an assignment in effect cannot change");
                }
                Some(s) => s,
                None => old.window.start,
            };
            let end = if input.permanent { None } else { input.end.or(old.window.end) };
            if let Some(e) = end
                && (e <= start || e <= now)
            {
                return refuse(ErrorKind::InvalidWindow, "the end must be after the start and in the future");
            }
            Window { start, end }
        };
        if old.is_activation() {
            if window.end.is_none() {
                return refuse(ErrorKind::InvalidWindow, "an activation cannot be made permanent");
            }
        } else {
            let settings = settings_at(c, old.role_id, &old.scope).await?.settings;
            check_assignment_policy(&settings, old.kind, &window, now)?;
            if old.principal_kind == PrincipalKind::ServicePrincipal && window.end.is_none() {
                return refuse(
                    ErrorKind::ActiveOnlyPrincipal,
                    "service principals may hold time-bound assignments only",
                );
            }
        }
        let new = Assignment { window, ..old.clone() };
        let mut update = vec![new.clone()];
        let mut requests_to_update = Vec::new();
        let mut extra_events = Vec::new();
        if is_global_admin_root(&old) {
            ensure_global_admin_remains(c, now, &update, None).await?;
        }
        if old.kind == AssignmentKind::Eligible && shortened(&old.window, &window) {
            cascade_eligibility_end(c, &new, now, &mut update, &mut requests_to_update, &mut extra_events).await?;
        }
        let request = request_for(action, &old, window, actor, input.justification.clone(), None, now);
        Ok(Plan { update, requests_to_update, extra_events, ..Plan::new(request, Some(id)) })
    }

    /// `adminRemove`: ends an assignment now (a future one never starts).
    async fn plan_remove(
        &self,
        c: &mut AnyConnection,
        ctx: &Context,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let old = self.admin_target(c, ctx, input).await?;
        let id = old.id;
        if old.window.has_ended(now) {
            return refuse(ErrorKind::AssignmentEnded, "the assignment has already ended");
        }
        let new = end_now(&old, now);
        let mut update = vec![new.clone()];
        let mut requests_to_update = Vec::new();
        let mut extra_events = Vec::new();
        if is_global_admin_root(&old) {
            ensure_global_admin_remains(c, now, &update, None).await?;
        }
        if old.kind == AssignmentKind::Eligible {
            cascade_eligibility_end(c, &new, now, &mut update, &mut requests_to_update, &mut extra_events).await?;
        }
        if let Some(mut r) = q::get_request(c, old.created_by_request).await?
            && r.status.can_become(RequestStatus::Revoked)
        {
            r.status = RequestStatus::Revoked;
            r.updated_at = now;
            r.status_reason = Some("removed by an administrator".into());
            requests_to_update.push(r);
        }
        // Pending requests about the assignment itself (extend, renew) are moot now.
        cancel_pending(
            c,
            q::RequestFilter { target_assignment: Some(id), ..Default::default() },
            now,
            "the assignment was removed",
            &mut requests_to_update,
        )
        .await?;
        let request =
            request_for(RequestAction::AdminRemove, &old, new.window, actor, input.justification.clone(), None, now);
        Ok(Plan { update, requests_to_update, extra_events, ..Plan::new(request, Some(id)) })
    }

    /// `selfActivate`: activate an eligibility the caller (or one of its groups) holds.
    /// What planning an activation reads, in two statements (a write batch reads them for all
    /// its activations at once: see [`super::prefetch`]).
    async fn activation_reads(
        &self,
        c: &mut AnyConnection,
        actor: PrincipalId,
        role_id: RoleId,
        scope: &ScopePath,
        now: Timestamp,
    ) -> Result<ActivationReads> {
        // The role and the settings in force at the scope, in one statement.
        let Some((role, settings)) = q::get_role_with_settings(c, role_id, scope).await? else {
            return Err(DomainError::not_found(format!("role '{role_id}'")).into());
        };
        let settings = settings.map_or_else(RoleSettings::default, |(_, s)| s);
        // One statement for both: the eligibilities of the caller and its groups at the scope or
        // above it, and the caller's activation in effect at exactly the scope (also among the
        // current assignments of those holders at the scope or above it).
        let filter = q::AssignmentFilter {
            principals: Some(self.activation_holders(actor, now)),
            role: Some(role.id),
            containing: Some(scope.clone()),
            not_ended_at: Some(now),
            ..Default::default()
        };
        let current = q::list_assignments(c, &filter).await?;
        Ok(ActivationReads { role, settings, current })
    }

    /// `selfActivate`, with what it reads when the caller has read it (`pre`).
    async fn plan_activate(
        &self,
        c: &mut AnyConnection,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
        pre: Option<ActivationReads>,
    ) -> Result<Plan> {
        let action = input.action;
        let role_id = input.role_id.ok_or_else(|| missing("roleId", action))?;
        let scope = input.scope.clone().ok_or_else(|| missing("scope", action))?;
        let duration = input.duration_minutes.ok_or_else(|| missing("durationMinutes", action))?;
        let ActivationReads { role, settings, current } = match pre {
            Some(reads) => reads,
            None => self.activation_reads(c, actor.id, role_id, &scope, now).await?,
        };
        let start_at = input.start.filter(|s| *s > now).unwrap_or(now);
        // An activation already in effect at this scope is extended in place rather than stacked.
        let existing = if input.start.is_none() {
            current.iter().find(|a| is_activation_in_effect(a, actor.id, &scope, now)).cloned()
        } else {
            None
        };
        let mut candidates: Vec<Assignment> =
            current.into_iter().filter(|e| e.kind == AssignmentKind::Eligible && e.window.contains(start_at)).collect();
        // Prefer the eligibility the existing activation came from, then permanent, then the latest end.
        candidates.sort_by_key(|e| {
            (
                existing.as_ref().and_then(|x| x.activated_from) != Some(e.id),
                e.window.end.is_some(),
                std::cmp::Reverse(e.window.end),
            )
        });
        let Some(eligibility) = candidates.into_iter().next() else {
            return refuse(
                ErrorKind::NotEligible,
                format!("{} is not eligible for {} at {scope}", actor.name, role.name),
            );
        };
        let plan = plan_activation(&ActivationInput {
            settings: &settings,
            eligibility_scope: &eligibility.scope,
            eligibility_window: eligibility.window,
            scope: &scope,
            start: input.start,
            duration_minutes: duration,
            has_justification: input.justification.is_some(),
            has_ticket: input.ticket.is_some(),
            mfa_satisfied: self.mfa_fresh(actor),
            now,
        })?;
        if input.break_glass {
            if !settings.allow_break_glass {
                return refuse(
                    ErrorKind::BreakGlassNotAllowed,
                    format!("the settings of {} at {scope} do not allow break-glass activation", role.name),
                );
            }
            if input.justification.is_none() {
                return refuse(ErrorKind::JustificationRequired, "a break-glass activation needs a justification");
            }
        }
        let mut needs = plan.needs;
        needs.approval = needs.approval && !input.break_glass;
        if needs.approval {
            // Nothing changes until the approvers have spoken: the activation's window is fixed then.
            let mut request = Request {
                id: RequestId::new(),
                action,
                status: RequestStatus::PendingApproval,
                principal_id: actor.id,
                role_id: role.id,
                scope: scope.clone(),
                kind: AssignmentKind::Active,
                window: plan.window,
                requested_by: actor.id,
                justification: input.justification.clone(),
                ticket: input.ticket.clone(),
                target_assignment: None,
                eligibility: Some(eligibility.id),
                created_at: now,
                updated_at: now,
                status_reason: None,
                duration_minutes: Some(duration),
                break_glass: false,
                approval: Some(Approval::staged(settings.approval_stages.clone(), now)),
                requester_name: None,
            };
            request.window.start = input.start.filter(|s| *s > now).unwrap_or(now);
            return Ok(Plan { needs, ..Plan::new(request, None) }.knowing(&role, &settings));
        }
        let request_id = RequestId::new();
        let (activation, insert, update) =
            activation_of((actor.id, actor.kind), &eligibility, &scope, plan.window, existing, request_id, now);
        let mut request = request_for(
            action,
            &activation,
            plan.window,
            actor,
            input.justification.clone(),
            input.ticket.clone(),
            now,
        );
        request.id = request_id;
        request.eligibility = Some(eligibility.id);
        request.duration_minutes = Some(duration);
        request.break_glass = input.break_glass;
        if plan.window.start > now {
            request.status = RequestStatus::Granted;
        }
        let break_glass_approvers = if input.break_glass {
            Approval::staged(settings.approval_stages.clone(), now).everyone()
        } else {
            Vec::new()
        };
        Ok(Plan { insert, update, needs, break_glass_approvers, ..Plan::new(request, Some(activation.id)) }
            .knowing(&role, &settings))
    }

    /// `selfDeactivate`: end one's own activation now.
    async fn plan_deactivate(
        &self,
        c: &mut AnyConnection,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let a = match (input.assignment_id, input.role_id, &input.scope) {
            (Some(id), _, _) => load_assignment(c, id).await?,
            (None, Some(role), Some(scope)) => {
                let f = q::AssignmentFilter {
                    principal: Some(actor.id),
                    role: Some(role),
                    scope: Some(scope.clone()),
                    kind: Some(AssignmentKind::Active),
                    not_ended_at: Some(now),
                    ..Default::default()
                };
                q::list_assignments(c, &f).await?.into_iter().find(|a| a.is_activation()).ok_or_else(|| {
                    DomainError::new(
                        ErrorKind::NotActive,
                        format!("no activation of that role at {scope} to deactivate"),
                    )
                })?
            }
            _ => return Err(missing("assignmentId (or roleId and scope)", input.action).into()),
        };
        if a.principal_id != actor.id || !a.is_activation() {
            return refuse(
                ErrorKind::Forbidden,
                "only your own activations can be deactivated; an administrator removes assignments",
            );
        }
        if a.window.has_ended(now) {
            return refuse(ErrorKind::NotActive, "the activation has already ended");
        }
        let new = end_now(&a, now);
        let request =
            request_for(RequestAction::SelfDeactivate, &a, new.window, actor, input.justification.clone(), None, now);
        Ok(Plan { update: vec![new], ..Plan::new(request, Some(a.id)) })
    }

    /// `selfExtend` and `selfRenew`: accepted, and wait for an approver.
    async fn plan_self_extend(
        &self,
        c: &mut AnyConnection,
        actor: &Actor,
        input: &RequestInput,
        now: Timestamp,
    ) -> Result<Plan> {
        let action = input.action;
        let id = input.assignment_id.ok_or_else(|| missing("assignmentId", action))?;
        let a = load_assignment(c, id).await?;
        if a.principal_id != actor.id {
            return refuse(ErrorKind::Forbidden, "only the holder of an assignment may ask to extend or renew it");
        }
        if a.is_activation() {
            return refuse(ErrorKind::NotExtendable, "activations are extended by activating the role again");
        }
        let renew = action == RequestAction::SelfRenew;
        match (renew, a.window.end) {
            (_, None) => return refuse(ErrorKind::NotExtendable, "the assignment is permanent"),
            (false, Some(end)) if end <= now => {
                return refuse(ErrorKind::NotExtendable, "the assignment has ended; ask to renew it instead");
            }
            (false, Some(end)) if end.0 - now.0 > EXTEND_WINDOW_MS => {
                return refuse(ErrorKind::NotExtendable, "only assignments that end within 14 days can be extended");
            }
            (true, Some(end)) if end > now => {
                return refuse(ErrorKind::NotRenewable, "the assignment has not ended; ask to extend it instead");
            }
            (true, Some(end)) if now.0 - end.0 > RENEW_WINDOW_MS => {
                return refuse(
                    ErrorKind::NotRenewable,
                    "only assignments that ended within the last 30 days can be renewed",
                );
            }
            _ => {}
        }
        if let Some(end) = input.end
            && (end <= now || a.window.end.is_some_and(|e| end <= e))
        {
            return refuse(
                ErrorKind::InvalidWindow,
                "the requested end must be later than the current end and in the future",
            );
        }
        let pending = q::RequestFilter {
            target_assignment: Some(id),
            status: Some(RequestStatus::PendingApproval),
            action: Some(action),
            limit: 1,
            ..Default::default()
        };
        if !q::list_requests(c, &pending).await?.is_empty() {
            return refuse(
                ErrorKind::ExtensionPending,
                format!("a {} request for this assignment is already pending", action.as_str()),
            );
        }
        let settings = settings_at(c, a.role_id, &a.scope).await?.settings;
        let needs_justification = match a.kind {
            AssignmentKind::Eligible => settings.require_justification_on_activation,
            AssignmentKind::Active => settings.require_justification_on_active_assignment,
        };
        let needs = Needs {
            justification: needs_justification && input.justification.is_none(),
            approval: settings.require_approval_for_extension,
            ..Needs::default()
        };
        let window = Window { start: if renew { now } else { a.window.start }, end: input.end };
        let mut request = request_for(action, &a, window, actor, input.justification.clone(), None, now);
        if needs.approval {
            request.status = RequestStatus::PendingApproval;
            request.approval = Some(Approval::by_scope_admins(now));
            return Ok(Plan { needs, ..Plan::new(request, Some(a.id)) });
        }
        // The role's settings let holders extend and renew without approval.
        let Some(end) = input.end else {
            return Err(missing("end", action).into());
        };
        let (insert, update, result) = apply_extension(c, &request, end, now).await?;
        if let Some(n) = &insert {
            request.target_assignment = Some(n.id);
            request.window = n.window;
        }
        Ok(Plan { insert, update, needs, ..Plan::new(request, Some(result)) })
    }
}

/// Carries out an extension (a later end for the assignment) or a renewal (a new assignment like
/// the ended one, from now), once approved or when no approval is needed. Returns the new
/// assignment, the changed ones, and the id of the one that results.
pub(super) async fn apply_extension(
    c: &mut AnyConnection,
    request: &Request,
    end: Timestamp,
    now: Timestamp,
) -> Result<(Option<Assignment>, Vec<Assignment>, AssignmentId)> {
    let id = request.target_assignment.ok_or_else(|| DomainError::invalid("the request names no assignment"))?;
    let a = load_assignment(c, id).await?;
    let settings = settings_at(c, a.role_id, &a.scope).await?.settings;
    if end <= now {
        return refuse(ErrorKind::InvalidWindow, "the new end must be in the future");
    }
    if request.action == RequestAction::SelfRenew {
        let window = Window { start: now, end: Some(end) };
        check_assignment_policy(&settings, a.kind, &window, now)?;
        if has_current_assignment(c, a.principal_id, a.role_id, &a.scope, a.kind, now).await? {
            return refuse(ErrorKind::AlreadyExists, "a current assignment like this one exists already");
        }
        let renewed = Assignment {
            id: AssignmentId::new(),
            window,
            created_by_request: request.id,
            created_at: now,
            ended_early_at: None,
            ..a
        };
        let id = renewed.id;
        return Ok((Some(renewed), Vec::new(), id));
    }
    if a.window.has_ended(now) {
        return refuse(ErrorKind::AssignmentEnded, "the assignment has ended; ask to renew it instead");
    }
    if a.window.end.is_none_or(|e| end <= e) {
        return refuse(ErrorKind::InvalidWindow, "the new end must be later than the assignment's current end");
    }
    let window = Window { start: a.window.start, end: Some(end) };
    check_assignment_policy(&settings, a.kind, &window, now)?;
    Ok((None, vec![Assignment { window, ..a }], id))
}

/// Whether `principal` holds a current (not ended) assignment of `role` at exactly `scope` of `kind`,
/// other than an activation: a second one would be a duplicate.
async fn has_current_assignment(
    c: &mut AnyConnection,
    principal: PrincipalId,
    role: pim_domain::RoleId,
    scope: &ScopePath,
    kind: AssignmentKind,
    now: Timestamp,
) -> Result<bool> {
    let f = q::AssignmentFilter {
        principal: Some(principal),
        role: Some(role),
        scope: Some(scope.clone()),
        kind: Some(kind),
        not_ended_at: Some(now),
        ..Default::default()
    };
    Ok(q::list_assignments(c, &f).await?.iter().any(|a| a.activated_from.is_none()))
}

/// Whether `a` (an assignment of the role concerned, not ended at `now`) is `principal`'s
/// activation at exactly `scope` in effect at `now`: what [`existing_activation`] finds.
fn is_activation_in_effect(a: &Assignment, principal: PrincipalId, scope: &ScopePath, now: Timestamp) -> bool {
    a.principal_id == principal
        && a.scope == *scope
        && a.kind == AssignmentKind::Active
        && a.is_activation()
        && a.in_effect(now)
}

/// `principal`'s activation of `role` at exactly `scope` that is in effect now, if any.
pub(super) async fn existing_activation(
    c: &mut AnyConnection,
    principal: PrincipalId,
    role: pim_domain::RoleId,
    scope: &ScopePath,
    now: Timestamp,
) -> Result<Option<Assignment>> {
    let f = q::AssignmentFilter {
        principal: Some(principal),
        role: Some(role),
        scope: Some(scope.clone()),
        kind: Some(AssignmentKind::Active),
        not_ended_at: Some(now),
        ..Default::default()
    };
    Ok(q::list_assignments(c, &f).await?.into_iter().find(|a| is_activation_in_effect(a, principal, scope, now)))
}

/// The activation an eligibility gives for `window`: an activation of the same role already in
/// effect at the same scope is extended in place (never shortened) instead of stacking a second one.
pub(super) fn activation_of(
    holder: (PrincipalId, PrincipalKind),
    eligibility: &Assignment,
    scope: &ScopePath,
    window: Window,
    existing: Option<Assignment>,
    request_id: RequestId,
    now: Timestamp,
) -> (Assignment, Option<Assignment>, Vec<Assignment>) {
    match existing {
        Some(x) => {
            let end = match (x.window.end, window.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let a = Assignment { window: Window { start: x.window.start, end }, ..x };
            (a.clone(), None, vec![a])
        }
        None => {
            let a = Assignment {
                id: AssignmentId::new(),
                principal_id: holder.0,
                principal_kind: holder.1,
                role_id: eligibility.role_id,
                scope: scope.clone(),
                kind: AssignmentKind::Active,
                window,
                activated_from: Some(eligibility.id),
                created_by_request: request_id,
                created_at: now,
                ended_early_at: None,
            };
            (a.clone(), Some(a), Vec::new())
        }
    }
}

fn is_global_admin_root(a: &Assignment) -> bool {
    a.role_id == GLOBAL_ADMINISTRATOR && a.scope.is_root() && a.kind == AssignmentKind::Active
}

fn shortened(old: &Window, new: &Window) -> bool {
    match (old.end, new.end) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(a), Some(b)) => b < a,
    }
}

/// The assignment ended at `now` (a future one gets an empty window and never starts).
fn end_now(a: &Assignment, now: Timestamp) -> Assignment {
    Assignment { window: Window { start: a.window.start, end: Some(now) }, ended_early_at: Some(now), ..a.clone() }
}

pub(super) async fn load_assignment(c: &mut AnyConnection, id: AssignmentId) -> Result<Assignment> {
    q::get_assignment(c, id).await?.ok_or_else(|| DomainError::not_found(format!("assignment {id}")).into())
}

async fn cancel_pending(
    c: &mut AnyConnection,
    filter: q::RequestFilter,
    now: Timestamp,
    reason: &str,
    out: &mut Vec<Request>,
) -> Result<()> {
    let filter = q::RequestFilter { status: Some(RequestStatus::PendingApproval), ..filter };
    for mut r in q::list_requests(c, &filter).await? {
        if out.iter().any(|x| x.id == r.id) {
            continue;
        }
        r.status = RequestStatus::Canceled;
        r.updated_at = now;
        r.status_reason = Some(reason.to_owned());
        out.push(r);
    }
    Ok(())
}

/// When an eligibility ends earlier (removed or shortened), its activations end no later than it
/// does and pending requests relying on it are canceled.
async fn cascade_eligibility_end(
    c: &mut AnyConnection,
    eligibility: &Assignment,
    now: Timestamp,
    update: &mut Vec<Assignment>,
    requests: &mut Vec<Request>,
    events: &mut Vec<AuditDraft>,
) -> Result<()> {
    let Some(limit) = eligibility.window.end else { return Ok(()) };
    let f = q::AssignmentFilter { activated_from: Some(eligibility.id), not_ended_at: Some(now), ..Default::default() };
    for act in q::list_assignments(c, &f).await? {
        if act.window.end.is_some_and(|e| e <= limit) {
            continue;
        }
        let end = limit.max(now);
        let new = Assignment {
            window: Window { start: act.window.start, end: Some(end) },
            ended_early_at: Some(end),
            ..act.clone()
        };
        events.push(AuditDraft {
            action: "assignment.ended".into(),
            principal_id: Some(act.principal_id),
            role_id: Some(act.role_id),
            scope: Some(act.scope.clone()),
            details: serde_json::json!({
                "assignmentId": act.id,
                "reason": "its eligibility was removed or shortened",
                "eligibilityId": eligibility.id,
                "end": end,
            }),
            ..AuditDraft::default()
        });
        if let Some(mut r) = q::get_request(c, act.created_by_request).await?
            && end <= now
            && r.status.can_become(RequestStatus::Revoked)
        {
            r.status = RequestStatus::Revoked;
            r.updated_at = now;
            r.status_reason = Some("its eligibility was removed".into());
            requests.push(r);
        }
        update.push(new);
    }
    let before = requests.len();
    cancel_pending(
        c,
        q::RequestFilter { eligibility: Some(eligibility.id), ..Default::default() },
        now,
        "the eligibility was removed or shortened",
        requests,
    )
    .await?;
    for r in &requests[before..] {
        events.push(AuditDraft {
            action: "request.canceled".into(),
            principal_id: Some(r.principal_id),
            role_id: Some(r.role_id),
            scope: Some(r.scope.clone()),
            request_id: Some(r.id),
            details: serde_json::json!({ "reason": "the eligibility was removed or shortened" }),
            ..AuditDraft::default()
        });
    }
    Ok(())
}
