//! Group commit of self-activations and self-deactivations: those waiting for the write lock together are carried out in turn in one transaction, each behind a savepoint, and answered after it commits.
//!
//! Every write transaction holds the head of the audit chain, so writers run one at a time and a
//! request's dozen statements and its commit (one fsync) are a lock held. Requests that arrive
//! while one is being written queue up here; whoever takes the batch lock next carries out all of
//! them in one transaction: each is planned and written exactly as on its own (it sees what the
//! ones before it wrote), behind a savepoint so that a refusal or an error undoes only its own
//! writes, and none is answered before the transaction has committed. The chain stays linear (the
//! events follow one another in the one transaction) and replicas still serialize on the chain
//! head. A request that changes a group membership ends its batch, so that every request is
//! planned with the memberships the index holds after the ones before it were committed.
//!
//! Inside the batch, what no later statement of it reads is written once for all: the audit
//! events, change-feed entries and (for an activation that changes nothing else) the request and
//! assignment rows are kept by the [`pim_store::WriteTx`] and written in one multi-row statement
//! each, before the commit; the rows of a principal are written before any later request of
//! that principal is planned, so it sees them. Principals read for notices are shared, the
//! requesters' and what the activations plan with are read once at the start
//! ([`super::prefetch`]), and a request's savepoint is taken before its first write only: one
//! that writes nothing before the commit is undone in memory ([`pim_store::WriteTx::mark`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pim_domain::{AuditDraft, Principal, PrincipalId};
use tokio::sync::oneshot;

use super::prefetch::Wanted;
use super::{RequestInput, RequestOutcome, Sharing, WrittenRequest};
use crate::context::{Actor, Context};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// Most requests carried out in one transaction.
pub(crate) const MAX_BATCH: usize = 64;

/// The requests waiting to be written and the lock of whoever writes the next batch.
#[derive(Default)]
pub(crate) struct WriteBatch {
    queue: Mutex<Vec<Job>>,
    leader: Arc<tokio::sync::Mutex<()>>,
    /// Transactions written and requests carried out in them (for tests and the log).
    stats: Mutex<BatchStats>,
    /// The distributions of batch sizes and of the time the batch lock is held (for `/metrics`).
    figures: Mutex<BatchFigures>,
}

/// Upper bounds of the buckets of [`BatchFigures::requests`] (requests per batch).
pub const BATCH_REQUESTS_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, MAX_BATCH as f64];

/// Upper bounds of the buckets of [`BatchFigures::seconds`] (seconds the batch lock is held).
pub const BATCH_SECONDS_BUCKETS: [f64; 11] =
    [0.000_25, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0];

/// A histogram as Prometheus exposes one: how many observations fell at or below each bound
/// (cumulative), their count and their sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// The buckets' upper bounds, increasing (`+Inf` is implied).
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative, one per bound).
    pub cumulative: Vec<u64>,
    /// Observations in all.
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, cumulative: vec![0; bounds.len()], count: 0, sum: 0.0 }
    }

    fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.cumulative.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

/// Group commit as `/metrics` shows it: requests per batch and seconds the batch lock was held
/// per batch (from taking the lock to the end of the commit: the transaction, its reads, its
/// requests' statements and its commit with the fsync). Throughput is at most the one over the
/// other.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchFigures {
    /// Requests carried out per batch (one observation per batch written).
    pub requests: Histogram,
    /// Seconds the batch lock was held per batch.
    pub seconds: Histogram,
}

impl Default for BatchFigures {
    fn default() -> Self {
        BatchFigures {
            requests: Histogram::new(&BATCH_REQUESTS_BUCKETS),
            seconds: Histogram::new(&BATCH_SECONDS_BUCKETS),
        }
    }
}

/// How many batches were written, with how many requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BatchStats {
    pub(crate) batches: u64,
    pub(crate) requests: u64,
    pub(crate) largest: usize,
}

struct Job {
    ctx: Context,
    actor: Actor,
    draft: AuditDraft,
    input: RequestInput,
    reply: oneshot::Sender<Result<RequestOutcome>>,
}

impl WriteBatch {
    /// Records a batch of `requests` written while the lock was held for `held`.
    fn observe(&self, requests: usize, held: Duration) {
        let mut f = self.figures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.requests.observe(requests as f64);
        f.seconds.observe(held.as_secs_f64());
    }

    /// The batch sizes and lock-held times so far.
    pub(crate) fn figures(&self) -> BatchFigures {
        self.figures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn stats(&self) -> BatchStats {
        *self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.lock_queue().len()
    }

    #[cfg(test)]
    pub(crate) fn leader(&self) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(&self.leader)
    }
}

/// Whether requests of this action go through the batch.
pub(crate) fn batched(action: pim_domain::RequestAction) -> bool {
    use pim_domain::RequestAction as A;
    matches!(action, A::SelfActivate | A::SelfDeactivate)
}

