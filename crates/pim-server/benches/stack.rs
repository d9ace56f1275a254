//! The HTTP application in process, no sockets: CPU time and heap allocations per request of `GET /healthz` and `POST /api/v1/check`.
//!
//! ```text
//! cargo bench -p pim-server --bench stack            # PIM_STACK_REQUESTS=200000 for longer runs
//! ```
//!
//! Sets up a fresh SQLite server through the API (setup, sign-in, one more user), then sends each
//! request through `pim_server::app` (the service `pim serve` runs: every layer, routing, the
//! bearer check, the handler) and reads the whole response, one at a time on a current-thread
//! runtime, under the tracing subscriber of `pim serve`; the time is the median of 5 rounds.
//! `PIM_STACK_CASE=<n>` runs only the n-th case (from 0), so that two runs with different
//! `PIM_STACK_REQUESTS` under `perf stat -e probe_libc:malloc` (after `perf probe -x <libc> malloc`)
//! give the allocations per request. What hyper and the kernel cost on top is measured by
//! bench/check_load.sh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark's setup may fail loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use pim_server::AppState;
use tower::{Service, ServiceExt};

type App = pim_server::App;
/// A case: its name, how to make its request, the status it answers.
type Case<'a> = (&'static str, Box<dyn Fn() -> Request<Body> + 'a>, StatusCode);

/// A request as the server sees it (with the client's address, as `pim serve` adds it).
fn request(method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |s| Body::from(s.to_owned()));
    let mut req = b.body(body).expect("request");
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

/// Sends one request and reads the whole answer.
async fn send(app: &mut App, req: Request<Body>) -> (StatusCode, String) {
    let resp = ServiceExt::<Request<Body>>::ready(app).await.expect("ready").call(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn field(json: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    v[name].as_str().map(str::to_owned).unwrap_or_else(|| panic!("no {name} in {json}"))
}

/// Median nanoseconds per request of `make`'s requests, over 5 rounds of `n`.
async fn measure(app: &mut App, n: u64, make: &dyn Fn() -> Request<Body>, expect: StatusCode) -> f64 {
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let reqs: Vec<_> = (0..n).map(|_| make()).collect();
        let t0 = Instant::now();
        for req in reqs {
            let resp =
                ServiceExt::<Request<Body>>::ready(app).await.expect("ready").call(req).await.expect("infallible");
            assert_eq!(resp.status(), expect);
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        }
        rounds.push(t0.elapsed().as_nanos() as f64 / n as f64);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn main() {
    let n: u64 = std::env::var("PIM_STACK_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    // The subscriber `pim serve` installs (its default filter), writing nowhere: spans cost what they cost there.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .with_writer(std::io::sink)
        .with_ansi(false)
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let dir = std::env::temp_dir().join(format!("pim-stack-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = pim_store::Store::open(&format!("sqlite://{}", dir.join("pim.db").display())).await.expect("store");
        let engine = pim_engine::Engine::open(store, Arc::new(pim_engine::clock::SystemClock), Default::default())
            .await
            .expect("engine");
        let state = AppState::new(engine, Some("bench-secret".to_owned()));
        let mut app = pim_server::app(state);

        let setup = r#"{"setupSecret":"bench-secret","username":"admin","password":"bench-password-1"}"#;
        let (status, body) = send(&mut app, request("POST", "/api/v1/setup", None, Some(setup))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let admin = field(&body, "id");
        let login = r#"{"username":"admin","password":"bench-password-1"}"#;
        let (_, body) = send(&mut app, request("POST", "/api/v1/auth/login", None, Some(login))).await;
        let token = field(&body, "token");
        let (status, body) =
            send(&mut app, request("POST", "/api/v1/users", Some(&token), Some(r#"{"name":"alice"}"#))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let alice = field(&body, "id");

        let allowed =
            format!(r#"{{"principal":"{admin}","action":"storage.blobs.read","scope":"/subscriptions/prod"}}"#);
        let denied =
            format!(r#"{{"principal":"{alice}","action":"storage.blobs.read","scope":"/subscriptions/prod"}}"#);
        let (_, body) = send(&mut app, request("POST", "/api/v1/check", Some(&token), Some(&allowed))).await;
        assert!(body.contains(r#""allowed":true"#), "{body}");
        let (_, body) = send(&mut app, request("POST", "/api/v1/check", Some(&token), Some(&denied))).await;
        assert!(body.contains(r#""allowed":false"#), "{body}");

        println!("{n} requests a round, median of 5 rounds, in process (no hyper, no sockets)");
        let cases: [Case<'_>; 4] = [
            ("GET /healthz", Box::new(|| request("GET", "/healthz", None, None)), StatusCode::OK),
            (
                "POST /api/v1/check (allowed)",
                Box::new(|| request("POST", "/api/v1/check", Some(&token), Some(&allowed))),
                StatusCode::OK,
            ),
            (
                "POST /api/v1/check (denied)",
                Box::new(|| request("POST", "/api/v1/check", Some(&token), Some(&denied))),
                StatusCode::OK,
            ),
            (
                "POST /api/v1/check (no token)",
                Box::new(|| request("POST", "/api/v1/check", None, Some(&denied))),
                StatusCode::UNAUTHORIZED,
            ),
        ];
        let only: Option<usize> = std::env::var("PIM_STACK_CASE").ok().and_then(|v| v.parse().ok());
        let cases: Vec<_> = cases.iter().enumerate().filter(|(i, _)| only.is_none_or(|o| o == *i)).collect();
        // Warm-up: caches, the token's first use.
        for (_, (_, make, expect)) in &cases {
            measure(&mut app, 1000, make.as_ref(), *expect).await;
        }
        for (_, (name, make, expect)) in &cases {
            let ns = measure(&mut app, n, make.as_ref(), *expect).await;
            println!("{name:<32} {ns:>8.0} ns");
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
