//! The provider side through the `openidconnect` crate: discovery (with the JWKS), the
//! authorization URL with PKCE, the code exchange, the device grant (RFC 8628) and the ID token's
//! validation. No hand-written OAuth.

use std::sync::Arc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthenticationContextClass, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, EndpointState, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse,
};
use pim_domain::Timestamp;
use serde::{Deserialize, Serialize};

use super::options::OidcProviderOptions;

/// The claims pim reads beyond the standard ones (groups, or a username claim of the provider's own).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims {
    /// Every claim the crate does not read itself, by name.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for ExtraClaims {}

type Fields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponse = StandardTokenResponse<Fields, CoreTokenType>;
/// Discovery's fields beyond the crate's: the device authorization endpoint of RFC 8628.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DeviceMetadata {
    /// Where a device sign-in begins, when the provider offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}
impl AdditionalProviderMetadata for DeviceMetadata {}

type Metadata = ProviderMetadata<
    DeviceMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The crate's client; `D` says whether the device authorization endpoint is set.
type Client<D = EndpointNotSet> = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    D,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What an ID token said, once validated.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// `sub`.
    pub subject: String,
    /// `email`, and whether the provider verified it.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// `amr`.
    pub amr: Vec<String>,
    /// `acr`.
    pub acr: Option<String>,
    /// `auth_time`.
    pub auth_time: Option<Timestamp>,
    /// Every claim, as JSON (the configured username and groups claims are read from it).
    pub claims: serde_json::Value,
}

/// A sign-in begun: the URL to send the browser to, and what finishing needs.
#[derive(Debug)]
pub struct Begun {
    /// The provider's authorization URL with `state`, `nonce` and the PKCE challenge.
    pub url: String,
    /// The `state`.
    pub state: String,
    /// The `nonce`.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
}

/// Why the provider's side failed.
#[derive(Debug)]
pub enum ProviderError {
    /// The provider could not be reached or answered nonsense (discovery, the token endpoint).
    Unavailable(String),
    /// The provider refused the code (or the device sign-in).
    Refused(String),
    /// The ID token is not valid: the reason, a fixed phrase without the token's contents.
    Unverified(String),
}

/// What one poll of a device sign-in brought.
#[derive(Debug)]
pub enum DevicePolled {
    /// Not approved yet (`authorization_pending`), or `slow_down`: ask again after this interval.
    Pending(std::time::Duration),
    /// Approved: the validated identity.
    Done(VerifiedIdentity),
}

/// A device sign-in begun: what the person is shown, and what polling needs (kept sealed).
#[derive(Debug)]
pub struct DeviceBegun {
    /// The provider's answer, with the device code (never shown).
    pub response: CoreDeviceAuthorizationResponse,
}

/// One provider's discovered metadata (with its JWKS) and an HTTP client that follows no redirects.
#[derive(Clone)]
pub struct Discovered {
    metadata: Metadata,
    http: openidconnect::reqwest::Client,
}

impl std::fmt::Debug for Discovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovered").field("issuer", self.metadata.issuer()).finish_non_exhaustive()
    }
}

/// Reads the provider's discovery document and JWKS.
pub async fn discover(o: &OidcProviderOptions) -> Result<Arc<Discovered>, ProviderError> {
    let http = openidconnect::reqwest::ClientBuilder::new()
        // Following redirects would open the client to SSRF.
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
    let issuer = IssuerUrl::new(o.issuer.clone()).map_err(|e| ProviderError::Unavailable(e.to_string()))?;
    let metadata = Metadata::discover_async(issuer, &http)
        .await
        .map_err(|e| ProviderError::Unavailable(format!("discovery at {}: {}", o.issuer, error_chain(&e))))?;
    Ok(Arc::new(Discovered { metadata, http }))
}

