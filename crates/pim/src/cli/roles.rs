//! `pim roles` (role definitions) and `pim settings` (role settings of a role at a scope).

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::builder::BoolishValueParser;
use pim_api::{
    ApprovalStage, ApproverRef, CreateRole, EffectiveSettings, Pattern, Permissions, PrincipalKind, RoleDefinition,
    RoleSettings, ScopePath,
};
use pim_client::Client;
use pim_domain::message::count;

use super::Ctx;
use super::duration::{format_minutes, parse_duration, parse_scope};
use super::output::{self, Format, Table, listing, yes_no};
use super::resolve::{self, Names};

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    Pattern::parse(s).map_err(|e| e.to_string())
}

/// `pim roles ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RolesCommand {
    /// List role definitions.
    List,
    /// Show a role definition.
    Show {
        /// Name or id.
        role: String,
    },
    /// Create a custom role.
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
        /// An allowed action or pattern (storage.blobs.read, storage.*, *); repeat or separate with commas.
        #[arg(long = "action", value_name = "ACTION", value_parser = parse_pattern, value_delimiter = ',', required = true)]
        actions: Vec<Pattern>,
        /// An excluded action or pattern; repeat or separate with commas.
        #[arg(long = "not-action", value_name = "ACTION", value_parser = parse_pattern, value_delimiter = ',')]
        not_actions: Vec<Pattern>,
    },
    /// Change a custom role; the lists given replace the current ones.
    Update {
        /// Name or id.
        role: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Allowed actions (replace the current list).
        #[arg(long = "action", value_name = "ACTION", value_parser = parse_pattern, value_delimiter = ',')]
        actions: Vec<Pattern>,
        /// Excluded actions (replace the current list).
        #[arg(long = "not-action", value_name = "ACTION", value_parser = parse_pattern, value_delimiter = ',')]
        not_actions: Vec<Pattern>,
        /// Remove every excluded action.
        #[arg(long, conflicts_with = "not_actions")]
        clear_not_actions: bool,
    },
    /// Delete a custom role that is not assigned.
    Delete {
        /// Name or id.
        role: String,
    },
}

/// `pim settings ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SettingsCommand {
    /// Show the settings in force for a role at a scope.
    Show {
        /// Role name or id.
        role: String,
        /// The scope.
        #[arg(long, value_parser = parse_scope, default_value = "/")]
        scope: ScopePath,
    },
    /// Change the settings of a role at a scope (starting from those in force, or from --file).
    Set(Box<SetArgs>),
    /// Remove the explicit settings of a role at a scope; it inherits again.
    Reset {
        /// Role name or id.
        role: String,
        /// The scope.
        #[arg(long, value_parser = parse_scope, default_value = "/")]
        scope: ScopePath,
    },
    /// List every explicit setting.
    List {
        /// Only this role's (name or id).
        #[arg(long)]
        role: Option<String>,
    },
}

/// Options of `pim settings set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// Role name or id.
    pub role: String,
    /// The scope.
    #[arg(long, value_parser = parse_scope, default_value = "/")]
    pub scope: ScopePath,
    /// Start from this JSON file of RoleSettings (omitted fields take defaults) instead of the settings in force.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The settings to change.
    #[command(flatten)]
    pub flags: SettingsFlags,
}

