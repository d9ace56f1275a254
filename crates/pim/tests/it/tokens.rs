//! Signed access tokens end to end: issuing (grants in effect, `exp` never past them), audiences,
//! introspection ending with the grant, forged tokens refused, key rotation and retirement on the
//! manual clock, ES256, replicas, and two independent verifiers: PyJWT (docs/TOKENS.md's Python
//! block, through `PIM_TEST_PYTHON`) and the Rust example of docs/TOKENS.md.

use base64::Engine as _;
use pim_engine::Engine;
use pim_engine::engine::EngineOptions;

use crate::harness::prelude::*;

/// A custom role `Operator` (MFA off), `alice` eligible for it at `/k8s`, and an audience `k8s`
/// accepting it at `/k8s`.
async fn world(s: &TestServer) -> (PrincipalId, Client, RoleId) {
    let role = s.custom_role("Operator", &["k8s.*"]).await;
    s.without_mfa(role).await;
    let (uid, alice) = s.user("alice").await;
    s.assign(uid, role, "/k8s", AssignmentKind::Eligible, None).await;
    audience(s, "k8s", &["Operator"], "/k8s", None).await;
    (uid, alice, role)
}

async fn audience(s: &TestServer, name: &str, roles: &[&str], prefix: &str, introspector: Option<&str>) -> Audience {
    s.admin
        .create_audience(&CreateAudience {
            name: name.into(),
            roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
            scope_prefix: Some(sp(prefix)),
            lifetime_secs: None,
            algorithm: None,
            introspector: introspector.map(str::to_owned),
        })
        .await
        .expect("create audience")
}

fn ask(audience: &str) -> CreateAccessTokenRequest {
    CreateAccessTokenRequest { audience: audience.into(), role: None, scope: None }
}

/// The JSON of a compact JWS's part `i` (0 header, 1 claims), unverified.
fn part(token: &str, i: usize) -> serde_json::Value {
    let p = token.split('.').nth(i).expect("part");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
}

/// Moves the manual clock to the real time less `behind_ms` (PyJWT and jsonwebtoken check `exp`
/// against the real clock), and signs the administrator in again (its first token was issued at T0).
async fn near_real_time(s: &mut TestServer, behind_ms: i64) {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis();
    let target = i64::try_from(real).expect("ms") - behind_ms;
    s.advance(target - s.engine.now().0);
    let login = LoginRequest {
        username: "admin".into(),
        password: crate::harness::ADMIN_PASSWORD.into(),
        token_name: None,
        otp: None,
    };
    let token = s.anonymous().login(&login).await.expect("admin signs in again").token;
    s.admin = Client::new(&s.url, Some(token)).expect("client");
}

async fn tokens_carry_the_grants_in_effect_and_never_outlive_them(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role) = world(&s).await;
    // Eligible is not in effect: no grant, a clear 403, never an empty token.
    let e = alice.create_access_token(&ask("k8s")).await;
    assert_eq!((status(e), code(alice.create_access_token(&ask("k8s")).await)), (403, "no_grant_for_audience".into()));
    assert_eq!(code(alice.create_access_token(&ask("nope")).await), "not_found");
    let act = alice.create_request(&activation(role, "/k8s/prod", 30)).await.expect("activate").assignment.expect("a");
    let end = act.window.end.expect("end");
    // 10 minutes in: the audience's 15 minutes come first.
    s.advance(10 * MINUTE_MS);
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    let now_s = s.engine.now().0 / 1000;
    assert_eq!(t.expires_in, 15 * 60);
    assert_eq!(t.expires_at.0 / 1000, now_s + 15 * 60);
    let claims = part(&t.access_token, 1);
    assert_eq!(claims["sub"], uid.to_string());
    assert_eq!((claims["name"].as_str(), claims["aud"].as_str()), (Some("alice"), Some("k8s")));
    assert_eq!((claims["iat"].as_i64(), claims["nbf"].as_i64()), (Some(now_s), Some(now_s)));
    assert_eq!(claims["exp"].as_i64(), Some(now_s + 15 * 60));
    assert_eq!(claims["iss"], s.engine.token_issuer());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
    let g = &claims["grants"][0];
    assert_eq!((g["role"].as_str(), g["scope"].as_str()), (Some("Operator"), Some("/k8s/prod")));
    assert_eq!(g["assignment_id"], act.id.to_string());
    assert_eq!(g["ends_at"].as_i64(), Some(end.0 / 1000));
    assert_eq!(claims["grants"].as_array().map(Vec::len), Some(1));
    let header = part(&t.access_token, 0);
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("EdDSA"), Some(t.kid.as_str())));
    // 28 minutes in: the activation ends in 2 minutes, so does the token (to the second, rounded down).
    s.advance(18 * MINUTE_MS + 500);
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert_eq!(part(&t.access_token, 1)["exp"].as_i64(), Some(end.0 / 1000));
    assert!(t.expires_at <= end, "never past the activation");
    // Issuing is audited with the jti and the assignment.
    let ev = &s.audited("accessToken.issue").await[0];
    assert_eq!(ev.details["jti"], t.jti);
    assert_eq!(ev.details["assignmentIds"][0], act.id.to_string());
    // After the end: nothing to carry.
    s.advance(2 * MINUTE_MS);
    assert_eq!(code(alice.create_access_token(&ask("k8s")).await), "no_grant_for_audience");
    s.stop().await;
}

