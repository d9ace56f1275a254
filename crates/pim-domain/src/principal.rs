//! Principals: users, groups and service principals.

use serde::{Deserialize, Serialize};

use crate::ids::{PrincipalId, ResourceId, ScimClientId, TokenId};
use crate::scope::ScopePath;
use crate::time::Timestamp;

/// What kind of principal an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    /// A person.
    User,
    /// A group of users and groups.
    Group,
    /// A non-human caller; may hold time-bound active assignments only.
    ServicePrincipal,
}

impl PrincipalKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::ServicePrincipal => "servicePrincipal",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<PrincipalKind> {
        match s {
            "user" => Some(PrincipalKind::User),
            "group" => Some(PrincipalKind::Group),
            "servicePrincipal" => Some(PrincipalKind::ServicePrincipal),
            _ => None,
        }
    }
}

/// A user, group or service principal, as stored. Which fields matter depends on `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The principal's id.
    pub id: PrincipalId,
    /// User, group or service principal.
    pub kind: PrincipalKind,
    /// Unique name (case-insensitive across all principals): a user name, group name or client name.
    pub name: String,
    /// Name for people.
    pub display_name: String,
    /// Email address (users; optional for groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Free text (groups and service principals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The user's manager (another user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<PrincipalId>,
    /// Disabled principals hold nothing and cannot sign in.
    pub enabled: bool,
    /// A break-glass account (users only).
    pub emergency_access: bool,
    /// Last successful sign-in (users and service principals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// A registered SCIM client: an identity provider that provisions users and groups through
/// `/scim/v2` with its bearer secret (shown once, stored as a hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScimClient {
    /// The client's id.
    pub id: ScimClientId,
    /// Its unique name (e.g. `entra`), shown in the audit history as `scim client NAME`.
    pub name: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// Who registered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<PrincipalId>,
    /// When it was revoked, if it was (its secret no longer works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// When it was last used (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
}

/// A registered resource: a named, typed node of the scope tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// The resource's id.
    pub id: ResourceId,
    /// Its scope path (unique).
    pub scope: ScopePath,
    /// Display name.
    pub name: String,
    /// Type, e.g. `subscription`, `postgres.database`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// An API token's metadata (the secret itself is shown once and stored only as a hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// The token's id.
    pub id: TokenId,
    /// Whom it authenticates.
    pub principal_id: PrincipalId,
    /// A label.
    pub name: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// When it was last used (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// When the session holding this token last passed MFA (a TOTP or recovery code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<Timestamp>,
}

impl ApiToken {
    /// Whether it authenticates at `now`.
    pub fn is_valid(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Longest principal name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// Validates a user, group or service principal name: 1-128 characters of letters, digits and `. _ - @ +`.
pub fn validate_name(name: &str) -> Result<(), crate::DomainError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(crate::DomainError::invalid(format!("name '{name}' must be 1-{MAX_NAME_LEN} letters, digits or . _ - @ +")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in [PrincipalKind::User, PrincipalKind::Group, PrincipalKind::ServicePrincipal] {
            assert_eq!(PrincipalKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PrincipalKind::parse("robot"), None);
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("alice").is_ok());
        assert!(validate_name("alice@example.com").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&"a".repeat(129)).is_err());
    }
}
