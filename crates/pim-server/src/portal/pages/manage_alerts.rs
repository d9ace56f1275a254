//! Manage, the Alerts tab (docs/ALERTS.md): the alerts in one state (active by default) with the
//! principals, roles and scopes they concern; evaluating every rule now; dismissing an active
//! alert with a reason; applying the fix of a remediable one (the flash says what it changed); and
//! the rules with their severity, enabled flag and thresholds, changed by those who may
//! (`pim.alerts.write` at `/`; reading needs `pim.alerts.read` there).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use pim_domain::actions::ALERTS_WRITE;
use pim_domain::alert::{Alert, AlertItem, AlertRule, AlertState, Severity, rule_def};
use pim_domain::message::count;
use pim_domain::{AlertId, ErrorKind, ScopePath};
use pim_engine::EngineError;
use pim_engine::alerts::RuleUpdate;

use super::manage::{Tab, tabs};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{Choice, choices, refused};
use crate::portal::view::{Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render, time};
use crate::portal::view::{principal_name, role_name};

/// The routes of this tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/manage/alerts", get(list_alerts))
        .route("/manage/alerts/evaluate", post(evaluate_alerts))
        .route("/manage/alerts/{id}/dismiss", post(dismiss_alert))
        .route("/manage/alerts/{id}/fix", post(fix_alert))
        .route("/manage/alert-rules/{id}", post(update_alert_rule))
}

const PAGE: &str = "/manage/alerts";

/// The states the filter offers: value, label.
const STATES: &[(&str, &str)] =
    &[("active", "Active"), ("dismissed", "Dismissed"), ("resolved", "Resolved"), ("all", "All")];

struct ItemRow {
    principal: String,
    role: String,
    scope: String,
    detail: String,
}

struct AlertCard {
    id: String,
    title: String,
    rule: String,
    severity: &'static str,
    /// The badge's class: `err` for high, `warn` for medium.
    severity_class: &'static str,
    state: &'static str,
    raised: String,
    updated: String,
    /// "Dismissed by ... at ...: reason", or "Resolved at ...".
    closed: Option<String>,
    items: Vec<ItemRow>,
    fixable: bool,
    dismissable: bool,
}

struct ThresholdField {
    name: String,
    value: i64,
    min: i64,
    max: i64,
}

struct RuleRow {
    id: String,
    name: String,
    description: String,
    severity: &'static str,
    severities: Vec<Choice>,
    enabled: bool,
    thresholds: Vec<ThresholdField>,
    remediable: bool,
}

#[derive(Template)]
#[template(path = "manage_alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    states: Vec<Choice>,
    state_label: &'static str,
    alerts: Vec<AlertCard>,
    rules: Vec<RuleRow>,
    may_write: bool,
}

/// The severity's name and badge class.
fn severity(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::High => ("high", "err"),
        Severity::Medium => ("medium", "warn"),
        Severity::Low => ("low", ""),
    }
}

fn item_row(s: &AppState, i: &AlertItem) -> ItemRow {
    ItemRow {
        principal: i.principal_id.map(|p| principal_name(s, p)).unwrap_or_else(|| "-".into()),
        role: i.role_id.map(|r| role_name(s, r)).unwrap_or_else(|| "-".into()),
        scope: i.scope.as_ref().map_or_else(|| "-".into(), ScopePath::to_string),
        detail: i.detail.clone(),
    }
}

fn card(s: &AppState, a: &Alert, rules: &[AlertRule], may_write: bool) -> AlertCard {
    let (sev, class) = severity(a.severity);
    let closed = match a.state {
        AlertState::Dismissed => Some(format!(
            "Dismissed by {} at {}: {}",
            a.dismissed_by.map(|p| principal_name(s, p)).unwrap_or_else(|| "-".into()),
            a.dismissed_at.map(time).unwrap_or_default(),
            a.dismiss_reason.clone().unwrap_or_default()
        )),
        AlertState::Resolved => Some(format!("Resolved at {}", a.resolved_at.map(time).unwrap_or_default())),
        AlertState::Active => None,
    };
    let active = a.state == AlertState::Active;
    AlertCard {
        id: a.id.to_string(),
        title: a.title.clone(),
        rule: rules.iter().find(|r| r.id == a.rule_id).map_or_else(|| a.rule_id.clone(), |r| r.name.clone()),
        severity: sev,
        severity_class: class,
        state: a.state.as_str(),
        raised: time(a.raised_at),
        updated: time(a.updated_at),
        closed,
        items: a.items.iter().map(|i| item_row(s, i)).collect(),
        fixable: may_write && active && rule_def(&a.rule_id).is_some_and(|d| d.remediable),
        dismissable: may_write && active,
    }
}

/// A rule's description with its thresholds' current values in place of their names
/// ("... for `days` days" reads "... for 30 days").
fn describe(r: &AlertRule) -> String {
    let mut d = r.description.clone();
    for (name, value) in &r.thresholds {
        d = d.replace(&format!("`{name}`"), &value.to_string());
    }
    d.replace('`', "")
}

fn rule_row(r: &AlertRule) -> RuleRow {
    let def = rule_def(&r.id);
    let (sev, _) = severity(r.severity);
    RuleRow {
        id: r.id.clone(),
        name: r.name.clone(),
        description: describe(r),
        severity: sev,
        severities: choices(&[("low", "Low"), ("medium", "Medium"), ("high", "High")], sev),
        enabled: r.enabled,
        thresholds: r
            .thresholds
            .iter()
            .map(|(name, value)| {
                let d = def.and_then(|d| d.thresholds.iter().find(|t| t.name == name));
                ThresholdField {
                    name: name.clone(),
                    value: *value,
                    min: d.map_or(i64::MIN, |t| t.min),
                    max: d.map_or(i64::MAX, |t| t.max),
                }
            })
            .collect(),
        remediable: r.remediable,
    }
}

