//! Wording notices: the subject (always `PIM: ...`), a plain-text body that says who, what role,
//! which scope, the window, the justification and ticket, and the command to act, and the
//! structured `data` webhooks receive.

use std::collections::HashMap;
use std::fmt::Write as _;

use pim_domain::message::count;
use pim_domain::time::{DAY_MS, HOUR_MS};
use pim_domain::{
    Assignment, AssignmentKind, DomainError, Principal, PrincipalId, PrincipalKind, Request, RequestAction,
    RequestStatus, RoleId, Timestamp, Window,
};
use pim_store::{AnyConnection, q};
use serde_json::{Value, json};

use super::{Known, Notice, RequestEvent};
use crate::error::Result;

/// A principal as notices name it.
#[derive(Clone, Debug)]
pub(super) struct Named {
    id: PrincipalId,
    name: String,
    display_name: String,
    kind: PrincipalKind,
}

impl Named {
    async fn load(c: &mut AnyConnection, id: PrincipalId) -> Result<Named> {
        Named::load_known(c, id, &mut HashMap::new()).await
    }

    /// Like `load`, taking the principal from `known` when it is there, and adding it when read.
    async fn load_known(
        c: &mut AnyConnection,
        id: PrincipalId,
        known: &mut HashMap<PrincipalId, Principal>,
    ) -> Result<Named> {
        if id == PrincipalId::SYSTEM {
            let (name, display_name) = ("pim".to_owned(), "pim (automatic)".to_owned());
            return Ok(Named { id, name, display_name, kind: PrincipalKind::ServicePrincipal });
        }
        if let Some(p) = known.get(&id) {
            return Ok(Named { id, name: p.name.clone(), display_name: p.display_name.clone(), kind: p.kind });
        }
        let p = q::get_principal(c, id).await?.ok_or_else(|| DomainError::not_found(format!("principal {id}")))?;
        let named = Named { id, name: p.name.clone(), display_name: p.display_name.clone(), kind: p.kind };
        known.insert(id, p);
        Ok(named)
    }

    /// `alice (Alice Example)`, `group db-admins`.
    fn long(&self) -> String {
        let prefix = match self.kind {
            PrincipalKind::User => "",
            PrincipalKind::Group => "group ",
            PrincipalKind::ServicePrincipal => "service principal ",
        };
        if self.display_name.is_empty() || self.display_name == self.name {
            format!("{prefix}{}", self.name)
        } else {
            format!("{prefix}{} ({})", self.name, self.display_name)
        }
    }

    fn json(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "displayName": self.display_name, "kind": self.kind.as_str() })
    }
}

/// What a notice about a request or an assignment needs to name.
#[derive(Clone, Debug)]
pub(super) struct Facts {
    principal: Named,
    requester: Named,
    role_id: RoleId,
    role: String,
}

impl Facts {
    /// The facts of a request; what `known` holds is not read again, and what is read is added to it.
    pub(super) async fn of_request(c: &mut AnyConnection, r: &Request, known: &mut Known) -> Result<Facts> {
        let principal = Named::load_known(c, r.principal_id, &mut known.principals).await?;
        let requester = if r.requested_by == r.principal_id {
            principal.clone()
        } else {
            Named::load_known(c, r.requested_by, &mut known.principals).await?
        };
        let role = match &known.role {
            Some((id, name)) if *id == r.role_id => name.clone(),
            _ => role_name(c, r.role_id).await?,
        };
        Ok(Facts { principal, requester, role_id: r.role_id, role })
    }

    pub(super) async fn of_assignment(c: &mut AnyConnection, a: &Assignment) -> Result<Facts> {
        let principal = Named::load(c, a.principal_id).await?;
        let role = role_name(c, a.role_id).await?;
        Ok(Facts { requester: principal.clone(), principal, role_id: a.role_id, role })
    }

    /// The facts of an assignment of `role_id` (named `role`) held by `p`, both already read.
    pub(super) fn of_known(p: &Principal, role_id: RoleId, role: String) -> Facts {
        let principal = Named { id: p.id, name: p.name.clone(), display_name: p.display_name.clone(), kind: p.kind };
        Facts { requester: principal.clone(), principal, role_id, role }
    }
}

pub(super) async fn role_name(c: &mut AnyConnection, id: RoleId) -> Result<String> {
    // A deleted custom role is still named in notices about its past assignments.
    Ok(q::get_role(c, id).await?.map_or_else(|| format!("role {id}"), |r| r.name))
}

fn kind_word(kind: AssignmentKind, activation: bool) -> &'static str {
    match (activation, kind) {
        (true, _) => "activation",
        (false, AssignmentKind::Eligible) => "eligible",
        (false, AssignmentKind::Active) => "active",
    }
}

