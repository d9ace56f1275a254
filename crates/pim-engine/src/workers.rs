//! Background work: record expirations in the audit history (with their notices), move future
//! grants into effect, remind of assignments' ends, deliver notifications, and drop ended
//! assignments from the index. Access itself never waits for these.

use std::time::Duration;

use pim_domain::{AuditDraft, RequestStatus};
use pim_store::q;

use crate::engine::Engine;
use crate::error::Result;

/// Ended assignments recorded per write transaction.
pub const EXPIRY_BATCH: i64 = 1_000;

impl Engine {
    /// Records every assignment that has reached its end since the last run. Returns how many.
    ///
    /// [`EXPIRY_BATCH`] assignments per write transaction: their `assignment.expired` events, their
    /// notices and their marks are written together (multi-row statements), so each event commits
    /// with its mark or not at all, and a crash or a second server's worker (writers are
    /// serialized; the batch is read inside the transaction) never records one twice. Each batch
    /// of a pass starts after the (end, id) where the last one ended; an assignment that ends at or
    /// before the pass's `now` but is written behind that point meanwhile is left to the next pass.
    pub async fn record_expirations(&self) -> Result<usize> {
        let now = self.now();
        let (mut done, mut after) = (0, None);
        loop {
            let mut tx = self.store.write(now).await?;
            let batch = q::unrecorded_expirations_after(tx.conn(), now, after, EXPIRY_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let ended: Vec<_> = batch.iter().filter(|a| a.ended_early_at.is_none()).cloned().collect();
            let events = ended
                .iter()
                .map(|a| {
                    let end = a.window.end.unwrap_or(now);
                    AuditDraft {
                        action: "assignment.expired".into(),
                        principal_id: Some(a.principal_id),
                        role_id: Some(a.role_id),
                        scope: Some(a.scope.clone()),
                        details: serde_json::json!({ "assignmentId": a.id, "kind": a.kind.as_str(), "end": end }),
                        ..AuditDraft::default()
                    }
                })
                .collect();
            tx.audit_many(now, events).await?;
            self.notify_expired_batch(tx.conn(), now, &ended).await?;
            after = batch.last().map(|a| (a.window.end.unwrap_or(now), a.id));
            let ids: Vec<_> = batch.iter().map(|a| a.id).collect();
            q::mark_expiries_recorded(tx.conn(), &ids).await?;
            tx.commit().await?;
            done += ended.len();
        }
        self.index.prune(now);
        Ok(done)
    }

    /// How long until the next assignment ends (by the engine's clock), if one is due within `cap`.
    pub async fn until_next_end(&self, cap: Duration) -> Result<Option<Duration>> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let next = q::next_unrecorded_end(&mut c, now).await?;
        Ok(next.map(|t| Duration::from_millis(u64::try_from(t.0 - now.0).unwrap_or(0))).filter(|d| *d <= cap))
    }

    /// Marks granted requests whose start has come as provisioned. Returns how many.
    pub async fn provision_due_grants(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let filter = q::RequestFilter { status: Some(RequestStatus::Granted), ..Default::default() };
        let mut n = 0;
        for mut r in q::list_requests(tx.conn(), &filter).await? {
            if r.window.start <= now {
                r.status = RequestStatus::Provisioned;
                r.updated_at = now;
                q::update_request(tx.conn(), &r).await?;
                let event = AuditDraft {
                    action: "request.provisioned".into(),
                    principal_id: Some(r.principal_id),
                    role_id: Some(r.role_id),
                    scope: Some(r.scope.clone()),
                    request_id: Some(r.id),
                    details: serde_json::json!({ "assignmentId": r.target_assignment, "start": r.window.start }),
                    ..AuditDraft::default()
                };
                tx.audit(now, event).await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// One pass of every periodic job.
    pub async fn run_jobs_once(&self) -> Result<()> {
        self.advance_approvals().await?;
        self.provision_due_grants().await?;
        self.record_expirations().await?;
        self.send_reminders().await?;
        self.run_reviews().await?;
        self.evaluate_alerts_if_due().await?;
        self.prune_feed().await?;
        self.prune_audit().await?;
        self.prune_connector_records().await?;
        self.run_key_jobs().await?;
        Ok(())
    }

    /// Forgets connector records revoked more than a week ago (the audit history keeps what happened).
    pub async fn prune_connector_records(&self) -> Result<u64> {
        if self.connectors.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let n = q::prune_revoked_grants(tx.conn(), pim_domain::Timestamp(now.0 - 7 * pim_domain::time::DAY_MS)).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Runs the periodic jobs, and the delivery of notifications beside them (so a slow mail
    /// server never holds up the jobs), every `every` until the task is aborted; and records
    /// expirations as soon as assignments end (see [`record_at_each_end`]).
    pub fn spawn_workers(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let (jobs, mail) = (self.clone(), self.clone());
        tokio::spawn(async move {
            let ends = jobs.clone();
            tokio::join!(
                run_every(jobs, every, "the background jobs", |e| async move { e.run_jobs_once().await }),
                record_at_each_end(ends, every),
                run_every(mail, every, "notification delivery", |e| async move {
                    e.deliver_notifications().await.map(|_| ())
                }),
            );
        })
    }
}

/// Records expirations at each assignment's end rather than at the next tick of the jobs: sleeps
/// until the next unrecorded end (looked up in the store, so ends written by another server count
/// too), or `every` when none is due sooner, then records what has ended. An end written while
/// it sleeps and due before it wakes is recorded at the wake-up, at most `every` late, as before.
async fn record_at_each_end(engine: Engine, every: Duration) {
    loop {
        if let Err(e) = engine.record_expirations().await {
            tracing::warn!(error = %e, "recording expirations failed; retrying");
        }
        let wait = match engine.until_next_end(every).await {
            Ok(Some(d)) => d,
            Ok(None) => every,
            Err(e) => {
                tracing::warn!(error = %e, "looking up the next end failed");
                every
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// Runs `job` every `every` until the task is dropped; a failure is logged and retried at the next tick.
pub(crate) fn spawn_every<F, Fut>(
    engine: Engine,
    every: Duration,
    what: &'static str,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Engine) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    tokio::spawn(run_every(engine, every, what, job))
}

/// The loop of [`spawn_every`].
async fn run_every<F, Fut>(engine: Engine, every: Duration, what: &'static str, job: F)
where
    F: Fn(Engine) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = job(engine.clone()).await {
            tracing::warn!(error = %e, "{what} failed; retrying at the next tick");
        }
    }
}
