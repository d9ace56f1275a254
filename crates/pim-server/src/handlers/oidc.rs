//! OpenID Connect sign-in for the CLI: the providers, start (a loopback redirect) and finish.

use axum::extract::State;
use pim_api::{LoginResponse, OidcFinishRequest, OidcProvider, OidcStartRequest, OidcStartResponse, Problem};
use pim_engine::oidc::{OidcFinish, OidcPurpose};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path};

/// The OpenID Connect providers users can sign in through (public: the sign-in page lists them).
#[utoipa::path(get, path = "/api/v1/auth/oidc", tag = "auth", responses((status = 200, body = Vec<OidcProvider>)))]
pub async fn list_oidc_providers(State(s): State<AppState>) -> Json<Vec<OidcProvider>> {
    Json(
        s.engine
            .oidc_providers()
            .into_iter()
            .map(|p| OidcProvider { name: p.name, display_name: p.display_name })
            .collect(),
    )
}

/// Begins a sign-in at the provider `name` for the CLI: answers the URL to open in a browser. The
/// redirect URI must be a loopback one (RFC 8252).
#[utoipa::path(post, path = "/api/v1/auth/oidc/{name}/start", tag = "auth", request_body = OidcStartRequest,
    params(("name" = String, Path, description = "the provider's name")),
    responses((status = 200, body = OidcStartResponse),
        (status = 400, description = "the redirect URI is not a loopback one, or the binding is not a SHA-256", body = Problem),
        (status = 404, description = "no provider has that name", body = Problem), (status = 429, body = Problem)))]
pub async fn start_oidc(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<OidcStartRequest>,
) -> ApiResult<Json<OidcStartResponse>> {
    let binding = body.binding.to_ascii_lowercase();
    let st = s.engine.oidc_begin(&name, OidcPurpose::Cli, &body.redirect_uri, Some(&binding), body.step_up).await?;
    Ok(Json(OidcStartResponse { authorization_url: st.authorization_url, state: st.state }))
}

/// Finishes a sign-in begun with `start`: the code is exchanged and the ID token validated; answers
/// a bearer token like `POST /api/v1/auth/login`.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{name}/finish", tag = "auth", request_body = OidcFinishRequest,
    params(("name" = String, Path, description = "the provider's name")),
    responses((status = 200, body = LoginResponse), (status = 400, body = Problem),
        (status = 401, description = "the state is unknown, used or expired, the binding secret is not the start's, or the provider's answer is not valid", body = Problem),
        (status = 403, description = "no pim user for this identity", body = Problem),
        (status = 404, description = "no provider has that name", body = Problem),
        (status = 409, description = "the user is disabled, or a new user's name is taken", body = Problem),
        (status = 429, body = Problem)))]
pub async fn finish_oidc(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    Json(body): Json<OidcFinishRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let binding = pim_engine::oidc::cli_binding(&body.binding_secret);
    let f = OidcFinish {
        provider: &name,
        state: &body.state,
        code: &body.code,
        purpose: OidcPurpose::Cli,
        binding: Some(&binding),
        token_name: body.token_name,
        lifetime_ms: s.engine.session_token_ms(),
    };
    let (issued, principal) = s.engine.oidc_finish(&ctx, f).await?;
    Ok(Json(LoginResponse {
        token: issued.secret,
        expires_at: issued.info.expires_at,
        principal,
        mfa_at: issued.info.mfa_at,
    }))
}