/// `GET /manage/alerts?state=active|dismissed|resolved|all`.
async fn list_alerts(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PortalResult {
    let chrome = Chrome::new(&session, "manage", "Alerts");
    let query = FormData(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect());
    let state_text = query.get("state").unwrap_or_else(|| "active".into());
    let state = match state_text.as_str() {
        "all" => None,
        other => Some(AlertState::parse(other).ok_or_else(|| {
            PortalError::new(ErrorKind::InvalidInput, "state must be active, dismissed, resolved or all")
                .within(&chrome)
        })?),
    };
    let fail = |e: EngineError| PortalError::from(e).within(&chrome);
    let alerts = s.engine.list_alerts(&session.ctx, state).await.map_err(fail)?;
    let rules = s.engine.list_alert_rules(&session.ctx).await.map_err(fail)?;
    let may_write = session.allowed(&s, ALERTS_WRITE, &ScopePath::root());
    let state_label = STATES.iter().find(|(v, _)| *v == state_text).map_or("Active", |(_, l)| l);
    Ok(render(&AlertsPage {
        tabs: tabs(&s, &session, "alerts"),
        states: choices(STATES, &state_text),
        state_label,
        alerts: alerts.iter().map(|a| card(&s, a, &rules, may_write)).collect(),
        rules: rules.iter().map(rule_row).collect(),
        may_write,
        chrome,
    }))
}

fn alert_id(session: &Session, raw: &str) -> Result<AlertId, PortalError> {
    raw.parse().map_err(|_| {
        PortalError::new(ErrorKind::NotFound, format!("there is no alert '{raw}'"))
            .within(&Chrome::new(session, "manage", ""))
    })
}

/// `POST /manage/alerts/evaluate`.
async fn evaluate_alerts(State(s): State<AppState>, session: Session, _: FormData) -> PortalResult {
    match s.engine.evaluate_alerts(&session.ctx).await {
        Ok(active) => Ok(redirect_with(
            PAGE,
            Flash::ok(format!("Every rule was evaluated: {}.", count(active.len(), "active alert", "active alerts"))),
        )),
        Err(e) => refused(&session, PAGE, &e),
    }
}

/// `POST /manage/alerts/{id}/dismiss` (`reason`).
async fn dismiss_alert(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let id = alert_id(&session, &id)?;
    match s.engine.dismiss_alert(&session.ctx, id, form.get("reason")).await {
        Ok(a) => Ok(redirect_with(PAGE, Flash::ok(format!("Dismissed: {}.", a.title)))),
        Err(e) => refused(&session, PAGE, &e),
    }
}

/// `POST /manage/alerts/{id}/fix`: applies the remediable alert's fix; the flash lists the changes.
async fn fix_alert(State(s): State<AppState>, session: Session, Path(id): Path<String>, _: FormData) -> PortalResult {
    let id = alert_id(&session, &id)?;
    match s.engine.remediate_alert(&session.ctx, id).await {
        Ok(r) => {
            // The changes name roles by id; people read names.
            let mut changes = r.changes.join("; ");
            for role in r.alert.iter().flat_map(|a| a.items.iter()).filter_map(|i| i.role_id) {
                changes = changes.replace(&format!("role {role}"), &role_name(&s, role));
            }
            let resolved = r.alert.as_ref().is_some_and(|a| a.state == AlertState::Resolved);
            let text = match (changes.is_empty(), resolved) {
                (true, _) => "Fixed: nothing needed changing.".to_owned(),
                (false, true) => format!("Fixed: {changes}. The alert is resolved."),
                (false, false) => format!("Fixed: {changes}."),
            };
            Ok(redirect_with(PAGE, Flash::ok(text)))
        }
        Err(e) => refused(&session, PAGE, &e),
    }
}

/// `POST /manage/alert-rules/{id}` (`severity`, `enabled`, `threshold_<name>`).
async fn update_alert_rule(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: FormData,
) -> PortalResult {
    let severity = match form.get("severity").as_deref() {
        None => None,
        Some("low") => Some(Severity::Low),
        Some("medium") => Some(Severity::Medium),
        Some("high") => Some(Severity::High),
        Some(other) => {
            return Ok(redirect_with(PAGE, Flash::error(format!("Severity: '{other}' is not low, medium or high."))));
        }
    };
    let mut thresholds = BTreeMap::new();
    for t in rule_def(&id).map(|d| d.thresholds).unwrap_or_default() {
        if let Some(v) = form.get(&format!("threshold_{}", t.name)) {
            match v.parse::<i64>() {
                Ok(n) => thresholds.insert(t.name.to_owned(), n),
                Err(_) => {
                    return Ok(redirect_with(
                        PAGE,
                        Flash::error(format!("Threshold {}: '{v}' is not a whole number.", t.name)),
                    ));
                }
            };
        }
    }
    let update = RuleUpdate { severity, enabled: Some(form.checked("enabled")), thresholds };
    match s.engine.update_alert_rule(&session.ctx, &id, update).await {
        Ok(r) => Ok(redirect_with(
            PAGE,
            Flash::ok(format!("Rule saved: {} is {}.", r.name, if r.enabled { "enabled" } else { "disabled" })),
        )),
        Err(e) => refused(&session, PAGE, &e),
    }
}
