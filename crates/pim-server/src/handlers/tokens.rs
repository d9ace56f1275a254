//! Signed access tokens: introspection, audiences, signing keys, and the public JWKS and
//! authorization server metadata (issuing lives beside API tokens in `auth.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    Audience, AuthorizationServerMetadata, CreateAudience, CreatedAccessToken, IntrospectRequest, IntrospectResponse,
    JsonWebKeySet, Page, Problem, SigningKeyInfo, UpdateAudience,
};
use pim_engine::tokens::IssuedAccessToken;
use pim_engine::tokens::audiences::AudienceChange;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, JsonOrForm, Path};

/// The public signing keys of access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, body = JsonWebKeySet)))]
pub async fn jwks(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(s.engine.jwks().await?))
}

/// Authorization server metadata (RFC 8414): the issuer, the JWKS and the introspection endpoint.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "tokens",
    responses((status = 200, body = AuthorizationServerMetadata)))]
pub async fn oauth_metadata(State(s): State<AppState>) -> Json<AuthorizationServerMetadata> {
    let issuer = s.engine.token_issuer().to_owned();
    Json(AuthorizationServerMetadata {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        introspection_endpoint: format!("{issuer}/api/v1/tokens/introspect"),
        introspection_endpoint_auth_methods_supported: vec!["bearer".to_owned()],
        response_types_supported: Vec::new(),
        grant_types_supported: Vec::new(),
        token_signing_alg_values_supported: vec!["EdDSA".to_owned(), "ES256".to_owned()],
        issuer,
    })
}

/// The wire form of an issued access token.
pub(crate) fn created_access_token(s: &AppState, t: IssuedAccessToken) -> CreatedAccessToken {
    let now = pim_domain::token::unix_secs(s.engine.now());
    CreatedAccessToken {
        access_token: t.token,
        token_type: "Bearer".to_owned(),
        expires_at: pim_domain::Timestamp(t.claims.exp.saturating_mul(1000)),
        expires_in: t.claims.exp - now,
        audience: t.claims.aud,
        kid: t.kid,
        algorithm: t.algorithm,
        jti: t.claims.jti,
        grants: t.claims.grants,
    }
}

/// Whether an access token is active now (RFC 7662), for the holders of `pim.tokens.read` and
/// the introspectors of registered audiences. Anything not active answers `{"active": false}`.
#[utoipa::path(post, path = "/api/v1/tokens/introspect", tag = "tokens", security(("bearer" = [])),
    request_body(content(
        (IntrospectRequest = "application/x-www-form-urlencoded"),
        (IntrospectRequest = "application/json")
    )),
    responses((status = 200, body = IntrospectResponse), (status = 400, body = Problem),
        (status = 403, description = "the caller neither holds pim.tokens.read nor introspects for an audience", body = Problem),
        (status = 415, description = "the body is neither form-encoded nor JSON", body = Problem)))]
pub async fn introspect_token(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    JsonOrForm(body): JsonOrForm<IntrospectRequest>,
) -> ApiResult<Json<IntrospectResponse>> {
    let answer = match s.engine.introspect(&ctx, &body.token).await? {
        None => IntrospectResponse::default(),
        Some(c) => IntrospectResponse {
            active: true,
            token_type: Some("Bearer".to_owned()),
            iss: Some(c.iss),
            sub: Some(c.sub),
            username: Some(c.name),
            aud: Some(c.aud),
            iat: Some(c.iat),
            nbf: Some(c.nbf),
            exp: Some(c.exp),
            jti: Some(c.jti),
            grants: Some(c.grants),
        },
    };
    Ok(Json(answer))
}

fn change(
    name: Option<String>,
    roles: Option<Vec<String>>,
    scope_prefix: Option<pim_api::ScopePath>,
    lifetime_secs: Option<u32>,
    algorithm: Option<pim_api::SigningAlg>,
    introspector: Option<String>,
) -> AudienceChange {
    AudienceChange { name, roles, scope_prefix, lifetime_secs, algorithm, introspector }
}

/// Every registered audience.
#[utoipa::path(get, path = "/api/v1/audiences", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Page<Audience>), (status = 403, body = Problem)))]
pub async fn list_audiences(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<Audience>>> {
    Ok(Json(Page::all(s.engine.list_audiences(&ctx).await?)))
}

/// Registers an audience.
#[utoipa::path(post, path = "/api/v1/audiences", tag = "tokens", security(("bearer" = [])), request_body = CreateAudience,
    responses((status = 201, body = Audience), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "a role or the introspector does not exist", body = Problem),
        (status = 409, description = "the name is taken", body = Problem)))]
pub async fn create_audience(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateAudience>,
) -> ApiResult<(StatusCode, Json<Audience>)> {
    let c = change(Some(b.name), b.roles, b.scope_prefix, b.lifetime_secs, b.algorithm, b.introspector);
    Ok((StatusCode::CREATED, Json(s.engine.create_audience(&ctx, c).await?)))
}

/// One audience, by id or name.
#[utoipa::path(get, path = "/api/v1/audiences/{idOrName}", tag = "tokens", security(("bearer" = [])),
    params(("idOrName" = String, Path)),
    responses((status = 200, body = Audience), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_audience(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<Audience>> {
    Ok(Json(s.engine.get_audience(&ctx, &id_or_name).await?))
}

/// Changes an audience.
#[utoipa::path(patch, path = "/api/v1/audiences/{idOrName}", tag = "tokens", security(("bearer" = [])),
    params(("idOrName" = String, Path)), request_body = UpdateAudience,
    responses((status = 200, body = Audience), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "the name is taken", body = Problem)))]
pub async fn update_audience(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id_or_name): Path<String>,
    Json(b): Json<UpdateAudience>,
) -> ApiResult<Json<Audience>> {
    let c = change(b.name, b.roles, b.scope_prefix, b.lifetime_secs, b.algorithm, b.introspector);
    Ok(Json(s.engine.update_audience(&ctx, &id_or_name, c).await?))
}

/// Removes an audience: its tokens introspect as inactive from now on.
#[utoipa::path(delete, path = "/api/v1/audiences/{idOrName}", tag = "tokens", security(("bearer" = [])),
    params(("idOrName" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_audience(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id_or_name): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_audience(&ctx, &id_or_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signing keys of access tokens (public facts only: never a private half).
#[utoipa::path(get, path = "/api/v1/keys", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Page<SigningKeyInfo>), (status = 403, body = Problem)))]
pub async fn list_keys(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<SigningKeyInfo>>> {
    Ok(Json(Page::all(s.engine.list_signing_keys(&ctx).await?)))
}

/// Rotates the signing keys: a new key signs from now on; the old one stays in the JWKS until
/// every token it signed has expired (one hour). Answers every key.
#[utoipa::path(post, path = "/api/v1/keys/rotate", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Page<SigningKeyInfo>), (status = 403, body = Problem)))]
pub async fn rotate_keys(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<SigningKeyInfo>>> {
    Ok(Json(Page::all(s.engine.rotate_signing_keys(&ctx).await?)))
}
