//! The in-memory access index: answers "may principal P perform action A at scope S now?" in well
//! under a microsecond, without allocating and under a read lock only.
//!
//! Layout (everything addressed by dense `u32` indexes):
//! - principals live in one `Vec` of slots. A slot holds a contiguous `Vec` of compact entries for
//!   the principal's *active* assignments (32 bytes: window, scope index and depth, role index,
//!   record index), sorted by scope then end (latest first); lists longer than `SCAN_MAX` also say
//!   where each scope's run begins: the shallowest few inline in the slot with the set of roles
//!   in each run, the rest behind a 256-bit Bloom filter in a flat table (`runs`). A slot also holds
//!   the principal's direct membership edges (static, or time-bound from an active `Member`
//!   assignment at `/groups/{id}`), the reverse edges, and its precomputed group closure: every
//!   group it is in, transitively, with the window of each distinct path;
//! - scopes are interned into a tree (every ancestor of an interned scope is interned), so a check
//!   resolves the ancestors of the requested scope once (one or a few hash lookups), then tests an
//!   entry's scope with one comparison (`ancestors[entry.depth] == entry.scope`) in short lists and
//!   looks up each ancestor's run in long ones;
//! - roles are looked up by dense index, their patterns compiled to interned segment ids
//!   (`matcher`) and evaluated at most once per check, and what a thread learnt of which roles
//!   allow an action is kept for its next check of that action until the roles change
//!   (`RoleMemo::recall`); assignment records (ids, kind, windows) sit in a slab beside the hot
//!   entries.
//!
//! Whether an assignment is in effect is computed from its window and `now` on every check; `prune`
//! only reclaims memory. Membership changes rebuild the closures of the affected members only.
//! Figures: `docs/PERFORMANCE.md`, from `cargo bench -p pim-engine --bench check`.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use pim_domain::permission::MAX_ACTION_LEN;
use pim_domain::role::GROUP_MEMBER;
use pim_domain::scope::MAX_SCOPE_DEPTH;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, PrincipalId, PrincipalKind, RoleDefinition, RoleId, Timestamp,
};
use pim_store::IndexAssignment;
use rustc_hash::{FxHashMap, FxHashSet};

mod matcher;
mod rec_ids;
mod runs;
#[cfg(test)]
mod tests;

use matcher::{Action, CompiledRole, Segments};
use rec_ids::RecIds;
use runs::{FarRuns, HIGH_ROLES, NearRuns};

/// A principal as the index sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPrincipal {
    /// The principal's id.
    pub id: PrincipalId,
    /// User, group or service principal.
    pub kind: PrincipalKind,
    /// Unique name (resolved case-insensitively).
    pub name: String,
    /// Disabled principals hold nothing; disabled groups confer nothing on their members.
    pub enabled: bool,
}

/// An assignment in effect that applies to a principal, directly or through a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The assignment.
    pub assignment_id: AssignmentId,
    /// Its role.
    pub role_id: RoleId,
    /// Its scope.
    pub scope: Arc<str>,
    /// The principal the assignment is on.
    pub holder: PrincipalId,
    /// `Some(holder)` when the assignment is on a group the principal is (transitively) in.
    pub via_group: Option<PrincipalId>,
    /// When this access ends: the assignment's end, or earlier if the membership it comes through
    /// is time-bound and ends first. `None` = permanent.
    pub ends_at: Option<Timestamp>,
}

/// The answer to a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The best grant that allows it: permanent first, else the one ending latest; direct before
    /// group on ties.
    pub grant: Option<Grant>,
}

impl Decision {
    const DENY: Decision = Decision { allowed: false, grant: None };
}

/// A full build of the index in two steps, so that the first (the principals, the static memberships
/// and the roles) can run while the assignments are still being read. `IndexBuild::new(p, m, r)
/// .finish(a, threads)` then [`AccessIndex::install`] is [`AccessIndex::load`].
pub struct IndexBuild(IndexData);

impl IndexBuild {
    /// The first step: the principals, the static memberships (group, member) and the roles.
    pub fn new(
        principals: Vec<IndexPrincipal>,
        memberships: Vec<(PrincipalId, PrincipalId)>,
        roles: Vec<RoleDefinition>,
    ) -> IndexBuild {
        IndexBuild(IndexData::base(principals, memberships, roles))
    }

    /// The second: every assignment (for the parallel way, in strictly increasing id order, as the
    /// store reads them; else they go in one by one), then each principal's entries and closure,
    /// on up to `threads` threads. The index is the one a build on one thread makes.
    pub fn finish(self, assignments: Vec<impl Into<IndexAssignment>>, threads: usize) -> BuiltIndex {
        let assignments = assignments.into_iter().map(Into::into).collect();
        BuiltIndex(self.0.finish(assignments, threads))
    }
}

/// A built index, ready for [`AccessIndex::install`].
pub struct BuiltIndex(IndexData);

/// The access index. Cheap to share (`Send + Sync`); checks take a read lock only.
pub struct AccessIndex {
    data: RwLock<IndexData>,
}

impl Default for AccessIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AccessIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data.read();
        f.debug_struct("AccessIndex")
            .field("principals", &d.principals.len())
            .field("assignments", &d.rec_ids.len())
            .field("scopes", &d.scopes.len())
            .finish()
    }
}

impl AccessIndex {
    /// An empty index.
    pub fn new() -> Self {
        AccessIndex { data: RwLock::new(IndexData::new()) }
    }

    /// Replaces everything (start-up, and a full reload). The new index is built before the write
    /// lock is taken, so checks are not held up while it is built.
    pub fn load(
        &self,
        principals: Vec<IndexPrincipal>,
        memberships: Vec<(PrincipalId, PrincipalId)>,
        roles: Vec<RoleDefinition>,
        assignments: Vec<impl Into<IndexAssignment>>,
    ) {
        self.install(IndexBuild::new(principals, memberships, roles).finish(assignments, build_threads()));
    }

    /// Replaces everything with a built index (see [`IndexBuild`]).
    pub fn install(&self, built: BuiltIndex) {
        let old = std::mem::replace(&mut *self.data.write(), built.0);
        drop(old); // freed outside the lock
    }

    /// Adds or updates a principal (name, kind, enabled flag).
    pub fn upsert_principal(&self, p: IndexPrincipal) {
        self.data.write().upsert_principal(p);
    }

    /// Adds (`present`) or removes a static membership of `member` in `group`.
    pub fn set_membership(&self, group: PrincipalId, member: PrincipalId, present: bool) {
        self.data.write().set_membership(group, member, present);
    }

    /// Adds or replaces a role definition.
    pub fn upsert_role(&self, role: RoleDefinition) {
        let mut d = self.data.write();
        d.put_role(role);
    }

    /// Removes a role; assignments of it grant nothing until it is defined again.
    pub fn remove_role(&self, id: RoleId) {
        let mut d = self.data.write();
        d.roles_gen = next_roles_gen();
        let r = d.role_ids.get(&id).copied().unwrap_or(NONE);
        if let Some(slot) = d.roles.get_mut(r as usize) {
            slot.role = None;
            slot.name = None;
        }
    }

    /// The name of a role the index holds.
    pub fn role_name(&self, id: RoleId) -> Option<Arc<str>> {
        let d = self.data.read();
        let r = d.role_ids.get(&id).copied()?;
        d.roles.get(r as usize)?.name.clone()
    }

    /// Inserts an assignment, or replaces the one with the same id (e.g. a changed window).
    pub fn upsert_assignment(&self, a: &Assignment) {
        let mut d = self.data.write();
        let mut seeds = Vec::new();
        d.put_assignment(&IndexAssignment::from(a), true, &mut seeds);
        d.rebuild_closures(&seeds);
    }

