//! In-process benchmark of the access index (`AccessIndex::check`) on a large, deterministic world:
//! 100,000 users, 5,000 groups (nested up to three deep), 1,000,000 assignments.
//!
//! Run: `cargo bench -p pim-engine --bench check`. Load time, memory, two-thread throughput and a
//! table of per-check medians and 99th percentiles, the index beside a naive reference (plain
//! `HashMap`s walked directly) on the same queries, are printed before criterion's measurements
//! (see docs/PERFORMANCE.md). `PIM_BENCH_THREAD_CHECKS` sets how many checks each of the two
//! threads makes (default 2,000,000; 0 skips it); `PIM_BENCH_SINGLE_CHECKS` how many single checks
//! each case of the table times (default 200,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark's setup may fail loudly

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pim_domain::role::{GROUP_MEMBER, builtin_roles};
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, Permissions, PrincipalId, PrincipalKind, RequestId, RoleDefinition,
    RoleId, ScopePath, Timestamp, Window,
};
use pim_engine::index::{AccessIndex, IndexPrincipal};
use uuid::Uuid;

const USERS: u64 = 100_000;
const LEAF_GROUPS: u64 = 4_000;
const MID_GROUPS: u64 = 800;
const TOP_GROUPS: u64 = 200;
const GROUPS: u64 = LEAF_GROUPS + MID_GROUPS + TOP_GROUPS;
const ASSIGNMENTS: u64 = 1_000_000;
const CUSTOM_ROLES: u64 = 30;
const HEAVY_DIRECT: u64 = 2_000;
const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

/// A random-looking (but fixed) 128-bit id for entity `n` of kind `kind`.
fn uuid(kind: u64, n: u64) -> Uuid {
    let mut r = Rng(kind << 40 ^ n);
    Uuid::from_u128(u128::from(r.next()) << 64 | u128::from(r.next()))
}

fn user_id(n: u64) -> PrincipalId {
    PrincipalId(uuid(1, n))
}

fn group_id(n: u64) -> PrincipalId {
    PrincipalId(uuid(2, n))
}

fn custom_role(k: u64) -> RoleDefinition {
    let mut actions = vec![format!("svc{k}.*")];
    if k.is_multiple_of(3) {
        actions.push("*.read".to_owned());
    }
    if k.is_multiple_of(5) {
        actions.push(format!("svc{}.*.write", (k + 1) % CUSTOM_ROLES));
    }
    let not: Vec<String> = if k.is_multiple_of(2) { vec![format!("svc{k}.secrets.*")] } else { Vec::new() };
    let a: Vec<&str> = actions.iter().map(String::as_str).collect();
    let n: Vec<&str> = not.iter().map(String::as_str).collect();
    RoleDefinition {
        id: RoleId(uuid(3, k)),
        name: format!("custom{k}"),
        description: String::new(),
        builtin: false,
        permissions: Permissions::from_literals(&a, &n),
    }
}

/// Scopes `/tenants/t{0..9}/subs/s{0..19}/rg/r{0..49}` by level (plus `/`).
struct Scopes {
    root: ScopePath,
    tenants: Vec<ScopePath>,
    subs: Vec<ScopePath>,
    rgs: Vec<ScopePath>,
}

impl Scopes {
    fn new() -> Scopes {
        let p = |s: String| ScopePath::parse(&s).unwrap();
        let mut s = Scopes { root: ScopePath::root(), tenants: vec![], subs: vec![], rgs: vec![] };
        for t in 0..10 {
            s.tenants.push(p(format!("/tenants/t{t}")));
            for u in 0..20 {
                s.subs.push(p(format!("/tenants/t{t}/subs/s{u}")));
                for r in 0..50 {
                    s.rgs.push(p(format!("/tenants/t{t}/subs/s{u}/rg/r{r}")));
                }
            }
        }
        s
    }
    /// 1% at `/`, 9% at a tenant, 30% at a subscription, 60% at a resource group.
    fn pick(&self, rng: &mut Rng) -> ScopePath {
        let x = rng.below(100);
        let v = match x {
            0 => return self.root.clone(),
            1..10 => &self.tenants,
            10..40 => &self.subs,
            _ => &self.rgs,
        };
        v[rng.below(v.len() as u64) as usize].clone()
    }
}

