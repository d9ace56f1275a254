//! Scope paths: `/` is the whole directory, `/a/b/c` a node in the tree below it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::PrincipalId;

/// Longest scope path accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 512;
/// Deepest scope path accepted, in segments.
pub const MAX_SCOPE_DEPTH: usize = 16;
/// Longest segment accepted, in bytes.
pub const MAX_SEGMENT_LEN: usize = 128;

/// Why a scope path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope must not be empty")]
    Empty,
    #[error("scope '{0}' must start with '/'")]
    NotAbsolute(String),
    #[error("scope '{0}' has an empty segment (a doubled or trailing '/')")]
    EmptySegment(String),
    #[error("scope '{0}' has a '.' or '..' segment")]
    DotSegment(String),
    #[error("scope segment '{0}' has a character outside letters, digits and - _ . : @ ~")]
    BadCharacter(String),
    #[error("scope is longer than {MAX_SCOPE_LEN} bytes")]
    TooLong,
    #[error("scope is deeper than {MAX_SCOPE_DEPTH} segments")]
    TooDeep,
    #[error("scope segment is longer than {MAX_SEGMENT_LEN} bytes")]
    SegmentTooLong,
}

/// A validated scope path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "/subscriptions/prod"))]
pub struct ScopePath(String);

fn segment_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '~')
}

impl ScopePath {
    /// The root scope `/`.
    pub fn root() -> ScopePath {
        ScopePath("/".to_owned())
    }

    /// Validates `s` as a scope path.
    pub fn parse(s: &str) -> Result<ScopePath, ScopeError> {
        ScopePath::validate(s)?;
        Ok(ScopePath(s.to_owned()))
    }

    /// Whether `s` is a scope path, as [`ScopePath::parse`] decides, without making one (no copy of `s`).
    pub fn validate(s: &str) -> Result<(), ScopeError> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if s.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        if !s.starts_with('/') {
            return Err(ScopeError::NotAbsolute(s.to_owned()));
        }
        if s == "/" {
            return Ok(());
        }
        let mut depth = 0;
        for seg in s[1..].split('/') {
            depth += 1;
            if seg.is_empty() {
                return Err(ScopeError::EmptySegment(s.to_owned()));
            }
            if seg == "." || seg == ".." {
                return Err(ScopeError::DotSegment(s.to_owned()));
            }
            if seg.len() > MAX_SEGMENT_LEN {
                return Err(ScopeError::SegmentTooLong);
            }
            if !seg.chars().all(segment_char_ok) {
                return Err(ScopeError::BadCharacter(seg.to_owned()));
            }
        }
        if depth > MAX_SCOPE_DEPTH {
            return Err(ScopeError::TooDeep);
        }
        Ok(())
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Whether `self` is `other` or one of its ancestors (so an assignment at `self` applies at `other`).
    pub fn contains(&self, other: &ScopePath) -> bool {
        scope_contains(&self.0, &other.0)
    }

    /// The parent scope, or `None` for `/`.
    pub fn parent(&self) -> Option<ScopePath> {
        if self.is_root() {
            return None;
        }
        match self.0.rfind('/') {
            Some(0) => Some(ScopePath::root()),
            Some(i) => Some(ScopePath(self.0[..i].to_owned())),
            None => None,
        }
    }

    /// This scope and every ancestor, nearest first, ending with `/`.
    pub fn self_and_ancestors(&self) -> Vec<ScopePath> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while let Some(p) = cur.parent() {
            out.push(p.clone());
            cur = p;
        }
        out
    }

    /// Number of segments (`/` has 0).
    pub fn depth(&self) -> usize {
        if self.is_root() { 0 } else { self.0.matches('/').count() }
    }

    /// The scope of a group, where its `Member` and `Owner` roles are assigned.
    pub fn for_group(group: PrincipalId) -> ScopePath {
        ScopePath(format!("/groups/{group}"))
    }

    /// The group whose scope this is, if it is one (`/groups/{id}`).
    pub fn group(&self) -> Option<PrincipalId> {
        let rest = self.0.strip_prefix("/groups/")?;
        if rest.contains('/') {
            return None;
        }
        rest.parse().ok()
    }
}

