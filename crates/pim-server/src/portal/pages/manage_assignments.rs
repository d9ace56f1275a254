//! Manage, Assignments: the assignments the user may read, filtered by principal, role, scope (at
//! or below, or exactly), type and whether ended ones show; and making an assignment (principal by
//! name, role, scope, eligible or active, permanent or from a start to an end) through an
//! `adminAssign` request, with a "Check" that asks the engine (`validateOnly`) what it would need.
//! Removing, changing and renewing an assignment are in `manage_assignments_change`. Everything
//! shows only where the user holds `pim.assignments.read` / `pim.assignments.write`.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use pim_domain::actions::{ASSIGNMENTS_READ, ASSIGNMENTS_WRITE};
use pim_domain::{AssignmentKind, RequestAction, RequestStatus, Ticket, Timestamp};
use pim_engine::requests::{AssignmentQuery, RequestInput, Submission};

use super::manage::{Tab, tabs};
use super::manage_lookup::{
    AssignmentRow, assign_scopes, assignment_row, find_principal, find_role, gate, parse_scope, query, role_names,
};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused_text;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, parse_input_time, redirect_with, render_status, time,
};

/// Most assignments the list shows.
const LIST_LIMIT: i64 = 500;

/// The routes of this tab (and of its row actions).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/assignments", get(list_assignments).post(assign))
        .merge(super::manage_assignments_change::routes())
}

/// The list's filters, as typed.
#[derive(Default)]
struct Filter {
    principal: String,
    role: String,
    scope: String,
    exact: bool,
    kind: String,
    ended: bool,
}

/// The values of the assignment form, as typed, and what a check or a refusal said.
struct AssignForm {
    principal: String,
    role: String,
    scope: String,
    kind: String,
    permanent: bool,
    start: String,
    end: String,
    justification: String,
    ticket_system: String,
    ticket_number: String,
    feedback: Option<Feedback>,
}

/// What the engine answered to a check or a refused request.
struct Feedback {
    ok: bool,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "manage_assignments.html")]
struct AssignmentsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    filter: Filter,
    filter_error: Option<String>,
    rows: Vec<AssignmentRow>,
    more: bool,
    /// This page with its filters: where the row actions come back to.
    back: String,
    /// The assignment form, for users who may assign somewhere.
    form: Option<AssignForm>,
    assign_scopes: Vec<String>,
    role_names: Vec<String>,
}

/// `GET /manage/assignments?principal=&role=&scope=&match=exact|under&kind=&ended=1`.
async fn list_assignments(State(s): State<AppState>, session: Session, raw: RawQuery) -> PortalResult {
    let back = match &raw.0 {
        Some(q) if !q.is_empty() => format!("/manage/assignments?{q}"),
        _ => "/manage/assignments".to_owned(),
    };
    let q = query(raw);
    let filter = Filter {
        principal: q.get("principal").unwrap_or_default(),
        role: q.get("role").unwrap_or_default(),
        scope: q.get("scope").unwrap_or_default(),
        exact: q.get("match").as_deref() == Some("exact"),
        kind: q.get("kind").filter(|k| k == "eligible" || k == "active").unwrap_or_default(),
        ended: q.checked("ended"),
    };
    page(&s, &session, filter, back, None).await
}

/// The page with `filter`, and the assignment form as typed (`posted`) or empty.
async fn page(
    s: &AppState,
    session: &Session,
    filter: Filter,
    back: String,
    posted: Option<AssignForm>,
) -> PortalResult {
    let chrome = Chrome::new(session, "manage", "Assignments");
    gate(s, session, ASSIGNMENTS_READ, &chrome)?;
    let (rows, more, filter_error) = match assignment_query(s, session, &filter).await {
        Ok(query) => {
            let found = s
                .engine
                .list_assignments(&session.ctx, query)
                .await
                .map_err(|e| PortalError::from(e).within(&chrome))?;
            let more = found.len() as i64 > LIST_LIMIT;
            (found.iter().take(LIST_LIMIT as usize).map(|a| assignment_row(s, session, a)).collect(), more, None)
        }
        Err(msg) => (Vec::new(), false, Some(msg)),
    };
    let scopes: Vec<String> = assign_scopes(s, session).iter().map(ToString::to_string).collect();
    let form = match posted {
        Some(f) => Some(f),
        None => scopes.first().map(|scope| AssignForm {
            principal: String::new(),
            role: String::new(),
            scope: scope.clone(),
            kind: "eligible".into(),
            permanent: true,
            start: String::new(),
            end: String::new(),
            justification: String::new(),
            ticket_system: String::new(),
            ticket_number: String::new(),
            feedback: None,
        }),
    };
    let status = if filter_error.is_some() {
        StatusCode::BAD_REQUEST
    } else if form.as_ref().and_then(|f| f.feedback.as_ref()).is_some_and(|f| !f.ok) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = AssignmentsPage {
        tabs: tabs(s, session, "assignments"),
        filter,
        filter_error,
        rows,
        more,
        back,
        form,
        assign_scopes: scopes,
        role_names: role_names(s, session).await,
        chrome,
    };
    Ok(render_status(status, &page))
}

