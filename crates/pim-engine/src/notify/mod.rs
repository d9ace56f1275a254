//! Notifications that are never lost (SPEC sections 5 and 8): notices are written to the outbox in
//! the same transaction as the change that caused them, addressed by the role's notification rules
//! (`recipients`), worded in `compose`, delivered by email and webhooks with retries (`deliver`),
//! and joined by reminders of assignments' ends (`reminders`). docs/NOTIFICATIONS.md has the table
//! of events, recipients and rules.

mod compose;
mod deliver;
mod expired;
mod recipients;
mod reminders;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use pim_domain::actions::{ASSIGNMENTS_WRITE, NOTIFICATIONS_READ, REQUESTS_APPROVE};
use pim_domain::settings::{ApproverRef, EventRecipients, NotificationRule, NotificationSettings};
use pim_domain::{
    AssignmentKind, Channel, DeliveryStatus, Notification, NotificationId, Principal, PrincipalId, Request,
    RequestAction, RequestId, RoleId, RoleSettings, ScopePath, Timestamp,
};
use pim_store::{AnyConnection, q};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};
use crate::roles::settings_at;

pub(crate) use deliver::signature;
pub use deliver::{BATCH, DeliveryReport, FIRST_RETRY_MS, LEASE_MS, MAX_RETRY_MS, backoff_ms};
pub use reminders::{REMINDER_FIRST_MS, REMINDER_SECOND_MS};

/// What happened to a request, for its notifications.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RequestEvent<'a> {
    /// Carried out or accepted: an assignment made (eligible or active), an activation in
    /// effect or granted for later, an extension or renewal applied.
    Done,
    /// Waiting for these approvers (users or groups) at stage `stage` (0-based). Critical.
    /// An empty list (extension and renewal requests) means: the principals who hold
    /// `pim.requests.approve` at the request's scope.
    ApprovalNeeded { approvers: &'a [ApproverRef], stage: usize },
    /// Escalation approvers added to a stage that nobody answered. Critical.
    Escalated { approvers: &'a [ApproverRef], stage: usize },
    /// Approved (by the name given); the requester is told.
    Approved { by: &'a str },
    /// Denied, with the approver's justification; the requester is told.
    Denied { by: &'a str, justification: Option<&'a str> },
    /// Nobody answered in time; the requester is told.
    TimedOut,
    /// The requester canceled; the approvers who were asked are told.
    Canceled { approvers: &'a [ApproverRef] },
    /// A break-glass activation (no approval): every approver and the admins are told. Critical.
    BreakGlass { approvers: &'a [ApproverRef] },
}

/// What the writer of a request has read in its transaction, so that its notices do not read it
/// again: principals, the role's name, the settings in force at the request's scope.
#[derive(Clone, Debug, Default)]
pub(crate) struct Known {
    /// Principals by id, as stored.
    pub(crate) principals: HashMap<PrincipalId, Principal>,
    /// A role's id and name.
    pub(crate) role: Option<(RoleId, String)>,
    /// The settings in force for a role at a scope.
    pub(crate) settings: Option<(RoleId, ScopePath, RoleSettings)>,
}

/// Who a notice goes to; resolved to email addresses when it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    /// A user, or a group's (nested, current) members.
    Principal(PrincipalId),
    /// Approvers: users, and groups' members.
    Approvers(Vec<ApproverRef>),
    /// The users who may perform `action` at `scope` now.
    HoldersOf { action: &'static str, scope: ScopePath },
    /// An email address as it is.
    Address(String),
}

/// What one event says, before it is addressed: one email per recipient and one delivery per
/// matching webhook are written from it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Notice {
    /// The event name, e.g. `role.activated`.
    pub(crate) event: String,
    /// Starts with `PIM: `.
    pub(crate) subject: String,
    /// Plain text: who, what, where, when, why, and how to act.
    pub(crate) text: String,
    /// Approval needed, escalation, break-glass: let through by "critical only" rules.
    pub(crate) critical: bool,
    /// Structured facts for webhooks (`data` of the JSON payload).
    pub(crate) data: serde_json::Value,
    pub(crate) principal_id: Option<PrincipalId>,
    pub(crate) role_id: Option<RoleId>,
    pub(crate) scope: Option<ScopePath>,
    pub(crate) request_id: Option<RequestId>,
}

impl Notice {
    /// A notice of `event` with `subject` (given `PIM: ` in front when it lacks it) and `text`; not
    /// critical, no data, about nothing in particular until its fields are set.
    pub(crate) fn new(event: &str, subject: &str, text: &str) -> Notice {
        let subject = if subject.starts_with("PIM: ") { subject.to_owned() } else { format!("PIM: {subject}") };
        Notice {
            event: event.to_owned(),
            subject,
            text: text.to_owned(),
            critical: false,
            data: serde_json::Value::Null,
            principal_id: None,
            role_id: None,
            scope: None,
            request_id: None,
        }
    }
}

/// How notifications are delivered (`[smtp]` and `[[webhooks]]` of pim.toml).
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyOptions {
    /// The SMTP server; without one, email notifications are written and stay pending.
    pub smtp: Option<SmtpOptions>,
    /// Webhooks that receive every matching notice.
    pub webhooks: Vec<WebhookOptions>,
    /// Attempts per notification before it is marked failed.
    pub max_attempts: u32,
    /// The server's address as people reach it, quoted in notices (e.g. `https://pim.example.com`).
    pub public_url: Option<String>,
}

/// Default of [`NotifyOptions::max_attempts`]: with the backoff, about 3 hours of retries.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

impl Default for NotifyOptions {
    fn default() -> Self {
        NotifyOptions { smtp: None, webhooks: Vec::new(), max_attempts: DEFAULT_MAX_ATTEMPTS, public_url: None }
    }
}

impl fmt::Debug for NotifyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyOptions")
            .field("smtp", &self.smtp)
            .field("webhooks", &self.webhooks)
            .field("max_attempts", &self.max_attempts)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The SMTP server notifications are sent through.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpOptions {
    /// `smtp://host:port` (no TLS), `smtp://host:port?tls=required` (STARTTLS) or
    /// `smtps://host:port` (TLS from the start); credentials may be in the URL or below.
    pub url: String,
    /// User name for SMTP AUTH.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<String>,
    /// The From address, e.g. `pim <pim@example.com>`.
    pub from: String,
}

/// `url` with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end], &rest[at..])
        }
        None => url.to_owned(),
    }
}

