//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the wire types.

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers::{
    activity, alerts, approvals, audit, auth, check, connectors, directory, mfa, notifications, oidc, policy, reports,
    requests, resources, reviews, roles, scim_clients, ssh, system, tokens,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "pim", description = "Privileged Identity Management: eligible and just-in-time role assignments, checks and audit."),
    modifiers(&BearerAuth),
    paths(
        system::healthz, system::readyz, system::openapi_json, crate::metrics::metrics,
        auth::get_setup, auth::create_setup, auth::login, auth::logout, auth::get_me,
        auth::list_tokens, auth::create_token, auth::revoke_token,
        oidc::list_oidc_providers, oidc::start_oidc, oidc::finish_oidc, oidc::start_oidc_device,
        oidc::poll_oidc_device,
        directory::get_principal, directory::list_users, directory::create_user, directory::get_user, directory::update_user,
        directory::list_groups, directory::create_group, directory::get_group, directory::update_group,
        directory::list_members, directory::add_member, directory::remove_member,
        directory::list_service_principals, directory::create_service_principal,
        directory::get_service_principal, directory::update_service_principal,
        resources::list_resources, resources::create_resource, resources::get_resource, resources::update_resource,
        resources::delete_resource, resources::validate_scope,
        roles::list_roles, roles::create_role, roles::get_role, roles::update_role, roles::delete_role,
        roles::get_settings, roles::put_settings, roles::delete_settings, roles::list_settings,
        policy::export_policy, policy::plan_policy, policy::apply_policy,
        requests::list_assignments, requests::get_assignment, requests::create_request,
        requests::list_requests, requests::get_request, requests::cancel_request,
        approvals::approve_request, approvals::deny_request, approvals::list_approvals, approvals::decide_requests,
        approvals::list_settings_changes, approvals::get_settings_change, approvals::approve_settings_change,
        approvals::deny_settings_change, approvals::cancel_settings_change,
        approvals::list_break_glass_reviews, approvals::complete_break_glass_review,
        check::check,
        check::check_batch,
        connectors::list_connectors, connectors::reconcile_connector, connectors::take_connector_credential,
        connectors::assignment_provisioning, connectors::principal_provisioning, connectors::my_provisioning,
        audit::list_audit, audit::export_audit, audit::verify_audit, audit::my_audit,
        mfa::get_mfa, mfa::enroll_totp, mfa::confirm_totp, mfa::regenerate_recovery_codes, mfa::verify_mfa,
        mfa::reset_mfa,
        notifications::list_notifications,
        reports::access_report, reports::activation_report,
        alerts::list_alert_rules, alerts::update_alert_rule, alerts::list_alerts, alerts::evaluate_alerts,
        alerts::get_alert, alerts::dismiss_alert, alerts::remediate_alert,
        reviews::create_review, reviews::list_reviews, reviews::get_review, reviews::update_review,
        reviews::stop_review,
        reviews::get_review_instance, reviews::list_review_items, reviews::reset_review_instance,
        reviews::stop_review_instance, reviews::apply_review_instance, reviews::decide_review_items,
        reviews::decide_review_item, reviews::my_reviews,
        tokens::jwks, tokens::oauth_metadata, tokens::introspect_token,
        tokens::list_audiences, tokens::create_audience, tokens::get_audience, tokens::update_audience,
        tokens::delete_audience, tokens::list_keys, tokens::rotate_keys,
        ssh::get_ssh_ca, ssh::issue_ssh_certificate,
        activity::report_activity, activity::assignment_activity,
        scim_clients::list_scim_clients, scim_clients::create_scim_client, scim_clients::revoke_scim_client,
    ),
    components(schemas(pim_api::Problem, pim_api::ExportFormat))
)]
pub struct ApiDoc;

