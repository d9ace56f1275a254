//! Access reviews end to end (docs/REVIEWS.md), with the manual clock moved across recurrences:
//! the snapshot at each start, the midpoint reminder, decisions and reasons, the end with each rule
//! for unanswered items, automatic and manual apply through `adminRemove`, calendar months and
//! missed occurrences, reviewers (selected, managers with fallback, self-review, groups), group
//! membership reviews, reset, stop, results as CSV, and the last Global Administrator kept.

use crate::harness::prelude::*;

const NOW: AssignmentKind = AssignmentKind::Active;
const ELIG: AssignmentKind = AssignmentKind::Eligible;

fn user_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::User, id }
}

fn group_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::Group, id }
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("time literal")
}

/// A one-time review of `roles` at `scope`, starting now, lasting `days`, reviewed by `reviewers`.
fn review(name: &str, roles: &[RoleId], scope: &str, reviewers: Reviewers, days: u32) -> CreateReview {
    CreateReview {
        name: name.into(),
        description: None,
        target: ReviewTarget::Roles { role_ids: roles.to_vec(), scope: sp(scope) },
        kinds: ReviewedKinds::Both,
        inactive_days: None,
        reviewers,
        schedule: ReviewScheduleInput {
            start: None,
            recurrence: Recurrence::OneTime,
            duration_days: days,
            end: ReviewEnd::Never,
        },
        auto_apply: false,
        if_no_response: IfNoResponse::NoChange,
        reason_required: false,
    }
}

async fn instances(s: &TestServer, id: ReviewId) -> Vec<ReviewInstance> {
    s.admin.get_review(id).await.expect("review").instances
}

async fn latest(s: &TestServer, id: ReviewId) -> ReviewInstance {
    instances(s, id).await.into_iter().next().expect("an instance")
}

async fn items(s: &TestServer, instance: ReviewInstanceId) -> Vec<ReviewItem> {
    s.admin.review_results(instance).await.expect("results").items
}

fn item_of(items: &[ReviewItem], principal: PrincipalId) -> ReviewItem {
    items.iter().find(|i| i.principal_id == principal).cloned().expect("an item of the principal")
}

async fn decide(c: &Client, i: &ReviewItem, verdict: Verdict, reason: Option<&str>) -> Result<ReviewItem, ClientError> {
    let body = DecideReviewItem { verdict, reason: reason.map(str::to_owned) };
    c.decide_review_item(i.instance_id, i.id, &body).await
}

