//! pim authorizes its own API with the roles it manages, at the scope concerned.
//!
//! `every_endpoint_with_every_role` walks every endpoint of docs/API.md with a holder of every
//! built-in role (plus no role, an eligible-only Global Administrator, a role held through a group,
//! and no token at all) and compares allow / deny with a table written by hand from SPEC section 3
//! and API.md's table of pim's own actions. Refused writes must change nothing and be audited.
//! The other tests check scope containment and time bounds explicitly.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::bad_input::{Answer, Body, Db, Raw};
use crate::harness::prelude::*;

const DIRECTORY_READ: &str = "pim.directory.read";
const DIRECTORY_WRITE: &str = "pim.directory.write";
const SCOPES_READ: &str = "pim.scopes.read";
const SCOPES_WRITE: &str = "pim.scopes.write";
const ROLES_READ: &str = "pim.roles.read";
const ROLES_WRITE: &str = "pim.roles.write";
const SETTINGS_READ: &str = "pim.settings.read";
const SETTINGS_WRITE: &str = "pim.settings.write";
const ASSIGNMENTS_READ: &str = "pim.assignments.read";
const ASSIGNMENTS_WRITE: &str = "pim.assignments.write";
const REQUESTS_READ: &str = "pim.requests.read";
const REQUESTS_APPROVE: &str = "pim.requests.approve";
const AUDIT_READ: &str = "pim.audit.read";
const CHECK_READ: &str = "pim.check.read";
const TOKENS_READ: &str = "pim.tokens.read";
const TOKENS_WRITE: &str = "pim.tokens.write";
const NOTIFICATIONS_READ: &str = "pim.notifications.read";
const REPORTS_READ: &str = "pim.reports.read";
const ALERTS_READ: &str = "pim.alerts.read";
const ALERTS_WRITE: &str = "pim.alerts.write";
const REVIEWS_READ: &str = "pim.reviews.read";
const REVIEWS_WRITE: &str = "pim.reviews.write";

/// Every read action of API.md's table: what "read everything" means.
const READS: &[&str] = &[
    DIRECTORY_READ,
    SCOPES_READ,
    ROLES_READ,
    SETTINGS_READ,
    ASSIGNMENTS_READ,
    REQUESTS_READ,
    AUDIT_READ,
    CHECK_READ,
    TOKENS_READ,
    NOTIFICATIONS_READ,
    REPORTS_READ,
    ALERTS_READ,
    REVIEWS_READ,
];

/// "Access management" (what Contributor may not do): granting access and managing identities.
const ACCESS_MANAGEMENT: &[&str] =
    &[ASSIGNMENTS_WRITE, SETTINGS_WRITE, ROLES_WRITE, REQUESTS_APPROVE, DIRECTORY_WRITE, TOKENS_WRITE, REVIEWS_WRITE];

fn all_actions() -> Vec<&'static str> {
    let mut v = READS.to_vec();
    v.extend([DIRECTORY_WRITE, SCOPES_WRITE, ROLES_WRITE, SETTINGS_WRITE, ASSIGNMENTS_WRITE, REQUESTS_APPROVE]);
    v.push(TOKENS_WRITE);
    v.push(ALERTS_WRITE);
    v.push(REVIEWS_WRITE);
    v
}

/// What a holder of each built-in role at `/` may do in pim, written from SPEC section 3 (not read
/// from the server's role definitions). The group roles are held at a group's scope, so at `/` they
/// grant nothing.
fn expected_grants(role_name: &str) -> Option<Vec<&'static str>> {
    let with = |extra: &[&'static str]| {
        let mut v = READS.to_vec();
        v.extend_from_slice(extra);
        v
    };
    Some(match role_name {
        // Everything, at its scope.
        "Global Administrator" | "Owner" => all_actions(),
        // Role definitions, role settings, all assignments and requests, approvals; reads everything
        // it needs to do so (directory, scopes, audit).
        "Privileged Role Administrator" => with(&[ROLES_WRITE, SETTINGS_WRITE, ASSIGNMENTS_WRITE, REQUESTS_APPROVE]),
        // Alerts and access reviews, and reads everything.
        "Security Administrator" => with(&[ALERTS_WRITE, REVIEWS_WRITE]),
        // Reads, never writes.
        "Security Reader" | "Reader" => with(&[]),
        // Manages assignments (and the requests about them) at its scope, reading what that needs.
        "User Access Administrator" => vec![
            ASSIGNMENTS_READ,
            ASSIGNMENTS_WRITE,
            REQUESTS_READ,
            REQUESTS_APPROVE,
            ROLES_READ,
            SETTINGS_READ,
            SCOPES_READ,
            DIRECTORY_READ,
        ],
        // Everything but access management, which includes `pim.reviews.write`: applying a review
        // removes access (see `contributors_cannot_remove_access_through_a_review`).
        "Contributor" => all_actions().into_iter().filter(|a| !ACCESS_MANAGEMENT.contains(a)).collect(),
        // Asks the check API about anyone.
        "Access Checker" => vec![CHECK_READ],
        // Held at /groups/{id}: nothing at `/`.
        "Member" | "Owner of group" => vec![],
        _ => return None,
    })
}

