//! The portal's everyday work over HTTP: an activation that needs approval waits in My requests
//! (and another is canceled there), its approver sees it on Approve requests and approves or
//! denies (one or many at once), what others may not decide is refused with nothing changed; and
//! reviewers decide access review items on Review access (reasons, recommendations, refusals).

use crate::harness::prelude::*;
use crate::portal::Browser;

const PW: &str = "a-long-password-1";

fn user_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::User, id }
}

/// A role at `/` whose activation needs one approval by `approver` (MFA off).
async fn approval_role(s: &TestServer, approver: PrincipalId) -> RoleId {
    let role = s.custom_role("Blob Admin", &["storage.blobs.*"]).await;
    s.set_settings(role, "/", |st| {
        st.require_mfa_on_activation = false;
        st.require_approval_to_activate = true;
        st.approval_stages = vec![ApprovalStage {
            approvers: vec![user_ref(approver)],
            required_approvals: 1,
            timeout_minutes: 24 * 60,
            escalation: None,
        }];
    })
    .await;
    role
}

/// Activates `role` at `scope` through My roles; answers the page it lands on.
async fn activate(web: &Browser, elig: &Assignment, scope: &str, justification: &str) -> crate::portal::Page {
    web.open("/roles").await;
    let (eligibility, role) = (elig.id.to_string(), elig.role_id.to_string());
    web.submit(
        "/roles/activate",
        &[
            ("eligibility", eligibility.as_str()),
            ("role_id", role.as_str()),
            ("scope", scope),
            ("duration_minutes", "120"),
            ("justification", justification),
            ("ticket_system", "jira"),
            ("ticket_number", "OPS-42"),
            ("intent", "activate"),
        ],
    )
    .await
}

/// `principal`'s requests in `status`, newest first, as the administrator reads them.
async fn requests_of(s: &TestServer, principal: PrincipalId, status: RequestStatus) -> Vec<Request> {
    let q = RequestQuery { principal_id: Some(principal), status: Some(status), ..Default::default() };
    s.admin.list_requests(&q).await.expect("requests").items
}

async fn status_of(s: &TestServer, id: RequestId) -> RequestStatus {
    s.admin.get_request(id).await.expect("request").status
}

