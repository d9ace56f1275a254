//! "Sign in with NAME": the portal's OpenID Connect sign-in. `GET /portal/oidc/{name}` binds the
//! browser with a short-lived `SameSite=Lax` cookie (it comes back on the provider's top-level
//! redirect) and sends it to the provider; the callback finishes the sign-in, sets the usual strict
//! session cookie and moves on to `/` through a same-site page (so the strict cookie is sent).
//! The same callback finishes a step-up (`step_up = "idp"`, begun by [`step_up`] when an
//! activation needs MFA): the session's MFA is renewed and the browser goes back to the form.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use pim_domain::ErrorKind;
use pim_engine::oidc::{OidcFinish, OidcPurpose, OidcReturn};
use rand::RngCore as _;
use serde::Deserialize;

use super::session::{AnonymousContext, Session, cookie, session_cookie_name};
use super::view::{Chrome, PortalError};
use crate::AppState;
use crate::extract::Path;

/// How long the binding cookie lives (the pending sign-in's own lifetime), in seconds.
const BINDING_SECS: i64 = pim_engine::oidc::PENDING_MS / 1000;

/// The binding cookie's name: `__Host-` prefixed when cookies are Secure.
fn binding_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-pim_oidc" } else { "pim_oidc" }
}

fn binding_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let s = if secure { "; Secure" } else { "" };
    format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{s}", binding_cookie_name(secure))
}

fn add_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Where the provider sends the browser back for provider `name`.
fn callback_uri(state: &AppState, headers: &HeaderMap, name: &str) -> Option<String> {
    let origin =
        super::origin::portal_origin(headers, state.portal.public_origin.as_deref(), state.portal.secure_cookies)?;
    Some(format!("{origin}/portal/oidc/{name}/callback"))
}

/// A new random browser binding (32 bytes, hex).
fn new_binding() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /portal/oidc/{name}`: begins the sign-in and redirects to the provider.
pub async fn begin(State(state): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let Some(redirect) = callback_uri(&state, &headers, &name) else {
        return PortalError::new(ErrorKind::InvalidInput, "the request names no host").into_response();
    };
    let binding = new_binding();
    match state.engine.oidc_begin(&name, OidcPurpose::Portal, &redirect, Some(&binding), false).await {
        Ok(start) => {
            let mut r = Redirect::to(&start.authorization_url).into_response();
            add_cookie(&mut r, &binding_cookie(&binding, BINDING_SECS, state.portal.secure_cookies));
            r
        }
        Err(e) => PortalError::from(e).into_response(),
    }
}

/// What the provider sends back.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The page that moves on to the portal after a sign-in or a step-up (a same-site navigation, so
/// the strict session cookie is sent).
#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedInPage {
    /// The chrome.
    pub chrome: Chrome,
    /// What happened ("Signed in", "MFA passed at ...").
    pub heading: String,
    /// Where to go on (a path of this portal).
    pub next: String,
}

/// The page that sends the browser to the provider to pass MFA again (a page with a link rather
/// than a redirect: a redirect answering a form post is held to CSP `form-action 'self'`).
#[derive(Template)]
#[template(path = "step_up.html")]
pub struct StepUpPage {
    /// The chrome.
    pub chrome: Chrome,
    /// The provider's display name.
    pub provider: String,
    /// Its authorization URL.
    pub url: String,
}

/// For a session that signed in through a provider with `step_up = "idp"`: begins a step-up there
/// and answers the page that sends the browser to it; `resume` (a query of `/roles`) is where it
/// comes back to. `None` when the session's MFA is pim's TOTP.
pub async fn step_up(state: &AppState, headers: &HeaderMap, session: &Session, resume: &str) -> Option<Response> {
    let chrome = Chrome::new(session, "roles", "Pass MFA");
    let provider = match state.engine.oidc_step_up_provider(&session.ctx).await {
        Ok(p) => p?,
        Err(e) => return Some(PortalError::from(e).within(&chrome).into_response()),
    };
    let Some(redirect) = callback_uri(state, headers, &provider.name) else {
        return Some(PortalError::new(ErrorKind::InvalidInput, "the request names no host").into_response());
    };
    let binding = new_binding();
    match state.engine.oidc_step_up_begin(&session.ctx, &redirect, &binding, resume).await {
        Ok(start) => {
            let chrome = Chrome::new(session, "roles", format!("Pass MFA at {}", provider.display_name));
            let page = StepUpPage { chrome, provider: provider.display_name, url: start.authorization_url };
            let mut r = super::view::render(&page);
            add_cookie(&mut r, &binding_cookie(&binding, BINDING_SECS, state.portal.secure_cookies));
            Some(r)
        }
        Err(e) => Some(PortalError::from(e).within(&chrome).into_response()),
    }
}

/// `GET /portal/oidc/{name}/callback`: finishes the sign-in begun in this browser.
pub async fn callback(
    State(state): State<AppState>,
    AnonymousContext(ctx): AnonymousContext,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let secure = state.portal.secure_cookies;
    let clear = binding_cookie("", 0, secure);
    let fail = |status: StatusCode, kind: ErrorKind, message: String| {
        let mut r = PortalError::new(kind, message).into_response();
        *r.status_mut() = status;
        add_cookie(&mut r, &clear);
        r
    };
    if let Some(e) = q.error {
        // Whatever the query says is logged (bounded), never shown: the page is pim's, not the
        // sender's to write.
        let d: String = q.error_description.unwrap_or_default().chars().take(300).collect();
        let e: String = e.chars().take(100).collect();
        tracing::info!(provider = %name, error = %e, description = %d, "the identity provider did not sign the user in");
        let text = "the identity provider did not sign you in; try again".to_owned();
        return fail(StatusCode::UNAUTHORIZED, ErrorKind::InvalidCredentials, text);
    }
    let (Some(code), Some(st)) = (q.code, q.state) else {
        return fail(StatusCode::BAD_REQUEST, ErrorKind::InvalidInput, "the provider sent no code and state".into());
    };
    let Some(binding) = cookie(&headers, binding_cookie_name(secure)) else {
        return fail(
            StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidCredentials,
            "this sign-in was not started in this browser (its cookie is missing); start again from the sign-in page"
                .into(),
        );
    };
    let f = OidcFinish {
        provider: &name,
        state: &st,
        code: &code,
        purpose: OidcPurpose::Portal,
        binding: Some(&binding),
        token_name: Some("portal".into()),
        lifetime_ms: state.portal.absolute_ms,
    };
    match state.engine.oidc_return(&ctx, f).await {
        Ok(OidcReturn::SteppedUp(done)) => {
            let heading = format!("MFA passed at {}", done.provider.display_name);
            let chrome = Chrome::anonymous(heading.clone(), String::new());
            let next = format!("/roles?{}", done.resume);
            let mut r = super::view::render(&SignedInPage { chrome, heading, next });
            add_cookie(&mut r, &clear);
            r
        }
        Ok(OidcReturn::SignedIn(signed)) => {
            let (issued, _) = *signed;
            let chrome = Chrome::anonymous("Signed in", String::new());
            let page = SignedInPage { chrome, heading: "Signed in".into(), next: "/".into() };
            let mut r = super::view::render(&page);
            let max_age = state.portal.absolute_ms / 1000;
            let session = format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
                session_cookie_name(secure),
                issued.secret,
                if secure { "; Secure" } else { "" }
            );
            add_cookie(&mut r, &session);
            add_cookie(&mut r, &clear);
            r
        }
        Err(e) => {
            let mut r = PortalError::from(e).into_response();
            add_cookie(&mut r, &clear);
            r
        }
    }
}
