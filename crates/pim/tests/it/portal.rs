//! The web portal over real HTTP, as a browser without JavaScript sees it: a cookie-keeping
//! [`Browser`] (shared with the `portal_*` test modules), and the tests of sessions and security:
//! sign-in with a password and a TOTP code, the cookie's attributes, the anti-forgery tokens, the
//! security headers and CSP, idle and absolute timeouts on the manual clock, sign-out ending the
//! session on the server, and the menu showing only what the user may use. Real browser tests
//! (Chromium, axe-core) are in `tests/portal/` and run from `tests/cli.rs`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::harness::prelude::*;

/// A page as the server answered it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Every `Set-Cookie`.
    pub set_cookies: Vec<String>,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: String,
}

impl Page {
    /// The anti-forgery token of the page's first form.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[at..].split('"').next()?.to_owned())
    }
    /// Whether the body contains `text`.
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
    /// The text inside `<main>`, with tags dropped and spaces collapsed: what a user reads.
    pub fn text(&self) -> String {
        let main = self.body.split("<main").nth(1).unwrap_or(&self.body);
        let mut out = String::new();
        let mut in_tag = false;
        for c in main.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    }
    /// The one-time message the page shows (after a form), if any.
    pub fn flash(&self) -> Option<String> {
        let at = self.body.find("class=\"flash ")?;
        let rest = &self.body[at..];
        let start = rest.find('>')? + 1;
        let end = rest.find("</p>")?;
        Some(unescape(rest[start..end].trim()))
    }
}

/// Undoes the HTML escaping of the templates (askama writes `&#39;`, `&quot;`, `&lt;`, ...).
pub fn unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// A browser without JavaScript: keeps cookies, follows nothing by itself.
pub struct Browser {
    base: String,
    /// The `Host` every request names, when not the server's address.
    host: Option<String>,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    /// The anti-forgery token of the last page that had one.
    csrf: Mutex<Option<String>>,
}

impl Browser {
    /// A browser for the test server, with no cookies.
    pub fn new(s: &TestServer) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { base: s.url.clone(), host: None, http, cookies: Mutex::default(), csrf: Mutex::default() }
    }

    /// A browser whose requests name the portal `host` (so its OpenID Connect redirect URI is known
    /// before the server starts).
    pub fn with_host(s: &TestServer, host: &str) -> Browser {
        Browser { host: Some(host.to_owned()), ..Browser::new(s) }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base)).header("cookie", self.cookie_header());
        match &self.host {
            Some(h) => r.header("host", h),
            None => r,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.lock().expect("lock").iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let set_cookies: Vec<String> =
            headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                let gone = v.is_empty() || c.contains("Max-Age=0");
                let mut jar = self.cookies.lock().expect("lock");
                if gone {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let body = resp.text().await.expect("body");
        let page = Page { status, location, set_cookies, headers, body };
        if let Some(t) = page.csrf() {
            *self.csrf.lock().expect("lock") = Some(t);
        }
        page
    }

    /// `GET path`, without following a redirect.
    pub async fn get(&self, path: &str) -> Page {
        let resp = self.request(reqwest::Method::GET, path).send().await.expect("GET");
        self.finish(resp).await
    }

    /// `GET path`, following redirects to the final page.
    pub async fn open(&self, path: &str) -> Page {
        let mut page = self.get(path).await;
        for _ in 0..5 {
            match (&page.location, page.status) {
                (Some(to), 300..=399) => page = self.get(&to.clone()).await,
                _ => break,
            }
        }
        page
    }

    /// Posts a form with `fields`, adding the anti-forgery token of the last page seen (unless
    /// `fields` has one), without following the redirect.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut pairs: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if !pairs.iter().any(|(k, _)| k == "csrf") {
            let t = self.csrf.lock().expect("lock").clone().unwrap_or_default();
            pairs.push(("csrf".into(), t));
        }
        let resp = self.request(reqwest::Method::POST, path).form(&pairs).send().await.expect("POST");
        self.finish(resp).await
    }

    /// Posts a form and follows its redirect.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post(path, fields).await;
        match (&page.location, page.status) {
            (Some(to), 300..=399) => self.open(&to.clone()).await,
            _ => page,
        }
    }

    /// Signs in through the sign-in page; answers the page it lands on.
    pub async fn sign_in(&self, user: &str, password: &str, code: Option<&str>) -> Page {
        self.get("/signin").await;
        self.submit("/signin", &[("username", user), ("password", password), ("code", code.unwrap_or(""))]).await
    }

    /// The value of a cookie held.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("lock").get(name).cloned()
    }

    /// Replaces the anti-forgery token to send next.
    pub fn set_csrf(&self, token: &str) {
        *self.csrf.lock().expect("lock") = Some(token.to_owned());
    }
}

impl TestServer {
    /// How many audit events of `action` there are, read directly from the engine's store (for
    /// servers without a signed-in administrator).
    pub async fn audited_by_engine(&self, action: &str) -> i64 {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(&self.db.url).await.expect("connect");
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
            .bind(action)
            .fetch_one(&mut c)
            .await
            .expect("count")
    }