fn end_text(w: &Window) -> String {
    w.end.map_or_else(|| "permanent".to_owned(), |e| e.to_string())
}

/// A body: a headline, aligned facts, what to do.
struct Body {
    text: String,
}

impl Body {
    fn new(headline: &str) -> Body {
        Body { text: format!("{headline}\n\n") }
    }
    /// `Label:` padded to 15 characters, then the value (labels are ASCII, so bytes are characters).
    fn fact(&mut self, label: &str, value: impl AsRef<str>) {
        self.text.push_str(label);
        self.text.push(':');
        for _ in label.len() + 1..15 {
            self.text.push(' ');
        }
        self.text.push_str(value.as_ref());
        self.text.push('\n');
    }
    fn section(&mut self, title: &str, lines: &[String]) {
        let _ = writeln!(self.text, "\n{title}");
        for l in lines {
            let _ = writeln!(self.text, "  {l}");
        }
    }
    fn finish(mut self, public_url: Option<&str>, why: &str) -> String {
        if let Some(url) = public_url {
            let _ = writeln!(self.text, "\nServer: {url}");
        }
        let _ = write!(self.text, "\n-- \npim (Privileged Identity Management). {why}\n");
        self.text
    }
}

/// What to do next: a title and its commands.
type Act = (&'static str, Vec<String>);

/// What a request asks for, in words: `activate X at S`, `extend the eligible assignment of X at S`.
fn asks(facts: &Facts, r: &Request) -> String {
    let (role, scope) = (&facts.role, r.scope.as_str());
    match r.action {
        RequestAction::SelfActivate => format!("activate {role} at {scope}"),
        RequestAction::SelfExtend | RequestAction::AdminExtend => {
            format!("extend the {} assignment of {role} at {scope}", r.kind.as_str())
        }
        RequestAction::SelfRenew | RequestAction::AdminRenew => {
            format!("renew the {} assignment of {role} at {scope}", r.kind.as_str())
        }
        _ => format!("{} {role} at {scope}", r.action.as_str()),
    }
}

/// The notice `event` calls for, or `None` when the request's action is not notified (updates,
/// removals and deactivations are in the audit history only).
pub(super) fn request_notice(
    facts: &Facts,
    r: &Request,
    event: &RequestEvent<'_>,
    public_url: Option<&str>,
) -> Option<Notice> {
    let who = &facts.principal.name;
    let (role, scope) = (&facts.role, r.scope.as_str());
    let activation = r.action == RequestAction::SelfActivate;
    let kind = kind_word(r.kind, activation);
    let what = asks(facts, r);
    let mut data = json!({
        "principal": facts.principal.json(),
        "requestedBy": facts.requester.json(),
        "role": { "id": facts.role_id, "name": role },
        "scope": scope,
        "assignmentKind": r.kind.as_str(),
        "activation": activation,
        "window": { "start": r.window.start, "end": r.window.end },
        "request": { "id": r.id, "action": r.action.as_str(), "status": r.status.as_str() },
        "assignmentId": r.target_assignment,
        "justification": r.justification,
        "ticket": r.ticket,
    });
    let show = vec![format!("pim requests show {}", r.id), format!("GET /api/v1/requests/{}", r.id)];
    let decide = vec![
        format!("pim approve {} -j \"why you approve\"", r.id),
        format!("pim deny {} -j \"why you deny\"", r.id),
        format!("pim requests show {}", r.id),
    ];
    let (event_name, subject, headline, critical, act): (&str, String, String, bool, Option<Act>) = match event {
        RequestEvent::Done => match r.action {
            RequestAction::SelfActivate => {
                let later = if r.status == RequestStatus::Granted {
                    format!(" from {}", r.window.start)
                } else {
                    String::new()
                };
                (
                    "role.activated",
                    format!("PIM: {who} activated {role} at {scope}{later}"),
                    format!("{} activated {role} at {scope}{later}.", facts.principal.long()),
                    false,
                    Some(("Details:", show)),
                )
            }
            RequestAction::AdminAssign => {
                let (ev, subject) = match r.kind {
                    AssignmentKind::Eligible => {
                        ("assignment.eligible", format!("PIM: {who} was made eligible for {role} at {scope}"))
                    }
                    AssignmentKind::Active => {
                        ("assignment.active", format!("PIM: {who} was assigned {role} at {scope} (active)"))
                    }
                };
                let headline = format!(
                    "{} was given an {kind} assignment of {role} at {scope} by {}.",
                    facts.principal.long(),
                    facts.requester.name
                );
                (ev, subject, headline, false, Some(("Details:", show)))
            }
            RequestAction::AdminExtend | RequestAction::SelfExtend => (
                "assignment.extended",
                format!("PIM: {who}'s {kind} assignment of {role} at {scope} was extended"),
                format!(
                    "The {kind} assignment of {role} at {scope} of {} was extended to {}.",
                    facts.principal.long(),
                    end_text(&r.window)
                ),
                false,
                Some(("Details:", show)),
            ),
            RequestAction::AdminRenew | RequestAction::SelfRenew => (
                "assignment.renewed",
                format!("PIM: {who}'s {kind} assignment of {role} at {scope} was renewed"),
                format!(
                    "The {kind} assignment of {role} at {scope} of {} was renewed until {}.",
                    facts.principal.long(),
                    end_text(&r.window)
                ),
                false,
                Some(("Details:", show)),
            ),
            RequestAction::AdminUpdate | RequestAction::AdminRemove | RequestAction::SelfDeactivate => {
                return None;
            }
        },
        RequestEvent::ApprovalNeeded { approvers, stage } => {
            data["stage"] = json!(stage);
            data["approvers"] = json!(approvers);
            let st = if *stage > 0 { format!(" (stage {})", stage + 1) } else { String::new() };
            (
                "request.approvalNeeded",
                format!("PIM: approval needed{st}: {who} asks to {what}"),
                format!("{} asks to {what}. Your approval is needed{st}.", facts.requester.long()),
                true,
                Some(("To decide:", decide)),
            )
        }
        RequestEvent::Escalated { approvers, stage } => {
            data["stage"] = json!(stage);
            data["approvers"] = json!(approvers);
            (
                "request.escalated",
                format!("PIM: escalated: approval needed: {who} asks to {what}"),
                format!(
                    "Nobody has answered {}'s request to {what} yet; you were added as an approver.",
                    facts.requester.long()
                ),
                true,
                Some(("To decide:", decide)),
            )
        }
        RequestEvent::Approved { by } => {
            data["decidedBy"] = json!(by);
            (
                "request.approved",
                format!("PIM: approved: {who}'s request to {what}"),
                format!("{by} approved the request to {what}."),
                false,
                Some(("Details:", show)),
            )
        }
        RequestEvent::Denied { by, justification } => {
            data["decidedBy"] = json!(by);
            data["reason"] = json!(justification);
            let why = justification.map(|j| format!(" Reason: {j}")).unwrap_or_default();
            (
                "request.denied",
                format!("PIM: denied: {who}'s request to {what}"),
                format!("{by} denied the request to {what}.{why}"),
                false,
                Some(("Details:", show)),
            )
        }
        RequestEvent::TimedOut => (
            "request.timedOut",
            format!("PIM: timed out: {who}'s request to {what}"),
            format!("Nobody approved the request to {what} in time; it has ended. Ask again if you still need it."),
            false,
            Some(("Details:", show)),
        ),
        RequestEvent::Canceled { approvers } => {
            data["approvers"] = json!(approvers);
            (
                "request.canceled",
                format!("PIM: canceled: {who}'s request to {what}"),
                format!("{} withdrew the request to {what}; nothing is left to decide.", facts.requester.long()),
                false,
                None,
            )
        }
        RequestEvent::BreakGlass { approvers } => {
            data["approvers"] = json!(approvers);
            (
                "role.breakGlass",
                format!("PIM: BREAK-GLASS: {who} activated {role} at {scope} without approval"),
                format!(
                    "{} used break-glass to activate {role} at {scope}, skipping approval. A review of this activation is queued.",
                    facts.principal.long()
                ),
                true,
                Some(("Details:", show)),
            )
        }
    };
    let mut b = Body::new(&headline);
    b.fact("Principal", facts.principal.long());
    b.fact("Role", role);
    b.fact("Scope", scope);
    b.fact("Assignment", kind);
    b.fact("Start", r.window.start.to_string());
    b.fact("End", end_text(&r.window));
    if r.requested_by != r.principal_id {
        b.fact("Requested by", facts.requester.long());
    }
    if let Some(j) = &r.justification {
        b.fact("Justification", j);
    }
    if let Some(t) = &r.ticket {
        b.fact("Ticket", format!("{} {}", t.system, t.number));
    }
    b.fact("Request", format!("{} ({}, {})", r.id, r.action.as_str(), r.status.as_str()));
    if let Some((title, lines)) = act {
        b.section(title, &lines);
    }
    let text = b.finish(public_url, "You receive this under the notification rules of the role's settings.");
    Some(Notice {
        event: event_name.to_owned(),
        subject,
        text,
        critical,
        data,
        principal_id: Some(r.principal_id),
        role_id: Some(r.role_id),
        scope: Some(r.scope.clone()),
        request_id: Some(r.id),
    })
}

/// Which notice about an assignment's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EndNotice {
    /// It ends soon (reminder `stage`: 1 = 14 days before, 2 = 1 day before).
    Soon { stage: i64 },
    /// It has ended.
    Expired,
}

