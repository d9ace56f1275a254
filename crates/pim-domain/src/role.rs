//! Role definitions, built-in and custom.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorKind};
use crate::ids::RoleId;
use crate::permission::Permissions;

/// A role: a named set of permissions that can be assigned at a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// The role's id (fixed for built-in roles).
    pub id: RoleId,
    /// Unique name.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Built-in roles cannot be edited or deleted.
    pub builtin: bool,
    /// What the role allows.
    pub permissions: Permissions,
}

const fn builtin_id(n: u128) -> RoleId {
    RoleId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0000 | n))
}

/// Global Administrator: everything, at its scope.
pub const GLOBAL_ADMINISTRATOR: RoleId = builtin_id(1);
/// Privileged Role Administrator: roles, settings, assignments and requests.
pub const PRIVILEGED_ROLE_ADMINISTRATOR: RoleId = builtin_id(2);
/// Security Administrator: alerts and reviews; reads everything in pim.
pub const SECURITY_ADMINISTRATOR: RoleId = builtin_id(3);
/// Security Reader: reads everything in pim.
pub const SECURITY_READER: RoleId = builtin_id(4);
/// Owner: everything at its scope, including access management.
pub const OWNER: RoleId = builtin_id(5);
/// User Access Administrator: manages assignments at its scope.
pub const USER_ACCESS_ADMINISTRATOR: RoleId = builtin_id(6);
/// Contributor: everything but access management.
pub const CONTRIBUTOR: RoleId = builtin_id(7);
/// Reader: reads everything at its scope.
pub const READER: RoleId = builtin_id(8);
/// Access Checker: may ask the check API about any principal.
pub const ACCESS_CHECKER: RoleId = builtin_id(9);
/// Group Member: membership of the group whose scope (`/groups/{id}`) it is assigned at.
pub const GROUP_MEMBER: RoleId = builtin_id(10);
/// Group Owner: manages the membership of the group whose scope it is assigned at.
pub const GROUP_OWNER: RoleId = builtin_id(11);
/// Activity Reporter: a registered system that reports what principals did (nothing else).
pub const ACTIVITY_REPORTER: RoleId = builtin_id(12);

/// The actions access management consists of (excluded from Contributor).
const ACCESS_MANAGEMENT: &[&str] = &[
    "pim.assignments.write",
    "pim.settings.write",
    "pim.roles.write",
    "pim.requests.approve",
    "pim.directory.write",
    "pim.tokens.write",
    // Applying an access review removes the access its reviewers denied.
    "pim.reviews.write",
    // Reported use is the evidence access reviews keep access on.
    "pim.activity.report",
];

/// The built-in roles of SPEC section 3, plus the two group roles of "PIM for groups".
pub fn builtin_roles() -> Vec<RoleDefinition> {
    let r = |id, name: &str, description: &str, actions: &[&str], not: &[&str]| RoleDefinition {
        id,
        name: name.to_owned(),
        description: description.to_owned(),
        builtin: true,
        permissions: Permissions::from_literals(actions, not),
    };
    vec![
        r(GLOBAL_ADMINISTRATOR, "Global Administrator", "Everything, at its scope.", &["*"], &[]),
        r(
            PRIVILEGED_ROLE_ADMINISTRATOR,
            "Privileged Role Administrator",
            "Manages role definitions, role settings, all assignments and requests; approves by default.",
            &["pim.roles.*", "pim.settings.*", "pim.assignments.*", "pim.requests.*", "pim.*.read"],
            &[],
        ),
        r(
            SECURITY_ADMINISTRATOR,
            "Security Administrator",
            "Manages alerts and access reviews; reads everything in pim.",
            &["pim.alerts.*", "pim.reviews.*", "pim.*.read"],
            &[],
        ),
        r(
            SECURITY_READER,
            "Security Reader",
            "Reads assignments, requests, alerts, reviews and the audit history.",
            &["pim.*.read"],
            &[],
        ),
        r(OWNER, "Owner", "Everything at its scope, including managing assignments there.", &["*"], &[]),
        r(
            USER_ACCESS_ADMINISTRATOR,
            "User Access Administrator",
            "Manages assignments at its scope.",
            &[
                "pim.assignments.*",
                "pim.requests.*",
                "pim.roles.read",
                "pim.settings.read",
                "pim.scopes.read",
                "pim.directory.read",
            ],
            &[],
        ),
        r(CONTRIBUTOR, "Contributor", "Everything but access management, at its scope.", &["*"], ACCESS_MANAGEMENT),
        r(READER, "Reader", "Reads everything at its scope.", &["*.read"], &[]),
        r(ACCESS_CHECKER, "Access Checker", "Asks the check API about any principal.", &["pim.check.read"], &[]),
        r(GROUP_MEMBER, "Member", "Membership of the group at whose scope (/groups/{id}) it is assigned.", &[], &[]),
        r(
            GROUP_OWNER,
            "Owner of group",
            "Manages the membership of the group at whose scope it is assigned.",
            &["pim.assignments.*", "pim.requests.read"],
            &[],
        ),
        r(
            ACTIVITY_REPORTER,
            "Activity Reporter",
            "A registered system: reports what principals did during their activations, and nothing else.",
            &["pim.activity.report"],
            &[],
        ),
    ]
}

