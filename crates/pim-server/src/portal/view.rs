//! What every portal page shares: the chrome around it (title, menu, the signed-in user, the
//! anti-forgery token, a one-time message), rendering a template into a response, the error page,
//! form bodies, and how times, windows and names are shown.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use pim_domain::{DomainError, ErrorKind, Timestamp, Window};
use pim_engine::EngineError;

use super::session::Session;

/// The menu sections; `Chrome::section` names the current one.
pub const SECTIONS: &[(&str, &str, &str)] = &[
    ("roles", "/roles", "My roles"),
    ("requests", "/requests", "My requests"),
    ("approvals", "/approvals", "Approve requests"),
    ("reviews", "/reviews", "Review access"),
    ("manage", "/manage", "Manage"),
    ("audit", "/audit", "Audit"),
];

/// One entry of the main menu.
#[derive(Clone, Debug)]
pub struct NavItem {
    /// Its address.
    pub href: &'static str,
    /// Its label.
    pub label: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// A one-time message shown at the top of the next page (after a form was sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

impl Flash {
    /// A success message.
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash { kind: "ok", text: text.into() }
    }
    /// An error message.
    pub fn error(text: impl Into<String>) -> Flash {
        Flash { kind: "error", text: text.into() }
    }
}

/// What the layout (`base.html`) needs.
#[derive(Clone, Debug)]
pub struct Chrome {
    /// The page's title (and its `h1`).
    pub title: String,
    /// The signed-in user's name, if any.
    pub user: Option<String>,
    /// The main menu (empty when signed out).
    pub nav: Vec<NavItem>,
    /// The anti-forgery token every form sends back as `csrf`.
    pub csrf: String,
    /// A message to show once.
    pub flash: Option<Flash>,
}

impl Chrome {
    /// The chrome of a page of `section` for the signed-in `session`. The Manage entry shows only
    /// to users who may read something there.
    pub fn new(session: &Session, section: &str, title: impl Into<String>) -> Chrome {
        let nav = SECTIONS
            .iter()
            .filter(|(id, _, _)| *id != "manage" || session.may_manage)
            .map(|(id, href, label)| NavItem { href, label, current: *id == section })
            .collect();
        Chrome {
            title: title.into(),
            user: Some(session.actor.name.clone()),
            nav,
            csrf: session.csrf.clone(),
            flash: session.flash.clone(),
        }
    }

    /// The chrome of a page shown before sign-in.
    pub fn anonymous(title: impl Into<String>, csrf: String) -> Chrome {
        Chrome { title: title.into(), user: None, nav: Vec::new(), csrf, flash: None }
    }
}

/// Renders a page with `status`.
pub fn render_status<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, html).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    }
}

/// Renders a page (200).
pub fn render<T: Template>(page: &T) -> Response {
    render_status(StatusCode::OK, page)
}

/// After a form: back to `to` with `flash` shown there once (303, so a reload does not resend it).
pub fn redirect_with(to: &str, flash: Flash) -> Response {
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&super::session::flash_cookie(&flash)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The chrome.
    pub chrome: Chrome,
    /// What went wrong, for people.
    pub message: String,
    /// The stable code.
    pub code: String,
}

/// A refusal or failure, shown as the error page with the status the API would give.
#[derive(Debug)]
pub struct PortalError {
    status: StatusCode,
    code: String,
    message: String,
    chrome: Option<Box<Chrome>>,
}

impl PortalError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> PortalError {
        PortalError::from(DomainError::new(kind, message))
    }
    /// Shows the error inside `chrome` (menu, user) rather than a bare page.
    pub fn within(mut self, chrome: &Chrome) -> PortalError {
        self.chrome = Some(Box::new(chrome.clone()));
        self
    }
}

impl From<DomainError> for PortalError {
    fn from(e: DomainError) -> Self {
        PortalError {
            status: crate::error::status_for(e.kind),
            code: e.code().to_owned(),
            message: e.message,
            chrome: None,
        }
    }
}

impl From<EngineError> for PortalError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Refused(d) => d.into(),
            EngineError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error in the portal");
                PortalError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal".into(),
                    message: "something went wrong inside pim; the request id in the logs tells what".into(),
                    chrome: None,
                }
            }
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let mut chrome = self.chrome.map_or_else(|| Chrome::anonymous(title, String::new()), |c| *c);
        chrome.title = title.to_owned();
        render_status(self.status, &ErrorPage { chrome, message: self.message, code: self.code })
    }
}

/// What a portal handler returns.
pub type PortalResult = Result<Response, PortalError>;

/// A principal's name (from the access index), or its id.
pub fn principal_name(s: &crate::AppState, id: pim_domain::PrincipalId) -> String {
    s.engine.index().principal(id).map_or_else(|| id.to_string(), |p| p.name)
}

