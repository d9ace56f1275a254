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
    assert!(body.contains("# TYPE pim_write_batch_seconds histogram"), "{body}");
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

async fn a_batch_check_answers_many_questions_in_order_by_the_same_rules(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (alice_id, alice) = s.user("alice").await;
    let (bob_id, _bob) = s.user("bob").await;
    let a = s.assign(alice_id, role, "/a", AssignmentKind::Active, Some(T0.plus_millis(HOUR_MS))).await;
    let batch = |checks: Vec<CheckRequest>| BatchCheckRequest { checks };
    let later = CheckRequest { at: Some(T0.plus_millis(2 * HOUR_MS)), ..ask("alice", "ops.x", "/a") };
    // One's own questions, answered in order, each as the single check answers it.
    let mine = vec![ask("alice", "ops.x", "/a/b"), ask(&alice_id.to_string(), "ops.x", "/b"), later.clone()];
    let r = alice.check_batch(&batch(mine.clone())).await.expect("own batch");
    assert_eq!(r.results.len(), 3);
    for (q, got) in mine.iter().zip(&r.results) {
        assert_eq!(got, &alice.check(q).await.expect("single"), "the batch answers {q:?} as the single check");
    }
    assert_eq!(
        r.results.iter().map(|r| (r.allowed, r.assignment_id)).collect::<Vec<_>>(),
        vec![(true, Some(a.id)), (false, None), (false, None)],
        "allowed below the scope, denied elsewhere, denied after the end"
    );
    // Asking about anyone else needs the checker's permission, for the whole batch.
    let mixed = vec![ask("alice", "ops.x", "/a"), ask("bob", "ops.x", "/a")];
    assert_eq!(code(alice.check_batch(&batch(mixed.clone())).await), "forbidden");
    let (checker, checker_c) = s.user("gatekeeper").await;
    s.assign(checker, role::ACCESS_CHECKER, "/", AssignmentKind::Active, None).await;
    let r = checker_c.check_batch(&batch(mixed)).await.expect("a checker asks about others");
    assert_eq!(
        r.results.iter().map(|r| (r.principal_id, r.allowed)).collect::<Vec<_>>(),
        vec![(alice_id, true), (bob_id, false)]
    );
    // Bad input refuses the whole batch and names the question; nothing is answered.
    let before = s.anonymous().raw_get("/metrics").await.expect("metrics").1;
    let e = checker_c.check_batch(&batch(vec![ask("alice", "ops.x", "/a"), ask("alice", "x..y", "/")])).await;
    let e = e.expect_err("a bad action");
    assert_eq!(e.code(), Some("invalid_action"));
    assert!(e.to_string().contains("check 1"), "the message names the question: {e}");
    let bad_scope = batch(vec![ask("alice", "ops.x", "nope")]);
    assert_eq!(code(checker_c.check_batch(&bad_scope).await), "invalid_scope");
    assert_eq!(code(checker_c.check_batch(&batch(vec![])).await), "invalid_input");
    let too_many = batch(vec![ask("alice", "ops.x", "/a"); pim_api::domain::permission::MAX_BATCH_CHECKS + 1]);
    assert_eq!(status(checker_c.check_batch(&too_many).await), 400);
    let unknown = batch(vec![ask("alice", "ops.x", "/a"), ask("nobody", "ops.x", "/a")]);
    assert_eq!(code(checker_c.check_batch(&unknown).await), "not_found");
    let after = s.anonymous().raw_get("/metrics").await.expect("metrics").1;
    let allowed =
        |m: &str| m.lines().find(|l| l.starts_with("pim_checks_total{decision=\"allowed\"}")).map(str::to_owned);
    assert_eq!(allowed(&before), allowed(&after), "refused batches count no decision");
    assert!(before.contains("pim_checks_total{decision=\"allowed\"} "), "{before}");
    assert_eq!(status(s.anonymous().check_batch(&batch(vec![ask("alice", "ops.x", "/a")])).await), 401);
    // The most a batch may ask is answered.
    let full = batch(vec![ask("alice", "ops.x", "/a"); pim_api::domain::permission::MAX_BATCH_CHECKS]);
    let r = checker_c.check_batch(&full).await.expect("1000 questions");
    assert!(r.results.iter().all(|r| r.allowed && r.assignment_id == Some(a.id)));
    s.stop().await;
}

crate::backend_tests!(
    checks_follow_groups_and_scope_inheritance,
    just_in_time_group_membership_counts_for_its_window,
    who_may_ask,
    disabled_users_lose_access,
    a_batch_check_answers_many_questions_in_order_by_the_same_rules,
);