    /// Removes an assignment (no-op if unknown).
    pub fn remove_assignment(&self, id: AssignmentId) {
        let mut d = self.data.write();
        if let Some(r) = d.rec_ids.get(id, &d.recs) {
            let mut seeds = Vec::new();
            d.drop_rec(r, &mut seeds);
            d.rebuild_closures(&seeds);
        }
    }

    /// Drops every assignment whose window has ended at `now`; returns how many. Only reclaims
    /// memory: checks already ignore ended assignments.
    ///
    /// What has ended is found under the read lock (checks go on), then dropped under the write
    /// lock [`PRUNE_SLICE`] records at a time, the lock released in between: after a storm of
    /// 100,000 ends no check waits for the whole of it. Each record is checked again under the
    /// write lock, so one changed in between is dropped only if it has ended.
    pub fn prune(&self, now: Timestamp) -> usize {
        let ended = self.data.read().ended(now.0);
        ended.chunks(PRUNE_SLICE).map(|slice| self.data.write().prune(slice, now.0)).sum()
    }

    /// May `principal` perform `action` at `scope` at `now`? No allocation; read lock only.
    pub fn check(&self, principal: PrincipalId, action: &str, scope: &str, now: Timestamp) -> Decision {
        self.data.read().check(principal, action, scope, now.0)
    }

    /// The principal with this name, compared case-insensitively.
    pub fn resolve_name(&self, name: &str) -> Option<PrincipalId> {
        let d = self.data.read();
        let i = *d.names.get(&name.to_lowercase())?;
        d.principals.get(i as usize).map(|s| s.id)
    }

    /// The principal as last upserted, if known.
    pub fn principal(&self, id: PrincipalId) -> Option<IndexPrincipal> {
        let d = self.data.read();
        let i = *d.ids.get(&id)?;
        let slot = d.principals.get(i as usize)?;
        let name = slot.name.as_deref()?;
        Some(IndexPrincipal { id: slot.id, kind: slot.kind, name: name.to_owned(), enabled: slot.holds })
    }

    /// Whether [`AccessIndex::principal`] knows `id` (without copying its name).
    pub fn knows(&self, id: PrincipalId) -> bool {
        let d = self.data.read();
        d.ids.get(&id).and_then(|&i| d.principals.get(i as usize)).is_some_and(|s| s.name.is_some())
    }

    /// Groups the principal belongs to at `now`, transitively (static memberships and active
    /// Member-role assignments). Disabled groups, and groups reached only through them, are left
    /// out; a disabled or unknown principal belongs to none.
    pub fn groups_of(&self, principal: PrincipalId, now: Timestamp) -> Vec<PrincipalId> {
        let d = self.data.read();
        let now = clamp(now.0);
        let Some(i) = d.holding(principal) else { return Vec::new() };
        let mut out = Vec::new();
        d.for_each_group(i, now, |g, _| {
            if let Some(s) = d.principals.get(g as usize) {
                out.push(s.id);
            }
        });
        out
    }

    /// Every active assignment in effect at `now` that applies to the principal, directly or
    /// through groups, with the group it came through (assignments of unknown roles are left out).
    /// Direct ones first, then by end, latest (permanent) first.
    pub fn effective(&self, principal: PrincipalId, now: Timestamp) -> Vec<Grant> {
        let d = self.data.read();
        let now = clamp(now.0);
        let Some(i) = d.holding(principal) else { return Vec::new() };
        let mut out = Vec::new();
        let mut take = |holder: u32, path_end: i64| {
            let Some(slot) = d.principals.get(holder as usize) else { return };
            for e in &slot.entries {
                if e.start <= now && now < e.end && d.roles.get(e.role as usize).is_some_and(|r| r.role.is_some()) {
                    out.extend(d.grant(i, e.rec, e.end.min(path_end)));
                }
            }
        };
        take(i, FOREVER);
        d.for_each_group(i, now, take);
        // Direct first (stable: the group order is kept), then the latest end first.
        out.sort_by_key(|g| (g.via_group.is_some(), Reverse(g.ends_at.map_or(FOREVER, |t| t.0))));
        out
    }

    /// The first instant after `now` at which what [`AccessIndex::effective`] answers for the
    /// principal may change: the earliest future start or end among its assignments, its groups'
    /// assignments and its memberships' windows. `None` when nothing of it will change by itself.
    pub fn next_transition(&self, principal: PrincipalId, now: Timestamp) -> Option<Timestamp> {
        let d = self.data.read();
        let now = clamp(now.0);
        let i = d.holding(principal)?;
        let slot = d.principals.get(i as usize)?;
        let mut next = FOREVER;
        let consider = |next: &mut i64, t: i64| {
            if t > now && t < *next {
                *next = t;
            }
        };
        let entries = |next: &mut i64, s: &Slot| {
            for e in &s.entries {
                consider(next, e.start);
                consider(next, e.end);
            }
        };
        entries(&mut next, slot);
        for r in &slot.closure {
            consider(&mut next, r.start);
            consider(&mut next, r.end);
            if let Some(g) = d.principals.get(r.group as usize) {
                entries(&mut next, g);
            }
        }
        (next != FOREVER).then_some(Timestamp(next))
    }

    /// Every enabled user who may perform `action` at `scope` at `now`: directly, through groups, or
    /// inherited from a parent scope. Sorted by id. Scans the assignments (for notifications, not
    /// for the check path), then confirms each candidate with [`AccessIndex::check`].
    pub fn holders(&self, action: &str, scope: &str, now: Timestamp) -> Vec<PrincipalId> {
        self.data.read().holders(action, scope, now.0)
    }

    /// The principals that are members of `group` at `now`, transitively (static memberships and
    /// active Member assignments, through enabled groups only), enabled ones only. Sorted by id.
    pub fn members(&self, group: PrincipalId, now: Timestamp) -> Vec<PrincipalId> {
        self.data.read().members(group, now.0)
    }

    /// Every principal reachable below `group` by any membership edge (static or just-in-time, of
    /// any window), whether the groups on the way are enabled or not: whose access a change of the
    /// group may alter. Sorted by id.
    pub fn reachable_members(&self, group: PrincipalId) -> Vec<PrincipalId> {
        let d = self.data.read();
        let Some(&g) = d.ids.get(&group) else { return Vec::new() };
        let mut out: Vec<PrincipalId> = d
            .descendants(&[g])
            .into_iter()
            .filter(|&m| m != g)
            .filter_map(|m| d.principals.get(m as usize).map(|s| s.id))
            .collect();
        out.sort_unstable();
        out
    }

    /// Number of assignments held (eligible and active, including ended ones not yet pruned).
    pub fn len(&self) -> usize {
        self.data.read().rec_ids.len()
    }

    /// Whether no assignment is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An estimate of the heap memory the index holds, in bytes (for metrics and the benchmark).
    pub fn approx_heap_bytes(&self) -> usize {
        self.data.read().approx_heap_bytes()
    }
}

/// No index; also "no scope", "no role", "free record".
const NONE: u32 = u32::MAX;
/// The end of a permanent window.
const FOREVER: i64 = i64::MAX;
/// Records dropped per write lock by [`AccessIndex::prune`] (a few in tests, so they prune in slices).
#[cfg(not(test))]
const PRUNE_SLICE: usize = 1024;
#[cfg(test)]
const PRUNE_SLICE: usize = 2;
/// Size of the per-check ancestor table: a power of two above the deepest scope.
const ANC: usize = 32;
const _: () = assert!(MAX_SCOPE_DEPTH < ANC);

