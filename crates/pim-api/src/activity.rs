//! Activity per activation: what registered systems report, and what was done under an assignment.

use pim_domain::activity::{ActivityEvent, ActivityMatch, ReportedActivity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /api/v1/activity`: 1 to 100 events, stored all or none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportActivity {
    /// The events.
    pub events: Vec<ReportedActivity>,
}

/// What pim recorded (`POST /api/v1/activity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecorded {
    /// The events as stored, in the order sent, each with the assignment it was tied to.
    pub items: Vec<ActivityEvent>,
    /// How many were tied to an assignment (by id or by pim).
    pub matched: u64,
    /// How many happened outside any assignment in effect.
    pub unmatched: u64,
}

impl ActivityRecorded {
    /// The answer for `items`.
    pub fn of(items: Vec<ActivityEvent>) -> ActivityRecorded {
        let unmatched = items.iter().filter(|e| e.match_kind == ActivityMatch::Unmatched).count() as u64;
        ActivityRecorded { matched: items.len() as u64 - unmatched, unmatched, items }
    }
}

/// Query of `GET /api/v1/assignments/{id}/activity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
