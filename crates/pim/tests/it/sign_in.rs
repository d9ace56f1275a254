//! Signing in and staying signed in: disabling a principal ends its tokens and portal sessions for
//! good (on every replica), and the password lockout holds across restarts and replicas.

use pim_engine::engine::EngineOptions;
use pim_engine::lockout::{LOCKOUT_WINDOW_MS, MAX_TRACKED_NAMES};
use pim_engine::{Context, Engine};
use pim_server::rate_limit::RateLimitOptions;

use crate::harness::prelude::*;
use crate::portal::Browser;

const PW: &str = "a-long-password-1";

fn enabled(on: bool) -> UpdateUser {
    UpdateUser { enabled: Some(on), ..Default::default() }
}

async fn sign_in(s: &TestServer, user: &str, password: &str) -> Result<LoginResponse, ClientError> {
    let req = LoginRequest { username: user.into(), password: password.into(), token_name: None, otp: None };
    s.anonymous().login(&req).await
}

/// A second engine on the server's database, as another replica would open it.
async fn replica(s: &TestServer) -> Engine {
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let options = EngineOptions { secret_key: s.secret_key, ..EngineOptions::default() };
    Engine::open(store, s.clock.clone(), options).await.expect("replica")
}

async fn disabling_ends_tokens_and_sessions_for_good(b: Backend) {
    let s = TestServer::start(&b).await;
    let alice = s.user_with_password("alice", PW).await;
    let session = sign_in(&s, "alice", PW).await.expect("sign-in").token;
    let api = Client::new(&s.url, Some(session)).expect("client");
    let issued = s.client_for(alice).await;
    let web = Browser::new(&s);
    web.sign_in("alice", PW, None).await;
    assert!(api.me().await.is_ok() && issued.me().await.is_ok());
    assert_eq!(web.get("/roles").await.status, 200);

    s.admin.update_user(alice, &enabled(false)).await.expect("disable");
    assert_eq!(status(api.me().await), 401, "the sign-in token is refused");
    assert_eq!(status(issued.me().await), 401, "the issued token is refused");
    assert_eq!(web.get("/roles").await.status, 303, "the portal session is refused");
    let update = s.audited("user.update").await;
    assert_eq!(update[0].details["revokedTokens"], 3, "{:?}", update[0].details);

    s.admin.update_user(alice, &enabled(true)).await.expect("enable");
    assert_eq!(status(api.me().await), 401, "enabling again does not revive the sign-in token");
    assert_eq!(status(issued.me().await), 401, "nor the issued token");
    assert_eq!(web.get("/roles").await.status, 303, "nor the portal session");
    let fresh = Client::new(&s.url, Some(sign_in(&s, "alice", PW).await.expect("sign-in").token)).expect("c");
    assert_eq!(fresh.me().await.expect("me").principal.id, alice, "a new sign-in works");
    web.sign_in("alice", PW, None).await;
    assert_eq!(web.get("/roles").await.status, 200, "a new portal sign-in works");

    // Service principals the same way.
    let sp = s
        .admin
        .create_service_principal(&CreateServicePrincipal {
            name: "deployer".into(),
            display_name: None,
            description: None,
        })
        .await
        .expect("service principal");
    let robot = s.client_for(sp.id).await;
    assert!(robot.me().await.is_ok());
    let sp_enabled = |on| UpdateServicePrincipal { enabled: Some(on), ..Default::default() };
    s.admin.update_service_principal(sp.id, &sp_enabled(false)).await.expect("disable");
    s.admin.update_service_principal(sp.id, &sp_enabled(true)).await.expect("enable");
    assert_eq!(status(robot.me().await), 401, "the service principal's old token stays revoked");
    assert!(s.client_for(sp.id).await.me().await.is_ok(), "a new token works");
    s.stop().await;
}

