//! The portal's own origin, and whether a form's `Origin` header is it: scheme, host and port.
//!
//! The origin is the configured public URL's (`[notifications] public_url`) when there is one;
//! otherwise the request's `Host` with the scheme the portal is served on (`https` when its
//! cookies are `Secure`). An `http://` origin never passes for an `https://` portal.

use axum::http::{HeaderMap, header};

/// `url`'s origin as a browser serializes it in `Origin` (`https://pim.example`, lower-case host,
/// no default port), or `None` when `url` is not an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Whether a state-changing request may come from where its `Origin` header says.
///
/// No `Origin` (older browsers, same-origin navigations in some) and `null` (privacy-preserving
/// redirects) are left to the CSRF token and `SameSite=Strict`, which every form needs anyway.
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>, secure: bool) -> bool {
    let Some(sent) = headers.get(header::ORIGIN) else { return true };
    let Ok(sent) = sent.to_str() else { return false };
    if sent == "null" {
        return true;
    }
    let Some(expected) = portal_origin(headers, public_origin, secure) else { return false };
    origin_of(sent).is_some_and(|o| o == expected)
}

/// The portal's origin: the public URL's, or the request's `Host` with the scheme the portal is
/// served on; `None` without a usable `Host`.
pub fn portal_origin(headers: &HeaderMap, public_origin: Option<&str>, secure: bool) -> Option<String> {
    match public_origin {
        Some(o) => Some(o.to_owned()),
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
            let scheme = if secure { "https" } else { "http" };
            origin_of(&format!("{scheme}://{host}/"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origins_are_serialized_as_browsers_send_them() {
        assert_eq!(origin_of("https://PIM.example.com:443/portal/").as_deref(), Some("https://pim.example.com"));
        assert_eq!(origin_of("http://pim.example:8420").as_deref(), Some("http://pim.example:8420"));
        assert_eq!(origin_of("pim.example.com"), None, "not absolute");
        assert_eq!(origin_of("file:///etc/passwd"), None);
        assert_eq!(origin_of("javascript:alert(1)"), None);
    }

    #[test]
    fn scheme_host_and_port_must_all_match_the_public_url() {
        let public = origin_of("https://pim.example.com").unwrap();
        let at = |origin: &str| same_origin(&headers("pim.example.com", Some(origin)), Some(&public), true);
        assert!(at("https://pim.example.com"));
        assert!(at("https://pim.example.com:443"), "the default port is the same origin");
        assert!(!at("http://pim.example.com"), "an http origin does not pass for an https portal");
        assert!(!at("https://pim.example.com:8443"), "another port is another origin");
        assert!(!at("https://evil.example"));
        assert!(!at("https://pim.example.com.evil.example"));
        assert!(!at("https://evil.example/https://pim.example.com"));
        assert!(!at("pim.example.com"), "an origin without a scheme is refused");
    }

    #[test]
    fn without_a_public_url_the_host_and_the_served_scheme_decide() {
        let h = |origin: &str| headers("pim.example:8420", Some(origin));
        assert!(same_origin(&h("http://pim.example:8420"), None, false));
        assert!(!same_origin(&h("https://pim.example:8420"), None, false), "plain-http portal");
        assert!(same_origin(&h("https://pim.example:8420"), None, true));
        assert!(!same_origin(&h("http://pim.example:8420"), None, true), "an http origin for a Secure portal");
        assert!(!same_origin(&h("http://pim.example:8421"), None, false));
        assert!(!same_origin(&h("https://evil.example"), None, false));
    }

    #[test]
    fn no_origin_and_null_are_left_to_the_csrf_token() {
        assert!(same_origin(&headers("pim.example", None), Some("https://pim.example"), true));
        assert!(same_origin(&headers("pim.example", Some("null")), Some("https://pim.example"), true));
        let mut no_host = HeaderMap::new();
        no_host.insert(header::ORIGIN, HeaderValue::from_static("http://pim.example"));
        assert!(!same_origin(&no_host, None, false), "no Host to compare with");
    }
}
