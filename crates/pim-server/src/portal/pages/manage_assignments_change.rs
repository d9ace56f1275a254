//! Manage, Assignments: what an administrator does to one assignment, each through its request:
//! remove it (`adminRemove`, with a justification), change its window (`adminUpdate`: a new end,
//! permanent, or a new start for one that has not started) and renew one that ended
//! (`adminRenew`). The engine checks `pim.assignments.write` at the assignment's scope.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use pim_domain::actions::ASSIGNMENTS_WRITE;
use pim_domain::{AssignmentId, RequestAction};
use pim_engine::requests::{RequestInput, Submission};

use super::manage_assignments::typed_time;
use super::manage_lookup::{gate, principal_name, role_name};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::{Chrome, Flash, FormData, PortalResult, end, redirect_with, time};

/// The routes of the row actions.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/assignments/remove", post(remove_assignment))
        .route("/manage/assignments/update", post(change_window))
        .route("/manage/assignments/renew", post(renew_assignment))
}

/// Where to go back to: the list with the filters it had (`back`), never elsewhere.
fn back(form: &FormData) -> String {
    form.get("back")
        .filter(|b| b.starts_with("/manage/assignments") && !b.contains("//"))
        .unwrap_or_else(|| "/manage/assignments".into())
}

/// The request of a row action on the assignment the form names, with its justification.
fn start(form: &FormData, action: RequestAction) -> Result<RequestInput, Flash> {
    let id: AssignmentId = form
        .get("assignment_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Flash::error("Choose the assignment to change."))?;
    let mut input = RequestInput::new(action);
    input.assignment_id = Some(id);
    input.justification = form.get("justification");
    Ok(input)
}

/// What a done request did, for the message.
fn described(s: &AppState, out: &Submission) -> String {
    match out {
        Submission::Done(o) => {
            let r = &o.request;
            format!("{} at {} for {}", role_name(s, r.role_id), r.scope, principal_name(s, r.principal_id))
        }
        Submission::Validated(_) => String::new(),
    }
}

/// `POST /manage/assignments/remove`: `assignment_id`, `justification`, `back`.
async fn remove_assignment(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    gate(&s, &session, ASSIGNMENTS_WRITE, &Chrome::new(&session, "manage", "Assignments"))?;
    let back = back(&form);
    let input = match start(&form, RequestAction::AdminRemove) {
        Ok(i) => i,
        Err(f) => return Ok(redirect_with(&back, f)),
    };
    match s.engine.submit(&session.ctx, input).await {
        Ok(out) => Ok(redirect_with(&back, Flash::ok(format!("Removed {}.", described(&s, &out))))),
        Err(e) => refused(&session, &back, &e),
    }
}

/// `POST /manage/assignments/update`: `assignment_id`, `start` (one that has not started), `end`
/// or `permanent`, `justification`, `back`.
async fn change_window(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    gate(&s, &session, ASSIGNMENTS_WRITE, &Chrome::new(&session, "manage", "Assignments"))?;
    let back = back(&form);
    let mut input = match start(&form, RequestAction::AdminUpdate) {
        Ok(i) => i,
        Err(f) => return Ok(redirect_with(&back, f)),
    };
    let times = typed_time(&form.get("start").unwrap_or_default(), "Start")
        .and_then(|st| Ok((st, typed_time(&form.get("end").unwrap_or_default(), "End")?)));
    let (new_start, new_end) = match times {
        Ok(t) => t,
        Err(msg) => return Ok(redirect_with(&back, Flash::error(msg))),
    };
    input.permanent = form.checked("permanent");
    input.start = new_start;
    input.end = if input.permanent { None } else { new_end };
    if input.end.is_none() && !input.permanent {
        return Ok(redirect_with(&back, Flash::error("End: give the new end, or make the assignment permanent.")));
    }
    match s.engine.submit(&session.ctx, input).await {
        Ok(out) => {
            let window = match &out {
                Submission::Done(o) => {
                    format!("from {} until {}", time(o.request.window.start), end(&o.request.window))
                }
                Submission::Validated(_) => String::new(),
            };
            Ok(redirect_with(&back, Flash::ok(format!("Changed {}: {window}.", described(&s, &out)))))
        }
        Err(e) => refused(&session, &back, &e),
    }
}

/// `POST /manage/assignments/renew`: `assignment_id`, `end` or `permanent`, `justification`, `back`.
async fn renew_assignment(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    gate(&s, &session, ASSIGNMENTS_WRITE, &Chrome::new(&session, "manage", "Assignments"))?;
    let back = back(&form);
    let mut input = match start(&form, RequestAction::AdminRenew) {
        Ok(i) => i,
        Err(f) => return Ok(redirect_with(&back, f)),
    };
    if !form.checked("permanent") {
        match typed_time(&form.get("end").unwrap_or_default(), "End") {
            Ok(Some(e)) => input.end = Some(e),
            Ok(None) => {
                return Ok(redirect_with(
                    &back,
                    Flash::error("End: give the new end, or make the assignment permanent."),
                ));
            }
            Err(msg) => return Ok(redirect_with(&back, Flash::error(msg))),
        }
    }
    match s.engine.submit(&session.ctx, input).await {
        Ok(out) => {
            let until = match &out {
                Submission::Done(o) => end(&o.request.window),
                Submission::Validated(_) => String::new(),
            };
            Ok(redirect_with(&back, Flash::ok(format!("Renewed {} until {until}.", described(&s, &out)))))
        }
        Err(e) => refused(&session, &back, &e),
    }
}
