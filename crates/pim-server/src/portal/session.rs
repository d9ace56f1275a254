//! Portal sessions: the session cookie (HttpOnly, SameSite=Strict, Secure over TLS) holding a
//! session token that is stored hashed like every token, idle and absolute timeouts, sign-in with
//! a password and a TOTP code, sign-out that revokes the token, and the guard in front of every
//! portal route: it loads the session, and refuses any form whose anti-forgery token does not
//! match (the session's, or before sign-in the one bound to a random cookie).

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use pim_domain::{ErrorKind, TokenId};
use pim_engine::{Actor, Context};
use rand::RngCore as _;
use serde::Deserialize;

use super::view::{Chrome, Flash, FormData, PortalError, redirect_with, render_status};
use crate::AppState;

/// Largest form body the portal reads.
pub const FORM_LIMIT: usize = 256 * 1024;
/// The one-time message cookie.
const FLASH_COOKIE: &str = "pim_flash";
/// The cookie that binds the sign-in form's anti-forgery token.
const PRESESSION_COOKIE: &str = "pim_presession";

/// A signed-in user of the portal.
#[derive(Clone, Debug)]
pub struct Session {
    /// The context every engine call of this request uses.
    pub ctx: Context,
    /// Who.
    pub actor: Actor,
    /// The session token's id.
    pub token_id: TokenId,
    /// The anti-forgery token of this session.
    pub csrf: String,
    /// The one-time message of the previous form, if any.
    pub flash: Option<Flash>,
    /// Whether the Manage section shows.
    pub may_manage: bool,
}

impl Session {
    /// Whether the user may perform `action` at `scope` now.
    pub fn allowed(&self, state: &AppState, action: &str, scope: &pim_domain::ScopePath) -> bool {
        state.engine.allowed(&self.ctx, action, scope)
    }
}

/// The session cookie's name: `__Host-` prefixed when cookies are Secure (the browser then also
/// insists on `Path=/` and no `Domain`).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-pim_session" } else { "pim_session" }
}

/// The value of cookie `name` in `headers`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(name: &str, value: &str, path: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

/// The `Set-Cookie` of a one-time message (a minute at most).
pub fn flash_cookie(f: &Flash) -> String {
    let value: String = form_urlencoded::byte_serialize(format!("{}:{}", f.kind, f.text).as_bytes()).collect();
    set_cookie(FLASH_COOKIE, &value, "/", 60, false)
}

fn read_flash(headers: &HeaderMap) -> Option<Flash> {
    let raw = cookie(headers, FLASH_COOKIE)?;
    let text: String = form_urlencoded::parse(format!("v={raw}").as_bytes()).next()?.1.into_owned();
    let (kind, text) = text.split_once(':')?;
    let text: String = text.chars().take(500).collect();
    Some(if kind == "ok" { Flash::ok(text) } else { Flash::error(text) })
}

fn add_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The session of a request, if its cookie names a valid one: `Ok(None)` without a cookie,
/// `Err(())` for a cookie whose session ended (to be cleared).
async fn load_session(state: &AppState, parts: &Parts) -> Result<Option<Session>, ()> {
    let Some(secret) = cookie(&parts.headers, session_cookie_name(state.portal.secure_cookies)) else {
        return Ok(None);
    };
    let Ok(actor) = state.engine.authenticate_session(&secret, state.portal.idle_ms).await else { return Err(()) };
    let Some(token_id) = actor.token_id else { return Err(()) };
    let mut ctx = crate::extract::anonymous_context(parts);
    ctx.actor = Some(actor.clone());
    let may_manage = super::pages::manage::may_manage(state, &ctx);
    Ok(Some(Session {
        csrf: state.engine.session_csrf(token_id),
        flash: read_flash(&parts.headers),
        ctx,
        actor,
        token_id,
        may_manage,
    }))
}

/// A page refused before it was shown (a bad form, a forged or stale token).
fn refusal(status: StatusCode, message: &str) -> Response {
    let mut e = PortalError::new(ErrorKind::Forbidden, message).into_response();
    *e.status_mut() = status;
    e
}

/// The guard in front of every portal route (see the module's doc).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let loaded = load_session(&state, &parts).await;
    let had_flash = cookie(&parts.headers, FLASH_COOKIE).is_some();
    let session = loaded.clone().ok().flatten();
    if let Some(s) = &session {
        parts.extensions.insert(s.clone());
    }
    let mut body = body;
    if parts.method != Method::GET && parts.method != Method::HEAD {
        if !super::origin::same_origin(
            &parts.headers,
            state.portal.public_origin.as_deref(),
            state.portal.secure_cookies,
        ) {
            return refusal(StatusCode::FORBIDDEN, "this form was sent from another site");
        }
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim() == "application/x-www-form-urlencoded"));
        if !is_form {
            return refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the form as application/x-www-form-urlencoded");
        }
        let limit = if session.is_some() { FORM_LIMIT } else { crate::ANONYMOUS_BODY_LIMIT };
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return refusal(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
        }
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return refusal(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
        };
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return refusal(StatusCode::BAD_REQUEST, "the form must not contain NUL characters");
        }
        let sent = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
        let expected = match &session {
            Some(s) => Some(s.csrf.clone()),
            None => cookie(&parts.headers, PRESESSION_COOKIE).map(|n| state.engine.presession_csrf(&n)),
        };
        if !expected.is_some_and(|e| crate::constant_time_eq(e.as_bytes(), sent.as_bytes())) {
            return refusal(
                StatusCode::FORBIDDEN,
                "this form has expired or did not come from this pim; reload the page and try again",
            );
        }
        parts.extensions.insert(FormData(pairs));
        body = Body::empty();
    }
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if had_flash && !resp.status().is_redirection() {
        add_cookie(&mut resp, &set_cookie(FLASH_COOKIE, "", "/", 0, false));
    }
    if loaded.is_err() {
        let name = session_cookie_name(state.portal.secure_cookies);
        add_cookie(&mut resp, &set_cookie(name, "", "/", 0, state.portal.secure_cookies));
    }
    resp
}

