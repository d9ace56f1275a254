//! Requests: the nine actions, their statuses and the state machine between them.

use serde::{Deserialize, Serialize};

use crate::assignment::AssignmentKind;
use crate::error::{DomainError, ErrorKind};
use crate::ids::{AssignmentId, PrincipalId, RequestId, RoleId};
use crate::scope::ScopePath;
use crate::time::{Timestamp, Window};

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum RequestAction {
    /// An administrator assigns a role.
    AdminAssign,
    /// An administrator changes an assignment's window.
    AdminUpdate,
    /// An administrator removes an assignment (or revokes an activation).
    AdminRemove,
    /// An administrator extends an assignment that is still in effect.
    AdminExtend,
    /// An administrator renews an assignment that has expired.
    AdminRenew,
    /// A user activates a role they are eligible for.
    SelfActivate,
    /// A user ends their own activation early.
    SelfDeactivate,
    /// A user asks to extend an assignment that ends soon.
    SelfExtend,
    /// A user asks to renew an assignment that expired recently.
    SelfRenew,
}

impl RequestAction {
    /// Every action.
    pub const ALL: [RequestAction; 9] = [
        RequestAction::AdminAssign,
        RequestAction::AdminUpdate,
        RequestAction::AdminRemove,
        RequestAction::AdminExtend,
        RequestAction::AdminRenew,
        RequestAction::SelfActivate,
        RequestAction::SelfDeactivate,
        RequestAction::SelfExtend,
        RequestAction::SelfRenew,
    ];
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestAction::AdminAssign => "adminAssign",
            RequestAction::AdminUpdate => "adminUpdate",
            RequestAction::AdminRemove => "adminRemove",
            RequestAction::AdminExtend => "adminExtend",
            RequestAction::AdminRenew => "adminRenew",
            RequestAction::SelfActivate => "selfActivate",
            RequestAction::SelfDeactivate => "selfDeactivate",
            RequestAction::SelfExtend => "selfExtend",
            RequestAction::SelfRenew => "selfRenew",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<RequestAction> {
        RequestAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
    /// Whether an administrator makes it on someone's behalf.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            RequestAction::AdminAssign
                | RequestAction::AdminUpdate
                | RequestAction::AdminRemove
                | RequestAction::AdminExtend
                | RequestAction::AdminRenew
        )
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestStatus {
    /// Waiting for an approver.
    PendingApproval,
    /// Accepted; takes effect at a later start.
    Granted,
    /// In effect (or carried out, for removals).
    Provisioned,
    /// An approver said no.
    Denied,
    /// The requester withdrew it.
    Canceled,
    /// Ended by an administrator or by the removal of what it relied on.
    Revoked,
    /// No approver answered in time.
    TimedOut,
    /// Could not be carried out.
    Failed,
}

impl RequestStatus {
    /// Every status.
    pub const ALL: [RequestStatus; 8] = [
        RequestStatus::PendingApproval,
        RequestStatus::Granted,
        RequestStatus::Provisioned,
        RequestStatus::Denied,
        RequestStatus::Canceled,
        RequestStatus::Revoked,
        RequestStatus::TimedOut,
        RequestStatus::Failed,
    ];
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::PendingApproval => "PendingApproval",
            RequestStatus::Granted => "Granted",
            RequestStatus::Provisioned => "Provisioned",
            RequestStatus::Denied => "Denied",
            RequestStatus::Canceled => "Canceled",
            RequestStatus::Revoked => "Revoked",
            RequestStatus::TimedOut => "TimedOut",
            RequestStatus::Failed => "Failed",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
    /// Whether no further transition is possible.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RequestStatus::Denied
                | RequestStatus::Canceled
                | RequestStatus::Revoked
                | RequestStatus::TimedOut
                | RequestStatus::Failed
        )
    }
    /// Whether the state machine allows moving from `self` to `to`.
    pub fn can_become(self, to: RequestStatus) -> bool {
        use RequestStatus::*;
        matches!(
            (self, to),
            (PendingApproval, Granted | Provisioned | Denied | Canceled | TimedOut | Failed)
                | (Granted, Provisioned | Canceled | Revoked)
                | (Provisioned, Revoked)
        )
    }
    /// Moves to `to`, or says why not.
    pub fn transition(self, to: RequestStatus) -> Result<RequestStatus, DomainError> {
        if self.can_become(to) {
            Ok(to)
        } else if self == RequestStatus::PendingApproval || to == RequestStatus::Canceled {
            Err(DomainError::new(
                ErrorKind::RequestNotPending,
                format!("the request is {} and cannot become {}", self.as_str(), to.as_str()),
            ))
        } else {
            Err(DomainError::new(
                ErrorKind::RequestNotPending,
                format!("a {} request cannot become {}", self.as_str(), to.as_str()),
            ))
        }
    }
}

