//! The delivery worker: claims due outbox rows in small batches with a lease, delivers each outside
//! any transaction (SMTP with lettre, webhooks with reqwest), then records it delivered, or a failed
//! attempt with exponential backoff, or, after the last attempt, failed. Failed attempts and final
//! failures are audited. Delivery is at least once: a crash between sending and recording sends
//! again after the lease, with the same `Message-ID` / `X-Pim-Delivery` for the receiver to drop.

use std::time::{Duration, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pim_domain::{AuditDraft, Channel, Notification, Timestamp};
use pim_store::q;
use sha2::Sha256;

use super::{NotifyOptions, SmtpOptions, WebhookFormat, WebhookOptions};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// Rows claimed per batch.
pub const BATCH: i64 = 10;
/// How long a claim holds: longer than a batch's deliveries can take.
pub const LEASE_MS: i64 = 5 * 60_000;
/// Delay after the first failed attempt; it doubles after each further one.
pub const FIRST_RETRY_MS: i64 = 30_000;
/// The longest delay between attempts.
pub const MAX_RETRY_MS: i64 = 60 * 60_000;
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ERROR_LEN: usize = 500;
const MAX_BATCHES_PER_RUN: usize = 100;

/// The delay before the next attempt after `failed` failed attempts: 30 s, 1 min, 2 min, ...,
/// at most 1 h.
pub fn backoff_ms(failed: i64) -> i64 {
    let doublings = u32::try_from((failed.max(1) - 1).min(20)).unwrap_or(20);
    FIRST_RETRY_MS.saturating_mul(1_i64 << doublings).min(MAX_RETRY_MS)
}

/// What one delivery run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub delivered: usize,
    /// Failed, to be tried again later.
    pub retried: usize,
    /// Failed for the last time.
    pub failed: usize,
}

/// Why an attempt failed; `permanent` ones are not retried (e.g. an address that cannot be one).
#[derive(Debug)]
struct Failure {
    message: String,
    permanent: bool,
}

impl Failure {
    fn retry(message: impl Into<String>) -> Failure {
        Failure { message: clip(message.into()), permanent: false }
    }
    fn permanent(message: impl Into<String>) -> Failure {
        Failure { message: clip(message.into()), permanent: true }
    }
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// An error and its sources, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// The SMTP transport and the From mailbox.
struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    fn new(s: &SmtpOptions) -> std::result::Result<Mailer, String> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(&s.url)
            .map_err(|e| format!("the SMTP URL {} is not usable: {e}", super::redact_url(&s.url)))?;
        if let Some(user) = &s.username {
            b = b.credentials(Credentials::new(user.clone(), s.password.clone().unwrap_or_default()));
        }
        let from: Mailbox =
            s.from.parse().map_err(|e| format!("the SMTP from address '{}' is not valid: {e}", s.from))?;
        Ok(Mailer { transport: b.timeout(Some(SMTP_TIMEOUT)).build(), from })
    }

    async fn send(&self, n: &Notification, now: Timestamp) -> std::result::Result<(), Failure> {
        let to: Mailbox = n
            .recipient
            .parse()
            .map_err(|e| Failure::permanent(format!("'{}' is not a valid email address: {e}", n.recipient)))?;
        let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(now.0).unwrap_or(0));
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(n.subject.clone())
            .message_id(Some(format!("<{}@{}>", n.id, self.from.email.domain())))
            .date(date)
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Pim-Event"), n.event.clone()))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Pim-Delivery"), n.id.to_string()))
            .body(n.text.clone())
            .map_err(|e| Failure::permanent(format!("the message cannot be built: {e}")))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| Failure::retry(format!("SMTP: {}", chain(&e))))
    }
}

