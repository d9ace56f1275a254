//! Manage, Roles: the built-in and custom role definitions with their permissions (actions and
//! excluded actions); creating a custom role, and editing or deleting one (built-in roles are read
//! only). Reading needs `pim.roles.read` at `/`, writing `pim.roles.write`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use pim_domain::actions::ROLES_WRITE;
use pim_domain::{Pattern, Permissions, RoleDefinition, ScopePath};

use super::manage::{Tab, tabs};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::refused_text;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render, render_status};

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/roles", get(list_roles).post(create_role))
        .route("/manage/roles/{id}", get(show_role).post(update_role))
        .route("/manage/roles/{id}/delete", post(delete_role))
}

struct RoleRow {
    id: String,
    name: String,
    description: String,
    builtin: bool,
    actions: Vec<String>,
    not_actions: Vec<String>,
}

fn row(r: &RoleDefinition) -> RoleRow {
    RoleRow {
        id: r.id.to_string(),
        name: r.name.clone(),
        description: r.description.clone(),
        builtin: r.builtin,
        actions: r.permissions.actions.iter().map(|p| p.as_str().to_owned()).collect(),
        not_actions: r.permissions.not_actions.iter().map(|p| p.as_str().to_owned()).collect(),
    }
}

/// The values of a role form, as typed (shown again with what was wrong).
#[derive(Default)]
struct RoleForm {
    name: String,
    description: String,
    actions: String,
    not_actions: String,
    error: Option<String>,
}

impl RoleForm {
    fn of(r: &RoleDefinition) -> RoleForm {
        let lines = |v: &[Pattern]| v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("\n");
        RoleForm {
            name: r.name.clone(),
            description: r.description.clone(),
            actions: lines(&r.permissions.actions),
            not_actions: lines(&r.permissions.not_actions),
            error: None,
        }
    }

    fn posted(form: &FormData) -> RoleForm {
        let raw = |k: &str| form.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        RoleForm {
            name: raw("name").trim().to_owned(),
            description: raw("description").trim().to_owned(),
            actions: raw("actions"),
            not_actions: raw("not_actions"),
            error: None,
        }
    }

    /// The permissions typed, one pattern a line.
    fn permissions(&self) -> Result<Permissions, String> {
        let parse = |text: &str, what: &str| -> Result<Vec<Pattern>, String> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Pattern::parse(l).map_err(|e| format!("{what}: {e}.")))
                .collect()
        };
        let actions = parse(&self.actions, "Actions")?;
        if actions.is_empty() {
            return Err("Actions: give at least one action, one a line (for example storage.blobs.read).".into());
        }
        Ok(Permissions { actions, not_actions: parse(&self.not_actions, "Excluded actions")? })
    }
}

#[derive(Template)]
#[template(path = "manage_roles.html")]
struct RolesPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    roles: Vec<RoleRow>,
    may_write: bool,
    form: RoleForm,
}

