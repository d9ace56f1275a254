//! Approvals end to end: stages of N approvals through users and groups, denial, cancellation,
//! escalation and timeouts on the manual clock, extension and renewal approved by the scope's
//! administrators, break-glass, bulk decisions and protected settings (four eyes on policy).

use crate::harness::prelude::*;

const READ: &str = "storage.blobs.read";

fn user_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::User, id }
}

fn group_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::Group, id }
}

fn stage(approvers: Vec<ApproverRef>, required: u32) -> ApprovalStage {
    ApprovalStage { approvers, required_approvals: required, timeout_minutes: 24 * 60, escalation: None }
}

fn why(j: &str) -> DecideRequest {
    DecideRequest { justification: Some(j.into()), end: None }
}

/// A role at `/` whose activation needs the given stages (MFA off), and `bob` eligible for it.
async fn approval_role(s: &TestServer, stages: Vec<ApprovalStage>) -> (RoleId, PrincipalId, Client) {
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    s.set_settings(role, "/", |st| {
        st.require_mfa_on_activation = false;
        st.require_approval_to_activate = true;
        st.approval_stages = stages;
    })
    .await;
    let (bob, bob_c) = s.user("bob").await;
    s.assign(bob, role, "/", AssignmentKind::Eligible, None).await;
    (role, bob, bob_c)
}

/// (event, recipient) of the email notifications written for `request`, in order.
async fn notices(s: &TestServer, request: Option<RequestId>, event: &str) -> Vec<String> {
    let q = NotificationQuery { event: Some(event.into()), request_id: request, ..Default::default() };
    let mut v: Vec<String> = s
        .admin
        .list_notifications(&q)
        .await
        .expect("notifications")
        .items
        .into_iter()
        .filter(|n| n.channel == Channel::Email)
        .map(|n| n.recipient)
        .collect();
    v.sort();
    v
}

async fn audit_actions(s: &TestServer, prefix: &str) -> Vec<String> {
    let q = AuditQuery { action: Some(prefix.into()), ..Default::default() };
    s.admin.list_audit(&q).await.expect("audit").items.into_iter().map(|e| e.action).collect()
}

async fn one_approval_runs_from_the_decision(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, ann_c) = s.user("ann").await;
    let (_, carol_c) = s.user("carol").await;
    let (role, bob, bob_c) = approval_role(&s, vec![stage(vec![user_ref(ann)], 1)]).await;
    let out = bob_c.create_request(&activation(role, "/data", 120)).await.expect("submitted");
    let id = out.request.id;
    assert_eq!(out.request.status, RequestStatus::PendingApproval);
    assert!(out.assignment.is_none(), "nothing is granted before approval");
    assert!(!s.allowed(bob, READ, "/data").await);
    assert_eq!(notices(&s, Some(id), "request.approvalNeeded").await, ["ann@example.com"], "ann is asked");

    let mine = ann_c.pending_approvals().await.expect("pending").items;
    assert_eq!(mine.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id], "ann sees what waits for her");
    assert_eq!(mine[0].justification.as_deref(), Some("incident INC-1"));
    assert!(carol_c.pending_approvals().await.expect("pending").items.is_empty());
    assert_eq!(code(bob_c.approve_request(id, &why("me")).await), "approval_self_forbidden");
    let refused = carol_c.approve_request(id, &why("not mine")).await;
    assert_eq!(status(refused), 403);
    assert_eq!(code(ann_c.approve_request(id, &DecideRequest::default()).await), "justification_required");
    assert_eq!(bob_c.get_request(id).await.expect("request").status, RequestStatus::PendingApproval);

    s.advance(10 * MINUTE_MS);
    let approved = ann_c.approve_request(id, &why("on call")).await.expect("approved");
    assert_eq!(approved.request.status, RequestStatus::Provisioned);
    let a = approved.assignment.expect("activation");
    let decided = T0.plus_millis(10 * MINUTE_MS);
    assert_eq!(a.window, Window { start: decided, end: Some(decided.plus_millis(2 * HOUR_MS)) });
    assert!(s.allowed(bob, READ, "/data").await, "in effect from the approval");
    assert_eq!(notices(&s, Some(id), "request.approved").await, ["bob@example.com"], "bob is told");
    let activated = notices(&s, Some(id), "role.activated").await;
    assert_eq!(activated, ["admin@example.com", "bob@example.com"], "the admins and bob, once each");
    assert_eq!(code(ann_c.approve_request(id, &why("again")).await), "request_not_pending");
    let decisions = &approved.request.approval.as_ref().expect("approval").decisions;
    assert_eq!((decisions.len(), decisions[0].approver_id), (1, ann));
    let actions = audit_actions(&s, "request.").await;
    for a in ["request.approve", "request.approved"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    s.advance(2 * HOUR_MS);
    assert!(!s.allowed(bob, READ, "/data").await, "ends after the requested duration");
    s.stop().await;
}

