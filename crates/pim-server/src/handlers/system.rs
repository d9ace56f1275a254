//! Health probes and the OpenAPI document.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::AppState;

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "ok", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers. The body says `ready`, then one line per connector with
/// its queue (a failing target does not make pim unready: checks and requests still work).
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.engine.store().read().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable".to_owned());
    }
    let mut body = "ready".to_owned();
    if let Ok(queues) = state.engine.connector_queues().await {
        for q in queues {
            body.push_str(&format!(
                "\nconnector {}: {} due, out of line for {} ms, {} failing",
                q.connector, q.due, q.oldest_due_age_ms, q.failing
            ));
        }
    }
    (StatusCode::OK, body)
}

/// `GET /api/v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::document_json())
}
