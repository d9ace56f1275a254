//! Notifications: the delivery status of what pim sent (or will send) by email and webhooks.

use pim_domain::{DeliveryStatus, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Query of `GET /api/v1/notifications` (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only notifications in this delivery status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub status: Option<DeliveryStatus>,
    /// Only notifications of this event, e.g. `role.activated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Only notifications about this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// Page size, 1-1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_camel_case_and_statuses_are_lower_case() {
        let q = NotificationQuery {
            status: Some(DeliveryStatus::Pending),
            request_id: Some(RequestId(uuid::Uuid::nil())),
            ..Default::default()
        };
        let s = serde_urlencoded::to_string(&q).unwrap_or_default();
        assert_eq!(s, "status=pending&requestId=00000000-0000-0000-0000-000000000000");
        assert!(serde_urlencoded::from_str::<NotificationQuery>("status=Pending").is_err());
    }
}
