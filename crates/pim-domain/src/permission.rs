//! Actions (`storage.blobs.read`), wildcard patterns (`storage.*`, `*.read`, `*`) and permission sets.
//!
//! A `*` segment in a pattern matches one or more whole segments of an action.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest action or pattern accepted, in bytes.
pub const MAX_ACTION_LEN: usize = 200;
/// Most segments in an action or pattern.
pub const MAX_ACTION_SEGMENTS: usize = 10;
/// Most questions in one batch check.
pub const MAX_BATCH_CHECKS: usize = 1000;

/// Why an action or pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("action '{0}' is not dot-separated segments of letters, digits, '-' and '_'")]
    Syntax(String),
    #[error("action is longer than {MAX_ACTION_LEN} bytes or has more than {MAX_ACTION_SEGMENTS} segments")]
    TooLong,
}

fn validate(s: &str, wildcard: bool) -> Result<(), ActionError> {
    if s.len() > MAX_ACTION_LEN {
        return Err(ActionError::TooLong);
    }
    let mut n = 0;
    for seg in s.split('.') {
        n += 1;
        let ok = (wildcard && seg == "*")
            || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !ok {
            return Err(ActionError::Syntax(s.to_owned()));
        }
    }
    if n > MAX_ACTION_SEGMENTS {
        return Err(ActionError::TooLong);
    }
    Ok(())
}

/// A concrete action such as `pim.assignments.write`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "storage.blobs.read"))]
pub struct ActionName(String);

impl ActionName {
    /// Validates an action name (no wildcards).
    pub fn parse(s: &str) -> Result<ActionName, ActionError> {
        validate(s, false).map(|()| ActionName(s.to_owned()))
    }
    /// The action as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `action` is a syntactically valid action name (no wildcards, no allocation).
pub fn is_valid_action(action: &str) -> bool {
    validate(action, false).is_ok()
}

/// A pattern over actions; `*` segments match one or more segments.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "storage.*"))]
pub struct Pattern(String);

impl Pattern {
    /// Validates a pattern.
    pub fn parse(s: &str) -> Result<Pattern, ActionError> {
        validate(s, true).map(|()| Pattern(s.to_owned()))
    }
    /// The pattern as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether the pattern matches `action`.
    pub fn matches(&self, action: &str) -> bool {
        pattern_matches(&self.0, action)
    }
}

/// Matches `pattern` against `action` segment by segment, without allocating.
pub fn pattern_matches(pattern: &str, action: &str) -> bool {
    if pattern == "*" {
        return !action.is_empty();
    }
    let (p_head, p_rest) = split_first(pattern);
    if p_head == "*" {
        // `*` consumes one or more leading segments of the action.
        let Some(p_rest) = p_rest else { return !action.is_empty() };
        let mut rest = action;
        while let (_, Some(after)) = split_first(rest) {
            if pattern_matches(p_rest, after) {
                return true;
            }
            rest = after;
        }
        return false;
    }
    let (a_head, a_rest) = split_first(action);
    if p_head != a_head {
        return false;
    }
    match (p_rest, a_rest) {
        (None, None) => true,
        (Some(p), Some(a)) => pattern_matches(p, a),
        _ => false,
    }
}

fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.find('.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// What a role allows: actions matched by any of `actions` and none of `not_actions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permissions {
    /// Patterns of allowed actions.
    pub actions: Vec<Pattern>,
    /// Patterns of actions excluded even when `actions` match.
    #[serde(default)]
    pub not_actions: Vec<Pattern>,
}

impl Permissions {
    /// Builds a permission set from pattern strings (for built-in roles); panics on a bad literal.
    pub fn from_literals(actions: &[&str], not_actions: &[&str]) -> Permissions {
        let conv = |v: &[&str]| v.iter().map(|s| Pattern(s.to_string())).collect();
        Permissions { actions: conv(actions), not_actions: conv(not_actions) }
    }

    /// Whether `action` is allowed.
    pub fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|p| p.matches(action)) && !self.not_actions.iter().any(|p| p.matches(action))
    }
}

macro_rules! string_serde {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $t::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(ActionName);
string_serde!(Pattern);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards_match_whole_segments() {
        assert!(pattern_matches("*", "storage.blobs.read"));
        assert!(pattern_matches("storage.*", "storage.blobs.read"));
        assert!(pattern_matches("storage.*", "storage.blobs"));
        assert!(!pattern_matches("storage.*", "storage"));
        assert!(!pattern_matches("storage.*", "storagex.blobs"));
        assert!(pattern_matches("*.read", "storage.blobs.read"));
        assert!(pattern_matches("*.read", "pim.audit.read"));
        assert!(!pattern_matches("*.read", "read"));
        assert!(!pattern_matches("*.read", "pim.audit.readx"));
        assert!(pattern_matches("pim.*.read", "pim.users.read"));
        assert!(!pattern_matches("pim.*.read", "pim.users.write"));
        assert!(pattern_matches("storage.blobs.read", "storage.blobs.read"));
        assert!(!pattern_matches("storage.blobs.read", "storage.blobs.read.all"));
        assert!(!pattern_matches("storage.blobs", "storage.blobs.read"));
    }

    #[test]
    fn excluded_actions_win() {
        let p = Permissions::from_literals(&["*"], &["pim.assignments.write"]);
        assert!(p.allows("pim.assignments.read"));
        assert!(!p.allows("pim.assignments.write"));
        assert!(!Permissions::default().allows("x"));
    }

    #[test]
    fn syntax_is_validated() {
        assert!(ActionName::parse("storage.blobs.read").is_ok());
        assert!(ActionName::parse("storage.*").is_err());
        assert!(ActionName::parse("storage..read").is_err());
        assert!(ActionName::parse("").is_err());
        assert!(ActionName::parse("a b").is_err());
        assert!(Pattern::parse("storage.*").is_ok());
        assert!(Pattern::parse("st*rage").is_err());
        assert_eq!(ActionName::parse("a.".repeat(11).trim_end_matches('.')), Err(ActionError::TooLong));
    }

    proptest! {
        #[test]
        fn a_literal_pattern_matches_only_itself(a in "[a-z]{1,3}(\\.[a-z]{1,3}){0,3}", b in "[a-z]{1,3}(\\.[a-z]{1,3}){0,3}") {
            prop_assert_eq!(pattern_matches(&a, &b), a == b);
        }

        #[test]
        fn prefix_wildcard_matches_every_extension(a in "[a-z]{1,3}(\\.[a-z]{1,3}){0,3}", ext in "[a-z]{1,3}(\\.[a-z]{1,3}){0,2}") {
            let pat = format!("{a}.*");
            let action = format!("{a}.{ext}");
            prop_assert!(pattern_matches(&pat, &action));
            prop_assert!(!pattern_matches(&pat, &a));
        }
    }
}
