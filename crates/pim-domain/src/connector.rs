//! Connectors' records: where one principal's access stands in one target system (SPEC section 12).

use serde::{Deserialize, Serialize};

use crate::{AssignmentId, PrincipalId, Timestamp};

/// Where an entitlement of a principal stands in a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ProvisionState {
    /// In effect in pim, not (yet) granted in the target: waiting for the worker or its next retry.
    Pending,
    /// Granted in the target.
    Granted,
    /// Ended in pim, still held in the target: the revoke is being retried (for ever).
    Revoking,
    /// Revoked in the target.
    Revoked,
    /// The grant was given up after its attempts; retried at the next change or reconciliation.
    Failed,
}

impl ProvisionState {
    /// Every state.
    pub const ALL: [ProvisionState; 5] = [
        ProvisionState::Pending,
        ProvisionState::Granted,
        ProvisionState::Revoking,
        ProvisionState::Revoked,
        ProvisionState::Failed,
    ];
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionState::Pending => "pending",
            ProvisionState::Granted => "granted",
            ProvisionState::Revoking => "revoking",
            ProvisionState::Revoked => "revoked",
            ProvisionState::Failed => "failed",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ProvisionState> {
        ProvisionState::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// Whether the target may hold the entitlement in this state (so ending it needs a revoke).
    pub fn may_be_held(self) -> bool {
        !matches!(self, ProvisionState::Revoked)
    }
}

/// What pim recorded of one entitlement of one principal in one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConnectorGrant {
    /// The connector's name.
    pub connector: String,
    /// The principal (a user or service principal; groups' members are provisioned one by one).
    pub principal_id: PrincipalId,
    /// The entitlement in the target (a PostgreSQL role, a webhook's entitlement string).
    pub entitlement: String,
    /// The account in the target (the login), as it was when last granted.
    pub account: String,
    /// Where it stands.
    pub state: ProvisionState,
    /// Attempts since the last success.
    pub attempts: i64,
    /// The last failure's message (cleared by a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The end of the access the grant relies on (`None`: permanent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// The assignment that justifies it (the one ending last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// When it was last granted in the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<Timestamp>,
    /// When the record last changed.
    pub updated_at: Timestamp,
}

/// One principal's row in a connector's work queue: its access in the target may be wrong from
/// `due_at` on, so the worker looks again then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorWork {
    /// The connector's name.
    pub connector: String,
    /// The principal whose access to bring in line (a group is expanded into its members).
    pub principal_id: PrincipalId,
    /// When the worker should look.
    pub due_at: Timestamp,
    /// Bumped by every change: a worker only reschedules the row it read.
    pub generation: i64,
    /// Failed syncs in a row.
    pub attempts: i64,
    /// The last failure's message.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_revoked_is_not_held() {
        for s in ProvisionState::ALL {
            assert_eq!(ProvisionState::parse(s.as_str()), Some(s));
            assert_eq!(s.may_be_held(), s != ProvisionState::Revoked);
        }
        assert_eq!(ProvisionState::parse("granted "), None);
    }
}
