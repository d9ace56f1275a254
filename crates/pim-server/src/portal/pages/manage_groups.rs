//! Manage, Groups: the groups of the directory (search by name prefix) and creating one; a group's
//! page with its direct members (adding a user or group by name, removing one), the roles the group
//! holds, and its just-in-time membership and ownership (PIM for groups). Reading needs
//! `pim.directory.read` at `/`, changing `pim.directory.write`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use pim_domain::actions::{DIRECTORY_READ, DIRECTORY_WRITE};
use pim_domain::{ErrorKind, Principal, PrincipalId, PrincipalKind, ScopePath};
use pim_engine::directory::NewPrincipal;
use pim_engine::requests::AssignmentQuery;

use super::manage::{Tab, tabs};
use super::manage_lookup::{AssignmentRow, assignment_row, find_principal, kind_word, query};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused;
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render};

/// Most groups the list shows.
const LIST_LIMIT: i64 = 200;

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/groups", get(list_groups).post(create_group))
        .route("/manage/groups/{id}", get(show_group))
        .route("/manage/groups/{id}/members", post(add_member))
        .route("/manage/groups/{id}/members/remove", post(remove_member))
}

struct GroupRow {
    id: String,
    name: String,
    display_name: String,
    description: String,
    email: String,
    enabled: bool,
}

fn row(p: &Principal) -> GroupRow {
    GroupRow {
        id: p.id.to_string(),
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        description: p.description.clone().unwrap_or_default(),
        email: p.email.clone().unwrap_or_default(),
        enabled: p.enabled,
    }
}

#[derive(Template)]
#[template(path = "manage_groups.html")]
struct GroupsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    q: String,
    groups: Vec<GroupRow>,
    more: bool,
    may_write: bool,
}

/// `GET /manage/groups?q=prefix`.
async fn list_groups(State(s): State<AppState>, session: Session, raw: RawQuery) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Groups");
    let q = query(raw).get("q").unwrap_or_default();
    let prefix = Some(q.clone()).filter(|q| !q.is_empty());
    let groups = s
        .engine
        .list_principals(&session.ctx, PrincipalKind::Group, prefix, None, LIST_LIMIT + 1)
        .await
        .map_err(|e| PortalError::from(e).within(&chrome))?;
    Ok(render(&GroupsPage {
        tabs: tabs(&s, &session, "groups"),
        q,
        more: groups.len() as i64 > LIST_LIMIT,
        groups: groups.iter().take(LIST_LIMIT as usize).map(row).collect(),
        may_write: s.engine.allowed(&session.ctx, DIRECTORY_WRITE, &ScopePath::root()),
        chrome,
    }))
}

/// `POST /manage/groups`: `name`, `display_name`, `description`, `email`.
async fn create_group(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let new = NewPrincipal {
        name: form.get("name").unwrap_or_default(),
        display_name: form.get("display_name"),
        description: form.get("description"),
        email: form.get("email"),
        ..Default::default()
    };
    match s.engine.create_principal(&session.ctx, PrincipalKind::Group, new).await {
        Ok(g) => {
            Ok(redirect_with(&format!("/manage/groups/{}", g.id), Flash::ok(format!("Created group {}.", g.name))))
        }
        Err(e) => refused(&session, "/manage/groups", &e),
    }
}

struct MemberRow {
    id: String,
    name: String,
    kind: &'static str,
    href: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "manage_groups_show.html")]
struct GroupPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    group: GroupRow,
    members: Vec<MemberRow>,
    held: Vec<AssignmentRow>,
    membership: Vec<AssignmentRow>,
    may_write: bool,
}

/// The group `id` (a 404 for anything else), for readers of the directory.
async fn load_group(s: &AppState, session: &Session, id: &str, chrome: &Chrome) -> Result<Principal, PortalError> {
    if !s.engine.allowed(&session.ctx, DIRECTORY_READ, &ScopePath::root()) {
        let msg = format!("{} lacks the permission {DIRECTORY_READ} at /", session.actor.name);
        return Err(PortalError::new(ErrorKind::Forbidden, msg).within(chrome));
    }
    let no_such = || PortalError::new(ErrorKind::NotFound, format!("there is no group {id}")).within(chrome);
    let id: PrincipalId = id.parse().map_err(|_| no_such())?;
    let p =
        s.engine.get_principal(&session.ctx, &id.to_string()).await.map_err(|e| PortalError::from(e).within(chrome))?;
    if p.kind != PrincipalKind::Group {
        return Err(no_such());
    }
    Ok(p)
}

/// `GET /manage/groups/{id}`.
async fn show_group(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> PortalResult {
    let mut chrome = Chrome::new(&session, "manage", "Group");
    let g = load_group(&s, &session, &id, &chrome).await?;
    chrome.title = format!("Group {}", g.name);
    let fail = |e| PortalError::from(e).within(&chrome);
    let members = s.engine.list_members(&session.ctx, g.id).await.map_err(fail)?;
    let mut members: Vec<MemberRow> = members
        .iter()
        .map(|m| MemberRow {
            id: m.id.to_string(),
            name: m.name.clone(),
            kind: kind_word(m.kind),
            href: match m.kind {
                PrincipalKind::Group => format!("/manage/groups/{}", m.id),
                _ => format!("/manage/users/{}", m.id),
            },
            enabled: m.enabled,
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let held_q = AssignmentQuery { principal: Some(g.id), limit: 500, ..Default::default() };
    let held = s.engine.list_assignments(&session.ctx, held_q).await.map_err(fail)?;
    let jit_q = AssignmentQuery { scope: Some(ScopePath::for_group(g.id)), limit: 500, ..Default::default() };
    let membership = s.engine.list_assignments(&session.ctx, jit_q).await.map_err(fail)?;
    Ok(render(&GroupPage {
        tabs: tabs(&s, &session, "groups"),
        group: row(&g),
        members,
        held: held.iter().map(|a| assignment_row(&s, &session, a)).collect(),
        membership: membership.iter().map(|a| assignment_row(&s, &session, a)).collect(),
        may_write: s.engine.allowed(&session.ctx, DIRECTORY_WRITE, &ScopePath::root()),
        chrome,
    }))
}

/// `POST /manage/groups/{id}/members`: `member` (a user or group, by name).
async fn add_member(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Group");
    let g = load_group(&s, &session, &id, &chrome).await?;
    let back = format!("/manage/groups/{}", g.id);
    let m = match find_principal(&s, &session, &form.get("member").unwrap_or_default(), "Member").await {
        Ok(m) => m,
        Err(msg) => return Ok(redirect_with(&back, Flash::error(msg))),
    };
    match s.engine.add_member(&session.ctx, g.id, m.id).await {
        Ok(()) => Ok(redirect_with(&back, Flash::ok(format!("Added {} to {}.", m.name, g.name)))),
        Err(e) => refused(&session, &back, &e),
    }
}

/// `POST /manage/groups/{id}/members/remove`: `member_id`.
async fn remove_member(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Group");
    let g = load_group(&s, &session, &id, &chrome).await?;
    let back = format!("/manage/groups/{}", g.id);
    let Some(member) = form.get("member_id").and_then(|m| m.parse::<PrincipalId>().ok()) else {
        return Ok(redirect_with(&back, Flash::error("Choose the member to remove.")));
    };
    let name = super::manage_lookup::principal_name(&s, member);
    match s.engine.remove_member(&session.ctx, g.id, member).await {
        Ok(()) => Ok(redirect_with(&back, Flash::ok(format!("Removed {name} from {}.", g.name)))),
        Err(e) => refused(&session, &back, &e),
    }
}
