//! Extractors whose rejections are problem+json: JSON bodies, query strings, path ids, and the
//! caller's [`Context`] (authenticated actor, request id, client address).

use std::net::SocketAddr;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use pim_engine::Context;
use serde::de::DeserializeOwned;

use crate::bearer::Authenticated;
use crate::error::ApiError;

/// A JSON object body; malformed, mistyped, non-object or oversized bodies become clear 4xx problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = JsonBytes::from_request(req, state).await?.0;
        parse_json_object(&bytes).map(Json)
    }
}

/// The bytes of a body sent as JSON (media type and size checked as for [`Json`]), for handlers
/// that pick the shape to parse from the body itself: parse it with [`parse_json_object`].
#[derive(Debug, Clone, Default)]
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with 'Content-Type: application/json'",
            ));
        }
        // The message below names both limits.
        const _: () = assert!(crate::BODY_LIMIT == 1024 * 1024 && crate::ANONYMOUS_BODY_LIMIT == 16 * 1024);
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is too large: at most 1 MiB, and 16 KiB where no token is needed",
                )
            } else {
                ApiError::bad_request(format!("could not read the body: {}", rej.body_text()))
            }
        })?;
        Ok(JsonBytes(bytes))
    }
}

/// A body sent as JSON or as `application/x-www-form-urlencoded` (RFC 7662 introspection takes
/// both); the same problems as [`Json`] for anything else.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Json::<T>::from_request(req, state).await.map(|j| JsonOrForm(j.0)).map_err(|e| {
                if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_media_type",
                        "send the body form-encoded (application/x-www-form-urlencoded) or as JSON",
                    )
                } else {
                    e
                }
            });
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is too large: at most 1 MiB")
            } else {
                ApiError::bad_request(format!("could not read the body: {}", rej.body_text()))
            }
        })?;
        let mut fields = serde_json::Map::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            if k.contains('\0') || v.contains('\0') {
                return Err(ApiError::bad_request("text in the body must not contain NUL characters"));
            }
            if fields.insert(k.clone().into_owned(), serde_json::Value::String(v.into_owned())).is_some() {
                return Err(ApiError::bad_request(format!(
                    "the form field '{}' is given twice",
                    k.chars().take(40).collect::<String>()
                )));
            }
        }
        serde_json::from_value(serde_json::Value::Object(fields))
            .map(JsonOrForm)
            .map_err(|e| ApiError::bad_request(format!("the form does not match the expected fields: {e}")))
    }
}

/// Parses a body that must be one JSON object without NUL characters in its strings (into a type
/// that may borrow from `bytes`).
pub fn parse_json_object<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(ApiError::bad_request("the body is empty; send a JSON object")),
        Some(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
    }
    if has_escaped_nul(bytes) {
        return Err(ApiError::bad_request("text in the body must not contain NUL characters"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::bad_request(format!("the body does not match the expected shape: {e}")),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

/// Whether the JSON text holds a `\u0000` escape (a raw NUL is invalid JSON anyway).
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(6).position(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        let at = i + pos;
        // The escape is real when an even number of backslashes precedes it.
        let preceding = bytes[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if preceding % 2 == 0 {
            return true;
        }
        i = at + 1;
    }
    false
}

/// Where a JSON response is written: room for a check's answer or a small object at once (axum
/// starts at 128 bytes and grows twice for one).
const JSON_RESPONSE_CAPACITY: usize = 512;

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        let mut buf = Vec::with_capacity(JSON_RESPONSE_CAPACITY);
        if serde_json::to_writer(&mut buf, &self.0).is_err() {
            // axum's own answer to a value that cannot be serialized (a 500).
            return axum::Json(self.0).into_response();
        }
        let mut resp = axum::response::Response::new(axum::body::Body::from(buf));
        // The security headers and the request id follow: room for them in one allocation.
        resp.headers_mut().reserve(12);
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
        resp
    }
}

/// A query string; bad values, and parameters left empty (`?actor=`), become `400 invalid_input`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(name) = empty_parameter(parts.uri.query().unwrap_or_default()) {
            let name: String = name.chars().take(40).collect();
            return Err(ApiError::bad_request(format!(
                "the query parameter '{name}' is empty: give it a value, or leave it out for no filter"
            )));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Query(q.0)).map_err(
            |e: QueryRejection| ApiError::bad_request(format!("the query string is not valid: {}", e.body_text())),
        )
    }
}

