//! The change feed between replicas: every write records which entities it changed (in the same
//! transaction); every replica polls the feed and reloads those entities into its access index, so
//! its checks follow changes made by the others within a poll interval.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pim_domain::{AssignmentId, PrincipalId, RoleId, Timestamp};
use pim_store::{AnyConnection, WriteTx, q};

use crate::engine::{Engine, index_principal};
use crate::error::Result;

/// How long feed entries are kept; a replica further behind reloads its whole index.
pub const FEED_RETENTION_MS: i64 = pim_domain::time::DAY_MS;

/// An entity whose change the access index must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Principal(PrincipalId),
    Membership(PrincipalId, PrincipalId),
    Role(RoleId),
    /// An assignment, and the principal it is on.
    Assignment(AssignmentId, PrincipalId),
}

impl Change {
    /// The principal whose access the change may alter (a group stands for its members).
    pub(crate) fn principal(&self) -> Option<PrincipalId> {
        match self {
            Change::Principal(p) | Change::Membership(_, p) | Change::Assignment(_, p) => Some(*p),
            Change::Role(_) => None,
        }
    }
}

/// Records feed entries for `changes` in the transaction: written at its commit, with the others
/// recorded in it, in one statement.
pub(crate) fn record(tx: &mut WriteTx, now: Timestamp, changes: &[Change]) {
    for ch in changes {
        let (kind, entity) = match ch {
            Change::Principal(id) => ("principal", id.to_string()),
            Change::Membership(g, m) => ("membership", format!("{g}:{m}")),
            Change::Role(id) => ("role", id.to_string()),
            Change::Assignment(id, _) => ("assignment", id.to_string()),
        };
        tx.record_change_later(kind, entity, now);
    }
}

impl Engine {
    /// Applies the feed entries written since the last call (by any replica, this one included:
    /// applying is idempotent). Returns how many entries were applied.
    pub async fn follow_changes(&self) -> Result<usize> {
        // One follower at a time: two applying the same entries from different snapshots could
        // leave the older state in the index.
        let _one = self.follow_lock.lock().await;
        let now = self.now();
        let last = self.followed_at.swap(now.0, Ordering::SeqCst);
        if now.0 - last > FEED_RETENTION_MS / 2 {
            // This replica has not followed for so long that entries may have been pruned unseen.
            self.reload_index().await?;
            return Ok(0);
        }
        let mut c = self.store.read().await?;
        let mut applied = 0;
        loop {
            let after = self.applied_seq.load(Ordering::SeqCst);
            let batch = q::changes_after(&mut c, after, 500).await?;
            let Some(last) = batch.last().map(|r| r.seq) else { break };
            // Each run of assignment entries is read in one statement, not one each (an
            // activation is one entry: a statement per activation on every replica, this one
            // included), right before it is applied, in the feed's order.
            let mut rest = &batch[..];
            while let Some(first) = rest.first() {
                if first.kind != "assignment" {
                    self.apply_change(&mut c, &first.kind, &first.entity).await?;
                    rest = &rest[1..];
                    continue;
                }
                let n = rest.iter().take_while(|r| r.kind == "assignment").count();
                let (run, after) = rest.split_at(n);
                rest = after;
                let ids: Vec<AssignmentId> = run.iter().filter_map(|r| r.entity.parse().ok()).collect();
                let read: HashMap<AssignmentId, pim_domain::Assignment> =
                    q::get_assignments(&mut c, &ids).await?.into_iter().map(|a| (a.id, a)).collect();
                for id in ids {
                    match read.get(&id) {
                        Some(a) => self.index.upsert_assignment(a),
                        None => self.index.remove_assignment(id),
                    }
                }
            }
            applied += batch.len();
            self.applied_seq.store(last, Ordering::SeqCst);
        }
        Ok(applied)
    }

    async fn apply_change(&self, c: &mut AnyConnection, kind: &str, entity: &str) -> Result<()> {
        match kind {
            "principal" => {
                if let Ok(id) = entity.parse::<PrincipalId>()
                    && let Some(p) = q::get_principal(c, id).await?
                {
                    self.index.upsert_principal(index_principal(&p));
                    // Tokens another replica revoked with the change (disabling) are read again.
                    self.tokens.forget_principal(id);
                }
            }
            "membership" => {
                let mut parts = entity.split(':').map(str::parse::<PrincipalId>);
                if let (Some(Ok(g)), Some(Ok(m))) = (parts.next(), parts.next()) {
                    let present = q::list_members(c, g).await?.contains(&m);
                    self.index.set_membership(g, m, present);
                }
            }
            "role" => {
                if let Ok(id) = entity.parse::<RoleId>() {
                    match q::get_role(c, id).await? {
                        Some(r) => self.index.upsert_role(r),
                        None => self.index.remove_role(id),
                    }
                }
            }
            "assignment" => {
                if let Ok(id) = entity.parse::<AssignmentId>() {
                    match q::get_assignment(c, id).await? {
                        Some(a) => self.index.upsert_assignment(&a),
                        None => self.index.remove_assignment(id),
                    }
                }
            }
            other => tracing::warn!(kind = other, "unknown change kind in the feed; ignored"),
        }
        Ok(())
    }

    /// Forgets feed entries older than [`FEED_RETENTION_MS`].
    pub async fn prune_feed(&self) -> Result<u64> {
        let now = self.now();
        let mut c = self.store.read().await?;
        Ok(q::prune_changes(&mut c, now.plus_millis(-FEED_RETENTION_MS)).await?)
    }

    /// Follows the feed every `every` until the task is dropped.
    pub fn spawn_follower(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        crate::workers::spawn_every(self.clone(), every, "following the change feed", |e| async move {
            e.follow_changes().await.map(|_| ())
        })
    }
}