/// The engine's query for `filter`; a message naming the field when something typed is not right.
async fn assignment_query(s: &AppState, session: &Session, f: &Filter) -> Result<AssignmentQuery, String> {
    let mut q = AssignmentQuery { include_ended: f.ended, limit: LIST_LIMIT + 1, ..Default::default() };
    if !f.principal.is_empty() {
        q.principal = Some(find_principal(s, session, &f.principal, "Principal").await?.id);
    }
    if !f.role.is_empty() {
        q.role = Some(find_role(s, session, &f.role).await?.id);
    }
    if !f.scope.is_empty() {
        let scope = parse_scope(&f.scope, "Scope")?;
        if f.exact {
            q.scope = Some(scope);
        } else {
            q.under = Some(scope);
        }
    }
    q.kind = AssignmentKind::parse(&f.kind);
    Ok(q)
}

/// A time typed in a `datetime-local` field (UTC), `None` when blank.
pub fn typed_time(text: &str, what: &str) -> Result<Option<Timestamp>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_input_time(text, what).map(Some).map_err(|_| format!("{what}: '{}' is not a date and time.", text.trim()))
}

/// `POST /manage/assignments`: `principal`, `role`, `scope`, `kind=eligible|active`,
/// `duration=permanent|bound`, `start`, `end` (UTC), `justification`, `ticket_system`,
/// `ticket_number`, `code`, `intent=check|assign`.
async fn assign(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Assignments");
    gate(&s, &session, ASSIGNMENTS_WRITE, &chrome)?;
    let check = form.get("intent").as_deref() == Some("check");
    let mut typed = AssignForm {
        principal: form.get("principal").unwrap_or_default(),
        role: form.get("role").unwrap_or_default(),
        scope: form.get("scope").unwrap_or_default(),
        kind: form.get("kind").unwrap_or_default(),
        permanent: form.get("duration").as_deref() != Some("bound"),
        start: form.get("start").unwrap_or_default(),
        end: form.get("end").unwrap_or_default(),
        justification: form.get("justification").unwrap_or_default(),
        ticket_system: form.get("ticket_system").unwrap_or_default(),
        ticket_number: form.get("ticket_number").unwrap_or_default(),
        feedback: None,
    };
    let input = match assign_input(&s, &session, &typed, &form).await {
        Ok(mut input) => {
            input.validate_only = check;
            if !check {
                input.otp = form.get("code");
            }
            input
        }
        Err(msg) => {
            typed.feedback = Some(Feedback { ok: false, lines: vec![msg] });
            return page(&s, &session, Filter::default(), "/manage/assignments".into(), Some(typed)).await;
        }
    };
    let feedback = match s.engine.submit(&session.ctx, input).await {
        Ok(Submission::Validated(v)) => {
            let mut lines: Vec<String> = v.problems.iter().map(|p| p.message.clone()).collect();
            if v.valid {
                let when = v.window.map_or_else(String::new, |w| match w.end {
                    Some(e) => format!(" from {} until {}", time(w.start), time(e)),
                    None => format!(" from {}, permanent", time(w.start)),
                });
                lines.insert(0, format!("This assignment would be made{when}."));
            }
            if v.needs.mfa {
                lines.push("The role's settings require MFA for active assignments: enter your authenticator code when you assign.".into());
            }
            Feedback { ok: v.valid, lines }
        }
        Ok(Submission::Done(out)) => {
            let r = &out.request;
            let who = super::manage_lookup::principal_name(&s, r.principal_id);
            let role = super::manage_lookup::role_name(&s, r.role_id);
            let until = r.window.end.map_or_else(|| "permanent".to_owned(), |e| format!("until {}", time(e)));
            let mut text = format!("Assigned {role} at {} to {who}: {}, {until}", r.scope, r.kind.as_str());
            if r.status == RequestStatus::Granted {
                text.push_str(&format!(", starting {}", time(r.window.start)));
            }
            text.push_str(&format!(" (request {}).", r.id));
            return Ok(redirect_with("/manage/assignments", Flash::ok(text)));
        }
        Err(e) => Feedback { ok: false, lines: vec![refused_text(&e)] },
    };
    typed.feedback = Some(feedback);
    page(&s, &session, Filter::default(), "/manage/assignments".into(), Some(typed)).await
}

/// The `adminAssign` request the form describes; a message naming the field when something is wrong.
async fn assign_input(
    s: &AppState,
    session: &Session,
    f: &AssignForm,
    form: &FormData,
) -> Result<RequestInput, String> {
    let principal = find_principal(s, session, &f.principal, "Principal").await?;
    let role = find_role(s, session, &f.role).await?;
    let scope = parse_scope(&f.scope, "Scope")?;
    let kind = AssignmentKind::parse(&f.kind).ok_or("Type: choose eligible or active.")?;
    let start = typed_time(&f.start, "Start")?;
    let end = if f.permanent {
        None
    } else {
        Some(typed_time(&f.end, "End")?.ok_or("End: give the end of a time-bound assignment.")?)
    };
    if let (Some(st), Some(en)) = (start, end)
        && en <= st
    {
        return Err("End: the end must be after the start.".into());
    }
    let ticket = match (form.get("ticket_system"), form.get("ticket_number")) {
        (None, None) => None,
        (Some(system), Some(number)) => Some(Ticket { system, number }),
        _ => return Err("Ticket: give both the ticket system and its number.".into()),
    };
    let mut input = RequestInput::new(RequestAction::AdminAssign);
    input.principal_id = Some(principal.id);
    input.role_id = Some(role.id);
    input.scope = Some(scope);
    input.kind = Some(kind);
    input.start = start;
    input.end = end;
    input.justification = form.get("justification");
    input.ticket = ticket;
    Ok(input)
}
