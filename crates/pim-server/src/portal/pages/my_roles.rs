//! My roles: the user's eligible and active assignments (direct and through groups) with their
//! windows; activating an eligible role (duration, scope, justification, ticket, MFA code), with a
//! check of what the request still needs before it is sent; deactivating; and asking to extend an
//! assignment that ends soon or renew one that ended. Beside each active role, where it stands in
//! the connectors that map it (`my_roles_status`). A session that signed in through a provider
//! with `step_up = "idp"` passes a role's MFA at that provider and comes back to the form as typed.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use pim_domain::time::DAY_MS;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, ErrorKind, RequestAction, RequestStatus, ScopePath, Ticket,
};
use pim_engine::requests::{AssignmentQuery, EXTEND_WINDOW_MS, RENEW_WINDOW_MS, RequestInput, Submission};

use super::my_roles_status::{Provisionings, RevokingRow, StatusLine, WaitingLogin};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, end, principal_name, redirect_with, refused_text, render,
    role_name, time,
};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/roles", get(page))
        .route("/roles/activate", post(activate))
        .route("/roles/deactivate", post(deactivate))
        .route("/roles/extend", post(extend))
        .merge(super::my_roles_status::routes())
}

/// The durations offered, in minutes.
const DURATIONS: &[(u32, &str)] = &[
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (720, "12 hours"),
    (1440, "24 hours"),
];

/// One offered duration.
struct DurationOption {
    minutes: u32,
    label: &'static str,
    selected: bool,
}

/// What the activation form of one eligibility shows.
struct ActivateForm {
    scope: String,
    durations: Vec<DurationOption>,
    justification: String,
    ticket_system: String,
    ticket_number: String,
    /// The answer of "Check", or the refusal of "Activate".
    feedback: Option<Feedback>,
}

/// What a check or a refused activation said.
struct Feedback {
    ok: bool,
    lines: Vec<String>,
}

struct EligibleRow {
    id: String,
    role_id: String,
    role_name: String,
    scope: String,
    start: String,
    end: String,
    via: Option<String>,
    /// What activating needs, from a check with nothing filled in.
    needs: Vec<&'static str>,
    extendable: bool,
    form: ActivateForm,
}

struct ActiveRow {
    id: String,
    role_name: String,
    scope: String,
    start: String,
    end: String,
    source: String,
    deactivatable: bool,
    extendable: bool,
    /// One status per connector that maps the role (none without connectors).
    provisioning: Vec<StatusLine>,
}

struct EndedRow {
    id: String,
    role_name: String,
    scope: String,
    kind: &'static str,
    ended: String,
}

#[derive(Template)]
#[template(path = "my_roles.html")]
struct MyRolesPage {
    chrome: Chrome,
    eligible: Vec<EligibleRow>,
    active: Vec<ActiveRow>,
    ended: Vec<EndedRow>,
    mfa_enrolled: bool,
    /// Access that ended and is still being removed from a target.
    revoking: Vec<RevokingRow>,
    /// Managed logins whose password waits to be shown once.
    waiting: Vec<WaitingLogin>,
    /// The statuses in the targets could not be read.
    provisioning_unavailable: bool,
    /// The provider where this session passes MFA (`step_up = "idp"`), instead of pim's TOTP.
    step_up_at: Option<String>,
}

/// The values of an activation form sent back, to show again with its feedback.
struct Posted {
    eligibility: String,
    form: ActivateForm,
}

fn default_form(scope: &ScopePath) -> ActivateForm {
    form_with(scope.as_str(), 60, "", "", "", None)
}

fn form_with(
    scope: &str,
    minutes: u32,
    justification: &str,
    ticket_system: &str,
    ticket_number: &str,
    feedback: Option<Feedback>,
) -> ActivateForm {
    ActivateForm {
        scope: scope.to_owned(),
        durations: DURATIONS
            .iter()
            .map(|(m, label)| DurationOption { minutes: *m, label, selected: *m == minutes })
            .collect(),
        justification: justification.to_owned(),
        ticket_system: ticket_system.to_owned(),
        ticket_number: ticket_number.to_owned(),
        feedback,
    }
}

fn needs_list(n: &pim_domain::request::Needs) -> Vec<&'static str> {
    let mut v = vec![];
    if n.mfa {
        v.push("MFA");
    }
    if n.justification {
        v.push("justification");
    }
    if n.ticket {
        v.push("ticket");
    }
    if n.approval {
        v.push("approval");
    }
    v
}

