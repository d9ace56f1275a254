//! How principals, assignments, requests and validations are shown to people.

use pim_api::{Assignment, AssignmentKind, Principal, PrincipalKind, Request, RequestOutcome, Timestamp, Validation};
use pim_domain::message::count;

use super::duration::now;
use super::output::{Table, end, listing, opt_time, time, yes_no};
use super::resolve::Names;

/// `user`, `group` or `servicePrincipal`.
pub fn kind_name(k: PrincipalKind) -> &'static str {
    k.as_str()
}

/// One principal, field by field.
pub fn principal_listing(p: &Principal, manager: Option<String>) -> String {
    let mut pairs = vec![
        ("id", p.id.to_string()),
        ("name", p.name.clone()),
        ("kind", kind_name(p.kind).to_owned()),
        ("display name", p.display_name.clone()),
        ("email", p.email.clone().unwrap_or_default()),
        ("description", p.description.clone().unwrap_or_default()),
        ("manager", manager.unwrap_or_default()),
        ("enabled", yes_no(p.enabled)),
    ];
    if p.kind == PrincipalKind::User {
        pairs.push(("emergency access", yes_no(p.emergency_access)));
    }
    pairs.extend([
        ("last sign-in", opt_time(p.last_sign_in_at)),
        ("created", time(p.created_at)),
        ("updated", time(p.updated_at)),
    ]);
    listing(&pairs)
}

/// Principals, one per line.
pub fn principals_table(items: &[Principal]) -> String {
    let mut t = Table::new(&["NAME", "KIND", "DISPLAY NAME", "ENABLED", "ID"]);
    for p in items {
        t.row(vec![
            p.name.clone(),
            kind_name(p.kind).to_owned(),
            p.display_name.clone(),
            yes_no(p.enabled),
            p.id.to_string(),
        ]);
    }
    t.render()
}

/// `eligible`, `active`, or `activation` for an active assignment that came from an eligible one.
pub fn assignment_kind(a: &Assignment) -> &'static str {
    match (a.kind, a.activated_from.is_some()) {
        (AssignmentKind::Eligible, _) => "eligible",
        (AssignmentKind::Active, true) => "activation",
        (AssignmentKind::Active, false) => "active",
    }
}

/// Where an assignment stands at `now`: `in effect`, `scheduled`, `ended` or `removed`.
pub fn assignment_state(a: &Assignment, now: Timestamp) -> &'static str {
    if a.ended_early_at.is_some() && a.window.has_ended(now) {
        "removed"
    } else if a.window.has_ended(now) {
        "ended"
    } else if a.window.start > now {
        "scheduled"
    } else {
        "in effect"
    }
}

/// Assignments, one per line, with principal and role names.
pub async fn assignments_table(names: &mut Names<'_>, items: &[Assignment]) -> String {
    assignments_table_with(names, items, None).await
}

/// An extra last column of [`assignments_table_with`]: its header and each assignment's cell.
pub type ExtraColumn<'a> = (&'a str, &'a dyn Fn(&Assignment) -> String);

/// Assignments, one per line, with principal and role names, and `extra` as the last column.
pub async fn assignments_table_with(
    names: &mut Names<'_>,
    items: &[Assignment],
    extra: Option<ExtraColumn<'_>>,
) -> String {
    let now = now();
    let mut headers = vec!["ID", "PRINCIPAL", "ROLE", "SCOPE", "KIND", "STATE", "START", "END"];
    if let Some((h, _)) = &extra {
        headers.push(h);
    }
    let mut t = Table::new(&headers);
    for a in items {
        let mut cells = vec![
            a.id.to_string(),
            names.principal(a.principal_id).await,
            names.role(a.role_id).await,
            a.scope.to_string(),
            assignment_kind(a).to_owned(),
            assignment_state(a, now).to_owned(),
            time(a.window.start),
            end(&a.window),
        ];
        if let Some((_, cell)) = &extra {
            cells.push(cell(a));
        }
        t.row(cells);
    }
    t.render()
}

/// One assignment, field by field.
pub async fn assignment_listing(names: &mut Names<'_>, a: &Assignment) -> String {
    listing(&[
        ("assignment", a.id.to_string()),
        ("principal", format!("{} ({})", names.principal(a.principal_id).await, kind_name(a.principal_kind))),
        ("role", names.role(a.role_id).await),
        ("scope", a.scope.to_string()),
        ("kind", assignment_kind(a).to_owned()),
        ("state", assignment_state(a, now()).to_owned()),
        ("start", time(a.window.start)),
        ("end", end(&a.window)),
        ("activated from", a.activated_from.map(|i| i.to_string()).unwrap_or_default()),
        ("ended early", opt_time(a.ended_early_at)),
        ("created by request", a.created_by_request.to_string()),
        ("created", time(a.created_at)),
    ])
}

/// Requests, one per line, with principal and role names.
pub async fn requests_table(names: &mut Names<'_>, items: &[Request]) -> String {
    let mut t = Table::new(&["ID", "ACTION", "STATUS", "PRINCIPAL", "ROLE", "SCOPE", "START", "END", "CREATED"]);
    for r in items {
        t.row(vec![
            r.id.to_string(),
            r.action.as_str().to_owned(),
            r.status.as_str().to_owned(),
            names.principal(r.principal_id).await,
            names.role(r.role_id).await,
            r.scope.to_string(),
            time(r.window.start),
            end(&r.window),
            time(r.created_at),
        ]);
    }
    t.render()
}

