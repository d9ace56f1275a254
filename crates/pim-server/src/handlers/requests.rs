//! Assignments (read only) and requests, through which every change to assignments is made.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pim_api::{
    Assignment, AssignmentId, AssignmentQuery, AssignmentState, CreateRequest, Page, Problem, ProblemItem, Request,
    RequestId, RequestOutcome, RequestQuery, Validation,
};
use pim_engine::requests::{self as rq, RequestInput, Submission};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, Path, Query};
use crate::paging;

/// Assignments the caller may see, by id.
#[utoipa::path(get, path = "/api/v1/assignments", tag = "assignments", security(("bearer" = [])), params(AssignmentQuery),
    responses((status = 200, body = Page<Assignment>), (status = 400, body = Problem)))]
pub async fn list_assignments(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<AssignmentQuery>,
) -> ApiResult<Json<Page<Assignment>>> {
    let limit = paging::limit(q.limit)?;
    let query = rq::AssignmentQuery {
        principal: q.principal_id,
        role: q.role_id,
        scope: q.scope,
        under: q.under,
        kind: q.kind,
        include_ended: q.state == Some(AssignmentState::All),
        after: paging::decode::<AssignmentId>(q.cursor.as_deref())?,
        limit,
    };
    let items = s.engine.list_assignments(&ctx, query).await?;
    Ok(Json(paging::page(items, limit, |a| a.id)))
}

/// An assignment.
#[utoipa::path(get, path = "/api/v1/assignments/{id}", tag = "assignments", security(("bearer" = [])), params(("id" = AssignmentId, Path)),
    responses((status = 200, body = Assignment), (status = 404, body = Problem)))]
pub async fn get_assignment(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<AssignmentId>,
) -> ApiResult<Json<Assignment>> {
    Ok(Json(s.engine.get_assignment(&ctx, id).await?))
}

/// Submits a request (assign, update, remove, extend, renew, activate, deactivate); with
/// `validateOnly`, answers what it would need and changes nothing.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", security(("bearer" = [])), request_body = CreateRequest,
    responses((status = 201, body = RequestOutcome), (status = 200, description = "validateOnly", body = Validation),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_request(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Json(b): Json<CreateRequest>,
) -> ApiResult<Response> {
    let input = RequestInput {
        action: b.action,
        principal_id: b.principal_id,
        role_id: b.role_id,
        scope: b.scope,
        kind: b.kind,
        assignment_id: b.assignment_id,
        start: b.start,
        end: b.end,
        permanent: b.permanent.unwrap_or(false),
        duration_minutes: b.duration_minutes,
        justification: b.justification,
        ticket: b.ticket,
        validate_only: b.validate_only.unwrap_or(false),
        break_glass: b.break_glass.unwrap_or(false),
        otp: b.otp,
    };
    Ok(match s.engine.submit(&ctx, input).await? {
        Submission::Done(o) => {
            (StatusCode::CREATED, Json(RequestOutcome { request: o.request, assignment: o.assignment })).into_response()
        }
        Submission::Validated(v) => Json(Validation {
            valid: v.valid,
            needs: v.needs,
            problems: v
                .problems
                .into_iter()
                .map(|p| ProblemItem { code: p.code().to_owned(), message: p.message })
                .collect(),
            window: v.window,
        })
        .into_response(),
    })
}

/// Requests the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", security(("bearer" = [])), params(RequestQuery),
    responses((status = 200, body = Page<Request>), (status = 400, body = Problem)))]
pub async fn list_requests(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<RequestQuery>,
) -> ApiResult<Json<Page<Request>>> {
    let limit = paging::limit(q.limit)?;
    let query = rq::RequestQuery {
        mine: q.mine.unwrap_or(false),
        principal: q.principal_id,
        status: q.status,
        action: q.action,
        after: paging::decode::<RequestId>(q.cursor.as_deref())?,
        limit,
    };
    let items = s.engine.list_requests(&ctx, query).await?;
    Ok(Json(paging::page(items, limit, |r| r.id)))
}

/// A request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", security(("bearer" = [])), params(("id" = RequestId, Path)),
    responses((status = 200, body = Request), (status = 404, body = Problem)))]
pub async fn get_request(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<RequestId>,
) -> ApiResult<Json<Request>> {
    Ok(Json(s.engine.get_request(&ctx, id).await?))
}

/// The requester withdraws a pending request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "requests", security(("bearer" = [])), params(("id" = RequestId, Path)),
    responses((status = 200, body = Request), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<RequestId>,
) -> ApiResult<Json<Request>> {
    Ok(Json(s.engine.cancel_request(&ctx, id).await?))
}
