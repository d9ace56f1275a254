//! My requests: the requests the user made, newest first, filtered by status and paged, with what
//! each asked for, where it stands (and, while it waits, its approval's progress), and a Cancel
//! button for the user's own pending ones. Also how a request is described, shared with Approve
//! requests.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use pim_domain::message::count;
use pim_domain::settings::ApproverRef;
use pim_domain::{ErrorKind, PrincipalId, PrincipalKind, Request, RequestAction, RequestId, RequestStatus, Verdict};
use pim_engine::requests::RequestQuery;

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused_text;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, end, redirect_with, render, time};
use crate::portal::view::{principal_name, role_name};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list_my_requests))
        .route("/requests/cancel", post(cancel_my_request))
        .route("/requests/{id}", get(super::requests_detail::show_request))
}

/// Requests shown on one page.
const PAGE_SIZE: i64 = 100;

/// One entry of the status filter.
struct StatusLink {
    href: String,
    label: &'static str,
    current: bool,
}

struct RequestRow {
    id: String,
    action: &'static str,
    role: String,
    scope: String,
    /// The principal concerned, when it is not the user.
    for_whom: Option<String>,
    asked: String,
    status: &'static str,
    badge: &'static str,
    reason: Option<String>,
    /// While it waits: the stage, approvals and approvers.
    progress: Option<String>,
    decisions: Vec<String>,
    justification: Option<String>,
    ticket: Option<String>,
    created: String,
    break_glass: bool,
    cancelable: bool,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct MyRequestsPage {
    chrome: Chrome,
    filters: Vec<StatusLink>,
    /// The filter's label, when one is chosen.
    filtered: Option<&'static str>,
    rows: Vec<RequestRow>,
    /// The next page's address.
    older: Option<String>,
    /// The first page's address, when this is a later one.
    newest: Option<String>,
}

/// `GET /requests?status=&after=`.
async fn list_my_requests(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PortalResult {
    let chrome = Chrome::new(&session, "requests", "My requests");
    let fail = |e: PortalError| e.within(&chrome);
    let mut status = None;
    let mut after = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "status" if !v.is_empty() && v != "all" => {
                status = Some(RequestStatus::parse(v).ok_or_else(|| {
                    fail(PortalError::new(ErrorKind::InvalidInput, format!("Status: '{v}' is not a request status")))
                })?);
            }
            "after" if !v.is_empty() => {
                after = Some(v.parse::<RequestId>().map_err(|_| {
                    fail(PortalError::new(ErrorKind::InvalidInput, format!("'{v}' is not a page of requests")))
                })?);
            }
            _ => {}
        }
    }
    let query = RequestQuery { mine: true, status, after, limit: PAGE_SIZE + 1, ..Default::default() };
    let mut list =
        s.engine.list_requests(&session.ctx, query).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let more = list.len() as i64 > PAGE_SIZE;
    list.truncate(PAGE_SIZE as usize);
    let first = status.map_or_else(|| "/requests".to_owned(), |st| format!("/requests?status={}", st.as_str()));
    let join = if status.is_some() { '&' } else { '?' };
    let older = list.last().filter(|_| more).map(|r| format!("{first}{join}after={}", r.id));
    let newest = after.map(|_| first.clone());
    let me = session.actor.id;
    let now = s.engine.now();
    let rows = list.iter().map(|r| row(&s, r, me, now)).collect();
    let mut filters = vec![StatusLink { href: "/requests".into(), label: "All", current: status.is_none() }];
    filters.extend(RequestStatus::ALL.into_iter().map(|st| StatusLink {
        href: format!("/requests?status={}", st.as_str()),
        label: status_label(st),
        current: status == Some(st),
    }));
    Ok(render(&MyRequestsPage { chrome, filters, filtered: status.map(status_label), rows, older, newest }))
}

fn row(s: &AppState, r: &Request, me: PrincipalId, now: pim_domain::Timestamp) -> RequestRow {
    let pending = r.status == RequestStatus::PendingApproval;
    RequestRow {
        id: r.id.to_string(),
        action: action_label(r.action),
        role: request_role_name(s, r),
        scope: r.scope.to_string(),
        for_whom: (r.principal_id != me).then(|| principal_name(s, r.principal_id)),
        asked: asked(r),
        status: status_label(r.status),
        badge: badge(r.status),
        reason: r.status_reason.clone(),
        progress: if pending { progress(s, r, now) } else { None },
        decisions: decisions(r),
        justification: r.justification.clone(),
        ticket: r.ticket.as_ref().map(|t| format!("{} {}", t.system, t.number)),
        created: time(r.created_at),
        break_glass: r.break_glass,
        cancelable: pending && r.requested_by == me,
    }
}

/// `POST /requests/cancel` (`request_id`): the requester withdraws a pending request.
async fn cancel_my_request(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let id: RequestId = form.require("request_id", "The request")?;
    Ok(match s.engine.cancel_request(&session.ctx, id).await {
        Ok(r) => redirect_with(
            "/requests",
            Flash::ok(format!(
                "Canceled your request to {} {} at {}.",
                action_label(r.action).to_lowercase(),
                request_role_name(&s, &r),
                r.scope
            )),
        ),
        Err(e) => redirect_with("/requests", Flash::error(refused_text(&e))),
    })
}

