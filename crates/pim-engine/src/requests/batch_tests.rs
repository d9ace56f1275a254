//! Group commit on a real store (SQLite, and PostgreSQL when `PIM_TEST_POSTGRES_URL` is set): waiting requests share one transaction, each answered as on its own, a refusal undoes only itself, a membership change ends its batch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use pim_domain::role::{CONTRIBUTOR, GROUP_MEMBER};
use pim_domain::{
    AssignmentKind, ErrorKind, Outcome, PrincipalId, PrincipalKind, RequestAction, RequestStatus, RoleId, RoleSettings,
    ScopePath, Timestamp,
};
use pim_store::Store;
use pim_store::q::{self, AuditFilter};
use sqlx::{Connection as _, Executor as _};

use super::BatchStats;
use crate::auth::NewAdmin;
use crate::directory::NewPrincipal;
use crate::engine::EngineOptions;
use crate::requests::{RequestInput, Submission};
use crate::{Actor, Context, Engine, EngineError, ManualClock, Result};

const T0: Timestamp = Timestamp(1_767_603_600_000);

struct World {
    engine: Engine,
    admin: Context,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

fn sp(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

/// An engine on SQLite, or on a new PostgreSQL database (`None` when none is configured).
async fn world(postgres: bool) -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = if postgres {
        let Some(admin) = std::env::var("PIM_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs PIM_TEST_POSTGRES_URL");
            eprintln!("skipping the PostgreSQL variant: set PIM_TEST_POSTGRES_URL");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("pim_test_{}", uuid::Uuid::now_v7().simple());
        let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
        c.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        c.close().await.unwrap();
        (format!("{}/{name}", admin.rsplit_once('/').unwrap().0), Some((admin, name)))
    } else {
        (format!("sqlite://{}", dir.path().join("pim.db").display()), None)
    };
    let store = Store::open(&url).await.unwrap();
    let engine = Engine::open(store, Arc::new(ManualClock::new(T0)), EngineOptions::default()).await.unwrap();
    let admin =
        NewAdmin { username: "admin".into(), password: "admin-password-1".into(), display_name: None, email: None };
    let admin = engine.bootstrap(&Context::system(), admin).await.unwrap();
    let actor = Actor { id: admin.id, kind: PrincipalKind::User, name: "admin".into(), token_id: None, mfa_at: None };
    let w = World { engine, admin: Context { actor: Some(actor), ..Context::default() }, _dir: dir, pg };
    for role in [CONTRIBUTOR, GROUP_MEMBER] {
        let s = RoleSettings { require_mfa_on_activation: false, ..RoleSettings::default() };
        w.engine.put_settings(&w.admin, &role.to_string(), ScopePath::root(), s).await.unwrap();
    }
    Some(w)
}

impl World {
    async fn principal(&self, kind: PrincipalKind, name: &str) -> (PrincipalId, Context) {
        let new = NewPrincipal { name: name.into(), ..NewPrincipal::default() };
        let p = self.engine.create_principal(&self.admin, kind, new).await.unwrap();
        let actor = Actor { id: p.id, kind, name: name.into(), token_id: None, mfa_at: None };
        (p.id, Context { actor: Some(actor), ..Context::default() })
    }

    async fn eligible(&self, who: PrincipalId, role: RoleId, scope: &str) {
        let mut r = RequestInput::new(RequestAction::AdminAssign);
        r.principal_id = Some(who);
        r.role_id = Some(role);
        r.scope = Some(sp(scope));
        r.kind = Some(AssignmentKind::Eligible);
        r.justification = Some("test".into());
        self.engine.submit(&self.admin, r).await.unwrap();
    }

