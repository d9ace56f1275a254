//! Setup of the first account, sign-in and sign-out, `me`, and API tokens.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    ApiToken, CreateAccessTokenRequest, CreateTokenBody, CreateTokenRequest, CreatedToken, CreatedTokenAnswer,
    LoginRequest, LoginResponse, MeResponse, Page, Principal, Problem, SetupRequest, SetupStatus, TokenId, TokenQuery,
};
use pim_domain::{AssignmentKind, DomainError, ErrorKind};
use pim_engine::auth::NewAdmin;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, JsonBytes, Path, Query, parse_json_object};

/// Whether the server still needs its first account.
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth", responses((status = 200, body = SetupStatus)))]
pub async fn get_setup(State(s): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus { setup_required: s.engine.setup_required().await? }))
}

/// Creates the first account with the one-time setup secret printed by `pim serve`.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = Principal), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn create_setup(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<SetupRequest>,
) -> ApiResult<(StatusCode, Json<Principal>)> {
    Ok((StatusCode::CREATED, Json(setup_first_admin(&s, &ctx, body).await?)))
}

/// Creates the first account when the server has none and `body` carries the one-time setup
/// secret; every refusal is audited as `setup.bootstrap`. Shared by the API and the portal.
pub(crate) async fn setup_first_admin(
    s: &AppState,
    ctx: &pim_engine::Context,
    body: SetupRequest,
) -> Result<Principal, pim_engine::EngineError> {
    if !s.engine.setup_required().await? {
        let e = DomainError::new(ErrorKind::SetupCompleted, "setup is complete: an account already exists");
        s.engine.record_refused(ctx, "setup.bootstrap", &e).await?;
        return Err(e.into());
    }
    if !s.setup.take_if(&body.setup_secret) {
        let e = DomainError::new(
            ErrorKind::InvalidSetupSecret,
            "the setup secret is wrong (pim serve printed it at start)",
        );
        s.engine.record_refused(ctx, "setup.bootstrap", &e).await?;
        return Err(e.into());
    }
    let admin = NewAdmin {
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        email: body.email,
    };
    match s.engine.bootstrap(ctx, admin).await {
        Ok(p) => Ok(p),
        Err(e) => {
            s.setup.restore(body.setup_secret);
            Err(e)
        }
    }
}

/// Signs in with a user name and password (and optionally a TOTP code); answers a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let (issued, principal) = s.engine.login(&ctx, &body.username, &body.password, body.token_name, body.otp).await?;
    Ok(Json(LoginResponse {
        token: issued.secret,
        expires_at: issued.info.expires_at,
        principal,
        mfa_at: issued.info.mfa_at,
    }))
}

/// Revokes the token this call was made with.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<StatusCode> {
    s.engine.logout(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and its current assignments (direct and through groups).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = Problem)))]
pub async fn get_me(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<MeResponse>> {
    let id = ctx.actor.as_ref().map(|a| a.id.to_string()).unwrap_or_default();
    let principal = s.engine.get_principal(&ctx, &id).await?;
    let (active, eligible) =
        s.engine.my_assignments(&ctx).await?.into_iter().partition(|a| a.kind == AssignmentKind::Active);
    Ok(Json(MeResponse { principal, active_assignments: active, eligible_assignments: eligible }))
}

/// The caller's API tokens, or another principal's.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", security(("bearer" = [])), params(TokenQuery),
    responses((status = 200, body = Page<ApiToken>), (status = 403, body = Problem)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<Page<ApiToken>>> {
    Ok(Json(Page::all(s.engine.list_tokens(&ctx, q.principal_id).await?)))
}

/// Issues a token. With `audience` in the body: a signed access token (a JWT) for the caller,
/// carrying its grants in effect that the audience accepts (`403 no_grant_for_audience` when there
/// is none); otherwise a pim API token, whose secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", security(("bearer" = [])), request_body = CreateTokenBody,
    responses((status = 201, body = CreatedTokenAnswer), (status = 400, body = Problem),
        (status = 403, description = "the caller may not issue it, or holds no grant the audience accepts", body = Problem),
        (status = 404, description = "no principal, audience or role has that id or name", body = Problem),
        (status = 409, description = "the principal is disabled", body = Problem)))]
pub async fn create_token(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBytes(bytes): JsonBytes,
) -> ApiResult<(StatusCode, Json<CreatedTokenAnswer>)> {
    // One look at the object for `audience`, then the chosen shape from the same bytes (so
    // duplicate and unknown fields are refused as everywhere).
    let body: serde_json::Value = parse_json_object(&bytes)?;
    if body.get("audience").is_some() {
        let b: CreateAccessTokenRequest = parse_json_object(&bytes)?;
        let issued = s.engine.issue_access_token(&ctx, &b.audience, b.role.as_deref(), b.scope.as_ref()).await?;
        let t = crate::handlers::tokens::created_access_token(&s, issued);
        return Ok((StatusCode::CREATED, Json(CreatedTokenAnswer::Access(t))));
    }
    let body: CreateTokenRequest = parse_json_object(&bytes)?;
    let issued = s.engine.create_token(&ctx, body.principal_id, body.name, body.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(CreatedTokenAnswer::Api(CreatedToken { token: issued.secret, info: issued.info }))))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", security(("bearer" = [])), params(("id" = TokenId, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(State(s): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<TokenId>) -> ApiResult<StatusCode> {
    s.engine.revoke_token(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
