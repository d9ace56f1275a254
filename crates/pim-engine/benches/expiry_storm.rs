//! Expiry storm: 100,000 activations ending at the same instant, on SQLite and on PostgreSQL.
//!
//! Run: `cargo bench -p pim-engine --bench expiry_storm`. Each backend (a temporary SQLite file
//! with pim's pragmas, `synchronous = FULL`; then a fresh PostgreSQL database on
//! `PIM_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`, dropped at the end)
//! is seeded through the store with `PIM_BENCH_STORM` users (default 100,000), each with an email
//! address, a permanent eligible Reader assignment at `/storm` and an activation of it (its
//! request and assignment rows as `Engine::submit` writes them) ending at the same instant T.
//! Then the engine is opened on it (the index loads from the store) with a clock the bench drives:
//! 1. stopped at T - 1 ms every sampled user is allowed, stopped at T every one is denied;
//! 2. the clock runs at wall speed from T - 2 s, the workers run as `pim serve` runs them
//!    (`Engine::spawn_workers` every `PIM_BENCH_JOB_INTERVAL_MS`, default 5,000 as pim.toml's
//!    default), a thread checks all through, and the bench counts `assignment.expired` audit
//!    events and outbox rows until every one is there;
//! 3. the audit chain is verified (`pim audit verify`'s code).
//!
//! `PIM_BENCH_BACKENDS` picks backends (`sqlite,postgres` by default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark's setup may fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pim_domain::role::READER;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, Principal, PrincipalId, PrincipalKind, Request, RequestAction, RequestId,
    RequestStatus, ScopePath, Timestamp, Window,
};
use pim_engine::Engine;
use pim_engine::clock::Clock;
use pim_engine::engine::EngineOptions;
use pim_store::{Store, q};
use rand::Rng as _;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

const SCOPE: &str = "/storm";
const ACTION: &str = "storm.read";
/// T: the common end (2026-06-01T00:00:00Z); the seeded rows start a day before.
const T: i64 = 1_780_272_000_000;
const HOUR: i64 = 3_600_000;
/// Users per seeding transaction.
const SEED_BATCH: usize = 2_000;
/// How often the bench counts the recorded rows.
const COUNT_EVERY: Duration = Duration::from_millis(50);
/// The pause between two checks of the sampler.
const CHECK_GAP: Duration = Duration::from_micros(200);

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A clock stopped at a given instant, or running at wall speed from one.
#[derive(Debug)]
struct BenchClock {
    at: AtomicI64,
    running_since: Mutex<Option<Instant>>,
}

impl BenchClock {
    fn stop_at(&self, t: i64) {
        *self.running_since.lock() = None;
        self.at.store(t, Ordering::SeqCst);
    }
    /// Runs from `t` now; returns the wall instant at which the clock reads `t`.
    fn run_from(&self, t: i64) -> Instant {
        let now = Instant::now();
        self.at.store(t, Ordering::SeqCst);
        *self.running_since.lock() = Some(now);
        now
    }
}

impl Clock for BenchClock {
    fn now(&self) -> Timestamp {
        let base = self.at.load(Ordering::SeqCst);
        match *self.running_since.lock() {
            Some(since) => Timestamp(base + since.elapsed().as_millis() as i64),
            None => Timestamp(base),
        }
    }
}

