//! OpenID Connect sign-in against a real provider: node's `oidc-provider` (OpenID Certified),
//! started by each test (crates/pim/tests/oidc/provider.mjs). `PIM_TEST_NODE` names node (e.g.
//! `PIM_TEST_NODE=node`, with `npm ci --prefix crates/pim/tests/oidc` done); without it the tests
//! are skipped with a printed reason, unless `CI=true`, where that is a failure.
//!
//! A plain HTTP client plays the browser: it follows the provider's redirects with the provider's
//! cookies until the redirect to pim's redirect URI, whose `code` and `state` it hands on.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pim_engine::engine::EngineOptions;
use pim_engine::oidc::OidcProviderOptions;
use serde_json::{Value, json};

use crate::harness::prelude::*;

/// A running provider.
pub struct Idp {
    /// Its issuer URL.
    pub issuer: String,
    /// Where it listens (the issuer unless a proxy stands before it).
    pub listen: String,
    child: std::process::Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Node with the provider's packages, or `None` (skipped) outside CI.
pub(crate) fn node() -> Option<String> {
    let node = std::env::var("PIM_TEST_NODE").ok().filter(|n| !n.is_empty());
    let installed = provider_dir().join("node_modules/oidc-provider").is_dir();
    match node {
        Some(n) if installed => Some(n),
        _ => {
            let why = if installed {
                "PIM_TEST_NODE is not set (e.g. PIM_TEST_NODE=node)"
            } else {
                "the provider's packages are missing (npm ci --prefix crates/pim/tests/oidc)"
            };
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}, and CI=true requires the OIDC tests");
            eprintln!("skipped: {why}");
            None
        }
    }
}

impl Idp {
    /// Starts the provider; the portal client's redirect URI is `redirect`.
    pub fn start(node: &str, redirect: &str) -> Idp {
        Idp::spawn(node, redirect, None, &[])
    }

    /// [`Idp::start`] with the issuer `issuer` (a proxy's address).
    pub fn start_as(node: &str, redirect: &str, issuer: Option<&str>) -> Idp {
        Idp::spawn(node, redirect, issuer, &[])
    }

    /// [`Idp::start`] with no device authorization endpoint in its discovery.
    pub fn start_without_device_grant(node: &str) -> Idp {
        Idp::spawn(node, "http://127.0.0.1:9/portal", None, &[("PIM_OIDC_NO_DEVICE", "1")])
    }

    fn spawn(node: &str, redirect: &str, issuer: Option<&str>, env: &[(&str, &str)]) -> Idp {
        let mut cmd = std::process::Command::new(node);
        cmd.arg(provider_dir().join("provider.mjs")).env("PIM_OIDC_REDIRECT", redirect);
        if let Some(i) = issuer {
            cmd.env("PIM_OIDC_ISSUER", i);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the OIDC provider");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("the provider's first line");
        // Whatever it writes later is drained, so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("provider said {line:?}: {e}"));
        let listen = v["listen"].as_str().expect("listen").to_owned();
        Idp { issuer: v["issuer"].as_str().expect("issuer").to_owned(), listen, child }
    }

    /// Makes the provider answer the next token request with the device grant's `slow_down`.
    pub async fn slow_down_once(&self) {
        let r = reqwest::Client::new().post(format!("{}/test/slow-down", self.listen)).send().await;
        assert_eq!(r.expect("POST /test/slow-down").status(), 204);
    }

    /// Chooses who the next sign-in finishes as.
    pub async fn next(&self, sub: &str, claims: Value, amr: &[&str]) {
        let body = json!({ "sub": sub, "claims": claims, "amr": amr });
        let r = reqwest::Client::new().post(format!("{}/test/next", self.listen)).json(&body).send().await;
        assert_eq!(r.expect("POST /test/next").status(), 204);
    }

    /// pim's options for this provider (the CLI uses the native client).
    pub fn options(&self, f: impl FnOnce(&mut OidcProviderOptions)) -> OidcProviderOptions {
        let mut o = OidcProviderOptions::new("corp", &self.issuer, "pim");
        o.display_name = "Contoso".into();
        o.client_secret = Some("pim-test-secret".into());
        o.cli_client_id = Some("pim-cli".into());
        o.scopes = ["openid", "profile", "email", "groups"].map(String::from).to_vec();
        f(&mut o);
        o
    }
}

/// A browser for the provider's pages: keeps its cookies, follows nothing by itself.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { http, cookies: BTreeMap::new() }
    }

    /// GETs `at` (or POSTs `form` to it) with the cookies, and keeps the ones the answer sets.
    async fn send(&mut self, at: &reqwest::Url, form: Option<&[(String, String)]>) -> reqwest::Response {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let req = match form {
            Some(f) => self.http.post(at.clone()).form(f),
            None => self.http.get(at.clone()),
        };
        let r = req.header("cookie", cookie).send().await.expect("browse");
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().expect("cookie");
            let Some((k, v)) = c.split(';').next().and_then(|kv| kv.split_once('=')) else { continue };
            let lower = c.to_ascii_lowercase();
            if v.is_empty() || lower.contains("expires=thu, 01 jan 1970") || lower.contains("max-age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        r
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned)
}

/// The browser: follows redirects from `url`, keeping cookies, until one goes to a URL starting
/// with `until`; answers that URL's query (`code`, `state`, ...).
pub async fn browse(url: &str, until: &str) -> BTreeMap<String, String> {
    let mut b = Browser::new();
    let mut at = reqwest::Url::parse(url).expect("url");
    for _ in 0..20 {
        if at.as_str().starts_with(until) {
            return at.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        }
        let r = b.send(&at, None).await;
        let status = r.status();
        let Some(location) = location(&r) else {
            panic!("the provider answered {status} without a redirect at {at}: {}", r.text().await.unwrap_or_default());
        };
        at = at.join(&location).expect("location");
    }
    panic!("too many redirects")
}

