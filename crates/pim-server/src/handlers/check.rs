//! The check API: one question, or a batch of them in one round trip.

use std::borrow::Cow;

use axum::extract::State;
use pim_api::{BatchCheckRequest, BatchCheckResponse, CheckRequest, CheckResponse, Problem};
use pim_domain::{AssignmentId, PrincipalId, RoleId, Timestamp};
use pim_engine::check::{CheckAnswer, Question};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Ctx, Json, JsonBytes, parse_json_object};

/// A [`CheckRequest`] read in place: its strings borrow the body (unless they hold escapes).
#[derive(Debug, Deserialize)]
#[serde(rename = "CheckRequest", rename_all = "camelCase", deny_unknown_fields)]
struct Asked<'a> {
    #[serde(borrow)]
    principal: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    scope: Cow<'a, str>,
    #[serde(default)]
    at: Option<Timestamp>,
}

/// A [`BatchCheckRequest`] read in place.
#[derive(Debug, Deserialize)]
#[serde(rename = "BatchCheckRequest", rename_all = "camelCase", deny_unknown_fields)]
struct AskedMany<'a> {
    #[serde(borrow)]
    checks: Vec<Asked<'a>>,
}

impl<'a> Asked<'a> {
    fn question(&'a self) -> Question<'a> {
        Question { principal: &self.principal, action: &self.action, scope: &self.scope, at: self.at }
    }
}

/// May a principal perform an action at a scope now (or at `at`)?
#[utoipa::path(post, path = "/api/v1/check", tag = "check", security(("bearer" = [])), request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn check(State(s): State<AppState>, Ctx(ctx): Ctx, JsonBytes(body): JsonBytes) -> ApiResult<Json<Answer>> {
    let b: Asked<'_> = parse_json_object(&body)?;
    let a = s.engine.check(&ctx, &b.principal, &b.action, &b.scope, b.at)?;
    s.metrics.count_check(a.allowed);
    Ok(Json(Answer::of(&s, a)))
}

/// `POST /api/v1/check` and `POST /api/v1/check/batch` answered without the router (see
/// [`crate::stack`]): the bearer check, then the extractors and the handler of the route, in
/// the order and with the refusals the router gives them. `None` for any other request.
pub(crate) fn direct(req: &axum::extract::Request) -> Option<Direct> {
    if req.method() != axum::http::Method::POST {
        return None;
    }
    match req.uri().path() {
        "/api/v1/check" => Some(Direct::One),
        "/api/v1/check/batch" => Some(Direct::Batch),
        _ => None,
    }
}

/// Which check route [`direct`] found.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direct {
    One,
    Batch,
}

impl Direct {
    /// The answer to `req`, as the route gives it.
    pub(crate) async fn answer(self, state: AppState, req: axum::extract::Request) -> axum::response::Response {
        use axum::extract::{FromRequest, FromRequestParts};
        use axum::response::IntoResponse;
        let actor = match crate::bearer::authenticate(&state, req.headers()).await {
            Ok(actor) => actor,
            Err(e) => return e.into_response(),
        };
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(crate::bearer::Authenticated(actor));
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, &()).await;
        let body = match JsonBytes::from_request(axum::extract::Request::from_parts(parts, body), &()).await {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        };
        match self {
            Direct::One => check(State(state), ctx, body).await.into_response(),
            Direct::Batch => check_batch(State(state), ctx, body).await.into_response(),
        }
    }
}

/// Many checks in one round trip (1 to 1000), answered in order: for gateways that authorize a
/// page of resources at once. A bad question refuses the whole batch and names it.
#[utoipa::path(post, path = "/api/v1/check/batch", tag = "check", security(("bearer" = [])), request_body = BatchCheckRequest,
    responses((status = 200, body = BatchCheckResponse), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "a question names a principal that does not exist", body = Problem)))]
pub async fn check_batch(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<Answers>> {
    let b: AskedMany<'_> = parse_json_object(&body)?;
    let questions: Vec<Question<'_>> = b.checks.iter().map(Asked::question).collect();
    let answers = s.engine.check_many(&ctx, &questions)?;
    let results = answers
        .into_iter()
        .map(|a| {
            s.metrics.count_check(a.allowed);
            Answer::of(&s, a)
        })
        .collect();
    Ok(Json(Answers { results }))
}

/// A check's answer as the API shows it: the JSON of [`CheckResponse`], written from the index's
/// own values (no copies of the role name or the scope).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    allowed: bool,
    principal_id: PrincipalId,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignment_id: Option<AssignmentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_id: Option<RoleId>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared_str")]
    role_name: Option<std::sync::Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared_str")]
    scope: Option<std::sync::Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via_group: Option<PrincipalId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via_group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<Timestamp>,
}

/// The JSON of [`BatchCheckResponse`].
#[derive(Debug, Serialize)]
pub struct Answers {
    results: Vec<Answer>,
}

