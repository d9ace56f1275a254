//! pim's middleware as one hand-written service around the router: one boxed future per request, no per-route layer.
//!
//! In order, outermost first (as the separate tower-http and `from_fn` layers were): a panic
//! becomes a plain 500 ([`crate::error::panic_response`]); the request id (the client's
//! `x-request-id`, else a random one from [`MakeRandomRequestId`]) is set on the request and
//! copied to the response; the `http` tracing span (method, path, request id) covers the request,
//! with tower-http's events (`started`/`finished processing request` at debug, `response failed`
//! at error for a 5xx); the default body limit ([`crate::BODY_LIMIT`]); then `requestId` in
//! problem+json bodies ([`crate::error::add_request_id_to_problem`]), lingering on refused bodies
//! ([`crate::linger`]), security headers ([`crate::portal::security`]), response counts
//! ([`crate::metrics`]), the anonymous endpoints' rate limit ([`crate::rate_limit`]) and the NUL
//! refusal ([`crate::extract::nul_refusal`]).

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower::Service;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

use crate::AppState;

/// The header carrying the request id.
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The application as served: `router` inside pim's middleware (see the module's doc).
#[derive(Clone, Debug)]
pub struct Stack {
    state: AppState,
    router: Router,
    /// Whether the check routes are answered without the router ([`crate::handlers::check::direct`]).
    direct: bool,
}

impl Stack {
    /// The middleware over `state` (its metrics, rate limiter and portal settings) around `router`.
    pub fn new(state: AppState, router: Router) -> Stack {
        Stack { state, router, direct: true }
    }

    /// This stack with every request going through the router, the check routes too (to compare
    /// the direct answers with the router's in tests).
    pub fn routing_everything(self) -> Stack {
        Stack { direct: false, ..self }
    }

    /// Everything after the request id and the span: the returned future makes the answer.
    fn start(&mut self, mut req: Request, id: Option<HeaderValue>) -> Pin<Box<dyn Future<Output = Response> + Send>> {
        tracing::debug!("started processing request");
        DefaultBodyLimit::max(crate::BODY_LIMIT).apply(&mut req);
        let (req, lingering) = crate::linger::track(req);
        let refusal = crate::rate_limit::refusal(&self.state, &req).or_else(|| crate::extract::nul_refusal(req.uri()));
        let state = self.state.clone();
        let answer = match refusal {
            // The request (and its tracked body) is dropped here, before lingering looks for it.
            Some(refusal) => Next::Refused(refusal),
            // The check routes, the hot path of gateways, without the router's per-route boxing.
            None => match crate::handlers::check::direct(&req).filter(|_| self.direct) {
                Some(route) => Next::Check(route, req),
                None => Next::Route(self.router.call(req)),
            },
        };
        Box::pin(async move {
            let mut resp = match answer {
                Next::Route(future) => match future.await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                },
                Next::Check(route, req) => route.answer(state.clone(), req).await,
                Next::Refused(refusal) => refusal,
            };
            state.metrics.count_status(resp.status().as_u16());
            crate::portal::security::apply(resp.headers_mut(), state.portal.secure_cookies);
            lingering.finish().await;
            let mut resp = crate::error::add_request_id_to_problem(id.clone(), resp).await;
            if let Some(id) = id.filter(|_| !resp.headers().contains_key(&X_REQUEST_ID)) {
                resp.headers_mut().insert(X_REQUEST_ID.clone(), id);
            }
            resp
        })
    }
}

/// Where [`Stack::start`] sends a request.
enum Next<F> {
    /// The router's answer.
    Route(F),
    /// A check route's, without the router.
    Check(crate::handlers::check::Direct, Request),
    /// Refused before routing.
    Refused(Response),
}

impl Service<Request> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Answer {
        let started = Instant::now();
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(id) => Some(id.clone()),
            None => {
                let made = MakeRandomRequestId.make_request_id(&req).map(RequestId::into_header_value);
                if let Some(id) = &made {
                    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
                }
                made
            }
        };
        let span = {
            let id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        };
        let entered = span.enter();
        let future = std::panic::catch_unwind(AssertUnwindSafe(|| self.start(req, id)))
            .map_err(|panic| Some(crate::error::panic_response(panic)));
        drop(entered);
        Answer { span, started, future }
    }
}

