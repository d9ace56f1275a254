//! Manage, Users: the users (search by name prefix; name, display name, email, manager, enabled,
//! emergency access, last sign-in) and service principals of the directory; creating both; a
//! user's page with its edit form, its groups and its assignments (direct and through groups),
//! and an MFA reset. Reading needs `pim.directory.read` at `/`, writing `pim.directory.write`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use pim_domain::actions::{DIRECTORY_READ, DIRECTORY_WRITE};
use pim_domain::message::count;
use pim_domain::{ErrorKind, Principal, PrincipalId, PrincipalKind, ScopePath};
use pim_engine::directory::{NewPrincipal, PrincipalPatch};
use pim_engine::requests::AssignmentQuery;

use super::manage::{Tab, tabs};
use super::manage_lookup::{AssignmentRow, assignment_row, find_principal, principal_name, query};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, opt_time, redirect_with, render};

/// Most principals a list shows.
const LIST_LIMIT: i64 = 200;

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/users", get(list_users).post(create_user))
        .route("/manage/users/{id}", get(show_user).post(update_user))
        .route("/manage/users/{id}/reset-mfa", post(reset_user_mfa))
        .route("/manage/service-principals", post(create_service_principal))
}

/// A user or service principal in a list.
struct PrincipalRow {
    id: String,
    name: String,
    display_name: String,
    email: String,
    description: String,
    manager: String,
    enabled: bool,
    emergency_access: bool,
    last_sign_in: String,
}

fn row(s: &AppState, p: &Principal) -> PrincipalRow {
    PrincipalRow {
        id: p.id.to_string(),
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone().unwrap_or_default(),
        description: p.description.clone().unwrap_or_default(),
        manager: p.manager_id.map(|m| principal_name(s, m)).unwrap_or_default(),
        enabled: p.enabled,
        emergency_access: p.emergency_access,
        last_sign_in: opt_time(p.last_sign_in_at),
    }
}

#[derive(Template)]
#[template(path = "manage_users.html")]
struct UsersPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    q: String,
    users: Vec<PrincipalRow>,
    more_users: bool,
    service_principals: Vec<PrincipalRow>,
    more_service_principals: bool,
    may_write: bool,
}

/// `GET /manage/users?q=prefix`.
async fn list_users(State(s): State<AppState>, session: Session, raw: RawQuery) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Users");
    let q = query(raw).get("q").unwrap_or_default();
    let prefix = Some(q.clone()).filter(|q| !q.is_empty());
    let list = |kind| s.engine.list_principals(&session.ctx, kind, prefix.clone(), None, LIST_LIMIT + 1);
    let fail = |e| PortalError::from(e).within(&chrome);
    let users = list(PrincipalKind::User).await.map_err(fail)?;
    let sps = list(PrincipalKind::ServicePrincipal).await.map_err(fail)?;
    let rows = |v: &[Principal]| v.iter().take(LIST_LIMIT as usize).map(|p| row(&s, p)).collect();
    Ok(render(&UsersPage {
        tabs: tabs(&s, &session, "users"),
        q,
        more_users: users.len() as i64 > LIST_LIMIT,
        users: rows(&users),
        more_service_principals: sps.len() as i64 > LIST_LIMIT,
        service_principals: rows(&sps),
        may_write: s.engine.allowed(&session.ctx, DIRECTORY_WRITE, &ScopePath::root()),
        chrome,
    }))
}

/// `POST /manage/users`: `name`, `display_name`, `email`, `manager`, `password`, `emergency_access`.
async fn create_user(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let back = "/manage/users";
    let manager = match form.get("manager") {
        None => None,
        Some(m) => match manager_id(&s, &session, &m).await {
            Ok(id) => Some(id),
            Err(msg) => return Ok(redirect_with(back, Flash::error(msg))),
        },
    };
    let new = NewPrincipal {
        name: form.get("name").unwrap_or_default(),
        display_name: form.get("display_name"),
        email: form.get("email"),
        manager_id: manager,
        password: form.0.iter().find(|(k, v)| k == "password" && !v.is_empty()).map(|(_, v)| v.clone()),
        emergency_access: form.checked("emergency_access"),
        description: None,
    };
    match s.engine.create_principal(&session.ctx, PrincipalKind::User, new).await {
        Ok(p) => Ok(redirect_with(&format!("/manage/users/{}", p.id), Flash::ok(format!("Created user {}.", p.name)))),
        Err(e) => refused(&session, back, &e),
    }
}

/// The user named `text`, as a manager.
async fn manager_id(s: &AppState, session: &Session, text: &str) -> Result<PrincipalId, String> {
    let m = find_principal(s, session, text, "Manager").await?;
    if m.kind != PrincipalKind::User {
        return Err(format!("Manager: {} is not a user.", m.name));
    }
    Ok(m.id)
}

/// `POST /manage/service-principals`: `name`, `display_name`, `description`.
async fn create_service_principal(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let new = NewPrincipal {
        name: form.get("name").unwrap_or_default(),
        display_name: form.get("display_name"),
        description: form.get("description"),
        ..Default::default()
    };
    match s.engine.create_principal(&session.ctx, PrincipalKind::ServicePrincipal, new).await {
        Ok(p) => Ok(redirect_with(
            "/manage/users",
            Flash::ok(format!("Created service principal {}. Issue it an API token to let it call pim.", p.name)),
        )),
        Err(e) => refused(&session, "/manage/users", &e),
    }
}

