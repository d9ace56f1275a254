//! Access reviews (SPEC section 9), the pure part: what a review definition says, when each of its
//! instances runs (one time or recurring, with its end), the midpoint reminder, the recommendation
//! for an item, and what happens to an item at the end of an instance.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::approval::Verdict;
use crate::assignment::AssignmentKind;
use crate::error::{DomainError, ErrorKind};
use crate::ids::{PrincipalId, RoleId};
use crate::scope::ScopePath;
use crate::settings::ApproverRef;
use crate::time::{DAY_MS, Timestamp};

/// Days without activation or sign-in after which pim recommends denying an item.
pub const RECOMMEND_DENY_AFTER_DAYS: u32 = 30;
/// Longest instance, in days.
pub const MAX_DURATION_DAYS: u32 = 180;
/// Most roles one definition reviews.
pub const MAX_ROLES: usize = 100;

/// What a review covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
pub enum ReviewTarget {
    /// Assignments of these roles at the scope (and below).
    Roles {
        /// The roles (at least one).
        role_ids: Vec<RoleId>,
        /// Where.
        scope: ScopePath,
    },
    /// The membership of a group (static members and `Member` assignments at its scope).
    GroupMembership {
        /// The group.
        group_id: PrincipalId,
    },
}

/// Which assignments of the target are reviewed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ReviewedKinds {
    /// Eligible assignments only.
    Eligible,
    /// Active assignments only.
    Active,
    /// Both (the default).
    #[default]
    Both,
}

impl ReviewedKinds {
    /// Whether an assignment of `kind` is reviewed.
    pub fn includes(self, kind: AssignmentKind) -> bool {
        matches!(
            (self, kind),
            (ReviewedKinds::Both, _)
                | (ReviewedKinds::Eligible, AssignmentKind::Eligible)
                | (ReviewedKinds::Active, AssignmentKind::Active)
        )
    }
}

/// Who reviews.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
pub enum Reviewers {
    /// Each principal reviews their own access.
    SelfReview,
    /// Each principal's manager; principals without one go to the fallback reviewers.
    Managers {
        /// Who reviews items whose principal has no manager (at least one).
        fallback: Vec<ApproverRef>,
    },
    /// These users, or the members of these groups, review every item.
    Selected {
        /// The reviewers (at least one).
        reviewers: Vec<ApproverRef>,
    },
}

/// How often a review recurs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Recurrence {
    /// Once.
    #[default]
    OneTime,
    /// Every week.
    Weekly,
    /// Every month (on the same day of the month, or the month's last day).
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every six months.
    SemiAnnually,
    /// Every year.
    Annually,
}

/// When a recurring review stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
pub enum ReviewEnd {
    /// It recurs for ever.
    #[default]
    Never,
    /// No instance starts on or after this time.
    OnDate {
        /// The end.
        at: Timestamp,
    },
    /// After this many instances.
    AfterOccurrences {
        /// How many (at least 1).
        count: u32,
    },
}

/// When a review's instances run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReviewSchedule {
    /// When the first instance starts.
    pub start: Timestamp,
    /// How often it recurs.
    #[serde(default)]
    pub recurrence: Recurrence,
    /// How long each instance lasts, in days (1 to 180, and shorter than the recurrence).
    pub duration_days: u32,
    /// When a recurring review stops.
    #[serde(default)]
    pub end: ReviewEnd,
}

/// What happens to an item nobody reviewed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum IfNoResponse {
    /// Nothing changes (the default).
    #[default]
    NoChange,
    /// The access is removed.
    Remove,
    /// The access is kept, as approved.
    Approve,
    /// pim's recommendation is taken.
    TakeRecommendation,
}

/// What an item's review concluded, once the instance ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ItemOutcome {
    /// The access stays.
    Keep,
    /// The access is removed (through an `adminRemove` request when applied).
    Remove,
}

/// A review definition as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReviewDefinition {
    /// Its id.
    pub id: crate::ids::ReviewId,
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What is reviewed.
    pub target: ReviewTarget,
    /// Which assignments of the target.
    pub kinds: ReviewedKinds,
    /// Only principals with no activation or sign-in for this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<u32>,
    /// Who reviews.
    pub reviewers: Reviewers,
    /// When.
    pub schedule: ReviewSchedule,
    /// Apply the results when an instance ends.
    pub auto_apply: bool,
    /// What happens to items nobody reviewed.
    pub if_no_response: IfNoResponse,
    /// Reviewers must give a reason.
    pub reason_required: bool,
    /// Who made it.
    pub created_by: PrincipalId,
    /// When.
    pub created_at: Timestamp,
    /// When it was stopped (no further instances), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
}