/// The settings `pim settings set` can change one by one.
#[derive(Debug, Default, clap::Args)]
pub struct SettingsFlags {
    /// Longest activation (30m to 24h), e.g. 4h.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_duration: Option<u64>,
    /// MFA is needed to activate.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_mfa: Option<bool>,
    /// A justification is needed to activate.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_justification: Option<bool>,
    /// A ticket is needed to activate.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_ticket: Option<bool>,
    /// Activation waits for approval.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_approval: Option<bool>,
    /// An approver of the first stage (user or group, name or id); repeat or separate with commas; replaces the list.
    #[arg(long = "approver", value_name = "NAME", value_delimiter = ',')]
    pub approvers: Vec<String>,
    /// How many approvals the first stage needs.
    #[arg(long)]
    pub required_approvals: Option<u32>,
    /// How long the first stage waits before the request times out, e.g. 24h.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub approval_timeout: Option<u64>,
    /// Escalation approvers of the first stage (user or group, name or id), who join it when nobody
    /// has decided after --escalate-after; replaces the list.
    #[arg(long = "escalate-to", value_name = "NAME", value_delimiter = ',', requires = "escalate_after")]
    pub escalate_to: Vec<String>,
    /// When the escalation approvers join, e.g. 2h (below the stage's timeout).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub escalate_after: Option<u64>,
    /// An approver of a second, serial stage; repeat or separate with commas; replaces its list.
    #[arg(long = "second-stage-approver", value_name = "NAME", value_delimiter = ',')]
    pub second_stage_approvers: Vec<String>,
    /// How many approvals the second stage needs.
    #[arg(long)]
    pub second_stage_required_approvals: Option<u32>,
    /// Remove the second stage.
    #[arg(long, conflicts_with_all = ["second_stage_approvers", "second_stage_required_approvals"])]
    pub no_second_stage: bool,
    /// Approvers must give a justification.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub approver_justification: Option<bool>,
    /// Eligible assignments may be permanent.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub allow_permanent_eligible: Option<bool>,
    /// Otherwise eligible assignments last at most this many days.
    #[arg(long, value_name = "DAYS")]
    pub eligible_expire_after_days: Option<u32>,
    /// Active assignments may be permanent.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub allow_permanent_active: Option<bool>,
    /// Otherwise active assignments last at most this many days.
    #[arg(long, value_name = "DAYS")]
    pub active_expire_after_days: Option<u32>,
    /// MFA is needed to make an active assignment.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_mfa_on_active: Option<bool>,
    /// A justification is needed to make an active assignment.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_justification_on_active: Option<bool>,
    /// Extension requests need approval.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub require_approval_for_extension: Option<bool>,
    /// Break-glass self-activation without approval (with a justification) is allowed.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub allow_break_glass: Option<bool>,
    /// Changes to these settings need a second administrator's approval.
    #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
    pub protected: Option<bool>,
    /// The principals (login names) of SSH certificates for this role, e.g. root,deploy; replaces the list.
    #[arg(long = "ssh-principal", value_name = "NAME", value_delimiter = ',', conflicts_with = "no_ssh_principals")]
    pub ssh_principals: Vec<String>,
    /// Remove every SSH principal (no SSH certificates for this role).
    #[arg(long)]
    pub no_ssh_principals: bool,
}

