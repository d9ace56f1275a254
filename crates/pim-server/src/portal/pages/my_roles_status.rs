//! My roles' provisioning: where each active role stands in the connectors that map it (granted,
//! pending, failed with the last error, revoking), what ended but is still being removed, and the
//! one-time hand-out of a managed login's password (`POST /roles/credential`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use pim_domain::{Assignment, AssignmentId, ProvisionState, Timestamp};
use pim_engine::connectors::Provisioning;

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalResult, redirect_with, refused_text, render, role_name, time,
};

/// The longest error text shown beside a role, in characters.
const ERROR_CHARS: usize = 200;

/// The routes of this part.
pub fn routes() -> Router<AppState> {
    Router::new().route("/roles/credential", post(take_credential))
}

/// One connector's status beside a role: `granted in prod-db`, `failed in prod-db: ...`.
pub(super) struct StatusLine {
    /// The badge's class (`ok`, `warn`, `err`).
    pub class: &'static str,
    /// What it says.
    pub text: String,
}

/// Access that ended and is still being removed from a target.
pub(super) struct RevokingRow {
    /// The role and scope it came from (or the entitlement, when the assignment is not known).
    pub what: String,
    /// `revoking in prod-db`, with the last error of a failed attempt.
    pub text: String,
}

/// A managed login whose password waits for its user.
pub(super) struct WaitingLogin {
    pub connector: String,
    pub account: String,
    pub expires: String,
}

/// Where the signed-in user's access stands in every target, read once per page.
pub(super) struct Provisionings {
    /// `None`: no connector is configured (nothing is shown at all).
    rows: Option<Vec<Provisioning>>,
    /// The read failed: the page says so instead of showing statuses.
    pub unavailable: bool,
    /// Passwords waiting to be taken.
    pub waiting: Vec<WaitingLogin>,
}

