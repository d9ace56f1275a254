//! OpenID Connect sign-in for the CLI: the providers, start (a loopback redirect) and finish, and
//! the device grant's start and poll (RFC 8628).

use axum::extract::State;
use pim_api::{
    LoginResponse, OidcDevicePollRequest, OidcDevicePollResponse, OidcDeviceStartRequest, OidcDeviceStartResponse,
    OidcDeviceStatus, OidcFinishRequest, OidcProvider, OidcStartRequest, OidcStartResponse, Problem,
};
use pim_engine::auth::IssuedToken;
use pim_engine::oidc::{OidcDevicePoll, OidcFinish, OidcPurpose};

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
    Ok(Json(login_response(issued, principal)))
}

fn login_response(issued: IssuedToken, principal: pim_domain::Principal) -> LoginResponse {
    LoginResponse { token: issued.secret, expires_at: issued.info.expires_at, principal, mfa_at: issued.info.mfa_at }
}

/// Begins a device sign-in (RFC 8628) at the provider `name` for the CLI, for machines without a
/// browser: answers the code the person enters at the provider, where, and the poll interval.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{name}/device", tag = "auth", request_body = OidcDeviceStartRequest,
    params(("name" = String, Path, description = "the provider's name")),
    responses((status = 200, body = OidcDeviceStartResponse),
        (status = 400, description = "the provider offers no device sign-in, or the binding is not a SHA-256", body = Problem),
        (status = 401, description = "the provider refused to begin a device sign-in", body = Problem),
        (status = 404, description = "no provider has that name", body = Problem), (status = 429, body = Problem)))]
pub async fn start_oidc_device(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<OidcDeviceStartRequest>,
) -> ApiResult<Json<OidcDeviceStartResponse>> {
    let binding = body.binding.to_ascii_lowercase();
    let st = s.engine.oidc_device_begin(&name, &binding).await?;
    Ok(Json(OidcDeviceStartResponse {
        handle: st.handle,
        user_code: st.user_code,
        verification_uri: st.verification_uri,
        verification_uri_complete: st.verification_uri_complete,
        interval: st.interval_secs,
        expires_at: st.expires_at,
    }))
}

/// Polls a device sign-in: `pending` (poll again after `interval` seconds) until the person
/// approves it at the provider, then `signedIn` with a bearer token like `POST /api/v1/auth/login`.
#[utoipa::path(post, path = "/api/v1/auth/oidc/{name}/device/poll", tag = "auth", request_body = OidcDevicePollRequest,
    params(("name" = String, Path, description = "the provider's name")),
    responses((status = 200, body = OidcDevicePollResponse), (status = 400, body = Problem),
        (status = 401, description = "the sign-in is unknown, used or expired, the binding secret is not the start's, the provider refused it, or its answer is not valid", body = Problem),
        (status = 403, description = "no pim user for this identity", body = Problem),
        (status = 404, description = "no provider has that name", body = Problem),
        (status = 409, description = "the user is disabled, or a new user's name is taken", body = Problem),
        (status = 429, body = Problem)))]
pub async fn poll_oidc_device(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    Json(body): Json<OidcDevicePollRequest>,
) -> ApiResult<Json<OidcDevicePollResponse>> {
    let binding = pim_engine::oidc::cli_binding(&body.binding_secret);
    let r = pim_engine::oidc::OidcDevicePollRequest {
        provider: &name,
        handle: &body.handle,
        binding: &binding,
        token_name: body.token_name,
        lifetime_ms: s.engine.session_token_ms(),
    };
    Ok(Json(match s.engine.oidc_device_poll(&ctx, r).await? {
        OidcDevicePoll::Pending { interval_secs } => {
            OidcDevicePollResponse { status: OidcDeviceStatus::Pending, interval: Some(interval_secs), login: None }
        }
        OidcDevicePoll::SignedIn(signed) => {
            let (issued, principal) = *signed;
            let login = Some(login_response(issued, principal));
            OidcDevicePollResponse { status: OidcDeviceStatus::SignedIn, interval: None, login }
        }
    }))
}
