//! Manage: the administrators' section. `/manage` opens the first tab the user may read; each tab
//! is its own module (`manage_*`). The tabs show only to users who may read what they hold
//! somewhere (at `/` or at a scope of theirs).

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pim_domain::actions;

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::PortalError;

/// The tabs: id, address, label, and the action that shows it.
pub const TABS: &[(&str, &str, &str, &str)] = &[
    ("users", "/manage/users", "Users", actions::DIRECTORY_READ),
    ("groups", "/manage/groups", "Groups", actions::DIRECTORY_READ),
    ("roles", "/manage/roles", "Roles", actions::ROLES_READ),
    ("assignments", "/manage/assignments", "Assignments", actions::ASSIGNMENTS_READ),
    ("settings", "/manage/settings", "Role settings", actions::SETTINGS_READ),
    ("alerts", "/manage/alerts", "Alerts", actions::ALERTS_READ),
    ("reviews", "/manage/reviews", "Access reviews", actions::REVIEWS_READ),
    ("audiences", "/manage/audiences", "Audiences", actions::TOKENS_READ),
];

/// One tab of the Manage section.
#[derive(Clone, Debug)]
pub struct Tab {
    /// Its address.
    pub href: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Whether it is the current one.
    pub current: bool,
}

/// The actions the engine checks at `/` only: their tabs show to holders at `/`.
const AT_ROOT: &[&str] = &[actions::DIRECTORY_READ, actions::ROLES_READ, actions::ALERTS_READ, actions::TOKENS_READ];

/// Whether the caller may use a tab shown by `action`.
fn visible(state: &AppState, ctx: &pim_engine::Context, action: &str) -> bool {
    if AT_ROOT.contains(&action) {
        state.engine.allowed(ctx, action, &pim_domain::ScopePath::root())
    } else {
        state.engine.allowed_anywhere(ctx, &[action])
    }
}

/// Whether the caller sees any tab: the Manage menu entry shows then.
pub fn may_manage(state: &AppState, ctx: &pim_engine::Context) -> bool {
    TABS.iter().any(|(_, _, _, action)| visible(state, ctx, action))
}

/// The tabs `session` may see, `current` marked.
pub fn tabs(state: &AppState, session: &Session, current: &str) -> Vec<Tab> {
    TABS.iter()
        .filter(|(_, _, _, action)| visible(state, &session.ctx, action))
        .map(|(id, href, label, _)| Tab { href, label, current: *id == current })
        .collect()
}

/// The routes of this section (each tab's module adds its own).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage", get(landing))
        .merge(super::manage_directory::routes())
        .merge(super::manage_groups::routes())
        .merge(super::manage_roles::routes())
        .merge(super::manage_assignments::routes())
        .merge(super::manage_settings::routes())
        .merge(super::manage_alerts::routes())
        .merge(super::manage_reviews::routes())
        .merge(super::manage_audiences::routes())
}

async fn landing(axum::extract::State(s): axum::extract::State<AppState>, session: Session) -> Response {
    match tabs(&s, &session, "").first() {
        Some(t) => Redirect::to(t.href).into_response(),
        None => {
            PortalError::new(pim_domain::ErrorKind::Forbidden, "you may not manage anything in pim").into_response()
        }
    }
}