/// Lists up to this long are scanned (at most four cache lines); longer ones are searched by scope.
#[cfg(not(test))]
const SCAN_MAX: usize = 8;
/// Small in tests, so that their small worlds exercise both ways.
#[cfg(test)]
const SCAN_MAX: usize = 2;

/// The interned ancestors of a requested scope: by depth (for scans), and those that hold any
/// active assignment as a list (for searches).
struct Ancestors {
    by_depth: [u32; ANC],
    ids: [u32; MAX_SCOPE_DEPTH + 1],
    n: usize,
}

/// `now` as compared with window ends: permanent windows (end `FOREVER`) contain every instant.
fn clamp(now: i64) -> i64 {
    now.min(FOREVER - 1)
}

/// An active assignment on the hot path (32 bytes). A principal's entries are sorted by scope,
/// then by `end`, latest first, so the first match in a scope's run is that run's best grant.
#[derive(Clone, Copy, Debug)]
struct Entry {
    start: i64,
    end: i64,
    rec: u32,
    scope: u32,
    role: u32,
    depth: u8,
}

/// One group in a principal's closure, with the window of one path to it. A group appears once
/// per path window not contained in another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reach {
    group: u32,
    start: i64,
    end: i64,
}

/// A direct membership edge, from the member's side.
#[derive(Clone, Copy, Debug)]
struct Edge {
    group: u32,
    start: i64,
    end: i64,
    /// `NONE` for a static membership, else the record of the Member assignment.
    source: u32,
}

/// One principal, in four cache lines. `repr(C)` keeps what a check reads of the principal asked
/// about in the first line (the flags, the entries, the closure), and what it reads of a group
/// with a long list in the first three: the entries (line 0), the inline runs (line 1), the Bloom
/// filter and the table of the other runs (line 2).
#[derive(Debug)]
#[repr(C, align(64))]
struct Slot {
    entries: Vec<Entry>,
    closure: Vec<Reach>,
    /// Known and enabled: may be granted anything.
    holds: bool,
    /// A known, enabled group: its members inherit its assignments.
    confers: bool,
    /// As last upserted (a user while only referenced).
    kind: PrincipalKind,
    /// How many of `lead` are used.
    leads: u8,
    /// The groups of the first `leads` reaches of `closure`, when each is a permanent path (static
    /// memberships only: start `i64::MIN`, end `FOREVER`): a check walks them without waiting for
    /// the closure's line. Set with the closure (`Slot::set_closure`).
    lead: [u32; LEAD],
    /// For lists longer than `SCAN_MAX`: where the runs of the shallowest scopes begin.
    near: NearRuns,
    /// For lists longer than `SCAN_MAX`: a Bloom filter of the scopes whose runs are in `far`.
    bloom: [u64; 4],
    /// For lists longer than `SCAN_MAX`: where the other runs begin.
    far: FarRuns,
    // Not read by checks.
    id: PrincipalId,
    /// The name as last upserted; `None` while only referenced (by a membership or an
    /// assignment), never upserted.
    name: Option<Box<str>>,
    parents: Vec<Edge>,
    children: Vec<u32>,
}

// The layout the check's reads assume.
const _: () = assert!(std::mem::offset_of!(Slot, holds) < 64 && std::mem::offset_of!(Slot, kind) < 64);
const _: () = assert!(std::mem::offset_of!(Slot, lead) + std::mem::size_of::<[u32; LEAD]>() <= 64);
const _: () = assert!(std::mem::offset_of!(Slot, near) == 64 && std::mem::size_of::<NearRuns>() == 64);
const _: () = assert!(std::mem::offset_of!(Slot, bloom) == 128 && std::mem::offset_of!(Slot, far) + 16 <= 192);
const _: () = assert!(std::mem::size_of::<Slot>() == 256);

/// The closure's first groups a slot keeps in its first line (see `Slot::lead`).
const LEAD: usize = 3;

/// The groups of the first reaches of `closure` that are permanent paths, and how many.
fn leads_of(closure: &[Reach]) -> ([u32; LEAD], u8) {
    let mut lead = [NONE; LEAD];
    let mut n = 0;
    for (place, r) in lead.iter_mut().zip(closure) {
        if r.start != i64::MIN || r.end != FOREVER {
            break;
        }
        *place = r.group;
        n += 1;
    }
    (lead, n)
}

impl Slot {
    /// Sets the closure, and the groups of its first reaches that are permanent paths.
    fn set_closure(&mut self, closure: Vec<Reach>) {
        (self.lead, self.leads) = leads_of(&closure);
        self.closure = closure;
    }

    /// Re-indexes the runs of the entry list after it changed (only long lists have them).
    fn reindex(&mut self) {
        (self.near, self.bloom, self.far) = if self.entries.len() <= SCAN_MAX {
            (NearRuns::EMPTY, [0; 4], FarRuns::default())
        } else {
            runs::index(&self.entries)
        };
    }

    fn new(id: PrincipalId) -> Slot {
        Slot {
            id,
            name: None,
            kind: PrincipalKind::User,
            holds: false,
            confers: false,
            entries: Vec::new(),
            bloom: [0; 4],
            closure: Vec::new(),
            leads: 0,
            lead: [NONE; LEAD],
            near: NearRuns::EMPTY,
            far: FarRuns::default(),
            parents: Vec::new(),
            children: Vec::new(),
        }
    }
}

/// An assignment record (eligible or active), 40 bytes. `holder == NONE` marks a free slab slot.
#[derive(Clone, Copy, Debug)]
struct Rec {
    id: AssignmentId,
    end: i64,
    holder: u32,
    /// The role's index, with `ACTIVE` set for an active assignment.
    role_and_kind: u32,
    scope: u32,
    /// The group an active Member assignment makes its holder a member of, else `NONE`.
    member_of: u32,
}

/// The bit of `Rec::role_and_kind` that marks an active assignment.
const ACTIVE: u32 = 1 << 31;

impl Rec {
    fn role(&self) -> u32 {
        self.role_and_kind & !ACTIVE
    }

    fn active(&self) -> bool {
        self.role_and_kind & ACTIVE != 0
    }
}

#[derive(Debug)]
struct RoleSlot {
    id: RoleId,
    /// The role's name, for answers (not used by checks).
    name: Option<Arc<str>>,
    /// `None` while only referenced by assignments, or after removal.
    role: Option<CompiledRole>,
}

#[derive(Debug)]
struct ScopeNode {
    path: Arc<str>,
    depth: u8,
    /// Active assignments at exactly this scope (searches skip scopes that have none).
    active: u32,
    /// Where its ancestors begin in `IndexData::chains`: `depth + 1` scopes, the root first and
    /// itself last.
    chain: u32,
}

#[derive(Debug)]
struct IndexData {
    ids: FxHashMap<PrincipalId, u32>,
    principals: Vec<Slot>,
    /// Lower-cased name to principal (SipHash: names come from outside).
    names: HashMap<String, u32>,
    role_ids: FxHashMap<RoleId, u32>,
    roles: Vec<RoleSlot>,
    scope_ids: FxHashMap<Arc<str>, u32>,
    scopes: Vec<ScopeNode>,
    /// Every scope's ancestors, itself included, one after the other (see `ScopeNode::chain`).
    chains: Vec<u32>,
    /// The depth of the deepest scope interned: no longer prefix of a requested scope is looked up.
    max_depth: usize,
    rec_ids: RecIds,
    recs: Vec<Rec>,
    free: Vec<u32>,
    /// Literal segments of role patterns, interned for matching.
    segments: Segments,
    /// Drawn anew from `ROLES_GEN` for every index and at every change of `roles` or `segments`:
    /// what a thread learnt of the roles under another value is not used (see `RoleMemo::recall`).
    roles_gen: u64,
}

