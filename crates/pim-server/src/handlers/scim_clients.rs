//! Registering, listing and revoking the SCIM clients that provision the directory through `/scim/v2`.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{CreateScimClient, CreatedScimClient, Page, Problem, ScimClient};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path};

/// Every SCIM client, revoked ones included (needs `pim.directory.read` at `/`).
#[utoipa::path(get, path = "/api/v1/scim/clients", tag = "scim", security(("bearer" = [])),
    responses((status = 200, body = Page<ScimClient>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_scim_clients(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Page<ScimClient>>> {
    Ok(Json(Page::all(s.engine.list_scim_clients(&ctx).await?)))
}

/// Registers a SCIM client (needs `pim.directory.write` at `/`); its bearer secret is in this
/// answer only.
#[utoipa::path(post, path = "/api/v1/scim/clients", tag = "scim", security(("bearer" = [])),
    request_body = CreateScimClient,
    responses((status = 201, body = CreatedScimClient), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, description = "a client has that name", body = Problem)))]
pub async fn create_scim_client(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<CreateScimClient>,
) -> ApiResult<(StatusCode, Json<CreatedScimClient>)> {
    let issued = s.engine.create_scim_client(&ctx, &body.name).await?;
    Ok((StatusCode::CREATED, Json(CreatedScimClient { secret: issued.secret, client: issued.client })))
}

/// Revokes a SCIM client by id or name (needs `pim.directory.write` at `/`): its secret stops
/// working at once; what it provisioned stays.
#[utoipa::path(delete, path = "/api/v1/scim/clients/{idOrName}", tag = "scim", security(("bearer" = [])),
    params(("idOrName" = String, Path, description = "the client's id or name")),
    responses((status = 200, body = ScimClient), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_scim_client(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<ScimClient>> {
    Ok(Json(s.engine.revoke_scim_client(&ctx, &id_or_name).await?))
}
