//! Approve requests: what waits for the user's decision, approved or denied one or many at a time
//! with one justification (each decided on its own, the outcome of each in the message); for
//! administrators, protected settings changes proposed by another one, and break-glass
//! activations to review after the fact.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use pim_domain::actions::{REQUESTS_APPROVE, SETTINGS_WRITE};
use pim_domain::approval::ReviewVerdict;
use pim_domain::message::count;
use pim_domain::settings::ApprovalStage;
use pim_domain::{ErrorKind, PrincipalKind, RequestId, RequestStatus, RoleSettings, SettingsChange, Verdict};
use pim_engine::requests::DecisionInput;

use crate::AppState;
use crate::handlers::approvals::MAX_BULK;
use crate::portal::pages::requests::{asked, progress, request_role_name};
use crate::portal::session::Session;
use crate::portal::view::refused_text;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render, render_status, time,
};
use crate::portal::view::{principal_name, role_name};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(show_approvals).post(decide_requests))
        .route("/approvals/settings-changes", post(decide_settings_change))
        .route("/approvals/break-glass", post(review_break_glass))
}

struct PendingRow {
    id: String,
    requester: String,
    /// The principal concerned, when not the requester.
    for_whom: Option<String>,
    role: String,
    scope: String,
    action: &'static str,
    asked: String,
    justification: Option<String>,
    ticket: Option<String>,
    created: String,
    stage: String,
    checked: bool,
}

/// One setting a change would change.
struct ChangeLine {
    name: String,
    now: String,
    proposed: String,
}

struct SettingsRow {
    id: String,
    role: String,
    scope: String,
    proposer: String,
    created: String,
    deadline: String,
    reset: bool,
    changes: Vec<ChangeLine>,
}

struct BreakGlassRow {
    id: String,
    who: String,
    role: String,
    scope: String,
    activated: String,
    justification: Option<String>,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    chrome: Chrome,
    pending: Vec<PendingRow>,
    max_bulk: usize,
    justification: String,
    settings: Vec<SettingsRow>,
    break_glass: Vec<BreakGlassRow>,
}

/// A decision form sent back with a mistake: shown again with what was ticked and typed.
struct Posted {
    ids: HashSet<String>,
    justification: String,
    error: String,
}

/// `GET /approvals`.
async fn show_approvals(State(s): State<AppState>, session: Session) -> PortalResult {
    build(&s, &session, None).await.map(|p| render(&p))
}

async fn build(s: &AppState, session: &Session, posted: Option<Posted>) -> Result<ApprovalsPage, PortalError> {
    let mut chrome = Chrome::new(session, "approvals", "Approve requests");
    let fail = |e: pim_engine::EngineError| PortalError::from(e).within(&chrome);
    let now = s.engine.now();
    let me = session.actor.id;
    let waiting = s.engine.pending_approvals(&session.ctx).await.map_err(fail)?;
    let pending = waiting
        .iter()
        .map(|r| PendingRow {
            id: r.id.to_string(),
            requester: r.requester_name.clone().unwrap_or_else(|| principal_name(s, r.requested_by)),
            for_whom: (r.principal_id != r.requested_by).then(|| principal_name(s, r.principal_id)),
            role: request_role_name(s, r),
            scope: r.scope.to_string(),
            action: crate::portal::pages::requests::action_label(r.action),
            asked: asked(r),
            justification: r.justification.clone(),
            ticket: r.ticket.as_ref().map(|t| format!("{} {}", t.system, t.number)),
            created: time(r.created_at),
            stage: progress(s, r, now).unwrap_or_default(),
            checked: posted.as_ref().is_some_and(|p| p.ids.contains(&r.id.to_string())),
        })
        .collect();
    let changes = s.engine.list_settings_changes(&session.ctx, Some(RequestStatus::PendingApproval)).await;
    let mut settings = vec![];
    for c in changes.map_err(fail)? {
        if c.requested_by != me && now < c.deadline() && s.engine.allowed(&session.ctx, SETTINGS_WRITE, &c.scope) {
            settings.push(settings_row(s, session, &c).await);
        }
    }
    let mut break_glass = vec![];
    for v in s.engine.list_break_glass_reviews(&session.ctx, true).await.map_err(fail)? {
        if v.principal_id == me || !s.engine.allowed(&session.ctx, REQUESTS_APPROVE, &v.scope) {
            continue;
        }
        let justification = s.engine.get_request(&session.ctx, v.request_id).await.ok().and_then(|r| r.justification);
        break_glass.push(BreakGlassRow {
            id: v.request_id.to_string(),
            who: principal_name(s, v.principal_id),
            role: role_name(s, v.role_id),
            scope: v.scope.to_string(),
            activated: time(v.created_at),
            justification,
        });
    }
    let justification = match posted {
        Some(p) => {
            chrome.flash = Some(Flash::error(p.error));
            p.justification
        }
        None => String::new(),
    };
    Ok(ApprovalsPage { chrome, pending, max_bulk: MAX_BULK, justification, settings, break_glass })
}