/// An external ticket reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ticket {
    /// The ticketing system, e.g. `jira`.
    pub system: String,
    /// The ticket number, e.g. `OPS-123`.
    pub number: String,
}

/// Longest justification accepted.
pub const MAX_JUSTIFICATION_LEN: usize = 2000;
/// Longest ticket field accepted.
pub const MAX_TICKET_FIELD_LEN: usize = 100;

impl Ticket {
    /// Checks both fields are present and bounded.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (name, v) in [("system", &self.system), ("number", &self.number)] {
            if v.trim().is_empty() || v.len() > MAX_TICKET_FIELD_LEN || v.chars().any(char::is_control) {
                return Err(DomainError::new(
                    ErrorKind::InvalidInput,
                    format!("ticket {name} must be 1-{MAX_TICKET_FIELD_LEN} printable characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks a justification's length and characters; an absent or blank one is `None`.
pub fn normalize_justification(j: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(j) = j.map(str::trim).filter(|j| !j.is_empty()) else { return Ok(None) };
    if j.len() > MAX_JUSTIFICATION_LEN {
        return Err(DomainError::invalid(format!("justification must be at most {MAX_JUSTIFICATION_LEN} bytes")));
    }
    if j.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid("justification must not contain control characters"));
    }
    Ok(Some(j.to_owned()))
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The request's id.
    pub id: RequestId,
    /// What it asks for.
    pub action: RequestAction,
    /// Where it stands.
    pub status: RequestStatus,
    /// Whose assignment it concerns.
    pub principal_id: PrincipalId,
    /// Which role.
    pub role_id: RoleId,
    /// At which scope.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// The window asked for (for removals and deactivations, the end is the moment of the request).
    pub window: Window,
    /// Who made it.
    pub requested_by: PrincipalId,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Ticket reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// The assignment it created or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_assignment: Option<AssignmentId>,
    /// For activations, the eligible assignment used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility: Option<AssignmentId>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// Why it ended as it did (denial reason, failure message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// For activations, the length asked for in minutes (an approved activation runs this long
    /// from its approval or its later requested start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u32>,
    /// A break-glass activation: approval skipped, approvers told, reviewed after the fact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
    /// The approval it waits for or went through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::Approval>,
    /// The requester's name, given to approvers (who may not read the directory); not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        for a in RequestAction::ALL {
            assert_eq!(RequestAction::parse(a.as_str()), Some(a));
        }
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestAction::parse("selfDestruct"), None);
    }

    #[test]
    fn pending_requests_can_be_decided_once() {
        use RequestStatus::*;
        assert_eq!(PendingApproval.transition(Provisioned), Ok(Provisioned));
        assert_eq!(PendingApproval.transition(Canceled), Ok(Canceled));
        assert!(Denied.transition(Provisioned).is_err());
        assert!(Provisioned.transition(Canceled).is_err());
        assert_eq!(Provisioned.transition(Revoked), Ok(Revoked));
        assert_eq!(Granted.transition(Provisioned), Ok(Provisioned));
    }

    #[test]
    fn justification_is_trimmed_and_bounded() {
        assert_eq!(normalize_justification(Some("  why  ")), Ok(Some("why".into())));
        assert_eq!(normalize_justification(Some("   ")), Ok(None));
        assert_eq!(normalize_justification(None), Ok(None));
        assert!(normalize_justification(Some(&"x".repeat(2001))).is_err());
        assert!(normalize_justification(Some("a\u{0}b")).is_err());
        assert!(Ticket { system: "jira".into(), number: "".into() }.validate().is_err());
        assert!(Ticket { system: "jira".into(), number: "OPS-1".into() }.validate().is_ok());
    }

