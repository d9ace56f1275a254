//! What the Manage tabs share: the gate in front of each tab (403 for users who may not use it
//! anywhere), the query string as form data, names typed by people resolved into principals and
//! roles, names shown in place of ids, scopes and numbers read with a message naming the field,
//! and assignment rows as the tabs list them.

use axum::extract::RawQuery;
use pim_domain::actions::{ASSIGNMENTS_WRITE, DIRECTORY_READ, ROLES_READ};
use pim_domain::{Assignment, ErrorKind, PrincipalId, PrincipalKind, RoleDefinition, ScopePath};

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused_text;
use crate::portal::view::{Chrome, FormData, PortalError, end, time};
pub use crate::portal::view::{principal_name, role_name};

/// Refuses (403, inside `chrome`) a user who may not perform `action` at any scope.
pub fn gate(s: &AppState, session: &Session, action: &str, chrome: &Chrome) -> Result<(), PortalError> {
    if s.engine.scopes_allowing(&session.ctx, action).is_empty() {
        return Err(PortalError::new(
            ErrorKind::Forbidden,
            format!("{} lacks the permission {action}", session.actor.name),
        )
        .within(chrome));
    }
    Ok(())
}

/// The query string of a page, read like a form (never refused: unknown keys are ignored).
pub fn query(raw: RawQuery) -> FormData {
    FormData(raw.0.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default())
}

/// A principal found by name or id.
#[derive(Clone, Debug)]
pub struct Found {
    /// Its id.
    pub id: PrincipalId,
    /// Its kind.
    pub kind: PrincipalKind,
    /// Its name.
    pub name: String,
}

/// The principal named (or identified) by `text`. Readers of the directory (at `/`) look it up
/// through the engine; administrators who may read the directory only at a scope of theirs (a
/// scoped User Access Administrator must name whom it assigns) resolve the name through the
/// access index; others may not look names up.
pub async fn find_principal(s: &AppState, session: &Session, text: &str, what: &str) -> Result<Found, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{what}: give a name."));
    }
    if s.engine.allowed(&session.ctx, DIRECTORY_READ, &ScopePath::root()) {
        return match s.engine.get_principal(&session.ctx, text).await {
            Ok(p) => Ok(Found { id: p.id, kind: p.kind, name: p.name }),
            Err(e) if e.refusal().is_some_and(|d| d.kind == ErrorKind::NotFound) => Err(unknown(what, text)),
            Err(e) => Err(format!("{what}: {}", refused_text(&e))),
        };
    }
    if s.engine.scopes_allowing(&session.ctx, DIRECTORY_READ).is_empty() {
        return Err(format!("{what}: {} may not look up names in the directory.", session.actor.name));
    }
    let id = text.parse::<PrincipalId>().ok().or_else(|| s.engine.index().resolve_name(text));
    match id.and_then(|id| s.engine.index().principal(id)) {
        Some(p) => Ok(Found { id: p.id, kind: p.kind, name: p.name }),
        None => Err(unknown(what, text)),
    }
}

fn unknown(what: &str, text: &str) -> String {
    format!("{what}: there is no user, group or service principal named '{text}'.")
}

/// The role named (or identified) by `text`.
pub async fn find_role(s: &AppState, session: &Session, text: &str) -> Result<RoleDefinition, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Role: choose a role.".to_owned());
    }
    s.engine.get_role(&session.ctx, text).await.map_err(|e| match e.refusal() {
        Some(d) if d.kind == ErrorKind::NotFound => format!("Role: there is no role named '{text}'."),
        _ => format!("Role: {}", refused_text(&e)),
    })
}

/// The names of the roles to offer in a role field: every role for readers of role definitions,
/// else the built-in ones (any other role can still be typed by name).
pub async fn role_names(s: &AppState, session: &Session) -> Vec<String> {
    let roles = if s.engine.allowed(&session.ctx, ROLES_READ, &ScopePath::root()) {
        s.engine.list_roles(&session.ctx).await.unwrap_or_default()
    } else {
        pim_domain::role::builtin_roles()
    };
    roles.into_iter().map(|r| r.name).collect()
}

/// A scope typed by people; the message names the field.
pub fn parse_scope(text: &str, what: &str) -> Result<ScopePath, String> {
    ScopePath::parse(text.trim()).map_err(|e| format!("{what}: {e}."))
}

/// A number typed by people, `None` when blank; the message names the field.
pub fn number<T: std::str::FromStr>(form: &FormData, name: &str, what: &str) -> Result<Option<T>, String> {
    match form.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{what}: '{v}' is not a valid number.")),
    }
}

/// Where the signed-in user may manage assignments (most general first).
pub fn assign_scopes(s: &AppState, session: &Session) -> Vec<ScopePath> {
    s.engine.scopes_allowing(&session.ctx, ASSIGNMENTS_WRITE)
}

/// An assignment as the Manage tabs list it.
#[derive(Clone, Debug)]
pub struct AssignmentRow {
    /// Its id.
    pub id: String,
    /// Who holds it.
    pub principal: String,
    /// `user`, `group` or `service principal`.
    pub principal_kind: &'static str,
    /// The holder's page, when it has one.
    pub principal_href: Option<String>,
    /// The role.
    pub role: String,
    /// The scope.
    pub scope: String,
    /// `eligible`, `active` or `activation`.
    pub kind: &'static str,
    /// When it starts.
    pub start: String,
    /// When it ends, or `permanent`.
    pub end: String,
    /// `in effect`, `starts later` or `ended`.
    pub state: &'static str,
    /// The request that created it.
    pub request: String,
    /// The signed-in user may remove it or change its window.
    pub changeable: bool,
    /// The signed-in user may renew it (it ended, and is not an activation).
    pub renewable: bool,
    /// Its window for the change form.
    pub start_input: String,
    /// Its end for the change form (empty when permanent).
    pub end_input: String,
}

/// The kind of a principal, for people.
pub fn kind_word(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Group => "group",
        PrincipalKind::ServicePrincipal => "service principal",
    }
}

/// A row for `a`, with what the signed-in user may do with it.
pub fn assignment_row(s: &AppState, session: &Session, a: &Assignment) -> AssignmentRow {
    let now = s.engine.now();
    let may_write = s.engine.allowed(&session.ctx, ASSIGNMENTS_WRITE, &a.scope);
    let ended = a.window.has_ended(now);
    AssignmentRow {
        id: a.id.to_string(),
        principal: principal_name(s, a.principal_id),
        principal_kind: kind_word(a.principal_kind),
        principal_href: match a.principal_kind {
            PrincipalKind::User => Some(format!("/manage/users/{}", a.principal_id)),
            PrincipalKind::Group => Some(format!("/manage/groups/{}", a.principal_id)),
            PrincipalKind::ServicePrincipal => None,
        },
        role: role_name(s, a.role_id),
        scope: a.scope.to_string(),
        kind: if a.is_activation() { "activation" } else { a.kind.as_str() },
        start: time(a.window.start),
        end: end(&a.window),
        state: if ended {
            "ended"
        } else if a.window.start > now {
            "starts later"
        } else {
            "in effect"
        },
        request: a.created_by_request.to_string(),
        changeable: may_write && !ended,
        renewable: may_write && ended && !a.is_activation(),
        start_input: crate::portal::view::input_time(a.window.start),
        end_input: a.window.end.map(crate::portal::view::input_time).unwrap_or_default(),
    }
}