fn role_table(roles: &[RoleDefinition]) -> String {
    let mut t = Table::new(&["NAME", "TYPE", "ID", "DESCRIPTION"]);
    for r in roles {
        let kind = if r.builtin { "built-in" } else { "custom" };
        t.row(vec![r.name.clone(), kind.to_owned(), r.id.to_string(), r.description.clone()]);
    }
    t.render()
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn role_listing(r: &RoleDefinition) -> String {
    listing(&[
        ("id", r.id.to_string()),
        ("name", r.name.clone()),
        ("type", if r.builtin { "built-in" } else { "custom" }.to_owned()),
        ("description", r.description.clone()),
        ("actions", join(&r.permissions.actions)),
        ("excluded actions", join(&r.permissions.not_actions)),
    ])
}

/// Runs `pim roles ...`.
pub async fn roles(ctx: &Ctx, cmd: RolesCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let role = match cmd {
        RolesCommand::List => {
            let page = client.list_roles().await?;
            return output::show(ctx.format, &page, || role_table(&page.items));
        }
        RolesCommand::Show { role } => resolve::role(&client, &role).await?,
        RolesCommand::Create { name, description, actions, not_actions } => {
            let body = CreateRole { name, description, permissions: Permissions { actions, not_actions } };
            client.create_role(&body).await?
        }
        RolesCommand::Update { role, name, description, actions, not_actions, clear_not_actions } => {
            let current = resolve::role(&client, &role).await?;
            let body = CreateRole {
                name: name.unwrap_or(current.name),
                description: Some(description.unwrap_or(current.description)),
                permissions: Permissions {
                    actions: if actions.is_empty() { current.permissions.actions } else { actions },
                    not_actions: if clear_not_actions || !not_actions.is_empty() {
                        not_actions
                    } else {
                        current.permissions.not_actions
                    },
                },
            };
            client.update_role(&current.id.to_string(), &body).await?
        }
        RolesCommand::Delete { role } => {
            let r = resolve::role(&client, &role).await?;
            client.delete_role(&r.id.to_string()).await?;
            return super::ack(
                ctx.format,
                serde_json::json!({"id": r.id, "deleted": true}),
                &format!("Deleted role {}.", r.name),
            );
        }
    };
    output::show(ctx.format, &role, || role_listing(&role))
}

async fn approvers_text(names: &mut Names<'_>, list: &[ApproverRef]) -> String {
    let mut out = Vec::new();
    for a in list {
        out.push(format!("{} ({})", names.principal(a.id).await, a.kind.as_str()));
    }
    out.join(", ")
}

async fn settings_listing(names: &mut Names<'_>, e: &EffectiveSettings) -> String {
    let s = &e.settings;
    let defined = match &e.defined_at {
        Some(d) if *d == e.scope => format!("{d} (here)"),
        Some(d) => format!("{d} (inherited)"),
        None => "defaults".to_owned(),
    };
    let days = |allow: bool, n: u32| {
        if allow { "permanent allowed".to_owned() } else { format!("at most {}", count(n, "day", "days")) }
    };
    let mut pairs = vec![
        ("role", names.role(e.role_id).await),
        ("scope", e.scope.to_string()),
        ("defined at", defined),
        ("max activation", format_minutes(u64::from(s.activation_max_minutes))),
        ("require MFA", yes_no(s.require_mfa_on_activation)),
        ("require justification", yes_no(s.require_justification_on_activation)),
        ("require ticket", yes_no(s.require_ticket_on_activation)),
        ("require approval", yes_no(s.require_approval_to_activate)),
    ];
    let mut stages = Vec::new();
    for (i, st) in s.approval_stages.iter().enumerate() {
        let mut text = format!(
            "{}; {} needed; times out after {}",
            approvers_text(names, &st.approvers).await,
            count(st.required_approvals, "approval", "approvals"),
            format_minutes(u64::from(st.timeout_minutes))
        );
        if let Some(esc) = &st.escalation {
            text.push_str(&format!(
                "; escalates to {} after {}",
                approvers_text(names, &esc.approvers).await,
                format_minutes(u64::from(esc.after_minutes))
            ));
        }
        stages.push((i, text));
    }
    let stage_keys = ["approval stage 1", "approval stage 2", "approval stage 3"];
    for (i, text) in stages {
        pairs.push((stage_keys.get(i).copied().unwrap_or("approval stage"), text));
    }
    pairs.extend([
        ("approver justification", yes_no(s.approver_justification_required)),
        ("eligible assignments", days(s.allow_permanent_eligible, s.eligible_expire_after_days)),
        ("active assignments", days(s.allow_permanent_active, s.active_expire_after_days)),
        ("require MFA on active", yes_no(s.require_mfa_on_active_assignment)),
        ("require justification on active", yes_no(s.require_justification_on_active_assignment)),
        ("require approval for extension", yes_no(s.require_approval_for_extension)),
        ("allow break-glass", yes_no(s.allow_break_glass)),
        ("protected", yes_no(s.protected)),
        (
            "SSH principals",
            if s.ssh_principals.is_empty() {
                "none (no SSH certificates)".to_owned()
            } else {
                s.ssh_principals.join(", ")
            },
        ),
    ]);
    listing(&pairs)
}

/// Applies the flags of `pim settings set` to `s`; `approvers` are the resolved `--approver`s, if any were given.
/// Approver lists named by the flags, resolved to references (`None`: the flag was not given).
#[derive(Debug, Default)]
pub struct ApproverLists {
    /// `--approver`.
    pub first: Option<Vec<ApproverRef>>,
    /// `--escalate-to`.
    pub escalation: Option<Vec<ApproverRef>>,
    /// `--second-stage-approver`.
    pub second: Option<Vec<ApproverRef>>,
}

fn new_stage() -> ApprovalStage {
    ApprovalStage { approvers: Vec::new(), required_approvals: 1, timeout_minutes: 24 * 60, escalation: None }
}

/// Applies the flags to `s`; approver names are already resolved into `lists`.
pub fn apply(s: &mut RoleSettings, a: &SettingsFlags, lists: ApproverLists) -> anyhow::Result<()> {
    let approvers = lists.first;
    if let Some(m) = a.max_duration {
        s.activation_max_minutes = u32::try_from(m).map_err(|_| anyhow!("--max-duration is too long"))?;
    }
    let flags = [
        (a.require_mfa, &mut s.require_mfa_on_activation),
        (a.require_justification, &mut s.require_justification_on_activation),
        (a.require_ticket, &mut s.require_ticket_on_activation),
        (a.require_approval, &mut s.require_approval_to_activate),
        (a.approver_justification, &mut s.approver_justification_required),
        (a.allow_permanent_eligible, &mut s.allow_permanent_eligible),
        (a.allow_permanent_active, &mut s.allow_permanent_active),
        (a.require_mfa_on_active, &mut s.require_mfa_on_active_assignment),
        (a.require_justification_on_active, &mut s.require_justification_on_active_assignment),
        (a.require_approval_for_extension, &mut s.require_approval_for_extension),
        (a.allow_break_glass, &mut s.allow_break_glass),
        (a.protected, &mut s.protected),
    ];
    for (flag, field) in flags {
        if let Some(v) = flag {
            *field = v;
        }
    }
    if a.no_ssh_principals {
        s.ssh_principals.clear();
    } else if !a.ssh_principals.is_empty() {
        s.ssh_principals = a.ssh_principals.iter().map(|p| p.trim().to_owned()).collect();
    }
    if let Some(d) = a.eligible_expire_after_days {
        s.eligible_expire_after_days = d;
    }
    if let Some(d) = a.active_expire_after_days {
        s.active_expire_after_days = d;
    }
    let touches_stage = approvers.is_some()
        || a.required_approvals.is_some()
        || a.approval_timeout.is_some()
        || a.escalate_after.is_some();
    if touches_stage && s.approval_stages.is_empty() {
        s.approval_stages.push(new_stage());
    }
    if touches_stage && let Some(stage) = s.approval_stages.first_mut() {
        if let Some(list) = approvers {
            stage.approvers = list;
        }
        if let Some(n) = a.required_approvals {
            stage.required_approvals = n;
        }
        if let Some(t) = a.approval_timeout {
            stage.timeout_minutes = u32::try_from(t).map_err(|_| anyhow!("--approval-timeout is too long"))?;
        }
        if let Some(after) = a.escalate_after {
            let after_minutes = u32::try_from(after).map_err(|_| anyhow!("--escalate-after is too long"))?;
            let approvers = match (lists.escalation, stage.escalation.take()) {
                (Some(list), _) => list,
                (None, Some(old)) => old.approvers,
                (None, None) => return Err(anyhow!("--escalate-after needs --escalate-to")),
            };
            stage.escalation = Some(pim_api::Escalation { approvers, after_minutes });
        }
    }
    if a.no_second_stage {
        s.approval_stages.truncate(1);
    } else if lists.second.is_some() || a.second_stage_required_approvals.is_some() {
        if s.approval_stages.is_empty() {
            return Err(anyhow!("a second stage needs a first one: give --approver too"));
        }
        if s.approval_stages.len() < 2 {
            s.approval_stages.push(new_stage());
        }
        if let Some(stage) = s.approval_stages.get_mut(1) {
            if let Some(list) = lists.second {
                stage.approvers = list;
            }
            if let Some(n) = a.second_stage_required_approvals {
                stage.required_approvals = n;
            }
        }
    }
    Ok(())
}

async fn approver_refs(client: &Client, names: &[String]) -> anyhow::Result<Option<Vec<ApproverRef>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for n in names {
        let p = resolve::principal(client, n).await?;
        if p.kind == PrincipalKind::ServicePrincipal {
            return Err(anyhow!("{} is a service principal; approvers are users or groups", p.name));
        }
        out.push(ApproverRef { kind: p.kind, id: p.id });
    }
    Ok(Some(out))
}