    /// Creates a user with a password and answers its id.
    pub async fn user_with_password(&self, name: &str, password: &str) -> PrincipalId {
        self.admin
            .create_user(&CreateUser {
                name: name.into(),
                display_name: None,
                email: Some(format!("{name}@example.com")),
                manager_id: None,
                password: Some(password.into()),
                emergency_access: None,
            })
            .await
            .expect("create user")
            .id
    }
}

const PW: &str = "a-long-password-1";

async fn sign_in_with_a_password_and_a_code(b: Backend) {
    let s = TestServer::start(&b).await;
    let alice = s.user_with_password("alice", PW).await;
    let web = Browser::new(&s);
    let home = web.get("/").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/signin")));
    let roles = web.get("/roles").await;
    assert_eq!(roles.location.as_deref(), Some("/signin?next=%2Froles"), "pages need a session");

    let wrong = web.sign_in("alice", "wrong-password", None).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("wrong user name or password"), "{}", wrong.text());
    assert_eq!(web.cookie("pim_session"), None);

    let landed = web.sign_in("alice", PW, None).await;
    assert_eq!(landed.status, 200);
    assert!(landed.has("Signed in as <strong>alice</strong>") && landed.text().contains("My roles"));
    let c = web.cookie("pim_session").expect("session cookie");
    assert!(c.starts_with("pim_"), "a session token");
    let events = s.audited("auth.signIn").await;
    assert_eq!(events.iter().filter(|e| e.outcome == Outcome::Success).count(), 2, "the admin's and alice's");

    // With an authenticator, the code signs in and the session has passed MFA.
    let client = s.client_for(alice).await;
    let totp = s.enroll_mfa(&client).await;
    let web = Browser::new(&s);
    let bad = web.sign_in("alice", PW, Some("000000")).await;
    assert_eq!(bad.status, 401, "a wrong code fails the sign-in");
    let code = totp.unused_code(&s);
    let ok = web.sign_in("alice", PW, Some(&code)).await;
    assert_eq!(ok.status, 200);
    let security = web.open("/mfa").await;
    assert!(security.text().contains("MFA passed"), "{}", security.text());
}

