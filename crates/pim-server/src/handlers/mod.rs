//! Route table: every `/api/v1` endpoint, the health probes, and (from `crate::scim`) `/scim/v2`.

pub mod activity;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod check;
pub mod connectors;
pub mod directory;
pub mod mfa;
pub mod notifications;
pub mod oidc;
pub mod policy;
pub mod reports;
pub mod requests;
pub mod resources;
pub mod reviews;
pub mod roles;
pub mod scim_clients;
pub mod ssh;
pub mod system;
pub mod tokens;

use axum::Router;
use axum::routing::{get, post, put};

use crate::AppState;

/// The small body limit of the routes anyone may call without a token.
fn anonymous_body() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(crate::ANONYMOUS_BODY_LIMIT)
}

/// Every route of the server: the public ones, and the others behind the bearer token check,
/// which runs before any extractor or handler.
pub fn routes(state: &AppState) -> Router<AppState> {
    public()
        .merge(authenticated().route_layer(crate::bearer::RequireBearerLayer::new(state.clone())))
        .merge(crate::scim::routes(state))
}

/// The operations of [`public`], as the OpenAPI document names them (a test keeps both equal).
pub const PUBLIC_OPERATIONS: [(&str, &str); 15] = [
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/setup"),
    ("post", "/api/v1/setup"),
    ("post", "/api/v1/auth/login"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/api/v1/ssh/ca.pub"),
    ("get", "/api/v1/auth/oidc"),
    ("post", "/api/v1/auth/oidc/{name}/start"),
    ("post", "/api/v1/auth/oidc/{name}/finish"),
    ("post", "/api/v1/auth/oidc/{name}/device"),
    ("post", "/api/v1/auth/oidc/{name}/device/poll"),
];

/// The routes anyone may call without a token (the only such list).
fn public() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/api/v1/openapi.json", get(system::openapi_json))
        .route("/api/v1/setup", get(auth::get_setup).post(auth::create_setup).layer(anonymous_body()))
        .route("/api/v1/auth/login", post(auth::login).layer(anonymous_body()))
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/.well-known/oauth-authorization-server", get(tokens::oauth_metadata))
        .route("/api/v1/ssh/ca.pub", get(ssh::get_ssh_ca).layer(anonymous_body()))
        .route("/api/v1/auth/oidc", get(oidc::list_oidc_providers))
        .route("/api/v1/auth/oidc/{name}/start", post(oidc::start_oidc).layer(anonymous_body()))
        .route("/api/v1/auth/oidc/{name}/finish", post(oidc::finish_oidc).layer(anonymous_body()))
        .route("/api/v1/auth/oidc/{name}/device", post(oidc::start_oidc_device).layer(anonymous_body()))
        .route("/api/v1/auth/oidc/{name}/device/poll", post(oidc::poll_oidc_device).layer(anonymous_body()))
}

