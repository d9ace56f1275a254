//! Access reviews (SPEC section 9), the pure part: what a review definition says, when each of its
//! instances runs (one time or recurring, with its end), the midpoint reminder, the recommendation
//! for an item, and what happens to an item at the end of an instance.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::approval::Verdict;
use crate::assignment::AssignmentKind;
use crate::error::{DomainError, ErrorKind};
use crate::ids::{PrincipalId, RoleId};
use crate::message::count;
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
        // Named here too: the OpenAPI derive reads field renames but not `rename_all_fields`.
        #[serde(rename = "roleIds")]
        role_ids: Vec<RoleId>,
        /// Where.
        scope: ScopePath,
    },
    /// The membership of a group (static members and `Member` assignments at its scope).
    GroupMembership {
        /// The group.
        #[serde(rename = "groupId")]
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
#[serde(from = "wire::Reviewers")]
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

/// What the enums tagged by `type` read from JSON. serde does not refuse unknown fields beside the
/// tag of a unit variant (`{"type":"never","count":3}`; serde issues 2123 and 2294), so these
/// mirrors make each unit variant an empty struct, which does refuse them.
mod wire {
    use serde::Deserialize;

    use crate::settings::ApproverRef;
    use crate::time::Timestamp;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
    pub(super) enum Reviewers {
        SelfReview {},
        Managers { fallback: Vec<ApproverRef> },
        Selected { reviewers: Vec<ApproverRef> },
    }

    impl From<Reviewers> for super::Reviewers {
        fn from(r: Reviewers) -> Self {
            match r {
                Reviewers::SelfReview {} => super::Reviewers::SelfReview,
                Reviewers::Managers { fallback } => super::Reviewers::Managers { fallback },
                Reviewers::Selected { reviewers } => super::Reviewers::Selected { reviewers },
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type", deny_unknown_fields)]
    pub(super) enum ReviewEnd {
        Never {},
        OnDate { at: Timestamp },
        AfterOccurrences { count: u32 },
    }

    impl From<ReviewEnd> for super::ReviewEnd {
        fn from(e: ReviewEnd) -> Self {
            match e {
                ReviewEnd::Never {} => super::ReviewEnd::Never,
                ReviewEnd::OnDate { at } => super::ReviewEnd::OnDate { at },
                ReviewEnd::AfterOccurrences { count } => super::ReviewEnd::AfterOccurrences { count },
            }
        }
    }
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
#[serde(from = "wire::ReviewEnd")]
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
    /// How long each instance lasts, in days (1 to 180, and no longer than the recurrence's period).
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
    /// The definition's name (filled in when read, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_name: Option<String>,
    /// How its items stand (filled in when read, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<ItemCounts>,
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
    /// The latest use of this access a system reported (activity matched to the principal's
    /// assignments of the role at or below the scope) before the instance started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use: Option<Timestamp>,
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
    /// What applying a removal did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<ItemApplied>,
    /// The principal's name (filled in when read, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    /// The role's name (filled in when read, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

/// What carrying out an item's removal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ApplyStatus {
    /// The access was removed (through an `adminRemove` request, or the static membership ended).
    Removed,
    /// The access had already ended: nothing to remove.
    AlreadyEnded,
    /// A rule refused the removal (e.g. the last permanent Global Administrator); the access stays.
    Refused,
}

impl ApplyStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyStatus::Removed => "removed",
            ApplyStatus::AlreadyEnded => "alreadyEnded",
            ApplyStatus::Refused => "refused",
        }
    }
}

/// The record of an item's removal being carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ItemApplied {
    /// What happened.
    pub status: ApplyStatus,
    /// Why, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// How the items of an instance stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ItemCounts {
    /// Items in the instance.
    pub total: u32,
    /// Approved by a reviewer.
    pub approved: u32,
    /// Denied by a reviewer.
    pub denied: u32,
    /// Not reviewed (yet).
    pub not_reviewed: u32,
    /// Whose outcome is removal (once completed).
    pub to_remove: u32,
    /// Removed when applied.
    pub removed: u32,
}