/// The document as pretty JSON (built once).
pub fn document_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        crate::openapi_refusals::complete(&mut doc);
        crate::openapi_limits::complete(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every (method, path) the router serves, read from the route table's source.
    fn routed() -> BTreeSet<(String, String)> {
        let src = include_str!("handlers/mod.rs");
        let mut out = BTreeSet::new();
        for chunk in src.split(".route(").skip(1) {
            let path = chunk.split('"').nth(1).unwrap_or_default().replace(['{', '}'], "");
            let path = to_camel_params(&path);
            let call = &chunk[..chunk.find(")\n").unwrap_or(chunk.len())];
            for m in ["get", "post", "put", "patch", "delete"] {
                if call.contains(&format!("{m}(")) || call.contains(&format!(".{m}(")) {
                    out.insert((m.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    fn to_camel_params(path: &str) -> String {
        // Router params are snake_case (`member_id`, `id_or_name`); the document uses camelCase.
        path.split('/')
            .map(|seg| {
                let mut s = String::new();
                let mut up = false;
                for c in seg.chars() {
                    if c == '_' {
                        up = true;
                    } else if up {
                        s.extend(c.to_uppercase());
                        up = false;
                    } else {
                        s.push(c);
                    }
                }
                s
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("valid JSON");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in item.as_object().expect("item").keys() {
                out.insert((m.clone(), path.replace(['{', '}'], "")));
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routed = routed();
        assert!(routed.len() > 40, "the route table was read: {routed:?}");
        assert_eq!(routed, documented());
    }

    #[test]
    fn the_public_routes_are_the_public_operations() {
        let src = include_str!("handlers/mod.rs");
        let table = &src[src.find("fn public()").expect("public")..src.find("fn authenticated()").expect("rest")];
        let mut routed = BTreeSet::new();
        for chunk in table.split(".route(").skip(1) {
            let path = chunk.split('"').nth(1).unwrap_or_default();
            for m in ["get", "post", "put", "patch", "delete"] {
                if chunk.contains(&format!("{m}(")) {
                    routed.insert((m.to_owned(), path.to_owned()));
                }
            }
        }
        let listed: BTreeSet<_> =
            crate::handlers::PUBLIC_OPERATIONS.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        assert_eq!(routed, listed);
    }

    #[test]
    fn every_refusal_is_a_documented_problem() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("valid JSON");
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let public = crate::handlers::PUBLIC_OPERATIONS.contains(&(method.as_str(), path.as_str()));
                let r = &op["responses"];
                let mut want = Vec::new();
                if !public {
                    want.push("401");
                    if op["security"] != serde_json::json!([{ "bearer": [] }]) {
                        missing.push(format!("{method} {path}: no bearer security"));
                    }
                }
                if path.contains('{') {
                    want.push("404");
                }
                if op.get("requestBody").is_some() {
                    want.extend(["400", "413", "415"]);
                }
                for status in want {
                    if r.get(status).is_none() {
                        missing.push(format!("{method} {path}: no {status}"));
                    }
                }
                for (status, answer) in r.as_object().expect("responses") {
                    if status.as_str() >= "400"
                        && answer["content"].get(crate::openapi_refusals::PROBLEM_JSON).is_none()
                    {
                        missing.push(format!("{method} {path}: {status} is not problem+json"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    /// The property names `schema` allows at the top level (its own, and its `oneOf`/`allOf` parts').
    fn property_names(doc: &serde_json::Value, schema: &serde_json::Value) -> BTreeSet<String> {
        let schema = match schema["$ref"].as_str() {
            Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
            None => schema,
        };
        let mut out: BTreeSet<String> =
            schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        for part in ["oneOf", "allOf", "anyOf"] {
            for s in schema[part].as_array().into_iter().flatten() {
                out.extend(property_names(doc, s));
            }
        }
        out
    }

    #[test]
    fn wire_names_are_the_documented_names() {
        use pim_domain::review::{ReviewEnd, ReviewTarget, Reviewers};
        use pim_domain::{PrincipalId, RoleId, ScopePath};
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("valid JSON");
        let scope = ScopePath::parse("/a").expect("scope");
        let approver =
            pim_domain::settings::ApproverRef { kind: pim_domain::PrincipalKind::User, id: PrincipalId::new() };
        let examples: Vec<(&str, serde_json::Value)> = vec![
            ("ReviewTarget", serde_json::json!(ReviewTarget::Roles { role_ids: vec![RoleId::new()], scope })),
            ("ReviewTarget", serde_json::json!(ReviewTarget::GroupMembership { group_id: PrincipalId::new() })),
            ("Reviewers", serde_json::json!(Reviewers::Managers { fallback: vec![approver.clone()] })),
            ("Reviewers", serde_json::json!(Reviewers::Selected { reviewers: vec![approver] })),
            ("ReviewEnd", serde_json::json!(ReviewEnd::AfterOccurrences { count: 2 })),
        ];
        for (name, value) in examples {
            let documented = property_names(&doc, &doc["components"]["schemas"][name]);
            for key in value.as_object().expect("an object").keys() {
                assert!(documented.contains(key), "{name}: '{key}' is sent but not documented ({documented:?})");
            }
        }
    }

    #[test]
    fn the_document_is_deliberate() {
        // A change to the API shows up here; review it, then accept with `INSTA_UPDATE=always`.
        insta::assert_snapshot!("openapi", document_json());
    }
}