impl Provisionings {
    /// Reads the user's provisioning and waiting logins (nothing when no connector is configured).
    pub async fn read(s: &AppState, session: &Session) -> Provisionings {
        if s.engine.connectors().is_empty() {
            return Provisionings { rows: None, unavailable: false, waiting: Vec::new() };
        }
        let me = session.actor.id.to_string();
        let (rows, mut unavailable) = match s.engine.principal_provisioning(&session.ctx, &me).await {
            Ok(rows) => (Some(rows), false),
            Err(e) => {
                tracing::warn!(error = %e, "reading the provisioning for My roles");
                (None, true)
            }
        };
        let waiting = match s.engine.waiting_credentials(&session.ctx).await {
            Ok(v) => v
                .into_iter()
                .map(|(connector, account, expires_at)| WaitingLogin {
                    connector,
                    account,
                    expires: expiry_text(expires_at),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the waiting logins for My roles");
                unavailable = true;
                Vec::new()
            }
        };
        Provisionings { rows, unavailable, waiting }
    }

    /// One line per connector that maps `a` (role and scope), or none.
    pub fn for_assignment(&self, s: &AppState, a: &Assignment) -> Vec<StatusLine> {
        let Some(rows) = &self.rows else { return Vec::new() };
        let role = role_name(s, a.role_id);
        let mut out = Vec::new();
        for h in s.engine.connectors().all() {
            let o = &h.options;
            let mut entitlements: Vec<&str> = o
                .mappings
                .iter()
                .filter(|m| m.covers(&role, a.scope.as_str()))
                .map(|m| m.entitlement.as_str())
                .collect();
            entitlements.sort_unstable();
            entitlements.dedup();
            if entitlements.is_empty() {
                continue;
            }
            let mine: Vec<&Provisioning> = rows
                .iter()
                .filter(|p| p.connector == o.name && entitlements.contains(&p.entitlement.as_str()))
                .collect();
            out.push(summarize(&o.name, entitlements.len(), &mine));
        }
        out
    }

    /// What ended and is still being revoked, named by the assignment it came from when it is
    /// among `known`.
    pub fn revoking(&self, s: &AppState, known: &[Assignment]) -> Vec<RevokingRow> {
        let Some(rows) = &self.rows else { return Vec::new() };
        rows.iter()
            .filter(|p| p.state == ProvisionState::Revoking)
            .map(|p| {
                let from = p.assignment_id.and_then(|id| find(known, id));
                let what = match from {
                    Some(a) => format!("{} at {}", role_name(s, a.role_id), a.scope),
                    None => p.entitlement.clone(),
                };
                let mut text = format!("revoking in {}", p.connector);
                if let Some(e) = p.last_error.as_deref().filter(|_| p.attempts > 0) {
                    text.push_str(&format!(" (retrying: {})", bounded(e)));
                }
                RevokingRow { what, text }
            })
            .collect()
    }
}

fn find(known: &[Assignment], id: AssignmentId) -> Option<&Assignment> {
    known.iter().find(|a| a.id == id)
}

/// The status of one connector for one role: the worst of its entitlements (failed, then
/// revoking, then pending, else granted). An entitlement without a row is pending.
fn summarize(connector: &str, wanted: usize, rows: &[&Provisioning]) -> StatusLine {
    let failed = rows.iter().find(|p| p.state == ProvisionState::Failed);
    if let Some(p) = failed {
        let e = p.last_error.as_deref().unwrap_or("no reason was recorded");
        return StatusLine { class: "err", text: format!("failed in {connector}: {}", bounded(e)) };
    }
    if rows.iter().any(|p| p.state == ProvisionState::Revoking) {
        return StatusLine { class: "warn", text: format!("revoking in {connector}") };
    }
    let granted = rows.iter().filter(|p| p.state == ProvisionState::Granted).count();
    if granted >= wanted {
        return StatusLine { class: "ok", text: format!("granted in {connector}") };
    }
    let mut text = format!("pending in {connector}");
    let retrying = rows.iter().find(|p| p.state == ProvisionState::Pending && p.attempts > 0);
    if let Some(e) = retrying.and_then(|p| p.last_error.as_deref()) {
        text.push_str(&format!(" (retrying: {})", bounded(e)));
    }
    StatusLine { class: "warn", text }
}

/// `text` on one line, at most [`ERROR_CHARS`] characters (with `…` when clipped).
fn bounded(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= ERROR_CHARS {
        return one_line;
    }
    let mut out: String = one_line.chars().take(ERROR_CHARS - 1).collect();
    out.push('…');
    out
}

fn expiry_text(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "with your access".to_owned(), time)
}

#[derive(Template)]
#[template(path = "my_roles_credential.html")]
struct CredentialPage {
    chrome: Chrome,
    connector: String,
    account: String,
    password: String,
    expires: String,
}

/// `POST /roles/credential` (`connector`): takes the password of the caller's managed login and
/// shows it on the answer, once; it is gone from pim after that.
async fn take_credential(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let connector: String = form.require("connector", "The connector")?;
    match s.engine.take_connector_credential(&session.ctx, &connector).await {
        Ok(c) => {
            let chrome = Chrome::new(&session, "roles", "Your new login");
            Ok(render(&CredentialPage {
                chrome,
                connector: c.connector,
                account: c.account,
                expires: expiry_text(c.expires_at),
                password: c.password,
            }))
        }
        Err(e) => Ok(redirect_with("/roles", Flash::error(refused_text(&e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_clipped_to_one_short_line() {
        assert_eq!(bounded("a\n  b\tc"), "a b c");
        let long = "x".repeat(1000);
        let b = bounded(&long);
        assert_eq!(b.chars().count(), ERROR_CHARS);
        assert!(b.ends_with('…'));
        assert_eq!(bounded(&"é".repeat(ERROR_CHARS)), "é".repeat(ERROR_CHARS), "characters, not bytes");
    }
}