async fn activations_wait_in_my_requests_and_are_decided_on_approvals(b: Backend) {
    let s = TestServer::start(&b).await;
    let ann = s.user_with_password("ann", PW).await;
    let bob = s.user_with_password("bob", PW).await;
    s.user_with_password("carol", PW).await;
    let role = approval_role(&s, ann).await;
    let elig = s.assign(bob, role, "/", AssignmentKind::Eligible, None).await;

    // bob asks; the request waits in My requests with what he asked and who decides.
    let bob_web = Browser::new(&s);
    bob_web.sign_in("bob", PW, None).await;
    let landed = activate(&bob_web, &elig, "/data", "incident INC-7").await;
    assert!(landed.flash().unwrap_or_default().contains("waits for approval"), "{:?}", landed.flash());
    let mine = bob_web.open("/requests").await;
    let text = mine.text();
    for want in [
        "Pending approval",
        "Blob Admin",
        "/data",
        "2 hours from approval",
        "incident INC-7",
        "jira OPS-42",
        "from ann",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(mine.has("Cancel request"));
    let id = requests_of(&s, bob, RequestStatus::PendingApproval).await[0].id;

    // A second request, canceled from My requests.
    activate(&bob_web, &elig, "/logs", "second thoughts").await;
    let other = requests_of(&s, bob, RequestStatus::PendingApproval).await[0].id;
    assert_ne!(other, id);
    let canceled = bob_web.submit("/requests/cancel", &[("request_id", &other.to_string())]).await;
    assert_eq!(canceled.flash().as_deref(), Some("Canceled your request to activate Blob Admin at /logs."));
    assert_eq!(status_of(&s, other).await, RequestStatus::Canceled);
    assert_eq!(s.audited("request.cancel").await.len(), 1);
    let again = bob_web.submit("/requests/cancel", &[("request_id", &other.to_string())]).await;
    assert!(again.flash().unwrap_or_default().contains("not pending"), "{:?}", again.flash());
    let only = bob_web.open("/requests?status=Canceled").await.text();
    assert!(only.contains("/logs") && !only.contains("/data"), "{only}");
    assert_eq!(bob_web.get("/requests?status=Nope").await.status, 400, "an unknown status is a clear 400");
    assert_eq!(bob_web.get("/requests?after=nope").await.status, 400);
    assert!(bob_web.open("/requests?status=all").await.text().contains("/data"));

    // The requester has nothing to approve, nor has carol; their forged decisions change nothing.
    assert!(bob_web.open("/approvals").await.text().contains("Nothing waits for your decision"));
    let refused = bob_web
        .submit("/approvals", &[("request_id", &id.to_string()), ("verdict", "approve"), ("justification", "me")])
        .await;
    assert!(refused.flash().unwrap_or_default().contains("1 request was refused"), "{:?}", refused.flash());
    let carol_web = Browser::new(&s);
    carol_web.sign_in("carol", PW, None).await;
    assert!(carol_web.open("/approvals").await.text().contains("Nothing waits for your decision"));
    let forged = carol_web
        .submit("/approvals", &[("request_id", &id.to_string()), ("verdict", "approve"), ("justification", "sure")])
        .await;
    let msg = forged.flash().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("1 request was refused: request {id}: ")) && msg.contains("not an approver"),
        "{msg}"
    );
    assert_eq!(status_of(&s, id).await, RequestStatus::PendingApproval, "nothing changed");
    let failures = s.audited("request.approve").await;
    assert!(failures.len() >= 2 && failures.iter().all(|e| e.outcome == Outcome::Failure), "{failures:?}");
    assert!(failures.iter().any(|e| e.error_code.as_deref() == Some("not_approver")), "{failures:?}");

    // ann sees who asks, why and with which ticket; the canceled request is gone.
    let ann_web = Browser::new(&s);
    ann_web.sign_in("ann", PW, None).await;
    let page = ann_web.open("/approvals").await;
    let text = page.text();
    for want in ["bob", "Blob Admin", "/data", "incident INC-7", "jira OPS-42", "2 hours from approval"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(!text.contains("/logs"), "{text}");
    assert!(page.has("data-select-all=\"request_id\"") && page.has(&format!("value=\"{id}\"")));

    // Mistakes in the form are shown with what was typed; nothing is decided.
    let blank = ann_web.post("/approvals", &[("verdict", "approve"), ("justification", "kept")]).await;
    assert_eq!(blank.status, 422);
    assert!(blank.flash().unwrap_or_default().contains("Tick between 1 and 100"), "{:?}", blank.flash());
    assert!(blank.has(">kept</textarea>"));
    let no_verdict = ann_web.post("/approvals", &[("request_id", &id.to_string())]).await;
    assert_eq!(no_verdict.status, 422);
    let bad_id = ann_web.post("/approvals", &[("request_id", "nope"), ("verdict", "approve")]).await;
    assert_eq!(bad_id.status, 422);
    // The role requires a justification from approvers.
    let unjustified = ann_web.submit("/approvals", &[("request_id", &id.to_string()), ("verdict", "approve")]).await;
    assert!(unjustified.flash().unwrap_or_default().contains("justification"), "{:?}", unjustified.flash());
    assert_eq!(status_of(&s, id).await, RequestStatus::PendingApproval);

    let approved = ann_web
        .submit("/approvals", &[("request_id", &id.to_string()), ("verdict", "approve"), ("justification", "on call")])
        .await;
    assert_eq!(approved.flash().as_deref(), Some("Approved 1 request."));
    assert_eq!(status_of(&s, id).await, RequestStatus::Provisioned);
    assert!(approved.text().contains("Nothing waits for your decision"));
    let roles = bob_web.open("/roles").await.text();
    let active = roles.split("Active roles").nth(1).unwrap_or_default();
    assert!(active.contains("Blob Admin") && active.contains("/data") && active.contains("activation"), "{roles}");
    let mine = bob_web.open("/requests").await.text();
    assert!(mine.contains("Provisioned") && mine.contains("ann approved") && mine.contains("on call"), "{mine}");

    // Another is denied with a reason bob reads in My requests.
    activate(&bob_web, &elig, "/tmp", "just because").await;
    let third = requests_of(&s, bob, RequestStatus::PendingApproval).await[0].id;
    let denied = ann_web
        .submit("/approvals", &[("request_id", &third.to_string()), ("verdict", "deny"), ("justification", "not now")])
        .await;
    assert_eq!(denied.flash().as_deref(), Some("Denied 1 request."));
    assert_eq!(status_of(&s, third).await, RequestStatus::Denied);
    let mine = bob_web.open("/requests?status=Denied").await.text();
    assert!(mine.contains("/tmp") && mine.contains("ann denied") && mine.contains("not now"), "{mine}");
    let decided = s.audited("request.deny").await;
    assert_eq!(decided.iter().filter(|e| e.action == "request.deny" && e.outcome == Outcome::Success).count(), 1);
    s.stop().await;
}