struct World {
    principals: Vec<IndexPrincipal>,
    memberships: Vec<(PrincipalId, PrincipalId)>,
    roles: Vec<RoleDefinition>,
    assignments: Vec<Assignment>,
}

fn assignment(n: u64, holder: PrincipalId, kind_of: PrincipalKind, role: RoleId, scope: ScopePath) -> Assignment {
    Assignment {
        id: AssignmentId(uuid(4, n)),
        principal_id: holder,
        principal_kind: kind_of,
        role_id: role,
        scope,
        kind: AssignmentKind::Active,
        window: Window::permanent_from(Timestamp(NOW - 30 * DAY)),
        activated_from: None,
        created_by_request: RequestId(Uuid::from_u128(0)),
        created_at: Timestamp(NOW - 30 * DAY),
        ended_early_at: None,
    }
}

/// 60% active; windows 40% permanent, 40% current, 10% ended, 10% starting later.
fn randomize(a: &mut Assignment, rng: &mut Rng) {
    a.kind = if rng.chance(60) { AssignmentKind::Active } else { AssignmentKind::Eligible };
    let x = rng.below(10);
    a.window = match x {
        0..4 => Window::permanent_from(Timestamp(NOW - rng.range(DAY, 365 * DAY))),
        4..8 => Window {
            start: Timestamp(NOW - rng.range(0, 10 * DAY)),
            end: Some(Timestamp(NOW + rng.range(HOUR, 30 * DAY))),
        },
        8 => {
            let end = NOW - rng.range(1, 30 * DAY);
            Window { start: Timestamp(end - rng.range(HOUR, 30 * DAY)), end: Some(Timestamp(end)) }
        }
        _ => {
            let start = NOW + rng.range(HOUR, 10 * DAY);
            Window { start: Timestamp(start), end: Some(Timestamp(start + rng.range(HOUR, 30 * DAY))) }
        }
    };
}

/// The users and groups the named benchmarks use.
const VIA_GROUP_USER: u64 = 17;
const HEAVY_USER: u64 = 42;

