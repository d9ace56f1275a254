//! Activity reported by registered systems: the bounds of an event, its time window, and the rule
//! that ties an event to the activation it happened under (see docs/designs/activity.md).

use serde::{Deserialize, Serialize};

use crate::assignment::{Assignment, AssignmentKind};
use crate::error::{DomainError, ErrorKind};
use crate::ids::{ActivityEventId, AssignmentId, PrincipalId, RoleId};
use crate::scope::ScopePath;
use crate::time::{DAY_MS, MINUTE_MS, Timestamp};

/// Most events in one report.
pub const MAX_EVENTS_PER_REPORT: usize = 100;
/// Largest `detail`, serialized as JSON, in bytes.
pub const MAX_DETAIL_BYTES: usize = 4096;
/// Longest `system`, in characters.
pub const MAX_SYSTEM_CHARS: usize = 128;
/// Longest `action` or `target`, in characters.
pub const MAX_TEXT_CHARS: usize = 256;
/// How far in the future an event may be (clock skew between the system and pim).
pub const MAX_FUTURE_MS: i64 = 5 * MINUTE_MS;
/// How far back an event may be reported.
pub const MAX_BACKDATE_MS: i64 = 30 * DAY_MS;

/// What became of what the principal did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ActivityOutcome {
    /// It was done.
    #[default]
    Success,
    /// It was tried and failed.
    Failure,
    /// The system refused it.
    Denied,
}

impl ActivityOutcome {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityOutcome::Success => "success",
            ActivityOutcome::Failure => "failure",
            ActivityOutcome::Denied => "denied",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ActivityOutcome> {
        match s {
            "success" => Some(ActivityOutcome::Success),
            "failure" => Some(ActivityOutcome::Failure),
            "denied" => Some(ActivityOutcome::Denied),
            _ => None,
        }
    }
}

/// How an event was tied to its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ActivityMatch {
    /// By the activation id the system sent (from a token or an SSH certificate).
    Explicit,
    /// By pim: the assignment in effect for the principal at the event's time.
    Inferred,
    /// No assignment was in effect: use outside any activation.
    Unmatched,
}

impl ActivityMatch {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityMatch::Explicit => "explicit",
            ActivityMatch::Inferred => "inferred",
            ActivityMatch::Unmatched => "unmatched",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ActivityMatch> {
        match s {
            "explicit" => Some(ActivityMatch::Explicit),
            "inferred" => Some(ActivityMatch::Inferred),
            "unmatched" => Some(ActivityMatch::Unmatched),
            _ => None,
        }
    }
}

/// Who wrote an event: a registered system through the API, or one of pim's connectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ActivitySource {
    /// Reported through `POST /api/v1/activity`: real use, evidence for reviews.
    Reported,
    /// A connector's grant or revoke: pim's own action, not use.
    Connector,
}

impl ActivitySource {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivitySource::Reported => "reported",
            ActivitySource::Connector => "connector",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ActivitySource> {
        match s {
            "reported" => Some(ActivitySource::Reported),
            "connector" => Some(ActivitySource::Connector),
            _ => None,
        }
    }
}

/// A stored activity event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActivityEvent {
    /// Its id.
    pub id: ActivityEventId,
    /// When it happened (as the system said).
    pub at: Timestamp,
    /// Who did it.
    pub principal_id: PrincipalId,
    /// The assignment (activation) it happened under; absent when unmatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<AssignmentId>,
    /// That assignment's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// That assignment's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// The system it happened in.
    pub system: String,
    /// What was done.
    pub action: String,
    /// On what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What became of it.
    pub outcome: ActivityOutcome,
    /// Free detail from the system.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// How it was tied to its assignment.
    #[serde(rename = "match")]
    pub match_kind: ActivityMatch,
    /// Reported by a system, or a connector's own action.
    pub source: ActivitySource,
    /// The principal whose token reported it (absent for a connector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<PrincipalId>,
    /// When pim recorded it.
    pub recorded_at: Timestamp,
}

/// One event as a system reports it (`POST /api/v1/activity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportedActivity {
    /// Who did it: a principal id or name.
    pub principal: String,
    /// When (at most 5 minutes ahead of pim's clock, at most 30 days back).
    pub at: Timestamp,
    /// The system it happened in [default: the caller's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// What was done (1-256 characters), e.g. `sql.select`, `ssh.login`, `kubectl.delete`.
    pub action: String,
    /// On what (1-256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What became of it [default: `success`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ActivityOutcome>,
    /// Free JSON detail, at most 4 KiB serialized.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// The activation (assignment) it happened under, as pim's access tokens carry it
    /// (`grants[].assignmentId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_id: Option<AssignmentId>,
    /// The key id of the SSH certificate used (`pim user=NAME activation=ID`), as sshd logs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_id: Option<String>,
    /// Without an activation id: match only an assignment of this role (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Without an activation id: match only an assignment whose scope contains this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
}

