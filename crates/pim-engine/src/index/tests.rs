//! Unit tests of the access index, and a property test against a naive reference implementation.

use std::collections::{BTreeMap, BTreeSet};

use pim_domain::Permissions;
use pim_domain::role::{GROUP_MEMBER, builtin_roles};
use pim_domain::scope::scope_contains;
use pim_domain::{RequestId, ScopePath, Window};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn pid(n: u128) -> PrincipalId {
    PrincipalId(Uuid::from_u128(n))
}

const fn rid(n: u128) -> RoleId {
    RoleId(Uuid::from_u128(0xAA00 + n))
}

fn aid(n: u128) -> AssignmentId {
    AssignmentId(Uuid::from_u128(0xBB00 + n))
}

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn principal(n: u128, kind: PrincipalKind, name: &str) -> IndexPrincipal {
    IndexPrincipal { id: pid(n), kind, name: name.to_owned(), enabled: true }
}

fn user(n: u128) -> IndexPrincipal {
    principal(n, PrincipalKind::User, &format!("user{n}"))
}

fn group(n: u128) -> IndexPrincipal {
    principal(n, PrincipalKind::Group, &format!("group{n}"))
}

fn role(n: u128, actions: &[&str], not: &[&str]) -> RoleDefinition {
    RoleDefinition {
        id: rid(n),
        name: format!("role{n}"),
        description: String::new(),
        builtin: false,
        permissions: Permissions::from_literals(actions, not),
    }
}

fn scope(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn assignment(
    n: u128,
    holder: PrincipalId,
    role: RoleId,
    at: &str,
    kind: AssignmentKind,
    start: i64,
    end: Option<i64>,
) -> Assignment {
    Assignment {
        id: aid(n),
        principal_id: holder,
        principal_kind: PrincipalKind::User,
        role_id: role,
        scope: scope(at),
        kind,
        window: Window { start: t(start), end: end.map(t) },
        activated_from: None,
        created_by_request: RequestId(Uuid::from_u128(1)),
        created_at: t(0),
        ended_early_at: None,
    }
}

fn active(n: u128, holder: PrincipalId, role: RoleId, at: &str, start: i64, end: Option<i64>) -> Assignment {
    assignment(n, holder, role, at, AssignmentKind::Active, start, end)
}

/// Active `Member` of `group` for `holder`.
fn member(n: u128, holder: PrincipalId, group: PrincipalId, start: i64, end: Option<i64>) -> Assignment {
    active(n, holder, GROUP_MEMBER, ScopePath::for_group(group).as_str(), start, end)
}

const STORAGE: u128 = 1;

/// Users 1, 2; groups 10, 11, 12; role STORAGE = `storage.*` except `storage.keys.*`; builtins.
fn world() -> AccessIndex {
    let idx = AccessIndex::new();
    let mut roles = builtin_roles();
    roles.push(role(STORAGE, &["storage.*"], &["storage.keys.*"]));
    idx.load(vec![user(1), user(2), group(10), group(11), group(12)], vec![], roles, Vec::<Assignment>::new());
    idx
}

fn allowed(idx: &AccessIndex, p: u128, action: &str, at: &str, now: i64) -> bool {
    idx.check(pid(p), action, at, t(now)).allowed
}

fn ends(idx: &AccessIndex, p: u128, at: &str, now: i64) -> Option<Option<Timestamp>> {
    idx.check(pid(p), "storage.blobs.read", at, t(now)).grant.map(|g| g.ends_at)
}

const READ: &str = "storage.blobs.read";

#[test]
fn only_active_assignments_grant() {
    let idx = world();
    idx.upsert_assignment(&assignment(1, pid(1), rid(STORAGE), "/", AssignmentKind::Eligible, 0, None));
    assert!(!allowed(&idx, 1, READ, "/a", 5));
    assert_eq!(idx.len(), 1);
    idx.upsert_assignment(&assignment(1, pid(1), rid(STORAGE), "/", AssignmentKind::Active, 0, None));
    assert!(allowed(&idx, 1, READ, "/a", 5));
    assert_eq!(idx.len(), 1);
}

#[test]
fn a_scope_covers_itself_and_below_on_segment_boundaries() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/a", 0, None));
    idx.upsert_assignment(&active(2, pid(2), rid(STORAGE), "/", 0, None));
    for s in ["/a", "/a/b", "/a/b/c/d/e"] {
        assert!(allowed(&idx, 1, READ, s, 5), "{s}");
    }
    for s in ["/", "/ab", "/b", "/b/a", "/ab/c"] {
        assert!(!allowed(&idx, 1, READ, s, 5), "{s}");
    }
    // Odd requested scopes follow scope_contains exactly, and never panic.
    for s in ["", "a/b", "/a/", "/a//b", "//a", "/a/b/", "x", "/é/a", "/a/é"] {
        assert_eq!(allowed(&idx, 1, READ, s, 5), scope_contains("/a", s), "{s:?}");
        assert!(allowed(&idx, 2, READ, s, 5), "{s:?}");
    }
    let deep = format!("/a{}", "/x".repeat(40));
    assert!(allowed(&idx, 1, READ, &deep, 5));
}

#[test]
fn a_window_is_half_open_to_the_millisecond() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 100, Some(200)));
    assert!(!allowed(&idx, 1, READ, "/", 99));
    assert!(allowed(&idx, 1, READ, "/", 100));
    assert!(allowed(&idx, 1, READ, "/", 199));
    assert!(!allowed(&idx, 1, READ, "/", 200));
    assert_eq!(ends(&idx, 1, "/", 150), Some(Some(t(200))));
    idx.upsert_assignment(&active(2, pid(2), rid(STORAGE), "/", 100, None));
    assert_eq!(ends(&idx, 2, "/", i64::MAX), Some(None));
}

#[test]
fn ended_early_at_ends_access() {
    let idx = world();
    let mut a = active(1, pid(1), rid(STORAGE), "/", 0, Some(1000));
    a.ended_early_at = Some(t(50));
    idx.upsert_assignment(&a);
    assert!(allowed(&idx, 1, READ, "/", 49));
    assert!(!allowed(&idx, 1, READ, "/", 50));
}

#[test]
fn role_permissions_use_patterns_and_exclusions() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 0, None));
    assert!(allowed(&idx, 1, "storage.blobs.read", "/", 5));
    assert!(!allowed(&idx, 1, "storage.keys.list", "/", 5));
    assert!(!allowed(&idx, 1, "storage", "/", 5));
    assert!(!allowed(&idx, 1, "compute.vms.read", "/", 5));
    idx.upsert_assignment(&active(2, pid(1), pim_domain::role::READER, "/", 0, None));
    assert!(allowed(&idx, 1, "compute.vms.read", "/", 5));
    assert!(!allowed(&idx, 1, "compute.vms.write", "/", 5));
}