fn build_world() -> World {
    let mut rng = Rng(0x5EED);
    let scopes = Scopes::new();
    let mut principals = Vec::with_capacity((USERS + GROUPS) as usize);
    for u in 0..USERS {
        principals.push(IndexPrincipal {
            id: user_id(u),
            kind: PrincipalKind::User,
            name: format!("user{u}@example.com"),
            enabled: !u.is_multiple_of(97),
        });
    }
    for g in 0..GROUPS {
        principals.push(IndexPrincipal {
            id: group_id(g),
            kind: PrincipalKind::Group,
            name: format!("group{g}"),
            enabled: g % 101 != 1,
        });
    }

    // Each user in 3 leaf groups; half the leaf groups in a mid group, half the mid groups in a
    // top group (depth 3). The via-group user's first leaf group is 0, nested 0 -> 4000 -> 4800.
    let mut memberships = Vec::new();
    for u in 0..USERS {
        let mut gs = [rng.below(LEAF_GROUPS), rng.below(LEAF_GROUPS), rng.below(LEAF_GROUPS)];
        if u == VIA_GROUP_USER {
            gs[0] = 0;
        }
        gs.sort_unstable();
        for (i, g) in gs.iter().enumerate() {
            if i == 0 || gs[i - 1] != *g {
                memberships.push((group_id(*g), user_id(u)));
            }
        }
    }
    for g in 0..LEAF_GROUPS {
        if g == 0 {
            memberships.push((group_id(LEAF_GROUPS), group_id(0)));
        } else if rng.chance(50) {
            memberships.push((group_id(LEAF_GROUPS + rng.below(MID_GROUPS)), group_id(g)));
        }
    }
    for g in LEAF_GROUPS..LEAF_GROUPS + MID_GROUPS {
        if g == LEAF_GROUPS {
            memberships.push((group_id(LEAF_GROUPS + MID_GROUPS), group_id(g)));
        } else if rng.chance(50) {
            memberships.push((group_id(LEAF_GROUPS + MID_GROUPS + rng.below(TOP_GROUPS)), group_id(g)));
        }
    }
    for g in 0..7 {
        memberships.push((group_id(g * 500 + 3), user_id(HEAVY_USER)));
    }

    let mut roles = builtin_roles();
    let builtin: Vec<RoleId> = roles.iter().map(|r| r.id).filter(|id| *id != GROUP_MEMBER).collect();
    let custom: Vec<RoleId> = (0..CUSTOM_ROLES).map(|k| custom_role(k).id).collect();
    roles.extend((0..CUSTOM_ROLES).map(custom_role));
    let pick_role = |rng: &mut Rng| {
        if rng.chance(10) {
            builtin[rng.below(builtin.len() as u64) as usize]
        } else {
            custom[rng.below(CUSTOM_ROLES) as usize]
        }
    };

    let mut assignments = Vec::with_capacity(ASSIGNMENTS as usize);
    let mut n = 0;
    // PIM for groups: 10,000 active (time-bound) and 10,000 eligible memberships.
    for i in 0..20_000 {
        let g = group_id(rng.below(LEAF_GROUPS));
        let mut a =
            assignment(n, user_id(rng.below(USERS)), PrincipalKind::User, GROUP_MEMBER, ScopePath::for_group(g));
        if i % 2 == 0 {
            a.window = Window { start: Timestamp(NOW - HOUR), end: Some(Timestamp(NOW + 7 * HOUR)) };
        } else {
            a.kind = AssignmentKind::Eligible;
        }
        assignments.push(a);
        n += 1;
    }
    // The via-group benchmark's grant: on the top group, at a subscription, ending in 5 days.
    let mut a = assignment(
        n,
        group_id(LEAF_GROUPS + MID_GROUPS),
        PrincipalKind::Group,
        custom[7],
        ScopePath::parse("/tenants/t3/subs/s7").unwrap(),
    );
    a.window.end = Some(Timestamp(NOW + 5 * DAY));
    assignments.push(a);
    n += 1;
    // The heavy user's direct assignments.
    for _ in 0..HEAVY_DIRECT {
        let mut a = assignment(n, user_id(HEAVY_USER), PrincipalKind::User, pick_role(&mut rng), scopes.pick(&mut rng));
        randomize(&mut a, &mut rng);
        assignments.push(a);
        n += 1;
    }
    // The rest: 38% on groups (~76 each), 62% on users (~6 each).
    while n < ASSIGNMENTS {
        let (holder, kind) = if rng.chance(38) {
            (group_id(rng.below(GROUPS)), PrincipalKind::Group)
        } else {
            (user_id(rng.below(USERS)), PrincipalKind::User)
        };
        let mut a = assignment(n, holder, kind, pick_role(&mut rng), scopes.pick(&mut rng));
        randomize(&mut a, &mut rng);
        assignments.push(a);
        n += 1;
    }
    World { principals, memberships, roles, assignments }
}

/// A holder's active grants by scope: (role, start, end).
type GrantsByScope = HashMap<String, Vec<(RoleId, i64, i64)>>;

/// The naive reference the index must beat: the same world in plain std `HashMap`s, a check
/// walking the principal's groups (closure precomputed, with each path's window) and, for each,
/// the requested scope's ancestors, looking each (holder, ancestor) up and testing its grants.
/// Answers `allowed` only.
struct Naive {
    enabled: HashMap<PrincipalId, bool>,
    /// Every group a principal is in through enabled groups: (group, path start, path end).
    groups: HashMap<PrincipalId, Vec<(PrincipalId, i64, i64)>>,
    /// Active assignments by holder, then by scope: (role, start, end).
    grants: HashMap<PrincipalId, GrantsByScope>,
    roles: HashMap<RoleId, Permissions>,
}

