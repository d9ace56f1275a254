//! Manage, Role settings: pick a role and a scope to see the settings in force there and where
//! they come from (defined here, inherited from an ancestor, or pim's defaults), with the
//! settings changes still waiting for a second administrator; edit every setting (form in
//! `manage_settings_form`) through `put_settings`, which for protected settings proposes the change
//! instead; reset to inherited (`delete_settings`); and the list of explicitly defined settings.
//! Reading needs `pim.settings.read` at the scope, changing `pim.settings.write`.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use pim_domain::actions::{SETTINGS_READ, SETTINGS_WRITE};
use pim_domain::{RequestStatus, RoleDefinition, ScopePath};
use pim_engine::settings_changes::SettingsUpdate;

use super::manage::{Tab, tabs};
use super::manage_lookup::{find_role, gate, parse_scope, principal_name, query, role_name, role_names};
use super::manage_settings_form::{SettingsForm, read, summary};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::refused_text;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render_status, time};

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/settings", get(show_settings).post(save_settings))
        .route("/manage/settings/reset", post(reset_settings))
}

/// Explicitly defined settings, in the list.
struct DefinedRow {
    role: String,
    scope: String,
    href: String,
    approval: bool,
    protected: bool,
}

/// The role and scope picked, and what is in force there.
struct Chosen {
    role_id: String,
    role_name: String,
    scope: String,
    origin: String,
    summary: Vec<(String, String)>,
    pending: Vec<String>,
    /// The edit form, for users who may change the settings at the scope.
    form: Option<SettingsForm>,
    form_error: Option<String>,
    may_reset: bool,
}

#[derive(Template)]
#[template(path = "manage_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    role: String,
    scope: String,
    role_names: Vec<String>,
    error: Option<String>,
    chosen: Option<Chosen>,
    defined: Vec<DefinedRow>,
}

/// The page's own address for `role` at `scope`.
fn address(role: &str, scope: &str) -> String {
    let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    format!("/manage/settings?role={}&scope={}", enc(role), enc(scope))
}

/// `GET /manage/settings?role=&scope=`.
async fn show_settings(State(s): State<AppState>, session: Session, raw: RawQuery) -> PortalResult {
    let q = query(raw);
    let (role, scope) = (q.get("role").unwrap_or_default(), q.get("scope").unwrap_or_default());
    page(&s, &session, &role, &scope, None).await
}

/// The page for `role_text` at `scope_text`; `posted` is a form sent back with what was wrong.
async fn page(
    s: &AppState,
    session: &Session,
    role_text: &str,
    scope_text: &str,
    posted: Option<(SettingsForm, String)>,
) -> PortalResult {
    let chrome = Chrome::new(session, "manage", "Role settings");
    gate(s, session, SETTINGS_READ, &chrome)?;
    let fail = |e| PortalError::from(e).within(&chrome);
    let mut defined: Vec<DefinedRow> = s
        .engine
        .list_settings(&session.ctx, None)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|e| {
            let role = role_name(s, e.role_id);
            DefinedRow {
                href: address(&role, e.scope.as_str()),
                scope: e.scope.to_string(),
                approval: e.settings.require_approval_to_activate,
                protected: e.settings.protected,
                role,
            }
        })
        .collect();
    defined.sort_by(|a, b| (a.role.to_lowercase(), &a.scope).cmp(&(b.role.to_lowercase(), &b.scope)));
    let scope_text = if scope_text.is_empty() {
        match s.engine.allowed(&session.ctx, SETTINGS_READ, &ScopePath::root()) {
            true => "/".to_owned(),
            false => {
                s.engine.scopes_allowing(&session.ctx, SETTINGS_READ).first().map(|p| p.to_string()).unwrap_or_default()
            }
        }
    } else {
        scope_text.to_owned()
    };
    let mut status = StatusCode::OK;
    let mut error = None;
    let mut chosen = None;
    if !role_text.is_empty() {
        match choose(s, session, role_text, &scope_text, posted).await {
            Ok(c) => {
                if c.form_error.is_some() {
                    status = StatusCode::UNPROCESSABLE_ENTITY;
                }
                chosen = Some(c);
            }
            Err((code, msg)) => {
                status = code;
                error = Some(msg);
            }
        }
    }
    let page = SettingsPage {
        tabs: tabs(s, session, "settings"),
        role: role_text.to_owned(),
        scope: scope_text,
        role_names: role_names(s, session).await,
        error,
        chosen,
        defined,
        chrome,
    };
    Ok(render_status(status, &page))
}