/// The action and hidden inputs of the (first) form of `page`.
fn hidden_form(page: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        tag[start..].split('"').next().map(|v| v.replace("&amp;", "&"))
    };
    let form = &page[page.find("<form")?..];
    let action = attr(&form[..form.find('>')?], "action")?;
    let inputs = form
        .split("<input")
        .skip(1)
        .filter(|i| i.contains("type=\"hidden\""))
        .filter_map(|i| Some((attr(i, "name")?, attr(i, "value")?)))
        .collect();
    Some((action, inputs))
}

/// A person approving a device sign-in through the provider's own pages: opens
/// `verification_uri_complete`, submits its forms (the code, then the confirmation, each with the
/// page's `xsrf` token) and follows the redirects through the sign-in until the success page.
pub async fn approve_device(url: &str) {
    let mut b = Browser::new();
    let mut at = reqwest::Url::parse(url).expect("url");
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let r = b.send(&at, form.take().as_deref()).await;
        if let Some(l) = location(&r) {
            at = at.join(&l).expect("location");
            continue;
        }
        let page = r.text().await.expect("page");
        if page.contains("device approved") {
            return;
        }
        let (action, inputs) = hidden_form(&page).unwrap_or_else(|| panic!("no form at {at}: {page}"));
        at = at.join(&action).expect("action");
        form = Some(inputs);
    }
    panic!("the device approval did not end")
}

/// A server whose clock is real time (the provider's tokens are checked against it) with `o`.
pub(crate) async fn server(b: &Backend, o: OidcProviderOptions) -> TestServer {
    let s = TestServer::start(b).await;
    let key = s.secret_key;
    let s = s.restart(EngineOptions { oidc: vec![o], secret_key: key, ..EngineOptions::default() }).await;
    s.clock.set(real_now());
    s
}