fn window_of(a: &Assignment) -> (i64, i64) {
    let end = a.window.end.map_or(i64::MAX, |t| t.0);
    (a.window.start.0, a.ended_early_at.map_or(end, |t| end.min(t.0)))
}

impl Naive {
    fn new(w: &World) -> Naive {
        let enabled: HashMap<PrincipalId, bool> = w.principals.iter().map(|p| (p.id, p.enabled)).collect();
        let confers: HashMap<PrincipalId, bool> =
            w.principals.iter().map(|p| (p.id, p.enabled && p.kind == PrincipalKind::Group)).collect();
        let mut parents: HashMap<PrincipalId, Vec<(PrincipalId, i64, i64)>> = HashMap::new();
        for (g, m) in &w.memberships {
            parents.entry(*m).or_default().push((*g, i64::MIN, i64::MAX));
        }
        let mut grants: HashMap<PrincipalId, GrantsByScope> = HashMap::new();
        for a in w.assignments.iter().filter(|a| a.kind == AssignmentKind::Active) {
            let (start, end) = window_of(a);
            if let Some(g) = a.scope.group().filter(|_| a.role_id == GROUP_MEMBER) {
                parents.entry(a.principal_id).or_default().push((g, start, end));
            }
            let by_scope = grants.entry(a.principal_id).or_default();
            by_scope.entry(a.scope.as_str().to_owned()).or_default().push((a.role_id, start, end));
        }
        let mut groups = HashMap::new();
        for p in parents.keys() {
            let mut out = Vec::new();
            let mut work = vec![(*p, i64::MIN, i64::MAX, vec![*p])];
            while let Some((x, start, end, path)) = work.pop() {
                for &(g, s, e) in parents.get(&x).into_iter().flatten() {
                    let (s, e) = (start.max(s), end.min(e));
                    if s < e && confers.get(&g).copied().unwrap_or(false) && !path.contains(&g) {
                        out.push((g, s, e));
                        let mut path = path.clone();
                        path.push(g);
                        work.push((g, s, e, path));
                    }
                }
            }
            groups.insert(*p, out);
        }
        let roles = w.roles.iter().map(|r| (r.id, r.permissions.clone())).collect();
        Naive { enabled, groups, grants, roles }
    }

    fn allows(&self, holder: PrincipalId, action: &str, scope: &str, now: i64) -> bool {
        let Some(by_scope) = self.grants.get(&holder) else { return false };
        let ancestors = std::iter::once("/")
            .chain(scope.match_indices('/').skip(1).map(|(i, _)| &scope[..i]))
            .chain((scope != "/").then_some(scope));
        for at in ancestors {
            for (role, s, e) in by_scope.get(at).into_iter().flatten() {
                if *s <= now && now < *e && self.roles.get(role).is_some_and(|r| r.allows(action)) {
                    return true;
                }
            }
        }
        false
    }

    fn check(&self, principal: PrincipalId, action: &str, scope: &str, now: i64) -> bool {
        if !self.enabled.get(&principal).copied().unwrap_or(false) {
            return false;
        }
        self.allows(principal, action, scope, now)
            || self
                .groups
                .get(&principal)
                .into_iter()
                .flatten()
                .any(|&(g, s, e)| s <= now && now < e && self.allows(g, action, scope, now))
    }
}

/// Median and 99th percentile, in ns, of `n` single calls of `f(i)` (`i` = 0, 1, ...), each timed
/// alone with `Instant` (the TSC through the vDSO here), less the median cost of the clock itself.
fn single_calls(n: usize, clock: f64, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut ns: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i);
        ns.push(t.elapsed().as_nanos() as f64 - clock);
    }
    ns.sort_by(f64::total_cmp);
    (ns[n / 2], ns[n * 99 / 100])
}