/// A group the user belongs to.
struct GroupRef {
    id: String,
    name: String,
    direct: bool,
}

#[derive(Template)]
#[template(path = "manage_users_show.html")]
struct UserPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    user: PrincipalRow,
    groups: Vec<GroupRef>,
    assignments: Vec<(AssignmentRow, String)>,
    may_write: bool,
}

/// The user `id` (a 404 for anything else).
async fn load_user(s: &AppState, session: &Session, id: &str, chrome: &Chrome) -> Result<Principal, PortalError> {
    let no_such = || PortalError::new(ErrorKind::NotFound, format!("there is no user {id}")).within(chrome);
    if !s.engine.allowed(&session.ctx, DIRECTORY_READ, &ScopePath::root()) {
        let msg = format!("{} lacks the permission {DIRECTORY_READ} at /", session.actor.name);
        return Err(PortalError::new(ErrorKind::Forbidden, msg).within(chrome));
    }
    let id: PrincipalId = id.parse().map_err(|_| no_such())?;
    let p =
        s.engine.get_principal(&session.ctx, &id.to_string()).await.map_err(|e| PortalError::from(e).within(chrome))?;
    if p.kind != PrincipalKind::User {
        return Err(no_such());
    }
    Ok(p)
}

/// `GET /manage/users/{id}`.
async fn show_user(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let mut chrome = Chrome::new(&session, "manage", "User");
    let p = load_user(&s, &session, &id, &chrome).await?;
    chrome.title = format!("User {}", p.name);
    let fail = |e| PortalError::from(e).within(&chrome);
    let now = s.engine.now();
    let mut groups = Vec::new();
    let mut assignments = Vec::new();
    let current = |principal| AssignmentQuery { principal: Some(principal), limit: 500, ..Default::default() };
    for a in s.engine.list_assignments(&session.ctx, current(p.id)).await.map_err(fail)? {
        assignments.push((assignment_row(&s, &session, &a), "direct".to_owned()));
    }
    for g in s.engine.index().groups_of(p.id, now) {
        let members = s.engine.list_members(&session.ctx, g).await.unwrap_or_default();
        let name = principal_name(&s, g);
        for a in s.engine.list_assignments(&session.ctx, current(g)).await.map_err(fail)? {
            assignments.push((assignment_row(&s, &session, &a), format!("group {name}")));
        }
        groups.push(GroupRef { id: g.to_string(), name, direct: members.iter().any(|m| m.id == p.id) });
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(render(&UserPage {
        tabs: tabs(&s, &session, "users"),
        user: row(&s, &p),
        groups,
        assignments,
        may_write: s.engine.allowed(&session.ctx, DIRECTORY_WRITE, &ScopePath::root()),
        chrome,
    }))
}

/// `POST /manage/users/{id}`: `display_name`, `email`, `manager`, `enabled`, `emergency_access`,
/// `password` (only when given). Only what differs from the user as stored is changed.
async fn update_user(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "User");
    let p = load_user(&s, &session, &id, &chrome).await?;
    let back = format!("/manage/users/{}", p.id);
    let mut patch = PrincipalPatch::default();
    match form.get("display_name") {
        None => return Ok(redirect_with(&back, Flash::error("Display name: give one."))),
        Some(d) if d != p.display_name => patch.display_name = Some(d),
        Some(_) => {}
    }
    let email = form.get("email");
    if email != p.email {
        patch.email = Some(email);
    }
    let manager = match form.get("manager") {
        None => None,
        Some(m) => match manager_id(&s, &session, &m).await {
            Ok(id) => Some(id),
            Err(msg) => return Ok(redirect_with(&back, Flash::error(msg))),
        },
    };
    if manager != p.manager_id {
        patch.manager_id = Some(manager);
    }
    let (enabled, emergency) = (form.checked("enabled"), form.checked("emergency_access"));
    patch.enabled = (enabled != p.enabled).then_some(enabled);
    patch.emergency_access = (emergency != p.emergency_access).then_some(emergency);
    patch.password = form.0.iter().find(|(k, v)| k == "password" && !v.is_empty()).map(|(_, v)| v.clone());
    let nothing = patch.display_name.is_none()
        && patch.email.is_none()
        && patch.manager_id.is_none()
        && patch.enabled.is_none()
        && patch.emergency_access.is_none()
        && patch.password.is_none();
    if nothing {
        return Ok(redirect_with(&back, Flash::ok("Nothing to change.")));
    }
    match s.engine.update_principal(&session.ctx, PrincipalKind::User, p.id, patch).await {
        Ok(u) => Ok(redirect_with(&back, Flash::ok(format!("Saved user {}.", u.name)))),
        Err(e) => refused(&session, &back, &e),
    }
}

/// `POST /manage/users/{id}/reset-mfa`.
async fn reset_user_mfa(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: FormData,
) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "User");
    let p = load_user(&s, &session, &id, &chrome).await?;
    let back = format!("/manage/users/{}", p.id);
    match s.engine.reset_mfa(&session.ctx, p.id).await {
        Ok(r) => Ok(redirect_with(
            &back,
            Flash::ok(format!(
                "Reset the MFA of {}: {} and {} removed. They must set up an authenticator again.",
                p.name,
                count(r.factors, "authenticator", "authenticators"),
                count(r.recovery_codes, "recovery code", "recovery codes")
            )),
        )),
        Err(e) => refused(&session, &back, &e),
    }
}