async fn two_stages_of_n_approvals_through_groups(b: Backend) {
    let s = TestServer::start(&b).await;
    let approvers = s.group("approvers").await;
    let mut members = Vec::new();
    for name in ["a1", "a2", "a3"] {
        let (id, c) = s.user(name).await;
        s.admin.add_member(approvers, id).await.expect("member");
        members.push((id, c));
    }
    let (dave, dave_c) = s.user("dave").await;
    let (role, bob, bob_c) =
        approval_role(&s, vec![stage(vec![group_ref(approvers)], 2), stage(vec![user_ref(dave)], 1)]).await;
    s.admin.add_member(approvers, bob).await.expect("bob is an approver too");
    let id = bob_c.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id;
    assert_eq!(
        code(bob_c.approve_request(id, &why("mine")).await),
        "approval_self_forbidden",
        "not even through a group"
    );
    assert_eq!(code(dave_c.approve_request(id, &why("early")).await), "not_approver", "stage 2 waits");
    let r = members[0].1.approve_request(id, &why("ok")).await.expect("first of two").request;
    assert_eq!(r.status, RequestStatus::PendingApproval);
    assert_eq!(r.approval.as_ref().map(|a| (a.stage, a.approvals_in_stage())), Some((0, 1)));
    assert_eq!(code(members[0].1.approve_request(id, &why("twice")).await), "already_decided");
    // Membership is resolved when deciding: a member added now may decide.
    let (late, late_c) = s.user("late").await;
    s.admin.add_member(approvers, late).await.expect("member");
    let r = late_c.approve_request(id, &why("ok too")).await.expect("second of two").request;
    assert_eq!(r.approval.as_ref().map(|a| a.stage), Some(1), "stage 2 begins");
    assert_eq!(code(members[1].1.approve_request(id, &why("late")).await), "not_approver");
    assert_eq!(dave_c.pending_approvals().await.expect("pending").items.len(), 1);
    let done = dave_c.approve_request(id, &why("final")).await.expect("stage 2").request;
    assert_eq!(done.status, RequestStatus::Provisioned);
    assert!(s.allowed(bob, READ, "/x").await);
    s.stop().await;
}

