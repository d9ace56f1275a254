//! The actions by which pim authorizes its own API, checked with the same roles at the scope concerned.

/// Read users, groups and service principals (at `/`).
pub const DIRECTORY_READ: &str = "pim.directory.read";
/// Create, update and disable users, groups, memberships and service principals (at `/`).
pub const DIRECTORY_WRITE: &str = "pim.directory.write";
/// List scopes and resources (at the scope).
pub const SCOPES_READ: &str = "pim.scopes.read";
/// Register resources (at the resource's scope).
pub const SCOPES_WRITE: &str = "pim.scopes.write";
/// Read role definitions (at `/`).
pub const ROLES_READ: &str = "pim.roles.read";
/// Create, change and delete custom roles (at `/`).
pub const ROLES_WRITE: &str = "pim.roles.write";
/// Read role settings (at the scope).
pub const SETTINGS_READ: &str = "pim.settings.read";
/// Change role settings (at the scope).
pub const SETTINGS_WRITE: &str = "pim.settings.write";
/// Read assignments (at the scope).
pub const ASSIGNMENTS_READ: &str = "pim.assignments.read";
/// Make admin requests: assign, update, remove, extend, renew (at the scope).
pub const ASSIGNMENTS_WRITE: &str = "pim.assignments.write";
/// Read other principals' requests (at the scope).
pub const REQUESTS_READ: &str = "pim.requests.read";
/// Approve or deny requests at the scope (used from the approvals issue on).
pub const REQUESTS_APPROVE: &str = "pim.requests.approve";
/// Read the audit history (events at or below the scope).
pub const AUDIT_READ: &str = "pim.audit.read";
/// Ask the check API about other principals (at `/`).
pub const CHECK_READ: &str = "pim.check.read";
/// List other principals' API tokens (at `/`).
pub const TOKENS_READ: &str = "pim.tokens.read";
/// Issue and revoke tokens of service principals and other users (at `/`).
pub const TOKENS_WRITE: &str = "pim.tokens.write";

/// Read the delivery status of notifications (at `/`).
pub const NOTIFICATIONS_READ: &str = "pim.notifications.read";

/// Read reports: who holds what, activation history (at the scope reported on).
pub const REPORTS_READ: &str = "pim.reports.read";
/// Read security alerts and alert rules (at `/`).
pub const ALERTS_READ: &str = "pim.alerts.read";
/// Change alert rules, evaluate, dismiss and remediate alerts (at `/`).
pub const ALERTS_WRITE: &str = "pim.alerts.write";

/// Read access review definitions, instances and results (at the review's scope).
pub const REVIEWS_READ: &str = "pim.reviews.read";
/// Create, stop, reset and apply access reviews (at the review's scope; for a group's membership,
/// at `/groups/{id}`). Applying removes the access its reviewers denied.
pub const REVIEWS_WRITE: &str = "pim.reviews.write";

/// Report what principals did in a system (`POST /api/v1/activity`, at `/`): the only action of
/// the Activity Reporter role.
pub const ACTIVITY_REPORT: &str = "pim.activity.report";

/// Every action pim checks on its own API.
pub const ALL: &[&str] = &[
    DIRECTORY_READ,
    DIRECTORY_WRITE,
    SCOPES_READ,
    SCOPES_WRITE,
    ROLES_READ,
    ROLES_WRITE,
    SETTINGS_READ,
    SETTINGS_WRITE,
    ASSIGNMENTS_READ,
    ASSIGNMENTS_WRITE,
    REQUESTS_READ,
    REQUESTS_APPROVE,
    AUDIT_READ,
    CHECK_READ,
    TOKENS_READ,
    TOKENS_WRITE,
    NOTIFICATIONS_READ,
    REPORTS_READ,
    ALERTS_READ,
    ALERTS_WRITE,
    REVIEWS_READ,
    REVIEWS_WRITE,
    ACTIVITY_REPORT,
];
