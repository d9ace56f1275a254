//! Audit: for users who may read the audit history somewhere (`pim.audit.read`), the history
//! within their scopes with the filters of a GET form (time, actor, principal, role, scope, action,
//! outcome), newest first and paged; downloads as CSV and JSON with the same filters (the API's
//! export code); and a chart of activations per day over the range (the engine's activation
//! report, for those who may read reports there). Everyone else sees "My audit": their own events.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use pim_api::ExportFormat;
use pim_domain::actions::{AUDIT_READ, REPORTS_READ};
use pim_domain::time::DAY_MS;
use pim_domain::{AuditEvent, ErrorKind, Outcome, PrincipalId, ScopePath, Timestamp};
use pim_engine::EngineError;
use pim_engine::audit::AuditQuery;

use super::audit_chart::{Chart, MAX_DAYS, chart, days_in, end_of_day};
use crate::AppState;
use crate::handlers::audit::export_file;
use crate::portal::session::Session;
use crate::portal::view::{Choice, choices};
use crate::portal::view::{Chrome, FormData, PortalError, PortalResult, parse_input_time, render_status, time};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(show_audit)).route("/audit/export", get(export_audit))
}

/// Events per page.
const PAGE_SIZE: i64 = 50;

/// The filters as typed (the GET form's fields).
#[derive(Clone, Debug, Default)]
struct Filters {
    from: String,
    to: String,
    actor: String,
    principal: String,
    role: String,
    scope: String,
    action: String,
    outcome: String,
}

impl Filters {
    fn read(q: &FormData, admin: bool) -> Filters {
        let v = |k: &str| q.get(k).unwrap_or_default();
        let admin_only = |k: &str| if admin { v(k) } else { String::new() };
        Filters {
            from: v("from"),
            to: v("to"),
            actor: admin_only("actor"),
            principal: admin_only("principal"),
            role: admin_only("role"),
            scope: admin_only("scope"),
            action: v("action"),
            outcome: v("outcome"),
        }
    }