#[test]
fn unknown_or_removed_roles_grant_nothing() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(7), "/", 0, None));
    assert!(!allowed(&idx, 1, "x.read", "/", 5));
    assert!(idx.effective(pid(1), t(5)).is_empty());
    idx.upsert_role(role(7, &["x.*"], &[]));
    assert!(allowed(&idx, 1, "x.read", "/", 5));
    idx.upsert_role(role(7, &["y.*"], &[]));
    assert!(!allowed(&idx, 1, "x.read", "/", 5));
    assert!(allowed(&idx, 1, "y.read", "/", 5));
    idx.remove_role(rid(7));
    assert!(!allowed(&idx, 1, "y.read", "/", 5));
}

/// What a thread learnt of which roles allow an action is kept for its next check of the action,
/// and forgotten when a role changes or the index is replaced (the same role id and index, other
/// permissions).
#[test]
fn what_a_thread_learnt_of_the_roles_follows_every_role_change() {
    let idx = world();
    idx.upsert_role(role(7, &["x.*"], &[]));
    idx.upsert_assignment(&active(1, pid(1), rid(7), "/", 0, None));
    for _ in 0..3 {
        assert!(allowed(&idx, 1, "x.read", "/a", 5));
        assert!(!allowed(&idx, 1, "y.read", "/a", 5));
    }
    idx.upsert_role(role(7, &["y.*"], &[]));
    assert!(!allowed(&idx, 1, "x.read", "/a", 5));
    assert!(allowed(&idx, 1, "y.read", "/a", 5));
    idx.remove_role(rid(7));
    assert!(!allowed(&idx, 1, "y.read", "/a", 5));
    let load = |actions: &[&str]| {
        let mut roles = builtin_roles();
        roles.push(role(7, actions, &[]));
        idx.load(vec![user(1)], vec![], roles, vec![active(1, pid(1), rid(7), "/", 0, None)]);
    };
    load(&["x.*"]);
    assert!(allowed(&idx, 1, "x.read", "/a", 5) && !allowed(&idx, 1, "y.read", "/a", 5));
    load(&["y.*"]);
    assert!(!allowed(&idx, 1, "x.read", "/a", 5) && allowed(&idx, 1, "y.read", "/a", 5));
    // Two indexes checked in turn on one thread: each answers from its own roles.
    let other = world();
    other.upsert_role(role(7, &["x.*"], &[]));
    other.upsert_assignment(&active(1, pid(1), rid(7), "/", 0, None));
    for _ in 0..3 {
        assert!(allowed(&other, 1, "x.read", "/a", 5) && !allowed(&idx, 1, "x.read", "/a", 5));
        assert!(!allowed(&other, 1, "y.read", "/a", 5) && allowed(&idx, 1, "y.read", "/a", 5));
    }
}

/// More actions than a thread remembers, in turn, and actions too long to remember: every answer
/// is the one a fresh evaluation gives.
#[test]
fn many_actions_in_turn_are_answered_each_by_its_own_roles() {
    let idx = world();
    for k in 0..40u128 {
        idx.upsert_role(role(100 + k, &[&format!("a{k}.*")], &[]));
        idx.upsert_assignment(&active(k, pid(1), rid(100 + k), "/", 0, None));
    }
    let long = format!("a3.{}", "b".repeat(300));
    for round in 0..3 {
        for k in 0..80 {
            assert_eq!(allowed(&idx, 1, &format!("a{k}.read"), "/x", 5), k < 40, "a{k}, round {round}");
        }
        assert!(allowed(&idx, 1, &long, "/x", 5), "{round}");
        assert!(!allowed(&idx, 1, &format!("z{}", "b".repeat(300)), "/x", 5), "{round}");
    }
}

/// A long list whose runs mix roles, some of index 63 and above (beyond a run's role set's own
/// bits): a run is passed over only when none of its roles allows the action.
#[test]
fn runs_with_many_roles_are_passed_over_only_when_none_allows() {
    let idx = world();
    for k in 0..80u128 {
        idx.upsert_role(role(100 + k, &[&format!("a{k}.*")], &[]));
    }
    // Group 10 (user 1 is in it): at `/` every fifth role, at `/t` roles 60-79, at `/t/u` one.
    idx.set_membership(pid(10), pid(1), true);
    let mut n = 0;
    let mut grant = |k: u128, at: &str| {
        n += 1;
        idx.upsert_assignment(&active(n, pid(10), rid(100 + k), at, 0, Some(100 + n as i64)));
    };
    for k in (0..80).step_by(5) {
        grant(k, "/");
    }
    for k in 60..80 {
        grant(k, "/t");
    }
    grant(1, "/t/u");
    for k in 0..80u128 {
        let at_root = k % 5 == 0;
        assert_eq!(allowed(&idx, 1, &format!("a{k}.read"), "/x", 5), at_root, "a{k} at /x");
        assert_eq!(allowed(&idx, 1, &format!("a{k}.read"), "/t/v", 5), at_root || k >= 60, "a{k} at /t/v");
        assert_eq!(allowed(&idx, 1, &format!("a{k}.read"), "/t/u/w", 5), at_root || k >= 60 || k == 1, "a{k}");
    }
    let d = idx.check(pid(1), "a70.read", "/t/u/w", t(5));
    assert_eq!(d.grant.map(|g| (g.scope.to_string(), g.role_id)), Some(("/t".to_owned(), rid(170))));
}

#[test]
fn disabled_and_unknown_principals_are_denied() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 0, None));
    assert!(allowed(&idx, 1, READ, "/", 5));
    idx.upsert_principal(IndexPrincipal { enabled: false, ..user(1) });
    assert!(!allowed(&idx, 1, READ, "/", 5));
    assert!(idx.effective(pid(1), t(5)).is_empty());
    idx.upsert_principal(user(1));
    assert!(allowed(&idx, 1, READ, "/", 5));
    // Assignments on a principal the index has never been told about grant nothing.
    idx.upsert_assignment(&active(2, pid(99), rid(STORAGE), "/", 0, None));
    assert!(!allowed(&idx, 99, READ, "/", 5));
    assert_eq!(idx.principal(pid(99)), None);
}

