//! Hostile input to the directory, scopes, roles and settings: invalid scopes wherever a scope is
//! accepted, settings out of range, names and texts out of bounds, short passwords, duplicates.

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, enc, fixture, review_json, run};

/// The invalid scopes of SPEC section 2, and what each must be called in messages.
fn invalid_scopes() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("no leading slash", "a/b".into()),
        ("a '..' segment", "/a/../b".into()),
        ("a '.' segment", "/a/./b".into()),
        ("an empty segment", "/a//b".into()),
        ("a trailing slash", "/a/".into()),
        ("too deep", "/x".repeat(17)),
        ("too long", format!("/{}", vec!["y".repeat(100); 6].join("/"))),
        ("a segment too long", format!("/{}", "z".repeat(129))),
        ("a space", "/a b".into()),
        ("a star", "/a/*".into()),
        ("a non-ASCII letter", "/café".into()),
        ("a backslash", "/a\\b".into()),
    ]
}

/// Invalid scopes in every place a scope is accepted.
async fn invalid_scopes_everywhere(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let ops = fx.ops;
    let mut cases = Vec::new();
    let codes = ["invalid_scope", "invalid_input"];
    for (what, scope) in invalid_scopes() {
        let q = enc(&scope);
        let l = |place: &str| format!("scope with {what} ({scope:.40}) in {place}");
        let json_places: Vec<(&str, &str, Value, Who)> = vec![
            (
                "adminAssign",
                "/api/v1/requests",
                json!({"action": "adminAssign", "principalId": fx.alice, "roleId": ops, "scope": scope, "kind": "eligible", "justification": "j"}),
                Who::Admin,
            ),
            (
                "selfActivate",
                "/api/v1/requests",
                json!({"action": "selfActivate", "roleId": ops, "scope": scope, "durationMinutes": 60, "justification": "j"}),
                Who::Alice,
            ),
            ("a new resource", "/api/v1/resources", json!({"scope": scope, "name": "n", "type": "db"}), Who::Admin),
            (
                "a check",
                "/api/v1/check",
                json!({"principal": "alice", "action": "ops.read", "scope": scope}),
                Who::Admin,
            ),
            (
                "a check about oneself",
                "/api/v1/check",
                json!({"principal": "alice", "action": "ops.read", "scope": scope}),
                Who::Alice,
            ),
            (
                "a review's target",
                "/api/v1/reviews",
                review_json(&fx, json!({"target": {"type": "roles", "roleIds": [ops], "scope": scope}})),
                Who::Admin,
            ),
        ];
        for (place, path, body, who) in json_places {
            cases.push(case(l(place), "POST", path, Body::Json(body), 400, &codes).mentions("scope").by(who));
        }
        let validate = case(
            l("scopes/validate"),
            "POST",
            "/api/v1/scopes/validate",
            Body::Json(json!({"scope": scope})),
            400,
            &["invalid_scope"],
        );
        cases.push(validate.mentions("scope"));
        let settings = format!("/api/v1/roles/{ops}/settings?scope={q}");
        let queries: Vec<(&str, &str, String, Body)> = vec![
            ("GET settings", "GET", settings.clone(), Body::Empty),
            ("PUT settings", "PUT", settings.clone(), Body::Json(json!({"activationMaxMinutes": 60}))),
            ("DELETE settings", "DELETE", settings, Body::Empty),
            ("assignments?scope", "GET", format!("/api/v1/assignments?scope={q}"), Body::Empty),
            ("assignments?under", "GET", format!("/api/v1/assignments?under={q}"), Body::Empty),
            ("resources?under", "GET", format!("/api/v1/resources?under={q}"), Body::Empty),
            ("audit?scope", "GET", format!("/api/v1/audit?scope={q}"), Body::Empty),
            ("audit/export?scope", "GET", format!("/api/v1/audit/export?format=json&scope={q}"), Body::Empty),
        ];
        for (place, m, path, body) in queries {
            // An empty parameter is refused by name (`under` is a scope too).
            let param = place.split_once('?').map_or("scope", |(_, p)| p);
            let mention = if q.is_empty() { param } else { "scope" };
            cases.push(case(l(place), m, &path, body, 400, &codes).mentions(mention));
        }
    }
    // Scopes that parse but are not allowed where they are used.
    cases.push(case(
        "a resource at /",
        "POST",
        "/api/v1/resources",
        Body::Json(json!({"scope": "/", "name": "n", "type": "db"})),
        400,
        &["invalid_scope"],
    ));
    for scope in ["/", "/a", "/groups", "/groups/not-a-uuid", "/groups/x/y"] {
        let body = json!({"action": "adminAssign", "principalId": fx.alice, "roleId": role::GROUP_MEMBER, "scope": scope, "kind": "eligible"});
        cases.push(case(
            format!("group membership at {scope}"),
            "POST",
            "/api/v1/requests",
            Body::Json(body),
            400,
            &["invalid_scope"],
        ));
    }
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn invalid_scopes_are_refused_everywhere(b: Backend) {
    invalid_scopes_everywhere(b, Mode::Regular).await;
}

/// Settings outside their ranges, names and texts out of bounds, short passwords, and duplicates.
async fn settings_names_passwords_and_duplicates(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let (a, ops) = (fx.alice, fx.ops);
    let mut cases = Vec::new();
    let bad = ["invalid_input"];
    let set = ["invalid_settings"];
    let stage = |approvers: Value| json!({"approvers": approvers});
    let alice = json!([{"kind": "user", "id": a}]);
    let recipients =
        |list: Value| json!({"notifications": {"assignedActive": {"admins": {"additionalRecipients": list}}}});
    let settings: Vec<(&str, Value, &[&'static str], Option<&str>)> = vec![
        ("activationMaxMinutes 10", json!({"activationMaxMinutes": 10}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 29", json!({"activationMaxMinutes": 29}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 1441", json!({"activationMaxMinutes": 1441}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes 5000", json!({"activationMaxMinutes": 5000}), &set, Some("activationMaxMinutes")),
        ("activationMaxMinutes -5", json!({"activationMaxMinutes": -5}), &bad, None),
        ("eligibleExpireAfterDays 0", json!({"eligibleExpireAfterDays": 0}), &set, Some("eligibleExpireAfterDays")),
        ("activeExpireAfterDays 36501", json!({"activeExpireAfterDays": 36501}), &set, Some("activeExpireAfterDays")),
        (
            "3 approval stages",
            json!({"requireApprovalToActivate": true,
            "approvalStages": [stage(alice.clone()), stage(alice.clone()), stage(alice.clone())]}),
            &set,
            Some("stages"),
        ),
        ("approval without stages", json!({"requireApprovalToActivate": true}), &set, Some("approv")),
        (
            "a stage without approvers",
            json!({"requireApprovalToActivate": true, "approvalStages": [stage(json!([]))]}),
            &set,
            Some("approver"),
        ),
        (
            "a service principal as approver",
            json!({"approvalStages": [stage(json!([{"kind": "servicePrincipal", "id": fx.robot}]))]}),
            &set,
            Some("service principal"),
        ),
        (
            "requiredApprovals 0",
            json!({"approvalStages": [{"approvers": alice, "requiredApprovals": 0}]}),
            &set,
            Some("requiredApprovals"),
        ),
        (
            "timeoutMinutes 1",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 1}]}),
            &set,
            Some("timeoutMinutes"),
        ),
        (
            "escalation after the timeout",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 60,
            "escalation": {"approvers": alice, "afterMinutes": 60}}]}),
            &set,
            Some("afterMinutes"),
        ),
        (
            "escalation without approvers",
            json!({"approvalStages": [{"approvers": alice, "timeoutMinutes": 60,
            "escalation": {"approvers": [], "afterMinutes": 30}}]}),
            &set,
            Some("escalation"),
        ),
        ("a recipient that is not an address", recipients(json!(["not-an-email"])), &set, Some("not-an-email")),
        ("a recipient without a domain dot", recipients(json!(["ops@localhost"])), &set, Some("ops@localhost")),
        ("a recipient with a space", recipients(json!(["o ps@example.com"])), &set, None),
        ("two addresses in one recipient", recipients(json!(["a@example.com, b@example.com"])), &set, None),
        (
            "51 recipients",
            recipients(json!((0..51).map(|i| format!("r{i}@example.com")).collect::<Vec<_>>())),
            &set,
            Some("50"),
        ),
        ("an unknown setting", json!({"activationMaxMinute": 60}), &bad, Some("activationMaxMinute")),
        ("an unknown notification event", json!({"notifications": {"roleDeleted": {}}}), &bad, None),
        ("an unknown field in a stage", json!({"approvalStages": [{"approvers": alice, "quorum": 2}]}), &bad, None),
    ];
    for (what, body, codes, mention) in settings {
        let mut c = case(
            format!("settings: {what}"),
            "PUT",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fs"),
            Body::Json(body),
            400,
            codes,
        );
        if let Some(m) = mention {
            c = c.mentions(m);
        }
        cases.push(c);
    }
    // Names and texts.
    let long = |n: usize| "n".repeat(n);
    let texts: Vec<(&str, &str, String, Value)> = vec![
        ("empty user name", "POST", "/api/v1/users".into(), json!({"name": ""})),
        ("blank user name", "POST", "/api/v1/users".into(), json!({"name": "   "})),
        ("user name with a space", "POST", "/api/v1/users".into(), json!({"name": "bad name"})),
        ("user name with a slash", "POST", "/api/v1/users".into(), json!({"name": "a/b"})),
        ("user name with markup", "POST", "/api/v1/users".into(), json!({"name": "<script>"})),
        ("user name with an emoji", "POST", "/api/v1/users".into(), json!({"name": "👍"})),
        ("user name of 129 characters", "POST", "/api/v1/users".into(), json!({"name": long(129)})),
        (
            "displayName of 257 characters",
            "POST",
            "/api/v1/users".into(),
            json!({"name": "dn", "displayName": long(257)}),
        ),
        ("displayName with a bell", "POST", "/api/v1/users".into(), json!({"name": "dn", "displayName": "ding\u{7}"})),
        ("email without @", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "not-an-email"})),
        ("email without a domain", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "a@"})),
        ("email with a space", "POST", "/api/v1/users".into(), json!({"name": "em", "email": "a b@example.com"})),
        ("patched email", "PATCH", format!("/api/v1/users/{a}"), json!({"email": "nope"})),
        (
            "patched displayName of 257 characters",
            "PATCH",
            format!("/api/v1/users/{a}"),
            json!({"displayName": long(257)}),
        ),
        ("alice as her own manager", "PATCH", format!("/api/v1/users/{a}"), json!({"managerId": a})),
        ("empty group name", "POST", "/api/v1/groups".into(), json!({"name": ""})),
        (
            "group description of 1025 characters",
            "POST",
            "/api/v1/groups".into(),
            json!({"name": "gd", "description": long(1025)}),
        ),
        (
            "patched group description of 1025 characters",
            "PATCH",
            format!("/api/v1/groups/{}", fx.grp),
            json!({"description": long(1025)}),
        ),
        ("empty service principal name", "POST", "/api/v1/service-principals".into(), json!({"name": ""})),
        ("empty role name", "POST", "/api/v1/roles".into(), json!({"name": "", "permissions": {"actions": ["x.*"]}})),
        ("blank role name", "POST", "/api/v1/roles".into(), json!({"name": "  ", "permissions": {"actions": ["x.*"]}})),
        (
            "role name of 129 characters",
            "POST",
            "/api/v1/roles".into(),
            json!({"name": long(129), "permissions": {"actions": ["x.*"]}}),
        ),
        (
            "role description of 1025 bytes",
            "POST",
            "/api/v1/roles".into(),
            json!({"name": "Described", "description": long(1025), "permissions": {"actions": ["x.*"]}}),
        ),
        ("empty resource name", "POST", "/api/v1/resources".into(), json!({"scope": "/r1", "name": "", "type": "db"})),
        (
            "resource name of 201 characters",
            "POST",
            "/api/v1/resources".into(),
            json!({"scope": "/r1", "name": long(201), "type": "db"}),
        ),
        ("empty resource type", "POST", "/api/v1/resources".into(), json!({"scope": "/r1", "name": "n", "type": ""})),
        ("empty token name", "POST", "/api/v1/tokens".into(), json!({"name": ""})),
        ("blank token name", "POST", "/api/v1/tokens".into(), json!({"name": "  "})),
        ("token name of 101 characters", "POST", "/api/v1/tokens".into(), json!({"name": long(101)})),
        ("a token for a group", "POST", "/api/v1/tokens".into(), json!({"name": "t", "principalId": fx.grp})),
        (
            "a password for a group",
            "POST",
            "/api/v1/service-principals".into(),
            json!({"name": "spw", "password": "password-123"}),
        ),
        ("a password of 5 characters", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": "short"})),
        ("a password of 7 characters", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": "1234567"})),
        (
            "a password of 1025 characters",
            "POST",
            "/api/v1/users".into(),
            json!({"name": "pw", "password": long(1025)}),
        ),
        ("an empty password", "POST", "/api/v1/users".into(), json!({"name": "pw", "password": ""})),
        ("a patched password of 7 characters", "PATCH", format!("/api/v1/users/{a}"), json!({"password": "1234567"})),
        ("a manager for a group", "PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"managerId": a})),
    ];
    for (what, m, path, body) in texts {
        cases.push(case(what, m, &path, Body::Json(body), 400, &bad));
    }
    let justification = |j: Value| json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/j", "kind": "eligible", "justification": j});
    cases.push(
        case(
            "a justification of 2001 bytes",
            "POST",
            "/api/v1/requests",
            Body::Json(justification(json!(long(2001)))),
            400,
            &bad,
        )
        .mentions("justification"),
    );
    cases.push(
        case(
            "a justification with a control character",
            "POST",
            "/api/v1/requests",
            Body::Json(justification(json!("why\u{1b}[31m"))),
            400,
            &bad,
        )
        .mentions("justification"),
    );
    let ticket = |t: Value| json!({"action": "selfActivate", "roleId": ops, "scope": "/a", "durationMinutes": 60, "justification": "j", "ticket": t});
    for t in [
        json!({"system": "", "number": "1"}),
        json!({"system": "jira", "number": "  "}),
        json!({"system": "jira", "number": long(101)}),
        json!({"system": "jira"}),
        json!({"system": "jira", "number": "1", "url": "x"}),
    ] {
        cases.push(
            case(format!("ticket {t:.60}"), "POST", "/api/v1/requests", Body::Json(ticket(t)), 400, &bad)
                .by(Who::Alice),
        );
    }
    // Duplicates and conflicts with the current state.
    let taken = ["name_taken"];
    let conflicts: Vec<(&str, &str, String, Body, &[&'static str])> = vec![
        ("a second alice", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "alice"})), &taken),
        ("ALICE (names ignore case)", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "ALICE"})), &taken),
        ("a group named alice", "POST", "/api/v1/groups".into(), Body::Json(json!({"name": "alice"})), &taken),
        (
            "a service principal named grp",
            "POST",
            "/api/v1/service-principals".into(),
            Body::Json(json!({"name": "GRP"})),
            &taken,
        ),
        ("a user named admin", "POST", "/api/v1/users".into(), Body::Json(json!({"name": "admin"})), &taken),
        (
            "a second Ops role",
            "POST",
            "/api/v1/roles".into(),
            Body::Json(json!({"name": "ops", "permissions": {"actions": ["x.*"]}})),
            &taken,
        ),
        (
            "a role named like a built-in",
            "POST",
            "/api/v1/roles".into(),
            Body::Json(json!({"name": "Global Administrator", "permissions": {"actions": ["*"]}})),
            &taken,
        ),
        (
            "renaming Target to Ops",
            "PUT",
            "/api/v1/roles/Target".into(),
            Body::Json(json!({"name": "Ops", "permissions": {"actions": ["x.*"]}})),
            &taken,
        ),
        (
            "a second resource at /a",
            "POST",
            "/api/v1/resources".into(),
            Body::Json(json!({"scope": "/a", "name": "again", "type": "db"})),
            &["already_exists"],
        ),
        (
            "a duplicate eligibility",
            "POST",
            "/api/v1/requests".into(),
            Body::Json(
                json!({"action": "adminAssign", "principalId": a, "roleId": ops, "scope": "/a", "kind": "eligible"}),
            ),
            &["already_exists"],
        ),
        (
            "alice into grp again",
            "PUT",
            format!("/api/v1/groups/{}/members/{a}", fx.grp),
            Body::Empty,
            &["already_exists"],
        ),
        ("grp into itself", "PUT", format!("/api/v1/groups/{0}/members/{0}", fx.grp), Body::Empty, &["group_cycle"]),
        (
            "a service principal into a group",
            "PUT",
            format!("/api/v1/groups/{}/members/{}", fx.grp, fx.robot),
            Body::Empty,
            &["invalid_input"],
        ),
        (
            "editing a built-in role",
            "PUT",
            "/api/v1/roles/Reader".into(),
            Body::Json(json!({"name": "Reader", "permissions": {"actions": ["*"]}})),
            &["builtin_role_read_only"],
        ),
        (
            "deleting a built-in role",
            "DELETE",
            "/api/v1/roles/Global%20Administrator".into(),
            Body::Empty,
            &["builtin_role_read_only"],
        ),
        ("deleting an assigned role", "DELETE", "/api/v1/roles/Ops".into(), Body::Empty, &["role_in_use"]),
        (
            "a second setup",
            "POST",
            "/api/v1/setup".into(),
            Body::Json(json!({"setupSecret": "s", "username": "x", "password": "password-123"})),
            &["setup_completed"],
        ),
        (
            "disabling the last Global Administrator",
            "PATCH",
            format!("/api/v1/users/{}", s.admin_id),
            Body::Json(json!({"enabled": false})),
            &["last_global_admin"],
        ),
    ];
    for (what, m, path, body, codes) in conflicts {
        let want = if codes == ["invalid_input"] { 400 } else { 409 };
        cases.push(case(what, m, &path, body, want, codes));
    }
    let admin_ga = s
        .admin
        .list_assignments(&AssignmentQuery { principal_id: Some(s.admin_id), ..Default::default() })
        .await
        .expect("admin's assignments")
        .items[0]
        .id;
    cases.push(case(
        "removing the last Global Administrator",
        "POST",
        "/api/v1/requests",
        Body::Json(json!({"action": "adminRemove", "assignmentId": admin_ga})),
        409,
        &["last_global_admin"],
    ));
    cases.push(case(
        "making the last Global Administrator time-bound",
        "POST",
        "/api/v1/requests",
        Body::Json(
            json!({"action": "adminUpdate", "assignmentId": admin_ga, "end": fx.now.plus_millis(DAY_MS).to_rfc3339()}),
        ),
        409,
        &["last_global_admin"],
    ));
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_settings_names_passwords_and_duplicates_are_refused(b: Backend) {
    settings_names_passwords_and_duplicates(b, Mode::Regular).await;
}

crate::backend_tests!(invalid_scopes_are_refused_everywhere, bad_settings_names_passwords_and_duplicates_are_refused);