async fn one_denial_ends_and_the_requester_may_cancel(b: Backend) {
    let s = TestServer::start(&b).await;
    let (a1, a1_c) = s.user("a1").await;
    let (a2, a2_c) = s.user("a2").await;
    let (role, bob, bob_c) = approval_role(&s, vec![stage(vec![user_ref(a1), user_ref(a2)], 2)]).await;
    let id = bob_c.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id;
    a1_c.approve_request(id, &why("fine")).await.expect("one approval");
    let denied = a2_c.deny_request(id, &why("not during the freeze")).await.expect("denied").request;
    assert_eq!(denied.status, RequestStatus::Denied);
    assert!(denied.status_reason.as_deref().is_some_and(|r| r.contains("freeze")));
    assert_eq!(notices(&s, Some(id), "request.denied").await, ["bob@example.com"]);
    assert!(!s.allowed(bob, READ, "/").await);
    let id2 = bob_c.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id;
    assert_eq!(code(a1_c.cancel_request(id2).await), "forbidden", "only the requester cancels");
    assert_eq!(bob_c.cancel_request(id2).await.expect("canceled").status, RequestStatus::Canceled);
    assert_eq!(code(a1_c.approve_request(id2, &why("late")).await), "request_not_pending");
    assert!(a1_c.pending_approvals().await.expect("pending").items.is_empty());
    let actions = audit_actions(&s, "request.").await;
    assert!(actions.iter().any(|x| x == "request.denied") && actions.iter().any(|x| x == "request.cancel"));
    s.stop().await;
}