#[test]
fn nested_groups_inherit_and_a_disabled_group_cuts_the_path() {
    let idx = world();
    idx.set_membership(pid(10), pid(1), true);
    idx.set_membership(pid(11), pid(10), true);
    idx.set_membership(pid(12), pid(11), true);
    idx.upsert_assignment(&active(1, pid(12), rid(STORAGE), "/a", 0, None));
    idx.upsert_assignment(&active(2, pid(10), rid(STORAGE), "/b", 0, None));
    let d = idx.check(pid(1), READ, "/a/x", t(5));
    assert!(d.allowed);
    let g = d.grant.unwrap_or_else(|| panic!("no grant"));
    assert_eq!((g.holder, g.via_group, g.assignment_id), (pid(12), Some(pid(12)), aid(1)));
    assert_eq!(&*g.scope, "/a");
    assert_eq!(g.role_id, rid(STORAGE));

    idx.upsert_principal(IndexPrincipal { enabled: false, ..group(11) });
    assert!(!allowed(&idx, 1, READ, "/a/x", 5), "the path through a disabled group is cut");
    assert!(allowed(&idx, 1, READ, "/b", 5), "the group below it still confers");
    assert_eq!(idx.groups_of(pid(1), t(5)), vec![pid(10)]);
    idx.upsert_principal(group(11));
    assert!(allowed(&idx, 1, READ, "/a/x", 5));
    idx.upsert_principal(IndexPrincipal { enabled: false, ..group(12) });
    assert!(!allowed(&idx, 1, READ, "/a/x", 5), "a disabled group confers nothing");
    idx.upsert_principal(group(12));

    idx.set_membership(pid(11), pid(10), false);
    assert!(!allowed(&idx, 1, READ, "/a/x", 5));
    assert!(allowed(&idx, 1, READ, "/b", 5));
    idx.set_membership(pid(10), pid(1), false);
    assert!(!allowed(&idx, 1, READ, "/b", 5));
}

#[test]
fn a_membership_added_above_existing_members_reaches_them() {
    let idx = world();
    idx.set_membership(pid(10), pid(1), true);
    idx.set_membership(pid(10), pid(2), true);
    idx.upsert_assignment(&active(1, pid(11), rid(STORAGE), "/", 0, None));
    assert!(!allowed(&idx, 1, READ, "/", 5));
    idx.set_membership(pid(11), pid(10), true);
    assert!(allowed(&idx, 1, READ, "/", 5));
    assert!(allowed(&idx, 2, READ, "/", 5));
}

#[test]
fn only_groups_confer_membership() {
    let idx = world();
    idx.set_membership(pid(2), pid(1), true); // a user "containing" a user
    idx.upsert_assignment(&active(1, pid(2), rid(STORAGE), "/", 0, None));
    assert!(allowed(&idx, 2, READ, "/", 5));
    assert!(!allowed(&idx, 1, READ, "/", 5));
}

#[test]
fn an_active_member_assignment_is_membership_for_its_window_only() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(10), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&member(2, pid(1), pid(10), 100, Some(200)));
    assert!(!allowed(&idx, 1, READ, "/x", 99));
    assert!(allowed(&idx, 1, READ, "/x", 100));
    assert_eq!(ends(&idx, 1, "/x", 150), Some(Some(t(200))), "access ends with the membership");
    assert!(!allowed(&idx, 1, READ, "/x", 200));
    assert_eq!(idx.groups_of(pid(1), t(150)), vec![pid(10)]);
    assert!(idx.groups_of(pid(1), t(200)).is_empty());

    // Shortening the membership, then making it eligible, then removing it.
    idx.upsert_assignment(&member(2, pid(1), pid(10), 100, Some(120)));
    assert!(!allowed(&idx, 1, READ, "/x", 150));
    idx.upsert_assignment(&assignment(
        2,
        pid(1),
        GROUP_MEMBER,
        ScopePath::for_group(pid(10)).as_str(),
        AssignmentKind::Eligible,
        0,
        None,
    ));
    assert!(!allowed(&idx, 1, READ, "/x", 110), "an eligible membership is no membership");
    idx.upsert_assignment(&member(2, pid(1), pid(10), 0, None));
    assert!(allowed(&idx, 1, READ, "/x", 110));
    idx.remove_assignment(aid(2));
    assert!(!allowed(&idx, 1, READ, "/x", 110));
    // Another role at a group scope is no membership.
    idx.upsert_assignment(&active(3, pid(1), rid(STORAGE), ScopePath::for_group(pid(10)).as_str(), 0, None));
    assert!(!allowed(&idx, 1, READ, "/x", 110));
}

#[test]
fn time_bound_memberships_nest_and_every_edge_must_hold() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(11), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&member(2, pid(1), pid(10), 100, Some(300)));
    idx.upsert_assignment(&member(3, pid(10), pid(11), 200, Some(400)));
    assert!(!allowed(&idx, 1, READ, "/", 150));
    assert_eq!(ends(&idx, 1, "/", 250), Some(Some(t(300))));
    assert!(!allowed(&idx, 1, READ, "/", 350));
    // A static path to the same group lasts longer and wins.
    idx.set_membership(pid(12), pid(1), true);
    idx.upsert_assignment(&member(4, pid(12), pid(11), 0, Some(1000)));
    assert_eq!(ends(&idx, 1, "/", 250), Some(Some(t(1000))));
    assert!(allowed(&idx, 1, READ, "/", 500));
}

#[test]
fn cycles_do_not_loop() {
    let idx = world();
    idx.set_membership(pid(10), pid(11), true);
    idx.set_membership(pid(11), pid(10), true);
    idx.set_membership(pid(10), pid(1), true);
    idx.upsert_assignment(&member(1, pid(11), pid(12), 0, Some(100)));
    idx.upsert_assignment(&member(2, pid(12), pid(10), 0, None));
    idx.upsert_assignment(&member(3, pid(10), pid(10), 0, None));
    idx.upsert_assignment(&active(4, pid(12), rid(STORAGE), "/", 0, None));
    assert!(allowed(&idx, 1, READ, "/", 5));
    let mut gs = idx.groups_of(pid(1), t(5));
    gs.sort();
    assert_eq!(gs, vec![pid(10), pid(11), pid(12)]);
    assert!(!allowed(&idx, 1, READ, "/", 100));
    // A group is never in its own closure; its own assignments are direct.
    let d = idx.check(pid(12), READ, "/", t(5));
    assert_eq!(d.grant.map(|g| g.via_group), Some(None));
}