impl fmt::Debug for SmtpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpOptions")
            .field("url", &redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

/// The body a webhook receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WebhookFormat {
    /// pim's JSON document: id, event, subject, text, ids and data.
    #[default]
    Json,
    /// A Slack-compatible `{"text": ...}` (incoming webhooks of Slack, Mattermost, Rocket.Chat).
    Slack,
}

impl WebhookFormat {
    /// Parses `json` or `slack`.
    pub fn parse(s: &str) -> Option<WebhookFormat> {
        match s {
            "json" => Some(WebhookFormat::Json),
            "slack" => Some(WebhookFormat::Slack),
            _ => None,
        }
    }
}

/// A webhook notifications are posted to.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Its name: the recipient of its outbox rows (so the URL and secret can change).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The HMAC-SHA256 key of `X-Pim-Signature`; without one, no signature is sent.
    pub secret: Option<String>,
    /// The body's format.
    pub format: WebhookFormat,
    /// Events it receives: exact names or `prefix.*`; empty means every event.
    pub events: Vec<String>,
}

impl WebhookOptions {
    /// Whether the webhook receives `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty()
            || self.events.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => event.starts_with(prefix),
                None => p == event,
            })
    }
}

impl fmt::Debug for WebhookOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL itself can be a secret (Slack's incoming webhooks): only its origin is shown.
        let origin: String = self.url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        f.debug_struct("WebhookOptions")
            .field("name", &self.name)
            .field("url", &format!("{origin}/..."))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("format", &self.format)
            .field("events", &self.events)
            .finish()
    }
}

/// Which of the three events of the rules a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleEvent {
    AssignedEligible,
    AssignedActive,
    Activated,
}

impl RuleEvent {
    pub(crate) fn of_request(r: &Request) -> RuleEvent {
        if r.action == RequestAction::SelfActivate { RuleEvent::Activated } else { RuleEvent::of_kind(r.kind) }
    }
    pub(crate) fn of_kind(kind: AssignmentKind) -> RuleEvent {
        match kind {
            AssignmentKind::Eligible => RuleEvent::AssignedEligible,
            AssignmentKind::Active => RuleEvent::AssignedActive,
        }
    }
    pub(crate) fn rules(self, n: &NotificationSettings) -> &EventRecipients {
        match self {
            RuleEvent::AssignedEligible => &n.assigned_eligible,
            RuleEvent::AssignedActive => &n.assigned_active,
            RuleEvent::Activated => &n.eligible_member_activated,
        }
    }
}

