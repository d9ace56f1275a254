//! Role definitions and role settings.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pim_api::{
    CreateRole, EffectiveSettings, Page, Problem, RoleDefinition, RoleSettings, ScopePath, SettingsChange,
    SettingsListQuery, SettingsQuery,
};
use pim_engine::settings_changes::SettingsUpdate;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};

fn wire(e: pim_engine::roles::EffectiveSettings) -> EffectiveSettings {
    EffectiveSettings { role_id: e.role_id, scope: e.scope, defined_at: e.defined_at, settings: e.settings }
}

/// Every role definition.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Page<RoleDefinition>), (status = 403, body = Problem)))]
pub async fn list_roles(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<RoleDefinition>>> {
    Ok(Json(Page::all(s.engine.list_roles(&ctx).await?)))
}

/// Creates a custom role.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = RoleDefinition), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_role(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateRole>,
) -> ApiResult<(StatusCode, Json<RoleDefinition>)> {
    let r = s.engine.create_role(&ctx, b.name, b.description.unwrap_or_default(), b.permissions).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// A role by id or name.
#[utoipa::path(get, path = "/api/v1/roles/{idOrName}", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path)), responses((status = 200, body = RoleDefinition), (status = 404, body = Problem)))]
pub async fn get_role(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleDefinition>> {
    Ok(Json(s.engine.get_role(&ctx, &id).await?))
}

/// Replaces a custom role's name, description and permissions.
#[utoipa::path(put, path = "/api/v1/roles/{idOrName}", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path)), request_body = CreateRole,
    responses((status = 200, body = RoleDefinition), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_role(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(b): Json<CreateRole>,
) -> ApiResult<Json<RoleDefinition>> {
    Ok(Json(s.engine.update_role(&ctx, &id, b.name, b.description.unwrap_or_default(), b.permissions).await?))
}

/// Deletes a custom role that was never assigned.
#[utoipa::path(delete, path = "/api/v1/roles/{idOrName}", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path)), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_role(State(s): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.engine.delete_role(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn scope_of(q: SettingsQuery) -> ScopePath {
    q.scope.unwrap_or_else(ScopePath::root)
}

/// The settings in force for a role at a scope (nearest ancestor's, else the defaults).
#[utoipa::path(get, path = "/api/v1/roles/{idOrName}/settings", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path), SettingsQuery), responses((status = 200, body = EffectiveSettings), (status = 404, body = Problem)))]
pub async fn get_settings(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SettingsQuery>,
) -> ApiResult<Json<EffectiveSettings>> {
    Ok(Json(wire(s.engine.effective_settings(&ctx, &id, scope_of(q)).await?)))
}

/// Sets a role's settings at a scope; omitted fields take their defaults.
#[utoipa::path(put, path = "/api/v1/roles/{idOrName}/settings", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path), SettingsQuery), request_body = RoleSettings,
    responses((status = 200, body = EffectiveSettings),
        (status = 202, description = "the settings in force are protected: the change waits for a second administrator", body = SettingsChange),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "no role, or an approver or recipient it names does not exist", body = Problem),
        (status = 409, description = "an approver it names is disabled", body = Problem)))]
pub async fn put_settings(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SettingsQuery>,
    Json(settings): Json<RoleSettings>,
) -> ApiResult<Response> {
    Ok(match s.engine.put_settings(&ctx, &id, scope_of(q), settings).await? {
        SettingsUpdate::Applied(e) => Json(wire(e)).into_response(),
        SettingsUpdate::Pending(c) => (StatusCode::ACCEPTED, Json(c)).into_response(),
    })
}

/// Removes a role's settings at a scope, so it inherits again.
#[utoipa::path(delete, path = "/api/v1/roles/{idOrName}/settings", tag = "roles", security(("bearer" = [])),
    params(("idOrName" = String, Path), SettingsQuery), responses((status = 204),
        (status = 202, description = "the settings in force are protected: the reset waits for a second administrator", body = SettingsChange),
        (status = 404, body = Problem)))]
pub async fn delete_settings(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SettingsQuery>,
) -> ApiResult<Response> {
    Ok(match s.engine.delete_settings(&ctx, &id, scope_of(q)).await? {
        SettingsUpdate::Applied(_) => StatusCode::NO_CONTENT.into_response(),
        SettingsUpdate::Pending(c) => (StatusCode::ACCEPTED, Json(c)).into_response(),
    })
}

/// Every explicitly defined setting the caller may read.
#[utoipa::path(get, path = "/api/v1/settings", tag = "roles", security(("bearer" = [])), params(SettingsListQuery),
    responses((status = 200, body = Page<EffectiveSettings>)))]
pub async fn list_settings(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<SettingsListQuery>,
) -> ApiResult<Json<Page<EffectiveSettings>>> {
    Ok(Json(Page::all(s.engine.list_settings(&ctx, q.role_id).await?.into_iter().map(wire).collect())))
}