impl ItemCounts {
    /// Counts `items`.
    pub fn of(items: &[ReviewItem]) -> ItemCounts {
        let mut c = ItemCounts::default();
        for i in items {
            c.total += 1;
            match i.decision.as_ref().map(|d| d.verdict) {
                Some(Verdict::Approve) => c.approved += 1,
                Some(Verdict::Deny) => c.denied += 1,
                None => c.not_reviewed += 1,
            }
            if i.outcome == Some(ItemOutcome::Remove) {
                c.to_remove += 1;
            }
            if i.applied.as_ref().is_some_and(|a| a.status == ApplyStatus::Removed) {
                c.removed += 1;
            }
        }
        c
    }

    /// How the removals went, as a clause: "1 of 2 items to remove was removed".
    pub fn removals(&self) -> String {
        let verb = if self.removed == 1 { "was" } else { "were" };
        format!("{} of {} to remove {verb} removed", self.removed, count(self.to_remove, "item", "items"))
    }
}

/// What decides who reviews an item: its principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reviewee {
    /// The principal whose access is reviewed.
    pub id: PrincipalId,
    /// User, group or service principal.
    pub kind: crate::principal::PrincipalKind,
    /// Its manager, when it has an enabled one.
    pub manager: Option<PrincipalId>,
}

/// Who reviews the access of `who`: the user themselves (self-review; for a group or a service
/// principal, which cannot review, the review's owner), their manager (or the fallback reviewers
/// when they have none), or the selected reviewers.
pub fn item_reviewers(reviewers: &Reviewers, who: &Reviewee, owner: PrincipalId) -> Vec<ApproverRef> {
    use crate::principal::PrincipalKind;
    let user = |id| ApproverRef { kind: PrincipalKind::User, id };
    match reviewers {
        Reviewers::SelfReview if who.kind == PrincipalKind::User => vec![user(who.id)],
        Reviewers::SelfReview => vec![user(owner)],
        Reviewers::Managers { fallback } => match who.manager {
            Some(m) => vec![user(m)],
            None => fallback.clone(),
        },
        Reviewers::Selected { reviewers } => reviewers.clone(),
    }
}

/// Whether `actor` (a member of `actor_groups` now) may decide `item`: it must be among the item's
/// reviewers (directly or through a group), and nobody reviews their own access (nor that of a
/// group they are in) unless the review is a self-review.
pub fn may_review(
    item: &ReviewItem,
    self_review: bool,
    actor: PrincipalId,
    actor_groups: &[PrincipalId],
) -> Result<(), DomainError> {
    let listed = item
        .reviewers
        .iter()
        .any(|r| r.id == actor || (r.kind == crate::principal::PrincipalKind::Group && actor_groups.contains(&r.id)));
    if !listed {
        return Err(DomainError::new(ErrorKind::NotReviewer, format!("you are not a reviewer of item {}", item.id)));
    }
    let own = item.principal_id == actor || actor_groups.contains(&item.principal_id);
    if own && !self_review {
        return Err(DomainError::new(
            ErrorKind::NotReviewer,
            format!("item {} is your own access, and this review is not a self-review", item.id),
        ));
    }
    Ok(())
}

/// A reviewer's reason: checked like a justification, and required when the review says so.
pub fn review_reason(reason: Option<&str>, required: bool) -> Result<Option<String>, DomainError> {
    let reason = crate::request::normalize_justification(reason)
        .map_err(|e| DomainError::new(e.kind, e.message.replace("justification", "reason")))?;
    if required && reason.is_none() {
        return Err(DomainError::new(ErrorKind::ReasonRequired, "this review requires a reason with each decision"));
    }
    Ok(reason)
}

/// Whether an item's principal used its access recently enough.
pub fn recommend(last_activity: Option<Timestamp>, now: Timestamp) -> Verdict {
    let limit = i64::from(RECOMMEND_DENY_AFTER_DAYS) * DAY_MS;
    match last_activity {
        Some(t) if now.0 - t.0 < limit => Verdict::Approve,
        _ => Verdict::Deny,
    }
}

/// What pim knows of the real use of an item's access (reported activity, connectors excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UseEvidence {
    /// The latest reported use of this access.
    pub last_use: Option<Timestamp>,
    /// Whether some system reported use of the item's role (by anyone) in the last
    /// [`RECOMMEND_DENY_AFTER_DAYS`] days: then no use at all is evidence of none.
    pub role_monitored: bool,
}