/// The activation form to show filled in, as a step-up at the provider left it (`GET /roles?...`).
#[derive(Debug, Default, serde::Deserialize)]
struct ResumeQuery {
    eligibility: Option<String>,
    scope: Option<String>,
    duration_minutes: Option<String>,
    justification: Option<String>,
    ticket_system: Option<String>,
    ticket_number: Option<String>,
}

/// The query of `/roles` that shows this activation form again as typed (for a step-up), at most
/// [`pim_engine::oidc::RESUME_MAX`] bytes: beyond that, only the eligibility (the role preselected).
fn resume_query(eligibility: &str, form: &FormData) -> String {
    let fields = ["scope", "duration_minutes", "justification", "ticket_system", "ticket_number"];
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("eligibility", eligibility);
    for f in fields {
        if let Some(v) = form.get(f) {
            q.append_pair(f, &v);
        }
    }
    let full = q.finish();
    if full.len() <= pim_engine::oidc::RESUME_MAX {
        return full;
    }
    form_urlencoded::Serializer::new(String::new()).append_pair("eligibility", eligibility).finish()
}

async fn page(State(s): State<AppState>, session: Session, Query(q): Query<ResumeQuery>) -> PortalResult {
    let posted = match q.eligibility.clone() {
        Some(eligibility) => Some(Posted { form: resumed_form(&s, &session, &q).await, eligibility }),
        None => None,
    };
    build(&s, &session, posted).await.map(|p| render(&p))
}

/// The form as the query gives it, with what the session's MFA is now: read from the session,
/// never from the query, so a link cannot claim an MFA that did not happen.
async fn resumed_form(s: &AppState, session: &Session, q: &ResumeQuery) -> ActivateForm {
    let fresh = s.engine.mfa_status(&session.ctx).await.ok().and_then(|m| m.fresh_until);
    let feedback = match fresh {
        Some(until) => Feedback {
            ok: true,
            lines: vec![format!(
                "Your session passed MFA (fresh until {}). Press Activate to send the request.",
                time(until)
            )],
        },
        None => Feedback { ok: false, lines: vec!["Your session has not passed MFA recently.".into()] },
    };
    let minutes = q.duration_minutes.as_deref().and_then(|m| m.parse().ok()).unwrap_or(60);
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().to_owned();
    form_with(
        &text(&q.scope),
        minutes,
        &text(&q.justification),
        &text(&q.ticket_system),
        &text(&q.ticket_number),
        Some(feedback),
    )
}

async fn build(s: &AppState, session: &Session, posted: Option<Posted>) -> Result<MyRolesPage, PortalError> {
    let chrome = Chrome::new(session, "roles", "My roles");
    let fail = |e: pim_engine::EngineError| PortalError::from(e).within(&chrome);
    let now = s.engine.now();
    let mine = s.engine.my_assignments(&session.ctx).await.map_err(fail)?;
    let mfa = s.engine.mfa_status(&session.ctx).await.map_err(fail)?;
    let me = session.actor.id;
    let provisioning = Provisionings::read(s, session).await;
    let name_of = |a: &Assignment| role_name(s, a.role_id);
    let via = |a: &Assignment| (a.principal_id != me).then(|| principal_name(s, a.principal_id));
    let ends_soon = |a: &Assignment| a.window.end.is_some_and(|e| e.0 - now.0 <= EXTEND_WINDOW_MS);
    let mut posted = posted;
    let mut eligible = vec![];
    let mut active = vec![];
    for a in mine.iter().filter(|a| a.in_effect(now) || a.window.start > now) {
        match a.kind {
            AssignmentKind::Eligible => {
                let mut check = RequestInput::new(RequestAction::SelfActivate);
                check.role_id = Some(a.role_id);
                check.scope = Some(a.scope.clone());
                check.duration_minutes = Some(DURATIONS[0].0);
                check.validate_only = true;
                let needs = match s.engine.submit(&session.ctx, check).await {
                    Ok(Submission::Validated(v)) => needs_list(&v.needs),
                    _ => vec![],
                };
                let form = match posted.take_if(|p| p.eligibility == a.id.to_string()) {
                    Some(p) => p.form,
                    None => default_form(&a.scope),
                };
                eligible.push(EligibleRow {
                    id: a.id.to_string(),
                    role_id: a.role_id.to_string(),
                    role_name: name_of(a),
                    scope: a.scope.to_string(),
                    start: time(a.window.start),
                    end: end(&a.window),
                    via: via(a),
                    needs,
                    extendable: a.principal_id == me && ends_soon(a),
                    form,
                });
            }
            AssignmentKind::Active => active.push(ActiveRow {
                id: a.id.to_string(),
                role_name: name_of(a),
                scope: a.scope.to_string(),
                start: time(a.window.start),
                end: end(&a.window),
                source: match (a.is_activation(), via(a)) {
                    (true, _) => "activation".to_owned(),
                    (false, Some(g)) => format!("through group {g}"),
                    (false, None) => "assigned".to_owned(),
                },
                deactivatable: a.is_activation() && a.principal_id == me && a.in_effect(now),
                extendable: !a.is_activation() && a.principal_id == me && ends_soon(a),
                provisioning: if a.in_effect(now) { provisioning.for_assignment(s, a) } else { Vec::new() },
            }),
        }
    }
    let query = AssignmentQuery { principal: Some(me), include_ended: true, limit: 1000, ..Default::default() };
    let listed = s.engine.list_assignments(&session.ctx, query).await.map_err(fail)?;
    let revoking = provisioning.revoking(s, &[listed.as_slice(), mine.as_slice()].concat());
    let ended = listed
        .into_iter()
        .filter(|a| {
            !a.is_activation()
                && a.window.end.is_some_and(|e| e <= now && now.0 - e.0 <= RENEW_WINDOW_MS)
                && a.ended_early_at.is_none()
        })
        .map(|a| EndedRow {
            id: a.id.to_string(),
            role_name: name_of(&a),
            scope: a.scope.to_string(),
            kind: a.kind.as_str(),
            ended: end(&a.window),
        })
        .collect();
    let step_up_at = s.engine.oidc_step_up_provider(&session.ctx).await.map_err(fail)?.map(|p| p.display_name);
    Ok(MyRolesPage {
        step_up_at,
        chrome,
        eligible,
        active,
        ended,
        mfa_enrolled: mfa.confirmed_at.is_some(),
        revoking,
        waiting: provisioning.waiting,
        provisioning_unavailable: provisioning.unavailable,
    })
}

