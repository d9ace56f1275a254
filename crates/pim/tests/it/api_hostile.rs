//! Hostile input to every endpoint: malformed bodies, bad and unknown ids, bad page sizes and
//! cursors, hostile text (NUL bytes), and calls to paths and methods the API does not have. Each
//! gets a 4xx problem+json and changes nothing (a refusal may only add failure audit events).

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, enc, fixture, json_endpoints, raw_json, review_json, run};

/// Array bodies are deserialized into structs positionally (serde's sequence form).
const ARRAY_BODIES: &str = "JSON arrays are accepted as bodies: serde fills struct fields from them by position";

/// Malformed JSON, wrong types, unknown, duplicate and missing fields, wrong media types, oversized
/// and deeply nested bodies, on every endpoint that takes a body.
async fn malformed_bodies(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut cases = Vec::new();
    let big = "x".repeat(1024 * 1024 + 10);
    for (m, path, base) in json_endpoints(&fx) {
        let text = base.to_string();
        let l = |what: &str| format!("{m} {path}: {what}");
        let bad = ["invalid_input"];
        cases.push(case(l("truncated JSON"), m, &path, raw_json(&text[..text.len() - 1]), 400, &bad));
        cases.push(case(l("trailing garbage"), m, &path, raw_json(format!("{text} x")), 400, &bad));
        cases.push(case(l("single quotes"), m, &path, raw_json(text.replace('"', "'")), 400, &bad));
        let empty_array = case(l("an empty array"), m, &path, raw_json("[]"), 400, &bad);
        let all_optional = m == "PATCH" || path.contains("/settings");
        cases.push(if all_optional { empty_array.bug(ARRAY_BODIES) } else { empty_array });
        cases.push(case(l("a string"), m, &path, raw_json("\"hello\""), 400, &bad));
        cases.push(case(l("a number"), m, &path, raw_json("42"), 400, &bad));
        cases.push(case(l("null"), m, &path, raw_json("null"), 400, &bad));
        cases.push(case(l("empty body"), m, &path, raw_json(""), 400, &bad));
        let mut utf8 = text.clone().into_bytes();
        let at = utf8.iter().rposition(|&c| c == b'"').expect("a string") - 1;
        utf8[at] = 0xff;
        cases.push(case(l("invalid UTF-8"), m, &path, Body::Bytes(Some("application/json"), utf8), 400, &bad));
        cases.push(case(l("lone surrogate"), m, &path, raw_json(text.replacen("\":", "\\ud800\":", 1)), 400, &bad));
        let mut unknown = base.clone();
        unknown["bogus"] = json!(1);
        cases.push(case(l("unknown field"), m, &path, Body::Json(unknown), 400, &bad).mentions("bogus"));
        let (k, v) = base.as_object().and_then(|o| o.iter().next()).expect("a field");
        let dup = format!("{{\"{k}\":{v},{}", &text[1..]);
        cases.push(case(l("duplicate field"), m, &path, raw_json(dup), 400, &bad));
        let deep = format!("{{\"{k}\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        cases.push(case(l("5000 levels of nesting"), m, &path, raw_json(deep), 400, &bad));
        let mut typed = base.clone();
        typed[k] = json!({"nested": [1, 2]});
        cases.push(case(l(&format!("object for '{k}'")), m, &path, Body::Json(typed), 400, &bad));
        let media = ["unsupported_media_type"];
        cases.push(case(l("no content type"), m, &path, Body::Bytes(None, text.clone().into_bytes()), 415, &media));
        cases.push(case(
            l("text/plain"),
            m,
            &path,
            Body::Bytes(Some("text/plain"), text.clone().into_bytes()),
            415,
            &media,
        ));
        let form = Body::Bytes(Some("application/x-www-form-urlencoded"), b"name=x".to_vec());
        cases.push(case(l("a form"), m, &path, form, 415, &media));
        let mut huge = base.clone();
        huge[k] = json!(big);
        cases
            .push(case(l("a body over 1 MiB"), m, &path, Body::Json(huge), 413, &["body_too_large"]).mentions("1 MiB"));
    }
    // Wrong types and missing fields, endpoint by endpoint.
    let bad = ["invalid_input"];
    let a = fx.alice;
    let wrong: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/auth/login".into(), json!({"username": 1, "password": "p"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": "t", "expiresInDays": "30"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": ["t"]})),
        ("POST", "/api/v1/users".into(), json!({"name": 123})),
        ("POST", "/api/v1/users".into(), json!({"name": "u", "emergencyAccess": "yes"})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"enabled": "false"})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"enabled": 0})),
        ("PATCH", format!("/api/v1/users/{a}"), json!({"managerId": 5})),
        ("POST", "/api/v1/groups".into(), json!({"name": null})),
        ("PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"enabled": "no"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": 5, "name": "n", "type": "db"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": ["/a"], "name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate".into(), json!({"scope": 5})),
        ("POST", "/api/v1/roles".into(), json!({"name": "R", "permissions": {"actions": "x.*"}})),
        ("POST", "/api/v1/roles".into(), json!({"name": "R", "permissions": ["x.*"]})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"activationMaxMinutes": "60"})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"requireMfaOnActivation": "true"})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fn", fx.ops), json!({"approvalStages": {}})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": "60"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": 5, "durationMinutes": 60}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": 5, "scope": "/a", "durationMinutes": 60}),
        ),
        ("POST", "/api/v1/requests".into(), json!({"action": 1})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "adminUpdate", "assignmentId": fx.b_elig, "permanent": "yes"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60, "ticket": "JIRA-1"}),
        ),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a", "durationMinutes": 60, "validateOnly": "true"}),
        ),
        ("POST", "/api/v1/check".into(), json!({"principal": "alice", "action": 5, "scope": "/a"})),
        (
            "POST",
            "/api/v1/check".into(),
            json!({"principal": "alice", "action": "a.b", "scope": "/a", "at": 1767603600000_i64}),
        ),
    ];
    // Access reviews: the definition (and what is nested in it) and the decisions.
    let decisions = format!("/api/v1/review-instances/{}/decisions", fx.instance);
    let decision = format!("/api/v1/review-instances/{}/items/{}/decision", fx.instance, fx.item);
    let mut wrong = wrong;
    for patch in [
        json!({"name": 5}),
        json!({"name": ["q"]}),
        json!({"description": 1}),
        json!({"target": "roles"}),
        json!({"target": {"type": "roles", "roleIds": fx.ops, "scope": "/n"}}),
        json!({"target": {"type": "roles", "roleIds": [fx.ops], "scope": 5}}),
        json!({"target": {"type": "groupMembership", "groupId": [fx.grp]}}),
        json!({"kinds": 1}),
        json!({"inactiveDays": "30"}),
        json!({"inactiveDays": 1.5}),
        json!({"reviewers": [{"kind": "user", "id": fx.admin}]}),
        json!({"reviewers": {"type": "selected", "reviewers": {"kind": "user", "id": fx.admin}}}),
        json!({"reviewers": {"type": "managers", "fallback": "admin"}}),
        json!({"schedule": 7}),
        json!({"schedule": {"durationDays": "7"}}),
        json!({"schedule": {"durationDays": 7.5}}),
        json!({"schedule": {"durationDays": 7, "start": 1_767_603_600_000_i64}}),
        json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": "never"}}),
        json!({"schedule": {"durationDays": 7, "recurrence": "weekly", "end": {"type": "afterOccurrences", "count": "3"}}}),
        json!({"autoApply": "yes"}),
        json!({"autoApply": 1}),
        json!({"reasonRequired": "false"}),
        json!({"ifNoResponse": true}),
    ] {
        wrong.push(("POST", "/api/v1/reviews".into(), review_json(&fx, patch)));
    }
    for body in [
        json!({"itemIds": fx.item, "verdict": "approve", "reason": "r"}),
        json!({"itemIds": [fx.item], "verdict": true, "reason": "r"}),
        json!({"itemIds": [fx.item], "acceptRecommendations": "yes", "reason": "r"}),
        json!({"itemIds": [fx.item], "verdict": "approve", "reason": 5}),
        json!({"itemIds": [[fx.item]], "verdict": "approve", "reason": "r"}),
    ] {
        wrong.push(("POST", decisions.clone(), body));
    }
    for body in [
        json!({"verdict": 1, "reason": "r"}),
        json!({"verdict": ["approve"]}),
        json!({"verdict": "approve", "reason": []}),
    ] {
        wrong.push(("POST", decision.clone(), body));
    }
    for (m, path, body) in wrong {
        cases.push(case(format!("{m} {path}: wrong type in {body}"), m, &path, Body::Json(body), 400, &bad));
    }
    let missing: Vec<(&str, &str, Value)> = vec![
        ("POST", "/api/v1/setup", json!({"username": "x", "password": "password-123"})),
        ("POST", "/api/v1/auth/login", json!({"username": "admin"})),
        ("POST", "/api/v1/tokens", json!({"expiresInDays": 3})),
        ("POST", "/api/v1/users", json!({})),
        ("POST", "/api/v1/users", json!({"displayName": "No Name"})),
        ("POST", "/api/v1/groups", json!({})),
        ("POST", "/api/v1/service-principals", json!({})),
        ("POST", "/api/v1/resources", json!({"scope": "/n", "name": "n"})),
        ("POST", "/api/v1/resources", json!({"name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate", json!({})),
        ("POST", "/api/v1/roles", json!({"name": "R"})),
        ("POST", "/api/v1/roles", json!({"permissions": {"actions": ["x.*"]}})),
        ("POST", "/api/v1/roles", json!({"name": "R", "permissions": {}})),
        ("PUT", "/api/v1/roles/Target", json!({"name": "Target"})),
        ("POST", "/api/v1/requests", json!({})),
        ("POST", "/api/v1/requests", json!({"roleId": fx.ops, "scope": "/a", "durationMinutes": 60})),
        ("POST", "/api/v1/check", json!({"principal": "alice", "action": "a.b"})),
        ("POST", "/api/v1/check", json!({"action": "a.b", "scope": "/"})),
    ];
    for (m, path, body) in missing {
        cases.push(case(format!("{m} {path}: missing field in {body}"), m, path, Body::Json(body), 400, &bad));
    }
    for (patch, field) in [
        (json!({"name": null}), "name"),
        (json!({"target": null}), "target"),
        (json!({"reviewers": null}), "reviewers"),
        (json!({"schedule": null}), "schedule"),
        (json!({"schedule": {}}), "durationDays"),
        (json!({"schedule": {"durationDays": 7, "end": {"type": "onDate"}}}), "at"),
        (json!({"schedule": {"durationDays": 7, "end": {"type": "afterOccurrences"}}}), "count"),
        (json!({"target": {"type": "roles", "scope": "/n"}}), "roleIds"),
        (json!({"target": {"type": "roles", "roleIds": [fx.ops]}}), "scope"),
        (json!({"target": {"type": "groupMembership"}}), "groupId"),
        (json!({"target": {"roleIds": [fx.ops], "scope": "/n"}}), "type"),
        (json!({"reviewers": {"type": "selected"}}), "reviewers"),
        (json!({"reviewers": {"type": "managers"}}), "fallback"),
        (json!({"reviewers": {"reviewers": [{"kind": "user", "id": fx.admin}]}}), "type"),
        (json!({"reviewers": {"type": "selected", "reviewers": [{"id": fx.admin}]}}), "kind"),
        (json!({"reviewers": {"type": "selected", "reviewers": [{"kind": "user"}]}}), "id"),
    ] {
        let l = format!("POST /api/v1/reviews: without {field} ({patch})");
        cases.push(case(l, "POST", "/api/v1/reviews", Body::Json(review_json(&fx, patch)), 400, &bad).mentions(field));
    }
    cases.push(
        case(
            "POST .../items/{itemId}/decision: without a verdict",
            "POST",
            &decision,
            Body::Json(json!({"reason": "r"})),
            400,
            &bad,
        )
        .mentions("verdict"),
    );
    // Fields a request needs for its action.
    let needs: Vec<(Value, &str)> = vec![
        (json!({"action": "adminAssign", "roleId": fx.ops, "scope": "/n", "kind": "eligible"}), "principalId"),
        (json!({"action": "adminAssign", "principalId": a, "scope": "/n", "kind": "eligible"}), "roleId"),
        (json!({"action": "adminAssign", "principalId": a, "roleId": fx.ops, "kind": "eligible"}), "scope"),
        (json!({"action": "adminAssign", "principalId": a, "roleId": fx.ops, "scope": "/n"}), "kind"),
        (json!({"action": "adminUpdate", "end": fx.now.plus_millis(DAY_MS)}), "assignmentId"),
        (json!({"action": "adminRemove"}), "assignmentId"),
        (json!({"action": "adminExtend", "assignmentId": fx.b_elig}), "end"),
        (json!({"action": "adminRenew"}), "assignmentId"),
        (json!({"action": "selfExtend"}), "assignmentId"),
        (json!({"action": "selfRenew"}), "assignmentId"),
        (json!({"action": "selfDeactivate"}), "assignmentId"),
    ];
    for (body, field) in needs {
        let l = format!("POST /api/v1/requests: {} without {field}", body["action"]);
        cases.push(case(l, "POST", "/api/v1/requests", Body::Json(body), 400, &bad).mentions(field));
    }
    for (body, field) in [
        (json!({"action": "selfActivate", "scope": "/a", "durationMinutes": 60}), "roleId"),
        (json!({"action": "selfActivate", "roleId": fx.ops, "durationMinutes": 60}), "scope"),
        (json!({"action": "selfActivate", "roleId": fx.ops, "scope": "/a"}), "durationMinutes"),
    ] {
        let l = format!("POST /api/v1/requests: selfActivate without {field}");
        cases.push(case(l, "POST", "/api/v1/requests", Body::Json(body), 400, &bad).mentions(field).by(Who::Alice));
    }
    // Positional bodies: arrays filled into the fields in declaration order.
    let positional: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/users".into(), json!(["mallory"])),
        ("POST", "/api/v1/groups".into(), json!(["gang"])),
        ("POST", "/api/v1/service-principals".into(), json!(["bot2"])),
        ("POST", "/api/v1/resources".into(), json!(["/positional", "n", "db"])),
        ("POST", "/api/v1/roles".into(), json!(["Positional", null, {"actions": ["p.*"]}])),
        ("POST", "/api/v1/tokens".into(), json!(["positional"])),
        ("POST", "/api/v1/scopes/validate".into(), json!(["/a"])),
        ("POST", "/api/v1/check".into(), json!(["alice", "ops.read", "/a"])),
        ("POST", "/api/v1/auth/login".into(), json!(["admin", "admin-password-123"])),
        ("PATCH", format!("/api/v1/users/{a}"), json!(["Renamed"])),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fpos", fx.ops), json!([60, false])),
        (
            "POST",
            "/api/v1/requests".into(),
            json!(["adminAssign", a, fx.ops, "/positional", "eligible", null, null, null, null, null, "j"]),
        ),
    ];
    for (m, path, body) in positional {
        let l = format!("{m} {path}: positional array {body}");
        cases.push(case(l, m, &path, Body::Json(body), 400, &bad).bug(ARRAY_BODIES));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn malformed_bodies_are_refused(b: Backend) {
    malformed_bodies(b, Mode::Regular).await;
}

/// Non-UUID ids (400), unknown ids (404) on every `{id}` route, and unknown ids inside bodies and queries.
async fn bad_ids(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, g, r, ops) = (fx.alice, fx.grp, fx.robot, fx.ops);
    let u = uuid::Uuid::now_v7();
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let nf = ["not_found"];
    let name = json!({"displayName": "x"});
    let (ri, item) = (fx.instance, fx.item);
    let decide_all = json!({"verdict": "approve", "reason": "r"});
    let decide_one = json!({"itemIds": [item], "verdict": "approve", "reason": "r"});
    for id in ["not-a-uuid", "123", "01234567-89ab", "01a202ab-c693-71fd-a6d7-0e530eef9e3g", &"f".repeat(5000)] {
        let id = enc(id);
        let routes: Vec<(&str, String, Body)> = vec![
            ("GET", format!("/api/v1/users/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/users/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/groups/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/groups/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/groups/{id}/members"), Body::Empty),
            ("PUT", format!("/api/v1/groups/{id}/members/{a}"), Body::Empty),
            ("PUT", format!("/api/v1/groups/{g}/members/{id}"), Body::Empty),
            ("DELETE", format!("/api/v1/groups/{id}/members/{a}"), Body::Empty),
            ("DELETE", format!("/api/v1/groups/{g}/members/{id}"), Body::Empty),
            ("GET", format!("/api/v1/service-principals/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/service-principals/{id}"), Body::Json(name.clone())),
            ("GET", format!("/api/v1/resources/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/resources/{id}"), Body::Json(json!({"name": "x"}))),
            ("DELETE", format!("/api/v1/resources/{id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments/{id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments/{id}/activity"), Body::Empty),
            ("GET", format!("/api/v1/requests/{id}"), Body::Empty),
            ("POST", format!("/api/v1/requests/{id}/cancel"), Body::Empty),
            ("DELETE", format!("/api/v1/tokens/{id}"), Body::Empty),
            ("GET", format!("/api/v1/tokens?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/assignments?roleId={id}"), Body::Empty),
            ("GET", format!("/api/v1/requests?principalId={id}"), Body::Empty),
            ("GET", format!("/api/v1/settings?roleId={id}"), Body::Empty),
            ("GET", format!("/api/v1/reviews/{id}"), Body::Empty),
            ("PATCH", format!("/api/v1/reviews/{id}"), Body::Json(json!({"description": "x"}))),
            ("POST", format!("/api/v1/reviews/{id}/stop"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}/items"), Body::Empty),
            ("GET", format!("/api/v1/review-instances/{id}/items?format=csv"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/reset"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/stop"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/apply"), Body::Empty),
            ("POST", format!("/api/v1/review-instances/{id}/decisions"), Body::Json(decide_all.clone())),
            ("POST", format!("/api/v1/review-instances/{id}/items/{item}/decision"), Body::Json(decide_all.clone())),
            ("POST", format!("/api/v1/review-instances/{ri}/items/{id}/decision"), Body::Json(decide_all.clone())),
        ];
        for (m, path, body) in routes {
            cases.push(case(format!("non-UUID id in {m} {path}"), m, &path, body, 400, &bad));
        }
    }
    for (field, body) in [
        (
            "principalId",
            json!({"action": "adminAssign", "principalId": "x", "roleId": ops, "scope": "/n", "kind": "active"}),
        ),
        (
            "roleId",
            json!({"action": "adminAssign", "principalId": a, "roleId": "Ops", "scope": "/n", "kind": "active"}),
        ),
        ("assignmentId", json!({"action": "adminRemove", "assignmentId": "x"})),
    ] {
        cases.push(case(
            format!("non-UUID {field} in a request"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &bad,
        ));
    }
    for (what, body) in [
        ("roleIds", review_json(&fx, json!({"target": {"type": "roles", "roleIds": ["Ops"], "scope": "/n"}}))),
        ("groupId", review_json(&fx, json!({"target": {"type": "groupMembership", "groupId": "grp"}}))),
        (
            "reviewer id",
            review_json(
                &fx,
                json!({"reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": "admin"}]}}),
            ),
        ),
        (
            "fallback reviewer id",
            review_json(&fx, json!({"reviewers": {"type": "managers", "fallback": [{"kind": "group", "id": "x"}]}})),
        ),
    ] {
        cases.push(case(
            format!("non-UUID {what} in a review"),
            "POST",
            "/api/v1/reviews",
            Body::Json(body),
            400,
            &bad,
        ));
    }
    for ids in [json!(["x"]), json!([item, "01234567-89ab"])] {
        cases.push(case(
            format!("non-UUID itemIds {ids}"),
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": ids, "verdict": "deny", "reason": "r"})),
            400,
            &bad,
        ));
    }
    cases.push(case(
        "non-UUID principalId for a token",
        "POST",
        "/api/v1/tokens",
        Body::Json(json!({"name": "t", "principalId": "x"})),
        400,
        &bad,
    ));
    cases.push(case(
        "non-UUID managerId",
        "POST",
        "/api/v1/users",
        Body::Json(json!({"name": "m1", "managerId": "boss"})),
        400,
        &bad,
    ));
    cases.push(case(
        "non-UUID approver",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "user", "id": "x"}]}]})),
        400,
        &bad,
    ));
    // Unknown but well-formed ids and names: 404 on every route that takes one.
    let routes: Vec<(&str, String, Body)> = vec![
        ("GET", format!("/api/v1/principals/{u}"), Body::Empty),
        ("GET", "/api/v1/principals/nobody".into(), Body::Empty),
        ("GET", format!("/api/v1/users/{u}"), Body::Empty),
        ("GET", format!("/api/v1/users/{g}"), Body::Empty),
        ("PATCH", format!("/api/v1/users/{u}"), Body::Json(name.clone())),
        ("PATCH", format!("/api/v1/users/{r}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/groups/{u}"), Body::Empty),
        ("GET", format!("/api/v1/groups/{a}"), Body::Empty),
        ("PATCH", format!("/api/v1/groups/{u}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/groups/{u}/members"), Body::Empty),
        ("GET", format!("/api/v1/groups/{a}/members"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{u}/members/{a}"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{a}/members/{a}"), Body::Empty),
        ("PUT", format!("/api/v1/groups/{g}/members/{u}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{u}/members/{a}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{g}/members/{u}"), Body::Empty),
        ("DELETE", format!("/api/v1/groups/{g}/members/{r}"), Body::Empty),
        ("GET", format!("/api/v1/service-principals/{u}"), Body::Empty),
        ("GET", format!("/api/v1/service-principals/{a}"), Body::Empty),
        ("PATCH", format!("/api/v1/service-principals/{u}"), Body::Json(name.clone())),
        ("GET", format!("/api/v1/resources/{u}"), Body::Empty),
        ("GET", format!("/api/v1/roles/{u}"), Body::Empty),
        ("GET", "/api/v1/roles/NoSuchRole".into(), Body::Empty),
        ("PUT", format!("/api/v1/roles/{u}"), Body::Json(json!({"name": "X", "permissions": {"actions": ["x.*"]}}))),
        ("DELETE", format!("/api/v1/roles/{u}"), Body::Empty),
        ("DELETE", "/api/v1/roles/NoSuchRole".into(), Body::Empty),
        ("GET", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Empty),
        ("PUT", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Json(json!({"activationMaxMinutes": 60}))),
        ("DELETE", format!("/api/v1/roles/{u}/settings?scope=%2Fa"), Body::Empty),
        ("DELETE", format!("/api/v1/roles/{ops}/settings?scope=%2Fnothing%2Fhere"), Body::Empty),
        ("GET", format!("/api/v1/assignments/{u}"), Body::Empty),
        ("GET", format!("/api/v1/requests/{u}"), Body::Empty),
        ("POST", format!("/api/v1/requests/{u}/cancel"), Body::Empty),
        ("DELETE", format!("/api/v1/tokens/{u}"), Body::Empty),
        ("GET", "/api/v1/audit?actor=nobody".into(), Body::Empty),
        ("GET", "/api/v1/audit?principal=nobody".into(), Body::Empty),
        ("GET", "/api/v1/audit?role=NoSuchRole".into(), Body::Empty),
        ("GET", "/api/v1/audit/export?format=csv&role=NoSuchRole".into(), Body::Empty),
        ("GET", format!("/api/v1/reviews/{u}"), Body::Empty),
        ("GET", format!("/api/v1/reviews/{ri}"), Body::Empty),
        ("POST", format!("/api/v1/reviews/{u}/stop"), Body::Empty),
        ("POST", format!("/api/v1/reviews/{ri}/stop"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{}", fx.review), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}/items"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{u}/items?format=csv"), Body::Empty),
        ("GET", format!("/api/v1/review-instances/{}/items", fx.review), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/reset"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/stop"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{}/stop", fx.review), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/apply"), Body::Empty),
        ("POST", format!("/api/v1/review-instances/{u}/decisions"), Body::Json(decide_one.clone())),
        ("POST", format!("/api/v1/review-instances/{u}/decisions"), Body::Json(decide_all.clone())),
        (
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": [u], "verdict": "deny", "reason": "r"})),
        ),
        (
            "POST",
            format!("/api/v1/review-instances/{ri}/decisions"),
            Body::Json(json!({"itemIds": [item, u], "verdict": "deny", "reason": "r"})),
        ),
        ("POST", format!("/api/v1/review-instances/{u}/items/{item}/decision"), Body::Json(decide_all.clone())),
        ("POST", format!("/api/v1/review-instances/{ri}/items/{u}/decision"), Body::Json(decide_all.clone())),
        ("POST", format!("/api/v1/review-instances/{ri}/items/{ri}/decision"), Body::Json(decide_all.clone())),
    ];
    for (m, path, body) in routes {
        cases.push(case(format!("unknown id in {m} {path}"), m, &path, body, 404, &nf));
    }
    let in_body: Vec<(&str, &str, Value, Who)> = vec![
        (
            "unknown principal to assign",
            "/api/v1/requests",
            json!({"action": "adminAssign", "principalId": u, "roleId": ops, "scope": "/n", "kind": "eligible"}),
            Who::Admin,
        ),
        (
            "unknown role to assign",
            "/api/v1/requests",
            json!({"action": "adminAssign", "principalId": a, "roleId": u, "scope": "/n", "kind": "eligible"}),
            Who::Admin,
        ),
        (
            "unknown assignment to update",
            "/api/v1/requests",
            json!({"action": "adminUpdate", "assignmentId": u, "permanent": true}),
            Who::Admin,
        ),
        (
            "unknown assignment to remove",
            "/api/v1/requests",
            json!({"action": "adminRemove", "assignmentId": u}),
            Who::Admin,
        ),
        (
            "unknown assignment to extend",
            "/api/v1/requests",
            json!({"action": "adminExtend", "assignmentId": u, "end": fx.now.plus_millis(DAY_MS)}),
            Who::Admin,
        ),
        (
            "unknown assignment to renew",
            "/api/v1/requests",
            json!({"action": "adminRenew", "assignmentId": u}),
            Who::Admin,
        ),
        (
            "unknown role to activate",
            "/api/v1/requests",
            json!({"action": "selfActivate", "roleId": u, "scope": "/a", "durationMinutes": 60, "justification": "j"}),
            Who::Alice,
        ),
        (
            "unknown assignment to deactivate",
            "/api/v1/requests",
            json!({"action": "selfDeactivate", "assignmentId": u}),
            Who::Alice,
        ),
        (
            "unknown assignment to extend",
            "/api/v1/requests",
            json!({"action": "selfExtend", "assignmentId": u, "justification": "j"}),
            Who::Alice,
        ),
        ("unknown principal for a token", "/api/v1/tokens", json!({"name": "t", "principalId": u}), Who::Admin),
        ("unknown manager", "/api/v1/users", json!({"name": "managed", "managerId": u}), Who::Admin),
        ("a group as manager", "/api/v1/users", json!({"name": "managed", "managerId": g}), Who::Admin),
        (
            "unknown principal name to check",
            "/api/v1/check",
            json!({"principal": "nobody", "action": "a.b", "scope": "/"}),
            Who::Admin,
        ),
    ];
    for (label, path, body, who) in in_body {
        cases.push(case(label, "POST", path, Body::Json(body), 404, &nf).by(who));
    }
    let check = json!({"principal": u, "action": "a.b", "scope": "/"});
    let why = "a check about an unknown principal id answers 200 {allowed: false}; an unknown name answers 404";
    cases.push(case("unknown principal id to check", "POST", "/api/v1/check", Body::Json(check), 404, &nf).bug(why));
    cases.push(case(
        "unknown manager in a PATCH",
        "PATCH",
        format!("/api/v1/users/{a}"),
        Body::Json(json!({"managerId": u})),
        404,
        &nf,
    ));
    cases.push(case(
        "unknown approver",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "user", "id": u}]}]})),
        400,
        &["invalid_settings"],
    ));
    cases.push(case(
        "an approver of the wrong kind",
        "PUT",
        format!("/api/v1/roles/{ops}/settings?scope=%2Fn"),
        Body::Json(json!({"approvalStages": [{"approvers": [{"kind": "group", "id": a}]}]})),
        400,
        &["invalid_settings"],
    ));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_ids_are_refused(b: Backend) {
    bad_ids(b, Mode::Regular).await;
}

