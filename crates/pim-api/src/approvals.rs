//! Approvals: deciding requests (one or many), protected settings changes, and the review of
//! break-glass activations.

use pim_domain::approval::{ReviewVerdict, Verdict};
use pim_domain::{Request, RequestId, RequestStatus, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ProblemItem;

/// An approver's answer to one request (`POST /requests/{id}/approve` or `/deny`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideRequest {
    /// Why (required when the role's settings say so, which is the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Approving an extension or renewal: the end granted, at most the one asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// One answer to many requests (`POST /approvals`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkDecision {
    /// Approve or deny.
    pub verdict: Verdict,
    /// The requests (1 to 100).
    pub request_ids: Vec<RequestId>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// The outcome for one request of a bulk decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkDecisionItem {
    /// The request.
    pub request_id: RequestId,
    /// The request after the decision, when it was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Why the decision was refused for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<ProblemItem>,
}

/// The answer to a bulk decision: one item per request, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkDecisionResult {
    /// One per request.
    pub items: Vec<BulkDecisionItem>,
}

/// Query of `GET /api/v1/settings-changes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SettingsChangeQuery {
    /// Only changes in this status (`PendingApproval` for those waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub status: Option<RequestStatus>,
}

/// A second administrator's answer to a settings change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideSettingsChange {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Query of `GET /api/v1/break-glass-reviews`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct BreakGlassQuery {
    /// Only those not reviewed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<bool>,
}

/// The review of a break-glass activation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteReview {
    /// Whether the emergency justified it.
    pub verdict: ReviewVerdict,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