async fn audiences_filter_roles_scopes_and_groups(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role) = world(&s).await;
    let reader = s.custom_role("Viewer", &["k8s.get"]).await;
    s.assign(uid, reader, "/", AssignmentKind::Active, None).await;
    s.assign(uid, reader, "/db", AssignmentKind::Active, None).await;
    // Held through a group: the group's assignment is carried, naming the group.
    let g = s.group("oncall").await;
    s.admin.add_member(g, uid).await.expect("member");
    s.assign(g, role, "/k8s/staging", AssignmentKind::Active, None).await;
    audience(&s, "any", &["Viewer", "Operator"], "/k8s", None).await;
    let t = alice.create_access_token(&ask("any")).await.expect("token");
    let grants: Vec<(String, String)> = t.grants.iter().map(|g| (g.role.clone(), g.scope.clone())).collect();
    assert!(grants.contains(&("Viewer".into(), "/".into())), "a grant at / applies at /k8s: {grants:?}");
    assert!(grants.contains(&("Operator".into(), "/k8s/staging".into())), "{grants:?}");
    assert!(!grants.iter().any(|(_, sc)| sc == "/db"), "unrelated to the prefix: {grants:?}");
    let via = t.grants.iter().find(|x| x.scope == "/k8s/staging").expect("group grant");
    assert_eq!(via.via_group, Some(g));
    assert_eq!(via.ends_at, None, "permanent");
    assert_eq!(t.expires_in, 15 * 60, "permanent grants: the lifetime");
    // The k8s audience takes Operator only.
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert!(t.grants.iter().all(|x| x.role == "Operator"), "{:?}", t.grants);
    // Narrowed by role and scope.
    let mut q = ask("any");
    q.role = Some("Viewer".into());
    let t = alice.create_access_token(&q).await.expect("token");
    assert!(t.grants.iter().all(|x| x.role == "Viewer") && !t.grants.is_empty());
    q.role = None;
    q.scope = Some(sp("/k8s/staging/ns"));
    let t = alice.create_access_token(&q).await.expect("token");
    let scopes: Vec<&str> = t.grants.iter().map(|x| x.scope.as_str()).collect();
    assert_eq!(scopes.len(), 2, "/ and /k8s/staging apply at /k8s/staging/ns: {scopes:?}");
    q.scope = Some(sp("/k8s/prod"));
    q.role = Some("Operator".into());
    assert_eq!(code(alice.create_access_token(&q).await), "no_grant_for_audience");
    q.role = Some("NoSuchRole".into());
    assert_eq!(code(alice.create_access_token(&q).await), "not_found");
    // A service principal obtains tokens with its API token.
    let sp_id = s.service_principal("ci-bot").await;
    s.assign(sp_id, role, "/k8s", AssignmentKind::Active, Some(s.engine.now().plus_millis(HOUR_MS))).await;
    let bot = s.client_for(sp_id).await;
    let t = bot.create_access_token(&ask("k8s")).await.expect("service principal token");
    assert_eq!(part(&t.access_token, 1)["name"], "ci-bot");
    assert_eq!(t.expires_in, 15 * 60);
    // The API token shape of the same endpoint is unchanged.
    let api = alice
        .create_token(&CreateTokenRequest { name: "laptop".into(), expires_in_days: Some(2), principal_id: None })
        .await
        .expect("API token");
    assert!(api.token.starts_with("pim_"), "{}", api.token);
    s.stop().await;
}

