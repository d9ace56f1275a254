//! Assignments (read only) and requests: every change to an assignment is a request.

use pim_domain::request::Needs;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, PrincipalId, Request, RequestAction, RequestStatus, RoleId, ScopePath,
    Ticket, Timestamp, Window,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ProblemItem;

/// Which assignments a list shows, by time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AssignmentState {
    /// In effect or starting later (the default).
    #[default]
    Current,
    /// Also those that have ended.
    All,
}

/// Query of `GET /api/v1/assignments`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    /// Only assignments held directly by this principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// Only assignments of this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// Only assignments at exactly this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// Only assignments at this scope or below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under: Option<ScopePath>,
    /// Only eligible or only active assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub kind: Option<AssignmentKind>,
    /// `current` (default) hides assignments that have ended; `all` shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub state: Option<AssignmentState>,
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A request to change assignments; which fields apply depends on `action` (see docs/API.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    /// What is asked for.
    pub action: RequestAction,
    /// Whose assignment (`adminAssign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// Which role (`adminAssign`, `selfActivate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// At which scope (`adminAssign`, `selfActivate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// Eligible or active (`adminAssign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AssignmentKind>,
    /// The assignment concerned (every action but `adminAssign` and `selfActivate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// When it should start; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// When it should end; permanent when absent (`adminAssign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// Makes the assignment permanent (`adminUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
    /// Length of an activation in minutes (`selfActivate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u32>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// An external ticket reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Only check the request and report what it needs; nothing changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_only: Option<bool>,
    /// Break-glass activation (`selfActivate`, where the role's settings allow it): no approval,
    /// a justification is mandatory, every approver is told, and a review is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<bool>,
    /// A current TOTP code, verified (and the session marked as having passed MFA) before the
    /// request is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
}

impl CreateRequest {
    /// A request for `action` with every other field absent.
    pub fn new(action: RequestAction) -> CreateRequest {
        CreateRequest {
            action,
            principal_id: None,
            role_id: None,
            scope: None,
            kind: None,
            assignment_id: None,
            start: None,
            end: None,
            permanent: None,
            duration_minutes: None,
            justification: None,
            ticket: None,
            validate_only: None,
            break_glass: None,
            otp: None,
        }
    }

    /// A request concerning an existing assignment (every action but `adminAssign` and `selfActivate`).
    pub fn for_assignment(action: RequestAction, assignment_id: AssignmentId) -> CreateRequest {
        CreateRequest { assignment_id: Some(assignment_id), ..CreateRequest::new(action) }
    }
}

/// The answer to a request that was accepted (possibly to wait for approval).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestOutcome {
    /// The request, with its status.
    pub request: Request,
    /// The assignment it created or changed, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
}

/// The answer to a request made with `validateOnly`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// Whether the request would be accepted as it is (possibly to wait for approval).
    pub valid: bool,
    /// What the request needs (MFA, justification, ticket, approval).
    pub needs: Needs,
    /// Why it would be refused.
    pub problems: Vec<ProblemItem>,
    /// The window the assignment would have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

/// Query of `GET /api/v1/requests`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Only requests the caller made (its activations, extensions, renewals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<bool>,
    /// Only requests concerning this principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// Only requests with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub status: Option<RequestStatus>,
    /// Only requests with this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub action: Option<RequestAction>,
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_is_camel_case_and_strict() {
        let mut r = CreateRequest::new(RequestAction::SelfActivate);
        r.duration_minutes = Some(60);
        r.validate_only = Some(true);
        r.ticket = Some(Ticket { system: "jira".into(), number: "OPS-1".into() });
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action": "selfActivate", "durationMinutes": 60, "validateOnly": true,
                "ticket": {"system": "jira", "number": "OPS-1"}})
        );
        assert_eq!(serde_json::from_value::<CreateRequest>(v).unwrap(), r);
        let bad = serde_json::json!({"action": "selfActivate", "durationMinute": 60});
        assert!(serde_json::from_value::<CreateRequest>(bad).is_err());
    }

    #[test]
    fn queries_round_trip_through_urlencoding() {
        let q = RequestQuery {
            mine: Some(true),
            status: Some(RequestStatus::PendingApproval),
            action: Some(RequestAction::SelfActivate),
            limit: Some(10),
            ..Default::default()
        };
        let s = serde_urlencoded::to_string(&q).unwrap();
        assert_eq!(s, "mine=true&status=PendingApproval&action=selfActivate&limit=10");
        assert_eq!(serde_urlencoded::from_str::<RequestQuery>(&s).unwrap(), q);

        let a = AssignmentQuery {
            scope: Some(ScopePath::parse("/a/b").unwrap()),
            kind: Some(AssignmentKind::Eligible),
            state: Some(AssignmentState::All),
            ..Default::default()
        };
        let s = serde_urlencoded::to_string(&a).unwrap();
        assert_eq!(s, "scope=%2Fa%2Fb&kind=eligible&state=all");
        assert_eq!(serde_urlencoded::from_str::<AssignmentQuery>(&s).unwrap(), a);
    }
}