async fn disabling_ends_tokens_on_another_replica(b: Backend) {
    let s = TestServer::start(&b).await;
    let replica = replica(&s).await;
    let alice = s.user_with_password("alice", PW).await;
    let a = sign_in(&s, "alice", PW).await.expect("sign-in").token;
    let b2 = sign_in(&s, "alice", PW).await.expect("sign-in").token;
    replica.follow_changes().await.expect("follow");
    // Both tokens are now in the replica's token cache.
    assert!(replica.authenticate(&a).await.is_ok() && replica.authenticate(&b2).await.is_ok());

    // Disabled and enabled again on the first server before the replica follows the feed: once
    // the replica's cached copy lapses (a second), it reads the token again and finds it revoked.
    s.admin.update_user(alice, &enabled(false)).await.expect("disable");
    s.admin.update_user(alice, &enabled(true)).await.expect("enable");
    s.advance(1_001);
    assert!(replica.authenticate(&a).await.is_err(), "revoked in the store: refused by the replica");

    // When the replica follows the feed it forgets the principal's cached tokens at once.
    let c = sign_in(&s, "alice", PW).await.expect("sign-in").token;
    assert!(replica.authenticate(&c).await.is_ok());
    s.admin.update_user(alice, &enabled(false)).await.expect("disable");
    s.admin.update_user(alice, &enabled(true)).await.expect("enable");
    replica.follow_changes().await.expect("follow");
    assert!(replica.authenticate(&c).await.is_err(), "refused by the replica once it followed");
    assert!(replica.authenticate(&b2).await.is_err());
    let d = sign_in(&s, "alice", PW).await.expect("sign-in").token;
    assert!(replica.authenticate(&d).await.is_ok(), "a new sign-in works on the replica");
    assert!(replica.index().principal(alice).is_some_and(|p| p.enabled));
    s.stop().await;
}

/// A wrong password for `user`, on the server over HTTP.
async fn fail(s: &TestServer, user: &str) -> String {
    code(sign_in(s, user, "not the password").await)
}

async fn the_lockout_holds_across_a_restart(b: Backend) {
    let s = TestServer::start(&b).await;
    s.user_with_password("alice", PW).await;
    // A success clears the count.
    for _ in 0..4 {
        assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    }
    sign_in(&s, "alice", PW).await.expect("four failures do not lock");
    for _ in 0..3 {
        assert_eq!(fail(&s, "Alice").await, "invalid_credentials");
    }
    // A new process on the same database still counts the three failures.
    let key = s.secret_key;
    let s = s.restart(EngineOptions { secret_key: key, ..EngineOptions::default() }).await;
    assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    assert_eq!(code(sign_in(&s, "alice", PW).await), "too_many_attempts", "locked even with the right password");
    let key = s.secret_key;
    let s = s.restart(EngineOptions { secret_key: key, ..EngineOptions::default() }).await;
    assert_eq!(code(sign_in(&s, "alice", PW).await), "too_many_attempts", "still locked after a restart");
    // The window ends on the manual clock.
    s.advance(LOCKOUT_WINDOW_MS - 1_000);
    assert_eq!(code(sign_in(&s, "alice", PW).await), "too_many_attempts");
    s.advance(1_000);
    sign_in(&s, "alice", PW).await.expect("the lock lifts when the window ends");
    s.stop().await;
}

async fn failures_on_two_replicas_add_up(b: Backend) {
    let s = TestServer::start(&b).await;
    let replica = replica(&s).await;
    s.user_with_password("alice", PW).await;
    let ctx = Context::default();
    let on_replica = |password: &'static str| {
        let replica = replica.clone();
        let ctx = ctx.clone();
        async move {
            match replica.login(&ctx, "alice", password, None, None).await {
                Ok(_) => "ok".to_owned(),
                Err(pim_engine::EngineError::Refused(e)) => e.code().to_owned(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    assert_eq!(on_replica("not the password").await, "invalid_credentials");
    assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    assert_eq!(on_replica("not the password").await, "invalid_credentials");
    assert_eq!(on_replica("not the password").await, "invalid_credentials");
    assert_eq!(code(sign_in(&s, "alice", PW).await), "too_many_attempts", "two failures here and three there lock");
    assert_eq!(on_replica(PW).await, "too_many_attempts", "on both replicas");
    s.advance(LOCKOUT_WINDOW_MS);
    assert_eq!(on_replica(PW).await, "ok", "the window ended");
    sign_in(&s, "alice", PW).await.expect("and on the first server too");
    s.stop().await;
}

async fn unknown_names_lock_alike_and_cannot_fill_the_table(b: Backend) {
    let s = TestServer::start(&b).await;
    s.user_with_password("alice", PW).await;
    // A name of no principal locks like a real one, so the lockout does not tell which exist.
    for _ in 0..5 {
        assert_eq!(fail(&s, "nobody").await, "invalid_credentials");
    }
    assert_eq!(fail(&s, "nobody").await, "too_many_attempts");
    assert_eq!(s.count_rows("sign_in_failures").await, 1);
    // Fill the table to its bound (as a flood of made-up names would).
    fill_failures(&s, MAX_TRACKED_NAMES - 1).await;
    assert_eq!(s.count_rows("sign_in_failures").await, MAX_TRACKED_NAMES);
    let long = "someone-else";
    assert_eq!(fail(&s, long).await, "invalid_credentials");
    assert_eq!(s.count_rows("sign_in_failures").await, MAX_TRACKED_NAMES, "unknown names are no longer counted");
    assert_eq!(fail(&s, "nobody").await, "too_many_attempts", "a name locked already stays locked");
    for _ in 0..5 {
        assert_eq!(fail(&s, "alice").await, "invalid_credentials");
    }
    assert_eq!(code(sign_in(&s, "alice", PW).await), "too_many_attempts", "real users are still protected");
    assert_eq!(s.count_rows("sign_in_failures").await, MAX_TRACKED_NAMES + 1);
    // Ended windows are pruned at the next failure.
    s.advance(LOCKOUT_WINDOW_MS);
    assert_eq!(fail(&s, long).await, "invalid_credentials");
    assert_eq!(s.count_rows("sign_in_failures").await, 1);
    s.stop().await;
}

/// Inserts `n` failure counts of made-up names, started now, directly into the database.
async fn fill_failures(s: &TestServer, n: i64) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO sign_in_failures (name_hash, failed, window_start) SELECT 'filler' || i, 1, $2 FROM n",
    )
    .bind(n)
    .bind(s.engine.now().0)
    .execute(&mut c)
    .await
    .expect("fill");
}

/// A tight limit: `burst` at once, then one a second.
fn tight(burst: u32, trust_forwarded_for: bool) -> RateLimitOptions {
    let burst = std::num::NonZeroU32::new(burst).expect("non-zero");
    RateLimitOptions { burst, trust_forwarded_for, ..RateLimitOptions::default() }
}

/// Plain HTTP from the local address `from` (any of 127/8 reaches the server).
fn http_from(from: [u8; 4]) -> reqwest::Client {
    let from = std::net::IpAddr::from(from);
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).local_address(from).build().expect("client")
}