async fn introspection_ends_with_the_grant(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role) = world(&s).await;
    let act = alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate").assignment.expect("a");
    let t = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    let r = s.admin.introspect_token(&t).await.expect("introspect");
    assert!(r.active);
    assert_eq!((r.sub.as_deref(), r.username.as_deref()), (Some(uid.to_string().as_str()), Some("alice")));
    assert_eq!((r.aud.as_deref(), r.token_type.as_deref()), (Some("k8s"), Some("Bearer")));
    assert_eq!(r.grants.as_ref().map(|g| g[0].assignment_id), Some(act.id));
    // JSON is accepted too.
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/tokens/introspect", s.url))
        .bearer_auth(s.admin.token().expect("token"))
        .json(&serde_json::json!({ "token": t }))
        .send()
        .await
        .expect("post");
    assert_eq!(raw.json::<serde_json::Value>().await.expect("json")["active"], true);
    // Deactivated: false at once, though the token's exp is 15 minutes away.
    alice
        .create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, act.id))
        .await
        .expect("deactivate");
    let r = s.admin.introspect_token(&t).await.expect("introspect");
    assert_eq!(r, IntrospectResponse::default(), "{{\"active\": false}} and nothing else");
    // A new activation does not revive the old token (it names the old assignment).
    alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate again");
    assert!(!s.admin.introspect_token(&t).await.expect("introspect").active);
    let t2 = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    assert!(s.admin.introspect_token(&t2).await.expect("introspect").active);
    // Disabling the user ends it.
    s.admin.update_user(uid, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    assert!(!s.admin.introspect_token(&t2).await.expect("introspect").active);
    s.admin.update_user(uid, &UpdateUser { enabled: Some(true), ..Default::default() }).await.expect("enable");
    assert!(
        !s.admin.introspect_token(&t2).await.expect("introspect").active,
        "enabling again does not revive a token issued before the disable"
    );
    // Disabling revoked alice's API tokens: a new one, and a new access token (the second after).
    let alice = s.client_for(uid).await;
    s.advance(1000);
    let t2 = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    assert!(s.admin.introspect_token(&t2).await.expect("introspect").active, "issued after enabling again");
    // An admin revoke (adminRemove of the eligibility ends its activations) ends it.
    let elig = s
        .admin
        .list_assignments(&AssignmentQuery { principal_id: Some(uid), ..Default::default() })
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|a| a.kind == AssignmentKind::Eligible)
        .expect("eligibility");
    let mut remove = CreateRequest::for_assignment(RequestAction::AdminRemove, elig.id);
    remove.justification = Some("left the team".into());
    s.admin.create_request(&remove).await.expect("remove");
    assert!(!s.admin.introspect_token(&t2).await.expect("introspect").active);
    // Expiry by the clock: another audience's token, past its exp.
    let other = s.custom_role("Watcher", &["k8s.watch"]).await;
    s.assign(uid, other, "/k8s", AssignmentKind::Active, None).await;
    audience(&s, "short", &["Watcher"], "/", None).await;
    s.admin
        .update_audience("short", &UpdateAudience { lifetime_secs: Some(60), ..Default::default() })
        .await
        .expect("update");
    let t3 = alice.create_access_token(&ask("short")).await.expect("token");
    assert_eq!(t3.expires_in, 60);
    s.advance(59_999 - s.engine.now().0 % 1000);
    assert!(s.admin.introspect_token(&t3.access_token).await.expect("introspect").active);
    s.advance(60_000);
    assert!(!s.admin.introspect_token(&t3.access_token).await.expect("introspect").active, "past exp");
    // A deleted audience's tokens are no longer active.
    let t4 = alice.create_access_token(&ask("short")).await.expect("token").access_token;
    assert!(s.admin.introspect_token(&t4).await.expect("introspect").active);
    s.admin.delete_audience("short").await.expect("delete");
    assert!(!s.admin.introspect_token(&t4).await.expect("introspect").active);
    s.stop().await;
}

/// `header.claims.signature` with a new header and claims, keeping the old signature.
fn reshape(token: &str, header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let enc = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", enc(header), enc(claims), token.split('.').nth(2).expect("sig"))
}

