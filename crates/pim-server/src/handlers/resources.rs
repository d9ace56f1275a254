//! Resources and scope validation.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    CreateResource, Page, Problem, Resource, ResourceId, ResourceQuery, ScopeInfo, ScopePath, UpdateResource,
    ValidateScope,
};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};
use crate::paging;

/// Resources at or below a scope, ordered by scope (the tree, depth first).
#[utoipa::path(get, path = "/api/v1/resources", tag = "scopes", security(("bearer" = [])), params(ResourceQuery),
    responses((status = 200, body = Page<Resource>), (status = 400, body = Problem)))]
pub async fn list_resources(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<ResourceQuery>,
) -> ApiResult<Json<Page<Resource>>> {
    let limit = paging::limit(q.limit)?;
    let after = paging::decode::<String>(q.cursor.as_deref())?;
    let items = s.engine.list_resources(&ctx, q.under, after, limit).await?;
    Ok(Json(paging::page(items, limit, |r| r.scope.clone())))
}

/// Registers a resource at a scope.
#[utoipa::path(post, path = "/api/v1/resources", tag = "scopes", security(("bearer" = [])), request_body = CreateResource,
    responses((status = 201, body = Resource), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_resource(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateResource>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    Ok((StatusCode::CREATED, Json(s.engine.create_resource(&ctx, b.scope, b.name, b.kind).await?)))
}

/// A resource.
#[utoipa::path(get, path = "/api/v1/resources/{id}", tag = "scopes", security(("bearer" = [])), params(("id" = ResourceId, Path)),
    responses((status = 200, body = Resource), (status = 404, body = Problem)))]
pub async fn get_resource(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ResourceId>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(s.engine.get_resource(&ctx, id).await?))
}

/// Renames and/or retypes a resource (needs `pim.scopes.write` at its scope).
#[utoipa::path(patch, path = "/api/v1/resources/{id}", tag = "scopes", security(("bearer" = [])), params(("id" = ResourceId, Path)),
    request_body = UpdateResource,
    responses((status = 200, body = Resource), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_resource(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ResourceId>,
    Json(b): Json<UpdateResource>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(s.engine.update_resource(&ctx, id, b.name, b.kind).await?))
}

/// Removes a resource's registration; assignments and settings at its scope stay (needs
/// `pim.scopes.write` at its scope). Answers the removed resource.
#[utoipa::path(delete, path = "/api/v1/resources/{id}", tag = "scopes", security(("bearer" = [])), params(("id" = ResourceId, Path)),
    responses((status = 200, body = Resource), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_resource(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<ResourceId>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(s.engine.delete_resource(&ctx, id).await?))
}

/// Checks a scope path's syntax and lists its ancestors.
#[utoipa::path(post, path = "/api/v1/scopes/validate", tag = "scopes", security(("bearer" = [])), request_body = ValidateScope,
    responses((status = 200, body = ScopeInfo), (status = 400, body = Problem)))]
pub async fn validate_scope(Json(b): Json<ValidateScope>) -> ApiResult<Json<ScopeInfo>> {
    let scope = ScopePath::parse(&b.scope).map_err(pim_domain::DomainError::from)?;
    let ancestors = scope.self_and_ancestors().into_iter().skip(1).collect();
    Ok(Json(ScopeInfo { depth: scope.depth() as u32, scope, ancestors }))
}