/// The median cost of reading the clock twice (what `single_calls` subtracts).
fn clock_cost(n: usize) -> f64 {
    let mut ns: Vec<u128> = (0..n)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos()
        })
        .collect();
    ns.sort_unstable();
    ns[n / 2] as f64
}

fn loadavg() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The table the goal is judged by: per case, the index's and the naive reference's median and
/// p99 of single checks, measured one after the other in this run, and their ratio.
fn side_by_side(idx: &AccessIndex, naive: &Naive, cases: &[(&str, &[Query])]) {
    let n: usize = std::env::var("PIM_BENCH_SINGLE_CHECKS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    if n == 0 {
        return;
    }
    let clock = clock_cost(n);
    println!("single checks: {n} per case, clock cost {clock:.0} ns subtracted, load average {}", loadavg());
    println!(
        "{:<38} {:>13} {:>10} {:>13} {:>10} {:>13}",
        "case", "index median", "index p99", "naive median", "naive p99", "naive/index"
    );
    for (name, qs) in cases {
        let (im, ip) = single_calls(n, clock, |i| {
            let q = &qs[i % qs.len()];
            black_box(idx.check(black_box(q.principal), &q.action, &q.scope, Timestamp(NOW)));
        });
        let (nm, np) = single_calls(n, clock, |i| {
            let q = &qs[i % qs.len()];
            black_box(naive.check(black_box(q.principal), &q.action, &q.scope, NOW));
        });
        println!("{name:<38} {im:>10.0} ns {ip:>7.0} ns {nm:>10.0} ns {np:>7.0} ns {:>12.2}x", nm / im.max(1.0));
    }
    println!("load average after the single checks: {}", loadavg());
}

fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> u64 {
    kb / 1024
}

/// A query for one benchmark, checked against the expected answer before measuring.
struct Query {
    principal: PrincipalId,
    action: String,
    scope: String,
}

fn find_query(idx: &AccessIndex, user: u64, want: bool, actions: &[&str], scopes: &[String]) -> Query {
    for a in actions {
        for s in scopes {
            if idx.check(user_id(user), a, s, Timestamp(NOW)).allowed == want {
                return Query { principal: user_id(user), action: (*a).to_owned(), scope: s.clone() };
            }
        }
    }
    panic!("no query with allowed = {want} for user {user}");
}

fn deep_scopes(rng: &mut Rng) -> Vec<String> {
    (0..200)
        .map(|_| {
            let (t, s, r, v) = (rng.below(10), rng.below(20), rng.below(50), rng.below(100));
            format!("/tenants/t{t}/subs/s{s}/rg/r{r}/vms/vm-{v:04}")
        })
        .collect()
}