async fn an_approval_short_of_the_last_stage_says_the_request_still_waits(b: Backend) {
    let s = TestServer::start(&b).await;
    let ann = s.user_with_password("ann", PW).await;
    let (cy, _) = s.user("cy").await;
    let role = approval_role(&s, ann).await;
    s.set_settings(role, "/", |st| {
        let mut second = st.approval_stages[0].clone();
        second.approvers = vec![user_ref(cy)];
        st.approval_stages.push(second);
    })
    .await;
    let (bob, client) = s.user("bob").await;
    s.assign(bob, role, "/", AssignmentKind::Eligible, None).await;
    let id = client.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id.to_string();
    let web = Browser::new(&s);
    web.sign_in("ann", PW, None).await;
    let done =
        web.submit("/approvals", &[("request_id", &id), ("verdict", "approve"), ("justification", "stage one")]).await;
    assert_eq!(done.flash().as_deref(), Some("Approved 1 request (it still waits for further approvals)."));
    s.stop().await;
}

async fn many_requests_are_approved_at_once(b: Backend) {
    let s = TestServer::start(&b).await;
    let ann = s.user_with_password("ann", PW).await;
    let role = approval_role(&s, ann).await;
    let mut ids = vec![];
    for name in ["bob", "dan"] {
        let (who, client) = s.user(name).await;
        s.assign(who, role, "/", AssignmentKind::Eligible, None).await;
        ids.push(client.create_request(&activation(role, "/", 60)).await.expect("submitted").request.id);
    }
    let web = Browser::new(&s);
    web.sign_in("ann", PW, None).await;
    let page = web.open("/approvals").await.text();
    assert!(page.contains("bob") && page.contains("dan") && page.contains("incident INC-1"), "{page}");
    let (a, b2) = (ids[0].to_string(), ids[1].to_string());
    let done = web
        .submit(
            "/approvals",
            &[("request_id", &a), ("request_id", &b2), ("verdict", "approve"), ("justification", "both fine")],
        )
        .await;
    assert_eq!(done.flash().as_deref(), Some("Approved 2 requests."));
    for id in &ids {
        assert_eq!(status_of(&s, *id).await, RequestStatus::Provisioned);
    }
    let approvals = s.audited("request.approve").await;
    let approved = approvals.iter().filter(|e| e.action == "request.approve" && e.outcome == Outcome::Success);
    assert_eq!(approved.count(), 2, "each decided on its own");

    // Each is decided on its own: a pending one is denied, a decided one and an unknown one are
    // refused, each named in the message.
    let (eve, eve_c) = s.user("eve").await;
    s.assign(eve, role, "/", AssignmentKind::Eligible, None).await;
    let fresh = eve_c.create_request(&activation(role, "/x", 60)).await.expect("submitted").request.id;
    let unknown = RequestId::new().to_string();
    let again = web
        .submit(
            "/approvals",
            &[
                ("request_id", &fresh.to_string()),
                ("request_id", &a),
                ("request_id", &unknown),
                ("verdict", "deny"),
                ("justification", "late"),
            ],
        )
        .await;
    let msg = again.flash().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("Denied 1 request; 2 requests were refused: request {a}: the request is Provisioned")),
        "{msg}"
    );
    assert!(msg.contains(&format!("request {unknown}: ")), "{msg}");
    assert_eq!(status_of(&s, fresh).await, RequestStatus::Denied);
    assert_eq!(status_of(&s, ids[0]).await, RequestStatus::Provisioned);
    s.stop().await;
}

