//! Signed access tokens: audiences (the resource servers that accept them), signing algorithms and
//! keys as stored, and the pure rules of issuing (which grants a token carries, when it expires).

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{AssignmentId, AudienceId, PrincipalId, RoleId};
use crate::scope::{ScopePath, scope_contains};
use crate::time::Timestamp;

/// Default lifetime of a token, in seconds (15 minutes).
pub const DEFAULT_LIFETIME_SECS: u32 = 15 * 60;
/// Shortest lifetime an audience may set, in seconds.
pub const MIN_LIFETIME_SECS: u32 = 60;
/// Longest lifetime an audience may set, in seconds (1 hour): also how long a rotated key stays
/// in the JWKS, so every token it signed has expired before it leaves.
pub const MAX_LIFETIME_SECS: u32 = 60 * 60;
/// Longest audience name.
pub const MAX_AUDIENCE_NAME_LEN: usize = 200;
/// Most roles an audience may list.
pub const MAX_AUDIENCE_ROLES: usize = 100;

/// A JWS signing algorithm pim signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SigningAlg {
    /// Ed25519 signatures (RFC 8037), the default.
    EdDSA,
    /// ECDSA over P-256 with SHA-256, for verifiers without EdDSA.
    ES256,
}

impl SigningAlg {
    /// The JOSE name (`EdDSA`, `ES256`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
        }
    }
    /// Parses a JOSE name (exactly, as in a JWS header).
    pub fn parse(s: &str) -> Option<SigningAlg> {
        match s {
            "EdDSA" => Some(SigningAlg::EdDSA),
            "ES256" => Some(SigningAlg::ES256),
            _ => None,
        }
    }
}

/// A resource server registered to accept pim's signed access tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    /// The audience's id.
    pub id: AudienceId,
    /// Unique name: the tokens' `aud` (e.g. `orders-api` or `https://k8s.example.com`).
    pub name: String,
    /// The roles whose grants tokens for this audience carry (at least one; empty: none).
    pub role_ids: Vec<RoleId>,
    /// Grants whose scope is at, below or above this scope are carried (`/`: all).
    pub scope_prefix: ScopePath,
    /// Lifetime of its tokens in seconds (60-3600), unless a grant ends sooner.
    pub lifetime_secs: u32,
    /// The algorithm its tokens are signed with; `None`: the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<SigningAlg>,
    /// A principal (e.g. the resource server's service principal) that may introspect this
    /// audience's tokens with its API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspector: Option<PrincipalId>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Audience {
    /// Whether a grant of `role` at `scope` is one this audience's tokens carry.
    pub fn accepts(&self, role: RoleId, scope: &str) -> bool {
        self.role_ids.contains(&role) && scopes_related(self.scope_prefix.as_str(), scope)
    }
}

/// Whether one of two scopes contains the other: a grant at `/` applies at `/k8s`, and one at
/// `/k8s/prod` lies within `/k8s`; `/a` and `/b` are unrelated.
pub fn scopes_related(a: &str, b: &str) -> bool {
    scope_contains(a, b) || scope_contains(b, a)
}

/// Checks an audience name: 1-200 printable characters without spaces (it is the `aud` claim).
pub fn validate_audience_name(name: &str) -> Result<(), DomainError> {
    if name.is_empty() || name.len() > MAX_AUDIENCE_NAME_LEN {
        return Err(DomainError::invalid(format!("an audience name must be 1-{MAX_AUDIENCE_NAME_LEN} characters")));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(DomainError::invalid("an audience name must not contain spaces or control characters"));
    }
    Ok(())
}

/// Checks a lifetime in seconds: 60 to 3600.
pub fn validate_lifetime(secs: u32) -> Result<(), DomainError> {
    if (MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "lifetimeSecs must be between {MIN_LIFETIME_SECS} and {MAX_LIFETIME_SECS} (1 hour)"
        )))
    }
}

/// Seconds since the epoch of `t`, rounded down.
pub fn unix_secs(t: Timestamp) -> i64 {
    t.0.div_euclid(1000)
}

/// The `exp` of a token issued at `now` with `lifetime_secs`, carrying grants that end at `ends`
/// (`None`: permanent): the earliest of `now + lifetime` and every end, in whole seconds rounded
/// down, so the token is never valid a moment past a grant it carries (`exp` is exclusive).
pub fn token_exp(now: Timestamp, lifetime_secs: u32, ends: impl IntoIterator<Item = Option<Timestamp>>) -> i64 {
    let mut exp = unix_secs(now) + i64::from(lifetime_secs);
    for end in ends.into_iter().flatten() {
        exp = exp.min(unix_secs(end));
    }
    exp
}

/// Whether a grant ending at `end` can be carried by a token issued at `now`: it must outlast the
/// current second, or the token would be born expired.
pub fn grant_outlasts_issue(now: Timestamp, end: Option<Timestamp>) -> bool {
    end.is_none_or(|e| unix_secs(e) > unix_secs(now))
}

