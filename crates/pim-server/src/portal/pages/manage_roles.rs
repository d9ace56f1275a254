//! Manage, the manage_roles tab (being built).

use axum::Router;

use crate::AppState;

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
}