/// Page sizes outside 1-1000 and cursors this server did not issue, on every list.
async fn limits_and_cursors(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let lists = [
        "/api/v1/users?",
        "/api/v1/groups?",
        "/api/v1/service-principals?",
        "/api/v1/resources?",
        "/api/v1/assignments?",
        "/api/v1/requests?",
        "/api/v1/audit?",
        "/api/v1/notifications?",
        "/api/v1/me/audit?",
    ];
    for list in lists {
        for limit in ["0", "1001", "-1", "x", "99999999999", "1.5", ""] {
            let path = format!("{list}limit={limit}");
            cases.push(
                case(format!("limit={limit:?} on {list}"), "GET", &path, Body::Empty, 400, &bad).mentions("limit"),
            );
        }
        // "!!!" is not base64; "_w" decodes to a byte that is not UTF-8; "Zm9v" is "foo" and "MTIz" is
        // "123", neither an id (audit pages by sequence number, where "123" is a position, and resources
        // by scope, where any text is one).
        let cursors: &[&str] = if list.contains("resources") {
            &["!!!", "_w", "%2F%2F"]
        } else if list.contains("audit") {
            &["!!!", "_w", "Zm9v", "%2F%2F"]
        } else {
            &["!!!", "_w", "Zm9v", "MTIz", "%2F%2F"]
        };
        for cursor in cursors {
            let path = format!("{list}cursor={cursor}");
            cases.push(
                case(format!("cursor={cursor} on {list}"), "GET", &path, Body::Empty, 400, &bad).mentions("cursor"),
            );
        }
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_limits_and_cursors_are_refused(b: Backend) {
    limits_and_cursors(b, Mode::Regular).await;
}

/// NUL bytes and other hostile text reach the database layer only if validated; none may cause a 5xx.
const NUL_TEXT: &str = "text with a NUL byte reaches the database unvalidated (a 500 on PostgreSQL)";

async fn hostile_text(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops) = (fx.alice, fx.ops);
    let nul = "a\u{0}b";
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    let is_pg = matches!(b, Backend::Postgres(_));
    // Validated before anything is stored: refused on both backends.
    let refused: Vec<(&str, &str, String, Value)> = vec![
        ("user name", "POST", "/api/v1/users".into(), json!({"name": nul})),
        ("displayName", "PATCH", format!("/api/v1/users/{a}"), json!({"displayName": nul})),
        ("email", "POST", "/api/v1/users".into(), json!({"name": "nul-mail", "email": "a\u{0}@example.com"})),
        ("group description", "POST", "/api/v1/groups".into(), json!({"name": "nul-group", "description": nul})),
        ("role name", "POST", "/api/v1/roles".into(), json!({"name": nul, "permissions": {"actions": ["x.*"]}})),
        ("resource name", "POST", "/api/v1/resources".into(), json!({"scope": "/nul", "name": nul, "type": "db"})),
        ("scope", "POST", "/api/v1/resources".into(), json!({"scope": "/a\u{0}b", "name": "n", "type": "db"})),
        ("review name", "POST", "/api/v1/reviews".into(), review_json(&fx, json!({"name": nul}))),
        ("review description", "POST", "/api/v1/reviews".into(), review_json(&fx, json!({"description": nul}))),
        (
            "reviewer's reason",
            "POST",
            format!("/api/v1/review-instances/{}/decisions", fx.instance),
            json!({"itemIds": [fx.item], "verdict": "deny", "reason": nul}),
        ),
        (
            "recipient",
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fnul"),
            json!({"notifications": {"assignedActive": {"admins": {"additionalRecipients": ["a\u{0}@example.com"]}}}}),
        ),
    ];
    for (what, m, path, body) in refused {
        // NUL never gets past the body parser, whatever field it is in.
        let codes: &[&'static str] = if what == "scope" { &["invalid_input", "invalid_scope"] } else { &bad };
        cases.push(case(format!("NUL in a {what}"), m, &path, Body::Json(body), 400, codes));
    }
    // The action is refused (400) but the refusal's audit event carries the raw text.
    let in_audit: Vec<(&str, Value, Who)> = vec![
        (
            "justification",
            json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/n", "kind": "eligible", "justification": nul}),
            Who::Admin,
        ),
        (
            "ticket",
            json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "justification": "j",
            "ticket": {"system": nul, "number": "1"}}),
            Who::Alice,
        ),
    ];
    for (what, body, who) in in_audit {
        let c = case(format!("NUL in a {what}"), "POST", "/api/v1/requests", Body::Json(body), 400, &bad).by(who);
        cases.push(if is_pg { c.bug(NUL_TEXT) } else { c });
    }
    // Never looked up: a NUL in a body, path or query (or a cursor decoding to one) is refused first.
    type Lookup<'a> = (&'a str, &'a str, String, Body, u16, &'a [&'static str]);
    let lookups: Vec<Lookup> = vec![
        (
            "sign-in name",
            "POST",
            "/api/v1/auth/login".into(),
            Body::Json(json!({"username": nul, "password": "password-123"})),
            400,
            &bad,
        ),
        ("principal name", "GET", "/api/v1/principals/a%00b".into(), Body::Empty, 400, &bad),
        ("role name", "GET", "/api/v1/roles/a%00b".into(), Body::Empty, 400, &bad),
        ("role name to delete", "DELETE", "/api/v1/roles/a%00b".into(), Body::Empty, 400, &bad),
        ("user name prefix", "GET", "/api/v1/users?q=a%00".into(), Body::Empty, 400, &bad),
        ("audit action prefix", "GET", "/api/v1/audit?action=a%00".into(), Body::Empty, 400, &bad),
        ("resource cursor", "GET", "/api/v1/resources?cursor=AA".into(), Body::Empty, 400, &bad),
    ];
    for (what, m, path, body, want, codes) in lookups {
        let c = case(format!("NUL in a {what}"), m, &path, body, want, codes);
        cases.push(if is_pg { c.bug(NUL_TEXT) } else { c });
    }
    // Stored as they are: refused on both backends (a token name is shown in lists like any name).
    cases.push(
        case("NUL in a token name", "POST", "/api/v1/tokens", Body::Json(json!({"name": nul})), 400, &bad)
            .bug(NUL_TEXT),
    );
    cases.push(
        case(
            "a control character in a token name",
            "POST",
            "/api/v1/tokens",
            Body::Json(json!({"name": "tok\u{1b}[2J"})),
            400,
            &bad,
        )
        .bug("token names are not checked for control characters, unlike every other name"),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn hostile_text_never_causes_a_5xx(b: Backend) {
    hostile_text(b, Mode::Regular).await;
}

/// Paths and methods the API does not have still answer with a problem document.
async fn unrouted_calls_answer_with_problems(b: Backend) {
    unrouted(b, Mode::Regular).await;
}

async fn unrouted(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let why = "unknown paths and unsupported methods answer with an empty body, not application/problem+json";
    let cases = vec![
        case("an unknown path", "GET", "/api/v1/nothing-here", Body::Empty, 404, &[]).bug(why),
        case("an unknown version", "GET", "/api/v2/users", Body::Empty, 404, &[]).bug(why),
        case("DELETE on a collection", "DELETE", "/api/v1/users", Body::Empty, 405, &[]).bug(why),
        case("PUT on requests", "PUT", "/api/v1/requests", Body::Json(json!({})), 405, &[]).bug(why),
    ];
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

crate::backend_tests!(
    malformed_bodies_are_refused,
    bad_ids_are_refused,
    bad_limits_and_cursors_are_refused,
    hostile_text_never_causes_a_5xx,
    unrouted_calls_answer_with_problems,
);