async fn roles_page(s: &AppState, session: &Session, form: RoleForm) -> Result<RolesPage, PortalError> {
    let chrome = Chrome::new(session, "manage", "Roles");
    let mut roles = s.engine.list_roles(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    roles.sort_by_key(|r| (!r.builtin, r.name.to_lowercase()));
    Ok(RolesPage {
        tabs: tabs(s, session, "roles"),
        roles: roles.iter().map(row).collect(),
        may_write: s.engine.allowed(&session.ctx, ROLES_WRITE, &ScopePath::root()),
        form,
        chrome,
    })
}

/// `GET /manage/roles`.
async fn list_roles(State(s): State<AppState>, session: Session) -> PortalResult {
    roles_page(&s, &session, RoleForm::default()).await.map(|p| render(&p))
}

/// `POST /manage/roles`: `name`, `description`, `actions` and `not_actions` (one pattern a line).
async fn create_role(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let mut typed = RoleForm::posted(&form);
    let outcome = match typed.permissions() {
        Ok(p) => s.engine.create_role(&session.ctx, typed.name.clone(), typed.description.clone(), p).await,
        Err(msg) => {
            typed.error = Some(msg);
            return roles_page(&s, &session, typed).await.map(|p| render_status(StatusCode::UNPROCESSABLE_ENTITY, &p));
        }
    };
    match outcome {
        Ok(r) => Ok(redirect_with("/manage/roles", Flash::ok(format!("Created the custom role {}.", r.name)))),
        Err(e) if e.refusal().is_some_and(|d| d.kind == pim_domain::ErrorKind::Forbidden) => {
            refused(&session, "/manage/roles", &e)
        }
        Err(e) => {
            typed.error = Some(refused_text(&e));
            roles_page(&s, &session, typed).await.map(|p| render_status(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    }
}

#[derive(Template)]
#[template(path = "manage_roles_show.html")]
struct RolePage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    role: RoleRow,
    edit_action: String,
    may_write: bool,
    form: RoleForm,
}

/// The role `id`, for readers of role definitions (a 404 for an unknown one).
async fn load_role(s: &AppState, session: &Session, id: &str) -> Result<(RoleDefinition, Chrome), PortalError> {
    let chrome = Chrome::new(session, "manage", "Role");
    // Listing checks that the user may read role definitions.
    let roles = s.engine.list_roles(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    match roles.into_iter().find(|r| r.id.to_string() == id) {
        Some(r) => {
            let mut chrome = chrome;
            chrome.title = format!("Role {}", r.name);
            Ok((r, chrome))
        }
        None => {
            Err(PortalError::new(pim_domain::ErrorKind::NotFound, format!("there is no role {id}")).within(&chrome))
        }
    }
}

fn role_page(s: &AppState, session: &Session, r: &RoleDefinition, chrome: Chrome, form: RoleForm) -> RolePage {
    RolePage {
        tabs: tabs(s, session, "roles"),
        role: row(r),
        edit_action: format!("/manage/roles/{}", r.id),
        may_write: !r.builtin && s.engine.allowed(&session.ctx, ROLES_WRITE, &ScopePath::root()),
        form,
        chrome,
    }
}

/// `GET /manage/roles/{id}`.
async fn show_role(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let (r, chrome) = load_role(&s, &session, &id).await?;
    Ok(render(&role_page(&s, &session, &r, chrome, RoleForm::of(&r))))
}

/// `POST /manage/roles/{id}`: like creating, for a custom role.
async fn update_role(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let (r, chrome) = load_role(&s, &session, &id).await?;
    let back = format!("/manage/roles/{}", r.id);
    let mut typed = RoleForm::posted(&form);
    let outcome = match typed.permissions() {
        Ok(p) => {
            s.engine
                .update_role(&session.ctx, &r.id.to_string(), typed.name.clone(), typed.description.clone(), p)
                .await
        }
        Err(msg) => {
            typed.error = Some(msg);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &role_page(&s, &session, &r, chrome, typed)));
        }
    };
    match outcome {
        Ok(u) => Ok(redirect_with(&back, Flash::ok(format!("Saved the role {}.", u.name)))),
        Err(e) if e.refusal().is_some_and(|d| d.kind == pim_domain::ErrorKind::Forbidden) => {
            refused(&session, &back, &e)
        }
        Err(e) => {
            typed.error = Some(refused_text(&e));
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &role_page(&s, &session, &r, chrome, typed)))
        }
    }
}

/// `POST /manage/roles/{id}/delete`.
async fn delete_role(State(s): State<AppState>, session: Session, Path(id): Path<String>, _: FormData) -> PortalResult {
    let (r, _) = load_role(&s, &session, &id).await?;
    match s.engine.delete_role(&session.ctx, &r.id.to_string()).await {
        Ok(()) => Ok(redirect_with("/manage/roles", Flash::ok(format!("Deleted the role {}.", r.name)))),
        Err(e) => refused(&session, &format!("/manage/roles/{}", r.id), &e),
    }
}