async fn forged_tokens_are_not_active(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role) = world(&s).await;
    alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate");
    let t = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    assert!(s.admin.introspect_token(&t).await.expect("introspect").active, "the genuine token is");
    let (header, claims) = (part(&t, 0), part(&t, 1));
    let mut longer = claims.clone();
    longer["exp"] = (claims["exp"].as_i64().expect("exp") + 3600).into();
    let mut alg_none = header.clone();
    alg_none["alg"] = "none".into();
    let none = format!("{}.", reshape(&t, &alg_none, &claims).rsplit_once('.').expect("dot").0);
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = "0000".into();
    let mut other_aud = claims.clone();
    other_aud["aud"] = "elsewhere".into();
    let forged = [
        ("tampered exp", reshape(&t, &header, &longer)),
        ("alg none", none),
        ("unknown kid", reshape(&t, &unknown_kid, &claims)),
        ("other audience", reshape(&t, &header, &other_aud)),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in &forged {
        let r = s.admin.introspect_token(token).await.expect("introspect answers");
        assert_eq!(r, IntrospectResponse::default(), "{what}");
    }
    // HS256 signed with the public key (the classic key-confusion forgery).
    let jwks = s.admin.jwks().await.expect("jwks");
    let x = jwks.keys[0]["x"].as_str().expect("x").to_owned();
    let mut hs = header.clone();
    hs["alg"] = "HS256".into();
    for secret in [x.as_bytes().to_vec(), base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&x).expect("raw")] {
        let key = jsonwebtoken::EncodingKey::from_secret(&secret);
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        let forged = jsonwebtoken::encode(&h, &claims, &key).expect("hs256");
        assert!(!s.admin.introspect_token(&forged).await.expect("introspect").active, "HS256 with the public key");
    }
    s.stop().await;
}

async fn introspectors_see_their_audience_only(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role) = world(&s).await;
    let gw = s.service_principal("k8s-gateway").await;
    s.admin
        .update_audience("k8s", &UpdateAudience { introspector: Some("k8s-gateway".into()), ..Default::default() })
        .await
        .expect("introspector");
    audience(&s, "db", &["Operator"], "/", None).await;
    alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate");
    let gateway = s.client_for(gw).await;
    let k8s = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    let db = alice.create_access_token(&ask("db")).await.expect("token").access_token;
    assert!(gateway.introspect_token(&k8s).await.expect("introspect").active);
    assert!(!gateway.introspect_token(&db).await.expect("introspect").active, "another audience's token");
    assert!(s.admin.introspect_token(&db).await.expect("admin").active);
    // Anyone else: 403, audited.
    assert_eq!(code(alice.introspect_token(&k8s).await), "forbidden");
    assert!(s.audited("access.denied").await.iter().any(|e| e.details["action"] == "pim.tokens.read"));
    // Removing the introspector ends its right.
    s.admin
        .update_audience("k8s", &UpdateAudience { introspector: Some(String::new()), ..Default::default() })
        .await
        .expect("clear");
    assert_eq!(code(gateway.introspect_token(&k8s).await), "forbidden");
    // A group cannot introspect.
    s.group("team").await;
    let bad = UpdateAudience { introspector: Some("team".into()), ..Default::default() };
    assert_eq!(code(s.admin.update_audience("k8s", &bad).await), "invalid_input");
    s.stop().await;
}