/// The name of the first parameter of `query` without a value (`a=` or `a`), if any.
fn empty_parameter(query: &str) -> Option<&str> {
    query.split('&').filter(|pair| !pair.is_empty()).find_map(|pair| match pair.split_once('=') {
        None => Some(pair),
        Some((name, "")) => Some(name),
        Some(_) => None,
    })
}

/// Path parameters; bad ids become `400 invalid_input`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Path(p.0)).map_err(
            |e: PathRejection| ApiError::bad_request(format!("a path parameter is not valid: {}", e.body_text())),
        )
    }
}

/// The caller: the actor [`crate::bearer::RequireBearer`] authenticated before any extractor
/// ran, or none on the public routes.
#[derive(Debug, Clone)]
pub struct Ctx(pub Context);

/// The context of a request before authentication: its request id and client address.
pub fn anonymous_context(parts: &Parts) -> Context {
    Context {
        actor: None,
        http_request_id: request_id(parts),
        client_addr: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
        on_behalf_of: None,
        scim: None,
    }
}

pub(crate) fn request_id(parts: &Parts) -> Option<String> {
    let v = parts.headers.get("x-request-id")?.to_str().ok()?;
    (v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())).then(|| v.to_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut ctx = anonymous_context(parts);
        // Taken, not copied: the handler's one `Ctx` is all that reads it.
        ctx.actor = parts.extensions.remove::<Authenticated>().map(|a| a.0);
        Ok(Ctx(ctx))
    }
}

/// The refusal of a request whose path or query carries a NUL byte (`%00`): no name, id or
/// filter has one. Origin-form targets (all but proxies') are read in place, not copied.
pub fn nul_refusal(uri: &axum::http::Uri) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let has_nul = |s: &[u8]| s.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"));
    let refused = match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() && uri.authority().is_none() => has_nul(pq.as_str().as_bytes()),
        _ => has_nul(uri.to_string().as_bytes()),
    };
    refused.then(|| ApiError::bad_request("the path or query must not contain NUL characters").into_response())
}

/// `404` for unknown paths, as problem+json.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /api/v1/openapi.json")
}

/// `405` for known paths with another method, as problem+json.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn nul_is_refused_in_the_path_or_query_of_any_target_form() {
        let refused = |target: &str| {
            let uri: axum::http::Uri = target.parse().unwrap_or_default();
            nul_refusal(&uri).map(|r| r.status())
        };
        assert_eq!(refused("/api/v1/principals/a%00b"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(refused("/api/v1/audit?actor=%00"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(refused("/api/v1/audit?actor=x%0"), None, "not a NUL");
        assert_eq!(refused("/x?q=%2500"), None, "an escaped percent sign followed by 00");
        assert_eq!(refused("http://pim.example/api/v1/principals/%00"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(refused("http://pim.example/api/v1/principals"), None);
        assert_eq!(refused("/api/v1/me"), None);
    }

    #[tokio::test]
    async fn json_responses_are_json_with_the_whole_body() {
        use axum::response::IntoResponse;
        let long = "x".repeat(2 * JSON_RESPONSE_CAPACITY);
        for value in [serde_json::json!({"allowed": true}), serde_json::json!({"name": long})] {
            let resp = Json(value.clone()).into_response();
            assert_eq!(resp.status(), StatusCode::OK);
            let ct = resp.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            assert_eq!(ct, Some("application/json"));
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
            assert_eq!(serde_json::from_slice::<serde_json::Value>(&bytes).ok(), Some(value));
        }
    }

    #[test]
    fn empty_query_parameters_are_found() {
        assert_eq!(empty_parameter("limit=5&actor="), Some("actor"));
        assert_eq!(empty_parameter("q=%20&actor"), Some("actor"));
        assert_eq!(empty_parameter("q=x&&limit=1"), None);
        assert_eq!(empty_parameter(""), None);
    }

    #[test]
    fn only_json_objects_without_nul_are_accepted() {
        assert!(parse_json_object::<Body>(br#"{"name": "a"}"#).is_ok());
        assert!(parse_json_object::<Body>(br#"["a"]"#).is_err(), "arrays fill structs by position");
        assert!(parse_json_object::<Body>(b"  ").is_err());
        assert!(parse_json_object::<Body>(br#"{"name": "a\u0000b"}"#).is_err());
        assert!(
            parse_json_object::<Body>(br#"{"name": "a\\u0000b"}"#).is_ok(),
            "an escaped backslash then u0000 is text"
        );
        assert!(parse_json_object::<Body>(br#"{"name": 1}"#).is_err());
    }
}