fn shared_str<S: serde::Serializer>(s: &Option<std::sync::Arc<str>>, out: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => out.serialize_str(s),
        None => out.serialize_none(),
    }
}

impl Answer {
    /// `a` as the API shows it: the grant's role and group by name. Scopes in the index were
    /// valid paths when stored ([`pim_domain::ScopePath`]), so they are written as they are.
    fn of(s: &AppState, a: CheckAnswer) -> Answer {
        let g = a.grant;
        Answer {
            allowed: a.allowed,
            principal_id: a.principal_id,
            assignment_id: g.as_ref().map(|g| g.assignment_id),
            role_id: g.as_ref().map(|g| g.role_id),
            role_name: g.as_ref().and_then(|g| s.engine.index().role_name(g.role_id)),
            via_group: g.as_ref().and_then(|g| g.via_group),
            via_group_name: g
                .as_ref()
                .and_then(|g| g.via_group)
                .and_then(|id| s.engine.index().principal(id))
                .map(|p| p.name),
            ends_at: g.as_ref().and_then(|g| g.ends_at),
            scope: g.map(|g| g.scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_read_as_check_requests_are() {
        let bodies = [
            r#"{"principal":"alice","action":"storage.blobs.read","scope":"/a/b"}"#,
            r#"{"principal":"al\"ice","action":"storage.blobs.read","scope":"/a\/b","at":"2026-01-01T00:00:00.000Z"}"#,
            r#"{"principal":"alice","action":"x","scope":"/","at":1700000000000}"#,
            r#"{"principal":"alice","action":"x","scope":"/","extra":1}"#,
            r#"{"principal":"alice","action":"x"}"#,
            r#"{"principal":1,"action":"x","scope":"/"}"#,
            r#"{"principal":"a\u0000","action":"x","scope":"/"}"#,
            r#"["alice","x","/"]"#,
            r#"{"principal":"alice","#,
        ];
        for body in bodies {
            let owned = parse_json_object::<CheckRequest>(body.as_bytes());
            let asked = parse_json_object::<Asked<'_>>(body.as_bytes());
            match (owned, asked) {
                (Ok(o), Ok(a)) => {
                    assert_eq!(
                        (o.principal.as_str(), o.action.as_str(), o.scope.as_str(), o.at),
                        (&*a.principal, &*a.action, &*a.scope, a.at)
                    );
                }
                (Err(o), Err(a)) => assert_eq!((o.status(), o.detail()), (a.status(), a.detail()), "{body}"),
                (o, a) => panic!("{body}: {:?} against {:?}", o.map(|_| ()), a.map(|_| ())),
            }
        }
        let batch = r#"{"checks":[{"principal":"alice","action":"x","scope":"/"}]}"#;
        let many = parse_json_object::<AskedMany<'_>>(batch.as_bytes()).map(|m| m.checks.len()).ok();
        assert_eq!(many, Some(1));
        assert!(parse_json_object::<AskedMany<'_>>(br#"{"checks":[],"x":1}"#).is_err());
    }

    #[test]
    fn answers_are_written_as_check_responses() {
        let principal = PrincipalId(uuid::Uuid::from_u128(1));
        let group = PrincipalId(uuid::Uuid::from_u128(2));
        let denied = Answer {
            allowed: false,
            principal_id: principal,
            assignment_id: None,
            role_id: None,
            role_name: None,
            scope: None,
            via_group: None,
            via_group_name: None,
            ends_at: None,
        };
        let allowed = Answer {
            allowed: true,
            assignment_id: Some(AssignmentId(uuid::Uuid::from_u128(3))),
            role_id: Some(RoleId(uuid::Uuid::from_u128(4))),
            role_name: Some("Reader".into()),
            scope: Some("/subscriptions/prod".into()),
            via_group: Some(group),
            via_group_name: Some("team".to_owned()),
            ends_at: Some(Timestamp(1_700_000_000_000)),
            ..denied
        };
        let as_response = |a: &Answer| CheckResponse {
            allowed: a.allowed,
            principal_id: a.principal_id,
            assignment_id: a.assignment_id,
            role_id: a.role_id,
            role_name: a.role_name.as_deref().map(str::to_owned),
            scope: a.scope.as_deref().and_then(|s| pim_domain::ScopePath::parse(s).ok()),
            via_group: a.via_group,
            via_group_name: a.via_group_name.clone(),
            ends_at: a.ends_at,
        };
        for a in [&denied, &allowed] {
            let written = serde_json::to_string(a).unwrap_or_default();
            let expected = serde_json::to_string(&as_response(a)).unwrap_or_default();
            assert_eq!(written, expected);
        }
        let many = Answers { results: vec![denied] };
        let written = serde_json::to_value(&many).unwrap_or_default();
        let expected = BatchCheckResponse { results: vec![as_response(&many.results[0])] };
        assert_eq!(written, serde_json::to_value(&expected).unwrap_or_default());
    }
}
