//! First start in the browser: while the server has no account, `/setup` creates the first
//! administrator (a permanent active Global Administrator at `/`) with the one-time secret that
//! `pim serve` printed, like `pim setup` does from the command line.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use pim_api::SetupRequest;

use super::session::{AnonymousContext, presession, set_presession};
use super::view::{Chrome, Flash, FormData, redirect_with, render_status};
use crate::AppState;

/// The setup page.
#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    /// The chrome.
    pub chrome: Chrome,
    /// The user name typed, kept after a failure.
    pub username: String,
    /// The display name typed.
    pub display_name: String,
    /// The email typed.
    pub email: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// `GET /setup`: the form, while the server has no account; the sign-in page afterwards.
pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.engine.setup_required().await.unwrap_or(false) {
        return Redirect::to("/signin").into_response();
    }
    let (csrf, fresh) = presession(&state, &headers);
    let page = SetupPage {
        chrome: Chrome::anonymous("Set up pim", csrf),
        username: "admin".into(),
        display_name: String::new(),
        email: String::new(),
        error: None,
    };
    let mut r = render_status(StatusCode::OK, &page);
    set_presession(&state, &mut r, fresh);
    r
}

/// `POST /setup`: the secret, a user name and the password twice.
pub async fn setup(
    State(state): State<AppState>,
    AnonymousContext(ctx): AnonymousContext,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let raw = |k: &str| form.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let username = form.get("username").unwrap_or_default();
    let display_name = form.get("display_name").unwrap_or_default();
    let email = form.get("email").unwrap_or_default();
    let again = |status: StatusCode, error: String| {
        let (csrf, _) = presession(&state, &headers);
        let page = SetupPage {
            chrome: Chrome::anonymous("Set up pim", csrf),
            username: username.clone(),
            display_name: display_name.clone(),
            email: email.clone(),
            error: Some(error),
        };
        render_status(status, &page)
    };
    if raw("password") != raw("password_again") {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "the two passwords differ".into());
    }
    let body = SetupRequest {
        setup_secret: form.get("setup_secret").unwrap_or_default(),
        username: username.clone(),
        password: raw("password"),
        display_name: Some(display_name.clone()).filter(|d| !d.is_empty()),
        email: Some(email.clone()).filter(|e| !e.is_empty()),
    };
    match crate::handlers::auth::setup_first_admin(&state, &ctx, body).await {
        Ok(p) => redirect_with(
            "/signin",
            Flash::ok(format!("{} is now a permanent Global Administrator. Sign in to continue.", p.name)),
        ),
        Err(e) => match e.refusal() {
            Some(d) => again(crate::error::status_for(d.kind), d.message.clone()),
            None => again(StatusCode::INTERNAL_SERVER_ERROR, "setup failed inside pim; try again".into()),
        },
    }
}
