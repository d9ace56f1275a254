//! `pim alerts`: security alerts (list, show, evaluate, dismiss, remediate) and their rules.

use std::collections::BTreeMap;

use pim_api::{Alert, AlertId, AlertRule, AlertState, Severity, UpdateAlertRule};

use super::Ctx;
use super::output::{self, Format, Table, listing, opt_time, time, yes_no};

/// `pim alerts ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// List alerts (active ones by default), newest first.
    List {
        /// Which alerts: active, dismissed, resolved or all.
        #[arg(long, default_value = "active", value_name = "active|dismissed|resolved|all")]
        state: String,
    },
    /// Show an alert with its affected principals, roles and scopes.
    Show {
        /// The alert's id.
        id: AlertId,
    },
    /// Evaluate every rule now and list the active alerts.
    Evaluate,
    /// Dismiss an active alert.
    Dismiss {
        /// The alert's id.
        id: AlertId,
        /// Why (required).
        #[arg(short = 'r', long)]
        reason: String,
    },
    /// Apply the fix of a remediable alert.
    Remediate {
        /// The alert's id.
        id: AlertId,
    },
    /// The alert rules; `pim alerts rules set RULE ...` changes one.
    Rules {
        #[command(subcommand)]
        command: Option<RulesCommand>,
    },
}

/// `pim alerts rules ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Change a rule's enabled flag, severity or thresholds.
    Set {
        /// The rule id, e.g. frequentActivations.
        rule: String,
        /// Turn the rule on.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Turn the rule off (its alerts are resolved at the next evaluation).
        #[arg(long)]
        disable: bool,
        /// The severity of the alerts it raises.
        #[arg(long, value_parser = parse_severity, value_name = "low|medium|high")]
        severity: Option<Severity>,
        /// A threshold as NAME=VALUE, e.g. activations=4 (repeatable).
        #[arg(long = "threshold", short = 't', value_parser = parse_threshold, value_name = "NAME=VALUE")]
        thresholds: Vec<(String, i64)>,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        _ => Err(format!("'{s}' is not a severity: use low, medium or high")),
    }
}

fn parse_threshold(s: &str) -> Result<(String, i64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("'{s}' is not NAME=VALUE"))?;
    let v = v.trim().parse::<i64>().map_err(|_| format!("'{v}' is not a whole number"))?;
    Ok((k.trim().to_owned(), v))
}

fn parse_state(s: &str) -> anyhow::Result<Option<AlertState>> {
    if s == "all" {
        return Ok(None);
    }
    AlertState::parse(s)
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("'{s}' is not an alert state: use active, dismissed, resolved or all"))
}

fn alerts_table(alerts: &[Alert]) -> String {
    let mut t = Table::new(&["ID", "RULE", "SEVERITY", "STATE", "ITEMS", "RAISED", "TITLE"]);
    for a in alerts {
        t.row(vec![
            a.id.to_string(),
            a.rule_id.clone(),
            a.severity.as_str().to_owned(),
            a.state.as_str().to_owned(),
            a.items.len().to_string(),
            time(a.raised_at),
            a.title.clone(),
        ]);
    }
    t.render()
}

fn render_alert(a: &Alert) -> String {
    let mut s = listing(&[
        ("id", a.id.to_string()),
        ("rule", a.rule_id.clone()),
        ("severity", a.severity.as_str().to_owned()),
        ("state", a.state.as_str().to_owned()),
        ("title", a.title.clone()),
        ("raised", time(a.raised_at)),
        ("updated", time(a.updated_at)),
        ("resolved", opt_time(a.resolved_at)),
        ("dismissed", opt_time(a.dismissed_at)),
        ("reason", a.dismiss_reason.clone().unwrap_or_default()),
    ]);
    let mut t = Table::new(&["PRINCIPAL", "ROLE", "SCOPE", "ASSIGNMENT", "DETAIL"]);
    for i in &a.items {
        t.row(vec![
            i.principal_id.map(|p| p.to_string()).unwrap_or_default(),
            i.role_id.map(|r| r.to_string()).unwrap_or_default(),
            i.scope.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            i.assignment_id.map(|x| x.to_string()).unwrap_or_default(),
            i.detail.clone(),
        ]);
    }
    s.push('\n');
    s.push_str(&t.render());
    s
}

fn rules_table(rules: &[AlertRule]) -> String {
    let mut t = Table::new(&["RULE", "SEVERITY", "ENABLED", "REMEDIABLE", "THRESHOLDS", "NAME"]);
    for r in rules {
        let th: Vec<String> = r.thresholds.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.row(vec![
            r.id.clone(),
            r.severity.as_str().to_owned(),
            yes_no(r.enabled),
            yes_no(r.remediable),
            th.join(" "),
            r.name.clone(),
        ]);
    }
    t.render()
}

/// Runs `pim alerts ...`.
pub async fn run(ctx: &Ctx, command: AlertsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match command {
        AlertsCommand::List { state } => {
            let page = client.list_alerts(parse_state(&state)?).await?;
            output::show(ctx.format, &page, || alerts_table(&page.items))
        }
        AlertsCommand::Show { id } => {
            let a = client.get_alert(id).await?;
            output::show(ctx.format, &a, || render_alert(&a))
        }
        AlertsCommand::Evaluate => {
            let page = client.evaluate_alerts().await?;
            output::show(ctx.format, &page, || alerts_table(&page.items))
        }
        AlertsCommand::Dismiss { id, reason } => {
            let a = client.dismiss_alert(id, &reason).await?;
            output::show(ctx.format, &a, || render_alert(&a))
        }
        AlertsCommand::Remediate { id } => {
            let r = client.remediate_alert(id).await?;
            output::show(ctx.format, &r, || {
                let mut s = r.changes.iter().map(|c| format!("- {c}\n")).collect::<String>();
                if s.is_empty() {
                    s.push_str("nothing to change\n");
                }
                if let Some(a) = &r.alert {
                    s.push_str(&format!("alert {} is now {}", a.id, a.state.as_str()));
                }
                s
            })
        }
        AlertsCommand::Rules { command: None } => {
            let page = client.list_alert_rules().await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            output::print(&rules_table(&page.items))
        }
        AlertsCommand::Rules { command: Some(RulesCommand::Set { rule, enable, disable, severity, thresholds }) } => {
            let body = UpdateAlertRule {
                severity,
                enabled: if enable {
                    Some(true)
                } else if disable {
                    Some(false)
                } else {
                    None
                },
                thresholds: thresholds.into_iter().collect::<BTreeMap<_, _>>(),
            };
            let r = client.update_alert_rule(&rule, &body).await?;
            output::show(ctx.format, &r, || rules_table(std::slice::from_ref(&r)))
        }
    }
}
