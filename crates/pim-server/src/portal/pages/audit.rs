//! The audit section of the portal (being built).

use axum::Router;

use crate::AppState;

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new()
}
