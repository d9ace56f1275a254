//! Hostile approval decisions: malformed, on unknown or finished requests, by the wrong people.

use serde_json::json;

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, fixture, run};

/// Decisions that must be refused and change nothing: malformed bodies, unknown and finished
/// requests, the requester deciding, a non-approver, ends an approver may not give, bad bulk lists.
async fn approval_decisions(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let admin_ref = json!([{"kind": "user", "id": s.admin_id}]);
    s.set_settings(fx.ops, "/a", |st| {
        st.require_approval_to_activate = true;
        st.approval_stages = serde_json::from_value(json!([{"approvers": admin_ref}])).expect("stages");
    })
    .await;
    let alice = Client::new(&s.url, Some(fx.alice_token.clone())).expect("client");
    let p = alice.create_request(&activation(fx.ops, "/a", 60)).await.expect("pending").request.id;
    let done = alice.create_request(&activation(fx.ops, "/a/x", 60)).await.expect("pending").request.id;
    let j = DecideRequest { justification: Some("no".into()), end: None };
    s.admin.deny_request(done, &j).await.expect("denied");
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, fx.b_elig);
    ext.justification = Some("more".into());
    let e = alice.create_request(&ext).await.expect("extension").request.id;
    let (_, carl) = s.user("carl").await;
    let carl = Who::Header(format!("Bearer {}", carl.token().expect("token")));
    let u = uuid::Uuid::now_v7();
    let ok = json!({"justification": "fine"});
    let past = fx.now.plus_millis(-DAY_MS).to_rfc3339();
    let before_end = fx.now.plus_millis(3 * DAY_MS).to_rfc3339();
    let bad = ["invalid_input"];
    let mut cases = vec![
        case(
            "approve without a body",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Empty,
            415,
            &["unsupported_media_type"],
        ),
        case(
            "justification a number",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": 5})),
            400,
            &bad,
        ),
        case(
            "unknown field",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": "x", "verdict": "approve"})),
            400,
            &bad,
        ),
        case(
            "an end for an activation",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({"justification": "x", "end": before_end})),
            400,
            &bad,
        )
        .mentions("end"),
        case(
            "no justification",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(json!({})),
            422,
            &["justification_required"],
        ),
        case(
            "the requester approves",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            422,
            &["approval_self_forbidden"],
        )
        .by(Who::Alice),
        case(
            "a non-approver approves",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            403,
            &["not_approver"],
        )
        .by(carl.clone()),
        case(
            "a non-approver denies",
            "POST",
            format!("/api/v1/requests/{p}/deny"),
            Body::Json(ok.clone()),
            403,
            &["not_approver"],
        )
        .by(carl),
        case(
            "no token",
            "POST",
            format!("/api/v1/requests/{p}/approve"),
            Body::Json(ok.clone()),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
        case(
            "approve a denied request",
            "POST",
            format!("/api/v1/requests/{done}/approve"),
            Body::Json(ok.clone()),
            409,
            &["request_not_pending"],
        ),
        case(
            "deny a denied request",
            "POST",
            format!("/api/v1/requests/{done}/deny"),
            Body::Json(ok.clone()),
            409,
            &["request_not_pending"],
        ),
        case(
            "unknown request",
            "POST",
            format!("/api/v1/requests/{u}/approve"),
            Body::Json(ok.clone()),
            404,
            &["not_found"],
        ),
        case("non-UUID request", "POST", "/api/v1/requests/nope/approve", Body::Json(ok.clone()), 400, &bad),
        case(
            "extension: the approver must choose the end",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(ok.clone()),
            400,
            &bad,
        )
        .mentions("end"),
        case(
            "extension: an end in the past",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": past})),
            400,
            &["invalid_window"],
        ),
        case(
            "extension: an end before the current one",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": before_end})),
            400,
            &["invalid_window"],
        ),
        case(
            "extension: an end that is not a time",
            "POST",
            format!("/api/v1/requests/{e}/approve"),
            Body::Json(json!({"justification": "x", "end": "tomorrow"})),
            400,
            &bad,
        ),
        case(
            "bulk: no requests",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": []})),
            400,
            &bad,
        ),
        case(
            "bulk: too many",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": vec![p; 101]})),
            400,
            &bad,
        ),
        case(
            "bulk: twice the same",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "approve", "requestIds": [p, p], "justification": "x"})),
            400,
            &bad,
        ),
        case(
            "bulk: verdict maybe",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "maybe", "requestIds": [p]})),
            400,
            &bad,
        ),
        case(
            "bulk: ids not UUIDs",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "deny", "requestIds": ["x"]})),
            400,
            &bad,
        ),
        case(
            "bulk: no token",
            "POST",
            "/api/v1/approvals",
            Body::Json(json!({"verdict": "deny", "requestIds": [p]})),
            401,
            &["unauthenticated"],
        )
        .by(Who::Nobody),
        case(
            "settings change: unknown",
            "POST",
            format!("/api/v1/settings-changes/{u}/approve"),
            Body::Json(ok.clone()),
            404,
            &["not_found"],
        ),
        case("settings change: non-UUID", "GET", "/api/v1/settings-changes/x", Body::Empty, 400, &bad),
        case("settings changes: bad status", "GET", "/api/v1/settings-changes?status=Maybe", Body::Empty, 400, &bad),
        case(
            "settings change: cancel unknown",
            "POST",
            format!("/api/v1/settings-changes/{u}/cancel"),
            Body::Empty,
            404,
            &["not_found"],
        ),
        case(
            "break-glass review: unknown",
            "POST",
            format!("/api/v1/break-glass-reviews/{u}/complete"),
            Body::Json(json!({"verdict": "appropriate"})),
            404,
            &["not_found"],
        ),
        case(
            "break-glass review: bad verdict",
            "POST",
            format!("/api/v1/break-glass-reviews/{u}/complete"),
            Body::Json(json!({"verdict": "meh"})),
            400,
            &bad,
        ),
        case(
            "break-glass reviews: pending not a bool",
            "GET",
            "/api/v1/break-glass-reviews?pending=often",
            Body::Empty,
            400,
            &bad,
        ),
        case(
            "break-glass not allowed",
            "POST",
            "/api/v1/requests",
            Body::Json(json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60,
                "justification": "x", "breakGlass": true})),
            422,
            &["break_glass_not_allowed"],
        )
        .by(Who::Alice),
    ];
    cases.push(
        case(
            "cancel twice",
            "POST",
            format!("/api/v1/requests/{done}/cancel"),
            Body::Empty,
            409,
            &["request_not_pending"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_approval_decisions_are_refused(b: Backend) {
    approval_decisions(b, Mode::Regular).await;
}

crate::backend_tests!(bad_approval_decisions_are_refused);
