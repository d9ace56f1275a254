//! The notices at the end of a batch of ended assignments (the expiry worker's), composed with
//! the look-ups the batch shares: its principals read in one statement, each role's name and
//! settings once, and every outbox row written in multi-row inserts.

use std::collections::HashMap;

use pim_domain::settings::RoleSettings;
use pim_domain::{Assignment, PrincipalId, RoleId, ScopePath, Timestamp};
use pim_store::{AnyConnection, q};

use super::compose::{EndNotice, Facts, end_notice, role_name};
use super::{Audience, RuleEvent, by_rule};
use crate::engine::Engine;
use crate::error::Result;
use crate::roles::settings_at;

impl Engine {
    /// Writes the notice that each of `batch` has reached its end (in the caller's transaction):
    /// one email per address of the assignee (a user, or a group's members) and one row per
    /// webhook, under the requester rule of the assignment's event. Returns how many rows.
    pub(crate) async fn notify_expired_batch(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        batch: &[Assignment],
    ) -> Result<usize> {
        let mut ids: Vec<PrincipalId> = batch.iter().map(|a| a.principal_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let known: HashMap<_, _> = q::get_principals(c, &ids).await?.into_iter().map(|p| (p.id, p)).collect();
        let mut roles: HashMap<RoleId, String> = HashMap::new();
        let mut settings: HashMap<(RoleId, ScopePath), RoleSettings> = HashMap::new();
        let mut rows = Vec::with_capacity(batch.len());
        for a in batch {
            let facts = match known.get(&a.principal_id) {
                Some(p) => {
                    let role = match roles.get(&a.role_id) {
                        Some(r) => r.clone(),
                        None => {
                            let r = role_name(c, a.role_id).await?;
                            roles.insert(a.role_id, r.clone());
                            r
                        }
                    };
                    Facts::of_known(p, a.role_id, role)
                }
                // Not found: the one-by-one path says so as it always has.
                None => Facts::of_assignment(c, a).await?,
            };
            let notice =
                end_notice(&facts, a, EndNotice::Expired, now, self.options.notifications.public_url.as_deref());
            let key = (a.role_id, a.scope.clone());
            if !settings.contains_key(&key) {
                let s = settings_at(c, a.role_id, &a.scope).await?.settings;
                settings.insert(key.clone(), s);
            }
            let Some(s) = settings.get(&key) else { continue };
            let event = if a.is_activation() { RuleEvent::Activated } else { RuleEvent::of_kind(a.kind) };
            let rule = &event.rules(&s.notifications).requester;
            let to = by_rule(rule, notice.critical, vec![Audience::Principal(a.principal_id)]);
            rows.extend(self.notice_rows(c, now, notice, &to, None, &known).await?);
        }
        q::insert_notifications(c, &rows).await?;
        Ok(rows.len())
    }
}