async fn print_settings(ctx: &Ctx, client: &Client, e: &EffectiveSettings) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(e);
    }
    let mut names = Names::new(client);
    output::print(&settings_listing(&mut names, e).await)
}

/// Runs `pim settings ...`.
pub async fn settings(ctx: &Ctx, cmd: SettingsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        SettingsCommand::Show { role, scope } => {
            let e = client.get_settings(role.trim(), &scope).await?;
            print_settings(ctx, &client, &e).await
        }
        SettingsCommand::Set(args) => {
            let role = args.role.trim();
            let mut s = match &args.file {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str::<RoleSettings>(&text)
                        .with_context(|| format!("{} is not role settings JSON", path.display()))?
                }
                None => client.get_settings(role, &args.scope).await?.settings,
            };
            let lists = ApproverLists {
                first: approver_refs(&client, &args.flags.approvers).await?,
                escalation: approver_refs(&client, &args.flags.escalate_to).await?,
                second: approver_refs(&client, &args.flags.second_stage_approvers).await?,
            };
            apply(&mut s, &args.flags, lists)?;
            match client.put_settings(role, &args.scope, &s).await? {
                pim_client::SettingsOutcome::Applied(e) => print_settings(ctx, &client, &e).await,
                pim_client::SettingsOutcome::Pending(c) => super::ack(
                    ctx.format,
                    serde_json::to_value(&c)?,
                    &format!(
                        "These settings are protected: change {} waits for another administrator (pim settings-changes approve {}).",
                        c.id, c.id
                    ),
                ),
            }
        }
        SettingsCommand::Reset { role, scope } => {
            if let Some(c) = client.delete_settings(role.trim(), &scope).await? {
                return super::ack(
                    ctx.format,
                    serde_json::to_value(&c)?,
                    &format!(
                        "These settings are protected: the reset waits for another administrator (change {}).",
                        c.id
                    ),
                );
            }
            super::ack(
                ctx.format,
                serde_json::json!({"role": role, "scope": scope, "reset": true}),
                &format!("{role} at {scope} now inherits its settings."),
            )
        }
        SettingsCommand::List { role } => {
            let role_id = match role {
                Some(r) => Some(resolve::role_id(&client, &r).await?),
                None => None,
            };
            let page = client.list_settings(role_id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut names = Names::new(&client);
            let mut t = Table::new(&["ROLE", "SCOPE", "MAX", "MFA", "JUSTIFICATION", "TICKET", "APPROVAL"]);
            for e in &page.items {
                let s = &e.settings;
                t.row(vec![
                    names.role(e.role_id).await,
                    e.scope.to_string(),
                    format_minutes(u64::from(s.activation_max_minutes)),
                    yes_no(s.require_mfa_on_activation),
                    yes_no(s.require_justification_on_activation),
                    yes_no(s.require_ticket_on_activation),
                    yes_no(s.require_approval_to_activate),
                ]);
            }
            output::print(&t.render())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_api::PrincipalId;

    #[test]
    fn flags_change_only_what_they_name() {
        let mut s = RoleSettings::default();
        let args = SettingsFlags {
            max_duration: Some(240),
            require_mfa: Some(false),
            require_approval: Some(true),
            approval_timeout: Some(120),
            ..Default::default()
        };
        let approver = ApproverRef { kind: PrincipalKind::User, id: PrincipalId::new() };
        apply(&mut s, &args, ApproverLists { first: Some(vec![approver.clone()]), ..Default::default() }).unwrap();
        assert_eq!(s.activation_max_minutes, 240);
        assert!(!s.require_mfa_on_activation);
        assert!(s.require_approval_to_activate);
        assert!(s.require_justification_on_activation, "untouched");
        assert_eq!(s.approval_stages.len(), 1);
        assert_eq!(s.approval_stages[0].approvers, vec![approver]);
        assert_eq!(s.approval_stages[0].timeout_minutes, 120);
        assert_eq!(s.approval_stages[0].required_approvals, 1);

        let more = SettingsFlags { required_approvals: Some(2), ..Default::default() };
        apply(&mut s, &more, ApproverLists::default()).unwrap();
        assert_eq!(s.approval_stages[0].required_approvals, 2);
        assert_eq!(s.approval_stages[0].approvers.len(), 1, "kept");

        // Escalation of the first stage, then a second stage, then no second stage.
        let boss = ApproverRef { kind: PrincipalKind::Group, id: PrincipalId::new() };
        let esc = SettingsFlags { escalate_after: Some(30), ..Default::default() };
        assert!(apply(&mut s.clone(), &esc, ApproverLists::default()).is_err(), "needs --escalate-to");
        let lists = ApproverLists { escalation: Some(vec![boss.clone()]), ..Default::default() };
        apply(&mut s, &esc, lists).unwrap();
        let e = s.approval_stages[0].escalation.clone().expect("escalation");
        assert_eq!((e.approvers, e.after_minutes), (vec![boss.clone()], 30));
        let two = SettingsFlags { second_stage_required_approvals: Some(2), ..Default::default() };
        apply(&mut s, &two, ApproverLists { second: Some(vec![boss.clone()]), ..Default::default() }).unwrap();
        assert_eq!(s.approval_stages.len(), 2);
        assert_eq!((s.approval_stages[1].approvers.clone(), s.approval_stages[1].required_approvals), (vec![boss], 2));
        let one = SettingsFlags { no_second_stage: true, ..Default::default() };
        apply(&mut s, &one, ApproverLists::default()).unwrap();
        assert_eq!(s.approval_stages.len(), 1);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn ssh_principal_flags_replace_or_clear_the_list() {
        let mut s = RoleSettings { ssh_principals: vec!["old".into()], ..Default::default() };
        apply(&mut s, &SettingsFlags::default(), ApproverLists::default()).unwrap();
        assert_eq!(s.ssh_principals, ["old"], "untouched without the flag");
        let set = SettingsFlags { ssh_principals: vec!["root".into(), " deploy".into()], ..Default::default() };
        apply(&mut s, &set, ApproverLists::default()).unwrap();
        assert_eq!(s.ssh_principals, ["root", "deploy"]);
        let none = SettingsFlags { no_ssh_principals: true, ..Default::default() };
        apply(&mut s, &none, ApproverLists::default()).unwrap();
        assert!(s.ssh_principals.is_empty());
    }
}
