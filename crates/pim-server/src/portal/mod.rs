//! The web portal (SPEC section 13; docs/PORTAL.md): server-rendered pages at `/` over the same
//! engine use cases, with the same authorization, as the API. Askama templates in `templates/`,
//! a style sheet and a small script in `static/`; no front-end build. Sessions and the
//! anti-forgery guard are in `session`, the security headers in `security`, what pages share in
//! `view`, and each section's pages in `pages/`.

pub mod assets;
pub mod next;
pub mod oidc;
pub mod origin;
pub mod pages;
pub mod security;
pub mod session;
pub mod setup;
pub mod view;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pim_domain::time::{HOUR_MS, MINUTE_MS};

use crate::AppState;
use session::Session;

/// How portal sessions behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalOptions {
    /// A session not used for this long ends (ms).
    pub idle_ms: i64,
    /// A session ends this long after sign-in, used or not (ms).
    pub absolute_ms: i64,
    /// Cookies are `Secure` (and HSTS is sent): the portal is reached over TLS.
    pub secure_cookies: bool,
    /// The portal's origin (`https://pim.example.com`) from the public URL; forms must come from
    /// it. Without one, the request's `Host` with the scheme `secure_cookies` implies.
    pub public_origin: Option<String>,
}

/// Default idle timeout: 30 minutes.
pub const DEFAULT_IDLE_MS: i64 = 30 * MINUTE_MS;
/// Default absolute timeout: 8 hours.
pub const DEFAULT_ABSOLUTE_MS: i64 = 8 * HOUR_MS;

impl Default for PortalOptions {
    fn default() -> Self {
        PortalOptions {
            idle_ms: DEFAULT_IDLE_MS,
            absolute_ms: DEFAULT_ABSOLUTE_MS,
            secure_cookies: false,
            public_origin: None,
        }
    }
}

/// Every portal route, behind the session guard; the static files outside it.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(home))
        .route("/signin", get(session::signin_page).post(session::signin))
        .route("/signout", post(session::signout))
        .route("/portal/oidc/{name}", get(oidc::begin))
        .route("/portal/oidc/{name}/callback", get(oidc::callback))
        .route("/setup", get(setup::setup_page).post(setup::setup))
        .merge(pages::my_roles::routes())
        .merge(pages::mfa::routes())
        .merge(pages::requests::routes())
        .merge(pages::approvals::routes())
        .merge(pages::reviews::routes())
        .merge(pages::manage::routes())
        .merge(pages::audit::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), session::guard));
    Router::new().route("/static/pim.css", get(assets::css)).route("/static/pim.js", get(assets::js)).merge(pages)
}

/// `GET /`: My roles when signed in, else the sign-in page.
async fn home(session: Option<Session>) -> Response {
    match session {
        Some(_) => Redirect::to("/roles").into_response(),
        None => Redirect::to("/signin").into_response(),
    }
}

/// The 404 page for paths outside the API.
pub fn not_found_page() -> Response {
    view::PortalError::new(pim_domain::ErrorKind::NotFound, "there is no such page in pim").into_response()
}