async fn unanswered_requests_escalate_then_time_out(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, ann_c) = s.user("ann").await;
    let (eve, eve_c) = s.user("eve").await;
    let mut st = stage(vec![user_ref(ann)], 1);
    st.timeout_minutes = 60;
    st.escalation = Some(Escalation { approvers: vec![user_ref(eve)], after_minutes: 30 });
    let (role, bob, bob_c) = approval_role(&s, vec![st]).await;
    let id = bob_c.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id;
    s.advance(20 * MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(code(eve_c.approve_request(id, &why("too early")).await), "not_approver");
    s.advance(11 * MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert!(audit_actions(&s, "request.escalated").await.len() == 1, "escalation is audited once");
    assert_eq!(notices(&s, Some(id), "request.escalated").await, ["eve@example.com"], "eve is asked");
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(audit_actions(&s, "request.escalated").await.len(), 1);
    assert_eq!(eve_c.pending_approvals().await.expect("pending").items.len(), 1, "eve joined");
    let id2 = bob_c.create_request(&activation(role, "/a", 60)).await.expect("second").request.id;
    eve_c.approve_request(id, &why("escalated")).await.expect("eve approves");
    assert!(s.allowed(bob, READ, "/").await);
    // The second request is answered by nobody: at its stage's timeout it ends.
    s.advance(60 * MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let r = bob_c.get_request(id2).await.expect("request");
    assert_eq!(r.status, RequestStatus::TimedOut);
    assert_eq!(code(ann_c.approve_request(id2, &why("late")).await), "request_not_pending");
    assert_eq!(audit_actions(&s, "request.timedOut").await.len(), 1);
    assert_eq!(notices(&s, Some(id2), "request.timedOut").await, ["bob@example.com"]);
    let _ = ann;
    s.stop().await;
}

async fn approval_never_outlasts_the_eligibility_and_keeps_a_later_start(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, ann_c) = s.user("ann").await;
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    s.set_settings(role, "/", |st| {
        st.require_mfa_on_activation = false;
        st.require_approval_to_activate = true;
        st.approval_stages = vec![stage(vec![user_ref(ann)], 1)];
        st.activation_max_minutes = 240;
    })
    .await;
    let (bob, bob_c) = s.user("bob").await;
    let elig_end = T0.plus_millis(90 * MINUTE_MS);
    s.assign(bob, role, "/", AssignmentKind::Eligible, Some(elig_end)).await;
    let id = bob_c.create_request(&activation(role, "/", 120)).await.expect("submitted").request.id;
    s.advance(10 * MINUTE_MS);
    let a = ann_c.approve_request(id, &why("ok")).await.expect("approved").assignment.expect("activation");
    assert_eq!(a.window.end, Some(elig_end), "capped at the eligibility's end");

    let (carl, carl_c) = s.user("carl").await;
    s.assign(carl, role, "/", AssignmentKind::Eligible, None).await;
    let mut later = activation(role, "/", 60);
    let start = T0.plus_millis(3 * HOUR_MS);
    later.start = Some(start);
    let id = carl_c.create_request(&later).await.expect("submitted").request.id;
    let out = ann_c.approve_request(id, &why("ok")).await.expect("approved");
    assert_eq!(out.request.status, RequestStatus::Granted);
    assert_eq!(out.assignment.map(|a| a.window), Some(Window { start, end: Some(start.plus_millis(HOUR_MS)) }));
    assert!(!s.allowed(carl, READ, "/").await);
    s.stop().await;
}

async fn extension_and_renewal_wait_for_an_administrator_who_may_shorten_them(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    let (bob, bob_c) = s.user("bob").await;
    let (_, carol_c) = s.user("carol").await;
    let end = T0.plus_millis(10 * DAY_MS);
    let e = s.assign(bob, role, "/", AssignmentKind::Eligible, Some(end)).await;
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, e.id);
    ext.end = Some(end.plus_millis(30 * DAY_MS));
    ext.justification = Some("project runs longer".into());
    let r = bob_c.create_request(&ext).await.expect("asked").request;
    assert_eq!(r.status, RequestStatus::PendingApproval);
    assert!(s.admin.pending_approvals().await.expect("pending").items.iter().any(|x| x.id == r.id));
    assert_eq!(code(carol_c.approve_request(r.id, &why("no")).await), "not_approver");
    assert_eq!(code(bob_c.approve_request(r.id, &why("me")).await), "approval_self_forbidden");
    let too_long = DecideRequest { justification: Some("ok".into()), end: Some(end.plus_millis(31 * DAY_MS)) };
    assert_eq!(code(s.admin.approve_request(r.id, &too_long).await), "invalid_window");
    let shorter = DecideRequest { justification: Some("two weeks".into()), end: Some(end.plus_millis(14 * DAY_MS)) };
    let out = s.admin.approve_request(r.id, &shorter).await.expect("approved");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    assert_eq!(out.assignment.map(|a| a.window.end), Some(Some(end.plus_millis(14 * DAY_MS))));

    // Renewal of an assignment that ended a few days ago.
    let (dan, dan_c) = s.user("dan").await;
    let old = s.assign(dan, role, "/", AssignmentKind::Eligible, Some(T0.plus_millis(DAY_MS))).await;
    s.advance(3 * DAY_MS);
    let mut renew = CreateRequest::for_assignment(RequestAction::SelfRenew, old.id);
    renew.justification = Some("still needed".into());
    let r = dan_c.create_request(&renew).await.expect("asked").request;
    let no_end = DecideRequest { justification: Some("ok".into()), end: None };
    assert_eq!(code(s.admin.approve_request(r.id, &no_end).await), "invalid_input", "the approver picks the end");
    let new_end = s.engine.now().plus_millis(60 * DAY_MS);
    let out = s
        .admin
        .approve_request(r.id, &DecideRequest { justification: Some("ok".into()), end: Some(new_end) })
        .await
        .expect("renewed");
    let renewed = out.assignment.expect("new assignment");
    assert_ne!(renewed.id, old.id);
    assert_eq!(renewed.window, Window { start: s.engine.now(), end: Some(new_end) });

    // Without approval for extension, holders extend at once.
    s.set_settings(role, "/", |st| st.require_approval_for_extension = false).await;
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, renewed.id);
    ext.end = Some(new_end.plus_millis(DAY_MS));
    ext.justification = Some("more".into());
    s.advance(50 * DAY_MS);
    let out = dan_c.create_request(&ext).await.expect("extended");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    assert_eq!(out.assignment.and_then(|a| a.window.end), Some(new_end.plus_millis(DAY_MS)));
    s.stop().await;
}

