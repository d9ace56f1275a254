//! Manage, Audiences: the resource servers that accept pim's signed access tokens (docs/TOKENS.md):
//! the list, registering one, and removing one. Reading needs `pim.tokens.read` at `/`, writing
//! `pim.tokens.write`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use pim_domain::actions::TOKENS_WRITE;
use pim_domain::token::{Audience, SigningAlg};
use pim_domain::{ErrorKind, ScopePath};
use pim_engine::tokens::audiences::AudienceChange;

use super::manage::{Tab, tabs};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, refused, refused_text, render, render_status,
};

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/audiences", get(list_audiences).post(create_audience))
        .route("/manage/audiences/{id}/delete", post(delete_audience))
}

struct AudienceRow {
    id: String,
    name: String,
    roles: String,
    scope_prefix: String,
    lifetime: String,
    algorithm: String,
    introspector: String,
}

/// The values of the form, as typed (shown again with what was wrong).
#[derive(Default)]
struct AudienceForm {
    name: String,
    roles: String,
    scope_prefix: String,
    lifetime_minutes: String,
    algorithm: String,
    introspector: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "manage_audiences.html")]
struct AudiencesPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    audiences: Vec<AudienceRow>,
    may_write: bool,
    form: AudienceForm,
}

fn row(s: &AppState, a: &Audience) -> AudienceRow {
    let idx = s.engine.index();
    let roles: Vec<String> =
        a.role_ids.iter().map(|r| idx.role_name(*r).map(|n| n.to_string()).unwrap_or_else(|| r.to_string())).collect();
    AudienceRow {
        id: a.id.to_string(),
        name: a.name.clone(),
        roles: if roles.is_empty() { "none".to_owned() } else { roles.join(", ") },
        scope_prefix: a.scope_prefix.to_string(),
        lifetime: format!("{} min", a.lifetime_secs / 60),
        algorithm: a.algorithm.map(|x| x.as_str().to_owned()).unwrap_or_else(|| "server default".to_owned()),
        introspector: a
            .introspector
            .map(|p| idx.principal(p).map(|x| x.name).unwrap_or_else(|| p.to_string()))
            .unwrap_or_default(),
    }
}

async fn page(s: &AppState, session: &Session, form: AudienceForm) -> Result<AudiencesPage, PortalError> {
    let chrome = Chrome::new(session, "manage", "Audiences");
    let list = s.engine.list_audiences(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    Ok(AudiencesPage {
        tabs: tabs(s, session, "audiences"),
        audiences: list.iter().map(|a| row(s, a)).collect(),
        may_write: s.engine.allowed(&session.ctx, TOKENS_WRITE, &ScopePath::root()),
        form,
        chrome,
    })
}

/// `GET /manage/audiences`.
async fn list_audiences(State(s): State<AppState>, session: Session) -> PortalResult {
    page(&s, &session, AudienceForm::default()).await.map(|p| render(&p))
}

/// The change the form asks for, or what is wrong with it.
fn change(typed: &AudienceForm) -> Result<AudienceChange, String> {
    let scope_prefix = match typed.scope_prefix.as_str() {
        "" => None,
        p => Some(ScopePath::parse(p).map_err(|e| format!("Scope prefix: {e}."))?),
    };
    let lifetime_secs = match typed.lifetime_minutes.as_str() {
        "" => None,
        m => Some(
            m.parse::<u32>()
                .ok()
                .and_then(|m| m.checked_mul(60))
                .ok_or_else(|| "Lifetime: give whole minutes, 1 to 60.".to_owned())?,
        ),
    };
    let algorithm = match typed.algorithm.as_str() {
        "" => None,
        a => Some(SigningAlg::parse(a).ok_or_else(|| "Algorithm: EdDSA or ES256.".to_owned())?),
    };
    let roles: Vec<String> =
        typed.roles.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect();
    Ok(AudienceChange {
        name: Some(typed.name.clone()),
        roles: Some(roles),
        scope_prefix,
        lifetime_secs,
        algorithm,
        introspector: (!typed.introspector.is_empty()).then(|| typed.introspector.clone()),
    })
}

/// `POST /manage/audiences`: `name`, `roles` (comma-separated), `scope_prefix`, `lifetime_minutes`,
/// `algorithm`, `introspector`.
async fn create_audience(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let mut typed = AudienceForm {
        name: form.get("name").unwrap_or_default(),
        roles: form.get("roles").unwrap_or_default(),
        scope_prefix: form.get("scope_prefix").unwrap_or_default(),
        lifetime_minutes: form.get("lifetime_minutes").unwrap_or_default(),
        algorithm: form.get("algorithm").unwrap_or_default(),
        introspector: form.get("introspector").unwrap_or_default(),
        error: None,
    };
    let outcome = match change(&typed) {
        Ok(c) => s.engine.create_audience(&session.ctx, c).await,
        Err(msg) => {
            typed.error = Some(msg);
            return page(&s, &session, typed).await.map(|p| render_status(StatusCode::UNPROCESSABLE_ENTITY, &p));
        }
    };
    match outcome {
        Ok(a) => Ok(redirect_with("/manage/audiences", Flash::ok(format!("Registered the audience {}.", a.name)))),
        Err(e) if e.refusal().is_some_and(|d| d.kind == ErrorKind::Forbidden) => {
            refused(&session, "/manage/audiences", &e)
        }
        Err(e) => {
            typed.error = Some(refused_text(&e));
            page(&s, &session, typed).await.map(|p| render_status(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    }
}

/// `POST /manage/audiences/{id}/delete`.
async fn delete_audience(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _: FormData,
) -> PortalResult {
    match s.engine.delete_audience(&session.ctx, &id).await {
        Ok(()) => Ok(redirect_with("/manage/audiences", Flash::ok("Removed the audience."))),
        Err(e) => refused(&session, "/manage/audiences", &e),
    }
}
