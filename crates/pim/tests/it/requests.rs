//! Requests end to end: assign, activate, deactivate, extend, renew, remove, and their rules.

use crate::harness::prelude::*;

const READ: &str = "storage.blobs.read";

async fn eligible_reader(s: &TestServer, name: &str, scope: &str) -> (PrincipalId, Client, RoleId, Assignment) {
    let role = s.custom_role(&format!("Blob Reader {name}"), &["storage.blobs.*"]).await;
    s.without_mfa(role).await;
    let (uid, client) = s.user(name).await;
    let e = s.assign(uid, role, scope, AssignmentKind::Eligible, None).await;
    (uid, client, role, e)
}

async fn activation_grants_access_until_its_end(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role, e) = eligible_reader(&s, "alice", "/subs/prod").await;
    assert!(!s.allowed(uid, READ, "/subs/prod/db").await, "eligible alone grants nothing");
    let out = alice.create_request(&activation(role, "/subs/prod", 60)).await.expect("activate");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    let a = out.assignment.expect("activation");
    assert_eq!(a.activated_from, Some(e.id));
    assert_eq!(a.window.end, Some(T0.plus_millis(HOUR_MS)));
    assert!(s.allowed(uid, READ, "/subs/prod/db").await, "inherited below the scope");
    assert!(!s.allowed(uid, READ, "/subs/dev").await, "not at a sibling scope");
    s.advance(HOUR_MS - 1);
    assert!(s.allowed(uid, READ, "/subs/prod").await, "still in effect 1 ms before the end");
    s.advance(1);
    assert!(!s.allowed(uid, READ, "/subs/prod").await, "ends exactly at its end, with no job run");
    s.stop().await;
}

async fn activation_duration_bounds_follow_the_settings(b: Backend) {
    let s = TestServer::start(&b).await;
    let (_, alice, role, _) = eligible_reader(&s, "alice", "/").await;
    s.set_settings(role, "/", |st| st.activation_max_minutes = 120).await;
    assert_eq!(code(alice.create_request(&activation(role, "/", 29)).await), "duration_out_of_range");
    assert_eq!(code(alice.create_request(&activation(role, "/", 121)).await), "duration_out_of_range");
    let a = alice.create_request(&activation(role, "/", 120)).await.expect("at the maximum").assignment.expect("a");
    assert_eq!(a.window.end, Some(T0.plus_millis(2 * HOUR_MS)));
    s.stop().await;
}

async fn activation_may_start_later_and_narrow_the_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role, _) = eligible_reader(&s, "alice", "/subs").await;
    let mut r = activation(role, "/subs/prod/db", 60);
    r.start = Some(T0.plus_millis(2 * HOUR_MS));
    let out = alice.create_request(&r).await.expect("future activation");
    assert_eq!(out.request.status, RequestStatus::Granted);
    assert_eq!(out.assignment.as_ref().map(|a| a.scope.as_str()), Some("/subs/prod/db"));
    assert!(!s.allowed(uid, READ, "/subs/prod/db").await, "not before its start");
    s.advance(2 * HOUR_MS);
    assert!(s.allowed(uid, READ, "/subs/prod/db").await, "from its start");
    assert!(!s.allowed(uid, READ, "/subs/prod").await, "only at the narrowed scope");
    s.engine.run_jobs_once().await.expect("jobs");
    let req = alice.get_request(out.request.id).await.expect("request");
    assert_eq!(req.status, RequestStatus::Provisioned, "the worker marks it provisioned once in effect");
    let q = AuditQuery { action: Some("request.provisioned".into()), ..Default::default() };
    let events = s.admin.list_audit(&q).await.expect("audit").items;
    assert_eq!(events.len(), 1, "the status change is audited");
    assert_eq!(events[0].request_id, Some(out.request.id));
    assert_eq!(code(alice.create_request(&activation(role, "/other", 60)).await), "not_eligible");
    s.stop().await;
}

