//! Hostile input to alerts and alert rules.

use serde_json::{Value, json};

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, Who, case, fixture, run};

/// Alerts and alert rules: unknown ids, bad thresholds, bad states, dismissing without a reason or
/// twice, remediating what has no fix.
async fn bad_alert_input(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let item = |d: &str| AlertItem { detail: d.into(), ..Default::default() };
    let active = s.engine.report_external_access("hr", vec![item("x")]).await.expect("report").expect("alert").id;
    let resolved = s.engine.report_external_access("crm", vec![item("y")]).await.expect("report").expect("alert").id;
    s.engine.report_external_access("crm", vec![]).await.expect("report");
    let unknown = AlertId::new();
    let bad = ["invalid_input"];
    let rule = |what: &str, id: &str, body: Value, want: u16, codes: &[&'static str]| {
        case(
            format!("PUT /alert-rules/{id}: {what}"),
            "PUT",
            format!("/api/v1/alert-rules/{id}"),
            Body::Json(body),
            want,
            codes,
        )
    };
    let dismiss = |what: &str, id: AlertId, body: Value, want: u16, codes: &[&'static str]| {
        case(
            format!("POST /alerts/{{id}}/dismiss: {what}"),
            "POST",
            format!("/api/v1/alerts/{id}/dismiss"),
            Body::Json(body),
            want,
            codes,
        )
    };
    let mut cases = vec![
        rule("an unknown rule", "noSuchRule", json!({"enabled": false}), 404, &["not_found"]).mentions("noSuchRule"),
        rule("a zero count", "frequentActivations", json!({"thresholds": {"activations": 0}}), 400, &bad)
            .mentions("activations"),
        rule("a huge window", "frequentActivations", json!({"thresholds": {"windowMinutes": 1_000_000}}), 400, &bad)
            .mentions("windowMinutes"),
        rule("a negative percent", "tooManyGlobalAdmins", json!({"thresholds": {"percent": -1}}), 400, &bad)
            .mentions("percent"),
        rule("over 100 %", "tooManyGlobalAdmins", json!({"thresholds": {"percent": 101}}), 400, &bad),
        rule("another rule's threshold", "frequentActivations", json!({"thresholds": {"days": 5}}), 400, &bad)
            .mentions("days"),
        rule("a threshold of a rule without any", "rolesWithoutMfa", json!({"thresholds": {"count": 1}}), 400, &bad)
            .mentions("no thresholds"),
        rule("a string threshold", "staleAccounts", json!({"thresholds": {"days": "30"}}), 400, &[]),
        rule("a fractional threshold", "staleAccounts", json!({"thresholds": {"days": 1.5}}), 400, &[]),
        rule("an unknown severity", "staleAccounts", json!({"severity": "critical"}), 400, &[]),
        rule("a string flag", "staleAccounts", json!({"enabled": "yes"}), 400, &[]),
        rule("an unknown field", "staleAccounts", json!({"threshold": {"days": 3}}), 400, &[]).mentions("threshold"),
        case("GET /alerts: an unknown state", "GET", "/api/v1/alerts?state=open", Body::Empty, 400, &[]),
        case("GET /alerts: a capitalized state", "GET", "/api/v1/alerts?state=Active", Body::Empty, 400, &[]),
        case("GET /alerts: an unknown parameter", "GET", "/api/v1/alerts?status=active", Body::Empty, 400, &[]),
        case("GET /alerts/{id}: not a UUID", "GET", "/api/v1/alerts/not-a-uuid", Body::Empty, 400, &[]),
        case("GET /alerts/{id}: unknown", "GET", format!("/api/v1/alerts/{unknown}"), Body::Empty, 404, &["not_found"]),
        dismiss("an unknown alert", unknown, json!({"reason": "r"}), 404, &["not_found"]),
        dismiss("no reason", active, json!({}), 400, &[]).mentions("reason"),
        dismiss("a blank reason", active, json!({"reason": "   "}), 400, &bad).mentions("reason"),
        dismiss("an unknown field", active, json!({"reason": "r", "why": "x"}), 400, &[]).mentions("why"),
        dismiss("a resolved alert", resolved, json!({"reason": "r"}), 409, &["alert_not_active"]),
        case(
            "POST /alerts/{id}/remediate: unknown",
            "POST",
            format!("/api/v1/alerts/{unknown}/remediate"),
            Body::Empty,
            404,
            &["not_found"],
        ),
        case(
            "POST /alerts/{id}/remediate: no fix",
            "POST",
            format!("/api/v1/alerts/{active}/remediate"),
            Body::Empty,
            400,
            &bad,
        )
        .mentions("no automatic fix"),
        case(
            "POST /alerts/{id}/remediate: resolved",
            "POST",
            format!("/api/v1/alerts/{resolved}/remediate"),
            Body::Empty,
            409,
            &["alert_not_active"],
        ),
    ];
    cases.push(
        case(
            "PUT /alert-rules/{id}: by someone without pim.alerts.write",
            "PUT",
            "/api/v1/alert-rules/staleAccounts",
            Body::Json(json!({"enabled": false})),
            403,
            &["forbidden"],
        )
        .by(Who::Alice),
    );
    run(&s, &fx, mode, cases).await;
    s.stop().await;
}

async fn bad_alert_input_is_refused(b: Backend) {
    bad_alert_input(b, Mode::Regular).await;
}

crate::backend_tests!(bad_alert_input_is_refused);
