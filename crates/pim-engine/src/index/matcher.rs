//! Role permissions compiled for fast matching: every literal pattern segment is interned as a
//! `u32`, a check maps the action's segments to those ids once, and a match then compares
//! integers.
//!
//! Same answers as [`Permissions::allows`] (a property test holds them together); an action it
//! cannot split (an empty segment, more than `MAX_ACTION_SEGMENTS` segments, longer than
//! `MAX_ACTION_LEN`) is handed to it instead.

use pim_domain::Pattern;
use pim_domain::permission::{MAX_ACTION_LEN, MAX_ACTION_SEGMENTS, Permissions};
use rustc_hash::FxHashMap;

/// Literal pattern segments and their ids.
pub(super) type Segments = FxHashMap<Box<str>, u32>;

/// The id of an action segment no pattern names.
const UNKNOWN: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg {
    /// `*`: one or more whole segments.
    Star,
    Lit(u32),
}

/// A compiled pattern. Almost every pattern has one of the first four shapes, each matched by
/// one comparison of integer slices.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `*`: any action.
    Any,
    /// `a.b`: exactly these segments.
    Exact(Box<[u32]>),
    /// `a.b.*`: these segments, then one or more.
    Prefix(Box<[u32]>),
    /// `*.a.b`: one or more segments, then these.
    Suffix(Box<[u32]>),
    /// Anything else (a `*` in the middle, or several).
    General(Box<[Seg]>),
}

impl Shape {
    fn new(segs: Vec<Seg>) -> Shape {
        let lits = |s: &[Seg]| -> Option<Box<[u32]>> {
            s.iter().map(|s| if let Seg::Lit(l) = s { Some(*l) } else { None }).collect()
        };
        let stars = segs.iter().filter(|s| **s == Seg::Star).count();
        match (stars, segs.first(), segs.last()) {
            (0, _, _) => lits(&segs).map(Shape::Exact),
            (1, Some(Seg::Star), _) if segs.len() == 1 => Some(Shape::Any),
            (1, _, Some(Seg::Star)) => lits(segs.get(..segs.len() - 1).unwrap_or_default()).map(Shape::Prefix),
            (1, Some(Seg::Star), _) => lits(segs.get(1..).unwrap_or_default()).map(Shape::Suffix),
            _ => None,
        }
        .unwrap_or_else(|| Shape::General(segs.into()))
    }

    fn matches(&self, a: &[u32]) -> bool {
        match self {
            Shape::Any => !a.is_empty(),
            Shape::Exact(l) => **l == *a,
            Shape::Prefix(l) => a.len() > l.len() && a.starts_with(l),
            Shape::Suffix(l) => a.len() > l.len() && a.ends_with(l),
            Shape::General(p) => matches(p, a),
        }
    }
}

/// A role's permissions, with each pattern compiled.
#[derive(Debug)]
pub(super) struct CompiledRole {
    perms: Permissions,
    actions: Vec<Shape>,
    not_actions: Vec<Shape>,
}

fn compile(patterns: &[Pattern], segments: &mut Segments) -> Vec<Shape> {
    let mut intern = |s: &str| {
        let next = u32::try_from(segments.len()).unwrap_or(UNKNOWN - 1);
        *segments.entry(s.into()).or_insert(next)
    };
    let seg = |s: &str, intern: &mut dyn FnMut(&str) -> u32| if s == "*" { Seg::Star } else { Seg::Lit(intern(s)) };
    patterns.iter().map(|p| Shape::new(p.as_str().split('.').map(|s| seg(s, &mut intern)).collect())).collect()
}

impl CompiledRole {
    pub(super) fn new(perms: Permissions, segments: &mut Segments) -> CompiledRole {
        CompiledRole {
            actions: compile(&perms.actions, segments),
            not_actions: compile(&perms.not_actions, segments),
            perms,
        }
    }

    pub(super) fn permissions(&self) -> &Permissions {
        &self.perms
    }

    /// Whether the role allows the action.
    pub(super) fn allows(&self, action: &Action<'_>) -> bool {
        match action.ids.get(..action.n.unwrap_or(usize::MAX)) {
            Some(a) => self.actions.iter().any(|p| p.matches(a)) && !self.not_actions.iter().any(|p| p.matches(a)),
            None => self.perms.allows(action.text),
        }
    }
}