fn quantile<T: Copy>(v: &[T], q: f64) -> T {
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A user's rows: the principal, its eligibility and the activation of it ending at T.
fn user_rows(i: usize) -> (Principal, Request, Assignment, Request, Assignment) {
    let (t0, scope) = (Timestamp(T - 24 * HOUR), ScopePath::parse(SCOPE).expect("scope"));
    let p = Principal {
        id: PrincipalId::new(),
        kind: PrincipalKind::User,
        name: format!("storm{i}"),
        display_name: format!("Storm User {i}"),
        email: Some(format!("storm{i}@example.com")),
        description: None,
        manager_id: None,
        enabled: true,
        emergency_access: false,
        last_sign_in_at: None,
        created_at: t0,
        updated_at: t0,
    };
    let request = |action, kind, window: Window, target, eligibility| Request {
        id: RequestId::new(),
        action,
        status: RequestStatus::Provisioned,
        principal_id: p.id,
        role_id: READER,
        scope: scope.clone(),
        kind,
        window,
        requested_by: p.id,
        justification: Some("expiry storm".into()),
        ticket: None,
        target_assignment: Some(target),
        eligibility,
        created_at: window.start,
        updated_at: window.start,
        status_reason: None,
        duration_minutes: None,
        break_glass: false,
        approval: None,
        requester_name: None,
    };
    let assignment = |kind, window, activated_from, by| Assignment {
        id: AssignmentId::new(),
        principal_id: p.id,
        principal_kind: PrincipalKind::User,
        role_id: READER,
        scope: scope.clone(),
        kind,
        window,
        activated_from,
        created_by_request: by,
        created_at: window.start,
        ended_early_at: None,
    };
    let forever = Window { start: t0, end: None };
    let elig_req_id = RequestId::new();
    let elig = assignment(AssignmentKind::Eligible, forever, None, elig_req_id);
    let mut elig_req = request(RequestAction::AdminAssign, AssignmentKind::Eligible, forever, elig.id, None);
    elig_req.id = elig_req_id;
    let w = Window { start: Timestamp(T - HOUR), end: Some(Timestamp(T)) };
    let act_req_id = RequestId::new();
    let act = assignment(AssignmentKind::Active, w, Some(elig.id), act_req_id);
    let mut act_req = request(RequestAction::SelfActivate, AssignmentKind::Active, w, act.id, Some(elig.id));
    act_req.id = act_req_id;
    act_req.duration_minutes = Some(60);
    (p, elig_req, elig, act_req, act)
}

/// Seeds `n` users with their eligibility and activation; returns their ids.
///
/// On SQLite the seeding connection turns foreign keys off (the rows satisfy them all): SQLite
/// checks a deferred key on each parent row inserted by scanning the child table, and
/// `requests.eligibility` has no index, so seeding 100,000 would take quadratic time.
async fn seed(store: &Store, n: usize) -> Vec<PrincipalId> {
    let sqlite = store.backend() == pim_store::Backend::Sqlite;
    let mut c = store.read().await.expect("read");
    if sqlite {
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *c).await.expect("pragma");
    }
    let mut ids = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let begin = if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
        sqlx::query(begin).execute(&mut *c).await.expect("begin");
        for j in i..(i + SEED_BATCH).min(n) {
            let (p, er, e, ar, a) = user_rows(j);
            q::insert_principal(&mut c, &p).await.expect("principal");
            q::insert_request(&mut c, &er).await.expect("request");
            q::insert_assignment(&mut c, &e).await.expect("eligibility");
            q::insert_request(&mut c, &ar).await.expect("request");
            q::insert_assignment(&mut c, &a).await.expect("activation");
            ids.push(p.id);
        }
        sqlx::query("COMMIT").execute(&mut *c).await.expect("commit");
        i += SEED_BATCH;
    }
    if sqlite {
        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *c).await.expect("pragma");
    }
    ids
}

async fn count(store: &Store, sql: &str) -> i64 {
    let mut c = store.read().await.expect("read");
    sqlx::query_scalar(sql).fetch_one(&mut *c).await.expect("count")
}

/// Expiry events after the audit sequence number `seq`, and the last sequence number read (or
/// `seq` when none is new). Each poll passes the last one read, so it reads only the rows
/// committed since the previous poll (by the primary key): polling every 50 ms reads each event
/// once, not the whole storm again, on the cores the storm runs on. Writers are serialized and
/// number events in commit order, so no event below the last one read commits later.
async fn count_audited_after(store: &Store, seq: i64) -> (i64, i64) {
    let mut c = store.read().await.expect("read");
    let sql = format!(
        "SELECT count(*), COALESCE(MAX(seq), {seq}) FROM audit_events WHERE seq > {seq} AND action = 'assignment.expired'"
    );
    sqlx::query_as(&sql).fetch_one(&mut *c).await.expect("count")
}