#[test]
fn the_best_grant_is_permanent_then_latest_then_direct() {
    let idx = world();
    idx.set_membership(pid(10), pid(1), true);
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 0, Some(300)));
    idx.upsert_assignment(&active(2, pid(1), rid(STORAGE), "/", 0, Some(400)));
    let best =
        |idx: &AccessIndex, now| idx.check(pid(1), READ, "/a", t(now)).grant.map(|g| (g.assignment_id, g.via_group));
    assert_eq!(best(&idx, 5), Some((aid(2), None)));
    idx.upsert_assignment(&active(3, pid(10), rid(STORAGE), "/a", 0, Some(500)));
    assert_eq!(best(&idx, 5), Some((aid(3), Some(pid(10)))), "latest end wins");
    idx.upsert_assignment(&active(4, pid(10), rid(STORAGE), "/", 0, Some(400)));
    idx.upsert_assignment(&active(5, pid(1), rid(STORAGE), "/", 0, Some(500)));
    assert_eq!(best(&idx, 5), Some((aid(5), None)), "direct wins a tie");
    idx.upsert_assignment(&active(6, pid(10), rid(STORAGE), "/", 0, None));
    assert_eq!(best(&idx, 5), Some((aid(6), Some(pid(10)))), "permanent wins");
    idx.upsert_assignment(&active(7, pid(1), rid(STORAGE), "/a", 0, None));
    assert_eq!(best(&idx, 5), Some((aid(7), None)), "direct permanent wins a permanent tie");
    // A permanent group assignment through a membership ending at 250 loses to a direct one at 300.
    let idx = world();
    idx.upsert_assignment(&member(1, pid(1), pid(10), 0, Some(250)));
    idx.upsert_assignment(&active(2, pid(10), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&active(3, pid(1), rid(STORAGE), "/", 0, Some(300)));
    assert_eq!(best(&idx, 5), Some((aid(3), None)));
    assert_eq!(best(&idx, 300), None);
}

