//! Action patterns: parsing never panics, a parsed pattern or action renders to the same text and
//! parses back to itself, a literal pattern matches exactly itself, and the matcher agrees with a
//! plain segment-by-segment reference (`*` stands for one or more whole segments).
//!
//! Input: `pattern` or `pattern\naction`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_domain::permission::{MAX_ACTION_LEN, MAX_ACTION_SEGMENTS, pattern_matches};
use pim_domain::{ActionName, Pattern};

/// Whether `pattern` matches `action`, by dynamic programming over their segments.
fn reference_matches(pattern: &[&str], action: &[&str]) -> bool {
    // ok[i][j]: the first i pattern segments match the first j action segments.
    let mut ok = vec![vec![false; action.len() + 1]; pattern.len() + 1];
    ok[0][0] = true;
    for i in 1..=pattern.len() {
        for j in 1..=action.len() {
            ok[i][j] = if pattern[i - 1] == "*" {
                (0..j).any(|k| ok[i - 1][k])
            } else {
                pattern[i - 1] == action[j - 1] && ok[i - 1][j - 1]
            };
        }
    }
    ok[pattern.len()][action.len()]
}

fn check_pattern(text: &str) -> Option<Pattern> {
    let as_action = ActionName::parse(text);
    let Ok(pattern) = Pattern::parse(text) else {
        assert!(as_action.is_err(), "{text:?} is an action but not a pattern");
        return None;
    };
    assert_eq!(pattern.to_string(), text);
    assert_eq!(Pattern::parse(pattern.as_str()).as_ref(), Ok(&pattern));
    let json = serde_json::to_string(&pattern).expect("a pattern serializes");
    assert_eq!(serde_json::from_str::<Pattern>(&json).expect("its JSON parses"), pattern);
    assert!(text.len() <= MAX_ACTION_LEN);
    let segments: Vec<&str> = text.split('.').collect();
    assert!(segments.len() <= MAX_ACTION_SEGMENTS);
    for seg in &segments {
        assert!(
            *seg == "*"
                || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        );
    }

    if segments.contains(&"*") {
        assert!(as_action.is_err(), "a wildcard is no action: {text:?}");
        // Each `*` filled with one or two segments gives an action it matches.
        for fill in ["x", "x.y"] {
            let concrete: Vec<&str> = segments.iter().map(|s| if *s == "*" { fill } else { s }).collect();
            let concrete = concrete.join(".");
            assert!(pattern.matches(&concrete), "{text:?} must match {concrete:?}");
        }
    } else {
        // A literal is an action and matches itself (and, below, nothing else).
        let action = as_action.expect("a literal pattern is an action");
        assert_eq!(action.as_str(), text);
        assert_eq!(action.to_string(), text);
        assert!(pattern.matches(text));
        assert!(pattern_matches(text, action.as_str()));
    }
    Some(pattern)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (first, second) = input.split_once('\n').unwrap_or((input, ""));
    let pattern = check_pattern(first);
    if let Ok(action) = ActionName::parse(second) {
        assert!(check_pattern(action.as_str()).is_some(), "every action is a pattern");
        if let Some(p) = pattern {
            let p_segs: Vec<&str> = p.as_str().split('.').collect();
            let a_segs: Vec<&str> = action.as_str().split('.').collect();
            let want = reference_matches(&p_segs, &a_segs);
            assert_eq!(p.matches(action.as_str()), want, "{:?} against {:?}", p.as_str(), action.as_str());
            if !p_segs.contains(&"*") {
                assert_eq!(want, p.as_str() == action.as_str(), "a literal matches only itself");
            }
        }
    }
});