/// Whether the scope `outer` is `inner` or an ancestor of it, on raw strings (no allocation).
pub fn scope_contains(outer: &str, inner: &str) -> bool {
    outer == "/"
        || (inner.len() >= outer.len()
            && inner.starts_with(outer)
            && (inner.len() == outer.len() || inner.as_bytes()[outer.len()] == b'/'))
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopePath({})", self.0)
    }
}

impl FromStr for ScopePath {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScopePath::parse(s)
    }
}

impl Serialize for ScopePath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScopePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopePath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepts_valid_paths() {
        for s in
            ["/", "/a", "/subscriptions/prod/resourceGroups/db", "/k8s/prod/namespaces/pay-ments_1", "/a/b.c/d:e@f~g"]
        {
            assert_eq!(p(s).as_str(), s);
        }
    }

    #[test]
    fn refuses_invalid_paths_with_a_reason() {
        assert_eq!(ScopePath::parse(""), Err(ScopeError::Empty));
        assert!(matches!(ScopePath::parse("a/b"), Err(ScopeError::NotAbsolute(_))));
        assert!(matches!(ScopePath::parse("/a//b"), Err(ScopeError::EmptySegment(_))));
        assert!(matches!(ScopePath::parse("/a/"), Err(ScopeError::EmptySegment(_))));
        assert!(matches!(ScopePath::parse("/a/../b"), Err(ScopeError::DotSegment(_))));
        assert!(matches!(ScopePath::parse("/a/./b"), Err(ScopeError::DotSegment(_))));
        assert!(matches!(ScopePath::parse("/a b"), Err(ScopeError::BadCharacter(_))));
        assert_eq!(ScopePath::parse(&format!("/{}", "a".repeat(600))), Err(ScopeError::TooLong));
        assert_eq!(ScopePath::parse(&"/a".repeat(17)), Err(ScopeError::TooDeep));
        assert!(ScopePath::parse(&"/a".repeat(16)).is_ok());
        assert_eq!(ScopePath::parse(&format!("/{}", "a".repeat(129))), Err(ScopeError::SegmentTooLong));
    }

    #[test]
    fn validate_decides_as_parse_does() {
        let deep = "/a".repeat(17);
        let long = format!("/{}", "a".repeat(600));
        for s in ["", "/", "/a/b", "a/b", "/a//b", "/a/", "/a/../b", "/a b", deep.as_str(), long.as_str()] {
            assert_eq!(ScopePath::validate(s), ScopePath::parse(s).map(|_| ()), "{s}");
        }
    }

    #[test]
    fn containment_respects_segment_boundaries() {
        assert!(p("/").contains(&p("/a/b")));
        assert!(p("/a").contains(&p("/a")));
        assert!(p("/a").contains(&p("/a/b")));
        assert!(!p("/a").contains(&p("/ab")));
        assert!(!p("/a/b").contains(&p("/a")));
        assert!(!p("/c").contains(&p("/a/b")));
    }

    #[test]
    fn parents_and_ancestors() {
        assert_eq!(p("/a/b").parent(), Some(p("/a")));
        assert_eq!(p("/a").parent(), Some(p("/")));
        assert_eq!(p("/").parent(), None);
        assert_eq!(p("/a/b").self_and_ancestors(), vec![p("/a/b"), p("/a"), p("/")]);
        assert_eq!(p("/a/b").depth(), 2);
        assert_eq!(p("/").depth(), 0);
    }

    #[test]
    fn group_scopes_round_trip() {
        let g = PrincipalId::new();
        assert_eq!(ScopePath::for_group(g).group(), Some(g));
        assert_eq!(p("/groups").group(), None);
        assert_eq!(p("/groups/x/y").group(), None);
    }

    proptest! {
        #[test]
        fn every_ancestor_contains_the_scope(segs in proptest::collection::vec("[a-z0-9]{1,6}", 0..8)) {
            let s = if segs.is_empty() { "/".to_owned() } else { format!("/{}", segs.join("/")) };
            let scope = p(&s);
            for a in scope.self_and_ancestors() {
                prop_assert!(a.contains(&scope));
            }
            prop_assert_eq!(scope.self_and_ancestors().len(), scope.depth() + 1);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = ScopePath::parse(&s);
        }
    }
}
