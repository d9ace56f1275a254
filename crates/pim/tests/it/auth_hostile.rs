//! Hostile authentication: missing, malformed, unknown and revoked credentials get 401.

use serde_json::json;

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, fixture, run};

/// Missing, malformed, unknown and revoked credentials get 401 (wrong passwords are audited).
async fn authentication(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let revoked = s.client_for(fx.alice).await;
    revoked.logout().await.expect("logout");
    let revoked = revoked.token().expect("token").to_owned();
    let mut cases = Vec::new();
    let un = ["unauthenticated"];
    let headers = [
        "Bearer garbage".to_owned(),
        "Bearer ".to_owned(),
        "Bearer pim_".to_owned(),
        format!("Bearer pim_{}", "A".repeat(43)),
        format!("Bearer pim_{}", "A".repeat(500)),
        "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMTIz".to_owned(),
        format!("Token {}", fx.alice_token),
        fx.alice_token.clone(),
        format!("Bearer {revoked}"),
        format!("Bearer {}x", fx.alice_token),
    ];
    for h in headers {
        for (m, path) in [("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("POST", "/api/v1/audit/verify")] {
            let c = case(format!("Authorization: {h:.40}"), m, path, Body::Empty, 401, &un);
            cases.push(c.by(Who::Header(h.clone())));
        }
    }
    for (m, path, body) in [
        ("GET", "/api/v1/me", Body::Empty),
        ("POST", "/api/v1/users", Body::Json(json!({"name": "anon"}))),
        ("POST", "/api/v1/requests", Body::Json(json!({"action": "adminRemove", "assignmentId": fx.a_elig}))),
        (
            "POST",
            "/api/v1/requests",
            Body::Json(json!({"action": "adminRemove", "assignmentId": fx.a_elig, "validateOnly": true})),
        ),
        ("POST", "/api/v1/check", Body::Json(json!({"principal": "alice", "action": "a.b", "scope": "/"}))),
        ("POST", "/api/v1/auth/logout", Body::Empty),
    ] {
        cases.push(case(format!("no credentials: {m} {path}"), m, path, body, 401, &un).by(Who::Nobody));
    }
    let creds = ["invalid_credentials"];
    for (user, pw) in [
        ("admin", "wrong-password"),
        ("admin", ""),
        ("nobody", "whatever-123"),
        ("alice", "no-password-set"),
        ("ADMIN", "wrong-password"),
        ("grp", "password-123"),
        ("robot", "password-123"),
    ] {
        let body = Body::Json(json!({"username": user, "password": pw}));
        cases.push(case(format!("sign-in as {user}"), "POST", "/api/v1/auth/login", body, 401, &creds).by(Who::Nobody));
    }
    let secret = Body::Json(json!({"setupSecret": "guess", "username": "x", "password": "password-123"}));
    cases.push(
        case("setup after setup, anonymously", "POST", "/api/v1/setup", secret, 409, &["setup_completed"])
            .by(Who::Nobody),
    );
    run(&s, &fx, mode, cases).await;
    if mode == Mode::Regular {
        // Failed sign-ins are recorded.
        let q =
            AuditQuery { action: Some("auth.signIn".into()), outcome: Some(Outcome::Failure), ..Default::default() };
        let failed = s.admin.list_audit(&q).await.expect("audit").items;
        assert!(failed.len() >= 7, "every failed sign-in is audited: {}", failed.len());
        assert!(failed.iter().all(|e| e.error_code.as_deref() == Some("invalid_credentials")));
    }
    s.stop().await;
}

async fn bad_credentials_get_401(b: Backend) {
    authentication(b, Mode::Regular).await;
}

crate::backend_tests!(bad_credentials_get_401);
