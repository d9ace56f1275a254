//! Where a portal form may send the browser next: a path on this server and nothing a browser
//! could read as another origin once it has normalized it.

/// Longest `next` followed.
pub const MAX_NEXT_LEN: usize = 2000;

/// `next` when it is a same-origin path, else `None`.
///
/// Browsers strip tabs and newlines from a `Location` before they parse it, read `\` as `/`, and
/// take `//host` (after any of those) as another server; some proxies and frameworks decode `%2f`
/// and `%5c` before routing. So only a path of printable ASCII passes: it starts with one `/` not
/// followed by `/` or `\`, holds no control character, space, backslash or non-ASCII character,
/// no encoded control character, and no encoded slash or backslash in its path. A scheme or an authority cannot start
/// with `/`, so none passes.
pub fn same_origin_path(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    if bytes.len() > MAX_NEXT_LEN || bytes.first() != Some(&b'/') {
        return None;
    }
    if matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return None;
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) || bytes.contains(&b'\\') {
        return None;
    }
    let path = next.split(['?', '#']).next().unwrap_or_default().as_bytes();
    if escapes(bytes).any(|e| e.is_ascii_control()) || escapes(path).any(|e| e == b'/' || e == b'\\') {
        return None;
    }
    Some(next)
}

/// The bytes that the `%XX` escapes of `bytes` stand for.
fn escapes(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.windows(3).filter(|w| w[0] == b'%').filter_map(|w| {
        let hex = std::str::from_utf8(&w[1..]).ok()?;
        u8::from_str_radix(hex, 16).ok()
    })
}

/// Where to go after signing in: `next` when it is safe, else My roles.
pub fn after_sign_in(next: Option<&str>) -> String {
    next.and_then(same_origin_path).unwrap_or("/roles").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known tricks, as the sign-in form receives them (query strings already decoded once).
    const TRICKS: &[&str] = &[
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0D/evil.example",
        "/%2f%2fevil.example",
        "/%2F/evil.example",
        "/%5cevil.example",
        "/%5C%5Cevil.example",
        "/%7f/x",
        "/\u{0}/x",
        "/\u{7f}/x",
        "https:evil.example",
        "https://evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "evil.example",
        "roles",
        "",
        " /roles",
        "/\u{ff0f}evil.example",
        "/\u{2215}evil.example",
    ];

    #[test]
    fn the_known_tricks_are_refused() {
        for trick in TRICKS {
            assert_eq!(same_origin_path(trick), None, "{trick:?} must be refused");
            assert_eq!(after_sign_in(Some(trick)), "/roles", "{trick:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert_eq!(same_origin_path(&long), None, "too long");
    }

    #[test]
    fn local_paths_are_followed() {
        for ok in ["/", "/roles", "/approvals?x=1&y=%20z", "/manage/users/0190-ab", "/audit?scope=%2Fdatabases%2Fprod"]
        {
            assert_eq!(same_origin_path(ok), Some(ok), "{ok}");
        }
        assert_eq!(same_origin_path("/audit?q=%0a"), None, "an encoded control character anywhere");
        assert_eq!(after_sign_in(None), "/roles");
        assert_eq!(after_sign_in(Some("/requests")), "/requests");
    }
}
