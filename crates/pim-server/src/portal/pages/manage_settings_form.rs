//! The role settings form: every field of `RoleSettings` (pim-domain `settings.rs`) as the portal
//! shows it, filled from settings (approvers by name) or from a posted form (to show again as
//! typed), read back into `RoleSettings` with a message naming the field when something typed is
//! wrong, and the summary of settings in force.

use pim_domain::message::count;
use pim_domain::settings::{
    ApprovalStage, ApproverRef, Escalation, EventRecipients, MAX_APPROVERS, MAX_SSH_PRINCIPALS, MAX_STAGES,
    NotificationRule, NotificationSettings, is_ssh_principal,
};
use pim_domain::{PrincipalKind, RoleSettings};

use super::manage_lookup::{find_principal, number, principal_name};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::FormData;

type BoolField = fn(&mut RoleSettings) -> &mut bool;
type NumberField = fn(&mut RoleSettings) -> &mut u32;

/// The fieldsets of the form, in order: id and legend.
pub const GROUPS: &[(&str, &str)] = &[
    ("activation", "Activation"),
    ("approval", "Approval"),
    ("assignment", "Assignments"),
    ("protection", "Protection"),
    ("ssh", "SSH certificates"),
];

/// The yes/no settings: fieldset, form name, label, field.
const CHECKS: &[(&str, &str, &str, BoolField)] = &[
    ("activation", "require_mfa_on_activation", "Require MFA to activate", |s| &mut s.require_mfa_on_activation),
    ("activation", "require_justification_on_activation", "Require a justification to activate", |s| {
        &mut s.require_justification_on_activation
    }),
    ("activation", "require_ticket_on_activation", "Require a ticket (system and number) to activate", |s| {
        &mut s.require_ticket_on_activation
    }),
    (
        "activation",
        "allow_break_glass",
        "Allow break-glass activation (no approval; justification required; approvers told; reviewed later)",
        |s| &mut s.allow_break_glass,
    ),
    ("approval", "require_approval_to_activate", "Require approval to activate", |s| {
        &mut s.require_approval_to_activate
    }),
    ("approval", "approver_justification_required", "Approvers must give a justification", |s| {
        &mut s.approver_justification_required
    }),
    ("approval", "require_approval_for_extension", "Require approval to extend an assignment", |s| {
        &mut s.require_approval_for_extension
    }),
    ("assignment", "allow_permanent_eligible", "Allow permanent eligible assignments", |s| {
        &mut s.allow_permanent_eligible
    }),
    ("assignment", "allow_permanent_active", "Allow permanent active assignments", |s| &mut s.allow_permanent_active),
    ("assignment", "require_mfa_on_active_assignment", "Require MFA to make an active assignment", |s| {
        &mut s.require_mfa_on_active_assignment
    }),
    (
        "assignment",
        "require_justification_on_active_assignment",
        "Require a justification to make an active assignment",
        |s| &mut s.require_justification_on_active_assignment,
    ),
    ("protection", "protected", "Protected: a change to these settings needs a second administrator's approval", |s| {
        &mut s.protected
    }),
];

/// The numeric settings: fieldset, form name, label, min, max, field.
const NUMBERS: &[(&str, &str, &str, u32, u32, NumberField)] = &[
    ("activation", "activation_max_minutes", "Longest activation (minutes, 30 to 1440)", 30, 1440, |s| {
        &mut s.activation_max_minutes
    }),
    (
        "assignment",
        "eligible_expire_after_days",
        "Otherwise, eligible assignments last at most (days)",
        1,
        36_500,
        |s| &mut s.eligible_expire_after_days,
    ),
    ("assignment", "active_expire_after_days", "Otherwise, active assignments last at most (days)", 1, 36_500, |s| {
        &mut s.active_expire_after_days
    }),
];

type EventField = fn(&mut NotificationSettings) -> &mut EventRecipients;
type RuleField = fn(&mut EventRecipients) -> &mut NotificationRule;

/// The notification events: form key, legend, field.
const EVENTS: &[(&str, &str, EventField)] = &[
    ("assigned_eligible", "When someone is made eligible", |n| &mut n.assigned_eligible),
    ("assigned_active", "When someone is given an active assignment", |n| &mut n.assigned_active),
    ("eligible_member_activated", "When an eligible member activates the role", |n| &mut n.eligible_member_activated),
];

/// The recipient types: form key, legend, field.
const RECIPIENTS: &[(&str, &str, RuleField)] = &[
    ("admins", "Administrators", |e| &mut e.admins),
    ("requester", "The assignee or requester", |e| &mut e.requester),
    ("approvers", "Approvers", |e| &mut e.approvers),
];

