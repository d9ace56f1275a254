//! Signing in and staying signed in: disabling a principal ends its tokens and portal sessions for
//! good (on every replica), and the password lockout holds across restarts and replicas.

use pim_engine::Engine;
use pim_engine::engine::EngineOptions;

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

crate::backend_tests!(disabling_ends_tokens_and_sessions_for_good, disabling_ends_tokens_on_another_replica);
