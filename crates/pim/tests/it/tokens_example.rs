//! The Rust example of docs/TOKENS.md: how a resource server verifies a pim access token offline.
//! docs/TOKENS.md holds this file verbatim, and tests/it/tokens.rs runs it against a real server.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

/// What a resource server reads from a pim access token.
#[derive(Debug, Deserialize)]
pub struct Claims {
    /// The principal's id, and its name.
    pub sub: String,
    pub name: String,
    /// Expiry (seconds): never past the end of a grant the token carries.
    pub exp: i64,
    /// The grants: a role at a scope (and below), from an assignment, until `ends_at`.
    pub grants: Vec<Grant>,
}

/// One grant a token carries.
#[derive(Debug, Deserialize)]
pub struct Grant {
    pub role: String,
    pub scope: String,
    pub assignment_id: String,
    /// Seconds since the epoch; absent for a permanent assignment.
    pub ends_at: Option<i64>,
}

/// Verifies `token` with the keys at `jwks_url`: signature, `iss`, `aud`, `exp` and `nbf`.
pub async fn verify(
    jwks_url: &str,
    issuer: &str,
    audience: &str,
    token: &str,
) -> Result<Claims, Box<dyn std::error::Error>> {
    let header = decode_header(token)?;
    let kid = header.kid.ok_or("the token names no key")?;
    // Cache the set in a real server, and fetch it again when a token names a kid it lacks.
    let jwks: JwkSet = reqwest::get(jwks_url).await?.error_for_status()?.json().await?;
    let jwk = jwks.find(&kid).ok_or("the JWKS has no key with the token's kid")?;
    // The algorithm comes from the key, never from the token alone (no `none`, no HS256).
    let alg = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
        _ => return Err("not a key pim signs with".into()),
    };
    if header.alg != alg {
        return Err("the token's alg is not its key's".into());
    }
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    Ok(decode::<Claims>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}
