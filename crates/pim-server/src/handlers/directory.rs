//! Users, groups, memberships and service principals.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    CreateGroup, CreateServicePrincipal, CreateUser, ListQuery, Page, Principal, PrincipalId, PrincipalKind, Problem,
    UpdateGroup, UpdateServicePrincipal, UpdateUser,
};
use pim_engine::directory::{NewPrincipal, PrincipalPatch};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};
use crate::paging;

async fn list(
    s: &AppState,
    ctx: &pim_engine::Context,
    kind: PrincipalKind,
    q: ListQuery,
) -> ApiResult<Json<Page<Principal>>> {
    let limit = paging::limit(q.limit)?;
    let after = paging::decode::<PrincipalId>(q.cursor.as_deref())?;
    let items = s.engine.list_principals(ctx, kind, q.q, after, limit).await?;
    Ok(Json(paging::page(items, limit, |p| p.id)))
}

async fn get_kind(
    s: &AppState,
    ctx: &pim_engine::Context,
    kind: PrincipalKind,
    id: PrincipalId,
) -> ApiResult<Json<Principal>> {
    let p = s.engine.get_principal(ctx, &id.to_string()).await?;
    if p.kind != kind {
        return Err(pim_domain::DomainError::not_found(format!("{} {id}", kind.as_str())).into());
    }
    Ok(Json(p))
}

/// A principal by id or name.
#[utoipa::path(get, path = "/api/v1/principals/{idOrName}", tag = "directory", security(("bearer" = [])),
    params(("idOrName" = String, Path, description = "id or name")),
    responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn get_principal(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> ApiResult<Json<Principal>> {
    Ok(Json(s.engine.get_principal(&ctx, &id).await?))
}

/// Users, by id.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Principal>), (status = 403, body = Problem)))]
pub async fn list_users(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Principal>>> {
    list(&s, &ctx, PrincipalKind::User, q).await
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "directory", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = Principal), (status = 400, body = Problem),
        (status = 404, description = "the manager does not exist", body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<Principal>)> {
    let new = NewPrincipal {
        name: b.name,
        display_name: b.display_name,
        email: b.email,
        manager_id: b.manager_id,
        password: b.password,
        emergency_access: b.emergency_access.unwrap_or(false),
        description: None,
    };
    Ok((StatusCode::CREATED, Json(s.engine.create_principal(&ctx, PrincipalKind::User, new).await?)))
}

/// A user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn get_user(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
) -> ApiResult<Json<Principal>> {
    get_kind(&s, &ctx, PrincipalKind::User, id).await
}

/// Changes a user; `enabled: false` disables it.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    request_body = UpdateUser, responses((status = 200, body = Principal), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_user(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
    Json(b): Json<UpdateUser>,
) -> ApiResult<Json<Principal>> {
    let patch = PrincipalPatch {
        display_name: b.display_name,
        email: b.email.map(Some),
        description: None,
        manager_id: b.manager_id.map(Some),
        enabled: b.enabled,
        emergency_access: b.emergency_access,
        password: b.password,
    };
    Ok(Json(s.engine.update_principal(&ctx, PrincipalKind::User, id, patch).await?))
}

/// Groups, by id.
#[utoipa::path(get, path = "/api/v1/groups", tag = "directory", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Principal>), (status = 403, body = Problem)))]
pub async fn list_groups(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Principal>>> {
    list(&s, &ctx, PrincipalKind::Group, q).await
}

/// Creates a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "directory", security(("bearer" = [])), request_body = CreateGroup,
    responses((status = 201, body = Principal), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_group(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Principal>)> {
    let new = NewPrincipal {
        name: b.name,
        display_name: b.display_name,
        email: b.email,
        description: b.description,
        ..Default::default()
    };
    Ok((StatusCode::CREATED, Json(s.engine.create_principal(&ctx, PrincipalKind::Group, new).await?)))
}

/// A group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn get_group(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
) -> ApiResult<Json<Principal>> {
    get_kind(&s, &ctx, PrincipalKind::Group, id).await
}

/// Changes a group; `enabled: false` disables it.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    request_body = UpdateGroup, responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn update_group(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
    Json(b): Json<UpdateGroup>,
) -> ApiResult<Json<Principal>> {
    let patch = PrincipalPatch {
        display_name: b.display_name,
        email: b.email.map(Some),
        description: b.description.map(Some),
        enabled: b.enabled,
        ..Default::default()
    };
    Ok(Json(s.engine.update_principal(&ctx, PrincipalKind::Group, id, patch).await?))
}

/// The direct members of a group.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    responses((status = 200, body = Page<Principal>), (status = 404, body = Problem)))]
pub async fn list_members(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
) -> ApiResult<Json<Page<Principal>>> {
    Ok(Json(Page::all(s.engine.list_members(&ctx, id).await?)))
}

/// Adds a user or group to a group (cycles are refused).
#[utoipa::path(put, path = "/api/v1/groups/{id}/members/{memberId}", tag = "directory", security(("bearer" = [])),
    params(("id" = PrincipalId, Path), ("memberId" = PrincipalId, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_member(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path((id, member)): Path<(PrincipalId, PrincipalId)>,
) -> ApiResult<StatusCode> {
    s.engine.add_member(&ctx, id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a direct member from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{memberId}", tag = "directory", security(("bearer" = [])),
    params(("id" = PrincipalId, Path), ("memberId" = PrincipalId, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path((id, member)): Path<(PrincipalId, PrincipalId)>,
) -> ApiResult<StatusCode> {
    s.engine.remove_member(&ctx, id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Service principals, by id.
#[utoipa::path(get, path = "/api/v1/service-principals", tag = "directory", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Principal>), (status = 403, body = Problem)))]
pub async fn list_service_principals(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Principal>>> {
    list(&s, &ctx, PrincipalKind::ServicePrincipal, q).await
}

/// Creates a service principal.
#[utoipa::path(post, path = "/api/v1/service-principals", tag = "directory", security(("bearer" = [])), request_body = CreateServicePrincipal,
    responses((status = 201, body = Principal), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_service_principal(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateServicePrincipal>,
) -> ApiResult<(StatusCode, Json<Principal>)> {
    let new =
        NewPrincipal { name: b.name, display_name: b.display_name, description: b.description, ..Default::default() };
    Ok((StatusCode::CREATED, Json(s.engine.create_principal(&ctx, PrincipalKind::ServicePrincipal, new).await?)))
}

/// A service principal.
#[utoipa::path(get, path = "/api/v1/service-principals/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn get_service_principal(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
) -> ApiResult<Json<Principal>> {
    get_kind(&s, &ctx, PrincipalKind::ServicePrincipal, id).await
}

/// Changes a service principal; `enabled: false` disables it.
#[utoipa::path(patch, path = "/api/v1/service-principals/{id}", tag = "directory", security(("bearer" = [])), params(("id" = PrincipalId, Path)),
    request_body = UpdateServicePrincipal, responses((status = 200, body = Principal), (status = 404, body = Problem)))]
pub async fn update_service_principal(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<PrincipalId>,
    Json(b): Json<UpdateServicePrincipal>,
) -> ApiResult<Json<Principal>> {
    let patch = PrincipalPatch {
        display_name: b.display_name,
        description: b.description.map(Some),
        enabled: b.enabled,
        ..Default::default()
    };
    Ok(Json(s.engine.update_principal(&ctx, PrincipalKind::ServicePrincipal, id, patch).await?))
}
