//! Security alerts: the rules, the alerts raised, dismissal and remediation (docs/ALERTS.md).

use std::collections::BTreeMap;

use pim_domain::alert::{Alert, AlertState, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/alerts` (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only alerts in this state: `active`, `dismissed` or `resolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub state: Option<AlertState>,
}

/// A change to an alert rule (`PUT /api/v1/alert-rules/{id}`); absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAlertRule {
    /// The severity of the alerts it raises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Turn the rule on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Threshold changes by name (see the rule's `thresholds`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, i64>,
}

/// Dismissing an alert (`POST /api/v1/alerts/{id}/dismiss`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DismissAlert {
    /// Why (required).
    pub reason: String,
}

/// What remediating an alert did (`POST /api/v1/alerts/{id}/remediate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationResult {
    /// The alert after the fix and a new evaluation (resolved when the fix removed every item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// One line per change made.
    pub changes: Vec<String>,
}