async fn weekly_reviews_snapshot_remind_complete_and_apply(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice, alice_c) = s.user("alice").await;
    let (bob, bob_c) = s.user("bob").await;
    let (carol, _) = s.user("carol").await;
    let (dave, _) = s.user("dave").await;
    let elig = s.assign(alice, role::READER, "/prod", ELIG, None).await;
    s.assign(carol, role::CONTRIBUTOR, "/prod/db", NOW, None).await;
    s.assign(carol, role::READER, "/test", ELIG, None).await;

    let mut body = review(
        "Weekly prod",
        &[role::READER, role::CONTRIBUTOR],
        "/prod",
        Reviewers::Selected { reviewers: vec![user_ref(bob)] },
        4,
    );
    body.schedule.recurrence = Recurrence::Weekly;
    body.schedule.end = ReviewEnd::AfterOccurrences { count: 3 };
    body.auto_apply = true;
    body.reason_required = true;
    let def = s.admin.create_review(&body).await.expect("create");
    assert_eq!((def.schedule.start, def.created_by), (T0, s.admin_id), "the start defaults to now");

    // The first instance starts at once, with a snapshot of the target.
    let i0 = latest(&s, def.id).await;
    assert_eq!(
        (i0.occurrence, i0.start, i0.end, i0.status),
        (0, T0, T0.plus_millis(4 * DAY_MS), InstanceStatus::InProgress)
    );
    assert_eq!(i0.counts.expect("counts").total, 2, "Reader at /prod and Contributor below it; not /test");
    assert_eq!(
        s.notices("review.started").await.iter().map(|n| n.recipient.as_str()).collect::<Vec<_>>(),
        ["bob@example.com"]
    );
    s.assign(dave, role::READER, "/prod", ELIG, None).await;
    let mine = bob_c.my_reviews().await.expect("mine").items;
    assert_eq!(mine.len(), 1);
    let work = &mine[0].items;
    assert_eq!(work.len(), 2, "an assignment made after the start is not in the snapshot");
    let a = item_of(work, alice);
    assert_eq!((a.assignment_id, a.kind, a.role_name.as_deref()), (Some(elig.id), ELIG, Some("Reader")));
    assert_eq!((a.principal_name.as_deref(), a.recommendation, a.last_activity), (Some("alice"), Verdict::Deny, None));
    assert!(alice_c.my_reviews().await.expect("mine").items.is_empty(), "alice reviews nothing");

    // The reminder goes out once, at the midpoint, to the reviewer with undecided items.
    s.advance(2 * DAY_MS - 1);
    s.engine.run_jobs_once().await.expect("jobs");
    assert!(s.notices("review.reminder").await.is_empty());
    s.advance(1);
    s.engine.run_jobs_once().await.expect("jobs");
    s.engine.run_jobs_once().await.expect("jobs");
    let reminders = s.notices("review.reminder").await;
    assert_eq!(reminders.iter().map(|n| n.recipient.as_str()).collect::<Vec<_>>(), ["bob@example.com"]);

    // A reason is required; a decision can be changed until the end.
    assert_eq!(code(decide(&bob_c, &a, Verdict::Deny, None).await), "reason_required");
    assert_eq!(code(decide(&alice_c, &a, Verdict::Approve, Some("mine")).await), "not_reviewer");
    decide(&bob_c, &a, Verdict::Approve, Some("on call")).await.expect("approve");
    let d = decide(&bob_c, &a, Verdict::Deny, Some("left the team")).await.expect("deny");
    let decision = d.decision.expect("decision");
    assert_eq!(
        (decision.verdict, decision.by, decision.reason.as_deref()),
        (Verdict::Deny, bob, Some("left the team"))
    );
    let decided = s.audited("review.decided").await;
    let codes: Vec<Option<&str>> = decided.iter().map(|e| e.error_code.as_deref()).collect();
    assert_eq!(codes, [None, None, Some("not_reviewer"), Some("reason_required")], "refusals are audited too");

    // At the end the instance completes and, with autoApply, pim removes the denied access itself.
    s.advance(2 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let done = s.admin.get_review_instance(i0.id).await.expect("instance");
    assert_eq!(done.status, InstanceStatus::Applied);
    let counts = done.counts.expect("counts");
    assert_eq!((counts.denied, counts.not_reviewed, counts.to_remove, counts.removed), (1, 1, 1, 1));
    let results = items(&s, i0.id).await;
    let a = item_of(&results, alice);
    assert_eq!(
        (a.outcome, a.applied.as_ref().map(|x| x.status)),
        (Some(ItemOutcome::Remove), Some(ApplyStatus::Removed))
    );
    let c = item_of(&results, carol);
    assert_eq!((c.outcome, c.applied), (Some(ItemOutcome::Keep), None), "not reviewed, no change");
    let removal = s.admin.get_request(a.applied_request_id.expect("the removal")).await.expect("request");
    assert_eq!((removal.action, removal.requested_by), (RequestAction::AdminRemove, PrincipalId::SYSTEM));
    let why = removal.justification.expect("justification");
    assert!(why.contains("Weekly prod") && why.contains("left the team"), "{why}");
    let ended = s.admin.get_assignment(elig.id).await.expect("assignment");
    assert_eq!(ended.window.end, Some(T0.plus_millis(4 * DAY_MS)), "ended when the instance was applied");
    let event = s.audited("request.adminRemove").await.into_iter().next().expect("the removal's event");
    assert_eq!(event.actor_name.as_deref(), Some("pim (access review Weekly prod)"));
    assert_eq!(event.actor_id, None);
    assert_eq!(event.details["review"]["instanceId"], serde_json::json!(i0.id));
    assert_eq!(s.audited("review.completed").await.len(), 1);
    assert_eq!(s.audited("review.applied").await.len(), 1);
    assert_eq!(s.notices("review.completed").await[0].recipient, "admin@example.com");
    let told = s.notices("review.accessRemoved").await;
    assert_eq!(told.iter().map(|n| n.recipient.as_str()).collect::<Vec<_>>(), ["alice@example.com"]);
    assert!(told[0].text.contains("left the team") && told[0].request_id == Some(removal.id));
    assert_eq!(s.notices("review.applied").await[0].recipient, "admin@example.com");

    // The next occurrences take new snapshots; after three the review recurs no more.
    s.advance(3 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let i1 = latest(&s, def.id).await;
    assert_eq!((i1.occurrence, i1.start), (1, T0.plus_millis(7 * DAY_MS)));
    let principals: Vec<PrincipalId> = items(&s, i1.id).await.iter().map(|i| i.principal_id).collect();
    assert!(principals.contains(&dave) && principals.contains(&carol) && !principals.contains(&alice));
    for day in [14, 21, 28] {
        s.advance(7 * DAY_MS);
        s.engine.run_jobs_once().await.expect("jobs");
        let all = instances(&s, def.id).await;
        assert!(all[1..].iter().all(|i| i.status == InstanceStatus::Applied), "day {day}");
    }
    let all = instances(&s, def.id).await;
    assert_eq!(all.iter().map(|i| i.occurrence).collect::<Vec<_>>(), [2, 1, 0]);
    assert_eq!(all[0].start, T0.plus_millis(14 * DAY_MS));
    assert_eq!(all[0].status, InstanceStatus::Applied);
    let verify = s.admin.verify_audit().await.expect("verify");
    assert!(verify.ok, "{verify:?}");
}

async fn monthly_reviews_follow_the_calendar_and_skip_missed_occurrences(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut body =
        review("Monthly", &[role::READER], "/", Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] }, 7);
    body.schedule.start = Some(at("2026-01-31T09:00:00Z"));
    body.schedule.recurrence = Recurrence::Monthly;
    body.schedule.end = ReviewEnd::OnDate { at: at("2026-06-15T00:00:00Z") };
    let def = s.admin.create_review(&body).await.expect("create");
    assert!(instances(&s, def.id).await.is_empty(), "not before its start");
    let mut expected = vec![];
    for (when, start) in [
        ("2026-01-31T09:00:00Z", Some("2026-01-31T09:00:00Z")),
        ("2026-02-28T09:00:00Z", Some("2026-02-28T09:00:00Z")),
        ("2026-03-31T09:00:00Z", Some("2026-03-31T09:00:00Z")),
        // April 30's instance ended on May 7 while pim was not running: it is not run late.
        ("2026-05-10T00:00:00Z", None),
        ("2026-05-31T09:00:00Z", Some("2026-05-31T09:00:00Z")),
        // The review ends on June 15: June 30 does not start.
        ("2026-06-30T09:00:00Z", None),
    ] {
        s.advance(at(when).0 - s.engine.now().0);
        s.engine.run_jobs_once().await.expect("jobs");
        if let Some(start) = start {
            expected.push(at(start));
        }
        let mut starts: Vec<Timestamp> = instances(&s, def.id).await.iter().map(|i| i.start).collect();
        starts.reverse();
        assert_eq!(starts, expected, "at {when}");
    }
    let all = instances(&s, def.id).await;
    assert_eq!(all.iter().map(|i| i.occurrence).collect::<Vec<_>>(), [4, 2, 1, 0]);
    assert!(all.iter().all(|i| i.status == InstanceStatus::Completed), "completed, not applied (no autoApply)");
}

