//! The portal's *My roles* with connectors, over real HTTP: beside an active role, where it stands
//! in each target that maps it (pending right after the activation, granted after the worker ran,
//! failed with the target's error, escaped), nothing for a pim without connectors, and a managed
//! login's password shown once behind a form with the anti-forgery token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pim_domain::Timestamp;
use pim_engine::connectors::{
    Connector, ConnectorError, ConnectorKind, ConnectorOptions, GrantOp, Granted, Holding, Mapping, RevokeOp,
    WebhookTarget,
};
use pim_engine::engine::EngineOptions;

use crate::harness::prelude::*;
use crate::portal::{Browser, unescape};

const PW: &str = "a-long-password-1";
const SCOPE: &str = "/apps/crm";

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ConnectorError>> + Send + 'a>>;

/// A webhook receiver that answers every call with `status`; answers its URL and the number of
/// calls it got.
async fn receiver(status: u16) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let code = axum::http::StatusCode::from_u16(status).expect("status");
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                code
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/hook"), calls)
}

/// A target in the test itself: every grant fails with `error`, or succeeds handing out
/// `password` (a managed login's).
struct Scripted {
    error: Option<String>,
    password: Option<String>,
}

impl Connector for Scripted {
    fn grant<'a>(&'a self, _op: &'a GrantOp) -> Answer<'a, Granted> {
        Box::pin(async move {
            match &self.error {
                Some(e) => Err(ConnectorError::new(e.clone())),
                None => Ok(Granted { credential: self.password.clone() }),
            }
        })
    }
    fn revoke<'a>(&'a self, _op: &'a RevokeOp) -> Answer<'a, ()> {
        Box::pin(async { Ok(()) })
    }
    fn list<'a>(&'a self, _entitlements: &'a [String]) -> Answer<'a, Option<Vec<Holding>>> {
        Box::pin(async { Ok(None) })
    }
}

fn mapping() -> Mapping {
    Mapping {
        role: "Database Reader".into(),
        scope: sp(SCOPE),
        entitlement: "crm-admin".into(),
        terminate_sessions: true,
    }
}

fn webhook(name: &str, url: String) -> ConnectorOptions {
    let target = WebhookTarget { url, secret: Some("hook-secret".into()), list_url: None };
    ConnectorOptions::new(name, ConnectorKind::Webhook(target), vec![mapping()])
}

fn scripted(name: &str, target: Scripted) -> ConnectorOptions {
    ConnectorOptions::new(name, ConnectorKind::Custom(Arc::new(target)), vec![mapping()])
}

/// A pim with `connectors`; `who` (signed in to the portal) eligible for Database Reader at
/// `/apps/crm` (mapped) and holding Other Role at `/` (mapped by nothing), and activating the
/// reader role. Answers the server, the browser, the activation's id and its end.
async fn world(b: &Backend, connectors: Vec<ConnectorOptions>, who: &str) -> (TestServer, Browser, String, Timestamp) {
    let s = TestServer::start_with(b, EngineOptions { connectors, ..EngineOptions::default() }).await;
    let role = s.custom_role("Database Reader", &["db.read"]).await;
    let other = s.custom_role("Other Role", &["other.read"]).await;
    s.without_mfa(role).await;
    let uid = s.user_with_password(who, PW).await;
    s.assign(uid, role, SCOPE, AssignmentKind::Eligible, None).await;
    s.assign(uid, other, "/", AssignmentKind::Active, None).await;
    let web = Browser::new(&s);
    assert_eq!(web.sign_in(who, PW, None).await.status, 200);
    let client = s.client_for(uid).await;
    let a = client.create_request(&activation(role, SCOPE, 60)).await.expect("activate");
    let a = a.assignment.expect("in effect");
    (s, web, a.id.to_string(), a.window.end.expect("an end"))
}

async fn run(s: &TestServer) -> pim_engine::connectors::ConnectorReport {
    s.engine.run_connectors_once().await.expect("connector run")
}

/// The text of the active roles' section.
async fn active_roles(web: &Browser) -> String {
    let page = web.open("/roles").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let text = page.text();
    let at = text.find("Active roles").expect("the active roles section");
    text[at..].to_owned()
}