async fn audiences_are_managed_and_checked(b: Backend) {
    let s = TestServer::start(&b).await;
    s.custom_role("Operator", &["k8s.*"]).await;
    let a = audience(&s, "https://k8s.example.com", &["Operator", "Reader"], "/k8s", None).await;
    assert_eq!(a.role_ids.len(), 2);
    assert_eq!(a.lifetime_secs, 900, "15 minutes by default");
    assert_eq!(s.admin.get_audience("https://k8s.example.com").await.expect("by name").id, a.id);
    assert_eq!(s.admin.get_audience(&a.id.to_string()).await.expect("by id").name, a.name);
    let mut body = CreateAudience {
        name: "https://k8s.example.com".into(),
        roles: Some(vec!["Operator".into()]),
        scope_prefix: None,
        lifetime_secs: None,
        algorithm: None,
        introspector: None,
    };
    assert_eq!(code(s.admin.create_audience(&body).await), "name_taken");
    body.name = "x".into();
    for (lifetime, ok) in [(59, false), (60, true), (3600, true), (3601, false)] {
        body.name = format!("life{lifetime}");
        body.lifetime_secs = Some(lifetime);
        assert_eq!(s.admin.create_audience(&body).await.is_ok(), ok, "{lifetime}");
    }
    body.lifetime_secs = None;
    body.name = "has space".into();
    assert_eq!(code(s.admin.create_audience(&body).await), "invalid_input");
    body.name = "roles".into();
    body.roles = Some(vec!["NoSuchRole".into()]);
    assert_eq!(code(s.admin.create_audience(&body).await), "not_found");
    // No role is not every role: refused, on create and on update.
    for none in [None, Some(Vec::new())] {
        body.roles = none;
        assert_eq!(code(s.admin.create_audience(&body).await), "invalid_input", "{:?}", body.roles);
    }
    let emptied = UpdateAudience { roles: Some(Vec::new()), ..Default::default() };
    assert_eq!(code(s.admin.update_audience("life60", &emptied).await), "invalid_input");
    body.roles = Some(vec!["Operator".into()]);
    body.introspector = Some("nobody".into());
    assert_eq!(code(s.admin.create_audience(&body).await), "not_found");
    let u = s
        .admin
        .update_audience(
            "https://k8s.example.com",
            &UpdateAudience {
                name: Some("k8s".into()),
                roles: Some(vec!["Operator".into(), "Operator".into()]),
                lifetime_secs: Some(300),
                algorithm: Some(SigningAlg::ES256),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!((u.name.as_str(), u.role_ids.len(), u.lifetime_secs), ("k8s", 1, 300));
    assert_eq!(u.algorithm, Some(SigningAlg::ES256));
    let bad = UpdateAudience { lifetime_secs: Some(7200), ..Default::default() };
    assert_eq!(code(s.admin.update_audience("k8s", &bad).await), "invalid_input");
    assert_eq!(s.admin.get_audience("k8s").await.expect("unchanged").lifetime_secs, 300);
    let names: Vec<String> = s.admin.list_audiences().await.expect("list").items.into_iter().map(|a| a.name).collect();
    assert!(names.contains(&"k8s".to_owned()) && names.contains(&"life60".to_owned()), "{names:?}");
    s.admin.delete_audience("k8s").await.expect("delete");
    assert_eq!(code(s.admin.get_audience("k8s").await), "not_found");
    assert_eq!(code(s.admin.delete_audience("k8s").await), "not_found");
    for action in ["audience.create", "audience.update", "audience.delete"] {
        assert!(!s.audited(action).await.is_empty(), "{action} audited");
    }
    s.stop().await;
}

async fn keys_rotate_and_leave_the_jwks_after_their_tokens(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role) = world(&s).await;
    assert!(s.admin.jwks().await.expect("jwks").keys.is_empty(), "no key before the first token");
    alice.create_request(&activation(role, "/k8s", 8 * 60)).await.expect("activate");
    let old = alice.create_access_token(&ask("k8s")).await.expect("token");
    let jwks = s.admin.jwks().await.expect("jwks");
    assert_eq!(jwks.keys.len(), 1);
    let k = &jwks.keys[0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!((k["kid"].as_str(), k["use"].as_str()), (Some(old.kid.as_str()), Some("sig")));
    assert!(k.get("d").is_none(), "no private part in the JWKS");
    // Sealed at rest: the stored private key is a sealed secret.
    let sealed: String = {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&s.db.url).await.expect("connect");
        sqlx::query_scalar("SELECT private_sealed FROM signing_keys").fetch_one(&mut c).await.expect("row")
    };
    assert!(sealed.starts_with("v1:"), "sealed by the secret box");
    assert!(!s.audited("signingKey.create").await.is_empty());
    // Rotate: new tokens carry the new kid; the old key stays published while its tokens live.
    s.advance(10 * MINUTE_MS);
    let keys = s.admin.rotate_keys().await.expect("rotate").items;
    assert_eq!(keys.len(), 2);
    let now = s.engine.now();
    assert_eq!(keys[0].state(now), "rotated");
    assert_eq!(keys[0].retire_at, Some(now.plus_millis(HOUR_MS)));
    assert_eq!(keys[1].state(now), "current");
    let new = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert_ne!(new.kid, old.kid);
    assert_eq!(new.kid, keys[1].kid);
    assert_eq!(s.admin.jwks().await.expect("jwks").keys.len(), 2);
    assert!(s.admin.introspect_token(&old.access_token).await.expect("old").active, "until its exp");
    assert!(s.admin.introspect_token(&new.access_token).await.expect("new").active);
    let ev = &s.audited("signingKey.rotate").await[0];
    assert_eq!(
        (ev.details["previousKid"].as_str(), ev.details["kid"].as_str()),
        (Some(old.kid.as_str()), Some(new.kid.as_str()))
    );
    // 5 minutes later the old token has expired (issued 15 minutes ago).
    s.advance(5 * MINUTE_MS);
    assert!(!s.admin.introspect_token(&old.access_token).await.expect("old").active);
    // An hour after the rotation the old key leaves the JWKS, and the job records it.
    s.advance(54 * MINUTE_MS);
    assert_eq!(s.admin.jwks().await.expect("jwks").keys.len(), 2, "a minute before");
    s.advance(MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let jwks = s.admin.jwks().await.expect("jwks");
    assert_eq!(jwks.keys.iter().map(|k| k["kid"].as_str().unwrap_or("")).collect::<Vec<_>>(), [new.kid.as_str()]);
    let retired = s.audited("signingKey.retire").await;
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].details["kid"], old.kid);
    assert_eq!(s.admin.list_keys().await.expect("keys").items[0].state(s.engine.now()), "retired");
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(s.audited("signingKey.retire").await.len(), 1, "recorded once");
    s.stop().await;
}