/// Why an ID token failed validation, as a fixed phrase: no claim values, no token; `alg` is the
/// header's algorithm.
fn unverified_reason(e: &ClaimsVerificationError, alg: Option<&str>) -> String {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    let phrase = match e {
        C::Expired(_) => "expired",
        C::InvalidAudience(_) => "wrong audience",
        C::InvalidAuthContext(_) => "wrong acr",
        C::InvalidAuthTime(_) => "wrong auth_time",
        C::InvalidIssuer(_) => "wrong issuer",
        C::InvalidNonce(_) => "wrong nonce",
        C::InvalidSubject(_) => "invalid subject",
        C::Unsupported(_) => "unsupported",
        C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_)) => {
            let alg: String = alg.unwrap_or("?").chars().filter(char::is_ascii_alphanumeric).take(16).collect();
            return format!("signature: the algorithm {alg} is not allowed");
        }
        C::SignatureVerification(S::CryptoError(_)) => "signature: does not match",
        C::SignatureVerification(S::NoMatchingKey) => "signature: no matching key",
        C::SignatureVerification(S::NoSignature) => "signature: none",
        C::SignatureVerification(_) => "signature: invalid",
        _ => "invalid",
    };
    phrase.to_owned()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl Discovered {
    fn client(&self, client_id: &str, secret: Option<&str>, redirect: &str) -> Result<Client, ProviderError> {
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| ProviderError::Refused(e.to_string()))?;
        Ok(Client::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// A client for the device grant, or `None` when discovery lists no device authorization endpoint.
    fn device_client(&self, client_id: &str, secret: Option<&str>) -> Option<Client<EndpointSet>> {
        let url = self.metadata.additional_metadata().device_authorization_endpoint.clone()?;
        let client: Client = Client::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        );
        Some(client.set_device_authorization_url(url))
    }

    /// Whether the provider offers the device grant.
    pub fn offers_device_grant(&self) -> bool {
        self.metadata.additional_metadata().device_authorization_endpoint.is_some()
    }

    /// The signing algorithms an ID token may use: what discovery lists, less `none` and, unless
    /// `allow_symmetric`, the HMAC ones (signed with the client secret, which others may hold).
    fn allowed_algs(&self, allow_symmetric: bool) -> Vec<CoreJwsSigningAlgorithm> {
        use CoreJwsSigningAlgorithm::{HmacSha256, HmacSha384, HmacSha512};
        self.metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| **a != CoreJwsSigningAlgorithm::None)
            .filter(|a| allow_symmetric || !matches!(a, HmacSha256 | HmacSha384 | HmacSha512))
            .cloned()
            .collect()
    }

    /// The authorization URL for a new sign-in (code flow, `S256`), with `max_age=0` and
    /// `acr_values` when `step_up` asks the provider for a fresh MFA.
    pub fn begin(
        &self,
        o: &OidcProviderOptions,
        client_id: &str,
        redirect: &str,
        step_up: bool,
    ) -> Result<Begun, ProviderError> {
        let client = self.client(client_id, None, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for s in o.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        if step_up {
            req = req.set_max_age(std::time::Duration::ZERO);
            for acr in &o.mfa_acr {
                req = req.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
            }
        }
        let (url, state, nonce) = req.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` and validates the ID token (see [`Discovered::identity`]; and `nonce`).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish(
        &self,
        o: &OidcProviderOptions,
        client_id: &str,
        secret: Option<&str>,
        redirect: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let client = self.client(client_id, secret, redirect)?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Unavailable(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        let response = request.request_async(&self.http).await.map_err(|e| match &e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                ProviderError::Refused(format!("the provider refused the code: {}", r.error()))
            }
            other => ProviderError::Unavailable(format!("the token endpoint: {}", error_chain(other))),
        })?;
        self.identity(&client, o, &response, &Nonce::new(nonce.to_owned()), now)
    }

    /// Asks the provider for a device code (RFC 8628 §3.1) for the client `client_id`, with the
    /// configured scopes; `None` when the provider offers no device grant.
    pub async fn device_begin(
        &self,
        o: &OidcProviderOptions,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<Option<DeviceBegun>, ProviderError> {
        let Some(client) = self.device_client(client_id, secret) else { return Ok(None) };
        let mut req = client.exchange_device_code();
        for s in o.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let response: CoreDeviceAuthorizationResponse = req.request_async(&self.http).await.map_err(|e| match &e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                ProviderError::Refused(format!("the provider refused the device sign-in: {}", r.error()))
            }
            other => ProviderError::Unavailable(format!("the device authorization endpoint: {}", error_chain(other))),
        })?;
        Ok(Some(DeviceBegun { response }))
    }

    /// Polls the token endpoint once for the device sign-in `response` (RFC 8628 §3.4). The
    /// crate's poller asks once and, where it would sleep before asking again, is stopped: its
    /// interval (the same after `authorization_pending`, five seconds more after `slow_down`) is
    /// answered as [`DevicePolled::Pending`]. An ID token is validated like the code flow's, with
    /// no nonce (the device grant sends none).
    pub async fn device_poll(
        &self,
        o: &OidcProviderOptions,
        client_id: &str,
        secret: Option<&str>,
        response: &CoreDeviceAuthorizationResponse,
        now: Timestamp,
    ) -> Result<DevicePolled, ProviderError> {
        let Some(client) = self.device_client(client_id, secret) else {
            return Err(ProviderError::Unavailable("the provider no longer offers the device grant".to_owned()));
        };
        let clock = move || chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default();
        let request = client
            .exchange_device_access_token(response)
            .map_err(|e| ProviderError::Unavailable(format!("the provider has no token endpoint: {e}")))?
            .set_time_fn(clock);
        let (tx, rx) = tokio::sync::oneshot::channel::<std::time::Duration>();
        let tx = std::sync::Mutex::new(Some(tx));
        let stop_instead_of_sleeping = move |interval: std::time::Duration| {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(interval);
            }
            std::future::pending::<()>()
        };
        let poll = request.request_async(&self.http, stop_instead_of_sleeping, None);
        let answer = tokio::select! {
            biased;
            r = poll => r,
            interval = rx => {
                let interval = interval.map_err(|_| ProviderError::Unavailable("the poll ended early".to_owned()))?;
                return Ok(DevicePolled::Pending(interval));
            }
        };
        let answer = answer.map_err(|e| match &e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                ProviderError::Refused(format!("the provider refused the device sign-in: {}", r.error()))
            }
            other => ProviderError::Unavailable(format!("the token endpoint: {}", error_chain(other))),
        })?;
        let no_nonce = |_: Option<&Nonce>| Ok(());
        self.identity(&client, o, &answer, no_nonce, now).map(DevicePolled::Done)
    }

    /// Validates the ID token of a token response: the signature through the JWKS with an allowed
    /// algorithm ([`Discovered::allowed_algs`]), `iss`, `aud`, `azp`, `exp` against `now`, and
    /// `nonce` as `nonce` checks it.
    fn identity<D: EndpointState>(
        &self,
        client: &Client<D>,
        o: &OidcProviderOptions,
        response: &TokenResponse,
        nonce: impl openidconnect::NonceVerifier,
        now: Timestamp,
    ) -> Result<VerifiedIdentity, ProviderError> {
        use openidconnect::TokenResponse as _;
        let token = response
            .id_token()
            .ok_or_else(|| ProviderError::Refused("the provider answered no ID token".to_owned()))?;
        let clock = move || chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(self.allowed_algs(o.allow_symmetric_id_tokens))
            .set_time_fn(clock);
        let claims = token.claims(&verifier, nonce).map_err(|e| {
            // The algorithm's name from the token's header: nothing else of the token is kept.
            let alg = token.signing_alg().ok().and_then(|a| serde_json::to_value(a).ok());
            ProviderError::Unverified(unverified_reason(&e, alg.as_ref().and_then(|a| a.as_str())))
        })?;
        let json = serde_json::to_value(claims).unwrap_or_default();
        Ok(VerifiedIdentity {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.as_str().to_owned()).collect())
                .unwrap_or_default(),
            acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
            auth_time: claims.auth_time().map(|t| Timestamp(t.timestamp_millis())),
            claims: json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_failed_and_nothing_of_the_token() {
        let expired = ClaimsVerificationError::Expired("expired at 2026-12-07 for sub alice@example.com".into());
        assert_eq!(unverified_reason(&expired, Some("RS256")), "expired");
        let alg = ClaimsVerificationError::SignatureVerification(SignatureVerificationError::DisallowedAlg(
            "algorithm `HS256` is not one of: RS256".into(),
        ));
        assert_eq!(unverified_reason(&alg, Some("HS256")), "signature: the algorithm HS256 is not allowed");
        let aud = ClaimsVerificationError::InvalidAudience("`evil` is not a trusted audience".into());
        assert!(!unverified_reason(&aud, None).contains("evil"));
    }
}