const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM audit_events";
const NOTICES: &str = "SELECT count(*) FROM outbox WHERE event = 'assignment.expired'";

/// Checks the users in turn every [`CHECK_GAP`] until told to stop; each check's duration, how
/// many were allowed at or after T (must be none), and when the slowest one started.
fn sample_checks(
    engine: Engine,
    users: Arc<Vec<PrincipalId>>,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, u64, Option<Instant>) {
    let mut out = Vec::with_capacity(200_000);
    let (mut i, mut wrong) = (0usize, 0u64);
    let (mut worst, mut worst_at) = (Duration::ZERO, None);
    while !stop.load(Ordering::Relaxed) {
        let who = users[(i * 7919) % users.len()];
        i += 1;
        let now = engine.now();
        let t = Instant::now();
        let d = engine.index().check(who, ACTION, SCOPE, now);
        let took = t.elapsed();
        out.push(took);
        if took > worst {
            (worst, worst_at) = (took, Some(t));
        }
        if d.allowed && now.0 >= T {
            wrong += 1;
        }
        std::thread::sleep(CHECK_GAP);
    }
    (out, wrong, worst_at)
}

/// `at - base` in milliseconds, negative when `at` is earlier.
fn ms_since(base: Instant, at: Instant) -> f64 {
    match at.checked_duration_since(base) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(base.duration_since(at).as_secs_f64() * 1e3),
    }
}

/// One backend's figures.
struct Row {
    backend: &'static str,
    n: usize,
    seed_s: f64,
    open_s: f64,
    first_ms: f64,
    all_ms: f64,
    checks: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    verified: i64,
}

async fn run(backend: &'static str, url: &str, n: usize, interval: Duration) -> Row {
    println!("== {backend}: {n} activations ending at T");
    let store = Store::open(url).await.expect("open store");
    let s = Instant::now();
    let users = Arc::new(seed(&store, n).await);
    let seed_s = s.elapsed().as_secs_f64();
    println!("  seeded {n} users, eligibilities, activations and their requests in {seed_s:.1} s");

    let clock = Arc::new(BenchClock { at: AtomicI64::new(T - 2 * HOUR), running_since: Mutex::new(None) });
    let o = Instant::now();
    let engine = Engine::open(store.clone(), clock.clone(), EngineOptions::default()).await.expect("engine");
    let open_s = o.elapsed().as_secs_f64();
    println!("  engine opened (index loaded) in {open_s:.2} s");

    // 1. The exact instant, with the clock stopped: allowed at T - 1 ms, denied at T.
    let sample: Vec<PrincipalId> = users.iter().step_by((n / 1000).max(1)).copied().collect();
    for (at, want) in [(T - 1, true), (T, false), (T + 1, false)] {
        clock.stop_at(at);
        let now = engine.now();
        for u in &sample {
            let d = engine.index().check(*u, ACTION, SCOPE, now);
            assert_eq!(d.allowed, want, "check at T{:+} ms for {u}", at - T);
        }
    }
    println!("  exact instant: {} sampled users allowed at T-1 ms, denied at T and T+1 ms", sample.len());

    // 2. The storm: the clock runs from T - 2 s, the workers run as the server runs them.
    let seq_before = count(&store, LAST_SEQ).await;
    let t_wall = clock.run_from(T - 2_000) + Duration::from_millis(2_000);
    let workers = engine.spawn_workers(interval);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (e, u, s) = (engine.clone(), Arc::clone(&users), Arc::clone(&stop));
        std::thread::spawn(move || sample_checks(e, u, s))
    };
    tokio::time::sleep_until(t_wall.into()).await;
    let mut first = None;
    // The notices' count (no index on the event) is taken only once every event is in: a batch
    // commits its events and notices together, so this times the same instant for less work.
    let (mut a, mut seq) = (0, seq_before);
    let all = loop {
        let (more, last) = count_audited_after(&store, seq).await;
        (a, seq) = (a + more, last);
        let m = if a >= n as i64 { count(&store, NOTICES).await } else { 0 };
        let since = t_wall.elapsed();
        if first.is_none() && a > 0 {
            first = Some(since);
        }
        if a >= n as i64 && m >= n as i64 {
            break since;
        }
        assert!(since < Duration::from_secs(600), "{a} events and {m} notices after 10 minutes");
        tokio::time::sleep(COUNT_EVERY).await;
    };
    // Let the worker finish its pass (the index's prune follows the last batch) before stopping
    // the sampler, so that checks during the prune are counted.
    let pass_end = Instant::now() + Duration::from_millis(1_000);
    tokio::time::sleep_until(pass_end.into()).await;
    stop.store(true, Ordering::Relaxed);
    let (mut lat, wrong, worst_at) = sampler.join().expect("sampler");
    workers.abort();
    let _ = workers.await;
    assert_eq!(wrong, 0, "checks allowed at or after T");
    let unrecorded = {
        let mut c = store.read().await.expect("read");
        q::count_unrecorded_ends(&mut c).await.expect("count")
    };
    assert_eq!(unrecorded, 0, "every activation marked recorded");
    lat.sort();
    let first_ms = first.unwrap_or_default().as_secs_f64() * 1e3;
    let all_ms = all.as_secs_f64() * 1e3;
    println!(
        "  T -> first event recorded {first_ms:.0} ms; -> all {n} events and {n} notices: {all_ms:.0} ms (counted every {} ms)",
        COUNT_EVERY.as_millis()
    );
    let worst_ms = worst_at.map_or(f64::NAN, |w| ms_since(t_wall, w));
    println!(
        "  slowest check {:.0} µs, started at T{worst_ms:+.0} ms (all recorded at T+{all_ms:.0} ms; checks went on 1 s more)",
        us(lat[lat.len() - 1])
    );

    // 3. The chain.
    let v = {
        let mut c = store.read().await.expect("read");
        q::verify_audit(&mut c).await.expect("verify")
    };
    assert!(v.ok, "audit chain broken: {:?}", v.problems.first());
    println!("  audit chain verified: {} events, intact", v.checked);
    store.close().await;
    Row {
        backend,
        n,
        seed_s,
        open_s,
        first_ms,
        all_ms,
        checks: lat.len(),
        p50: us(quantile(&lat, 0.5)),
        p99: us(quantile(&lat, 0.99)),
        p999: us(quantile(&lat, 0.999)),
        max: us(lat[lat.len() - 1]),
        verified: v.checked,
    }
}

