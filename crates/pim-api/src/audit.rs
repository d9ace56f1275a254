//! The audit history: filters, export and verification of the hash chain.

use pim_domain::{Outcome, ScopePath, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters of `GET /api/v1/audit` (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Only events before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    /// Only events by this actor (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only events concerning this principal (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only events concerning this role (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Only events at this scope or below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// Only events whose action starts with this (e.g. `request.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only successes or only failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub outcome: Option<Outcome>,
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// File format of an audit export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header line.
    #[default]
    Csv,
    /// A JSON array of AuditEvent.
    Json,
}

impl ExportFormat {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Query of `GET /api/v1/audit/export` (oldest first, no paging).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// `csv` or `json`.
    #[param(inline)]
    pub format: ExportFormat,
    /// Only events at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Only events before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    /// Only events by this actor (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only events concerning this principal (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only events concerning this role (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Only events at this scope or below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// Only events whose action starts with this (e.g. `request.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only successes or only failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub outcome: Option<Outcome>,
}

impl AuditExportQuery {
    /// The export in `format` of the events `filters` selects (their paging is ignored).
    pub fn new(format: ExportFormat, filters: &AuditQuery) -> AuditExportQuery {
        let f = filters.clone();
        AuditExportQuery {
            format,
            from: f.from,
            to: f.to,
            actor: f.actor,
            principal: f.principal,
            role: f.role,
            scope: f.scope,
            action: f.action,
            outcome: f.outcome,
        }
    }
}

/// The result of verifying the audit hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerifyReport {
    /// Whether the chain is intact.
    pub ok: bool,
    /// How many events were checked.
    pub checked: u64,
    /// What is wrong, event by event.
    pub problems: Vec<AuditChainProblem>,
}

/// One break in the audit hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditChainProblem {
    /// The event's position in the chain.
    pub seq: i64,
    /// What kind of break: `hash_mismatch`, `prev_hash_mismatch`, `gap`, ...
    pub kind: String,
    /// What is wrong, for people.
    pub message: String,
}