/// The routes that need a valid bearer token.
fn authenticated() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::get_me))
        .route("/api/v1/tokens", get(auth::list_tokens).post(auth::create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(auth::revoke_token))
        .route("/api/v1/tokens/introspect", post(tokens::introspect_token))
        .route("/api/v1/audiences", get(tokens::list_audiences).post(tokens::create_audience))
        .route(
            "/api/v1/audiences/{id_or_name}",
            get(tokens::get_audience).patch(tokens::update_audience).delete(tokens::delete_audience),
        )
        .route("/api/v1/keys", get(tokens::list_keys))
        .route("/api/v1/keys/rotate", post(tokens::rotate_keys))
        .route("/api/v1/principals/{id_or_name}", get(directory::get_principal))
        .route("/api/v1/principals/{id_or_name}/provisioning", get(connectors::principal_provisioning))
        .route("/api/v1/me/provisioning", get(connectors::my_provisioning))
        .route("/api/v1/connectors", get(connectors::list_connectors))
        .route("/api/v1/connectors/{name}/reconcile", post(connectors::reconcile_connector))
        .route("/api/v1/connectors/{name}/credential", post(connectors::take_connector_credential))
        .route("/api/v1/users", get(directory::list_users).post(directory::create_user))
        .route("/api/v1/users/{id}", get(directory::get_user).patch(directory::update_user))
        .route("/api/v1/groups", get(directory::list_groups).post(directory::create_group))
        .route("/api/v1/groups/{id}", get(directory::get_group).patch(directory::update_group))
        .route("/api/v1/groups/{id}/members", get(directory::list_members))
        .route("/api/v1/groups/{id}/members/{member_id}", put(directory::add_member).delete(directory::remove_member))
        .route(
            "/api/v1/service-principals",
            get(directory::list_service_principals).post(directory::create_service_principal),
        )
        .route(
            "/api/v1/service-principals/{id}",
            get(directory::get_service_principal).patch(directory::update_service_principal),
        )
        .route("/api/v1/resources", get(resources::list_resources).post(resources::create_resource))
        .route(
            "/api/v1/resources/{id}",
            get(resources::get_resource).patch(resources::update_resource).delete(resources::delete_resource),
        )
        .route("/api/v1/scopes/validate", post(resources::validate_scope))
        .route("/api/v1/roles", get(roles::list_roles).post(roles::create_role))
        .route("/api/v1/roles/{id_or_name}", get(roles::get_role).put(roles::update_role).delete(roles::delete_role))
        .route(
            "/api/v1/roles/{id_or_name}/settings",
            get(roles::get_settings).put(roles::put_settings).delete(roles::delete_settings),
        )
        .route("/api/v1/settings", get(roles::list_settings))
        .route("/api/v1/policy/export", get(policy::export_policy))
        .route("/api/v1/policy/plan", post(policy::plan_policy))
        .route("/api/v1/policy/apply", post(policy::apply_policy))
        .route("/api/v1/assignments", get(requests::list_assignments))
        .route("/api/v1/assignments/{id}", get(requests::get_assignment))
        .route("/api/v1/assignments/{id}/provisioning", get(connectors::assignment_provisioning))
        .route("/api/v1/assignments/{id}/activity", get(activity::assignment_activity))
        .route("/api/v1/activity", post(activity::report_activity))
        .route("/api/v1/requests", get(requests::list_requests).post(requests::create_request))
        .route("/api/v1/requests/{id}", get(requests::get_request))
        .route("/api/v1/requests/{id}/cancel", post(requests::cancel_request))
        .route("/api/v1/requests/{id}/approve", post(approvals::approve_request))
        .route("/api/v1/requests/{id}/deny", post(approvals::deny_request))
        .route("/api/v1/approvals", get(approvals::list_approvals).post(approvals::decide_requests))
        .route("/api/v1/settings-changes", get(approvals::list_settings_changes))
        .route("/api/v1/settings-changes/{id}", get(approvals::get_settings_change))
        .route("/api/v1/settings-changes/{id}/approve", post(approvals::approve_settings_change))
        .route("/api/v1/settings-changes/{id}/deny", post(approvals::deny_settings_change))
        .route("/api/v1/settings-changes/{id}/cancel", post(approvals::cancel_settings_change))
        .route("/api/v1/break-glass-reviews", get(approvals::list_break_glass_reviews))
        .route("/api/v1/break-glass-reviews/{id}/complete", post(approvals::complete_break_glass_review))
        .route("/api/v1/check", post(check::check))
        .route("/api/v1/check/batch", post(check::check_batch))
        .route("/api/v1/audit", get(audit::list_audit))
        .route("/api/v1/audit/export", get(audit::export_audit))
        .route("/api/v1/audit/verify", post(audit::verify_audit))
        .route("/api/v1/me/mfa", get(mfa::get_mfa))
        .route("/api/v1/me/mfa/totp", post(mfa::enroll_totp))
        .route("/api/v1/me/mfa/totp/confirm", post(mfa::confirm_totp))
        .route("/api/v1/me/mfa/recovery-codes", post(mfa::regenerate_recovery_codes))
        .route("/api/v1/auth/mfa", post(mfa::verify_mfa))
        .route("/api/v1/users/{id}/mfa", axum::routing::delete(mfa::reset_mfa))
        .route("/api/v1/notifications", get(notifications::list_notifications))
        .route("/api/v1/me/audit", get(audit::my_audit))
        .route("/api/v1/reports/access", get(reports::access_report))
        .route("/api/v1/reports/activations", get(reports::activation_report))
        .route("/api/v1/alert-rules", get(alerts::list_alert_rules))
        .route("/api/v1/alert-rules/{id}", put(alerts::update_alert_rule))
        .route("/api/v1/alerts", get(alerts::list_alerts))
        .route("/api/v1/alerts/evaluate", post(alerts::evaluate_alerts))
        .route("/api/v1/alerts/{id}", get(alerts::get_alert))
        .route("/api/v1/alerts/{id}/dismiss", post(alerts::dismiss_alert))
        .route("/api/v1/alerts/{id}/remediate", post(alerts::remediate_alert))
        .route("/api/v1/reviews", get(reviews::list_reviews).post(reviews::create_review))
        .route("/api/v1/reviews/{id}", get(reviews::get_review).patch(reviews::update_review))
        .route("/api/v1/reviews/{id}/stop", post(reviews::stop_review))
        .route("/api/v1/review-instances/{id}", get(reviews::get_review_instance))
        .route("/api/v1/review-instances/{id}/items", get(reviews::list_review_items))
        .route("/api/v1/review-instances/{id}/reset", post(reviews::reset_review_instance))
        .route("/api/v1/review-instances/{id}/stop", post(reviews::stop_review_instance))
        .route("/api/v1/review-instances/{id}/apply", post(reviews::apply_review_instance))
        .route("/api/v1/review-instances/{id}/decisions", post(reviews::decide_review_items))
        .route("/api/v1/review-instances/{id}/items/{item_id}/decision", post(reviews::decide_review_item))
        .route("/api/v1/me/reviews", get(reviews::my_reviews))
        .route("/api/v1/ssh/certificates", post(ssh::issue_ssh_certificate))
        .route("/api/v1/scim/clients", get(scim_clients::list_scim_clients).post(scim_clients::create_scim_client))
        .route("/api/v1/scim/clients/{id_or_name}", axum::routing::delete(scim_clients::revoke_scim_client))
}
