//! Who may do what with signed access tokens: audiences and keys need `pim.tokens.*` at `/` (not
//! below it), a token carries only the caller's own grants, an introspector may only introspect,
//! and an access token is no pim API credential.

use crate::harness::prelude::*;

async fn token_administration_needs_the_actions_at_the_root(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, local_admin) = s.user("local-admin").await;
    // Global Administrator below `/`: everything there, but audiences and keys are server-wide.
    s.assign(uid, role::GLOBAL_ADMINISTRATOR, "/sub", AssignmentKind::Active, None).await;
    let (cid, contributor) = s.user("contributor").await;
    s.assign(cid, role::CONTRIBUTOR, "/", AssignmentKind::Active, None).await;
    let body = CreateAudience {
        name: "api".into(),
        roles: Some(vec!["Reader".into()]),
        scope_prefix: None,
        lifetime_secs: None,
        algorithm: None,
        introspector: None,
    };
    for c in [&local_admin, &contributor] {
        assert_eq!(code(c.create_audience(&body).await), "forbidden");
        assert_eq!(code(c.rotate_keys().await), "forbidden");
    }
    assert_eq!(code(local_admin.list_audiences().await), "forbidden");
    assert_eq!(code(local_admin.list_keys().await), "forbidden");
    contributor.list_audiences().await.expect("Contributor reads (pim.*.read is not excluded)");
    s.admin.create_audience(&body).await.expect("the Global Administrator of / may");
    let patch = UpdateAudience { lifetime_secs: Some(120), ..Default::default() };
    assert_eq!(code(contributor.update_audience("api", &patch).await), "forbidden");
    assert_eq!(code(contributor.delete_audience("api").await), "forbidden");
    assert_eq!(code(local_admin.introspect_token("x.y.z").await), "forbidden");
    assert_eq!(s.admin.get_audience("api").await.expect("unchanged").lifetime_secs, 900);
    let refused = s.audited("audience.update").await;
    assert!(refused.iter().any(|e| e.error_code.as_deref() == Some("forbidden")), "refusals are audited");
    s.stop().await;
}

async fn a_token_carries_only_the_callers_own_grants(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    s.assign(victim, ops, "/", AssignmentKind::Active, None).await;
    let (_, mallory) = s.user("mallory").await;
    let body = CreateAudience {
        name: "api".into(),
        roles: Some(vec!["Ops".into()]),
        scope_prefix: None,
        lifetime_secs: None,
        algorithm: None,
        introspector: None,
    };
    s.admin.create_audience(&body).await.expect("audience");
    let ask = CreateAccessTokenRequest { audience: "api".into(), role: None, scope: None };
    assert_eq!(code(mallory.create_access_token(&ask).await), "no_grant_for_audience");
    // No field names another principal: asking for one is a bad request, not someone else's token.
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/tokens", s.url))
        .bearer_auth(mallory.token().expect("token"))
        .json(&serde_json::json!({ "audience": "api", "principalId": victim }))
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status().as_u16(), 400);
    // Without a token: 401 first.
    assert_eq!(status(s.anonymous().create_access_token(&ask).await), 401);
    s.stop().await;
}

async fn introspectors_and_access_tokens_hold_no_other_power(b: Backend) {
    let s = TestServer::start(&b).await;
    let gw = s.service_principal("gateway").await;
    let body = CreateAudience {
        name: "api".into(),
        roles: Some(vec!["Global Administrator".into()]),
        scope_prefix: None,
        lifetime_secs: None,
        algorithm: None,
        introspector: Some("gateway".into()),
    };
    s.admin.create_audience(&body).await.expect("audience");
    let gateway = s.client_for(gw).await;
    gateway.introspect_token("x.y.z").await.expect("the introspector may introspect");
    assert_eq!(code(gateway.list_audiences().await), "forbidden");
    assert_eq!(code(gateway.list_keys().await), "forbidden");
    assert_eq!(code(gateway.rotate_keys().await), "forbidden");
    // An access token is for the audience, never a pim credential.
    s.assign(s.admin_id, role::GLOBAL_ADMINISTRATOR, "/x", AssignmentKind::Active, None).await;
    let jwt = s
        .admin
        .create_access_token(&CreateAccessTokenRequest { audience: "api".into(), role: None, scope: None })
        .await
        .expect("token")
        .access_token;
    let as_api = Client::new(&s.url, Some(jwt)).expect("client");
    assert_eq!(status(as_api.me().await), 401);
    s.stop().await;
}

crate::backend_tests!(
    token_administration_needs_the_actions_at_the_root,
    a_token_carries_only_the_callers_own_grants,
    introspectors_and_access_tokens_hold_no_other_power,
);
