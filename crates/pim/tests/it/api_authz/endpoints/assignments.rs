//! Assignments and requests, checks, the audit history, MFA, notifications and alerts.

use serde_json::json;

use super::{Ep, Need, ep, req, t};
use crate::api_authz::grants::*;
use crate::api_authz::world::{RowFx, World};
use crate::harness::prelude::*;

pub(super) fn rows(w: &World, r: &RowFx, now: Timestamp) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let ops = w.ops;
    vec![
        // Assignments and requests.
        ep("GET", "/api/v1/assignments", "", "/api/v1/assignments?limit=1000", None, Sees(ASSIGNMENTS_READ), 200)
            .sentinel(w.a_assignment),
        ep(
            "GET",
            "/api/v1/assignments/{id}",
            "",
            format!("/api/v1/assignments/{}", w.a_assignment),
            None,
            Act(ASSIGNMENTS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/requests",
            "adminAssign",
            "/api/v1/requests",
            req(json!({"action": "adminAssign", "principalId": w.victim, "roleId": ops,
                "scope": format!("/t{i}"), "kind": "eligible", "justification": "onboarding"})),
            Act(ASSIGNMENTS_WRITE),
            201,
        )
        .write(),
        Ep {
            validate_only: true,
            ..ep(
                "POST",
                "/api/v1/requests",
                "adminAssign validateOnly",
                "/api/v1/requests",
                req(json!({"action": "adminAssign", "principalId": w.victim, "roleId": ops,
                    "scope": format!("/tv{i}"), "kind": "eligible", "validateOnly": true})),
                Act(ASSIGNMENTS_WRITE),
                200,
            )
        },
        ep(
            "POST",
            "/api/v1/requests",
            "adminUpdate",
            "/api/v1/requests",
            req(json!({"action": "adminUpdate", "assignmentId": r.v_update, "end": t(now.plus_millis(40 * DAY_MS))})),
            Act(ASSIGNMENTS_WRITE),
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "adminRemove",
            "/api/v1/requests",
            req(json!({"action": "adminRemove", "assignmentId": r.v_remove})),
            Act(ASSIGNMENTS_WRITE),
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "adminExtend",
            "/api/v1/requests",
            req(json!({"action": "adminExtend", "assignmentId": r.v_extend, "end": t(now.plus_millis(20 * DAY_MS))})),
            Act(ASSIGNMENTS_WRITE),
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "adminRenew",
            "/api/v1/requests",
            req(json!({"action": "adminRenew", "assignmentId": r.v_renew, "end": t(now.plus_millis(30 * DAY_MS))})),
            Act(ASSIGNMENTS_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/requests", "", "/api/v1/requests?limit=1000", None, Sees(REQUESTS_READ), 200)
            .sentinel(w.a_request),
        ep(
            "GET",
            "/api/v1/requests/{id}",
            "other's",
            format!("/api/v1/requests/{}", w.a_request),
            None,
            Act(REQUESTS_READ),
            200,
        ),
        // Check about others, audit.
        ep(
            "POST",
            "/api/v1/check",
            "other",
            "/api/v1/check",
            req(json!({"principal": w.victim, "action": "ops.db.read", "scope": "/a"})),
            Act(CHECK_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/check/batch",
            "other",
            "/api/v1/check/batch",
            req(json!({"checks": [{"principal": w.victim, "action": "ops.db.read", "scope": "/a"}]})),
            Act(CHECK_READ),
            200,
        ),
        ep("GET", "/api/v1/audit", "", "/api/v1/audit", None, Act(AUDIT_READ), 200),
        ep("GET", "/api/v1/audit/export", "", "/api/v1/audit/export?format=json", None, Act(AUDIT_READ), 200),
        ep("POST", "/api/v1/audit/verify", "", "/api/v1/audit/verify", None, Act(AUDIT_READ), 200),
        // MFA: one's own (in this order: confirm the pending authenticator, which makes the session
        // fresh, enroll a replacement, pass MFA, new recovery codes), then an administrator's reset.
        ep("GET", "/api/v1/me/mfa", "", "/api/v1/me/mfa", None, SignedIn, 200),
        ep("GET", "/api/v1/me/audit", "", "/api/v1/me/audit", None, SignedIn, 200),
        ep("GET", "/api/v1/reports/access", "", "/api/v1/reports/access", None, Act(REPORTS_READ), 200),
        ep("GET", "/api/v1/reports/activations", "", "/api/v1/reports/activations", None, Act(REPORTS_READ), 200),
        ep(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            "",
            "/api/v1/me/mfa/totp/confirm",
            req(json!({"code": r.mfa_confirm})),
            SignedIn,
            200,
        )
        .write(),
        ep("POST", "/api/v1/me/mfa/totp", "", "/api/v1/me/mfa/totp", None, SignedIn, 201).write(),
        ep("POST", "/api/v1/auth/mfa", "", "/api/v1/auth/mfa", req(json!({"code": r.mfa_verify})), SignedIn, 200)
            .write(),
        ep("POST", "/api/v1/me/mfa/recovery-codes", "", "/api/v1/me/mfa/recovery-codes", None, SignedIn, 200).write(),
        ep(
            "DELETE",
            "/api/v1/users/{id}/mfa",
            "",
            format!("/api/v1/users/{}/mfa", r.uid),
            None,
            Act(DIRECTORY_WRITE),
            204,
        )
        .write(),
        // Connectors (none is configured here: the list is empty, and reconciling names none).
        ep(
            "GET",
            "/api/v1/assignments/{id}/provisioning",
            "",
            format!("/api/v1/assignments/{}/provisioning", w.a_assignment),
            None,
            Act(ASSIGNMENTS_READ),
            200,
        ),
        ep(
            "GET",
            "/api/v1/principals/{idOrName}/provisioning",
            "other",
            "/api/v1/principals/victim/provisioning",
            None,
            Act(ASSIGNMENTS_READ),
            200,
        ),
        // What was done under an assignment: read like the assignment itself.
        ep(
            "GET",
            "/api/v1/assignments/{id}/activity",
            "",
            format!("/api/v1/assignments/{}/activity", w.a_assignment),
            None,
            Act(ASSIGNMENTS_READ),
            200,
        ),
        // Only a registered system (pim.activity.report) reports what a principal did.
        ep(
            "POST",
            "/api/v1/activity",
            "",
            "/api/v1/activity",
            req(json!({"events": [{"principal": "victim", "at": t(now), "action": "sql.select", "target": "orders"}]})),
            Act(ACTIVITY_REPORT),
            201,
        )
        .write(),
        ep("GET", "/api/v1/connectors", "", "/api/v1/connectors", None, Act(ASSIGNMENTS_READ), 200),
        ep(
            "POST",
            "/api/v1/connectors/{name}/reconcile",
            "",
            "/api/v1/connectors/prod-db/reconcile",
            None,
            Act(ASSIGNMENTS_WRITE),
            404,
        )
        .write(),
        // Delivery status of notifications.
        ep("GET", "/api/v1/notifications", "", "/api/v1/notifications", None, Act(NOTIFICATIONS_READ), 200),
        // Security alerts.
        ep("GET", "/api/v1/alert-rules", "", "/api/v1/alert-rules", None, Act(ALERTS_READ), 200),
        ep(
            "PUT",
            "/api/v1/alert-rules/{id}",
            "",
            "/api/v1/alert-rules/staleAccounts",
            req(json!({"enabled": true})),
            Act(ALERTS_WRITE),
            200,
        )
        .write(),
        ep("GET", "/api/v1/alerts", "", "/api/v1/alerts", None, Act(ALERTS_READ), 200),
        ep("POST", "/api/v1/alerts/evaluate", "", "/api/v1/alerts/evaluate", None, Act(ALERTS_WRITE), 200).write(),
        ep("GET", "/api/v1/alerts/{id}", "", format!("/api/v1/alerts/{}", w.alert), None, Act(ALERTS_READ), 200),
        ep(
            "POST",
            "/api/v1/alerts/{id}/dismiss",
            "own row's",
            format!("/api/v1/alerts/{}/dismiss", r.alert),
            req(json!({"reason": "known"})),
            Act(ALERTS_WRITE),
            200,
        )
        .write(),
        // Not remediable: an authorized caller gets past authorization to a 400.
        ep(
            "POST",
            "/api/v1/alerts/{id}/remediate",
            "not remediable",
            format!("/api/v1/alerts/{}/remediate", w.alert),
            None,
            Act(ALERTS_WRITE),
            400,
        ),
    ]
}