/// "in 14 days", "in 1 day", "in 5 hours".
fn remaining(end: Timestamp, now: Timestamp) -> String {
    let ms = (end.0 - now.0).max(0);
    let hours = ((ms + HOUR_MS - 1) / HOUR_MS).max(1);
    if hours >= 24 {
        let days = (ms + DAY_MS - 1) / DAY_MS;
        format!("in {}", count(days, "day", "days"))
    } else {
        format!("in {}", count(hours, "hour", "hours"))
    }
}

/// A reminder before an assignment's end, or the notice at its end.
pub(super) fn end_notice(
    facts: &Facts,
    a: &Assignment,
    which: EndNotice,
    now: Timestamp,
    public_url: Option<&str>,
) -> Notice {
    let who = &facts.principal.name;
    let (role, scope) = (&facts.role, a.scope.as_str());
    let activation = a.is_activation();
    let kind = kind_word(a.kind, activation);
    let end = a.window.end.unwrap_or(now);
    let thing = if activation {
        format!("{who}'s activation of {role} at {scope}")
    } else {
        format!("{kind} assignment of {role} at {scope} for {who}")
    };
    let (event, subject, headline, act) = match which {
        EndNotice::Soon { .. } => (
            "assignment.expiringSoon",
            format!("PIM: {thing} ends {}", remaining(end, now)),
            format!("The {thing} ends {} ({end}).", remaining(end, now)),
            ("To ask for more time:", vec![format!("pim extend {} --end TIME -j \"why you need it\"", a.id)]),
        ),
        EndNotice::Expired if activation => (
            "assignment.expired",
            format!("PIM: {thing} has ended"),
            format!("The {thing} ended at {end}."),
            ("To activate it again:", vec![format!("pim activate \"{role}\" --scope {scope} -j \"why\"")]),
        ),
        EndNotice::Expired => (
            "assignment.expired",
            format!("PIM: {thing} has ended"),
            format!("The {thing} ended at {end}."),
            ("To ask for it again (within 30 days):", vec![format!("pim renew {} -j \"why you need it\"", a.id)]),
        ),
    };
    let mut b = Body::new(&headline);
    b.fact("Principal", facts.principal.long());
    b.fact("Role", role);
    b.fact("Scope", scope);
    b.fact("Assignment", format!("{kind} ({})", a.id));
    b.fact("Start", a.window.start.to_string());
    b.fact("End", end_text(&a.window));
    b.section(act.0, &act.1);
    let text = b.finish(public_url, "You receive this under the notification rules of the role's settings.");
    let stage = match which {
        EndNotice::Soon { stage } => json!(stage),
        EndNotice::Expired => Value::Null,
    };
    Notice {
        event: event.to_owned(),
        subject,
        text,
        critical: false,
        data: json!({
            "principal": facts.principal.json(),
            "role": { "id": facts.role_id, "name": role },
            "scope": scope,
            "assignmentKind": a.kind.as_str(),
            "activation": activation,
            "assignmentId": a.id,
            "window": { "start": a.window.start, "end": a.window.end },
            "reminderStage": stage,
        }),
        principal_id: Some(a.principal_id),
        role_id: Some(a.role_id),
        scope: Some(a.scope.clone()),
        request_id: None,
    }
}

/// The JSON document stored with every row of a notice (a webhook receives it with its `id`);
/// `data` is the notice's `data`, taken from it by the caller (it is needed nowhere else).
pub(super) fn payload(n: &Notice, data: Value, now: Timestamp) -> Value {
    json!({
        "event": n.event,
        "subject": n.subject,
        "text": n.text,
        "critical": n.critical,
        "createdAt": now,
        "principalId": n.principal_id,
        "roleId": n.role_id,
        "scope": n.scope,
        "requestId": n.request_id,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_is_rounded_up() {
        let now = Timestamp(0);
        assert_eq!(remaining(Timestamp(14 * DAY_MS), now), "in 14 days");
        assert_eq!(remaining(Timestamp(DAY_MS), now), "in 1 day");
        assert_eq!(remaining(Timestamp(DAY_MS - 1), now), "in 1 day");
        assert_eq!(remaining(Timestamp(23 * HOUR_MS), now), "in 23 hours");
        assert_eq!(remaining(Timestamp(DAY_MS + 1), now), "in 2 days");
        assert_eq!(remaining(Timestamp(5 * HOUR_MS), now), "in 5 hours");
        assert_eq!(remaining(Timestamp(1), now), "in 1 hour");
    }
}
