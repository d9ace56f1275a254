//! Resources (named, typed nodes of the scope tree) and scope validation.

use pim_domain::ScopePath;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ResourceQuery {
    /// Only resources at this scope or below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub under: Option<ScopePath>,
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Registers a resource at a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateResource {
    /// Its scope path (unique).
    pub scope: ScopePath,
    /// Display name.
    pub name: String,
    /// Type, e.g. `subscription`, `postgres.database`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Renames and/or retypes a resource (at least one of the two).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateResource {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Asks whether a scope path is valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateScope {
    /// The path to check (any string; an invalid one is answered `400 invalid_scope`).
    pub scope: String,
}

/// A valid scope path and where it sits in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeInfo {
    /// The path.
    pub scope: ScopePath,
    /// Number of segments (`/` has 0).
    pub depth: u32,
    /// Every ancestor, nearest first, ending with `/`.
    pub ancestors: Vec<ScopePath>,
}
