//! The check API: may a principal perform an action at a scope now?

use pim_domain::{AssignmentId, PrincipalId, RoleId, ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Asks whether `principal` may perform `action` at `scope`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    /// The principal's id or name.
    pub principal: String,
    /// A concrete action, e.g. `storage.blobs.read`.
    pub action: String,
    /// The scope path, e.g. `/subscriptions/prod`.
    pub scope: String,
    /// The instant to ask about; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

/// The answer of a check and, when allowed, the assignment that allows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The principal asked about.
    pub principal_id: PrincipalId,
    /// The assignment that allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// That assignment's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// That role's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// That assignment's scope (the one asked about or an ancestor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// The group through which the principal holds it, if not directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_group: Option<PrincipalId>,
    /// The name of that group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_group_name: Option<String>,
    /// When that assignment ends; absent when permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
}

/// Many checks in one round trip (at most 1000), answered in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCheckRequest {
    /// The questions.
    pub checks: Vec<CheckRequest>,
}

/// The answers of a batch check, in the order of its questions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchCheckResponse {
    /// One answer per question.
    pub results: Vec<CheckResponse>,
}