/// One control of a fieldset: a checkbox or a number.
pub struct Control {
    /// Its form name (and id).
    pub name: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Whether it is a checkbox.
    pub check: bool,
    /// A checkbox's state.
    pub on: bool,
    /// A number's value as typed.
    pub value: String,
    /// A number's range.
    pub min: u32,
    /// A number's range.
    pub max: u32,
}

/// A fieldset of controls.
pub struct Group {
    /// Its id.
    pub id: &'static str,
    /// Its legend.
    pub legend: &'static str,
    /// Its controls.
    pub controls: Vec<Control>,
}

/// One approval stage as typed.
pub struct StageForm {
    /// 1 or 2.
    pub n: usize,
    /// Approvers' names, comma separated.
    pub approvers: String,
    /// How many must approve.
    pub required: String,
    /// Minutes before the request times out.
    pub timeout: String,
    /// Escalation approvers' names.
    pub escalation: String,
    /// Minutes before they join.
    pub escalation_after: String,
}

/// One notification rule as typed.
pub struct RuleForm {
    /// `{event}_{recipient}`: the prefix of its form names and ids.
    pub key: String,
    /// Its legend.
    pub legend: &'static str,
    /// Whether the default recipients get it.
    pub default_recipients: bool,
    /// Further addresses, comma separated.
    pub additional: String,
    /// Critical notifications only.
    pub critical_only: bool,
}

/// One event's rules.
pub struct EventForm {
    /// Its legend.
    pub legend: &'static str,
    /// Its rules, one per recipient type.
    pub rules: Vec<RuleForm>,
}

/// The whole form.
pub struct SettingsForm {
    /// The fieldsets of single settings.
    pub groups: Vec<Group>,
    /// The two approval stages (blank when absent).
    pub stages: Vec<StageForm>,
    /// The notification rules.
    pub events: Vec<EventForm>,
    /// The SSH principals, comma separated.
    pub ssh_principals: String,
}

fn names(s: &AppState, list: &[ApproverRef]) -> String {
    list.iter().map(|a| principal_name(s, a.id)).collect::<Vec<_>>().join(", ")
}

impl SettingsForm {
    /// The form filled with `settings`.
    pub fn of(s: &AppState, settings: &RoleSettings) -> SettingsForm {
        let mut copy = settings.clone();
        let groups = build_groups(|name| {
            CHECKS
                .iter()
                .find(|c| c.1 == name)
                .map(|c| *(c.3)(&mut copy))
                .map(|b| (b, String::new()))
                .or_else(|| NUMBERS.iter().find(|n| n.1 == name).map(|n| (false, (n.5)(&mut copy).to_string())))
        });
        let stages = (0..MAX_STAGES)
            .map(|i| match settings.approval_stages.get(i) {
                Some(st) => StageForm {
                    n: i + 1,
                    approvers: names(s, &st.approvers),
                    required: st.required_approvals.to_string(),
                    timeout: st.timeout_minutes.to_string(),
                    escalation: st.escalation.as_ref().map(|e| names(s, &e.approvers)).unwrap_or_default(),
                    escalation_after: st.escalation.as_ref().map(|e| e.after_minutes.to_string()).unwrap_or_default(),
                },
                None => StageForm {
                    n: i + 1,
                    approvers: String::new(),
                    required: "1".into(),
                    timeout: "1440".into(),
                    escalation: String::new(),
                    escalation_after: String::new(),
                },
            })
            .collect();
        let mut n = settings.notifications.clone();
        let events = EVENTS
            .iter()
            .map(|(ek, legend, ef)| EventForm {
                legend,
                rules: RECIPIENTS
                    .iter()
                    .map(|(rk, rlegend, rf)| {
                        let rule = rf(ef(&mut n));
                        RuleForm {
                            key: format!("{ek}_{rk}"),
                            legend: rlegend,
                            default_recipients: rule.default_recipients,
                            additional: rule.additional_recipients.join(", "),
                            critical_only: rule.critical_only,
                        }
                    })
                    .collect(),
            })
            .collect();
        SettingsForm { groups, stages, events, ssh_principals: settings.ssh_principals.join(", ") }
    }