/// `POST /approvals` (`request_id` repeated, `verdict=approve|deny`, `justification`): decides each
/// ticked request on its own and tells how each went.
async fn decide_requests(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let justification = form.get("justification");
    let raw = form.all("request_id");
    let again = |error: String| Posted {
        ids: raw.iter().cloned().collect(),
        justification: justification.clone().unwrap_or_default(),
        error,
    };
    let verdict = match form.get("verdict").as_deref() {
        Some("approve") => Verdict::Approve,
        Some("deny") => Verdict::Deny,
        _ => return show_again(&s, &session, again("Choose Approve or Deny.".into())).await,
    };
    if raw.is_empty() || raw.len() > MAX_BULK {
        let error = format!("Tick between 1 and {MAX_BULK} requests to decide.");
        return show_again(&s, &session, again(error)).await;
    }
    let mut ids: Vec<RequestId> = vec![];
    for v in &raw {
        match v.parse::<RequestId>() {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(_) => return show_again(&s, &session, again(format!("'{v}' is not a request."))).await,
        }
    }
    // What the user could see, to name the requests in the answer.
    let names: HashMap<RequestId, String> = s
        .engine
        .pending_approvals(&session.ctx)
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let who = r.requester_name.clone().unwrap_or_else(|| principal_name(&s, r.requested_by));
            (r.id, format!("{} at {} for {who}", request_role_name(&s, r), r.scope))
        })
        .collect();
    let input = DecisionInput { verdict, justification, end: None };
    let results = match s.engine.decide_many(&session.ctx, &ids, &input).await {
        Ok(r) => r,
        Err(e) => return Ok(redirect_with("/approvals", Flash::error(refused_text(&e)))),
    };
    let (mut done, mut waiting, mut refused) = (0, 0, vec![]);
    for (id, r) in results {
        match r {
            Ok(o) if o.request.status == RequestStatus::PendingApproval => waiting += 1,
            Ok(_) => done += 1,
            Err(e) => {
                let name = names.get(&id).cloned().unwrap_or_else(|| format!("request {id}"));
                refused.push(format!("{name}: {}", refused_text(&e)));
            }
        }
    }
    let verb = if verdict == Verdict::Approve { "Approved" } else { "Denied" };
    let mut parts = vec![];
    if done + waiting > 0 {
        let still = match (waiting, done + waiting) {
            (0, _) => String::new(),
            (1, 1) => " (it still waits for further approvals)".to_owned(),
            (1, _) => " (1 of them still waits for further approvals)".to_owned(),
            (n, _) => format!(" ({n} of them still wait for further approvals)"),
        };
        parts.push(format!("{verb} {}{still}", count(done + waiting, "request", "requests")));
    }
    if !refused.is_empty() {
        parts.push(format!("{} refused: {}", count(refused.len(), "request was", "requests were"), refused.join("; ")));
    }
    let text = format!("{}.", parts.join("; "));
    let flash = if refused.is_empty() { Flash::ok(text) } else { Flash::error(text) };
    Ok(redirect_with("/approvals", flash))
}

/// The page again (422) with the ticked requests, the justification typed and what was wrong.
async fn show_again(s: &AppState, session: &Session, posted: Posted) -> PortalResult {
    build(s, session, Some(posted)).await.map(|p| render_status(StatusCode::UNPROCESSABLE_ENTITY, &p))
}