    /// Holds the batch lock while `requests` are submitted, each queued before the next is
    /// spawned (so the queue holds them in the order given), releases it once all are queued and
    /// returns their answers in order.
    async fn together(&self, requests: Vec<(Context, RequestInput)>) -> Vec<Result<Submission>> {
        let leader = self.engine.batch.leader();
        let held = leader.lock().await;
        let mut tasks = Vec::new();
        for (i, (ctx, input)) in requests.into_iter().enumerate() {
            let engine = self.engine.clone();
            tasks.push(tokio::spawn(async move { engine.submit(&ctx, input).await }));
            while self.engine.batch.queued() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    async fn finish(mut self) {
        self.engine.store.close().await;
        if let Some((admin, name)) = self.pg.take() {
            let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
            c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.unwrap();
            c.close().await.unwrap();
        }
    }
}

fn activate(role: RoleId, scope: &str) -> RequestInput {
    let mut r = RequestInput::new(RequestAction::SelfActivate);
    r.role_id = Some(role);
    r.scope = Some(sp(scope));
    r.duration_minutes = Some(60);
    r.justification = Some("work".into());
    r
}

fn done(r: &Result<Submission>) -> &super::RequestOutcome {
    match r {
        Ok(Submission::Done(d)) => d,
        other => panic!("{other:?}"),
    }
}

async fn waiting_requests_share_one_transaction_and_a_refusal_undoes_only_itself(postgres: bool) {
    let Some(w) = world(postgres).await else { return };
    let mut requests = Vec::new();
    let mut users = Vec::new();
    for i in 0..6 {
        let (id, ctx) = w.principal(PrincipalKind::User, &format!("user-{i}")).await;
        w.eligible(id, CONTRIBUTOR, &format!("/b{i}")).await;
        requests.push((ctx, activate(CONTRIBUTOR, &format!("/b{i}/x"))));
        users.push(id);
    }
    // In the middle: a user eligible for nothing.
    let (_, outsider) = w.principal(PrincipalKind::User, "outsider").await;
    requests.insert(3, (outsider, activate(CONTRIBUTOR, "/b0/x")));
    let before = w.engine.batch.stats();
    assert_eq!(before, BatchStats::default(), "admin requests are not batched");
    let answers = w.together(requests).await;
    assert_eq!(w.engine.batch.stats(), BatchStats { batches: 1, requests: 7, largest: 7 }, "one transaction");
    // Observed for `/metrics` before the answers: one batch of 7, one time the lock was held.
    let f = w.engine.write_batch_figures();
    assert_eq!((f.requests.count, f.requests.sum), (1, 7.0));
    assert_eq!(f.requests.cumulative, vec![0, 0, 0, 1, 1, 1, 1], "7 requests: in the buckets from le=8");
    assert_eq!(f.seconds.count, 1);
    assert!(f.seconds.sum > 0.0, "{f:?}");
    match &answers[3] {
        Err(EngineError::Refused(e)) => assert_eq!(e.kind, ErrorKind::NotEligible),
        other => panic!("{other:?}"),
    }
    let granted: Vec<_> = answers.iter().enumerate().filter(|(i, _)| *i != 3).map(|(_, a)| done(a)).collect();
    for (i, d) in granted.iter().enumerate() {
        assert_eq!(d.request.status, RequestStatus::Provisioned);
        assert_eq!(d.request.principal_id, users[i]);
        let a = d.assignment.as_ref().unwrap();
        assert_eq!(a.scope, sp(&format!("/b{i}/x")));
        // In the index once answered.
        let answer = w.engine.check(&w.admin, &users[i].to_string(), "storage.blobs.read", &format!("/b{i}/x"), None);
        assert_eq!(answer.unwrap().grant.map(|g| g.assignment_id), Some(a.id));
    }
    // Each activation is stored with its event, the refusal has its failure event, the chain holds.
    let mut c = w.engine.store.read().await.unwrap();
    let events = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    for d in &granted {
        let mine: Vec<_> = events.iter().filter(|e| e.request_id == Some(d.request.id)).collect();
        assert_eq!(mine.len(), 1, "one event per activation");
        assert_eq!((mine[0].action.as_str(), mine[0].outcome), ("request.selfActivate", Outcome::Success));
        assert!(q::get_assignment(&mut c, d.assignment.as_ref().unwrap().id).await.unwrap().is_some());
    }
    let refused: Vec<_> = events.iter().filter(|e| e.error_code.as_deref() == Some("not_eligible")).collect();
    assert_eq!(refused.len(), 1);
    assert!(q::verify_audit(&mut c).await.unwrap().ok);
    drop(c);
    w.finish().await;
}

async fn a_membership_change_ends_its_batch(postgres: bool) {
    let Some(w) = world(postgres).await else { return };
    let (alice, ctx) = w.principal(PrincipalKind::User, "alice").await;
    let (group, _) = w.principal(PrincipalKind::Group, "ops").await;
    w.eligible(alice, GROUP_MEMBER, &format!("/groups/{group}")).await;
    w.eligible(group, CONTRIBUTOR, "/prod").await;
    // Alice becomes a member, then activates what the group is eligible for: the second is
    // planned after the first is committed and in the index, in a batch of its own.
    let answers = w
        .together(vec![
            (ctx.clone(), activate(GROUP_MEMBER, &format!("/groups/{group}"))),
            (ctx, activate(CONTRIBUTOR, "/prod")),
        ])
        .await;
    done(&answers[0]);
    let second = done(&answers[1]);
    assert_eq!(second.assignment.as_ref().unwrap().principal_id, alice);
    assert_eq!(w.engine.batch.stats(), BatchStats { batches: 2, requests: 2, largest: 1 });
    w.finish().await;
}

/// A request of the batch sees the rows the ones before it inserted for later: the same user's
/// second activation at the same scope extends the first (no second activation), and its
/// deactivation in the same batch finds it.
async fn a_request_sees_the_rows_inserted_for_later_before_it(postgres: bool) {
    let Some(w) = world(postgres).await else { return };
    let (id, ctx) = w.principal(PrincipalKind::User, "twice").await;
    let (other, other_ctx) = w.principal(PrincipalKind::User, "other").await;
    w.eligible(id, CONTRIBUTOR, "/t").await;
    w.eligible(other, CONTRIBUTOR, "/o").await;
    let mut longer = activate(CONTRIBUTOR, "/t/x");
    longer.duration_minutes = Some(90);
    let mut deactivate = RequestInput::new(RequestAction::SelfDeactivate);
    deactivate.role_id = Some(CONTRIBUTOR);
    deactivate.scope = Some(sp("/t/y"));
    let answers = w
        .together(vec![
            (ctx.clone(), activate(CONTRIBUTOR, "/t/x")),
            (other_ctx, activate(CONTRIBUTOR, "/o/x")),
            (ctx.clone(), longer),
            (ctx.clone(), activate(CONTRIBUTOR, "/t/y")),
            (ctx.clone(), deactivate),
        ])
        .await;
    assert_eq!(w.engine.batch.stats(), BatchStats { batches: 1, requests: 5, largest: 5 }, "one transaction");
    let first = done(&answers[0]).assignment.clone().unwrap();
    let second = done(&answers[2]).assignment.clone().unwrap();
    assert_eq!(second.id, first.id, "extended in place, not stacked");
    assert_eq!(second.window.end, Some(Timestamp(T0.0 + 90 * 60_000)));
    let y = done(&answers[3]).assignment.clone().unwrap();
    let ended = done(&answers[4]).assignment.clone().unwrap();
    assert_eq!((ended.id, ended.window.end), (y.id, Some(T0)), "the activation made in the same batch ended");
    let mut c = w.engine.store.read().await.unwrap();
    let f = q::AssignmentFilter {
        principal: Some(id),
        kind: Some(AssignmentKind::Active),
        scope: Some(sp("/t/x")),
        ..Default::default()
    };
    let stored = q::list_assignments(&mut c, &f).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].window.end, second.window.end);
    assert_eq!(q::get_assignment(&mut c, y.id).await.unwrap().unwrap().window.end, Some(T0));
    let events = q::list_audit(&mut c, &AuditFilter::default()).await.unwrap();
    for a in &answers {
        let r = &done(a).request;
        assert_eq!(q::get_request(&mut c, r.id).await.unwrap().map(|s| s.status), Some(r.status));
        assert_eq!(events.iter().filter(|e| e.request_id == Some(r.id)).count(), 1, "its event");
    }
    assert!(q::verify_audit(&mut c).await.unwrap().ok);
    drop(c);
    w.finish().await;
}

/// The activations of a batch, planned with what the batch read at its start, are decided as on
/// their own: each with the settings nearest its own scope, and through a group's eligibility.
async fn a_batch_plans_each_activation_with_its_own_settings_and_groups(postgres: bool) {
    let Some(w) = world(postgres).await else { return };
    let strict = RoleSettings {
        require_mfa_on_activation: false,
        require_justification_on_activation: true,
        ..RoleSettings::default()
    };
    let loose = RoleSettings { require_justification_on_activation: false, ..strict.clone() };
    w.engine.put_settings(&w.admin, &CONTRIBUTOR.to_string(), sp("/s"), loose).await.unwrap();
    w.engine.put_settings(&w.admin, &CONTRIBUTOR.to_string(), sp("/s/strict"), strict).await.unwrap();
    let (u1, c1) = w.principal(PrincipalKind::User, "loose").await;
    let (u2, c2) = w.principal(PrincipalKind::User, "strict").await;
    let (u3, c3) = w.principal(PrincipalKind::User, "member").await;
    let (group, _) = w.principal(PrincipalKind::Group, "team").await;
    w.eligible(u1, CONTRIBUTOR, "/s/loose").await;
    w.eligible(u2, CONTRIBUTOR, "/s/strict").await;
    w.eligible(group, CONTRIBUTOR, "/s/team").await;
    let mut member = RequestInput::new(RequestAction::AdminAssign);
    member.principal_id = Some(u3);
    member.role_id = Some(GROUP_MEMBER);
    member.scope = Some(ScopePath::for_group(group));
    member.kind = Some(AssignmentKind::Active);
    member.justification = Some("test".into());
    w.engine.submit(&w.admin, member).await.unwrap();
    let unjustified = |scope: &str| RequestInput { justification: None, ..activate(CONTRIBUTOR, scope) };
    let answers = w
        .together(vec![
            (c1, unjustified("/s/loose/x")),
            (c2, unjustified("/s/strict/x")),
            (c3, activate(CONTRIBUTOR, "/s/team/x")),
        ])
        .await;
    assert_eq!(w.engine.batch.stats(), BatchStats { batches: 1, requests: 3, largest: 3 }, "one transaction");
    assert_eq!(done(&answers[0]).request.principal_id, u1);
    match &answers[1] {
        Err(EngineError::Refused(e)) => assert_eq!(e.kind, ErrorKind::JustificationRequired),
        other => panic!("{other:?}"),
    }
    let through_group = done(&answers[2]).assignment.clone().unwrap();
    assert_eq!(through_group.principal_id, u3);
    let mut c = w.engine.store.read().await.unwrap();
    let eligibility = q::get_assignment(&mut c, through_group.activated_from.unwrap()).await.unwrap().unwrap();
    assert_eq!((eligibility.principal_id, eligibility.scope), (group, sp("/s/team")));
    assert!(q::verify_audit(&mut c).await.unwrap().ok);
    drop(c);
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_plans_each_activation_with_its_own_settings_and_groups_sqlite() {
    a_batch_plans_each_activation_with_its_own_settings_and_groups(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_plans_each_activation_with_its_own_settings_and_groups_postgres() {
    a_batch_plans_each_activation_with_its_own_settings_and_groups(true).await;
}

/// A request carried out by a batch another caller wrote is answered at once, not once the
/// writer of the next batch (who holds the batch lock) is done.
async fn an_answered_request_does_not_wait_for_the_next_batch(postgres: bool) {
    let Some(w) = world(postgres).await else { return };
    let (id, ctx) = w.principal(PrincipalKind::User, "quick").await;
    w.eligible(id, CONTRIBUTOR, "/q").await;
    let leader = w.engine.batch.leader();
    let next_writer = leader.lock().await;
    let engine = w.engine.clone();
    let task = tokio::spawn(async move { engine.submit(&ctx, activate(CONTRIBUTOR, "/q/x")).await });
    while w.engine.batch.queued() < 1 {
        tokio::task::yield_now().await;
    }
    let jobs = std::mem::take(&mut *w.engine.batch.lock_queue());
    w.engine.write_batch(jobs, std::time::Instant::now()).await;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("answered while the batch lock is held")
        .unwrap();
    assert_eq!(done(&answer).request.status, RequestStatus::Provisioned);
    drop(next_writer);
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_request_does_not_wait_for_the_next_batch_sqlite() {
    an_answered_request_does_not_wait_for_the_next_batch(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_request_does_not_wait_for_the_next_batch_postgres() {
    an_answered_request_does_not_wait_for_the_next_batch(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sees_the_rows_inserted_for_later_before_it_sqlite() {
    a_request_sees_the_rows_inserted_for_later_before_it(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sees_the_rows_inserted_for_later_before_it_postgres() {
    a_request_sees_the_rows_inserted_for_later_before_it(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_requests_share_one_transaction_sqlite() {
    waiting_requests_share_one_transaction_and_a_refusal_undoes_only_itself(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_requests_share_one_transaction_postgres() {
    waiting_requests_share_one_transaction_and_a_refusal_undoes_only_itself(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_ends_its_batch_sqlite() {
    a_membership_change_ends_its_batch(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_ends_its_batch_postgres() {
    a_membership_change_ends_its_batch(true).await;
}