    proptest! {
        #[test]
        fn terminal_statuses_never_move(from in 0usize..8, to in 0usize..8) {
            let (f, t) = (RequestStatus::ALL[from], RequestStatus::ALL[to]);
            if f.is_terminal() {
                prop_assert!(!f.can_become(t));
            }
            prop_assert!(!f.can_become(RequestStatus::PendingApproval));
        }
    }
}

/// What an activation will be, once checked: its window and what it still needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationPlan {
    /// The window the activation will have.
    pub window: Window,
    /// What is still missing before it can go ahead.
    pub needs: Needs,
}

/// Things a request still needs, reported by `validateOnly` and named in refusals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Needs {
    /// MFA must be passed first.
    pub mfa: bool,
    /// A justification must be given.
    pub justification: bool,
    /// A ticket must be given.
    pub ticket: bool,
    /// An approver must approve.
    pub approval: bool,
}

impl Needs {
    /// The refusal for the first unmet need, if any (approval last: it is the only one a request may wait for).
    pub fn first_unmet(&self) -> Option<DomainError> {
        if self.justification {
            return Some(DomainError::new(
                ErrorKind::JustificationRequired,
                "the role's settings require a justification",
            ));
        }
        if self.ticket {
            return Some(DomainError::new(
                ErrorKind::TicketRequired,
                "the role's settings require a ticket (system and number)",
            ));
        }
        if self.mfa {
            return Some(DomainError::new(
                ErrorKind::MfaRequired,
                "the role's settings require MFA: verify a code first (pim mfa verify, or send 'otp' with the request)",
            ));
        }
        None
    }
}

/// Inputs to [`plan_activation`].
#[derive(Clone, Debug)]
pub struct ActivationInput<'a> {
    /// The settings in force for the role at the requested scope.
    pub settings: &'a crate::RoleSettings,
    /// The eligibility's scope.
    pub eligibility_scope: &'a ScopePath,
    /// The eligibility's window.
    pub eligibility_window: Window,
    /// The scope asked for (the eligibility's or one below it).
    pub scope: &'a ScopePath,
    /// When it should start; `None` for now.
    pub start: Option<Timestamp>,
    /// How long, in minutes.
    pub duration_minutes: u32,
    /// Whether a justification was given.
    pub has_justification: bool,
    /// Whether a ticket was given.
    pub has_ticket: bool,
    /// Whether the caller has passed MFA recently enough.
    pub mfa_satisfied: bool,
    /// The current time.
    pub now: Timestamp,
}