/// A role's name (from the access index), or its id.
pub fn role_name(s: &crate::AppState, id: pim_domain::RoleId) -> String {
    s.engine.index().role_name(id).map_or_else(|| id.to_string(), |n| n.to_string())
}

/// The message of a refusal, or a generic one for an internal failure.
pub fn refused_text(e: &EngineError) -> String {
    match e.refusal() {
        Some(d) => d.message.clone(),
        None => "that did not work inside pim; try again".to_owned(),
    }
}

/// After a refused form: a refusal for lack of permission (or of a session) is the 403 page
/// (nothing changed); any other is a message shown back on `back`.
pub fn refused(session: &Session, back: &str, e: &EngineError) -> PortalResult {
    match e.refusal() {
        Some(d) if matches!(d.kind, ErrorKind::Forbidden | ErrorKind::Unauthenticated) => {
            Err(PortalError::from(d.clone()).within(&Chrome::new(session, "manage", "Manage")))
        }
        _ => Ok(redirect_with(back, Flash::error(refused_text(e)))),
    }
}

/// One option of a `<select>`.
pub struct Choice {
    /// Its value.
    pub value: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is selected.
    pub selected: bool,
}

/// `options` (value, label) as choices, `current` selected.
pub fn choices(options: &[(&'static str, &'static str)], current: &str) -> Vec<Choice> {
    options.iter().map(|(value, label)| Choice { value, label, selected: *value == current }).collect()
}

/// A form body (`application/x-www-form-urlencoded`), already read and checked against the
/// session's anti-forgery token by the portal's guard (see `session::guard`).
#[derive(Clone, Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty())
    }
    /// Every non-blank value of `name` (checkbox lists, repeated fields).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.trim().to_owned()).collect()
    }
    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    /// The value of `name` parsed as `T`, with a clear refusal naming the field.
    pub fn parse<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, PortalError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| PortalError::new(ErrorKind::InvalidInput, format!("{what}: '{v}' is not valid"))),
        }
    }
    /// Like [`FormData::parse`], for a field that must be there.
    pub fn require<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<T, PortalError> {
        self.parse(name, what)?.ok_or_else(|| PortalError::new(ErrorKind::InvalidInput, format!("{what} is required")))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormData {
    type Rejection = PortalError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<FormData>().cloned().ok_or_else(|| {
            PortalError::new(ErrorKind::InvalidInput, "send the form as application/x-www-form-urlencoded")
        })
    }
}

/// `2026-01-05 09:00 UTC`.
pub fn time(t: Timestamp) -> String {
    match t.to_datetime() {
        Some(d) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute())
        }
        None => t.to_rfc3339(),
    }
}

/// A time or `-`.
pub fn opt_time(t: Option<Timestamp>) -> String {
    t.map(time).unwrap_or_else(|| "-".to_owned())
}

/// A window's end: the time, or `permanent`.
pub fn end(w: &Window) -> String {
    w.end.map(time).unwrap_or_else(|| "permanent".to_owned())
}

/// A value for an `<input type="datetime-local">` (UTC, to the minute).
pub fn input_time(t: Timestamp) -> String {
    time(t).trim_end_matches(" UTC").replacen(' ', "T", 1)
}

/// Reads an `<input type="datetime-local">` value (taken as UTC) or an RFC 3339 time.
pub fn parse_input_time(s: &str, what: &str) -> Result<Timestamp, PortalError> {
    let s = s.trim();
    let with_zone = if s.len() == 16 {
        format!("{s}:00Z")
    } else if s.len() == 19 {
        format!("{s}Z")
    } else {
        s.to_owned()
    };
    Timestamp::parse_rfc3339(&with_zone)
        .map_err(|_| PortalError::new(ErrorKind::InvalidInput, format!("{what}: '{s}' is not a date and time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_inputs() {
        let t = Timestamp::parse_rfc3339("2026-01-05T09:30:00Z").unwrap();
        assert_eq!(time(t), "2026-01-05 09:30 UTC");
        assert_eq!(input_time(t), "2026-01-05T09:30");
        assert_eq!(parse_input_time("2026-01-05T09:30", "start").unwrap(), t);
        assert_eq!(parse_input_time("2026-01-05T09:30:00Z", "start").unwrap(), t);
        assert!(parse_input_time("tomorrow", "start").is_err());
    }

    #[test]
    fn forms_trim_and_refuse_with_the_field_named() {
        let f = FormData(vec![("a".into(), " x ".into()), ("b".into(), "".into()), ("n".into(), "12x".into())]);
        assert_eq!(f.get("a").as_deref(), Some("x"));
        assert_eq!(f.get("b"), None);
        assert!(f.require::<u32>("n", "Duration").unwrap_err().message.contains("Duration"));
        assert!(f.require::<u32>("missing", "Duration").unwrap_err().message.contains("required"));
    }
}