/// One grant a token carries: an assignment in effect, with the role and scope it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenGrant {
    /// The role's name.
    pub role: String,
    /// The role's id.
    pub role_id: RoleId,
    /// Where it applies (and below).
    pub scope: String,
    /// The assignment (an activation, or an active assignment) the grant relies on.
    pub assignment_id: AssignmentId,
    /// The group it comes through, when it is held through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_group: Option<PrincipalId>,
    /// When it ends, in seconds since the epoch; absent when permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    /// The issuer (`[tokens] issuer`).
    pub iss: String,
    /// The principal's id.
    pub sub: String,
    /// The principal's name.
    pub name: String,
    /// The audience's name.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expires at (seconds, exclusive): never past a grant's end.
    pub exp: i64,
    /// The token's id.
    pub jti: String,
    /// The grants it carries.
    pub grants: Vec<TokenGrant>,
}

/// A signing key's public part and its life, as listed (never the private half).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyInfo {
    /// The key id (`kid` in tokens and the JWKS).
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlg,
    /// When it was made.
    pub created_at: Timestamp,
    /// When a newer key replaced it for signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
    /// When it leaves the JWKS (every token it signed has expired by then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<Timestamp>,
    /// When the periodic job recorded it as retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<Timestamp>,
}

impl SigningKeyInfo {
    /// `current` (signs new tokens), `rotated` (verifies what it signed, still in the JWKS) or `retired`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        match (self.rotated_at, self.retire_at) {
            (None, _) => "current",
            (Some(_), Some(r)) if r <= now => "retired",
            _ => "rotated",
        }
    }
    /// Whether the JWKS lists it at `now`.
    pub fn published(&self, now: Timestamp) -> bool {
        self.retire_at.is_none_or(|r| now < r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aud(roles: Vec<RoleId>, prefix: &str) -> Audience {
        Audience {
            id: AudienceId::new(),
            name: "api".into(),
            role_ids: roles,
            scope_prefix: ScopePath::parse(prefix).unwrap(),
            lifetime_secs: DEFAULT_LIFETIME_SECS,
            algorithm: None,
            introspector: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn an_audience_accepts_its_roles_at_related_scopes() {
        let (r1, r2) = (RoleId::new(), RoleId::new());
        let a = aud(vec![r1], "/k8s");
        assert!(a.accepts(r1, "/k8s"));
        assert!(a.accepts(r1, "/k8s/prod/ns"), "below the prefix");
        assert!(a.accepts(r1, "/"), "a grant at / applies at /k8s");
        assert!(!a.accepts(r1, "/k8sx"), "a sibling that shares the prefix's text");
        assert!(!a.accepts(r1, "/db"));
        assert!(!a.accepts(r2, "/k8s"), "a role it does not list");
        assert!(!aud(vec![], "/").accepts(r2, "/anything"), "no roles listed: none (an audience must list its roles)");
    }

    #[test]
    fn exp_is_the_earliest_end_rounded_down() {
        let now = Timestamp(1_000_000_500);
        assert_eq!(token_exp(now, 900, [None]), 1_000_000 + 900);
        let end = Timestamp(1_000_120_999);
        assert_eq!(token_exp(now, 900, [None, Some(end)]), 1_000_120, "the activation's end, rounded down");
        assert!(token_exp(now, 900, [Some(end)]) * 1000 <= end.0, "never past the end");
        assert_eq!(token_exp(now, 60, [Some(end)]), 1_000_060, "the lifetime when it comes first");
        assert!(grant_outlasts_issue(now, None));
        assert!(grant_outlasts_issue(now, Some(Timestamp(1_000_001_000))));
        assert!(!grant_outlasts_issue(now, Some(Timestamp(1_000_000_999))), "ends within this second");
    }

    #[test]
    fn names_lifetimes_and_algorithms_are_checked() {
        assert!(validate_audience_name("orders-api").is_ok());
        assert!(validate_audience_name("https://k8s.example.com/api").is_ok());
        for bad in ["", "has space", "tab\t", &"x".repeat(201)] {
            assert!(validate_audience_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_lifetime(60).is_ok() && validate_lifetime(3600).is_ok());
        assert!(validate_lifetime(59).is_err() && validate_lifetime(3601).is_err());
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256] {
            assert_eq!(SigningAlg::parse(alg.as_str()), Some(alg));
            assert_eq!(serde_json::to_value(alg).unwrap(), alg.as_str());
        }
        assert_eq!(SigningAlg::parse("none"), None);
        assert_eq!(SigningAlg::parse("HS256"), None);
    }

    #[test]
    fn a_key_is_current_then_rotated_then_retired() {
        let mut k = SigningKeyInfo {
            kid: "k".into(),
            algorithm: SigningAlg::EdDSA,
            created_at: Timestamp(0),
            rotated_at: None,
            retire_at: None,
            retired_at: None,
        };
        assert_eq!(k.state(Timestamp(10)), "current");
        assert!(k.published(Timestamp(10)));
        k.rotated_at = Some(Timestamp(10));
        k.retire_at = Some(Timestamp(20));
        assert_eq!(k.state(Timestamp(19)), "rotated");
        assert!(k.published(Timestamp(19)));
        assert_eq!(k.state(Timestamp(20)), "retired");
        assert!(!k.published(Timestamp(20)));
    }
}