async fn activating_again_extends_in_place(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role, _) = eligible_reader(&s, "alice", "/a").await;
    let first = alice.create_request(&activation(role, "/a", 60)).await.expect("first").assignment.expect("a");
    s.advance(30 * MINUTE_MS);
    let second = alice.create_request(&activation(role, "/a", 120)).await.expect("second").assignment.expect("a");
    assert_eq!(second.id, first.id, "the same activation is extended, not stacked");
    assert_eq!(second.window.end, Some(T0.plus_millis(30 * MINUTE_MS + 2 * HOUR_MS)));
    let active = s
        .admin
        .list_assignments(&AssignmentQuery {
            principal_id: Some(uid),
            kind: Some(AssignmentKind::Active),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(active.items.len(), 1);
    s.stop().await;
}

async fn deactivation_ends_access_now(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role, _) = eligible_reader(&s, "alice", "/a").await;
    let a = alice.create_request(&activation(role, "/a", 60)).await.expect("activate").assignment.expect("a");
    s.advance(10 * MINUTE_MS);
    let out = alice
        .create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id))
        .await
        .expect("deactivate");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    assert!(!s.allowed(uid, READ, "/a").await);
    assert_eq!(
        code(alice.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a.id)).await),
        "not_active"
    );
    let (_, bob) = s.user("bob").await;
    let a2 = alice.create_request(&activation(role, "/a", 60)).await.expect("again").assignment.expect("a");
    assert_eq!(
        code(bob.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a2.id)).await),
        "forbidden"
    );
    s.stop().await;
}

async fn removing_or_shortening_an_eligibility_ends_its_activations(b: Backend) {
    let s = TestServer::start(&b).await;
    let (uid, alice, role, e) = eligible_reader(&s, "alice", "/a").await;
    alice.create_request(&activation(role, "/a", 240)).await.expect("activate");
    // Shorten the eligibility to end in one hour: the activation now ends with it.
    let mut upd = CreateRequest::for_assignment(RequestAction::AdminUpdate, e.id);
    upd.end = Some(T0.plus_millis(HOUR_MS));
    s.admin.create_request(&upd).await.expect("shorten");
    s.advance(HOUR_MS - 1);
    assert!(s.allowed(uid, READ, "/a").await);
    s.advance(1);
    assert!(!s.allowed(uid, READ, "/a").await, "the activation ended with the eligibility");

    let (uid2, bob, _, e2) = {
        let (u, c) = s.user("bob").await;
        let e = s.assign(u, role, "/b", AssignmentKind::Eligible, None).await;
        (u, c, role, e)
    };
    bob.create_request(&activation(role, "/b", 240)).await.expect("activate");
    assert!(s.allowed(uid2, READ, "/b").await);
    s.admin.create_request(&CreateRequest::for_assignment(RequestAction::AdminRemove, e2.id)).await.expect("remove");
    assert!(!s.allowed(uid2, READ, "/b").await, "removing the eligibility ends the activation at once");
    assert_eq!(code(bob.create_request(&activation(role, "/b", 60)).await), "not_eligible");
    s.stop().await;
}

async fn the_last_global_administrator_is_protected(b: Backend) {
    let s = TestServer::start(&b).await;
    let mine = s
        .admin
        .list_assignments(&AssignmentQuery { principal_id: Some(s.admin_id), ..Default::default() })
        .await
        .expect("list")
        .items;
    let ga = mine.iter().find(|a| a.role_id == role::GLOBAL_ADMINISTRATOR).expect("bootstrap GA");
    assert!(ga.window.end.is_none(), "bootstrap makes a permanent assignment");
    let remove = CreateRequest::for_assignment(RequestAction::AdminRemove, ga.id);
    assert_eq!(code(s.admin.create_request(&remove).await), "last_global_admin");
    let mut shorten = CreateRequest::for_assignment(RequestAction::AdminUpdate, ga.id);
    shorten.end = Some(T0.plus_millis(DAY_MS));
    assert_eq!(code(s.admin.create_request(&shorten).await), "last_global_admin");
    let disable = UpdateUser { enabled: Some(false), ..Default::default() };
    assert_eq!(code(s.admin.update_user(s.admin_id, &disable).await), "last_global_admin");
    // With a second permanent Global Administrator, the first may go.
    let (other, _) = s.user("second-admin").await;
    s.assign(other, role::GLOBAL_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    s.admin.create_request(&remove).await.expect("no longer the last");
    s.stop().await;
}

async fn self_extend_and_renew_wait_for_approval(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, alice) = s.user("alice").await;
    let e = s.assign(uid, role, "/a", AssignmentKind::Eligible, Some(T0.plus_millis(20 * DAY_MS))).await;
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, e.id);
    ext.justification = Some("still on call".into());
    assert_eq!(code(alice.create_request(&ext).await), "not_extendable", "ends in more than 14 days");
    s.advance(7 * DAY_MS);
    let out = alice.create_request(&ext).await.expect("extend request");
    assert_eq!(out.request.status, RequestStatus::PendingApproval);
    assert_eq!(code(alice.create_request(&ext).await), "extension_pending", "one pending extension per assignment");
    let canceled = alice.cancel_request(out.request.id).await.expect("cancel");
    assert_eq!(canceled.status, RequestStatus::Canceled);
    assert_eq!(code(alice.cancel_request(out.request.id).await), "request_not_pending");
    // Renew once it has ended, within 30 days.
    let mut renew = CreateRequest::for_assignment(RequestAction::SelfRenew, e.id);
    renew.justification = Some("need it back".into());
    assert_eq!(code(alice.create_request(&renew).await), "not_renewable", "not ended yet");
    s.advance(14 * DAY_MS);
    let out = alice.create_request(&renew).await.expect("renew request");
    assert_eq!(out.request.status, RequestStatus::PendingApproval);
    s.advance(31 * DAY_MS);
    let r2 = CreateRequest::for_assignment(RequestAction::SelfRenew, e.id);
    assert_eq!(code(alice.create_request(&r2).await), "not_renewable", "more than 30 days after the end");
    s.stop().await;
}