#[test]
fn remove_prune_and_len() {
    let idx = world();
    assert!(idx.is_empty());
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 0, Some(100)));
    idx.upsert_assignment(&assignment(2, pid(1), rid(STORAGE), "/", AssignmentKind::Eligible, 0, Some(50)));
    idx.upsert_assignment(&active(3, pid(1), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&member(4, pid(2), pid(10), 0, Some(60)));
    idx.upsert_assignment(&active(8, pid(2), rid(STORAGE), "/", 0, Some(60)));
    assert_eq!(idx.len(), 5);
    assert_eq!(idx.prune(t(49)), 0);
    assert!(allowed(&idx, 2, READ, "/", 10));
    assert_eq!(idx.prune(t(60)), 3);
    assert_eq!(idx.len(), 2);
    assert!(idx.groups_of(pid(2), t(10)).is_empty(), "the pruned membership is gone");
    assert!(idx.effective(pid(2), t(10)).is_empty(), "and so is its entry");
    assert_eq!(idx.effective(pid(1), t(10)).len(), 2);
    idx.remove_assignment(aid(3));
    idx.remove_assignment(aid(3));
    assert_eq!(idx.len(), 1);
    assert_eq!(ends(&idx, 1, "/", 10), Some(Some(t(100))));
    assert_eq!(idx.prune(t(100)), 1);
    assert!(idx.is_empty());
    assert!(!allowed(&idx, 1, READ, "/", 10));
    // Slots are reused after removal.
    idx.upsert_assignment(&active(5, pid(1), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&active(6, pid(1), rid(STORAGE), "/", 0, None));
    idx.upsert_assignment(&active(7, pid(1), rid(STORAGE), "/", 0, None));
    assert!(allowed(&idx, 1, READ, "/", 10));
    assert!(!allowed(&idx, 2, READ, "/", 10), "what was pruned stays gone");
}

#[test]
fn pruning_keeps_what_still_applies_in_long_lists() {
    // Long enough to be searched by scope rather than scanned.
    let idx = world();
    for (n, at) in [(1, "/a"), (2, "/b"), (3, "/c"), (4, "/d")] {
        idx.upsert_assignment(&active(n, pid(1), rid(STORAGE), at, 0, None));
    }
    idx.upsert_assignment(&assignment(5, pid(1), rid(STORAGE), "/a", AssignmentKind::Eligible, 0, Some(10)));
    idx.upsert_assignment(&active(6, pid(1), rid(STORAGE), "/a", 0, Some(10)));
    assert_eq!(idx.prune(t(10)), 2);
    for at in ["/a/x", "/b", "/c", "/d"] {
        assert!(allowed(&idx, 1, READ, at, 20), "{at}");
    }
    idx.remove_assignment(aid(1));
    assert!(!allowed(&idx, 1, READ, "/a/x", 20));
}

#[test]
fn names_resolve_case_insensitively_and_principals_read_back() {
    let idx = world();
    idx.upsert_principal(principal(5, PrincipalKind::ServicePrincipal, "Deploy-Bot"));
    assert_eq!(idx.resolve_name("deploy-bot"), Some(pid(5)));
    assert_eq!(idx.resolve_name("DEPLOY-BOT"), Some(pid(5)));
    assert_eq!(idx.resolve_name("USER1"), Some(pid(1)));
    idx.upsert_principal(principal(5, PrincipalKind::ServicePrincipal, "ci-bot"));
    assert_eq!(idx.resolve_name("deploy-bot"), None);
    assert_eq!(idx.resolve_name("CI-Bot"), Some(pid(5)));
    assert_eq!(idx.principal(pid(5)).map(|p| p.name), Some("ci-bot".to_owned()));
    assert_eq!(idx.principal(pid(12)), Some(group(12)));
    // `knows` agrees with `principal`, also for ids seen only in a membership.
    idx.set_membership(pid(90), pid(91), true);
    for n in [1, 5, 12, 90, 91, 999] {
        assert_eq!(idx.knows(pid(n)), idx.principal(pid(n)).is_some(), "{n}");
    }
    assert!(idx.knows(pid(5)) && !idx.knows(pid(999)));
}

#[test]
fn effective_lists_direct_then_group_grants_in_effect() {
    let idx = world();
    idx.set_membership(pid(10), pid(1), true);
    idx.upsert_assignment(&member(1, pid(1), pid(11), 0, Some(100)));
    idx.upsert_assignment(&active(2, pid(1), rid(STORAGE), "/a", 0, Some(50)));
    idx.upsert_assignment(&active(3, pid(10), rid(STORAGE), "/b", 0, None));
    idx.upsert_assignment(&active(4, pid(11), rid(STORAGE), "/c", 0, None));
    idx.upsert_assignment(&active(5, pid(11), rid(STORAGE), "/d", 20, None));
    idx.upsert_assignment(&assignment(6, pid(1), rid(STORAGE), "/e", AssignmentKind::Eligible, 0, None));
    let got: Vec<_> =
        idx.effective(pid(1), t(10)).into_iter().map(|g| (g.assignment_id, g.via_group, g.ends_at)).collect();
    assert_eq!(
        got,
        vec![
            (aid(1), None, Some(t(100))),
            (aid(2), None, Some(t(50))),
            (aid(3), Some(pid(10)), None),
            (aid(4), Some(pid(11)), Some(t(100))),
        ]
    );
}

#[test]
fn load_replaces_everything() {
    let idx = world();
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/", 0, None));
    idx.load(
        vec![user(2), group(10)],
        vec![(pid(10), pid(2))],
        vec![role(STORAGE, &["storage.*"], &[])],
        vec![active(2, pid(10), rid(STORAGE), "/z", 0, None), active(2, pid(10), rid(STORAGE), "/y", 0, None)],
    );
    assert!(!allowed(&idx, 1, READ, "/", 5));
    assert_eq!(idx.principal(pid(1)), None);
    assert_eq!(idx.len(), 1, "a repeated id replaces the earlier one");
    assert!(allowed(&idx, 2, READ, "/y", 5));
    assert!(!allowed(&idx, 2, READ, "/z", 5));
}

// ---- property test against a naive reference ----

/// The world as plain data, and the rules written as directly as possible.
#[derive(Clone, Debug, Default)]
struct World {
    principals: BTreeMap<PrincipalId, IndexPrincipal>,
    memberships: BTreeSet<(PrincipalId, PrincipalId)>,
    roles: BTreeMap<RoleId, RoleDefinition>,
    assignments: BTreeMap<AssignmentId, Assignment>,
}

fn end_of(a: &Assignment) -> i64 {
    let end = a.window.end.map_or(i64::MAX, |e| e.0);
    a.ended_early_at.map_or(end, |e| end.min(e.0))
}

fn in_effect(a: &Assignment, now: i64) -> bool {
    a.kind == AssignmentKind::Active && a.window.start.0 <= now && now < end_of(a)
}

impl World {
    fn holds(&self, p: PrincipalId) -> bool {
        self.principals.get(&p).is_some_and(|p| p.enabled)
    }

    fn confers(&self, g: PrincipalId) -> bool {
        self.principals.get(&g).is_some_and(|p| p.enabled && p.kind == PrincipalKind::Group)
    }

    /// Every group `p` is in at `now`, with the latest end over its simple paths (an edge's end
    /// bounds the path).
    fn groups(&self, p: PrincipalId, now: i64) -> BTreeMap<PrincipalId, i64> {
        let mut best = BTreeMap::new();
        self.walk(p, i64::MAX, now, &mut vec![p], &mut best);
        best
    }

    fn walk(
        &self,
        x: PrincipalId,
        end: i64,
        now: i64,
        path: &mut Vec<PrincipalId>,
        best: &mut BTreeMap<PrincipalId, i64>,
    ) {
        let mut next: Vec<(PrincipalId, i64)> =
            self.memberships.iter().filter(|(_, m)| *m == x).map(|(g, _)| (*g, end)).collect();
        for a in self.assignments.values() {
            let member_of = a.scope.group().filter(|_| a.role_id == GROUP_MEMBER && in_effect(a, now));
            if let (true, Some(g)) = (a.principal_id == x, member_of) {
                next.push((g, end.min(end_of(a))));
            }
        }
        for (g, e) in next {
            if !self.confers(g) || path.contains(&g) {
                continue;
            }
            let b = best.entry(g).or_insert(e);
            *b = (*b).max(e);
            path.push(g);
            self.walk(g, e, now, path, best);
            path.pop();
        }
    }

    /// (assignment, via group, effective end) for every grant in effect.
    fn effective(&self, p: PrincipalId, now: i64) -> Vec<(AssignmentId, Option<PrincipalId>, i64)> {
        if !self.holds(p) {
            return Vec::new();
        }
        let groups = self.groups(p, now);
        let mut out = Vec::new();
        for a in self.assignments.values() {
            if !in_effect(a, now) || !self.roles.contains_key(&a.role_id) {
                continue;
            }
            if a.principal_id == p {
                out.push((a.id, None, end_of(a)));
            } else if let Some(&e) = groups.get(&a.principal_id) {
                out.push((a.id, Some(a.principal_id), end_of(a).min(e)));
            }
        }
        out
    }

    fn allows(&self, a: AssignmentId, action: &str, at: &str) -> bool {
        let Some(a) = self.assignments.get(&a) else { return false };
        scope_contains(a.scope.as_str(), at) && self.roles.get(&a.role_id).is_some_and(|r| r.permissions.allows(action))
    }
}

const P: [u128; 8] = [1, 2, 3, 10, 11, 12, 13, 99]; // users, groups, and one never upserted
const GROUPS: [u128; 4] = [10, 11, 12, 13];
const ROLES: [RoleId; 5] = [rid(0), rid(1), rid(2), GROUP_MEMBER, rid(9)]; // rid(9) is never defined
const SCOPES: [&str; 6] = ["/", "/a", "/a/b", "/ab", "/a/b/c", "/x"];
const ACTIONS: [&str; 4] = ["a.b.read", "a.b.write", "x.read", "a.c"];
const QUERIES: [&str; 8] = ["/", "/a", "/a/b", "/a/b/c/d", "/ab", "/x/y", "/a/", "/q"];
const PATTERNS: [&str; 6] = ["*", "a.*", "*.read", "a.b.read", "x.*", "a.*.write"];

fn arb_assignment() -> impl Strategy<Value = Assignment> {
    (
        0u128..14,
        0..P.len(),
        0..ROLES.len(),
        0..SCOPES.len() + GROUPS.len(),
        prop::bool::weighted(0.8),
        (0i64..20, prop::option::weighted(0.7, 0i64..20)),
        prop::option::weighted(0.1, 0i64..30),
    )
        .prop_map(|(n, h, r, s, is_active, (start, len), early)| {
            let at = match SCOPES.get(s) {
                Some(s) => (*s).to_owned(),
                None => ScopePath::for_group(pid(GROUPS[s - SCOPES.len()])).as_str().to_owned(),
            };
            let kind = if is_active { AssignmentKind::Active } else { AssignmentKind::Eligible };
            let mut a = assignment(n, pid(P[h]), ROLES[r], &at, kind, start, len.map(|l| start + l));
            a.ended_early_at = early.map(t);
            a
        })
}

fn arb_role(n: u128) -> impl Strategy<Value = RoleDefinition> {
    (prop::sample::subsequence(&PATTERNS[..], 1..3), prop::sample::subsequence(&PATTERNS[1..], 0..2))
        .prop_map(move |(a, x)| role(n, &a, &x))
}

#[derive(Clone, Debug)]
enum Op {
    Upsert(Assignment),
    Remove(u128),
    Membership(usize, usize, bool),
    Enabled(usize, bool),
    UpsertRole(RoleDefinition),
    RemoveRole(usize),
    Prune(i64),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => arb_assignment().prop_map(Op::Upsert),
        1 => (0u128..14).prop_map(Op::Remove),
        2 => (0..GROUPS.len(), 0..P.len(), any::<bool>()).prop_map(|(g, m, b)| Op::Membership(g, m, b)),
        2 => (0..P.len() - 1, prop::bool::weighted(0.6)).prop_map(|(p, b)| Op::Enabled(p, b)),
        1 => (0u128..3).prop_flat_map(arb_role).prop_map(Op::UpsertRole),
        1 => (0..3usize).prop_map(Op::RemoveRole),
        1 => (0i64..30).prop_map(Op::Prune),
    ]
}