fn main() {
    let n = env_num("PIM_BENCH_STORM", 100_000) as usize;
    let interval = Duration::from_millis(env_num("PIM_BENCH_JOB_INTERVAL_MS", 5_000));
    let backends = std::env::var("PIM_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let pg = match std::env::var("PIM_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("expiry storm: {n} activations, workers every {} ms", interval.as_millis());
    let mut rows = Vec::new();
    for b in backends.split(',').map(str::trim) {
        match b {
            "sqlite" => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("pim.db").display());
                rows.push(rt.block_on(run("SQLite", &url, n, interval)));
            }
            "postgres" => {
                let Ok(mut admin) = rt.block_on(PgConnection::connect(&pg)) else {
                    assert!(std::env::var("CI").as_deref() != Ok("true"), "PostgreSQL is required with CI=true");
                    println!("PostgreSQL skipped: cannot reach {pg}");
                    continue;
                };
                let name = format!("pimstorm_{:08x}", rand::thread_rng().r#gen::<u32>());
                rt.block_on(sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin)).expect("create db");
                let base = pg.rsplit_once('/').map_or(pg.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(run("PostgreSQL", &url, n, interval))
                }));
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = rt.block_on(sqlx::query(&drop).execute(&mut admin));
                match r {
                    Ok(r) => rows.push(r),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            other => panic!("unknown backend {other}"),
        }
    }
    println!();
    println!(
        "| backend | activations | seed s | index load s | T → first event ms | T → all events + notices ms | \
         checks | p50 µs | p99 µs | p99.9 µs | max µs | chain |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {} events, intact |",
            r.backend, r.n, r.seed_s, r.open_s, r.first_ms, r.all_ms, r.checks, r.p50, r.p99, r.p999, r.max, r.verified
        );
    }
}
