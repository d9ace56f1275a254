//! Hostile input to checks, custom roles and requests: bad action names and patterns, durations
//! out of range, bad windows and times, unknown enum values.

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, NESTED_UNKNOWN, Who, case, enc, fixture, run};

/// Invalid action names and patterns, out-of-range durations, bad windows, bad times, unknown enum values.
async fn actions_durations_windows_times_and_enums(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops, now) = (fx.alice, fx.ops, fx.now);
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    // Action names in checks, patterns in custom roles.
    let long = "a".repeat(201);
    let many = ["a"; 11].join(".");
    for action in
        ["", "a..b", "a b", "*", "ops.*", ".a", "a.", "ops/read", "ops.réad", "a\tb", long.as_str(), many.as_str()]
    {
        let body = json!({"principal": "alice", "action": action, "scope": "/a"});
        cases.push(case(
            format!("check with action {action:.30?}"),
            "POST",
            "/api/v1/check",
            Body::Json(body),
            400,
            &["invalid_action"],
        ));
    }
    let patterns = ["", "a..b", "a b", "ops.**", "*x", "x*", ".a", "a/b", long.as_str(), many.as_str()];
    let codes = ["invalid_action", "invalid_input"];
    for p in patterns {
        let body = json!({"name": "Bad", "permissions": {"actions": [p]}});
        cases.push(case(format!("role with pattern {p:.30?}"), "POST", "/api/v1/roles", Body::Json(body), 400, &codes));
        let body = json!({"name": "Target", "permissions": {"actions": ["t.*"], "notActions": [p]}});
        cases.push(case(
            format!("role update with notAction {p:.30?}"),
            "PUT",
            "/api/v1/roles/Target",
            Body::Json(body),
            400,
            &codes,
        ));
    }
    let hundred_one: Vec<String> = (0..101).map(|i| format!("p{i}.read")).collect();
    cases.push(case(
        "a role with 101 actions",
        "POST",
        "/api/v1/roles",
        Body::Json(json!({"name": "Big", "permissions": {"actions": hundred_one}})),
        400,
        &codes,
    ));
    let nested = json!({"name": "Nested", "permissions": {"actions": ["x.*"], "bogus": true}});
    cases.push(
        case("unknown field inside permissions", "POST", "/api/v1/roles", Body::Json(nested), 400, &bad)
            .bug(NESTED_UNKNOWN),
    );
    let nested = json!({"name": "Target", "permissions": {"actions": ["x.*"], "notaction": ["x.write"]}});
    cases.push(
        case("misspelt notActions inside permissions", "PUT", "/api/v1/roles/Target", Body::Json(nested), 400, &bad)
            .bug(NESTED_UNKNOWN),
    );
    let activate = |minutes: Value| json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": minutes, "justification": "j"});
    // Durations: out of range for the role, or not a u32 at all.
    for m in [0, 1, 29, 481, 1441, 100_000, u32::MAX as i64] {
        let c = case(
            format!("activation of {m} minutes"),
            "POST",
            "/api/v1/requests",
            Body::Json(activate(json!(m))),
            422,
            &["duration_out_of_range"],
        );
        cases.push(c.by(Who::Alice).mentions("minutes"));
    }
    for m in [
        json!(-1),
        json!(99_999_999_999_i64),
        json!(4_294_967_296_i64),
        json!(60.5),
        json!(1e10),
        json!("60"),
        json!(true),
    ] {
        let c =
            case(format!("activation of {m} minutes"), "POST", "/api/v1/requests", Body::Json(activate(m)), 400, &bad);
        cases.push(c.by(Who::Alice));
    }
    for d in [json!(0), json!(366), json!(-1), json!(99_999_999_999_i64), json!("30")] {
        cases.push(case(
            format!("token valid {d} days"),
            "POST",
            "/api/v1/tokens",
            Body::Json(json!({"name": "t", "expiresInDays": d})),
            400,
            &bad,
        ));
    }
    // Windows.
    let t = |ms: i64| now.plus_millis(ms).to_rfc3339();
    let assign = |start: Option<String>, end: Option<String>| {
        let mut v =
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/w", "kind": "eligible"});
        if let Some(s) = start {
            v["start"] = json!(s);
        }
        if let Some(e) = end {
            v["end"] = json!(e);
        }
        v
    };
    let win = ["invalid_window"];
    let windows = vec![
        ("end before start", assign(Some(t(2 * DAY_MS)), Some(t(DAY_MS)))),
        ("end equal to start", assign(Some(t(DAY_MS)), Some(t(DAY_MS)))),
        ("end in the past", assign(None, Some(t(-HOUR_MS)))),
        ("end now", assign(None, Some(t(0)))),
        ("start and end in the past", assign(Some(t(-2 * DAY_MS)), Some(t(-DAY_MS)))),
    ];
    for (what, body) in windows {
        cases.push(
            case(format!("adminAssign with {what}"), "POST", "/api/v1/requests", Body::Json(body), 400, &win)
                .mentions("end"),
        );
    }
    let requests: Vec<(&str, Value, Who, u16, &[&'static str])> = vec![
        (
            "adminExtend to before the current end",
            json!({"action": "adminExtend", "assignmentId": fx.b_elig, "end": t(3 * DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminExtend to the past",
            json!({"action": "adminExtend", "assignmentId": fx.b_elig, "end": t(-DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminExtend of a permanent assignment",
            json!({"action": "adminExtend", "assignmentId": fx.a_elig, "end": t(DAY_MS)}),
            Who::Admin,
            422,
            &["not_extendable"],
        ),
        (
            "adminUpdate with end and permanent",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "end": t(DAY_MS), "permanent": true}),
            Who::Admin,
            400,
            &bad,
        ),
        (
            "adminUpdate with nothing to change",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig}),
            Who::Admin,
            400,
            &bad,
        ),
        (
            "adminUpdate to an end in the past",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "end": t(-DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminUpdate moving the start of an assignment in effect",
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "start": t(DAY_MS)}),
            Who::Admin,
            400,
            &win,
        ),
        (
            "adminRenew of an assignment in effect",
            json!({"action": "adminRenew", "assignmentId": fx.b_elig}),
            Who::Admin,
            422,
            &["not_renewable"],
        ),
        (
            "selfActivate starting an hour ago",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "start": t(-HOUR_MS), "justification": "j"}),
            Who::Alice,
            400,
            &win,
        ),
        (
            "selfActivate starting in year 9999, ending past it",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "start": "9999-12-31T23:30:00Z", "justification": "j"}),
            Who::Alice,
            400,
            &["invalid_input"],
        ),
        (
            "selfActivate where not eligible",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/c", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
            422,
            &["not_eligible"],
        ),
        (
            "selfActivate below a scope one is eligible at, by its parent",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
            422,
            &["not_eligible"],
        ),
        (
            "selfExtend to before the current end",
            json!({"action": "selfExtend", "assignmentId": fx.b_elig, "end": t(3 * DAY_MS), "justification": "j"}),
            Who::Alice,
            400,
            &win,
        ),
        (
            "selfExtend of a permanent assignment",
            json!({"action": "selfExtend", "assignmentId": fx.a_elig, "justification": "j"}),
            Who::Alice,
            422,
            &["not_extendable"],
        ),
        (
            "selfRenew of an assignment in effect",
            json!({"action": "selfRenew", "assignmentId": fx.b_elig, "justification": "j"}),
            Who::Alice,
            422,
            &["not_renewable"],
        ),
        (
            "selfDeactivate of an eligibility",
            json!({"action": "selfDeactivate", "assignmentId": fx.a_elig}),
            Who::Alice,
            403,
            &["forbidden"],
        ),
        (
            "an eligible assignment for a service principal",
            json!({"action": "adminAssign", "principalId": fx.robot, "roleId": ops, "scope": "/sp", "kind": "eligible"}),
            Who::Admin,
            422,
            &["service_principal_active_only"],
        ),
        (
            "a permanent active assignment for a service principal",
            json!({"action": "adminAssign", "principalId": fx.robot, "roleId": ops, "scope": "/sp", "kind": "active", "justification": "j"}),
            Who::Admin,
            422,
            &["service_principal_active_only"],
        ),
        (
            "an active assignment without the justification the settings require",
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/j", "kind": "active"}),
            Who::Admin,
            422,
            &["justification_required"],
        ),
    ];
    for (what, body, who, want, codes) in requests {
        let c = case(what, "POST", "/api/v1/requests", Body::Json(body), want, codes).by(who);
        let past_9999 = "an activation may end after 9999-12-31, a time the API then writes as a bare number \
                         (\"253402302600000\") that no client parses";
        cases.push(if what.contains("9999") { c.bug(past_9999) } else { c });
    }
    // RFC 3339 times.
    for bad_time in [
        json!("2026-01-10"),
        json!("yesterday"),
        json!("2026-13-01T00:00:00Z"),
        json!("2026-01-10T25:00:00Z"),
        json!("2026-01-10T10:00:00"),
        json!("10000-01-01T00:00:00Z"),
        json!(1_767_603_600_000_i64),
        json!(""),
    ] {
        let mut body = assign(None, None);
        body["end"] = bad_time.clone();
        cases.push(case(
            format!("adminAssign ending {bad_time}"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &bad,
        ));
        let body = json!({"principal": "alice", "action": "ops.read", "scope": "/a", "at": bad_time});
        cases.push(case(format!("check at {}", body["at"]), "POST", "/api/v1/check", Body::Json(body), 400, &bad));
    }
    for (k, v) in [("from", "yesterday"), ("to", "2026-13-01T00:00:00Z"), ("from", "1767603600000"), ("to", "")] {
        cases.push(case(
            format!("audit {k}={v}"),
            "GET",
            format!("/api/v1/audit?{k}={}", enc(v)),
            Body::Empty,
            400,
            &bad,
        ));
        cases.push(case(
            format!("export {k}={v}"),
            "GET",
            format!("/api/v1/audit/export?format=csv&{k}={}", enc(v)),
            Body::Empty,
            400,
            &bad,
        ));
    }
    // Enum values.
    let enums: Vec<(&str, &str, String, Body)> = vec![
        ("action selfDestruct", "POST", "/api/v1/requests".into(), Body::Json(json!({"action": "selfDestruct"}))),
        ("action in another case", "POST", "/api/v1/requests".into(), Body::Json(json!({"action": "AdminAssign"}))),
        (
            "kind maybe",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/e", "kind": "maybe"}),
            ),
        ),
        (
            "kind Eligible",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/e", "kind": "Eligible"}),
            ),
        ),
        (
            "approver kind robot",
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fe"),
            Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "robot", "id": a}]}]})),
        ),
        ("assignments kind=maybe", "GET", "/api/v1/assignments?kind=maybe".into(), Body::Empty),
        ("assignments state=bogus", "GET", "/api/v1/assignments?state=bogus".into(), Body::Empty),
        ("requests status=Bogus", "GET", "/api/v1/requests?status=Bogus".into(), Body::Empty),
        ("requests status=pending", "GET", "/api/v1/requests?status=pending".into(), Body::Empty),
        ("requests action=selfDestruct", "GET", "/api/v1/requests?action=selfDestruct".into(), Body::Empty),
        ("requests mine=perhaps", "GET", "/api/v1/requests?mine=perhaps".into(), Body::Empty),
        ("audit outcome=maybe", "GET", "/api/v1/audit?outcome=maybe".into(), Body::Empty),
        ("export format=xml", "GET", "/api/v1/audit/export?format=xml".into(), Body::Empty),
        ("export without a format", "GET", "/api/v1/audit/export".into(), Body::Empty),
        ("notifications status=bogus", "GET", "/api/v1/notifications?status=bogus".into(), Body::Empty),
        ("notifications status=Pending", "GET", "/api/v1/notifications?status=Pending".into(), Body::Empty),
        ("notifications requestId=x", "GET", "/api/v1/notifications?requestId=x".into(), Body::Empty),
        ("notifications empty event", "GET", "/api/v1/notifications?event=".into(), Body::Empty),
        ("notifications event with a NUL", "GET", "/api/v1/notifications?event=a%00b".into(), Body::Empty),
        ("notifications event with a space", "GET", "/api/v1/notifications?event=a%20b".into(), Body::Empty),
    ];
    for (what, m, path, body) in enums {
        cases.push(case(format!("unknown enum value: {what}"), m, &path, body, 400, &bad));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn actions_durations_windows_times_and_enums_are_refused(b: Backend) {
    actions_durations_windows_times_and_enums(b, Mode::Regular).await;
}

crate::backend_tests!(actions_durations_windows_times_and_enums_are_refused);