fn principal_for(i: usize, enabled: bool) -> IndexPrincipal {
    let n = P[i];
    let mut p = if GROUPS.contains(&n) { group(n) } else { user(n) };
    p.enabled = enabled;
    p
}

fn arb_world() -> impl Strategy<Value = (World, Vec<Op>)> {
    (
        prop::collection::vec(prop::bool::weighted(0.85), P.len() - 1),
        prop::collection::vec((0..GROUPS.len(), 0..P.len()), 0..8),
        (arb_role(0), arb_role(1), arb_role(2), any::<bool>()),
        prop::collection::vec(arb_assignment(), 0..14),
        prop::collection::vec(arb_op(), 0..12),
    )
        .prop_map(|(enabled, memberships, (r0, r1, r2, with_member), assignments, ops)| {
            let mut w = World::default();
            for (i, e) in enabled.into_iter().enumerate() {
                let p = principal_for(i, e);
                w.principals.insert(p.id, p);
            }
            w.memberships = memberships.into_iter().map(|(g, m)| (pid(GROUPS[g]), pid(P[m]))).collect();
            let mut roles = vec![r0, r1, r2];
            if with_member {
                roles.extend(builtin_roles().into_iter().filter(|r| r.id == GROUP_MEMBER));
            }
            w.roles = roles.into_iter().map(|r| (r.id, r)).collect();
            for a in assignments {
                w.assignments.insert(a.id, a);
            }
            (w, ops)
        })
}

fn apply(w: &mut World, idx: &AccessIndex, op: Op) {
    match op {
        Op::Upsert(a) => {
            idx.upsert_assignment(&a);
            w.assignments.insert(a.id, a);
        }
        Op::Remove(n) => {
            idx.remove_assignment(aid(n));
            w.assignments.remove(&aid(n));
        }
        Op::Membership(g, m, present) => {
            let (g, m) = (pid(GROUPS[g]), pid(P[m]));
            idx.set_membership(g, m, present);
            if present {
                w.memberships.insert((g, m));
            } else {
                w.memberships.remove(&(g, m));
            }
        }
        Op::Enabled(i, e) => {
            let p = principal_for(i, e);
            idx.upsert_principal(p.clone());
            w.principals.insert(p.id, p);
        }
        Op::UpsertRole(r) => {
            idx.upsert_role(r.clone());
            w.roles.insert(r.id, r);
        }
        Op::RemoveRole(i) => {
            idx.remove_role(rid(i as u128));
            w.roles.remove(&rid(i as u128));
        }
        Op::Prune(now) => {
            let before = w.assignments.len();
            w.assignments.retain(|_, a| end_of(a) > now);
            assert_eq!(idx.prune(t(now)), before - w.assignments.len());
        }
    }
}

