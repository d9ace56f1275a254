//! Reminders of an assignment's end: 14 days and 1 day before it (assignments, not activations),
//! and a notice at the end (every assignment that reaches its end, activations included; written by
//! `record_expirations` with the expiry). Each is sent once: `assignments.reminder_stage` records
//! which was sent, and when several are due at once (the jobs did not run for a while) only the
//! latest goes out.

use pim_domain::time::DAY_MS;
use pim_domain::{Assignment, Timestamp};
use pim_store::{AnyConnection, q};

use super::compose::{EndNotice, Facts, end_notice};
use super::{Audience, RuleEvent, by_rule};
use crate::engine::Engine;
use crate::error::Result;
use crate::roles::settings_at;

/// The first reminder goes out this long before the end.
pub const REMINDER_FIRST_MS: i64 = 14 * DAY_MS;
/// The second reminder goes out this long before the end.
pub const REMINDER_SECOND_MS: i64 = DAY_MS;
/// Assignments reminded per transaction.
const BATCH: i64 = 100;

impl Engine {
    /// Writes the reminders that are due now. Returns how many were written (one per assignment).
    pub async fn send_reminders(&self) -> Result<usize> {
        let now = self.now();
        let mut sent = 0;
        loop {
            let mut tx = self.store.write(now).await?;
            let due = q::due_reminders(tx.conn(), now, REMINDER_FIRST_MS, REMINDER_SECOND_MS, BATCH).await?;
            if due.is_empty() {
                break;
            }
            for (a, stage) in &due {
                self.notify_end(tx.conn(), now, a, EndNotice::Soon { stage: *stage }).await?;
                q::set_reminder_stage(tx.conn(), a.id, *stage).await?;
                sent += 1;
            }
            tx.commit().await?;
        }
        Ok(sent)
    }

    /// The assignee (a user, or a group's members) is told, under the requester rule of the
    /// assignment's event.
    async fn notify_end(&self, c: &mut AnyConnection, now: Timestamp, a: &Assignment, which: EndNotice) -> Result<()> {
        let facts = Facts::of_assignment(c, a).await?;
        let notice = end_notice(&facts, a, which, now, self.options.notifications.public_url.as_deref());
        let settings = settings_at(c, a.role_id, &a.scope).await?.settings;
        let event = if a.is_activation() { RuleEvent::Activated } else { RuleEvent::of_kind(a.kind) };
        let rule = &event.rules(&settings.notifications).requester;
        let to = by_rule(rule, notice.critical, vec![Audience::Principal(a.principal_id)]);
        self.notify(c, now, &notice, &to).await
    }
}
