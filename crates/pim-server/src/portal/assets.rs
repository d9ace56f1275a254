//! The portal's style sheet and script, compiled into the binary (no front-end build), served
//! from `/static/` with a short cache lifetime.

use axum::http::header;
use axum::response::IntoResponse;

/// `GET /static/pim.css`.
pub async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        include_str!("../../static/pim.css"),
    )
}

/// `GET /static/pim.js`.
pub async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        include_str!("../../static/pim.js"),
    )
}