/// Where an instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InstanceStatus {
    /// Reviewers are deciding.
    InProgress,
    /// Ended (or stopped); outcomes are computed but not applied.
    Completed,
    /// Outcomes were carried out.
    Applied,
}

impl InstanceStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::InProgress => "InProgress",
            InstanceStatus::Completed => "Completed",
            InstanceStatus::Applied => "Applied",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<InstanceStatus> {
        [InstanceStatus::InProgress, InstanceStatus::Completed, InstanceStatus::Applied]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One run of a review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReviewInstance {
    /// Its id.
    pub id: crate::ids::ReviewInstanceId,
    /// The definition.
    pub review_id: crate::ids::ReviewId,
    /// Which occurrence of the schedule (0-based).
    pub occurrence: u32,
    /// When it started.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// Where it stands.
    pub status: InstanceStatus,
    /// When the midpoint reminder went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<Timestamp>,
    /// When it was completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// When its results were applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<Timestamp>,
}

/// A reviewer's decision on an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ItemDecision {
    /// Keep or remove.
    pub verdict: Verdict,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who decided.
    pub by: PrincipalId,
    /// When.
    pub at: Timestamp,
}

/// One reviewed access, snapshotted when its instance started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReviewItem {
    /// Its id.
    pub id: crate::ids::ReviewItemId,
    /// The instance.
    pub instance_id: crate::ids::ReviewInstanceId,
    /// The assignment reviewed (absent for a static group membership).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<crate::ids::AssignmentId>,
    /// Whose access.
    pub principal_id: PrincipalId,
    /// Which role.
    pub role_id: RoleId,
    /// Where.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// The principal's latest activation or sign-in before the instance started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Timestamp>,
    /// pim's recommendation.
    pub recommendation: Verdict,
    /// Who may decide it.
    pub reviewers: Vec<ApproverRef>,
    /// The decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ItemDecision>,
    /// The outcome, once the instance completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ItemOutcome>,
    /// The request that carried out a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_request_id: Option<crate::ids::RequestId>,
}

/// Whether an item's principal used its access recently enough.
pub fn recommend(last_activity: Option<Timestamp>, now: Timestamp) -> Verdict {
    let limit = i64::from(RECOMMEND_DENY_AFTER_DAYS) * DAY_MS;
    match last_activity {
        Some(t) if now.0 - t.0 < limit => Verdict::Approve,
        _ => Verdict::Deny,
    }
}

/// The outcome of an item from its reviewer's decision (if any), pim's recommendation and the
/// definition's rule for items nobody reviewed.
pub fn outcome(decision: Option<Verdict>, recommendation: Verdict, if_no_response: IfNoResponse) -> ItemOutcome {
    let verdict = match (decision, if_no_response) {
        (Some(v), _) => v,
        (None, IfNoResponse::NoChange | IfNoResponse::Approve) => Verdict::Approve,
        (None, IfNoResponse::Remove) => Verdict::Deny,
        (None, IfNoResponse::TakeRecommendation) => recommendation,
    };
    match verdict {
        Verdict::Approve => ItemOutcome::Keep,
        Verdict::Deny => ItemOutcome::Remove,
    }
}

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError::new(ErrorKind::InvalidInput, msg)
}

/// `date` moved by `months` calendar months, on the same day or the month's last day.
fn add_months(date: Date, months: i32) -> Option<Date> {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    let month = Month::try_from(u8::try_from(month0 + 1).ok()?).ok()?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last)).ok()
}