async fn admin_extend_and_renew(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, _) = s.user("alice").await;
    let a = s.assign(uid, role, "/a", AssignmentKind::Active, Some(T0.plus_millis(DAY_MS))).await;
    let mut ext = CreateRequest::for_assignment(RequestAction::AdminExtend, a.id);
    ext.end = Some(T0.plus_millis(2 * DAY_MS));
    let out = s.admin.create_request(&ext).await.expect("extend");
    assert_eq!(out.assignment.expect("a").window.end, Some(T0.plus_millis(2 * DAY_MS)));
    s.advance(2 * DAY_MS);
    assert!(!s.allowed(uid, "ops.restart", "/a").await);
    let mut renew = CreateRequest::for_assignment(RequestAction::AdminRenew, a.id);
    renew.end = Some(T0.plus_millis(5 * DAY_MS));
    assert_eq!(code(s.admin.create_request(&renew).await), "justification_required");
    renew.justification = Some("back for another sprint".into());
    let out = s.admin.create_request(&renew).await.expect("renew");
    let renewed = out.assignment.expect("new assignment");
    assert_ne!(renewed.id, a.id);
    assert!(s.allowed(uid, "ops.restart", "/a").await);
    s.stop().await;
}

async fn settings_rules_refuse_with_the_rule_named(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, alice) = s.user("alice").await;
    s.assign(uid, role, "/", AssignmentKind::Eligible, None).await;
    // Defaults: MFA on activation is required, and MFA is not available yet.
    assert_eq!(code(alice.create_request(&activation(role, "/", 60)).await), "mfa_required");
    s.without_mfa(role).await;
    let mut no_reason = activation(role, "/", 60);
    no_reason.justification = None;
    assert_eq!(code(alice.create_request(&no_reason).await), "justification_required");
    s.set_settings(role, "/", |st| st.require_ticket_on_activation = true).await;
    assert_eq!(code(alice.create_request(&activation(role, "/", 60)).await), "ticket_required");
    let mut with_ticket = activation(role, "/", 60);
    with_ticket.ticket = Some(Ticket { system: "jira".into(), number: "OPS-1".into() });
    let v = alice.validate_request(&with_ticket).await.expect("validate");
    assert!(v.valid, "{v:?}");
    s.set_settings(role, "/", |st| {
        st.require_approval_to_activate = true;
        st.approval_stages = vec![ApprovalStage {
            approvers: vec![ApproverRef { kind: PrincipalKind::User, id: s.admin_id }],
            required_approvals: 1,
            timeout_minutes: 60,
            escalation: None,
        }];
    })
    .await;
    let v = alice.validate_request(&with_ticket).await.expect("validate");
    assert!(v.valid && v.needs.approval, "accepted to wait for approval: {v:?}");
    let pending = alice.create_request(&with_ticket).await.expect("submitted");
    assert_eq!(pending.request.status, RequestStatus::PendingApproval, "never silently allowed");
    assert!(!s.allowed(uid, "ops.x", "/").await);
    // Permanent assignments can be forbidden.
    s.set_settings(role, "/x", |st| {
        st.allow_permanent_active = false;
        st.active_expire_after_days = 10;
    })
    .await;
    let (bob, _) = s.user("bob").await;
    let mut r = CreateRequest::new(RequestAction::AdminAssign);
    r.principal_id = Some(bob);
    r.role_id = Some(role);
    r.scope = Some(sp("/x/y"));
    r.kind = Some(AssignmentKind::Active);
    r.justification = Some("j".into());
    assert_eq!(code(s.admin.create_request(&r).await), "permanent_not_allowed");
    r.end = Some(T0.plus_millis(11 * DAY_MS));
    assert_eq!(code(s.admin.create_request(&r).await), "expiration_too_far");
    r.end = Some(T0.plus_millis(10 * DAY_MS));
    s.admin.create_request(&r).await.expect("within 10 days");
    s.stop().await;
}

