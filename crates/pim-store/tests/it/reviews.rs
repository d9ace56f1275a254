//! Access reviews: definitions, instances and items round-trip, with their JSON fields.

use super::*;
use pim_domain::approval::Verdict;
use pim_domain::review::*;
use pim_domain::settings::ApproverRef;
use pim_domain::{ReviewId, ReviewInstanceId, ReviewItemId};
use pim_store::StoreError;
use pim_store::q;

both!(reviews_round_trip, |db| {
    let mut c = db.conn().await;
    let admin = user("admin");
    let bob = user("bob");
    let team = group("team");
    for p in [&admin, &bob, &team] {
        add(&mut c, p).await;
    }
    let def = ReviewDefinition {
        id: ReviewId::new(),
        name: "Quarterly admins".into(),
        description: Some("who still needs it".into()),
        target: ReviewTarget::Roles { role_ids: vec![pim_domain::role::OWNER], scope: scope("/a") },
        kinds: ReviewedKinds::Eligible,
        inactive_days: Some(30),
        reviewers: Reviewers::Managers { fallback: vec![ApproverRef { kind: PrincipalKind::Group, id: team.id }] },
        schedule: ReviewSchedule {
            start: t(1_000),
            recurrence: Recurrence::Quarterly,
            duration_days: 14,
            end: ReviewEnd::AfterOccurrences { count: 4 },
        },
        auto_apply: true,
        if_no_response: IfNoResponse::TakeRecommendation,
        reason_required: true,
        created_by: admin.id,
        created_at: t(500),
        stopped_at: None,
    };
    q::insert_review(&mut c, &def).await.unwrap();
    assert_eq!(q::get_review(&mut c, def.id).await.unwrap().as_ref(), Some(&def));
    assert_eq!(q::list_reviews(&mut c, true).await.unwrap(), vec![def.clone()]);

    let mut inst = ReviewInstance {
        id: ReviewInstanceId::new(),
        review_id: def.id,
        occurrence: 0,
        start: t(1_000),
        end: t(2_000),
        status: InstanceStatus::InProgress,
        reminded_at: None,
        completed_at: None,
        applied_at: None,
        review_name: None,
        counts: None,
    };
    q::insert_instance(&mut c, &inst).await.unwrap();
    let again = ReviewInstance { id: ReviewInstanceId::new(), ..inst.clone() };
    let err = q::insert_instance(&mut c, &again).await.unwrap_err();
    assert!(matches!(err, StoreError::Unique(_)), "one instance per occurrence: {err:?}");
    inst.status = InstanceStatus::Completed;
    inst.reminded_at = Some(t(1_500));
    inst.completed_at = Some(t(2_000));
    q::update_instance(&mut c, &inst).await.unwrap();
    assert_eq!(q::get_instance(&mut c, inst.id).await.unwrap().as_ref(), Some(&inst));
    assert_eq!(q::list_instances(&mut c, Some(def.id), None).await.unwrap(), vec![inst.clone()]);
    assert!(q::list_instances(&mut c, None, Some(InstanceStatus::InProgress)).await.unwrap().is_empty());

    let mut item = ReviewItem {
        id: ReviewItemId::new(),
        instance_id: inst.id,
        assignment_id: None,
        principal_id: bob.id,
        role_id: pim_domain::role::OWNER,
        scope: scope("/a/b"),
        kind: AssignmentKind::Eligible,
        last_activity: None,
        last_use: Some(t(1_200)),
        recommendation: Verdict::Deny,
        reviewers: vec![ApproverRef { kind: PrincipalKind::User, id: admin.id }],
        decision: None,
        outcome: None,
        applied_request_id: None,
        applied: None,
        principal_name: None,
        role_name: None,
    };
    q::insert_item(&mut c, &item).await.unwrap();
    item.decision =
        Some(ItemDecision { verdict: Verdict::Approve, reason: Some("on call".into()), by: admin.id, at: t(1_200) });
    item.outcome = Some(ItemOutcome::Keep);
    q::update_item(&mut c, &item).await.unwrap();
    assert_eq!(q::get_item(&mut c, item.id).await.unwrap().as_ref(), Some(&item));
    assert_eq!(q::list_items(&mut c, inst.id).await.unwrap(), vec![item.clone()]);
    assert_eq!(q::latest_occurrence(&mut c, def.id).await.unwrap(), Some(0));
    assert_eq!(q::latest_occurrence(&mut c, ReviewId::new()).await.unwrap(), None);

    item.outcome = Some(ItemOutcome::Remove);
    item.applied = Some(ItemApplied { status: ApplyStatus::Refused, message: Some("last admin".into()), at: t(2_100) });
    q::update_item(&mut c, &item).await.unwrap();
    assert_eq!(q::get_item(&mut c, item.id).await.unwrap().as_ref(), Some(&item), "the applied record");
    assert_eq!(q::clear_decisions(&mut c, inst.id).await.unwrap(), 1);
    assert_eq!(q::get_item(&mut c, item.id).await.unwrap().unwrap().decision, None);
    assert_eq!(q::clear_decisions(&mut c, inst.id).await.unwrap(), 0);

    assert!(q::stop_review(&mut c, def.id, t(3_000)).await.unwrap());
    assert!(!q::stop_review(&mut c, def.id, t(4_000)).await.unwrap(), "stopped once");
    assert!(q::list_reviews(&mut c, true).await.unwrap().is_empty());
    assert_eq!(q::list_reviews(&mut c, false).await.unwrap()[0].stopped_at, Some(t(3_000)));
});