async fn break_glass_skips_approval_and_is_reviewed(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, _) = s.user("ann").await;
    let (role, bob, bob_c) = approval_role(&s, vec![stage(vec![user_ref(ann)], 1)]).await;
    let mut bg = activation(role, "/", 60);
    bg.break_glass = Some(true);
    assert_eq!(code(bob_c.create_request(&bg).await), "break_glass_not_allowed");
    s.set_settings(role, "/", |st| st.allow_break_glass = true).await;
    let mut no_reason = bg.clone();
    no_reason.justification = None;
    assert_eq!(code(bob_c.create_request(&no_reason).await), "justification_required");
    let out = bob_c.create_request(&bg).await.expect("break-glass");
    assert_eq!(out.request.status, RequestStatus::Provisioned);
    assert!(out.request.break_glass);
    assert!(s.allowed(bob, READ, "/").await, "in effect at once");
    let told = notices(&s, Some(out.request.id), "role.breakGlass").await;
    assert!(told.contains(&"ann@example.com".to_owned()), "every approver is told: {told:?}");
    let queue = s.admin.list_break_glass_reviews(true).await.expect("reviews").items;
    assert_eq!(queue.iter().map(|v| v.request_id).collect::<Vec<_>>(), vec![out.request.id]);
    let verdict = CompleteReview { verdict: ReviewVerdict::Appropriate, note: Some("real outage".into()) };
    assert_eq!(status(bob_c.complete_break_glass_review(out.request.id, &verdict).await), 403);
    let v = s.admin.complete_break_glass_review(out.request.id, &verdict).await.expect("reviewed");
    assert_eq!(v.verdict, Some(ReviewVerdict::Appropriate));
    assert_eq!(code(s.admin.complete_break_glass_review(out.request.id, &verdict).await), "already_decided");
    assert!(s.admin.list_break_glass_reviews(true).await.expect("reviews").items.is_empty());
    s.stop().await;
}

async fn bulk_decisions_report_each_request(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, ann_c) = s.user("ann").await;
    let (role, _, bob_c) = approval_role(&s, vec![stage(vec![user_ref(ann)], 1)]).await;
    let (carl, carl_c) = s.user("carl").await;
    s.assign(carl, role, "/", AssignmentKind::Eligible, None).await;
    s.assign(ann, role, "/", AssignmentKind::Eligible, None).await;
    let r1 = bob_c.create_request(&activation(role, "/a", 60)).await.expect("1").request.id;
    let r2 = carl_c.create_request(&activation(role, "/b", 60)).await.expect("2").request.id;
    let r3 = ann_c.create_request(&activation(role, "/c", 60)).await.expect("3").request.id;
    let body = BulkDecision {
        verdict: Verdict::Approve,
        request_ids: vec![r1, r2, r3],
        justification: Some("change window".into()),
    };
    let res = ann_c.decide_requests(&body).await.expect("bulk");
    let got: Vec<_> = res
        .items
        .iter()
        .map(|i| (i.request_id, i.request.as_ref().map(|r| r.status), i.problem.as_ref().map(|p| p.code.clone())))
        .collect();
    assert_eq!(
        got,
        vec![
            (r1, Some(RequestStatus::Provisioned), None),
            (r2, Some(RequestStatus::Provisioned), None),
            (r3, None, Some("approval_self_forbidden".into())),
        ]
    );
    s.stop().await;
}