/// ann and ian are eligible for Reader at `/`; ann activated it now, ian never did.
async fn active_ann_and_idle_ian(b: &Backend) -> (TestServer, PrincipalId, PrincipalId) {
    let s = TestServer::start(b).await;
    s.without_mfa(role::READER).await;
    let (ann, ann_c) = s.user("ann").await;
    let (ian, _) = s.user("ian").await;
    s.assign(ann, role::READER, "/", ELIG, None).await;
    s.assign(ian, role::READER, "/", ELIG, None).await;
    ann_c.create_request(&activation(role::READER, "/", 30)).await.expect("ann activates");
    (s, ann, ian)
}

async fn unanswered_items_follow_the_reviews_rule(b: Backend) {
    let (s, ann, ian) = active_ann_and_idle_ian(&b).await;

    let mut defs = vec![];
    for rule in [IfNoResponse::TakeRecommendation, IfNoResponse::Remove, IfNoResponse::Approve, IfNoResponse::NoChange]
    {
        let mut body = review(
            &format!("{rule:?}"),
            &[role::READER],
            "/",
            Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] },
            3,
        );
        body.kinds = ReviewedKinds::Eligible;
        body.if_no_response = rule;
        defs.push((rule, s.admin.create_review(&body).await.expect("create")));
    }
    // Too early to apply, then stopped: the outcomes follow the rule.
    let mut ids = vec![];
    for (rule, def) in &defs {
        let i = latest(&s, def.id).await;
        let work = items(&s, i.id).await;
        assert_eq!(work.len(), 2, "eligibilities only, not ann's activation");
        assert_eq!(item_of(&work, ann).recommendation, Verdict::Approve, "ann activated today");
        assert_eq!(item_of(&work, ian).recommendation, Verdict::Deny, "ian never did");
        assert_eq!(code(s.admin.apply_review_instance(i.id).await), "review_not_completed");
        let stopped = s.admin.stop_review_instance(i.id).await.expect("stop");
        assert_eq!(stopped.status, InstanceStatus::Completed);
        let out = items(&s, i.id).await;
        let outcomes = (item_of(&out, ann).outcome.expect("outcome"), item_of(&out, ian).outcome.expect("outcome"));
        let (keep, remove) = (ItemOutcome::Keep, ItemOutcome::Remove);
        let expected = match rule {
            IfNoResponse::NoChange | IfNoResponse::Approve => (keep, keep),
            IfNoResponse::Remove => (remove, remove),
            IfNoResponse::TakeRecommendation => (keep, remove),
        };
        assert_eq!(outcomes, expected, "{rule:?}");
        ids.push(i.id);
    }
    // Take the recommendation: ian goes. Then "remove": ann goes, ian had already gone.
    s.admin.apply_review_instance(ids[0]).await.expect("apply");
    let out = items(&s, ids[0]).await;
    assert_eq!(item_of(&out, ian).applied.expect("applied").status, ApplyStatus::Removed);
    assert!(!s.allowed(ian, "pim.roles.read", "/").await && s.allowed(ann, "pim.roles.read", "/").await);
    let applied = s.admin.apply_review_instance(ids[1]).await.expect("apply");
    assert_eq!((applied.status, applied.counts.expect("counts").removed), (InstanceStatus::Applied, 1));
    let out = items(&s, ids[1]).await;
    assert_eq!(item_of(&out, ann).applied.expect("applied").status, ApplyStatus::Removed);
    assert_eq!(item_of(&out, ian).applied.expect("applied").status, ApplyStatus::AlreadyEnded);
    assert!(!s.allowed(ann, "pim.roles.read", "/").await, "removing the eligibility ended ann's activation too");
    assert_eq!(code(s.admin.apply_review_instance(ids[1]).await), "review_not_completed", "applied once");
    let keep = s.admin.apply_review_instance(ids[3]).await.expect("apply");
    assert_eq!(keep.counts.expect("counts").to_remove, 0);
    let events = s.audited("request.adminRemove").await;
    assert_eq!(events.len(), 2, "one removal each; the manual apply runs as the admin");
    assert!(events.iter().all(|e| e.actor_id == Some(s.admin_id) && e.details["review"].is_object()));
}

