//! Security: the user's MFA status, enrolling an authenticator (QR code and secret, shown once),
//! confirming it with its first code (recovery codes, shown once), passing MFA for the session,
//! and new recovery codes.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use base64::Engine as _;
use pim_engine::mfa::MfaProof;

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, opt_time, redirect_with, refused_text, render, time,
};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mfa", get(status))
        .route("/mfa/enroll", post(enroll))
        .route("/mfa/confirm", post(confirm))
        .route("/mfa/verify", post(verify))
        .route("/mfa/recovery-codes", post(recovery_codes))
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct StatusPage {
    chrome: Chrome,
    enrolled: bool,
    confirmed_at: String,
    pending: bool,
    recovery_codes_left: i64,
    locked_until: Option<String>,
    fresh_until: Option<String>,
}

async fn status(State(s): State<AppState>, session: Session) -> PortalResult {
    let chrome = Chrome::new(&session, "", "Security");
    let m = s.engine.mfa_status(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    Ok(render(&StatusPage {
        chrome,
        enrolled: m.confirmed_at.is_some(),
        confirmed_at: opt_time(m.confirmed_at),
        pending: m.pending_since.is_some(),
        recovery_codes_left: m.recovery_codes_left,
        locked_until: m.locked_until.map(time),
        fresh_until: m.fresh_until.map(time),
    }))
}

#[derive(Template)]
#[template(path = "mfa_enroll.html")]
struct EnrollPage {
    chrome: Chrome,
    qr_data_uri: String,
    secret: String,
    replaces_confirmed: bool,
}

async fn enroll(State(s): State<AppState>, session: Session, _: FormData) -> PortalResult {
    let chrome = Chrome::new(&session, "", "Set up an authenticator");
    let e = s.engine.enroll_totp(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let qr = base64::engine::general_purpose::STANDARD.encode(e.qr_svg.as_bytes());
    // The secret in groups of four, as authenticator apps show it.
    let secret =
        e.secret_base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>();
    Ok(render(&EnrollPage {
        chrome,
        qr_data_uri: format!("data:image/svg+xml;base64,{qr}"),
        secret: secret.join(" "),
        replaces_confirmed: e.replaces_confirmed,
    }))
}

#[derive(Template)]
#[template(path = "mfa_codes.html")]
struct CodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

async fn confirm(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let code = form.get("code").unwrap_or_default();
    match s.engine.confirm_totp(&session.ctx, &code).await {
        Ok(c) => {
            let mut chrome = Chrome::new(&session, "", "Your recovery codes");
            chrome.flash = Some(Flash::ok(format!(
                "Your authenticator is set up, and this session passed MFA until {}.",
                time(c.fresh_until)
            )));
            Ok(render(&CodesPage { chrome, codes: c.recovery_codes }))
        }
        Err(e) => Ok(redirect_with("/mfa", Flash::error(refused_text(&e)))),
    }
}

async fn verify(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let code = form.get("code").unwrap_or_default();
    let proof = if code.contains('-') { MfaProof::RecoveryCode(code) } else { MfaProof::Totp(code) };
    let back = form
        .get("next")
        .filter(|n| crate::portal::next::same_origin_path(n).is_some())
        .unwrap_or_else(|| "/mfa".into());
    Ok(match s.engine.verify_session(&session.ctx, proof).await {
        Ok(v) => {
            redirect_with(&back, Flash::ok(format!("MFA passed: this session is fresh until {}.", time(v.fresh_until))))
        }
        Err(e) => redirect_with(&back, Flash::error(refused_text(&e))),
    })
}

async fn recovery_codes(State(s): State<AppState>, session: Session, _: FormData) -> PortalResult {
    match s.engine.regenerate_recovery_codes(&session.ctx).await {
        Ok(codes) => Ok(render(&CodesPage { chrome: Chrome::new(&session, "", "Your new recovery codes"), codes })),
        Err(e) => Ok(redirect_with("/mfa", Flash::error(refused_text(&e)))),
    }
}
