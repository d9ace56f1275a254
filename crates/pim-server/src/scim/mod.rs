//! `/scim/v2` (RFC 7644): the SCIM client's bearer check before anything else, `application/scim+json`
//! bodies, errors in SCIM's format with `scimType`, and the routes (discovery in `discovery`, users
//! and groups in `resources`). Not in the OpenAPI document: SCIM has its own discovery.

mod discovery;
mod resources;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pim_engine::Context;
use pim_engine::scim::ScimAuthority;
use pim_scim::ScimError;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// The path every SCIM route is under.
pub const PREFIX: &str = "/scim/v2";
/// SCIM's media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// The routes of `/scim/v2`, all behind [`require_scim_client`].
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/Users", get(resources::list_users).post(resources::create_user))
        .route("/scim/v2/Users/.search", post(resources::search_users))
        .route(
            "/scim/v2/Users/{id}",
            get(resources::get_user)
                .put(resources::replace_user)
                .patch(resources::patch_user)
                .delete(resources::delete_user),
        )
        .route("/scim/v2/Groups", get(resources::list_groups).post(resources::create_group))
        .route("/scim/v2/Groups/.search", post(resources::search_groups))
        .route(
            "/scim/v2/Groups/{id}",
            get(resources::get_group)
                .put(resources::replace_group)
                .patch(resources::patch_group)
                .delete(resources::delete_group),
        )
        .route("/scim/v2/.search", post(search_everything))
        .route_layer(from_fn_with_state(state.clone(), require_scim_client))
}

/// A refusal, answered in SCIM's error format (RFC 7644 §3.12) as `application/scim+json`.
#[derive(Debug)]
pub struct Fail(pub ScimError);

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Fail(e)
    }
}

impl From<pim_scim::filter::FilterError> for Fail {
    fn from(e: pim_scim::filter::FilterError) -> Self {
        Fail(e.into())
    }
}

impl From<pim_engine::EngineError> for Fail {
    fn from(e: pim_engine::EngineError) -> Self {
        let api = ApiError::from(e);
        let status = api.status().as_u16();
        let scim_type = match (status, api.code()) {
            (409, "name_taken" | "already_exists") => Some("uniqueness"),
            (400, _) => Some("invalidValue"),
            _ => None,
        };
        Fail(ScimError { status, scim_type, detail: api.detail().to_owned() })
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let ScimError { status, scim_type, detail } = self.0;
        let mut body = json!({
            "schemas": [pim_scim::schema::ERROR],
            "status": status.to_string(),
            "detail": pim_domain::message::bounded(detail),
        });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = scim_json(code, &body);
        if code == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"pim SCIM\""));
        }
        resp
    }
}

/// A handler's result.
pub type ScimResult = Result<Response, Fail>;

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}

/// Refuses with SCIM's `401` (nothing read, changed or audited) a request without the secret of a
/// registered, unrevoked SCIM client; otherwise records the client for [`ScimCtx`]. API tokens and
/// portal sessions are refused here, administrators' included.
pub async fn require_scim_client(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let refused = |detail: &str| Fail(ScimError { status: 401, scim_type: None, detail: detail.to_owned() });
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .map(str::to_owned);
    let Some(secret) = secret else {
        return refused("send 'Authorization: Bearer <SCIM client secret>'").into_response();
    };
    if secret.starts_with(pim_engine::auth::TOKEN_PREFIX) {
        return refused(
            "an API token is not a SCIM client secret: register a SCIM client (pim scim clients create NAME)",
        )
        .into_response();
    }
    match s.engine.authenticate_scim(&secret).await {
        Ok(authority) => {
            req.extensions_mut().insert(authority);
            next.run(req).await
        }
        Err(e) => Fail::from(e).into_response(),
    }
}

/// The context of a SCIM client's call.
#[derive(Debug, Clone)]
pub struct ScimCtx(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for ScimCtx {
    type Rejection = Fail;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let authority = parts
            .extensions
            .get::<ScimAuthority>()
            .cloned()
            .ok_or_else(|| Fail(ScimError { status: 401, scim_type: None, detail: "sign in first".into() }))?;
        let addr = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(ScimCtx(Context::for_scim(authority, crate::extract::request_id(parts), addr)))
    }
}

/// A JSON body as SCIM clients send it (`application/scim+json` or `application/json`).
#[derive(Debug)]
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = Fail;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || m == SCIM_JSON);
        if !is_json {
            return Err(Fail(ScimError {
                status: 415,
                scim_type: None,
                detail: "send the body as JSON with 'Content-Type: application/scim+json'".into(),
            }));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Fail(ScimError { status: 413, scim_type: None, detail: "the body is larger than 1 MiB".into() })
            } else {
                Fail(ScimError::bad("invalidSyntax", "could not read the body"))
            }
        })?;
        crate::extract::parse_json_object::<Value>(&bytes)
            .map(ScimBody)
            .map_err(|e| Fail(ScimError::bad("invalidSyntax", e.detail().to_owned())))
    }
}

/// The URL of `/scim/v2` as clients reach it: under the public URL when one is configured, else
/// the request's `Host` with the scheme the server is served on.
pub fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = &s.portal.public_origin {
        return format!("{origin}{PREFIX}");
    }
    let scheme = if s.portal.secure_cookies { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| crate::portal::origin::origin_of(&format!("{scheme}://{h}/")))
        .unwrap_or_else(|| format!("{scheme}://localhost"));
    format!("{host}{PREFIX}")
}

/// Searching every resource type at once is not offered (RFC 7644 §3.4.3 allows the refusal).
async fn search_everything() -> Fail {
    Fail(ScimError {
        status: 501,
        scim_type: None,
        detail: "search /Users/.search or /Groups/.search; searching every resource type at once is not supported"
            .into(),
    })
}

/// Unknown paths under `/scim/v2`, in SCIM's format.
pub fn not_found() -> Response {
    Fail(ScimError { status: 404, scim_type: None, detail: "no such SCIM endpoint; see /scim/v2/ResourceTypes".into() })
        .into_response()
}

/// Known paths under `/scim/v2` with another method, in SCIM's format.
pub fn method_not_allowed() -> Response {
    Fail(ScimError { status: 405, scim_type: None, detail: "this SCIM endpoint does not take that method".into() })
        .into_response()
}

/// Whether a path is under `/scim/v2` (or is it).
pub fn is_scim_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/scim/v2/")
}

/// The `{id}` of a SCIM path; one that cannot be read names nothing (`404`).
#[derive(Debug, Clone)]
pub struct ScimId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ScimId {
    type Rejection = Fail;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| ScimId(p.0))
            .map_err(|_| Fail(ScimError { status: 404, scim_type: None, detail: "no resource has that id".into() }))
    }
}