/// What an endpoint needs from its caller.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in principal (about itself).
    SignedIn,
    /// This pim action at `/` (or at a scope below `/` that the request concerns).
    Act(&'static str),
    /// A list anyone signed in may call; items need this action at their scope.
    Sees(&'static str),
    /// Only the holder / requester may do it: refused for everyone else, administrators included.
    HolderOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Main,
    Logout,
}

struct Ep {
    method: Method,
    template: &'static str,
    variant: &'static str,
    path: String,
    body: Option<Value>,
    need: Need,
    ok: u16,
    write: bool,
    tok: Tok,
    sentinel: Option<String>,
    validate_only: bool,
}

impl Ep {
    fn label(&self) -> String {
        if self.variant.is_empty() {
            format!("{} {}", self.method, self.template)
        } else {
            format!("{} {} [{}]", self.method, self.template, self.variant)
        }
    }
    fn write(mut self) -> Ep {
        self.write = true;
        self
    }
    fn sentinel(mut self, id: impl ToString) -> Ep {
        self.sentinel = Some(id.to_string());
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn ep(
    method: &str,
    template: &'static str,
    variant: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    need: Need,
    ok: u16,
) -> Ep {
    Ep {
        method: Method::from_bytes(method.as_bytes()).expect("method"),
        template,
        variant,
        path: path.into(),
        body,
        need,
        ok,
        write: false,
        tok: Tok::Main,
        sentinel: None,
        validate_only: false,
    }
}

/// What every row shares.
struct World {
    ops: RoleId,
    victim: PrincipalId,
    robot: PrincipalId,
    team: PrincipalId,
    box_add: PrincipalId,
    box_rm: PrincipalId,
    res_a: ResourceId,
    a_assignment: AssignmentId,
    a_request: RequestId,
    victim_activation: AssignmentId,
    victim_extendable: AssignmentId,
    victim_pending: RequestId,
    change: SettingsChangeId,
    /// An active alert no row dismisses (of the non-remediable rule `externalAccess`).
    alert: AlertId,
    /// The bootstrap administrator.
    admin: PrincipalId,
    /// An access review of Ops at `/rvw` (the victim's access and every row's own), reviewed by
    /// the users of every row, and its instance in progress.
    review: ReviewId,
    instance: ReviewInstanceId,
    /// The item of `instance` reviewing the victim's access.
    victim_item: ReviewItemId,
    /// An instance in progress reviewed by the administrator only, and its item.
    other_instance: ReviewInstanceId,
    other_item: ReviewItemId,
}

/// One row of the matrix: a principal holding one role, and what it may act on.
struct RowFx {
    label: String,
    grants: Option<Vec<&'static str>>,
    i: usize,
    uid: PrincipalId,
    uname: String,
    token: Option<String>,
    logout_token: String,
    own_token: TokenId,
    own_activation: AssignmentId,
    own_extendable: AssignmentId,
    own_expired: AssignmentId,
    own_pending: RequestId,
    robot_token: TokenId,
    v_update: AssignmentId,
    v_remove: AssignmentId,
    v_extend: AssignmentId,
    v_renew: AssignmentId,
    v_approve: RequestId,
    v_deny: RequestId,
    v_break_glass: RequestId,
    change_approve: SettingsChangeId,
    change_deny: SettingsChangeId,
    /// The first code of the TOTP authenticator the row's user enrolled (pending).
    mfa_confirm: String,
    /// A later code of it (the next time step), for passing MFA after confirming.
    mfa_verify: String,
    /// An active alert of the row's own, to dismiss.
    alert: AlertId,
    /// The item of the world's review instance reviewing the row's own access.
    own_item: ReviewItemId,
    /// A review of the row's own to stop; its instance is completed, to apply.
    rv_stop: ReviewId,
    ri_apply: ReviewInstanceId,
    /// Instances in progress of the row's own, to reset and to stop.
    ri_reset: ReviewInstanceId,
    ri_stop: ReviewInstanceId,
}

fn t(ts: Timestamp) -> String {
    ts.to_rfc3339()
}

fn endpoints(w: &World, r: &RowFx, now: Timestamp) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let ops = w.ops;
    let req = |body: Value| Some(body);
    vec![
        // Health, documents and setup: public.
        ep("GET", "/healthz", "", "/healthz", None, Public, 200),
        ep("GET", "/readyz", "", "/readyz", None, Public, 200),
        ep("GET", "/metrics", "", "/metrics", None, Public, 200),
        ep("GET", "/api/v1/openapi.json", "", "/api/v1/openapi.json", None, Public, 200),
        ep("GET", "/api/v1/setup", "", "/api/v1/setup", None, Public, 200),
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
        // Directory.
        ep(
            "GET",
            "/api/v1/principals/{idOrName}",
            "other",
            "/api/v1/principals/victim",
            None,
            Act(DIRECTORY_READ),
            200,
        ),
        ep("GET", "/api/v1/users", "", "/api/v1/users", None, Act(DIRECTORY_READ), 200),
        ep(
            "POST",
            "/api/v1/users",
            "",
            "/api/v1/users",
            req(json!({"name": format!("new-user{i}")})),
            Act(DIRECTORY_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/users/{id}", "", format!("/api/v1/users/{}", w.victim), None, Act(DIRECTORY_READ), 200),
        ep(
            "PATCH",
            "/api/v1/users/{id}",
            "",
            format!("/api/v1/users/{}", w.victim),
            req(json!({"displayName": format!("Victim {i}"), "enabled": true})),
            Act(DIRECTORY_WRITE),
            200,
        )
        .write(),
        ep("GET", "/api/v1/groups", "", "/api/v1/groups", None, Act(DIRECTORY_READ), 200),
        ep(
            "POST",
            "/api/v1/groups",
            "",
            "/api/v1/groups",
            req(json!({"name": format!("new-group{i}")})),
            Act(DIRECTORY_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/groups/{id}", "", format!("/api/v1/groups/{}", w.team), None, Act(DIRECTORY_READ), 200),
        ep(
            "PATCH",
            "/api/v1/groups/{id}",
            "",
            format!("/api/v1/groups/{}", w.box_add),
            req(json!({"description": format!("patched by {i}")})),
            Act(DIRECTORY_WRITE),
            200,
        )
        .write(),
        ep(
            "GET",
            "/api/v1/groups/{id}/members",
            "",
            format!("/api/v1/groups/{}/members", w.team),
            None,
            Act(DIRECTORY_READ),
            200,
        ),
        ep(
            "PUT",
            "/api/v1/groups/{id}/members/{memberId}",
            "",
            format!("/api/v1/groups/{}/members/{}", w.box_add, r.uid),
            None,
            Act(DIRECTORY_WRITE),
            204,
        )
        .write(),
        ep(
            "DELETE",
            "/api/v1/groups/{id}/members/{memberId}",
            "",
            format!("/api/v1/groups/{}/members/{}", w.box_rm, r.uid),
            None,
            Act(DIRECTORY_WRITE),
            204,
        )
        .write(),
        ep("GET", "/api/v1/service-principals", "", "/api/v1/service-principals", None, Act(DIRECTORY_READ), 200),
        ep(
            "POST",
            "/api/v1/service-principals",
            "",
            "/api/v1/service-principals",
            req(json!({"name": format!("new-sp{i}")})),
            Act(DIRECTORY_WRITE),
            201,
        )
        .write(),
        ep(
            "GET",
            "/api/v1/service-principals/{id}",
            "",
            format!("/api/v1/service-principals/{}", w.robot),
            None,
            Act(DIRECTORY_READ),
            200,
        ),
        ep(
            "PATCH",
            "/api/v1/service-principals/{id}",
            "",
            format!("/api/v1/service-principals/{}", w.robot),
            req(json!({"displayName": format!("Robot {i}")})),
            Act(DIRECTORY_WRITE),
            200,
        )
        .write(),
        // Scopes and resources.
        ep("GET", "/api/v1/resources", "", "/api/v1/resources?limit=1000", None, Sees(SCOPES_READ), 200)
            .sentinel(w.res_a),
        ep(
            "POST",
            "/api/v1/resources",
            "",
            "/api/v1/resources",
            req(json!({"scope": format!("/res{i}"), "name": format!("Resource {i}"), "type": "database"})),
            Act(SCOPES_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/resources/{id}", "", format!("/api/v1/resources/{}", w.res_a), None, Act(SCOPES_READ), 200),
        // Roles and settings.
        ep("GET", "/api/v1/roles", "", "/api/v1/roles", None, Act(ROLES_READ), 200),
        ep(
            "POST",
            "/api/v1/roles",
            "",
            "/api/v1/roles",
            req(json!({"name": format!("custom{i}"), "permissions": {"actions": ["custom.*"]}})),
            Act(ROLES_WRITE),
            201,
        )
        .write(),
        ep(
            "PUT",
            "/api/v1/roles/{idOrName}",
            "",
            "/api/v1/roles/Target",
            req(json!({"name": "Target", "description": format!("changed by {i}"),
                "permissions": {"actions": ["target.*"]}})),
            Act(ROLES_WRITE),
            200,
        )
        .write(),
        ep("DELETE", "/api/v1/roles/{idOrName}", "", format!("/api/v1/roles/del{i}"), None, Act(ROLES_WRITE), 204)
            .write(),
        ep(
            "GET",
            "/api/v1/roles/{idOrName}/settings",
            "",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fa"),
            None,
            Act(SETTINGS_READ),
            200,
        ),
        ep(
            "PUT",
            "/api/v1/roles/{idOrName}/settings",
            "",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fs{i}"),
            req(json!({"activationMaxMinutes": 120, "requireMfaOnActivation": false})),
            Act(SETTINGS_WRITE),
            200,
        )
        .write(),
        ep(
            "DELETE",
            "/api/v1/roles/{idOrName}/settings",
            "",
            format!("/api/v1/roles/{ops}/settings?scope=%2Fd{i}"),
            None,
            Act(SETTINGS_WRITE),
            204,
        )
        .write(),
        ep("GET", "/api/v1/settings", "", "/api/v1/settings", None, Sees(SETTINGS_READ), 200).sentinel("/a"),
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
        // Access reviews: definitions, instances and results need pim.reviews.* at the review's
        // scope; deciding needs no permission, only to be among the item's reviewers.
        ep(
            "POST",
            "/api/v1/reviews",
            "",
            "/api/v1/reviews",
            req(json!({"name": format!("review {i}"),
                "target": {"type": "roles", "roleIds": [ops], "scope": format!("/rn{i}")},
                "reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": w.admin}]},
                "schedule": {"durationDays": 7}})),
            Act(REVIEWS_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/reviews", "", "/api/v1/reviews", None, Sees(REVIEWS_READ), 200).sentinel(w.review),
        ep("GET", "/api/v1/reviews/{id}", "", format!("/api/v1/reviews/{}", w.review), None, Act(REVIEWS_READ), 200),
        ep(
            "POST",
            "/api/v1/reviews/{id}/stop",
            "",
            format!("/api/v1/reviews/{}/stop", r.rv_stop),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "GET",
            "/api/v1/review-instances/{id}",
            "",
            format!("/api/v1/review-instances/{}", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "GET",
            "/api/v1/review-instances/{id}/items",
            "json",
            format!("/api/v1/review-instances/{}/items", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "GET",
            "/api/v1/review-instances/{id}/items",
            "csv",
            format!("/api/v1/review-instances/{}/items?format=csv", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/reset",
            "",
            format!("/api/v1/review-instances/{}/reset", r.ri_reset),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/stop",
            "",
            format!("/api/v1/review-instances/{}/stop", r.ri_stop),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/apply",
            "completed",
            format!("/api/v1/review-instances/{}/apply", r.ri_apply),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep("GET", "/api/v1/me/reviews", "", "/api/v1/me/reviews", None, SignedIn, 200),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "as a reviewer",
            format!("/api/v1/review-instances/{}/decisions", w.instance),
            req(json!({"itemIds": [w.victim_item], "verdict": "approve", "reason": format!("still needed ({i})")})),
            SignedIn,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "as a reviewer",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.instance, w.victim_item),
            req(json!({"verdict": "deny", "reason": format!("not needed ({i})")})),
            SignedIn,
            200,
        )
        .write(),
        // Not among the item's reviewers, or the item is one's own access (not a self-review):
        // refused for everyone, administrators included.
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "not a reviewer",
            format!("/api/v1/review-instances/{}/decisions", w.other_instance),
            req(json!({"itemIds": [w.other_item], "verdict": "deny", "reason": "no"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "not a reviewer",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.other_instance, w.other_item),
            req(json!({"verdict": "approve", "reason": "yes"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "own access",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.instance, r.own_item),
            req(json!({"verdict": "approve", "reason": "I need it"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "own access among others",
            format!("/api/v1/review-instances/{}/decisions", w.instance),
            req(json!({"itemIds": [w.victim_item, r.own_item], "verdict": "approve", "reason": "all fine"})),
            HolderOnly,
            200,
        )
        .write(),
    ]
}

fn expected(grants: &Option<Vec<&'static str>>, need: Need) -> String {
    let Some(g) = grants else {
        return if matches!(need, Need::Public) { "ok".into() } else { "401".into() };
    };
    match need {
        Need::Public | Need::SignedIn => "ok".into(),
        Need::HolderOnly => "403".into(),
        Need::Act(a) => if g.contains(&a) { "ok" } else { "403" }.into(),
        Need::Sees(a) => if g.contains(&a) { "ok, sees" } else { "ok, hidden" }.into(),
    }
}

fn got(e: &Ep, a: &Answer) -> String {
    match a.status {
        401 if a.code() == "unauthenticated" => "401".into(),
        403 if matches!(a.code(), "forbidden" | "not_approver" | "not_reviewer") => "403".into(),
        s if s == e.ok && e.validate_only => {
            let forbidden = a.json["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["code"].as_str() == Some("forbidden")));
            match a.json["valid"].as_bool() {
                Some(true) => "ok".into(),
                Some(false) if forbidden => "403".into(),
                _ => format!("200 {}", a.json["problems"]),
            }
        }
        s if s == e.ok => match &e.sentinel {
            None => "ok".into(),
            Some(id) => {
                let items = a.json["items"].as_array().cloned().unwrap_or_default();
                let sees = items.iter().any(|it| {
                    it["id"].as_str() == Some(id) || (it["scope"].as_str() == Some(id) && it.get("settings").is_some())
                });
                if sees { "ok, sees" } else { "ok, hidden" }.into()
            }
        },
        _ => a.brief(),
    }
}

/// Makes the settings of `role` at `scope` protected, then has the administrator propose a change
/// there: a settings change waiting for a second administrator.
pub(crate) async fn propose_change(s: &TestServer, role: RoleId, scope: &str) -> SettingsChangeId {
    s.set_settings(role, scope, |x| x.protected = true).await;
    let mut st = s.admin.get_settings(&role.to_string(), &sp(scope)).await.expect("settings").settings;
    st.activation_max_minutes = 90;
    match s.admin.put_settings(&role.to_string(), &sp(scope), &st).await.expect("proposed") {
        pim_client::SettingsOutcome::Pending(c) => c.id,
        other => panic!("expected a pending change, got {other:?}"),
    }
}

/// An active `externalAccess` alert, as a connector would raise it for `system`.
pub(crate) async fn external_alert(s: &TestServer, system: &str) -> AlertId {
    let item = AlertItem { detail: format!("found in {system}"), ..Default::default() };
    s.engine.report_external_access(system, vec![item]).await.expect("report").expect("alert").id
}

/// A one-time access review of `role` at `scope` by `reviewers`, starting now, for 7 days, without
/// a required reason.
pub(crate) fn review_of(name: &str, role: RoleId, scope: &str, reviewers: Reviewers) -> CreateReview {
    CreateReview {
        name: name.into(),
        description: None,
        target: ReviewTarget::Roles { role_ids: vec![role], scope: sp(scope) },
        kinds: ReviewedKinds::Both,
        inactive_days: None,
        reviewers,
        schedule: ReviewScheduleInput {
            start: None,
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        auto_apply: false,
        if_no_response: IfNoResponse::NoChange,
        reason_required: false,
    }
}

/// The reviewers `users`, by id.
pub(crate) fn selected(users: &[PrincipalId]) -> Reviewers {
    Reviewers::Selected { reviewers: users.iter().map(|&id| ApproverRef { kind: PrincipalKind::User, id }).collect() }
}

/// Creates `review` as the administrator; returns it and the instance that started with it.
pub(crate) async fn start_review(s: &TestServer, review: &CreateReview) -> (ReviewId, ReviewInstanceId) {
    let def = s.admin.create_review(review).await.expect("create review");
    let detail = s.admin.get_review(def.id).await.expect("get review");
    let instance = detail.instances.first().unwrap_or_else(|| panic!("{} started no instance", review.name)).id;
    (def.id, instance)
}

/// The first instance of review `id`.
async fn first_instance(s: &TestServer, id: ReviewId) -> ReviewInstanceId {
    s.admin.get_review(id).await.expect("get review").instances.first().expect("an instance").id
}

/// The item of `instance` reviewing `principal`'s access (the first, if several).
pub(crate) async fn item_of(s: &TestServer, instance: ReviewInstanceId, principal: PrincipalId) -> ReviewItemId {
    let items = s.admin.review_results(instance).await.expect("results").items;
    items.iter().find(|it| it.principal_id == principal).unwrap_or_else(|| panic!("no item for {principal}")).id
}

struct Holding {
    label: String,
    /// (role, scope, kind) assigned to the row's user; `None` scope means the group `team`.
    role: Option<(RoleId, Option<&'static str>, AssignmentKind)>,
    grants: Option<Vec<&'static str>>,
    via_group: bool,
}

async fn build_world(s: &TestServer, rows: &[Holding]) -> (World, Vec<RowFx>) {
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    s.custom_role("Target", &["target.*"]).await;
    let (victim, victim_client) = s.user("victim").await;
    let robot = s
        .admin
        .create_service_principal(&CreateServicePrincipal {
            name: "robot".into(),
            display_name: None,
            description: None,
        })
        .await
        .expect("robot")
        .id;
    let team = s.group("team").await;
    let box_add = s.group("box-add").await;
    let box_rm = s.group("box-rm").await;
    let readers = s.group("readers").await;
    s.assign(readers, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    s.admin
        .create_user(&CreateUser {
            name: "loginuser".into(),
            password: Some("login-password-1".into()),
            ..Default::default()
        })
        .await
        .expect("login user");
    let res_a = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "A".into(), kind: "subscription".into() })
        .await
        .expect("resource")
        .id;
    s.set_settings(ops, "/a", |x| x.activation_max_minutes = 240).await;
    let a = s.assign(victim, ops, "/a", AssignmentKind::Eligible, None).await;

    // Phase 1: what must have ended by the time the matrix runs.
    let end_soon = Some(T0.plus_millis(HOUR_MS));
    let mut users = Vec::new();
    for (i, _) in rows.iter().enumerate() {
        let name = format!("u{i}");
        let (uid, client) = s.user(&name).await;
        let own_expired = s.assign(uid, ops, &format!("/sr{i}"), AssignmentKind::Eligible, end_soon).await.id;
        let v_renew = s.assign(victim, ops, &format!("/n{i}"), AssignmentKind::Eligible, end_soon).await.id;
        users.push((uid, name, client, own_expired, v_renew));
    }
    s.advance(2 * HOUR_MS);
    let now = s.engine.now();

    s.assign(victim, ops, "/va", AssignmentKind::Eligible, None).await;
    let victim_activation =
        victim_client.create_request(&activation(ops, "/va", 60)).await.expect("victim activates").assignment;
    let victim_activation = victim_activation.expect("activation").id;
    let in_week = Some(now.plus_millis(7 * DAY_MS));
    let victim_extendable = s.assign(victim, ops, "/vext", AssignmentKind::Eligible, in_week).await.id;
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, victim_extendable);
    ext.justification = Some("need more".into());
    let victim_pending = victim_client.create_request(&ext).await.expect("victim selfExtend").request.id;
    let change = propose_change(s, ops, "/prot").await;
    // Access reviews: the rows review the victim's access and each other's, and the administrator
    // alone reviews another instance.
    s.assign(victim, ops, "/rvw/v", AssignmentKind::Eligible, None).await;
    for (i, (uid, ..)) in users.iter().enumerate() {
        s.assign(*uid, ops, &format!("/rvw/{i}"), AssignmentKind::Eligible, None).await;
    }
    let row_users: Vec<PrincipalId> = users.iter().map(|u| u.0).collect();
    let (review, instance) = start_review(s, &review_of("world", ops, "/rvw", selected(&row_users))).await;
    let victim_item = item_of(s, instance, victim).await;
    s.assign(victim, ops, "/rvo", AssignmentKind::Eligible, None).await;
    let (_, other_instance) = start_review(s, &review_of("others", ops, "/rvo", selected(&[s.admin_id]))).await;
    let other_item = item_of(s, other_instance, victim).await;
    let world = World {
        ops,
        victim,
        robot,
        team,
        box_add,
        box_rm,
        res_a,
        a_assignment: a.id,
        a_request: a.created_by_request,
        victim_activation,
        victim_extendable,
        victim_pending,
        change,
        alert: external_alert(s, "world").await,
        admin: s.admin_id,
        review,
        instance,
        victim_item,
        other_instance,
        other_item,
    };

    let mut out = Vec::new();
    for (i, (h, (uid, uname, client, own_expired, v_renew))) in rows.iter().zip(users).enumerate() {
        if let Some((role, scope, kind)) = h.role {
            let scope = match scope {
                Some(sc) => sc.to_owned(),
                None => format!("/groups/{team}"),
            };
            s.assign(uid, role, &scope, kind, None).await;
        }
        if h.via_group {
            s.assign(uid, role::GROUP_MEMBER, &format!("/groups/{readers}"), AssignmentKind::Active, None).await;
        }
        let token = if h.grants.is_some() { client.token().map(str::to_owned) } else { None };
        let extra = |name: &'static str, principal: PrincipalId| CreateTokenRequest {
            name: name.into(),
            expires_in_days: Some(365),
            principal_id: Some(principal),
        };
        let logout_token = s.admin.create_token(&extra("logout", uid)).await.expect("token").token;
        let own_token = s.admin.create_token(&extra("to-revoke", uid)).await.expect("token").info.id;
        let robot_token = s.admin.create_token(&extra("robot", robot)).await.expect("token").info.id;
        // Own activation (to deactivate), own extendable assignment, own pending request.
        s.assign(uid, ops, &format!("/ops{i}"), AssignmentKind::Eligible, None).await;
        s.assign(uid, ops, &format!("/deact{i}"), AssignmentKind::Eligible, None).await;
        let own_activation = client
            .create_request(&activation(ops, &format!("/deact{i}"), 60))
            .await
            .expect("activate")
            .assignment
            .expect("activation")
            .id;
        let own_extendable = s.assign(uid, ops, &format!("/ext{i}"), AssignmentKind::Eligible, in_week).await.id;
        let pending = s.assign(uid, ops, &format!("/cx{i}"), AssignmentKind::Eligible, in_week).await.id;
        let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, pending);
        ext.justification = Some("need more".into());
        let own_pending = client.create_request(&ext).await.expect("selfExtend").request.id;
        // The victim's assignments an administrator would change.
        let in_month = Some(now.plus_millis(30 * DAY_MS));
        let v_update = s.assign(victim, ops, &format!("/u{i}"), AssignmentKind::Eligible, in_month).await.id;
        let v_remove = s.assign(victim, ops, &format!("/r{i}"), AssignmentKind::Eligible, None).await.id;
        let in_ten = Some(now.plus_millis(10 * DAY_MS));
        let v_extend = s.assign(victim, ops, &format!("/x{i}"), AssignmentKind::Eligible, in_ten).await.id;
        // Directory, role and settings targets.
        s.admin.add_member(box_rm, uid).await.expect("member");
        s.custom_role(&format!("del{i}"), &["gone.*"]).await;
        s.set_settings(ops, &format!("/d{i}"), |x| x.activation_max_minutes = 60).await;
        // Requests and settings changes to decide, and a break-glass activation to review.
        let mut pending_of = Vec::new();
        for scope in [format!("/pe{i}"), format!("/pn{i}")] {
            let a = s.assign(victim, ops, &scope, AssignmentKind::Eligible, in_week).await.id;
            let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, a);
            ext.justification = Some("need more".into());
            ext.end = Some(now.plus_millis(14 * DAY_MS));
            pending_of.push(victim_client.create_request(&ext).await.expect("victim selfExtend").request.id);
        }
        let bg_scope = format!("/bg{i}");
        s.set_settings(ops, &bg_scope, |x| x.allow_break_glass = true).await;
        s.assign(victim, ops, &bg_scope, AssignmentKind::Eligible, None).await;
        let mut bg = activation(ops, &bg_scope, 60);
        bg.break_glass = Some(true);
        let v_break_glass = victim_client.create_request(&bg).await.expect("break-glass").request.id;
        let change_approve = propose_change(s, ops, &format!("/pa{i}")).await;
        let change_deny = propose_change(s, ops, &format!("/pd{i}")).await;
        // A pending TOTP authenticator, and codes of it for the time the matrix runs at.
        let totp = TotpHelper::new(&client.enroll_totp().await.expect("enroll"));
        let step = TotpHelper::step(now);
        let (mfa_confirm, mfa_verify) = (totp.code_for_step(step), totp.code_for_step(step + 1));
        // Reviews to stop, reset and apply: the instance of the first is completed (the review
        // itself is not stopped), the others are in progress.
        let by_admin = selected(&[s.admin_id]);
        let (rv_stop, ri_apply) =
            start_review(s, &review_of("to stop", ops, &format!("/rvs{i}"), by_admin.clone())).await;
        s.admin.stop_review_instance(ri_apply).await.expect("complete the instance to apply");
        let (_, ri_reset) = start_review(s, &review_of("to reset", ops, &format!("/rvr{i}"), by_admin.clone())).await;
        let (_, ri_stop) = start_review(s, &review_of("to stop early", ops, &format!("/rvx{i}"), by_admin)).await;
        let own_item = item_of(s, instance, uid).await;
        out.push(RowFx {
            label: h.label.clone(),
            grants: h.grants.clone(),
            i,
            uid,
            uname,
            token,
            logout_token,
            own_token,
            own_activation,
            own_extendable,
            own_expired,
            own_pending,
            robot_token,
            v_update,
            v_remove,
            v_extend,
            v_renew,
            v_approve: pending_of[0],
            v_deny: pending_of[1],
            v_break_glass,
            change_approve,
            change_deny,
            mfa_confirm,
            mfa_verify,
            alert: external_alert(s, &format!("row{i}")).await,
            own_item,
            rv_stop,
            ri_apply,
            ri_reset,
            ri_stop,
        });
    }
    (world, out)
}

fn holdings(full: bool) -> Vec<Holding> {
    let mut rows = Vec::new();
    let builtin = pim_domain::role::builtin_roles();
    for r in &builtin {
        let grants = expected_grants(&r.name)
            .unwrap_or_else(|| panic!("built-in role '{}' has no expectation in this test: add one", r.name));
        let group_role = r.id == role::GROUP_MEMBER || r.id == role::GROUP_OWNER;
        let scope = if group_role { None } else { Some("/") };
        rows.push(Holding {
            label: r.name.clone(),
            role: Some((r.id, scope, AssignmentKind::Active)),
            grants: Some(grants),
            via_group: false,
        });
    }
    rows.push(Holding {
        label: "Security Reader via group".into(),
        role: None,
        grants: expected_grants("Security Reader"),
        via_group: true,
    });
    rows.push(Holding {
        label: "Global Admin, eligible only".into(),
        role: Some((role::GLOBAL_ADMINISTRATOR, Some("/"), AssignmentKind::Eligible)),
        grants: Some(vec![]),
        via_group: false,
    });
    rows.push(Holding { label: "(no role)".into(), role: None, grants: Some(vec![]), via_group: false });
    rows.push(Holding { label: "(no token)".into(), role: None, grants: None, via_group: false });
    if !full {
        // A representative slice: all of pim's rights, reads only, assignments only, nothing, anonymous.
        let keep = ["Global Administrator", "Security Reader", "User Access Administrator", "Owner of group"];
        rows.retain(|h| keep.contains(&h.label.as_str()) || h.label.starts_with('('));
    }
    rows
}

async fn matrix(b: Backend, full: bool) {
    let s = TestServer::start(&b).await;
    let raw = Raw::new(&s);
    let rows = holdings(full);
    let (world, fxs) = build_world(&s, &rows).await;
    let now = s.engine.now();
    let mut db = Db::open(&s).await;

    // The table covers every endpoint the server documents.
    let doc = raw.send(&Method::GET, "/api/v1/openapi.json", None, &Body::Empty).await.json;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                documented.insert(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    let covered: BTreeSet<String> =
        endpoints(&world, &fxs[0], now).iter().map(|e| format!("{} {}", e.method, e.template)).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "endpoints without a row in the authorization matrix: {missing:?}");
    let unknown: Vec<_> = covered.difference(&documented).collect();
    assert!(unknown.is_empty(), "matrix rows for undocumented endpoints: {unknown:?}");
    // And every action pim checks on its own API, in the expectations and in some row.
    let all: BTreeSet<&str> = pim_domain::actions::ALL.iter().copied().collect();
    let expected_actions: BTreeSet<&str> = all_actions().into_iter().collect();
    assert_eq!(expected_actions, all, "all_actions() and pim_domain::actions::ALL differ");
    let needed: BTreeSet<&str> = endpoints(&world, &fxs[0], now)
        .iter()
        .filter_map(|e| match e.need {
            Need::Act(a) | Need::Sees(a) => Some(a),
            _ => None,
        })
        .collect();
    let unexercised: Vec<_> = all.difference(&needed).collect();
    assert!(unexercised.is_empty(), "actions no row of the matrix needs: {unexercised:?}");

    let mut mismatches: Vec<[String; 4]> = Vec::new();
    let mut calls = 0;
    let mut last = None;
    for r in &fxs {
        for e in endpoints(&world, r, now) {
            let want = expected(&r.grants, e.need);
            let token = match (e.tok, &r.token) {
                (_, None) => None,
                (Tok::Main, Some(t)) => Some(t.as_str()),
                (Tok::Logout, Some(_)) => Some(r.logout_token.as_str()),
            };
            let refused = want == "403" || want == "401";
            // The state after the last refused write is still current unless something else wrote.
            let before = match (e.write && refused, last.take()) {
                (false, _) => None,
                (true, Some(snap)) => Some(snap),
                (true, None) => Some(db.snapshot().await),
            };
            let seq = if before.is_some() { db.audit_seq().await } else { 0 };
            let body = e.body.clone().map(Body::Json).unwrap_or(Body::Empty);
            let answer = raw.send(&e.method, &e.path, token, &body).await;
            calls += 1;
            if e.write && !refused || e.tok == Tok::Logout || e.template == "/api/v1/auth/login" {
                last = None;
            }
            let mut have = got(&e, &answer);
            if answer.status >= 400 && !answer.problem_defects().is_empty() {
                have = format!("{have} (bad problem: {:?})", answer.problem_defects());
            }
            if let Some(before) = before {
                let (changes, after) = db.changes_since(&before).await;
                last = Some(after);
                if !changes.is_empty() {
                    have = format!("{have}, CHANGED DATA: {changes:?}");
                }
                if want == "403" {
                    let events = db.events_after(seq).await;
                    if !events.iter().any(|ev| {
                        ev.outcome == "failure"
                            && matches!(ev.error_code.as_deref(), Some("forbidden" | "not_approver" | "not_reviewer"))
                    }) {
                        have = format!("{have}, refusal not audited");
                    }
                }
            }
            if have != want {
                mismatches.push([r.label.clone(), e.label(), want, have]);
            }
        }
        // A token revoked by logout no longer works.
        if r.token.is_some() {
            let a = raw.send(&Method::GET, "/api/v1/me", Some(&r.logout_token), &Body::Empty).await;
            if a.status != 401 {
                mismatches.push([r.label.clone(), "GET /api/v1/me [after logout]".into(), "401".into(), a.brief()]);
            }
        }
    }
    if !mismatches.is_empty() {
        let w0 = mismatches.iter().map(|m| m[0].len()).max().unwrap_or(0).max(4);
        let w1 = mismatches.iter().map(|m| m[1].len()).max().unwrap_or(0).max(8);
        let mut table = format!("\n{:w0$} | {:w1$} | {:10} | got\n", "role", "endpoint", "expected");
        for m in &mismatches {
            table.push_str(&format!("{:w0$} | {:w1$} | {:10} | {}\n", m[0], m[1], m[2], m[3]));
        }
        eprintln!("{table}");
        panic!("{} of {calls} authorization expectations not met:{table}", mismatches.len());
    }
    eprintln!(
        "authorization matrix: {} rows x {} endpoints, {calls} calls, all as expected",
        fxs.len(),
        calls / fxs.len()
    );
    s.stop().await;
}

/// The full matrix: every built-in role (and no role, and no token) against every endpoint. On
/// PostgreSQL a representative slice of roles runs, to keep the suite fast; the endpoints are all there.
async fn every_endpoint_with_every_role(b: Backend) {
    let full = matches!(b, Backend::Sqlite);
    matrix(b, full).await;
}

fn assign_req(principal: PrincipalId, role: RoleId, scope: &str, kind: AssignmentKind) -> CreateRequest {
    let mut r = CreateRequest::new(RequestAction::AdminAssign);
    r.principal_id = Some(principal);
    r.role_id = Some(role);
    r.scope = Some(sp(scope));
    r.kind = Some(kind);
    r.justification = Some("scoped".into());
    r
}

fn remove_req(a: AssignmentId) -> CreateRequest {
    CreateRequest::for_assignment(RequestAction::AdminRemove, a)
}

/// Asserts `call` is refused as `forbidden` and that the database did not change (failure audit
/// events aside).
macro_rules! refused {
    ($db:expr, $what:expr, $call:expr) => {{
        let before = $db.snapshot().await;
        match $call.await {
            Ok(v) => panic!("{} must be refused (403), but succeeded: {v:?}", $what),
            Err(e) => assert_eq!(e.status(), Some(403), "{} must be refused with 403: {e}", $what),
        }
        let (changes, _) = $db.changes_since(&before).await;
        assert!(changes.is_empty(), "{} was refused but changed {changes:?}", $what);
    }};
}

/// A role held at `/a` works at `/a` and below, never at `/c` or `/`.
async fn scopes_bound_what_a_role_allows(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (uaa_id, uaa) = s.user("uaa").await;
    let (reader_id, reader) = s.user("reader").await;
    let (contrib_id, contrib) = s.user("contrib").await;
    let (ga_id, scoped_ga) = s.user("scoped-ga").await;
    s.assign(uaa_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    s.assign(reader_id, role::READER, "/a", AssignmentKind::Active, None).await;
    s.assign(contrib_id, role::CONTRIBUTOR, "/a", AssignmentKind::Active, None).await;
    s.assign(ga_id, role::GLOBAL_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    let at_c = s.assign(victim, ops, "/c/x", AssignmentKind::Eligible, None).await;
    let at_ax = s.assign(victim, ops, "/a/x", AssignmentKind::Eligible, None).await;
    let res_a = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a/db"), name: "a db".into(), kind: "database".into() })
        .await
        .expect("resource");
    let res_c = s
        .admin
        .create_resource(&CreateResource { scope: sp("/c/db"), name: "c db".into(), kind: "database".into() })
        .await
        .expect("resource");
    s.set_settings(ops, "/c", |x| x.activation_max_minutes = 60).await;

    // User Access Administrator at /a: assigns at /a/b, not at /c nor at /.
    let made = uaa.create_request(&assign_req(victim, ops, "/a/b", AssignmentKind::Eligible)).await.expect("at /a/b");
    let made = made.assignment.expect("assignment");
    assert_eq!(made.scope.as_str(), "/a/b");
    for scope in ["/c", "/c/a", "/", "/ab"] {
        let what = format!("UAA@/a adminAssign at {scope}");
        refused!(db, what, uaa.create_request(&assign_req(victim, ops, scope, AssignmentKind::Eligible)));
    }
    refused!(db, "UAA@/a adminRemove at /c/x", uaa.create_request(&remove_req(at_c.id)));
    let mut update = CreateRequest::for_assignment(RequestAction::AdminUpdate, at_c.id);
    update.end = Some(s.engine.now().plus_millis(DAY_MS));
    refused!(db, "UAA@/a adminUpdate at /c/x", uaa.create_request(&update));
    assert_eq!(s.admin.get_assignment(at_c.id).await.expect("re-read").window.end, None, "still permanent");
    uaa.create_request(&remove_req(at_ax.id)).await.expect("UAA@/a removes at /a/x");
    assert_eq!(status(uaa.get_assignment(at_c.id).await), 403);
    uaa.get_assignment(made.id).await.expect("UAA@/a reads at /a/b");
    refused!(db, "UAA@/a settings at /a", uaa.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()));
    // Validation tells the same story, and changes nothing either.
    let mut v = assign_req(victim, ops, "/c", AssignmentKind::Eligible);
    v.validate_only = Some(true);
    let answer = uaa.validate_request(&v).await.expect("validateOnly");
    assert!(!answer.valid && answer.problems.iter().any(|p| p.code == "forbidden"), "{answer:?}");

    // Reader at /a: sees what is under /a, nothing at /c or /.
    let all =
        reader.list_assignments(&AssignmentQuery { limit: Some(1000), ..Default::default() }).await.expect("list");
    assert!(all.items.iter().any(|a| a.id == made.id), "Reader@/a sees /a/b");
    for a in &all.items {
        assert!(sp("/a").contains(&a.scope) || a.principal_id == reader_id, "Reader@/a sees {:?} at {}", a.id, a.scope);
    }
    let under_c = reader
        .list_assignments(&AssignmentQuery { under: Some(sp("/c")), ..Default::default() })
        .await
        .expect("list under /c");
    assert!(under_c.items.is_empty(), "Reader@/a sees nothing under /c: {:?}", under_c.items);
    assert_eq!(status(reader.get_assignment(at_c.id).await), 403);
    let resources = reader.list_resources(&ResourceQuery::default()).await.expect("resources").items;
    let ids: Vec<_> = resources.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![res_a.id], "Reader@/a sees the resources under /a only");
    reader.get_resource(res_a.id).await.expect("resource at /a/db");
    assert_eq!(status(reader.get_resource(res_c.id).await), 403);
    reader.get_settings(&ops.to_string(), &sp("/a/b")).await.expect("settings at /a/b");
    assert_eq!(status(reader.get_settings(&ops.to_string(), &sp("/c")).await), 403);
    assert_eq!(status(reader.get_settings(&ops.to_string(), &sp("/")).await), 403);
    let listed = reader.list_settings(None).await.expect("settings list").items;
    assert!(listed.iter().all(|x| sp("/a").contains(&x.scope)), "Reader@/a lists settings at /c: {listed:?}");
    let requests = reader.list_requests(&RequestQuery { limit: Some(1000), ..Default::default() }).await.expect("reqs");
    assert!(requests.items.iter().any(|r| r.target_assignment == Some(made.id)), "the /a/b request is visible");
    assert!(
        requests.items.iter().all(|r| sp("/a").contains(&r.scope) || r.principal_id == reader_id),
        "Reader@/a sees requests outside /a"
    );
    let events = reader
        .list_audit(&AuditQuery { limit: Some(1000), ..Default::default() })
        .await
        .expect("audit within /a")
        .items;
    assert!(events.iter().any(|e| e.scope.as_ref().is_some_and(|x| x.as_str() == "/a/b")));
    for e in &events {
        let inside = e.scope.as_ref().is_some_and(|x| sp("/a").contains(x));
        assert!(inside, "Reader@/a reads audit event {} at {:?}", e.action, e.scope);
    }
    assert_eq!(status(reader.verify_audit().await), 403, "verifying the whole chain needs / ");
    let check = CheckRequest { principal: victim.to_string(), action: "ops.x".into(), scope: "/a".into(), at: None };
    assert_eq!(status(reader.check(&check).await), 403, "checks about others need pim.check.read at /");
    refused!(
        db,
        "Reader@/a adminAssign at /a/b",
        reader.create_request(&assign_req(victim, ops, "/a/c", AssignmentKind::Eligible))
    );

    // Contributor at /a: registers resources at /a, not at /c; no access management.
    let res = |scope: &str| CreateResource { scope: sp(scope), name: "new".into(), kind: "database".into() };
    contrib.create_resource(&res("/a/new")).await.expect("Contributor@/a registers at /a/new");
    refused!(db, "Contributor@/a resource at /c/new", contrib.create_resource(&res("/c/new")));
    refused!(db, "Contributor@/a resource at /new", contrib.create_resource(&res("/new")));
    refused!(
        db,
        "Contributor@/a adminAssign at /a",
        contrib.create_request(&assign_req(victim, ops, "/a/q", AssignmentKind::Eligible))
    );

    // Global Administrator at /a: everything at /a, nothing that lives at /.
    scoped_ga.create_request(&assign_req(victim, ops, "/a/q", AssignmentKind::Eligible)).await.expect("GA@/a assigns");
    scoped_ga.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()).await.expect("GA@/a settings");
    refused!(
        db,
        "GA@/a adminAssign at /c",
        scoped_ga.create_request(&assign_req(victim, ops, "/c/q", AssignmentKind::Eligible))
    );
    refused!(db, "GA@/a settings at /", scoped_ga.put_settings(&ops.to_string(), &sp("/"), &RoleSettings::default()));
    let user = CreateUser { name: "by-scoped-ga".into(), ..Default::default() };
    refused!(db, "GA@/a creates a user (directory lives at /)", scoped_ga.create_user(&user));
    let role = CreateRole { name: "by-scoped-ga".into(), description: None, permissions: Permissions::default() };
    refused!(db, "GA@/a creates a role (roles live at /)", scoped_ga.create_role(&role));
    assert_eq!(status(scoped_ga.list_users(&ListQuery::default()).await), 403);
    // Elevation through a refused scope is refused too: GA@/a cannot make itself GA at /.
    refused!(
        db,
        "GA@/a assigns itself GA at /",
        scoped_ga.create_request(&assign_req(ga_id, role::GLOBAL_ADMINISTRATOR, "/", AssignmentKind::Active))
    );
    s.stop().await;
}

/// Security Reader: reads everything, the audit history included, and writes nothing.
async fn security_reader_reads_but_never_writes(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (sr_id, sr) = s.user("auditor").await;
    s.assign(sr_id, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    let a = s.assign(victim, ops, "/a", AssignmentKind::Eligible, None).await;
    let events = sr.list_audit(&AuditQuery { limit: Some(1000), ..Default::default() }).await.expect("audit").items;
    assert!(events.iter().any(|e| e.action == "request.adminAssign"), "the auditor reads the whole history");
    assert!(sr.verify_audit().await.expect("verify").ok);
    let exported = sr.export_audit(ExportFormat::Csv, &AuditQuery::default()).await.expect("export");
    assert!(String::from_utf8_lossy(&exported).contains("request.adminAssign"));
    sr.get_assignment(a.id).await.expect("assignments");
    sr.get_request(a.created_by_request).await.expect("requests");
    sr.list_users(&ListQuery::default()).await.expect("directory");
    sr.get_settings(&ops.to_string(), &sp("/a")).await.expect("settings");
    refused!(db, "adminAssign", sr.create_request(&assign_req(victim, ops, "/b", AssignmentKind::Eligible)));
    refused!(db, "adminRemove", sr.create_request(&remove_req(a.id)));
    refused!(db, "settings", sr.put_settings(&ops.to_string(), &sp("/a"), &RoleSettings::default()));
    refused!(db, "settings reset", sr.delete_settings(&ops.to_string(), &sp("/")));
    refused!(db, "create user", sr.create_user(&CreateUser { name: "x".into(), ..Default::default() }));
    refused!(db, "disable user", sr.update_user(victim, &UpdateUser { enabled: Some(false), ..Default::default() }));
    let role = CreateRole { name: "X".into(), description: None, permissions: Permissions::default() };
    refused!(db, "create role", sr.create_role(&role));
    refused!(db, "delete role", sr.delete_role("Ops"));
    let res = CreateResource { scope: sp("/r"), name: "r".into(), kind: "db".into() };
    refused!(db, "create resource", sr.create_resource(&res));
    let token = CreateTokenRequest { name: "t".into(), expires_in_days: None, principal_id: Some(victim) };
    refused!(db, "token for another", sr.create_token(&token));
    s.stop().await;
}

/// The Owner of a group manages that group's membership (the Member role at `/groups/{id}`) and no
/// other group's.
async fn group_owners_manage_their_group_only(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let g = s.group("g").await;
    let h = s.group("h").await;
    let (alice, _) = s.user("alice").await;
    let (owner_id, owner) = s.user("owner").await;
    s.assign(owner_id, role::GROUP_OWNER, &format!("/groups/{g}"), AssignmentKind::Active, None).await;
    let in_h = s.assign(alice, role::GROUP_MEMBER, &format!("/groups/{h}"), AssignmentKind::Eligible, None).await;
    let gs = format!("/groups/{g}");
    let hs = format!("/groups/{h}");
    let m = owner
        .create_request(&assign_req(alice, role::GROUP_MEMBER, &gs, AssignmentKind::Eligible))
        .await
        .expect("the owner of g makes alice eligible for membership of g")
        .assignment
        .expect("assignment");
    let mut active = assign_req(alice, role::GROUP_MEMBER, &gs, AssignmentKind::Active);
    active.end = Some(s.engine.now().plus_millis(DAY_MS));
    owner.create_request(&active).await.expect("and an active member for a day");
    refused!(
        db,
        "membership of h",
        owner.create_request(&assign_req(alice, role::GROUP_MEMBER, &hs, AssignmentKind::Eligible))
    );
    refused!(
        db,
        "ownership of h",
        owner.create_request(&assign_req(owner_id, role::GROUP_OWNER, &hs, AssignmentKind::Active))
    );
    refused!(db, "a role at /", owner.create_request(&assign_req(alice, ops, "/", AssignmentKind::Eligible)));
    refused!(db, "removal in h", owner.create_request(&remove_req(in_h.id)));
    refused!(db, "direct membership of g", owner.add_member(g, alice));
    let listed = owner
        .list_assignments(&AssignmentQuery { under: Some(sp("/groups")), limit: Some(1000), ..Default::default() })
        .await
        .expect("list")
        .items;
    assert!(listed.iter().any(|a| a.id == m.id), "the owner sees g's memberships");
    assert!(listed.iter().all(|a| a.id != in_h.id), "but not h's");
    assert_eq!(status(owner.get_assignment(in_h.id).await), 403);
    owner.create_request(&remove_req(m.id)).await.expect("the owner removes alice's eligibility for g");
    s.stop().await;
}

/// pim's own rights follow the assignment's window and kind: eligible gives nothing until activated,
/// an activation gives rights until it ends, and a time-bound assignment ends to the millisecond.
async fn rights_follow_the_assignment_window(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (jit_id, jit) = s.user("jit").await;
    let (tb_id, tb) = s.user("timebound").await;
    s.without_mfa(role::USER_ACCESS_ADMINISTRATOR).await;
    s.assign(jit_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Eligible, None).await;
    let end = s.engine.now().plus_millis(HOUR_MS);
    s.assign(tb_id, role::USER_ACCESS_ADMINISTRATOR, "/a", AssignmentKind::Active, Some(end)).await;
    let at = |i: u32| assign_req(victim, ops, &format!("/a/{i}"), AssignmentKind::Eligible);
    assert_eq!(status(jit.create_request(&at(1)).await), 403, "eligible is not active");
    let act = jit
        .create_request(&activation(role::USER_ACCESS_ADMINISTRATOR, "/a", 120))
        .await
        .expect("activate")
        .assignment
        .expect("activation");
    jit.create_request(&at(2)).await.expect("activated: allowed");
    tb.create_request(&at(3)).await.expect("time-bound, in its window: allowed");
    s.advance(HOUR_MS - 1);
    tb.create_request(&at(4)).await.expect("a millisecond before the end: allowed");
    s.advance(1);
    assert_eq!(status(tb.create_request(&at(5)).await), 403, "at the end: refused");
    jit.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, act.id))
        .await
        .expect("deactivate");
    assert_eq!(status(jit.create_request(&at(6)).await), 403, "deactivated: refused");
    s.stop().await;
}

/// The Owner of a group manages membership and ownership of that group; it may not hand out other
/// roles at the group's scope, which would give it (or anyone) rights it does not hold there, such
/// as changing the Member role's activation policy.
async fn group_owners_cannot_grant_other_roles_at_their_group(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let g = s.group("g").await;
    let (alice, _) = s.user("alice").await;
    let (owner_id, owner) = s.user("owner").await;
    let gs = format!("/groups/{g}");
    s.assign(owner_id, role::GROUP_OWNER, &gs, AssignmentKind::Active, None).await;
    // A group's scope holds only the group roles, whoever assigns: refused as an invalid scope.
    for (what, principal, role, scope) in [
        ("Global Administrator for itself", owner_id, role::GLOBAL_ADMINISTRATOR, gs.clone()),
        ("Owner for alice", alice, role::OWNER, gs.clone()),
        ("Privileged Role Administrator for itself", owner_id, role::PRIVILEGED_ROLE_ADMINISTRATOR, gs.clone()),
        ("a custom role below the group", alice, ops, format!("{gs}/x")),
    ] {
        let what = format!("the owner of g assigns {what} at {scope}");
        let before = db.snapshot().await;
        match owner.create_request(&assign_req(principal, role, &scope, AssignmentKind::Active)).await {
            Ok(v) => panic!("{what} must be refused, but succeeded: {v:?}"),
            Err(e) => assert_eq!(e.code(), Some("invalid_scope"), "{what}: {e}"),
        }
        let (changes, _) = db.changes_since(&before).await;
        assert!(changes.is_empty(), "{what} was refused but changed {changes:?}");
        let by_admin = s.admin.create_request(&assign_req(principal, role, &scope, AssignmentKind::Active)).await;
        assert_eq!(by_admin.err().and_then(|e| e.code().map(str::to_owned)).as_deref(), Some("invalid_scope"));
    }
    // Whatever it may assign, it never gets to change the group's policy.
    let settings = RoleSettings { require_mfa_on_activation: false, ..Default::default() };
    refused!(db, "the owner of g changes Member's settings", owner.put_settings("Member", &sp(&gs), &settings));
    s.stop().await;
}

/// Callers who may not read the directory (or a resource) get the same answer whether or not the
/// name or id they ask about exists, so they cannot enumerate user names.
async fn outsiders_cannot_tell_which_names_exist(b: Backend) {
    let s = TestServer::start(&b).await;
    let raw = Raw::new(&s);
    s.user("alice").await;
    let g = s.group("g").await;
    let res = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "a".into(), kind: "db".into() })
        .await
        .expect("resource");
    let (_, nobody) = s.user("nobody-special").await;
    let tok = nobody.token();
    let unknown = uuid::Uuid::now_v7();
    let check = |p: &str| Body::Json(json!({"principal": p, "action": "ops.read", "scope": "/"}));
    let pairs = [
        ("GET", "/api/v1/principals/alice".to_owned(), "/api/v1/principals/mallory".to_owned(), Body::Empty),
        ("GET", format!("/api/v1/groups/{g}"), format!("/api/v1/groups/{unknown}"), Body::Empty),
        ("GET", format!("/api/v1/resources/{}", res.id), format!("/api/v1/resources/{unknown}"), Body::Empty),
        ("GET", "/api/v1/audit?actor=alice".to_owned(), "/api/v1/audit?actor=mallory".to_owned(), Body::Empty),
    ];
    let mut differ = Vec::new();
    for (m, known, missing, body) in pairs {
        let m = Method::from_bytes(m.as_bytes()).expect("method");
        let a = raw.send(&m, &known, tok, &body).await;
        let b = raw.send(&m, &missing, tok, &body).await;
        if a.status != b.status || a.code() != b.code() {
            differ.push(format!("{m} {known} -> {}, {missing} -> {}", a.brief(), b.brief()));
        }
    }
    let a = raw.send(&Method::POST, "/api/v1/check", tok, &check("alice")).await;
    let b = raw.send(&Method::POST, "/api/v1/check", tok, &check("mallory")).await;
    if a.status != b.status {
        differ.push(format!("POST /api/v1/check about alice -> {}, about mallory -> {}", a.brief(), b.brief()));
    }
    assert!(differ.is_empty(), "existence leaks to a caller without read rights:\n{}", differ.join("\n"));
    s.stop().await;
}

/// Asserts `call` is a read refused as `forbidden`, that it changed nothing, and that the refusal
/// is in the audit history as `access.denied`.
macro_rules! read_refused {
    ($db:expr, $what:expr, $call:expr) => {{
        let before = $db.snapshot().await;
        match $call.await {
            Ok(v) => panic!("{} must be refused (403), but succeeded: {v:?}", $what),
            Err(e) => assert_eq!(e.status(), Some(403), "{} must be refused with 403: {e}", $what),
        }
        let (changes, _) = $db.changes_since(&before).await;
        assert!(changes.is_empty(), "{} was refused but changed {changes:?}", $what);
        let events = $db.events_since(&before).await;
        assert!(
            events.iter().any(|e| e.action == "access.denied"
                && e.outcome == "failure"
                && e.error_code.as_deref() == Some("forbidden")),
            "{} is not audited as access.denied: {events:?}",
            $what
        );
    }};
}

/// The ids of the reviews `c` lists.
async fn listed_reviews(c: &Client) -> Vec<ReviewId> {
    c.list_reviews().await.expect("list reviews").items.iter().map(|r| r.id).collect()
}

/// Access reviews are authorized at their target's scope (roles: their scope; a group's
/// membership: `/groups/{id}`): Security Administrator at `/a` manages a review of `/a/b` and
/// nothing at `/`, `/c` or a group's scope; Security Reader at `/a` reads there and writes nothing.
/// Refusals change nothing; read refusals are audited as `access.denied`.
async fn reviews_follow_their_target_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let g = s.group("g").await;
    let h = s.group("h").await;
    s.admin.add_member(g, victim).await.expect("member of g");
    s.admin.add_member(h, victim).await.expect("member of h");
    let (sa_id, sa) = s.user("secadmin").await;
    let (sr_id, sr) = s.user("secreader").await;
    let (root_sa_id, root_sa) = s.user("rootsec").await;
    let (go_id, go) = s.user("groupowner").await;
    s.assign(sa_id, role::SECURITY_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    s.assign(sr_id, role::SECURITY_READER, "/a", AssignmentKind::Active, None).await;
    s.assign(root_sa_id, role::SECURITY_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    // Only the group roles are held at /groups/{id}: the Owner of g manages its membership, not
    // its reviews, which need pim.reviews.write at /groups/{g} (held at / only).
    s.assign(go_id, role::GROUP_OWNER, &format!("/groups/{g}"), AssignmentKind::Active, None).await;
    let in_ab = s.assign(victim, ops, "/a/b/x", AssignmentKind::Eligible, None).await;
    s.assign(victim, ops, "/x", AssignmentKind::Eligible, None).await;
    let by_admin = selected(&[s.admin_id]);
    let at = |scope: &str| review_of(&format!("at {scope}"), ops, scope, by_admin.clone());
    let of_group = |group: PrincipalId| CreateReview {
        target: ReviewTarget::GroupMembership { group_id: group },
        ..review_of("membership", ops, "/", by_admin.clone())
    };

    // Creating.
    let ab = sa.create_review(&at("/a/b")).await.expect("Security Administrator@/a reviews /a/b").id;
    for scope in ["/", "/c", "/ab"] {
        refused!(db, format!("Security Administrator@/a reviews {scope}"), sa.create_review(&at(scope)));
    }
    refused!(db, "Security Administrator@/a reviews g's membership", sa.create_review(&of_group(g)));
    refused!(db, "Owner of g reviews g's membership", go.create_review(&of_group(g)));
    let gr = root_sa.create_review(&of_group(g)).await.expect("Security Administrator@/ reviews g").id;
    refused!(db, "Security Reader@/a reviews /a/b", sr.create_review(&at("/a/b")));
    let (root, root_i) = start_review(&s, &at("/")).await;
    let (hr, hr_i) = start_review(&s, &of_group(h)).await;
    assert_eq!(listed_reviews(&root_sa).await.len(), 4, "Security Administrator@/ lists every review");
    let (ab_i, gr_i) = (first_instance(&s, ab).await, first_instance(&s, gr).await);
    assert_eq!(s.admin.review_results(ab_i).await.expect("results").items.len(), 1, "/a/b/x is reviewed");

    // Reading: where the role is held, and nowhere else; the list hides the rest.
    for (who, c) in [("Security Administrator@/a", &sa), ("Security Reader@/a", &sr)] {
        c.get_review(ab).await.unwrap_or_else(|e| panic!("{who} reads the review of /a/b: {e}"));
        c.get_review_instance(ab_i).await.unwrap_or_else(|e| panic!("{who} reads its instance: {e}"));
        c.review_results(ab_i).await.unwrap_or_else(|e| panic!("{who} reads its results: {e}"));
        c.review_results_file(ab_i, ExportFormat::Csv).await.unwrap_or_else(|e| panic!("{who} gets the CSV: {e}"));
        assert_eq!(listed_reviews(c).await, vec![ab], "{who} lists the review of /a/b only");
        read_refused!(db, format!("{who} reads the review of /"), c.get_review(root));
        read_refused!(db, format!("{who} reads the instance of /"), c.get_review_instance(root_i));
        read_refused!(db, format!("{who} reads the results of /"), c.review_results(root_i));
        read_refused!(db, format!("{who} gets the CSV of /"), c.review_results_file(root_i, ExportFormat::Csv));
        read_refused!(db, format!("{who} reads the review of g"), c.get_review(gr));
        read_refused!(db, format!("{who} reads the results of g"), c.review_results(gr_i));
    }
    read_refused!(db, "Owner of g reads g's review", go.get_review(gr));
    read_refused!(db, "Owner of g reads g's instance", go.get_review_instance(gr_i));
    read_refused!(db, "Owner of g reads h's results", go.review_results(hr_i));
    assert!(listed_reviews(&go).await.is_empty(), "the Owner of g lists no review");

    // Writing: not at /, nor for another group, nor as a reader.
    refused!(db, "Security Administrator@/a resets at /", sa.reset_review_instance(root_i));
    refused!(db, "Security Administrator@/a stops the instance at /", sa.stop_review_instance(root_i));
    refused!(db, "Security Administrator@/a stops the review at /", sa.stop_review(root));
    refused!(db, "Security Administrator@/a stops h's review", sa.stop_review(hr));
    refused!(db, "Owner of g resets g's instance", go.reset_review_instance(gr_i));
    refused!(db, "Owner of g stops g's instance", go.stop_review_instance(gr_i));
    refused!(db, "Owner of g stops g's review", go.stop_review(gr));
    s.admin.stop_review_instance(root_i).await.expect("the administrator completes the instance at /");
    refused!(db, "Security Administrator@/a applies at /", sa.apply_review_instance(root_i));
    refused!(db, "Security Reader@/a resets at /a/b", sr.reset_review_instance(ab_i));
    refused!(db, "Security Reader@/a stops the instance at /a/b", sr.stop_review_instance(ab_i));
    refused!(db, "Security Reader@/a stops the review at /a/b", sr.stop_review(ab));
    // At /a/b the Security Administrator resets, stops and applies; the denied access is removed by
    // the review's authority, though the Security Administrator may not remove it directly.
    refused!(db, "Security Administrator@/a removes directly", sa.create_request(&remove_req(in_ab.id)));
    let item = item_of(&s, ab_i, victim).await;
    let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("not needed".into()) };
    s.admin.decide_review_item(ab_i, item, &deny).await.expect("the administrator reviews");
    sa.reset_review_instance(ab_i).await.expect("Security Administrator@/a resets at /a/b");
    s.admin.decide_review_item(ab_i, item, &deny).await.expect("the administrator reviews again");
    sa.stop_review_instance(ab_i).await.expect("Security Administrator@/a stops the instance at /a/b");
    refused!(db, "Security Reader@/a applies at /a/b", sr.apply_review_instance(ab_i));
    let applied = sa.apply_review_instance(ab_i).await.expect("Security Administrator@/a applies at /a/b");
    assert_eq!(applied.status, InstanceStatus::Applied);
    let after = s.admin.get_assignment(in_ab.id).await.expect("assignment");
    assert!(!after.is_current(s.engine.now()), "applying removed the denied access: {after:?}");
    sa.stop_review(ab).await.expect("Security Administrator@/a stops the review at /a/b");
    root_sa.stop_review(gr).await.expect("Security Administrator@/ stops g's review");
    s.stop().await;
}

/// Deciding needs no permission but a place among the item's reviewers (directly or through a
/// group, as it is now), and nobody decides their own access unless the review is a self-review.
/// A refused decision is all or nothing, changes nothing and is audited as `not_reviewer`.
async fn only_an_items_reviewers_decide_it(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (alice, alice_c) = s.user("alice").await;
    let (bob, bob_c) = s.user("bob").await;
    let (_, carl_c) = s.user("carl").await;
    let (ga_id, ga) = s.user("ga").await;
    s.assign(ga_id, role::GLOBAL_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let team = s.group("reviewers").await;
    s.admin.add_member(team, bob).await.expect("bob reviews through the group");
    s.assign(alice, ops, "/d/a", AssignmentKind::Eligible, None).await;
    s.assign(bob, ops, "/d/b", AssignmentKind::Eligible, None).await;
    let by_team = Reviewers::Selected { reviewers: vec![ApproverRef { kind: PrincipalKind::Group, id: team }] };
    let (_, i) = start_review(&s, &review_of("by the team", ops, "/d", by_team)).await;
    let (a_item, b_item) = (item_of(&s, i, alice).await, item_of(&s, i, bob).await);
    let decide = |verdict| DecideReviewItem { verdict, reason: Some("checked".into()) };
    let bulk = |ids: Vec<ReviewItemId>, verdict| DecideReviewItems {
        item_ids: Some(ids),
        verdict: Some(verdict),
        accept_recommendations: false,
        reason: Some("checked".into()),
    };
    macro_rules! not_reviewer {
        ($what:expr, $call:expr) => {{
            let before = db.snapshot().await;
            let e = $call.await.map(|_| ()).expect_err($what);
            assert_eq!((e.status(), e.code()), (Some(403), Some("not_reviewer")), "{}: {e}", $what);
            let (changes, _) = db.changes_since(&before).await;
            assert!(changes.is_empty(), "{} was refused but changed {changes:?}", $what);
            let events = db.events_since(&before).await;
            assert!(
                events.iter().any(|e| e.action == "review.decided"
                    && e.outcome == "failure"
                    && e.error_code.as_deref() == Some("not_reviewer")),
                "{} is not audited: {events:?}",
                $what
            );
        }};
    }

    bob_c.decide_review_item(i, a_item, &decide(Verdict::Approve)).await.expect("bob reviews through the group");
    not_reviewer!("bob decides his own access", bob_c.decide_review_item(i, b_item, &decide(Verdict::Approve)));
    not_reviewer!(
        "bob decides alice's and his own together",
        bob_c.decide_review_items(i, &bulk(vec![a_item, b_item], Verdict::Deny))
    );
    let kept = item_of(&s, i, alice).await;
    let results = s.admin.review_results(i).await.expect("results").items;
    let a_decision = results.iter().find(|x| x.id == kept).and_then(|x| x.decision.as_ref()).map(|d| d.verdict);
    assert_eq!(a_decision, Some(Verdict::Approve), "the refused bulk decision left alice's item as it was");
    not_reviewer!("carl is not a reviewer", carl_c.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    not_reviewer!("alice decides her own access", alice_c.decide_review_item(i, a_item, &decide(Verdict::Approve)));
    not_reviewer!("a Global Administrator is not a reviewer", ga.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    not_reviewer!(
        "the administrator is not a reviewer",
        s.admin.decide_review_items(i, &bulk(vec![a_item], Verdict::Deny))
    );
    // Without item ids, a caller decides the undecided items it reviews: an outsider reviews none.
    let all = DecideReviewItems { item_ids: None, ..bulk(vec![], Verdict::Deny) };
    not_reviewer!("carl decides all of his items (he has none)", carl_c.decide_review_items(i, &all));
    // The reviewers' list is of now: out of the group, bob reviews no more.
    assert_eq!(bob_c.my_reviews().await.expect("mine").items.len(), 1, "bob has alice's item to review");
    assert!(carl_c.my_reviews().await.expect("mine").items.is_empty(), "carl has nothing to review");
    s.admin.remove_member(team, bob).await.expect("remove bob");
    not_reviewer!("bob, out of the group", bob_c.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    assert!(bob_c.my_reviews().await.expect("mine").items.is_empty(), "bob has nothing to review any more");
    // A self-review: each user decides their own access, and nobody else's.
    s.assign(alice, ops, "/e/a", AssignmentKind::Eligible, None).await;
    let (_, si) = start_review(&s, &review_of("self", ops, "/e", Reviewers::SelfReview)).await;
    let own = item_of(&s, si, alice).await;
    alice_c.decide_review_item(si, own, &decide(Verdict::Approve)).await.expect("alice reviews her own access");
    not_reviewer!("bob decides alice's self-review", bob_c.decide_review_item(si, own, &decide(Verdict::Deny)));
    not_reviewer!(
        "the administrator decides alice's self-review",
        s.admin.decide_review_item(si, own, &decide(Verdict::Deny))
    );
    s.stop().await;
}

/// Contributor is "everything but access management" (SPEC section 3) and may not remove an
/// assignment. Applying a review removes the access its reviewers denied by the review's own
/// authority, so `pim.reviews.write` is access management too: found by this test when Contributor
/// still held it (a Contributor named itself reviewer, denied, applied, and the assignment was gone).
async fn contributors_cannot_remove_access_through_a_review(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (contrib_id, contrib) = s.user("contrib").await;
    s.assign(contrib_id, role::CONTRIBUTOR, "/", AssignmentKind::Active, None).await;
    let a = s.assign(victim, ops, "/x", AssignmentKind::Eligible, None).await;
    refused!(db, "Contributor removes the assignment directly", contrib.create_request(&remove_req(a.id)));
    let review = review_of("cleanup", ops, "/x", selected(&[contrib_id]));
    let through_review = async {
        let def = contrib.create_review(&review).await?;
        let i = contrib.get_review(def.id).await?.instances[0].id;
        let item = contrib.review_results(i).await?.items[0].id;
        let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("gone".into()) };
        contrib.decide_review_item(i, item, &deny).await?;
        contrib.stop_review_instance(i).await?;
        contrib.apply_review_instance(i).await
    }
    .await;
    let after = s.admin.get_assignment(a.id).await.expect("assignment");
    assert!(
        after.is_current(s.engine.now()),
        "a Contributor, which may not remove access, removed {} through an access review: {through_review:?}",
        a.id,
    );
    let refused_with = through_review.as_ref().err().and_then(ClientError::status);
    assert_eq!(refused_with, Some(403), "refused as forbidden: {through_review:?}");
    s.stop().await;
}

crate::backend_tests!(
    every_endpoint_with_every_role,
    reviews_follow_their_target_scope,
    only_an_items_reviewers_decide_it,
    contributors_cannot_remove_access_through_a_review,
    scopes_bound_what_a_role_allows,
    security_reader_reads_but_never_writes,
    group_owners_manage_their_group_only,
    rights_follow_the_assignment_window,
);

/// Like `backend_tests!`, for tests of bugs found and fixed; each names the bug it guards against.
#[macro_export]
macro_rules! regression_tests {
    ($($name:ident => $why:literal),* $(,)?) => {
        mod regressions {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[doc = $why]
                    async fn $name() {
                        super::super::$name($crate::harness::Backend::Sqlite).await
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    #[doc = $why]
                    async fn $name() {
                        if let Some(b) = $crate::harness::postgres() {
                            super::super::$name(b).await
                        }
                    }
                )*
            }
        }
    };
}

crate::regression_tests!(
    group_owners_cannot_grant_other_roles_at_their_group =>
        "guards: Owner of group holds pim.assignments.* at /groups/{id}, so it can assign any role there \
         (e.g. Global Administrator to itself) and then change the Member role's settings",
    outsiders_cannot_tell_which_names_exist =>
        "guards: lookups answer 404 for unknown names/ids before authorizing, 403 for known ones",
);
