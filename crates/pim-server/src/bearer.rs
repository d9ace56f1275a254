//! Authentication first: every non-public `/api/v1` route resolves its bearer token before any extractor runs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pim_engine::Actor;
use tower::{Layer, Service};

use crate::AppState;
use crate::error::ApiError;

/// The caller of a non-public route, put in the request's extensions by [`RequireBearer`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

/// The layer of [`RequireBearer`] (a hand-written service: one boxed future per request, no
/// `from_fn` plumbing).
#[derive(Clone, Debug)]
pub struct RequireBearerLayer {
    state: AppState,
}

impl RequireBearerLayer {
    /// The layer authenticating against `state`'s engine.
    pub fn new(state: AppState) -> RequireBearerLayer {
        RequireBearerLayer { state }
    }
}

impl<S> Layer<S> for RequireBearerLayer {
    type Service = RequireBearer<S>;
    fn layer(&self, inner: S) -> RequireBearer<S> {
        RequireBearer { state: self.state.clone(), inner }
    }
}

/// Refuses with `401 unauthenticated` (nothing read, nothing changed, nothing audited) a request
/// without a valid `Authorization: Bearer` token; otherwise records its caller for
/// [`crate::extract::Ctx`] and passes the request on.
#[derive(Clone, Debug)]
pub struct RequireBearer<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for RequireBearer<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The service that was made ready is the one called; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            match authenticate(&state, req.headers()).await {
                Ok(actor) => {
                    req.extensions_mut().insert(Authenticated(actor));
                    inner.call(req).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}

/// The caller of a request with `headers` by its bearer token, or the `401` that refuses it: what
/// [`RequireBearer`] decides (the check routes call it directly, see [`crate::stack`]).
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let token = bearer_token(headers)?;
    state.engine.authenticate(token).await.map_err(ApiError::from)
}

/// The token of `Authorization: Bearer <token>`, or why there is none.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let refused = |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| refused("sign in first: send 'Authorization: Bearer <token>'"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| refused("use 'Authorization: Bearer <token>'"))
}