/// The future of [`Stack`]'s answer: polled inside the request's span, a panic while it is
/// polled becomes [`crate::error::panic_response`].
pub struct Answer {
    span: Span,
    started: Instant,
    /// The answer being made, or the panic's response (taken when returned).
    future: Result<Pin<Box<dyn Future<Output = Response> + Send>>, Option<Response>>,
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = match &mut this.future {
            Ok(future) => future,
            Err(panicked) => return Poll::Ready(Ok(panicked.take().unwrap_or_else(panicked_twice))),
        };
        let _entered = this.span.enter();
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(resp)) => {
                let latency = this.started.elapsed();
                tracing::debug!(latency = %Millis(latency), status = resp.status().as_u16(), "finished processing request");
                if resp.status().is_server_error() {
                    tracing::error!(
                        classification = %format_args!("Status code: {}", resp.status()),
                        latency = %Millis(latency),
                        "response failed"
                    );
                }
                Poll::Ready(Ok(resp))
            }
            Err(panic) => {
                this.future = Err(None);
                Poll::Ready(Ok(crate::error::panic_response(panic)))
            }
        }
    }
}

/// The answer of an [`Answer`] polled again after it returned a panic's response.
fn panicked_twice() -> Response {
    crate::error::panic_response(Box::new("polled after completion"))
}

/// A latency as tower-http's trace events show it (`3 ms`).
struct Millis(std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms", self.0.as_millis())
    }
}

/// Request ids: random (version 4) UUIDs from the thread's CSPRNG (`rand::thread_rng`, seeded
/// from the system), without a `getrandom` system call per request as `MakeRequestUuid` makes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeRandomRequestId;