async fn validate_only_reports_needs_and_changes_nothing(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    let (uid, alice) = s.user("alice").await;
    s.assign(uid, role, "/", AssignmentKind::Eligible, None).await;
    let before =
        (s.count_rows("requests").await, s.count_rows("assignments").await, s.count_rows("audit_events").await);
    let mut r = activation(role, "/", 60);
    r.justification = None;
    r.validate_only = Some(true);
    let v = alice.validate_request(&r).await.expect("validate");
    assert!(!v.valid);
    assert!(v.needs.mfa && v.needs.justification && !v.needs.approval && !v.needs.ticket, "{v:?}");
    assert_eq!(v.window.map(|w| w.end), Some(Some(T0.plus_millis(HOUR_MS))));
    let after = (s.count_rows("requests").await, s.count_rows("assignments").await, s.count_rows("audit_events").await);
    assert_eq!(before, after);
    s.stop().await;
}

async fn service_principals_hold_time_bound_active_assignments_only(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Deployer", &["deploy.*"]).await;
    let sp_id = s.service_principal("ci-bot").await;
    let mut r = CreateRequest::new(RequestAction::AdminAssign);
    r.principal_id = Some(sp_id);
    r.role_id = Some(role);
    r.scope = Some(sp("/apps"));
    r.kind = Some(AssignmentKind::Eligible);
    r.end = Some(T0.plus_millis(DAY_MS));
    assert_eq!(code(s.admin.create_request(&r).await), "service_principal_active_only");
    r.kind = Some(AssignmentKind::Active);
    r.end = None;
    r.justification = Some("deploys".into());
    assert_eq!(code(s.admin.create_request(&r).await), "service_principal_active_only");
    r.end = Some(T0.plus_millis(DAY_MS));
    s.admin.create_request(&r).await.expect("time-bound active");
    assert!(s.allowed(sp_id, "deploy.run", "/apps/web").await);
    s.stop().await;
}

async fn group_eligibility_lets_members_activate(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(role).await;
    let outer = s.group("oncall").await;
    let inner = s.group("oncall-eu").await;
    s.admin.add_member(outer, inner).await.expect("nest");
    let (uid, alice) = s.user("alice").await;
    s.admin.add_member(inner, uid).await.expect("member");
    s.assign(outer, role, "/prod", AssignmentKind::Eligible, None).await;
    let out = alice.create_request(&activation(role, "/prod", 60)).await.expect("activate through nested groups");
    assert_eq!(out.assignment.expect("a").principal_id, uid, "the activation is the user's own");
    assert!(s.allowed(uid, "ops.restart", "/prod").await);
    let (other, other_c) = s.user("mallory").await;
    assert_eq!(code(other_c.create_request(&activation(role, "/prod", 60)).await), "not_eligible");
    assert!(!s.allowed(other, "ops.restart", "/prod").await);
    s.stop().await;
}

crate::backend_tests!(
    activation_grants_access_until_its_end,
    activation_duration_bounds_follow_the_settings,
    activation_may_start_later_and_narrow_the_scope,
    activating_again_extends_in_place,
    deactivation_ends_access_now,
    removing_or_shortening_an_eligibility_ends_its_activations,
    the_last_global_administrator_is_protected,
    self_extend_and_renew_wait_for_approval,
    admin_extend_and_renew,
    settings_rules_refuse_with_the_rule_named,
    validate_only_reports_needs_and_changes_nothing,
    service_principals_hold_time_bound_active_assignments_only,
    group_eligibility_lets_members_activate,
);
