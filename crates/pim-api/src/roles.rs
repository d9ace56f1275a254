//! Role definitions and role settings (policy) attached to a role at a scope.

use pim_domain::{Permissions, RoleId, RoleSettings, ScopePath};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Creates a custom role, or replaces one (`PUT`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRole {
    /// Unique name.
    pub name: String,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed actions (`storage.blobs.read`, `storage.*`, `*`) and excluded ones.
    pub permissions: Permissions,
}

/// Query of the role settings endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SettingsQuery {
    /// The scope the settings concern; `/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub scope: Option<ScopePath>,
}

/// Query of `GET /api/v1/settings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SettingsListQuery {
    /// Only this role's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>, format = Uuid)]
    pub role_id: Option<RoleId>,
}

/// Role settings in force for a role at a scope, and where they were defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveSettings {
    /// The role.
    pub role_id: RoleId,
    /// The scope asked about.
    pub scope: ScopePath,
    /// The scope (this one or the nearest ancestor) whose explicit settings apply; absent: the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_at: Option<ScopePath>,
    /// The settings.
    pub settings: RoleSettings,
}