async fn my_roles_say_pending_then_granted(b: Backend) {
    let (url, calls) = receiver(204).await;
    let (s, web, id, _) = world(&b, vec![webhook("hook", url)], "alice").await;
    let active = active_roles(&web).await;
    assert!(active.contains("pending in hook"), "right after the activation: {active}");
    assert!(!active.contains("granted in hook"), "{active}");
    assert_eq!(active.matches(" in hook").count(), 1, "only the mapped role has a status: {active}");

    let r = run(&s).await;
    assert_eq!((r.granted, r.failed), (1, 0), "{r:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the receiver got the grant");
    let active = active_roles(&web).await;
    assert!(active.contains("granted in hook"), "after the run: {active}");
    assert!(!active.contains("pending in hook"), "{active}");
    assert_eq!(active.matches(" in hook").count(), 1, "{active}");
    assert!(!web.open("/roles").await.has("Show the password once"), "a webhook hands out no password");

    // Deactivated: being removed until the worker revoked it, then nothing.
    let off = web.submit("/roles/deactivate", &[("assignment_id", id.as_str())]).await;
    assert!(off.flash().is_some_and(|f| f.starts_with("Deactivated")), "{:?}", off.flash());
    let text = web.open("/roles").await.text();
    assert!(text.contains("Access being removed Database Reader at /apps/crm: revoking in hook"), "{text}");
    assert_eq!(run(&s).await.revoked, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the receiver got the revoke");
    let text = web.open("/roles").await.text();
    assert!(!text.contains("Access being removed") && !text.contains(" in hook"), "{text}");
    s.stop().await;
}

async fn my_roles_say_failed_with_the_error(b: Backend) {
    let (url, calls) = receiver(500).await;
    let mut o = webhook("hook", url);
    o.max_grant_attempts = 1;
    let (s, web, _, _) = world(&b, vec![o], "bob").await;
    let r = run(&s).await;
    assert_eq!((r.granted, r.failed), (0, 1), "{r:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let active = active_roles(&web).await;
    let at = active.find("failed in hook: ").unwrap_or_else(|| panic!("a failed grant: {active}"));
    let shown = &active[at..];
    assert!(shown.contains("HTTP 500"), "with the target's error: {shown}");
    assert!(!active.contains("pending in hook") && !active.contains("granted in hook"), "{active}");
    assert!(!active.contains("127.0.0.1"), "the receiver's address is not shown: {active}");
    s.stop().await;
}

async fn a_hostile_error_is_escaped_and_bounded(b: Backend) {
    let hostile = format!("<script>alert('pwn')</script> & <b>bold</b> {}", "x".repeat(600));
    let target = Scripted { error: Some(hostile), password: None };
    let mut o = scripted("evil", target);
    o.max_grant_attempts = 1;
    let (s, web, _, _) = world(&b, vec![o], "carol").await;
    assert_eq!(run(&s).await.failed, 1);
    let page = web.open("/roles").await;
    assert!(!page.body.contains("<script>alert"), "the error's markup is not the page's");
    assert!(!page.body.contains("<b>bold"), "no markup at all");
    let body = unescape(&page.body);
    let at = body.find("failed in evil: <script>alert('pwn')</script> & <b>bold</b> x").expect("the escaped error");
    let shown = &body[at..];
    let xs = shown.split("</b> ").nth(1).unwrap_or_default().chars().take_while(|c| *c == 'x').count();
    assert!(xs > 100 && xs < 200, "bounded: {xs} of 600 shown");
    assert!(shown.contains("x…"), "clipped visibly");
    s.stop().await;
}

async fn without_connectors_my_roles_are_as_before(b: Backend) {
    let (s, web, _, _) = world(&b, Vec::new(), "dan").await;
    let page = web.open("/roles").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("Database Reader") && text.contains("Other Role"), "{text}");
    for absent in
        ["granted in", "pending in", "failed in", "revoking in", "Show the password once", "connected systems"]
    {
        assert!(!text.contains(absent), "{absent:?} on a pim without connectors: {text}");
    }
    assert!(!page.has("provisioning"), "no status badge at all");
    assert_eq!(run(&s).await.granted, 0, "nothing to run");
    assert!(!web.open("/roles").await.text().contains("granted in"));
    s.stop().await;
}

async fn a_managed_login_password_is_shown_once(b: Backend) {
    let password = "s3cret-Pa55word-only-once";
    let target = Scripted { error: None, password: Some(password.into()) };
    let (s, web, _, end) = world(&b, vec![scripted("db", target)], "erin").await;
    let before = web.open("/roles").await;
    assert!(!before.has("Show the password once"), "no login is made before the run");
    assert_eq!(run(&s).await.granted, 1);
    let roles = web.open("/roles").await;
    assert!(roles.text().contains("granted in db"), "{}", roles.text());
    assert!(roles.has("Show the password once"), "{}", roles.text());
    assert!(!roles.has(password), "the password is not on My roles");

    // Without the session's anti-forgery token nothing is handed out.
    let forged = web.post("/roles/credential", &[("connector", "db"), ("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    assert!(!forged.has(password));
    assert!(web.open("/roles").await.has("Show the password once"), "still waiting");

    let shown = web.post("/roles/credential", &[("connector", "db")]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let text = shown.text();
    assert!(text.contains(&format!("Password {password}")), "{text}");
    assert!(text.contains("Login erin"), "{text}");
    let until = end.to_rfc3339();
    let until = format!("{} UTC", until[..16].replace('T', " "));
    assert!(text.contains(&format!("Valid until {until}")), "{until}: {text}");
    let cache = shown.headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(cache, "no-store");
    assert_eq!(s.audited("connector.credential_taken").await.len(), 1, "audited");

    // Never again.
    let roles = web.open("/roles").await;
    assert!(!roles.has("Show the password once") && !roles.has(password), "{}", roles.text());
    let again = web.submit("/roles/credential", &[("connector", "db")]).await;
    assert!(!again.has(password));
    let flash = again.flash().expect("a message");
    assert!(flash.contains("none is waiting"), "{flash}");
    s.stop().await;
}

crate::backend_tests!(
    my_roles_say_pending_then_granted,
    my_roles_say_failed_with_the_error,
    a_hostile_error_is_escaped_and_bounded,
    without_connectors_my_roles_are_as_before,
    a_managed_login_password_is_shown_once,
);