    /// The form as posted, to show again.
    pub fn posted(form: &FormData) -> SettingsForm {
        let groups = build_groups(|name| {
            if CHECKS.iter().any(|c| c.1 == name) {
                Some((form.checked(name), String::new()))
            } else {
                Some((false, form.get(name).unwrap_or_default()))
            }
        });
        let text = |k: String| form.get(&k).unwrap_or_default();
        let stages = (1..=MAX_STAGES)
            .map(|n| StageForm {
                n,
                approvers: text(format!("stage{n}_approvers")),
                required: text(format!("stage{n}_required")),
                timeout: text(format!("stage{n}_timeout")),
                escalation: text(format!("stage{n}_escalation")),
                escalation_after: text(format!("stage{n}_escalation_after")),
            })
            .collect();
        let events = EVENTS
            .iter()
            .map(|(ek, legend, _)| EventForm {
                legend,
                rules: RECIPIENTS
                    .iter()
                    .map(|(rk, rlegend, _)| {
                        let key = format!("{ek}_{rk}");
                        RuleForm {
                            default_recipients: form.checked(&format!("{key}_default")),
                            additional: text(format!("{key}_additional")),
                            critical_only: form.checked(&format!("{key}_critical")),
                            legend: rlegend,
                            key,
                        }
                    })
                    .collect(),
            })
            .collect();
        SettingsForm { groups, stages, events, ssh_principals: text("ssh_principals".to_owned()) }
    }
}

/// The fieldsets, each control's state taken from `value(name)`: (checked, number as text).
fn build_groups(mut value: impl FnMut(&str) -> Option<(bool, String)>) -> Vec<Group> {
    GROUPS
        .iter()
        .map(|(id, legend)| {
            let mut controls = Vec::new();
            for c in CHECKS.iter().filter(|c| c.0 == *id) {
                let (on, _) = value(c.1).unwrap_or_default();
                controls.push(Control { name: c.1, label: c.2, check: true, on, value: String::new(), min: 0, max: 0 });
            }
            for n in NUMBERS.iter().filter(|n| n.0 == *id) {
                let (_, v) = value(n.1).unwrap_or_default();
                controls.push(Control { name: n.1, label: n.2, check: false, on: false, value: v, min: n.3, max: n.4 });
            }
            Group { id, legend, controls }
        })
        .collect()
}

/// Names separated by commas or lines.
fn split(text: &str) -> Vec<&str> {
    text.split([',', '\n', ';']).map(str::trim).filter(|n| !n.is_empty()).collect()
}

