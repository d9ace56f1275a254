//! Role settings (policy) per role at a scope, with SPEC section 5's defaults and ranges.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorKind};
use crate::ids::PrincipalId;
use crate::principal::PrincipalKind;

/// Shortest activation, in minutes.
pub const MIN_ACTIVATION_MINUTES: u32 = 30;
/// Longest activation maximum a role may set, in minutes.
pub const MAX_ACTIVATION_MINUTES: u32 = 24 * 60;
/// Most approval stages.
pub const MAX_STAGES: usize = 2;
/// Most approvers in one list.
pub const MAX_APPROVERS: usize = 100;
/// Most additional recipients per notification rule.
pub const MAX_RECIPIENTS: usize = 50;
/// Most SSH principals a role's settings may name.
pub const MAX_SSH_PRINCIPALS: usize = 32;
/// Longest SSH principal, in bytes.
pub const MAX_SSH_PRINCIPAL_LEN: usize = 64;

/// Policy for a role at a scope. Every field has the default of SPEC section 5.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RoleSettings {
    /// Longest activation a user may ask for, in minutes (30 to 1440).
    pub activation_max_minutes: u32,
    /// MFA is needed to activate.
    pub require_mfa_on_activation: bool,
    /// A justification is needed to activate.
    pub require_justification_on_activation: bool,
    /// A ticket (system and number) is needed to activate.
    pub require_ticket_on_activation: bool,
    /// Activation waits for approval.
    pub require_approval_to_activate: bool,
    /// Serial approval stages (at most 2); needed when approval is on.
    pub approval_stages: Vec<ApprovalStage>,
    /// Approvers must give a justification.
    pub approver_justification_required: bool,
    /// Eligible assignments may be permanent.
    pub allow_permanent_eligible: bool,
    /// Otherwise they last at most this many days.
    pub eligible_expire_after_days: u32,
    /// Active assignments may be permanent.
    pub allow_permanent_active: bool,
    /// Otherwise they last at most this many days.
    pub active_expire_after_days: u32,
    /// MFA is needed to make an active assignment.
    pub require_mfa_on_active_assignment: bool,
    /// A justification is needed to make an active assignment.
    pub require_justification_on_active_assignment: bool,
    /// Extension requests need approval.
    pub require_approval_for_extension: bool,
    /// Break-glass self-activation without approval (with mandatory justification) is allowed.
    pub allow_break_glass: bool,
    /// Changes to these settings need a second Privileged Role Administrator's approval.
    pub protected: bool,
    /// Notification rules.
    pub notifications: NotificationSettings,
    /// The principals (login names, e.g. `root`, `deploy`) of the SSH certificates pim signs for an
    /// assignment of this role in effect; empty: no certificate (docs/SSH.md).
    pub ssh_principals: Vec<String>,
}

impl Default for RoleSettings {
    fn default() -> Self {
        RoleSettings {
            activation_max_minutes: 8 * 60,
            require_mfa_on_activation: true,
            require_justification_on_activation: true,
            require_ticket_on_activation: false,
            require_approval_to_activate: false,
            approval_stages: Vec::new(),
            approver_justification_required: true,
            allow_permanent_eligible: true,
            eligible_expire_after_days: 365,
            allow_permanent_active: true,
            active_expire_after_days: 180,
            require_mfa_on_active_assignment: false,
            require_justification_on_active_assignment: true,
            require_approval_for_extension: true,
            allow_break_glass: false,
            protected: false,
            notifications: NotificationSettings::default(),
            ssh_principals: Vec::new(),
        }
    }
}

/// Someone who may approve: a user, or every member of a group (resolved at decision time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproverRef {
    /// `user` or `group`.
    pub kind: PrincipalKind,
    /// The user's or group's id.
    pub id: PrincipalId,
}

/// One serial approval stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalStage {
    /// Who may approve at this stage.
    pub approvers: Vec<ApproverRef>,
    /// How many distinct approvals the stage needs.
    #[serde(default = "one")]
    pub required_approvals: u32,
    /// How long the stage waits before the request times out, in minutes.
    #[serde(default = "day_minutes")]
    pub timeout_minutes: u32,
    /// Approvers added after a delay when nobody has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
}

/// Escalation approvers of a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Escalation {
    /// Who is added.
    pub approvers: Vec<ApproverRef>,
    /// After how many minutes without a decision.
    pub after_minutes: u32,
}

fn one() -> u32 {
    1
}
fn day_minutes() -> u32 {
    24 * 60
}

/// Notification rules for the three events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// A principal was made eligible.
    pub assigned_eligible: EventRecipients,
    /// A principal was given an active assignment.
    pub assigned_active: EventRecipients,
    /// An eligible member activated the role.
    pub eligible_member_activated: EventRecipients,
}

