//! Assignments: a principal holds a role at a scope, eligible or active, over a time window.

use serde::{Deserialize, Serialize};

use crate::ids::{AssignmentId, PrincipalId, RequestId, RoleId};
use crate::principal::PrincipalKind;
use crate::scope::ScopePath;
use crate::time::{Timestamp, Window};

/// Eligible (may activate) or active (holds the role).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum AssignmentKind {
    /// May activate the role.
    Eligible,
    /// Holds the role.
    Active,
}

impl AssignmentKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentKind::Eligible => "eligible",
            AssignmentKind::Active => "active",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<AssignmentKind> {
        match s {
            "eligible" => Some(AssignmentKind::Eligible),
            "active" => Some(AssignmentKind::Active),
            _ => None,
        }
    }
}

/// An assignment. It is in effect exactly when `window.start <= now < window.end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The assignment's id.
    pub id: AssignmentId,
    /// Who holds it.
    pub principal_id: PrincipalId,
    /// What kind of principal holds it.
    pub principal_kind: PrincipalKind,
    /// Which role.
    pub role_id: RoleId,
    /// Where (and everything below).
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// When it is in effect.
    pub window: Window,
    /// For an activation: the eligible assignment it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_from: Option<AssignmentId>,
    /// The request that created it.
    pub created_by_request: RequestId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was removed, deactivated or revoked early, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early_at: Option<Timestamp>,
}

impl Assignment {
    /// Whether it is in effect at `now`.
    pub fn in_effect(&self, now: Timestamp) -> bool {
        self.window.contains(now)
    }
    /// Whether it is an activation of an eligible assignment.
    pub fn is_activation(&self) -> bool {
        self.activated_from.is_some()
    }
    /// Whether it still matters at `now`: in effect or starting later.
    pub fn is_current(&self, now: Timestamp) -> bool {
        !self.window.has_ended(now)
    }
}
