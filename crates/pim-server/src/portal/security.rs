//! Security headers on every response of the server: a Content-Security-Policy without
//! `unsafe-inline` (scripts and styles come only from `/static/`), no framing, no sniffing, no
//! referrer to other sites, no caching of pages, and HSTS when the portal is served over TLS.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers set on every response, as static values (nothing is parsed or copied per response).
static HEADERS: [(HeaderName, HeaderValue); 7] = [
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    // Not `no-referrer`: with it, browsers send `Origin: null` on the portal's own forms.
    (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
    (
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    ),
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
];

/// Adds the headers (see the module's doc) to a response's; a handler's own `Cache-Control` is
/// kept; HSTS when `secure` (the portal is served over TLS).
pub fn apply(h: &mut HeaderMap, secure: bool) {
    // Room for all of them (and the request id after them) at once, instead of growing twice.
    h.reserve(HEADERS.len() + 3);
    for (name, value) in &HEADERS {
        h.insert(name.clone(), value.clone());
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_set_and_a_handlers_cache_control_kept() {
        let mut h = HeaderMap::new();
        apply(&mut h, false);
        for (name, value) in [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "same-origin"),
            ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(h.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
        }
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY), "no HSTS over plain HTTP");

        let mut own = HeaderMap::new();
        own.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
        apply(&mut own, true);
        assert_eq!(own.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("max-age=60"));
        assert_eq!(own.get(header::STRICT_TRANSPORT_SECURITY).and_then(|v| v.to_str().ok()), Some("max-age=31536000"));
        assert_eq!(own.len(), 9);
    }
}