/// Applies one rule: nothing for a non-critical notice under "critical only"; otherwise the
/// default audience (when on) and the additional addresses.
pub(crate) fn by_rule(rule: &NotificationRule, critical: bool, default: Vec<Audience>) -> Vec<Audience> {
    if rule.critical_only && !critical {
        return Vec::new();
    }
    let mut out = if rule.default_recipients { default } else { Vec::new() };
    out.extend(rule.additional_recipients.iter().cloned().map(Audience::Address));
    out
}

/// Filters for listing notifications.
#[derive(Clone, Debug, Default)]
pub struct NotificationQuery {
    /// Only in this delivery status.
    pub status: Option<DeliveryStatus>,
    /// Only of this event.
    pub event: Option<String>,
    /// Only concerning this request.
    pub request: Option<RequestId>,
    /// Page cursor: the last id of the previous page (newest first).
    pub after: Option<NotificationId>,
    /// Page size.
    pub limit: i64,
}

/// Longest event name accepted in a filter.
const MAX_EVENT_LEN: usize = 100;

impl Engine {
    /// Writes the notices `event` calls for, per the role's notification rules at the request's
    /// scope, into the outbox (same connection = same transaction as the change).
    pub(crate) async fn notify_request(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        request: &Request,
        event: RequestEvent<'_>,
    ) -> Result<()> {
        self.notify_request_known(c, now, request, event, &mut Known::default()).await
    }

    /// [`Engine::notify_request`], taking from `known` what the caller has read in the same
    /// transaction (and adding to it what is read here, for the next notice of the request).
    pub(crate) async fn notify_request_known(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        request: &Request,
        event: RequestEvent<'_>,
        known: &mut Known,
    ) -> Result<()> {
        let rows = self.request_notice_rows(c, now, request, event, known).await?;
        q::insert_notifications(c, &rows).await?;
        Ok(())
    }

    /// The outbox rows [`Engine::notify_request_known`] writes, not written yet (reading only).
    pub(crate) async fn request_notice_rows(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        request: &Request,
        event: RequestEvent<'_>,
        known: &mut Known,
    ) -> Result<Vec<Notification>> {
        let facts = compose::Facts::of_request(c, request, known).await?;
        let Some(notice) = compose::request_notice(&facts, request, &event, self.public_url()) else {
            return Ok(Vec::new());
        };
        let settings = match &known.settings {
            Some((role, scope, s)) if *role == request.role_id && *scope == request.scope => s.clone(),
            _ => {
                let s = settings_at(c, request.role_id, &request.scope).await?.settings;
                known.settings = Some((request.role_id, request.scope.clone(), s.clone()));
                s
            }
        };
        let rules = RuleEvent::of_request(request).rules(&settings.notifications);
        let critical = notice.critical;
        let admins = || vec![Audience::HoldersOf { action: ASSIGNMENTS_WRITE, scope: request.scope.clone() }];
        let approvers = |list: &[ApproverRef]| {
            if list.is_empty() {
                vec![Audience::HoldersOf { action: REQUESTS_APPROVE, scope: request.scope.clone() }]
            } else {
                vec![Audience::Approvers(list.to_vec())]
            }
        };
        // Nobody is asked to approve (or told about) their own request as an approver.
        let mut except = None;
        let to = match event {
            RequestEvent::Done => {
                let mut to = by_rule(&rules.admins, critical, admins());
                to.extend(by_rule(&rules.requester, critical, vec![Audience::Principal(request.principal_id)]));
                to
            }
            RequestEvent::ApprovalNeeded { approvers: list, .. }
            | RequestEvent::Escalated { approvers: list, .. }
            | RequestEvent::Canceled { approvers: list } => {
                except = Some(request.requested_by);
                by_rule(&rules.approvers, critical, approvers(list))
            }
            RequestEvent::Approved { .. } | RequestEvent::Denied { .. } | RequestEvent::TimedOut => {
                by_rule(&rules.requester, critical, vec![Audience::Principal(request.requested_by)])
            }
            RequestEvent::BreakGlass { approvers: list } => {
                except = Some(request.requested_by);
                let mut to = by_rule(&rules.approvers, critical, approvers(list));
                to.extend(by_rule(&rules.admins, critical, admins()));
                to
            }
        };
        // The recipients read are known to the request's next notices (and the batch's next requests).
        let (addresses, read) = self.addresses_known(c, now, &to, except, &known.principals).await?;
        known.principals.extend(read);
        Ok(self.rows_to(now, notice, addresses))
    }