/// An action as segment ids, on the stack.
#[derive(Debug)]
pub(super) struct Action<'a> {
    text: &'a str,
    ids: [u32; MAX_ACTION_SEGMENTS],
    /// Number of segments; `None` when the action cannot be split (see the module doc).
    n: Option<usize>,
}

impl<'a> Action<'a> {
    pub(super) fn new(text: &'a str, segments: &Segments) -> Action<'a> {
        let mut action = Action { text, ids: [UNKNOWN; MAX_ACTION_SEGMENTS], n: None };
        if text.len() > MAX_ACTION_LEN {
            return action;
        }
        let (mut n, mut start) = (0, 0);
        let bytes = text.as_bytes();
        loop {
            let rest = bytes.get(start..).unwrap_or_default();
            let end = rest.iter().position(|&c| c == b'.').map_or(bytes.len(), |p| start + p);
            let seg = text.get(start..end).unwrap_or_default();
            let Some(id) = action.ids.get_mut(n).filter(|_| !seg.is_empty()) else { return action };
            *id = segments.get(seg).copied().unwrap_or(UNKNOWN);
            n += 1;
            if end >= bytes.len() {
                break;
            }
            start = end + 1;
        }
        action.n = Some(n);
        action
    }
}

/// Whether pattern `p` matches the action segments `a` (a `*` takes one or more of them).
fn matches(p: &[Seg], a: &[u32]) -> bool {
    match p.split_first() {
        None => a.is_empty(),
        Some((Seg::Star, rest)) => (1..=a.len()).any(|k| matches(rest, a.get(k..).unwrap_or_default())),
        Some((Seg::Lit(l), rest)) => a.split_first().is_some_and(|(h, t)| l == h && matches(rest, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "ab"]), 1..5).prop_map(|v| v.join("."))
    }

    fn compiled(actions: &[&str], not: &[&str]) -> (CompiledRole, Segments) {
        let mut segments = Segments::default();
        segments.insert("unrelated".into(), 0);
        let role = CompiledRole::new(Permissions::from_literals(actions, not), &mut segments);
        (role, segments)
    }

    proptest! {
        #[test]
        fn agrees_with_the_domain(
            actions in prop::collection::vec(pattern(), 1..3),
            not in prop::collection::vec(pattern(), 0..2),
            action in prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "ab", "c", ""]), 0..12)
                .prop_map(|v| v.join(".")),
        ) {
            let a: Vec<&str> = actions.iter().map(String::as_str).collect();
            let n: Vec<&str> = not.iter().map(String::as_str).collect();
            let (role, segments) = compiled(&a, &n);
            let want = role.permissions().allows(&action);
            prop_assert_eq!(role.allows(&Action::new(&action, &segments)), want, "{}", action);
        }
    }

    #[test]
    fn patterns_compile_to_shapes() {
        let mut segments = Segments::default();
        let mut shape = |p: &str| compile(&[Pattern::parse(p).unwrap()], &mut segments).remove(0);
        assert_eq!(shape("*"), Shape::Any);
        assert!(matches!(shape("a.b"), Shape::Exact(l) if l.len() == 2));
        assert!(matches!(shape("a.b.*"), Shape::Prefix(l) if l.len() == 2));
        assert!(matches!(shape("*.read"), Shape::Suffix(l) if l.len() == 1));
        assert!(matches!(shape("a.*.b"), Shape::General(_)));
        assert!(matches!(shape("*.*"), Shape::General(_)));
    }

    #[test]
    fn odd_actions_fall_back_to_the_domain() {
        let (role, segments) = compiled(&["*", "a.*"], &[]);
        let long = format!("a.{}", "b".repeat(MAX_ACTION_LEN));
        for action in ["", ".", "a.", ".a", "a..b", "a.b.c.d.e.f.g.h.i.j.k", &long] {
            let got = role.allows(&Action::new(action, &segments));
            assert_eq!(got, role.permissions().allows(action), "{action:?}");
        }
        assert!(role.allows(&Action::new("a.b.c.d.e.f.g.h.i.j", &segments)));
        assert!(role.allows(&Action::new("x.y", &segments)));
    }
}