/// Checks the size of a report: 1 to [`MAX_EVENTS_PER_REPORT`] events.
pub fn check_count(n: usize) -> Result<(), DomainError> {
    if n == 0 {
        return Err(DomainError::invalid("a report needs at least one event"));
    }
    if n > MAX_EVENTS_PER_REPORT {
        return Err(DomainError::new(
            ErrorKind::ActivityTooLarge,
            format!("a report has at most {MAX_EVENTS_PER_REPORT} events, not {n}"),
        ));
    }
    Ok(())
}

/// Checks an event's time against `now`: at most [`MAX_FUTURE_MS`] ahead, at most
/// [`MAX_BACKDATE_MS`] back.
pub fn check_time(at: Timestamp, now: Timestamp) -> Result<(), DomainError> {
    if at.0 > now.0.saturating_add(MAX_FUTURE_MS) {
        return Err(DomainError::new(
            ErrorKind::ActivityTimeOutOfRange,
            format!("the event's time {at} is in the future (more than 5 minutes after {now})"),
        ));
    }
    if at.0 < now.0.saturating_sub(MAX_BACKDATE_MS) {
        return Err(DomainError::new(
            ErrorKind::ActivityTimeOutOfRange,
            format!("the event's time {at} is more than 30 days before {now}"),
        ));
    }
    Ok(())
}

/// Checks a short text field (`system`, `action`, `target`): 1 to `max` printable characters,
/// trimmed.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(DomainError::invalid(format!("{field} must be 1-{max} printable characters")));
    }
    Ok(v.to_owned())
}

/// Checks the size of `detail`: at most [`MAX_DETAIL_BYTES`] as JSON.
pub fn check_detail(detail: &serde_json::Value) -> Result<(), DomainError> {
    let len = serde_json::to_string(detail).map_or(usize::MAX, |s| s.len());
    if len > MAX_DETAIL_BYTES {
        return Err(DomainError::new(
            ErrorKind::ActivityTooLarge,
            format!("detail is {len} bytes as JSON; at most {MAX_DETAIL_BYTES} are kept"),
        ));
    }
    Ok(())
}

/// The activation id in an SSH certificate's key id (`pim user=NAME activation=ID`).
pub fn activation_in_key_id(key_id: &str) -> Option<AssignmentId> {
    key_id.split_whitespace().find_map(|w| w.strip_prefix("activation=")).and_then(|id| id.parse().ok())
}

