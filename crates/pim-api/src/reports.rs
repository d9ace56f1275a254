//! Reports: who holds what now, and activation history.

use pim_domain::{AssignmentId, AssignmentKind, PrincipalId, PrincipalKind, RoleId, ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::ExportFormat;

/// Filters of `GET /api/v1/reports/access`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AccessReportQuery {
    /// The scope reported on: access at it or below it, and access inherited from above it [default: `/`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under: Option<ScopePath>,
    /// Only this principal (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only this role (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Only eligible or only active access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub kind: Option<AssignmentKind>,
    /// `json` [default] or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// One principal's access through one assignment, in effect now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessReportRow {
    /// Who has the access.
    pub principal_id: PrincipalId,
    /// Their name.
    pub principal_name: String,
    /// User, group or service principal.
    pub principal_kind: PrincipalKind,
    /// The role.
    pub role_id: RoleId,
    /// Its name.
    pub role_name: String,
    /// The scope the assignment is at.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// How it is held: `eligible`, `activation` (an active assignment from an activation) or `standing`.
    pub source: String,
    /// `direct`, or `group` when held through a group's assignment.
    pub via: String,
    /// The group whose assignment it is, when held through a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_group_id: Option<PrincipalId>,
    /// That group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_group_name: Option<String>,
    /// Whether the assignment is at a parent of the scope reported on (inherited from `scope`).
    pub inherited: bool,
    /// The assignment.
    pub assignment_id: AssignmentId,
    /// Its start.
    pub start: Timestamp,
    /// Its end (none: permanent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// `GET /api/v1/reports/access` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessReport {
    /// The scope reported on.
    pub under: ScopePath,
    /// When the report was made.
    pub at: Timestamp,
    /// The rows, by principal name, role name, scope.
    pub rows: Vec<AccessReportRow>,
}

/// Filters of `GET /api/v1/reports/activations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ActivationReportQuery {
    /// Activations at or after this instant [default: 30 days before `to`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Activations before this instant [default: now].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    /// Only activations at this scope or below it [default: `/`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under: Option<ScopePath>,
    /// `json` [default] or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// A count of activations for one role, user or day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationCount {
    /// The role id, the principal id, or the day (`YYYY-MM-DD`, UTC).
    pub key: String,
    /// The role's or the principal's name (empty for a day).
    pub name: String,
    /// How many activations.
    pub count: u64,
}

/// `GET /api/v1/reports/activations` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationReport {
    /// Start of the range (inclusive).
    pub from: Timestamp,
    /// End of the range (exclusive).
    pub to: Timestamp,
    /// The scope reported on.
    pub under: ScopePath,
    /// Activations in the range.
    pub total: u64,
    /// Per role, most first.
    pub by_role: Vec<ActivationCount>,
    /// Per user (or service principal), most first.
    pub by_principal: Vec<ActivationCount>,
    /// Per day (UTC), in order; days without activations are left out.
    pub by_day: Vec<ActivationCount>,
    /// Activations in the range with reported use (activity a registered system reported).
    #[serde(default)]
    pub used: u64,
    /// Reported activity events of the activations in the range (connectors' grants and revokes
    /// are not use and not counted).
    #[serde(default)]
    pub activity_events: u64,
}