async fn reviewers_are_managers_fallbacks_selves_or_groups(b: Backend) {
    let s = TestServer::start(&b).await;
    let (boss, boss_c) = s.user("boss").await;
    let ann = s
        .admin
        .create_user(&CreateUser {
            name: "ann".into(),
            display_name: None,
            email: Some("ann@example.com".into()),
            manager_id: Some(boss),
            password: None,
            emergency_access: None,
        })
        .await
        .expect("ann")
        .id;
    let ann_c = s.client_for(ann).await;
    let (ian, ian_c) = s.user("ian").await;
    let (gina, gina_c) = s.user("gina").await;
    let reviewers = s.group("reviewers").await;
    let ops = s.group("ops").await;
    s.admin.add_member(reviewers, gina).await.expect("member");
    s.admin.add_member(reviewers, ian).await.expect("member");
    for p in [ann, ian, ops] {
        s.assign(p, role::READER, "/r", ELIG, None).await;
    }

    let managers = Reviewers::Managers { fallback: vec![group_ref(reviewers)] };
    let def = s.admin.create_review(&review("By managers", &[role::READER], "/r", managers, 7)).await.expect("create");
    let i = latest(&s, def.id).await;
    let all = items(&s, i.id).await;
    assert_eq!(item_of(&all, ann).reviewers, [user_ref(boss)]);
    assert_eq!(item_of(&all, ian).reviewers, [group_ref(reviewers)], "no manager: the fallback");
    assert_eq!(item_of(&all, ops).reviewers, [group_ref(reviewers)], "groups have no manager");
    let of = |work: Vec<MyReview>| -> Vec<PrincipalId> {
        work.into_iter().flat_map(|w| w.items).map(|i| i.principal_id).collect()
    };
    assert_eq!(of(boss_c.my_reviews().await.expect("mine").items), [ann]);
    let mut gina_sees = of(gina_c.my_reviews().await.expect("mine").items);
    gina_sees.sort();
    let mut expected = vec![ian, ops];
    expected.sort();
    assert_eq!(gina_sees, expected, "through the group");
    assert_eq!(of(ian_c.my_reviews().await.expect("mine").items), [ops], "not ian's own access");
    assert_eq!(code(decide(&ian_c, &item_of(&all, ian), Verdict::Approve, None).await), "not_reviewer");
    assert_eq!(code(decide(&gina_c, &item_of(&all, ann), Verdict::Approve, None).await), "not_reviewer");
    decide(&gina_c, &item_of(&all, ian), Verdict::Approve, None).await.expect("gina decides ian's");
    assert!(of(ann_c.my_reviews().await.expect("mine").items).is_empty());

    let own =
        s.admin.create_review(&review("Self", &[role::READER], "/r", Reviewers::SelfReview, 7)).await.expect("self");
    let all = items(&s, latest(&s, own.id).await.id).await;
    assert_eq!(item_of(&all, ann).reviewers, [user_ref(ann)]);
    assert_eq!(item_of(&all, ops).reviewers, [user_ref(s.admin_id)], "a group's access goes to the review's owner");
    assert_eq!(of(ann_c.my_reviews().await.expect("mine").items), [ann]);
    let d = decide(&ann_c, &item_of(&all, ann), Verdict::Approve, Some("still needed")).await.expect("self-review");
    assert_eq!(d.decision.expect("decision").by, ann);

    // Bulk: the rest of gina's items in the managers' review, by recommendation.
    let bulk = DecideReviewItems { accept_recommendations: true, ..Default::default() };
    let decided = gina_c.decide_review_items(i.id, &bulk).await.expect("bulk").items;
    assert_eq!(decided.iter().map(|i| i.principal_id).collect::<Vec<_>>(), [ops], "only the undecided one");
    assert_eq!(decided[0].decision.as_ref().expect("decided").verdict, decided[0].recommendation);
}