    /// Lower level: one notice to explicit audiences (for events outside requests, e.g. a
    /// protected settings change waiting for a second Privileged Role Administrator).
    pub(crate) async fn notify(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        notice: &Notice,
        to: &[Audience],
    ) -> Result<()> {
        self.write_notice(c, now, notice, to, None).await
    }

    /// Writes one email row per resolved address (but `except`'s) and one row per matching webhook.
    pub(crate) async fn write_notice(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        notice: &Notice,
        to: &[Audience],
        except: Option<PrincipalId>,
    ) -> Result<()> {
        let rows = self.notice_rows(c, now, notice.clone(), to, except, &HashMap::new()).await?;
        q::insert_notifications(c, &rows).await?;
        Ok(())
    }

    /// The outbox rows [`Engine::write_notice`] writes, not written yet; the principals in
    /// `known` are taken from there (see `Engine::addresses_known`).
    pub(crate) async fn notice_rows(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        notice: Notice,
        to: &[Audience],
        except: Option<PrincipalId>,
        known: &HashMap<PrincipalId, Principal>,
    ) -> Result<Vec<Notification>> {
        let (addresses, _) = self.addresses_known(c, now, to, except, known).await?;
        Ok(self.rows_to(now, notice, addresses))
    }

    /// One email row per address and one row per webhook that wants the notice. The notice is
    /// moved into the last row (most notices have one recipient), cloned for the others.
    fn rows_to(&self, now: Timestamp, mut notice: Notice, addresses: Vec<String>) -> Vec<Notification> {
        let mut to: Vec<(Channel, String)> = addresses.into_iter().map(|a| (Channel::Email, a)).collect();
        for w in self.options.notifications.webhooks.iter().filter(|w| w.wants(&notice.event)) {
            to.push((Channel::Webhook, w.name.clone()));
        }
        let Some((channel, recipient)) = to.pop() else { return Vec::new() };
        let data = std::mem::take(&mut notice.data);
        let payload = compose::payload(&notice, data, now);
        let last = Notification {
            id: NotificationId::new(),
            created_at: now,
            event: notice.event,
            channel,
            recipient,
            subject: notice.subject,
            text: notice.text,
            payload,
            critical: notice.critical,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            delivered_at: None,
            principal_id: notice.principal_id,
            role_id: notice.role_id,
            scope: notice.scope,
            request_id: notice.request_id,
        };
        // Each row's id is drawn as it is added, so the ids follow the rows' order.
        let mut rows: Vec<Notification> = to
            .into_iter()
            .map(|(channel, recipient)| Notification { id: NotificationId::new(), channel, recipient, ..last.clone() })
            .collect();
        rows.push(Notification { id: NotificationId::new(), ..last });
        rows
    }

    fn public_url(&self) -> Option<&str> {
        self.options.notifications.public_url.as_deref()
    }

    /// Notifications and their delivery status, newest first (needs `pim.notifications.read` at `/`).
    pub async fn list_notifications(&self, ctx: &Context, query: NotificationQuery) -> Result<Vec<Notification>> {
        self.authorize_read(ctx, NOTIFICATIONS_READ, &ScopePath::root()).await?;
        if let Some(e) = &query.event
            && (e.is_empty() || e.len() > MAX_EVENT_LEN || e.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return refuse(
                pim_domain::ErrorKind::InvalidInput,
                format!("event must be 1-{MAX_EVENT_LEN} characters without spaces or control characters"),
            );
        }
        let mut c = self.store.read().await?;
        let filter = q::OutboxFilter {
            status: query.status,
            event: query.event,
            request: query.request,
            channel: None,
            after: query.after,
            limit: query.limit,
            descending: true,
        };
        Ok(q::list_notifications(&mut c, &filter).await?)
    }
}