/// The rules of one event for each recipient type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EventRecipients {
    /// Role administrators.
    pub admins: NotificationRule,
    /// The requester or assignee.
    pub requester: NotificationRule,
    /// The approvers.
    pub approvers: NotificationRule,
}

/// One notification rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotificationRule {
    /// Whether the default recipients get it.
    pub default_recipients: bool,
    /// Further addresses that get it.
    pub additional_recipients: Vec<String>,
    /// Only critical notifications.
    pub critical_only: bool,
}

impl Default for NotificationRule {
    fn default() -> Self {
        NotificationRule { default_recipients: true, additional_recipients: Vec::new(), critical_only: false }
    }
}

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError::new(ErrorKind::InvalidSettings, msg)
}

fn validate_approvers(list: &[ApproverRef], what: &str) -> Result<(), DomainError> {
    if list.len() > MAX_APPROVERS {
        return Err(bad(format!("{what} has more than {MAX_APPROVERS} approvers")));
    }
    if list.iter().any(|a| a.kind == PrincipalKind::ServicePrincipal) {
        return Err(bad(format!("{what}: approvers are users or groups, not service principals")));
    }
    Ok(())
}

impl RoleSettings {
    /// Checks ranges and consistency; the message names the setting.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(MIN_ACTIVATION_MINUTES..=MAX_ACTIVATION_MINUTES).contains(&self.activation_max_minutes) {
            return Err(bad(format!(
                "activationMaxMinutes must be between {MIN_ACTIVATION_MINUTES} and {MAX_ACTIVATION_MINUTES}"
            )));
        }
        if !(1..=36_500).contains(&self.eligible_expire_after_days) {
            return Err(bad("eligibleExpireAfterDays must be between 1 and 36500"));
        }
        if !(1..=36_500).contains(&self.active_expire_after_days) {
            return Err(bad("activeExpireAfterDays must be between 1 and 36500"));
        }
        if self.approval_stages.len() > MAX_STAGES {
            return Err(bad(format!("approvalStages has at most {MAX_STAGES} stages")));
        }
        if self.require_approval_to_activate && self.approval_stages.is_empty() {
            return Err(bad("requireApprovalToActivate needs at least one approval stage with an approver"));
        }
        for (i, s) in self.approval_stages.iter().enumerate() {
            let what = format!("approvalStages[{i}]");
            if s.approvers.is_empty() {
                return Err(bad(format!("{what} needs at least one approver")));
            }
            validate_approvers(&s.approvers, &what)?;
            if s.required_approvals == 0 || s.required_approvals as usize > MAX_APPROVERS {
                return Err(bad(format!("{what}.requiredApprovals must be between 1 and {MAX_APPROVERS}")));
            }
            if !(5..=30 * 24 * 60).contains(&s.timeout_minutes) {
                return Err(bad(format!("{what}.timeoutMinutes must be between 5 and 43200 (30 days)")));
            }
            if let Some(e) = &s.escalation {
                validate_approvers(&e.approvers, &format!("{what}.escalation"))?;
                if e.approvers.is_empty() {
                    return Err(bad(format!("{what}.escalation needs at least one approver")));
                }
                if e.after_minutes == 0 || e.after_minutes >= s.timeout_minutes {
                    return Err(bad(format!(
                        "{what}.escalation.afterMinutes must be above 0 and below the stage timeout"
                    )));
                }
            }
        }
        validate_ssh_principals(&self.ssh_principals)?;
        let n = &self.notifications;
        for (event, r) in [
            ("assignedEligible", &n.assigned_eligible),
            ("assignedActive", &n.assigned_active),
            ("eligibleMemberActivated", &n.eligible_member_activated),
        ] {
            for (who, rule) in [("admins", &r.admins), ("requester", &r.requester), ("approvers", &r.approvers)] {
                if rule.additional_recipients.len() > MAX_RECIPIENTS {
                    return Err(bad(format!("notifications.{event}.{who} has more than {MAX_RECIPIENTS} recipients")));
                }
                if let Some(a) = rule.additional_recipients.iter().find(|a| !looks_like_address(a)) {
                    return Err(bad(format!("notifications.{event}.{who}: '{a}' is not an email address")));
                }
            }
        }
        Ok(())
    }
}

