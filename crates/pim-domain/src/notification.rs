//! Notifications as the outbox holds them: one delivery of one notice to one recipient (an email
//! address or a configured webhook), with its delivery status.

use serde::{Deserialize, Serialize};

use crate::ids::{NotificationId, PrincipalId, RequestId, RoleId};
use crate::scope::ScopePath;
use crate::time::Timestamp;

/// How a notification is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// An email over SMTP; the recipient is an address.
    Email,
    /// A signed HTTP POST; the recipient is the name of a configured webhook.
    Webhook,
}

impl Channel {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Email, Channel::Webhook].into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a notification's delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its first or next attempt (or for SMTP to be configured).
    Pending,
    /// Accepted by the SMTP server or the webhook (2xx).
    Delivered,
    /// Given up after the maximum number of attempts.
    Failed,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 3] = [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed];
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One notification in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The notification's id; also the idempotency key a receiver sees (`X-Pim-Delivery`, and the
    /// email's `Message-ID`).
    pub id: NotificationId,
    /// When it was written (in the same transaction as the change that caused it).
    pub created_at: Timestamp,
    /// What happened, e.g. `role.activated` (see docs/NOTIFICATIONS.md).
    pub event: String,
    /// Email or webhook.
    pub channel: Channel,
    /// The email address, or the webhook's name.
    pub recipient: String,
    /// The subject (always starts with `PIM: `).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The JSON document a webhook receives (without the delivery id, added when sent).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// Whether it is critical (approval needed, escalation, break-glass): rules set to "critical
    /// only" let only these through.
    pub critical: bool,
    /// Where its delivery stands.
    pub status: DeliveryStatus,
    /// Delivery attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Timestamp,
    /// While a worker is delivering it: until when its claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<Timestamp>,
    /// The error of the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// The principal it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<PrincipalId>,
    /// The role it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<RoleId>,
    /// The scope it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopePath>,
    /// The request it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in [Channel::Email, Channel::Webhook] {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::Value::String(c.as_str().into())));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::String(s.as_str().into())));
        }
        assert_eq!(DeliveryStatus::parse("Pending"), None);
    }
}