async fn group_membership_reviews_remove_static_and_just_in_time_members(b: Backend) {
    let s = TestServer::start(&b).await;
    let g = s.group("db-admins").await;
    let (sam, _) = s.user("sam").await;
    let (eli, _) = s.user("eli").await;
    let (act, _) = s.user("act").await;
    let gscope = format!("/groups/{g}");
    s.admin.add_member(g, sam).await.expect("static member");
    let eli_member = s.assign(eli, role::GROUP_MEMBER, &gscope, ELIG, None).await;
    s.assign(act, role::GROUP_MEMBER, &gscope, NOW, Some(T0.plus_millis(30 * DAY_MS))).await;
    s.assign(g, role::READER, "/x", NOW, None).await;
    assert!(s.allowed(sam, "pim.roles.read", "/x").await);

    let mut body = review("Members", &[], "/", Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] }, 7);
    body.target = ReviewTarget::GroupMembership { group_id: g };
    let def = s.admin.create_review(&body).await.expect("create");
    let i = latest(&s, def.id).await;
    let all = items(&s, i.id).await;
    assert_eq!(all.len(), 3);
    let static_item = item_of(&all, sam);
    assert_eq!(
        (static_item.assignment_id, static_item.kind, static_item.scope.to_string()),
        (None, NOW, gscope.clone())
    );
    assert_eq!(item_of(&all, eli).assignment_id, Some(eli_member.id));
    decide(&s.admin, &static_item, Verdict::Deny, Some("moved teams")).await.expect("deny sam");
    decide(&s.admin, &item_of(&all, eli), Verdict::Deny, None).await.expect("deny eli");
    decide(&s.admin, &item_of(&all, act), Verdict::Approve, None).await.expect("keep act");
    s.admin.stop_review_instance(i.id).await.expect("stop");
    let applied = s.admin.apply_review_instance(i.id).await.expect("apply");
    assert_eq!(applied.counts.expect("counts").removed, 2);

    let members: Vec<PrincipalId> =
        s.admin.list_members(g).await.expect("members").items.iter().map(|p| p.id).collect();
    assert!(!members.contains(&sam), "the static membership is gone");
    assert!(!s.allowed(sam, "pim.roles.read", "/x").await, "and with it the group's access");
    assert!(s.admin.get_assignment(eli_member.id).await.expect("eli").ended_early_at.is_some());
    assert!(s.allowed(act, "pim.roles.read", "/x").await, "act was approved");
    let event = s.audited("group.removeMember").await.into_iter().next().expect("removal event");
    assert_eq!((event.principal_id, event.actor_id), (Some(sam), Some(s.admin_id)));
    assert_eq!(event.details["review"]["instanceId"], serde_json::json!(i.id));
}

