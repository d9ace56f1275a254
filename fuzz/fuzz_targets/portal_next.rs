//! The portal's `next`: whatever `same_origin_path` lets through, a browser (the WHATWG URL parser:
//! tabs and newlines stripped, `\` read as `/`) resolves against the server to the same origin, and
//! `after_sign_in` never yields anything else.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pim_server::portal::next::{MAX_NEXT_LEN, after_sign_in, same_origin_path};
use url::Url;

/// Whether `location`, resolved as a browser would against the server, stays on it.
fn stays_on_server(base: &Url, location: &str) -> bool {
    match base.join(location) {
        Ok(u) => {
            u.scheme() == "https"
                && u.host_str() == Some("pim.example")
                && u.port().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        }
        Err(_) => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(next) = std::str::from_utf8(data) else { return };
    let base = Url::parse("https://pim.example/").expect("the base URL");

    if let Some(path) = same_origin_path(next) {
        assert_eq!(path, next, "next is followed as given, not rewritten");
        assert!(path.starts_with('/') && path.len() <= MAX_NEXT_LEN);
        assert!(stays_on_server(&base, path), "{path:?} leaves the server");
        // Decoded once more (as a proxy or framework might), it still stays on the server.
        let decoded: String =
            url::form_urlencoded::parse(format!("x={}", path.replace('&', "%26").replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        assert!(stays_on_server(&base, &decoded), "{path:?} decodes to {decoded:?}, which leaves the server");
    }

    for given in [Some(next), None] {
        let target = after_sign_in(given);
        assert!(target.starts_with('/'));
        assert!(stays_on_server(&base, &target), "after_sign_in({given:?}) = {target:?} leaves the server");
    }
});
