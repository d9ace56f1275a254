//! Activity per activation: registered systems report what principals did, each event tied to
//! the activation it happened under (or stored unmatched) and audited; reading an assignment's
//! activity follows the rule of reading the assignment. See docs/ACTIVITY.md.

use pim_domain::actions::{ACTIVITY_REPORT, ASSIGNMENTS_READ};
use pim_domain::activity::{
    self, ActivityEvent, ActivityMatch, ActivityOutcome, ActivitySource, MAX_SYSTEM_CHARS, MAX_TEXT_CHARS,
    ReportedActivity,
};
use pim_domain::{
    ActivityEventId, Assignment, AssignmentId, AssignmentKind, DomainError, PrincipalId, PrincipalKind, ScopePath,
};
use pim_store::{AnyConnection, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;
use crate::roles::find_role;

/// Most events one page of an assignment's activity holds.
pub const MAX_PAGE: i64 = 1000;

impl Engine {
    /// Records what a registered system reports, in one transaction (all events or none), each as
    /// an `activity.reported` audit event too. Needs `pim.activity.report` at `/`.
    pub async fn report_activity(&self, ctx: &Context, events: Vec<ReportedActivity>) -> Result<Vec<ActivityEvent>> {
        let draft = self.draft(ctx, "activity.reported");
        self.audited(draft.clone(), async {
            self.authorize(ctx, ACTIVITY_REPORT, &ScopePath::root())?;
            let actor = self.actor(ctx)?.clone();
            activity::check_count(events.len())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let mut stored = Vec::with_capacity(events.len());
            for (i, e) in events.into_iter().enumerate() {
                let event = self
                    .activity_event(tx.conn(), e, &actor.name, Some(actor.id), now)
                    .await
                    .map_err(|err| numbered(err, i))?;
                q::insert_activity(tx.conn(), &event).await?;
                let mut d = draft.clone();
                d.principal_id = Some(event.principal_id);
                d.role_id = event.role_id;
                d.scope.clone_from(&event.scope);
                d.details = serde_json::json!({
                    "eventId": event.id,
                    "at": event.at,
                    "system": event.system,
                    "action": event.action,
                    "target": event.target,
                    "outcome": event.outcome,
                    "assignmentId": event.assignment_id,
                    "match": event.match_kind,
                    "detail": event.detail,
                });
                tx.audit(now, d).await?;
                stored.push(event);
            }
            tx.commit().await?;
            Ok(stored)
        })
        .await
    }

    /// Checks one reported event and ties it to its assignment.
    async fn activity_event(
        &self,
        c: &mut AnyConnection,
        e: ReportedActivity,
        caller: &str,
        reported_by: Option<PrincipalId>,
        now: pim_domain::Timestamp,
    ) -> Result<ActivityEvent> {
        activity::check_time(e.at, now)?;
        activity::check_detail(&e.detail)?;
        let system = activity::check_text("system", e.system.as_deref().unwrap_or(caller), MAX_SYSTEM_CHARS)?;
        let action = activity::check_text("action", &e.action, MAX_TEXT_CHARS)?;
        let target = e.target.as_deref().map(|t| activity::check_text("target", t, MAX_TEXT_CHARS)).transpose()?;
        let who = e.principal.trim();
        let principal = match who.parse::<PrincipalId>() {
            Ok(id) => q::get_principal(c, id).await?.map(|p| p.id),
            Err(_) => q::get_principal_by_name(c, who).await?.map(|p| p.id),
        }
        .ok_or_else(|| DomainError::not_found(format!("principal '{who}'")))?;
        let (assignment, match_kind) = match activity::named_activation(&e)? {
            Some(id) => {
                let a = q::get_assignment(c, id).await?.ok_or_else(|| {
                    DomainError::new(
                        pim_domain::ErrorKind::ActivityAssignmentMismatch,
                        format!("activation {id} does not exist"),
                    )
                })?;
                let member = a.principal_kind == PrincipalKind::Group
                    && self.index.members(a.principal_id, e.at.min(now)).contains(&principal);
                activity::check_explicit(&a, principal, member)?;
                (Some(a), ActivityMatch::Explicit)
            }
            None => {
                let role = match &e.role {
                    Some(r) => Some(find_role(c, r.trim()).await?.id),
                    None => None,
                };
                let own = own_active(c, principal).await?;
                match activity::infer(&own, principal, e.at, role, e.scope.as_ref()) {
                    Some(a) => (Some(a.clone()), ActivityMatch::Inferred),
                    None => (None, ActivityMatch::Unmatched),
                }
            }
        };
        Ok(ActivityEvent {
            id: ActivityEventId::new(),
            at: e.at,
            principal_id: principal,
            assignment_id: assignment.as_ref().map(|a| a.id),
            role_id: assignment.as_ref().map(|a| a.role_id),
            scope: assignment.map(|a| a.scope),
            system,
            action,
            target,
            outcome: e.outcome.unwrap_or_default(),
            detail: e.detail,
            match_kind,
            source: ActivitySource::Reported,
            reported_by,
            recorded_at: now,
        })
    }

    /// What was done under an assignment, in the order it was recorded: reported activity and
    /// connectors' grants and revokes. The holder reads its own; others need
    /// `pim.assignments.read` at the assignment's scope (as for the assignment itself).
    pub async fn assignment_activity(
        &self,
        ctx: &Context,
        id: AssignmentId,
        after: Option<ActivityEventId>,
        limit: i64,
    ) -> Result<Vec<ActivityEvent>> {
        let actor = self.actor(ctx)?;
        let mut c = self.store.read().await?;
        let a =
            q::get_assignment(&mut c, id).await?.ok_or_else(|| DomainError::not_found(format!("assignment {id}")))?;
        if a.principal_id != actor.id {
            self.authorize_read(ctx, ASSIGNMENTS_READ, &a.scope).await?;
        }
        Ok(q::list_assignment_activity(&mut c, id, after, limit.clamp(1, MAX_PAGE)).await?)
    }
}

/// A connector's grant or revoke as an activity event of that connector on the assignment it served.
pub(crate) fn connector_event(
    connector: &str,
    action: &str,
    grant: &pim_domain::ConnectorGrant,
    assignment: Option<&Assignment>,
    now: pim_domain::Timestamp,
) -> ActivityEvent {
    ActivityEvent {
        id: ActivityEventId::new(),
        at: now,
        principal_id: grant.principal_id,
        assignment_id: assignment.map(|a| a.id),
        role_id: assignment.map(|a| a.role_id),
        scope: assignment.map(|a| a.scope.clone()),
        system: connector.to_owned(),
        action: action.to_owned(),
        target: Some(format!("{} for {}", grant.entitlement, grant.account)),
        outcome: ActivityOutcome::Success,
        detail: serde_json::Value::Null,
        match_kind: if assignment.is_some() { ActivityMatch::Explicit } else { ActivityMatch::Unmatched },
        source: ActivitySource::Connector,
        reported_by: None,
        recorded_at: now,
    }
}

/// The principal's own active assignments (the candidates an event is matched against).
async fn own_active(c: &mut AnyConnection, principal: PrincipalId) -> Result<Vec<Assignment>> {
    let filter =
        q::AssignmentFilter { principal: Some(principal), kind: Some(AssignmentKind::Active), ..Default::default() };
    Ok(q::list_assignments(c, &filter).await?)
}

/// Names the event a refusal is about, for reports of several events.
fn numbered(err: crate::error::EngineError, i: usize) -> crate::error::EngineError {
    match err {
        crate::error::EngineError::Refused(e) => {
            crate::error::EngineError::Refused(DomainError::new(e.kind, format!("events[{i}]: {}", e.message)))
        }
        other => other,
    }
}
