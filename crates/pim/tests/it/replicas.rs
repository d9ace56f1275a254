//! Several servers on one database: each one's access index follows the others' changes.

use pim_engine::engine::EngineOptions;
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

crate::backend_tests!(a_second_replica_follows_the_first, a_replica_that_fell_far_behind_reloads);