/// What is in force for the role at the scope, and the form to change it.
async fn choose(
    s: &AppState,
    session: &Session,
    role_text: &str,
    scope_text: &str,
    posted: Option<(SettingsForm, String)>,
) -> Result<Chosen, (StatusCode, String)> {
    let bad = |msg: String| (StatusCode::BAD_REQUEST, msg);
    let role = find_role(s, session, role_text).await.map_err(bad)?;
    let scope = parse_scope(scope_text, "Scope").map_err(bad)?;
    let eff = s.engine.effective_settings(&session.ctx, &role.id.to_string(), scope.clone()).await.map_err(|e| {
        let status = e.refusal().map_or(StatusCode::INTERNAL_SERVER_ERROR, |d| crate::error::status_for(d.kind));
        (status, refused_text(&e))
    })?;
    let origin = match &eff.defined_at {
        Some(d) if *d == scope => format!("They are defined here, at {scope}."),
        Some(d) => format!("They are inherited from {d}: nothing is defined at {scope} itself."),
        None => format!("These are pim's defaults: nothing is defined at {scope} or above it."),
    };
    let pending = s
        .engine
        .list_settings_changes(&session.ctx, Some(RequestStatus::PendingApproval))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.role_id == role.id && c.scope == scope)
        .map(|c| {
            format!(
                "{} proposed on {} to {} these settings (change {}); it waits for another administrator.",
                principal_name(s, c.requested_by),
                time(c.created_at),
                if c.settings.is_some() { "change" } else { "reset" },
                c.id
            )
        })
        .collect();
    let may_write = s.engine.allowed(&session.ctx, SETTINGS_WRITE, &scope);
    let (form, form_error) = match (may_write, posted) {
        (false, _) => (None, None),
        (true, Some((f, err))) => (Some(f), Some(err)),
        (true, None) => (Some(SettingsForm::of(s, &eff.settings)), None),
    };
    Ok(Chosen {
        role_id: role.id.to_string(),
        role_name: role.name.clone(),
        scope: scope.to_string(),
        origin,
        summary: summary(s, &eff.settings),
        pending,
        form,
        form_error,
        may_reset: may_write && eff.defined_at.as_ref() == Some(&scope),
    })
}

/// The role and scope a form names; a message when either is wrong.
async fn target(s: &AppState, session: &Session, form: &FormData) -> Result<(RoleDefinition, ScopePath), String> {
    let role = find_role(s, session, &form.get("role").unwrap_or_default()).await?;
    let scope = parse_scope(&form.get("scope").unwrap_or_default(), "Scope")?;
    Ok((role, scope))
}

/// `POST /manage/settings`: `role`, `scope` and every setting (see `manage_settings_form`).
async fn save_settings(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    gate(&s, &session, SETTINGS_WRITE, &Chrome::new(&session, "manage", "Role settings"))?;
    let (role, scope) = match target(&s, &session, &form).await {
        Ok(t) => t,
        Err(msg) => return Ok(redirect_with("/manage/settings", Flash::error(msg))),
    };
    let back = address(&role.name, scope.as_str());
    let again = |msg: String| page(&s, &session, &role.name, scope.as_str(), Some((SettingsForm::posted(&form), msg)));
    let settings = match read(&s, &session, &form).await {
        Ok(st) => st,
        Err(msg) => return again(msg).await,
    };
    match s.engine.put_settings(&session.ctx, &role.id.to_string(), scope.clone(), settings).await {
        Ok(SettingsUpdate::Applied(_)) => Ok(redirect_with(
            &back,
            Flash::ok(format!("Saved the settings of {} at {scope}: they apply there and below.", role.name)),
        )),
        Ok(SettingsUpdate::Pending(c)) => Ok(redirect_with(
            &back,
            Flash::ok(format!(
                "These settings are protected: your change waits for a second administrator to approve it (change {}). Nothing changes until then.",
                c.id
            )),
        )),
        Err(e) if e.refusal().is_some_and(|d| d.kind == pim_domain::ErrorKind::Forbidden) => {
            refused(&session, &back, &e)
        }
        Err(e) => again(refused_text(&e)).await,
    }
}

/// `POST /manage/settings/reset`: `role`, `scope`.
async fn reset_settings(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    gate(&s, &session, SETTINGS_WRITE, &Chrome::new(&session, "manage", "Role settings"))?;
    let (role, scope) = match target(&s, &session, &form).await {
        Ok(t) => t,
        Err(msg) => return Ok(redirect_with("/manage/settings", Flash::error(msg))),
    };
    let back = address(&role.name, scope.as_str());
    match s.engine.delete_settings(&session.ctx, &role.id.to_string(), scope.clone()).await {
        Ok(SettingsUpdate::Applied(_)) => {
            Ok(redirect_with(&back, Flash::ok(format!("{} at {scope} now inherits its settings.", role.name))))
        }
        Ok(SettingsUpdate::Pending(c)) => Ok(redirect_with(
            &back,
            Flash::ok(format!(
                "These settings are protected: the reset waits for a second administrator to approve it (change {}).",
                c.id
            )),
        )),
        Err(e) => refused(&session, &back, &e),
    }
}