/// Remembers, for one check, whether the roles seen so far allow the action (a bitset over the
/// first `64 * MEMO_WORDS` role indexes; roles beyond are evaluated each time). The action is split
/// once, when the first role is evaluated.
struct RoleMemo<'a> {
    text: &'a str,
    segments: &'a Segments,
    action: Option<Action<'a>>,
    known: [u64; MEMO_WORDS],
    allowed: [u64; MEMO_WORDS],
}

const MEMO_WORDS: usize = 4;

/// What the checks made on one thread learnt of which roles allow an action, kept for the next
/// check of the same action there (see [`RoleMemo::recall`]).
struct Learnt {
    /// The [`IndexData::roles_gen`] it was learnt under; 0 for none.
    roles_gen: u64,
    len: usize,
    text: [u8; MAX_ACTION_LEN],
    known: [u64; MEMO_WORDS],
    allowed: [u64; MEMO_WORDS],
}

impl Learnt {
    const EMPTY: Learnt =
        Learnt { roles_gen: 0, len: 0, text: [0; MAX_ACTION_LEN], known: [0; MEMO_WORDS], allowed: [0; MEMO_WORDS] };
}

/// Actions remembered per thread (each at the place its hash picks; a newer one replaces it).
const LEARNT: usize = 16;

thread_local! {
    static LEARNT_BY_THREAD: RefCell<[Learnt; LEARNT]> = const { RefCell::new([Learnt::EMPTY; LEARNT]) };
}

/// Where a thread remembers `text` among its [`LEARNT`] actions.
fn learnt_place(text: &str) -> usize {
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    (h.finish() >> 32) as usize % LEARNT
}

/// The source of [`IndexData::roles_gen`]: never 0, never twice.
static ROLES_GEN: AtomicU64 = AtomicU64::new(1);

fn next_roles_gen() -> u64 {
    ROLES_GEN.fetch_add(1, Ordering::Relaxed)
}

impl<'a> RoleMemo<'a> {
    fn new(text: &'a str, segments: &'a Segments) -> Self {
        RoleMemo { text, segments, action: None, known: [0; MEMO_WORDS], allowed: [0; MEMO_WORDS] }
    }

    /// A memo that starts from what this thread learnt of the action under the same role
    /// definitions (`roles_gen`). Whether a role allows an action depends on nothing else (not on
    /// time, principals, assignments or scopes), and `roles_gen` changes with every role change
    /// and every index, so what is recalled is what evaluating the roles again would answer.
    fn recall(text: &'a str, segments: &'a Segments, roles_gen: u64) -> Self {
        let mut memo = RoleMemo::new(text, segments);
        if text.len() <= MAX_ACTION_LEN {
            LEARNT_BY_THREAD.with_borrow(|learnt| {
                if let Some(l) = learnt.get(learnt_place(text))
                    && l.roles_gen == roles_gen
                    && l.text.get(..l.len) == Some(text.as_bytes())
                {
                    memo.known = l.known;
                    memo.allowed = l.allowed;
                }
            });
        }
        memo
    }

    /// Keeps what this check learnt for the thread's next check of the same action (see
    /// [`RoleMemo::recall`]).
    fn remember(&self, roles_gen: u64) {
        let text = self.text.as_bytes();
        // Nothing was evaluated (the action is split at the first evaluation): nothing new.
        if self.action.is_none() || text.len() > MAX_ACTION_LEN || self.known == [0; MEMO_WORDS] {
            return;
        }
        LEARNT_BY_THREAD.with_borrow_mut(|learnt| {
            let Some(l) = learnt.get_mut(learnt_place(self.text)) else { return };
            if l.roles_gen == roles_gen && l.known == self.known && l.text.get(..l.len) == Some(text) {
                return;
            }
            l.roles_gen = roles_gen;
            l.len = text.len();
            if let Some(t) = l.text.get_mut(..text.len()) {
                t.copy_from_slice(text);
            }
            l.known = self.known;
            l.allowed = self.allowed;
        });
    }

    /// Whether any role of `set` (a run's [`runs::role_bit`]s) may allow the action: false only
    /// when none of them does. Evaluates the roles of the set not yet known (below index 63; a
    /// set naming roles from 63 on may allow).
    #[inline]
    fn any_allows(&mut self, roles: &[RoleSlot], set: u64) -> bool {
        if set & HIGH_ROLES != 0 {
            return true;
        }
        let mut unknown = set & !self.known[0];
        while unknown != 0 {
            self.allows(roles, unknown.trailing_zeros());
            unknown &= unknown - 1;
        }
        set & self.allowed[0] != 0
    }

    #[cold]
    fn eval(&mut self, roles: &[RoleSlot], role: u32) -> bool {
        let Some(r) = roles.get(role as usize).and_then(|r| r.role.as_ref()) else { return false };
        let (text, segments) = (self.text, self.segments);
        r.allows(self.action.get_or_insert_with(|| Action::new(text, segments)))
    }