/// Requests waiting for an approver: who asks for what, where, how long, and why.
pub async fn approvals_table(names: &mut Names<'_>, items: &[Request]) -> String {
    let mut t =
        Table::new(&["ID", "ACTION", "REQUESTER", "ROLE", "SCOPE", "DURATION", "JUSTIFICATION", "TICKET", "STAGE"]);
    for r in items {
        let duration = match (r.duration_minutes, r.window.end) {
            (Some(m), _) => format!("{}h{:02}m", m / 60, m % 60),
            (None, Some(_)) => format!("until {}", end(&r.window)),
            (None, None) => "approver decides".to_owned(),
        };
        let stage = r.approval.as_ref().map_or(String::new(), |a| format!("{}/{}", a.stage + 1, a.stages.len()));
        t.row(vec![
            r.id.to_string(),
            r.action.as_str().to_owned(),
            match &r.requester_name {
                Some(n) => n.clone(),
                None => names.principal(r.requested_by).await,
            },
            names.role(r.role_id).await,
            r.scope.to_string(),
            duration,
            r.justification.clone().unwrap_or_default(),
            r.ticket.as_ref().map(|t| format!("{}:{}", t.system, t.number)).unwrap_or_default(),
            stage,
        ]);
    }
    t.render()
}

/// One request, field by field.
pub async fn request_listing(names: &mut Names<'_>, r: &Request) -> String {
    listing(&[
        ("request", r.id.to_string()),
        ("action", r.action.as_str().to_owned()),
        ("status", r.status.as_str().to_owned()),
        ("reason", r.status_reason.clone().unwrap_or_default()),
        ("principal", names.principal(r.principal_id).await),
        ("role", names.role(r.role_id).await),
        ("scope", r.scope.to_string()),
        ("kind", r.kind.as_str().to_owned()),
        ("start", time(r.window.start)),
        ("end", end(&r.window)),
        ("justification", r.justification.clone().unwrap_or_default()),
        ("ticket", r.ticket.as_ref().map(|t| format!("{}:{}", t.system, t.number)).unwrap_or_default()),
        ("duration", r.duration_minutes.map(|m| count(m, "minute", "minutes")).unwrap_or_default()),
        ("break-glass", if r.break_glass { "yes".to_owned() } else { String::new() }),
        ("approval", approval_summary(r)),
        ("assignment", r.target_assignment.map(|i| i.to_string()).unwrap_or_default()),
        ("eligibility", r.eligibility.map(|i| i.to_string()).unwrap_or_default()),
        ("requested by", names.principal(r.requested_by).await),
        ("created", time(r.created_at)),
        ("updated", time(r.updated_at)),
    ])
}

/// Where a request's approval stands: stage, approvals so far and the decisions.
fn approval_summary(r: &Request) -> String {
    let Some(a) = &r.approval else { return String::new() };
    let mut s = match a.stages.get(a.stage) {
        Some(st) if r.status == pim_api::RequestStatus::PendingApproval => format!(
            "stage {} of {}: {} of {}, times out {}",
            a.stage + 1,
            a.stages.len(),
            a.approvals_in_stage(),
            count(st.required_approvals, "approval", "approvals"),
            time(a.deadline())
        ),
        _ => count(a.stages.len(), "stage", "stages"),
    };
    for d in &a.decisions {
        let verdict = match d.verdict {
            pim_api::Verdict::Approve => "approved",
            pim_api::Verdict::Deny => "denied",
        };
        s.push_str(&format!("; {} {verdict} at stage {} ({})", d.approver_name, d.stage + 1, time(d.at)));
    }
    s
}

/// The request and, once there is one, its assignment's window.
pub async fn outcome_listing(names: &mut Names<'_>, o: &RequestOutcome) -> String {
    let mut s = request_listing(names, &o.request).await;
    if let Some(a) = &o.assignment {
        s.push_str("\n\n");
        s.push_str(&assignment_listing(names, a).await);
    }
    s
}

/// What a `validateOnly` request was told.
pub fn validation_listing(v: &Validation) -> String {
    let needs = [
        ("MFA", v.needs.mfa),
        ("justification", v.needs.justification),
        ("ticket", v.needs.ticket),
        ("approval", v.needs.approval),
    ]
    .iter()
    .filter(|(_, n)| *n)
    .map(|(w, _)| *w)
    .collect::<Vec<_>>()
    .join(", ");
    let mut s = listing(&[
        ("valid", yes_no(v.valid)),
        ("needs", if needs.is_empty() { "nothing more".to_owned() } else { needs }),
        ("start", v.window.map(|w| time(w.start)).unwrap_or_default()),
        ("end", v.window.as_ref().map(end).unwrap_or_default()),
    ]);
    for p in &v.problems {
        s.push_str(&format!("\nproblem: {} ({})", p.message, p.code));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_api::{AssignmentId, PrincipalId, RequestId, RoleId, ScopePath, Window};

    fn assignment(start: i64, end: Option<i64>) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            principal_id: PrincipalId::new(),
            principal_kind: PrincipalKind::User,
            role_id: RoleId::new(),
            scope: ScopePath::root(),
            kind: AssignmentKind::Active,
            window: Window { start: Timestamp(start), end: end.map(Timestamp) },
            activated_from: None,
            created_by_request: RequestId::new(),
            created_at: Timestamp(0),
            ended_early_at: None,
        }
    }

    #[test]
    fn states_follow_the_window() {
        assert_eq!(assignment_state(&assignment(0, None), Timestamp(5)), "in effect");
        assert_eq!(assignment_state(&assignment(10, Some(20)), Timestamp(5)), "scheduled");
        assert_eq!(assignment_state(&assignment(0, Some(5)), Timestamp(5)), "ended");
        let mut a = assignment(0, Some(5));
        a.ended_early_at = Some(Timestamp(5));
        assert_eq!(assignment_state(&a, Timestamp(6)), "removed");
        a.activated_from = Some(AssignmentId::new());
        assert_eq!(assignment_kind(&a), "activation");
    }
}