fn bench_check(c: &mut Criterion) {
    let t0 = Instant::now();
    let world = build_world();
    let rss_input = status_kb("VmRSS:");
    println!(
        "world: {} principals, {} memberships, {} roles, {} assignments (generated in {:.2?}, RSS {} MB)",
        world.principals.len(),
        world.memberships.len(),
        world.roles.len(),
        world.assignments.len(),
        t0.elapsed(),
        mb(rss_input)
    );
    let t_naive = Instant::now();
    let naive = Naive::new(&world);
    println!("naive reference built in {:.2?}", t_naive.elapsed());
    let idx = AccessIndex::new();
    let t1 = Instant::now();
    idx.load(world.principals, world.memberships, world.roles, world.assignments);
    let load = t1.elapsed();
    println!(
        "load: {load:.2?}; index holds {} assignments, ~{} MB of heap by its own count; RSS after load {} MB, peak RSS (VmHWM) {} MB",
        idx.len(),
        idx.approx_heap_bytes() / (1024 * 1024),
        mb(status_kb("VmRSS:")),
        mb(status_kb("VmHWM:")),
    );

    let mut rng = Rng(0xC4EC);
    let deep = deep_scopes(&mut rng);
    let via_group = Query {
        principal: user_id(VIA_GROUP_USER),
        action: "svc7.vms.start".to_owned(),
        scope: "/tenants/t3/subs/s7/rg/r12/vms/vm-0042".to_owned(),
    };
    let d = idx.check(via_group.principal, &via_group.action, &via_group.scope, Timestamp(NOW));
    let g = d.grant.expect("the via-group query is allowed");
    assert_eq!(g.via_group, Some(group_id(LEAF_GROUPS + MID_GROUPS)), "{g:?}");
    let groups = idx.groups_of(via_group.principal, Timestamp(NOW)).len();
    let effective = idx.effective(via_group.principal, Timestamp(NOW)).len();
    println!("via-group user: in {groups} groups, {effective} grants in effect");
    let denied = find_query(&idx, VIA_GROUP_USER, false, &["svc7.secrets.delete", "zz.nothing.delete"], &deep);
    let heavy_allowed = find_query(&idx, HEAVY_USER, true, &["svc3.vms.start", "svc11.vms.start"], &deep);
    let heavy_denied = find_query(&idx, HEAVY_USER, false, &["zz.nothing.delete", "svc4.secrets.delete"], &deep);
    println!(
        "heavy user: in {} groups, {} grants in effect",
        idx.groups_of(user_id(HEAVY_USER), Timestamp(NOW)).len(),
        idx.effective(user_id(HEAVY_USER), Timestamp(NOW)).len()
    );
    let actions = ["svc1.vms.start", "svc2.disks.read", "pim.assignments.read", "svc9.secrets.get", "x.y.write"];
    let mix: Vec<Query> = (0..1024)
        .map(|_| Query {
            principal: user_id(rng.below(USERS)),
            action: actions[rng.below(actions.len() as u64) as usize].to_owned(),
            scope: deep[rng.below(deep.len() as u64) as usize].clone(),
        })
        .collect();
    let allowed_in_mix =
        mix.iter().filter(|q| idx.check(q.principal, &q.action, &q.scope, Timestamp(NOW)).allowed).count();
    println!("random mix: {allowed_in_mix} of {} allowed", mix.len());
    let unknown = Query { principal: user_id(USERS + 1), action: "svc1.vms.start".to_owned(), scope: deep[0].clone() };
    let named = [&via_group, &denied, &heavy_allowed, &heavy_denied, &unknown];
    for q in mix.iter().chain(named) {
        let want = idx.check(q.principal, &q.action, &q.scope, Timestamp(NOW)).allowed;
        assert_eq!(naive.check(q.principal, &q.action, &q.scope, NOW), want, "{} {} {}", q.action, q.scope, want);
    }
    side_by_side(
        &idx,
        &naive,
        &[
            ("allowed_via_nested_group_deep_scope", std::slice::from_ref(&via_group)),
            ("denied_walks_everything", std::slice::from_ref(&denied)),
            ("heavy_user_allowed", std::slice::from_ref(&heavy_allowed)),
            ("heavy_user_denied", std::slice::from_ref(&heavy_denied)),
            ("random_mix_1024", &mix),
            ("unknown_principal", std::slice::from_ref(&unknown)),
        ],
    );
    drop(naive);

    // Two threads checking the random mix at once (the machine has two cores).
    let per_thread: usize =
        std::env::var("PIM_BENCH_THREAD_CHECKS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    let t2 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (idx, mix) = (&idx, &mix);
            s.spawn(move || {
                for i in 0..per_thread {
                    let q = &mix[(i + t * 512) % mix.len()];
                    black_box(idx.check(q.principal, &q.action, &q.scope, Timestamp(NOW)));
                }
            });
        }
    });
    let secs = t2.elapsed().as_secs_f64();
    if per_thread > 0 {
        println!("two threads: {:.2} M checks/s in total", (2 * per_thread) as f64 / secs / 1e6);
    }

    for (name, q) in [
        ("via group", &via_group),
        ("denied", &denied),
        ("heavy allowed", &heavy_allowed),
        ("heavy denied", &heavy_denied),
    ] {
        println!("query {name}: {} at {}", q.action, q.scope);
    }
    let mut g = c.benchmark_group("check");
    let mut one = |name: &str, q: &Query| {
        g.bench_function(name, |b| {
            b.iter(|| idx.check(black_box(q.principal), black_box(&q.action), black_box(&q.scope), Timestamp(NOW)))
        });
    };
    one("allowed_via_nested_group_deep_scope", &via_group);
    one("denied_walks_everything", &denied);
    one("heavy_user_allowed", &heavy_allowed);
    one("heavy_user_denied", &heavy_denied);
    let mut i = 0;
    g.bench_function("random_mix_1024", |b| {
        b.iter(|| {
            i = (i + 1) % mix.len();
            let q = &mix[i];
            idx.check(q.principal, &q.action, &q.scope, Timestamp(NOW))
        })
    });
    g.bench_function("unknown_principal", |b| {
        b.iter(|| idx.check(black_box(user_id(USERS + 1)), "svc1.vms.start", &deep[0], Timestamp(NOW)))
    });
    g.finish();
    writes(&idx);
    println!("peak RSS (VmHWM) at the end: {} MB", mb(status_kb("VmHWM:")));
}