/// The recommendation with real use as evidence (docs/REVIEWS.md): with reported use, approve when
/// it is recent; without, deny when the role is monitored (activated but never used); otherwise
/// fall back to [`recommend`] on the last activation or sign-in.
pub fn recommend_with_use(last_activity: Option<Timestamp>, evidence: UseEvidence, now: Timestamp) -> Verdict {
    match evidence.last_use {
        Some(_) => recommend(evidence.last_use, now),
        None if evidence.role_monitored => Verdict::Deny,
        None => recommend(last_activity, now),
    }
}

/// Why pim recommends what it does for `item`, in a few words (as of `now`, near the snapshot).
pub fn recommendation_reason(item: &ReviewItem, now: Timestamp) -> String {
    let days = RECOMMEND_DENY_AFTER_DAYS;
    let recent = |t: Option<Timestamp>| t.is_some_and(|t| now.0 - t.0 < i64::from(days) * DAY_MS);
    match (item.recommendation, item.last_use) {
        (Verdict::Approve, Some(_)) => format!("used within the last {days} days (reported activity)"),
        (Verdict::Approve, None) => format!("activated or signed in within the last {days} days"),
        (Verdict::Deny, Some(_)) => format!("not used for {days} days (reported activity)"),
        (Verdict::Deny, None) if recent(item.last_activity) => {
            "activated but never used: systems report use of this role, none of this access".to_owned()
        }
        (Verdict::Deny, None) => format!("no activation or sign-in for {days} days"),
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

/// Longest description of a review, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Longest inactivity filter, in days (ten years).
pub const MAX_INACTIVE_DAYS: u32 = 3650;

/// Checks a review's description and inactivity filter.
pub fn validate_extras(description: Option<&str>, inactive_days: Option<u32>) -> Result<(), DomainError> {
    if let Some(d) = description
        && (d.len() > MAX_DESCRIPTION_LEN || d.chars().any(|c| c.is_control() && c != '\n' && c != '\t'))
    {
        return Err(bad(format!("description must be at most {MAX_DESCRIPTION_LEN} bytes without control characters")));
    }
    if let Some(n) = inactive_days
        && !(1..=MAX_INACTIVE_DAYS).contains(&n)
    {
        return Err(bad(format!("inactiveDays must be between 1 and {MAX_INACTIVE_DAYS}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn removals_agree_with_their_counts() {
        let c = |removed, to_remove| ItemCounts { removed, to_remove, ..ItemCounts::default() };
        assert_eq!(c(1, 1).removals(), "1 of 1 item to remove was removed");
        assert_eq!(c(0, 1).removals(), "0 of 1 item to remove were removed");
        assert_eq!(c(2, 3).removals(), "2 of 3 items to remove were removed");
    }

    use super::*;
    use crate::principal::PrincipalKind;

    fn item(principal: PrincipalId, reviewers: Vec<ApproverRef>) -> ReviewItem {
        ReviewItem {
            id: crate::ids::ReviewItemId::new(),
            instance_id: crate::ids::ReviewInstanceId::new(),
            assignment_id: None,
            principal_id: principal,
            role_id: crate::role::READER,
            scope: ScopePath::root(),
            kind: AssignmentKind::Eligible,
            last_activity: None,
            last_use: None,
            recommendation: Verdict::Deny,
            reviewers,
            decision: None,
            outcome: None,
            applied_request_id: None,
            applied: None,
            principal_name: None,
            role_name: None,
        }
    }

    #[test]
    fn reviewers_of_an_item() {
        let (alice, boss, owner, team) =
            (PrincipalId::new(), PrincipalId::new(), PrincipalId::new(), PrincipalId::new());
        let user = |id| ApproverRef { kind: PrincipalKind::User, id };
        let group = ApproverRef { kind: PrincipalKind::Group, id: team };
        let managed = Reviewee { id: alice, kind: PrincipalKind::User, manager: Some(boss) };
        let unmanaged = Reviewee { manager: None, ..managed };
        let a_group = Reviewee { id: team, kind: PrincipalKind::Group, manager: None };
        assert_eq!(item_reviewers(&Reviewers::SelfReview, &managed, owner), vec![user(alice)]);
        assert_eq!(
            item_reviewers(&Reviewers::SelfReview, &a_group, owner),
            vec![user(owner)],
            "groups go to the owner"
        );
        let managers = Reviewers::Managers { fallback: vec![group.clone()] };
        assert_eq!(item_reviewers(&managers, &managed, owner), vec![user(boss)]);
        assert_eq!(item_reviewers(&managers, &unmanaged, owner), vec![group.clone()], "no manager: the fallback");
        let selected = Reviewers::Selected { reviewers: vec![user(owner), group.clone()] };
        assert_eq!(item_reviewers(&selected, &managed, owner), vec![user(owner), group]);
    }

    #[test]
    fn who_may_review() {
        let (alice, bob, team) = (PrincipalId::new(), PrincipalId::new(), PrincipalId::new());
        let group = ApproverRef { kind: PrincipalKind::Group, id: team };
        let i = item(alice, vec![group.clone()]);
        assert!(may_review(&i, false, bob, &[team]).is_ok(), "through a group");
        assert_eq!(may_review(&i, false, bob, &[]).unwrap_err().kind, ErrorKind::NotReviewer);
        assert_eq!(may_review(&i, false, alice, &[team]).unwrap_err().kind, ErrorKind::NotReviewer, "not their own");
        assert!(may_review(&i, true, alice, &[team]).is_ok(), "self-review");
        let of_group = item(team, vec![ApproverRef { kind: PrincipalKind::User, id: bob }]);
        assert!(may_review(&of_group, false, bob, &[team]).is_err(), "not the access of a group they are in");
        assert!(may_review(&of_group, false, bob, &[]).is_ok());
    }

    #[test]
    fn reasons_and_counts() {
        assert_eq!(review_reason(Some("  "), true).unwrap_err().kind, ErrorKind::ReasonRequired);
        assert_eq!(review_reason(None, false).unwrap(), None);
        assert_eq!(review_reason(Some(" still needed "), true).unwrap().as_deref(), Some("still needed"));
        assert!(review_reason(Some("a\u{7}b"), false).unwrap_err().message.contains("reason"));
        let who = PrincipalId::new();
        let decided = |v| ItemDecision { verdict: v, reason: None, by: who, at: Timestamp(0) };
        let mut items = vec![item(who, vec![]), item(who, vec![]), item(who, vec![])];
        items[0].decision = Some(decided(Verdict::Approve));
        items[1].decision = Some(decided(Verdict::Deny));
        items[1].outcome = Some(ItemOutcome::Remove);
        items[1].applied = Some(ItemApplied { status: ApplyStatus::Removed, message: None, at: Timestamp(1) });
        items[2].outcome = Some(ItemOutcome::Remove);
        items[2].applied = Some(ItemApplied { status: ApplyStatus::Refused, message: None, at: Timestamp(1) });
        let c = ItemCounts::of(&items);
        assert_eq!((c.total, c.approved, c.denied, c.not_reviewed, c.to_remove, c.removed), (3, 1, 1, 1, 2, 1));
        assert!(validate_extras(Some("why"), Some(30)).is_ok());
        assert!(validate_extras(None, Some(0)).unwrap_err().message.contains("inactiveDays"));
        assert!(validate_extras(Some("a\u{0}"), None).is_err());
    }

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
        // Real use decides when there is any; an activation without use does not keep access.
        let recent = Some(now.plus_millis(-DAY_MS));
        let old = Some(now.plus_millis(-40 * DAY_MS));
        let used = |t, monitored| UseEvidence { last_use: t, role_monitored: monitored };
        assert_eq!(recommend_with_use(recent, used(None, true), now), Verdict::Deny, "activated, never used");
        assert_eq!(recommend_with_use(recent, used(None, false), now), Verdict::Approve, "nobody reports");
        assert_eq!(recommend_with_use(None, used(recent, true), now), Verdict::Approve, "used recently");
        assert_eq!(recommend_with_use(recent, used(old, true), now), Verdict::Deny, "used long ago");
        assert_eq!(recommend_with_use(old, used(None, false), now), Verdict::Deny, "the old rule");
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
        // Unknown fields beside a unit variant's tag are refused too.
        let e = serde_json::from_value::<ReviewEnd>(serde_json::json!({"type": "never", "count": 3})).unwrap_err();
        assert!(e.to_string().contains("count"), "{e}");
        let r = serde_json::json!({"type": "selfReview", "reviewers": []});
        assert!(serde_json::from_value::<Reviewers>(r).unwrap_err().to_string().contains("reviewers"));
        assert_eq!(serde_json::to_value(ReviewEnd::Never).unwrap(), serde_json::json!({"type": "never"}));
        let back: ReviewEnd = serde_json::from_value(serde_json::json!({"type": "never"})).unwrap();
        assert_eq!(back, ReviewEnd::Never);
    }
}
