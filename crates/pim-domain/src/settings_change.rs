//! Four eyes on policy: a change to protected role settings waits as a request until a second
//! Privileged Role Administrator approves it.

use serde::{Deserialize, Serialize};

use crate::approval::Decision;
use crate::ids::{PrincipalId, RoleId, SettingsChangeId};
use crate::request::RequestStatus;
use crate::scope::ScopePath;
use crate::settings::RoleSettings;
use crate::time::{DAY_MS, Timestamp};

/// How long a settings change waits for a second administrator.
pub const SETTINGS_CHANGE_TIMEOUT_MS: i64 = 7 * DAY_MS;

/// A proposed change to a role's settings at a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SettingsChange {
    /// Its id.
    pub id: SettingsChangeId,
    /// Which role.
    pub role_id: RoleId,
    /// Where the settings are defined.
    pub scope: ScopePath,
    /// The settings proposed; `None` proposes removing them (inheriting again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<RoleSettings>,
    /// `PendingApproval`, then `Provisioned` (applied), `Denied`, `Canceled` or `TimedOut`.
    pub status: RequestStatus,
    /// Who proposed it.
    pub requested_by: PrincipalId,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The second administrator's decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// When it was proposed.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Why it ended as it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

impl SettingsChange {
    /// When an undecided change times out.
    pub fn deadline(&self) -> Timestamp {
        self.created_at.plus_millis(SETTINGS_CHANGE_TIMEOUT_MS)
    }
}
