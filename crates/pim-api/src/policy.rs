//! Declarative policy: export, plan and apply a TOML policy file (docs/POLICY.md).

use pim_domain::{ScopePath, SettingsChangeId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/policy/export`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PolicyExportQuery {
    /// Only settings and assignments at this scope or below (default `/`: everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub scope: Option<ScopePath>,
}

/// Body of `POST /api/v1/policy/plan` and `/apply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    /// The policy file's text (TOML, as `GET /api/v1/policy/export` writes it).
    pub policy: String,
    /// Carry out removals of what the file does not list (else they are only reported).
    #[serde(default)]
    pub prune: bool,
    /// The justification of the assignment requests apply makes (default `pim apply: declarative policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// One field that changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFieldDiff {
    /// The field, e.g. `activationMaxMinutes`.
    pub field: String,
    /// Its value before (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<serde_json::Value>,
    /// Its value after (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
}

/// One difference between the server and the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChangeView {
    /// `create`, `update` or `remove`.
    pub op: String,
    /// `resource`, `role`, `group`, `member`, `settings`, `assignment`, `alertRule` or `review`.
    pub object: String,
    /// The object in words, e.g. `DB Operator at /db` or `alice in oncall`.
    pub key: String,
    /// `wouldApply`, `wouldPropose` (protected settings: a proposal), `needsPrune` (a removal left
    /// without `prune`), `applied` or `proposed`.
    pub status: String,
    /// The fields that change (updates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<PolicyFieldDiff>,
    /// The settings change filed for it, waiting for a second administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub settings_change_id: Option<SettingsChangeId>,
}

/// A plan, or what an apply did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// What the file covers.
    #[schema(value_type = String)]
    pub scope: ScopePath,
    /// Whether removals were carried out.
    pub prune: bool,
    /// Whether the server differs from the file (any change, carried out or not).
    pub differs: bool,
    /// Every difference, in the order apply takes them.
    pub changes: Vec<PolicyChangeView>,
}