async fn protected_settings_need_a_second_administrator(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    let (pra, pra_c) = s.user("pra").await;
    s.assign(pra, role::PRIVILEGED_ROLE_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let r = role.to_string();
    let mut st = s.admin.get_settings(&r, &sp("/")).await.expect("settings").settings;
    st.protected = true;
    assert!(matches!(s.admin.put_settings(&r, &sp("/"), &st).await, Ok(pim_client::SettingsOutcome::Applied(_))));
    st.activation_max_minutes = 60;
    let change = match s.admin.put_settings(&r, &sp("/"), &st).await.expect("proposed") {
        pim_client::SettingsOutcome::Pending(c) => c,
        other => panic!("expected a pending change, got {other:?}"),
    };
    assert_eq!(change.status, RequestStatus::PendingApproval);
    let asked = notices(&s, None, "settings.approvalNeeded").await;
    assert!(asked.contains(&"pra@example.com".to_owned()), "the other administrators are asked: {asked:?}");
    let now = s.admin.get_settings(&r, &sp("/")).await.expect("settings").settings;
    assert_eq!(now.activation_max_minutes, 480, "nothing changes before approval");
    let ok = DecideSettingsChange { justification: Some("reviewed".into()) };
    assert_eq!(code(s.admin.decide_settings_change(change.id, true, &ok).await), "approval_self_forbidden");
    let pending = pra_c.list_settings_changes(Some(RequestStatus::PendingApproval)).await.expect("list").items;
    assert_eq!(pending.iter().map(|c| c.id).collect::<Vec<_>>(), vec![change.id]);
    let done = pra_c.decide_settings_change(change.id, true, &ok).await.expect("approved");
    assert_eq!(done.status, RequestStatus::Provisioned);
    assert_eq!(s.admin.get_settings(&r, &sp("/")).await.expect("settings").settings.activation_max_minutes, 60);
    assert_eq!(code(pra_c.decide_settings_change(change.id, true, &ok).await), "request_not_pending");

    // A reset is protected too; this one is denied, and an undecided one times out after 7 days.
    let reset = s.admin.delete_settings(&r, &sp("/")).await.expect("proposed").expect("a pending change");
    let denied = pra_c.decide_settings_change(reset.id, false, &ok).await.expect("denied");
    assert_eq!(denied.status, RequestStatus::Denied);
    assert!(s.admin.get_settings(&r, &sp("/")).await.expect("settings").defined_at.is_some());
    let stale = s.admin.delete_settings(&r, &sp("/")).await.expect("proposed").expect("a pending change");
    s.advance(7 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(s.admin.get_settings_change(stale.id).await.expect("change").status, RequestStatus::TimedOut);
    let actions = audit_actions(&s, "settings.change").await;
    for a in ["settings.changeProposed", "settings.changeApproved", "settings.changeDenied", "settings.changeTimedOut"]
    {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    s.stop().await;
}

/// An activation through a group whose membership ended while it waited fails at approval.
async fn approval_fails_when_the_group_eligibility_is_gone(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, ann_c) = s.user("ann").await;
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    s.set_settings(role, "/", |st| {
        st.require_mfa_on_activation = false;
        st.require_approval_to_activate = true;
        st.approval_stages = vec![stage(vec![user_ref(ann)], 1)];
    })
    .await;
    let team = s.group("team").await;
    let (bob, bob_c) = s.user("bob").await;
    s.admin.add_member(team, bob).await.expect("member");
    s.assign(team, role, "/", AssignmentKind::Eligible, None).await;
    let id = bob_c.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id;
    s.admin.remove_member(team, bob).await.expect("removed");
    let out = ann_c.approve_request(id, &why("ok")).await.expect("decided");
    assert_eq!(out.request.status, RequestStatus::Failed);
    assert!(out.request.status_reason.as_deref().is_some_and(|r| r.contains("no longer holds")), "{:?}", out.request);
    assert!(!s.allowed(bob, READ, "/").await);
    assert_eq!(audit_actions(&s, "request.failed").await.len(), 1);
    s.stop().await;
}

crate::backend_tests!(
    approval_fails_when_the_group_eligibility_is_gone,
    one_approval_runs_from_the_decision,
    two_stages_of_n_approvals_through_groups,
    one_denial_ends_and_the_requester_may_cancel,
    unanswered_requests_escalate_then_time_out,
    approval_never_outlasts_the_eligibility_and_keeps_a_later_start,
    extension_and_renewal_wait_for_an_administrator_who_may_shorten_them,
    break_glass_skips_approval_and_is_reviewed,
    bulk_decisions_report_each_request,
    protected_settings_need_a_second_administrator,
);
