//! A per-source rate limit on the anonymous endpoints (sign-in, setup, portal sign-in and setup):
//! past the burst, `429` with `Retry-After`, as problem+json under `/api/`, as a page in the portal.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use pim_domain::{DomainError, ErrorKind};

use crate::AppState;

/// Sources kept in memory before those whose allowance refilled are forgotten.
const PRUNE_ABOVE: usize = 100_000;

/// How the anonymous endpoints are limited per source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitOptions {
    /// Whether they are limited at all.
    pub enabled: bool,
    /// Requests a source regains per second.
    pub per_second: NonZeroU32,
    /// Requests a source may make at once.
    pub burst: NonZeroU32,
    /// Take the source from the last `X-Forwarded-For` address (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitOptions {
    /// Ten at once, then one a second: room for people, a wall for password guessing.
    fn default() -> Self {
        RateLimitOptions {
            enabled: true,
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            trust_forwarded_for: false,
        }
    }
}

/// The limiter shared by every request.
pub struct SourceLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trust_forwarded_for: bool,
}

impl SourceLimiter {
    /// A limiter with `options`.
    pub fn new(options: RateLimitOptions) -> SourceLimiter {
        let quota = Quota::per_second(options.per_second).allow_burst(options.burst);
        SourceLimiter {
            limiter: options.enabled.then(|| RateLimiter::keyed(quota)),
            trust_forwarded_for: options.trust_forwarded_for,
        }
    }

    /// `None` when `source` may go on, else the seconds it must wait.
    fn refuse(&self, source: IpAddr) -> Option<u64> {
        let limiter = self.limiter.as_ref()?;
        if limiter.len() > PRUNE_ABOVE {
            limiter.retain_recent();
        }
        let clock = DefaultClock::default();
        limiter.check_key(&source).err().map(|until| until.wait_time_from(clock.now()).as_secs() + 1)
    }

    /// The source of a request: its peer address, or with `trust_forwarded_for` the last address
    /// of `X-Forwarded-For` (the one the proxy appended). IPv6 sources count per /64 network.
    fn source(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let forwarded = || {
            let all = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
            all.last()?.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        };
        let ip = if self.trust_forwarded_for { forwarded().or(peer) } else { peer }?;
        Some(match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            v4 => v4,
        })
    }
}

impl std::fmt::Debug for SourceLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceLimiter").field("enabled", &self.limiter.is_some()).finish_non_exhaustive()
    }
}

/// Whether a request goes to an anonymous endpoint that is limited.
fn limited(method: &Method, path: &str) -> bool {
    match path {
        "/api/v1/auth/login" | "/signin" | "/setup" => method == Method::POST,
        "/api/v1/setup" => method == Method::GET || method == Method::POST,
        // OpenID Connect starts (each writes a pending row) and finishes (each calls the provider).
        p if p.starts_with("/api/v1/auth/oidc/") => method == Method::POST,
        p if p.starts_with("/portal/oidc/") => method == Method::GET,
        _ => false,
    }
}

/// The refusal of a source past its allowance on the limited endpoints (`429` with
/// `Retry-After`), or `None` when the request goes on; a limited request spends one allowance.
pub fn refusal(state: &AppState, req: &Request) -> Option<Response> {
    if !limited(req.method(), req.uri().path()) {
        return None;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let wait = state.rate_limit.source(peer, req.headers()).and_then(|s| state.rate_limit.refuse(s))?;
    let message =
        format!("too many requests from this address; try again in {wait} second{}", if wait == 1 { "" } else { "s" });
    let refusal = DomainError::new(ErrorKind::TooManyAttempts, message);
    let mut response = if req.uri().path().starts_with("/api/") {
        crate::error::ApiError::from(refusal).into_response()
    } else {
        crate::portal::view::PortalError::from(refusal).into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(burst: u32, trust: bool) -> RateLimitOptions {
        RateLimitOptions {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            trust_forwarded_for: trust,
            ..RateLimitOptions::default()
        }
    }

    #[test]
    fn a_source_past_its_burst_waits_and_others_do_not() {
        let l = SourceLimiter::new(options(3, false));
        let a: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let b: IpAddr = "192.0.2.2".parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        for _ in 0..3 {
            assert_eq!(l.refuse(a), None);
        }
        assert_eq!(l.refuse(a), Some(1), "one a second refills");
        assert_eq!(l.refuse(b), None, "another source is unaffected");
        let off = SourceLimiter::new(RateLimitOptions { enabled: false, ..options(1, false) });
        assert!((0..100).all(|_| off.refuse(a).is_none()), "disabled");
    }

    #[test]
    fn the_source_is_the_peer_unless_the_proxy_is_trusted() {
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        assert_eq!(SourceLimiter::new(options(1, false)).source(peer, &h), peer, "not trusted by default");
        let trusting = SourceLimiter::new(options(1, true));
        assert_eq!(trusting.source(peer, &h), Some(IpAddr::from([198, 51, 100, 7])), "the address the proxy added");
        assert_eq!(trusting.source(peer, &HeaderMap::new()), peer);
        let v6 = Some("2001:db8:1:2:3:4:5:6".parse::<IpAddr>().unwrap_or(IpAddr::from([0; 16])));
        let net = "2001:db8:1:2::".parse::<IpAddr>().unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(trusting.source(v6, &HeaderMap::new()), Some(net), "IPv6 counts per /64");
        let mapped = Some("::ffff:192.0.2.1".parse::<IpAddr>().unwrap_or(IpAddr::from([0; 16])));
        assert_eq!(trusting.source(mapped, &HeaderMap::new()), Some(IpAddr::from([192, 0, 2, 1])));
    }

    #[test]
    fn only_the_anonymous_endpoints_are_limited() {
        assert!(limited(&Method::POST, "/api/v1/auth/login"));
        assert!(limited(&Method::POST, "/api/v1/auth/oidc/corp/finish"));
        assert!(limited(&Method::POST, "/api/v1/auth/oidc/corp/device/poll"));
        assert!(!limited(&Method::GET, "/api/v1/auth/oidc"));
        assert!(limited(&Method::GET, "/api/v1/setup") && limited(&Method::POST, "/api/v1/setup"));
        assert!(limited(&Method::POST, "/signin") && limited(&Method::POST, "/setup"));
        assert!(!limited(&Method::GET, "/signin"), "the sign-in page itself is not");
        assert!(!limited(&Method::POST, "/api/v1/check") && !limited(&Method::GET, "/api/v1/me"));
    }
}
