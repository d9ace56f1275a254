//! Public routes, the caller's own session, tokens and requests, approvals and others' tokens.

use serde_json::json;

use super::{Ep, Need, Tok, ep, req, t};
use crate::api_authz::grants::*;
use crate::api_authz::world::{RowFx, World};
use crate::harness::prelude::*;

pub(super) fn rows(w: &World, r: &RowFx, now: Timestamp) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let ops = w.ops;
    vec![
        // Health, documents and setup: public.
        ep("GET", "/healthz", "", "/healthz", None, Public, 200),
        ep("GET", "/readyz", "", "/readyz", None, Public, 200),
        ep("GET", "/metrics", "", "/metrics", None, Public, 200),
        ep("GET", "/api/v1/openapi.json", "", "/api/v1/openapi.json", None, Public, 200),
        ep("GET", "/api/v1/setup", "", "/api/v1/setup", None, Public, 200),
        // Makes the CA key on first need: a write, as far as snapshots go.
        ep("GET", "/api/v1/ssh/ca.pub", "", "/api/v1/ssh/ca.pub", None, Public, 200).write(),
        ep(
            "POST",
            "/api/v1/setup",
            "after setup",
            "/api/v1/setup",
            req(json!({"setupSecret": "guess", "username": format!("late{i}"), "password": "password-123"})),
            Public,
            409,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/auth/login",
            "",
            "/api/v1/auth/login",
            req(json!({"username": "loginuser", "password": "login-password-1"})),
            Public,
            200,
        ),
        // OpenID Connect sign-in: public (no provider is configured here, so a name is unknown).
        ep("GET", "/api/v1/auth/oidc", "", "/api/v1/auth/oidc", None, Public, 200),
        ep(
            "POST",
            "/api/v1/auth/oidc/{name}/start",
            "unknown provider",
            "/api/v1/auth/oidc/corp/start",
            req(json!({"redirectUri": "http://127.0.0.1:9/callback", "binding": "0".repeat(64)})),
            Public,
            404,
        ),
        ep(
            "POST",
            "/api/v1/auth/oidc/{name}/finish",
            "unknown provider",
            "/api/v1/auth/oidc/corp/finish",
            req(json!({"state": "s", "code": "c", "bindingSecret": "x"})),
            Public,
            404,
        ),
        ep(
            "POST",
            "/api/v1/auth/oidc/{name}/device",
            "unknown provider",
            "/api/v1/auth/oidc/corp/device",
            req(json!({"binding": "0".repeat(64)})),
            Public,
            404,
        ),
        ep(
            "POST",
            "/api/v1/auth/oidc/{name}/device/poll",
            "unknown provider",
            "/api/v1/auth/oidc/corp/device/poll",
            req(json!({"handle": "h", "bindingSecret": "x"})),
            Public,
            404,
        ),
        ep(
            "POST",
            "/api/v1/scopes/validate",
            "",
            "/api/v1/scopes/validate",
            req(json!({"scope": "/a/b"})),
            SignedIn,
            200,
        ),
        // Oneself.
        Ep { tok: Tok::Logout, ..ep("POST", "/api/v1/auth/logout", "", "/api/v1/auth/logout", None, SignedIn, 204) },
        ep("GET", "/api/v1/me", "", "/api/v1/me", None, SignedIn, 200),
        ep("GET", "/api/v1/tokens", "own", "/api/v1/tokens", None, SignedIn, 200),
        ep("POST", "/api/v1/tokens", "own", "/api/v1/tokens", req(json!({"name": format!("mine{i}")})), SignedIn, 201)
            .write(),
        ep("DELETE", "/api/v1/tokens/{id}", "own", format!("/api/v1/tokens/{}", r.own_token), None, SignedIn, 204)
            .write(),
        ep(
            "GET",
            "/api/v1/principals/{idOrName}",
            "self",
            format!("/api/v1/principals/{}", r.uname),
            None,
            SignedIn,
            200,
        ),
        ep(
            "GET",
            "/api/v1/principals/{idOrName}/provisioning",
            "self",
            format!("/api/v1/principals/{}/provisioning", r.uname),
            None,
            SignedIn,
            200,
        ),
        ep("GET", "/api/v1/me/provisioning", "", "/api/v1/me/provisioning", None, SignedIn, 200),
        // Any signed-in principal may ask for a certificate of its own key; no row's role has SSH
        // principals, so past authentication every row gets the same 422.
        ep(
            "POST",
            "/api/v1/ssh/certificates",
            "",
            "/api/v1/ssh/certificates",
            req(json!({"publicKey": crate::hostile::SSH_PUBLIC_KEY})),
            SignedIn,
            422,
        ),
        // Nothing is waiting (no connector is configured): past authentication, a 404 for everyone.
        ep(
            "POST",
            "/api/v1/connectors/{name}/credential",
            "",
            "/api/v1/connectors/prod-db/credential",
            None,
            SignedIn,
            404,
        ),
        ep("GET", "/api/v1/roles/{idOrName}", "", "/api/v1/roles/Ops", None, SignedIn, 200),
        ep(
            "POST",
            "/api/v1/check",
            "self",
            "/api/v1/check",
            req(json!({"principal": r.uid, "action": "ops.db.read", "scope": "/"})),
            SignedIn,
            200,
        ),
        ep(
            "POST",
            "/api/v1/check/batch",
            "self",
            "/api/v1/check/batch",
            req(json!({"checks": [{"principal": r.uid, "action": "ops.db.read", "scope": "/"}]})),
            SignedIn,
            200,
        ),
        ep(
            "POST",
            "/api/v1/requests",
            "selfActivate",
            "/api/v1/requests",
            req(json!({"action": "selfActivate", "roleId": ops, "scope": format!("/ops{i}"),
                "durationMinutes": 60, "justification": "work"})),
            SignedIn,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "selfDeactivate own",
            "/api/v1/requests",
            req(json!({"action": "selfDeactivate", "assignmentId": r.own_activation})),
            SignedIn,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "selfExtend own",
            "/api/v1/requests",
            req(json!({"action": "selfExtend", "assignmentId": r.own_extendable,
                "end": t(now.plus_millis(14 * DAY_MS)), "justification": "more"})),
            SignedIn,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "selfRenew own",
            "/api/v1/requests",
            req(json!({"action": "selfRenew", "assignmentId": r.own_expired, "justification": "again"})),
            SignedIn,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests/{id}/cancel",
            "own",
            format!("/api/v1/requests/{}/cancel", r.own_pending),
            None,
            SignedIn,
            200,
        )
        .write(),
        // Only the holder / requester, whoever else asks.
        ep(
            "POST",
            "/api/v1/requests",
            "selfDeactivate other's",
            "/api/v1/requests",
            req(json!({"action": "selfDeactivate", "assignmentId": w.victim_activation})),
            HolderOnly,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests",
            "selfExtend other's",
            "/api/v1/requests",
            req(json!({"action": "selfExtend", "assignmentId": w.victim_extendable, "justification": "x"})),
            HolderOnly,
            201,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests/{id}/cancel",
            "other's",
            format!("/api/v1/requests/{}/cancel", w.victim_pending),
            None,
            HolderOnly,
            200,
        )
        .write(),
        ep("GET", "/api/v1/approvals", "", "/api/v1/approvals", None, Sees(REQUESTS_APPROVE), 200)
            .sentinel(r.v_approve),
        ep(
            "POST",
            "/api/v1/approvals",
            "own",
            "/api/v1/approvals",
            req(json!({"verdict": "approve", "requestIds": [r.own_pending], "justification": "mine"})),
            SignedIn,
            200,
        ),
        ep("GET", "/api/v1/settings-changes", "", "/api/v1/settings-changes", None, SignedIn, 200),
        ep("GET", "/api/v1/break-glass-reviews", "", "/api/v1/break-glass-reviews", None, SignedIn, 200),
        ep(
            "POST",
            "/api/v1/settings-changes/{id}/cancel",
            "other's",
            format!("/api/v1/settings-changes/{}/cancel", w.change),
            None,
            HolderOnly,
            200,
        )
        .write(),
        // Approvals.
        ep(
            "POST",
            "/api/v1/requests/{id}/approve",
            "extension",
            format!("/api/v1/requests/{}/approve", r.v_approve),
            req(json!({"justification": "ok"})),
            Act(REQUESTS_APPROVE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/requests/{id}/deny",
            "extension",
            format!("/api/v1/requests/{}/deny", r.v_deny),
            req(json!({"justification": "no"})),
            Act(REQUESTS_APPROVE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/break-glass-reviews/{id}/complete",
            "",
            format!("/api/v1/break-glass-reviews/{}/complete", r.v_break_glass),
            req(json!({"verdict": "appropriate"})),
            Act(REQUESTS_APPROVE),
            200,
        )
        .write(),
        ep(
            "GET",
            "/api/v1/settings-changes/{id}",
            "",
            format!("/api/v1/settings-changes/{}", w.change),
            None,
            Act(SETTINGS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/settings-changes/{id}/approve",
            "",
            format!("/api/v1/settings-changes/{}/approve", r.change_approve),
            req(json!({"justification": "ok"})),
            Act(SETTINGS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/settings-changes/{id}/deny",
            "",
            format!("/api/v1/settings-changes/{}/deny", r.change_deny),
            req(json!({"justification": "no"})),
            Act(SETTINGS_WRITE),
            200,
        )
        .write(),
        // Tokens of others.
        ep(
            "GET",
            "/api/v1/tokens",
            "other's",
            format!("/api/v1/tokens?principalId={}", w.robot),
            None,
            Act(TOKENS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/tokens",
            "other's",
            "/api/v1/tokens",
            req(json!({"name": format!("robot{i}"), "principalId": w.robot})),
            Act(TOKENS_WRITE),
            201,
        )
        .write(),
        ep(
            "DELETE",
            "/api/v1/tokens/{id}",
            "other's",
            format!("/api/v1/tokens/{}", r.robot_token),
            None,
            Act(TOKENS_WRITE),
            204,
        )
        .write(),
    ]
}