/// A page that needs a signed-in user redirects to the sign-in page otherwise.
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let next: String = form_urlencoded::byte_serialize(self.0.as_bytes()).collect();
        Redirect::to(&format!("/signin?next={next}")).into_response()
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}

/// The request's context before sign-in (request id, client address).
pub struct AnonymousContext(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for AnonymousContext {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(AnonymousContext(crate::extract::anonymous_context(parts)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SignInFirst;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            SignInFirst(if parts.method == Method::GET { path.to_owned() } else { "/".to_owned() })
        })
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage {
    /// The chrome.
    pub chrome: Chrome,
    /// Where to go next.
    pub next: String,
    /// The user name typed, kept after a failure.
    pub username: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The server has no account yet: point to `/setup`.
    pub setup: bool,
    /// The OpenID Connect providers: a "Sign in with ..." button each.
    pub providers: Vec<pim_engine::oidc::OidcProviderInfo>,
}

/// Query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn signin_response(state: &AppState, status: StatusCode, page: SignInPage, nonce: Option<String>) -> Response {
    let mut r = render_status(status, &page);
    set_presession(state, &mut r, nonce);
    r
}

/// The anti-forgery token for a form shown before sign-in, and the new random value to set in the
/// `pim_presession` cookie when the browser has none yet.
pub fn presession(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let (nonce, fresh) = match cookie(headers, PRESESSION_COOKIE).filter(|n| n.len() == 32) {
        Some(n) => (n, None),
        None => {
            let mut raw = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut raw);
            let n: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            (n.clone(), Some(n))
        }
    };
    (state.engine.presession_csrf(&nonce), fresh)
}

/// Sets the `pim_presession` cookie to `nonce` (from [`presession`]) when there is one.
pub fn set_presession(state: &AppState, r: &mut Response, nonce: Option<String>) {
    if let Some(n) = nonce {
        add_cookie(r, &set_cookie(PRESESSION_COOKIE, &n, "/", 3600, state.portal.secure_cookies));
    }
}

/// `GET /signin`.
pub async fn signin_page(
    State(state): State<AppState>,
    session: Option<Session>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = super::next::after_sign_in(q.next.as_deref());
    if session.is_some() {
        return Redirect::to(&next).into_response();
    }
    let (csrf, fresh) = presession(&state, &headers);
    let mut chrome = Chrome::anonymous("Sign in", csrf);
    chrome.flash = read_flash(&headers);
    let setup = state.engine.setup_required().await.unwrap_or(false);
    let providers = state.engine.oidc_providers();
    let page = SignInPage { chrome, next, username: String::new(), error: None, setup, providers };
    signin_response(&state, StatusCode::OK, page, fresh)
}

/// `POST /signin`: user name, password and, for a user with MFA, the authenticator's code.
pub async fn signin(
    State(state): State<AppState>,
    AnonymousContext(ctx): AnonymousContext,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let next = super::next::after_sign_in(form.get("next").as_deref());
    let username = form.get("username").unwrap_or_default();
    let password = form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default();
    let code = form.get("code");
    let result =
        state.engine.login_for(&ctx, &username, &password, Some("portal".into()), code, state.portal.absolute_ms).await;
    match result {
        Ok((issued, _)) => {
            let mut r = Redirect::to(&next).into_response();
            let secure = state.portal.secure_cookies;
            let max_age = state.portal.absolute_ms / 1000;
            add_cookie(&mut r, &set_cookie(session_cookie_name(secure), &issued.secret, "/", max_age, secure));
            add_cookie(&mut r, &set_cookie(PRESESSION_COOKIE, "", "/", 0, secure));
            r
        }
        Err(e) => {
            let (status, message) = match e.refusal() {
                Some(d) => (crate::error::status_for(d.kind), d.message.clone()),
                None => (StatusCode::INTERNAL_SERVER_ERROR, "sign-in failed inside pim; try again".to_owned()),
            };
            let nonce = cookie(&headers, PRESESSION_COOKIE).unwrap_or_default();
            let chrome = Chrome::anonymous("Sign in", state.engine.presession_csrf(&nonce));
            let providers = state.engine.oidc_providers();
            let page = SignInPage { chrome, next, username, error: Some(message), setup: false, providers };
            signin_response(&state, status, page, None)
        }
    }
}

/// `POST /signout`: ends the session on the server (its token is revoked) and clears the cookie.
pub async fn signout(State(state): State<AppState>, session: Session, _: FormData) -> Response {
    if let Err(e) = state.engine.logout(&session.ctx).await {
        return PortalError::from(e).into_response();
    }
    let mut r = redirect_with("/signin", Flash::ok("You are signed out."));
    let secure = state.portal.secure_cookies;
    add_cookie(&mut r, &set_cookie(session_cookie_name(secure), "", "/", 0, secure));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; pim_session=pim_x; b=2"));
        assert_eq!(cookie(&h, "pim_session").as_deref(), Some("pim_x"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie("pim_session", "v", "/", 60, true);
        assert_eq!(c, "pim_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
    }

    #[test]
    fn flashes_survive_their_cookie() {
        let c = flash_cookie(&Flash::ok("Activated; ends at 10:00 (UTC)."));
        let value = c.split(';').next().unwrap().trim_start_matches("pim_flash=");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("pim_flash={value}")).unwrap());
        assert_eq!(read_flash(&h), Some(Flash::ok("Activated; ends at 10:00 (UTC).")));
    }
}