/// What an action is called on the pages.
pub(crate) fn action_label(a: RequestAction) -> &'static str {
    match a {
        RequestAction::AdminAssign => "Assign",
        RequestAction::AdminUpdate => "Update",
        RequestAction::AdminRemove => "Remove",
        RequestAction::AdminExtend => "Extend (admin)",
        RequestAction::AdminRenew => "Renew (admin)",
        RequestAction::SelfActivate => "Activate",
        RequestAction::SelfDeactivate => "Deactivate",
        RequestAction::SelfExtend => "Extend",
        RequestAction::SelfRenew => "Renew",
    }
}

/// What a status is called on the pages.
pub(crate) fn status_label(st: RequestStatus) -> &'static str {
    match st {
        RequestStatus::PendingApproval => "Pending approval",
        RequestStatus::Granted => "Granted",
        RequestStatus::Provisioned => "Provisioned",
        RequestStatus::Denied => "Denied",
        RequestStatus::Canceled => "Canceled",
        RequestStatus::Revoked => "Revoked",
        RequestStatus::TimedOut => "Timed out",
        RequestStatus::Failed => "Failed",
    }
}

/// The badge class of a status (the label says it too: no colour-only meaning).
fn badge(st: RequestStatus) -> &'static str {
    match st {
        RequestStatus::Granted | RequestStatus::Provisioned => "ok",
        RequestStatus::PendingApproval => "warn",
        RequestStatus::Denied | RequestStatus::Revoked | RequestStatus::TimedOut | RequestStatus::Failed => "err",
        RequestStatus::Canceled => "",
    }
}

/// The request's role by name.
pub(crate) fn request_role_name(s: &AppState, r: &Request) -> String {
    role_name(s, r.role_id)
}

/// `90` → `1 hour 30 minutes`.
pub(crate) fn minutes_text(m: u32) -> String {
    let (h, m) = (m / 60, m % 60);
    let part = |n: u32, one: &str| count(n, one, &format!("{one}s"));
    match (h, m) {
        (0, m) => part(m, "minute"),
        (h, 0) => part(h, "hour"),
        (h, m) => format!("{} {}", part(h, "hour"), part(m, "minute")),
    }
}

/// What a request asks for: how long, from and until when.
pub(crate) fn asked(r: &Request) -> String {
    let w = &r.window;
    match r.action {
        RequestAction::SelfActivate if r.status == RequestStatus::PendingApproval => {
            let how_long = minutes_text(r.duration_minutes.unwrap_or(60));
            if w.start > r.created_at {
                format!("{how_long} from {} (once approved)", time(w.start))
            } else {
                format!("{how_long} from approval")
            }
        }
        RequestAction::SelfExtend | RequestAction::AdminExtend => {
            format!("{} assignment until {}", r.kind.as_str(), end(w))
        }
        RequestAction::SelfRenew | RequestAction::AdminRenew => {
            format!("{} assignment again, until {}", r.kind.as_str(), end(w))
        }
        RequestAction::SelfDeactivate | RequestAction::AdminRemove => format!("end at {}", end(w)),
        _ => {
            let until = w.end.map_or_else(|| ", permanent".to_owned(), |e| format!(" until {}", time(e)));
            format!("{} from {}{until}", r.kind.as_str(), time(w.start))
        }
    }
}

/// Who an approver reference names.
fn approver_text(s: &AppState, a: &ApproverRef) -> String {
    match a.kind {
        PrincipalKind::Group => format!("group {}", principal_name(s, a.id)),
        _ => principal_name(s, a.id),
    }
}

/// Where a pending request's approval stands: the stage, approvals so far, who may decide, until when.
pub(crate) fn progress(s: &AppState, r: &Request, now: pim_domain::Timestamp) -> Option<String> {
    let ap = r.approval.as_ref()?;
    let stage = ap.current()?;
    let who = if ap.scope_admins {
        format!("an administrator of {}", r.scope)
    } else {
        ap.approvers_now(now).iter().map(|a| approver_text(s, a)).collect::<Vec<_>>().join(", ")
    };
    Some(format!(
        "Stage {} of {}: {} of {} from {who}; answer by {}",
        ap.stage + 1,
        ap.stages.len(),
        ap.approvals_in_stage(),
        count(stage.required_approvals.max(1), "approval", "approvals"),
        time(ap.deadline()),
    ))
}

/// Each approver's decision so far, in order.
fn decisions(r: &Request) -> Vec<String> {
    let Some(ap) = &r.approval else { return vec![] };
    ap.decisions
        .iter()
        .map(|d| {
            let verdict = match d.verdict {
                Verdict::Approve => "approved",
                Verdict::Deny => "denied",
            };
            let why = d.justification.as_deref().map(|j| format!(": {j}")).unwrap_or_default();
            format!("{} {verdict} at {}{why}", d.approver_name, time(d.at))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(minutes_text(30), "30 minutes");
        assert_eq!(minutes_text(60), "1 hour");
        assert_eq!(minutes_text(90), "1 hour 30 minutes");
        assert_eq!(minutes_text(1440), "24 hours");
        assert_eq!(minutes_text(1), "1 minute");
    }
}