/// `POST /roles/activate`: `intent=check` asks what the request still needs (changing nothing);
/// `intent=activate` sends it.
async fn activate(State(s): State<AppState>, session: Session, headers: HeaderMap, form: FormData) -> PortalResult {
    let eligibility: AssignmentId = form.require("eligibility", "The eligible assignment")?;
    let role_id = form.require("role_id", "The role")?;
    let scope_text = form.get("scope").unwrap_or_default();
    let minutes: u32 = form.parse("duration_minutes", "Duration")?.unwrap_or(60);
    let justification = form.get("justification");
    let (system, number) = (form.get("ticket_system"), form.get("ticket_number"));
    let check = form.get("intent").as_deref() == Some("check");
    let posted = |feedback: Feedback| Posted {
        eligibility: eligibility.to_string(),
        form: form_with(
            &scope_text,
            minutes,
            justification.as_deref().unwrap_or_default(),
            system.as_deref().unwrap_or_default(),
            number.as_deref().unwrap_or_default(),
            Some(feedback),
        ),
    };
    let scope = match ScopePath::parse(&scope_text) {
        Ok(sc) => sc,
        Err(e) => return again(&s, &session, posted(Feedback { ok: false, lines: vec![format!("Scope: {e}")] })).await,
    };
    let ticket = match (system.clone(), number.clone()) {
        (None, None) => None,
        (Some(system), Some(number)) => Some(Ticket { system, number }),
        _ => {
            let f = Feedback { ok: false, lines: vec!["Give both the ticket system and its number.".into()] };
            return again(&s, &session, posted(f)).await;
        }
    };
    let mut input = RequestInput::new(RequestAction::SelfActivate);
    input.role_id = Some(role_id);
    input.scope = Some(scope);
    input.duration_minutes = Some(minutes);
    input.justification = justification.clone();
    input.ticket = ticket;
    input.validate_only = check;
    if !check {
        input.otp = form.get("code");
    }
    match s.engine.submit(&session.ctx, input).await {
        Ok(Submission::Validated(v)) => {
            let mut lines: Vec<String> = v.problems.iter().map(|p| p.message.clone()).collect();
            let needs = needs_list(&v.needs);
            let missing: Vec<&str> = needs.iter().copied().filter(|n| *n != "approval").collect();
            if !missing.is_empty() {
                lines.push(format!("Still needed: {}.", missing.join(", ")));
            }
            if v.valid {
                let when = v.window.map(|w| format!("from {} until {}", time(w.start), end(&w))).unwrap_or_default();
                lines.insert(0, format!("This activation would be accepted {when}."));
                if needs.contains(&"approval") {
                    lines.push("It will wait for an approver.".into());
                }
            }
            if needs.contains(&"MFA") {
                lines.push(match s.engine.oidc_step_up_provider(&session.ctx).await.ok().flatten() {
                    Some(p) => format!("Activating sends you to {} to pass MFA.", p.display_name),
                    None => "Enter your authenticator code when you activate.".into(),
                });
            }
            again(&s, &session, posted(Feedback { ok: v.valid, lines })).await
        }
        Ok(Submission::Done(out)) => {
            let r = &out.request;
            let role = role_name(&s, r.role_id);
            let text = match r.status {
                RequestStatus::PendingApproval => {
                    format!("Your request to activate {role} at {} waits for approval (request {}).", r.scope, r.id)
                }
                RequestStatus::Granted => format!("{role} at {} is granted from {}.", r.scope, time(r.window.start)),
                _ => format!("{role} is active at {} until {}.", r.scope, end(&r.window)),
            };
            let to = if r.status == RequestStatus::PendingApproval { "/requests" } else { "/roles" };
            Ok(redirect_with(to, Flash::ok(text)))
        }
        Err(e) => {
            let mfa = e.refusal().is_some_and(|d| d.kind == ErrorKind::MfaRequired);
            if mfa && form.get("code").is_none() {
                let resume = resume_query(&eligibility.to_string(), &form);
                if let Some(r) = crate::portal::oidc::step_up(&s, &headers, &session, &resume).await {
                    return Ok(r);
                }
            }
            let mut lines = vec![refused_text(&e)];
            if mfa {
                lines.push("Enter the code from your authenticator app with the request.".into());
            }
            again(&s, &session, posted(Feedback { ok: false, lines })).await
        }
    }
}

