//! Several servers on one database: each one's access index follows the others' changes.

use pim_engine::engine::EngineOptions;
use pim_engine::index::{AccessIndex, IndexPrincipal};
use pim_engine::{Clock, Engine};

use crate::harness::prelude::*;

async fn a_second_replica_follows_the_first(b: Backend) {
    let s = TestServer::start(&b).await;
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica = Engine::open(store, s.clock.clone(), EngineOptions::default()).await.expect("replica");
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, _) = s.user("alice").await;
    let check = |e: &Engine| e.index().check(uid, "ops.restart", "/a", s.clock.now()).allowed;
    s.assign(uid, role, "/a", AssignmentKind::Active, None).await;
    assert!(check(&s.engine));
    assert!(!check(&replica), "not before the replica follows");
    assert!(replica.follow_changes().await.expect("follow") > 0);
    assert!(check(&replica), "the replica sees the new assignment");
    // Disabling the user, changing the role, and group membership all travel.
    let g = s.group("ops").await;
    let (bob, _) = s.user("bob").await;
    s.assign(g, role, "/b", AssignmentKind::Active, None).await;
    s.admin.add_member(g, bob).await.expect("member");
    replica.follow_changes().await.expect("follow");
    assert!(replica.index().check(bob, "ops.x", "/b", s.clock.now()).allowed);
    s.admin.remove_member(g, bob).await.expect("remove");
    s.admin.update_user(uid, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    let perms = Permissions { actions: vec![Pattern::parse("db.*").expect("p")], not_actions: vec![] };
    s.admin
        .update_role("Ops", &CreateRole { name: "Ops".into(), description: None, permissions: perms })
        .await
        .expect("role");
    replica.follow_changes().await.expect("follow");
    assert!(!replica.index().check(bob, "ops.x", "/b", s.clock.now()).allowed, "membership removal followed");
    assert!(!check(&replica), "disabling followed");
    assert_eq!(replica.follow_changes().await.expect("follow"), 0, "nothing new");
    s.stop().await;
}

async fn a_replica_that_fell_far_behind_reloads(b: Backend) {
    let s = TestServer::start(&b).await;
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica = Engine::open(store, s.clock.clone(), EngineOptions::default()).await.expect("replica");
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, _) = s.user("alice").await;
    s.assign(uid, role, "/a", AssignmentKind::Active, None).await;
    // Two days pass without the replica following; the feed is pruned under it.
    s.advance(2 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs prune the feed");
    replica.follow_changes().await.expect("follow");
    assert!(replica.index().check(uid, "ops.x", "/a", s.clock.now()).allowed, "reloaded from the store");
    s.stop().await;
}

/// The start-up load (every assignment read in chunks on parallel connections of the native
/// drivers, `Store::current_assignments_for_index`) builds the index the one ordered read through
/// the pool builds: the same grants, the same tie winners, reload after reload.
async fn the_chunked_load_builds_the_index_of_the_ordered_read(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let ops2 = s.custom_role("Ops2", &["ops.*"]).await;
    let g = s.group("ops").await;
    let inner = s.group("inner").await;
    s.admin.add_member(g, inner).await.expect("nested");
    s.assign(g, ops, "/g", AssignmentKind::Active, None).await;
    let end = Some(Timestamp(s.clock.now().0 + DAY_MS));
    let mut users = Vec::new();
    for i in 0..24 {
        let (u, _) = s.user(&format!("u{i}")).await;
        // Two roles allowing the same action at one scope with the same end: which assignment
        // answers a check is the index's tie order.
        s.assign(u, ops, "/a", AssignmentKind::Active, end).await;
        s.assign(u, ops2, "/a", AssignmentKind::Active, end).await;
        s.assign(u, ops, &format!("/a/b{}", i % 3), AssignmentKind::Eligible, None).await;
        if i % 2 == 0 {
            s.admin.add_member(inner, u).await.expect("member");
        }
        users.push(u);
    }
    let now = s.clock.now();
    let mut c = s.engine.store().read().await.expect("conn");
    let principals = pim_store::q::all_principals(&mut c)
        .await
        .expect("principals")
        .iter()
        .map(|p| IndexPrincipal { id: p.id, kind: p.kind, name: p.name.clone(), enabled: p.enabled })
        .collect();
    let memberships = pim_store::q::all_memberships(&mut c).await.expect("memberships");
    let roles = pim_store::q::list_roles(&mut c).await.expect("roles");
    let ordered = pim_store::q::all_current_assignments(&mut c, now).await.expect("assignments");
    drop(c);
    let reference = AccessIndex::new();
    reference.load(principals, memberships, roles, ordered);
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica = Engine::open(store, s.clock.clone(), EngineOptions::default()).await.expect("replica");
    for round in 0..3 {
        for u in &users {
            assert_eq!(replica.index().effective(*u, now), reference.effective(*u, now), "round {round}");
            for (action, at) in [("ops.x", "/a"), ("ops.x", "/a/b1/c"), ("ops.x", "/g/h"), ("db.x", "/a")] {
                assert_eq!(
                    replica.index().check(*u, action, at, now),
                    reference.check(*u, action, at, now),
                    "round {round}: {action} at {at}"
                );
            }
        }
        assert!(replica.index().check(users[0], "ops.x", "/g/h", now).allowed, "through two groups");
        replica.reload_index().await.expect("reload");
    }
    s.stop().await;
}

/// A page of the feed with runs of assignment entries (each run read in one statement) between
/// other entries: the replica ends with each assignment as it is now, in the feed's order, a
/// removal included, and with the other entries applied between them.
async fn a_replica_follows_a_page_of_assignments_read_together(b: Backend) {
    let s = TestServer::start(&b).await;
    let store = pim_store::Store::open(&s.db.url).await.expect("second store");
    let replica = Engine::open(store, s.clock.clone(), EngineOptions::default()).await.expect("replica");
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(s.user(&format!("u{i}")).await.0);
    }
    replica.follow_changes().await.expect("follow");
    let check = |e: &Engine, u: PrincipalId, at: &str| e.index().check(u, "ops.x", at, s.clock.now()).allowed;
    let mut made = Vec::new();
    for (i, u) in users.iter().enumerate() {
        made.push(s.assign(*u, role, &format!("/p{i}"), AssignmentKind::Active, None).await);
    }
    // A principal's entry between two runs, then one assignment removed after it was made.
    s.admin.update_user(users[4], &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    s.admin
        .create_request(&CreateRequest::for_assignment(RequestAction::AdminRemove, made[1].id))
        .await
        .expect("remove");
    s.assign(users[0], role, "/q", AssignmentKind::Active, None).await;
    assert!(!check(&replica, users[0], "/p0"), "not before the replica follows");
    assert!(replica.follow_changes().await.expect("follow") >= 8);
    for (i, u) in users.iter().enumerate() {
        let expected = i != 1 && i != 4;
        assert_eq!(check(&replica, *u, &format!("/p{i}")), expected, "user {i}");
        assert_eq!(check(&replica, *u, &format!("/p{i}")), check(&s.engine, *u, &format!("/p{i}")), "user {i}");
    }
    assert!(check(&replica, users[0], "/q"), "the run after the removal");
    s.stop().await;
}

crate::backend_tests!(
    a_second_replica_follows_the_first,
    a_replica_follows_a_page_of_assignments_read_together,
    a_replica_that_fell_far_behind_reloads,
    the_chunked_load_builds_the_index_of_the_ordered_read
);