/// A one-time review of Reader at `/` by `reviewer`, with a reason required.
fn reader_review(reviewer: PrincipalId) -> CreateReview {
    CreateReview {
        name: "Quarterly readers".into(),
        description: Some("Who still needs to read everything?".into()),
        target: ReviewTarget::Roles { role_ids: vec![role::READER], scope: sp("/") },
        kinds: ReviewedKinds::Eligible,
        inactive_days: None,
        reviewers: Reviewers::Selected { reviewers: vec![user_ref(reviewer)] },
        schedule: ReviewScheduleInput {
            start: None,
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        auto_apply: false,
        if_no_response: IfNoResponse::NoChange,
        reason_required: true,
    }
}

async fn reviewers_decide_items_on_review_access(b: Backend) {
    let s = TestServer::start(&b).await;
    s.without_mfa(role::READER).await;
    let rita = s.user_with_password("rita", PW).await;
    s.user_with_password("nick", PW).await;
    let (ann, ann_c) = s.user("ann").await;
    let (ian, _) = s.user("ian").await;
    let (ivy, _) = s.user("ivy").await;
    for who in [ann, ian, ivy] {
        s.assign(who, role::READER, "/", AssignmentKind::Eligible, None).await;
    }
    ann_c.create_request(&activation(role::READER, "/", 30)).await.expect("ann activates");
    let def = s.admin.create_review(&reader_review(rita)).await.expect("review");
    let instance = s.admin.get_review(def.id).await.expect("review").instances[0].id;
    let items = || async { s.admin.review_results(instance).await.expect("results").items };
    let item =
        |all: &[ReviewItem], who: PrincipalId| all.iter().find(|i| i.principal_id == who).cloned().expect("item");
    let all = items().await;
    let (ann_item, ian_item) = (item(&all, ann).id.to_string(), item(&all, ian).id.to_string());
    let inst = instance.to_string();

    let web = Browser::new(&s);
    web.sign_in("rita", PW, None).await;
    let page = web.open("/reviews").await;
    let text = page.text();
    for want in [
        "Quarterly readers",
        "Who still needs to read everything?",
        "reason required",
        "ann",
        "ian",
        "ivy",
        "Reader",
        "no activation or sign-in for 30 days",
        "Not decided",
        "You have decided 0 of 3 items",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(page.has("data-select-all=\"item_id\""));

    // The review asks for a reason: without one, nothing is decided and the choice is kept.
    let deny_ian = |reason: &'static str| {
        [
            ("instance_id", inst.clone()),
            ("item_id", ian_item.clone()),
            ("verdict", "deny".into()),
            ("reason", reason.into()),
        ]
    };
    let post = |fields: [(&'static str, String); 4]| async {
        let fields = fields;
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web.post("/reviews/decide", &pairs).await
    };
    let no_reason = post(deny_ian("")).await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.flash().unwrap_or_default().contains("requires a reason"), "{:?}", no_reason.flash());
    assert!(no_reason.has(&format!("value=\"{ian_item}\" aria-label=\"Select ian's Reader at /\" checked")));
    assert!(item(&items().await, ian).decision.is_none());

    let denied = post(deny_ian("left the team")).await;
    assert_eq!(denied.status, 303);
    let after = web.open("/reviews").await;
    assert_eq!(after.flash().as_deref(), Some("Denied 1 item."));
    assert!(after.text().contains("Denied by you") && after.text().contains("left the team"));
    let d = item(&items().await, ian).decision.expect("decided");
    assert_eq!((d.verdict, d.by, d.reason.as_deref()), (Verdict::Deny, rita, Some("left the team")));

    // Accepting recommendations with nothing ticked decides the rest: ann was active, ivy never.
    let rest = web
        .submit("/reviews/decide", &[("instance_id", &inst), ("verdict", "recommendation"), ("reason", "as pim says")])
        .await;
    let msg = rest.flash().unwrap_or_default().replace("&#39;", "'");
    assert_eq!(msg, "Took pim's recommendation for 2 items: 1 approved, 1 denied.");
    let all = items().await;
    assert_eq!(item(&all, ann).decision.expect("ann").verdict, Verdict::Approve);
    assert_eq!(item(&all, ivy).decision.expect("ivy").verdict, Verdict::Deny);
    assert_eq!(item(&all, ian).decision.expect("ian").reason.as_deref(), Some("left the team"), "kept");
    let events = s.audited("review.decided").await;
    assert_eq!(events.iter().filter(|e| e.outcome == Outcome::Success).count(), 3);

    // Nothing ticked for approve or deny; a bad verdict: clear messages, nothing decided.
    let none = web.post("/reviews/decide", &[("instance_id", &inst), ("verdict", "approve"), ("reason", "x")]).await;
    assert_eq!(none.status, 422);
    assert!(none.flash().unwrap_or_default().contains("Tick at least one item"));
    let odd =
        web.post("/reviews/decide", &[("instance_id", &inst), ("item_id", &ann_item), ("verdict", "maybe")]).await;
    assert_eq!(odd.status, 422);
    assert_eq!(web.post("/reviews/decide", &[("instance_id", "nope"), ("verdict", "approve")]).await.status, 400);

    // nick reviews nothing: he sees no review, and his forged decision is refused with nothing changed.
    let nick = Browser::new(&s);
    nick.sign_in("nick", PW, None).await;
    assert!(nick.open("/reviews").await.text().contains("No access review waits for you"));
    let forged = nick
        .post(
            "/reviews/decide",
            &[("instance_id", &inst), ("item_id", &ann_item), ("verdict", "deny"), ("reason", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.flash().unwrap_or_default().contains("not a reviewer"), "{:?}", forged.flash());
    assert_eq!(item(&items().await, ann).decision.expect("ann").verdict, Verdict::Approve, "unchanged");
    let refused = s.audited("review.decided").await;
    assert!(refused.iter().any(|e| e.outcome == Outcome::Failure && e.error_code.as_deref() == Some("not_reviewer")));
    s.stop().await;
}

async fn administrators_decide_settings_changes_and_review_break_glass(b: Backend) {
    let s = TestServer::start(&b).await;
    let pra = s.user_with_password("pra", PW).await;
    s.assign(pra, role::PRIVILEGED_ROLE_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    s.user_with_password("plain", PW).await;
    let role = approval_role(&s, pra).await;
    s.set_settings(role, "/", |st| st.allow_break_glass = true).await;
    let (bob, bob_c) = s.user("bob").await;
    s.assign(bob, role, "/", AssignmentKind::Eligible, None).await;
    let mut bg = activation(role, "/", 60);
    bg.break_glass = Some(true);
    let emergency = bob_c.create_request(&bg).await.expect("break-glass").request.id;
    let r = role.to_string();
    s.set_settings(role, "/", |st| st.protected = true).await;
    let mut st = s.admin.get_settings(&r, &sp("/")).await.expect("settings").settings;
    st.require_ticket_on_activation = true;
    let change = match s.admin.put_settings(&r, &sp("/"), &st).await.expect("proposed") {
        pim_client::SettingsOutcome::Pending(c) => c.id,
        other => panic!("expected a pending change, got {other:?}"),
    };

    // A plain user sees neither, and cannot decide them.
    let plain = Browser::new(&s);
    plain.sign_in("plain", PW, None).await;
    let text = plain.open("/approvals").await.text();
    assert!(!text.contains("Protected settings changes") && !text.contains("Break-glass"), "{text}");
    let forged = plain
        .submit(
            "/approvals/settings-changes",
            &[("change_id", &change.to_string()), ("verdict", "approve"), ("justification", "x")],
        )
        .await;
    assert!(
        forged.flash().is_some_and(|f| f.contains("not allowed") || f.contains("permission")),
        "{:?}",
        forged.flash()
    );
    let bg_forged = plain
        .submit("/approvals/break-glass", &[("request_id", &emergency.to_string()), ("verdict", "appropriate")])
        .await;
    assert!(bg_forged.flash().is_some(), "refused");
    assert_eq!(s.admin.get_settings_change(change).await.expect("change").status, RequestStatus::PendingApproval);
    assert_eq!(s.admin.list_break_glass_reviews(true).await.expect("queue").items.len(), 1);
    let bad = plain.post("/approvals/break-glass", &[("request_id", &emergency.to_string()), ("verdict", "meh")]).await;
    assert_eq!(bad.status, 400);

    // The other administrator sees what changes, and decides.
    let web = Browser::new(&s);
    web.sign_in("pra", PW, None).await;
    let page = web.open("/approvals").await;
    let text = page.text();
    for want in ["Protected settings changes", "Blob Admin", "Proposed by admin", "Require ticket on activation no yes"]
    {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(text.contains("Break-glass activations to review") && text.contains("incident INC-1"), "{text}");
    let approved = web
        .submit(
            "/approvals/settings-changes",
            &[("change_id", &change.to_string()), ("verdict", "approve"), ("justification", "reviewed")],
        )
        .await;
    assert_eq!(
        approved.flash().as_deref(),
        Some("Approved the change to the settings of Blob Admin at /: it applies now.")
    );
    assert!(s.admin.get_settings(&r, &sp("/")).await.expect("settings").settings.require_ticket_on_activation);
    let reviewed = web
        .submit(
            "/approvals/break-glass",
            &[("request_id", &emergency.to_string()), ("verdict", "appropriate"), ("note", "real outage")],
        )
        .await;
    assert_eq!(reviewed.flash().as_deref(), Some("Recorded: the break-glass activation by bob was appropriate."));
    let all = s.admin.list_break_glass_reviews(false).await.expect("reviews").items;
    assert_eq!((all[0].reviewed_by, all[0].note.as_deref()), (Some(pra), Some("real outage")));
    let text = reviewed.text();
    assert!(!text.contains("Protected settings changes") && !text.contains("Break-glass"), "{text}");
    s.stop().await;
}

crate::backend_tests!(
    activations_wait_in_my_requests_and_are_decided_on_approvals,
    many_requests_are_approved_at_once,
    an_approval_short_of_the_last_stage_says_the_request_still_waits,
    reviewers_decide_items_on_review_access,
    administrators_decide_settings_changes_and_review_break_glass,
);
