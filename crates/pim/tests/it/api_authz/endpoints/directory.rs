//! The directory, scopes and resources, roles and settings.

use serde_json::json;

use super::{Ep, Need, ep, req};
use crate::api_authz::grants::*;
use crate::api_authz::world::{RowFx, World};

pub(super) fn rows(w: &World, r: &RowFx) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let ops = w.ops;
    vec![
        // SCIM clients (the registration API; /scim/v2 itself takes only their secrets).
        ep("GET", "/api/v1/scim/clients", "", "/api/v1/scim/clients", None, Act(DIRECTORY_READ), 200),
        ep(
            "POST",
            "/api/v1/scim/clients",
            "",
            "/api/v1/scim/clients",
            req(json!({"name": format!("idp{i}")})),
            Act(DIRECTORY_WRITE),
            201,
        )
        .write(),
        ep(
            "DELETE",
            "/api/v1/scim/clients/{idOrName}",
            "",
            format!("/api/v1/scim/clients/idp{i}"),
            None,
            Act(DIRECTORY_WRITE),
            200,
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
        ep(
            "PATCH",
            "/api/v1/resources/{id}",
            "",
            format!("/api/v1/resources/{}", r.res_upd),
            req(json!({"name": format!("Renamed {i}")})),
            Act(SCOPES_WRITE),
            200,
        )
        .write(),
        ep(
            "DELETE",
            "/api/v1/resources/{id}",
            "",
            format!("/api/v1/resources/{}", r.res_del),
            None,
            Act(SCOPES_WRITE),
            200,
        )
        .write(),
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
        // Declarative policy: export and plan read roles, the directory, settings and assignments
        // (every holder of pim.assignments.read holds the other three), and for `/` alert rules
        // (every holder of pim.alerts.read holds all four); apply needs, besides, the permission of
        // each change it makes (here settings at /pol{i}).
        ep("GET", "/api/v1/policy/export", "", "/api/v1/policy/export", None, Act(ALERTS_READ), 200),
        ep(
            "POST",
            "/api/v1/policy/plan",
            "",
            "/api/v1/policy/plan",
            req(json!({"policy": policy_file(i)})),
            Act(ASSIGNMENTS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/policy/apply",
            "",
            "/api/v1/policy/apply",
            req(json!({"policy": policy_file(i)})),
            Act(SETTINGS_WRITE),
            200,
        )
        .write(),
    ]
}

/// A policy file of the row's own: settings of Ops at /pol{i}.
fn policy_file(i: usize) -> String {
    format!(
        "version = 1\nscope = \"/pol{i}\"\n\n[[settings]]\nrole = \"Ops\"\nscope = \"/pol{i}\"\nactivationMaxMinutes = 90\n"
    )
}