async fn keys_rotate_on_schedule(b: Backend) {
    let mut options = EngineOptions::default();
    options.tokens.rotate_every_ms = DAY_MS;
    let s = TestServer::start_with(&b, options).await;
    let (_, alice, role) = world(&s).await;
    s.engine.run_jobs_once().await.expect("jobs");
    assert!(s.admin.list_keys().await.expect("keys").items.is_empty(), "no first key made by the schedule");
    s.assign(alice_id(&s).await, role, "/k8s", AssignmentKind::Active, None).await;
    let first = alice.create_access_token(&ask("k8s")).await.expect("token").kid;
    s.advance(DAY_MS - 1);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(alice.create_access_token(&ask("k8s")).await.expect("token").kid, first, "not yet due");
    s.advance(1);
    s.engine.run_jobs_once().await.expect("jobs");
    let second = alice.create_access_token(&ask("k8s")).await.expect("token").kid;
    assert_ne!(second, first, "rotated by the schedule");
    let ev = &s.audited("signingKey.rotate").await[0];
    assert_eq!(ev.actor_id, None, "by pim itself");
    s.stop().await;
}

async fn alice_id(s: &TestServer) -> PrincipalId {
    s.admin.get_principal("alice").await.expect("alice").id
}

async fn es256_audiences_are_signed_with_p256(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role) = world(&s).await;
    s.admin
        .update_audience("k8s", &UpdateAudience { algorithm: Some(SigningAlg::ES256), ..Default::default() })
        .await
        .expect("ES256");
    alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate");
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert_eq!(t.algorithm, SigningAlg::ES256);
    assert_eq!(part(&t.access_token, 0)["alg"], "ES256");
    let jwks = s.admin.jwks().await.expect("jwks");
    let k = jwks.keys.iter().find(|k| k["kid"] == t.kid).expect("published");
    assert_eq!((k["kty"].as_str(), k["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert!(k["x"].is_string() && k["y"].is_string());
    assert!(s.admin.introspect_token(&t.access_token).await.expect("introspect").active);
    // Rotation rotates each algorithm in use.
    let keys = s.admin.rotate_keys().await.expect("rotate").items;
    assert_eq!(keys.iter().filter(|k| k.rotated_at.is_none()).count(), 1, "{keys:?}");
    s.stop().await;
}

async fn a_replica_verifies_tokens_signed_by_another(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role) = world(&s).await;
    alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate");
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let options = EngineOptions { secret_key: s.secret_key, ..EngineOptions::default() };
    let replica = Engine::open(store, s.clock.clone(), options).await.expect("replica");
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    let ctx = pim_engine::Context {
        actor: Some(pim_engine::Actor {
            id: s.admin_id,
            kind: PrincipalKind::User,
            name: "admin".into(),
            token_id: None,
            mfa_at: None,
        }),
        ..Default::default()
    };
    replica.follow_changes().await.expect("follow");
    assert!(replica.introspect(&ctx, &t.access_token).await.expect("introspect").is_some(), "a key it had not seen");
    // A rotation on the replica: the first server signs with the new key (read from the database).
    replica.rotate_signing_keys(&ctx).await.expect("rotate on the replica");
    let t2 = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert_ne!(t2.kid, t.kid);
    assert!(replica.introspect(&ctx, &t2.access_token).await.expect("introspect").is_some());
    s.stop().await;
}

/// The Python interpreter with PyJWT (`PIM_TEST_PYTHON`); without it the test is skipped with a
/// printed reason, unless `CI=true`, where that is a failure.
fn python() -> Option<String> {
    match std::env::var("PIM_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PIM_TEST_PYTHON is not set, and CI=true requires the PyJWT verifier test to run"
            );
            eprintln!("skipped: PIM_TEST_PYTHON is not set (a Python 3 with pyjwt and cryptography)");
            None
        }
    }
}

