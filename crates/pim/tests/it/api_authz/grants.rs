//! What a holder of each built-in role may do in pim, written by hand from SPEC section 3.

pub(super) const DIRECTORY_READ: &str = "pim.directory.read";
pub(super) const DIRECTORY_WRITE: &str = "pim.directory.write";
pub(super) const SCOPES_READ: &str = "pim.scopes.read";
pub(super) const SCOPES_WRITE: &str = "pim.scopes.write";
pub(super) const ROLES_READ: &str = "pim.roles.read";
pub(super) const ROLES_WRITE: &str = "pim.roles.write";
pub(super) const SETTINGS_READ: &str = "pim.settings.read";
pub(super) const SETTINGS_WRITE: &str = "pim.settings.write";
pub(super) const ASSIGNMENTS_READ: &str = "pim.assignments.read";
pub(super) const ASSIGNMENTS_WRITE: &str = "pim.assignments.write";
pub(super) const REQUESTS_READ: &str = "pim.requests.read";
pub(super) const REQUESTS_APPROVE: &str = "pim.requests.approve";
pub(super) const AUDIT_READ: &str = "pim.audit.read";
pub(super) const CHECK_READ: &str = "pim.check.read";
pub(super) const TOKENS_READ: &str = "pim.tokens.read";
pub(super) const TOKENS_WRITE: &str = "pim.tokens.write";
pub(super) const NOTIFICATIONS_READ: &str = "pim.notifications.read";
pub(super) const REPORTS_READ: &str = "pim.reports.read";
pub(super) const ALERTS_READ: &str = "pim.alerts.read";
pub(super) const ALERTS_WRITE: &str = "pim.alerts.write";
pub(super) const REVIEWS_READ: &str = "pim.reviews.read";
pub(super) const REVIEWS_WRITE: &str = "pim.reviews.write";
pub(super) const ACTIVITY_REPORT: &str = "pim.activity.report";

/// Every read action of API.md's table: what "read everything" means.
pub(super) const READS: &[&str] = &[
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

/// "Access management" (what Contributor may not do): granting access and managing identities, and
/// reporting use (the evidence reviews keep access on).
pub(super) const ACCESS_MANAGEMENT: &[&str] = &[
    ASSIGNMENTS_WRITE,
    SETTINGS_WRITE,
    ROLES_WRITE,
    REQUESTS_APPROVE,
    DIRECTORY_WRITE,
    TOKENS_WRITE,
    REVIEWS_WRITE,
    ACTIVITY_REPORT,
];

pub(super) fn all_actions() -> Vec<&'static str> {
    let mut v = READS.to_vec();
    v.extend([DIRECTORY_WRITE, SCOPES_WRITE, ROLES_WRITE, SETTINGS_WRITE, ASSIGNMENTS_WRITE, REQUESTS_APPROVE]);
    v.push(TOKENS_WRITE);
    v.push(ALERTS_WRITE);
    v.push(REVIEWS_WRITE);
    v.push(ACTIVITY_REPORT);
    v
}

/// What a holder of each built-in role at `/` may do in pim, written from SPEC section 3 (not read
/// from the server's role definitions). The group roles are held at a group's scope, so at `/` they
/// grant nothing.
pub(super) fn expected_grants(role_name: &str) -> Option<Vec<&'static str>> {
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
        // A registered system: reports activity, and nothing else.
        "Activity Reporter" => vec![ACTIVITY_REPORT],
        // Held at /groups/{id}: nothing at `/`.
        "Member" | "Owner of group" => vec![],
        _ => return None,
    })
}
