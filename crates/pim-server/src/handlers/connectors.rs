//! Connectors: their status, reconciliation on demand, where each grant stands, and the one-time
//! hand-out of a managed login's password.

use axum::extract::State;
use pim_api::{
    AssignmentId, Connector, ConnectorCredential, ConnectorMapping, Holding, Problem, Provisioning, ReconcileResult,
};
use pim_engine::connectors as engine;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path};

fn provisioning(p: engine::Provisioning) -> Provisioning {
    Provisioning {
        connector: p.connector,
        principal_id: p.principal_id,
        entitlement: p.entitlement,
        account: p.account,
        state: p.state,
        attempts: p.attempts,
        last_error: p.last_error,
        assignment_id: p.assignment_id,
        updated_at: p.updated_at,
    }
}

/// Every configured connector, its mappings and its queue (needs `pim.assignments.read` at `/`).
#[utoipa::path(get, path = "/api/v1/connectors", tag = "connectors", security(("bearer" = [])),
    responses((status = 200, body = Vec<Connector>), (status = 403, body = Problem)))]
pub async fn list_connectors(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Vec<Connector>>> {
    let out = s.engine.connector_statuses(&ctx).await?;
    Ok(Json(
        out.into_iter()
            .map(|c| Connector {
                name: c.name,
                kind: c.kind,
                mappings: c
                    .mappings
                    .into_iter()
                    .map(|m| ConnectorMapping {
                        role: m.role,
                        scope: m.scope,
                        entitlement: m.entitlement,
                        terminate_sessions: m.terminate_sessions,
                    })
                    .collect(),
                login_attribute: c.login_attribute,
                managed_logins: c.managed_logins,
                revoke_unmanaged: c.revoke_unmanaged,
                reconcile_every_ms: c.reconcile_every_ms,
                due: c.due,
                oldest_due_age_ms: c.oldest_due_age_ms,
                failing: c.failing,
                granted: c.granted,
                reconciled_at: c.reconciled_at,
            })
            .collect(),
    ))
}

/// Compares the target with pim now: grants what is missing, revokes what pim granted that ended,
/// and reports (or, with `revoke_unmanaged`, revokes) what pim did not grant (needs
/// `pim.assignments.write` at `/`).
#[utoipa::path(post, path = "/api/v1/connectors/{name}/reconcile", tag = "connectors", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, body = ReconcileResult), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reconcile_connector(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<Json<ReconcileResult>> {
    let r = s.engine.reconcile_connector(&ctx, &name).await?;
    Ok(Json(ReconcileResult {
        connector: r.connector,
        listed: r.listed,
        holdings: r.holdings,
        repaired: r.repaired,
        unmanaged: r
            .unmanaged
            .into_iter()
            .map(|h| Holding { account: h.account, entitlement: h.entitlement })
            .collect(),
        revoked_unmanaged: r.revoked_unmanaged,
        error: r.error,
    }))
}

/// Hands the caller, once, the password of the login a connector created for it (managed logins).
#[utoipa::path(post, path = "/api/v1/connectors/{name}/credential", tag = "connectors", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connector's name")),
    responses((status = 200, body = ConnectorCredential), (status = 404, body = Problem)))]
pub async fn take_connector_credential(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectorCredential>> {
    let c = s.engine.take_connector_credential(&ctx, &name).await?;
    Ok(Json(ConnectorCredential {
        connector: c.connector,
        account: c.account,
        password: c.password,
        expires_at: c.expires_at,
    }))
}

/// Where the access an assignment gives stands in every target (whoever may read the assignment).
#[utoipa::path(get, path = "/api/v1/assignments/{id}/provisioning", tag = "connectors", security(("bearer" = [])),
    params(("id" = AssignmentId, Path)),
    responses((status = 200, body = Vec<Provisioning>), (status = 404, body = Problem)))]
pub async fn assignment_provisioning(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<AssignmentId>,
) -> ApiResult<Json<Vec<Provisioning>>> {
    let out = s.engine.assignment_provisioning(&ctx, id).await?;
    Ok(Json(out.into_iter().map(provisioning).collect()))
}

/// Where a principal's access stands in every target (by id or name): the caller's own, or
/// anyone's with `pim.assignments.read` at `/`.
#[utoipa::path(get, path = "/api/v1/principals/{idOrName}/provisioning", tag = "connectors", security(("bearer" = [])),
    params(("idOrName" = String, Path, description = "The principal's id or name")),
    responses((status = 200, body = Vec<Provisioning>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn principal_provisioning(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<Vec<Provisioning>>> {
    let out = s.engine.principal_provisioning(&ctx, &id_or_name).await?;
    Ok(Json(out.into_iter().map(provisioning).collect()))
}

/// Where the caller's own access stands in every target.
#[utoipa::path(get, path = "/api/v1/me/provisioning", tag = "connectors", security(("bearer" = [])),
    responses((status = 200, body = Vec<Provisioning>)))]
pub async fn my_provisioning(State(s): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Vec<Provisioning>>> {
    let me = ctx.actor.as_ref().map(|a| a.id.to_string()).unwrap_or_default();
    let out = s.engine.principal_provisioning(&ctx, &me).await?;
    Ok(Json(out.into_iter().map(provisioning).collect()))
}
