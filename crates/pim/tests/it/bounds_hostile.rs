//! Nothing a caller sends is kept or echoed in full: anonymous callers get small bodies and cannot
//! grow the database, audit events keep a long value as a prefix with its length and hash, and
//! error messages quote a short prefix, always in a non-empty problem+json body.

use sha2::{Digest, Sha256};

use crate::harness::prelude::*;
use crate::portal::Browser;

/// Hex text of `len` characters that does not compress (PostgreSQL compresses what it stores).
fn incompressible(len: usize) -> String {
    let mut out = String::with_capacity(len + 64);
    let mut block = Sha256::digest(b"pim");
    while out.len() < len {
        out.push_str(&hex::encode(block));
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

/// The database's size in bytes, as the backend accounts for it.
async fn database_bytes(s: &TestServer) -> i64 {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    let sql = if s.db.url.starts_with("sqlite:") {
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    } else {
        "SELECT pg_database_size(current_database())"
    };
    sqlx::query_scalar(sql).fetch_one(&mut c).await.expect("database size")
}

/// A problem+json answer: its status and body, checked to be a non-empty problem.
async fn problem(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = resp.text().await.expect("body");
    assert!(!body.is_empty(), "a {status} has a body");
    assert_eq!(kind, "application/problem+json", "{status}: {body}");
    (status, serde_json::from_str(&body).expect("problem+json"))
}

async fn anonymous_megabyte_names_do_not_grow_the_database(b: Backend) {
    let s = TestServer::start(&b).await;
    let http = reqwest::Client::new();
    let name = incompressible(1024 * 1024);
    let before = database_bytes(&s).await;
    let web = Browser::new(&s);
    web.get("/signin").await;
    for i in 0..1000 {
        let resp = match i % 4 {
            0 => http
                .post(format!("{}/api/v1/auth/login", s.url))
                .json(&serde_json::json!({ "username": name, "password": "x" })),
            1 => http.post(format!("{}/api/v1/users", s.url)).json(&serde_json::json!({ "name": name })),
            2 => http
                .post(format!("{}/api/v1/setup", s.url))
                .json(&serde_json::json!({ "username": name, "password": "long-enough-password" })),
            _ => http
                .post(format!("{}/signin", s.url))
                .header("cookie", format!("pim_presession={}", web.cookie("pim_presession").unwrap_or_default()))
                .form(&[("username", name.as_str()), ("password", "x")]),
        };
        let status = resp.send().await.expect("an answer").status().as_u16();
        assert!(matches!(status, 401 | 413 | 429), "request {i} answered {status}");
    }
    let grown = database_bytes(&s).await - before;
    assert!(grown < 1024 * 1024, "1,000 anonymous requests with 1 MB names grew the database by {grown} bytes");
    s.stop().await;
}

async fn a_refused_sign_in_keeps_a_prefix_length_and_hash(b: Backend) {
    let s = TestServer::start(&b).await;
    let name = incompressible(10_000);
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", s.url))
        .json(&serde_json::json!({ "username": name, "password": "wrong password" }))
        .send()
        .await
        .expect("login");
    let (status, body) = problem(resp).await;
    assert_eq!(status, 401, "{body}");
    let events = s.audited("auth.signIn").await;
    let stored = events[0].details["username"].as_str().expect("a username").to_owned();
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    assert_eq!(stored, format!("{}… [10000 characters, sha256 {hash}]", &name[..64]));
    // The chain still verifies: what is chained is what is stored.
    assert!(s.admin.verify_audit().await.expect("verify").ok);
    s.stop().await;
}

async fn anonymous_routes_take_small_bodies_and_signed_in_ones_large(b: Backend) {
    let s = TestServer::start(&b).await;
    let http = reqwest::Client::new();
    let padding = "p".repeat(20 * 1024);
    for path in ["/api/v1/auth/login", "/api/v1/setup"] {
        let resp = http
            .post(format!("{}{path}", s.url))
            .json(&serde_json::json!({ "username": "x", "password": "y", "padding": padding }))
            .send()
            .await
            .expect("post");
        let (status, body) = problem(resp).await;
        assert_eq!((status, body["code"].as_str()), (413, Some("body_too_large")), "{path}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("16 KiB")), "{body}");
    }
    // The same 20 KiB reaches validation where a token is sent.
    let resp = http
        .post(format!("{}/api/v1/users", s.url))
        .bearer_auth(s.admin.token().expect("token"))
        .json(&serde_json::json!({ "name": padding }))
        .send()
        .await
        .expect("post");
    assert_eq!(problem(resp).await.0, 400);
    // A portal form before sign-in is small too.
    let web = Browser::new(&s);
    web.get("/signin").await;
    let page = web.post("/signin", &[("username", padding.as_str()), ("password", "x")]).await;
    assert_eq!(page.status, 413, "{}", page.body);
    s.stop().await;
}

async fn error_messages_quote_a_short_prefix_in_a_problem_body(b: Backend) {
    let s = TestServer::start(&b).await;
    let http = reqwest::Client::new();
    for len in [60_000, 70_000, 1_000_000] {
        let name = "a".repeat(len);
        let resp = http
            .post(format!("{}/api/v1/users", s.url))
            .bearer_auth(s.admin.token().expect("token"))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("post");
        let (status, body) = problem(resp).await;
        assert_eq!(status, 400, "{len}");
        let detail = body["detail"].as_str().expect("detail");
        assert!(detail.len() < 400, "{len}: {} characters of detail", detail.len());
        assert!(detail.contains(&format!("'{}…' ({len} characters)", "a".repeat(32))), "{detail}");
        assert!(body["requestId"].is_string(), "{body}");
    }
    // A mistyped value is quoted short as well.
    let resp = http
        .post(format!("{}/api/v1/users", s.url))
        .bearer_auth(s.admin.token().expect("token"))
        .json(&serde_json::json!({ "name": "ok", "email": ["b".repeat(100_000)] }))
        .send()
        .await
        .expect("post");
    let (status, body) = problem(resp).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().is_some_and(|d| d.len() < 1000), "{body}");
    assert_eq!(s.count_rows("principals WHERE name = 'ok'").await, 0, "nothing was created");
    s.stop().await;
}

crate::backend_tests!(
    anonymous_megabyte_names_do_not_grow_the_database,
    a_refused_sign_in_keeps_a_prefix_length_and_hash,
    anonymous_routes_take_small_bodies_and_signed_in_ones_large,
    error_messages_quote_a_short_prefix_in_a_problem_body,
);