async fn reset_stop_and_results_as_csv(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, _) = s.user("ann").await;
    s.assign(ann, role::READER, "/", ELIG, None).await;
    let mut body =
        review("Quarterly", &[role::READER], "/", Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] }, 14);
    body.schedule.recurrence = Recurrence::Quarterly;
    body.description = Some("who still needs Reader".into());
    let def = s.admin.create_review(&body).await.expect("create");
    let i = latest(&s, def.id).await;
    let item = item_of(&items(&s, i.id).await, ann);
    decide(&s.admin, &item, Verdict::Deny, Some("=HYPERLINK(\"x\")")).await.expect("deny");

    let csv =
        String::from_utf8(s.admin.review_results_file(i.id, ExportFormat::Csv).await.expect("csv")).expect("utf8");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "itemId,principalId,principalName,roleId,roleName,scope,kind,assignmentId,lastActivity,lastUse,recommendation,\
             decision,reason,reviewedBy,reviewedByName,reviewedAt,outcome,applied,appliedMessage,appliedRequestId,reviewers"
        )
    );
    let row = lines.next().expect("a row");
    assert!(row.starts_with(&format!("{},{ann},ann,", item.id)), "{row}");
    assert!(row.contains(",deny,deny,\"'=HYPERLINK(\"\"x\"\")\",") && row.contains(",admin,"), "{row}");
    assert_eq!(lines.next(), None);

    let reset = s.admin.reset_review_instance(i.id).await.expect("reset");
    assert_eq!(reset.counts.expect("counts").not_reviewed, 1);
    assert_eq!(item_of(&items(&s, i.id).await, ann).decision, None);
    assert_eq!(s.audited("review.reset").await[0].details["decisionsCleared"], 1);

    let stopped = s.admin.stop_review(def.id).await.expect("stop");
    assert!(stopped.stopped_at.is_some());
    let completed = s.audited("review.completed").await;
    assert_eq!(
        (completed[0].actor_id, completed[0].details["reason"].as_str()),
        (Some(s.admin_id), Some("stopped with its review"))
    );
    assert_eq!(s.admin.get_review_instance(i.id).await.expect("instance").status, InstanceStatus::Completed);
    assert_eq!(code(s.admin.stop_review(def.id).await), "review_not_in_progress");
    assert_eq!(code(s.admin.reset_review_instance(i.id).await), "review_not_in_progress");
    assert_eq!(code(decide(&s.admin, &item, Verdict::Approve, None).await), "review_not_in_progress");
    s.advance(100 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(instances(&s, def.id).await.len(), 1, "a stopped review recurs no more");
    assert_eq!(
        s.admin.list_reviews().await.expect("list").items[0].description.as_deref(),
        Some("who still needs Reader")
    );
}

async fn decisions_after_the_end_are_refused_before_the_job_runs(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, _) = s.user("ann").await;
    s.assign(ann, role::READER, "/", ELIG, None).await;
    let def = s
        .admin
        .create_review(&review(
            "Short",
            &[role::READER],
            "/",
            Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] },
            1,
        ))
        .await
        .expect("create");
    let i = latest(&s, def.id).await;
    let item = item_of(&items(&s, i.id).await, ann);
    s.advance(DAY_MS);
    assert_eq!(code(decide(&s.admin, &item, Verdict::Deny, None).await), "review_not_in_progress");
    assert!(s.admin.my_reviews().await.expect("mine").items.is_empty());
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(s.admin.get_review_instance(i.id).await.expect("instance").status, InstanceStatus::Completed);
}

async fn only_inactive_principals_are_reviewed_when_asked(b: Backend) {
    let (s, _, ian) = active_ann_and_idle_ian(&b).await;
    s.advance(5 * DAY_MS);
    let mut body =
        review("Idle", &[role::READER], "/", Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] }, 7);
    body.inactive_days = Some(10);
    body.kinds = ReviewedKinds::Eligible;
    let def = s.admin.create_review(&body).await.expect("create");
    let all = items(&s, latest(&s, def.id).await.id).await;
    assert_eq!(all.iter().map(|i| i.principal_id).collect::<Vec<_>>(), [ian], "ann was active 5 days ago");
    body.inactive_days = Some(3);
    body.name = "Idle 3 days".into();
    let def = s.admin.create_review(&body).await.expect("create");
    assert_eq!(items(&s, latest(&s, def.id).await.id).await.len(), 2);
}