impl ReviewSchedule {
    /// Checks ranges and consistency; the message names the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(1..=MAX_DURATION_DAYS).contains(&self.duration_days) {
            return Err(bad(format!("durationDays must be between 1 and {MAX_DURATION_DAYS}")));
        }
        let period_days = match self.recurrence {
            Recurrence::OneTime => None,
            Recurrence::Weekly => Some(7),
            Recurrence::Monthly => Some(28),
            Recurrence::Quarterly => Some(89),
            Recurrence::SemiAnnually => Some(181),
            Recurrence::Annually => Some(365),
        };
        if let Some(p) = period_days
            && self.duration_days > p
        {
            return Err(bad(format!("durationDays must not exceed the recurrence period ({p} days)")));
        }
        match self.end {
            ReviewEnd::AfterOccurrences { count: 0 } => Err(bad("end.count must be at least 1")),
            ReviewEnd::OnDate { at } if at <= self.start => Err(bad("end.at must be after the start")),
            _ => Ok(()),
        }
    }

    /// When instance `n` (0-based) starts, if the schedule has one.
    pub fn occurrence_start(&self, n: u32) -> Option<Timestamp> {
        if self.recurrence == Recurrence::OneTime && n > 0 {
            return None;
        }
        if let ReviewEnd::AfterOccurrences { count } = self.end
            && n >= count
        {
            return None;
        }
        let start = self.start.to_datetime()?;
        let n = i32::try_from(n).ok()?;
        let at: OffsetDateTime = match self.recurrence {
            Recurrence::OneTime => start,
            Recurrence::Weekly => start.checked_add(time::Duration::weeks(i64::from(n)))?,
            Recurrence::Monthly | Recurrence::Quarterly | Recurrence::SemiAnnually | Recurrence::Annually => {
                let step = match self.recurrence {
                    Recurrence::Monthly => 1,
                    Recurrence::Quarterly => 3,
                    Recurrence::SemiAnnually => 6,
                    _ => 12,
                };
                let date = add_months(start.date(), n.checked_mul(step)?)?;
                start.replace_date(date)
            }
        };
        let at = Timestamp::from_datetime(at);
        match self.end {
            ReviewEnd::OnDate { at: end } if at >= end => None,
            _ => Some(at),
        }
    }

    /// Instance `n`'s window: its start and its end `durationDays` later.
    pub fn occurrence(&self, n: u32) -> Option<(Timestamp, Timestamp)> {
        let s = self.occurrence_start(n)?;
        Some((s, s.plus_millis(i64::from(self.duration_days) * DAY_MS)))
    }

    /// When instance `n`'s reviewers are reminded: halfway through it.
    pub fn midpoint(&self, n: u32) -> Option<Timestamp> {
        let (s, e) = self.occurrence(n)?;
        Some(Timestamp(s.0 + (e.0 - s.0) / 2))
    }
}