/// Whether what each slot keeps beside its entries and closure for checks (the inline runs with
/// their roles, the Bloom filter, the table of the other runs; the closure's first groups) is
/// what its entries and closure make now.
fn derived_is_exact(idx: &AccessIndex) -> Result<(), String> {
    let d = idx.data.read();
    for (i, s) in d.principals.iter().enumerate() {
        let want = if s.entries.len() <= SCAN_MAX {
            (NearRuns::EMPTY, [0; 4], FarRuns::default())
        } else {
            runs::index(&s.entries)
        };
        if (s.near, s.bloom, &s.far) != (want.0, want.1, &want.2) {
            return Err(format!("slot {i}: {:?} {:?} {:?}, want {want:?}", s.near, s.bloom, s.far));
        }
        if (s.lead, s.leads) != leads_of(&s.closure) {
            return Err(format!("slot {i}: lead {:?} ({}) of closure {:?}", s.lead, s.leads, s.closure));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Also: after the load and after every change, what the slots keep for checks is exact.
    #[test]
    fn agrees_with_a_naive_reference((world, ops) in arb_world()) {
        let mut w = world;
        let idx = AccessIndex::new();
        idx.load(
            w.principals.values().cloned().collect(),
            w.memberships.iter().copied().collect(),
            w.roles.values().cloned().collect(),
            w.assignments.values().cloned().collect(),
        );
        prop_assert_eq!(derived_is_exact(&idx), Ok(()));
        for op in ops {
            apply(&mut w, &idx, op);
            prop_assert_eq!(derived_is_exact(&idx), Ok(()));
        }
        prop_assert_eq!(idx.len(), w.assignments.len());
        for &n in &P {
            let p = pid(n);
            for now in 0..42 {
                let mut want = w.effective(p, now);
                let mut got: Vec<_> = idx
                    .effective(p, t(now))
                    .into_iter()
                    .map(|g| (g.assignment_id, g.via_group, g.ends_at.map_or(i64::MAX, |e| e.0)))
                    .collect();
                want.sort();
                got.sort();
                prop_assert_eq!(&got, &want, "effective({}, {})", n, now);

                let mut groups = idx.groups_of(p, t(now));
                groups.sort();
                let want_groups: Vec<_> =
                    if w.holds(p) { w.groups(p, now).into_keys().collect() } else { Vec::new() };
                prop_assert_eq!(groups, want_groups);

                for action in ACTIONS {
                    for at in QUERIES {
                        let d = idx.check(p, action, at, t(now));
                        let candidates: Vec<_> = want.iter().filter(|(a, _, _)| w.allows(*a, action, at)).collect();
                        prop_assert_eq!(d.allowed, !candidates.is_empty(), "check({}, {}, {}, {})", n, action, at, now);
                        let Some(g) = d.grant else { continue };
                        let best = candidates.iter().map(|c| c.2).max().unwrap_or(i64::MIN);
                        let direct = candidates.iter().any(|c| c.2 == best && c.1.is_none());
                        let end = g.ends_at.map_or(i64::MAX, |e| e.0);
                        prop_assert_eq!(end, best);
                        prop_assert_eq!(g.via_group.is_none(), direct);
                        prop_assert!(candidates.contains(&&(g.assignment_id, g.via_group, end)));
                        let a = &w.assignments[&g.assignment_id];
                        prop_assert_eq!((&*g.scope, g.role_id, g.holder), (a.scope.as_str(), a.role_id, a.principal_id));
                    }
                }
            }
        }
    }
}

#[test]
fn role_names_follow_upserts_and_removals() {
    let idx = AccessIndex::new();
    let role = pim_domain::RoleDefinition {
        id: RoleId::new(),
        name: "Blob Reader".into(),
        description: String::new(),
        builtin: false,
        permissions: pim_domain::Permissions::from_literals(&["storage.blobs.read"], &[]),
    };
    assert_eq!(idx.role_name(role.id), None);
    idx.upsert_role(role.clone());
    assert_eq!(idx.role_name(role.id).as_deref(), Some("Blob Reader"));
    idx.upsert_role(pim_domain::RoleDefinition { name: "Blob Viewer".into(), ..role.clone() });
    assert_eq!(idx.role_name(role.id).as_deref(), Some("Blob Viewer"));
    idx.remove_role(role.id);
    assert_eq!(idx.role_name(role.id), None);
}

#[test]
fn holders_are_the_users_allowed_directly_through_groups_and_from_parent_scopes() {
    let idx = world();
    // User 1 directly at /a; group 10 (containing group 11, containing user 2) at /; user 3 only
    // eligible; a group itself is never a holder; a disabled user is left out.
    idx.upsert_principal(user(3));
    idx.upsert_principal(user(4));
    idx.set_membership(pid(10), pid(11), true);
    idx.set_membership(pid(11), pid(2), true);
    idx.upsert_assignment(&active(1, pid(1), rid(STORAGE), "/a", 0, None));
    idx.upsert_assignment(&active(2, pid(10), rid(STORAGE), "/", 0, Some(100)));
    idx.upsert_assignment(&assignment(3, pid(3), rid(STORAGE), "/", AssignmentKind::Eligible, 0, None));
    idx.upsert_assignment(&active(4, pid(4), rid(STORAGE), "/", 0, None));
    idx.upsert_principal(IndexPrincipal { enabled: false, ..user(4) });
    assert_eq!(idx.holders(READ, "/a/b", t(5)), vec![pid(1), pid(2)]);
    assert_eq!(idx.holders(READ, "/b", t(5)), vec![pid(2)], "/a does not cover /b");
    assert_eq!(idx.holders("storage.keys.list", "/a", t(5)), Vec::<PrincipalId>::new(), "excluded action");
    assert_eq!(idx.holders(READ, "/a", t(100)), vec![pid(1)], "the group's assignment has ended");
    // A time-bound membership counts only in its window.
    idx.upsert_assignment(&member(5, pid(3), pid(10), 10, Some(20)));
    assert_eq!(idx.holders(READ, "/b", t(15)), vec![pid(2), pid(3)]);
    assert_eq!(idx.holders(READ, "/b", t(20)), vec![pid(2)]);
}

#[test]
fn members_are_transitive_current_and_enabled() {
    let idx = world();
    idx.upsert_principal(user(3));
    idx.set_membership(pid(10), pid(11), true);
    idx.set_membership(pid(11), pid(2), true);
    idx.set_membership(pid(10), pid(1), true);
    idx.upsert_assignment(&member(1, pid(3), pid(11), 10, Some(20)));
    assert_eq!(idx.members(pid(10), t(5)), vec![pid(1), pid(2), pid(11)]);
    assert_eq!(idx.members(pid(10), t(15)), vec![pid(1), pid(2), pid(3), pid(11)]);
    assert_eq!(idx.members(pid(11), t(15)), vec![pid(2), pid(3)]);
    idx.upsert_principal(IndexPrincipal { enabled: false, ..user(1) });
    assert_eq!(idx.members(pid(10), t(5)), vec![pid(2), pid(11)], "disabled members are left out");
    idx.upsert_principal(IndexPrincipal { enabled: false, ..group(11) });
    assert_eq!(idx.members(pid(10), t(5)), Vec::<PrincipalId>::new(), "a disabled group cuts the path");
    assert_eq!(idx.members(pid(77), t(5)), Vec::<PrincipalId>::new(), "unknown group");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn holders_and_members_agree_with_checks_and_the_reference((world, ops) in arb_world()) {
        let mut w = world;
        let idx = AccessIndex::new();
        idx.load(
            w.principals.values().cloned().collect(),
            w.memberships.iter().copied().collect(),
            w.roles.values().cloned().collect(),
            w.assignments.values().cloned().collect(),
        );
        for op in ops {
            apply(&mut w, &idx, op);
        }
        for now in (0..42).step_by(3) {
            for action in ACTIONS {
                for at in QUERIES {
                    let want: Vec<PrincipalId> = P
                        .iter()
                        .map(|&n| pid(n))
                        .filter(|p| w.principals.get(p).is_some_and(|x| x.kind == PrincipalKind::User))
                        .filter(|p| idx.check(*p, action, at, t(now)).allowed)
                        .collect();
                    prop_assert_eq!(idx.holders(action, at, t(now)), want, "holders({}, {}, {})", action, at, now);
                }
            }
            for &g in &GROUPS {
                let want: Vec<PrincipalId> = P
                    .iter()
                    .map(|&n| pid(n))
                    .filter(|p| w.holds(*p) && w.groups(*p, now).contains_key(&pid(g)))
                    .collect();
                prop_assert_eq!(idx.members(pid(g), t(now)), want, "members({}, {})", g, now);
            }
        }
    }
}

// ---- assignment ids whose 64-bit folds clash ----

/// An assignment id whose fold (low half xor high half) is `fold`: `n` tells ids apart.
fn clashing_id(n: u128, fold: u128) -> AssignmentId {
    AssignmentId(Uuid::from_u128((n << 64) | (n ^ fold)))
}

/// Assignment `n` of the clashing set: user 1, storage, at its own scope `/s{n}`.
fn clashing(n: u128) -> Assignment {
    let mut a = active(0, pid(1), rid(STORAGE), &format!("/s{n}"), 0, Some(10 + n as i64));
    a.id = clashing_id(n, n % 2);
    a
}

#[test]
fn ids_with_the_same_fold_are_held_apart() {
    let idx = world();
    for n in [2, 4, 6] {
        idx.upsert_assignment(&clashing(n));
    }
    assert_eq!(idx.len(), 3);
    assert!([2, 4, 6].iter().all(|n| allowed(&idx, 1, READ, &format!("/s{n}"), 5)));
    idx.remove_assignment(clashing(2).id); // the one under the fold
    assert_eq!(idx.len(), 2);
    assert!(!allowed(&idx, 1, READ, "/s2", 5));
    assert!(allowed(&idx, 1, READ, "/s4", 5) && allowed(&idx, 1, READ, "/s6", 5));
    idx.upsert_assignment(&clashing(2));
    idx.remove_assignment(clashing(4).id); // one of the clashes
    idx.remove_assignment(clashing(4).id); // twice: a no-op
    assert_eq!(idx.len(), 2);
    assert!(allowed(&idx, 1, READ, "/s2", 5) && !allowed(&idx, 1, READ, "/s4", 5));
    let mut longer = clashing(6);
    longer.window.end = None;
    idx.upsert_assignment(&longer); // replaces, whichever map it is in
    assert_eq!(idx.len(), 2);
    assert_eq!(idx.prune(t(13)), 1, "only /s2 (ending at 12) has ended");
    assert!(allowed(&idx, 1, READ, "/s6", 50) && !allowed(&idx, 1, READ, "/s2", 5));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Upserts, removals and prunes of ids that fold to two values: the index holds exactly the
    /// model's set, each granting at its own scope.
    #[test]
    fn clashing_ids_agree_with_a_set(ops in prop::collection::vec((0u8..3, 1u128..9), 0..40)) {
        let idx = world();
        let mut held = BTreeSet::new();
        for (op, n) in ops {
            match op {
                0 => {
                    idx.upsert_assignment(&clashing(n));
                    held.insert(n);
                }
                1 => {
                    idx.remove_assignment(clashing(n).id);
                    held.remove(&n);
                }
                _ => {
                    let now = 10 + n as i64;
                    held.retain(|&h| 10 + h as i64 > now);
                    idx.prune(t(now));
                }
            }
            prop_assert_eq!(idx.len(), held.len());
            for m in 1u128..9 {
                prop_assert_eq!(allowed(&idx, 1, READ, &format!("/s{m}"), 5), held.contains(&m), "/s{}", m);
            }
        }
    }
}

// ---- the parallel build ----

/// Every field of an index, its maps in key order: two builds made the same index when their dumps
/// are equal (numbering, orders, maps and all).
fn dump(d: &IndexData) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (i, s) in d.principals.iter().enumerate() {
        let _ = writeln!(
            out,
            "slot {i}: {:?} {:?} {:?} holds={} confers={} leads={} lead={:?} entries={:?} bloom={:?} near={:?} far={:?} \
             closure={:?} parents={:?} children={:?}",
            s.id,
            s.name,
            s.kind,
            s.holds,
            s.confers,
            s.leads,
            s.lead,
            s.entries,
            s.bloom,
            s.near,
            s.far,
            s.closure,
            s.parents,
            s.children
        );
    }
    let ids: BTreeMap<_, _> = d.ids.iter().collect();
    let names: BTreeMap<_, _> = d.names.iter().collect();
    let role_ids: BTreeMap<_, _> = d.role_ids.iter().collect();
    let scope_ids: BTreeMap<_, _> = d.scope_ids.iter().collect();
    let folded: BTreeMap<_, _> = d.rec_ids.folded.iter().collect();
    let clashes: BTreeMap<_, _> = d.rec_ids.clashes.iter().collect();
    let segments: BTreeMap<_, _> = d.segments.iter().collect();
    let _ = writeln!(out, "ids {ids:?}\nnames {names:?}\nrole_ids {role_ids:?}\nroles {:?}", d.roles);
    let _ = writeln!(out, "scope_ids {scope_ids:?}\nscopes {:?}\nchains {:?}", d.scopes, d.chains);
    let _ = writeln!(out, "folded {folded:?}\nclashes {clashes:?}\nrecs {:?}\nfree {:?}", d.recs, d.free);
    let _ = writeln!(out, "segments {segments:?}");
    out
}

type Parts = (Vec<IndexPrincipal>, Vec<(PrincipalId, PrincipalId)>, Vec<RoleDefinition>);

fn build(parts: &Parts, assignments: &[IndexAssignment], threads: usize) -> IndexData {
    let (p, m, r) = parts.clone();
    IndexData::base(p, m, r).finish(assignments.to_vec(), threads)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Built on several threads (the assignments' misses found per part, the lookups in parallel,
    /// records and lists written apart, each principal finished apart), the index is the one the
    /// sequential build makes: principals, roles, scopes and records numbered alike, entries and
    /// edges in the same order (which decides tie winners), the same maps.
    #[test]
    fn the_parallel_build_is_the_sequential_one(
        (world, _) in arb_world(),
        more in prop::collection::vec(arb_assignment(), 0..40),
        clashes in prop::collection::vec(1u128..9, 0..6),
    ) {
        let mut all = world.assignments.clone();
        for (k, mut a) in more.into_iter().enumerate() {
            a.id = aid(100 + k as u128);
            all.insert(a.id, a);
        }
        for n in clashes {
            let a = clashing(n);
            all.insert(a.id, a);
        }
        let assignments: Vec<IndexAssignment> = all.values().map(IndexAssignment::from).collect();
        let parts: Parts = (
            world.principals.values().cloned().collect(),
            world.memberships.iter().copied().collect(),
            world.roles.values().cloned().collect(),
        );
        let (p, m, r) = parts.clone();
        prop_assert!(
            assignments.is_empty() || IndexData::base(p, m, r).can_put_in_parallel(&assignments),
            "the parallel way is taken"
        );
        let sequential = dump(&build(&parts, &assignments, 1));
        for threads in [2, 3, 8] {
            prop_assert_eq!(&dump(&build(&parts, &assignments, threads)), &sequential, "{} threads", threads);
        }
    }
}

#[test]
fn out_of_order_or_repeated_ids_go_in_one_by_one_and_build_the_same_index() {
    let parts: Parts = (vec![user(1), user(2), group(10)], vec![(pid(10), pid(1))], vec![role(STORAGE, &["*"], &[])]);
    let a = |n: u128, holder: u128, at: &str| IndexAssignment::from(active(n, pid(holder), rid(STORAGE), at, 0, None));
    // The same id twice (the later replaces the earlier), and ids out of order.
    let repeated = vec![a(1, 1, "/a"), a(2, 2, "/b"), a(2, 1, "/c"), a(3, 10, "/d")];
    let unordered = vec![a(3, 1, "/a"), a(1, 2, "/b"), a(2, 10, "/c")];
    for list in [repeated, unordered] {
        let (p, m, r) = parts.clone();
        assert!(!IndexData::base(p, m, r).can_put_in_parallel(&list));
        assert_eq!(dump(&build(&parts, &list, 2)), dump(&build(&parts, &list, 1)));
    }
    let idx = AccessIndex::new();
    let (p, m, r) = parts.clone();
    idx.install(IndexBuild::new(p, m, r).finish(vec![a(1, 1, "/a"), a(2, 2, "/b"), a(2, 1, "/c")], 2));
    assert_eq!(idx.len(), 2);
    assert!(allowed(&idx, 1, READ, "/c", 5) && !allowed(&idx, 2, READ, "/b", 5), "the later row of id 2 holds");
}
