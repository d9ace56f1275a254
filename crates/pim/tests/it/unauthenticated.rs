//! Authentication first: every operation of the served OpenAPI document answers `401` without a
//! valid token, whatever its ids, query and body, and changes nothing (the public routes excepted).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::json;

use crate::api_authz::world::{external_alert, propose_change};
use crate::harness::prelude::*;
use crate::hostile::{Body, Db, Raw, item_of, review_of, selected, start_review};

/// The operations anyone may call without a token; every other one needs a valid bearer token.
const PUBLIC: [(&str, &str); 15] = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/setup"),
    ("POST", "/api/v1/setup"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/api/v1/ssh/ca.pub"),
    ("GET", "/api/v1/auth/oidc"),
    ("POST", "/api/v1/auth/oidc/{name}/start"),
    ("POST", "/api/v1/auth/oidc/{name}/finish"),
    ("POST", "/api/v1/auth/oidc/{name}/device"),
    ("POST", "/api/v1/auth/oidc/{name}/device/poll"),
];

/// What fills a path parameter.
#[derive(Clone, Copy, Debug)]
enum Id {
    /// An id of something that exists.
    Real,
    /// A well-formed id of nothing.
    Random,
    /// Not an id at all.
    Malformed,
}

/// An id that exists for each path parameter, keyed by the path segment before it.
async fn real_ids(s: &TestServer) -> BTreeMap<&'static str, String> {
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    let (user, client) = s.user("someone").await;
    let group = s.group("team").await;
    s.admin.add_member(group, user).await.expect("member");
    let robot = s
        .admin
        .create_service_principal(&CreateServicePrincipal {
            name: "robot".into(),
            display_name: None,
            description: None,
        })
        .await
        .expect("robot")
        .id;
    let resource = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "A".into(), kind: "subscription".into() })
        .await
        .expect("resource")
        .id;
    let assignment = s.assign(user, ops, "/a", AssignmentKind::Eligible, None).await;
    s.set_settings(ops, "/bg", |x| x.allow_break_glass = true).await;
    s.assign(user, ops, "/bg", AssignmentKind::Eligible, None).await;
    let mut bg = activation(ops, "/bg", 60);
    bg.break_glass = Some(true);
    let break_glass = client.create_request(&bg).await.expect("break-glass").request.id;
    let change = propose_change(s, ops, "/prot").await;
    let alert = external_alert(s, "somewhere").await;
    let rule = s.admin.list_alert_rules().await.expect("rules").items.first().expect("a rule").id.clone();
    let token = s.admin.list_tokens(None).await.expect("tokens").items.first().expect("a token").id;
    let scim =
        s.admin.create_scim_client(&pim_api::CreateScimClient { name: "idp".into() }).await.expect("scim").client.id;
    let (review, instance) = start_review(s, &review_of("quarterly", ops, "/a", selected(&[s.admin_id]))).await;
    let item = item_of(s, instance, user).await;
    let audience = s
        .admin
        .create_audience(&CreateAudience {
            name: "api".into(),
            roles: Some(vec!["Reader".into()]),
            scope_prefix: None,
            lifetime_secs: None,
            algorithm: None,
            introspector: None,
        })
        .await
        .expect("audience")
        .id;
    BTreeMap::from([
        ("audiences", audience.to_string()),
        ("tokens", token.to_string()),
        ("clients", scim.to_string()),
        ("principals", user.to_string()),
        ("users", user.to_string()),
        ("groups", group.to_string()),
        ("members", user.to_string()),
        ("service-principals", robot.to_string()),
        ("resources", resource.to_string()),
        ("roles", ops.to_string()),
        ("assignments", assignment.id.to_string()),
        ("requests", assignment.created_by_request.to_string()),
        ("settings-changes", change.to_string()),
        ("break-glass-reviews", break_glass.to_string()),
        ("alert-rules", rule),
        ("alerts", alert.to_string()),
        ("reviews", review.to_string()),
        ("review-instances", instance.to_string()),
        ("items", item.to_string()),
        // No connector is configured here: a name, refused before it would be looked up.
        ("connectors", "prod-db".to_owned()),
    ])
}

/// `template` with each `{param}` replaced by an id of `kind` (a real one named by the segment before it).
fn fill(template: &str, kind: Id, real: &BTreeMap<&'static str, String>) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if !seg.starts_with('{') {
            out.push((*seg).to_owned());
            continue;
        }
        let before = segments[i - 1];
        out.push(match kind {
            Id::Real => real.get(before).unwrap_or_else(|| panic!("no real id for '{before}' in {template}")).clone(),
            Id::Random => uuid::Uuid::new_v4().to_string(),
            Id::Malformed => "not-an-id%20at%20all".into(),
        });
    }
    out.join("/")
}

/// The documented operations, as (method, path template).
async fn operations(raw: &Raw) -> BTreeSet<(String, String)> {
    let doc = raw.send(&Method::GET, "/api/v1/openapi.json", None, &Body::Empty).await.json;
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn every_operation_refuses_a_caller_without_a_valid_token_first(b: Backend) {
    let s = TestServer::start(&b).await;
    let real = real_ids(&s).await;
    let raw = Raw::new(&s);
    let ops = operations(&raw).await;
    assert!(ops.len() > 80, "the document was read: {} operations", ops.len());
    let public: BTreeSet<(String, String)> = PUBLIC.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let undocumented: Vec<_> = public.difference(&ops).collect();
    assert!(undocumented.is_empty(), "public routes missing from the document: {undocumented:?}");

    let mut db = Db::open(&s).await;
    let before = db.snapshot().await;
    let mut wrong = Vec::new();
    let mut calls = 0;
    for (method, template) in ops.difference(&public) {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let json_body = if method == "GET" || method == "DELETE" { Body::Empty } else { Body::Json(json!({})) };
        let mut cases = Vec::new();
        for kind in [Id::Real, Id::Random, Id::Malformed] {
            let path = fill(template, kind, &real);
            for query in ["", "?limit=0", "?cursor=garbage", "?limit=abc&actor="] {
                cases.push((format!("{path}{query}"), None, json_body.clone()));
            }
        }
        let path = fill(template, Id::Real, &real);
        let bearer = "Bearer pim_0000000000000000000000000000000000000000";
        for auth in [bearer, "Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer", "bearer  "] {
            cases.push((path.clone(), Some(auth), json_body.clone()));
        }
        // A body the endpoint would refuse (wrong media type, not JSON) is not looked at either.
        cases.push((path.clone(), None, Body::Bytes(Some("text/plain"), b"hello".to_vec())));
        cases.push((path, None, Body::Bytes(Some("application/json"), b"{not json".to_vec())));
        for (path, auth, body) in cases {
            let a = raw.send_auth(&m, &path, auth, &body).await;
            calls += 1;
            if a.status != 401 || a.code() != "unauthenticated" || !a.problem_defects().is_empty() {
                wrong.push(format!("{method} {path} (auth {auth:?}): {} {:?}", a.brief(), a.problem_defects()));
            }
        }
    }
    assert!(calls > 1000, "{calls} calls");
    assert!(
        wrong.is_empty(),
        "{} of {calls} calls were not refused with 401 first:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let after = db.snapshot().await;
    assert!(after == before, "calls without a valid token changed the database or wrote audit events");
}

crate::backend_tests!(every_operation_refuses_a_caller_without_a_valid_token_first);
