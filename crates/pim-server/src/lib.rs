//! pim's HTTP server: the `/api/v1` handlers over the engine, authentication by bearer token,
//! problem+json errors, request ids, the OpenAPI document, SCIM 2.0 at `/scim/v2`, and the web
//! portal at `/`.

pub mod bearer;
pub mod csv_export;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod linger;
pub mod metrics;
pub mod openapi;
pub mod openapi_limits;
pub mod openapi_refusals;
pub mod paging;
pub mod portal;
pub mod rate_limit;
pub mod scim;
pub mod stack;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use parking_lot::Mutex;
use pim_engine::Engine;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest body accepted where no token or session is needed (setup, sign-in, the portal's forms
/// before sign-in): a name, a password and a code fit many times over.
pub const ANONYMOUS_BODY_LIMIT: usize = 16 * 1024;

/// What every handler can reach: one shared allocation, so a clone per request is one counter.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The contents of [`AppState`].
pub struct AppInner {
    /// The use cases.
    pub engine: Engine,
    /// The one-time setup secret, while the server has no account.
    pub setup: Arc<SetupGate>,
    /// Prometheus counters.
    pub metrics: Arc<metrics::Metrics>,
    /// How portal sessions behave.
    pub portal: portal::PortalOptions,
    /// The per-source rate limit on the anonymous endpoints.
    pub rate_limit: rate_limit::SourceLimiter,
}

impl AppState {
    /// State over `engine`, accepting `setup_secret` once while the server has no account.
    pub fn new(engine: Engine, setup_secret: Option<String>) -> AppState {
        AppState::with_portal(engine, setup_secret, portal::PortalOptions::default())
    }

    /// [`AppState::new`] with the portal's session settings.
    pub fn with_portal(engine: Engine, setup_secret: Option<String>, portal: portal::PortalOptions) -> AppState {
        AppState::with_options(engine, setup_secret, portal, rate_limit::RateLimitOptions::default())
    }

    /// [`AppState::with_portal`] with the rate limit of the anonymous endpoints.
    pub fn with_options(
        engine: Engine,
        setup_secret: Option<String>,
        portal: portal::PortalOptions,
        rate_limit: rate_limit::RateLimitOptions,
    ) -> AppState {
        AppState(Arc::new(AppInner {
            engine,
            setup: Arc::new(SetupGate::with_secret(setup_secret)),
            metrics: Arc::default(),
            portal,
            rate_limit: rate_limit::SourceLimiter::new(rate_limit),
        }))
    }
}

/// Holds the one-time setup secret printed at start on an empty database.
#[derive(Debug, Default)]
pub struct SetupGate(Mutex<Option<String>>);

impl SetupGate {
    /// A gate that accepts `secret` once.
    pub fn with_secret(secret: Option<String>) -> SetupGate {
        SetupGate(Mutex::new(secret))
    }
    /// Takes the secret if `given` matches it (constant-time comparison); it cannot be used twice.
    pub fn take_if(&self, given: &str) -> bool {
        let mut guard = self.0.lock();
        let ok = guard.as_deref().is_some_and(|s| constant_time_eq(s.as_bytes(), given.as_bytes()));
        if ok {
            *guard = None;
        }
        ok
    }
    /// Puts a secret back (when setup failed after taking it).
    pub fn restore(&self, secret: String) {
        *self.0.lock() = Some(secret);
    }
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The whole HTTP application, as [`serve`] runs it.
pub type App = stack::Stack;

/// The whole HTTP application: the routes inside pim's middleware ([`stack`]), which wraps the
/// router once (a layer given to `Router::layer` wraps every route, and is boxed and cloned
/// again per request).
pub fn app(state: AppState) -> App {
    let router = handlers::routes(&state)
        .merge(portal::routes(&state))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    stack::Stack::new(state, router)
}

/// Unknown paths: problem+json under `/api/` (and for the other machine endpoints), the portal's
/// 404 page elsewhere.
async fn fallback(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if scim::is_scim_path(uri.path()) {
        scim::not_found()
    } else if uri.path().starts_with("/api/") || uri.path() == "/api" {
        extract::not_found().await.into_response()
    } else {
        portal::not_found_page()
    }
}

/// Known paths with another method: in SCIM's format under `/scim/v2`, problem+json elsewhere.
async fn method_not_allowed(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if scim::is_scim_path(uri.path()) {
        scim::method_not_allowed()
    } else {
        extract::method_not_allowed().await.into_response()
    }
}

/// Serves the application on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app(state));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// How often the background jobs run by default.
pub const JOB_INTERVAL: Duration = Duration::from_secs(5);