/// The first ```python block of docs/TOKENS.md.
fn docs_python() -> String {
    let doc = include_str!("../../../../docs/TOKENS.md");
    let start = doc.find("```python\n").expect("a python block") + "```python\n".len();
    doc[start..start + doc[start..].find("```").expect("end")].to_owned()
}

/// Runs docs/TOKENS.md's Python verifier: `Ok(claims)` or `Err(stderr)`.
fn pyjwt(python: &str, s: &TestServer, audience: &str, token: &str) -> Result<serde_json::Value, String> {
    let jwks = format!("{}/.well-known/jwks.json", s.url);
    let out = std::process::Command::new(python)
        .args(["-c", &docs_python(), &jwks, s.engine.token_issuer(), audience, token])
        .output()
        .expect("run PIM_TEST_PYTHON");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("claims as JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn pyjwt_verifies_tokens_with_the_jwks(b: Backend) {
    let Some(python) = python() else { return };
    let probe = std::process::Command::new(&python).args(["-c", "import jwt, cryptography"]).output().expect("python");
    assert!(probe.status.success(), "PyJWT with cryptography is needed: pip install pyjwt cryptography");
    let mut s = TestServer::start(&b).await;
    // PyJWT checks exp against the real clock: start 28 minutes before it.
    near_real_time(&mut s, 28 * MINUTE_MS).await;
    let (_, alice, role) = world(&s).await;
    let act = alice.create_request(&activation(role, "/k8s", 30)).await.expect("activate").assignment.expect("a");
    let end = act.window.end.expect("end");
    s.advance(28 * MINUTE_MS);
    // The activation ends in 2 minutes; the audience would give 15.
    let t = alice.create_access_token(&ask("k8s")).await.expect("token");
    let claims = pyjwt(&python, &s, "k8s", &t.access_token).expect("PyJWT verifies the token");
    assert_eq!(claims["exp"].as_i64(), Some(end.0 / 1000), "exp is the activation's end");
    assert!(claims["exp"].as_i64().expect("exp") * 1000 <= end.0, "never past it");
    assert_eq!(claims["grants"][0]["assignment_id"], act.id.to_string());
    // The wrong audience or issuer is refused by PyJWT.
    let e = pyjwt(&python, &s, "elsewhere", &t.access_token).expect_err("wrong audience");
    assert!(e.contains("InvalidAudience"), "{e}");
    // ES256 too.
    audience(&s, "es", &["Operator"], "/", None).await;
    s.admin
        .update_audience("es", &UpdateAudience { algorithm: Some(SigningAlg::ES256), ..Default::default() })
        .await
        .expect("ES256");
    let es = alice.create_access_token(&ask("es")).await.expect("token");
    pyjwt(&python, &s, "es", &es.access_token).expect("PyJWT verifies ES256");
    // After a rotation: the old token still verifies (its key is still in the JWKS), the new one
    // carries the new kid and verifies too.
    s.admin.rotate_keys().await.expect("rotate");
    let new = alice.create_access_token(&ask("k8s")).await.expect("token");
    assert_ne!(new.kid, t.kid);
    assert_eq!(part(&new.access_token, 0)["kid"], new.kid);
    pyjwt(&python, &s, "k8s", &t.access_token).expect("the old token still verifies");
    pyjwt(&python, &s, "k8s", &new.access_token).expect("the new token verifies");
    // Forgeries made by Python: tampered claims, alg none, HS256 signed with the public key. PyJWT
    // refuses them, and so does pim's introspection.
    let forge = "import sys, json, base64, hmac, hashlib, urllib.request, jwt\n\
        token, jwks_url = sys.argv[1], sys.argv[2]\n\
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n\
        h, p, sig = token.split('.')\n\
        claims = json.loads(base64.urlsafe_b64decode(p + '=='))\n\
        claims['grants'][0]['scope'] = '/'\n\
        print(h + '.' + b64(json.dumps(claims).encode()) + '.' + sig)\n\
        header = json.loads(base64.urlsafe_b64decode(h + '=='))\n\
        print(jwt.encode(claims, None, algorithm='none', headers={'kid': header['kid']}))\n\
        key = [k for k in json.load(urllib.request.urlopen(jwks_url))['keys'] if k['kid'] == header['kid']][0]\n\
        hs = b64(json.dumps({'alg': 'HS256', 'kid': key['kid'], 'typ': 'JWT'}).encode()) + '.' + p\n\
        for secret in (json.dumps(key).encode(), key['x'].encode(), base64.urlsafe_b64decode(key['x'] + '==')):\n\
        \x20   print(hs + '.' + b64(hmac.new(secret, hs.encode(), hashlib.sha256).digest()))\n";
    let jwks = format!("{}/.well-known/jwks.json", s.url);
    let out = std::process::Command::new(&python)
        .args(["-c", forge, &new.access_token, &jwks])
        .output()
        .expect("run PIM_TEST_PYTHON");
    assert!(out.status.success(), "forging failed: {}", String::from_utf8_lossy(&out.stderr));
    let forged: Vec<String> = String::from_utf8(out.stdout).expect("utf-8").lines().map(str::to_owned).collect();
    assert_eq!(forged.len(), 5);
    assert!(s.admin.introspect_token(&new.access_token).await.expect("genuine").active);
    for f in &forged {
        assert!(pyjwt(&python, &s, "k8s", f).is_err(), "PyJWT refuses {f}");
        assert!(!s.admin.introspect_token(f).await.expect("introspect").active, "pim refuses {f}");
    }
    // An hour after the rotation the old key has left the JWKS: PyJWT cannot find it any more.
    s.advance(HOUR_MS);
    let e = pyjwt(&python, &s, "k8s", &t.access_token).expect_err("the old key is gone");
    assert!(e.contains("PyJWKClientError") || e.contains("Unable to find"), "{e}");
    s.stop().await;
}

async fn the_rust_example_of_the_docs_verifies(b: Backend) {
    let doc = include_str!("../../../../docs/TOKENS.md");
    assert!(doc.contains(include_str!("tokens_example.rs")), "docs/TOKENS.md holds tokens_example.rs verbatim");
    let mut s = TestServer::start(&b).await;
    near_real_time(&mut s, 0).await;
    let (_, alice, role) = world(&s).await;
    let act = alice.create_request(&activation(role, "/k8s", 60)).await.expect("activate").assignment.expect("a");
    let t = alice.create_access_token(&ask("k8s")).await.expect("token").access_token;
    let jwks = format!("{}/.well-known/jwks.json", s.url);
    let issuer = s.engine.token_issuer().to_owned();
    let claims = crate::tokens_example::verify(&jwks, &issuer, "k8s", &t).await.expect("verifies");
    assert_eq!((claims.name.as_str(), claims.grants[0].role.as_str()), ("alice", "Operator"));
    assert_eq!(claims.grants[0].assignment_id, act.id.to_string());
    assert!(claims.grants[0].ends_at.is_some() && claims.exp > 0 && !claims.sub.is_empty());
    assert_eq!(claims.grants[0].scope, "/k8s");
    assert!(crate::tokens_example::verify(&jwks, &issuer, "other", &t).await.is_err(), "wrong audience");
    assert!(crate::tokens_example::verify(&jwks, "https://evil.example.com", "k8s", &t).await.is_err(), "wrong issuer");
    let (h, claims_part) = (part(&t, 0), part(&t, 1));
    let mut tampered = claims_part.clone();
    tampered["name"] = "mallory".into();
    assert!(crate::tokens_example::verify(&jwks, &issuer, "k8s", &reshape(&t, &h, &tampered)).await.is_err());
    let meta = s.anonymous().oauth_metadata().await.expect("metadata");
    assert_eq!(meta.issuer, issuer);
    assert_eq!(meta.jwks_uri, format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(meta.introspection_endpoint, format!("{issuer}/api/v1/tokens/introspect"));
    s.stop().await;
}

crate::backend_tests!(
    tokens_carry_the_grants_in_effect_and_never_outlive_them,
    audiences_filter_roles_scopes_and_groups,
    introspection_ends_with_the_grant,
    forged_tokens_are_not_active,
    introspectors_see_their_audience_only,
    audiences_are_managed_and_checked,
    keys_rotate_and_leave_the_jwks_after_their_tokens,
    keys_rotate_on_schedule,
    es256_audiences_are_signed_with_p256,
    a_replica_verifies_tokens_signed_by_another,
    pyjwt_verifies_tokens_with_the_jwks,
    the_rust_example_of_the_docs_verifies,
);
