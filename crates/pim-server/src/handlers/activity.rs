//! Activity per activation: registered systems report what principals did; anyone who may read an
//! assignment reads what was done under it.

use axum::extract::State;
use axum::http::StatusCode;
use pim_api::{
    ActivityEvent, ActivityEventId, ActivityQuery, ActivityRecorded, AssignmentId, Page, Problem, ReportActivity,
};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};
use crate::paging;

/// Records what principals did in a registered system: 1 to 100 events, all or none, each tied to
/// the activation it names (`activationId`, `sshKeyId`) or to the assignment in effect for its
/// principal at its time, else stored unmatched. Needs `pim.activity.report` (the Activity Reporter
/// role). Audited as `activity.reported`.
#[utoipa::path(post, path = "/api/v1/activity", tag = "activity", security(("bearer" = [])),
    request_body = ReportActivity,
    responses((status = 201, body = ActivityRecorded),
        (status = 400, description = "an event is malformed (a text too long, no events, a bad sshKeyId)", body = Problem),
        (status = 404, description = "no principal (or role) has that id or name", body = Problem),
        (status = 422, description = "more than 100 events or a detail over 4 KiB (activity_too_large), a time too far ahead or back (activity_time_out_of_range), or an activation that is not the principal's (activity_assignment_mismatch)", body = Problem)))]
pub async fn report_activity(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<ReportActivity>,
) -> ApiResult<(StatusCode, Json<ActivityRecorded>)> {
    let items = s.engine.report_activity(&ctx, body.events).await?;
    Ok((StatusCode::CREATED, Json(ActivityRecorded::of(items))))
}

/// What was done under an assignment (activation), oldest first: reported activity and the
/// connectors' grants and revokes. The holder, or `pim.assignments.read` at its scope.
#[utoipa::path(get, path = "/api/v1/assignments/{id}/activity", tag = "activity", security(("bearer" = [])),
    params(("id" = AssignmentId, Path), ActivityQuery),
    responses((status = 200, body = Page<ActivityEvent>), (status = 404, body = Problem)))]
pub async fn assignment_activity(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<AssignmentId>,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Json<Page<ActivityEvent>>> {
    let limit = paging::limit(q.limit)?;
    let after = paging::decode::<ActivityEventId>(q.cursor.as_deref())?;
    let items = s.engine.assignment_activity(&ctx, id, after, limit).await?;
    Ok(Json(paging::page(items, limit, |e| e.id)))
}