impl MakeRequestId for MakeRandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A [`Stack`] around a router that echoes the request id it saw, and one that panics.
    async fn stack() -> (Stack, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pim-stack-test-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let url = format!("sqlite://{}", dir.join("pim.db").display());
        let store = pim_store::Store::open(&url).await.unwrap_or_else(|e| panic!("store: {e}"));
        let clock = std::sync::Arc::new(pim_engine::clock::SystemClock);
        let engine = pim_engine::Engine::open(store, clock, Default::default()).await.unwrap_or_else(|e| panic!("{e}"));
        let router = Router::new()
            .route(
                "/id",
                get(|h: axum::http::HeaderMap| async move {
                    h.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned()
                }),
            )
            .route("/panic", get(boom));
        (Stack::new(AppState::new(engine, None), router), dir)
    }

    async fn boom() -> &'static str {
        panic!("boom")
    }

    async fn send(s: &Stack, req: axum::http::Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let resp = s.clone().oneshot(req).await.unwrap_or_else(|never| match never {});
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn get_req(path: &str, id: Option<&str>) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::builder().uri(path);
        if let Some(id) = id {
            b = b.header("x-request-id", id);
        }
        b.body(Body::empty()).unwrap_or_default()
    }

    #[tokio::test]
    async fn request_ids_are_kept_or_made_and_answered() {
        let (s, dir) = stack().await;
        let (status, headers, seen) = send(&s, get_req("/id", Some("client-id-1"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(seen, "client-id-1", "the client's id reaches the handler");
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("client-id-1"));

        let (_, headers, seen) = send(&s, get_req("/id", None)).await;
        let parsed = uuid::Uuid::parse_str(&seen).unwrap_or_default();
        assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{seen}");
        assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some(seen.as_str()), "answered");
        assert_eq!(headers.get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"), "security headers");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_panic_is_a_plain_500() {
        let (s, dir) = stack().await;
        let (status, headers, body) = send(&s, get_req("/panic", Some("p-1"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(ct, Some("application/problem+json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["code"], "internal", "{body}");
        assert!(!body.contains("boom"), "no detail of the panic");
        let (status, _, _) = send(&s, get_req("/id", None)).await;
        assert_eq!(status, StatusCode::OK, "the server goes on");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The whole application on a fresh store, with an administrator's token and a user's id.
    async fn whole_app() -> (Stack, String, String, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pim-stack-app-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let url = format!("sqlite://{}", dir.join("pim.db").display());
        let store = pim_store::Store::open(&url).await.unwrap_or_else(|e| panic!("store: {e}"));
        let clock = std::sync::Arc::new(pim_engine::clock::SystemClock);
        let engine = pim_engine::Engine::open(store, clock, Default::default()).await.unwrap_or_else(|e| panic!("{e}"));
        let app = crate::app(AppState::new(engine, Some("s3cret".to_owned())));
        let json = |method: &str, path: &str, token: Option<&str>, body: &str| {
            let mut b =
                axum::http::Request::builder().method(method).uri(path).header("content-type", "application/json");
            if let Some(t) = token {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            b.body(Body::from(body.to_owned())).unwrap_or_default()
        };
        let setup = r#"{"setupSecret":"s3cret","username":"admin","password":"admin-password-1"}"#;
        let (status, _, body) = send(&app, json("POST", "/api/v1/setup", None, setup)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let login = r#"{"username":"admin","password":"admin-password-1"}"#;
        let (_, _, body) = send(&app, json("POST", "/api/v1/auth/login", None, login)).await;
        let field = |body: &str, name: &str| {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            v[name].as_str().unwrap_or_default().to_owned()
        };
        let token = field(&body, "token");
        let (status, _, body) = send(&app, json("POST", "/api/v1/users", Some(&token), r#"{"name":"alice"}"#)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (app, token, field(&body, "id"), dir)
    }

    #[tokio::test]
    async fn the_check_routes_answer_without_the_router_as_through_it() {
        let (direct, token, alice, dir) = whole_app().await;
        let routed = direct.clone().routing_everything();
        let bearer = format!("Bearer {token}");
        let allowed = r#"{"principal":"admin","action":"storage.blobs.read","scope":"/a/b"}"#.to_owned();
        let denied = format!(r#"{{"principal":"{alice}","action":"storage.blobs.read","scope":"/a/b"}}"#);
        let batch = format!(r#"{{"checks":[{allowed},{denied}]}}"#);
        let big = format!(r#"{{"principal":"{}","action":"x","scope":"/"}}"#, "a".repeat(crate::BODY_LIMIT));
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let json: Headers<'_> = &[("authorization", &bearer), ("content-type", "application/json")];
        let text: Headers<'_> = &[("authorization", &bearer), ("content-type", "text/plain")];
        let anonymous: Headers<'_> = &[("content-type", "application/json")];
        let unknown: Headers<'_> = &[("authorization", "Bearer pim_nope"), ("content-type", "application/json")];
        let basic: Headers<'_> = &[("authorization", "Basic eDp5"), ("content-type", "application/json")];
        let cases: Vec<(&str, &str, Headers<'_>, String)> = vec![
            ("POST", "/api/v1/check", json, allowed.clone()),
            ("POST", "/api/v1/check", json, denied.clone()),
            ("POST", "/api/v1/check", text, denied.clone()),
            ("POST", "/api/v1/check", anonymous, denied.clone()),
            ("POST", "/api/v1/check", unknown, denied.clone()),
            ("POST", "/api/v1/check", basic, denied.clone()),
            ("POST", "/api/v1/check", json, r#"{"principal":"nobody","action":"x","scope":"/"}"#.to_owned()),
            ("POST", "/api/v1/check", json, r#"{"principal":"admin","action":"x..y","scope":"/"}"#.to_owned()),
            ("POST", "/api/v1/check", json, r#"{"principal":"admin","action":"x","scope":"a"}"#.to_owned()),
            ("POST", "/api/v1/check", json, r#"{"principal":"admin","#.to_owned()),
            ("POST", "/api/v1/check", json, String::new()),
            ("POST", "/api/v1/check", json, big),
            ("POST", "/api/v1/check?x=1", json, allowed.clone()),
            ("POST", "/api/v1/check/batch", json, batch),
            ("POST", "/api/v1/check/batch", json, r#"{"checks":[]}"#.to_owned()),
            ("POST", "/api/v1/check/", json, allowed.clone()),
            ("GET", "/api/v1/check", json, String::new()),
            ("PUT", "/api/v1/check/batch", json, allowed),
        ];
        let mut statuses = Vec::new();
        for (method, path, headers, body) in cases {
            let make = || {
                let mut b = axum::http::Request::builder().method(method).uri(path).header("x-request-id", "same-id");
                for (name, value) in headers {
                    b = b.header(*name, *value);
                }
                b.body(Body::from(body.clone())).unwrap_or_default()
            };
            let (status, mut headers_direct, body_direct) = send(&direct, make()).await;
            let (routed_status, mut headers_routed, body_routed) = send(&routed, make()).await;
            // The router writes the length into the headers; hyper writes the same from the body's size.
            let length = headers_routed.remove("content-length");
            assert!(length.is_none_or(|l| l.to_str().ok() == Some(body_routed.len().to_string().as_str())));
            headers_direct.remove("content-length");
            let what = format!("{method} {path} {headers:?}");
            assert_eq!(
                (status, &headers_direct, &body_direct),
                (routed_status, &headers_routed, &body_routed),
                "{what}"
            );
            let direct_route = crate::handlers::check::direct(&make()).is_some();
            assert_eq!(direct_route, method == "POST" && !path.ends_with('/'), "{what}");
            statuses.push(status.as_u16());
        }
        assert_eq!(
            statuses,
            [200, 200, 415, 401, 401, 401, 404, 400, 400, 400, 400, 413, 200, 200, 400, 404, 405, 405]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let req = axum::http::Request::new(());
        let mut make = MakeRandomRequestId;
        let ids: Vec<String> = (0..100)
            .filter_map(|_| make.make_request_id(&req))
            .filter_map(|id| id.header_value().to_str().ok().map(str::to_owned))
            .collect();
        assert_eq!(ids.len(), 100);
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap_or_default();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(id, &parsed.hyphenated().to_string(), "lower-case hyphenated");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 100);
    }
}