/// Checks a review's target, reviewers and schedule together.
pub fn validate_definition(
    name: &str,
    target: &ReviewTarget,
    reviewers: &Reviewers,
    schedule: &ReviewSchedule,
) -> Result<(), DomainError> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(bad("a review's name must be 1-200 printable characters"));
    }
    if let ReviewTarget::Roles { role_ids, .. } = target
        && (role_ids.is_empty() || role_ids.len() > MAX_ROLES)
    {
        return Err(bad(format!("target.roleIds must name 1 to {MAX_ROLES} roles")));
    }
    let list = match reviewers {
        Reviewers::SelfReview => None,
        Reviewers::Managers { fallback } => Some(("reviewers.fallback", fallback)),
        Reviewers::Selected { reviewers } => Some(("reviewers.reviewers", reviewers)),
    };
    if let Some((what, list)) = list {
        if list.is_empty() || list.len() > 100 {
            return Err(bad(format!("{what} must name 1 to 100 users or groups")));
        }
        if list.iter().any(|r| r.kind == crate::principal::PrincipalKind::ServicePrincipal) {
            return Err(bad(format!("{what}: reviewers are users or groups, not service principals")));
        }
    }
    schedule.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn schedule(start: &str, recurrence: Recurrence, end: ReviewEnd) -> ReviewSchedule {
        ReviewSchedule { start: at(start), recurrence, duration_days: 7, end }
    }

    #[test]
    fn monthly_keeps_the_day_or_takes_the_months_last() {
        let s = schedule("2026-01-31T09:00:00Z", Recurrence::Monthly, ReviewEnd::Never);
        let starts: Vec<_> = (0..4).map(|n| s.occurrence_start(n).unwrap().to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-01-31T09:00:00.000Z",
                "2026-02-28T09:00:00.000Z",
                "2026-03-31T09:00:00.000Z",
                "2026-04-30T09:00:00.000Z"
            ]
        );
        let q = schedule("2026-11-30T00:00:00Z", Recurrence::Quarterly, ReviewEnd::Never);
        assert_eq!(q.occurrence_start(1).unwrap().to_rfc3339(), "2027-02-28T00:00:00.000Z");
        let y = schedule("2028-02-29T00:00:00Z", Recurrence::Annually, ReviewEnd::Never);
        assert_eq!(y.occurrence_start(1).unwrap().to_rfc3339(), "2029-02-28T00:00:00.000Z");
        let h = schedule("2026-08-31T00:00:00Z", Recurrence::SemiAnnually, ReviewEnd::Never);
        assert_eq!(h.occurrence_start(1).unwrap().to_rfc3339(), "2027-02-28T00:00:00.000Z");
    }

    #[test]
    fn ends_never_on_a_date_or_after_a_count() {
        let w = schedule("2026-01-05T09:00:00Z", Recurrence::Weekly, ReviewEnd::Never);
        assert_eq!(w.occurrence_start(52).unwrap().to_rfc3339(), "2027-01-04T09:00:00.000Z");
        let once = schedule("2026-01-05T09:00:00Z", Recurrence::OneTime, ReviewEnd::Never);
        assert!(once.occurrence_start(0).is_some() && once.occurrence_start(1).is_none());
        let three = schedule("2026-01-05T09:00:00Z", Recurrence::Weekly, ReviewEnd::AfterOccurrences { count: 3 });
        assert!(three.occurrence_start(2).is_some() && three.occurrence_start(3).is_none());
        let dated =
            schedule("2026-01-05T09:00:00Z", Recurrence::Weekly, ReviewEnd::OnDate { at: at("2026-01-19T09:00:00Z") });
        assert!(dated.occurrence_start(1).is_some() && dated.occurrence_start(2).is_none(), "not on the end");
    }

    #[test]
    fn windows_and_midpoints() {
        let s = schedule("2026-01-05T00:00:00Z", Recurrence::Monthly, ReviewEnd::Never);
        let (a, b) = s.occurrence(1).unwrap();
        assert_eq!(
            (a.to_rfc3339(), b.to_rfc3339()),
            ("2026-02-05T00:00:00.000Z".into(), "2026-02-12T00:00:00.000Z".into())
        );
        assert_eq!(s.midpoint(1).unwrap().to_rfc3339(), "2026-02-08T12:00:00.000Z");
    }

    #[test]
    fn schedules_are_validated_with_the_field_named() {
        let mut s = schedule("2026-01-05T00:00:00Z", Recurrence::Weekly, ReviewEnd::Never);
        s.duration_days = 8;
        assert!(s.validate().unwrap_err().message.contains("recurrence period"));
        s.duration_days = 0;
        assert!(s.validate().unwrap_err().message.contains("durationDays"));
        s.duration_days = 7;
        s.end = ReviewEnd::AfterOccurrences { count: 0 };
        assert!(s.validate().unwrap_err().message.contains("end.count"));
        s.end = ReviewEnd::OnDate { at: s.start };
        assert!(s.validate().unwrap_err().message.contains("end.at"));
        s.end = ReviewEnd::Never;
        assert!(s.validate().is_ok());
        let target = ReviewTarget::Roles { role_ids: vec![], scope: ScopePath::root() };
        let e = validate_definition("q1", &target, &Reviewers::SelfReview, &s).unwrap_err();
        assert!(e.message.contains("roleIds"));
        let target = ReviewTarget::GroupMembership { group_id: PrincipalId::new() };
        let none = Reviewers::Selected { reviewers: vec![] };
        assert!(validate_definition("q1", &target, &none, &s).unwrap_err().message.contains("reviewers"));
        assert!(validate_definition(" ", &target, &Reviewers::SelfReview, &s).is_err());
    }

    #[test]
    fn recommendations_and_outcomes() {
        let now = at("2026-03-01T00:00:00Z");
        assert_eq!(recommend(Some(now.plus_millis(-29 * DAY_MS)), now), Verdict::Approve);
        assert_eq!(recommend(Some(now.plus_millis(-30 * DAY_MS)), now), Verdict::Deny);
        assert_eq!(recommend(None, now), Verdict::Deny);
        use IfNoResponse::*;
        assert_eq!(outcome(Some(Verdict::Deny), Verdict::Approve, Approve), ItemOutcome::Remove);
        assert_eq!(outcome(Some(Verdict::Approve), Verdict::Deny, Remove), ItemOutcome::Keep);
        assert_eq!(outcome(None, Verdict::Deny, NoChange), ItemOutcome::Keep);
        assert_eq!(outcome(None, Verdict::Approve, Remove), ItemOutcome::Remove);
        assert_eq!(outcome(None, Verdict::Deny, TakeRecommendation), ItemOutcome::Remove);
        assert_eq!(outcome(None, Verdict::Approve, TakeRecommendation), ItemOutcome::Keep);
        assert!(ReviewedKinds::Both.includes(AssignmentKind::Active));
        assert!(!ReviewedKinds::Eligible.includes(AssignmentKind::Active));
    }

    #[test]
    fn definitions_round_trip_as_json() {
        let target: ReviewTarget =
            serde_json::from_value(serde_json::json!({"type": "groupMembership", "groupId": PrincipalId::new()}))
                .unwrap();
        assert!(matches!(target, ReviewTarget::GroupMembership { .. }));
        let r: Reviewers = serde_json::from_value(serde_json::json!({"type": "selfReview"})).unwrap();
        assert_eq!(r, Reviewers::SelfReview);
        let e: ReviewEnd = serde_json::from_value(serde_json::json!({"type": "afterOccurrences", "count": 4})).unwrap();
        assert_eq!(e, ReviewEnd::AfterOccurrences { count: 4 });
        assert!(serde_json::from_value::<Reviewers>(serde_json::json!({"type": "everyone"})).is_err());
    }
}
