//! Notifications (placeholder while the outbox lands on its own branch): the events requests raise.

use pim_domain::settings::ApproverRef;
use pim_domain::{Request, Timestamp};
use pim_store::AnyConnection;

use crate::engine::Engine;
use crate::error::Result;

/// What happened to a request, for its notifications.
#[allow(dead_code)]
pub(crate) enum RequestEvent<'a> {
    /// Carried out or accepted.
    Done,
    /// Waiting for these approvers at `stage`.
    ApprovalNeeded { approvers: &'a [ApproverRef], stage: usize },
    /// Escalation approvers added.
    Escalated { approvers: &'a [ApproverRef], stage: usize },
    /// Approved.
    Approved { by: &'a str },
    /// Denied.
    Denied { by: &'a str, justification: Option<&'a str> },
    /// Nobody answered in time.
    TimedOut,
    /// The requester canceled.
    Canceled { approvers: &'a [ApproverRef] },
    /// A break-glass activation.
    BreakGlass { approvers: &'a [ApproverRef] },
}

impl Engine {
    /// Writes the notices `event` calls for into the outbox.
    pub(crate) async fn notify_request(
        &self,
        _c: &mut AnyConnection,
        _now: Timestamp,
        _request: &Request,
        _event: RequestEvent<'_>,
    ) -> Result<()> {
        Ok(())
    }
}