async fn applying_keeps_the_last_global_administrator(b: Backend) {
    let s = TestServer::start(&b).await;
    let (sec, sec_c) = s.user("sec").await;
    s.assign(sec, role::SECURITY_ADMINISTRATOR, "/", NOW, None).await;
    let mut body = review(
        "Global admins",
        &[role::GLOBAL_ADMINISTRATOR],
        "/",
        Reviewers::Selected { reviewers: vec![user_ref(sec)] },
        7,
    );
    body.kinds = ReviewedKinds::Active;
    let def = sec_c.create_review(&body).await.expect("a Security Administrator creates it");
    let i = latest(&s, def.id).await;
    let item = item_of(&items(&s, i.id).await, s.admin_id);
    decide(&sec_c, &item, Verdict::Deny, Some("no standing admins")).await.expect("deny");
    sec_c.stop_review_instance(i.id).await.expect("stop");
    let applied = sec_c.apply_review_instance(i.id).await.expect("apply by the review's authority");
    assert_eq!(applied.status, InstanceStatus::Applied);
    let out = item_of(&items(&s, i.id).await, s.admin_id).applied.expect("applied");
    assert_eq!(out.status, ApplyStatus::Refused);
    assert!(out.message.expect("why").contains("Global Administrator"));
    assert!(s.allowed(s.admin_id, "pim.directory.write", "/").await, "the admin keeps the role");
    let refused = s.audited("request.adminRemove").await.into_iter().next().expect("the refusal");
    assert_eq!((refused.error_code.as_deref(), refused.actor_id), (Some("last_global_admin"), Some(sec)));
    // The review's authority removes nothing else: the same Security Administrator cannot.
    let mut remove = CreateRequest::for_assignment(RequestAction::AdminRemove, item.assignment_id.expect("assignment"));
    remove.justification = Some("try".into());
    assert_eq!(code(sec_c.create_request(&remove).await), "forbidden");
    // Removing access through reviews is access management: a Contributor may not.
    let (con, con_c) = s.user("con").await;
    s.assign(con, role::CONTRIBUTOR, "/", NOW, None).await;
    let body = review("Owners", &[role::OWNER], "/", Reviewers::Selected { reviewers: vec![user_ref(con)] }, 7);
    assert_eq!(code(con_c.create_review(&body).await), "forbidden");
    assert!(con_c.get_review(def.id).await.is_ok(), "but may read reviews");
}