/// `POST /approvals/settings-changes` (`change_id`, `verdict=approve|deny`, `justification`).
async fn decide_settings_change(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let id = form.require("change_id", "The settings change")?;
    let verdict = match form.get("verdict").as_deref() {
        Some("approve") => Verdict::Approve,
        Some("deny") => Verdict::Deny,
        _ => return Err(PortalError::new(ErrorKind::InvalidInput, "choose Approve or Deny")),
    };
    Ok(match s.engine.decide_settings_change(&session.ctx, id, verdict, form.get("justification")).await {
        Ok(c) => {
            let what = format!("the change to the settings of {} at {}", role_of(&s, &c), c.scope);
            redirect_with(
                "/approvals",
                Flash::ok(match verdict {
                    Verdict::Approve => format!("Approved {what}: it applies now."),
                    Verdict::Deny => format!("Denied {what}."),
                }),
            )
        }
        Err(e) => redirect_with("/approvals", Flash::error(refused_text(&e))),
    })
}

/// `POST /approvals/break-glass` (`request_id`, `verdict=appropriate|inappropriate`, `note`).
async fn review_break_glass(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let id: RequestId = form.require("request_id", "The break-glass activation")?;
    let verdict = form
        .get("verdict")
        .and_then(|v| ReviewVerdict::parse(&v))
        .ok_or_else(|| PortalError::new(ErrorKind::InvalidInput, "choose Appropriate or Inappropriate"))?;
    Ok(match s.engine.complete_break_glass_review(&session.ctx, id, verdict, form.get("note")).await {
        Ok(v) => redirect_with(
            "/approvals",
            Flash::ok(format!(
                "Recorded: the break-glass activation by {} was {}.",
                principal_name(&s, v.principal_id),
                verdict.as_str()
            )),
        ),
        Err(e) => redirect_with("/approvals", Flash::error(refused_text(&e))),
    })
}

fn role_of(s: &AppState, c: &SettingsChange) -> String {
    role_name(s, c.role_id)
}

async fn settings_row(s: &AppState, session: &Session, c: &SettingsChange) -> SettingsRow {
    let changes = match &c.settings {
        None => vec![],
        Some(proposed) => {
            let now = s.engine.effective_settings(&session.ctx, &c.role_id.to_string(), c.scope.clone()).await;
            setting_lines(s, now.ok().map(|e| e.settings).as_ref(), proposed)
        }
    };
    SettingsRow {
        id: c.id.to_string(),
        role: role_of(s, c),
        scope: c.scope.to_string(),
        proposer: principal_name(s, c.requested_by),
        created: time(c.created_at),
        deadline: time(c.deadline()),
        reset: c.settings.is_none(),
        changes,
    }
}

/// The settings `proposed` changes from those in force (all of them when those are unknown).
fn setting_lines(s: &AppState, now: Option<&RoleSettings>, proposed: &RoleSettings) -> Vec<ChangeLine> {
    let to_map = |r: &RoleSettings| match serde_json::to_value(r) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let old = now.map(to_map).unwrap_or_default();
    to_map(proposed)
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| {
            let show = |x: Option<&serde_json::Value>, st: Option<&RoleSettings>| match (k.as_str(), st) {
                ("approvalStages", Some(st)) => stages_text(s, &st.approval_stages),
                _ => x.map_or_else(|| "-".to_owned(), value_text),
            };
            ChangeLine { name: words(&k), now: show(old.get(&k), now), proposed: show(Some(&v), Some(proposed)) }
        })
        .collect()
}

/// `requireApprovalToActivate` → `Require approval to activate`.
fn words(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Bool(true) => "yes".into(),
        serde_json::Value::Bool(false) => "no".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `stage 1: 1 of ann, group ops; stage 2: ...`.
fn stages_text(s: &AppState, stages: &[ApprovalStage]) -> String {
    if stages.is_empty() {
        return "none".into();
    }
    stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let who: Vec<String> = st
                .approvers
                .iter()
                .map(|a| match a.kind {
                    PrincipalKind::Group => format!("group {}", principal_name(s, a.id)),
                    _ => principal_name(s, a.id),
                })
                .collect();
            format!("stage {}: {} of {}", i + 1, st.required_approvals.max(1), who.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_names_read_as_words() {
        assert_eq!(words("requireApprovalToActivate"), "Require approval to activate");
        assert_eq!(words("protected"), "Protected");
        assert_eq!(value_text(&serde_json::json!(true)), "yes");
        assert_eq!(value_text(&serde_json::json!(480)), "480");
    }
}
