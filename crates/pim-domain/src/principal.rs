//! Principals: users, groups and service principals.

use serde::{Deserialize, Serialize};

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