/// SSH principals separated by commas, lines or spaces.
fn split_principals(text: &str) -> Vec<String> {
    text.split([',', '\n', ';', ' ', '\t', '\r']).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

async fn approvers(s: &AppState, session: &Session, text: &str, what: &str) -> Result<Vec<ApproverRef>, String> {
    let names = split(text);
    if names.len() > MAX_APPROVERS {
        return Err(format!("{what}: give at most {MAX_APPROVERS} approvers."));
    }
    let mut out = Vec::new();
    for name in names {
        let p = find_principal(s, session, name, what).await?;
        if p.kind == PrincipalKind::ServicePrincipal {
            return Err(format!("{what}: {} is a service principal; approvers are users or groups.", p.name));
        }
        out.push(ApproverRef { kind: p.kind, id: p.id });
    }
    Ok(out)
}

/// The settings a posted form describes; a message naming the field when something is wrong.
pub async fn read(s: &AppState, session: &Session, form: &FormData) -> Result<RoleSettings, String> {
    let mut out = RoleSettings::default();
    for (_, name, _, field) in CHECKS {
        *field(&mut out) = form.checked(name);
    }
    for (_, name, label, _, _, field) in NUMBERS {
        *field(&mut out) = number(form, name, label)?.ok_or_else(|| format!("{label}: give a number."))?;
    }
    out.approval_stages = Vec::new();
    for n in 1..=MAX_STAGES {
        let what = format!("Approval stage {n}");
        let text = |k: &str| form.get(&format!("stage{n}_{k}")).unwrap_or_default();
        let list = approvers(s, session, &text("approvers"), &format!("{what}, approvers")).await?;
        if list.is_empty() {
            continue;
        }
        if out.approval_stages.len() + 1 != n {
            return Err(format!("{what}: a second stage needs a first one; give the first stage's approvers."));
        }
        let num = |k: &str, label: &str| number::<u32>(form, &format!("stage{n}_{k}"), &format!("{what}, {label}"));
        let escalation = match (split(&text("escalation")).is_empty(), num("escalation_after", "escalate after")?) {
            (true, _) => None,
            (false, None) => return Err(format!("{what}: give after how many minutes the escalation approvers join.")),
            (false, Some(after_minutes)) => Some(Escalation {
                approvers: approvers(s, session, &text("escalation"), &format!("{what}, escalation approvers")).await?,
                after_minutes,
            }),
        };
        out.approval_stages.push(ApprovalStage {
            approvers: list,
            required_approvals: num("required", "approvals needed")?.unwrap_or(1),
            timeout_minutes: num("timeout", "times out after")?.unwrap_or(24 * 60),
            escalation,
        });
    }
    if out.require_approval_to_activate && out.approval_stages.is_empty() {
        return Err("Approval: to require approval, name the approvers of stage 1.".into());
    }
    out.ssh_principals = split_principals(&form.get("ssh_principals").unwrap_or_default());
    if out.ssh_principals.len() > MAX_SSH_PRINCIPALS {
        return Err(format!("SSH principals: give at most {MAX_SSH_PRINCIPALS}."));
    }
    if let Some(p) = out.ssh_principals.iter().find(|p| !is_ssh_principal(p)) {
        return Err(format!(
            "SSH principals: '{p}' is not a login name (letters, digits, '.', '_', '-' or '@', at most 64, not starting with '-')."
        ));
    }
    for (ek, _, ef) in EVENTS {
        for (rk, _, rf) in RECIPIENTS {
            let key = format!("{ek}_{rk}");
            let rule = rf(ef(&mut out.notifications));
            rule.default_recipients = form.checked(&format!("{key}_default"));
            rule.critical_only = form.checked(&format!("{key}_critical"));
            let additional = form.get(&format!("{key}_additional")).unwrap_or_default();
            rule.additional_recipients = split(&additional).into_iter().map(str::to_owned).collect();
        }
    }
    Ok(out)
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The settings in force, for people: (setting, value).
pub fn summary(s: &AppState, st: &RoleSettings) -> Vec<(String, String)> {
    let days = |allow: bool, n: u32| {
        if allow { "may be permanent".to_owned() } else { format!("at most {}", count(n, "day", "days")) }
    };
    let mut out = vec![
        ("Longest activation".to_owned(), count(st.activation_max_minutes, "minute", "minutes")),
        ("MFA to activate".to_owned(), yes(st.require_mfa_on_activation)),
        ("Justification to activate".to_owned(), yes(st.require_justification_on_activation)),
        ("Ticket to activate".to_owned(), yes(st.require_ticket_on_activation)),
        ("Approval to activate".to_owned(), yes(st.require_approval_to_activate)),
    ];
    for (i, stage) in st.approval_stages.iter().enumerate() {
        let mut text = format!(
            "{}; {} needed; times out after {}",
            names(s, &stage.approvers),
            count(stage.required_approvals, "approval", "approvals"),
            count(stage.timeout_minutes, "minute", "minutes")
        );
        if let Some(e) = &stage.escalation {
            text.push_str(&format!(
                "; escalates to {} after {}",
                names(s, &e.approvers),
                count(e.after_minutes, "minute", "minutes")
            ));
        }
        out.push((format!("Approval stage {}", i + 1), text));
    }
    out.extend([
        ("Approvers give a justification".to_owned(), yes(st.approver_justification_required)),
        ("Approval to extend".to_owned(), yes(st.require_approval_for_extension)),
        ("Break-glass activation".to_owned(), if st.allow_break_glass { "allowed" } else { "not allowed" }.to_owned()),
        ("Eligible assignments".to_owned(), days(st.allow_permanent_eligible, st.eligible_expire_after_days)),
        ("Active assignments".to_owned(), days(st.allow_permanent_active, st.active_expire_after_days)),
        ("MFA to make an active assignment".to_owned(), yes(st.require_mfa_on_active_assignment)),
        ("Justification for an active assignment".to_owned(), yes(st.require_justification_on_active_assignment)),
        ("Protected".to_owned(), yes(st.protected)),
        (
            "SSH certificate principals".to_owned(),
            if st.ssh_principals.is_empty() {
                "none (no SSH certificates)".to_owned()
            } else {
                st.ssh_principals.join(", ")
            },
        ),
    ]);
    let mut n = st.notifications.clone();
    for (_, legend, ef) in EVENTS {
        let parts: Vec<String> = RECIPIENTS
            .iter()
            .map(|(_, who, rf)| {
                let r = rf(ef(&mut n));
                let mut t = format!("{who}: {}", if r.default_recipients { "on" } else { "off" });
                if r.critical_only {
                    t.push_str(" (critical only)");
                }
                if !r.additional_recipients.is_empty() {
                    t.push_str(&format!(", also {}", r.additional_recipients.join(", ")));
                }
                t
            })
            .collect();
        out.push(((*legend).to_owned(), parts.join("; ")));
    }
    out
}