impl NotifyOptions {
    /// Checks what can be checked without sending: the SMTP URL and From address, webhook names,
    /// URLs and formats.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(s) = &self.smtp {
            Mailer::new(s)?;
        }
        let mut names = std::collections::HashSet::new();
        for w in &self.webhooks {
            if w.name.trim().is_empty() || !names.insert(w.name.as_str()) {
                return Err(format!("webhook names must be present and unique ('{}')", w.name));
            }
            let parsed =
                reqwest::Url::parse(&w.url).map_err(|e| format!("webhook '{}': the url is not valid: {e}", w.name))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("webhook '{}': the url must be http:// or https://", w.name));
            }
            if w.format == WebhookFormat::Json && w.secret.as_deref().is_none_or(str::is_empty) {
                return Err(format!("webhook '{}': a json webhook needs a secret to sign its deliveries", w.name));
            }
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub(crate) fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new(); // unreachable: HMAC takes keys of any length
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's three escapes in message text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The body a webhook receives for `n`.
pub(crate) fn webhook_body(format: WebhookFormat, n: &Notification) -> Vec<u8> {
    let doc = match format {
        WebhookFormat::Json => {
            let mut doc = n.payload.clone();
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("id".into(), serde_json::json!(n.id));
            }
            doc
        }
        WebhookFormat::Slack => {
            serde_json::json!({ "text": format!("*{}*\n{}", slack_escape(&n.subject), slack_escape(&n.text)) })
        }
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

async fn post(
    client: &reqwest::Client,
    w: &WebhookOptions,
    n: &Notification,
    now: Timestamp,
) -> std::result::Result<(), Failure> {
    let timestamp = now.0.div_euclid(1000);
    let body = webhook_body(w.format, n);
    let mut req = client
        .post(&w.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Pim-Event", n.event.as_str())
        .header("X-Pim-Delivery", n.id.to_string())
        .header("X-Pim-Timestamp", timestamp.to_string());
    if let Some(secret) = w.secret.as_deref().filter(|s| !s.is_empty()) {
        req = req.header("X-Pim-Signature", signature(secret, timestamp, &body));
    }
    match req.body(body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(Failure::retry(format!("the webhook answered HTTP {}", resp.status()))),
        // Without the URL: it can be a secret itself (Slack's incoming webhooks).
        Err(e) => Err(Failure::retry(format!("webhook: {}", chain(&e.without_url())))),
    }
}

impl Engine {
    /// Delivers the notifications that are due: claims them in batches with a lease, sends each,
    /// and records the outcome. Email rows are left pending while no SMTP server is configured.
    pub async fn deliver_notifications(&self) -> Result<DeliveryReport> {
        let opts = &self.options.notifications;
        let mailer = match &opts.smtp {
            Some(s) => match Mailer::new(s) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(error = %e, "email notifications stay pending");
                    None
                }
            },
            None => None,
        };
        let mut channels = vec![Channel::Webhook];
        if mailer.is_some() {
            channels.push(Channel::Email);
        }
        let mut http: Option<reqwest::Client> = None;
        let mut report = DeliveryReport::default();
        for _ in 0..MAX_BATCHES_PER_RUN {
            let now = self.now();
            let lease = now.plus_millis(LEASE_MS);
            let mut tx = self.store.write(now).await?;
            let batch = q::claim_notifications(tx.conn(), now, lease, &channels, BATCH).await?;
            tx.commit().await?;
            if batch.is_empty() {
                break;
            }
            for n in batch {
                if self.now() >= lease {
                    break; // the claim has lapsed: another worker may have these now
                }
                let outcome = match (n.channel, &mailer) {
                    (Channel::Email, Some(m)) => m.send(&n, self.now()).await,
                    (Channel::Email, None) => continue,
                    (Channel::Webhook, _) => match opts.webhooks.iter().find(|w| w.name == n.recipient) {
                        Some(w) => {
                            if http.is_none() {
                                http = Some(
                                    reqwest::Client::builder()
                                        .timeout(WEBHOOK_TIMEOUT)
                                        .redirect(reqwest::redirect::Policy::none())
                                        .user_agent(concat!("pim/", env!("CARGO_PKG_VERSION")))
                                        .build()
                                        .map_err(|e| EngineError::Internal(format!("HTTP client: {e}")))?,
                                );
                            }
                            match &http {
                                Some(client) => post(client, w, &n, self.now()).await,
                                None => continue,
                            }
                        }
                        None => Err(Failure::retry(format!("no webhook named '{}' is configured", n.recipient))),
                    },
                };
                self.record_outcome(&n, outcome, &mut report).await?;
            }
        }
        Ok(report)
    }

    async fn record_outcome(
        &self,
        n: &Notification,
        outcome: std::result::Result<(), Failure>,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        match outcome {
            Ok(()) => {
                if q::mark_delivered(tx.conn(), n.id, now).await? {
                    report.delivered += 1;
                    tracing::debug!(notification = %n.id, channel = n.channel.as_str(), "notification delivered");
                }
            }
            Err(f) => {
                let attempt = n.attempts + 1;
                let give_up = f.permanent || attempt >= i64::from(self.options.notifications.max_attempts);
                let next = now.plus_millis(backoff_ms(attempt));
                let changed = if give_up {
                    q::mark_failed(tx.conn(), n.id, &f.message).await?
                } else {
                    q::record_failed_attempt(tx.conn(), n.id, &f.message, next).await?
                };
                if changed {
                    tracing::warn!(
                        notification = %n.id,
                        channel = n.channel.as_str(),
                        recipient = %n.recipient,
                        attempt,
                        error = %f.message,
                        "notification delivery failed{}",
                        if give_up { "; giving up" } else { "; will retry" }
                    );
                    let event = |action: &str| AuditDraft {
                        action: action.to_owned(),
                        error_code: Some("delivery_failed".into()),
                        principal_id: n.principal_id,
                        role_id: n.role_id,
                        scope: n.scope.clone(),
                        request_id: n.request_id,
                        details: serde_json::json!({
                            "notificationId": n.id,
                            "event": n.event,
                            "channel": n.channel.as_str(),
                            "recipient": n.recipient,
                            "attempt": attempt,
                            "error": f.message,
                            "nextAttemptAt": (!give_up).then_some(next),
                        }),
                        ..AuditDraft::default()
                    };
                    tx.audit(now, event("notification.deliveryFailed")).await?;
                    if give_up {
                        tx.audit(now, event("notification.failed")).await?;
                        report.failed += 1;
                    } else {
                        report.retried += 1;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour() {
        let got: Vec<i64> = (1..=9).map(backoff_ms).collect();
        assert_eq!(got, [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]);
        assert_eq!(backoff_ms(0), 30_000);
        assert_eq!(backoff_ms(1_000), MAX_RETRY_MS);
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        let sig = signature("Jefe", 1, b"what do ya want for nothing?");
        // HMAC-SHA256("Jefe", "1.what do ya want for nothing?"), computed with Python's hmac module.
        assert_eq!(sig, "v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38");
        assert_ne!(sig, signature("Jefe", 2, b"what do ya want for nothing?"));
        assert_ne!(sig, signature("jefe", 1, b"what do ya want for nothing?"));
    }

    #[test]
    fn errors_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(400);
        let c = clip(long);
        assert!(c.len() <= MAX_ERROR_LEN + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }
}