/// The activation an event names: its `activationId`, or the one in its `sshKeyId` (they must agree
/// when both are given).
pub fn named_activation(e: &ReportedActivity) -> Result<Option<AssignmentId>, DomainError> {
    let from_key = match &e.ssh_key_id {
        Some(k) => Some(activation_in_key_id(k).ok_or_else(|| {
            DomainError::invalid("sshKeyId must be a pim certificate's key id (pim user=NAME activation=ID)")
        })?),
        None => None,
    };
    match (e.activation_id, from_key) {
        (Some(a), Some(b)) if a != b => Err(DomainError::new(
            ErrorKind::ActivityAssignmentMismatch,
            format!("activationId {a} and the activation {b} in sshKeyId differ"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Checks that `a`, named by a system as the activation of `principal`'s event, can be: an active
/// assignment held by that principal, or by a group it is a member of (`member_of_holder`), as a
/// token's grant through a group names the group's assignment.
pub fn check_explicit(a: &Assignment, principal: PrincipalId, member_of_holder: bool) -> Result<(), DomainError> {
    if !(a.principal_id == principal || member_of_holder) || a.kind != AssignmentKind::Active {
        return Err(DomainError::new(
            ErrorKind::ActivityAssignmentMismatch,
            format!("assignment {} is not an active assignment of principal {principal}", a.id),
        ));
    }
    Ok(())
}

/// The assignment an event of `principal` at `at` happened under, of `candidates` (the principal's
/// own assignments): active and in effect at `at`, of `role` and containing `scope` when given.
/// Activations win over standing assignments, then the deepest scope, then the latest start, then
/// the highest id. `None`: the event is unmatched.
pub fn infer<'a>(
    candidates: &'a [Assignment],
    principal: PrincipalId,
    at: Timestamp,
    role: Option<RoleId>,
    scope: Option<&ScopePath>,
) -> Option<&'a Assignment> {
    candidates
        .iter()
        .filter(|a| a.principal_id == principal && a.kind == AssignmentKind::Active && a.in_effect(at))
        .filter(|a| role.is_none_or(|r| a.role_id == r))
        .filter(|a| scope.is_none_or(|s| a.scope.contains(s)))
        .max_by_key(|a| (a.is_activation(), a.scope.depth(), a.window.start, a.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RequestId;
    use crate::principal::PrincipalKind;
    use crate::time::{HOUR_MS, Window};

    fn assignment(p: PrincipalId, role: RoleId, scope: &str, start: i64, end: i64, activation: bool) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            principal_id: p,
            principal_kind: PrincipalKind::User,
            role_id: role,
            scope: ScopePath::parse(scope).expect("scope"),
            kind: AssignmentKind::Active,
            window: Window { start: Timestamp(start), end: Some(Timestamp(end)) },
            activated_from: activation.then(AssignmentId::new),
            created_by_request: RequestId::new(),
            created_at: Timestamp(start),
            ended_early_at: None,
        }
    }

    #[test]
    fn inference_prefers_activations_then_depth_and_respects_hints() {
        let p = PrincipalId::new();
        let (r1, r2) = (RoleId::new(), RoleId::new());
        let standing = assignment(p, r1, "/a/b/c", 0, 10 * HOUR_MS, false);
        let broad = assignment(p, r1, "/a", HOUR_MS, 3 * HOUR_MS, true);
        let deep = assignment(p, r2, "/a/b", HOUR_MS, 2 * HOUR_MS, true);
        let all = vec![standing.clone(), broad.clone(), deep.clone()];
        let at = Timestamp(HOUR_MS + 1);
        assert_eq!(infer(&all, p, at, None, None).map(|a| a.id), Some(deep.id), "an activation, the deepest");
        assert_eq!(infer(&all, p, at, Some(r1), None).map(|a| a.id), Some(broad.id), "the role named");
        let other = ScopePath::parse("/x").expect("scope");
        assert_eq!(infer(&all, p, at, None, Some(&other)), None, "no assignment contains /x");
        let at_end = Timestamp(2 * HOUR_MS);
        assert_eq!(infer(&all, p, at_end, Some(r2), None), None, "the end is not in effect");
        let late = Timestamp(5 * HOUR_MS);
        assert_eq!(infer(&all, p, late, None, None).map(|a| a.id), Some(standing.id), "only the standing one");
        assert_eq!(infer(&all, PrincipalId::new(), at, None, None), None, "another principal's");
        assert_eq!(infer(&all, p, Timestamp(11 * HOUR_MS), None, None), None, "unmatched");
    }

    #[test]
    fn bounds_refuse_with_their_codes() {
        let now = Timestamp(100 * DAY_MS);
        assert_eq!(check_count(0).unwrap_err().kind, ErrorKind::InvalidInput);
        assert!(check_count(MAX_EVENTS_PER_REPORT).is_ok());
        assert_eq!(check_count(MAX_EVENTS_PER_REPORT + 1).unwrap_err().kind, ErrorKind::ActivityTooLarge);
        assert!(check_time(now.plus_millis(MAX_FUTURE_MS), now).is_ok());
        assert_eq!(
            check_time(now.plus_millis(MAX_FUTURE_MS + 1), now).unwrap_err().kind,
            ErrorKind::ActivityTimeOutOfRange
        );
        assert!(check_time(now.plus_millis(-MAX_BACKDATE_MS), now).is_ok());
        assert_eq!(
            check_time(now.plus_millis(-MAX_BACKDATE_MS - 1), now).unwrap_err().kind,
            ErrorKind::ActivityTimeOutOfRange
        );
        let big = serde_json::json!({ "x": "y".repeat(MAX_DETAIL_BYTES) });
        assert_eq!(check_detail(&big).unwrap_err().kind, ErrorKind::ActivityTooLarge);
        assert!(check_detail(&serde_json::json!({ "rows": 3 })).is_ok());
        assert_eq!(check_text("action", " ", 10).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(check_text("action", "a\nb", 10).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(check_text("action", &"a".repeat(11), 10).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(check_text("action", " select ", 10).expect("ok"), "select");
    }

    #[test]
    fn explicit_ids_must_be_the_principals_active_assignment() {
        let p = PrincipalId::new();
        let mut a = assignment(p, RoleId::new(), "/a", 0, HOUR_MS, true);
        assert!(check_explicit(&a, p, false).is_ok());
        let other = PrincipalId::new();
        assert_eq!(check_explicit(&a, other, false).unwrap_err().kind, ErrorKind::ActivityAssignmentMismatch);
        assert!(check_explicit(&a, other, true).is_ok(), "a member of the holding group");
        a.kind = AssignmentKind::Eligible;
        assert_eq!(check_explicit(&a, p, false).unwrap_err().kind, ErrorKind::ActivityAssignmentMismatch);
    }

    #[test]
    fn ssh_key_ids_carry_the_activation() {
        let id = AssignmentId::new();
        assert_eq!(activation_in_key_id(&format!("pim user=ann activation={id}")), Some(id));
        assert_eq!(activation_in_key_id("pim user=ann"), None);
        assert_eq!(activation_in_key_id("activation=nope"), None);
        let e = |a, k: Option<String>| ReportedActivity {
            principal: "ann".into(),
            at: Timestamp(0),
            system: None,
            action: "ssh.login".into(),
            target: None,
            outcome: None,
            detail: serde_json::Value::Null,
            activation_id: a,
            ssh_key_id: k,
            role: None,
            scope: None,
        };
        assert_eq!(named_activation(&e(None, Some(format!("pim user=ann activation={id}")))).expect("ok"), Some(id));
        assert_eq!(named_activation(&e(Some(id), None)).expect("ok"), Some(id));
        let other = AssignmentId::new();
        let both = e(Some(other), Some(format!("pim user=ann activation={id}")));
        assert_eq!(named_activation(&both).unwrap_err().kind, ErrorKind::ActivityAssignmentMismatch);
        assert_eq!(named_activation(&e(None, Some("nope".into()))).unwrap_err().kind, ErrorKind::InvalidInput);
    }
}