/// Whether `p` may be an SSH certificate principal: 1 to 64 of ASCII letters, digits, `.`, `_`,
/// `-` and `@`, not starting with `-` (so no shell option, no list separator, no pattern).
pub fn is_ssh_principal(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_SSH_PRINCIPAL_LEN
        && !p.starts_with('-')
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn validate_ssh_principals(list: &[String]) -> Result<(), DomainError> {
    if list.len() > MAX_SSH_PRINCIPALS {
        return Err(bad(format!("sshPrincipals has more than {MAX_SSH_PRINCIPALS} principals")));
    }
    if let Some(p) = list.iter().find(|p| !is_ssh_principal(p)) {
        return Err(bad(format!(
            "sshPrincipals: '{p}' is not an SSH principal (1 to {MAX_SSH_PRINCIPAL_LEN} letters, digits, '.', '_', '-' or '@', not starting with '-')"
        )));
    }
    if let Some((i, p)) = list.iter().enumerate().find(|(i, p)| list[..*i].contains(p)) {
        return Err(bad(format!("sshPrincipals: '{p}' is named twice (at {i})")));
    }
    Ok(())
}

fn looks_like_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && a.len() <= 254
        && !a.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_spec_defaults_and_valid() {
        let s = RoleSettings::default();
        assert_eq!(s.activation_max_minutes, 480);
        assert!(s.require_mfa_on_activation);
        assert!(s.require_justification_on_activation);
        assert!(!s.require_ticket_on_activation);
        assert!(!s.require_approval_to_activate);
        assert!(s.approver_justification_required);
        assert_eq!(s.eligible_expire_after_days, 365);
        assert_eq!(s.active_expire_after_days, 180);
        assert!(!s.require_mfa_on_active_assignment);
        assert!(s.require_justification_on_active_assignment);
        assert!(s.require_approval_for_extension);
        assert!(s.ssh_principals.is_empty(), "no SSH certificates unless a role names principals");
        assert!(s.notifications.assigned_active.approvers.default_recipients);
        s.validate().expect("defaults are valid");
    }

    #[test]
    fn ranges_are_enforced_with_named_settings() {
        let mut s = RoleSettings { activation_max_minutes: 29, ..Default::default() };
        assert!(s.validate().unwrap_err().message.contains("activationMaxMinutes"));
        s.activation_max_minutes = 1441;
        assert!(s.validate().is_err());
        s.activation_max_minutes = 60;
        s.require_approval_to_activate = true;
        assert!(s.validate().unwrap_err().message.contains("approval stage"));
        s.approval_stages = vec![ApprovalStage {
            approvers: vec![ApproverRef { kind: PrincipalKind::User, id: PrincipalId::new() }],
            required_approvals: 1,
            timeout_minutes: 60,
            escalation: None,
        }];
        s.validate().expect("valid with one stage");
        s.approval_stages[0].required_approvals = 0;
        assert!(s.validate().is_err());
        s.approval_stages[0].required_approvals = 1;
        s.notifications.assigned_active.admins.additional_recipients = vec!["not an address".into()];
        assert!(s.validate().unwrap_err().message.contains("assignedActive.admins"));
    }

    #[test]
    fn ssh_principals_are_login_names_bounded_in_count_and_length() {
        let with = |list: &[&str]| RoleSettings {
            ssh_principals: list.iter().map(|p| (*p).to_owned()).collect(),
            ..Default::default()
        };
        with(&["root", "deploy", "svc.web-1", "alice@example.com", "a_b"]).validate().expect("valid principals");
        for bad in ["", "-oProxyCommand", "two words", "a,b", "*", "ro?t", "tab\t", "é", "x\n", &"a".repeat(65)] {
            let e = with(&[bad]).validate().unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidSettings, "{bad:?}");
            assert!(e.message.contains("sshPrincipals"), "{bad:?}: {}", e.message);
        }
        with(&["a".repeat(64).as_str()]).validate().expect("64 bytes is the limit");
        assert!(with(&["root", "root"]).validate().unwrap_err().message.contains("twice"));
        let many: Vec<String> = (0..=MAX_SSH_PRINCIPALS).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(with(&refs).validate().unwrap_err().message.contains("more than 32"));
        with(&refs[..MAX_SSH_PRINCIPALS]).validate().expect("32 is the limit");
        let parsed: RoleSettings =
            serde_json::from_str(r#"{"sshPrincipals": ["deploy"]}"#).expect("camelCase on the wire");
        assert_eq!(parsed.ssh_principals, ["deploy"]);
    }

    #[test]
    fn partial_json_takes_defaults_and_unknown_fields_are_refused() {
        let s: RoleSettings = serde_json::from_str(r#"{"activationMaxMinutes": 60}"#).expect("parses");
        assert_eq!(s.activation_max_minutes, 60);
        assert!(s.require_mfa_on_activation);
        assert!(serde_json::from_str::<RoleSettings>(r#"{"activationMaxMinute": 60}"#).is_err());
    }
}
