//! The check API: groups, nesting, just-in-time membership, inheritance, and who may ask.

use crate::harness::prelude::*;

fn ask(principal: &str, action: &str, scope: &str) -> CheckRequest {
    CheckRequest { principal: principal.into(), action: action.into(), scope: scope.into(), at: None }
}

async fn checks_follow_groups_and_scope_inheritance(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Blob Reader", &["storage.blobs.read"]).await;
    let (uid, _) = s.user("alice").await;
    let top = s.group("readers").await;
    let mid = s.group("readers-eu").await;
    s.admin.add_member(top, mid).await.expect("nest");
    s.admin.add_member(mid, uid).await.expect("member");
    let a = s.assign(top, role, "/subs/prod", AssignmentKind::Active, Some(T0.plus_millis(DAY_MS))).await;
    let r = s.admin.check(&ask("alice", "storage.blobs.read", "/subs/prod/rg/db")).await.expect("check");
    assert!(r.allowed);
    assert_eq!(r.principal_id, uid);
    assert_eq!(r.assignment_id, Some(a.id));
    assert_eq!(r.via_group, Some(top));
    assert_eq!(r.via_group_name.as_deref(), Some("readers"));
    assert_eq!(r.role_name.as_deref(), Some("Blob Reader"));
    assert_eq!(r.scope.as_ref().map(|s| s.as_str()), Some("/subs/prod"));
    assert_eq!(r.ends_at, Some(T0.plus_millis(DAY_MS)));
    assert!(!s.admin.check(&ask("alice", "storage.blobs.write", "/subs/prod")).await.expect("check").allowed);
    assert!(!s.admin.check(&ask("alice", "storage.blobs.read", "/subs/prodx")).await.expect("check").allowed);
    // Leaving the nested group ends it at once.
    s.admin.remove_member(mid, uid).await.expect("remove");
    assert!(!s.allowed(uid, "storage.blobs.read", "/subs/prod").await);
    // A disabled group confers nothing.
    s.admin.add_member(mid, uid).await.expect("re-add");
    assert!(s.allowed(uid, "storage.blobs.read", "/subs/prod").await);
    s.admin.update_group(top, &UpdateGroup { enabled: Some(false), ..Default::default() }).await.expect("disable");
    assert!(!s.allowed(uid, "storage.blobs.read", "/subs/prod").await);
    // The decisions are counted for Prometheus.
    let (code_, body) = s.anonymous().raw_get("/metrics").await.expect("metrics");
    assert_eq!(code_, 200);
    assert!(body.contains("pim_checks_total{decision=\"allowed\"} 2"), "{body}");
    assert!(body.contains("pim_index_assignments "), "{body}");
    s.stop().await;
}

async fn just_in_time_group_membership_counts_for_its_window(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Db Admin", &["db.*"]).await;
    let g = s.group("db-admins").await;
    s.assign(g, role, "/postgres/orders", AssignmentKind::Active, None).await;
    let (uid, alice) = s.user("alice").await;
    let gscope = format!("/groups/{g}");
    s.assign(uid, role::GROUP_MEMBER, &gscope, AssignmentKind::Eligible, None).await;
    s.without_mfa(role::GROUP_MEMBER).await;
    assert!(!s.allowed(uid, "db.query", "/postgres/orders").await);
    alice.create_request(&activation(role::GROUP_MEMBER, &gscope, 60)).await.expect("activate membership");
    let r = s.admin.check(&ask(&uid.to_string(), "db.query", "/postgres/orders")).await.expect("check");
    assert!(r.allowed);
    assert_eq!(r.via_group, Some(g));
    s.advance(HOUR_MS);
    assert!(!s.allowed(uid, "db.query", "/postgres/orders").await, "membership ended with its window");
    s.stop().await;
}

async fn who_may_ask(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice) = s.user("alice").await;
    let (_, bob) = s.user("bob").await;
    // Anyone may ask about themselves.
    let me = alice.check(&ask(&uid.to_string(), "x.read", "/")).await.expect("self check");
    assert!(!me.allowed);
    // Asking about others needs pim.check.read at /.
    assert_eq!(code(bob.check(&ask("alice", "x.read", "/")).await), "forbidden");
    let (checker, checker_c) = s.user("gatekeeper").await;
    s.assign(checker, role::ACCESS_CHECKER, "/", AssignmentKind::Active, None).await;
    assert!(!checker_c.check(&ask("alice", "x.read", "/")).await.expect("allowed to ask").allowed);
    // Bad input is refused.
    assert_eq!(code(checker_c.check(&ask("alice", "x..read", "/")).await), "invalid_action");
    assert_eq!(code(checker_c.check(&ask("alice", "x.read", "no-slash")).await), "invalid_scope");
    assert_eq!(code(checker_c.check(&ask("nobody", "x.read", "/")).await), "not_found");
    assert_eq!(status(s.anonymous().check(&ask("alice", "x.read", "/")).await), 401);
    s.stop().await;
}

async fn disabled_users_lose_access(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, alice) = s.user("alice").await;
    s.assign(uid, role, "/", AssignmentKind::Active, None).await;
    assert!(s.allowed(uid, "ops.x", "/a").await);
    s.admin.update_user(uid, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    assert!(!s.allowed(uid, "ops.x", "/a").await);
    assert_eq!(status(alice.me().await), 401, "a disabled user's tokens stop working");
    s.stop().await;
}

crate::backend_tests!(
    checks_follow_groups_and_scope_inheritance,
    just_in_time_group_membership_counts_for_its_window,
    who_may_ask,
    disabled_users_lose_access,
);