/// Applies SPEC section 4's activation rules: duration bounds, future start, scope narrowing,
/// and never past the end of the eligibility.
pub fn plan_activation(i: &ActivationInput<'_>) -> Result<ActivationPlan, DomainError> {
    use crate::settings::MIN_ACTIVATION_MINUTES;
    use crate::time::MINUTE_MS;
    let max = i.settings.activation_max_minutes;
    if i.duration_minutes < MIN_ACTIVATION_MINUTES || i.duration_minutes > max {
        return Err(DomainError::new(
            ErrorKind::DurationOutOfRange,
            format!(
                "activation duration must be between {MIN_ACTIVATION_MINUTES} and {max} minutes (the role's maximum); {} was asked",
                i.duration_minutes
            ),
        ));
    }
    if !i.eligibility_scope.contains(i.scope) {
        return Err(DomainError::new(
            ErrorKind::ScopeOutsideEligibility,
            format!("scope {} is not within the eligibility's scope {}", i.scope, i.eligibility_scope),
        ));
    }
    let start = match i.start {
        Some(s) if s > i.now => s,
        Some(s) if s < i.now.plus_millis(-5 * MINUTE_MS) => {
            return Err(DomainError::new(ErrorKind::InvalidWindow, "an activation cannot start in the past"));
        }
        _ => i.now,
    };
    if !i.eligibility_window.contains(start) {
        return Err(DomainError::new(ErrorKind::NotEligible, format!("the eligibility is not in effect at {start}")));
    }
    let wanted_end = start.plus_millis(i64::from(i.duration_minutes) * MINUTE_MS);
    let end = match i.eligibility_window.end {
        Some(e) if e < wanted_end => e,
        _ => wanted_end,
    };
    let needs = Needs {
        mfa: i.settings.require_mfa_on_activation && !i.mfa_satisfied,
        justification: i.settings.require_justification_on_activation && !i.has_justification,
        ticket: i.settings.require_ticket_on_activation && !i.has_ticket,
        approval: i.settings.require_approval_to_activate,
    };
    Ok(ActivationPlan { window: Window { start, end: Some(end) }, needs })
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::RoleSettings;
    use crate::time::{HOUR_MS, MINUTE_MS};

    fn sp(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn input<'a>(settings: &'a RoleSettings, es: &'a ScopePath, s: &'a ScopePath) -> ActivationInput<'a> {
        ActivationInput {
            settings,
            eligibility_scope: es,
            eligibility_window: Window::permanent_from(Timestamp(0)),
            scope: s,
            start: None,
            duration_minutes: 60,
            has_justification: true,
            has_ticket: false,
            mfa_satisfied: true,
            now: Timestamp(1_000 * HOUR_MS),
        }
    }

    #[test]
    fn duration_bounds_are_enforced() {
        let st = RoleSettings { activation_max_minutes: 120, ..Default::default() };
        let (a, b) = (sp("/a"), sp("/a"));
        let mut i = input(&st, &a, &b);
        i.duration_minutes = 29;
        assert_eq!(plan_activation(&i).unwrap_err().kind, ErrorKind::DurationOutOfRange);
        i.duration_minutes = 121;
        assert_eq!(plan_activation(&i).unwrap_err().kind, ErrorKind::DurationOutOfRange);
        i.duration_minutes = 120;
        let p = plan_activation(&i).expect("ok");
        assert_eq!(p.window, Window { start: i.now, end: Some(i.now.plus_millis(2 * HOUR_MS)) });
    }

    #[test]
    fn scope_may_narrow_but_not_widen() {
        let st = RoleSettings::default();
        let (a, ab, c) = (sp("/a"), sp("/a/b"), sp("/c"));
        assert!(plan_activation(&input(&st, &a, &ab)).is_ok());
        assert_eq!(plan_activation(&input(&st, &ab, &a)).unwrap_err().kind, ErrorKind::ScopeOutsideEligibility);
        assert_eq!(plan_activation(&input(&st, &a, &c)).unwrap_err().kind, ErrorKind::ScopeOutsideEligibility);
    }

    #[test]
    fn never_past_the_eligibility_and_future_start() {
        let st = RoleSettings::default();
        let a = sp("/a");
        let mut i = input(&st, &a, &a);
        i.eligibility_window = Window { start: Timestamp(0), end: Some(i.now.plus_millis(30 * MINUTE_MS)) };
        let p = plan_activation(&i).expect("ok");
        assert_eq!(p.window.end, i.eligibility_window.end);
        i.start = Some(i.now.plus_millis(HOUR_MS));
        assert_eq!(plan_activation(&i).unwrap_err().kind, ErrorKind::NotEligible);
        i.eligibility_window.end = None;
        let p = plan_activation(&i).expect("ok");
        assert_eq!(p.window.start, i.now.plus_millis(HOUR_MS));
        i.start = Some(i.now.plus_millis(-HOUR_MS));
        assert_eq!(plan_activation(&i).unwrap_err().kind, ErrorKind::InvalidWindow);
    }

    #[test]
    fn needs_follow_the_settings() {
        let st = RoleSettings { require_ticket_on_activation: true, ..Default::default() };
        let a = sp("/a");
        let mut i = input(&st, &a, &a);
        i.has_justification = false;
        i.mfa_satisfied = false;
        let n = plan_activation(&i).expect("ok").needs;
        assert_eq!(n, Needs { mfa: true, justification: true, ticket: true, approval: false });
        assert_eq!(n.first_unmet().map(|e| e.kind), Some(ErrorKind::JustificationRequired));
    }
}
