//! Hostile input to access reviews: bad definitions and decisions, calls the state does not allow,
//! and unknown fields beside the tag of a unit variant.

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Case, Mode, Who, case, fixture, review_by_admin, review_json, run, start_review};

/// An open server bug: `ReviewEnd` and `Reviewers` are internally tagged enums with
/// `deny_unknown_fields`, which serde does not apply to their unit variants (serde-rs/serde#2123,
/// #2294): `{"type": "never", "count": 3}` and `{"type": "selfReview", "reviewers": [...]}` were
/// accepted, the extra fields silently dropped (a review meant for selected reviewers became a
/// self-review). The domain now reads them through mirrors whose unit variants are empty structs.
const UNIT_VARIANT_UNKNOWN_FIELDS: &str = "unknown fields beside a unit variant's tag (end: never, reviewers: selfReview) \
                                           were ignored, not refused";

/// Access reviews: definitions out of range or naming what does not exist, decisions without a
/// verdict, items or reason, and calls the state of an instance or review does not allow.
async fn bad_review_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (ops, u) = (fx.ops, uuid::Uuid::now_v7());
    // An instance completed, one applied, one past its end that the job has not completed yet, a
    // review stopped, and an instance of another review (whose item is not the fixture's).
    let (_, completed) = start_review(&s, &review_by_admin(&s, "completed", ops, "/a")).await;
    s.admin.stop_review_instance(completed).await.expect("complete");
    let (_, applied) = start_review(&s, &review_by_admin(&s, "applied", ops, "/a")).await;
    s.admin.stop_review_instance(applied).await.expect("complete");
    s.admin.apply_review_instance(applied).await.expect("apply");
    let (stopped, _) = start_review(&s, &review_by_admin(&s, "stopped", ops, "/a")).await;
    s.admin.stop_review(stopped).await.expect("stop");
    let mut short = review_by_admin(&s, "one day", ops, "/a");
    short.schedule.duration_days = 1;
    let (_, past) = start_review(&s, &short).await;
    let (_, other) = start_review(&s, &review_by_admin(&s, "other", ops, "/a")).await;
    let other_item = s.admin.review_results(other).await.expect("results").items[0].id;
    s.advance(DAY_MS + MINUTE_MS);
    let now = s.engine.now();
    let t = |ms: i64| now.plus_millis(ms).to_rfc3339();
    let bad = ["invalid_input"];
    let nf = ["not_found"];
    let mut cases = Vec::new();

    // Definitions.
    let user = |id: PrincipalId| json!({"kind": "user", "id": id});
    let group = |id: PrincipalId| json!({"kind": "group", "id": id});
    let selected = |list: Value| json!({"reviewers": {"type": "selected", "reviewers": list}});
    let roles = |ids: Value| json!({"target": {"type": "roles", "roleIds": ids, "scope": "/n"}});
    let of_group = |id: Value| json!({"target": {"type": "groupMembership", "groupId": id}});
    let schedule = |v: Value| json!({"schedule": v});
    let long = |n: usize| "n".repeat(n);
    let reviewers_101: Vec<Value> = (0..101).map(|_| user(fx.admin)).collect();
    /// What is wrong, the fields set over a good body, the status, the codes, what the detail names.
    type Def<'a> = (&'a str, Value, u16, &'a [&'static str], Option<&'a str>);
    let definitions: Vec<Def> = vec![
        ("an empty name", json!({"name": ""}), 400, &bad, Some("name")),
        ("a blank name", json!({"name": "   "}), 400, &bad, Some("name")),
        ("a name of 201 characters", json!({"name": long(201)}), 400, &bad, Some("name")),
        ("a name with a bell", json!({"name": "q\u{7}"}), 400, &bad, Some("name")),
        ("a description of 1025 bytes", json!({"description": long(1025)}), 400, &bad, Some("description")),
        ("a description with an escape", json!({"description": "a\u{1b}[2J"}), 400, &bad, Some("description")),
        ("no roles", roles(json!([])), 400, &bad, Some("roleIds")),
        ("101 roles", roles(json!(vec![ops; 101])), 400, &bad, Some("roleIds")),
        ("an unknown role", roles(json!([ops, u])), 404, &nf, None),
        ("an unknown group", of_group(json!(u)), 404, &nf, None),
        ("a user as the group", of_group(json!(fx.alice)), 404, &nf, None),
        ("a service principal as the group", of_group(json!(fx.robot)), 404, &nf, None),
        ("no reviewers", selected(json!([])), 400, &bad, Some("reviewers")),
        ("101 reviewers", selected(json!(reviewers_101)), 400, &bad, Some("reviewers")),
        ("an unknown reviewer", selected(json!([user(fx.admin), user(PrincipalId::new())])), 404, &nf, None),
        ("an unknown reviewer group", selected(json!([group(PrincipalId::new())])), 404, &nf, None),
        ("a user given as a group", selected(json!([group(fx.alice)])), 404, &nf, None),
        ("a group given as a user", selected(json!([user(fx.grp)])), 404, &nf, None),
        ("a service principal given as a user", selected(json!([user(fx.robot)])), 404, &nf, None),
        (
            "a service principal as reviewer",
            selected(json!([{"kind": "servicePrincipal", "id": fx.robot}])),
            400,
            &bad,
            Some("service principal"),
        ),
        (
            "no fallback reviewers",
            json!({"reviewers": {"type": "managers", "fallback": []}}),
            400,
            &bad,
            Some("fallback"),
        ),
        (
            "an unknown fallback reviewer",
            json!({"reviewers": {"type": "managers", "fallback": [user(PrincipalId::new())]}}),
            404,
            &nf,
            None,
        ),
        (
            "a group given as a user as fallback",
            json!({"reviewers": {"type": "managers", "fallback": [user(fx.grp)]}}),
            404,
            &nf,
            None,
        ),
        ("durationDays 0", schedule(json!({"durationDays": 0})), 400, &bad, Some("durationDays")),
        ("durationDays 181", schedule(json!({"durationDays": 181})), 400, &bad, Some("durationDays")),
        ("durationDays -1", schedule(json!({"durationDays": -1})), 400, &bad, None),
        ("durationDays 2^32", schedule(json!({"durationDays": 4_294_967_296_i64})), 400, &bad, None),
        (
            "a weekly review of 8 days",
            schedule(json!({"durationDays": 8, "recurrence": "weekly"})),
            400,
            &bad,
            Some("recurrence"),
        ),
        (
            "a monthly review of 29 days",
            schedule(json!({"durationDays": 29, "recurrence": "monthly"})),
            400,
            &bad,
            Some("recurrence"),
        ),
        (
            "end.count 0",
            schedule(
                json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "afterOccurrences", "count": 0}}),
            ),
            400,
            &bad,
            Some("end.count"),
        ),
        (
            "end.at before the start",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "onDate", "at": t(-HOUR_MS)}})),
            400,
            &bad,
            Some("end.at"),
        ),
        (
            "end.at at the start",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "start": t(DAY_MS),
                "end": {"type": "onDate", "at": t(DAY_MS)}})),
            400,
            &bad,
            Some("end.at"),
        ),
        (
            "end.at not a time",
            schedule(json!({"durationDays": 7, "recurrence": "weekly", "end": {"type": "onDate", "at": "someday"}})),
            400,
            &bad,
            None,
        ),
        (
            "a start two days ago",
            schedule(json!({"durationDays": 7, "start": t(-2 * DAY_MS)})),
            400,
            &bad,
            Some("start"),
        ),
        ("a start that is not a time", schedule(json!({"durationDays": 7, "start": "tomorrow"})), 400, &bad, None),
        (
            "a start without a zone",
            schedule(json!({"durationDays": 7, "start": "2026-02-01T10:00:00"})),
            400,
            &bad,
            None,
        ),
        ("inactiveDays 0", json!({"inactiveDays": 0}), 400, &bad, Some("inactiveDays")),
        ("inactiveDays 3651", json!({"inactiveDays": 3651}), 400, &bad, Some("inactiveDays")),
        ("inactiveDays -1", json!({"inactiveDays": -1}), 400, &bad, None),
        // Unknown enum values and fields, wherever they are nested.
        ("recurrence daily", schedule(json!({"durationDays": 1, "recurrence": "daily"})), 400, &bad, None),
        ("recurrence Weekly", schedule(json!({"durationDays": 1, "recurrence": "Weekly"})), 400, &bad, None),
        (
            "end type someday",
            schedule(json!({"durationDays": 1, "recurrence": "weekly", "end": {"type": "someday"}})),
            400,
            &bad,
            None,
        ),
        ("kinds all", json!({"kinds": "all"}), 400, &bad, None),
        ("kinds Eligible", json!({"kinds": "Eligible"}), 400, &bad, None),
        ("ifNoResponse delete", json!({"ifNoResponse": "delete"}), 400, &bad, None),
        ("target type users", json!({"target": {"type": "users", "userIds": [fx.alice]}}), 400, &bad, None),
        ("reviewers type everyone", json!({"reviewers": {"type": "everyone"}}), 400, &bad, None),
        ("reviewer kind robot", selected(json!([{"kind": "robot", "id": fx.robot}])), 400, &bad, None),
        (
            "an unknown field in the target",
            json!({"target": {"type": "roles", "roleIds": [ops], "scope": "/n", "recursive": true}}),
            400,
            &bad,
            Some("recursive"),
        ),
        (
            "an unknown field in the schedule",
            schedule(json!({"durationDays": 7, "every": "week"})),
            400,
            &bad,
            Some("every"),
        ),
        (
            "an unknown field in a reviewer",
            selected(json!([{"kind": "user", "id": fx.admin, "role": "lead"}])),
            400,
            &bad,
            Some("role"),
        ),
        (
            "an unknown field in the managers' reviewers",
            json!({"reviewers": {"type": "managers", "fallback": [user(fx.admin)], "escalation": true}}),
            400,
            &bad,
            Some("escalation"),
        ),
    ];
    for (what, patch, want, codes, mention) in definitions {
        let c = case(
            format!("review with {what}"),
            "POST",
            "/api/v1/reviews",
            Body::Json(review_json(&fx, patch)),
            want,
            codes,
        );
        cases.push(match mention {
            Some(m) => c.mentions(m),
            None => c,
        });
    }

    // Decisions on the fixture's instance (in progress, a reason required, the administrator
    // reviews alice's eligibility).
    let (ri, item) = (fx.instance, fx.item);
    let decisions = |i: ReviewInstanceId| format!("/api/v1/review-instances/{i}/decisions");
    let decision = |i: ReviewInstanceId, it: ReviewItemId| format!("/api/v1/review-instances/{i}/items/{it}/decision");
    let ok_one = json!({"verdict": "approve", "reason": "still needed"});
    let ok_all = json!({"itemIds": [item], "verdict": "approve", "reason": "still needed"});
    /// What is wrong, the path, the body, the status, the codes, what the detail names.
    type Dec<'a> = (&'a str, String, Value, u16, &'a [&'static str], Option<&'a str>);
    let decide: Vec<Dec> = vec![
        (
            "a verdict and acceptRecommendations",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "deny", "acceptRecommendations": true, "reason": "r"}),
            400,
            &bad,
            Some("acceptRecommendations"),
        ),
        (
            "neither a verdict nor acceptRecommendations",
            decisions(ri),
            json!({"itemIds": [item], "reason": "r"}),
            400,
            &bad,
            Some("verdict"),
        ),
        (
            "acceptRecommendations false and no verdict",
            decisions(ri),
            json!({"acceptRecommendations": false, "reason": "r"}),
            400,
            &bad,
            Some("verdict"),
        ),
        (
            "empty itemIds",
            decisions(ri),
            json!({"itemIds": [], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "1001 itemIds",
            decisions(ri),
            json!({"itemIds": vec![item; 1001], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "an item of another instance",
            decisions(ri),
            json!({"itemIds": [item, other_item], "verdict": "deny", "reason": "r"}),
            404,
            &nf,
            None,
        ),
        ("one item of another instance", decision(ri, other_item), ok_one.clone(), 404, &nf, None),
        (
            "verdict maybe",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "maybe", "reason": "r"}),
            400,
            &bad,
            None,
        ),
        ("verdict Approve", decision(ri, item), json!({"verdict": "Approve", "reason": "r"}), 400, &bad, None),
        ("verdict appropriate", decision(ri, item), json!({"verdict": "appropriate", "reason": "r"}), 400, &bad, None),
        (
            "itemIds on the one-item route",
            decision(ri, item),
            json!({"itemIds": [item], "verdict": "deny", "reason": "r"}),
            400,
            &bad,
            Some("itemIds"),
        ),
        (
            "acceptRecommendations on the one-item route",
            decision(ri, item),
            json!({"acceptRecommendations": true, "reason": "r"}),
            400,
            &bad,
            None,
        ),
        ("no reason", decisions(ri), json!({"itemIds": [item], "verdict": "approve"}), 422, &["reason_required"], None),
        ("no reason for all", decisions(ri), json!({"acceptRecommendations": true}), 422, &["reason_required"], None),
        ("no reason for one", decision(ri, item), json!({"verdict": "deny"}), 422, &["reason_required"], None),
        (
            "a blank reason",
            decision(ri, item),
            json!({"verdict": "deny", "reason": "   "}),
            422,
            &["reason_required"],
            None,
        ),
        (
            "a null reason",
            decision(ri, item),
            json!({"verdict": "deny", "reason": null}),
            422,
            &["reason_required"],
            None,
        ),
        (
            "a reason of 2001 bytes",
            decision(ri, item),
            json!({"verdict": "deny", "reason": long(2001)}),
            400,
            &bad,
            Some("reason"),
        ),
        (
            "a reason with an escape",
            decisions(ri),
            json!({"itemIds": [item], "verdict": "deny", "reason": "gone\u{1b}[31m"}),
            400,
            &bad,
            Some("reason"),
        ),
        // States that do not allow it.
        (
            "decisions on a completed instance",
            decisions(completed),
            ok_all.clone(),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "a decision on a completed instance",
            decision(completed, item),
            ok_one.clone(),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "decisions on an applied instance",
            decisions(applied),
            json!({"verdict": "deny", "reason": "r"}),
            409,
            &["review_not_in_progress"],
            None,
        ),
        (
            "decisions on an instance past its end",
            decisions(past),
            json!({"verdict": "deny", "reason": "r"}),
            409,
            &["review_not_in_progress"],
            None,
        ),
    ];
    for (what, path, body, want, codes, mention) in decide {
        let c = case(format!("review decision: {what}"), "POST", path, Body::Json(body), want, codes);
        cases.push(match mention {
            Some(m) => c.mentions(m),
            None => c,
        });
    }
    cases.push(
        case(
            "review decision: alice is not a reviewer",
            "POST",
            decision(ri, item),
            Body::Json(ok_one.clone()),
            403,
            &["not_reviewer"],
        )
        .by(Who::Alice),
    );
    cases.push(
        case(
            "review decisions: no token",
            "POST",
            decisions(ri),
            Body::Json(ok_all.clone()),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
    );
    let action = |verb: &str, i: ReviewInstanceId| format!("/api/v1/review-instances/{i}/{verb}");
    let states: Vec<(&str, String, &[&'static str])> = vec![
        ("apply an instance in progress", action("apply", ri), &["review_not_completed"]),
        ("apply an instance past its end, not completed yet", action("apply", past), &["review_not_completed"]),
        ("apply twice", action("apply", applied), &["review_not_completed"]),
        ("reset a completed instance", action("reset", completed), &["review_not_in_progress"]),
        ("reset an applied instance", action("reset", applied), &["review_not_in_progress"]),
        ("reset an instance past its end", action("reset", past), &["review_not_in_progress"]),
        ("stop a completed instance", action("stop", completed), &["review_not_in_progress"]),
        ("stop an applied instance", action("stop", applied), &["review_not_in_progress"]),
        ("stop an instance past its end", action("stop", past), &["review_not_in_progress"]),
        ("stop a stopped review", format!("/api/v1/reviews/{stopped}/stop"), &["review_not_in_progress"]),
    ];
    for (what, path, codes) in states {
        cases.push(case(format!("review: {what}"), "POST", path, Body::Empty, 409, codes));
    }
    // Results: JSON or CSV, nothing else.
    for q in ["format=xml", "format=CSV", "format=", "format=csv&format=json", "fmt=csv", "limit=10"] {
        cases.push(case(
            format!("review results ?{q}"),
            "GET",
            format!("/api/v1/review-instances/{ri}/items?{q}"),
            Body::Empty,
            400,
            &bad,
        ));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_review_input_is_refused(b: Backend) {
    bad_review_input(b, Mode::Regular).await;
}

/// Unknown fields beside the tag of a unit variant (`ReviewEnd::Never`, `Reviewers::SelfReview`)
/// are refused like unknown fields anywhere else.
async fn unknown_fields_beside_a_unit_variant(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let bad = ["invalid_input"];
    let admin = json!([{"kind": "user", "id": fx.admin}]);
    let cases: Vec<Case> = [
        (
            "an unknown field in end: never",
            json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": {"type": "never", "count": 3}}}),
            "count",
        ),
        (
            "a date in end: never",
            json!({"schedule": {"durationDays": 7, "recurrence": "weekly",
                "end": {"type": "never", "at": fx.now.plus_millis(30 * DAY_MS)}}}),
            "at",
        ),
        ("reviewers beside selfReview", json!({"reviewers": {"type": "selfReview", "reviewers": admin}}), "reviewers"),
    ]
    .into_iter()
    .map(|(what, patch, field)| {
        case(format!("review with {what}"), "POST", "/api/v1/reviews", Body::Json(review_json(&fx, patch)), 400, &bad)
            .mentions(field)
            .bug(UNIT_VARIANT_UNKNOWN_FIELDS)
    })
    .collect();
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

/// See [`UNIT_VARIANT_UNKNOWN_FIELDS`].
async fn review_unknown_fields_beside_a_unit_variant_are_refused(b: Backend) {
    unknown_fields_beside_a_unit_variant(b, Mode::Regular).await;
}

crate::backend_tests!(bad_review_input_is_refused, review_unknown_fields_beside_a_unit_variant_are_refused);