    /// The filters given, as a query string after `first` (e.g. `format=csv`).
    fn query(&self, first: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(first);
        for (k, v) in [
            ("from", &self.from),
            ("to", &self.to),
            ("actor", &self.actor),
            ("principal", &self.principal),
            ("role", &self.role),
            ("scope", &self.scope),
            ("action", &self.action),
            ("outcome", &self.outcome),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

fn principal_ref(s: &AppState, v: &str, what: &str, errors: &mut Vec<String>) -> Option<PrincipalId> {
    if v.is_empty() {
        return None;
    }
    let found = v.parse().ok().or_else(|| s.engine.index().resolve_name(v));
    if found.is_none() {
        errors.push(format!("{what}: there is no principal named '{v}'."));
    }
    found
}

fn instant(v: &str, what: &str, errors: &mut Vec<String>) -> Option<Timestamp> {
    if v.is_empty() {
        return None;
    }
    parse_input_time(v, what).map_err(|_| errors.push(format!("{what}: '{v}' is not a date and time."))).ok()
}

/// The engine's query for `f` (names resolved), or what is wrong with the filters.
async fn engine_query(
    s: &AppState,
    session: &Session,
    f: &Filters,
    cursor: Option<&str>,
) -> Result<AuditQuery, Vec<String>> {
    let mut errors = vec![];
    let from = instant(&f.from, "From", &mut errors);
    let to = instant(&f.to, "To", &mut errors);
    let actor = principal_ref(s, &f.actor, "Actor", &mut errors);
    let principal = principal_ref(s, &f.principal, "Principal", &mut errors);
    let role = match f.role.as_str() {
        "" => None,
        name => match s.engine.get_role(&session.ctx, name).await {
            Ok(r) => Some(r.id),
            Err(_) => {
                errors.push(format!("Role: there is no role named '{name}'."));
                None
            }
        },
    };
    let scope = match f.scope.as_str() {
        "" => None,
        v => ScopePath::parse(v).map_err(|e| errors.push(format!("Scope: {e}"))).ok(),
    };
    let outcome = match f.outcome.as_str() {
        "" => None,
        v => Outcome::parse(v).or_else(|| {
            errors.push(format!("Outcome: '{v}' is not success or failure."));
            None
        }),
    };
    if f.action.len() > 200 || f.action.chars().any(char::is_control) {
        errors.push("Action: give at most 200 printable characters.".into());
    }
    let before_seq = match cursor {
        None => None,
        Some(c) => crate::paging::decode::<i64>(Some(c))
            .map_err(|_| {
                errors.push("The page link is not one this server made; start again from the first page.".into())
            })
            .ok()
            .flatten(),
    };
    if let (Some(a), Some(b)) = (from, to)
        && a >= b
    {
        errors.push("From must be before To.".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let action = Some(f.action.clone()).filter(|a| !a.is_empty());
    Ok(AuditQuery { from, to, actor, principal, role, scope, action, outcome, before_seq, limit: PAGE_SIZE })
}

struct EventRow {
    at: String,
    action: String,
    outcome: &'static str,
    outcome_class: &'static str,
    error_code: Option<String>,
    actor: String,
    principal: String,
    role: String,
    scope: String,
    justification: String,
    ticket: String,
    request_id: String,
    http_request_id: String,
}

fn event_row(s: &AppState, e: &AuditEvent) -> EventRow {
    let index = s.engine.index();
    EventRow {
        at: time(e.at),
        action: e.action.clone(),
        outcome: e.outcome.as_str(),
        outcome_class: if e.outcome == Outcome::Success { "ok" } else { "err" },
        error_code: e.error_code.clone(),
        actor: e.actor_name.clone().or_else(|| e.actor_id.map(|a| a.to_string())).unwrap_or_else(|| "pim".into()),
        principal: e
            .principal_id
            .map(|p| index.principal(p).map_or_else(|| p.to_string(), |x| x.name))
            .unwrap_or_default(),
        role: e
            .role_id
            .map(|r| index.role_name(r).map_or_else(|| r.to_string(), |n| n.to_string()))
            .unwrap_or_default(),
        scope: e.scope.as_ref().map(ScopePath::to_string).unwrap_or_default(),
        justification: e.justification.clone().unwrap_or_default(),
        ticket: e.ticket.clone().unwrap_or_default(),
        request_id: e.request_id.map(|r| r.to_string()).unwrap_or_default(),
        http_request_id: e.http_request_id.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    /// The full history (filters, downloads, chart), or only "My audit".
    admin: bool,
    filters: Filters,
    outcomes: Vec<Choice>,
    errors: Vec<String>,
    events: Vec<EventRow>,
    next: Option<String>,
    csv_href: String,
    json_href: String,
    chart: Option<Chart>,
    chart_scope: String,
    chart_note: Option<String>,
}

/// `GET /audit?from=&to=&actor=&principal=&role=&scope=&action=&outcome=&cursor=`.
async fn show_audit(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PortalResult {
    let admin = !s.engine.scopes_allowing(&session.ctx, AUDIT_READ).is_empty();
    let chrome = Chrome::new(&session, "audit", if admin { "Audit history" } else { "My audit" });
    let q = FormData(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect());
    let filters = Filters::read(&q, admin);
    let fail = |e: EngineError| PortalError::from(e).within(&chrome);
    let (mut events, mut errors, mut next) = (vec![], vec![], None);
    match engine_query(&s, &session, &filters, q.get("cursor").as_deref()).await {
        Ok(query) => {
            let found = if admin {
                s.engine.list_audit(&session.ctx, query.clone()).await
            } else {
                s.engine.my_audit(&session.ctx, query.clone()).await
            }
            .map_err(fail)?;
            if found.len() as i64 >= PAGE_SIZE {
                next = found.last().map(|e| filters.query(&[("cursor", &crate::paging::encode(e.seq))]));
            }
            events = found.iter().map(|e| event_row(&s, e)).collect();
        }
        Err(e) => errors = e,
    }
    let (chart, chart_scope, chart_note) = if admin && errors.is_empty() {
        activations(&s, &session, &filters).await
    } else {
        (None, String::new(), None)
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(render_status(
        status,
        &AuditPage {
            admin,
            outcomes: choices(&[("", "Any"), ("success", "Success"), ("failure", "Failure")], &filters.outcome),
            csv_href: format!("/audit/export?{}", filters.query(&[("format", "csv")])),
            json_href: format!("/audit/export?{}", filters.query(&[("format", "json")])),
            filters,
            errors,
            events,
            next,
            chart,
            chart_scope,
            chart_note,
            chrome,
        },
    ))
}

/// The activations chart for the filters' range (default: the 30 days up to the end of today) at their scope (or
/// the broadest the user may read reports at), when the user may read reports there; else a note saying why there is none.
async fn activations(s: &AppState, session: &Session, f: &Filters) -> (Option<Chart>, String, Option<String>) {
    let mut ignored = vec![];
    let to = instant(&f.to, "To", &mut ignored).unwrap_or_else(|| end_of_day(s.engine.now()));
    let from = instant(&f.from, "From", &mut ignored).unwrap_or(Timestamp(to.0.saturating_sub(30 * DAY_MS)));
    // The filter's scope; without one, `/` or else the broadest scope where the user may read reports.
    let under = match ScopePath::parse(&f.scope) {
        Ok(sc) => sc,
        Err(_) => match s.engine.scopes_allowing(&session.ctx, REPORTS_READ).into_iter().next() {
            Some(sc) if !session.allowed(s, REPORTS_READ, &ScopePath::root()) => sc,
            _ => ScopePath::root(),
        },
    };
    if !session.allowed(s, REPORTS_READ, &under) {
        let note = format!("You may not read activation reports at {under}, so there is no chart.");
        return (None, under.to_string(), Some(note));
    }
    if from >= to {
        return (None, under.to_string(), Some("The range is empty, so there is no chart.".into()));
    }
    if days_in(&[], from, to).is_none() {
        let note = format!("The chart covers at most {MAX_DAYS} days; narrow the range to see it.");
        return (None, under.to_string(), Some(note));
    }
    match s.engine.activation_report(&session.ctx, from, to, &under).await {
        Ok(c) => (days_in(&c.by_day, from, to).and_then(chart), under.to_string(), None),
        Err(e) => (None, under.to_string(), Some(crate::portal::view::refused_text(&e))),
    }
}

/// `GET /audit/export?format=csv|json&...`: the matching events, oldest first, as a download (the
/// API's export: same columns and file names). Needs `pim.audit.read`.
async fn export_audit(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PortalResult {
    let chrome = Chrome::new(&session, "audit", "Audit export");
    // Authorized (and a refusal recorded) before names are resolved, as the API does.
    s.engine.audit_visibility(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let q = FormData(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect());
    let format = match q.get("format").as_deref() {
        Some("csv") => ExportFormat::Csv,
        Some("json") => ExportFormat::Json,
        _ => return Err(PortalError::new(ErrorKind::InvalidInput, "format must be csv or json").within(&chrome)),
    };
    let filters = Filters::read(&q, true);
    let query = engine_query(&s, &session, &filters, None)
        .await
        .map_err(|e| PortalError::new(ErrorKind::InvalidInput, e.join(" ")).within(&chrome))?;
    let events = s.engine.export_audit(&session.ctx, query).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    export_file(&events, format).map_err(|_| {
        PortalError::from(EngineError::Internal("the audit export could not be written".into())).within(&chrome)
    })
}
