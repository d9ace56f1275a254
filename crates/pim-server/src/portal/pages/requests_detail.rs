//! One request: what it asked for, where it stands, and for an activation "What was done" under the
//! assignment it made (the activity systems reported and the connectors' grants and revokes).

use askama::Template;
use axum::extract::{Path, State};
use pim_domain::activity::{ActivityEvent, ActivitySource};
use pim_domain::{ErrorKind, RequestId};

use super::requests::{action_label, asked, request_role_name, status_label};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{Chrome, PortalError, PortalResult, principal_name, refused_text, render, time};

/// Events shown on the page (the API and `pim activity` page through all of them).
const SHOWN: i64 = 200;

struct EventRow {
    at: String,
    system: String,
    action: String,
    target: String,
    outcome: &'static str,
    how: &'static str,
    by_connector: bool,
}

#[derive(Template)]
#[template(path = "requests_detail.html")]
struct RequestDetailPage {
    chrome: Chrome,
    action: &'static str,
    role: String,
    scope: String,
    principal: String,
    asked: String,
    status: &'static str,
    justification: Option<String>,
    created: String,
    /// The assignment the request made, if any.
    assignment: Option<String>,
    events: Vec<EventRow>,
    /// Why the activity is not shown (not permitted), if it is not.
    hidden: Option<String>,
    more: bool,
}

fn event_row(e: &ActivityEvent) -> EventRow {
    EventRow {
        at: time(e.at),
        system: e.system.clone(),
        action: e.action.clone(),
        target: e.target.clone().unwrap_or_default(),
        outcome: e.outcome.as_str(),
        how: match e.match_kind {
            pim_domain::activity::ActivityMatch::Explicit => "by activation id",
            pim_domain::activity::ActivityMatch::Inferred => "by time",
            pim_domain::activity::ActivityMatch::Unmatched => "unmatched",
        },
        by_connector: e.source == ActivitySource::Connector,
    }
}

/// `GET /requests/{id}`: who may read the request sees it; its activity follows the rule of
/// reading the assignment (the holder, or `pim.assignments.read` at its scope).
pub(super) async fn show_request(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let chrome = Chrome::new(&session, "requests", "Request");
    let id: RequestId = id.trim().parse().map_err(|_| {
        PortalError::new(ErrorKind::InvalidInput, format!("'{id}' is not a request id")).within(&chrome)
    })?;
    let r = s.engine.get_request(&session.ctx, id).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let (mut events, mut hidden) = (Vec::new(), None);
    if let Some(a) = r.target_assignment {
        match s.engine.assignment_activity(&session.ctx, a, None, SHOWN + 1).await {
            Ok(list) => events = list,
            Err(e) => hidden = Some(refused_text(&e)),
        }
    }
    let more = events.len() as i64 > SHOWN;
    events.truncate(SHOWN as usize);
    Ok(render(&RequestDetailPage {
        action: action_label(r.action),
        role: request_role_name(&s, &r),
        scope: r.scope.to_string(),
        principal: principal_name(&s, r.principal_id),
        asked: asked(&r),
        status: status_label(r.status),
        justification: r.justification.clone(),
        created: time(r.created_at),
        assignment: r.target_assignment.map(|a| a.to_string()),
        events: events.iter().map(event_row).collect(),
        hidden,
        more,
        chrome,
    }))
}
