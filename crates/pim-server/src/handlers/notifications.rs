//! Notifications: their delivery status.

use axum::extract::State;
use pim_api::{Notification, NotificationId, NotificationQuery, Page, Problem};
use pim_engine::notify::NotificationQuery as EngineQuery;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Query};
use crate::paging;

/// Notifications and their delivery status, newest first (needs `pim.notifications.read` at `/`).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(NotificationQuery),
    responses((status = 200, body = Page<Notification>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_notifications(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<NotificationQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let limit = paging::limit(q.limit)?;
    let query = EngineQuery {
        status: q.status,
        event: q.event,
        request: q.request_id,
        after: paging::decode::<NotificationId>(q.cursor.as_deref())?,
        limit,
    };
    let items = s.engine.list_notifications(&ctx, query).await?;
    Ok(Json(paging::page(items, limit, |n| n.id)))
}