/// Longest role name.
pub const MAX_ROLE_NAME_LEN: usize = 128;
/// Longest role description.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Most patterns in a permission list.
pub const MAX_PATTERNS: usize = 100;

/// Validates the editable parts of a custom role.
pub fn validate_custom(name: &str, description: &str, permissions: &Permissions) -> Result<(), DomainError> {
    let name_ok = !name.trim().is_empty() && name.len() <= MAX_ROLE_NAME_LEN && !name.chars().any(char::is_control);
    if !name_ok {
        return Err(DomainError::invalid(format!("role name must be 1-{MAX_ROLE_NAME_LEN} printable characters")));
    }
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(DomainError::invalid(format!("role description must be at most {MAX_DESCRIPTION_LEN} bytes")));
    }
    if permissions.actions.len() > MAX_PATTERNS || permissions.not_actions.len() > MAX_PATTERNS {
        return Err(DomainError::new(
            ErrorKind::InvalidAction,
            format!("a role has at most {MAX_PATTERNS} actions and {MAX_PATTERNS} excluded actions"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions;
    use std::collections::HashSet;

    fn role(id: RoleId) -> RoleDefinition {
        builtin_roles().into_iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no role {id}"))
    }

    #[test]
    fn builtin_ids_and_names_are_unique() {
        let roles = builtin_roles();
        let ids: HashSet<_> = roles.iter().map(|r| r.id).collect();
        let names: HashSet<_> = roles.iter().map(|r| r.name.to_lowercase()).collect();
        assert_eq!(ids.len(), roles.len());
        assert_eq!(names.len(), roles.len());
        for r in &roles {
            for p in r.permissions.actions.iter().chain(&r.permissions.not_actions) {
                assert!(crate::Pattern::parse(p.as_str()).is_ok(), "{}: {p}", r.name);
            }
        }
    }

    #[test]
    fn builtin_roles_grant_what_spec_says() {
        let allows = |id, a| role(id).permissions.allows(a);
        for a in actions::ALL {
            assert!(allows(GLOBAL_ADMINISTRATOR, a));
            assert!(allows(OWNER, a));
        }
        assert!(allows(SECURITY_READER, actions::AUDIT_READ));
        assert!(!allows(SECURITY_READER, actions::ASSIGNMENTS_WRITE));
        assert!(allows(USER_ACCESS_ADMINISTRATOR, actions::ASSIGNMENTS_WRITE));
        assert!(!allows(USER_ACCESS_ADMINISTRATOR, actions::SETTINGS_WRITE));
        assert!(!allows(CONTRIBUTOR, actions::ASSIGNMENTS_WRITE));
        assert!(!allows(CONTRIBUTOR, actions::REVIEWS_WRITE), "reviews remove access");
        assert!(allows(CONTRIBUTOR, actions::REVIEWS_READ));
        assert!(allows(CONTRIBUTOR, "storage.blobs.write"));
        assert!(allows(READER, "storage.blobs.read"));
        assert!(!allows(READER, "storage.blobs.write"));
        assert!(allows(PRIVILEGED_ROLE_ADMINISTRATOR, actions::SETTINGS_WRITE));
        assert!(!allows(PRIVILEGED_ROLE_ADMINISTRATOR, actions::DIRECTORY_WRITE));
        assert!(!allows(PRIVILEGED_ROLE_ADMINISTRATOR, "storage.blobs.read"));
        assert!(allows(ACCESS_CHECKER, actions::CHECK_READ));
        assert!(!allows(ACCESS_CHECKER, actions::AUDIT_READ));
        assert!(allows(ACTIVITY_REPORTER, actions::ACTIVITY_REPORT));
        assert!(!allows(CONTRIBUTOR, actions::ACTIVITY_REPORT), "reported use keeps access in reviews");
        for a in actions::ALL.iter().filter(|a| **a != actions::ACTIVITY_REPORT) {
            assert!(!allows(ACTIVITY_REPORTER, a), "the reporter may only report, not {a}");
        }
    }
}
