//! Scope paths: parsing never panics, a parsed scope renders to the same text and parses back to
//! itself, and nothing that could walk the tree (`.`, `..`, empty segments, control characters) survives.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_domain::ScopePath;
use pim_domain::scope::{MAX_SCOPE_DEPTH, MAX_SCOPE_LEN, MAX_SEGMENT_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scope) = ScopePath::parse(text) else { return };

    // Round trip: the text is kept as given (no normalization) and parses to the same scope,
    // through Display, FromStr and serde alike.
    let rendered = scope.to_string();
    assert_eq!(rendered, text);
    assert_eq!(ScopePath::parse(&rendered).as_ref(), Ok(&scope));
    assert_eq!(rendered.parse::<ScopePath>().as_ref(), Ok(&scope));
    let json = serde_json::to_string(&scope).expect("a scope serializes");
    assert_eq!(serde_json::from_str::<ScopePath>(&json).expect("its JSON parses"), scope);

    // What survives: an absolute, bounded path of non-empty, non-dot segments of visible ASCII.
    assert!(rendered.starts_with('/'));
    assert!(rendered.len() <= MAX_SCOPE_LEN);
    assert!(rendered.bytes().all(|b| b.is_ascii_graphic()), "{rendered:?}");
    assert!(!rendered.contains('\\') && !rendered.contains('%'), "{rendered:?}");
    if scope.is_root() {
        assert_eq!(rendered, "/");
        assert_eq!(scope.depth(), 0);
    } else {
        let segments: Vec<&str> = rendered[1..].split('/').collect();
        assert!(segments.len() <= MAX_SCOPE_DEPTH);
        assert_eq!(segments.len(), scope.depth());
        for seg in segments {
            assert!(!seg.is_empty(), "{rendered:?}");
            assert!(seg != "." && seg != "..", "{rendered:?}");
            assert!(seg.len() <= MAX_SEGMENT_LEN);
        }
    }

    // The ancestors are valid scopes that contain it, one per level, ending at the root.
    let ancestors = scope.self_and_ancestors();
    assert_eq!(ancestors.len(), scope.depth() + 1);
    assert_eq!(ancestors.last(), Some(&ScopePath::root()));
    for (i, a) in ancestors.iter().enumerate() {
        assert_eq!(ScopePath::parse(a.as_str()).as_ref(), Ok(a));
        assert!(a.contains(&scope));
        assert_eq!(a == &scope, i == 0);
        assert!(i == 0 || !scope.contains(a), "a scope does not contain its strict ancestors");
    }
});
