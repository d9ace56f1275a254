//! Access reviews: definitions, instances, reviewers' decisions and results (docs/REVIEWS.md).

use pim_domain::approval::Verdict;
use pim_domain::review::{
    IfNoResponse, Recurrence, ReviewDefinition, ReviewEnd, ReviewInstance, ReviewItem, ReviewTarget, ReviewedKinds,
    Reviewers,
};
use pim_domain::{ReviewItemId, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::ExportFormat;

/// When a new review's instances run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReviewScheduleInput {
    /// When the first instance starts [default: now].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// `oneTime` [default], `weekly`, `monthly`, `quarterly`, `semiAnnually` or `annually`.
    #[serde(default)]
    pub recurrence: Recurrence,
    /// How long each instance lasts, in days (1 to 180, and no longer than the recurrence).
    pub duration_days: u32,
    /// When a recurring review stops: `{"type":"never"}` [default], `{"type":"onDate","at":...}`
    /// or `{"type":"afterOccurrences","count":N}`.
    #[serde(default)]
    pub end: ReviewEnd,
}

/// A new access review (`POST /api/v1/reviews`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReview {
    /// Its name (1-200 characters).
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What is reviewed: `{"type":"roles","roleIds":[...],"scope":"/prod"}` or
    /// `{"type":"groupMembership","groupId":...}`.
    pub target: ReviewTarget,
    /// `eligible`, `active` or `both` [default].
    #[serde(default)]
    pub kinds: ReviewedKinds,
    /// Only principals with no activation or sign-in for this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<u32>,
    /// `{"type":"selfReview"}`, `{"type":"managers","fallback":[...]}` or
    /// `{"type":"selected","reviewers":[...]}` (users and groups).
    pub reviewers: Reviewers,
    /// When.
    pub schedule: ReviewScheduleInput,
    /// Apply the results when an instance ends [default: false].
    #[serde(default)]
    pub auto_apply: bool,
    /// What happens to items nobody reviewed: `noChange` [default], `remove`, `approve` or
    /// `takeRecommendation`.
    #[serde(default)]
    pub if_no_response: IfNoResponse,
    /// Reviewers must give a reason with each decision [default: true].
    #[serde(default = "yes")]
    pub reason_required: bool,
}

fn yes() -> bool {
    true
}

/// Changes to a schedule (`PATCH /api/v1/reviews/{id}`): what is absent stays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateReviewSchedule {
    /// When the first instance starts (only before it started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// How often it recurs (only before the first instance started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// How long each future instance lasts, in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<u32>,
    /// When the review stops recurring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ReviewEnd>,
}

/// Changes to a review definition for its future instances (`PATCH /api/v1/reviews/{id}`): what
/// is absent stays. The instance in progress keeps its items and its end.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateReview {
    /// A new name (unique among the reviews not stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description (`""` removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new target (not while an instance is in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ReviewTarget>,
    /// `eligible`, `active` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<ReviewedKinds>,
    /// Only principals inactive this many days (`0`: everyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<u32>,
    /// New reviewers (future instances; the items in progress keep theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewers: Option<Reviewers>,
    /// Schedule changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<UpdateReviewSchedule>,
    /// Apply the results when an instance ends (the one in progress included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_apply: Option<bool>,
    /// What happens to items nobody reviewed (the one in progress included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_no_response: Option<IfNoResponse>,
    /// Reviewers must give a reason (decisions from now on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_required: Option<bool>,
}

/// A review definition with its instances, newest first (`GET /api/v1/reviews/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDetail {
    /// The definition.
    pub review: ReviewDefinition,
    /// Its instances, with their counts.
    pub instances: Vec<ReviewInstance>,
}

/// Query of `GET /api/v1/review-instances/{id}/items`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewItemsQuery {
    /// `json` [default] or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// An instance's results (`GET /api/v1/review-instances/{id}/items`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResults {
    /// The definition.
    pub review: ReviewDefinition,
    /// The instance, with its counts.
    pub instance: ReviewInstance,
    /// Every item, with its decision, outcome and what applying did.
    pub items: Vec<ReviewItem>,
}

/// Decisions on items of one instance (`POST /api/v1/review-instances/{id}/decisions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideReviewItems {
    /// The items [default: every item of the instance you review and have not decided yet].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_ids: Option<Vec<ReviewItemId>>,
    /// `approve` (keep the access) or `deny` (remove it); give this or `acceptRecommendations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Take pim's recommendation for each item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_recommendations: bool,
    /// Why (required when the review says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A decision on one item (`POST /api/v1/review-instances/{id}/items/{itemId}/decision`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecideReviewItem {
    /// `approve` (keep the access) or `deny` (remove it).
    pub verdict: Verdict,
    /// Why (required when the review says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An instance in progress with the items the caller reviews (`GET /api/v1/me/reviews`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyReview {
    /// The review.
    pub review: ReviewDefinition,
    /// The instance (its counts are of the caller's items).
    pub instance: ReviewInstance,
    /// The caller's items, decided or not.
    pub items: Vec<ReviewItem>,
}