async fn cookies_tokens_and_headers_are_strict(b: Backend) {
    let s = TestServer::start(&b).await;
    s.user_with_password("bob", PW).await;
    let web = Browser::new(&s);
    let form = web.get("/signin").await;
    for (h, v) in [
        ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        let got = form.headers.get(h).and_then(|x| x.to_str().ok()).unwrap_or_default();
        assert!(got.starts_with(v), "{h}: {got}");
    }
    assert!(!form.headers["content-security-policy"].to_str().unwrap().contains("unsafe"), "no unsafe-inline");
    assert!(!form.body.contains("<script>") && !form.body.contains("style="), "no inline script or style");

    // A form without the right token is refused and changes nothing.
    let forged = web.post("/signin", &[("username", "bob"), ("password", PW), ("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(web.cookie("pim_session"), None);
    let landed = web.sign_in("bob", PW, None).await;
    assert_eq!(landed.status, 200);
    let set = web.get("/signin").await;
    assert_eq!(set.status, 303, "signed in: the sign-in page sends you on");
    let login = s.audited("auth.signIn").await.len();

    // The session cookie: HttpOnly, SameSite=Strict, not Secure over plain HTTP.
    let web2 = Browser::new(&s);
    web2.get("/signin").await;
    let p = web2.post("/signin", &[("username", "bob"), ("password", PW)]).await;
    let cookie = p.set_cookies.iter().find(|c| c.starts_with("pim_session=")).expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(s.audited("auth.signIn").await.len(), login + 1);

    // Signed in, a form with another session's token, or from another site, is refused.
    web.set_csrf(&p.csrf().unwrap_or_else(|| "x".repeat(64)));
    let other = web.post("/signout", &[]).await;
    assert_eq!(other.status, 403);
    let page = web.open("/roles").await;
    assert_eq!(page.status, 200, "still signed in");
    let token = page.csrf().expect("token");
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/signout", s.url))
        .header("cookie", format!("pim_session={}", web.cookie("pim_session").unwrap()))
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "another site's form");
    // Scheme, host and port all count: this portal is served over plain http.
    let host = s.url.trim_start_matches("http://").to_owned();
    let port: u16 = host.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    for origin in
        [format!("https://{host}"), format!("http://localhost:{port}"), format!("http://127.0.0.1:{}", port + 1)]
    {
        let resp = reqwest::Client::new()
            .post(format!("{}/signout", s.url))
            .header("cookie", format!("pim_session={}", web.cookie("pim_session").unwrap()))
            .header("origin", origin.as_str())
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "Origin {origin} is another origin");
    }
    // The server's own origin, and `null` (sent by some browsers and privacy settings), pass on
    // to the token check: the right token signs out.
    for origin in [format!("http://{host}"), "null".to_owned()] {
        let web3 = Browser::new(&s);
        web3.sign_in("bob", PW, None).await;
        let token = web3.open("/roles").await.csrf().expect("token");
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/signout", s.url))
            .header("cookie", format!("pim_session={}", web3.cookie("pim_session").unwrap()))
            .header("origin", origin.as_str())
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "Origin {origin}");
    }
    // JSON or an empty body is not a form.
    let resp = reqwest::Client::new()
        .post(format!("{}/signout", s.url))
        .header("cookie", format!("pim_session={}", web.cookie("pim_session").unwrap()))
        .json(&serde_json::json!({"csrf": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(web.open("/roles").await.status, 200, "none of those signed bob out");
}

async fn sessions_end_when_idle_after_their_lifetime_and_at_sign_out(b: Backend) {
    let s = TestServer::start(&b).await;
    s.user_with_password("carol", PW).await;
    let web = Browser::new(&s);
    web.sign_in("carol", PW, None).await;
    // Used within the idle timeout (30 minutes) it lives on...
    for _ in 0..3 {
        s.advance(25 * MINUTE_MS);
        assert_eq!(web.get("/roles").await.status, 200);
    }
    // ...unused for longer, it ends, and the server revoked it.
    s.advance(31 * MINUTE_MS);
    let idle = web.get("/roles").await;
    assert_eq!(idle.status, 303);
    assert!(idle.set_cookies.iter().any(|c| c.starts_with("pim_session=;") && c.contains("Max-Age=0")));
    assert_eq!(s.audited("auth.sessionExpired").await.len(), 1);

    // Used all along, it still ends 8 hours after sign-in.
    web.sign_in("carol", PW, None).await;
    let secret = web.cookie("pim_session").expect("session");
    for _ in 0..16 {
        s.advance(29 * MINUTE_MS);
        assert_eq!(web.get("/roles").await.status, 200);
    }
    s.advance(25 * MINUTE_MS);
    assert_eq!(web.get("/roles").await.status, 303, "8 h after sign-in");

    // Sign-out revokes the token: the old cookie no longer works, even replayed.
    web.sign_in("carol", PW, None).await;
    let secret2 = web.cookie("pim_session").expect("session");
    assert_ne!(secret, secret2);
    let out = web.submit("/signout", &[]).await;
    assert_eq!(out.flash().as_deref(), Some("You are signed out."));
    assert_eq!(web.cookie("pim_session"), None);
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/roles", s.url))
        .header("cookie", format!("pim_session={secret2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303, "the session ended on the server");
    let api = Client::new(&s.url, Some(secret2)).unwrap();
    assert_eq!(status(api.me().await), 401, "the token is revoked for the API too");
}

async fn the_menu_shows_what_the_user_may_use(b: Backend) {
    let s = TestServer::start(&b).await;
    let dan = s.user_with_password("dan", PW).await;
    let web = Browser::new(&s);
    let roles = web.sign_in("dan", PW, None).await;
    let text = roles.text();
    assert!(!roles.has("href=\"/manage\""), "no Manage for a user without admin rights");
    assert!(roles.has("href=\"/approvals\"") && roles.has("href=\"/reviews\"") && roles.has("href=\"/audit\""));
    assert!(text.contains("You are not eligible for any role"), "{text}");
    s.assign(dan, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    assert!(web.open("/roles").await.has("href=\"/manage\""), "a reader sees Manage");
    let unknown = web.get("/no-such-page").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let api = reqwest::get(format!("{}/api/v1/nope", s.url)).await.unwrap();
    assert_eq!(api.headers()["content-type"], "application/problem+json", "the API keeps its problems");
}

async fn the_first_administrator_is_created_in_the_browser(b: Backend) {
    let s = TestServer::start_empty(&b, Some("the-setup-secret".into())).await;
    let web = Browser::new(&s);
    assert!(web.get("/signin").await.has("href=\"/setup\""), "the sign-in page points to the setup");
    let form = web.get("/setup").await;
    assert_eq!(form.status, 200);
    let fields = |secret: &'static str, again: &'static str| {
        vec![("setup_secret", secret), ("username", "root"), ("password", PW), ("password_again", again)]
    };
    let differ = web.post("/setup", &fields("the-setup-secret", "another-password")).await;
    assert_eq!(differ.status, 422);
    assert!(differ.text().contains("the two passwords differ"));
    let wrong = web.post("/setup", &fields("wrong", PW)).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(s.audited_by_engine("setup.bootstrap").await, 1, "the wrong secret is audited");
    let done = web.submit("/setup", &fields("the-setup-secret", PW)).await;
    assert_eq!(done.flash().as_deref(), Some("root is now a permanent Global Administrator. Sign in to continue."));
    assert_eq!(web.get("/setup").await.location.as_deref(), Some("/signin"), "once only");
    let landed = web.sign_in("root", PW, None).await;
    assert!(landed.text().contains("Global Administrator"), "{}", landed.text());
}

crate::backend_tests!(
    the_first_administrator_is_created_in_the_browser,
    sign_in_with_a_password_and_a_code,
    cookies_tokens_and_headers_are_strict,
    sessions_end_when_idle_after_their_lifetime_and_at_sign_out,
    the_menu_shows_what_the_user_may_use,
);
