//! Errors as `application/problem+json` (RFC 9457): one table maps each stable code to a status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pim_domain::{DomainError, ErrorKind, Location};
use pim_engine::EngineError;

/// Base of the `type` URI of every problem.
pub const PROBLEM_BASE: &str = "https://pim.dev/problems/";

/// The HTTP status for a refusal of `kind`.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    use ErrorKind::*;
    match kind {
        InvalidInput | InvalidScope | InvalidAction | InvalidDuration | InvalidWindow | InvalidSettings
        | InvalidPolicy => StatusCode::BAD_REQUEST,
        NotFound => StatusCode::NOT_FOUND,
        NameTaken | GroupCycle | AlreadyExists | RoleInUse | BuiltinRoleReadOnly | PrincipalDisabled
        | LastGlobalAdmin | RequestNotPending | ExtensionPending | AssignmentEnded | SetupCompleted
        | AlreadyDecided | AlertNotActive | ReviewNotInProgress | ReviewNotCompleted | AssignmentAmbiguous => {
            StatusCode::CONFLICT
        }
        VersionChanged => StatusCode::PRECONDITION_FAILED,
        JustificationRequired
        | TicketRequired
        | MfaRequired
        | ApprovalRequired
        | DurationOutOfRange
        | NotEligible
        | ScopeOutsideEligibility
        | PermanentNotAllowed
        | ExpirationTooFar
        | NotExtendable
        | NotRenewable
        | ActiveOnlyPrincipal
        | ApprovalSelfForbidden
        | BreakGlassNotAllowed
        | NotActive
        | ReasonRequired
        | NoSshPrincipals
        | ActivityTooLarge
        | ActivityTimeOutOfRange
        | ActivityAssignmentMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        Unauthenticated | InvalidCredentials | InvalidSetupSecret => StatusCode::UNAUTHORIZED,
        // A wrong or reused second factor is a credential refused; no factor is a state to change.
        InvalidMfaCode | MfaCodeReused => StatusCode::UNAUTHORIZED,
        MfaNotEnrolled => StatusCode::CONFLICT,
        Forbidden | NotApprover | NotReviewer | NoGrantForAudience => StatusCode::FORBIDDEN,
        TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    location: Option<Location>,
}

impl ApiError {
    /// A problem with an explicit status and code (for errors that are not domain refusals).
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_owned(), detail: pim_domain::message::bounded(detail.into()), location: None }
    }
    /// `400 invalid_input`.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", detail)
    }
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The message.
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError { status: status_for(e.kind), code: e.code().to_owned(), detail: e.message, location: e.location }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Refused(d) => d.into(),
            EngineError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "pim failed to handle the request; the server log has the details",
                )
            }
        }
    }
}

impl ApiError {
    /// The problem+json document (RFC 9457).
    /// A refused document's location is `line` (when known) and `field` members beside `detail`.
    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("{PROBLEM_BASE}{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(at) = &self.location {
            if let Some(line) = at.line {
                body["line"] = line.into();
            }
            body["field"] = at.field.clone().into();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body().to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Adds `requestId` (`id`: the request's `x-request-id`, when it is visible ASCII) to
/// problem+json bodies; other responses pass untouched.
pub async fn add_request_id_to_problem(id: Option<HeaderValue>, resp: Response) -> Response {
    let is_problem =
        resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let Some(id) = id.filter(|_| is_problem).and_then(|v| v.to_str().ok().map(str::to_owned)) else { return resp };
    let (mut parts, body) = resp.into_parts();
    // Problems are short (their detail is bounded); one that is not is replaced, never emptied.
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let short = ApiError::new(parts.status, "problem", "pim refused the request");
            axum::body::Bytes::from(short.body().to_string())
        }
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut obj)) => {
            obj.insert("requestId".into(), serde_json::Value::String(id));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(serde_json::Value::Object(obj).to_string()))
        }
        _ => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// A panic becomes a plain 500 problem without detail.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "pim failed to handle the request").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_a_4xx() {
        for k in ErrorKind::ALL {
            let s = status_for(*k);
            assert!(s.is_client_error(), "{k:?} -> {s}");
        }
        assert_eq!(status_for(ErrorKind::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status_for(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_for(ErrorKind::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(status_for(ErrorKind::JustificationRequired), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status_for(ErrorKind::LastGlobalAdmin), StatusCode::CONFLICT);
        assert_eq!(status_for(ErrorKind::InvalidScope), StatusCode::BAD_REQUEST);
        assert_eq!(status_for(ErrorKind::InvalidMfaCode), StatusCode::UNAUTHORIZED);
        assert_eq!(status_for(ErrorKind::MfaCodeReused), StatusCode::UNAUTHORIZED);
        assert_eq!(status_for(ErrorKind::MfaNotEnrolled), StatusCode::CONFLICT);
        assert_eq!(status_for(ErrorKind::TooManyAttempts), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn internal_errors_carry_no_detail() {
        let e: ApiError = EngineError::Internal("connection refused at 10.0.0.1 password=x".into()).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.detail.contains("password"));
    }
}
