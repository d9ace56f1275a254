//! Audit events: who did what to whom, where, why, with what outcome, and when.

use serde::{Deserialize, Serialize};

use crate::ids::{EventId, PrincipalId, RequestId, RoleId};
use crate::scope::ScopePath;
use crate::time::Timestamp;

/// Whether the audited action happened or was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused or failed.
    Failure,
}

impl Outcome {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// An audit event before it is chained (what the engine writes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditDraft {
    /// What happened, dotted: `assignment.created`, `request.refused`, `auth.signIn`, ...
    pub action: String,
    /// `None` means success.
    pub error_code: Option<String>,
    /// Who did it (absent for the system itself).
    pub actor_id: Option<PrincipalId>,
    /// The actor's name at the time.
    pub actor_name: Option<String>,
    /// The principal concerned.
    pub principal_id: Option<PrincipalId>,
    /// The role concerned.
    pub role_id: Option<RoleId>,
    /// The scope concerned (`/` for directory-wide events).
    pub scope: Option<ScopePath>,
    /// The justification given.
    pub justification: Option<String>,
    /// The ticket given, as `system:number`.
    pub ticket: Option<String>,
    /// The pim request concerned.
    pub request_id: Option<RequestId>,
    /// The HTTP request id (`x-request-id`).
    pub http_request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Anything else worth keeping, as JSON.
    pub details: serde_json::Value,
}

/// A chained audit event as stored and listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event's id.
    pub id: EventId,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub action: String,
    /// Success or failure.
    pub outcome: Outcome,
    /// The refusal's code, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Who did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<PrincipalId>,
    /// The actor's name at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The principal concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// The role concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// The scope concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// The justification given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The ticket given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The pim request concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// The HTTP request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request_id: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// Anything else, as JSON.
    pub details: serde_json::Value,
    /// The previous event's hash (hex SHA-256; 64 zeros before the first).
    pub prev_hash: String,
    /// This event's hash: SHA-256 over `prev_hash` and the event's canonical fields.
    pub hash: String,
}
