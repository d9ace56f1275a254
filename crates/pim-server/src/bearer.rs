//! Authentication first: every non-public `/api/v1` route resolves its bearer token before any extractor runs.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pim_engine::Actor;

use crate::AppState;
use crate::error::ApiError;

/// The caller of a non-public route, put in the request's extensions by [`require_bearer`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

/// Refuses with `401 unauthenticated` (nothing read, nothing changed, nothing audited) a request
/// without a valid `Authorization: Bearer` token; otherwise records its caller for [`crate::extract::Ctx`].
pub async fn require_bearer(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let actor = match bearer_token(req.headers()) {
        Ok(token) => s.engine.authenticate(token).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match actor {
        Ok(actor) => {
            req.extensions_mut().insert(Authenticated(actor));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
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