async fn anonymous_endpoints_are_limited_per_source(b: Backend) {
    // The harness signed the administrator in once: 3 of the burst of 4 are left.
    let s = TestServer::start_limited(&b, EngineOptions::default(), tight(4, false)).await;
    let http = http_from([127, 0, 0, 1]);
    let setup = format!("{}/api/v1/setup", s.url);
    for _ in 0..3 {
        assert_eq!(http.get(&setup).send().await.expect("GET").status(), 200);
    }
    let r = http.get(&setup).header("x-forwarded-for", "203.0.113.1").send().await.expect("GET");
    assert_eq!(r.status(), 429, "past the burst; X-Forwarded-For is not trusted by default");
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(r.headers()["content-type"].to_str().unwrap_or("").starts_with("application/problem+json"));
    let body: serde_json::Value = r.json().await.expect("problem");
    assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(429), Some("too_many_attempts")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("too many requests from this address")), "{body}");
    assert!(retry.as_deref().and_then(|v| v.parse::<u64>().ok()).is_some_and(|v| (1..=2).contains(&v)), "{retry:?}");
    // Every limited endpoint shares the source's allowance.
    assert_eq!(status(sign_in(&s, "admin", crate::harness::ADMIN_PASSWORD).await), 429, "API sign-in");
    let login = http.post(format!("{}/signin", s.url)).form(&[("username", "admin"), ("password", "x")]);
    let page = login.send().await.expect("POST");
    assert_eq!(page.status(), 429, "portal sign-in");
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.expect("page").contains("too many requests from this address"), "a readable page");
    // Authenticated endpoints, the sign-in page and other sources are not limited.
    for _ in 0..10 {
        s.admin.me().await.expect("authenticated calls go on");
    }
    assert_eq!(http.get(format!("{}/signin", s.url)).send().await.expect("GET").status(), 200);
    let other = http_from([127, 0, 0, 2]);
    assert_eq!(other.get(&setup).send().await.expect("GET").status(), 200, "another source");
    s.stop().await;
}

async fn a_trusted_proxy_names_the_source(b: Backend) {
    let s = TestServer::start_limited(&b, EngineOptions::default(), tight(1, true)).await;
    let http = http_from([127, 0, 0, 1]);
    let setup = format!("{}/api/v1/setup", s.url);
    let from = |ip: &'static str| http.get(&setup).header("x-forwarded-for", format!("198.51.100.9, {ip}")).send();
    assert_eq!(from("203.0.113.1").await.expect("GET").status(), 200);
    assert_eq!(from("203.0.113.1").await.expect("GET").status(), 429, "the last forwarded address is the source");
    assert_eq!(from("203.0.113.2").await.expect("GET").status(), 200, "another forwarded source");
    s.stop().await;
}

crate::backend_tests!(
    disabling_ends_tokens_and_sessions_for_good,
    disabling_ends_tokens_on_another_replica,
    the_lockout_holds_across_a_restart,
    failures_on_two_replicas_add_up,
    unknown_names_lock_alike_and_cannot_fill_the_table,
    anonymous_endpoints_are_limited_per_source,
    a_trusted_proxy_names_the_source,
);