/// Times the writes the engine makes (each takes the write lock once), after the criterion runs
/// since they change the world.
fn writes(idx: &AccessIndex) {
    let per_op = |t: Instant, n: u64| t.elapsed() / u32::try_from(n).unwrap();
    let scope = ScopePath::parse("/tenants/t1/subs/s2/rg/r3").unwrap();
    let n = 10_000;
    let t = Instant::now();
    for i in 0..n {
        let mut a = assignment(ASSIGNMENTS + i, user_id(i * 7), PrincipalKind::User, custom_role(1).id, scope.clone());
        a.window.end = Some(Timestamp(NOW + DAY));
        idx.upsert_assignment(&a);
    }
    println!("write: upsert_assignment (a user's activation): {:.2?} each", per_op(t, n));
    let t = Instant::now();
    for i in 0..n {
        idx.upsert_assignment(&assignment(
            ASSIGNMENTS + n + i,
            user_id(i * 11),
            PrincipalKind::User,
            GROUP_MEMBER,
            ScopePath::for_group(group_id(i % LEAF_GROUPS)),
        ));
    }
    println!("write: upsert_assignment (a Member activation, one closure rebuilt): {:.2?} each", per_op(t, n));
    let t = Instant::now();
    for g in 1..101 {
        idx.set_membership(group_id(LEAF_GROUPS + MID_GROUPS + 1), group_id(g), true);
    }
    println!("write: set_membership nesting a leaf group (~75 members rebuilt): {:.2?} each", per_op(t, 100));
    let all_staff = group_id(GROUPS);
    idx.upsert_principal(IndexPrincipal {
        id: all_staff,
        kind: PrincipalKind::Group,
        name: "all-staff".to_owned(),
        enabled: true,
    });
    let t = Instant::now();
    for u in 0..USERS {
        idx.set_membership(all_staff, user_id(u), true);
    }
    println!("write: set_membership adding a user to a group: {:.2?} each", per_op(t, USERS));
    let t = Instant::now();
    idx.set_membership(group_id(LEAF_GROUPS + MID_GROUPS + 2), all_staff, true);
    println!("write: set_membership nesting a 100,000-member group: {:.2?}", t.elapsed());
    let t = Instant::now();
    let pruned = idx.prune(Timestamp(NOW));
    println!("write: prune of {pruned} ended assignments: {:.2?}", t.elapsed());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_check
}
criterion_main!(benches);