/// The page again, with an activation form's values and what the check or the refusal said.
async fn again(s: &AppState, session: &Session, posted: Posted) -> PortalResult {
    let ok = posted.form.feedback.as_ref().is_some_and(|f| f.ok);
    let status = if ok { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    build(s, session, Some(posted)).await.map(|p| crate::portal::view::render_status(status, &p))
}

async fn deactivate(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let id: AssignmentId = form.require("assignment_id", "The activation")?;
    let mut input = RequestInput::new(RequestAction::SelfDeactivate);
    input.assignment_id = Some(id);
    Ok(match s.engine.submit(&session.ctx, input).await {
        Ok(_) => redirect_with("/roles", Flash::ok("Deactivated: the role is no longer active.")),
        Err(e) => redirect_with("/roles", Flash::error(refused_text(&e))),
    })
}

/// `POST /roles/extend`: `intent=extend` (an assignment ending within 14 days) or `intent=renew`
/// (one that ended within 30 days), for `days` more days, with a justification.
async fn extend(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let id: AssignmentId = form.require("assignment_id", "The assignment")?;
    let renew = form.get("intent").as_deref() == Some("renew");
    let days: i64 = form.parse("days", "Days")?.unwrap_or(30);
    if !(1..=3650).contains(&days) {
        return Ok(redirect_with("/roles", Flash::error("Days must be between 1 and 3650.")));
    }
    let base =
        if renew { s.engine.now() } else { current_end(&s, &session, id).await.unwrap_or_else(|| s.engine.now()) };
    let mut input = RequestInput::new(if renew { RequestAction::SelfRenew } else { RequestAction::SelfExtend });
    input.assignment_id = Some(id);
    input.end = Some(base.plus_millis(days * DAY_MS));
    input.justification = form.get("justification");
    Ok(match s.engine.submit(&session.ctx, input).await {
        Ok(Submission::Done(out)) if out.request.status == RequestStatus::PendingApproval => redirect_with(
            "/requests",
            Flash::ok(format!(
                "Your {} request waits for an administrator's approval.",
                if renew { "renewal" } else { "extension" }
            )),
        ),
        Ok(_) => redirect_with("/roles", Flash::ok(if renew { "Renewed." } else { "Extended." })),
        Err(e) => redirect_with("/roles", Flash::error(refused_text(&e))),
    })
}

async fn current_end(s: &AppState, session: &Session, id: AssignmentId) -> Option<pim_domain::Timestamp> {
    s.engine.get_assignment(&session.ctx, id).await.ok().and_then(|a| a.window.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_query_keeps_the_form_but_no_code_and_only_the_role_when_too_long() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let form = FormData(vec![
            pair("justification", "INC-1: a & b"),
            pair("duration_minutes", "120"),
            pair("code", "123456"),
            pair("csrf", "t"),
        ]);
        assert_eq!(resume_query("e1", &form), "eligibility=e1&duration_minutes=120&justification=INC-1%3A+a+%26+b");
        let long = FormData(vec![pair("justification", &"x".repeat(pim_engine::oidc::RESUME_MAX))]);
        assert_eq!(resume_query("e1", &long), "eligibility=e1");
    }
}