    #[inline]
    fn allows(&mut self, roles: &[RoleSlot], role: u32) -> bool {
        let (word, bit) = (role as usize / 64, 1u64 << (role % 64));
        let (Some(&known), Some(&allowed)) = (self.known.get(word), self.allowed.get(word)) else {
            return self.eval(roles, role);
        };
        if known & bit != 0 {
            return allowed & bit != 0;
        }
        let v = self.eval(roles, role);
        if let (Some(k), Some(a)) = (self.known.get_mut(word), self.allowed.get_mut(word)) {
            *k |= bit;
            if v {
                *a |= bit;
            }
        }
        v
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(NONE)
}

/// The start and the end (`FOREVER` when permanent, else the earlier of its end and its early end)
/// of an assignment's window.
fn window(a: &IndexAssignment) -> (i64, i64) {
    let mut end = a.end.map_or(FOREVER, |t| t.0);
    if let Some(t) = a.ended_early_at {
        end = end.min(t.0);
    }
    (a.start.0, end)
}

/// The group an active Member assignment makes its holder a member of.
fn member_group(a: &IndexAssignment) -> Option<PrincipalId> {
    match a.scope.group() {
        Some(g) if a.kind == AssignmentKind::Active && a.role_id == GROUP_MEMBER => Some(g),
        _ => None,
    }
}

/// Fewer assignments (or principals) than this are built on one thread.
#[cfg(not(test))]
const PARALLEL_MIN: usize = 1 << 14;
/// Every build in tests takes the parallel way when given threads (and anything to build).
#[cfg(test)]
const PARALLEL_MIN: usize = 1;

/// The number of threads a build uses: one per core.
fn build_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `f` of each part, at once: the first on the calling thread, each other on a scoped thread of its
/// own; the results in the parts' order.
fn par_map<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let f = &f;
    std::thread::scope(|s| {
        let mut parts = parts.into_iter();
        let first = parts.next();
        let rest: Vec<_> = parts.map(|p| s.spawn(move || f(p))).collect();
        let mut out = Vec::with_capacity(rest.len() + 1);
        out.extend(first.map(f));
        for h in rest {
            match h.join() {
                Ok(r) => out.push(r),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

/// What one part of the assignments of a parallel build names that the index lacks.
#[derive(Default)]
struct Misses<'a> {
    principals: Vec<PrincipalId>,
    roles: Vec<RoleId>,
    scopes: Vec<&'a str>,
}

/// Where an assignment of a parallel build goes: its holder's, role's and scope's indexes.
#[derive(Clone, Copy)]
struct Placed {
    holder: u32,
    role: u32,
    scope: u32,
    depth: u8,
    member_of: u32,
}

impl IndexData {
    fn new() -> IndexData {
        let mut d = IndexData {
            ids: FxHashMap::default(),
            principals: Vec::new(),
            names: HashMap::new(),
            role_ids: FxHashMap::default(),
            roles: Vec::new(),
            scope_ids: FxHashMap::default(),
            scopes: Vec::new(),
            chains: Vec::new(),
            max_depth: 0,
            rec_ids: RecIds::default(),
            recs: Vec::new(),
            free: Vec::new(),
            segments: Segments::default(),
            roles_gen: next_roles_gen(),
        };
        d.intern("/"); // the root is scope 0
        d
    }

    /// The first part of a full build, which needs no assignment: the principals, the static
    /// memberships and the roles.
    fn base(
        principals: Vec<IndexPrincipal>,
        memberships: Vec<(PrincipalId, PrincipalId)>,
        roles: Vec<RoleDefinition>,
    ) -> IndexData {
        let mut d = IndexData::new();
        d.ids.reserve(principals.len());
        d.principals.reserve(principals.len());
        for p in principals {
            d.put_principal(p);
        }
        for (g, m) in memberships {
            d.add_static_edge(g, m);
        }
        for r in roles {
            d.put_role(r);
        }
        d
    }

    /// The rest of a full build of a [`IndexData::base`]: every assignment, then each principal's
    /// sorted entries and closure, on up to `threads` threads. Whatever `threads`, the result is
    /// the index the sequential build (`threads == 1`) makes: the same numbering of principals,
    /// roles, scopes and records, the same orders, the same maps.
    fn finish(mut self, assignments: Vec<IndexAssignment>, threads: usize) -> IndexData {
        self.rec_ids.reserve(assignments.len());
        self.recs.reserve(assignments.len());
        if threads > 1 && self.can_put_in_parallel(&assignments) {
            self.put_all_in_parallel(&assignments, threads);
        } else {
            let mut seeds = Vec::new();
            for a in &assignments {
                self.put_assignment(a, false, &mut seeds);
            }
        }
        // Freeing a million scope paths is not on the way to the first check.
        std::thread::spawn(move || drop(assignments));
        self.finish_slots(threads);
        self
    }

    /// Whether the assignments can be put in the parallel way: into an index that holds none yet,
    /// in strictly increasing id order (so no id replaces another: each record is its position),
    /// and enough of them to be worth the threads.
    fn can_put_in_parallel(&self, assignments: &[IndexAssignment]) -> bool {
        assignments.len() >= PARALLEL_MIN
            && self.recs.is_empty()
            && self.free.is_empty()
            && self.rec_ids.len() == 0
            && assignments.windows(2).all(|w| matches!(w, [a, b] if a.id < b.id))
    }

    /// What `put_assignment` over `assignments` in turn does, in parallel where the order does not
    /// matter. The slots of principals and roles and the scopes the assignments name for the first
    /// time are made in the order the sequential calls would make them (each part lists what it
    /// names that the index lacks, in order of first mention; the parts are then taken in order);
    /// then every lookup is read-only and runs on all threads; then the records and the per-principal
    /// lists, disjoint, are written on two threads, each in assignment order.
    fn put_all_in_parallel(&mut self, assignments: &[IndexAssignment], threads: usize) {
        let per = assignments.len().div_ceil(threads).max(1);
        let d = &*self;
        let misses = par_map(assignments.chunks(per).collect(), |part| d.misses(part));
        for m in &misses {
            for p in &m.principals {
                self.principal_slot(*p);
            }
            for r in &m.roles {
                self.role_slot(*r);
            }
            for s in &m.scopes {
                self.intern(s);
            }
        }
        drop(misses);
        let d = &*self;
        let placed: Vec<Vec<Placed>> =
            par_map(assignments.chunks(per).collect(), |part| part.iter().map(|a| d.place(a)).collect());
        let placed = || assignments.iter().zip(placed.iter().flatten()).enumerate();
        let IndexData { principals, scopes, rec_ids, recs, .. } = self;
        std::thread::scope(|s| {
            let records = s.spawn(|| {
                for (i, (a, p)) in placed() {
                    let active = a.kind == AssignmentKind::Active;
                    if let Some(node) = scopes.get_mut(p.scope as usize).filter(|_| active) {
                        node.active += 1;
                    }
                    let role_and_kind = if active { p.role | ACTIVE } else { p.role };
                    let (_, end) = window(a);
                    recs.push(Rec {
                        id: a.id,
                        end,
                        holder: p.holder,
                        role_and_kind,
                        scope: p.scope,
                        member_of: p.member_of,
                    });
                    rec_ids.insert(a.id, len_u32(i));
                }
            });
            for (i, (a, p)) in placed() {
                let (start, end) = window(a);
                let Some(slot) = principals.get_mut(p.holder as usize) else { continue };
                if a.kind == AssignmentKind::Active {
                    let entry = Entry { start, end, rec: len_u32(i), scope: p.scope, role: p.role, depth: p.depth };
                    slot.entries.push(entry);
                }
                if p.member_of != NONE {
                    slot.parents.push(Edge { group: p.member_of, start, end, source: len_u32(i) });
                    if let Some(g) = principals.get_mut(p.member_of as usize) {
                        g.children.push(p.holder);
                    }
                }
            }
            if let Err(e) = records.join() {
                std::panic::resume_unwind(e);
            }
        });
    }

    /// The principals, roles and scopes `part` names that the index lacks, each once, in the order
    /// `put_assignment` over `part` would add them (the holder, then the group of a Member
    /// assignment; each numbering is its own).
    fn misses<'a>(&self, part: &'a [IndexAssignment]) -> Misses<'a> {
        let mut m = Misses::default();
        let (mut principals, mut roles, mut scopes) =
            (FxHashSet::default(), FxHashSet::default(), FxHashSet::default());
        let mut principal = |m: &mut Misses<'a>, id: PrincipalId| {
            if !self.ids.contains_key(&id) && principals.insert(id) {
                m.principals.push(id);
            }
        };
        for a in part {
            principal(&mut m, a.principal_id);
            if !self.role_ids.contains_key(&a.role_id) && roles.insert(a.role_id) {
                m.roles.push(a.role_id);
            }
            let s = a.scope.as_str();
            if !self.scope_ids.contains_key(s) && scopes.insert(s) {
                m.scopes.push(s);
            }
            if let Some(g) = member_group(a) {
                principal(&mut m, g);
            }
        }
        m
    }

    /// Where an assignment goes, once every slot and scope it names exists.
    fn place(&self, a: &IndexAssignment) -> Placed {
        let scope = self.scope_ids.get(a.scope.as_str()).copied().unwrap_or(NONE);
        Placed {
            holder: self.ids.get(&a.principal_id).copied().unwrap_or(NONE),
            role: self.role_ids.get(&a.role_id).copied().unwrap_or(NONE),
            scope,
            depth: self.scopes.get(scope as usize).map_or(0, |n| n.depth),
            member_of: member_group(a).and_then(|g| self.ids.get(&g).copied()).unwrap_or(NONE),
        }
    }

    /// Sorts each principal's entries, indexes its runs and computes its closure, on up to
    /// `threads` threads (each slot's result depends on nothing the others change).
    fn finish_slots(&mut self, threads: usize) {
        let threads = if self.principals.len() >= PARALLEL_MIN { threads.max(1) } else { 1 };
        let per = self.principals.len().div_ceil(threads).max(1);
        par_map(self.principals.chunks_mut(per).collect(), |part| {
            for slot in part {
                slot.entries.sort_by_key(|e| (e.scope, Reverse(e.end)));
                slot.entries.shrink_to_fit();
                slot.parents.shrink_to_fit();
                slot.children.shrink_to_fit();
                slot.reindex();
            }
        });
        let d = &*self;
        let n = d.principals.len();
        let ranges = (0..threads).map(|k| (k * per).min(n)..((k + 1) * per).min(n)).collect();
        let closures = par_map(ranges, |range: std::ops::Range<usize>| {
            range
                .filter(|&i| d.principals.get(i).is_some_and(|s| !s.parents.is_empty()))
                .map(|i| (i, d.closure_of(len_u32(i))))
                .collect::<Vec<_>>()
        });
        for (i, c) in closures.into_iter().flatten() {
            if let Some(s) = self.principals.get_mut(i) {
                s.set_closure(c);
            }
        }
    }

    // ---- the hot path ----

    /// The principal's index, if it is known and enabled.
    fn holding(&self, id: PrincipalId) -> Option<u32> {
        let i = *self.ids.get(&id)?;
        self.principals.get(i as usize)?.holds.then_some(i)
    }

    /// The interned ancestors of `scope` (itself included). Agrees with `scope_contains` for every
    /// interned (valid) scope, even when `scope` itself is not a valid path.
    fn ancestors(&self, scope: &str) -> Ancestors {
        let mut anc = Ancestors { by_depth: [NONE; ANC], ids: [NONE; MAX_SCOPE_DEPTH + 1], n: 0 };
        let mut end = scope.len();
        let mut depth = scope.bytes().filter(|&b| b == b'/').count();
        let mut cur = 0; // the root, when no deeper prefix is interned
        while depth > 0 {
            let found = if depth <= MAX_SCOPE_DEPTH.min(self.max_depth) {
                scope.get(..end).and_then(|s| self.scope_ids.get(s))
            } else {
                None
            };
            if let Some(&id) = found {
                cur = id;
                break;
            }
            // A plain loop back to the previous '/' (a few bytes) costs less than `rfind`.
            match scope.as_bytes().get(..end).and_then(|s| s.iter().rposition(|&b| b == b'/')) {
                Some(p) if p > 0 => {
                    end = p;
                    depth -= 1;
                }
                _ => break,
            }
        }
        // The ancestors from the chain (one line, read at once) rather than by parent links (one
        // dependent read each): the same scopes at the same depths, deepest first in `ids`.
        let Some(node) = self.scopes.get(cur as usize) else { return anc };
        let from = node.chain as usize;
        let chain = self.chains.get(from..from + usize::from(node.depth) + 1).unwrap_or_default();
        for (depth, &id) in chain.iter().enumerate() {
            anc.by_depth[depth & (ANC - 1)] = id;
        }
        for &id in chain.iter().rev() {
            if let Some(slot) = anc.ids.get_mut(anc.n)
                && self.scopes.get(id as usize).is_some_and(|n| n.active > 0)
            {
                *slot = id;
                anc.n += 1;
            }
        }
        anc
    }

    /// The best entry of one list that allows the action at the scope: effective end (its end,
    /// capped at `path_end`) strictly above `floor`, highest first, first found on ties.
    fn best_in(
        &self,
        slot: &Slot,
        anc: &Ancestors,
        now: i64,
        path_end: i64,
        mut floor: i64,
        memo: &mut RoleMemo<'_>,
    ) -> Option<(u32, i64)> {
        let mut best = None;
        if slot.entries.len() <= SCAN_MAX {
            for e in &slot.entries {
                let eff = e.end.min(path_end);
                if eff > floor
                    && e.start <= now
                    && anc.by_depth[usize::from(e.depth) & (ANC - 1)] == e.scope
                    && memo.allows(&self.roles, e.role)
                {
                    best = Some((e.rec, eff));
                    floor = eff;
                }
            }
            return best;
        }
        // Look up the run of each ancestor that holds any assignment; runs are sorted by end.
        for &scope in anc.ids.iter().take(anc.n) {
            let from = match slot.near.find(scope) {
                // No role of the run allows the action: its entries are not read.
                Some(n) if !memo.any_allows(&self.roles, n.roles) => continue,
                Some(n) => n.from,
                None if runs::bloom_has(&slot.bloom, scope) => match slot.far.get(scope) {
                    Some(from) => from,
                    None => continue,
                },
                None => continue,
            };
            for e in slot.entries.get(from as usize..).unwrap_or_default() {
                let eff = e.end.min(path_end);
                if e.scope != scope || eff <= floor {
                    break;
                }
                if e.start <= now && memo.allows(&self.roles, e.role) {
                    best = Some((e.rec, eff));
                    floor = eff;
                    break;
                }
            }
        }
        best
    }

    fn check(&self, principal: PrincipalId, action: &str, scope: &str, now: i64) -> Decision {
        let now = clamp(now);
        let Some(&pi) = self.ids.get(&principal) else { return Decision::DENY };
        let Some(slot) = self.principals.get(pi as usize) else { return Decision::DENY };
        let anc = self.ancestors(scope);
        let mut memo = RoleMemo::recall(action, &self.segments, self.roles_gen);
        if !slot.holds {
            return Decision::DENY;
        }
        // Direct assignments first: they win ties, and a permanent one cannot be beaten.
        let mut best = self.best_in(slot, &anc, now, FOREVER, now, &mut memo);
        if best.is_none_or(|(_, end)| end != FOREVER) {
            self.for_each_group(pi, now, |group, path_end| {
                let floor = best.map_or(now, |(_, end)| end);
                if path_end > floor
                    && let Some(g) = self.principals.get(group as usize)
                    && let Some(b) = self.best_in(g, &anc, now, path_end, floor, &mut memo)
                {
                    best = Some(b);
                }
            });
        }
        memo.remember(self.roles_gen);
        match best.and_then(|(rec, end)| self.grant(pi, rec, end)) {
            Some(g) => Decision { allowed: true, grant: Some(g) },
            None => Decision::DENY,
        }
    }

    /// Calls `f(group, path_end)` once for every group `i` is in at `now`, with the latest end
    /// among the windows of its paths there.
    fn for_each_group(&self, i: u32, now: i64, mut f: impl FnMut(u32, i64)) {
        let Some(slot) = self.principals.get(i as usize) else { return };
        // The first groups from the slot's own line: each a permanent path, so the only reach of
        // its group (a permanent path's window contains every other), in the closure's order.
        let leads = usize::from(slot.leads);
        for &group in slot.lead.iter().take(leads) {
            f(group, FOREVER);
        }
        let closure = &slot.closure;
        let mut k = leads;
        while let Some(first) = closure.get(k) {
            let group = first.group;
            let mut path_end = i64::MIN;
            while let Some(r) = closure.get(k).filter(|r| r.group == group) {
                if r.start <= now && now < r.end {
                    path_end = path_end.max(r.end);
                }
                k += 1;
            }
            if path_end > now {
                f(group, path_end);
            }
        }
    }

    /// Every principal below `top` in the membership graph (its members, theirs, ...), `top` excluded.
    fn descendants(&self, top: &[u32]) -> FxHashSet<u32> {
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        let mut stack = top.to_vec();
        while let Some(x) = stack.pop() {
            if let Some(slot) = self.principals.get(x as usize) {
                for &child in &slot.children {
                    if seen.insert(child) {
                        stack.push(child);
                    }
                }
            }
        }
        seen
    }

    fn holders(&self, action: &str, scope: &str, now: i64) -> Vec<PrincipalId> {
        let now = clamp(now);
        let anc = self.ancestors(scope);
        let mut memo = RoleMemo::new(action, &self.segments);
        let mut direct = Vec::new();
        for rec in &self.recs {
            if rec.holder == NONE || !rec.active() || rec.end <= now {
                continue;
            }
            let Some(node) = self.scopes.get(rec.scope as usize) else { continue };
            if anc.by_depth[usize::from(node.depth) & (ANC - 1)] == rec.scope && memo.allows(&self.roles, rec.role()) {
                direct.push(rec.holder);
            }
        }
        let mut candidates = self.descendants(&direct);
        candidates.extend(direct);
        let mut out: Vec<PrincipalId> = candidates
            .into_iter()
            .filter_map(|i| self.principals.get(i as usize))
            .filter(|slot| slot.holds && slot.name.is_some() && slot.kind == PrincipalKind::User)
            .map(|slot| slot.id)
            .filter(|id| self.check(*id, action, scope, now).allowed)
            .collect();
        out.sort_unstable();
        out
    }

    fn members(&self, group: PrincipalId, now: i64) -> Vec<PrincipalId> {
        let now = clamp(now);
        let Some(&g) = self.ids.get(&group) else { return Vec::new() };
        let mut out: Vec<PrincipalId> = self
            .descendants(&[g])
            .into_iter()
            .filter(|&m| m != g)
            .filter_map(|m| {
                let slot = self.principals.get(m as usize).filter(|s| s.holds)?;
                let mut member = false;
                self.for_each_group(m, now, |x, _| member |= x == g);
                member.then_some(slot.id)
            })
            .collect();
        out.sort_unstable();
        out
    }

    fn grant(&self, principal: u32, rec: u32, end: i64) -> Option<Grant> {
        let r = self.recs.get(rec as usize)?;
        let holder = self.principals.get(r.holder as usize)?.id;
        Some(Grant {
            assignment_id: r.id,
            role_id: self.roles.get(r.role() as usize)?.id,
            scope: self.scopes.get(r.scope as usize)?.path.clone(),
            holder,
            via_group: (r.holder != principal).then_some(holder),
            ends_at: (end != FOREVER).then_some(Timestamp(end)),
        })
    }

    // ---- writes ----

    fn principal_slot(&mut self, id: PrincipalId) -> u32 {
        if let Some(&i) = self.ids.get(&id) {
            return i;
        }
        let i = len_u32(self.principals.len());
        self.principals.push(Slot::new(id));
        self.ids.insert(id, i);
        i
    }

    fn put_role(&mut self, role: RoleDefinition) {
        self.roles_gen = next_roles_gen();
        let r = self.role_slot(role.id);
        let compiled = CompiledRole::new(role.permissions, &mut self.segments);
        if let Some(slot) = self.roles.get_mut(r as usize) {
            slot.role = Some(compiled);
            slot.name = Some(Arc::from(role.name));
        }
    }

    fn role_slot(&mut self, id: RoleId) -> u32 {
        if let Some(&i) = self.role_ids.get(&id) {
            return i;
        }
        self.roles_gen = next_roles_gen();
        let i = len_u32(self.roles.len());
        self.roles.push(RoleSlot { id, name: None, role: None });
        self.role_ids.insert(id, i);
        i
    }

    /// Interns a (valid) scope path and its ancestors.
    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&i) = self.scope_ids.get(path) {
            return i;
        }
        let (parent, depth) = match path.rfind('/') {
            _ if path == "/" => (NONE, 0),
            Some(0) => (self.intern("/"), 1),
            Some(p) => {
                let parent = self.intern(&path[..p]);
                (parent, self.scopes.get(parent as usize).map_or(0, |n| n.depth.saturating_add(1)))
            }
            None => (NONE, 0),
        };
        let i = len_u32(self.scopes.len());
        let chain = len_u32(self.chains.len());
        if let Some(p) = self.scopes.get(parent as usize) {
            let from = p.chain as usize;
            self.chains.extend_from_within(from..from + usize::from(p.depth) + 1);
        }
        self.chains.push(i);
        self.max_depth = self.max_depth.max(usize::from(depth));
        let path: Arc<str> = Arc::from(path);
        self.scopes.push(ScopeNode { path: path.clone(), depth, active: 0, chain });
        self.scope_ids.insert(path, i);
        i
    }

    /// Sets a principal's data; returns whether it changed whether it confers membership.
    fn put_principal(&mut self, p: IndexPrincipal) -> bool {
        let i = self.principal_slot(p.id);
        let Some(slot) = self.principals.get_mut(i as usize) else { return false };
        if let Some(old) = &slot.name {
            let key = old.to_lowercase();
            if self.names.get(&key) == Some(&i) {
                self.names.remove(&key);
            }
        }
        self.names.insert(p.name.to_lowercase(), i);
        let was = slot.confers;
        slot.holds = p.enabled;
        slot.confers = p.enabled && p.kind == PrincipalKind::Group;
        slot.kind = p.kind;
        slot.name = Some(p.name.into_boxed_str());
        was != slot.confers
    }

    fn upsert_principal(&mut self, p: IndexPrincipal) {
        let i = self.principal_slot(p.id);
        if self.put_principal(p) {
            self.rebuild_closures(&[i]);
        }
    }

    fn add_static_edge(&mut self, group: PrincipalId, member: PrincipalId) -> Option<u32> {
        let g = self.principal_slot(group);
        let m = self.principal_slot(member);
        let slot = self.principals.get_mut(m as usize)?;
        if slot.parents.iter().any(|e| e.source == NONE && e.group == g) {
            return None;
        }
        slot.parents.push(Edge { group: g, start: i64::MIN, end: FOREVER, source: NONE });
        self.principals.get_mut(g as usize)?.children.push(m);
        Some(m)
    }

    fn set_membership(&mut self, group: PrincipalId, member: PrincipalId, present: bool) {
        if present {
            if let Some(m) = self.add_static_edge(group, member) {
                self.rebuild_closures(&[m]);
            }
            return;
        }
        let (Some(&g), Some(&m)) = (self.ids.get(&group), self.ids.get(&member)) else { return };
        let Some(slot) = self.principals.get_mut(m as usize) else { return };
        let Some(pos) = slot.parents.iter().position(|e| e.source == NONE && e.group == g) else { return };
        slot.parents.remove(pos);
        self.remove_child(g, m);
        self.rebuild_closures(&[m]);
    }

    fn remove_child(&mut self, group: u32, member: u32) {
        if let Some(slot) = self.principals.get_mut(group as usize)
            && let Some(pos) = slot.children.iter().position(|&c| c == member)
        {
            slot.children.swap_remove(pos);
        }
    }

    /// Inserts or replaces an assignment. Pushes onto `seeds` every principal whose membership
    /// edges changed. With `sorted`, keeps the holder's entries sorted (else `build` sorts).
    fn put_assignment(&mut self, a: &IndexAssignment, sorted: bool, seeds: &mut Vec<u32>) {
        if let Some(old) = self.rec_ids.get(a.id, &self.recs) {
            self.drop_rec(old, seeds);
        }
        let holder = self.principal_slot(a.principal_id);
        let role = self.role_slot(a.role_id);
        let scope = self.intern(a.scope.as_str());
        let depth = self.scopes.get(scope as usize).map_or(0, |n| n.depth);
        let active = a.kind == AssignmentKind::Active;
        if let Some(node) = self.scopes.get_mut(scope as usize).filter(|_| active) {
            node.active += 1;
        }
        let (start, end) = window(a);
        let member_of = match member_group(a) {
            Some(g) => self.principal_slot(g),
            None => NONE,
        };
        let role_and_kind = if active { role | ACTIVE } else { role };
        let rec = Rec { id: a.id, end, holder, role_and_kind, scope, member_of };
        let r = match self.free.pop() {
            Some(r) => {
                if let Some(slot) = self.recs.get_mut(r as usize) {
                    *slot = rec;
                }
                r
            }
            None => {
                self.recs.push(rec);
                len_u32(self.recs.len() - 1)
            }
        };
        self.rec_ids.insert(a.id, r);
        let Some(slot) = self.principals.get_mut(holder as usize) else { return };
        if active {
            let entry = Entry { start, end, rec: r, scope, role, depth };
            if sorted {
                let pos = slot.entries.partition_point(|e| (e.scope, Reverse(e.end)) <= (scope, Reverse(end)));
                slot.entries.insert(pos, entry);
                slot.reindex();
            } else {
                slot.entries.push(entry);
            }
        }
        if member_of != NONE {
            slot.parents.push(Edge { group: member_of, start, end, source: r });
            if let Some(g) = self.principals.get_mut(member_of as usize) {
                g.children.push(holder);
            }
            seeds.push(holder);
        }
    }

    /// Removes one assignment record and its entry and edge.
    fn drop_rec(&mut self, r: u32, seeds: &mut Vec<u32>) {
        let Some(rec) = self.recs.get_mut(r as usize) else { return };
        let old = *rec;
        if old.holder == NONE {
            return;
        }
        rec.holder = NONE;
        self.rec_ids.remove(old.id, r);
        self.free.push(r);
        let Some(slot) = self.principals.get_mut(old.holder as usize) else { return };
        if old.active() {
            if let Some(pos) = slot.entries.iter().position(|e| e.rec == r) {
                slot.entries.remove(pos);
                slot.reindex();
            }
            if let Some(node) = self.scopes.get_mut(old.scope as usize) {
                node.active = node.active.saturating_sub(1);
            }
        }
        if old.member_of != NONE {
            if let Some(pos) = slot.parents.iter().position(|e| e.source == r) {
                slot.parents.remove(pos);
            }
            self.remove_child(old.member_of, old.holder);
            seeds.push(old.holder);
        }
    }

    /// The records that have ended at `now`, for [`Data::prune`].
    fn ended(&self, now: i64) -> Vec<u32> {
        let ended = self.recs.iter().enumerate().filter(|(_, rec)| rec.holder != NONE && rec.end <= now);
        ended.map(|(r, _)| len_u32(r)).collect()
    }

    /// Drops those of `recs` that have ended at `now`; returns how many.
    fn prune(&mut self, recs: &[u32], now: i64) -> usize {
        let mut holders = FxHashSet::default();
        let mut seeds = Vec::new();
        let mut n = 0;
        for &r in recs {
            let Some(rec) = self.recs.get_mut(r as usize) else { continue };
            if rec.holder == NONE || rec.end > now {
                continue;
            }
            let old = *rec;
            rec.holder = NONE;
            self.rec_ids.remove(old.id, r);
            self.free.push(r);
            holders.insert(old.holder);
            if let Some(node) = self.scopes.get_mut(old.scope as usize).filter(|_| old.active()) {
                node.active = node.active.saturating_sub(1);
            }
            if old.member_of != NONE {
                self.remove_child(old.member_of, old.holder);
                seeds.push(old.holder);
            }
            n += 1;
        }
        let recs = &self.recs;
        let live = |r: u32| recs.get(r as usize).is_some_and(|x| x.holder != NONE);
        for h in holders {
            if let Some(slot) = self.principals.get_mut(h as usize) {
                slot.entries.retain(|e| live(e.rec));
                slot.reindex();
                slot.parents.retain(|e| e.source == NONE || live(e.source));
            }
        }
        self.rebuild_closures(&seeds);
        n
    }

    /// Recomputes the closure of each seed and of everything below it (its members, transitively).
    fn rebuild_closures(&mut self, seeds: &[u32]) {
        if seeds.is_empty() {
            return;
        }
        let mut seen = FxHashSet::default();
        let mut order = Vec::new();
        let mut stack = seeds.to_vec();
        while let Some(x) = stack.pop() {
            if seen.insert(x) {
                order.push(x);
                if let Some(slot) = self.principals.get(x as usize) {
                    stack.extend_from_slice(&slot.children);
                }
            }
        }
        for x in order {
            let c = self.closure_of(x);
            if let Some(slot) = self.principals.get_mut(x as usize) {
                slot.set_closure(c);
            }
        }
    }

    /// Every group `m` is in through enabled groups, once per path window not contained in another
    /// path's window to the same group. Terminates on cycles: a cycle only narrows a window.
    fn closure_of(&self, m: u32) -> Vec<Reach> {
        let mut out: Vec<Reach> = Vec::new();
        let mut work = vec![(m, i64::MIN, FOREVER)];
        while let Some((x, start, end)) = work.pop() {
            let Some(slot) = self.principals.get(x as usize) else { continue };
            for edge in &slot.parents {
                let g = edge.group;
                if g == m || !self.principals.get(g as usize).is_some_and(|s| s.confers) {
                    continue;
                }
                let (s, e) = (start.max(edge.start), end.min(edge.end));
                if s >= e || out.iter().any(|r| r.group == g && r.start <= s && e <= r.end) {
                    continue;
                }
                out.retain(|r| !(r.group == g && s <= r.start && r.end <= e));
                out.push(Reach { group: g, start: s, end: e });
                work.push((g, s, e));
            }
        }
        out.sort_unstable_by_key(|r| (r.group, r.start, r.end));
        out.shrink_to_fit();
        out
    }

    fn approx_heap_bytes(&self) -> usize {
        use std::mem::size_of;
        fn map<K, V, S>(m: &HashMap<K, V, S>) -> usize {
            m.capacity() * (size_of::<(K, V)>() + 1)
        }
        let slots: usize = self
            .principals
            .iter()
            .map(|s| {
                s.entries.capacity() * size_of::<Entry>()
                    + s.far.heap_bytes()
                    + s.closure.capacity() * size_of::<Reach>()
                    + s.parents.capacity() * size_of::<Edge>()
                    + s.children.capacity() * size_of::<u32>()
                    + s.name.as_ref().map_or(0, |n| n.len())
            })
            .sum();
        let names: usize = self.names.keys().map(String::capacity).sum();
        let segments: usize = self.segments.keys().map(|k| k.len() + 1).sum::<usize>() + map(&self.segments);
        let scopes: usize = self.scopes.iter().map(|n| n.path.len() + 16).sum();
        let roles: usize = self
            .roles
            .iter()
            .filter_map(|r| r.role.as_ref().map(CompiledRole::permissions))
            .map(|p| p.actions.iter().chain(&p.not_actions).map(|a| a.as_str().len() + 24).sum::<usize>())
            .sum();
        map(&self.ids)
            + self.principals.capacity() * size_of::<Slot>()
            + slots
            + map(&self.names)
            + names
            + map(&self.role_ids)
            + self.roles.capacity() * size_of::<RoleSlot>()
            + roles
            + segments
            + map(&self.scope_ids)
            + self.scopes.capacity() * size_of::<ScopeNode>()
            + self.chains.capacity() * size_of::<u32>()
            + scopes
            + map(&self.rec_ids.folded)
            + map(&self.rec_ids.clashes)
            + self.recs.capacity() * size_of::<Rec>()
            + self.free.capacity() * size_of::<u32>()
    }
}
