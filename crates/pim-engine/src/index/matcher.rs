//! Role permissions pre-split into segments, matched against an action split once per check.
//!
//! Same answers as [`Permissions::allows`] (a property test holds them together); actions it cannot
//! split (an empty segment, more than `MAX_ACTION_SEGMENTS` segments) are handed to it instead.

use pim_domain::permission::{MAX_ACTION_SEGMENTS, Permissions};

/// A role's permissions, with each pattern split into segments.
#[derive(Debug)]
pub(super) struct CompiledRole {
    perms: Permissions,
    actions: Vec<Box<[Seg]>>,
    not_actions: Vec<Box<[Seg]>>,
}

#[derive(Debug)]
enum Seg {
    /// `*`: one or more whole segments.
    Star,
    Lit(Box<str>),
}

fn compile(patterns: &[pim_domain::Pattern]) -> Vec<Box<[Seg]>> {
    patterns
        .iter()
        .map(|p| p.as_str().split('.').map(|s| if s == "*" { Seg::Star } else { Seg::Lit(s.into()) }).collect())
        .collect()
}

impl CompiledRole {
    pub(super) fn new(perms: Permissions) -> CompiledRole {
        CompiledRole { actions: compile(&perms.actions), not_actions: compile(&perms.not_actions), perms }
    }

    pub(super) fn permissions(&self) -> &Permissions {
        &self.perms
    }

    /// Whether the role allows the action.
    pub(super) fn allows(&self, action: &Action<'_>) -> bool {
        match action.segments() {
            Some(a) => self.actions.iter().any(|p| matches(p, a)) && !self.not_actions.iter().any(|p| matches(p, a)),
            None => self.perms.allows(action.text),
        }
    }
}

/// An action split at its dots, on the stack.
#[derive(Debug)]
pub(super) struct Action<'a> {
    text: &'a str,
    segs: [&'a str; MAX_ACTION_SEGMENTS],
    /// Number of segments; `None` when the action cannot be split (see the module doc).
    n: Option<usize>,
}

impl<'a> Action<'a> {
    pub(super) fn new(text: &'a str) -> Action<'a> {
        let mut segs = [""; MAX_ACTION_SEGMENTS];
        let mut n = Some(0);
        for (i, s) in text.split('.').enumerate() {
            match segs.get_mut(i) {
                Some(slot) if !s.is_empty() => {
                    *slot = s;
                    n = Some(i + 1);
                }
                _ => {
                    n = None;
                    break;
                }
            }
        }
        Action { text, segs, n }
    }

    fn segments(&self) -> Option<&[&'a str]> {
        self.segs.get(..self.n?)
    }
}

fn matches(p: &[Seg], a: &[&str]) -> bool {
    match p.split_first() {
        None => a.is_empty(),
        Some((Seg::Star, rest)) => (1..=a.len()).any(|k| matches(rest, a.get(k..).unwrap_or_default())),
        Some((Seg::Lit(l), rest)) => a.split_first().is_some_and(|(h, t)| **l == **h && matches(rest, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "ab"]), 1..5).prop_map(|v| v.join("."))
    }

    proptest! {
        #[test]
        fn agrees_with_the_domain(
            actions in prop::collection::vec(pattern(), 1..3),
            not in prop::collection::vec(pattern(), 0..2),
            action in prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "ab", ""]), 0..12)
                .prop_map(|v| v.join(".")),
        ) {
            let a: Vec<&str> = actions.iter().map(String::as_str).collect();
            let n: Vec<&str> = not.iter().map(String::as_str).collect();
            let perms = Permissions::from_literals(&a, &n);
            let want = perms.allows(&action);
            prop_assert_eq!(CompiledRole::new(perms).allows(&Action::new(&action)), want, "{}", action);
        }
    }

    #[test]
    fn odd_actions_fall_back_to_the_domain() {
        let role = CompiledRole::new(Permissions::from_literals(&["*", "a.*"], &[]));
        for action in ["", ".", "a.", ".a", "a..b", "a.b.c.d.e.f.g.h.i.j.k"] {
            assert_eq!(role.allows(&Action::new(action)), role.permissions().allows(action), "{action:?}");
        }
        assert!(role.allows(&Action::new("a.b.c.d.e.f.g.h.i.j")));
    }
}