async fn names_are_unique_among_reviews_not_stopped(b: Backend) {
    let s = TestServer::start(&b).await;
    let admin = Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] };
    let def =
        s.admin.create_review(&review("Quarterly", &[role::READER], "/", admin.clone(), 7)).await.expect("create");
    let again = review(" quarterly ", &[role::READER], "/x", admin.clone(), 7);
    let r = s.admin.create_review(&again).await;
    assert_eq!(status(s.admin.create_review(&again).await), 409);
    match r {
        Err(ClientError::Api { problem, .. }) => {
            assert_eq!(problem.code, "already_exists");
            assert!(problem.detail.contains("'quarterly'") && problem.detail.contains("not stopped"), "{problem:?}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(s.admin.list_reviews().await.expect("list").items.len(), 1, "nothing was created");
    // Renaming another review to the name is refused the same way.
    let other = s.admin.create_review(&review("Other", &[role::READER], "/", admin.clone(), 7)).await.expect("other");
    let rename = UpdateReview { name: Some("QUARTERLY".into()), ..Default::default() };
    assert_eq!(code(s.admin.update_review(other.id, &rename).await), "already_exists");
    // A stopped review is history: its name is free again.
    s.admin.stop_review(def.id).await.expect("stop");
    s.admin.create_review(&again).await.expect("the name is free once the first is stopped");
}

async fn editing_a_definition_changes_its_future_instances(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, _) = s.user("ann").await;
    let (bob, _) = s.user("bob").await;
    s.assign(ann, role::READER, "/", ELIG, None).await;
    let mut body =
        review("Weekly", &[role::READER], "/", Reviewers::Selected { reviewers: vec![user_ref(s.admin_id)] }, 3);
    body.schedule.recurrence = Recurrence::Weekly;
    let def = s.admin.create_review(&body).await.expect("create");
    let first = latest(&s, def.id).await;
    assert_eq!(first.end.0 - first.start.0, 3 * DAY_MS);

    // Duration, reviewers and description change for the future.
    let edit = UpdateReview {
        description: Some("who still reads".into()),
        reviewers: Some(Reviewers::Selected { reviewers: vec![user_ref(bob)] }),
        schedule: Some(UpdateReviewSchedule { duration_days: Some(5), ..Default::default() }),
        ..Default::default()
    };
    let edited = s.admin.update_review(def.id, &edit).await.expect("edit");
    assert_eq!(
        (edited.schedule.duration_days, edited.description.as_deref(), edited.schedule.start),
        (5, Some("who still reads"), def.schedule.start)
    );
    assert_eq!(s.admin.get_review(def.id).await.expect("get").review, edited);
    let event = s.audited("review.updated").await.into_iter().next().expect("event");
    assert_eq!(
        (
            event.details["from"]["schedule"]["durationDays"].as_u64(),
            event.details["to"]["schedule"]["durationDays"].as_u64()
        ),
        (Some(3), Some(5))
    );
    // The instance in progress keeps its end and its items' reviewers.
    let still = latest(&s, def.id).await;
    assert_eq!((still.id, still.end), (first.id, first.end));
    assert_eq!(item_of(&items(&s, first.id).await, ann).reviewers, vec![user_ref(s.admin_id)]);

    // The next instance follows the new definition.
    s.advance(7 * DAY_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    let next = latest(&s, def.id).await;
    assert_ne!(next.id, first.id);
    assert_eq!((next.start.0 - first.start.0, next.end.0 - next.start.0), (7 * DAY_MS, 5 * DAY_MS));
    assert_eq!(item_of(&items(&s, next.id).await, ann).reviewers, vec![user_ref(bob)]);

    // What would change the meaning of instances that ran is refused, and changes nothing.
    let refused = [
        (
            "start",
            UpdateReview {
                schedule: Some(UpdateReviewSchedule {
                    start: Some(Timestamp(def.schedule.start.0 + DAY_MS)),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "stop it and create a new one",
        ),
        (
            "recurrence",
            UpdateReview {
                schedule: Some(UpdateReviewSchedule { recurrence: Some(Recurrence::Monthly), ..Default::default() }),
                ..Default::default()
            },
            "stop it and create a new one",
        ),
        (
            "target while in progress",
            UpdateReview {
                target: Some(ReviewTarget::Roles { role_ids: vec![role::READER], scope: sp("/other") }),
                ..Default::default()
            },
            "in progress",
        ),
        (
            "duration out of range",
            UpdateReview {
                schedule: Some(UpdateReviewSchedule { duration_days: Some(500), ..Default::default() }),
                ..Default::default()
            },
            "",
        ),
        ("blank name", UpdateReview { name: Some("  ".into()), ..Default::default() }, ""),
    ];
    for (what, edit, message) in refused {
        match s.admin.update_review(def.id, &edit).await {
            Err(ClientError::Api { problem, .. }) => {
                assert_eq!(problem.status, 400, "{what}: {problem:?}");
                assert!(problem.detail.contains(message), "{what}: {problem:?}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    let unknown = UpdateReview {
        reviewers: Some(Reviewers::Selected { reviewers: vec![user_ref(PrincipalId::new())] }),
        ..Default::default()
    };
    assert_eq!(status(s.admin.update_review(def.id, &unknown).await), 404);
    assert_eq!(status(s.admin.update_review(ReviewId::new(), &edit).await), 404);
    // Without pim.reviews.write: 403.
    let (rid, reader) = s.user("reader").await;
    s.assign(rid, role::SECURITY_READER, "/", NOW, None).await;
    assert_eq!(status(reader.update_review(def.id, &edit).await), 403);
    assert_eq!(s.admin.get_review(def.id).await.expect("get").review, edited, "the refusals changed nothing");

    // Once no instance is in progress the target may change; a stopped review may not change.
    s.admin.stop_review_instance(next.id).await.expect("stop the instance");
    let retarget = UpdateReview {
        target: Some(ReviewTarget::Roles { role_ids: vec![role::READER, role::CONTRIBUTOR], scope: sp("/") }),
        ..Default::default()
    };
    s.admin.update_review(def.id, &retarget).await.expect("retarget");
    s.admin.stop_review(def.id).await.expect("stop");
    assert_eq!(code(s.admin.update_review(def.id, &edit).await), "review_not_in_progress");
}

crate::backend_tests!(
    names_are_unique_among_reviews_not_stopped,
    editing_a_definition_changes_its_future_instances,
    weekly_reviews_snapshot_remind_complete_and_apply,
    monthly_reviews_follow_the_calendar_and_skip_missed_occurrences,
    unanswered_items_follow_the_reviews_rule,
    reviewers_are_managers_fallbacks_selves_or_groups,
    group_membership_reviews_remove_static_and_just_in_time_members,
    reset_stop_and_results_as_csv,
    decisions_after_the_end_are_refused_before_the_job_runs,
    only_inactive_principals_are_reviewed_when_asked,
    applying_keeps_the_last_global_administrator,
);