pub(crate) fn real_now() -> Timestamp {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis();
    Timestamp(i64::try_from(ms).expect("ms"))
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Starts a CLI sign-in at pim, runs the browser and answers the `state` and `code`.
async fn code_for(s: &TestServer) -> (String, String) {
    code_at(s, "corp").await
}

/// [`code_for`] at the provider configured as `provider`.
async fn code_at(s: &TestServer, provider: &str) -> (String, String) {
    let start = s
        .anonymous()
        .oidc_start(provider, &OidcStartRequest { redirect_uri: REDIRECT.into(), step_up: false, binding: binding() })
        .await
        .expect("start");
    let q = browse(&start.authorization_url, REDIRECT).await;
    assert_eq!(q.get("state"), Some(&start.state), "the provider sends the state back");
    (start.state, q.get("code").cloned().expect("a code"))
}

/// The test's CLI binding secret.
pub(crate) const SECRET: &str = "the-cli-binding-secret";

pub(crate) fn binding() -> String {
    pim_engine::oidc::cli_binding(SECRET)
}

fn finish_body(state: &str, code: &str) -> OidcFinishRequest {
    OidcFinishRequest { state: state.into(), code: code.into(), binding_secret: SECRET.into(), token_name: None }
}

fn alice_claims() -> Value {
    json!({ "preferred_username": "alice", "email": "alice@example.com", "email_verified": true, "name": "Alice A." })
}

pub(crate) async fn sign_in_events(s: &TestServer) -> Vec<AuditEvent> {
    s.audited("auth.signIn").await.into_iter().filter(|e| e.details["method"] == "oidc").collect()
}

/// The whole flow over the API: unknown identities refused, a verified email links once, then
/// `sub` matches; a state is used once; every sign-in and refusal audited with the subject.
async fn the_api_flow_links_by_verified_email_and_matches_by_subject(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, idp.options(|_| {})).await;
    let anon = s.anonymous();
    let listed = anon.oidc_providers().await.expect("providers");
    assert_eq!(listed, vec![OidcProvider { name: "corp".into(), display_name: "Contoso".into() }]);
    let (alice_id, _) = s.user("alice").await;

    // Neither linking nor creating configured: refused with a clear message, audited.
    idp.next("sub-alice", alice_claims(), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let e = anon.oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("forbidden")), "{e}");
    assert!(e.to_string().contains("no pim user for this identity"), "{e}");
    let refused = sign_in_events(&s).await;
    assert_eq!(
        refused.first().map(|e| (e.outcome.as_str(), e.details["subject"].clone())),
        Some(("failure", json!("sub-alice")))
    );

    // Linked by the verified email, then by subject even when the email changes.
    let key = s.secret_key;
    let o = idp.options(|o| o.link_by_verified_email = true);
    let s = s.restart(EngineOptions { oidc: vec![o], secret_key: key, ..Default::default() }).await;
    let anon = s.anonymous();
    let (state, code) = code_for(&s).await;
    let signed = anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("signed in");
    assert_eq!(signed.principal.id, alice_id);
    assert_eq!(signed.mfa_at, None, "amr pwd is no MFA");
    let me = Client::new(&s.url, Some(signed.token.clone())).expect("client").me().await.expect("me");
    assert_eq!(me.principal.name, "alice");
    let ok = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "success").expect("audited");
    assert_eq!(ok.details["provider"], "corp");
    assert_eq!(ok.details["subject"], "sub-alice");
    assert_eq!(ok.details["match"], "linkedByEmail");
    assert_eq!(ok.actor_id, Some(alice_id));

    // The same state and code again: refused (the pending sign-in was used up), audited.
    let e = anon.oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    assert!(e.to_string().contains("start again"), "{e}");
    // A state pim never issued.
    let e = anon.oidc_finish("corp", &finish_body("forged-state", &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");

    idp.next(
        "sub-alice",
        json!({ "preferred_username": "alice2", "email": "new@example.com", "email_verified": true }),
        &["pwd"],
    )
    .await;
    let (state, code) = code_for(&s).await;
    let again = anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("again");
    assert_eq!(again.principal.id, alice_id, "matched by sub");
    let ok = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "success").expect("audited");
    assert_eq!(ok.details["match"], "linked");

    // Another subject with alice's email does not take her account: she is linked already.
    idp.next("sub-mallory", alice_claims(), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    assert_eq!(code_of(anon.oidc_finish("corp", &finish_body(&state, &code)).await), "forbidden");

    // A step-up start asks the provider for a fresh authentication; a plain one does not.
    let up = anon
        .oidc_start("corp", &OidcStartRequest { redirect_uri: REDIRECT.into(), step_up: true, binding: binding() })
        .await;
    assert!(up.expect("step-up start").authorization_url.contains("max_age=0"));
    let plain = anon
        .oidc_start("corp", &OidcStartRequest { redirect_uri: REDIRECT.into(), step_up: false, binding: binding() })
        .await;
    let plain = plain.expect("start").authorization_url;
    assert!(!plain.contains("max_age") && plain.contains("code_challenge_method=S256") && plain.contains("nonce="));
    // A loopback redirect only; an unknown provider is 404.
    for bad in ["https://evil.example.com/cb", "http://localhost:9/cb", "http://127.0.0.1/cb", "http://10.0.0.1:9/cb"] {
        let r = anon
            .oidc_start("corp", &OidcStartRequest { redirect_uri: bad.into(), step_up: false, binding: binding() })
            .await;
        assert_eq!(code_of(r), "invalid_input", "{bad}");
    }
    let r = anon
        .oidc_start("nope", &OidcStartRequest { redirect_uri: REDIRECT.into(), step_up: false, binding: binding() })
        .await;
    assert_eq!(code_of(r), "not_found");
    s.stop().await;
}

/// Linking by email takes only a plain enabled user linked nowhere: not one linked at another
/// provider, not a break-glass account, not a disabled user; no link is stored for any of them.
async fn email_linking_refuses_linked_emergency_and_disabled_users(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let corp = idp.options(|o| o.link_by_verified_email = true);
    let mut other = corp.clone();
    other.name = "other".into();
    let s = TestServer::start(&b).await;
    let key = s.secret_key;
    let s = s.restart(EngineOptions { oidc: vec![corp, other], secret_key: key, ..EngineOptions::default() }).await;
    s.clock.set(real_now());
    let anon = s.anonymous();

    // Alice is linked at "corp"; the same email at "other" does not link a second identity.
    let (alice_id, _) = s.user("alice").await;
    idp.next("sub-alice", alice_claims(), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    assert_eq!(anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("linked").principal.id, alice_id);
    idp.next("sub-intruder", alice_claims(), &["pwd"]).await;
    let (state, code) = code_at(&s, "other").await;
    assert_eq!(code_of(anon.oidc_finish("other", &finish_body(&state, &code)).await), "forbidden");

    // A break-glass account is never linked by email.
    s.admin
        .create_user(&CreateUser {
            name: "glass".into(),
            display_name: None,
            email: Some("glass@example.com".into()),
            manager_id: None,
            password: None,
            emergency_access: Some(true),
        })
        .await
        .expect("user");
    let glass = json!({ "preferred_username": "glass", "email": "glass@example.com", "email_verified": true });
    idp.next("sub-glass", glass, &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    assert_eq!(code_of(anon.oidc_finish("corp", &finish_body(&state, &code)).await), "forbidden");

    // A disabled user is not linked (so enabling her later does not hand her to this subject).
    let (erin_id, _) = s.user("erin").await;
    s.admin.update_user(erin_id, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    let erin = json!({ "preferred_username": "erin", "email": "erin@example.com", "email_verified": true });
    idp.next("sub-erin", erin, &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    assert_eq!(code_of(anon.oidc_finish("corp", &finish_body(&state, &code)).await), "forbidden");

    let linked: Vec<_> =
        sign_in_events(&s).await.into_iter().filter(|e| e.details["match"] == "linkedByEmail").collect();
    assert_eq!(linked.len(), 1, "only alice was linked: {linked:?}");
    s.stop().await;
}

/// A CLI sign-in is bound to the secret behind its `binding`: the state and code without the
/// secret are refused (and used up); a binding that is no SHA-256 is refused at start.
async fn a_cli_sign_in_needs_its_binding_secret(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    let anon = s.anonymous();
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let mut stolen = finish_body(&state, &code);
    stolen.binding_secret = "a-guess".into();
    let e = anon.oidc_finish("corp", &stolen).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("invalid_credentials")), "{e}");
    assert!(e.to_string().contains("another client"), "{e}");
    // Used up: the right secret afterwards does not revive it.
    assert_eq!(code_of(anon.oidc_finish("corp", &finish_body(&state, &code)).await), "invalid_credentials");
    assert!(s.audited("user.create").await.iter().all(|e| e.details["name"] != "ivy"), "no user was created");
    for bad in ["", "abc", &"g".repeat(64)] {
        let body = OidcStartRequest { redirect_uri: REDIRECT.into(), step_up: false, binding: bad.to_owned() };
        assert_eq!(code_of(anon.oidc_start("corp", &body).await), "invalid_input", "{bad:?}");
    }
    s.stop().await;
}

pub(crate) fn code_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    code(r)
}

/// `create_users`: a new user named by the claim; a taken name is refused, never merged; a disabled
/// user stays refused; the groups claim brings the mapped groups' memberships in line.
async fn new_users_groups_and_disabled_users(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let o = idp.options(|o| {
        o.create_users = true;
        // "ghosts" is a valid name but no pim group: logged and skipped at sign-in.
        o.group_map = BTreeMap::from([
            ("idp-dba".to_owned(), "database-admins".to_owned()),
            ("idp-ghost".to_owned(), "ghosts".to_owned()),
        ]);
    });
    let s = server(&b, o).await;
    let dba = s.group("database-admins").await;
    let other = s.group("Other").await;
    let anon = s.anonymous();
    idp.next(
        "sub-bob",
        json!({ "preferred_username": "bob", "name": "Bob B.", "groups": ["idp-ghost", "idp-dba", "Other"] }),
        &["pwd"],
    )
    .await;
    let (state, code) = code_for(&s).await;
    let bob = anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("created").principal;
    assert_eq!((bob.name.as_str(), bob.display_name.as_str()), ("bob", "Bob B."));
    let members = |g| {
        let admin = &s.admin;
        async move { admin.list_members(g).await.expect("members").items.into_iter().map(|p| p.id).collect::<Vec<_>>() }
    };
    assert_eq!(members(dba).await, vec![bob.id], "the mapped group follows the claim");
    let added = s.audited("group.addMember").await;
    assert_eq!(added.iter().filter(|e| e.principal_id == Some(bob.id)).count(), 1, "the missing group was skipped");
    assert!(members(other).await.is_empty(), "only mapped groups");
    assert!(s.audited("user.create").await.iter().any(|e| e.principal_id == Some(bob.id)));
    assert!(s.audited("group.addMember").await.iter().any(|e| e.principal_id == Some(bob.id)));
    // The index follows at once: the group's eligibility reaches bob.
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.assign(dba, ops, "/", AssignmentKind::Active, None).await;
    assert!(s.allowed(bob.id, "ops.read", "/").await);

    // Out of the IdP group: out of the pim group on the next sign-in.
    idp.next("sub-bob", json!({ "preferred_username": "bob", "groups": [] }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("again");
    assert!(members(dba).await.is_empty());
    assert!(!s.allowed(bob.id, "ops.read", "/").await);

    // A name already taken by a pim user is refused, not merged.
    s.user("carol").await;
    idp.next("sub-carol", json!({ "preferred_username": "carol" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let e = anon.oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("name_taken"), "{e}");

    // Disabled: refused.
    s.admin.update_user(bob.id, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    idp.next("sub-bob", json!({ "preferred_username": "bob" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let e = anon.oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("principal_disabled"), "{e}");
    s.stop().await;
}

/// A token without the groups claim leaves memberships alone; two IdP groups mapped to one pim
/// group keep it while either is claimed.
async fn an_absent_groups_claim_keeps_memberships_and_two_idp_groups_share_a_pim_group(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let o = idp.options(|o| {
        o.create_users = true;
        o.group_map = BTreeMap::from([
            ("idp-dba".to_owned(), "database-admins".to_owned()),
            ("idp-dba-eu".to_owned(), "database-admins".to_owned()),
        ]);
    });
    let s = server(&b, o).await;
    let dba = s.group("database-admins").await;
    let anon = s.anonymous();
    let members = || async { s.admin.list_members(dba).await.expect("members").items.len() };
    // Only the second mapped IdP group: a member, and on the next sign-in still one (the first
    // mapped IdP group, not claimed, does not remove it).
    for _ in 0..2 {
        idp.next("sub-hank", json!({ "preferred_username": "hank", "groups": ["idp-dba-eu"] }), &["pwd"]).await;
        let (state, code) = code_for(&s).await;
        anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("signed in");
        assert_eq!(members().await, 1);
    }
    assert_eq!(s.audited("group.removeMember").await.len(), 0, "no churn");
    // No groups claim at all: nothing is known, nothing removed.
    idp.next("sub-hank", json!({ "preferred_username": "hank" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("again");
    assert_eq!(members().await, 1, "an absent claim keeps the membership");
    // An empty claim says: in no group.
    idp.next("sub-hank", json!({ "preferred_username": "hank", "groups": [] }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("again");
    assert_eq!(members().await, 0);
    s.stop().await;
}

/// `amr` with an MFA method: the session passed MFA at `auth_time`, so a role that requires MFA
/// activates; without it, the activation asks for MFA.
async fn mfa_at_the_provider_counts_as_pim_mfa(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    let anon = s.anonymous();
    let ops = s.custom_role("Ops", &["ops.*"]).await;

    idp.next("sub-dave", json!({ "preferred_username": "dave" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let plain = anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("signed in");
    assert_eq!(plain.mfa_at, None);
    s.assign(plain.principal.id, ops, "/", AssignmentKind::Eligible, None).await;
    let dave = Client::new(&s.url, Some(plain.token)).expect("client");
    assert_eq!(code_of(dave.create_request(&activation(ops, "/", 60)).await), "mfa_required");

    idp.next("sub-dave", json!({ "preferred_username": "dave" }), &["pwd", "mfa"]).await;
    let (state, code) = code_for(&s).await;
    let before = s.engine.now();
    let strong = anon.oidc_finish("corp", &finish_body(&state, &code)).await.expect("signed in with MFA");
    let at = strong.mfa_at.expect("mfa_at from auth_time");
    assert!(at.0 <= before.0 && before.0 - at.0 < 60_000, "auth_time, not some other time: {at:?} vs {before:?}");
    let dave = Client::new(&s.url, Some(strong.token)).expect("client");
    dave.create_request(&activation(ops, "/", 60)).await.expect("activated with the provider's MFA");
    let ok = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "success").expect("audited");
    assert_eq!(ok.details["mfa"], true);
    // Past the freshness window, the provider's MFA is stale like pim's own.
    s.advance(16 * MINUTE_MS);
    assert_eq!(code_of(dave.create_request(&activation(ops, "/b", 60)).await), "mfa_required");
    s.stop().await;
}

/// The ID token's `exp` is checked against pim's clock: a token issued an hour before is refused.
async fn an_expired_id_token_is_refused(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    // pim's clock runs two hours ahead of the provider's: its ID tokens (valid one hour) are expired.
    s.advance(2 * HOUR_MS);
    idp.next("sub-erin", json!({ "preferred_username": "erin" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let e = s.anonymous().oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    // The person is told only that the answer could not be verified; the audit keeps why.
    assert!(e.to_string().contains(pim_engine::oidc::UNVERIFIED) && !e.to_string().contains("xpired"), "{e}");
    let refused = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "failure").expect("audited");
    assert_eq!(refused.details["reason"], "expired", "{:?}", refused.details);
    s.stop().await;
}

/// A code issued to another client (the portal's) is refused by the provider at the exchange; a
/// state begun for the portal cannot be finished through the API.
async fn a_code_for_another_client_is_refused(b: Backend) {
    let Some(node) = node() else { return };
    let portal_redirect = "http://127.0.0.1:9/portal";
    let idp = Idp::start(&node, portal_redirect);
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    idp.next("sub-frank", json!({ "preferred_username": "frank" }), &["pwd"]).await;
    // The portal's sign-in (confidential client), its code sent to the API's finish.
    let portal = s
        .engine
        .oidc_begin("corp", pim_engine::oidc::OidcPurpose::Portal, portal_redirect, Some("cookie"), false)
        .await
        .expect("portal begin");
    let q = browse(&portal.authorization_url, portal_redirect).await;
    let portal_code = q.get("code").cloned().expect("code");
    // Finished from another browser (another binding cookie): refused, and the state is used up.
    let finish = |binding: &'static str| pim_engine::oidc::OidcFinish {
        provider: "corp",
        state: &portal.state,
        code: &portal_code,
        purpose: pim_engine::oidc::OidcPurpose::Portal,
        binding: Some(binding),
        token_name: None,
        lifetime_ms: HOUR_MS,
    };
    let ctx = pim_engine::Context::default();
    let e = s.engine.oidc_finish(&ctx, finish("another-cookie")).await.unwrap_err();
    assert!(e.to_string().contains("another browser"), "{e}");
    let e = s.engine.oidc_finish(&ctx, finish("cookie")).await.unwrap_err();
    assert!(e.to_string().contains("start again"), "used up: {e}");
    // A fresh portal sign-in, finished through the API (the CLI's path): refused.
    let portal = s
        .engine
        .oidc_begin("corp", pim_engine::oidc::OidcPurpose::Portal, portal_redirect, Some("cookie"), false)
        .await
        .expect("portal begin");
    let q = browse(&portal.authorization_url, portal_redirect).await;
    let portal_code = q.get("code").cloned().expect("code");
    let e = s.anonymous().oidc_finish("corp", &finish_body(&portal.state, &portal_code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    // The CLI's state with the portal's code: the provider refuses the code for that client.
    let (state, _) = code_for(&s).await;
    let e = s.anonymous().oidc_finish("corp", &finish_body(&state, &portal_code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    assert!(e.to_string().contains("refused the code"), "{e}");
    s.stop().await;
}

/// A reverse proxy before the provider (the issuer is the proxy's address) that, when told to,
/// changes the `sub` inside the ID token the token endpoint answers (keeping its signature).
struct Tamperer {
    url: String,
    tamper: Arc<AtomicBool>,
    idp: Idp,
}

async fn tamperer(node: &str) -> Tamperer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let idp = Idp::start_as(node, "http://127.0.0.1:9/portal", Some(&url));
    let tamper = Arc::new(AtomicBool::new(false));
    let (upstream, flag) = (idp.listen.clone(), tamper.clone());
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (upstream, flag, http) = (upstream.clone(), flag.clone(), http.clone());
        async move {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            let body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
            let mut out = http.request(parts.method.clone(), format!("{upstream}{path}")).body(body.to_vec());
            for (k, v) in parts.headers.iter().filter(|(k, _)| *k != "content-length" && *k != "transfer-encoding") {
                out = out.header(k, v);
            }
            let r = out.send().await.expect("upstream");
            let status = r.status();
            let headers = r.headers().clone();
            let mut bytes = r.bytes().await.expect("upstream body").to_vec();
            if path.starts_with("/token") && flag.load(Ordering::SeqCst) {
                let mut v: Value = serde_json::from_slice(&bytes).expect("token json");
                let jwt = v["id_token"].as_str().expect("id_token").to_owned();
                let parts: Vec<&str> = jwt.split('.').collect();
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("claims");
                claims["sub"] = json!("sub-admin");
                let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
                v["id_token"] = json!(forged);
                bytes = v.to_string().into_bytes();
            }
            let mut resp = axum::response::Response::new(axum::body::Body::from(bytes));
            *resp.status_mut() = status;
            for (k, v) in &headers {
                if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                    resp.headers_mut().append(k, v.clone());
                }
            }
            resp
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Tamperer { url, tamper, idp }
}

/// An ID token whose claims were changed after the provider signed them is refused (the signature
/// is checked through the JWKS); the same flow untouched signs in.
async fn a_forged_id_token_is_refused(b: Backend) {
    let Some(node) = node() else { return };
    let t = tamperer(&node).await;
    assert_eq!(t.idp.issuer, t.url);
    let s = server(&b, t.idp.options(|o| o.create_users = true)).await;
    t.idp.next("sub-henry", json!({ "preferred_username": "henry" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let ok = s.anonymous().oidc_finish("corp", &finish_body(&state, &code)).await.expect("through the proxy");
    assert_eq!(ok.principal.name, "henry");
    t.tamper.store(true, Ordering::SeqCst);
    let (state, code) = code_for(&s).await;
    let e = s.anonymous().oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    assert!(e.to_string().contains(pim_engine::oidc::UNVERIFIED), "{e}");
    let refused = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "failure").expect("audited");
    assert_eq!(refused.details["reason"], "signature: does not match", "{:?}", refused.details);
    s.stop().await;
}

/// An ID token signed HS256 with the client secret (the provider's "pim-hs" client) is refused
/// unless the provider is configured to allow it; the person sees a generic message, the audit
/// names the algorithm.
async fn an_id_token_signed_with_the_client_secret_is_refused_unless_allowed(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let hs = |allow: bool| {
        idp.options(|o| {
            o.client_id = "pim-hs".into();
            o.client_secret = Some("pim-hs-test-secret-0123456789abcdef0123456789abcdef".into());
            o.cli_client_id = None;
            o.create_users = true;
            o.allow_symmetric_id_tokens = allow;
        })
    };
    let s = server(&b, hs(false)).await;
    idp.next("sub-hal", json!({ "preferred_username": "hal" }), &["pwd"]).await;
    let (state, code) = code_for(&s).await;
    let e = s.anonymous().oidc_finish("corp", &finish_body(&state, &code)).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("invalid_credentials")), "{e}");
    assert!(e.to_string().contains(pim_engine::oidc::UNVERIFIED) && !e.to_string().contains("HS256"), "{e}");
    let refused = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "failure").expect("audited");
    assert_eq!(refused.details["reason"], "signature: the algorithm HS256 is not allowed", "{:?}", refused.details);
    assert!(s.audited("user.create").await.iter().all(|e| e.details["name"] != "hal"), "nobody was created");
    // Allowed for this provider: the same token signs in.
    let key = s.secret_key;
    let s = s.restart(EngineOptions { oidc: vec![hs(true)], secret_key: key, ..Default::default() }).await;
    s.clock.set(real_now());
    let (state, code) = code_for(&s).await;
    let ok = s.anonymous().oidc_finish("corp", &finish_body(&state, &code)).await.expect("HS256 allowed");
    assert_eq!(ok.principal.name, "hal");
    s.stop().await;
}

/// The portal: "Sign in with Contoso" on the sign-in page; `/portal/oidc/corp` binds the browser
/// with a Lax cookie and redirects to the provider; the callback sets the strict session cookie.
/// Without the binding cookie, or with a wrong state, a clear error page and no session.
async fn the_portal_signs_in_with_a_browser_bound_state(b: Backend) {
    let Some(node) = node() else { return };
    // Requests name the portal `pim.test` (Host), so its redirect URI is known before it starts.
    let callback = "http://pim.test/portal/oidc/corp/callback";
    let idp = Idp::start(&node, callback);
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd"]).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let get = |path: String, cookie: Option<String>| {
        let mut r = http.get(format!("{}{path}", s.url)).header("host", "pim.test");
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    // The provider's (or anyone's) error text is not reflected in pim's page.
    let r = get("/portal/oidc/corp/callback?error=x-evil&error_description=%3Cb%3Eevil%3C%2Fb%3E".into(), None).await;
    let page = r.expect("callback").text().await.expect("page");
    assert!(page.contains("did not sign you in") && !page.contains("evil"), "{page}");
    let page = get("/signin".into(), None).await.expect("signin").text().await.expect("page");
    assert!(page.contains("Sign in with Contoso") && page.contains("href=\"/portal/oidc/corp\""), "{page}");
    let set_cookie = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    };
    let begin = || async {
        let r = get("/portal/oidc/corp".into(), None).await.expect("begin");
        assert_eq!(r.status(), 303);
        let binding = set_cookie(&r, "pim_oidc").expect("binding cookie");
        assert!(binding.contains("SameSite=Lax") && binding.contains("HttpOnly"), "{binding}");
        let value = binding.split(';').next().expect("value").to_owned();
        let location = r.headers()["location"].to_str().expect("location").to_owned();
        assert!(location.starts_with(&idp.issuer), "{location}");
        let q = browse(&location, callback).await;
        let query: String = form_urlencoded_pairs(&q);
        (value, query)
    };
    // Without the binding cookie: refused, no session.
    let (_, query) = begin().await;
    let r = get(format!("/portal/oidc/corp/callback?{query}"), None).await.expect("callback");
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "pim_session").is_none());
    assert!(r.text().await.expect("page").contains("not started in this browser"));
    // Another browser's cookie: refused.
    let (_, query) = begin().await;
    let r = get(format!("/portal/oidc/corp/callback?{query}"), Some("pim_oidc=ffff".into())).await.expect("cb");
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "pim_session").is_none());
    // The browser that began it: signed in.
    let (binding, query) = begin().await;
    let r = get(format!("/portal/oidc/corp/callback?{query}"), Some(binding.clone())).await.expect("callback");
    assert_eq!(r.status(), 200);
    let session = set_cookie(&r, "pim_session").expect("session cookie");
    assert!(session.contains("SameSite=Strict") && session.contains("HttpOnly"), "{session}");
    assert!(r.text().await.expect("page").contains("href=\"/\""));
    let session = session.split(';').next().expect("value").to_owned();
    let roles = get("/roles".into(), Some(session)).await.expect("roles");
    assert_eq!(roles.status(), 200);
    assert!(roles.text().await.expect("page").contains("ivy"));
    // The same callback again (replayed): refused.
    let r = get(format!("/portal/oidc/corp/callback?{query}"), Some(binding)).await.expect("callback");
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "pim_session").is_none());
    s.stop().await;
}

/// Signs in at the portal through provider `name` as whom the provider has next; answers the page
/// the callback shows.
async fn portal_sign_in(web: &crate::portal::Browser, name: &str, callback_prefix: &str) -> crate::portal::Page {
    let begun = web.get(&format!("/portal/oidc/{name}")).await;
    assert_eq!(begun.status, 303, "{}", begun.body);
    let to = begun.location.expect("to the provider");
    let q = browse(&to, &format!("{callback_prefix}/portal/oidc/{name}/callback")).await;
    web.get(&format!("/portal/oidc/{name}/callback?{}", form_urlencoded_pairs(&q))).await
}

/// Opens My roles and sends its activation form for `eligibility` of `role` at `/` (2 hours, no
/// TOTP code).
async fn portal_activate(
    web: &crate::portal::Browser,
    eligibility: &str,
    role: RoleId,
    justification: &str,
) -> crate::portal::Page {
    let role = role.to_string();
    web.get("/roles").await;
    let fields = [
        ("eligibility", eligibility),
        ("role_id", role.as_str()),
        ("scope", "/"),
        ("duration_minutes", "120"),
        ("justification", justification),
        ("intent", "activate"),
    ];
    web.post("/roles/activate", &fields).await
}

/// The provider's URL on a step-up page ("Continue to Contoso").
fn step_up_url(page: &crate::portal::Page) -> String {
    let at = page.body.find("id=\"continue\" class=\"button\" href=\"").expect("a continue link") + 35;
    crate::portal::unescape(page.body[at..].split('"').next().expect("href"))
}

/// `step_up = "idp"` in the portal: an activation that needs MFA sends the browser back to the
/// provider (`max_age=0`); without MFA in `amr`, or as another subject, it is refused and the
/// session is unchanged; with MFA the session's MFA is renewed (audited `mfa.verify`, method oidc)
/// and the form comes back as typed, and activates. With `step_up = "totp"` the portal asks for
/// pim's TOTP as before.
async fn the_portal_steps_up_at_the_provider_as_the_same_subject(b: Backend) {
    let Some(node) = node() else { return };
    let host = "http://pim.test";
    let idp = Idp::start(&node, &format!("{host}/portal/oidc/corp/callback {host}/portal/oidc/plain/callback"));
    let corp = idp.options(|o| {
        o.create_users = true;
        o.step_up = pim_engine::oidc::StepUp::Idp;
    });
    let mut plain = corp.clone();
    plain.name = "plain".into();
    plain.step_up = pim_engine::oidc::StepUp::Totp;
    let s = TestServer::start(&b).await;
    let key = s.secret_key;
    let s = s.restart(EngineOptions { oidc: vec![corp, plain], secret_key: key, ..EngineOptions::default() }).await;
    s.clock.set(real_now());
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let signed_in_as = |name: &'static str| {
        let s = &s;
        async move {
            let events = sign_in_events(s).await;
            events.into_iter().find(|e| e.details["username"] == name).and_then(|e| e.actor_id).expect("signed in")
        }
    };

    // Signed in through "plain" (step_up = "totp"): the activation asks for pim's TOTP.
    idp.next("sub-tess", json!({ "preferred_username": "tess" }), &["pwd"]).await;
    let web = crate::portal::Browser::with_host(&s, "pim.test");
    assert_eq!(portal_sign_in(&web, "plain", host).await.status, 200);
    let tess = signed_in_as("tess").await;
    let tess_eligible = s.assign(tess, ops, "/", AssignmentKind::Eligible, None).await.id.to_string();
    assert!(!web.get("/roles").await.has("step-up-note"));
    let asked = portal_activate(&web, &tess_eligible, ops, "INC-1: the pager went off").await;
    assert_eq!(asked.status, 422, "{}", asked.text());
    assert!(asked.text().contains("authenticator app"), "{}", asked.text());
    assert!(!asked.has("max_age"), "no step-up at the provider");

    // Signed in through "corp" (step_up = "idp").
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd"]).await;
    let web = crate::portal::Browser::with_host(&s, "pim.test");
    assert_eq!(portal_sign_in(&web, "corp", host).await.status, 200);
    let ivy = signed_in_as("ivy").await;
    let eligible = s.assign(ivy, ops, "/", AssignmentKind::Eligible, None).await.id.to_string();
    let roles = web.get("/roles").await;
    assert!(roles.text().contains("You signed in through Contoso"), "{}", roles.text());
    let session = web.cookie("pim_session").expect("a session");
    let send = |web| portal_activate(web, &eligible, ops, "INC-2: orders are down");
    let mfa_verified = || async {
        s.audited("mfa.verify").await.into_iter().map(|e| (e.outcome.as_str().to_owned(), e)).collect::<Vec<_>>()
    };

    // The provider answers without MFA: refused, the session unchanged (still no MFA).
    let page = send(&web).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Continue to Contoso"), "{}", page.text());
    let url = step_up_url(&page);
    assert!(url.starts_with(&idp.issuer) && url.contains("max_age=0"), "{url}");
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd"]).await;
    let q = browse(&url, &format!("{host}/portal/oidc/corp/callback")).await;
    let back = web.get(&format!("/portal/oidc/corp/callback?{}", form_urlencoded_pairs(&q))).await;
    assert_eq!(back.status, 422, "{}", back.text());
    assert!(back.text().contains("did not report MFA") && back.text().contains("unchanged"), "{}", back.text());
    assert_eq!(web.cookie("pim_session").as_ref(), Some(&session), "the same session");
    assert!(back.set_cookies.iter().all(|c| !c.starts_with("pim_session=")));

    // Another subject at the provider, with MFA: refused, the session unchanged.
    let page = send(&web).await;
    let url = step_up_url(&page);
    idp.next("sub-mallory", json!({ "preferred_username": "mallory" }), &["pwd", "mfa"]).await;
    let q = browse(&url, &format!("{host}/portal/oidc/corp/callback")).await;
    let back = web.get(&format!("/portal/oidc/corp/callback?{}", form_urlencoded_pairs(&q))).await;
    assert_eq!(back.status, 403, "{}", back.text());
    assert!(back.text().contains("another account"), "{}", back.text());
    let failed: Vec<_> = mfa_verified().await.into_iter().filter(|(o, _)| o == "failure").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|(_, e)| e.details["method"] == "oidc" && e.actor_id == Some(ivy)));
    assert!(!s.allowed(ivy, "ops.read", "/").await);

    // The same subject with MFA: the session passed MFA at auth_time; back to the form as typed.
    let page = send(&web).await;
    assert!(page.text().contains("Continue to Contoso"), "still no MFA: {}", page.text());
    let url = step_up_url(&page);
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd", "mfa"]).await;
    let q = browse(&url, &format!("{host}/portal/oidc/corp/callback")).await;
    let back = web.get(&format!("/portal/oidc/corp/callback?{}", form_urlencoded_pairs(&q))).await;
    assert_eq!(back.status, 200, "{}", back.text());
    assert!(back.text().contains("MFA passed at Contoso"), "{}", back.text());
    assert!(web.cookie("pim_oidc").is_none(), "the binding cookie is cleared");
    assert_eq!(web.cookie("pim_session").as_ref(), Some(&session), "the same session, not a new one");
    let at = back.body.find("id=\"continue\" class=\"button\" href=\"").expect("continue") + 35;
    let next = crate::portal::unescape(back.body[at..].split('"').next().expect("href"));
    assert!(next.starts_with("/roles?eligibility="), "{next}");
    let form = web.get(&next).await;
    assert_eq!(form.status, 200);
    assert!(form.text().contains("Your session passed MFA (fresh until"), "{}", form.text());
    assert!(form.has("INC-2: orders are down</textarea>"), "the justification is kept");
    assert!(form.has("<option value=\"120\" selected>"), "the duration is kept");
    let ok: Vec<_> = mfa_verified().await.into_iter().filter(|(o, _)| o == "success").collect();
    assert_eq!(ok.len(), 1, "{ok:?}");
    let e = &ok[0].1;
    assert_eq!((e.details["provider"].as_str(), e.details["subject"].as_str()), (Some("corp"), Some("sub-ivy")));
    let mfa_at = e.details["mfaAt"].as_i64().expect("mfaAt");
    assert!(real_now().0 - mfa_at < 60_000, "the fresh auth_time: {mfa_at}");
    let done = send(&web).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert!(s.allowed(ivy, "ops.read", "/").await, "activated");

    // A new session of the same user, signed in without MFA, has no MFA (the step-up renewed only
    // the session it was for).
    idp.next("sub-ivy", json!({ "preferred_username": "ivy" }), &["pwd"]).await;
    let again = crate::portal::Browser::with_host(&s, "pim.test");
    portal_sign_in(&again, "corp", host).await;
    let page = portal_activate(&again, &eligible, ops, "INC-3: once more").await;
    assert!(page.text().contains("Continue to Contoso"), "{}", page.text());

    // A crafted /roles link fills a form but claims no MFA for a session that has none.
    let other = crate::portal::Browser::with_host(&s, "pim.test");
    idp.next("sub-tess", json!({ "preferred_username": "tess" }), &["pwd"]).await;
    portal_sign_in(&other, "plain", host).await;
    let crafted = other.get(&format!("/roles?eligibility={tess_eligible}&justification=x")).await;
    assert!(crafted.text().contains("has not passed MFA recently"), "{}", crafted.text());
    s.stop().await;
}

fn form_urlencoded_pairs(q: &BTreeMap<String, String>) -> String {
    let mut u = reqwest::Url::parse("http://x/").expect("url");
    u.query_pairs_mut().extend_pairs(q.iter());
    u.query().unwrap_or_default().to_owned()
}

/// `pim login --oidc`: the CLI listens on the loopback, prints the URL, takes the redirect and
/// stores the token.
async fn the_cli_signs_in_through_the_loopback_redirect(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, idp.options(|o| o.create_users = true)).await;
    idp.next("sub-gina", json!({ "preferred_username": "gina" }), &["pwd", "mfa"]).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pim"))
        .args(["login", "--oidc", "corp", "--server", &s.url])
        .env("PIM_CONFIG_DIR", dir.path())
        .env("PIM_NO_BROWSER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pim login");
    let stderr = child.stderr.take().expect("stderr");
    let url = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            let line = lines.next().expect("the CLI prints the URL").expect("read");
            if let Some((_, url)) = line.split_once("in your browser: ") {
                return url.trim().to_owned();
            }
        }
    })
    .await
    .expect("stderr reader");
    let authz = reqwest::Url::parse(&url).expect("url");
    let redirect = authz.query_pairs().find(|(k, _)| k == "redirect_uri").expect("redirect_uri").1.into_owned();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"), "{redirect}");
    let q = browse(&url, &redirect).await;
    // The browser lands on the CLI's listener.
    let landing = reqwest::Url::parse_with_params(&redirect, q.iter()).expect("landing");
    let page = reqwest::get(landing).await.expect("the CLI answers").text().await.expect("page");
    assert!(page.contains("You can close this tab"), "{page}");
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("the CLI ends")
    .expect("join")
    .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("as gina") && stdout.contains("MFA passed"), "{stdout}");
    let stored = std::fs::read_to_string(dir.path().join("credentials.json")).expect("credentials stored");
    let token = serde_json::from_str::<Value>(&stored).expect("json")["token"].as_str().expect("token").to_owned();
    let me = Client::new(&s.url, Some(token)).expect("client").me().await.expect("the stored token works");
    assert_eq!(me.principal.name, "gina");
    s.stop().await;
}

crate::backend_tests!(
    the_api_flow_links_by_verified_email_and_matches_by_subject,
    email_linking_refuses_linked_emergency_and_disabled_users,
    a_cli_sign_in_needs_its_binding_secret,
    new_users_groups_and_disabled_users,
    an_absent_groups_claim_keeps_memberships_and_two_idp_groups_share_a_pim_group,
    mfa_at_the_provider_counts_as_pim_mfa,
    an_expired_id_token_is_refused,
    a_code_for_another_client_is_refused,
    a_forged_id_token_is_refused,
    the_portal_signs_in_with_a_browser_bound_state,
    the_portal_steps_up_at_the_provider_as_the_same_subject,
    the_cli_signs_in_through_the_loopback_redirect,
    an_id_token_signed_with_the_client_secret_is_refused_unless_allowed,
);