impl Engine {
    /// Queues the request, and carries out a batch whenever the batch lock is free and this
    /// request has not been carried out yet. Answers once it has been committed (or refused).
    pub(crate) async fn submit_batched(
        &self,
        ctx: &Context,
        actor: Actor,
        draft: AuditDraft,
        input: RequestInput,
    ) -> Result<RequestOutcome> {
        let (reply, mut answer) = oneshot::channel();
        self.batch.lock_queue().push(Job { ctx: ctx.clone(), actor, draft, input, reply });
        loop {
            // Answered by a batch written meanwhile: done at once, not after the next batch (whose
            // writer holds the lock).
            let leader = tokio::select! {
                biased;
                r = &mut answer => {
                    return r.unwrap_or_else(|_| {
                        Err(EngineError::Internal("a write batch ended without an answer".into()))
                    });
                }
                l = Arc::clone(&self.batch.leader).lock_owned() => l,
            };
            let held = Instant::now();
            match answer.try_recv() {
                Ok(r) => return r,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(EngineError::Internal("a write batch ended without an answer".into()));
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let jobs: Vec<Job> = {
                let mut q = self.batch.lock_queue();
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            // Spawned, with the batch lock: a caller that goes away (its connection closed) does
            // not abandon the others' requests half way.
            let engine = self.clone();
            let done = tokio::spawn(async move {
                engine.write_batch(jobs, held).await;
                drop(leader);
            });
            if done.await.is_err() {
                return Err(EngineError::Internal("a write batch failed".into()));
            }
        }
    }

    /// The batch's transaction and, read in it at once: the principals of its requesters (their
    /// notices name them; no request of the batch changes one) in one statement, and what its
    /// activations plan with (see [`super::prefetch`]).
    async fn begin_batch(&self, jobs: &[Job], now: pim_domain::Timestamp) -> Result<(pim_store::WriteTx, Sharing)> {
        let mut tx = self.store.write(now).await?;
        let mut ids: Vec<PrincipalId> = jobs.iter().map(|j| j.actor.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let principals: HashMap<PrincipalId, Principal> =
            pim_store::q::get_principals(tx.conn(), &ids).await?.into_iter().map(|p| (p.id, p)).collect();
        let wanted: Vec<Wanted> = jobs
            .iter()
            .filter(|j| j.input.action == pim_domain::RequestAction::SelfActivate)
            .filter_map(|j| Some((j.actor.id, j.input.role_id?, j.input.scope.clone()?)))
            .collect();
        let reads = self.read_for_batch(tx.conn(), &wanted, now).await?;
        let sharing =
            Sharing { defer_rows: true, isolate: jobs.len() > 1, principals, reads: Some(reads), ..Sharing::default() };
        Ok((tx, sharing))
    }

    /// The distributions of group commit's batch sizes and lock-held times (for `/metrics`).
    pub fn write_batch_figures(&self) -> BatchFigures {
        self.batch.figures()
    }

    /// Carries out `jobs` in one transaction and answers each; `held` is when the batch lock was
    /// taken (the batch is observed in the figures before any answer).
    async fn write_batch(&self, mut jobs: Vec<Job>, held: Instant) {
        let started = self.now();
        let (mut tx, mut sharing) = match self.begin_batch(&jobs, started).await {
            Ok(begun) => begun,
            Err(e) => {
                let e = e.to_string();
                for j in jobs {
                    let _ = j.reply.send(Err(EngineError::Internal(e.clone())));
                }
                return;
            }
        };
        let alone = jobs.len() == 1;
        let mut written: Vec<(Job, Result<WrittenRequest>)> = Vec::with_capacity(jobs.len());
        let mut broken = None;
        let mut rest = jobs.drain(..);
        for job in rest.by_ref() {
            let now = self.now();
            // Rows inserted for later that this request's planning could read are written first
            // (before its savepoint: rolling it back must not undo the others' rows).
            if tx.has_later_rows_of(job.actor.id)
                && let Err(e) = tx.write_later_rows().await
            {
                broken = Some(EngineError::from(e).to_string());
                written.push((job, Err(EngineError::Internal("the write batch failed".into()))));
                break;
            }
            // Alone, an error rolls the whole transaction back, as without batching. Otherwise
            // the request takes a savepoint before its first write (`Sharing::isolate`); one
            // refused before it wrote anything is undone in memory only.
            let mark = tx.mark();
            sharing.savepoint = None;
            let r = self
                .write_request_sharing(&mut tx, &job.ctx, &job.actor, &job.draft, &job.input, now, &mut sharing)
                .await;
            if let Err(e) = &r
                && !alone
            {
                let undone = match (sharing.savepoint.take(), e) {
                    (Some(sp), _) => tx.rollback_to(sp).await.map_err(|e| EngineError::from(e).to_string()),
                    (None, EngineError::Refused(_)) => {
                        tx.rollback_to(mark).await.map_err(|e| EngineError::from(e).to_string())
                    }
                    // A statement that failed outside a savepoint may have spoilt the transaction.
                    (None, EngineError::Internal(e)) => Err(e.clone()),
                };
                if let Err(e) = undone {
                    broken = Some(e);
                }
            }
            let membership =
                r.as_ref().is_ok_and(|w| w.touched.iter().any(|a| a.role_id == pim_domain::role::GROUP_MEMBER));
            written.push((job, r));
            if broken.is_some() || membership {
                break;
            }
        }
        // What was not written (after a membership change) waits for the next batch, in order.
        let left: Vec<Job> = rest.collect();
        if !left.is_empty() {
            let mut q = self.batch.lock_queue();
            let later = std::mem::take(&mut *q);
            q.extend(left);
            q.extend(later);
        }
        let committed = if let Some(e) = broken {
            drop(tx);
            Err(e)
        } else if written.iter().all(|(_, r)| r.is_err()) {
            drop(tx); // nothing to commit
            Ok(())
        } else {
            tx.commit().await.map_err(|e| EngineError::from(e).to_string())
        };
        {
            let mut s = self.batch.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            s.batches += 1;
            s.requests += written.len() as u64;
            s.largest = s.largest.max(written.len());
        }
        self.batch.observe(written.len(), held.elapsed());
        for (job, r) in written {
            let answer = match (&committed, r) {
                (_, Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(EngineError::Internal(e.clone())),
                (Ok(()), Ok(w)) => {
                    for a in &w.touched {
                        self.index.upsert_assignment(a);
                    }
                    Ok(RequestOutcome { request: w.request, assignment: w.assignment })
                }
            };
            let _ = job.reply.send(answer);
        }
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
